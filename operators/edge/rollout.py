"""Runs the wave planner against the API: one site at a time, at most every `wave_interval_s`.

A step lists the EdgeNodes (fresh from the API, so its own last writes are in), plans the site
(`waves.plan_site`), annotates nodes whose upgrade failed (the budget counts annotations, which the
agent's credential cannot touch), undrains the finished nodes it drained itself, and gives the
next nodes their target version (draining them first, with its owner annotation, when
`drain_for_upgrade` is on). One step per site
runs at a time in this process; only the active replica runs steps (kopf peering pauses daemons).
The last plan per site is kept for the nodes' Upgraded condition (halted or waiting).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Mapping
from typing import Any

import kopf
import pydantic
from lightkube import AsyncClient
from lightkube.generic_resource import create_global_resource
from lightkube.types import PatchType

from meridian.core import events
from meridian.core.api.v1alpha1 import GROUP, VERSION, edgenode
from meridian.operators.edge import heartbeat, metrics, observe, reasons, waves
from meridian.operators.edge.settings import EdgeNodeSettings

RESOURCE = create_global_resource(GROUP, VERSION, edgenode.KIND.kind, edgenode.KIND.plural)
STATUS = RESOURCE.Status


def view(
    body: Mapping[str, Any],
    book: heartbeat.Book,
    now: datetime.datetime,
    settings: EdgeNodeSettings,
) -> waves.NodeView | None:
    """The planner's view of one EdgeNode (None when its spec is invalid)."""
    meta = body.get("metadata") or {}
    try:
        spec = edgenode.EdgeNodeSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError:
        return None
    status = body.get("status") or {}
    upgrade = status.get("upgrade") or {}
    annotations = meta.get("annotations") or {}
    verdict = heartbeat.assess(
        book.get(edgenode.lease_name(meta["name"])),
        now,
        settings.grace_for(spec.site),
        ready_before=heartbeat.was_ready(status),
    )
    return waves.NodeView(
        name=meta["name"],
        site=spec.site,
        desired=spec.agent_version,
        reported=status.get("agentVersion"),
        ready=verdict.ready.status == "True",
        target=upgrade.get("targetVersion"),
        phase=upgrade.get("phase"),
        failed_version=annotations.get(edgenode.UPGRADE_FAILED_ANNOTATION),
        held=observe.hold(spec, annotations, now) is not None,
        drained_by_operator=annotations.get(edgenode.DRAINED_BY_ANNOTATION)
        == edgenode.OPERATOR_OWNER,
        started=_time(upgrade.get("startedTime")),
    )


def _time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return heartbeat.parse_time(value)
    except ValueError:
        return None


def _stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Waves:
    """The wave state this process keeps: only caches of what the API holds."""

    def __init__(self, settings: EdgeNodeSettings, book: heartbeat.Book) -> None:
        self._settings, self._book = settings, book
        self._plans: dict[str, waves.SitePlan] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    def halted(self, site: str) -> bool:
        plan = self._plans.get(site)
        return bool(plan and plan.halted)

    async def maybe_step(self, api: AsyncClient, site: str, logger: kopf.Logger) -> None:
        """Plan `site` unless another node's watcher did within the interval."""
        lock = self._locks.setdefault(site, asyncio.Lock())
        if (
            lock.locked()
            or time.monotonic() - self._last.get(site, 0.0) < self._settings.wave_interval_s
        ):
            return
        async with lock:
            self._last[site] = time.monotonic()
            await self.step(api, site, logger)

    async def step(self, api: AsyncClient, site: str, logger: kopf.Logger) -> waves.SitePlan:
        now = datetime.datetime.now(datetime.UTC)
        bodies = {}
        views = []
        async for item in api.list(RESOURCE):
            body: dict[str, Any] = item.to_dict()  # type: ignore[no-untyped-call]
            found = view(body, self._book, now, self._settings)
            if found is not None and found.site == site:
                views.append(found)
                bodies[found.name] = body
        plan = waves.plan_site(
            site,
            views,
            max_unavailable=self._settings.max_unavailable_for(site),
            failure_budget=self._settings.failure_budget_for(site),
            now=now,
            timeout_s=self._settings.upgrade_timeout_for(site),
        )
        was_halted = self.halted(site)
        self._plans[site] = plan
        desired = {node.name: node.desired for node in views}
        for name in plan.newly_failed:
            marks = {edgenode.UPGRADE_FAILED_ANNOTATION: desired[name]}
            if name in plan.timed_out:
                marks[edgenode.UPGRADE_TIMED_OUT_ANNOTATION] = desired[name]
            patch = {"metadata": {"annotations": marks}}
            await api.patch(RESOURCE, name, patch, patch_type=PatchType.MERGE)
            if name in plan.timed_out:
                await self._timed_out(api, site, bodies[name], desired[name], logger)
        for name in plan.release:
            undrain = {
                "metadata": {"annotations": {edgenode.DRAINED_BY_ANNOTATION: None}},
                "spec": {"drain": False},
            }
            await api.patch(RESOURCE, name, undrain, patch_type=PatchType.MERGE)
            logger.info("Node undrained", extra={"node": name, "site": site})
        for name in plan.start:
            if self._settings.drain_for_upgrade and not bodies[name]["spec"].get("drain"):
                drain = {
                    "metadata": {
                        "annotations": {edgenode.DRAINED_BY_ANNOTATION: edgenode.OPERATOR_OWNER}
                    },
                    "spec": {"drain": True},
                }
                await api.patch(RESOURCE, name, drain, patch_type=PatchType.MERGE)
            # Pending asks the agent to run it even if it failed this version before (a resumed
            # wave's retry); the agent reports Running as soon as it starts.
            upgrade: dict[str, str | None] = {
                "targetVersion": desired[name],
                "phase": "Pending",
                "message": None,
                "startedTime": _stamp(now),
            }
            await api.patch(
                STATUS, name, {"status": {"upgrade": upgrade}}, patch_type=PatchType.MERGE
            )
            metrics.UPGRADES_STARTED.labels(site).inc()
            logger.info(
                "Upgrade started", extra={"node": name, "site": site, "version": desired[name]}
            )
            await events.post(
                api,
                bodies[name],
                type="Normal",
                reason=reasons.UPGRADE_STARTED,
                message=f"Upgrade to {desired[name]} started (site {site}: {plan.unavailable} of "
                f"{self._settings.max_unavailable_for(site)} unavailable before it)",
            )
        if plan.halted and not was_halted:
            logger.warning("Wave halted", extra={"site": site, "failed": plan.failed})
        metrics.WAVE_HALTED.labels(site).set(1 if plan.halted else 0)
        return plan

    async def _timed_out(
        self,
        api: AsyncClient,
        site: str,
        body: dict[str, Any],
        version: str,
        logger: kopf.Logger,
    ) -> None:
        timeout_s = self._settings.upgrade_timeout_for(site)
        name = body["metadata"]["name"]
        metrics.UPGRADE_TIMEOUTS.labels(site).inc()
        logger.warning("Upgrade timed out", extra={"node": name, "site": site, "version": version})
        await events.post(
            api,
            body,
            type="Warning",
            reason=reasons.UPGRADE_TIMED_OUT,
            message=f"Upgrade to {version} counted as failed: the agent did not report it Ready "
            f"within {timeout_s:g} s (it counts against site {site}'s failure budget)",
        )
