"""The audit controller in kopf: a background loop started with the operator and stopped with it.

It audits at start, every `interval_s`, and at once when the modes ConfigMap's data changes
(read every `modes_poll_s` with a `get` of that one object, so its RBAC needs no cluster-wide
ConfigMap watch). A failed pass is logged and counted, and the next one retries. A change of the
ConfigMap also rewrites the in-apiserver policies' bindings, so a mode edited by hand (not through
`kubectl meridian policy`) reaches the apiserver too: the ConfigMap stays the one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import kopf
from lightkube import ApiError, AsyncClient

from meridian.core import kube
from meridian.core.policy import modes as policy_modes
from meridian.core.policy.catalogue import Mode
from meridian.core.runtime import logging as meridian_logging
from meridian.operators.machinery.settings import OperatorSettings
from meridian.operators.policy import audit
from meridian.operators.policy.settings import PolicySettings

log = meridian_logging.get_logger("meridian.operators.policy")


async def run(settings: PolicySettings, stop: asyncio.Event) -> None:
    api = kube.client(field_manager="meridian-policy-audit")
    auditor = audit.Auditor(api, settings)
    last_data: dict[str, str] | None = None
    next_scan = 0.0  # the first pass runs at once
    try:
        while not stop.is_set():
            try:
                data, live = await audit.modes(api)
                changed = data != last_data
                if changed or time.monotonic() >= next_scan:
                    if changed:
                        log.info("Policy modes changed: auditing now")
                        await _follow_modes(api, live)
                    last_data = data
                    await auditor.run_once()
                    audit.SCANS.labels(result="ok").inc()
                    next_scan = time.monotonic() + settings.interval_s
            except Exception:
                audit.SCANS.labels(result="error").inc()
                log.exception("Audit failed")
                next_scan = time.monotonic() + settings.modes_poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.modes_poll_s)
    finally:
        await api.close()


async def _follow_modes(api: AsyncClient, live: dict[str, Mode]) -> None:
    """Bring the bindings to the live modes; a failure is logged and never blocks the audit."""
    try:
        await policy_modes.apply_bindings(api, live)
    except ApiError as error:
        audit.SCANS.labels(result="bindings-error").inc()
        log.error("Policy bindings not rewritten", error=str(error.status.message))


def register(
    registry: kopf.OperatorRegistry, _process: OperatorSettings, settings: PolicySettings
) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start(**_: Any) -> None:
        stop.clear()
        tasks.append(asyncio.create_task(run(settings, stop), name="policy-audit"))

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()
