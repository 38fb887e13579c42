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


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's go is the toolchain; never let a go.mod line fetch another one.
    env.update({"GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"})
    return env


def _go(args: list[str], cwd: Path) -> str:
    return processes.run_checked(["go", *args], cwd=cwd, env=go_env())


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
    if tool.module == "github.com/prometheus/prometheus":
        # `prometheus --version` and the build_info metric say 3.x, not the module's v0.3xx tag.
        _, minor, patch = tool.version.lstrip("v").split(".")
        release = f"{int(minor) // 100}.{int(minor) % 100}.{patch}"
        flags.append(f"-X github.com/prometheus/common/version.Version={release}")
    if tool.module == "github.com/containerd/containerd/v2":
        flags.append(f"-X {tool.module}/version.Version={tool.version}")
    return " ".join(flags)


def build_tool(name: str, tool: versions.GoTool, out: Path) -> float:
    """Build one tool's binaries into `out`; returns seconds spent."""
    started = time.monotonic()
    work = cache_base() / "src" / name
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module meridian.local/build/{name}\n\ngo 1.26.0\n")
    upstream = _upstream_gomod(tool, work)
    (work / "go.mod").write_text(wrapper_gomod(tool, upstream))
    if tool.main:
        (work / "main.go").write_text(tool.main)
    else:
        imports = "\n".join(f'\t_ "{pkg}"' for pkg in tool.binaries.values())
        (work / "tools.go").write_text(
            f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"
        )
    _go(["mod", "tidy"], work)
    flags = ["-trimpath", "-ldflags", _ldflags(tool)]
    if tool.tags:
        flags += ["-tags", ",".join(tool.tags)]
    for binary, package in tool.binaries.items():
        _go(["build", *flags, "-o", str(out / binary), package], work)
    if name == "kwok":
        _write_kwok_stages(work, out)
    return time.monotonic() - started


def _outputs(name: str, tool: versions.GoTool) -> list[str]:
    return [*tool.binaries, *([KWOK_STAGES_NAME] if name == "kwok" else [])]


def ensure_tool(name: str, tool: versions.GoTool, log: bool = True) -> Path:
    """Build one tool unless its folder already holds every output; returns that folder."""
    built = tool_dir(name)
    if all((built / output).exists() for output in _outputs(name, tool)):
        return built
    built.mkdir(parents=True, exist_ok=True)
    times_file = cache_base() / "build-times.json"
    if log:
        print(f"building {name} {tool.version} (cached afterwards in {built})", flush=True)
    seconds = round(build_tool(name, tool, built), 1)
    times: dict[str, float] = json.loads(times_file.read_text()) if times_file.exists() else {}
    times[versions.tool_key(name)] = seconds
    times_file.write_text(json.dumps(times, indent=2))
    if log:
        print(f"built {name} in {seconds} s", flush=True)
    return built


def ensure_built(log: bool = True) -> Path:
    """Build whatever is missing (minutes on a cold machine, nothing on a warm one)."""
    out = bin_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, tool in versions.GO_TOOLS.items():
        built = ensure_tool(name, tool, log)
        for output in _outputs(name, tool):
            link = out / output
            if not link.exists():
                link.unlink(missing_ok=True)
                link.symlink_to(built / output)
    return out


def ensure_node_built(log: bool = True) -> dict[str, Path]:
    """The real node's binaries (kubelet, containerd), each in its own tool folder, not linked
    into the platform's PATH folder: a kwok-only platform never builds them."""
    return {name: ensure_tool(name, tool, log) for name, tool in versions.NODE_TOOLS.items()}
