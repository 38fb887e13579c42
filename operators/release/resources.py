"""The objects a ServiceRelease owns, rendered from its spec: pure functions, no cluster.

Two Deployments and two Services, one per role: `stable` (`<name>`) serves the promoted revision,
`canary` (`<name>-canary`) the one being rolled out; the PodDisruptionBudget covers both, the
HPA scales the stable, and an HTTPRoute (Gateway API) splits the route's traffic between the two
Services by exact weight. Every object carries the standard `app.kubernetes.io/*` labels and an
owner reference to the release; pods run as the image's non-root user with resource limits, as
the seed's admission policies require (core/policy/catalogue.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.meta import API_VERSION
from meridian.core.api.v1alpha1.servicerelease_status import Template

Role = Literal["stable", "canary"]
Manifest = dict[str, Any]

MANAGED_BY = "meridian-release-operator"
PART_OF = "meridian"
ROLE_LABEL = "meridian.io/role"
REVISION_LABEL = "meridian.io/revision"
INSTANCE_LABEL = "app.kubernetes.io/instance"
PORT = 8080
UID = 10001
"""The service images' user (`localplatform/imagespec.USER`, deploy/Dockerfile's USER)."""
GATEWAY_API = "gateway.networking.k8s.io/v1"
DRAIN_DELAY_S = 10
"""Seconds a terminating pod still answers while the EndpointSlice and every kube-proxy drop it
(5 s still let connections be refused on a loaded node: tests/e2e/test_release_real_node.py)."""
SHUTDOWN_TIMEOUT_S = 30
"""The runtime's default time for in-flight requests once the listener closed."""
STARTUP_S = 180
"""How long a new pod may take to listen before liveness applies (the startup probe's window)."""
STARTUP_PROBE_TIMEOUT_S = 2
"""The startup and readiness probes' (kubelet's default 1 s: a loaded node's pods flapped)."""
LIVENESS_TIMEOUT_S = 5
"""A live process on a CPU-starved node answers `/healthz` late, not never: kubelet's default
1 s would restart it for being slow."""
KEY_FILE_SUFFIX = "_IDENTITY_SIGNING_KEY_FILE"
SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(PORT),
    "prometheus.io/path": "/metrics",
}
"""How Prometheus finds a release's pods (`localplatform/prometheus.py`, the usual convention);
its series take `service`, `release`, `role` and `revision` from the pod's labels."""


class Placement(NamedTuple):
    """Where pods may run (the local real node is tainted; production uses node groups)."""

    node_selector: Mapping[str, str] = {}
    tolerations: tuple[Mapping[str, Any], ...] = ()


class GatewayRef(NamedTuple):
    name: str
    namespace: str


class Release(NamedTuple):
    """One ServiceRelease as the renderers need it."""

    name: str
    namespace: str
    uid: str
    spec: servicerelease.ServiceReleaseSpec
    placement: Placement = Placement()
    gateway: GatewayRef = GatewayRef("meridian", "meridian-system")


def name_of(release: Release, role: Role) -> str:
    return release.name if role == "stable" else f"{release.name}-canary"


def version_of(image: str) -> str:
    """The label value of an image's version: its tag, or its digest's first characters."""
    reference = image.rsplit("@sha256:", 1)
    if len(reference) == 2:
        return f"sha256-{reference[1][:12]}"
    return image.rsplit(":", 1)[1][:63].rstrip("._-") or "unknown"


def labels(release: Release, role: Role | None = None) -> dict[str, str]:
    found = {
        "app.kubernetes.io/name": release.spec.service,
        INSTANCE_LABEL: release.name,
        "app.kubernetes.io/component": "service",
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if role is not None:
        found[ROLE_LABEL] = role
    return found


def selector(release: Release, role: Role | None = None) -> dict[str, str]:
    found = {INSTANCE_LABEL: release.name}
    if role is not None:
        found[ROLE_LABEL] = role
    return found


def _metadata(release: Release, name: str, role: Role | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": release.namespace,
        "labels": labels(release, role),
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": servicerelease.KIND.kind,
                "name": release.name,
                "uid": release.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def identity_secret(release_name: str) -> str:
    return f"{release_name}-identity"


def key_dir(template: Template) -> str | None:
    """The directory the config reads its signing key from, if the service signs."""
    files = [value for key, value in template.config.items() if key.endswith(KEY_FILE_SUFFIX)]
    return posixpath.dirname(files[0]) if files else None


def _environment(release: Release, template: Template) -> list[dict[str, str]]:
    """The service listens on every address of its pod, on PORT, and on SIGTERM keeps answering
    (readiness 503) for DRAIN_DELAY_S while its endpoint is withdrawn, unless config says
    otherwise: without the delay, callers routed to a terminating pod get connection refused."""
    prefix = f"MERIDIAN_{release.spec.service.upper()}_"
    env = {
        f"{prefix}HOST": "0.0.0.0",
        f"{prefix}PORT": str(PORT),
        f"{prefix}DRAIN_DELAY_S": str(DRAIN_DELAY_S),
        **template.config,
    }
    return [{"name": key, "value": value} for key, value in sorted(env.items())]


def _container(release: Release, template: Template) -> dict[str, Any]:
    directory = key_dir(template)
    mounts = [{"name": "identity", "mountPath": directory, "readOnly": True}] if directory else []
    return {
        "name": release.spec.service,
        "image": template.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": _environment(release, template),
        "resources": template.resources,
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "http"},
            "periodSeconds": 2,
            "timeoutSeconds": STARTUP_PROBE_TIMEOUT_S,
        },
        # Liveness only once the process listens: a service migrates its database and imports
        # before it does, which on a busy node (CPU-limited, its neighbours starting too) took
        # longer than liveness' 30 s, and the pod was killed in a loop before it ever served.
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 2,
            "timeoutSeconds": STARTUP_PROBE_TIMEOUT_S,
            "failureThreshold": STARTUP_S // 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": LIVENESS_TIMEOUT_S,
            "failureThreshold": 3,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }


