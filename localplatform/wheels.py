"""The runtime wheels layer of every service image: pyproject's dependencies, no dev extras.

`pip install --target` with `imagespec.PIP_TARGET_ARGS` picks cp311 manylinux wheels for
Debian's python3, whichever Python runs pip (the venv's here, Debian's in the Dockerfile). The
layer is cached under `~/.cache/meridian/images/` by what decides it (the requirements and pip's
arguments), so it is downloaded once and all five services share one layer digest. PyPI is
reached at build time only; a running pod never routes out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from meridian.localplatform import gobuild, imagespec, ociarchive, processes


def _key() -> str:
    inputs = "\n".join([*imagespec.image_requirements(), *imagespec.PIP_TARGET_ARGS])
    return hashlib.sha256(inputs.encode()).hexdigest()[:12]


def tree_layer(root: Path, under: str) -> bytes:
    """A reproducible layer of every file below `root` at `under` (bytecode caches left out)."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        files[f"{under}/{path.relative_to(root)}"] = ociarchive.File(path.read_bytes(), mode)
    return ociarchive.layer(files)


def layer() -> Path:
    """The wheels layer as a tar file (built when missing: a download of about a minute)."""
    out = gobuild.cache_base() / "images" / f"wheels-cp311-{_key()}.layer.tar"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="meridian-wheels-") as scratch:
        target = Path(scratch) / "deps"
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(imagespec.image_requirements()) + "\n")
        processes.run_checked(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-cache-dir",
                f"--target={target}",
                *imagespec.PIP_TARGET_ARGS,
                f"--requirement={requirements}",
            ]
        )
        shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts for pip's Python
        partial = out.with_suffix(".partial")
        partial.write_bytes(tree_layer(target, imagespec.DEPS.lstrip("/")))
    partial.replace(out)
    size = out.stat().st_size / 2**20
    print(f"built {out.name} ({size:.0f} MiB) in {time.monotonic() - started:.0f} s", flush=True)
    return out
