"""`meridian operator run` against the real apiserver: every example gets a status and an Event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Event

from meridian.core import kube
from meridian.localplatform import net, platform
from meridian.localplatform.processes import Supervisor
from tests.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "crds" / "examples"


@pytest.fixture(scope="module")
def operator_supervisor(local_platform: platform.PlatformState) -> Iterator[Supervisor]:
    supervisor = Supervisor(Path(local_platform.run_dir) / "e2e-operators")
    yield supervisor
    supervisor.stop_all()


@pytest.fixture(scope="module")
def operator_process(
    local_platform: platform.PlatformState, operator_supervisor: Supervisor
) -> platform.OperatorPorts:
    """The operators as their own process, like `make up` runs them (fast resync for the test)."""
    return platform.start_operators(
        local_platform,
        supervisor=operator_supervisor,
        env={"MERIDIAN_OPERATOR_RESYNC_S": "2"},
    )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def examples(
    local_platform: platform.PlatformState, operator_process: platform.OperatorPorts
) -> AsyncIterator[list[dict[str, Any]]]:
    platform.kubectl(local_platform, "apply", "-f", str(EXAMPLES))
    documents = [
        doc
        for file in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(file.read_text())
        if doc and doc["apiVersion"].startswith("meridian.io/")
    ]
    yield documents
    platform.kubectl(local_platform, "delete", "--wait=true", "-f", str(EXAMPLES / "tenant.yaml"))


async def _status(client: AsyncClient, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resource = kube.RESOURCES[doc["kind"]]
    meta = doc["metadata"]
    if "namespace" in meta:
        obj = await client.get(resource, meta["name"], namespace=meta["namespace"])
    else:
        obj = await client.get(resource, meta["name"])
    return int(obj["metadata"]["generation"]), dict(obj.get("status") or {})


async def _wait_reconciled(client: AsyncClient, doc: dict[str, Any]) -> dict[str, Any]:
    async def observed() -> dict[str, Any] | None:
        generation, status = await _status(client, doc)
        return status if status.get("observedGeneration") == generation else None

    observed.__doc__ = f"{doc['kind']}/{doc['metadata']['name']} reconciled"
    return await eventually(observed)


async def test_operators_set_observed_generation_on_every_example(
    kube_client: AsyncClient, examples: list[dict[str, Any]]
) -> None:
    assert {doc["kind"] for doc in examples} == {
        "Tenant",
        "ServiceRelease",
        "FailoverPlan",
        "EdgeNode",
    }
    for doc in examples:
        status = await _wait_reconciled(kube_client, doc)
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["observedGeneration"] == status["observedGeneration"]
        # Every kind is reconciled for real now; what Ready says is each operator's own e2e.
        assert ready["reason"], f"{doc['kind']} {doc['metadata']['name']}: Ready without a reason"


async def test_reconcile_posts_an_event_that_describe_finds(
    local_platform: platform.PlatformState, kube_client: AsyncClient, examples: list[dict[str, Any]]
) -> None:
    """Cluster-scoped Tenant too: the Event's involvedObject has no namespace, so describe sees it."""
    tenant = next(doc for doc in examples if doc["kind"] == "Tenant")
    await _wait_reconciled(kube_client, tenant)
    found = [
        event
        async for event in kube_client.list(
            Event, namespace="default", fields={"involvedObject.name": tenant["metadata"]["name"]}
        )
        if event.involvedObject.kind == "Tenant"
    ]
    assert any(event.reason == "Provisioned" for event in found)
    described = platform.kubectl(local_platform, "describe", "tenant", tenant["metadata"]["name"])
    assert "NamespaceReady is True" in described.split("Events:")[1]


async def test_a_spec_change_is_observed(
    local_platform: platform.PlatformState, kube_client: AsyncClient, examples: list[dict[str, Any]]
) -> None:
    release = next(doc for doc in examples if doc["kind"] == "ServiceRelease")
    before = await _wait_reconciled(kube_client, release)
    platform.kubectl(
        local_platform,
        "patch",
        "servicerelease",
        release["metadata"]["name"],
        "-n",
        release["metadata"]["namespace"],
        "--type=merge",
        "-p",
        '{"spec":{"replicas":5}}',
    )
    after = await _wait_reconciled(kube_client, release)
    assert after["observedGeneration"] == before["observedGeneration"] + 1


def test_metrics_endpoint_counts_reconciles(
    operator_process: platform.OperatorPorts, examples: list[dict[str, Any]]
) -> None:
    import urllib.request

    with urllib.request.urlopen(
        f"http://{net.LOOPBACK}:{operator_process.metrics}/metrics", timeout=5
    ) as response:
        text = response.read().decode()
    assert 'meridian_operator_reconciles_total{kind="EdgeNode",result="ok"}' in text


def test_kubectl_get_meridian_lists_examples_with_printer_columns(
    local_platform: platform.PlatformState, examples: list[dict[str, Any]]
) -> None:
    out = platform.kubectl(local_platform, "get", "meridian", "-A")
    assert "TIER" in out
    assert "REGION" in out
    assert "PHASE" in out
    assert "READY" in out
    assert "SITE" in out
    assert "WEIGHT" in out
    assert "ACTIVE SIDE" in out  # FailoverPlan (source and target are -o wide)
    assert "LAST RUN" in out
    assert "acme" in out
    assert "prod-to-dr" in out
    assert "edge-ams1-04" in out


def test_starting_the_operators_again_adopts_the_running_process(
    local_platform: platform.PlatformState,
    operator_supervisor: Supervisor,
    operator_process: platform.OperatorPorts,
) -> None:
    """A second `make up` must not wait on new ports for an operator that is already running."""
    pid = operator_supervisor.records()[0].pid
    assert (
        platform.start_operators(local_platform, supervisor=operator_supervisor) == operator_process
    )
    assert operator_supervisor.records()[0].pid == pid
