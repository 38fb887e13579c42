"""The Tenant operator end to end: apply a Tenant, and Kubernetes, PostgreSQL, Redis, stripe-mock,
S3 and Elasticsearch hold what it promises; change, suspend, tamper with and delete it, and they follow."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Namespace, ResourceQuota, Secret
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from meridian.core.registry import ratelimits
from meridian.core.registry import users as registry_users
from meridian.core.search import indices
from meridian.localplatform import platform, stripe_mock
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.metrics import apiserver_writes_by_request, reconciles, writes_since
from tests.waiting import eventually

OPERATOR = "tenant-operator"
IDLE_RESYNC_S = 10
"""The resync of the operator the idle test restarts; its window spans IDLE_ROUNDS of them."""
IDLE_ROUNDS = 2.5


@pytest.fixture(scope="module")
def operator(
    local_platform: platform.PlatformState, elasticsearch_url: str
) -> Iterator[Supervisor]:
    """The Tenant operator alone, as its own process, like its Deployment runs it; with
    Elasticsearch (as `make up` has it), so tenants get a search index."""
    supervisor = Supervisor(Path(local_platform.run_dir) / "e2e-tenant")
    platform.start_operators(local_platform, supervisor=supervisor, name=OPERATOR, only="tenant")
    yield supervisor
    supervisor.stop_all()


@pytest.fixture
def name() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


async def wait_ready(
    client: AsyncClient, name: str, phase: str = "Ready", within: float = 90
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def ready() -> dict[str, Any] | None:
        """the Tenant reaches the phase"""
        last.update(await tenants.status(client, name))
        return dict(last) if last.get("phase") == phase else None

    try:
        return await eventually(ready, within=within)
    except AssertionError as error:
        raise AssertionError(f"{name} not {phase}: {json.dumps(last, indent=1)}") from error


async def wait_gone(client: AsyncClient, name: str) -> None:
    async def gone() -> bool:
        """the Tenant is deleted (finalizer released)"""
        try:
            await tenants.status(client, name)
        except ApiError as error:
            return error.status.code == 404
        return False

    await eventually(gone, within=90)


async def test_onboarding_provisions_kubernetes_registry_stripe_and_gateway(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    """One apply: every condition True, and each peer holds the tenant's resources."""
    tenants.apply(local_platform, tenants.manifest(name, tier="growth", adminGroup="ops"))
    status = await wait_ready(kube_client, name)
    types = ("NamespaceReady", "DatabaseReady", "BillingReady", "GatewayConfigured", "SearchReady")
    for type_ in (*types, "Ready"):
        assert tenants.condition(status, type_)["status"] == "True", status
    namespace = f"tenant-{name}"
    assert status["namespace"] == namespace

    ns = await kube_client.get(Namespace, namespace)
    assert ns.metadata is not None
    assert ns.metadata.labels is not None
    assert ns.metadata.labels["meridian.io/tenant"] == name
    assert ns.metadata.labels["meridian.io/tier"] == "growth"
    quota = await kube_client.get(ResourceQuota, "tenant-quota", namespace=namespace)
    assert quota.spec is not None
    assert quota.spec.hard == {
        "requests.cpu": "16",
        "requests.memory": "32Gi",
        "pods": "100",
    }
    policies = {p.metadata.name async for p in kube_client.list(NetworkPolicy, namespace=namespace)}  # type: ignore[union-attr]
    assert policies == {"default-deny-ingress", "allow-from-gateway", "allow-prometheus-scrape"}
    admins = await kube_client.get(RoleBinding, "tenant-admins", namespace=namespace)
    assert admins.subjects is not None
    assert admins.subjects[0].name == "ops"

    secret = await kube_client.get(Secret, "tenant-credentials", namespace=namespace)
    assert secret.data is not None
    token = base64.b64decode(secret.data["api-key"]).decode()
    conn = await tenants.registry(local_platform)
    try:
        row = await conn.fetchrow("SELECT * FROM platform.tenants WHERE name = $1", name)
        keys = await conn.fetch(
            "SELECT * FROM platform.api_keys WHERE tenant_id = $1", row["id"] if row else None
        )
    finally:
        await conn.close()
    assert row is not None
    assert str(row["id"]) == status["tenantId"]
    assert (row["tier"], row["rate_limit_rps"], row["rate_limit_burst"]) == ("growth", 500, 1000)
    assert row["stripe_customer_id"]
    assert row["stripe_subscription_id"]
    assert row["billing_price_key"] == "growth-standard-usd"
    assert [bytes(k["secret_sha256"]) for k in keys] == [hashlib.sha256(token.encode()).digest()]
    assert token not in json.dumps([dict(k) for k in keys], default=str)  # only the hash is stored

    cache = redis.from_url(str(local_platform.redis_url))
    try:
        assert await ratelimits.cached(cache, row["id"]) == ratelimits.RateLimit(500, 1000)
    finally:
        await cache.aclose()
    assert tenants.customers_created(local_platform, name) == 1
    alias = indices.alias("products", row["id"])
    assert _search_indices(local_platform, str(row["id"])) == [
        indices.concrete("products", row["id"], 1)
    ]
    assert alias in tenants.condition(status, "SearchReady")["message"]


