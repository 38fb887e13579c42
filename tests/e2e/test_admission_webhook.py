"""The admission webhook on the real apiserver: its two policies deny in Enforce and warn in Audit,
our kinds' cross-resource checks reject their bad case, and with the webhook stopped Meridian
namespaces fail closed while kube-system, its own namespace and a break-glass namespace work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.core import migrations
from meridian.core.registry import MIGRATIONS, ratelimits, tenants
from meridian.localplatform import admission, platform
from meridian.localplatform.processes import Supervisor
from meridian.webhooks import registration
from tests import admission as adm

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def webhook(local_platform: platform.PlatformState) -> Iterator[str]:
    yield from adm.running_webhook(local_platform)


@pytest.fixture
def ns(local_platform: platform.PlatformState, namespace_name: str) -> Iterator[str]:
    """A namespace with a NetworkPolicy, as every Tenant namespace has."""
    created = adm.apply(local_platform, adm.namespace(namespace_name))
    assert created.ok, created.stderr
    assert adm.apply(local_platform, adm.network_policy(namespace_name)).ok
    yield namespace_name
    adm.kubectl(local_platform, "delete", "namespace", namespace_name, "--wait=false")


@pytest.fixture
def audit_modes(local_platform: platform.PlatformState) -> Iterator[None]:
    modes = {"meridian-pdb-required": "Audit", "meridian-network-policy": "Audit"}
    adm.set_modes(local_platform, modes)
    yield
    adm.set_modes(local_platform, {})


def test_deployment_with_replicas_and_no_pdb_is_denied_naming_policy_field_and_fix(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    denied = adm.apply(local_platform, adm.deployment(ns, replicas=3))
    assert not denied.ok
    assert "meridian-pdb-required: spec.replicas: 3 replicas" in denied.stderr
    assert "fix: create a PodDisruptionBudget" in denied.stderr


def test_pdb_before_its_deployment_in_one_apply_admits_both(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    admitted = adm.apply(local_platform, adm.pdb(ns), adm.deployment(ns, replicas=3))
    assert admitted.ok, admitted.stderr
    single = adm.apply(local_platform, adm.deployment(ns, name="single", replicas=1))
    assert single.ok, single.stderr


def test_scaling_a_deployment_past_one_replica_needs_a_pdb(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    assert adm.apply(local_platform, adm.deployment(ns, replicas=1)).ok
    scaled = adm.apply(local_platform, adm.deployment(ns, replicas=2))
    assert not scaled.ok
    assert "meridian-pdb-required" in scaled.stderr


def test_kubectl_scale_past_one_replica_needs_a_pdb(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    assert adm.apply(local_platform, adm.deployment(ns, replicas=1)).ok
    scaled = adm.kubectl(local_platform, "scale", "deployment", "app", "-n", ns, "--replicas=3")
    assert not scaled.ok
    assert "meridian-pdb-required: spec.replicas: 3 replicas" in scaled.stderr
    assert adm.apply(local_platform, adm.pdb(ns)).ok
    assert adm.kubectl(local_platform, "scale", "deployment", "app", "-n", ns, "--replicas=3").ok


def test_workload_in_a_namespace_without_network_policy_is_denied(
    local_platform: platform.PlatformState, webhook: str, namespace_name: str
) -> None:
    assert adm.apply(local_platform, adm.namespace(namespace_name)).ok
    try:
        denied = adm.apply(local_platform, adm.pod(namespace_name))
        assert not denied.ok
        assert (
            f"meridian-network-policy: metadata.namespace: namespace {namespace_name} has no NetworkPolicy"
            in denied.stderr
        )
        assert "fix: create a NetworkPolicy" in denied.stderr
        assert adm.apply(local_platform, adm.network_policy(namespace_name)).ok
        assert adm.apply(local_platform, adm.pod(namespace_name)).ok
    finally:
        adm.kubectl(local_platform, "delete", "namespace", namespace_name, "--wait=false")


def test_audit_mode_admits_with_a_warning_naming_the_policy(
    local_platform: platform.PlatformState, webhook: str, namespace_name: str, audit_modes: None
) -> None:
    assert adm.apply(local_platform, adm.namespace(namespace_name)).ok
    counted = {"name": "admission_violations_total", "policy": "meridian-pdb-required"}
    before = adm.webhook_metric(local_platform, webhook, **counted, mode="Audit")
    try:

        def warned() -> adm.Applied | None:
            result = adm.apply(local_platform, adm.deployment(namespace_name, replicas=3))
            return result if result.ok else None

        admitted = adm.poll(warned, what="the webhook following the Audit modes")
        assert "Warning: meridian-network-policy: metadata.namespace" in admitted.stderr
        assert "Warning: meridian-pdb-required: spec.replicas" in admitted.stderr
        assert "audit mode" in admitted.stderr
        assert adm.webhook_metric(local_platform, webhook, **counted, mode="Audit") >= before + 1
    finally:
        adm.kubectl(local_platform, "delete", "namespace", namespace_name, "--wait=false")


def test_service_release_of_a_service_outside_the_catalogue_is_denied(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    release = adm.example("servicerelease")
    release["metadata"]["namespace"] = ns
    release["spec"]["service"] = "report"  # a name the API knows, the platform does not run
    denied = adm.apply(local_platform, release, dry_run=True)
    assert not denied.ok
    assert (
        "meridian-release-service-known: spec.service: 'report' is not in the platform's catalogue"
        in denied.stderr
    )
    release["spec"]["service"] = "orders"
    assert adm.apply(local_platform, release, dry_run=True).ok


def test_failover_plan_naming_a_missing_secret_is_denied(
    local_platform: platform.PlatformState, webhook: str, ns: str
) -> None:
    plan = adm.example("failoverplan")
    plan["metadata"]["namespace"] = ns
    denied = adm.apply(local_platform, plan, dry_run=True)
    assert not denied.ok
    assert (
        "meridian-failover-secrets-exist: spec.targetCluster.kubeconfigSecret: Secret 'dr-cluster-kubeconfig' does not exist"
        in denied.stderr
    )
    assert "spec.database.primary.credentialsSecret: Secret 'rds-admin'" in denied.stderr
    for name in ("dr-cluster-kubeconfig", "rds-admin"):
        assert adm.kubectl(local_platform, "create", "secret", "generic", name, "-n", ns).ok
    admitted = adm.apply(local_platform, plan, dry_run=True)
    assert admitted.ok, admitted.stderr


def test_tenant_with_a_name_the_registry_holds_is_denied(
    local_platform: platform.PlatformState, webhook: str
) -> None:
    name = f"taken{uuid.uuid4().hex[:6]}"
    dsn = local_platform.postgres_info.dsn("meridian_platform")

    async def register() -> None:
        import asyncpg

        await migrations.upgrade(dsn, MIGRATIONS)
        conn = await asyncpg.connect(dsn)
        try:
            record = tenants.TenantRecord(
                name, "growth", "us-east-1", name, "active", {}, ratelimits.RateLimit(10, 20)
            )
            await tenants.upsert(conn, record)
        finally:
            await conn.close()

    tenant = adm.example("tenant")
    tenant["metadata"]["name"] = f"free{uuid.uuid4().hex[:6]}"
    free = adm.apply(local_platform, tenant, dry_run=True)
    assert free.ok, free.stderr
    asyncio.run(register())
    tenant["metadata"]["name"] = name
    denied = adm.apply(local_platform, tenant, dry_run=True)
    assert not denied.ok
    assert (
        f"meridian-tenant-name-free: metadata.name: tenant name '{name}' is already in the platform registry"
        in denied.stderr
    )


def test_edge_node_at_an_unconfigured_site_is_denied(
    local_platform: platform.PlatformState, webhook: str
) -> None:
    node = adm.example("edgenodes")
    node["metadata"]["name"] = f"edge-{uuid.uuid4().hex[:6]}"
    assert adm.apply(local_platform, node, dry_run=True).ok
    node["spec"]["site"] = "lax9"
    denied = adm.apply(local_platform, node, dry_run=True)
    assert not denied.ok
    assert (
        "meridian-edge-site-known: spec.site: 'lax9' is not a configured site (ams1, dal1, nyc1)"
        in denied.stderr
    )


def test_webhook_down_fails_closed_for_meridian_namespaces_only(
    local_platform: platform.PlatformState, webhook: str, ns: str, namespace_name: str
) -> None:
    """kube-system, the webhook's own namespace and a break-glass namespace keep working."""
    glass = f"{namespace_name[:50]}-bg"
    suffix = uuid.uuid4().hex[:6]
    assert adm.apply(
        local_platform, adm.namespace(glass, {registration.BREAK_GLASS_LABEL: "true"})
    ).ok
    Supervisor(Path(local_platform.run_dir)).stop(admission.PROCESS)
    try:
        closed = adm.apply(local_platform, adm.pod(ns))
        assert not closed.ok
        assert "failed calling webhook" in closed.stderr
        for where in ("kube-system", admission.NAMESPACE, glass):
            created = adm.apply(local_platform, adm.pod(where, name=f"while-down-{suffix}"))
            assert created.ok, (where, created.stderr)
    finally:
        admission.start(local_platform)
        for where in ("kube-system", admission.NAMESPACE):
            adm.kubectl(
                local_platform, "delete", "pod", f"while-down-{suffix}", "-n", where, "--wait=false"
            )
        adm.kubectl(local_platform, "delete", "namespace", glass, "--wait=false")
    assert adm.apply(local_platform, adm.pod(ns)).ok
