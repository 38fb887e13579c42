"""One real node for a local cluster: containerd and kubelet inside a `nodesandbox`.

`meridian dev up --real-node` calls `start` after the cluster's control plane; `platform.down`
calls `stop_all` before stopping anything else, so the node's pods, namespaces, mounts, cgroups,
veth and sysctls are gone before the apiserver is. kwok keeps its fake nodes: it manages only
nodes annotated `kwok.x-k8s.io/node=fake`, which this one is not. Images are imported from
archives built on this machine (`pauseimage`); nothing is ever pulled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from meridian.localplatform import (
    gobuild,
    kubecluster,
    net,
    nodeconfig,
    nodenet,
    nodesandbox,
    packages,
    pauseimage,
    pki,
    processes,
)
from meridian.localplatform.processes import ProcessSpec, Supervisor

_COMPONENTS = (*nodenet.COMPONENTS, "kubelet", "containerd", "apiserver-relay")
"""Supervisor names are `<node>-<component>`; stopped in this order."""


def node_name(cluster: str) -> str:
    return f"{cluster}-real-0"


def nodes_dir(run_dir: Path) -> Path:
    return run_dir / "nodes"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _ctr(sandbox: nodesandbox.Sandbox, containerd: Path, *args: str) -> str:
    socket = nodeconfig.NodePaths(Path(sandbox.node_dir)).containerd_socket
    argv = [str(containerd / "ctr"), f"--address={socket}", "--namespace=k8s.io", *args]
    return processes.run_checked(sandbox.nsenter(*argv))


def ctr(run_dir: Path, cluster: str, *args: str) -> str:
    """`ctr` against the cluster's real node, in its namespaces (images, tasks, containers)."""
    sandbox = nodesandbox.load(nodes_dir(run_dir) / node_name(cluster))
    if sandbox is None:
        raise RuntimeError(f"no real node in cluster {cluster} of {run_dir}")
    return _ctr(sandbox, gobuild.tool_dir("containerd"), *args)


def import_image(run_dir: Path, cluster: str, archive: Path) -> None:
    """Make an image archive built on this machine available to the node's pods."""
    ctr(run_dir, cluster, "images", "import", str(archive))


def start(
    supervisor: Supervisor, run_dir: Path, cluster: kubecluster.ClusterInfo, bins: Path
) -> str:
    """Start the cluster's real node (or find it running); returns its name once it is Ready."""
    packages.ensure_installed()
    tools = gobuild.ensure_node_built()
    pause = pauseimage.ensure_built()
    name = node_name(cluster.name)
    started = time.monotonic()
    paths = nodeconfig.NodePaths(nodes_dir(run_dir) / name)
    sandbox = nodesandbox.create(supervisor, paths.root, name)
    cluster_pki = Path(cluster.kubeconfig).parent / "pki"
    ca = pki.KeyPair(cluster_pki / "ca.crt", cluster_pki / "ca.key")
    paths.pki.mkdir(parents=True, exist_ok=True)
    # One cert serves kubelet's API (IP SAN: the apiserver dials the InternalIP) and is its client
    # identity, which the Node authorizer and NodeRestriction recognise.
    credentials = pki.issue(
        ca,
        paths.pki,
        "kubelet",
        common_name=f"system:node:{name}",
        organization="system:nodes",
        ip_addresses=(sandbox.node_ip,),
        server=True,
    )
    _write(
        paths.containerd_config,
        nodeconfig.containerd_config(paths, sandbox_image=pauseimage.REF),
    )
    _write(
        paths.cni_conf_dir / "10-pods.conflist",
        json.dumps(nodeconfig.cni_conflist(paths, sandbox.pod_cidr), indent=2),
    )
    _write(paths.resolv_conf, "# a real node never asks the host's resolver\n")
    config = nodeconfig.kubelet_config(
        paths,
        node_ip=sandbox.node_ip,
        pod_cidr=sandbox.pod_cidr,
        cgroup_root=sandbox.cgroup_root,
        client_ca=ca.cert,
        cluster_dns=nodenet.KUBE_DNS_IP,
    )
    _write(paths.kubelet_config, yaml.safe_dump(config))
    kubecluster.write_kubeconfig(
        paths.kubelet_kubeconfig,
        cluster=f"meridian-{cluster.name}",
        server=f"https://{net.LOOPBACK}:{cluster.apiserver_port}",
        ca=ca.cert,
        client=credentials,
    )

    nodesandbox.start_relay(
        supervisor, sandbox, f"{name}-apiserver-relay", [cluster.apiserver_port]
    )

    path = f"{tools['containerd']}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    containerd = f"{name}-containerd"
    pid = supervisor.start(
        ProcessSpec(
            name=containerd,
            argv=sandbox.nsenter(
                str(tools["containerd"] / "containerd"), f"--config={paths.containerd_config}"
            ),
            env={"PATH": path},
        )
    )
    nodesandbox.move_into(sandbox, pid)
    supervisor.wait_ready(containerd, lambda: _containerd_up(sandbox, tools), timeout=60)
    _ctr(sandbox, tools["containerd"], "images", "import", str(pause))

    kubelet = f"{name}-kubelet"
    node_labels = ",".join(f"{k}={v}" for k, v in nodeconfig.labels(cluster.region).items())
    pid = supervisor.start(
        ProcessSpec(
            name=kubelet,
            argv=sandbox.nsenter(
                str(tools["kubelet"] / "kubelet"),
                f"--config={paths.kubelet_config}",
                f"--kubeconfig={paths.kubelet_kubeconfig}",
                f"--hostname-override={name}",
                f"--node-ip={sandbox.node_ip}",
                f"--node-labels={node_labels}",
                "--v=1",
            ),
            env={"PATH": path},
        )
    )
    nodesandbox.move_into(sandbox, pid)
    supervisor.wait_ready(kubelet, lambda: _node_ready(bins, cluster.kubeconfig, name), timeout=180)
    nodenet.start(supervisor, sandbox, cluster, bins, ca, name)
    print(f"real node {name} Ready {time.monotonic() - started:.1f} s after start", flush=True)
    return name


