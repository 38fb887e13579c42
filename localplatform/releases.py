"""The local platform's side of ServiceReleases: where their pods go, and a service's release.

Placement is the platform's choice, given to the release operator as settings, not a field of
the release: the same ServiceRelease YAML runs on production's node groups and, here, on the real
node (kwok's nodes never start a container). A platform with a real node points every release's
pods at it (its label, and a toleration of its taint); without one, they land on kwok's nodes.

`service_release` renders one pipeline service's ServiceRelease with the environment
`pipeline.environment` gives its host process, rewritten for a pod by `podenv`, and `identity`
its signing-key Secret, under the name the operator mounts (`resources.identity_secret`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from meridian.core.api.v1alpha1.meta import API_VERSION
from meridian.localplatform import imagespec, nodeconfig, podenv, realnode
from meridian.operators.release import resources

RESOURCES = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "384Mi"},
}
"""A pipeline service's pod: what the orders Deployment of the image tests runs with."""


def placement_environment(run_dir: Path) -> dict[str, str]:
    """The release operator's placement settings: the real node when this platform has one."""
    folder = realnode.nodes_dir(run_dir)
    if not folder.is_dir() or not any(
        (node / "sandbox.json").exists() for node in folder.iterdir()
    ):
        return {}
    toleration = {**nodeconfig.TAINT, "operator": "Equal"}
    return {
        "MERIDIAN_OPERATOR_RELEASE_NODE_SELECTOR": json.dumps({nodeconfig.TAINT_KEY: "true"}),
        "MERIDIAN_OPERATOR_RELEASE_TOLERATIONS": json.dumps([toleration]),
    }


IMAGE_UID = int(imagespec.USER.split(":")[0])
"""The service images' USER: pods run as it, and a Secret's files are its group's."""


def on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    """A pod spec placed on the real node (its label, a toleration of its taint), running as the
    images' user; for pods the platform renders itself, not through a ServiceRelease."""
    return {
        "nodeSelector": {nodeconfig.TAINT_KEY: "true"},
        "tolerations": [{**nodeconfig.TAINT, "operator": "Equal"}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "fsGroup": IMAGE_UID,  # a key Secret's files are group-readable by the service
        },
        "terminationGracePeriodSeconds": 10,
        **spec,
    }


def identity(name: str, namespace: str, env: podenv.PodEnvironment) -> dict[str, Any]:
    """The Secret holding release `name`'s signing key, as the operator mounts it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": resources.identity_secret(name), "namespace": namespace},
        "data": {
            file: base64.b64encode(path.read_bytes()).decode()
            for file, path in env.key_files.items()
        },
    }


def service_release(
    service: str,
    image: str,
    env: podenv.PodEnvironment,
    *,
    namespace: str,
    replicas: int = 2,
    **spec: Any,
) -> dict[str, Any]:
    """Service `service`'s ServiceRelease (named after it), `spec` overriding the defaults."""
    body: dict[str, Any] = {
        "service": service,
        "image": image,
        "replicas": replicas,
        "resources": RESOURCES,
        "config": dict(sorted(env.env.items())),
        "strategy": {"type": "RollingUpdate"},
    }
    if replicas > 1:
        body["disruptionBudget"] = {"maxUnavailable": 1}
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceRelease",
        "metadata": {"name": service, "namespace": namespace},
        "spec": body | spec,
    }
