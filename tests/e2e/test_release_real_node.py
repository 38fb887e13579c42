"""ServiceReleases of orders on the real node: the rollouts' faults against real pods.

One platform with its real node and datastores, the service images imported, the admission
policies in Enforce and the release operator as its own process, placed on the real node by the
platform's settings (`releases.placement_environment`). Orders runs from a ServiceRelease with
the environment its host process would have (`podenv`), its signing key a mounted Secret; a pod
serves the gateway's JWKS (`orders_manifests.gateway_jwks`) and a client pod calls orders
through its Service, as the gateway's pod would. For the canary's traffic split the Meridian
gateway itself runs as a pod of the node (`orders_manifests.edge_gateway`), reading the HTTPRoute
the operator writes, and the client calls orders through it.

The faulty canaries come with a progress deadline of 30 s, the smallest that stays honest: an
orders pod here goes from created to Ready in 10-30 s on a loaded machine (the first rollout's
time is printed), so the healthy rolling update keeps the default deadline, and each faulty
canary is aborted about half a minute after it started.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from meridian.localplatform import (
    imagebuild,
    net,
    nodesandbox,
    pipeline,
    platform,
    podenv,
    realnode,
    releases,
    servicekeys,
)
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import resources
from tests import issuer
from tests.e2e import orders_manifests
from tests.e2e.real_node.test_real_node import _exists

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = orders_manifests.NAMESPACE
OPERATOR = "release-operator"
DEADLINE_S = 30
ORDERS_URL = f"http://orders.{NAMESPACE}.svc.cluster.local:{orders_manifests.PORT}/v1/orders"
LOOP = """
import collections, sys, threading, time, urllib.error, urllib.request
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
seen, end, stop = collections.Counter(), time.monotonic() + seconds, threading.Event()
if seconds <= 0:  # until stdin closes
    end = float("inf")
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
while time.monotonic() < end and not stop.is_set():
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            seen[str(response.status)] += 1
    except urllib.error.HTTPError as error:
        seen[str(error.code)] += 1
    except Exception as error:
        key = type(error).__name__ + ": " + str(getattr(error, "reason", error))
        seen[key + " at " + time.strftime("%H:%M:%S")] += 1
    time.sleep(0.05)
