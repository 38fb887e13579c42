"""The edge agent against the real API server, with a node identity made as the contract says."""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease
from lightkube.types import PatchType

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from tests.integration.edge_agent.conftest import Node, running
from tests.waiting import eventually

EDGE_NODE = kube.RESOURCES["EdgeNode"]


async def _status(client: AsyncClient, name: str) -> dict[str, Any]:
    return dict((await client.get(EDGE_NODE, name)).status or {})


async def _renewed(client: AsyncClient, name: str) -> datetime.datetime | None:
    lease = await client.get(Lease, edgenode.lease_name(name), namespace=edgenode.EDGE_NAMESPACE)
    assert lease.spec is not None
    return lease.spec.renewTime


async def _set_config(client: AsyncClient, name: str, config: dict[str, str]) -> None:
    await client.patch(EDGE_NODE, name, {"spec": {"config": config}}, patch_type=PatchType.MERGE)


async def test_agent_heartbeats_and_reports_its_facts(kube_client: AsyncClient, node: Node) -> None:
    async with running(node.settings()) as agent:

        async def reported() -> dict[str, Any] | None:
            """the agent wrote its version, facts, metrics and applied hash"""
            status = await _status(kube_client, node.name)
            return status if status.get("facts") else None

        status = await eventually(reported, within=30)
        first = await _renewed(kube_client, node.name)

        async def renewed_again() -> bool:
            """the Lease was renewed once more"""
            renewed = await _renewed(kube_client, node.name)
            return renewed is not None and first is not None and renewed > first

        await eventually(renewed_again, within=10, interval=0.2)
    assert status["agentVersion"] == "0.4.1"
    assert status["appliedConfigHash"] == edgenode.config_hash({"max_size": "10g"})
    assert status["facts"]["kernel"]
    assert status["facts"]["cpus"] >= 1
    assert status["facts"]["memoryBytes"] > 0
    assert status["metrics"]["diskFreeBytes"] > 0
    assert "lastReportTime" in status
    assert "configError" not in status
    lease = await kube_client.get(
        Lease, edgenode.lease_name(node.name), namespace=edgenode.EDGE_NAMESPACE
    )
    assert lease.spec is not None
    assert lease.spec.holderIdentity == node.name
    assert agent.renewals >= 2
    assert agent.status_writes == 1, "an unchanged report is not written again within 5 minutes"


async def test_changed_config_is_applied_and_a_failing_one_rolled_back(
    kube_client: AsyncClient, node: Node
) -> None:
    async with running(node.settings()):
        await _set_config(kube_client, node.name, {"max_size": "20g"})

        async def applied() -> bool:
            """the new config's hash is reported"""
            status = await _status(kube_client, node.name)
            return status.get("appliedConfigHash") == edgenode.config_hash({"max_size": "20g"})

        await eventually(applied, within=30)
        assert "max_size=20g;" in (node.dir / "cache.conf").read_text()

        await _set_config(kube_client, node.name, {"max_size": "invalid"})

        async def refused() -> dict[str, Any] | None:
            """the failed validation is reported"""
            status = await _status(kube_client, node.name)
            return status if status.get("configError") else None

        status = await eventually(refused, within=30)
    assert "validation failed" in status["configError"]
    assert "emerg: invalid" in status["configError"]
    assert status["appliedConfigHash"] == edgenode.config_hash({"max_size": "20g"})
    assert "max_size=20g;" in (node.dir / "cache.conf").read_text(), "the last good file is back"


async def test_upgrade_asked_by_the_operator_runs_and_each_phase_is_reported(
    kube_client: AsyncClient, node: Node
) -> None:
    version_file, argv_file = node.dir / "VERSION", node.dir / "argv.json"
    install = (
        "import json, sys, time; open(sys.argv[1], 'w').write(json.dumps(sys.argv[3:])); "
        "time.sleep(2); open(sys.argv[2], 'w').write(sys.argv[-1])"
    )
    settings = node.settings(
        version_file=version_file,
        upgrade_command=[sys.executable, "-c", install, str(argv_file), str(version_file)],
    )
    async with running(settings):
        await kube_client.patch(
            EDGE_NODE.Status,
            node.name,
            {"status": {"upgrade": {"targetVersion": "0.5.0"}}},
            patch_type=PatchType.MERGE,
        )
        phases: list[str] = []

        async def succeeded() -> bool:
            """the upgrade is reported Succeeded with the new version"""
            status = await _status(kube_client, node.name)
            phase = (status.get("upgrade") or {}).get("phase")
            if phase and (not phases or phases[-1] != phase):
                phases.append(phase)
            return phase == "Succeeded" and status.get("agentVersion") == "0.5.0"

        await eventually(succeeded, within=30, interval=0.2)
    assert phases == ["Running", "Succeeded"]
    assert json.loads(argv_file.read_text()) == ["0.5.0"]
    status = await _status(kube_client, node.name)
    assert status["upgrade"]["targetVersion"] == "0.5.0", "the operator's field is left alone"


