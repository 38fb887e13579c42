"""A real node's Services, DNS and datastore endpoints stay inside the node and off the host."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from meridian.localplatform import kubecluster, nodenet, versions

NODE_IP = "10.213.0.2"


def test_coredns_serves_cluster_names_only_and_forwards_nothing() -> None:
    corefile = nodenet.corefile(node_ip=NODE_IP, kubeconfig=Path("/node/coredns/kubeconfig"))
    assert f"bind {NODE_IP}" in corefile
    assert "kubeconfig /node/coredns/kubeconfig" in corefile
    assert "forward" not in corefile
    assert corefile.startswith("cluster.local:53 ")
    assert "forward" not in versions.COREDNS_PLUGINS  # not even built into the binary
    assert "forward" not in versions.NODE_TOOLS["coredns"].main


def test_coredns_may_only_read_services_slices_and_namespaces() -> None:
    role, binding = nodenet.coredns_rbac()
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    resources = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert verbs == {"list", "watch"}
    assert resources == {"services", "namespaces", "endpointslices"}
    assert binding["subjects"][0]["name"] == nodenet.COREDNS_USER


def test_kube_proxy_leaves_the_hosts_global_conntrack_settings_alone() -> None:
    config = nodenet.kube_proxy_config(
        kubeconfig=Path("/k"), node_name="n", node_ip=NODE_IP, cluster_cidr="10.214.0.0/24"
    )
    assert config["mode"] == "iptables"
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["conntrack"]["min"] == 0
    for server in ("healthzBindAddress", "metricsBindAddress"):
        assert config[server].startswith("127.0.0.1:")


def test_kube_dns_is_a_cluster_ip_of_the_service_range_pointing_at_the_node() -> None:
    service, endpoints = nodenet.kube_dns(NODE_IP)
    ip = ipaddress.ip_address(service["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network(kubecluster.SERVICE_CIDR)
    assert "selector" not in service["spec"]
    assert endpoints["endpoints"] == [{"addresses": [NODE_IP], "conditions": {"ready": True}}]
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"


def test_datastore_services_map_usual_ports_to_the_relays_host_ports() -> None:
    objects = nodenet.datastore_services(NODE_IP, {"postgres": 41234, "redis": 41235})
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [
        ("Namespace", nodenet.SYSTEM_NAMESPACE),
        ("Service", "postgres"),
        ("EndpointSlice", "postgres-node"),
        ("Service", "redis"),
        ("EndpointSlice", "redis-node"),
    ]
    postgres, slice_ = objects[1], objects[2]
    assert postgres["spec"]["ports"][0]["port"] == 5432
    assert slice_["ports"][0]["port"] == 41234
    assert slice_["endpoints"][0]["addresses"] == [NODE_IP]