print(dict(seen))
"""
"""Runs in the client pod: GET `url` steadily for `seconds` (0: until its stdin closes); prints
how often each status came."""


class Node(NamedTuple):
    state: platform.PlatformState
    run_dir: Path
    image: str
    env: podenv.PodEnvironment
    token: str
    gateway_image: str


def _kubectl_argv(state: platform.PlatformState, *args: str) -> list[str]:
    return [str(Path(state.bin_dir) / "kubectl"), "--kubeconfig", state.kubeconfig, *args]


def _apply(state: platform.PlatformState, *objects: dict[str, Any]) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(items))


def _release(state: platform.PlatformState) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        platform.kubectl(state, "get", "servicerelease", "orders", "-n", NAMESPACE, "-o", "json")
    )
    return found


def _status(state: platform.PlatformState) -> dict[str, Any]:
    return dict(_release(state).get("status") or {})


def _patch(state: platform.PlatformState, spec: dict[str, Any]) -> None:
    patch = json.dumps({"spec": spec})
    platform.kubectl(
        state, "patch", "servicerelease", "orders", "-n", NAMESPACE, "--type=merge", "-p", patch
    )


def _healthy(state: platform.PlatformState, revision: str | None = None) -> dict[str, Any]:
    """The release Healthy (at `revision`, when given: not the revision it was at before)."""

    def healthy() -> bool:
        status = _status(state)
        return status.get("phase") == "Healthy" and (
            revision is None or status.get("stableRevision") == revision
        )

    net.wait_until(healthy, what=f"orders Healthy at {revision or 'any revision'}", timeout=180)
    return _status(state)


def _calls(node: Node, seconds: float) -> dict[str, int]:
    """GETs of orders through its Service from the client pod for `seconds`: status -> count."""
    argv = ["python3", "-c", LOOP, ORDERS_URL, node.token, str(seconds)]
    counts: dict[str, int] = ast.literal_eval(
        platform.kubectl(node.state, "exec", "orders-client", "--", *argv).strip()
    )
    return counts


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    path = platform.default_run_dir().parent / f"test-release-{uuid.uuid4().hex[:8]}"
    supervisor = Supervisor(path / "e2e-release")
    try:
        state = platform.up(path, real_node=True)
        platform.install_crds(state, ROOT / "crds")  # with the admission policies, in Enforce
        net.wait_until(
            lambda: _exists(state, "serviceaccount", "default"),
            what="the default service account",
            timeout=60,
        )
        built = imagebuild.ensure_imported(path, ["primary"])
        image = next(image.ref for image in built if image.service == "orders")
        gateway_image = next(image.ref for image in built if image.service == "gateway")
        names = [service.name for service in pipeline.SERVICES]
        where = pipeline.Where(state, orders_manifests.pod_urls(names), carrier_url="")
        orders = next(service for service in pipeline.SERVICES if service.name == "orders")
        env = podenv.in_cluster(
            pipeline.environment(orders, where), platform.datastore_ports(state)
        )
        _apply(
            state,
            *orders_manifests.gateway_jwks(image, path),
            orders_manifests.client(image),
            releases.identity("orders", NAMESPACE, env),
        )
        platform.start_operators(
            state,
            supervisor=supervisor,
            name=OPERATOR,
            only="release",
            env={"MERIDIAN_OPERATOR_RELEASE_TICK_S": "1", "MERIDIAN_OPERATOR_RESYNC_S": "1"},
        )
        created = time.monotonic()
        _apply(
            state,
            releases.service_release(
                "orders",
                image,
                env,
                namespace=NAMESPACE,
            ),
        )
        platform.kubectl(
            state, "wait", "--for=condition=Ready", "pod/orders-client", "--timeout=120s"
        )
        token = issuer.as_gateway(path, uuid.uuid4(), "tester", ["orders:read"])
        found = Node(state, path, image, env, token, gateway_image)
        _healthy(state)
        print(f"\norders first rollout (2 pods) Healthy in {time.monotonic() - created:.1f} s")
        yield found
        log = supervisor.log_tail(OPERATOR, lines=100_000)
        assert "Traceback" not in log
    finally:
        supervisor.stop_all()
        sandbox = nodesandbox.load(realnode.nodes_dir(path) / realnode.node_name("primary"))
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)
    assert sandbox is None or nodesandbox.leftovers(sandbox) == []


def _pods(node: Node, role: str) -> list[dict[str, Any]]:
    found = platform.kubectl(
        node.state,
        "get",
        "pods",
        "-n",
        NAMESPACE,
        "-l",
        f"app.kubernetes.io/instance=orders,meridian.io/role={role}",
        "-o",
        "json",
    )
    items: list[dict[str, Any]] = json.loads(found)["items"]
    return items


def test_the_release_pods_run_on_the_real_node_with_their_key_mounted_and_scrape_annotations(
    node: Node,
) -> None:
    (first, *_) = pods = _pods(node, "stable")
    assert len(pods) == 2
    assert {pod["spec"]["nodeName"] for pod in pods} == {realnode.node_name("primary")}
    assert first["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    said = platform.kubectl(
        node.state,
        "exec",
        first["metadata"]["name"],
        "--",
        "python3",
        "-c",
        f"import os; print(os.getuid(), sorted(os.listdir({podenv.KEY_DIR!r})))",
    )
    assert said.split(" ", 1)[0] == "10001"
    assert "orders" in said.split(" ", 1)[1]
    calls = _calls(node, 1)
    assert set(calls) == {"200"}, calls  # each token checked against the JWKS pod's key


def test_a_rolling_update_of_orders_ends_available_with_no_failed_request(node: Node) -> None:
    """A new revision (a config change) rolls while the client calls orders every 50 ms."""
    before = _status(node.state)["stableRevision"]
    argv = ["exec", "-i", "orders-client", "--", "python3", "-c", LOOP, ORDERS_URL, node.token, "0"]
    loop = subprocess.Popen(
        _kubectl_argv(node.state, *argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(5)  # calls answered before the rollout starts
        started = time.monotonic()
        _patch(node.state, {"config": {**node.env.env, "MERIDIAN_ORDERS_INVENTORY_ATTEMPTS": "4"}})

        def moved() -> bool:
            status = _status(node.state)
            return status.get("phase") == "Healthy" and status.get("stableRevision") != before

        net.wait_until(moved, what="orders Healthy at the new revision", timeout=90)
        rolled = time.monotonic() - started
        # The calls go on until the old pods are gone: their drain is where calls were refused.
        net.wait_until(
            lambda: len(_pods(node, "stable")) == 2,
            what="the old revision's pods gone",
            timeout=90,
        )
        time.sleep(2)
        out, _ = loop.communicate("", timeout=30)
    finally:
        loop.kill()
    print(f"\nrolling update of 2 orders pods: {rolled:.1f} s; calls: {out.strip()}")
    conditions = {c["type"]: c["status"] for c in _status(node.state)["conditions"]}
    assert conditions["Available"] == "True"
    counts: dict[str, int] = ast.literal_eval(out.strip())
    assert set(counts) == {"200"}, counts
    assert counts["200"] > 100  # a steady stream across the whole rollout
    stable = _pods(node, "stable")
    revision = _status(node.state)["stableRevision"]
    assert {pod["metadata"]["labels"]["meridian.io/revision"] for pod in stable} == {revision}


SPLIT = """
import collections, concurrent.futures, json, sys, urllib.error, urllib.request
url, token, n, pods = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
own = ('route="/readyz"', 'route="/healthz"', 'route="/metrics"')
def served():
    counts = collections.Counter()
    for address, revision in pods:
        with urllib.request.urlopen("http://" + address + "/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("http_requests_total{") and not any(r in line for r in own):
                    counts[revision] += float(line.rsplit(" ", 1)[1])
    return counts
def call(_):
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except Exception as error:
        return type(error).__name__
before = served()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    statuses = collections.Counter(pool.map(call, range(n)))
after = served()
print(json.dumps({"statuses": statuses, "served": {r: round(after[r] - before[r]) for r in after}}))
"""
"""Runs in the client pod: `n` GETs of `url` through the gateway; prints how often each status
came, and how many requests each revision's pods (`pods`: [address, revision]) served, from the
pods' own request counters (probes and scrapes left out): a response does not say its pod."""


@pytest.fixture(scope="module")
def edge(node: Node) -> str:
    """The Meridian gateway in front of the release (`orders_manifests.edge_gateway`): it takes
    tokens of the JWKS stand-in's key, signs its own with the platform's gateway key (which orders
    trusts), has its rate limit out of the way, and no routes but its Gateway's HTTPRoutes."""
    names = [service.name for service in pipeline.SERVICES]
    where = pipeline.Where(node.state, orders_manifests.pod_urls(names), carrier_url="")
    gateway = next(service for service in pipeline.SERVICES if service.name == "gateway")
    jwks = orders_manifests.pod_urls(["gateway"])["gateway"] + servicekeys.JWKS_PATH
    env = pipeline.environment(gateway, where) | {
        "MERIDIAN_GATEWAY_ROUTES": "{}",
        "MERIDIAN_GATEWAY_GATEWAY_NAME": "meridian",
        "MERIDIAN_GATEWAY_JWKS_URL": jwks,
        "MERIDIAN_GATEWAY_ISSUER": "meridian-gateway",
        "MERIDIAN_GATEWAY_DEFAULT_RATE_LIMIT_RPS": "100000",
        "MERIDIAN_GATEWAY_DEFAULT_RATE_LIMIT_BURST": "100000",
    }
    pod_env = podenv.in_cluster(env, platform.datastore_ports(node.state))
    port = int(node.state.clusters["primary"]["apiserver_port"])
    _apply(node.state, *orders_manifests.edge_gateway(node.gateway_image, pod_env, port))
    try:
        platform.kubectl(
            node.state, "rollout", "status", f"deployment/{orders_manifests.EDGE}", "--timeout=120s"
        )
    except RuntimeError as error:  # why: the pod's state, events and log
        selector = f"app={orders_manifests.EDGE}"
        said = [
            _said(node.state, "describe", "pods", "-l", selector),
            _said(node.state, "logs", "-l", selector, "--tail=40"),
        ]
        raise AssertionError("\n".join(said)) from error
    host = f"{orders_manifests.EDGE}.{NAMESPACE}.svc.cluster.local:{orders_manifests.EDGE_PORT}"
    return f"http://{host}/v1/orders"


def _said(state: platform.PlatformState, *args: str) -> str:
    """kubectl's answer, or its error: for a failure's message."""
    try:
        return platform.kubectl(state, *args)
    except RuntimeError as error:
        return str(error)


def _through_gateway(node: Node, url: str, requests: int) -> tuple[dict[str, int], dict[str, int]]:
    """`requests` GETs through the gateway: (status -> count, revision -> requests its pods served)."""
    pods = [
        (
            f"{pod['status']['podIP']}:{orders_manifests.PORT}",
            pod["metadata"]["labels"][resources.REVISION_LABEL],
        )
        for role in ("stable", "canary")
        for pod in _pods(node, role)
        if pod["status"].get("podIP") and not pod["metadata"].get("deletionTimestamp")
    ]
    argv = ["python3", "-c", SPLIT, url, node.token, str(requests), json.dumps(pods)]
    out = json.loads(platform.kubectl(node.state, "exec", "orders-client", "--", *argv))
    return dict(out["statuses"]), dict(out["served"])


def _route_weights(node: Node) -> list[int]:
    route = json.loads(
        platform.kubectl(node.state, "get", "httproute", "orders", "-n", NAMESPACE, "-o", "json")
    )
    return [ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]]


def test_a_canary_walks_its_steps_at_the_weights_the_gateway_splits_and_is_promoted(
    node: Node, edge: str
) -> None:
    """At each step the gateway, reading the HTTPRoute the operator writes, sends the canary its
    weight of 1,000 requests within 3 %, counted by the revisions' pods; then the promoted
    revision serves everything. The weights are 10 and 90 %: the gateway draws each request's
    backend at random, and 3 % is over 3 standard deviations of 1,000 draws at those weights (at
    50 % it would be under 2, failing about one run in 18)."""
    stable = _status(node.state)["stableRevision"]
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 90}, {"pause": {}}]
    config = {**node.env.env, "MERIDIAN_ORDERS_INVENTORY_ATTEMPTS": "5"}
    canary = {"type": "Canary", "canarySteps": steps}
    _patch(node.state, {"route": "/v1/orders", "strategy": canary, "config": config})
    seen: dict[int, dict[str, int]] = {}
    for resumes, (step, weight) in enumerate([(1, 10), (3, 90)]):

        def paused(step: int = step) -> bool:
            status = _status(node.state)
            return (status.get("phase"), status.get("currentStep")) == ("Paused", step)

        net.wait_until(paused, what=f"orders Paused at step {step}", timeout=180)
        assert _status(node.state)["canaryWeight"] == weight
        net.wait_until(
            lambda weight=weight: _route_weights(node) == [100 - weight, weight],  # type: ignore[misc]
            what=f"the HTTPRoute at {weight} %",
            timeout=30,
        )
        # A pod the step scaled away still answers on the gateway's keep-alive connections
        # while it drains: measure once the step's pods are all there is.
        net.wait_until(
            lambda: (
                not any(
                    pod["metadata"].get("deletionTimestamp")
                    for role in ("stable", "canary")
                    for pod in _pods(node, role)
                )
            ),
            what="the pods the step scaled away gone",
            timeout=90,
        )
        time.sleep(3)  # three of the gateway's HTTPRoute reads (`httproute_refresh_s` 1 s)
        statuses, served = _through_gateway(node, edge, 1000)
        (revision,) = {
            pod["metadata"]["labels"][resources.REVISION_LABEL] for pod in _pods(node, "canary")
        }
        seen[weight] = served
        print(f"\nsetWeight {weight}: {served} (canary {revision}); statuses {statuses}")
        assert statuses == {"200": 1000}
        assert served.get(stable, 0) + served.get(revision, 0) == 1000, served
        assert abs(served.get(revision, 0) / 1000 - weight / 100) <= 0.03, served
        _patch(node.state, {"actions": {"resume": {"count": resumes + 1}}})
    promoted = _healthy(node.state, revision)
    assert [h["outcome"] for h in promoted["history"] if h["hash"] == revision] == ["Promoted"]
    net.wait_until(
        lambda: (
            {p["metadata"]["labels"][resources.REVISION_LABEL] for p in _pods(node, "stable")}
            == {revision}
        ),
        what="the earlier revision's pods gone",
        timeout=90,
    )
    assert _route_weights(node) == [100, 0]
    time.sleep(3)
    statuses, served = _through_gateway(node, edge, 200)
    assert statuses == {"200": 200}
    assert served == {revision: 200}


