"""Step 4, GatewayConfigured: the tenant's rate limit where the gateway reads it.

The registry row (written by the database step) is the record; Redis is the gateway's cache of
it, written through here and compared first, so a converged tenant costs one read.
"""

from __future__ import annotations

import uuid

import redis.asyncio as redis

from meridian.core.api.v1alpha1 import tenant
from meridian.core.registry import ratelimits
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import reasons

REDIS_ERRORS = (redis.RedisError, OSError)


async def ensure(
    client: redis.Redis, spec: tenant.TenantSpec, tenant_id: uuid.UUID
) -> reconciler.ConditionUpdate:
    policy = spec.policy()
    wanted = ratelimits.RateLimit(policy.requests_per_second, policy.burst)
    try:
        if await ratelimits.cached(client, tenant_id) != wanted:
            await ratelimits.publish(client, tenant_id, wanted)
    except REDIS_ERRORS as error:
        message = f"Redis unreachable: {type(error).__name__}: {error}"
        return reconciler.ConditionUpdate(
            reasons.GATEWAY_CONFIGURED, "False", reasons.REDIS_UNAVAILABLE, message
        )
    message = f"{wanted.requests_per_second} requests/s, burst {wanted.burst}"
    return reconciler.ConditionUpdate(
        reasons.GATEWAY_CONFIGURED, "True", reasons.PROVISIONED, message
    )
