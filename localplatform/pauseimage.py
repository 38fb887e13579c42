"""The pause image: containerd's sandbox image on a real node, built here from `images/pause.c`.

A static binary from the machine's gcc in a one-file OCI archive, cached by the source's digest
under `~/.cache/meridian/images/`. Test pods run it too: with arguments it prints them, then
sleeps until SIGTERM, which makes it the smallest image whose logs say something.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from meridian.localplatform import gobuild, ociarchive, processes

SOURCE = Path(__file__).parent / "images" / "pause.c"
REF = "meridian.local/pause:1"


def ensure_built() -> Path:
    """The archive for `REF`, compiled and written when the source changed (about a second)."""
    source = SOURCE.read_bytes()
    out = gobuild.cache_base() / "images" / f"pause-{hashlib.sha256(source).hexdigest()[:12]}.tar"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    binary = out.with_suffix(".bin")
    processes.run_checked(["gcc", "-Os", "-static", "-s", "-o", str(binary), str(SOURCE)])
    files = {"/pause": ociarchive.File(binary.read_bytes(), 0o755)}
    ociarchive.write(out, ref=REF, layers=[ociarchive.layer(files)], entrypoint=["/pause"])
    binary.unlink()
    return out
