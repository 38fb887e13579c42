"""Builds the platform's Go binaries once, from pinned modules, into the user's cache.

Each tool gets a throwaway wrapper module that requires the pinned upstream module, so `go build`
resolves exactly the versions in `versions.py`. k8s.io/kubernetes is not meant to be required from
outside: its go.mod replaces every `k8s.io/X` with `./staging/src/k8s.io/X`. We read that list from
the module's own go.mod and point each entry at the published `k8s.io/X v0.N.M` instead.
Nothing here runs at platform start-up except the existence check: a warm cache costs nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from meridian.localplatform import processes, versions

_STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/", re.MULTILINE)
_GODEBUG = re.compile(r"^godebug .*$", re.MULTILINE)

BINARIES = tuple(name for tool in versions.GO_TOOLS.values() for name in tool.binaries)


def cache_base() -> Path:
    return Path(
        os.environ.get("MERIDIAN_CACHE_DIR")
        or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "meridian"
        )
    )


def tool_dir(name: str) -> Path:
    """Where one tool's binaries are built: keyed by that tool's version alone."""
    return cache_base() / "tools" / versions.tool_key(name)


def bin_dir() -> Path:
    """The platform's PATH folder: links to every pinned tool's binaries, one folder per pin set."""
    return cache_base() / versions.cache_key() / "bin"


# kwok needs Stage objects to know how fake nodes and pods progress. The defaults that kwokctl
# uses ship inside the pinned module; copy them out at build time so start-up never downloads.
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def kwok_stages_file() -> Path:
    return bin_dir() / KWOK_STAGES_NAME


KWOK_STAGES_NAME = "kwok-stages.yaml"


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if not (bin_dir() / name).exists()]


def _write_kwok_stages(work: Path, out: Path) -> None:
    module_dir = Path(_go(["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], work).strip())
    documents = [(module_dir / stage).read_text().strip() for stage in KWOK_STAGES]
    (out / KWOK_STAGES_NAME).write_text("\n---\n".join(documents) + "\n")


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's go is the toolchain; never let a go.mod line fetch another one.
    env.update({"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"})
    return env


def _go(args: list[str], cwd: Path) -> str:
    return processes.run_checked(["go", *args], cwd=cwd, env=_go_env())


def _upstream_gomod(tool: versions.GoTool, cwd: Path) -> str:
    info = json.loads(_go(["mod", "download", "-json", f"{tool.module}@{tool.version}"], cwd))
    return Path(info["GoMod"]).read_text()


def wrapper_gomod(tool: versions.GoTool, upstream_gomod: str) -> str:
    """The go.mod of the wrapper module: require the tool, and undo its staging replaces."""
    lines = [f"module meridian.local/build/{tool.module.replace('/', '_')}", "", "go 1.26.0", ""]
    godebug = _GODEBUG.search(upstream_gomod)
    if godebug:
        lines += [godebug.group(0), ""]
    lines += [f"require {tool.module} {tool.version}", ""]
    staged = _STAGING_REPLACE.findall(upstream_gomod)
    if staged:
        staging_version = "v0" + tool.version[2:]
        lines.append("replace (")
        lines += [f"\t{mod} => {mod} {staging_version}" for mod in staged]
        lines.append(")")
    return "\n".join(lines) + "\n"


def _ldflags(tool: versions.GoTool) -> str:
    flags = ["-s", "-w"]
    if tool.module == "k8s.io/kubernetes":
        major, minor = tool.version.lstrip("v").split(".")[:2]
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            flags += [
                f"-X {pkg}.gitVersion={tool.version}",
                f"-X {pkg}.gitMajor={major}",
                f"-X {pkg}.gitMinor={minor}",
                f"-X {pkg}.gitTreeState=clean",
                f"-X {pkg}.gitCommit=0000000000000000000000000000000000000000",
                f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
            ]
    return " ".join(flags)


def build_tool(name: str, tool: versions.GoTool, out: Path) -> float:
    """Build one tool's binaries into `out`; returns seconds spent."""
    started = time.monotonic()
    work = cache_base() / "src" / name
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module meridian.local/build/{name}\n\ngo 1.26.0\n")
    upstream = _upstream_gomod(tool, work)
    (work / "go.mod").write_text(wrapper_gomod(tool, upstream))
    imports = "\n".join(f'\t_ "{pkg}"' for pkg in tool.binaries.values())
    (work / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    _go(["mod", "tidy"], work)
    ldflags = _ldflags(tool)
    for binary, package in tool.binaries.items():
        _go(["build", "-trimpath", "-ldflags", ldflags, "-o", str(out / binary), package], work)
    if name == "kwok":
        _write_kwok_stages(work, out)
    return time.monotonic() - started


def _outputs(name: str, tool: versions.GoTool) -> list[str]:
    return [*tool.binaries, *([KWOK_STAGES_NAME] if name == "kwok" else [])]


def ensure_built(log: bool = True) -> Path:
    """Build whatever is missing (minutes on a cold machine, nothing on a warm one)."""
    out = bin_dir()
    out.mkdir(parents=True, exist_ok=True)
    times_file = cache_base() / "build-times.json"
    times: dict[str, float] = json.loads(times_file.read_text()) if times_file.exists() else {}
    for name, tool in versions.GO_TOOLS.items():
        built = tool_dir(name)
        outputs = _outputs(name, tool)
        if not all((built / output).exists() for output in outputs):
            built.mkdir(parents=True, exist_ok=True)
            if log:
                print(f"building {name} {tool.version} (cached afterwards in {built})", flush=True)
            times[versions.tool_key(name)] = round(build_tool(name, tool, built), 1)
            times_file.write_text(json.dumps(times, indent=2))
            if log:
                print(f"built {name} in {times[versions.tool_key(name)]} s", flush=True)
        for output in outputs:
            link = out / output
            if not link.exists():
                link.unlink(missing_ok=True)
                link.symlink_to(built / output)
    return out
