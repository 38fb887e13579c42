"""The EdgeNode operator against the real apiserver, under its own least-privilege RBAC.

Enrolment issues each node an identity that reaches its own status and Lease and nothing else
(the apiserver's RBAC decides, not us); Ready follows a Lease the test renews with the node's own
credential; ConfigApplied follows the hash the "agent" (the test, as the node) reports; deleting
the node revokes its credential at once.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, Role
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import platform
from meridian.operators.edge import rollout
from tests import edge_nodes
from tests import edge_operator as edge_operator_process
from tests.waiting import eventually

NAMESPACE = "meridian-system"
GRACE_S = 6
EDGE = edgenode.EDGE_NAMESPACE
NODE = rollout.RESOURCE
RUNNING: dict[str, Callable[[], object]] = {}
"""The module's operator process: `kill` it (SIGKILL) and `restart` it, for the crash test."""
STATUS = rollout.STATUS


@pytest.fixture(scope="module")
def edge_operator(
    local_platform: platform.PlatformState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The edge operator alone, as its own ServiceAccount with exactly its declared ClusterRole."""
    workdir = tmp_path_factory.mktemp("edge-operator")
    with edge_operator_process.running(local_platform, workdir, grace_s=GRACE_S) as running:
        account, supervisor, start = running
        RUNNING["restart"] = start
        RUNNING["kill"] = lambda: supervisor.kill(edge_operator_process.PROCESS)
        yield account
        log = supervisor.log_tail(edge_operator_process.PROCESS, lines=20_000)
        assert "Forbidden" not in log, log[-3000:]


def _apply(state: platform.PlatformState, body: dict[str, Any]) -> None:
    platform.kubectl(state, "apply", "-f", "-", stdin=yaml.safe_dump(body))


def _condition(body: Any, type_: str) -> dict[str, Any]:
    found = (body.get("status") or {}).get("conditions") or []
    return next((c for c in found if c["type"] == type_), {})


async def _wait_condition(
    client: AsyncClient,
    name: str,
    type_: str,
    status: str,
    *,
    within: float = 60.0,
    reason: str | None = None,
    says: str = "",
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        body = (await client.get(NODE, name)).to_dict()
        condition = _condition(body, type_)
        if (
            condition.get("status") == status
            and (reason is None or condition.get("reason") == reason)
            and says in condition.get("message", "")
        ):
            return body
        return None

    reached.__doc__ = f"EdgeNode {name} {type_}={status} {reason or ''}"
    return await eventually(reached, within=within)


async def _node_client(kube_client: AsyncClient, name: str) -> AsyncClient:
    """A client authenticating with the node's bootstrap credential, as the agent would."""
    secret = await kube_client.get(Secret, edgenode.bootstrap_secret_name(name), namespace=EDGE)
    assert secret.data is not None
    config = yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))
    return AsyncClient(KubeConfig.from_dict(config), field_manager="edge-agent-test")


async def _renew(client: AsyncClient, name: str) -> None:
    lease = await client.get(Lease, edgenode.lease_name(name), namespace=EDGE)
    assert lease.spec is not None
    lease.spec.renewTime = datetime.datetime.now(datetime.UTC)
    await client.replace(lease)


@pytest_asyncio.fixture(loop_scope="session")
async def two_nodes(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    edge_operator: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[str, str, AsyncClient]]:
    """Nodes A and B enrolled, and a client holding A's credential."""
    stem = uuid.uuid4().hex[:6]
    a, b = f"edge-a-{stem}", f"edge-b-{stem}"
    for index, name in enumerate((a, b)):
        _apply(local_platform, edge_nodes.site_manifest(name, "nyc1", host=index + 1))
    for name in (a, b):
        await _wait_condition(kube_client, name, "Enrolled", "True")
    client = await _node_client(kube_client, a)
    yield a, b, client
    await client.close()
    platform.kubectl(
        local_platform, "delete", "edgenode", a, b, "--ignore-not-found", "--timeout=60s"
    )


async def _forbidden(action: Any) -> bool:
    try:
        await action
    except ApiError as error:
        return error.status.code == 403
    return False


