"""Offboarding, behind the finalizer `meridian.io/tenant-cleanup`: provisioning in reverse.

With deletionPolicy Retain the tenant's registry rows are first exported to S3 as JSON Lines
(`meridian-backups/tenants/<name>/<deletion time>/<table>.jsonl`); then the gateway limit is
withdrawn, the Stripe subscription cancelled, every search index of the tenant deleted (after the
export, whatever the policy: the index is derived from inventory's rows, never a record), API keys
revoked and the rows deleted, and the namespace goes last. The indices go before the rows: the
row holds the tenant id that names them, so a crash in between cannot leave them unfindable. Every step is idempotent and safe to repeat after a crash; the finalizer is
released only when all have succeeded, and a failing step retries with backoff, named in status.
"""

from __future__ import annotations

import asyncio
import uuid

import stripe
from lightkube.core.exceptions import ApiError

from meridian.core import events
from meridian.core.registry import apikeys, ratelimits, tenants
from meridian.core.search import elastic, indices
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import (
    billing,
    clients,
    database,
    gateway,
    kubernetes,
    reasons,
    resources,
)


def export_prefix(name: str, deletion_timestamp: str) -> str:
    stamp = deletion_timestamp.replace("-", "").replace(":", "")
    return f"tenants/{name}/{stamp}/"


async def _export(
    current: clients.Clients, name: str, tenant_id: uuid.UUID, prefix: str
) -> list[str]:
    async with current.pool.acquire() as conn:
        exported = await tenants.export(conn, tenant_id)
    keys = []
    for table, lines in exported.items():
        key = f"{prefix}{table}.jsonl"
        body = "".join(line + "\n" for line in lines).encode()
        await asyncio.to_thread(
            current.s3.put_object,
            Bucket=current.settings.backup_bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
        )
        keys.append(key)
    return keys


def _pending(reason: str, message: str) -> reconciler.Observation:
    return reconciler.Observation(
        conditions=(
            reconciler.ConditionUpdate(reasons.OFFBOARDED, "False", reason, message),
            reconciler.ConditionUpdate(reconciler.READY, "False", reasons.OFFBOARDING, message),
        ),
        phase="Deleting",
        requeue=True,
    )


async def finalize(request: clients.Request) -> reconciler.Observation:
    name, spec = request.name, request.spec
    current = request.clients
    async with current.pool.acquire() as conn:
        row = await tenants.find(conn, name)
    if row is not None:
        tenant_id: uuid.UUID = row["id"]
        if spec.deletion_policy == "Retain":
            prefix = export_prefix(name, request.body["metadata"]["deletionTimestamp"])
            try:
                keys = await _export(current, name, tenant_id, prefix)
            except Exception as error:  # boto3 raises many types; all mean "not exported yet"
                return _pending(reasons.EXPORT_FAILED, f"export to S3 failed: {error}")
            await events.post(
                request.api,
                request.body,
                type="Normal",
                reason=reasons.EXPORTED,
                message=f"Exported to s3://{current.settings.backup_bucket}/{prefix}: {', '.join(keys)}",
            )
        try:
            await ratelimits.withdraw(current.redis, tenant_id)
        except gateway.REDIS_ERRORS as error:
            return _pending(
                reasons.REDIS_UNAVAILABLE, f"withdrawing the rate limit failed: {error}"
            )
        if row["stripe_subscription_id"]:
            try:
                await billing.cancel(current.stripe, tenant_id, row["stripe_subscription_id"])
            except stripe.StripeError as error:
                return _pending(reasons.STRIPE_UNAVAILABLE, f"cancelling the subscription: {error}")
        if current.elastic is not None:
            prefix = current.settings.search_index_prefix
            try:
                removed = await indices.remove(current.elastic, prefix, tenant_id)
            except elastic.Unavailable as error:
                return _pending(reasons.ELASTICSEARCH_UNAVAILABLE, f"deleting indices: {error}")
            except indices.Refused as error:
                return _pending(reasons.SEARCH_INDEX_REFUSED, str(error))
            if removed:
                await events.post(
                    request.api,
                    request.body,
                    type="Normal",
                    reason=reasons.SEARCH_INDICES_REMOVED,
                    message=f"Deleted search indices {', '.join(removed)}",
                )
        try:
            async with current.pool.acquire() as conn, conn.transaction():
                await apikeys.revoke(conn, tenant_id)
                await tenants.delete(conn, tenant_id)
        except database.DATABASE_ERRORS as error:
            return _pending(reasons.DATABASE_UNAVAILABLE, f"deleting registry rows: {error}")
    try:
        gone = await kubernetes.delete_namespace(request.api, name, request.indexes)
    except ApiError as error:
        return _pending(reasons.APPLY_FAILED, f"deleting the namespace: {error.status.message}")
    if not gone:
        namespace = resources.namespace_of(name)
        return _pending(reasons.WAITING_FOR_NAMESPACE, f"namespace {namespace} is terminating")
    message = f"offboarded ({spec.deletion_policy})"
    return reconciler.Observation(
        conditions=(
            reconciler.ConditionUpdate(reasons.OFFBOARDED, "True", reasons.OFFBOARDING, message),
        ),
        phase="Deleting",
    )
