"""One real Kubernetes control plane on loopback: etcd, apiserver, controller-manager, scheduler, kwok.

Called by `platform.up()` once for the primary cluster and, on request, once more for the DR cluster
(other ports, other run directory). kwok stands in for kubelets: the fake nodes are labelled like
the seed's node groups so that node selectors and topology spread behave as in production.
"""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from meridian.localplatform import net, pki, processes
from meridian.localplatform.processes import ProcessSpec, Supervisor

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"

# (node group, instance type, count) per cluster, from the seed's cluster topology tables.
NODE_GROUPS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "primary": (
        ("system", "m5.xlarge", 3),
        ("application", "m5.2xlarge", 6),
        ("data", "r5.2xlarge", 3),
    ),
    "dr": (("system", "m5.xlarge", 2), ("application", "m5.xlarge", 3), ("data", "r5.xlarge", 2)),
}
REGIONS = {"primary": "us-east-1", "dr": "eu-west-1"}
_CAPACITY = {
    "m5.xlarge": ("4", "16Gi"),
    "m5.2xlarge": ("8", "32Gi"),
    "r5.xlarge": ("4", "32Gi"),
    "r5.2xlarge": ("8", "64Gi"),
}


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    region: str
    server: str
    kubeconfig: str
    etcd_port: int
    apiserver_port: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_kubeconfig(
    path: Path, *, cluster: str, server: str, ca: Path, client: pki.KeyPair
) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [
            {
                "name": f"{cluster}-user",
                "user": {
                    "client-certificate-data": b64(client.cert),
                    "client-key-data": b64(client.key),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"{cluster}-user"}}],
        "current-context": cluster,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _fake_nodes(cluster: str) -> list[dict[str, Any]]:
    region = REGIONS[cluster]
    nodes = []
    for group, instance, count in NODE_GROUPS[cluster]:
        cpu, memory = _CAPACITY[instance]
        for index in range(count):
            zone = f"{region}{'abc'[index % 3]}"
            resources = {"cpu": cpu, "memory": memory, "pods": "110"}
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": f"{group}-{index}",
                        "annotations": {"kwok.x-k8s.io/node": "fake"},
                        "labels": {
                            "type": "kwok",
                            "kubernetes.io/hostname": f"{group}-{index}",
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "meridian.io/node-group": group,
                            "node.kubernetes.io/instance-type": instance,
                            "topology.kubernetes.io/region": region,
                            "topology.kubernetes.io/zone": zone,
                        },
                    },
                    "spec": {},
                    "status": {"allocatable": resources, "capacity": resources},
                }
            )
    return nodes


def _component_kubeconfig_flags(kubeconfig: Path) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
    ]


