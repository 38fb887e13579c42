"""The order pipeline as ServiceReleases on the real node: `dev up --services` with a real node.

Gateway, auth, inventory, orders and fulfillment run from their images as pods, each a
ServiceRelease in `NAMESPACE` the release operator rolls out, with the settings its host process
would have (`pipeline.environment`), rewritten for a pod (`podenv`): peers by cluster DNS
(`<service>.meridian-pipeline.svc.cluster.local`), datastores by their `meridian-system`
Services, signing keys from Secrets. The carrier fake stays a host process, like the datastores
(a real carrier is outside the cluster too), reached through a `meridian-system` Service and its
own relay (`nodenet`). The gateway is a ServiceRelease too: its routes are settings naming the
releases' stable Services, so it needs no apiserver (which a normal pod here cannot reach); a
canary's HTTPRoute weights are therefore not honoured by this gateway, a rolling update is. The
host reaches the gateway's Service through a relay on its loopback (`nodenet.relay_service`): that URL
is `MERIDIAN_GATEWAY_URL`, so the README's walkthrough runs unchanged.

Billing, Stripe's webhooks and search are not part of it: billing reads the cluster (a pod cannot
reach the apiserver here), and the gateway has no routes for them.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meridian.localplatform import (
    carrier,
    imagebuild,
    kubecluster,
    net,
    nodenet,
    pipeline,
    podenv,
    realnode,
    releases,
)
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import resources

NAMESPACE = "meridian-pipeline"
WAVES = (("auth", "inventory", "fulfillment"), ("orders", "gateway"))
"""Released in this order, each wave Healthy before the next: orders reserves through inventory,
and the gateway fetches auth's JWKS as it starts."""
PODS = tuple(name for wave in WAVES for name in wave)
REPLICAS = {"orders": 2, "gateway": 2}
"""The rest run one pod each (a laptop's node); orders and the gateway two, so a rolling update of
either never leaves the walkthrough without one (a budget of 1 unavailable covers them)."""
CLUSTER = "primary"
CARRIER_RELAY = "carrier-relay"


def pod_urls(namespace: str = NAMESPACE) -> dict[str, str]:
    """Every pipeline service's stable Service, as a pod dials it (also those not released: a
    service names its callers' JWKS URLs whether or not they run)."""
    return {
        service.name: f"http://{service.name}.{namespace}.svc.cluster.local:{resources.PORT}"
        for service in pipeline.SERVICES
    }


def _released_routes(routes: str) -> str:
    """The gateway's routes to the released services only (no Service answers for the others)."""
    released = {s.route for s in pipeline.SERVICES if s.route is not None and s.name in PODS}
    kept = {prefix: to for prefix, to in json.loads(routes).items() if prefix in released}
    return json.dumps(kept)


def environments(
    where: pipeline.Where, host_ports: Mapping[str, int]
) -> dict[str, podenv.PodEnvironment]:
    """Each released service's `MERIDIAN_<SERVICE>_*` for a pod; `where.urls` are `pod_urls` and
    `host_ports` the host ports behind the `meridian-system` Services (datastores, carrier)."""
    found = {}
    for service in pipeline.SERVICES:
        if service.name not in PODS:
            continue
        env = pipeline.environment(service, where)
        if service.name == "gateway":
            env["MERIDIAN_GATEWAY_ROUTES"] = _released_routes(env["MERIDIAN_GATEWAY_ROUTES"])
        found[service.name] = podenv.in_cluster(env, dict(host_ports))
    return found


