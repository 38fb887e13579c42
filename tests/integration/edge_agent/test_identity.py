"""A node's credential (as the contract grants it) reaches its own Lease and status, nothing else."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterable

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from meridian.core import kube
from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import platform
from tests import edge_enrolment
from tests.integration.edge_agent.conftest import Node

EDGE_NODE = kube.RESOURCES["EdgeNode"]
NS = edgenode.EDGE_NAMESPACE


async def _forbidden(call: object) -> None:
    with pytest.raises(ApiError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.status.code == 403, raised.value.status.message


async def _first(items: AsyncIterable[object]) -> object:
    async for item in items:
        return item
    return None


async def test_node_a_cannot_touch_node_b_or_read_secrets(
    local_platform: platform.PlatformState, node: Node
) -> None:
    other = f"edge-{uuid.uuid4().hex[:8]}"
    edge_enrolment.enrol(local_platform, other, node.dir / "other.kubeconfig")
    client = kube.client(str(node.kubeconfig), timeout_s=5)
    try:
        own = await client.get(Lease, edgenode.lease_name(node.name), namespace=NS)
        assert own.spec is not None
        own.spec.renewTime = datetime.datetime.now(datetime.UTC)
        await client.replace(own)
        await client.patch(
            EDGE_NODE.Status,
            node.name,
            {"status": {"agentVersion": "0.4.1"}},
            patch_type=PatchType.MERGE,
        )

        await _forbidden(client.get(Lease, edgenode.lease_name(other), namespace=NS))
        own.metadata.name = edgenode.lease_name(other)
        await _forbidden(client.replace(own))
        await _forbidden(
            client.patch(
                EDGE_NODE.Status,
                other,
                {"status": {"agentVersion": "6.6.6"}},
                patch_type=PatchType.MERGE,
            )
        )
        await _forbidden(
            client.patch(
                EDGE_NODE, node.name, {"spec": {"drain": True}}, patch_type=PatchType.MERGE
            )
        )
        await _forbidden(
            client.create(Lease(metadata=ObjectMeta(name=f"{node.name}-x", namespace=NS)))
        )
        await _forbidden(
            client.get(Secret, edgenode.bootstrap_secret_name(node.name), namespace=NS)
        )
        await _forbidden(_first(client.list(Secret, namespace=NS)))
    finally:
        await client.close()
        platform.kubectl(local_platform, "delete", "edgenode", other, "--wait=false")
