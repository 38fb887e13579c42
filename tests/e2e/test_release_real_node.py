"""ServiceReleases of orders on the real node: the rollouts' faults against real pods.

One platform with its real node and datastores, the service images imported, the admission
policies in Enforce and the release operator as its own process, placed on the real node by the
platform's settings (`releases.placement_environment`). Orders runs from a ServiceRelease with
the environment its host process would have (`podenv`), its signing key a mounted Secret; a pod
serves the gateway's JWKS (`orders_manifests.gateway_jwks`) and a client pod calls orders
through its Service, as the gateway's pod would. For the canary's traffic split the Meridian
gateway itself runs as a pod of the node (`orders_manifests.edge_gateway`), reading the HTTPRoute
the operator writes, and the client calls orders through it. The platform's Prometheus discovers
the release's pods on the node and scrapes them: a canary whose config makes it answer 500s is
aborted by the example's error-ratio analysis. An abort asked while a full promote is pending
(its pods held back by a pod quota) wins. On-call's `kubectl meridian release` commands, and
the operator SIGKILLed at every step of a canary, act on the same pods. Last, the whole order
pipeline runs from its ServiceReleases (`podpipeline`, what `make up REAL_NODE=1` deploys) and
the README's walkthrough runs from the host through its gateway while orders rolls to a new image.

The faulty canaries come with a progress deadline of 30 s, the smallest that stays honest: an
orders pod here goes from created to Ready in 10-30 s on a loaded machine (the first rollout's
time is printed), so the healthy rolling update keeps the default deadline, and each faulty
canary is aborted about half a minute after it started.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import contextlib
import datetime
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import pytest
import yaml

from meridian.localplatform import (
    imagebuild,
    imagespec,
    net,
    nodesandbox,
    pipeline,
    platform,
    podenv,
    podpipeline,
    realnode,
    releases,
    servicekeys,
)
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import resources
from tests import issuer, tenants
from tests.e2e import orders_manifests, walkthrough
from tests.e2e import test_release_operator as release_e2e
from tests.e2e.real_node.test_real_node import _exists

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = orders_manifests.NAMESPACE
OPERATOR = "release-operator"
OPERATOR_ENV = {"MERIDIAN_OPERATOR_RELEASE_TICK_S": "1", "MERIDIAN_OPERATOR_RESYNC_S": "1"}
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
    supervisor: Supervisor
    """The release operator's: a test kills it and starts it again (`_start_operator`)."""
    prometheus_url: str


def _start_operator(state: platform.PlatformState, supervisor: Supervisor) -> None:
    platform.start_operators(
        state, supervisor=supervisor, name=OPERATOR, only="release", env=OPERATOR_ENV
    )


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
        # Before the operator: it takes the analysis' Prometheus URL from the platform's state.
        prometheus_url = platform.start_prometheus(state)
        _start_operator(state, supervisor)
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
        found = Node(state, path, image, env, token, gateway_image, supervisor, prometheus_url)
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
    revision serves everything. The gateway's split is exact (a weighted rotation); the 3 % is
    the issue's tolerance, left for a request a pod counts that the gateway did not send."""
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