def start(supervisor: Supervisor, run_dir: Path, bins: Path, name: str) -> ClusterInfo:
    """Start (or find running) the control plane called `name`; returns once nodes are Ready."""
    state_file = run_dir / "cluster.json"
    if state_file.exists():
        saved = json.loads(state_file.read_text())
        ports = saved["ports"]
    else:
        keys = ["etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok"]
        ports = dict(zip(keys, net.free_ports(len(keys)), strict=True))
    pki_dir = run_dir / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.create_ca(pki_dir, f"meridian-{name}-ca")
    serving = pki.issue(
        ca,
        pki_dir,
        "apiserver",
        common_name="kube-apiserver",
        dns_names=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ip_addresses=(net.LOOPBACK, SERVICE_IP),
        server=True,
    )
    sa = pki.service_account_keys(pki_dir)
    # What the apiserver shows a kubelet (logs, exec, port-forward) on a real node.
    kubelet_client = pki.issue(
        ca,
        pki_dir,
        "apiserver-kubelet-client",
        common_name="kube-apiserver",
        organization="system:masters",
    )
    server = f"https://{net.LOOPBACK}:{ports['apiserver']}"
    kubeconfigs = {}
    for stem, cn, org in (
        ("admin", "meridian-admin", "system:masters"),
        ("controller-manager", "system:kube-controller-manager", None),
        ("scheduler", "system:kube-scheduler", None),
        ("kwok", "kwok-controller", "system:masters"),
    ):
        client = pki.issue(ca, pki_dir, stem, common_name=cn, organization=org)
        kubeconfigs[stem] = run_dir / f"{stem}.kubeconfig"
        write_kubeconfig(
            kubeconfigs[stem], cluster=f"meridian-{name}", server=server, ca=ca.cert, client=client
        )

    peer = f"http://{net.LOOPBACK}:{ports['etcd_peer']}"
    etcd_url = f"http://{net.LOOPBACK}:{ports['etcd']}"
    specs = [
        ProcessSpec(
            name=f"{name}-etcd",
            argv=[
                str(bins / "etcd"),
                f"--name={name}",
                f"--data-dir={run_dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster={name}={peer}",
                "--log-level=warn",
                # A dev and test cluster: losing the last writes on a power cut is acceptable.
                "--unsafe-no-fsync=true",
            ],
        ),
        ProcessSpec(
            name=f"{name}-kube-apiserver",
            argv=[
                str(bins / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={net.LOOPBACK}",
                f"--advertise-address={net.LOOPBACK}",
                f"--secure-port={ports['apiserver']}",
                f"--cert-dir={pki_dir}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={ca.cert}",
                # Node + NodeRestriction: a real kubelet may touch only its own Node, Lease and pods.
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                # As in production (EKS allows it): whether a container may be privileged is
                # Meridian's policy to decide (meridian-no-privileged), not a blanket refusal.
                "--allow-privileged=true",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                # Nodes are reached by address, never by a name the host's resolver is asked for.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                "--profiling=false",
                "--v=1",
            ],
        ),
        ProcessSpec(
            name=f"{name}-kube-controller-manager",
            argv=[
                str(bins / "kube-controller-manager"),
                *_component_kubeconfig_flags(kubeconfigs["controller-manager"]),
                f"--bind-address={net.LOOPBACK}",
                f"--secure-port={ports['controller_manager']}",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={ca.cert}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
                "--v=1",
            ],
        ),
        ProcessSpec(
            name=f"{name}-kube-scheduler",
            argv=[
                str(bins / "kube-scheduler"),
                *_component_kubeconfig_flags(kubeconfigs["scheduler"]),
                f"--bind-address={net.LOOPBACK}",
                f"--secure-port={ports['scheduler']}",
                "--leader-elect=false",
                "--profiling=false",
                "--v=1",
            ],
        ),
        ProcessSpec(
            name=f"{name}-kwok",
            argv=[
                str(bins / "kwok"),
                f"--kubeconfig={kubeconfigs['kwok']}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--server-address={net.LOOPBACK}:{ports['kwok']}",
                f"--node-ip={net.LOOPBACK}",
                "--cidr=10.244.0.0/16",
                "--node-lease-duration-seconds=40",
                f"--config={bins / 'kwok-stages.yaml'}",
            ],
        ),
    ]
    info = ClusterInfo(
        name=name,
        region=REGIONS[name],
        server=server,
        kubeconfig=str(kubeconfigs["admin"]),
        etcd_port=ports["etcd"],
        apiserver_port=ports["apiserver"],
    )
    state_file.write_text(json.dumps({"ports": ports, "info": info.to_json()}, indent=2))

    for spec in specs:
        supervisor.start(spec)
        if spec.name.endswith("-etcd"):
            supervisor.wait_ready(spec.name, lambda: net.http_ok(f"{etcd_url}/health"), timeout=30)
        if spec.name.endswith("-kube-apiserver"):
            wait_apiserver_ready(supervisor, spec.name, server, pki_dir)
            kubectl(
                bins,
                info.kubeconfig,
                "apply",
                "-f",
                "-",
                stdin=yaml.safe_dump_all(_fake_nodes(name)),
            )
    kubectl(
        bins, info.kubeconfig, "wait", "--for=condition=Ready", "node", "--all", "--timeout=60s"
    )
    return info


def wait_apiserver_ready(supervisor: Supervisor, process: str, server: str, pki_dir: Path) -> None:
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    context.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
    supervisor.wait_ready(
        process, lambda: net.http_ok(f"{server}/readyz", context=context), timeout=120
    )


def kubectl(bins: Path, kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    """Our own kubectl build, of the cluster's version, against `kubeconfig`."""
    return processes.run_checked(
        [str(bins / "kubectl"), f"--kubeconfig={kubeconfig}", *args], stdin=stdin
    )
