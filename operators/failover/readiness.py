"""Standing by: could a run start now? One observation per check, each its own condition.

Run every `readiness_interval_s` (the resync timer) and before a run's preflight. Each check
answers for the move away from the active side: the Secrets resolve, the replica is in recovery
and streaming, its lag is inside the budget, the target cluster answers and has the services,
and the Route53 zone exists. ReadyToFailover is their conjunction, with the failing ones named.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from lightkube import AsyncClient

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover import (
    agent,
    database,
    dns,
    endpoints,
    reasons,
    sides,
    workloads,
)
from meridian.operators.failover.settings import FailoverPlanSettings
from meridian.operators.machinery.reconciler import ConditionUpdate


class Readiness(NamedTuple):
    conditions: list[ConditionUpdate]
    lag: dict[str, Any] | None

    @property
    def ready(self) -> ConditionUpdate:
        return self.conditions[-1]


def _unknown(type: str, why: str) -> ConditionUpdate:
    return ConditionUpdate(type, "Unknown", reasons.SECRET_MISSING, why)


def _reseed_required(target: api_types.DatabaseEndpoint, why: str) -> list[ConditionUpdate]:
    message = f"{target.host} {why}; a run re-seeds it first (Reseed step, its instance agent)"
    return [
        ConditionUpdate(reasons.REPLICA_HEALTHY, "False", reasons.RESEED_REQUIRED, message),
        ConditionUpdate(reasons.LAG_WITHIN_BUDGET, "Unknown", reasons.RESEED_REQUIRED, message),
    ]


async def _reseedable(
    api: AsyncClient,
    namespace: str,
    move: sides.Sides,
    primary: str,
    replica: str,
    timeout_s: float,
) -> str | None:
    """Why the target is not a replica but a run's Reseed step can make it one (it names an
    instance agent, the source is a primary, the target is a fenced primary or down); None
    otherwise. A replica that does not stream is left NotStreaming: a blip is not a reason to
    re-seed, and on-call should look first."""
    if move.to_db.agent is None:
        return None
    try:
        if await database.in_recovery(primary, timeout_s):
            return None
    except Exception:  # the source cannot be asked: nothing to re-seed from
        return None
    try:
        target: database.Standing | None = await database.standing(replica, timeout_s)
    except Exception:
        target = None
    if database.reseed_need(target) != "reseed":
        return None
    if target is None:
        try:
            found = await agent.state(api, namespace, move.to_db.agent, timeout_s)
        except Exception:  # neither the server nor its agent answers: cannot tell
            return None
        if found.get("server", {}).get("running"):
            return None
        return "is down"
    if target.in_recovery:
        return None  # a replica not streaming (yet): NotStreaming, not something to re-seed
    return "is a fenced former primary, not a replica"


async def _database(
    spec: api_types.FailoverPlanSpec, primary: str, replica: str, timeout_s: float
) -> tuple[list[ConditionUpdate], dict[str, Any] | None]:
    try:
        state = await database.replication(primary, replica, timeout_s)
    except Exception as error:  # asyncpg, OSError, timeouts: all mean "cannot tell"
        why = f"{type(error).__name__}: {error}"
        return [
            ConditionUpdate(reasons.REPLICA_HEALTHY, "False", reasons.DATABASE_UNREACHABLE, why),
            ConditionUpdate(
                reasons.LAG_WITHIN_BUDGET, "Unknown", reasons.DATABASE_UNREACHABLE, why
            ),
        ], None
    lag = {
        "bytes": state.lag_bytes,
        "seconds": state.lag_seconds,
        "measuredAt": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if not state.in_recovery:
        healthy = ConditionUpdate(
            reasons.REPLICA_HEALTHY,
            "False",
            reasons.NOT_STREAMING,
            "the replica is not in recovery (it is a primary)",
        )
        return [
            healthy,
            ConditionUpdate(
                reasons.LAG_WITHIN_BUDGET, "Unknown", reasons.NOT_STREAMING, healthy.message
            ),
        ], None
    if not state.streaming:
        healthy = ConditionUpdate(
            reasons.REPLICA_HEALTHY,
            "False",
            reasons.NOT_STREAMING,
            f"in recovery at {state.replay_lsn} but not streaming from the primary",
        )
    else:
        healthy = ConditionUpdate(
            reasons.REPLICA_HEALTHY,
            "True",
            reasons.STREAMING,
            f"streaming, replayed up to {state.replay_lsn}",
        )
    seconds = state.lag_seconds
    lag_text = f"{state.lag_bytes} bytes, {'unknown' if seconds is None else f'{seconds:.1f}'} s"
    budget = f"budget {spec.lag_budget_bytes} bytes, {spec.lag_budget_seconds} s"
    over = (state.lag_bytes or 0) > spec.lag_budget_bytes or (
        seconds is not None and seconds > spec.lag_budget_seconds
    )
    within = ConditionUpdate(
        reasons.LAG_WITHIN_BUDGET,
        "False" if over else "True",
        reasons.OVER_BUDGET if over else reasons.WITHIN_BUDGET,
        f"lag {lag_text} ({budget})",
    )
    return [healthy, within], lag


async def _target(
    api: AsyncClient,
    namespace: str,
    spec: api_types.FailoverPlanSpec,
    to: api_types.ClusterRef,
    timeout_s: float,
) -> ConditionUpdate:
    try:
        async with endpoints.cluster(api, namespace, to, timeout_s) as target:
            found, missing = await workloads.find(target, spec.services)
    except endpoints.MissingSecret:
        raise
    except Exception as error:  # httpx, ApiError, TLS: the target does not answer as it should
        return ConditionUpdate(
            reasons.TARGET_REACHABLE,
            "False",
            reasons.UNREACHABLE,
            f"cluster {to.name}: {type(error).__name__}: {error}",
        )
    if missing or not found:
        what = ", ".join(missing) or f"nothing matches {spec.services.selector}"
        return ConditionUpdate(
            reasons.TARGET_REACHABLE,
            "False",
            reasons.SERVICES_MISSING,
            f"cluster {to.name} answers; Deployments missing in {spec.services.namespace}: {what}",
        )
    return ConditionUpdate(
        reasons.TARGET_REACHABLE,
        "True",
        reasons.REACHABLE,
        f"cluster {to.name} answers; {len(found)} Deployments present in {spec.services.namespace}",
    )


async def _zone(route53: dns.Route53, spec: api_types.FailoverPlanSpec) -> ConditionUpdate:
    try:
        zone_id = await route53.zone_id(spec.dns.zone)
    except dns.ZoneMissing as error:
        return ConditionUpdate(reasons.DNS_REACHABLE, "False", reasons.ZONE_MISSING, str(error))
    except Exception as error:  # botocore: endpoint, credentials, throttling
        return ConditionUpdate(
            reasons.DNS_REACHABLE,
            "False",
            reasons.UNREACHABLE,
            f"Route53: {type(error).__name__}: {error}",
        )
    return ConditionUpdate(
        reasons.DNS_REACHABLE, "True", reasons.FOUND, f"zone {spec.dns.zone} ({zone_id})"
    )


async def evaluate(
    api: AsyncClient,
    namespace: str,
    spec: api_types.FailoverPlanSpec,
    active_cluster: str | None,
    route53: dns.Route53,
    settings: FailoverPlanSettings,
) -> Readiness:
    move = sides.standing_by(spec, active_cluster)
    timeout = settings.dependency_timeout_s
    conditions: list[ConditionUpdate] = []
    lag = None
    try:
        primary = await endpoints.dsn(api, namespace, move.from_db)
        replica = await endpoints.dsn(api, namespace, move.to_db)
        if move.to_cluster.kubeconfig_secret:
            await endpoints.read_secret(api, namespace, move.to_cluster.kubeconfig_secret)
        conditions.append(
            ConditionUpdate(
                reasons.SECRETS_PRESENT,
                "True",
                reasons.FOUND,
                "every Secret the plan names is present",
            )
        )
        database_conditions, lag = await _database(spec, primary, replica, timeout)
        if database_conditions[0].status != "True" or not lag:
            why = await _reseedable(api, namespace, move, primary, replica, timeout)
            if why:
                database_conditions = _reseed_required(move.to_db, why)
        conditions += database_conditions
        conditions.append(await _target(api, namespace, spec, move.to_cluster, timeout))
    except endpoints.MissingSecret as error:
        conditions.append(
            ConditionUpdate(reasons.SECRETS_PRESENT, "False", reasons.SECRET_MISSING, str(error))
        )
        for type in (reasons.REPLICA_HEALTHY, reasons.LAG_WITHIN_BUDGET, reasons.TARGET_REACHABLE):
            conditions.append(_unknown(type, str(error)))
    conditions.append(await _zone(route53, spec))
    failing = [c for c in conditions if c.status != "True"]
    if failing and all(c.reason == reasons.RESEED_REQUIRED for c in failing):
        ready = ConditionUpdate(
            reasons.READY_TO_FAILOVER,
            "False",
            reasons.RESEED_REQUIRED,
            f"ready to move from {move.from_cluster.name} to {move.to_cluster.name} once "
            f"{move.to_db.host} is re-seeded: a Planned run does that first, an Emergency run "
            "cannot (it would promote a stale former primary)",
        )
    elif failing:
        message = "; ".join(f"{c.type} is {c.status} ({c.reason}): {c.message}" for c in failing)
        ready = ConditionUpdate(
            reasons.READY_TO_FAILOVER, "False", reasons.NOT_READY, message[:4000]
        )
    else:
        ready = ConditionUpdate(
            reasons.READY_TO_FAILOVER,
            "True",
            reasons.READY,
            f"ready to move from {move.from_cluster.name} to {move.to_cluster.name}",
        )
    return Readiness([*conditions, ready], lag)
