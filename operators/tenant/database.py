"""Step 2, DatabaseReady: the tenant's registry row, its first API key, and its suspension state.

The key is delivered once, as Secret `tenant-credentials`, and stored only as a hash. Order makes
it crash-safe: the Secret is created first and the hash recorded after, so a crash in between is
repaired from the Secret (its hash is in the operator's index) and never loses the plaintext. A
Secret deleted by hand gets a new key, and the old initial key is revoked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

import asyncpg
from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError

from meridian.core.api.v1alpha1 import tenant
from meridian.core.registry import apikeys, tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.core.runtime import db
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import owned, reasons, resources

PREFIX_LABEL = "meridian.io/api-key-prefix"
INITIAL = "initial"
DATABASE_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DatabaseResult(NamedTuple):
    condition: reconciler.ConditionUpdate
    tenant_id: uuid.UUID | None
    issued_key: str | None = None


def record(name: str, spec: tenant.TenantSpec) -> tenants.TenantRecord:
    policy = spec.policy()
    return tenants.TenantRecord(
        name=name,
        tier=spec.tier,
        region=spec.region,
        display_name=spec.display_name,
        state="suspended" if spec.suspended else "active",
        limits={"cpu": policy.cpu, "memory": policy.memory, "pods": policy.pods},
        rate_limit=RateLimit(policy.requests_per_second, policy.burst),
    )


def _secret(name: str, owner: Mapping[str, Any], key: apikeys.ApiKey, tenant_id: uuid.UUID) -> Any:
    meta = resources.metadata(name, resources.CREDENTIALS_SECRET, owner)
    meta["labels"][PREFIX_LABEL] = key.prefix
    return codecs.from_dict(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": "Opaque",
            "stringData": {"api-key": key.token, "tenant-id": str(tenant_id)},
        }
    )


async def _ensure_credentials(
    api: AsyncClient,
    pool: db.Pool,
    name: str,
    owner: Mapping[str, Any],
    tenant_id: uuid.UUID,
    indexes: owned.Indexes,
) -> tuple[str | None, str | None]:
    """(problem, prefix of a newly issued key): record the delivered key, or deliver one."""
    namespace = resources.namespace_of(name)
    live = owned.lookup(indexes, "Secret", namespace, resources.CREDENTIALS_SECRET)
    if live is not None:
        prefix = live["metadata"].get("labels", {}).get(PREFIX_LABEL)
        digest = live.get(owned.KEY_DIGEST)
        if not prefix or not digest:
            return (
                f"Secret {namespace}/{resources.CREDENTIALS_SECRET} holds no Meridian API key; "
                "delete it to have a new key issued",
                None,
            )
        async with pool.acquire() as conn:
            await apikeys.ensure(
                conn, tenant_id, prefix=prefix, digest=bytes.fromhex(digest), purpose=INITIAL
            )
        return None, None
    key = apikeys.generate()
    try:
        await api.create(_secret(name, owner, key, tenant_id))
    except ApiError as error:
        if error.status.code == 409:  # created a moment ago; the index has not seen it yet
            return "credentials Secret exists but is not observed yet", None
        raise
    async with pool.acquire() as conn, conn.transaction():
        await apikeys.ensure(conn, tenant_id, prefix=key.prefix, digest=key.digest, purpose=INITIAL)
        # A Secret deleted by hand means its key may be lost: the new one replaces it.
        await apikeys.revoke(conn, tenant_id, purpose=INITIAL, keep=key.prefix)
    return None, key.prefix


async def ensure(
    api: AsyncClient,
    pool: db.Pool,
    name: str,
    spec: tenant.TenantSpec,
    owner: Mapping[str, Any],
    indexes: owned.Indexes,
) -> DatabaseResult:
    try:
        async with pool.acquire() as conn, conn.transaction():
            tenant_id = await tenants.upsert(conn, record(name, spec))
        problem, issued = await _ensure_credentials(api, pool, name, owner, tenant_id, indexes)
        async with pool.acquire() as conn:
            await apikeys.set_suspended(conn, tenant_id, spec.suspended)
    except DATABASE_ERRORS as error:
        message = f"platform database unreachable or failing: {type(error).__name__}: {error}"
        return DatabaseResult(
            reconciler.ConditionUpdate(
                reasons.DATABASE_READY, "False", reasons.DATABASE_UNAVAILABLE, message
            ),
            None,
        )
    if problem:
        return DatabaseResult(
            reconciler.ConditionUpdate(
                reasons.DATABASE_READY, "False", reasons.CREDENTIALS_CONFLICT, problem
            ),
            tenant_id,
        )
    state = "suspended: API keys disabled" if spec.suspended else "active"
    message = (
        f"registered as {tenant_id} ({state}); credentials in Secret {resources.CREDENTIALS_SECRET}"
    )
    return DatabaseResult(
        reconciler.ConditionUpdate(reasons.DATABASE_READY, "True", reasons.PROVISIONED, message),
        tenant_id,
        issued,
    )
