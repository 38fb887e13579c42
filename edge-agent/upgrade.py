"""Upgrading the agent when the operator asks: decide, run the command, say how it went.

The operator writes status.upgrade.targetVersion when the node's turn in its site's wave comes.
The agent runs `upgrade_command + [targetVersion]` (one argument, never a shell word), reporting
Running before and Succeeded or Failed after. Succeeded means the node now reports the target
version (the install writes the agent's version file); a command that exits 0 but leaves the
old version is a failure. A failed or interrupted upgrade is not retried for the same target
until the operator asks again by setting upgrade.phase to Pending (its failure budget decides,
and a person resumes); a new target is always tried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from meridian.edge_agent import commands
from meridian.edge_agent.state import Applied

RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"


def _ended(applied: Applied, target: str, phase: str, message: str) -> Applied:
    return applied.model_copy(
        update={"upgrade_target": target, "upgrade_phase": phase, "upgrade_message": message}
    )


PENDING = "Pending"


def pending(
    target: str | None, version: str, applied: Applied, *, retry: bool = False
) -> Applied | None:
    """What the upgrade record becomes without running anything, or None when the command must
    run now. Returns `applied` itself when there is nothing to do. `retry`: the operator set
    upgrade.phase to Pending, asking for another attempt at the same target."""
    if target is None:
        return applied
    if target == version:
        if applied.upgrade_target == target and applied.upgrade_phase == SUCCEEDED:
            return applied
        return _ended(applied, target, SUCCEEDED, f"Running version {version}")
    if applied.upgrade_target == target and not retry:
        if applied.upgrade_phase == RUNNING:
            # Only a restart mid-command leaves Running behind: the command may have half-run.
            return _ended(
                applied, target, FAILED, f"Upgrade to {target} was interrupted; not retried"
            )
        if applied.upgrade_phase == FAILED:
            return applied
    return None


async def run(
    target: str,
    applied: Applied,
    *,
    command: list[str],
    timeout_s: float,
    version: Callable[[], str],
    started: Callable[[Applied], Awaitable[None]],
) -> Applied:
    """Run the upgrade to `target`; `started` is told (and persists, reports) Running first."""
    if not command:
        return _ended(applied, target, FAILED, "No upgrade command is configured on this node")
    running = _ended(applied, target, RUNNING, f"Upgrading from {version()} to {target}")
    await started(running)
    result = await commands.run([*command, target], timeout_s=timeout_s)
    if not result.ok:
        return _ended(running, target, FAILED, result.detail)
    now = version()
    if now != target:
        return _ended(
            running, target, FAILED, f"Upgrade command succeeded but the version is still {now}"
        )
    return _ended(running, target, SUCCEEDED, f"Running version {target}")
