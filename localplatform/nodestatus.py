"""What `meridian dev status` says about the real nodes: each one's readiness and its pods.

The processes table shows kubelet and containerd alive; only the apiserver knows whether the node
is Ready and which pods it runs, so this asks each cluster of the run directory (`realnode` names
one node per cluster) and renders a small table under the processes'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from meridian.localplatform import kubecluster, nodeconfig


class Pod(NamedTuple):
    namespace: str
    name: str
    phase: str
    ready: bool


class NodeStatus(NamedTuple):
    cluster: str
    name: str
    ready: str  # the Ready condition's status: True, False, Unknown; "absent": not registered
    pods: list[Pod]


def _ready(node: dict[str, Any]) -> str:
    for condition in node.get("status", {}).get("conditions", []):
        if condition["type"] == "Ready":
            return str(condition["status"])
    return "Unknown"


def _pod(item: dict[str, Any]) -> Pod:
    conditions = item.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    meta = item["metadata"]
    phase = str(item.get("status", {}).get("phase", "Unknown"))
    return Pod(meta["namespace"], meta["name"], phase, ready)


def of_cluster(bins: Path, cluster: str, kubeconfig: str) -> list[NodeStatus]:
    """The cluster's real nodes (labelled as `nodeconfig.labels` says) with the pods bound there."""
    nodes = json.loads(
        kubecluster.kubectl(
            bins, kubeconfig, "get", "nodes", "-l", f"{nodeconfig.TAINT_KEY}=true", "-o", "json"
        )
    )["items"]
    found = []
    for node in nodes:
        name = node["metadata"]["name"]
        pods = json.loads(
            kubecluster.kubectl(
                bins,
                kubeconfig,
                *("get", "pods", "-A", f"--field-selector=spec.nodeName={name}", "-o", "json"),
            )
        )["items"]
        listed = sorted((_pod(item) for item in pods), key=lambda pod: pod[:2])
        found.append(NodeStatus(cluster, name, _ready(node), listed))
    return found


def render(nodes: list[NodeStatus]) -> list[str]:
    """The table's lines: one per node, then one per pod of it, indented."""
    lines = [f"{'REAL NODE':32} {'CLUSTER':8} {'READY':8} {'PODS':>5}"]
    for node in nodes:
        lines.append(f"{node.name:32} {node.cluster:8} {node.ready:8} {len(node.pods):>5}")
        for pod in node.pods:
            ready = "ready" if pod.ready else "not ready"
            lines.append(f"  {pod.namespace + '/' + pod.name:46} {pod.phase:10} {ready}")
    return lines
