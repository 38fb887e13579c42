"""The endpoint's signing secrets, read from the files of a mounted Secret and re-read when a
file changes, so a rotation (Kubernetes swaps the mounted files) needs no restart.

The current secret comes first; the previous one, during a rotation's overlap, second (an absent
or empty previous file means no rotation is under way). A missing or empty current file fails the
readiness check "signing-secret" rather than refusing every event as a bad signature: a
misconfigured endpoint must not look like an attack.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


class Secrets:
    def __init__(self, current: Path, previous: Path | None = None) -> None:
        self.current_path = current
        self.previous_path = previous
        self._cache: dict[Path, tuple[int, str]] = {}

    def _read(self, path: Path) -> str:
        changed = path.stat().st_mtime_ns
        cached = self._cache.get(path)
        if cached is not None and cached[0] == changed:
            return cached[1]
        value = path.read_text().strip()
        if not value:
            raise ValueError(f"signing secret file {path} is empty")
        self._cache[path] = (changed, value)
        return value

    def accepted(self) -> list[str]:
        """Every accepted secret, current first; OSError/ValueError when the current is unreadable."""
        secrets = [self._read(self.current_path)]
        if self.previous_path is not None:
            with contextlib.suppress(OSError, ValueError):  # absent: no rotation under way
                secrets.append(self._read(self.previous_path))
        return secrets

    async def check(self) -> None:
        """Readiness: the current secret's file is there and not empty."""
        self._read(self.current_path)