async def test_enrolment_creates_the_identity_and_a_working_credential(
    kube_client: AsyncClient, two_nodes: tuple[str, str, AsyncClient]
) -> None:
    a, _, _ = two_nodes
    account = await kube_client.get(
        ServiceAccount, edgenode.service_account_name(a), namespace=EDGE
    )
    assert account.metadata is not None
    role = await kube_client.get(Role, edgenode.service_account_name(a), namespace=EDGE)
    assert role.rules is not None
    assert [rule.resourceNames for rule in role.rules] == [[edgenode.lease_name(a)]]
    cluster_role = await kube_client.get(ClusterRole, edgenode.cluster_role_name(a))
    assert cluster_role.rules is not None
    assert all(rule.resourceNames == [a] for rule in cluster_role.rules)
    lease = await kube_client.get(Lease, edgenode.lease_name(a), namespace=EDGE)
    assert lease.spec is not None
    assert lease.spec.renewTime is None  # pre-created, never renewed
    node = (await kube_client.get(NODE, a)).to_dict()
    assert node["status"]["credentialExpiresAt"]
    assert _condition(node, "Ready")["reason"] == "AwaitingFirstHeartbeat"


async def test_a_nodes_credential_reaches_its_own_status_and_lease_only(
    kube_client: AsyncClient, two_nodes: tuple[str, str, AsyncClient]
) -> None:
    a, b, node_a = two_nodes
    report = {"status": {"agentVersion": "1.0.0", "facts": {"hostname": a}}}
    await node_a.patch(STATUS, a, report, patch_type=PatchType.MERGE)
    assert (await node_a.get(NODE, a)).to_dict()["status"]["agentVersion"] == "1.0.0"
    await _renew(node_a, a)
    assert await _forbidden(node_a.patch(STATUS, b, report, patch_type=PatchType.MERGE))
    assert await _forbidden(_renew(node_a, b))
    assert await _forbidden(node_a.get(NODE, b))
    assert await _forbidden(
        node_a.patch(NODE, a, {"spec": {"agentVersion": "6.6.6"}}, patch_type=PatchType.MERGE)
    )
    assert await _forbidden(node_a.get(Secret, edgenode.bootstrap_secret_name(a), namespace=EDGE))
    assert await _forbidden(_list(node_a, Secret, EDGE))
    assert await _forbidden(_list(node_a, Lease, EDGE))


async def _list(client: AsyncClient, kind: Any, namespace: str) -> list[Any]:
    return [item async for item in client.list(kind, namespace=namespace)]


async def test_ready_follows_the_lease_and_recovers_when_it_is_renewed_again(
    kube_client: AsyncClient, two_nodes: tuple[str, str, AsyncClient]
) -> None:
    a, _, node_a = two_nodes
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            await _renew(node_a, a)
            await asyncio.sleep(1)

    beating = asyncio.create_task(heartbeat())
    try:
        body = await _wait_condition(kube_client, a, "Ready", "True", within=30)
        assert body["status"]["lastHeartbeatTime"]
        assert body["status"]["phase"] == "Ready"
    finally:
        stop.set()
        await beating
    stopped_at = asyncio.get_running_loop().time()
    body = await _wait_condition(
        kube_client, a, "Ready", "Unknown", reason="LeaseExpired", within=GRACE_S + 20
    )
    detected = asyncio.get_running_loop().time() - stopped_at
    assert GRACE_S - 1 <= detected <= GRACE_S + 10, detected
    assert body["status"]["phase"] == "NotReady"
    await _renew(node_a, a)
    await _wait_condition(kube_client, a, "Ready", "True", within=15)

    async def announced() -> bool:
        """Events: LeaseRenewed, LeaseExpired, LeaseRenewed again (posted after the status)"""
        reasons = [
            event.reason
            async for event in kube_client.list(
                Event, namespace="default", fields={"involvedObject.name": a}
            )
        ]
        return "LeaseExpired" in reasons and reasons.count("LeaseRenewed") >= 2

    await eventually(announced, within=15)


async def test_config_applied_compares_the_desired_hash_with_the_reported_one(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    two_nodes: tuple[str, str, AsyncClient],
) -> None:
    a, _, node_a = two_nodes
    config = {"cacheSizeGi": "80", "logLevel": "debug"}
    await kube_client.patch(NODE, a, {"spec": {"config": config}}, patch_type=PatchType.MERGE)
    await _wait_condition(
        kube_client,
        a,
        "ConfigApplied",
        "False",
        reason="Pending",
        says=edgenode.config_hash(config)[:12],
    )
    rejected = {"status": {"configError": "nginx -t: unknown directive"}}
    await node_a.patch(STATUS, a, rejected, patch_type=PatchType.MERGE)
    body = await _wait_condition(kube_client, a, "ConfigApplied", "False", reason="ConfigRejected")
    assert "unknown directive" in _condition(body, "ConfigApplied")["message"]
    applied = {"status": {"configError": None, "appliedConfigHash": edgenode.config_hash(config)}}
    await node_a.patch(STATUS, a, applied, patch_type=PatchType.MERGE)
    await _wait_condition(kube_client, a, "ConfigApplied", "True")
    out = platform.kubectl(local_platform, "get", "edgenode", a)
    assert out.split()[:7] == ["NAME", "SITE", "ROLE", "READY", "AGENT", "VERSION", "CONFIG"]


