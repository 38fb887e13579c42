"""What the agent keeps on disk in its state dir, so it can work (and restart) while offline.

`desired.json` is the last EdgeNode spec read from the API: after a reboot without network the
agent applies it rather than nothing. `applied.json` is what it applied (hash, error) and how the
last upgrade it ran ended, so a restart neither re-applies nor re-runs an upgrade that failed.
`last-good` holds the config file that last passed validation and reload: the rollback target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from meridian.edge_agent import files


class Desired(BaseModel):
    """The part of the EdgeNode the agent acts on."""

    model_config = ConfigDict(frozen=True)

    config: dict[str, str] = {}
    target_version: str | None = None
    # The operator's Held=True (drain, or outside every maintenance window): a config different
    # from the one applied waits. Cached with the rest, so an offline node keeps holding.
    held: bool = False


class Applied(BaseModel):
    model_config = ConfigDict(frozen=True)

    config_hash: str | None = None
    config_error: str | None = None
    # The desired config that failed: not validated again every sync until the spec changes.
    failed_config_hash: str | None = None
    # The last upgrade the agent attempted, and how it ended (Running, Succeeded, Failed).
    upgrade_target: str | None = None
    upgrade_phase: str | None = None
    upgrade_message: str | None = None


class StateDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_good = path / "last-good"

    def _load(self, name: str) -> dict[str, Any] | None:
        raw = files.read_or_none(self.path / name)
        if raw is None:
            return None
        try:
            loaded = json.loads(raw)
        except ValueError:
            return None  # torn by hand or by a bug: start from nothing rather than not at all
        return loaded if isinstance(loaded, dict) else None

    def _save(self, name: str, model: BaseModel) -> None:
        files.atomic_write(self.path / name, model.model_dump_json().encode(), mode=0o600)

    def desired(self) -> Desired | None:
        data = self._load("desired.json")
        return Desired.model_validate(data) if data is not None else None

    def save_desired(self, desired: Desired) -> None:
        self._save("desired.json", desired)

    def applied(self) -> Applied:
        data = self._load("applied.json")
        return Applied.model_validate(data) if data is not None else Applied()

    def save_applied(self, applied: Applied) -> None:
        self._save("applied.json", applied)
