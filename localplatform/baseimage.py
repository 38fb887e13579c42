"""A Debian base image made once with mmdebstrap from Debian's mirror, written as an OCI archive.

`python3` on Debian's `minbase`: what the service images will stand on (Debian's Python runs the
cp311 wheels of the project's venv). Cached under `~/.cache/meridian/images/` by everything that
decides its content (suite, mirror, packages), so it is built once per machine; a rootfs tarball
is the layer as it is. Nothing is pulled from a registry.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from meridian.localplatform import gobuild, ociarchive, processes

SUITE = "bookworm"
POINT_RELEASE = "12.15"
"""The release the pins below come from; `deploy/Dockerfile` starts from `debian:<this>-slim`."""
MIRROR = "http://deb.debian.org/debian"
"""snapshot.debian.org does not resolve from our machines, so the pin is the package versions:
when the mirror moves past them, the build fails instead of changing the image."""
PACKAGES = ("python3=3.11.2-1+b1", "python3.11=3.11.2-6+deb12u8")
REF = "meridian.local/debian-python3:bookworm"


def _key() -> str:
    return hashlib.sha256(f"{SUITE} {MIRROR} {' '.join(PACKAGES)}".encode()).hexdigest()[:12]


def rootfs() -> Path:
    """The base rootfs as a tarball (the layer itself); about a minute the first time."""
    out = gobuild.cache_base() / "images" / f"debian-{SUITE}-{_key()}.rootfs.tar"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.tar")
    started = time.monotonic()
    processes.run_checked(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            # Only what runs: no docs, man pages or apt lists in the image.
            *(
                f"--dpkgopt=path-exclude=/usr/share/{name}/*"
                for name in ("doc", "man", "info", "locale")
            ),
            "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
            SUITE,
            str(partial),
            MIRROR,
        ],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SOURCE_DATE_EPOCH": "0"},
    )
    partial.replace(out)
    print(f"built {out.name} in {time.monotonic() - started:.0f} s", flush=True)
    return out


def image(ref: str, *, extra: dict[str, ociarchive.File], entrypoint: list[str]) -> Path:
    """An image of the base plus one small layer of `extra` files, run as `nobody`."""
    base = rootfs()
    top = ociarchive.layer(extra)
    digest = hashlib.sha256(base.name.encode() + top + ref.encode() + str(entrypoint).encode())
    out = base.parent / f"{ref.replace('/', '_').replace(':', '_')}-{digest.hexdigest()[:12]}.tar"
    if not out.exists():
        ociarchive.write(
            out, ref=ref, layers=[base.read_bytes(), top], entrypoint=entrypoint, user="65534"
        )
    return out
