"""OCI image archives written with the standard library: no Docker, no registry, no pull.

An archive is what `ctr images import` reads: `oci-layout`, `index.json` naming the image, and
content-addressed blobs (uncompressed tar layers, the image config, the manifest). Layers are
made reproducibly (zero mtimes, root owner) so the same files always give the same digest and
containerd stores a shared layer once. Used by `pauseimage`, `baseimage` and `imagebuild` (the service images).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


class File(NamedTuple):
    data: bytes
    mode: int = 0o644


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    archive.addfile(info, io.BytesIO(data))


def layer(files: Mapping[str, File]) -> bytes:
    """An uncompressed tar layer holding `files` (path inside the image -> content, mode)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(files):
            _add(archive, path.lstrip("/"), files[path].data, files[path].mode)
    return buffer.getvalue()


def _descriptor(media_type: str, blob: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(blob), "size": len(blob)}


def write(
    out: Path,
    *,
    ref: str,
    layers: Sequence[bytes],
    entrypoint: Sequence[str],
    user: str = "",
    env: Sequence[str] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    workdir: str = "",
) -> str:
    """Write the image `ref` (e.g. `meridian.local/pause:1`) to `out`; returns its manifest digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": list(entrypoint),
                "Env": list(env),
                "User": user,
                **({"WorkingDir": workdir} if workdir else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [_digest(blob) for blob in layers]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": _descriptor(CONFIG, config),
            "layers": [_descriptor(LAYER, blob) for blob in layers],
        },
        sort_keys=True,
    ).encode()
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    entry = _descriptor(MANIFEST, manifest)
    entry["annotations"] = {
        "io.containerd.image.name": ref,
        "org.opencontainers.image.ref.name": tag,
    }
    index = json.dumps({"schemaVersion": 2, "manifests": [entry]}, sort_keys=True).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(archive, "index.json", index)
        for blob in {_digest(blob): blob for blob in (*layers, config, manifest)}.values():
            _add(archive, "blobs/sha256/" + _digest(blob).removeprefix("sha256:"), blob)
    partial.replace(out)
    return str(entry["digest"])