@contextlib.contextmanager
def _calling(node: Node, url: str) -> Iterator[dict[str, int]]:
    """GETs of `url` from the client pod every 50 ms while the block runs; the dict it yields is
    filled, once the block is over, with how often each status came."""
    argv = ["exec", "-i", "orders-client", "--", "python3", "-c", LOOP, url, node.token, "0"]
    loop = subprocess.Popen(
        _kubectl_argv(node.state, *argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    counts: dict[str, int] = {}
    try:
        yield counts
        out, _ = loop.communicate("", timeout=30)
        counts.update(ast.literal_eval(out.strip()))
    finally:
        loop.kill()
        loop.wait()


def _promql(node: Node, query: str) -> list[dict[str, Any]]:
    """An instant query of the platform's Prometheus: its result vector."""
    url = f"{node.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        payload = json.load(response)
    assert payload["status"] == "success", payload
    result: list[dict[str, Any]] = payload["data"]["result"]
    return result


CONDITION_EVENT = re.compile(r"^(Available|Progressing|Ready) is ")
"""The message of an Event announcing a condition's change (`machinery.wiring.announce`), whose
reason can be a step's too (`Aborting`, `Aborted`): not one of the rollout's steps."""


def _events(node: Node, reason: str, since: datetime.datetime) -> list[dict[str, Any]]:
    """The Events the release's steps announced (conditions' changes left out) of `reason`,
    created at or after `since` (whole seconds), oldest first."""
    selector = f"involvedObject.kind=ServiceRelease,involvedObject.name=orders,reason={reason}"
    found = json.loads(
        platform.kubectl(
            node.state, "get", "events", "-n", NAMESPACE, "--field-selector", selector, "-o", "json"
        )
    )
    items = [
        item
        for item in found["items"]
        if _time(item["metadata"]["creationTimestamp"]) >= since.replace(microsecond=0)
        and not CONDITION_EVENT.match(item["message"])
    ]
    return sorted(items, key=lambda item: str(item["metadata"]["creationTimestamp"]))


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _ready(pod: dict[str, Any]) -> str | None:
    """When the pod last became Ready (the kubelet's whole-second time), None if it is not."""
    for condition in pod["status"].get("conditions", []):
        if condition["type"] == "Ready" and condition["status"] == "True":
            return str(condition["lastTransitionTime"])
    return None


def _serving(node: Node, role: str, revision: str) -> list[dict[str, Any]]:
    """The role's pods of `revision` that are Ready and not on their way out."""
    return [
        pod
        for pod in _pods(node, role)
        if pod["metadata"]["labels"][resources.REVISION_LABEL] == revision
        and not pod["metadata"].get("deletionTimestamp")
        and _ready(pod) is not None
    ]


def _route_written(node: Node) -> datetime.datetime:
    """When the HTTPRoute was last written (only the operator writes it; it writes only a
    change): the apiserver's time of its newest managed-fields entry."""
    found = platform.kubectl(
        node.state,
        "get",
        "httproute",
        "orders",
        "-n",
        NAMESPACE,
        "-o",
        "json",
        "--show-managed-fields",
    )
    route = json.loads(found)
    return max(_time(entry["time"]) for entry in route["metadata"]["managedFields"])


EXAMPLE = ROOT / "crds" / "examples" / "servicerelease.yaml"
KIT_ROUTES = 'route!~"/healthz|/readyz|/metrics"'


def _error_ratio_analysis() -> dict[str, Any]:
    """The example's error-ratio analysis (`crds/examples`), over this release: its namespace,
    a 30 s rate window (Prometheus scrapes every 5 s), a measurement every 2 s, two failures in a
    row to fail. Until the canary's first requests are scraped the ratio has no value, which is
    inconclusive: enough of those are tolerated to cover that."""
    spec = yaml.safe_load(EXAMPLE.read_text())["spec"]
    example = next(s["analysis"] for s in spec["strategy"]["canarySteps"] if "analysis" in s)
    query = example["query"].replace('namespace="meridian-prod"', f'namespace="{NAMESPACE}"')
    query = query.replace("[2m]", "[30s]")
    assert "meridian-prod" not in query
    assert "[2m]" not in query
    return {
        "query": query,
        "successCondition": example["successCondition"],
        "failureCondition": example["failureCondition"],
        "interval": "2s",
        "count": 5,
        "consecutiveFailureLimit": 2,
        "inconclusiveLimit": 30,
    }


class Sample(NamedTuple):
    """One look at the abort as it happens: the release's phase, the HTTPRoute's weights, then
    how many stable pods were Ready (read in that order: a weight back at 0 is seen before the
    stable pods are counted)."""

    phase: str | None
    weights: list[int]
    stable_ready: int


def test_a_canary_serving_real_errors_is_aborted_by_its_analysis_with_the_stable_ready_first(
    node: Node, edge: str
) -> None:
    """The canary's config names a database role that does not exist (one letter short): its
    pods start and pass their readiness check (which only pings the database), then fail every
    order query with a 500. The client calls orders through the gateway all along, half of it
    landing on the canary; Prometheus scrapes the pods; the analysis (the example's query) fails
    twice in a row and the canary is aborted. At 50 % the stable ran 1 of its 2 pods, so the abort
    has to bring one up: the weight stays on the canary until it is Ready, shown by what the test
    saw as it happened and by the recorded times (the Aborting Event, the stable pods' Ready
    times, the HTTPRoute's last write, the Aborted Event). No request the stable's pods counted
    failed, by the pods' own counters as Prometheus scraped them."""
    before = _status(node.state)
    stable, earlier = before["stableRevision"], before.get("abort")
    config = {**node.env.env, "MERIDIAN_ORDERS_DB_ROLE": "meridian_orders_ap"}
    steps = [{"setWeight": 50}, {"analysis": _error_ratio_analysis()}, {"pause": {}}]
    started = datetime.datetime.now(datetime.UTC)
    samples: list[Sample] = []
    with _calling(node, edge) as calls:
        _patch(
            node.state,
            {
                "route": "/v1/orders",
                "strategy": {"type": "Canary", "canarySteps": steps},
                "config": config,
                "progressDeadlineSeconds": 600,
            },
        )

        def aborted() -> bool:
            status = _status(node.state)
            weights = _route_weights(node) if _exists(node.state, "httproute", "orders") else []
            ready = len(_serving(node, "stable", stable))
            samples.append(Sample(status.get("phase"), weights, ready))
            return status.get("phase") == "Aborted" and status.get("abort") != earlier

        net.wait_until(aborted, what="the canary aborted by its analysis", timeout=300)
        time.sleep(6)  # one more scrape of the requests of the last seconds
    status = _status(node.state)
    abort, run = status["abort"], status["analysisRuns"][-1]
    print(f"\nanalysis {run['phase']}: {[m.get('value') for m in run['measurements']]}")
    print(f"calls through the gateway: {calls}; abort: {abort}")
    assert abort["reason"] == "AnalysisFailed", abort
    assert (run["phase"], run["step"], run["revision"]) == ("Failed", 1, abort["revision"])
    assert [m["phase"] for m in run["measurements"][-2:]] == ["Failed", "Failed"]
    assert all(m["value"] >= 0.05 for m in run["measurements"][-2:])
    assert status["stableRevision"] == stable
    assert status.get("canaryWeight", 0) == 0
    assert calls.get("200", 0) > 0, calls  # the stable's answers
    assert calls.get("500", 0) > 0, calls  # the canary's

    # As it happened: from the first look with traffic on the canary, the weight went back to 0
    # only with the stable Ready at full size, and there were looks at the abort waiting for it.
    split = next(i for i, s in enumerate(samples) if s.weights == [50, 50])
    after = samples[split:]
    assert all(s.stable_ready == 2 for s in after if s.weights == [100, 0]), after
    assert any(
        s.phase == "Aborting" and s.weights == [50, 50] and s.stable_ready < 2 for s in after
    )
    # From the recorded times (whole seconds, each clock's truncation keeping the order).
    (aborting,) = _events(node, "Aborting", started)
    (done,) = _events(node, "Aborted", started)
    assert "AnalysisFailed" in aborting["message"]
    stable_ready = max(_time(str(_ready(pod))) for pod in _serving(node, "stable", stable))
    route_written = _route_written(node)
    times = [
        _time(aborting["metadata"]["creationTimestamp"]),
        stable_ready,
        route_written,
        _time(done["metadata"]["creationTimestamp"]),
    ]
    print(f"aborting, stable Ready at full size, weight back, aborted: {[str(t) for t in times]}")
    assert times == sorted(times), times
    assert len(_serving(node, "stable", stable)) == 2
    assert abort["at"] <= abort["stableReadyAt"] <= abort["weightRestoredAt"]

    # Every request the stable's pods counted (probes and scrapes aside) succeeded; the
    # canary's pods counted the failures.
    window = f"{int((datetime.datetime.now(datetime.UTC) - started).total_seconds()) + 10}s"
    pods = f'namespace="{NAMESPACE}",release="orders",{KIT_ROUTES}'
    counted = f"sum by (role, status) (max_over_time(http_requests_total{{{pods}}}[{window}]))"
    by = {
        (r["metric"]["role"], r["metric"]["status"]): float(r["value"][1])
        for r in _promql(node, counted)
    }
    print(f"requests counted by the pods (role, status): {by}")
    assert [key for key in by if key[0] == "stable" and key[1].startswith("5")] == [], by
    assert by.get(("canary", "500"), 0) > 0, by
    assert by.get(("stable", "200"), 0) > 0, by


def _namespace_pods(node: Node) -> list[dict[str, Any]]:
    """Every pod of the namespace still running or to run (what a pod quota counts)."""
    found = platform.kubectl(node.state, "get", "pods", "-n", NAMESPACE, "-o", "json")
    items: list[dict[str, Any]] = json.loads(found)["items"]
    return [pod for pod in items if pod["status"].get("phase") not in ("Succeeded", "Failed")]


@contextlib.contextmanager
def _no_room_for_a_pod(node: Node) -> Iterator[None]:
    """A ResourceQuota of the namespace's pods as they are: no new pod is admitted while the
    block runs (once no pod is on its way out, which the quota would count until it is gone)."""
    net.wait_until(
        lambda: not any(p["metadata"].get("deletionTimestamp") for p in _namespace_pods(node)),
        what="no pod of the namespace terminating",
        timeout=90,
    )
    count = str(len(_namespace_pods(node)))
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "pods", "namespace": NAMESPACE},
        "spec": {"hard": {"pods": count}},
    }
    _apply(node.state, quota)
    try:

        def counted() -> bool:  # admission enforces the quota once its usage is counted
            found = json.loads(
                platform.kubectl(
                    node.state, "get", "resourcequota", "pods", "-n", NAMESPACE, "-o", "json"
                )
            )
            return bool((found.get("status") or {}).get("used", {}).get("pods") == count)

        net.wait_until(counted, what=f"the quota counting {count} pods", timeout=60)
        yield
    finally:
        platform.kubectl(
            node.state, "delete", "resourcequota", "pods", "-n", NAMESPACE, "--ignore-not-found"
        )