def _canary_is_aborted(node: Node, spec: dict[str, Any], reason: str) -> dict[str, Any]:
    """Patch a canary in; returns the abort once the release is Aborted, checking its timing."""
    steps = [{"setWeight": 50}, {"pause": {}}]
    status = _status(node.state)
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Available"] == "True"  # Healthy, or Aborted back on a full stable
    earlier = status.get("abort")
    started = time.monotonic()
    canary = {"type": "Canary", "canarySteps": steps}
    _patch(node.state, {"strategy": canary, "progressDeadlineSeconds": DEADLINE_S, **spec})

    def aborted_anew() -> bool:  # not the abort of an earlier canary
        status = _status(node.state)
        return status.get("phase") == "Aborted" and status.get("abort") != earlier

    net.wait_until(aborted_anew, what=f"the canary aborted ({reason})", timeout=DEADLINE_S + 60)
    aborted = _status(node.state)
    elapsed = time.monotonic() - started
    print(f"\n{reason}: aborted {elapsed:.1f} s after the patch (deadline {DEADLINE_S} s)")
    abort = dict(aborted["abort"])
    assert abort["reason"] == reason, abort
    assert DEADLINE_S <= elapsed <= DEADLINE_S + 30
    assert abort["stableReadyAt"] <= abort["weightRestoredAt"]
    assert _pods(node, "canary") == [] or all(
        pod["metadata"].get("deletionTimestamp") for pod in _pods(node, "canary")
    )
    calls = _calls(node, 2)
    assert set(calls) == {"200"}, calls  # the stable still serves
    return abort


def test_a_canary_whose_pods_never_get_ready_is_aborted_at_the_progress_deadline(
    node: Node,
) -> None:
    """Argo Rollouts #4128: an image the node never gets keeps its pod Pending, never Ready."""
    missing = node.image.rsplit(":", 1)[0] + ":0.0.0-never-built"
    _canary_is_aborted(node, {"image": missing}, "ProgressDeadlineExceeded")


def test_a_canary_whose_pods_crash_loop_is_aborted_at_the_progress_deadline(node: Node) -> None:
    """Argo Rollouts #3765: a setting the service refuses at start makes it exit, again and
    again (its restarts counted), and the rollout is aborted as crash looping."""
    config = {**node.env.env, "MERIDIAN_ORDERS_PORT": "not-a-port"}
    _canary_is_aborted(node, {"image": node.image, "config": config}, "CrashLooping")
