"""The service images built without Docker run on a real node as Kubernetes would run them.

A control plane with its real node (no datastores: the cluster Services that reach them are
another slice); `imagebuild.ensure_imported` builds what changed and loads all five images into
the node's containerd, where their shared layers are stored once.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import imagebuild, imagespec, net, nodesandbox, platform, realnode
from tests.e2e.test_real_node import _container, _pod, _run, _up

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
        state = _up(path)
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
    pod["spec"]["restartPolicy"] = "Never"  # type: ignore[index]
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(pod))
    net.wait_until(
        lambda: "terminated" in _container(state, "orders-entrypoint").get("state", {}),
        what="orders-entrypoint exited",
        timeout=90,
    )
    logs = platform.kubectl(state, "logs", "orders-entrypoint")
    assert "ModuleNotFoundError" not in logs
    assert "ImportError" not in logs
    assert f"{imagespec.APP}/meridian/services/orders/__main__.py" in logs
    assert "is not configured" in logs, logs