def _stable_deployment_revision(node: Node) -> str:
    found = platform.kubectl(
        node.state, "get", "deployment", "orders", "-n", NAMESPACE, "-o", "json"
    )
    labels = json.loads(found)["spec"]["template"]["metadata"]["labels"]
    return str(labels[resources.REVISION_LABEL])


def test_an_abort_wins_over_a_full_promote_still_pending_on_the_real_pods(node: Node) -> None:
    """Argo Rollouts #4461: once a full promote was asked, an abort was ignored. A canary of 50 %
    (1 canary pod, the stable down to 1 of its 2) paused; a quota then leaves the namespace no
    room for another pod, and on-call asks `promote --full`: the stable Deployment moves to the
    canary's revision, whose pods the quota refuses, so the promote stays pending (Promoting).
    `abort` then wins: the stable Deployment goes back to the stable revision at 2 pods, half
    the traffic stays on the canary while the stable's second pod cannot start either, and once
    the quota is lifted that pod comes up, and only then does the weight go back: shown by what
    the test saw and by the recorded times, the abort's own record taken from the pods' Ready
    times. The canary's revision never became the stable. (The revision after this one, with
    nothing of the promote carried over, is the next test's: Argo Rollouts #3082.)"""
    before = _status(node.state)
    stable, earlier = before["stableRevision"], before.get("abort")
    started = datetime.datetime.now(datetime.UTC)
    config = {**node.env.env, "MERIDIAN_ORDERS_INVENTORY_ATTEMPTS": "7"}
    strategy = {"type": "Canary", "canarySteps": [{"setWeight": 50}, {"pause": {}}]}
    _patch(
        node.state,
        {
            "route": "/v1/orders",
            "strategy": strategy,
            "config": config,
            "progressDeadlineSeconds": 600,
        },
    )
    canary = _at(node, "Paused", 1)["canaryRevision"]
    assert canary != stable
    assert _route_weights(node) == [50, 50]
    samples: list[Sample] = []
    stables: set[str] = set()
    with _no_room_for_a_pod(node):
        _kubectl_meridian(node, "release", "promote", "--full")

        def promoting() -> bool:
            status = _status(node.state)
            return status.get("phase") == "Promoting" and bool(status.get("promoteFull"))

        net.wait_until(promoting, what="the full promote pending", timeout=60)
        assert _stable_deployment_revision(node) == canary  # the promote was under way
        assert _serving(node, "stable", canary) == []  # its pods refused by the quota
        _kubectl_meridian(node, "release", "abort")

        def aborting() -> bool:
            status = _status(node.state)
            stables.add(status["stableRevision"])
            weights = _route_weights(node)
            samples.append(
                Sample(status.get("phase"), weights, len(_serving(node, "stable", stable)))
            )
            return status.get("phase") == "Aborting" and status["abort"] != earlier

        net.wait_until(aborting, what="the abort taken, waiting for the stable", timeout=60)
        assert _stable_deployment_revision(node) == stable
        waiting = _status(node.state)
        assert waiting["phase"] == "Aborting"
        assert not waiting.get("promoteFull")
        assert _route_weights(node) == [50, 50]  # on the canary while the stable is short
        assert len(_serving(node, "stable", stable)) == 1

    def aborted() -> bool:
        status = _status(node.state)
        stables.add(status["stableRevision"])
        weights = _route_weights(node)
        ready = len(_serving(node, "stable", stable))
        samples.append(Sample(status.get("phase"), weights, ready))
        return status.get("phase") == "Aborted"

    net.wait_until(aborted, what="the abort done, the stable back at 2 pods", timeout=180)
    status = _status(node.state)
    abort = status["abort"]
    print(f"\nabort over a pending full promote: {abort}")
    assert (abort["reason"], abort["revision"]) == ("AbortRequested", canary)
    assert stables == {stable}
    assert not status.get("promoteFull")
    assert status.get("canaryWeight", 0) == 0
    assert _route_weights(node) == [100, 0]
    outcomes = {h["hash"]: h["outcome"] for h in status["history"]}
    assert outcomes[canary] == "Aborted"
    promoted = [e["message"] for e in _events(node, "Promoted", started)]
    assert [m for m in promoted if canary in m] == [], promoted
    (ignored,) = _events(node, "ActionIgnored", started)
    assert ignored["message"] == "promote ignored: abort wins"
    # As it happened: the weight went back to 0 only with the stable Ready at full size.
    assert all(s.stable_ready == 2 for s in samples if s.weights == [100, 0]), samples
    # From the recorded times (whole seconds, each clock's truncation keeping the order); the
    # abort's record of the stable's readiness is its pods' own Ready time.
    (begun,) = _events(node, "Aborting", started)
    (done,) = _events(node, "Aborted", started)
    stable_ready = max(_time(str(_ready(pod))) for pod in _serving(node, "stable", stable))
    times = [
        _time(begun["metadata"]["creationTimestamp"]),
        stable_ready,
        _route_written(node),
        _time(done["metadata"]["creationTimestamp"]),
    ]
    print(f"aborting, stable Ready at full size, weight back, aborted: {[str(t) for t in times]}")
    assert times == sorted(times), times
    assert _time(abort["stableReadyAt"]) == stable_ready
    assert abort["at"] <= abort["stableReadyAt"] <= abort["weightRestoredAt"]
    assert "Abort:    AbortRequested" in _kubectl_meridian(node, "release", "status")
    staying = [p for p in _pods(node, "canary") if not p["metadata"].get("deletionTimestamp")]
    assert staying == []
    net.wait_until(  # a pod of the refused promote may have started once the quota was lifted
        lambda: (
            {
                p["metadata"]["labels"][resources.REVISION_LABEL]
                for p in _pods(node, "stable")
                if not p["metadata"].get("deletionTimestamp")
            }
            == {stable}
        ),
        what="the stable Deployment running the stable revision only",
        timeout=60,
    )
    calls = _calls(node, 1)
    assert set(calls) == {"200"}, calls


