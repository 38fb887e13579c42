"""Wires one kind's pure `reconcile()` into kopf, the same way for every operator.

A reconcile takes the typed spec and the current status and returns an `Observation`: the
conditions it measured, a phase and any other status fields. This module owns everything around
it: level-triggered scheduling (create, update, resume and a resync timer), observedGeneration,
condition timestamps, Events on transitions, metrics, and writing status only when it changed,
so an idle operator makes no API writes. kopf errors keep their meaning: raise
`kopf.TemporaryError` to retry with a delay, `kopf.PermanentError` to stop retrying.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import kopf
import pydantic
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from meridian.core import conditions, events, kube
from meridian.core.api.v1alpha1.meta import GROUP, VERSION, ApiModel, ConditionStatus, Kind
from meridian.operators import metrics

SpecT = TypeVar("SpecT", bound=ApiModel)

READY = "Ready"
INVALID_SPEC = "InvalidSpec"


class ConditionUpdate(NamedTuple):
    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """What one reconcile found: conditions (Ready last, summarising), phase, other status fields."""

    conditions: tuple[ConditionUpdate, ...]
    phase: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    retry: bool = False
    """Something is not there yet: write this status, then reconcile again with backoff."""


@dataclass(frozen=True)
class Request(Generic[SpecT]):
    name: str
    namespace: str | None
    generation: int
    spec: SpecT
    status: Mapping[str, Any]
    body: kopf.Body
    logger: kopf.Logger
    indexes: Mapping[str, kopf.Index[Any, Any]] = field(default_factory=dict)
    """The operator's kopf indexes (its in-memory view of the objects it owns), by index id."""
    retry: int = 0

    @property
    def deleting(self) -> bool:
        return bool(self.body.get("metadata", {}).get("deletionTimestamp"))


Reconciler = Callable[[Request[SpecT]], Awaitable[Observation]]