async def test_agent_keeps_its_config_while_the_api_is_unreachable_and_catches_up(
    kube_client: AsyncClient, node: Node
) -> None:
    settings = node.settings()
    async with running(settings) as agent:
        await eventually(lambda: _has_hash(kube_client, node.name, {"max_size": "10g"}), within=30)
        node.relay.cut()
        await _set_config(kube_client, node.name, {"max_size": "30g"})
        failures = agent.renewal_failures
        await asyncio.sleep(60)  # the outage: a minute without the API server
        assert not agent.online
        assert agent.renewal_failures > failures, "renewals went on being tried"
        assert "max_size=10g;" in (node.dir / "cache.conf").read_text(), "kept while offline"
    # Restarted while still offline: the cached desired state is what it works from.
    async with running(settings) as agent:
        await asyncio.wait_for(agent.synced.wait(), 10)
        assert not agent.online
        assert "max_size=10g;" in (node.dir / "cache.conf").read_text()
        cut_at = await _renewed(kube_client, node.name)
        node.relay.restore()
        await eventually(lambda: _has_hash(kube_client, node.name, {"max_size": "30g"}), within=30)
        renewed = await _renewed(kube_client, node.name)
        assert renewed is not None
        assert cut_at is not None
        assert renewed > cut_at, "heartbeats resumed"
    assert "max_size=30g;" in (node.dir / "cache.conf").read_text()


async def _has_hash(client: AsyncClient, name: str, config: dict[str, str]) -> bool:
    status = await _status(client, name)
    return status.get("appliedConfigHash") == edgenode.config_hash(config)


async def test_a_failed_upgrade_waits_for_the_operator_to_ask_again(
    kube_client: AsyncClient, node: Node
) -> None:
    version_file, attempts, fixed = node.dir / "VERSION", node.dir / "attempts", node.dir / "fixed"
    install = (
        "import os, sys; open(sys.argv[1], 'a').write('x'); "
        "os.path.exists(sys.argv[2]) or sys.exit('mirror unreachable'); "
        "open(sys.argv[3], 'w').write(sys.argv[-1])"
    )
    settings = node.settings(
        version_file=version_file,
        upgrade_command=[
            sys.executable,
            "-c",
            install,
            str(attempts),
            str(fixed),
            str(version_file),
        ],
    )

    async def set_upgrade(upgrade: dict[str, str]) -> None:
        await kube_client.patch(
            EDGE_NODE.Status,
            node.name,
            {"status": {"upgrade": upgrade}},
            patch_type=PatchType.MERGE,
        )

    async def phase() -> str | None:
        return (await _status(kube_client, node.name)).get("upgrade", {}).get("phase")

    async with running(settings) as agent:
        await set_upgrade({"targetVersion": "0.5.0"})

        async def failed() -> bool:
            """the upgrade is reported Failed"""
            return await phase() == "Failed"

        await eventually(failed, within=30, interval=0.2)
        syncs = agent.renewals
        await eventually(lambda: _after(agent, syncs + 3), within=30, interval=0.2)
        assert attempts.read_text() == "x", "not retried on its own"
        fixed.touch()
        await set_upgrade({"phase": "Pending"})  # the operator's explicit resume

        async def succeeded() -> bool:
            """the second attempt is reported Succeeded"""
            status = await _status(kube_client, node.name)
            return status.get("agentVersion") == "0.5.0" and await phase() == "Succeeded"

        await eventually(succeeded, within=30, interval=0.2)
    assert attempts.read_text() == "xx"


async def _after(agent: Any, renewals: int) -> bool:
    return bool(agent.renewals >= renewals)