def _killed_and_back(node: Node, bump: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """SIGKILL the operator and start it again; returns the status as it was killed and once the
    new process has decided on it at least once (it has observed a spec change that is no new
    revision: the progress deadline, raised by `bump` seconds)."""
    killed = _status(node.state)
    node.supervisor.kill(OPERATOR)
    _start_operator(node.state, node.supervisor)
    _patch(node.state, {"progressDeadlineSeconds": 600 + bump})

    def observed() -> bool:
        body = _release(node.state)
        status = body.get("status") or {}
        return bool(status.get("observedGeneration") == body["metadata"]["generation"])

    net.wait_until(observed, what="the restarted operator's first decision", timeout=60)
    return killed, _status(node.state)


def _point(status: dict[str, Any]) -> tuple[int, int]:
    """Where a canary is: (step, weight)."""
    return int(status.get("currentStep") or 0), int(status.get("canaryWeight") or 0)


def _at(node: Node, phase: str, step: int) -> dict[str, Any]:
    def there() -> bool:
        status = _status(node.state)
        return (status.get("phase"), status.get("currentStep")) == (phase, step)

    net.wait_until(there, what=f"orders {phase} at step {step}", timeout=180)
    return _status(node.state)


def _kubectl_meridian(node: Node, *args: str) -> str:
    return release_e2e._kubectl_meridian(node.state, *args, "orders", "-n", NAMESPACE)


@pytest.mark.timeout(600)  # four kills and restarts, three pod rollouts on a loaded node
def test_on_call_commands_and_an_operator_killed_at_every_step_act_on_the_real_pods(
    node: Node,
) -> None:
    """A canary of 10 % (1 pod beside the stable's 2), an untimed pause, 60 % (2 canary pods, the
    stable down to 1) and a 20 s pause. The operator is SIGKILLed at every step: while its canary
    pod comes up, at the pause, while the second canary pod comes up, at the paused last step;
    each time the new process goes on from the step the status names, never back, and no step is
    announced twice. On-call drives it with `kubectl meridian release`: `promote` skips the
    untimed pause (the route moves to 40/60 and a second canary pod runs), `pause` holds the
    timed pause past its end (kill included), `resume` goes on to the promotion (the stable pods
    run the new revision, all traffic on them), `rollback` brings the earlier revision's pods
    back. The revision comes right after an aborted one (an abort that won over a full promote,
    the test before) and starts clean, no promote carried over (Argo Rollouts #3082); status
    shows that abort as an earlier rollout's. The history stays within its limit."""
    stable = _status(node.state)["stableRevision"]
    started = datetime.datetime.now(datetime.UTC)
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "20s"}}]
    config = {**node.env.env, "MERIDIAN_ORDERS_INVENTORY_ATTEMPTS": "6"}
    strategy = {"type": "Canary", "canarySteps": steps}
    _patch(
        node.state,
        {
            "route": "/v1/orders",
            "strategy": strategy,
            "config": config,
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 5,
        },
    )

    def rolling() -> bool:
        return _status(node.state).get("canaryRevision") not in (None, stable)

    net.wait_until(rolling, what="the new revision's canary started", timeout=60)
    fresh = _status(node.state)
    canary = fresh["canaryRevision"]
    assert fresh.get("analysis") is None
    assert not fresh.get("promoteFull")
    # Step 0, its pod most likely still coming up.
    killed, back = _killed_and_back(node, 1)
    print(f"\nkilled at {killed['phase']} {_point(killed)}, back at {back['phase']} {_point(back)}")
    assert back["canaryRevision"] == canary
    assert _point(back) >= _point(killed)

    paused = _at(node, "Paused", 1)
    assert paused["canaryWeight"] == 10
    assert _route_weights(node) == [90, 10]
    assert (len(_serving(node, "canary", canary)), len(_serving(node, "stable", stable))) == (1, 2)
    killed, back = _killed_and_back(node, 2)
    assert (back["phase"], _point(back)) == ("Paused", (1, 10))

    _kubectl_meridian(node, "release", "promote")
    net.wait_until(
        lambda: _point(_status(node.state))[0] >= 2, what="the promote taken", timeout=60
    )
    killed, back = _killed_and_back(node, 3)  # most likely while the second canary pod comes up
    print(f"killed at {killed['phase']} {_point(killed)}, back at {back['phase']} {_point(back)}")
    assert back["canaryRevision"] == canary
    assert _point(back) >= _point(killed) >= (2, 10)

    paused = _at(node, "Paused", 3)
    _kubectl_meridian(node, "release", "pause")  # at once: the step's 20 s run from here
    assert paused["canaryWeight"] == 60
    net.wait_until(
        lambda: _route_weights(node) == [40, 60], what="the HTTPRoute at 60 %", timeout=30
    )
    net.wait_until(
        lambda: (
            len(_serving(node, "canary", canary)) == 2
            and len(
                [p for p in _pods(node, "stable") if not p["metadata"].get("deletionTimestamp")]
            )
            == 1
        ),
        what="2 canary pods and 1 stable pod",
        timeout=90,
    )
    net.wait_until(
        lambda: "actions.pause" in _status(node.state).get("message", ""),
        what="the pause taken",
        timeout=60,
    )
    killed, back = _killed_and_back(node, 4)
    assert (back["phase"], _point(back)) == ("Paused", (3, 60))
    ends = _time(back["stepStartedAt"]) + datetime.timedelta(seconds=20)
    time.sleep(max(0.0, (ends - datetime.datetime.now(datetime.UTC)).total_seconds()) + 3)
    held = _status(node.state)
    assert (held["phase"], _point(held)) == ("Paused", (3, 60)), held  # past the pause's end
    assert "actions.pause" in held["message"]
    assert _route_weights(node) == [40, 60]
    assert len(_serving(node, "canary", canary)) == 2

    shown = _kubectl_meridian(node, "release", "status")
    print(shown)
    assert "Weight: 60%" in shown
    assert "Abort:    " not in shown  # an earlier rollout's, if any
    _kubectl_meridian(node, "release", "resume")
    promoted = _healthy(node.state, canary)
    net.wait_until(
        lambda: (
            {p["metadata"]["labels"][resources.REVISION_LABEL] for p in _pods(node, "stable")}
            == {canary}
            and len(_serving(node, "stable", canary)) == 2
            and _pods(node, "canary") == []
        ),
        what="the promoted revision on 2 stable pods, no canary pod",
        timeout=120,
    )
    assert _route_weights(node) == [100, 0]
    # Each step's action once, across the four kills: the revision started once, two weights
    # set, one step skipped, one promotion.
    announced = {
        reason: [e["message"] for e in _events(node, reason, started)]
        for reason in ("RevisionStarted", "WeightSet", "StepPromoted", "Promoted")
    }
    print(f"events: {announced}")
    assert announced["RevisionStarted"] == [f"Rolling out revision {canary}"]
    assert sorted(m.split(": ", 1)[1] for m in announced["WeightSet"]) == [
        f"10% of traffic on {canary}",
        f"60% of traffic on {canary}",
    ]
    assert announced["StepPromoted"] == ["Step 1 skipped by promote"]
    assert announced["Promoted"] == [f"Revision {canary} is stable"]

    number = next(h["revision"] for h in promoted["history"] if h["hash"] == stable)
    _kubectl_meridian(node, "release", "rollback", "--to-revision", str(number))
    rolled = _healthy(node.state, stable)
    net.wait_until(
        lambda: (
            {p["metadata"]["labels"][resources.REVISION_LABEL] for p in _pods(node, "stable")}
            == {stable}
            and len(_serving(node, "stable", stable)) == 2
        ),
        what="the earlier revision back on 2 stable pods",
        timeout=120,
    )
    assert _route_weights(node) == [100, 0]
    outcomes = {h["hash"]: h["outcome"] for h in rolled["history"]}
    assert (outcomes[stable], outcomes[canary]) == ("RolledBack", "Superseded")
    assert len(rolled["history"]) <= 5
    calls = _calls(node, 1)
    assert set(calls) == {"200"}, calls