def network_policies(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """What the namespace admits (the admission webhook's policy wants one before any workload):
    the pipeline's pods call each other; only the gateway takes calls from outside it."""

    def policy(name: str, pods: dict[str, Any], ingress: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": pods, "policyTypes": ["Ingress"], "ingress": ingress},
        }

    gateway = {"matchLabels": {resources.INSTANCE_LABEL: "gateway"}}
    return [
        policy("pipeline-internal", {}, [{"from": [{"podSelector": {}}]}]),
        policy("gateway-public", gateway, [{}]),
    ]


def manifests(
    envs: Mapping[str, podenv.PodEnvironment],
    images: Mapping[str, str],
    namespace: str = NAMESPACE,
) -> list[dict[str, Any]]:
    """The namespace, its NetworkPolicies, the signing-key Secrets (of the services that sign)
    and one ServiceRelease per service of `envs`, in `WAVES` order."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        *network_policies(namespace),
    ]
    ordered = [name for name in PODS if name in envs]
    objects += [
        releases.identity(name, namespace, envs[name]) for name in ordered if envs[name].key_files
    ]
    objects += [
        releases.service_release(
            name, images[name], envs[name], namespace=namespace, replicas=REPLICAS.get(name, 1)
        )
        for name in ordered
    ]
    return objects


def _apply(bins: Path, kubeconfig: str, objects: list[dict[str, Any]]) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": objects}
    kubecluster.kubectl(bins, kubeconfig, "apply", "-f", "-", stdin=json.dumps(items))


def phases(bins: Path, kubeconfig: str, namespace: str = NAMESPACE) -> dict[str, str]:
    """Each ServiceRelease of the namespace: its phase ("" before the operator's first word)."""
    found = json.loads(
        kubecluster.kubectl(
            bins, kubeconfig, "get", "servicereleases", "-n", namespace, "-o", "json"
        )
    )
    return {
        item["metadata"]["name"]: str((item.get("status") or {}).get("phase") or "")
        for item in found["items"]
    }


def wait_healthy(
    bins: Path, kubeconfig: str, names: tuple[str, ...], namespace: str = NAMESPACE
) -> None:
    def healthy() -> bool:
        seen = phases(bins, kubeconfig, namespace)
        return all(seen.get(name) == "Healthy" for name in names)

    net.wait_until(
        healthy,
        what=f"releases {', '.join(names)} Healthy in {namespace} (the release operator runs them)",
        timeout=300,
    )


def start(
    state: Any, supervisor: Supervisor, run_dir: Path, host_ports: Mapping[str, int]
) -> pipeline.Pipeline:
    """Release the pipeline on the real node of `state`'s primary cluster (idempotent: an
    unchanged spec is no new revision) and relay the host to its gateway. `run_dir` is the
    pipeline's folder (`<run dir>/services`, as for processes: the carrier keeps its port);
    `host_ports` are the datastores'. Needs the CRDs and the release operator running."""
    platform_dir = Path(state.run_dir)
    bins, kubeconfig = Path(state.bin_dir), str(state.kubeconfig)
    cluster = kubecluster.ClusterInfo(**state.clusters[CLUSTER])
    carrier_url = carrier.start(supervisor, run_dir / "carrier")
    carrier_port = int(urllib.parse.urlsplit(carrier_url).port or 0)
    realnode.expose_datastores(
        supervisor, platform_dir, cluster, bins, {"carrier": carrier_port}, relay=CARRIER_RELAY
    )
    built = imagebuild.ensure_imported(platform_dir, [CLUSTER])
    images = {image.service: image.ref for image in built}
    where = pipeline.Where(state, pod_urls(), carrier_url)
    envs = environments(where, {**host_ports, "carrier": carrier_port})
    objects = manifests(envs, images)
    started = time.monotonic()
    _apply(bins, kubeconfig, [o for o in objects if o["kind"] != "ServiceRelease"])
    for wave in WAVES:
        _apply(
            bins,
            kubeconfig,
            [o for o in objects if o["metadata"]["name"] in wave and o["kind"] == "ServiceRelease"],
        )
        wait_healthy(bins, kubeconfig, wave)
    print(
        f"pipeline released on {realnode.node_name(CLUSTER)} in {time.monotonic() - started:.0f} s"
    )
    gateway_url = relay_gateway(state, supervisor, run_dir)
    return pipeline.Pipeline({"gateway": gateway_url}, carrier_url)


def relay_gateway(state: Any, supervisor: Supervisor, run_dir: Path) -> str:
    """The host's loopback URL of the gateway release's stable Service (a sticky port)."""
    bins, kubeconfig = Path(state.bin_dir), str(state.kubeconfig)
    address = nodenet.cluster_ip(bins, kubeconfig, NAMESPACE, "gateway")
    (port,) = net.sticky_ports(run_dir / "gateway-relay.port", 1)
    sandbox = realnode.sandbox_of(Path(state.run_dir), CLUSTER)
    (url,) = nodenet.relay_service(supervisor, sandbox, [(port, address, resources.PORT)])
    name = f"{realnode.node_name(CLUSTER)}-service-relay"
    supervisor.wait_ready(name, lambda: net.http_ok(f"{url}/readyz"), timeout=60)
    return url
