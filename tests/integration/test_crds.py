"""The CRDs on the real apiserver: established, examples accepted, bad input rejected by name."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from meridian.core import kube
from meridian.core.api.v1alpha1 import KINDS, failoverplan, servicerelease, tenant
from meridian.localplatform import platform

EXAMPLES = Path(__file__).resolve().parents[2] / "crds" / "examples"


def example(file: str) -> dict[str, Any]:
    """The first document of an example file, deep-copied so tests can bend it."""
    documents = list(yaml.safe_load_all((EXAMPLES / file).read_text()))
    return copy.deepcopy(documents[0])


async def rejection(client: AsyncClient, kind_name: str, body: dict[str, Any]) -> str:
    """Create `body` with server-side dry run and return the apiserver's rejection message."""
    resource = kube.RESOURCES[kind_name]
    with pytest.raises(ApiError) as caught:
        await client.create(resource(body), dry_run=True)
    assert caught.value.status.code == 422, caught.value.status
    return str(caught.value.status.message)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
async def test_crd_is_established(kube_client: AsyncClient, kind: Any) -> None:
    """Every generated CRD installs and reaches Established with its names accepted."""
    crd = await kube_client.get(CustomResourceDefinition, kind.crd_name)
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions.get("Established") == "True"
    assert conditions.get("NamesAccepted") == "True"
    assert crd.spec.names.shortNames == [kind.short_name]
    assert crd.spec.names.categories == ["meridian"]


def test_every_example_is_accepted(local_platform: platform.PlatformState) -> None:
    """The apiserver validates every example (server-side dry run of the whole folder)."""
    platform.kubectl(local_platform, "apply", "-f", str(EXAMPLES / "00-namespaces.yaml"))
    out = platform.kubectl(local_platform, "apply", "--dry-run=server", "-f", str(EXAMPLES))
    accepted = [line for line in out.splitlines() if "meridian.io/" in line]
    # 1 Tenant + 1 ServiceRelease + 1 FailoverPlan + 12 EdgeNodes.
    assert len(accepted) == 15, out


async def test_tenant_with_unknown_tier_is_rejected(kube_client: AsyncClient) -> None:
    body = example("tenant.yaml")
    body["spec"]["tier"] = "platinum"
    message = await rejection(kube_client, tenant.KIND.kind, body)
    assert "spec.tier" in message
    assert "platinum" in message


async def test_tenant_name_that_cannot_prefix_a_namespace_is_rejected(
    kube_client: AsyncClient,
) -> None:
    body = example("tenant.yaml")
    body["metadata"]["name"] = "a" * 57
    message = await rejection(kube_client, tenant.KIND.kind, body)
    assert "metadata.name" in message


async def test_tenant_name_that_is_not_dns_1123_is_rejected(kube_client: AsyncClient) -> None:
    body = example("tenant.yaml")
    body["metadata"]["name"] = "Acme_Corp"
    message = await rejection(kube_client, tenant.KIND.kind, body)
    assert "metadata.name" in message


@pytest.mark.parametrize(
    ("field", "value"), [("cpu", "500m"), ("memory", "1Gi"), ("pods", 3)], ids=str
)
async def test_tenant_quota_below_the_tier_minimum_is_rejected(
    kube_client: AsyncClient, field: str, value: str | int
) -> None:
    body = example("tenant.yaml")
    body["spec"]["quotas"] = {field: value}
    message = await rejection(kube_client, tenant.KIND.kind, body)
    assert f"spec.quotas.{field}" in message
    assert "below the tier minimum" in message


async def test_tenant_quota_at_the_tier_minimum_is_accepted(kube_client: AsyncClient) -> None:
    body = example("tenant.yaml")  # growth: minimum 4 CPU, 8Gi, 25 pods
    # Not the example's name: a cluster where the example is applied would answer 409 instead.
    body["metadata"]["name"] = f"quota-{uuid.uuid4().hex[:8]}"
    body["spec"]["quotas"] = {"cpu": "4000m", "memory": "8Gi", "pods": 25}
    await kube_client.create(kube.RESOURCES[tenant.KIND.kind](body), dry_run=True)


async def test_tenant_with_malformed_contact_email_is_rejected(kube_client: AsyncClient) -> None:
    body = example("tenant.yaml")
    body["spec"]["contacts"][0]["email"] = "dana at acme"
    message = await rejection(kube_client, tenant.KIND.kind, body)
    assert "spec.contacts[0].email" in message


async def test_release_with_latest_tag_is_rejected_by_cel(kube_client: AsyncClient) -> None:
    body = example("servicerelease.yaml")
    body["spec"]["image"] = "ghcr.io/meridian/orders:latest"
    message = await rejection(kube_client, servicerelease.KIND.kind, body)
    assert "spec.image" in message
    assert "latest" in message


async def test_release_from_unapproved_registry_is_rejected(kube_client: AsyncClient) -> None:
    body = example("servicerelease.yaml")
    body["spec"]["image"] = "docker.io/library/nginx:1.27"
    message = await rejection(kube_client, servicerelease.KIND.kind, body)
    assert "spec.image" in message


async def test_failover_to_its_own_source_is_rejected_by_cel(kube_client: AsyncClient) -> None:
    body = example("failoverplan.yaml")
    body["spec"]["targetCluster"]["name"] = body["spec"]["sourceCluster"]["name"]
    message = await rejection(kube_client, failoverplan.KIND.kind, body)
    assert "spec.targetCluster.name" in message
    assert "must differ" in message


async def test_edgenode_without_site_is_rejected(kube_client: AsyncClient) -> None:
    body = example("edgenodes.yaml")
    del body["spec"]["site"]
    message = await rejection(kube_client, "EdgeNode", body)
    assert "spec.site" in message
    assert "Required value" in message


async def test_canary_without_steps_is_rejected(kube_client: AsyncClient) -> None:
    body = example("servicerelease.yaml")
    body["spec"]["strategy"]["canarySteps"] = []
    message = await rejection(kube_client, servicerelease.KIND.kind, body)
    assert "spec.strategy" in message
    assert "canarySteps" in message