@pytest.fixture(scope="module")
def pod_pipeline(node: Node) -> walkthrough.Walkthrough:
    """The pipeline as `make up REAL_NODE=1` starts it (`platform.start_pipeline`: released on
    the real node, the demo user and stock seeded through its gateway), the demo tenant's
    registry row written as the Tenant operator would (it does not run here); the walkthrough's
    URL and password as the README reads them: `meridian dev env`, the run dir's file. Auth's
    pod migrates the registry as it starts: the tenant's row is written once the table exists."""

    def registered() -> bool:
        try:
            asyncio.run(tenants.register(node.state, pipeline.DEMO_TENANT))
        except asyncpg.UndefinedTableError:
            return False
        return True

    registering = threading.Thread(
        target=net.wait_until,
        args=(registered,),
        daemon=True,
        kwargs={"what": "the registry migrated by auth", "timeout": 600},
    )
    registering.start()
    started = time.monotonic()
    platform.start_pipeline(node.state)
    registering.join(timeout=10)
    print(f"\npipeline released, relayed and seeded in {time.monotonic() - started:.1f} s")
    saved = platform.load(node.run_dir)
    assert saved is not None
    url = saved.environment()["MERIDIAN_GATEWAY_URL"]
    assert url.startswith(f"http://{net.LOOPBACK}:")
    password = (node.run_dir / "demo-password").read_text()
    return walkthrough.Walkthrough(url, pipeline.DEMO_TENANT, pipeline.DEMO_EMAIL, password)


