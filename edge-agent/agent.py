"""One edge node's agent: two loops over one API client, many agents per process if need be.

The heartbeat loop renews the node's Lease every `lease_interval_s`, backing off with full jitter
on errors (never slower than the interval, so a returning API server sees the node within one
interval). The sync loop reads the EdgeNode (or, offline, the desired state cached in the state
dir), applies its config, runs an upgrade when asked and writes status when it changed or is due.
They are separate so a long reload or upgrade never delays a renewal. Nothing here is global:
the benchmark runs 1,000 `Agent`s in one process, each with its own client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import random
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx2
from lightkube import AsyncClient
from lightkube.types import PatchType

from meridian.core import kube
from meridian.core.api.v1alpha1.edgenode import config_hash
from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import resilience
from meridian.edge_agent import config, facts, heartbeat, report, stubstatus, upgrade
from meridian.edge_agent.settings import AgentSettings
from meridian.edge_agent.state import Applied, Desired, StateDir

log = meridian_logging.get_logger("meridian.edge_agent")

EDGE_NODE = kube.RESOURCES["EdgeNode"]

# The operator's condition holding config pushes (and upgrades, which it gates itself).
HELD_CONDITION = "Held"

# What "the API server is unreachable or said no" looks like: keep going from the cache.
API_ERRORS: tuple[type[BaseException], ...] = (httpx2.HTTPError, OSError, TimeoutError)


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        client: AsyncClient,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.node = settings.node
        self._client = client
        self._rng = rng
        self._stopping = asyncio.Event()
        self._heartbeat = heartbeat.Heartbeat(client, settings.node)
        self.state = StateDir(settings.state_dir)
        self.applied = self.state.applied()
        self._plan = config.Plan(
            template=settings.config_template,
            target=settings.config_path,
            validate=settings.validate_command,
            reload=settings.reload_command,
            timeout_s=settings.command_timeout_s,
            last_good=self.state.last_good,
        )
        self._facts: dict[str, Any] | None = None
        self._session: aiohttp.ClientSession | None = None
        # What tests, the benchmark and logs read: how the node is doing.
        self.renewals = 0
        self.renewal_failures = 0
        self.status_writes = 0
        self.online = False
        self.synced = asyncio.Event()
        # Set when this process installed a new version: the daemon exits so its supervisor
        # (systemd, Restart=always) starts the new code; an embedding process may ignore it.
        self.restart_requested = asyncio.Event()

    def version(self) -> str:
        """The running version: the version file the install and upgrades write, else the
        setting."""
        path = self.settings.version_file
        if path is not None:
            with contextlib.suppress(OSError):
                written = path.read_text().strip()
                if written:
                    return written
        return self.settings.version

    def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run(self) -> None:
        """Both loops, until `stop()` (or cancellation)."""
        self._stopping.clear()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._heartbeat_loop(), name=f"heartbeat-{self.node}")
                group.create_task(self._sync_loop(), name=f"sync-{self.node}")
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def _heartbeat_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._heartbeat.renew()
            except API_ERRORS as error:
                self.renewal_failures += 1
                delay = resilience.backoff(
                    failures,
                    base=self.settings.retry_base_s,
                    cap=self.settings.lease_interval_s,
                    rng=self._rng,
                )
                failures += 1
                log.warning(
                    "Lease renewal failed", node=self.node, error=_describe(error), retry_in=delay
                )
            else:
                self.renewals += 1
                failures = 0
                delay = self.settings.lease_interval_s
            await self._pause(delay)

    async def _sync_loop(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                await self.sync()
            except Exception:
                log.exception("Sync failed", node=self.node)
            # Half an interval out of step with the renewals after the first pass: the two
            # requests then take turns on one kept-alive connection instead of opening two
            # (at fleet scale, one TLS connection per node rather than two).
            offset = self.settings.sync_interval_s / 2 if first else 0.0
            first = False
            await self._pause(self.settings.sync_interval_s + offset)

    async def _read(self) -> tuple[Desired | None, dict[str, Any] | None]:
        """The desired state and the server's status; offline, the cached desired state."""
        try:
            node = await self._client.get(EDGE_NODE, self.node)
        except API_ERRORS as error:
            if self.online:
                log.warning(
                    "EdgeNode unreachable; working from cache",
                    node=self.node,
                    error=_describe(error),
                )
            self.online = False
            return self.state.desired(), None
        self.online = True
        spec, status = _mapping(node.spec), _mapping(node.status)
        desired = Desired(
            config=_mapping(spec.get("config")),
            target_version=_mapping(status.get("upgrade")).get("targetVersion"),
            held=any(
                _mapping(c).get("type") == HELD_CONDITION and _mapping(c).get("status") == "True"
                for c in status.get("conditions") or []
            ),
        )
        if desired != self.state.desired():
            await asyncio.to_thread(self.state.save_desired, desired)
        return desired, status

    async def _keep(self, applied: Applied) -> None:
        """Adopt and persist `applied`; the fsyncs run in a thread, so 1,000 agents in one
        process never stall each other's renewals on a slow disk."""
        if applied.config_error and applied.config_error != self.applied.config_error:
            log.warning("Config not applied", node=self.node, error=applied.config_error)
        elif applied.config_hash != self.applied.config_hash:
            log.info("Config applied", node=self.node, hash=applied.config_hash)
        if applied != self.applied:
            await asyncio.to_thread(self.state.save_applied, applied)
            self.applied = applied

    async def sync(self) -> None:
        """One pass: read, apply config, upgrade if asked, report if due."""
        desired, status = await self._read()
        if desired is not None:
            if self._holds(desired):
                log.debug("Config change held", node=self.node)
            else:
                await self._keep(await config.apply(self._plan, desired.config, self.applied))
            await self._upgrade(desired.target_version, status)
        if status is not None:
            await self._report(status)
        self.synced.set()

    def _holds(self, desired: Desired) -> bool:
        """Held (drain or outside the maintenance windows) keeps a new config waiting; a node
        that has applied none yet takes its first (as installed), and the applied one is still
        re-rendered if the live file drifted."""
        applied = self.applied.config_hash
        return desired.held and applied is not None and applied != config_hash(desired.config)

    async def _upgrade(self, target: str | None, status: dict[str, Any] | None) -> None:
        asked_again = _mapping((status or {}).get("upgrade")).get("phase") == upgrade.PENDING
        decided = upgrade.pending(target, self.version(), self.applied, retry=asked_again)
        if decided is not None:
            await self._keep(decided)
            return
        assert target is not None

        async def started(running: Applied) -> None:
            await self._keep(running)
            log.info("Upgrade started", node=self.node, version=target)
            if status is not None:
                await self._report(status, force=True)

        await self._keep(
            await upgrade.run(
                target,
                self.applied,
                command=self.settings.upgrade_command,
                timeout_s=self.settings.upgrade_timeout_s,
                version=self.version,
                started=started,
            )
        )
        if self.applied.upgrade_phase == upgrade.SUCCEEDED:
            self.restart_requested.set()
        log.info(
            "Upgrade ended",
            node=self.node,
            version=target,
            phase=self.applied.upgrade_phase,
            message=self.applied.upgrade_message,
        )

    def _current_facts(self) -> dict[str, Any]:
        if self._facts is None:
            self._facts = facts.facts()
        return self._facts

    async def _metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"load1": round(facts.load1(), 2)}
        free = facts.disk_free_bytes(self.settings.disk_path)
        if free is not None:
            metrics["diskFreeBytes"] = free
        url = self.settings.stub_status_url
        if url:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
            try:
                page = await stubstatus.fetch(self._session, url)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("stub_status unreadable", node=self.node, error=_describe(error))
            else:
                if page.cache_hit_ratio is not None:
                    metrics["cacheHitRatio"] = round(page.cache_hit_ratio, 4)
        return metrics

    async def _report(self, status: dict[str, Any], *, force: bool = False) -> None:
        now = datetime.datetime.now(datetime.UTC)
        body = report.body(
            version=self.version(), applied=self.applied, facts=self._current_facts()
        )
        if not force and not report.due(
            body, status, now=now, interval_s=self.settings.report_interval_s
        ):
            return
        self._facts = None  # re-gathered for the next report
        patch = report.patch(body, await self._metrics(), now=now)
        try:
            await self._client.patch(EDGE_NODE.Status, self.node, patch, patch_type=PatchType.MERGE)
        except API_ERRORS as error:
            log.warning("Status write failed", node=self.node, error=_describe(error))
            return
        self.status_writes += 1


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]
