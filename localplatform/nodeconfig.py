"""What a real node's containerd, CNI and kubelet are told: pure renderers, unit-tested.

Each setting that is not a default answers a wall met on our machines (see the real-node notes):
root lacks CAP_SYS_RESOURCE, so no negative oom_score_adj (`restrict_oom_score_adj`,
`oomScoreAdj: 0`); the hosts run cgroup v1 (`failCgroupV1: false`, `cgroupfs`); swap may be on;
nothing may ask the host's resolver (`resolvConf` is the node's own, empty one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

TAINT_KEY = "meridian.io/real-node"
TAINT = {"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}
"""Only Meridian's workloads tolerate it: kwok-scheduled test pods never land on a real node."""
KUBELET_PORT = 10250
CNI_BIN_DIR = "/usr/lib/cni"


class NodePaths(NamedTuple):
    """Every file of one node, all under its folder in the run directory."""

    root: Path

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet" / "config.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.root / "kubelet" / "kubeconfig"

    @property
    def resolv_conf(self) -> Path:
        return self.root / "resolv.conf"

    @property
    def pki(self) -> Path:
        return self.root / "pki"


def labels(region: str) -> dict[str, str]:
    """What says a node is real (kwok's fake nodes carry `type: kwok`)."""
    return {
        TAINT_KEY: "true",
        "type": "real",
        "topology.kubernetes.io/region": region,
    }


def containerd_config(paths: NodePaths, *, sandbox_image: str) -> str:
    root = paths.root / "containerd"
    return f"""version = 3
root = {json.dumps(str(root / "root"))}
state = {json.dumps(str(root / "state"))}

[grpc]
  address = {json.dumps(str(paths.containerd_socket))}

[ttrpc]
  address = {json.dumps(str(paths.containerd_socket) + ".ttrpc")}

[plugins.'io.containerd.internal.v1.opt']
  path = {json.dumps(str(root / "opt"))}

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [{json.dumps(CNI_BIN_DIR)}]
  conf_dir = {json.dumps(str(paths.cni_conf_dir))}

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = {json.dumps(sandbox_image)}
"""


def cni_conflist(paths: NodePaths, pod_cidr: str) -> dict[str, Any]:
    """Pods on a bridge inside the node's namespace; host-local addresses from the node's range."""
    return {
        "cniVersion": "1.0.0",
        "name": "meridian-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(paths.root / "cni" / "ipam"),
                },
            }
        ],
    }


def kubelet_config(
    paths: NodePaths,
    *,
    node_ip: str,
    pod_cidr: str,
    cgroup_root: str,
    client_ca: Path,
    cluster_dns: str,
) -> dict[str, Any]:
    endpoint = f"unix://{paths.containerd_socket}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node_ip,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(paths.pki / "kubelet.crt"),
        "tlsPrivateKeyFile": str(paths.pki / "kubelet.key"),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root}",
        "failCgroupV1": False,
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "resolvConf": str(paths.resolv_conf),
        "clusterDomain": "cluster.local",
        "clusterDNS": [cluster_dns],  # pods' only nameserver: CoreDNS through its Service
        "podCIDR": pod_cidr,
        "registerWithTaints": [TAINT],
        "serializeImagePulls": False,
        # A shared, busy dev machine: evict on real exhaustion only, never on a full-ish disk.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
    }
