"""Cluster networking on a real node, as in production: Services, cluster DNS, datastores outside.

kube-proxy (iptables mode) and CoreDNS run inside the node's network namespace, so the ClusterIP
rules and the DNS server exist only there and go with it. CoreDNS answers `cluster.local` from
the apiserver and nothing else: it has no `forward` plugin, so the host's resolver is never
asked. kubelet points pods at `kube-dns`, a Service without selector whose endpoint is CoreDNS on
the node's address. The datastores stay on host loopback, like RDS and ElastiCache outside the
production cluster: Services without selectors in `meridian-system` whose EndpointSlices point at
a relay on the node's address (`tcprelay`), so a pod dials
`postgres.meridian-system.svc.cluster.local:5432`. The pod pipeline's carrier fake, a host process
like the datastores (a real carrier is outside the cluster too), is exposed the same way, by its
own relay once it runs (`expose_datastores(..., relay="carrier-relay")`). The renderers are pure
and unit-tested; `realnode` calls `start` and `expose_datastores`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meridian.localplatform import gobuild, kubecluster, net, nodesandbox, pki, processes
from meridian.localplatform.processes import ProcessSpec, Supervisor

KUBE_DNS_IP = "10.96.0.10"
"""The cluster DNS's ClusterIP, in `kubecluster.SERVICE_CIDR`; kubelet's `clusterDNS`."""
SYSTEM_NAMESPACE = "meridian-system"
DATASTORE_PORTS = {
    "postgres": 5432,
    "postgres-standby": 5432,
    "redis": 6379,
    "rabbitmq": 5672,
    "s3": 9000,
    "carrier": 80,
}
"""Service name -> the port pods dial (each datastore's usual one; the carrier's API's HTTP)."""
COREDNS_USER = "system:meridian:coredns"
_MANAGED_BY = "meridian-localplatform"
COMPONENTS = ("service-relay", "carrier-relay", "datastore-relay", "coredns", "kube-proxy")
"""Supervisor names are `<node>-<component>`; stopped before kubelet. The service relay (host
loopback to a Service, `relay_service`) holds sockets in the node's namespace: it goes first."""


def kube_proxy_config(
    *, kubeconfig: Path, node_name: str, node_ip: str, cluster_cidr: str
) -> dict[str, Any]:
    """iptables mode, servers on the node's loopback; the conntrack settings left as they are,
    because `nf_conntrack_max` is global: a node must not change the host."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": node_name,
        "bindAddress": node_ip,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "clusterCIDR": cluster_cidr,
        "nodePortAddresses": [f"{node_ip}/32"],
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"minSyncPeriod": "0s", "syncPeriod": "30s"},
    }


def corefile(*, node_ip: str, kubeconfig: Path) -> str:
    """`cluster.local` and reverse zones only; any other name is refused, never forwarded."""
    return f"""cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {node_ip}
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods disabled
    }}
    cache 5
}}
"""


def coredns_rbac() -> list[dict[str, Any]]:
    """What CoreDNS's kubernetes plugin reads (`pods disabled`: no pods), and nothing more."""
    name = "meridian:coredns"
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": COREDNS_USER}
            ],
        },
    ]


def external_service(
    name: str, namespace: str, *, address: str, ports: list[tuple[str, str, int, int]]
) -> list[dict[str, Any]]:
    """A Service without selector and the EndpointSlice it routes to: `ports` are
    (name, protocol, service port, endpoint port) and the one endpoint is `address`."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "ports": [
                    {"name": port, "protocol": proto, "port": front, "targetPort": back}
                    for port, proto, front, back in ports
                ],
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-node",
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": _MANAGED_BY,
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [
                {"name": port, "protocol": proto, "port": back} for port, proto, _, back in ports
            ],
        },
    ]


def kube_dns(node_ip: str) -> list[dict[str, Any]]:
    """`kube-system/kube-dns` at `KUBE_DNS_IP`, its endpoint CoreDNS on the node's address."""
    dns = [("dns", "UDP", 53, 53), ("dns-tcp", "TCP", 53, 53)]
    service, endpoints = external_service("kube-dns", "kube-system", address=node_ip, ports=dns)
    service["spec"]["clusterIP"] = KUBE_DNS_IP
    return [service, endpoints]


