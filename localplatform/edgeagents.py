"""The local platform's edge agents: one process per enrolled example EdgeNode.

`make up` applies the example EdgeNodes; the EdgeNode operator enrols them and writes each one's
bootstrap kubeconfig into `meridian-edge/edge-<node>-bootstrap`. Here, as a node's installer
would, each agent gets that kubeconfig in its own folder (0600) and a state folder of its own,
and `python -m meridian.edge_agent` runs under the platform's supervisor as `edge-agent-<node>`
(so `meridian dev status` lists it and `meridian dev down` stops it), talking to the apiserver on
loopback with its own credential only. Like an installed node, each agent has a cache config
template to render (`cache.conf.tmpl`, from the examples' `cacheSizeGi` and `logLevel`) and a
version file holding the version its EdgeNode asks for, so a fresh platform shows every node Ready
with its config applied and no upgrade pending.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import kubecluster
from meridian.localplatform.processes import ProcessSpec, Supervisor

AGENT_MODULE = "meridian.edge_agent"
FOLDER = "edge-agents"


def available() -> bool:
    """Whether `python -m meridian.edge_agent` exists in this checkout."""
    return importlib.util.find_spec(f"{AGENT_MODULE}.__main__") is not None


def process_name(node: str) -> str:
    return f"edge-agent-{node}"


def node_dir(run_dir: Path, node: str) -> Path:
    return run_dir / FOLDER / node


# What an edge node's cache config looks like locally: the examples' keys, nothing to reload.
CACHE_TEMPLATE = """\
# Rendered by meridian-edge-agent from spec.config; hand edits are overwritten.
proxy_cache_path /var/cache/meridian levels=1:2 keys_zone=edge:64m max_size={{ cacheSizeGi }}g;
error_log /var/log/nginx/error.log {{ logLevel }};
"""


def environment(node: str, folder: Path) -> dict[str, str]:
    """The agent's settings: its node, its own credential, state folder, config and version."""
    return {
        "MERIDIAN_EDGE_AGENT_NODE": node,
        "MERIDIAN_EDGE_AGENT_KUBECONFIG": str(folder / "kubeconfig"),
        "MERIDIAN_EDGE_AGENT_STATE_DIR": str(folder / "state"),
        "MERIDIAN_EDGE_AGENT_CONFIG_TEMPLATE": str(folder / "cache.conf.tmpl"),
        "MERIDIAN_EDGE_AGENT_CONFIG_PATH": str(folder / "cache.conf"),
        "MERIDIAN_EDGE_AGENT_VERSION_FILE": str(folder / "version"),
        "MERIDIAN_EDGE_AGENT_DISK_PATH": str(folder),
        "MERIDIAN_EDGE_AGENT_UPGRADE_COMMAND": json.dumps(upgrade_command(node, folder)),
    }


def upgrade_command(node: str, folder: Path, *extra: str) -> list[str]:
    """The local node's upgrade command (`meridian.edge_agent.localupgrade`: writes the version
    file, the agent appends the target version); `extra` options such as `--fail`, `--record`."""
    return [
        sys.executable,
        "-m",
        f"{AGENT_MODULE}.localupgrade",
        "--version-file",
        str(folder / "version"),
        "--node",
        node,
        *extra,
    ]


def _desired_version(bin_dir: Path, kubeconfig: str, node: str) -> str:
    return kubecluster.kubectl(
        bin_dir, kubeconfig, "get", "edgenode", node, "-o", "jsonpath={.spec.agentVersion}"
    ).strip()


def nodes_in(paths: Iterable[Path]) -> list[str]:
    """The EdgeNodes named in the manifests `make up` applies (files or folders of them)."""
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    return [
        doc["metadata"]["name"]
        for file in files
        for doc in yaml.safe_load_all(file.read_text())
        if doc and doc.get("kind") == edgenode.KIND.kind
    ]


def _bootstrap_kubeconfig(bin_dir: Path, kubeconfig: str, node: str, timeout: float) -> bytes:
    """The node's kubeconfig from its bootstrap Secret, once the operator has issued it."""
    deadline = time.monotonic() + timeout
    while True:
        encoded = kubecluster.kubectl(
            bin_dir,
            kubeconfig,
            "get",
            "secret",
            edgenode.bootstrap_secret_name(node),
            "-n",
            edgenode.EDGE_NAMESPACE,
            "--ignore-not-found",
            "-o",
            "jsonpath={.data.kubeconfig}",
        ).strip()
        if encoded:
            return base64.b64decode(encoded)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no bootstrap credential for EdgeNode {node} after {timeout:.0f} s: "
                "is the edge operator running? (meridian dev status, logs/operators.log)"
            )
        time.sleep(1)


def start(
    run_dir: Path,
    bin_dir: Path,
    kubeconfig: str,
    nodes: list[str],
    *,
    supervisor: Supervisor | None = None,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Start an agent per node (those already running are kept); returns the names started.

    `env` overrides agent settings (`MERIDIAN_EDGE_AGENT_*`): a test's shorter cadences, say."""
    if not available():
        return []
    supervisor = supervisor or Supervisor(run_dir)
    started = []
    for node in nodes:
        folder = node_dir(run_dir, node)
        (folder / "state").mkdir(parents=True, exist_ok=True, mode=0o700)
        credential = folder / "kubeconfig"
        credential.touch(mode=0o600)
        credential.write_bytes(_bootstrap_kubeconfig(bin_dir, kubeconfig, node, timeout))
        (folder / "cache.conf.tmpl").write_text(CACHE_TEMPLATE)
        version = folder / "version"
        if not version.exists():  # an agent's upgrade rewrites it; a restart keeps it
            version.write_text(_desired_version(bin_dir, kubeconfig, node) + "\n")
        process_env = {
            "PYTHONPATH": os.pathsep.join(sys.path),
            **environment(node, folder),
            **(env or {}),
        }
        spec = ProcessSpec(
            name=process_name(node), argv=[sys.executable, "-m", AGENT_MODULE], env=process_env
        )
        supervisor.start(spec)
        started.append(process_name(node))
    return started
