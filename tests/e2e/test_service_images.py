"""The service images built without Docker run on a real node as Kubernetes would run them.

A platform with its real node and datastores (one per module: the orders Deployment needs them);
`imagebuild.ensure_imported` builds what changed and loads all five images into the node's
containerd, where their shared layers are stored once.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import (
    imagebuild,
    imagespec,
    net,
    nodenet,
    nodesandbox,
    pipeline,
    platform,
    podenv,
    policies,
    realnode,
)
from tests import issuer
from tests.e2e import orders_manifests
from tests.e2e.real_node.test_real_node import _exists, _pod, _run, _run_to_end

SKELETON = (
    "from meridian.core.runtime import app, settings; "
    "s = settings.ServerSettings(name='orders', host='0.0.0.0', port=8080); "
    "app.run(app.create(s), s)"
)
"""The runtime skeleton every service starts from (probes, /metrics), from the orders image."""


@pytest.fixture(scope="module")
def images_node() -> Iterator[tuple[platform.PlatformState, Path, list[imagebuild.Built]]]:
    path = platform.default_run_dir().parent / f"test-images-{uuid.uuid4().hex[:8]}"
    try:
        state = platform.up(path, real_node=True)
        # The platform's admission policies in Enforce, with their defaults: its pods must pass.
        policies.install(Path(state.bin_dir), state.kubeconfig)
        net.wait_until(
            lambda: _exists(state, "serviceaccount", "default"),
            what="the default service account",
            timeout=60,
        )
        built = imagebuild.ensure_imported(path, imagebuild.real_node_clusters(path))
        print("\n" + imagebuild.report(built))
        yield state, path, built
    finally:
        sandbox = nodesandbox.load(realnode.nodes_dir(path) / realnode.node_name("primary"))
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)
    assert sandbox is None or nodesandbox.leftovers(sandbox) == []


def _orders(built: list[imagebuild.Built]) -> str:
    return next(image.ref for image in built if image.service == "orders")


def _service_pod(name: str, image: str, **container: object) -> dict[str, object]:
    pod = _pod(name, image, [], **container)
    spec = pod["spec"]
    spec["securityContext"] = {"runAsNonRoot": True}  # type: ignore[index]
    del spec["containers"][0]["command"]  # type: ignore[index]
    spec["containers"][0]["resources"]["requests"] = {"memory": "64Mi", "cpu": "50m"}  # type: ignore[index]
    spec["containers"][0]["resources"]["limits"]["memory"] = "256Mi"  # type: ignore[index]
    return pod


def test_every_service_image_is_on_the_node_sharing_its_base_and_wheels(
    images_node: tuple[platform.PlatformState, Path, list[imagebuild.Built]],
) -> None:
    _, run_dir, built = images_node
    assert [image.service for image in built] == list(imagespec.SERVICES)
    assert {image.ref for image in built} <= imagebuild.refs_on_node(run_dir, "primary")
    assert len({image.layers[:2] for image in built}) == 1  # one base, one wheels layer for all
    assert len({image.ref.rsplit(":", 1)[1] for image in built}) == len(built)
    assert all(image.ref.split(":")[1].startswith(imagespec.version() + "-") for image in built)
    # A second build changes nothing and imports nothing: the cache is keyed by content.
    assert [image.ref for image in imagebuild.ensure_imported(run_dir, ["primary"])] == [
        image.ref for image in built
    ]


def test_the_orders_image_answers_healthz_on_its_pod_ip_as_a_non_root_user(
    images_node: tuple[platform.PlatformState, Path, list[imagebuild.Built]],
) -> None:
    state, _, built = images_node
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    pod = _service_pod(
        "orders-skeleton",
        _orders(built),
        args=["-c", SKELETON],
        readinessProbe=probe,
    )
    pod["spec"]["containers"][0]["command"] = ["python3"]  # type: ignore[index]
    found = _run(state, pod)
    pod_ip = found["status"]["podIP"]  # type: ignore[index]
    with urllib.request.urlopen(f"http://{pod_ip}:8080/healthz", timeout=5) as response:
        assert json.load(response) == {"status": "ok"}
    said = platform.kubectl(
        state, "exec", "orders-skeleton", "--", "python3", "-c", "import os; print(os.getuid())"
    )
    assert said.strip() == "10001"


def test_the_orders_entrypoint_imports_everything_and_stops_only_at_its_configuration(
    images_node: tuple[platform.PlatformState, Path, list[imagebuild.Built]],
) -> None:
    """Every module loads on Debian's Python; what stops it is configuration (identity keys,
    datastores), which the ServiceRelease slice supplies."""
    state, _, built = images_node
    env = [
        {"name": "MERIDIAN_ORDERS_HOST", "value": "0.0.0.0"},
        {"name": "MERIDIAN_ORDERS_AMQP_URL", "value": "amqp://guest:guest@127.0.0.1:1/"},
        {"name": "MERIDIAN_ORDERS_PG_DSN", "value": "postgresql://orders@127.0.0.1:1/orders"},
    ]
    pod = _service_pod("orders-entrypoint", _orders(built), env=env)
    _run_to_end(state, pod, timeout=90)
    logs = platform.kubectl(state, "logs", "orders-entrypoint")
    assert "ModuleNotFoundError" not in logs
    assert "ImportError" not in logs
    assert f"{imagespec.APP}/meridian/services/orders/__main__.py" in logs
    assert "is not configured" in logs, logs


REDIS_PING = (
    "import socket, sys; s = socket.create_connection((sys.argv[1], 6379), timeout=10); "
    "s.sendall(b'PING\\r\\n'); print(s.recv(64).decode().strip())"
)
"""Run in a pod: one Redis PING through the given host name, the reply printed."""
CALL = textwrap.dedent(
    """
    import sys, urllib.error, urllib.request
    url, token, prefix, times = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    said = []
    for i in range(times):
        headers = {"X-Request-ID": f"{prefix}-{i}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
                said.append(str(r.status))
        except urllib.error.HTTPError as error:
            said.append(str(error.code))
    print(" ".join(said))
    """
)
"""Runs in a pod: GET `url` `times` times, each with its own request id; prints the statuses."""


def _orders_pods(state: platform.PlatformState) -> dict[str, str]:
    """Orders' pods: name -> pod IP."""
    found = json.loads(platform.kubectl(state, "get", "pods", "-l", "app=orders", "-o", "json"))
    return {pod["metadata"]["name"]: pod["status"]["podIP"] for pod in found["items"]}


def test_the_orders_deployment_is_available_and_answers_on_pod_ips_its_cluster_ip_and_name(
    images_node: tuple[platform.PlatformState, Path, list[imagebuild.Built]],
) -> None:
    """Configured from `pipeline.environment` as the host process is, rewritten for a pod; its
    readiness needs PostgreSQL, Redis and RabbitMQ through their Services, and a token is checked
    against the gateway's JWKS, which a pod serves."""
    state, run_dir, built = images_node
    image = _orders(built)
    names = [service.name for service in pipeline.SERVICES]
    where = pipeline.Where(state, orders_manifests.pod_urls(names), carrier_url="")
    orders = next(service for service in pipeline.SERVICES if service.name == "orders")
    env = podenv.in_cluster(pipeline.environment(orders, where), platform.datastore_ports(state))
    objects = [
        *orders_manifests.gateway_jwks(image, run_dir),
        *orders_manifests.orders(image, env),
        orders_manifests.client(image),
    ]
    platform.kubectl(
        state,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )
    for deployment in ("gateway", "orders"):
        platform.kubectl(
            state, "wait", "--for=condition=Available", f"deployment/{deployment}", "--timeout=180s"
        )
    platform.kubectl(state, "wait", "--for=condition=Ready", "pod/orders-client", "--timeout=60s")

    pods = _orders_pods(state)
    assert len(pods) == 2
    for name in pods:
        assert json.loads(platform.kubectl(state, "get", "pod", name, "-o", "json"))["spec"][
            "nodeName"
        ] == realnode.node_name("primary")
    token = issuer.as_gateway(run_dir, uuid.uuid4(), "tester", ["orders:read"])

    def call(url: str, prefix: str, times: int, bearer: str = token) -> list[str]:
        argv = ["python3", "-c", CALL, url, bearer, prefix, str(times)]
        return platform.kubectl(state, "exec", "orders-client", "--", *argv).split()

    for name, pod_ip in pods.items():
        url = f"http://{pod_ip}:{orders_manifests.PORT}/v1/orders"
        with urllib.request.urlopen(f"http://{pod_ip}:{orders_manifests.PORT}/readyz") as response:
            checks = json.load(response)["checks"]  # from the host, over the pod IP
        # Ready means PostgreSQL and RabbitMQ answered through their meridian-system Services
        # (orders has no Redis check; `test_real_node_network` talks to Redis from a pod).
        assert {"postgres", "rabbitmq"} <= set(checks), checks
        # Redis, which orders does not check: its Service answers PING from the orders pod itself.
        redis = f"redis.{nodenet.SYSTEM_NAMESPACE}.svc.cluster.local"
        assert (
            platform.kubectl(state, "exec", name, "--", "python3", "-c", REDIS_PING, redis).strip()
            == "+PONG"
        ), name
        assert call(url, f"ip-{name}", 1) == ["200"]  # the token verified: JWKS from a pod
        assert call(url, f"anon-{name}", 1, bearer="") == ["401"]

    cluster_ip = json.loads(platform.kubectl(state, "get", "service", "orders", "-o", "json"))[
        "spec"
    ]["clusterIP"]
    for via, host in (("clusterip", cluster_ip), ("dns", "orders.default.svc.cluster.local")):
        url = f"http://{host}:{orders_manifests.PORT}/v1/orders"
        # kube-proxy picks a replica at random: 30 calls miss one with p = 2**-29.
        assert call(url, via, 30) == ["200"] * 30
        for name in pods:
            # Each replica logged some of them (the access log carries the request id).
            assert f'"{via}-' in platform.kubectl(state, "logs", name), (via, name)


def test_the_platform_pods_run_in_enforce_with_the_policy_defaults(
    images_node: tuple[platform.PlatformState, Path, list[imagebuild.Built]],
) -> None:
    """The pods above were admitted by all five policies in Enforce and run with the defaults
    (read-only root filesystem, runAsNonRoot) the MutatingAdmissionPolicies gave them."""
    state, _, _ = images_node
    bindings = json.loads(
        platform.kubectl(state, "get", "validatingadmissionpolicybindings", "-o", "json")
    )["items"]
    assert len(bindings) == 5
    assert all(binding["spec"]["validationActions"] == ["Deny"] for binding in bindings)
    pods = json.loads(platform.kubectl(state, "get", "pods", "-o", "json"))["items"]
    running = [pod for pod in pods if pod["status"].get("phase") == "Running"]
    assert {pod["metadata"]["labels"].get("app") for pod in running} >= {"orders", "gateway"}
    for pod in running:
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        for container in pod["spec"]["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