def _pipeline_pods(node: Node, release: str) -> list[dict[str, Any]]:
    found = platform.kubectl(
        node.state,
        *("get", "pods", "-n", podpipeline.NAMESPACE, "-o", "json"),
        *("-l", f"{resources.INSTANCE_LABEL}={release},{resources.ROLE_LABEL}=stable"),
    )
    return [p for p in json.loads(found)["items"] if not p["metadata"].get("deletionTimestamp")]


def _pipeline_release(node: Node, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        platform.kubectl(
            node.state, "get", "servicerelease", name, "-n", podpipeline.NAMESPACE, "-o", "json"
        )
    )
    return found


def _pod_logs(node: Node, services: tuple[str, ...], lines: int = 15) -> str:
    """The newest log lines of the services' pipeline pods, from the node's files (the
    apiserver cannot reach this kubelet's log endpoint): for a failure's message."""
    pods = realnode.nodes_dir(node.run_dir) / realnode.node_name("primary") / "root/var/log/pods"
    said = []
    for service in services:
        for log in sorted(pods.glob(f"{podpipeline.NAMESPACE}_{service}-*/{service}/*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            said.append(f"--- {log.parent.parent.name}/{log.name}\n" + "\n".join(tail))
    return "\n".join(said)


def _fulfilled(
    node: Node, pipe: walkthrough.Walkthrough, auth: dict[str, str], ids: list[str]
) -> None:
    net.wait_until(
        lambda: set(pipe.states(auth, ids).values()) == {"fulfilled"},
        what=f"{len(ids)} orders fulfilled",
        timeout=120,
        diagnostics=lambda: _pod_logs(node, ("fulfillment", "orders")),
    )


@pytest.mark.timeout(900)  # the pipeline's five releases come up first, in two waves
def test_the_readme_walkthrough_runs_from_the_host_against_the_pipelines_pods(
    node: Node, pod_pipeline: walkthrough.Walkthrough
) -> None:
    """Every release Healthy on the real node, from the service images; the README's requests
    through the relayed gateway: an order confirmed, fulfilled by fulfillment's pod (the carrier
    on the host, the label in S3), the stock down by its quantity."""
    for name in podpipeline.PODS:
        assert _pipeline_release(node, name)["status"]["phase"] == "Healthy"
        pods = _pipeline_pods(node, name)
        assert {p["spec"]["nodeName"] for p in pods} == {realnode.node_name("primary")}
        assert {p["spec"]["containers"][0]["image"] for p in pods} == {
            _pipeline_release(node, name)["spec"]["image"]
        }
    auth = pod_pipeline.login()
    before = pod_pipeline.stock(auth)
    status, order = pod_pipeline.order(auth, quantity=2)
    assert status == 201, order
    assert order["state"] == "confirmed"
    _fulfilled(node, pod_pipeline, auth, [order["id"]])
    (label_key,) = pod_pipeline.label_keys(auth, order["id"])
    assert label_key.startswith("labels/")
    net.wait_until(
        lambda: pod_pipeline.stock(auth)["on_hand"] == before["on_hand"] - 2,
        what="on_hand down by 2",
        timeout=30,
    )


MARK = "rollout-mark.txt"
"""A file only the new orders image has: its code layer, hence its digest and tag, differ."""


@pytest.mark.timeout(600)
def test_orders_rolls_to_a_new_image_while_the_walkthrough_orders_with_none_failed(
    node: Node, pod_pipeline: walkthrough.Walkthrough
) -> None:
    """A new orders image (the same code and a file more: another digest, another tag) is set as
    the release's image while the host places an order every 200 ms through the gateway; the
    release ends Available at a new revision whose pods run the new image (the file is there),
    every order placed meanwhile was answered 201 confirmed and is fulfilled, with its label, and
    the stock went down by as many. A 502 (an old pod's connection broke off mid-request) is
    retried with the same Idempotency-Key, as the API says: the order is then placed exactly once,
    which the stock shows; the retries are printed."""
    mark = f"{uuid.uuid4()}\n".encode()
    new = imagebuild.build("orders", code=imagebuild.code_layer({MARK: mark}))
    realnode.import_image(node.run_dir, "primary", new.archive)
    before = _pipeline_release(node, "orders")
    assert new.ref != before["spec"]["image"]
    old_revision = before["status"]["stableRevision"]
    auth = pod_pipeline.login()
    stock = pod_pipeline.stock(auth)
    orders = walkthrough.Orders(pod_pipeline, auth, interval_s=0.2)
    orders.start()
    try:
        time.sleep(3)  # orders answered before the rollout starts
        started = time.monotonic()
        patch = json.dumps({"spec": {"image": new.ref}})
        platform.kubectl(
            node.state,
            *("patch", "servicerelease", "orders", "-n", podpipeline.NAMESPACE),
            *("--type=merge", "-p", patch),
        )

        def rolled() -> bool:
            status = _pipeline_release(node, "orders").get("status") or {}
            return status.get("phase") == "Healthy" and status.get("stableRevision") != old_revision

        net.wait_until(rolled, what="orders Healthy at the new image", timeout=240)
        took = time.monotonic() - started
        # Orders go on until the old pods are gone: their drain is where calls could fail.
        net.wait_until(
            lambda: (
                {p["spec"]["containers"][0]["image"] for p in _pipeline_pods(node, "orders")}
                == {new.ref}
            ),
            what="only pods of the new image",
            timeout=120,
        )
        time.sleep(2)
    finally:
        answers = orders.stop()
    statuses = collections.Counter(str(status) for status, _ in answers)
    print(
        f"\norders rolled to {new.ref} in {took:.1f} s; orders placed meanwhile: {statuses};"
        f" retried with the same key: {[status for status, _ in orders.retried]}"
    )
    assert set(statuses) == {"201"}, [a for a in answers if a[0] != 201][:5]
    assert len(answers) > 20  # a steady stream across the whole rollout
    assert {body["state"] for _, body in answers} == {"confirmed"}

    status = _pipeline_release(node, "orders")["status"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Available"] == "True"
    pods = _pipeline_pods(node, "orders")
    assert len(pods) == 2
    assert {p["metadata"]["labels"][resources.REVISION_LABEL] for p in pods} == {
        status["stableRevision"]
    }
    for pod in pods:
        shown = platform.kubectl(
            node.state,
            *("exec", "-n", podpipeline.NAMESPACE, pod["metadata"]["name"], "--"),
            *("python3", "-c", f"print(open({imagespec.APP + '/' + MARK!r}).read().strip())"),
        )
        assert shown.strip() == mark.decode().strip()

    ids = [body["id"] for _, body in answers]
    assert len(set(ids)) == len(ids)
    _fulfilled(node, pod_pipeline, auth, ids)
    labels = [pod_pipeline.label_keys(auth, order) for order in ids]
    assert all(len(keys) == 1 and keys[0].startswith("labels/") for keys in labels), labels
    net.wait_until(
        lambda: pod_pipeline.stock(auth)["on_hand"] == stock["on_hand"] - len(ids),
        what=f"on_hand down by {len(ids)}",
        timeout=60,
    )
