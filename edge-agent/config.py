"""Applying the desired configuration: render, swap in atomically, validate, reload, or roll back.

The cache config (nginx's, say) is a template whose `{{ key }}`s come from spec.config; values
are substituted as text, never evaluated. The rendered file replaces the live one
atomically, then the validate command checks it where the service reads it and the reload
command makes the service use it. If either fails, the last good file goes back (and is reloaded
when the reload was what failed), so the node keeps serving what it served before.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import NamedTuple

from meridian.core.api.v1alpha1 import edgenode
from meridian.edge_agent import commands, files
from meridian.edge_agent.state import Applied


class Plan(NamedTuple):
    template: Path | None
    target: Path | None
    validate: list[str]
    reload: list[str]
    timeout_s: float
    last_good: Path


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def render(template: str, config: dict[str, str]) -> str:
    """The template with every `{{ key }}` replaced by spec.config[key], as text. `$` is left
    alone (nginx's own variables); a key the template needs but the config lacks is an error,
    so a half-rendered file never reaches validation."""
    missing = sorted({key for key in _PLACEHOLDER.findall(template) if key not in config})
    if missing:
        raise ValueError(
            f"config template needs {', '.join(map(repr, missing))}, absent from spec.config"
        )
    return _PLACEHOLDER.sub(lambda match: config[match.group(1)], template)


async def _write(target: Path, content: bytes | None) -> None:
    """The atomic write (or removal) in a thread: its fsyncs must not stall the event loop."""
    if content is None:
        await asyncio.to_thread(target.unlink, missing_ok=True)
    else:
        await asyncio.to_thread(files.atomic_write, target, content)


async def apply(plan: Plan, config: dict[str, str], applied: Applied) -> Applied:
    """Bring the live config to `config`; returns what is applied now (hash, error)."""
    desired = edgenode.config_hash(config)
    if plan.template is None or plan.target is None:
        if config:
            return applied.model_copy(
                update={"config_error": "spec.config is set but this node has no config template"}
            )
        return applied.model_copy(update={"config_hash": desired, "config_error": None})
    if desired == applied.failed_config_hash:
        return applied  # known bad; the error stays reported until the spec changes
    try:
        template = plan.template.read_text()
    except OSError as error:  # local and maybe transient: tried again next sync
        return applied.model_copy(update={"config_error": f"config template unreadable: {error}"})
    try:
        rendered = render(template, config).encode()
    except ValueError as error:
        return _failed(applied, desired, str(error))
    live = files.read_or_none(plan.target)
    if desired == applied.config_hash and live == rendered:
        return applied
    rollback = files.read_or_none(plan.last_good)
    if rollback is None:
        rollback = live  # what the install put there before the agent ever applied anything
    await _write(plan.target, rendered)
    validated = await commands.run(plan.validate, timeout_s=plan.timeout_s)
    if not validated.ok:
        await _write(plan.target, rollback)
        return _failed(
            applied, desired, f"validation failed, last good config kept: {validated.detail}"
        )
    reloaded = await commands.run(plan.reload, timeout_s=plan.timeout_s)
    if not reloaded.ok:
        await _write(plan.target, rollback)
        await commands.run(plan.reload, timeout_s=plan.timeout_s)
        return _failed(
            applied, desired, f"reload failed, last good config restored: {reloaded.detail}"
        )
    await _write(plan.last_good, rendered)
    return applied.model_copy(
        update={"config_hash": desired, "config_error": None, "failed_config_hash": None}
    )


def _failed(applied: Applied, desired: str, error: str) -> Applied:
    return applied.model_copy(update={"config_error": error, "failed_config_hash": desired})
