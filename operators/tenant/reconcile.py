"""Reconcile of a Tenant: from its spec and the world to an Observation, idempotently.

Five steps, each with its own condition, in dependency order: the namespace (the credentials
Secret lives in it), the registry row and key, then billing, the gateway limit and the search
index (all three need the tenant id; the last only where the platform has Elasticsearch). A step
that cannot run says which one it waits for; one that fails holds up only itself and Ready.
Ready summarises; anything not True asks the machinery to requeue with backoff.
"""

from __future__ import annotations

from meridian.core import events
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import (
    billing,
    clients,
    database,
    gateway,
    kubernetes,
    reasons,
    resources,
    search,
)
from meridian.operators.tenant.settings import TenantSettings


def _blocked(condition: str, waiting_for: str) -> reconciler.ConditionUpdate:
    return reconciler.ConditionUpdate(
        condition, "Unknown", reasons.BLOCKED, f"waiting for {waiting_for} to be True"
    )


def summarise(
    conditions: list[reconciler.ConditionUpdate], suspended: bool
) -> tuple[reconciler.ConditionUpdate, str]:
    failing = [c for c in conditions if c.status != "True"]
    if not failing:
        if suspended:
            message = "provisioned; suspended: API keys disabled until spec.suspended is false"
            return reconciler.ConditionUpdate(
                reconciler.READY, "True", reasons.SUSPENDED, message
            ), "Suspended"
        message = "namespace, registry, billing and gateway limit provisioned"
        if any(c.type == reasons.SEARCH_READY for c in conditions):
            message = "namespace, registry, billing, gateway limit and search index provisioned"
        return reconciler.ConditionUpdate(
            reconciler.READY, "True", reasons.PROVISIONED, message
        ), "Ready"
    message = "; ".join(f"{c.type} is {c.status} ({c.reason}): {c.message}" for c in failing)
    return reconciler.ConditionUpdate(
        reconciler.READY, "False", reasons.RECONCILING, message
    ), "Provisioning"


def peers(settings: TenantSettings) -> resources.Peers:
    return resources.Peers(
        gateway_namespace=settings.gateway_namespace,
        monitoring_namespace=settings.monitoring_namespace,
    )


async def reconcile(request: clients.Request) -> reconciler.Observation:
    name, spec, opened = request.name, request.spec, request.clients
    owner = request.body["metadata"]
    api = request.api
    namespace, _ = await kubernetes.ensure(
        api, name, spec, owner, request.indexes, peers(opened.settings)
    )
    conditions = [namespace]
    fields: dict[str, str] = {"namespace": resources.namespace_of(name)}
    tenant_id = None
    if namespace.status == "True":
        result = await database.ensure(api, opened.pool, name, spec, owner, request.indexes)
        conditions.append(result.condition)
        tenant_id = result.tenant_id if result.condition.status == "True" else None
        if result.issued_key:
            await events.post(
                api,
                request.body,
                type="Normal",
                reason=reasons.CREDENTIALS_ISSUED,
                message=f"API key {result.issued_key}… delivered in Secret "
                f"{fields['namespace']}/{resources.CREDENTIALS_SECRET}",
            )
    else:
        conditions.append(_blocked(reasons.DATABASE_READY, reasons.NAMESPACE_READY))
    if tenant_id is not None:
        fields["tenantId"] = str(tenant_id)
        conditions.append(await billing.ensure(opened, name, spec, tenant_id, request.generation))
        conditions.append(await gateway.ensure(opened.redis, spec, tenant_id))
        if opened.elastic is not None:
            prefix = opened.settings.search_index_prefix
            conditions.append(await search.ensure(opened.elastic, prefix, tenant_id))
    else:
        conditions.append(_blocked(reasons.BILLING_READY, reasons.DATABASE_READY))
        conditions.append(_blocked(reasons.GATEWAY_CONFIGURED, reasons.DATABASE_READY))
        if opened.elastic is not None:
            conditions.append(_blocked(reasons.SEARCH_READY, reasons.DATABASE_READY))
    ready, phase = summarise(conditions, spec.suspended)
    return reconciler.Observation(
        conditions=(*conditions, ready), phase=phase, fields=fields, requeue=ready.status != "True"
    )
