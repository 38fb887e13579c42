"""Atomic writes leave the old content or the new, and no temp file behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from meridian.edge_agent import files


def test_atomic_write_replaces_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "cache.conf"
    files.atomic_write(target, b"old")
    files.atomic_write(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["cache.conf"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "cache.conf"
    files.atomic_write(target, b"old")

    with pytest.raises(TypeError):
        files.atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.conf"]
