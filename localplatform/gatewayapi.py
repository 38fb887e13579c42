"""The Kubernetes Gateway API's standard-channel CRDs, from the pinned `sigs.k8s.io/gateway-api`.

The ServiceRelease operator writes HTTPRoutes (the canary's exact weights), so every cluster the
platform starts has the CRDs, as a production cluster gets them from the project's release. They
come out of the Go module itself (`go mod download`, then `config/crd/standard/*.yaml`), cached
under `~/.cache/meridian/tools/gateway-api-<version>/` like the Go builds: fetched once per
version, never at start-up.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from meridian.localplatform import gobuild, processes, versions

MODULE = "sigs.k8s.io/gateway-api"
CHANNEL_DIR = "config/crd/standard"


def crds_dir() -> Path:
    return gobuild.cache_base() / "tools" / f"gateway-api-{versions.GATEWAY_API}"


def ensure_downloaded() -> Path:
    """The folder of the standard channel's CRD files; downloaded once per version."""
    out = crds_dir()
    if any(out.glob("*.yaml")):
        return out
    work = gobuild.cache_base() / "src" / "gateway-api"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module meridian.local/build/gateway-api\n\ngo 1.26.0\n")
    info = json.loads(
        processes.run_checked(
            ["go", "mod", "download", "-json", f"{MODULE}@{versions.GATEWAY_API}"],
            cwd=work,
            env=gobuild.go_env(),
        )
    )
    source = Path(info["Dir"]) / CHANNEL_DIR
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for crd in sorted(source.glob("gateway.networking.k8s.io_*.yaml")):
        shutil.copyfile(crd, staging / crd.name)
    staging.rename(out)  # all files or none: a half copy is never taken for the cache
    return out
