"""OCI archives written without Docker: reproducible layers and an index that names the image."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from meridian.localplatform import ociarchive


def test_the_same_files_make_the_same_layer() -> None:
    files = {"/bin/app": ociarchive.File(b"\x7fELF", 0o755), "/etc/motd": ociarchive.File(b"hi")}
    assert ociarchive.layer(files) == ociarchive.layer(dict(reversed(files.items())))
    assert ociarchive.layer(files) != ociarchive.layer({"/etc/motd": ociarchive.File(b"hi")})


def test_archive_names_the_image_and_holds_every_blob(tmp_path: Path) -> None:
    layer = ociarchive.layer({"/pause": ociarchive.File(b"binary", 0o755)})
    out = tmp_path / "image.tar"
    digest = ociarchive.write(
        out, ref="meridian.local/pause:1", layers=[layer], entrypoint=["/pause"]
    )
    with tarfile.open(out) as archive:
        names = set(archive.getnames())
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
        manifest = json.load(archive.extractfile(f"blobs/sha256/{digest[7:]}"))  # type: ignore[arg-type]
        config = json.load(archive.extractfile(f"blobs/sha256/{manifest['config']['digest'][7:]}"))  # type: ignore[arg-type]
    entry = index["manifests"][0]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == "meridian.local/pause:1"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1"
    assert {f"blobs/sha256/{blob['digest'][7:]}" for blob in manifest["layers"]} <= names
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