def expose_datastores(
    supervisor: Supervisor,
    run_dir: Path,
    cluster: kubecluster.ClusterInfo,
    bins: Path,
    host_ports: dict[str, int],
    relay: str = "datastore-relay",
) -> None:
    """The host's datastores (or the carrier fake), as Services of the cluster's real node
    (`nodenet`)."""
    nodenet.expose_datastores(
        supervisor, sandbox_of(run_dir, cluster.name), bins, cluster.kubeconfig, host_ports, relay
    )


def sandbox_of(run_dir: Path, cluster: str) -> nodesandbox.Sandbox:
    sandbox = nodesandbox.load(nodes_dir(run_dir) / node_name(cluster))
    if sandbox is None:
        raise RuntimeError(f"no real node in cluster {cluster} of {run_dir}")
    return sandbox


def _containerd_up(sandbox: nodesandbox.Sandbox, tools: dict[str, Path]) -> bool:
    try:
        _ctr(sandbox, tools["containerd"], "version")
    except RuntimeError:
        return False
    return True


def _node_ready(bins: Path, kubeconfig: str, name: str) -> bool:
    jsonpath = '{.status.conditions[?(@.type=="Ready")].status}'
    try:
        ready = kubecluster.kubectl(
            bins, kubeconfig, "get", "node", name, f"-o=jsonpath={jsonpath}"
        )
    except RuntimeError:
        return False
    return ready == "True"


def stop(supervisor: Supervisor, node_dir: Path) -> None:
    """Stop one node and undo its sandbox; nothing of it is left on the host afterwards."""
    name = node_dir.name
    for component in _COMPONENTS:
        supervisor.stop(f"{name}-{component}")
    sandbox = nodesandbox.load(node_dir)
    if sandbox is not None:
        nodesandbox.teardown(supervisor, sandbox)


def stop_all(run_dir: Path) -> list[str]:
    """Every real node of this run directory, stopped; returns their names."""
    folder = nodes_dir(run_dir)
    if not folder.is_dir():
        return []
    supervisor = Supervisor(run_dir)
    stopped = []
    # Last started, first stopped: the first node saved the sysctls as they were before any kubelet.
    started = [path for path in folder.iterdir() if (path / "sandbox.json").exists()]
    for node_dir in sorted(
        started, key=lambda path: (path / "sandbox.json").stat().st_mtime, reverse=True
    ):
        began = time.monotonic()
        stop(supervisor, node_dir)
        stopped.append(node_dir.name)
        print(f"stopped real node {node_dir.name} in {time.monotonic() - began:.1f} s")
    return stopped