async def test_tier_change_updates_quota_limits_and_subscription(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    tenants.apply(local_platform, tenants.manifest(name))
    await wait_ready(kube_client, name)
    tenants.apply(local_platform, tenants.manifest(name, tier="enterprise"))

    async def propagated() -> bool:
        """quota, registry row and Redis limit follow the enterprise tier"""
        quota = await kube_client.get(ResourceQuota, "tenant-quota", namespace=f"tenant-{name}")
        conn = await tenants.registry(local_platform)
        try:
            row = await conn.fetchrow("SELECT * FROM platform.tenants WHERE name = $1", name)
        finally:
            await conn.close()
        assert row is not None
        cache = redis.from_url(str(local_platform.redis_url))
        try:
            limit = await ratelimits.cached(cache, row["id"])
        finally:
            await cache.aclose()
        return (
            quota.spec is not None
            and quota.spec.hard is not None
            and quota.spec.hard["pods"] == "500"
            and row["tier"] == "enterprise"
            and row["billing_price_key"] == "enterprise-standard-usd"
            and limit == ratelimits.RateLimit(5000, 10000)
        )

    await eventually(propagated, within=60)
    updates = [
        line
        for line in tenants.stripe_request_data(local_platform)
        if "id:si_" in line
        and f"meridian_price_key:enterprise-standard-usd meridian_tenant:{name}]" in line
    ]
    assert updates, "the subscription was not moved to the enterprise price"


async def test_drift_is_repaired_within_seconds(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    """Deleting a managed NetworkPolicy, quota or RoleBinding by hand gets it back (< 10 s)."""
    tenants.apply(local_platform, tenants.manifest(name))
    await wait_ready(kube_client, name)
    namespace = f"tenant-{name}"
    originals = {
        (NetworkPolicy, "allow-from-gateway"),
        (ResourceQuota, "tenant-quota"),
        (RoleBinding, "tenant-admins"),
    }
    uids = {}
    for kind, object_name in originals:
        found = await kube_client.get(kind, object_name, namespace=namespace)  # type: ignore[call-overload]
        uids[object_name] = found.metadata.uid
        await kube_client.delete(kind, object_name, namespace=namespace)  # type: ignore[call-overload]

    async def recreated() -> bool:
        """every deleted object is back, as a new object"""
        for kind, object_name in originals:
            try:
                found = await kube_client.get(kind, object_name, namespace=namespace)  # type: ignore[call-overload]
            except ApiError:
                return False
            if found.metadata.uid == uids[object_name]:
                return False
        return True

    await eventually(recreated, within=10, interval=0.2)


async def test_suspending_disables_api_keys_and_resuming_restores_them(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    tenants.apply(local_platform, tenants.manifest(name))
    await wait_ready(kube_client, name)

    async def key_states() -> set[str]:
        conn = await tenants.registry(local_platform)
        try:
            rows = await conn.fetch(
                """SELECT k.state FROM platform.api_keys k JOIN platform.tenants t
                   ON t.id = k.tenant_id WHERE t.name = $1""",
                name,
            )
        finally:
            await conn.close()
        return {row["state"] for row in rows}

    tenants.apply(local_platform, tenants.manifest(name, suspended=True))
    status = await wait_ready(kube_client, name, phase="Suspended")
    assert tenants.condition(status, "Ready")["reason"] == "Suspended"
    assert await key_states() == {"suspended"}

    tenants.apply(local_platform, tenants.manifest(name, suspended=False))
    await wait_ready(kube_client, name)
    assert await key_states() == {"active"}


async def test_delete_with_retain_exports_rows_to_s3_then_deprovisions(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    tenants.apply(local_platform, tenants.manifest(name, deletionPolicy="Retain"))
    status = await wait_ready(kube_client, name)
    conn = await tenants.registry(local_platform)
    try:
        await registry_users.insert(
            conn,
            uuid.UUID(status["tenantId"]),
            email=f"admin@{name}.example",
            password_hash="$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA",
            scopes=["orders:read"],
        )
    finally:
        await conn.close()
    subscription = await _subscription_of(local_platform, name)
    # A generation a reindex left behind, outside the alias: offboarding deletes it too.
    leftover = indices.concrete("products", uuid.UUID(status["tenantId"]), 2)
    _elasticsearch(local_platform, "PUT", f"/{leftover}")
    platform.kubectl(local_platform, "delete", "tenant", name, "--wait=false")
    await wait_gone(kube_client, name)
    removed = json.loads(
        platform.kubectl(
            local_platform,
            "get",
            "events",
            "-A",
            "--field-selector",
            f"reason=SearchIndicesRemoved,involvedObject.name={name}",
            "-o",
            "json",
        )
    )["items"]
    assert [leftover in event["message"] for event in removed] == [True], removed

    s3 = tenants.s3(local_platform)
    listed = s3.list_objects_v2(Bucket="meridian-backups", Prefix=f"tenants/{name}/")
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    assert [key.rsplit("/", 1)[1] for key in keys] == [
        "api_keys.jsonl",
        "tenants.jsonl",
        "users.jsonl",
    ]
    exported = {
        key.rsplit("/", 1)[1]: [
            json.loads(line)
            for line in s3.get_object(Bucket="meridian-backups", Key=key)["Body"]
            .read()
            .splitlines()
        ]
        for key in keys
    }
    assert [row["id"] for row in exported["tenants.jsonl"]] == [status["tenantId"]]
    assert len(exported["api_keys.jsonl"]) == 1
    assert [row["email"] for row in exported["users.jsonl"]] == [f"admin@{name}.example"]
    await _assert_deprovisioned(local_platform, kube_client, name, status["tenantId"], subscription)


async def test_delete_with_delete_policy_exports_nothing(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    tenants.apply(local_platform, tenants.manifest(name, deletionPolicy="Delete"))
    status = await wait_ready(kube_client, name)
    subscription = await _subscription_of(local_platform, name)
    platform.kubectl(local_platform, "delete", "tenant", name, "--wait=false")
    await wait_gone(kube_client, name)
    listed = tenants.s3(local_platform).list_objects_v2(
        Bucket="meridian-backups", Prefix=f"tenants/{name}/"
    )
    assert listed.get("KeyCount") == 0
    await _assert_deprovisioned(local_platform, kube_client, name, status["tenantId"], subscription)


async def _subscription_of(state: platform.PlatformState, name: str) -> str:
    """The tenant's Stripe subscription id, as the registry holds it, with no cancellation yet
    (stripe-mock gives every subscription its own id, so its path names this tenant's alone)."""
    conn = await tenants.registry(state)
    try:
        subscription = await conn.fetchval(
            "SELECT stripe_subscription_id FROM platform.tenants WHERE name = $1", name
        )
    finally:
        await conn.close()
    assert subscription, f"{name} has no subscription recorded"
    assert _cancellations(state, subscription) == 0
    return str(subscription)


def _cancellations(state: platform.PlatformState, subscription: str) -> int:
    """DELETEs stripe-mock answered for this one subscription."""
    path = f"/v1/subscriptions/{subscription}"
    return tenants.stripe_requests(state).count(("DELETE", path))


async def _assert_deprovisioned(
    state: platform.PlatformState,
    kube_client: AsyncClient,
    name: str,
    tenant_id: str,
    subscription: str,
) -> None:
    with pytest.raises(ApiError) as missing:
        await kube_client.get(Namespace, f"tenant-{name}")
    assert missing.value.status.code == 404
    conn = await tenants.registry(state)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM platform.tenants WHERE name = $1", name) == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM platform.api_keys WHERE tenant_id = $1", uuid.UUID(tenant_id)
            )
            == 0
        )
    finally:
        await conn.close()
    cache = redis.from_url(str(state.redis_url))
    try:
        assert await ratelimits.cached(cache, tenant_id) is None
    finally:
        await cache.aclose()
    assert _cancellations(state, subscription) >= 1, f"{subscription} was not cancelled"
    assert _search_indices(state, tenant_id) == []


def _elasticsearch(state: platform.PlatformState, method: str, path: str) -> Any:
    assert state.elasticsearch_url
    call = urllib.request.Request(state.elasticsearch_url + path, method=method)
    with urllib.request.urlopen(call, timeout=30) as response:
        return json.load(response)


def _search_indices(state: platform.PlatformState, tenant_id: str) -> list[str]:
    """Every index of the tenant in Elasticsearch, whatever its generation."""
    alias = indices.alias("products", uuid.UUID(tenant_id))
    rows = _elasticsearch(state, "GET", f"/_cat/indices/{alias}-v*?format=json&h=index")
    return sorted(row["index"] for row in rows)


async def test_stripe_outage_keeps_tenant_provisioning_until_stripe_returns(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    """With stripe-mock down: BillingReady=False naming Stripe; after it returns: Ready, one customer."""
    supervisor = Supervisor(Path(local_platform.run_dir))
    supervisor.stop("stripe-mock")
    try:
        tenants.apply(local_platform, tenants.manifest(name))

        async def billing_down() -> dict[str, Any] | None:
            """BillingReady=False with reason StripeUnavailable"""
            status = await tenants.status(kube_client, name)
            billing = tenants.condition(status, "BillingReady")
            return status if billing.get("reason") == "StripeUnavailable" else None

        status = await eventually(billing_down, within=60)
        assert status["phase"] == "Provisioning"
        assert (
            "Stripe API at http://127.0.0.1" in tenants.condition(status, "BillingReady")["message"]
        )
        assert tenants.condition(status, "Ready")["status"] == "False"
    finally:
        stripe_mock.start(
            supervisor, Path(local_platform.run_dir) / "stripe-mock", Path(local_platform.bin_dir)
        )
    await wait_ready(kube_client, name)
    assert tenants.customers_created(local_platform, name) == 1


async def test_operator_killed_mid_provisioning_converges_without_duplicates(
    local_platform: platform.PlatformState, kube_client: AsyncClient, operator: Supervisor
) -> None:
    batch = f"b{uuid.uuid4().hex[:6]}"  # a letter first: YAML would read 123456 as a number
    names = [f"k{batch}-{i}" for i in range(40)]
    documents = [tenants.manifest(n) for n in names]
    for document in documents:
        document["metadata"]["labels"] = {"meridian.io/test-batch": batch}
    tenants.apply(local_platform, *documents)

    def phases() -> list[str]:
        return platform.kubectl(
            local_platform,
            "get",
            "tenants",
            "-l",
            f"meridian.io/test-batch={batch}",
            "-o",
            "jsonpath={range .items[*]}{.status.phase}{' '}{end}",
        ).split()

    async def some_provisioned() -> bool:
        """a few tenants are Ready while others are still being provisioned"""
        return 0 < phases().count("Ready") < len(names)

    await eventually(some_provisioned, within=60, interval=0.05)
    killed = operator.kill(OPERATOR)
    platform.start_operators(local_platform, supervisor=operator, name=OPERATOR, only="tenant")
    (restarted,) = [record.pid for record in operator.records() if record.name == OPERATOR]
    assert restarted != killed, "the operator that was killed is still the one running"

    async def all_ready() -> bool:
        """every tenant of the batch is Ready after the restart"""
        return phases().count("Ready") == len(names)

    try:
        await eventually(all_ready, within=90)
    except AssertionError as error:
        raise AssertionError(f"{phases()}\n{operator.log_tail(OPERATOR, 40)}") from error

    conn = await tenants.registry(local_platform)
    try:
        rows = await conn.fetch(
            """SELECT t.name, count(k.id) AS keys FROM platform.tenants t
               LEFT JOIN platform.api_keys k ON k.tenant_id = t.id
               WHERE t.name = ANY($1::text[]) GROUP BY t.name""",
            names,
        )
    finally:
        await conn.close()
    assert sorted((row["name"], row["keys"]) for row in rows) == sorted((n, 1) for n in names)
    assert [tenants.customers_created(local_platform, n) for n in names] == [1] * len(names)
    secrets = create_namespaced_resource("", "v1", "Secret", "secrets")
    for n in names:
        found = [s async for s in kube_client.list(secrets, namespace=f"tenant-{n}")]
        assert len(found) == 1


async def test_an_idle_operator_makes_no_api_writes_while_its_resync_runs(
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
    operator: Supervisor,
    name: str,
) -> None:
    """Every Tenant Ready: rounds of level-triggered resync reconcile each one and write nothing
    (0 writes to Tenants or what they own, all clients counted, from the apiserver's metrics)."""
    tenants.apply(local_platform, tenants.manifest(name))
    await wait_ready(kube_client, name)
    operator.stop(OPERATOR)
    ports = platform.start_operators(
        local_platform,
        supervisor=operator,
        name=OPERATOR,
        only="tenant",
        env={"MERIDIAN_OPERATOR_RESYNC_S": str(IDLE_RESYNC_S)},
    )
    phases = platform.kubectl(
        local_platform, "get", "tenants", "-o", "jsonpath={.items[*].status.phase}"
    ).split()
    assert set(phases) == {"Ready"}, f"idle needs every Tenant converged: {phases}"

    async def resumed() -> bool:
        """the restarted operator has reconciled every Tenant once (kopf's resume)"""
        return reconciles(ports, "Tenant") >= len(phases)

    await eventually(resumed, within=120)

    before = apiserver_writes_by_request(local_platform, tenants.OWNED_RESOURCES)
    reconciled = reconciles(ports, "Tenant")
    await asyncio.sleep(IDLE_RESYNC_S * IDLE_ROUNDS)
    written = writes_since(local_platform, tenants.OWNED_RESOURCES, before)
    resynced = reconciles(ports, "Tenant") - reconciled
    print(f"\nidle: {len(phases)} Tenants, {resynced:.0f} reconciles, writes {written}")
    assert resynced >= len(phases), "the resync did not reconcile every Tenant: idle proved nothing"
    # DELETEs are left out: the namespace controller, still removing earlier tests' tenant
    # namespaces, deletes the same kinds, and the apiserver's metrics cannot tell who asked.
    written = {request: n for request, n in written.items() if not request.startswith("DELETE ")}
    assert not written, f"an idle operator wrote: {written}"