def datastore_services(node_ip: str, host_ports: dict[str, int]) -> list[dict[str, Any]]:
    """`meridian-system`, and one Service per datastore whose endpoint is the node's relay."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}}
    ]
    for name, host_port in sorted(host_ports.items()):
        ports = [(name, "TCP", DATASTORE_PORTS[name], host_port)]
        objects += external_service(name, SYSTEM_NAMESPACE, address=node_ip, ports=ports)
    return objects


def _apply(bins: Path, kubeconfig: str, objects: list[dict[str, Any]]) -> None:
    kubecluster.kubectl(
        bins, kubeconfig, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(objects)
    )


def _component_kubeconfig(
    out: Path, ca: pki.KeyPair, cluster: kubecluster.ClusterInfo, *, stem: str, user: str
) -> Path:
    pki_dir = out.parent / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    credentials = pki.issue(ca, pki_dir, stem, common_name=user)
    kubecluster.write_kubeconfig(
        out,
        cluster=f"meridian-{cluster.name}",
        server=f"https://{net.LOOPBACK}:{cluster.apiserver_port}",
        ca=ca.cert,
        client=credentials,
    )
    return out


def start(
    supervisor: Supervisor,
    sandbox: nodesandbox.Sandbox,
    cluster: kubecluster.ClusterInfo,
    bins: Path,
    ca: pki.KeyPair,
    name: str,
) -> None:
    """kube-proxy and CoreDNS in the node's namespaces, and the `kube-dns` Service before them."""
    tools = gobuild.ensure_node_built()
    root = Path(sandbox.node_dir)
    _apply(bins, cluster.kubeconfig, coredns_rbac() + kube_dns(sandbox.node_ip))
    # Bridged pod-to-pod Service traffic must pass iptables to be un-NATed (per namespace).
    processes.run_checked(
        sandbox.nsenter("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")
    )
    # The node has no default route; ClusterIPs need one for kube-proxy's OUTPUT rules to see
    # the node's own connections. Through `lo`: an address no rule rewrites goes nowhere.
    processes.run_checked(
        sandbox.nsenter(
            "ip", "route", "replace", kubecluster.SERVICE_CIDR, "dev", "lo", "src", sandbox.node_ip
        )
    )
    path = "/usr/sbin:/usr/bin:/sbin:/bin"

    proxy_config = root / "kube-proxy" / "config.yaml"
    proxy_config.parent.mkdir(parents=True, exist_ok=True)
    proxy_kubeconfig = _component_kubeconfig(
        root / "kube-proxy" / "kubeconfig", ca, cluster, stem="kube-proxy", user="system:kube-proxy"
    )
    proxy_config.write_text(
        yaml.safe_dump(
            kube_proxy_config(
                kubeconfig=proxy_kubeconfig,
                node_name=name,
                node_ip=sandbox.node_ip,
                cluster_cidr=sandbox.pod_cidr,
            )
        )
    )
    proxy = f"{name}-kube-proxy"
    pid = supervisor.start(
        ProcessSpec(
            name=proxy,
            argv=sandbox.nsenter(
                str(tools["kube-proxy"] / "kube-proxy"), f"--config={proxy_config}", "--v=1"
            ),
            env={"PATH": path},
        )
    )
    nodesandbox.move_into(sandbox, pid)

    dns_kubeconfig = _component_kubeconfig(
        root / "coredns" / "kubeconfig", ca, cluster, stem="coredns", user=COREDNS_USER
    )
    config = root / "coredns" / "Corefile"
    config.write_text(corefile(node_ip=sandbox.node_ip, kubeconfig=dns_kubeconfig))
    dns = f"{name}-coredns"
    pid = supervisor.start(
        ProcessSpec(
            name=dns,
            argv=sandbox.nsenter(str(tools["coredns"] / "coredns"), f"-conf={config}"),
            env={"PATH": path},
        )
    )
    nodesandbox.move_into(sandbox, pid)
    supervisor.wait_ready(proxy, lambda: "KUBE-SERVICES" in _iptables_nat(sandbox), timeout=60)
    supervisor.wait_ready(dns, lambda: "CoreDNS-" in supervisor.log_tail(dns), timeout=60)


def _iptables_nat(sandbox: nodesandbox.Sandbox) -> str:
    try:
        return processes.run_checked(sandbox.nsenter("iptables", "-t", "nat", "-S"))
    except RuntimeError:
        return ""


def expose_datastores(
    supervisor: Supervisor,
    sandbox: nodesandbox.Sandbox,
    bins: Path,
    kubeconfig: str,
    host_ports: dict[str, int],
    relay: str = "datastore-relay",
) -> None:
    """Relay the node's address to the datastores' host ports; Services in `meridian-system`.
    `relay` is the relay's component name (one of `COMPONENTS`, stopped with the node)."""
    name = Path(sandbox.node_dir).name
    nodesandbox.start_relay(
        supervisor,
        sandbox,
        f"{name}-{relay}",
        sorted(host_ports.values()),
        address=sandbox.node_ip,
    )
    _apply(bins, kubeconfig, datastore_services(sandbox.node_ip, host_ports))


def cluster_ip(bins: Path, kubeconfig: str, namespace: str, name: str) -> str:
    return kubecluster.kubectl(
        bins, kubeconfig, "get", "service", name, "-n", namespace, "-o=jsonpath={.spec.clusterIP}"
    ).strip()


def relay_service(
    supervisor: Supervisor,
    sandbox: nodesandbox.Sandbox,
    routes: list[tuple[int, str, int]],
) -> list[str]:
    """The host's `127.0.0.1:host_port` relayed to `address:port` (a ClusterIP) inside the node,
    for each (host_port, address, port) of `routes`, where kube-proxy picks a ready pod: how a
    host process (an operator, `curl`) reaches a Service as a pod would. One relay per node;
    returns each route's URL base."""
    name = f"{Path(sandbox.node_dir).name}-service-relay"
    nodesandbox.start_relay(supervisor, sandbox, name, [], inbound=routes)
    return [f"http://{net.LOOPBACK}:{host_port}" for host_port, _, _ in routes]