def _volumes(release: Release, template: Template) -> list[dict[str, Any]]:
    if key_dir(template) is None:
        return []
    # Group-readable: the pod's fsGroup is the service's group, so the non-root user reads it.
    secret = {"secretName": identity_secret(release.name), "defaultMode": 0o440}
    return [{"name": "identity", "secret": secret}]


def deployment(
    release: Release, role: Role, template: Template, revision: str, replicas: int | None
) -> Manifest:
    """The role's Deployment running `template` (revision `revision`) at `replicas` pods; None
    leaves the count out, to whoever else owns it (the HPA scales an autoscaled stable)."""
    pod_labels = {
        **labels(release, role),
        "app.kubernetes.io/version": version_of(template.image),
        REVISION_LABEL: revision,
    }
    rolling = release.spec.strategy.rolling_update
    spec: dict[str, Any] = {} if replicas is None else {"replicas": replicas}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(release, name_of(release, role), role)
        | {"annotations": {REVISION_LABEL: revision}},
        "spec": spec
        | {
            "revisionHistoryLimit": 2,
            # The operator judges progress itself (on the new revision's available pods); the
            # Deployment's own deadline only adds a condition, so keep it out of the way.
            "progressDeadlineSeconds": release.spec.progress_deadline_seconds + 60,
            "selector": {"matchLabels": selector(release, role)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": rolling.max_surge,
                    "maxUnavailable": rolling.max_unavailable,
                },
            },
            "template": {
                "metadata": {"labels": pod_labels, "annotations": dict(SCRAPE_ANNOTATIONS)},
                "spec": {
                    "containers": [_container(release, template)],
                    "volumes": _volumes(release, template),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": DRAIN_DELAY_S + SHUTDOWN_TIMEOUT_S + 5,
                    "nodeSelector": dict(release.placement.node_selector),
                    "tolerations": [dict(t) for t in release.placement.tolerations],
                },
            },
        },
    }


def service(release: Release, role: Role) -> Manifest:
    """The role's Service: the HTTPRoute's backend for that role's share of traffic."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(release, name_of(release, role), role),
        "spec": {
            "selector": selector(release, role),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(release: Release) -> Manifest | None:
    """Over stable and canary pods together: a drain never takes more than the budget of both."""
    budget = release.spec.disruption_budget
    if budget is None:
        return None
    spec: dict[str, Any] = {"selector": {"matchLabels": selector(release)}}
    if budget.min_available is not None:
        spec["minAvailable"] = budget.min_available
    else:
        spec["maxUnavailable"] = budget.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(release, release.name),
        "spec": spec,
    }


def autoscaler(release: Release) -> Manifest | None:
    scaling = release.spec.autoscaling
    if not scaling.enabled:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(release, release.name),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name_of(release, "stable"),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization,
                        },
                    },
                }
            ],
        },
    }


def http_route(release: Release, canary_weight: int) -> Manifest | None:
    """The route's traffic split by exact weight (not a replica ratio) between the two Services."""
    if release.spec.route is None:
        return None
    backends = [
        {"name": name_of(release, "stable"), "port": PORT, "weight": 100 - canary_weight},
        {"name": name_of(release, "canary"), "port": PORT, "weight": canary_weight},
    ]
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": _metadata(release, release.name),
        "spec": {
            "parentRefs": [{"name": release.gateway.name, "namespace": release.gateway.namespace}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": release.spec.route}}],
                    "backendRefs": backends,
                }
            ],
        },
    }


def fixed(release: Release) -> list[Manifest]:
    """What does not change during a rollout: both Services, the PDB and the HPA."""
    found = [
        service(release, "stable"),
        service(release, "canary"),
        disruption_budget(release),
        autoscaler(release),
    ]
    return [manifest for manifest in found if manifest is not None]
