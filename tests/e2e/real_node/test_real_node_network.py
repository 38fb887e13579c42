"""Cluster networking on a real node: Services through kube-proxy, names through CoreDNS, and the
datastores outside the cluster reached through Services without selectors.

On the package's platform with datastores (`conftest.real_node`), which fails if `down` left
anything of the node on the host, now including the blackhole routes.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meridian.localplatform import (
    baseimage,
    net,
    nodenet,
    nodesandbox,
    ociarchive,
    platform,
    processes,
    realnode,
)
from tests.e2e.real_node import test_real_node as real

IMAGE = "meridian.local/hello-net:1"
OBJECTS = ("deployment/web", "service/web", "pod/client", "pod/unready")
"""What this module makes on the package's node."""
APP = {"app": "web"}
# Each pod serves its own name, so a client sees which pod a Service picked.
SERVE = ["sh", "-c", "cp /etc/hostname /tmp/index.html && exec python3 -m http.server 8080 -d /tmp"]
FETCH = textwrap.dedent(
    """
    import sys, urllib.request
    seen = []
    for _ in range(int(sys.argv[2])):
        with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
            seen.append(response.read().decode().strip())
    print(" ".join(seen))
    """
)


@pytest.fixture(scope="module")
def network_node(
    real_node: tuple[platform.PlatformState, Path],
) -> Iterator[tuple[platform.PlatformState, Path]]:
    """The package's real node with this module's image; its objects are deleted after it."""
    state, path = real_node
    archive = baseimage.image(IMAGE, extra={"/srv/.keep": ociarchive.File(b"")}, entrypoint=SERVE)
    realnode.import_image(path, "primary", archive)
    yield real_node
    platform.kubectl(state, "delete", *OBJECTS, "--ignore-not-found", "--wait=false")


def _web_pod(name: str, ready_path: str = "/index.html") -> dict[str, Any]:
    probe = {"httpGet": {"path": ready_path, "port": 8080}, "periodSeconds": 1}
    pod = real._pod(name, IMAGE, SERVE, readinessProbe=probe)
    pod["metadata"]["labels"] = APP  # type: ignore[index]
    return pod


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    template = _web_pod("unused")
    del template["apiVersion"], template["kind"]
    del template["metadata"]["name"], template["metadata"]["namespace"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": APP}, "template": template},
    }


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": APP, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def _client(state: platform.PlatformState) -> None:
    """A pod to run probes from (the same image, idle), once."""
    if not real._exists(state, "pod", "client"):
        idle = ["python3", "-c", "import time; time.sleep(3600)"]
        real._run(state, real._pod("client", IMAGE, idle))


def _in_client(state: platform.PlatformState, *argv: str) -> str:
    return platform.kubectl(state, "exec", "client", "--", *argv).strip()


@pytest.fixture(scope="module")
def web(network_node: tuple[platform.PlatformState, Path]) -> dict[str, Any]:
    """Deployment `web` (2 replicas) Available behind Service `web`; returns the Service."""
    state, _ = network_node
    for manifest in (_deployment("web", 2), _service("web")):
        platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(manifest))
    platform.kubectl(state, "wait", "--for=condition=Available", "deployment/web", "--timeout=120s")
    _client(state)
    service: dict[str, Any] = json.loads(
        platform.kubectl(state, "get", "service", "web", "-o", "json")
    )
    return service


def _replicas(state: platform.PlatformState) -> set[str]:
    pods = json.loads(platform.kubectl(state, "get", "pods", "-l", "app=web", "-o", "json"))
    return {
        pod["metadata"]["name"]
        for pod in pods["items"]
        if pod["metadata"]["name"].startswith("web-")
    }