async def test_deleting_the_node_revokes_its_credential_and_identity(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    two_nodes: tuple[str, str, AsyncClient],
) -> None:
    a, _, node_a = two_nodes
    await _renew(node_a, a)  # works before
    platform.kubectl(local_platform, "delete", "edgenode", a, "--timeout=60s")
    # At once its RBAC is gone (403); once the apiserver's token cache (10 s) lets go of it,
    # the token itself is rejected (401): it was bound to the deleted Secret and account.
    with pytest.raises(ApiError) as refused:
        await _renew(node_a, a)
    assert refused.value.status.code in (401, 403)

    async def unauthenticated() -> bool:
        """the node's token is rejected (401)"""
        try:
            await node_a.get(NODE, a)
        except ApiError as error:
            return error.status.code == 401
        return False

    await eventually(unauthenticated, within=30)
    for kind, name in (
        (ServiceAccount, edgenode.service_account_name(a)),
        (Role, edgenode.service_account_name(a)),
        (Lease, edgenode.lease_name(a)),
        (Secret, edgenode.bootstrap_secret_name(a)),
    ):
        with pytest.raises(ApiError) as gone:
            await kube_client.get(kind, name, namespace=EDGE)
        assert gone.value.status.code == 404
    with pytest.raises(ApiError) as gone:
        await kube_client.get(ClusterRole, edgenode.cluster_role_name(a))
    assert gone.value.status.code == 404


class Fleet:
    """The test playing twelve agents: renews their Leases, reports versions and upgrades.

    Every upgrade the operator asks for is recorded as it is seen ("start"), and finished by the
    test 1.5 s later ("done", or "fail" for the nodes in `failing`), so the order in which the
    operator started nodes can be replayed against the per-site limit afterwards.
    """

    def __init__(
        self, client: AsyncClient, nodes: dict[str, str], version: str, upgrade_s: float = 1.5
    ) -> None:
        self.client, self.nodes, self.version, self.upgrade_s = client, nodes, version, upgrade_s
        self.offline: set[str] = set()
        self.failing: set[str] = set()
        self.records: list[tuple[str, str, str]] = []  # (what, node, site)
        self._started: dict[str, float] = {}
        self._finished: set[str] = set()

    async def report(self, reported: str) -> None:
        for name in self.nodes:
            patch = {"status": {"agentVersion": reported}}
            await self.client.patch(STATUS, name, patch, patch_type=PatchType.MERGE)

    def retry(self, name: str) -> None:
        self.failing.discard(name)
        self._started.pop(name, None)
        self._finished.discard(name)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
            for name in self.nodes.keys() - self.offline:
                await self.client.patch(
                    Lease,
                    edgenode.lease_name(name),
                    {"spec": {"renewTime": now}},
                    namespace=EDGE,
                    patch_type=PatchType.MERGE,
                )
            async for item in self.client.list(NODE):
                body = item.to_dict()
                name = body["metadata"]["name"]
                if name not in self.nodes:
                    continue
                upgrade = (body.get("status") or {}).get("upgrade") or {}
                if upgrade.get("targetVersion") == self.version and name not in self._started:
                    self._started[name] = loop.time()
                    self.records.append(("start", name, self.nodes[name]))
            for name, started in list(self._started.items()):
                if name in self._finished or loop.time() - started < self.upgrade_s:
                    continue
                self._finished.add(name)
                if name in self.failing:
                    report = {"upgrade": {"phase": "Failed", "message": "postinst exited 1"}}
                    self.records.append(("fail", name, self.nodes[name]))
                else:
                    report = {"agentVersion": self.version, "upgrade": {"phase": "Succeeded"}}
                    self.records.append(("done", name, self.nodes[name]))
                await self.client.patch(
                    STATUS, name, {"status": report}, patch_type=PatchType.MERGE
                )
            await asyncio.sleep(0.5)

    def most_in_flight(self) -> dict[str, int]:
        """Replays the records: the most nodes of each site upgrading at once."""
        flying: dict[str, int] = {}
        most: dict[str, int] = {}
        for what, _, site in self.records:
            flying[site] = flying.get(site, 0) + (1 if what == "start" else -1)
            most[site] = max(most.get(site, 0), flying[site])
        return most


def _plugin(*args: str) -> str:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubectl-meridian"), "edge", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


