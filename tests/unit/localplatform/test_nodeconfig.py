"""A real node's kubelet and containerd settings carry every fix for our machines' walls."""

from __future__ import annotations

import tomllib
from pathlib import Path

from meridian.localplatform import nodeconfig, versions

PATHS = nodeconfig.NodePaths(Path("/run-dir/nodes/primary-real-0"))


def _kubelet() -> dict[str, object]:
    return nodeconfig.kubelet_config(
        PATHS,
        node_ip="10.213.0.2",
        pod_cidr="10.214.0.0/24",
        cgroup_root="meridian-primary-real-0-0",
        client_ca=Path("/ca.crt"),
        cluster_dns="10.96.0.10",
    )


def test_kubelet_runs_on_cgroup_v1_without_negative_oom_scores() -> None:
    config = _kubelet()
    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["oomScoreAdj"] == 0
    assert config["failSwapOn"] is False
    assert config["cgroupRoot"] == "/meridian-primary-real-0-0"


def test_kubelet_registers_tainted_and_never_reads_the_hosts_resolver() -> None:
    config = _kubelet()
    assert config["registerWithTaints"] == [nodeconfig.TAINT]
    assert config["resolvConf"] == str(PATHS.resolv_conf)
    assert config["address"] == "10.213.0.2"
    assert config["clusterDNS"] == ["10.96.0.10"]


def test_containerd_keeps_oom_scores_and_files_inside_the_node() -> None:
    config = tomllib.loads(nodeconfig.containerd_config(PATHS, sandbox_image="meridian.local/p:1"))
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["netns_mounts_under_state_dir"] is True
    assert config["plugins"]["io.containerd.nri.v1.nri"]["disable"] is True
    for path in (config["root"], config["state"], config["grpc"]["address"]):
        assert Path(path).is_relative_to(PATHS.root)
    sandbox = config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"]
    assert sandbox == "meridian.local/p:1"


def test_node_tools_are_not_part_of_the_platform_path_key() -> None:
    """Adding kubelet and containerd must not rebuild or relink the kwok platform's binaries."""
    assert set(versions.NODE_TOOLS).isdisjoint(versions.GO_TOOLS)
    assert versions.tool_key("kubelet") == f"kubelet-{versions.KUBERNETES}"
    assert "containerd" not in versions.cache_key()