def test_a_service_answers_on_its_cluster_ip_and_dns_name_from_another_pod(
    network_node: tuple[platform.PlatformState, Path], web: dict[str, Any]
) -> None:
    state, path = network_node
    replicas = _replicas(state)
    assert len(replicas) == 2
    cluster_ip = web["spec"]["clusterIP"]
    for url in (f"http://{cluster_ip}/index.html", "http://web.default.svc.cluster.local/"):
        seen = _in_client(state, "python3", "-c", FETCH, url, "30").split()
        # kube-proxy spreads connections at random: 30 tries miss a replica with p = 2**-29.
        assert set(seen) == replicas, url
    # The node's own namespace reaches the ClusterIP too (kube-proxy's OUTPUT rules).
    sandbox = nodesandbox.load(realnode.nodes_dir(path) / realnode.node_name("primary"))
    assert sandbox is not None
    fetched = processes.run_checked(
        sandbox.nsenter("python3", "-c", FETCH, f"http://{cluster_ip}/index.html", "1")
    )
    assert fetched.strip() in replicas


def test_cluster_dns_answers_cluster_names_only_and_never_forwards(
    network_node: tuple[platform.PlatformState, Path], web: dict[str, Any]
) -> None:
    state, _ = network_node
    resolve = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    assert _in_client(state, "python3", "-c", resolve, "web") == web["spec"]["clusterIP"]
    assert _in_client(state, "cat", "/etc/resolv.conf").count("nameserver") == 1
    assert f"nameserver {nodenet.KUBE_DNS_IP}" in _in_client(state, "cat", "/etc/resolv.conf")
    with pytest.raises(RuntimeError, match="gaierror"):  # CoreDNS refuses: no forward plugin
        _in_client(state, "python3", "-c", resolve, "meridian.example.")


# What each datastore says first to a client that opened with these bytes.
GREETINGS = {
    # PostgreSQL's SSLRequest: the server answers one byte, S or N.
    "postgres": ("postgres", 5432, "00000008 04d2162f", (b"N", b"S")),
    "redis": ("redis", 6379, "50494e470d0a", (b"+PONG",)),  # PING
    # AMQP 0-9-1 header: the broker answers with a method frame (type 1) Connection.Start.
    "rabbitmq": ("rabbitmq", 5672, "414d515000000901", (b"\x01",)),
}
TALK = textwrap.dedent(
    """
    import socket, sys
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as sock:
        sock.sendall(bytes.fromhex(sys.argv[3]))
        print(sock.recv(64).hex())
    """
)


@pytest.mark.parametrize("datastore", sorted(GREETINGS))
def test_a_pod_reaches_the_datastores_through_their_services(
    network_node: tuple[platform.PlatformState, Path], web: dict[str, Any], datastore: str
) -> None:
    state, _ = network_node
    name, port, hello, answers = GREETINGS[datastore]
    host = f"{name}.{nodenet.SYSTEM_NAMESPACE}.svc.cluster.local"
    said = bytes.fromhex(_in_client(state, "python3", "-c", TALK, host, str(port), hello))
    assert said.startswith(answers), said


def test_a_failing_readiness_probe_keeps_a_pod_out_of_the_endpoint_slice(
    network_node: tuple[platform.PlatformState, Path], web: dict[str, Any]
) -> None:
    state, _ = network_node
    platform.kubectl(
        state, "apply", "-f", "-", stdin=json.dumps(_web_pod("unready", ready_path="/missing"))
    )
    net.wait_until(
        lambda: real._container(state, "unready").get("started") is True,
        what="unready's container running",
        timeout=60,
    )

    def endpoint() -> dict[str, Any] | None:
        slices = json.loads(
            platform.kubectl(
                state, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"
            )
        )
        for found in slices["items"]:
            for entry in found.get("endpoints") or []:
                if entry.get("targetRef", {}).get("name") == "unready":
                    return dict(entry)
        return None

    net.wait_until(lambda: endpoint() is not None, what="unready in the slice", timeout=30)
    entry = endpoint()
    assert entry is not None
    assert entry["conditions"]["ready"] is False
    seen = _in_client(
        state, "python3", "-c", FETCH, f"http://{web['spec']['clusterIP']}/index.html", "30"
    ).split()
    assert "unready" not in seen
    assert set(seen) == _replicas(state)


def test_node_and_pod_ranges_are_blackholed_on_the_host_while_a_node_runs(
    network_node: tuple[platform.PlatformState, Path],
) -> None:
    assert sorted(nodesandbox.blackhole_routes()) == sorted(nodesandbox.BLACKHOLES)
