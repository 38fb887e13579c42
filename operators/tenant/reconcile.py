"""Reconcile of a Tenant: from its spec and the world to an Observation, idempotently.

Four steps, each with its own condition, in dependency order: the namespace (the credentials
Secret lives in it), the registry row and key, then billing and the gateway limit (both need the
tenant id). A step that cannot run says which one it waits for. Ready summarises; anything not
True asks the kit to retry with backoff.
"""

from __future__ import annotations

from meridian.core import events
from meridian.core.api.v1alpha1 import tenant
from meridian.operators import kit
from meridian.operators.tenant import billing, database, gateway, kubernetes, reasons, resources


def _blocked(condition: str, waiting_for: str) -> kit.ConditionUpdate:
    return kit.ConditionUpdate(
        condition, "Unknown", reasons.BLOCKED, f"waiting for {waiting_for} to be True"
    )


def summarise(
    conditions: list[kit.ConditionUpdate], suspended: bool
) -> tuple[kit.ConditionUpdate, str]:
    failing = [c for c in conditions if c.status != "True"]
    if not failing:
        if suspended:
            message = "provisioned; suspended: API keys disabled until spec.suspended is false"
            return kit.ConditionUpdate(kit.READY, "True", reasons.SUSPENDED, message), "Suspended"
        message = "namespace, registry, billing and gateway limit provisioned"
        return kit.ConditionUpdate(kit.READY, "True", reasons.PROVISIONED, message), "Ready"
    message = "; ".join(f"{c.type} is {c.status} ({c.reason}): {c.message}" for c in failing)
    return kit.ConditionUpdate(kit.READY, "False", reasons.RECONCILING, message), "Provisioning"


async def reconcile(request: kit.Request[tenant.TenantSpec]) -> kit.Observation:
    name, spec = request.name, request.spec
    owner = request.body["metadata"]
    api = kit.client()
    namespace, _ = await kubernetes.ensure(api, name, spec, owner, request.indexes)
    conditions = [namespace]
    fields: dict[str, str] = {"namespace": resources.namespace_of(name)}
    tenant_id = None
    if namespace.status == "True":
        result = await database.ensure(api, name, spec, owner, request.indexes)
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
        conditions.append(await billing.ensure(name, spec, tenant_id, request.generation))
        conditions.append(await gateway.ensure(spec, tenant_id))
    else:
        conditions.append(_blocked(reasons.BILLING_READY, reasons.DATABASE_READY))
        conditions.append(_blocked(reasons.GATEWAY_CONFIGURED, reasons.DATABASE_READY))
    ready, phase = summarise(conditions, spec.suspended)
    return kit.Observation(
        conditions=(*conditions, ready), phase=phase, fields=fields, retry=ready.status != "True"
    )
