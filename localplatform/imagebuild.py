"""The service images built without Docker: the same image `deploy/Dockerfile` describes.

Three layers: the Debian python3 base (`baseimage`), the runtime wheels (`wheels`, one digest for
every service) and the code (`imagespec.CODE`). Each image is written as an OCI archive under
`~/.cache/meridian/images/` and named `ghcr.io/meridian/<service>:<version>-<digest>`, the digest
being of everything the image is made of, so an unchanged service keeps its tag and its archive
and `meridian dev images` (`make images`) rebuilds only what changed. `ensure_imported` loads the
images a real node lacks into its containerd (`make up` with a real node calls it).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from meridian.localplatform import baseimage, gobuild, imagespec, ociarchive, realnode, wheels


class Built(NamedTuple):
    service: str
    ref: str
    archive: Path
    layers: tuple[Path, ...]
    seconds: float

    @property
    def size(self) -> int:
        """Uncompressed size of the image's layers (what the node unpacks)."""
        return sum(layer.stat().st_size for layer in self.layers)


def code_layer(extra: Mapping[str, bytes] | None = None) -> bytes:
    """The `meridian` package as services import it, at `imagespec.APP`, and `extra` files
    (path under it -> content): another image of the same code, for a rollout to a new image."""
    files = {
        f"{imagespec.APP}/{path}": ociarchive.File(content)
        for path, content in (extra or {}).items()
    }
    for source, target in imagespec.CODE:
        path = imagespec.REPO / source
        if path.is_file():
            files[f"{imagespec.APP}/{target}"] = ociarchive.File(path.read_bytes())
            continue
        for file in sorted(path.resolve().rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                relative = file.relative_to(path.resolve())
                files[f"{imagespec.APP}/{target}/{relative}"] = ociarchive.File(file.read_bytes())
    return ociarchive.layer(files)


class Config(NamedTuple):
    """The image config fields the Dockerfile's runtime stage and service targets also set."""

    entrypoint: list[str]
    user: str
    env: list[str]
    workdir: str


def config(service: str) -> Config:
    return Config(
        imagespec.entrypoint(service), imagespec.USER, list(imagespec.ENV), imagespec.WORKDIR
    )


def build(service: str, *, code: bytes | None = None) -> Built:
    """One service's image archive, written unless an identical one exists."""
    started = time.monotonic()
    base, deps = baseimage.rootfs(), wheels.layer()
    code = code_layer() if code is None else code
    folder = gobuild.cache_base() / "images"
    code_path = folder / f"code-{hashlib.sha256(code).hexdigest()[:12]}.layer.tar"
    if not code_path.exists():
        code_path.write_bytes(code)
    image = config(service)
    inputs = json.dumps([base.name, deps.name, code_path.name, image._asdict()]).encode()
    digest = hashlib.sha256(inputs).hexdigest()[:12]
    ref = f"{imagespec.REGISTRY}/{service}:{imagespec.version()}-{digest}"
    archive = folder / f"{service}-{digest}.oci.tar"
    if archive.exists():
        os.utime(archive)  # in use: `_prune` of another worktree's build leaves it alone
    else:
        _prune(folder, service)
        ociarchive.write(
            archive,
            ref=ref,
            layers=[base.read_bytes(), deps.read_bytes(), code],
            entrypoint=image.entrypoint,
            user=image.user,
            env=image.env,
            workdir=image.workdir,
        )
    return Built(service, ref, archive, (base, deps, code_path), time.monotonic() - started)


STALE_AFTER_S = 3600.0
"""An archive no build has used for this long is removed when its service is built anew."""


def _prune(folder: Path, service: str) -> None:
    """The cache does not grow with every edit, yet an archive another worktree built (other
    code, another digest) a moment ago and is about to import stays: only unused ones go."""
    for stale in folder.glob(f"{service}-*.oci.tar"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_AFTER_S:
                stale.unlink()
        except FileNotFoundError:  # pruned by a concurrent build
            pass


def build_all(services: tuple[str, ...] = imagespec.SERVICES) -> list[Built]:
    code = code_layer()
    return [build(service, code=code) for service in services]


def report(built: list[Built]) -> str:
    """One line per image (size, build time) and what the layers shared save."""
    lines = [
        f"{image.ref:48} {image.size / 2**20:6.0f} MiB {image.seconds:6.1f} s" for image in built
    ]
    unique = {layer for image in built for layer in image.layers}
    shared = sum(layer.stat().st_size for layer in unique)
    lines.append(f"{len(built)} images, {shared / 2**20:.0f} MiB of distinct layers")
    return "\n".join(lines)


def refs_on_node(run_dir: Path, cluster: str) -> set[str]:
    return set(realnode.ctr(run_dir, cluster, "images", "ls", "-q").split())


def ensure_imported(
    run_dir: Path, clusters: list[str], services: tuple[str, ...] = imagespec.SERVICES
) -> list[Built]:
    """Build what changed, then import into each cluster's real node the images it lacks
    (of `services`: a test that runs one service imports only its image)."""
    built = build_all(services)
    for cluster in clusters:
        present = refs_on_node(run_dir, cluster)
        for image in built:
            if image.ref not in present:
                started = time.monotonic()
                realnode.import_image(run_dir, cluster, image.archive)
                print(f"imported {image.ref} into {cluster} in {time.monotonic() - started:.1f} s")
    return built


def real_node_clusters(run_dir: Path) -> list[str]:
    """The clusters of this run directory that have a real node started."""
    folder = realnode.nodes_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted(
        node.name.removesuffix("-real-0")
        for node in folder.iterdir()
        if (node / "sandbox.json").exists()
    )