async def test_a_node_stuck_in_its_upgrade_fails_by_the_sites_timeout(
    local_platform: platform.PlatformState, kube_client: AsyncClient, edge_operator: str
) -> None:
    """An agent that never reports the new version (a hung install): after its site's upgrade
    timeout (4 s for this site, an override of the global 15 min) the node counts as failed
    against the site's budget (0), with a reason in Upgraded and a Warning Event, and the site
    halts: its next node does not start."""
    stem = uuid.uuid4().hex[:5]
    nodes = {
        f"{edge_operator_process.STUCK_SITE}-{stem}-{i:02d}": edge_operator_process.STUCK_SITE
        for i in (1, 2, 3)
    }
    for index, name in enumerate(nodes):
        _apply(
            local_platform,
            edge_nodes.site_manifest(name, edge_operator_process.STUCK_SITE, host=index + 40),
        )
    for name in nodes:
        await _wait_condition(kube_client, name, "Enrolled", "True")
    fleet = Fleet(kube_client, nodes, "1.1.0", upgrade_s=3600)  # never finishes
    await fleet.report("1.0.0")
    stop = asyncio.Event()
    simulating = asyncio.create_task(fleet.run(stop))
    try:
        for name in nodes:
            await _wait_condition(kube_client, name, "Ready", "True", within=30)
        await asyncio.to_thread(
            _plugin, "upgrade", "--site", edge_operator_process.STUCK_SITE, "--version", "1.1.0"
        )
        first, second, third = sorted(nodes)
        stuck = await _wait_condition(
            kube_client, first, "Upgraded", "False", reason="UpgradeTimedOut", within=60
        )
        annotations = stuck["metadata"]["annotations"]
        assert annotations[edgenode.UPGRADE_FAILED_ANNOTATION] == "1.1.0"
        assert annotations[edgenode.UPGRADE_TIMED_OUT_ANNOTATION] == "1.1.0"
        assert stuck["status"]["upgrade"]["startedTime"]
        reasons = [
            event.reason
            async for event in kube_client.list(
                Event, namespace="default", fields={"involvedObject.name": first}
            )
        ]
        assert "UpgradeTimedOut" in reasons
        # Both in flight (limit 2) timed out: over the budget, the site halts; nothing else starts.
        await _wait_condition(
            kube_client, second, "Upgraded", "False", reason="UpgradeTimedOut", within=30
        )
        await _wait_condition(kube_client, third, "Upgraded", "False", reason="WaveHalted")
        assert {name for what, name, _ in fleet.records if what == "start"} == {first, second}
    finally:
        stop.set()
        await simulating
        platform.kubectl(
            local_platform, "delete", "edgenode", *nodes, "--ignore-not-found", "--timeout=60s"
        )


async def test_an_operator_killed_mid_wave_repeats_nothing(
    local_platform: platform.PlatformState, kube_client: AsyncClient, edge_operator: str
) -> None:
    """SIGKILLed while two nodes upgrade and restarted: the new process finds them in flight from
    their status, starts neither again nor a third beside them, and finishes the wave."""
    stem = uuid.uuid4().hex[:5]
    site = f"kill-{stem}"
    nodes = {f"{site}-{i:02d}": site for i in range(1, 5)}
    for index, name in enumerate(nodes):
        _apply(local_platform, edge_nodes.site_manifest(name, site, host=index + 30))
    for name in nodes:
        await _wait_condition(kube_client, name, "Enrolled", "True")
    fleet = Fleet(kube_client, nodes, "1.1.0", upgrade_s=20)
    await fleet.report("1.0.0")
    stop = asyncio.Event()
    simulating = asyncio.create_task(fleet.run(stop))
    try:
        for name in nodes:
            await _wait_condition(kube_client, name, "Ready", "True", within=30)
        await asyncio.to_thread(_plugin, "upgrade", "--site", site, "--version", "1.1.0")

        async def two_started() -> bool:
            """the first two nodes given their target"""
            return len([r for r in fleet.records if r[0] == "start"]) == 2

        await eventually(two_started, within=60)
        await asyncio.to_thread(RUNNING["kill"])
        await asyncio.to_thread(RUNNING["restart"])

        async def all_done() -> bool:
            """every node upgraded after the restart"""
            return len([r for r in fleet.records if r[0] == "done"]) == len(nodes)

        await eventually(all_done, within=150)
        assert fleet.most_in_flight()[site] == 2
        started_events: dict[str, int] = {}
        for name in nodes:
            started_events[name] = len(
                [
                    event
                    async for event in kube_client.list(
                        Event, namespace="default", fields={"involvedObject.name": name}
                    )
                    if event.reason == "UpgradeStarted"
                ]
            )
        assert started_events == dict.fromkeys(nodes, 1)
    finally:
        stop.set()
        await simulating
        platform.kubectl(
            local_platform, "delete", "edgenode", *nodes, "--ignore-not-found", "--timeout=60s"
        )