def backoff(retry: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter (half to full), so 400 failing objects do not retry in step."""
    return float(min(cap, base * 2**retry) * random.uniform(0.5, 1.0))


def accepted(kind: Kind, reason: str) -> Observation:
    """First sight of an object whose reconcile logic is still to come: Ready=Unknown, Pending."""
    message = f"{kind.kind} accepted and watched; reconciliation logic is not implemented yet"
    return Observation(
        conditions=(ConditionUpdate(READY, "Unknown", reason, message),), phase="Pending"
    )


def invalid_spec(error: pydantic.ValidationError) -> Observation:
    """A spec the API accepted but the model refuses (a stale CRD): say so in status, do not retry."""
    problems = "; ".join(
        f"spec.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
        for item in error.errors()
    )
    return Observation(conditions=(ConditionUpdate(READY, "False", INVALID_SPEC, problems[:2000]),))


def status_patch(
    current: Mapping[str, Any], generation: int, observation: Observation
) -> tuple[dict[str, Any], list[conditions.ConditionChange]]:
    """The status fields that differ from `current`, and the condition changes to announce."""
    merged: list[dict[str, Any]] = [dict(c) for c in current.get("conditions") or []]
    changes = []
    for update in observation.conditions:
        merged, change = conditions.set_condition(
            merged,
            type=update.type,
            status=update.status,
            reason=update.reason,
            message=update.message,
            generation=generation,
        )
        if change:
            changes.append(change)
    desired: dict[str, Any] = {"observedGeneration": generation, "conditions": merged}
    if observation.phase is not None:
        desired["phase"] = observation.phase
    desired.update(observation.fields)
    patch = {key: value for key, value in desired.items() if current.get(key) != value}
    return patch, changes


class _Written(NamedTuple):
    resource_version: str
    status: Mapping[str, Any]
    at: float


_WRITTEN: dict[str, _Written] = {}
_WRITTEN_TTL = 30.0
_LOCKS: dict[str, asyncio.Lock] = {}


def _lock(body: kopf.Body) -> asyncio.Lock:
    """One reconcile of an object at a time: kopf runs its timer beside the change handlers."""
    uid = str(body.get("metadata", {}).get("uid"))
    return _LOCKS.setdefault(uid, asyncio.Lock())


def _current_status(body: kopf.Body) -> Mapping[str, Any]:
    """The status to diff against: the body's, unless kopf has not yet seen our last write.

    kopf runs a timer concurrently with change handlers; under load the timer can get a body
    from before the create handler's status patch, and would write (and announce) everything
    again. When the body is still the very version we computed our last write from, that write
    is the better truth. Short-lived (30 s), so a lost patch is never hidden for long.
    """
    meta = body.get("metadata", {})
    status: Mapping[str, Any] = body.get("status") or {}
    written = _WRITTEN.get(str(meta.get("uid")))
    if (
        written
        and written.resource_version == meta.get("resourceVersion")
        and time.monotonic() - written.at < _WRITTEN_TTL
    ):
        return {**status, **written.status}
    return status


def _remember(body: kopf.Body, current: Mapping[str, Any], changed: Mapping[str, Any]) -> None:
    now = time.monotonic()
    for uid in [uid for uid, written in _WRITTEN.items() if now - written.at >= _WRITTEN_TTL]:
        del _WRITTEN[uid]
        if uid in _LOCKS and not _LOCKS[uid].locked():
            del _LOCKS[uid]
    meta = body.get("metadata", {})
    _WRITTEN[str(meta.get("uid"))] = _Written(
        str(meta.get("resourceVersion")), {**current, **changed}, now
    )


FIELD_MANAGER = "meridian-operator"
_CLIENT: list[AsyncClient] = []


def client() -> AsyncClient:
    """One write client per operator process, opened on first use."""
    if not _CLIENT:
        _CLIENT.append(kube.client(field_manager=FIELD_MANAGER))
    return _CLIENT[0]


async def _announce(
    kind: Kind, body: kopf.Body, change: conditions.ConditionChange, logger: kopf.Logger
) -> None:
    metrics.CONDITION_TRANSITIONS.labels(kind.kind, change.type, change.status, change.reason).inc()
    message = f"{change.type} is {change.status}"
    if change.message:
        message += f": {change.message}"
    try:
        await events.post(
            client(),
            body,
            type="Warning" if change.status == "False" else "Normal",
            reason=change.reason,
            message=message,
        )
    except ApiError as error:
        # Events are best-effort, like the kubelet's recorder: the condition in status is the
        # record of truth, and failing the reconcile here would not bring the Event back.
        logger.warning(
            "Event not posted",
            extra={"kind": kind.kind, "reason": change.reason, "error": str(error.status.message)},
        )


async def _write_status(
    kind: Kind,
    body: kopf.Body,
    patch: kopf.Patch,
    logger: kopf.Logger,
    diff: tuple[dict[str, Any], list[conditions.ConditionChange]],
) -> None:
    changed, transitions = diff
    if changed:
        _remember(body, _current_status(body), changed)
        metrics.STATUS_WRITES.labels(kind.kind).inc()
        logger.info("Status written", extra={"kind": kind.kind, "fields": sorted(changed)})
        for key, value in changed.items():
            patch.status[key] = value
    for change in transitions:
        await _announce(kind, body, change, logger)
        logger.info(
            "Condition changed",
            extra={
                "kind": kind.kind,
                "condition": change.type,
                "status": change.status,
                "reason": change.reason,
            },
        )


def register(
    registry: kopf.OperatorRegistry,
    kind: Kind,
    reconcile: Reconciler[SpecT],
    *,
    resync_seconds: float,
    finalize: Reconciler[SpecT] | None = None,
) -> None:
    """Run `reconcile` on create, update, resume and every `resync_seconds` (drift repair).

    With `finalize`, deletion waits for it (kopf's finalizer, named after the kind): it runs
    until its Observation asks for no retry, with its status written after every attempt.
    """
    spec_model: type[SpecT] = kind.spec  # type: ignore[assignment]

    def handler(run: Reconciler[SpecT], outcome: str) -> Callable[..., Awaitable[None]]:
        async def handle(
            body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, retry: int, **kwargs: Any
        ) -> None:
            async with _lock(body):
                await handle_alone(body, patch, logger, retry, **kwargs)

        async def handle_alone(
            body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, retry: int, **kwargs: Any
        ) -> None:
            started = time.monotonic()
            meta = body.get("metadata", {})
            generation = int(meta.get("generation") or 0)
            status = _current_status(body)
            try:
                spec = spec_model.model_validate(body.get("spec") or {})
            except pydantic.ValidationError as error:
                metrics.RECONCILES.labels(kind.kind, "invalid").inc()
                observation = invalid_spec(error)
                await _write_status(
                    kind, body, patch, logger, status_patch(status, generation, observation)
                )
                return
            request = Request(
                name=str(meta.get("name")),
                namespace=meta.get("namespace"),
                generation=generation,
                spec=spec,
                status=status,
                body=body,
                logger=logger,
                indexes={k: v for k, v in kwargs.items() if isinstance(v, kopf.Index)},
                retry=retry,
            )
            try:
                observation = await run(request)
            except kopf.TemporaryError:
                metrics.RECONCILES.labels(kind.kind, "retry").inc()
                raise
            except Exception:
                metrics.RECONCILES.labels(kind.kind, "error").inc()
                raise
            finally:
                metrics.RECONCILE_SECONDS.labels(kind.kind).observe(time.monotonic() - started)
            await _write_status(
                kind, body, patch, logger, status_patch(status, generation, observation)
            )
            if observation.retry:
                # kopf applies the status patch above, then calls again after the delay.
                metrics.RECONCILES.labels(kind.kind, "retry").inc()
                pending = ", ".join(
                    f"{c.type}={c.status} ({c.reason})"
                    for c in observation.conditions
                    if c.status != "True"
                )
                raise kopf.TemporaryError(pending or "not converged", delay=backoff(retry))
            metrics.RECONCILES.labels(kind.kind, outcome).inc()

        return handle

    handle = handler(reconcile, "ok")
    resource = (GROUP, VERSION, kind.plural)
    kopf.on.resume(*resource, registry=registry, id="reconcile-resume")(handle)
    kopf.on.create(*resource, registry=registry, id="reconcile-create")(handle)
    kopf.on.update(*resource, registry=registry, id="reconcile-update", field="spec")(handle)
    kopf.timer(
        *resource,
        registry=registry,
        id="resync",
        interval=resync_seconds,
        initial_delay=resync_seconds,
    )(handle)
    if finalize is not None:
        kopf.on.delete(*resource, registry=registry, id="finalize")(handler(finalize, "finalized"))
