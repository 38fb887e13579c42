"""The image cache is shared by every worktree of the machine: a build prunes only unused archives."""

from __future__ import annotations

import os
import time
from pathlib import Path

from meridian.localplatform import imagebuild


def test_a_build_prunes_old_archives_of_its_service_and_keeps_fresh_ones(tmp_path: Path) -> None:
    fresh = tmp_path / "orders-aaaaaaaaaaaa.oci.tar"  # another worktree's, built a moment ago
    old = tmp_path / "orders-bbbbbbbbbbbb.oci.tar"
    other = tmp_path / "auth-cccccccccccc.oci.tar"
    for path in (fresh, old, other):
        path.write_bytes(b"archive")
    hours_ago = time.time() - 2 * imagebuild.STALE_AFTER_S
    for path in (old, other):
        os.utime(path, (hours_ago, hours_ago))
    imagebuild._prune(tmp_path, "orders")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([fresh.name, other.name])
