"""Wires one kind's pure `reconcile()` into kopf, the same way for every operator.

This module owns everything around a reconcile: level-triggered scheduling (create, update, resume
and a resync timer), observedGeneration, condition timestamps, Events on transitions, metrics,
writing status only when it changed (so an idle operator makes no API writes), requeueing with
the runtime's backoff, and the operator's connections: opened at kopf startup, handed to every
reconcile in its `Request`, closed at cleanup.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, NamedTuple

import kopf
import pydantic
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError

from meridian.core import conditions, events, kube
from meridian.core.api.v1alpha1.meta import GROUP, VERSION, Kind
from meridian.core.runtime import resilience
from meridian.operators.machinery import metrics, status
from meridian.operators.machinery.reconciler import (
    RECONCILING,
    ClientsT,
    Observation,
    Reconciler,
    Request,
    SpecT,
    accepted,
    invalid_spec,
)

FIELD_MANAGER = "meridian-operator"
"""Who owns the fields our operators apply (server-side apply's field manager)."""
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0


class OwnedKind(NamedTuple):
    """A Kubernetes kind an operator creates for its resources: what it indexes and watches for
    drift, and what its RBAC must allow."""

    group: str
    version: str
    plural: str
    kind: str


def kubernetes_client() -> AsyncClient:
    """A Kubernetes client that writes as the operators."""
    return kube.client(field_manager=FIELD_MANAGER)


async def _nothing() -> None:
    return None


async def _close_nothing(_: None) -> None:
    return None


class Connections(Generic[ClientsT]):
    """An operator's Kubernetes client and its own clients, open while kopf runs it.

    `open` is awaited in kopf's startup (before any handler) and `close` in its cleanup; every
    reconcile gets both through its `Request`, and other handlers of the operator (a drift watch)
    through `api` and `clients`. One per registered operator, never a module global.
    """

    def __init__(
        self,
        open: Callable[[], Awaitable[ClientsT]],
        close: Callable[[ClientsT], Awaitable[None]],
    ) -> None:
        self._open, self._close = open, close
        self._opened: tuple[AsyncClient, ClientsT] | None = None

    @staticmethod
    def kubernetes_only() -> Connections[None]:
        """For an operator that talks to nothing but the apiserver."""
        return Connections(_nothing, _close_nothing)

    @property
    def api(self) -> AsyncClient:
        return self._current()[0]

    @property
    def clients(self) -> ClientsT:
        return self._current()[1]

    def _current(self) -> tuple[AsyncClient, ClientsT]:
        if self._opened is None:
            raise RuntimeError("the operator's connections are not open (kopf startup did not run)")
        return self._opened

    def register(self, registry: kopf.OperatorRegistry) -> None:
        @kopf.on.startup(registry=registry)
        async def open_connections(**_: Any) -> None:
            self._opened = (kubernetes_client(), await self._open())

        @kopf.on.cleanup(registry=registry)
        async def close_connections(**_: Any) -> None:
            if self._opened is None:
                return
            api, clients = self._opened
            self._opened = None
            try:
                await self._close(clients)
            finally:
                await api.close()


def backoff(attempts_failed: int) -> float:
    """The runtime's full-jitter backoff, so 400 failing objects do not retry in step."""
    return resilience.backoff(
        attempts_failed, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S, rng=random.random
    )


async def announce(
    kind: Kind,
    api: AsyncClient,
    body: kopf.Body,
    change: conditions.ConditionChange,
    logger: kopf.Logger,
) -> None:
    metrics.CONDITION_TRANSITIONS.labels(kind.kind, change.type, change.status, change.reason).inc()
    message = f"{change.type} is {change.status}"
    if change.message:
        message += f": {change.message}"
    try:
        await events.post(
            api,
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


def register(
    registry: kopf.OperatorRegistry,
    kind: Kind,
    reconcile: Reconciler[SpecT, ClientsT],
    *,
    connections: Connections[ClientsT],
    resync_s: float,
    finalize: Reconciler[SpecT, ClientsT] | None = None,
) -> status.Written:
    """Run `reconcile` on create, update, resume and every `resync_s` (drift repair).

    With `finalize`, deletion waits for it (kopf's finalizer, named after the kind): it runs
    until its Observation asks for no requeue, with its status written after every attempt.
    Returns the memory of status writes, whose per-object lock another writer of the same status
    (a daemon) takes so that it and the reconcile never interleave.
    """
    spec_model: type[SpecT] = kind.spec  # type: ignore[assignment]
    written = status.Written()
    connections.register(registry)

    async def write_status(
        body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, diff: status.StatusDiff
    ) -> None:
        changed, transitions = diff
        if changed:
            written.remember(body, written.current(body), changed)
            metrics.STATUS_WRITES.labels(kind.kind).inc()
            logger.info("Status written", extra={"kind": kind.kind, "fields": sorted(changed)})
            for key, value in changed.items():
                patch.status[key] = value
        for change in transitions:
            await announce(kind, connections.api, body, change, logger)
            logger.info(
                "Condition changed",
                extra={
                    "kind": kind.kind,
                    "condition": change.type,
                    "status": change.status,
                    "reason": change.reason,
                },
            )

    def handler(run: Reconciler[SpecT, ClientsT], outcome: str) -> Callable[..., Awaitable[None]]:
        async def handle(
            body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, retry: int, **kwargs: Any
        ) -> None:
            async with written.lock(body):
                await handle_alone(body, patch, logger, retry, **kwargs)

        async def handle_alone(
            body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, retry: int, **kwargs: Any
        ) -> None:
            started = time.monotonic()
            meta = body.get("metadata", {})
            generation = int(meta.get("generation") or 0)
            current = written.current(body)
            try:
                spec = spec_model.model_validate(body.get("spec") or {})
            except pydantic.ValidationError as error:
                metrics.RECONCILES.labels(kind.kind, "invalid").inc()
                diff = status.status_patch(current, generation, invalid_spec(error))
                await write_status(body, patch, logger, diff)
                return
            request = Request(
                name=str(meta.get("name")),
                namespace=meta.get("namespace"),
                generation=generation,
                spec=spec,
                status=current,
                body=body,
                logger=logger,
                api=connections.api,
                clients=connections.clients,
                indexes={k: v for k, v in kwargs.items() if isinstance(v, kopf.Index)},
                attempts_failed=retry,
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
            await write_status(
                body, patch, logger, status.status_patch(current, generation, observation)
            )
            if observation.requeue:
                # kopf applies the status patch above, then calls again after the delay.
                metrics.RECONCILES.labels(kind.kind, "retry").inc()
                raise kopf.TemporaryError(_pending(observation), delay=backoff(retry))
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
        interval=resync_s,
        initial_delay=resync_s,
    )(handle)
    if finalize is not None:
        kopf.on.delete(*resource, registry=registry, id="finalize")(handler(finalize, "finalized"))
    return written


def accepting(kind: Kind) -> Callable[[kopf.OperatorRegistry, Any, Any], None]:
    """The `register` of an operator whose reconcile logic is still to come: it watches its kind
    and says so in status (Ready=Unknown, Pending, with why), so an applied object is visibly
    accepted rather than ignored; the kind's own issue replaces it with a real reconcile."""

    async def reconcile(_request: Request[Any, None]) -> Observation:
        return accepted(kind, RECONCILING)

    def register_kind(registry: kopf.OperatorRegistry, process: Any, _settings: Any) -> None:
        register(
            registry,
            kind,
            reconcile,
            connections=Connections.kubernetes_only(),
            resync_s=process.resync_s,
        )

    return register_kind


def _pending(observation: Observation) -> str:
    """Why a requeue: the conditions that are not True, for kopf's log line."""
    pending = ", ".join(
        f"{c.type}={c.status} ({c.reason})" for c in observation.conditions if c.status != "True"
    )
    return pending or "not converged"
