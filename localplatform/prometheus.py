"""Prometheus for the release analysis: built from its Go module, discovering pods on the cluster.

The ServiceRelease operator's analysis steps ask Prometheus' HTTP API for a number
(`operators/release/prometheus.py`); this is the Prometheus that answers them locally. Debian's
2.42 has no `kubernetes_sd_configs`, so the platform builds `cmd/prometheus` from the pinned
module (`versions.PROMETHEUS`, only the kubernetes, file and http discoverers).

It runs as its own process on loopback, its TSDB in the run directory with a short retention, and
scrapes every 5 s (analysis windows are minutes, tests wait seconds) two kinds of target:
- pods annotated `prometheus.io/scrape: "true"` (what the release operator renders,
  `operators/release/resources.py`), found through the apiserver with a client certificate of
  its own, bound to a ClusterRole that only lists and watches pods, Services and endpoints. Only
  pods of a real node are kept: kwok's pods have addresses that no process serves.
- services running as host processes (`meridian dev up --services`, the tests' own): file
  targets, one JSON file per group under `targets/`, which Prometheus watches and reloads.
Either way a series carries `service` (and for pods `namespace`, `release`, `role`, `revision`),
the labels the analysis templates in `crds/examples` select on.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from meridian.localplatform import kubecluster, net, pki
from meridian.localplatform.processes import ProcessSpec, Supervisor

PROCESS = "prometheus"
USER = "meridian:prometheus"
"""The client certificate's common name: what the ClusterRoleBinding names."""
SCRAPE_INTERVAL = "5s"
RETENTION = "6h"
RETENTION_SIZE = "256MB"
REAL_NODE_PATTERN = ".+-real-[0-9]+"
"""`realnode.node_name`: only pods there have an address a scrape can reach."""
SCRAPE_ANNOTATION = "prometheus.io/scrape"
PORT_ANNOTATION = "prometheus.io/port"
PATH_ANNOTATION = "prometheus.io/path"
_POD_META = "__meta_kubernetes_pod_"


class Target(NamedTuple):
    """One host process to scrape: its loopback `host:port` and the labels its series get."""

    address: str
    labels: Mapping[str, str]


def _meta(name: str) -> str:
    """A pod annotation or label as kubernetes_sd names it (`prometheus.io/scrape` ->
    `..._annotation_prometheus_io_scrape`)."""
    return _POD_META + "".join(c if c.isalnum() else "_" for c in name)


def cluster_role() -> list[dict[str, Any]]:
    """What discovery needs and nothing more: read pods, Services and endpoints."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": USER},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "services", "endpoints"],
                    "verbs": ["get", "list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["get", "list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": USER},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": USER,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
        },
    ]


def _pod_job(kubeconfig: Path) -> dict[str, Any]:
    def copy(source: str, target: str) -> dict[str, Any]:
        return {"source_labels": [source], "target_label": target, "action": "replace"}

    return {
        "job_name": "kubernetes-pods",
        "kubernetes_sd_configs": [{"role": "pod", "kubeconfig_file": str(kubeconfig)}],
        "relabel_configs": [
            {
                "source_labels": [_meta(f"annotation_{SCRAPE_ANNOTATION}")],
                "regex": "true",
                "action": "keep",
            },
            {
                "source_labels": [f"{_POD_META}node_name"],
                "regex": REAL_NODE_PATTERN,
                "action": "keep",
            },
            {"source_labels": [f"{_POD_META}phase"], "regex": "Running", "action": "keep"},
            {
                "source_labels": [_meta(f"annotation_{PATH_ANNOTATION}")],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
            },
            {
                "source_labels": [f"{_POD_META}ip", _meta(f"annotation_{PORT_ANNOTATION}")],
                "regex": "(.+);([0-9]+)",
                "replacement": "$1:$2",
                "target_label": "__address__",
            },
            copy("__meta_kubernetes_namespace", "namespace"),
            copy(f"{_POD_META}name", "pod"),
            copy(_meta("label_app.kubernetes.io/name"), "service"),
            copy(_meta("label_app.kubernetes.io/instance"), "release"),
            copy(_meta("label_meridian.io/role"), "role"),
            copy(_meta("label_meridian.io/revision"), "revision"),
        ],
    }


def config(run_dir: Path, kubeconfig: Path | None) -> dict[str, Any]:
    """The whole configuration; without `kubeconfig` (an adopted cluster, whose CA we do not
    hold) only the host processes are scraped."""
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "processes",
            "file_sd_configs": [{"files": [str(targets_dir(run_dir) / "*.json")]}],
        }
    ]
    if kubeconfig is not None:
        jobs.append(_pod_job(kubeconfig))
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "4s"},
        "scrape_configs": jobs,
    }


def home(run_dir: Path) -> Path:
    """Prometheus' folder in the platform's run directory: config, identity, targets, TSDB."""
    return run_dir / "prometheus"


def targets_dir(run_dir: Path) -> Path:
    return home(run_dir) / "targets"


def register(run_dir: Path, group: str, targets: Sequence[Target]) -> Path:
    """Scrape `targets` (replacing the group's previous ones); Prometheus picks the file up
    within seconds, whether it runs already or starts later."""
    path = targets_dir(run_dir) / f"{group}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = [{"targets": [target.address], "labels": dict(target.labels)} for target in targets]
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(groups, indent=2))
    os.replace(scratch, path)  # never a half-written file for the watcher to read
    return path


def services(urls: Mapping[str, str]) -> list[Target]:
    """Services running as host processes, by name -> base URL, each series labelled `service`."""
    return [
        Target(urllib.parse.urlsplit(url).netloc, {"service": name})
        for name, url in sorted(urls.items())
    ]


def unregister(run_dir: Path, group: str) -> None:
    (targets_dir(run_dir) / f"{group}.json").unlink(missing_ok=True)


def grant(bins: Path, cluster: kubecluster.ClusterInfo, directory: Path) -> Path:
    """A kubeconfig of Prometheus' own identity on `cluster`, and the RBAC that binds it."""
    pki_dir = Path(cluster.kubeconfig).parent / "pki"
    ca = pki.KeyPair(pki_dir / "ca.crt", pki_dir / "ca.key")
    client = pki.issue(ca, directory, f"{cluster.name}-client", common_name=USER)
    path = directory / f"{cluster.name}.kubeconfig"
    kubecluster.write_kubeconfig(
        path, cluster=f"meridian-{cluster.name}", server=cluster.server, ca=ca.cert, client=client
    )
    manifests = {"apiVersion": "v1", "kind": "List", "items": cluster_role()}
    kubecluster.kubectl(
        bins, cluster.kubeconfig, "apply", "--server-side", "-f", "-", stdin=json.dumps(manifests)
    )
    return path


def start(supervisor: Supervisor, bins: Path, cluster: kubecluster.ClusterInfo | None) -> str:
    """Start (or find running) the Prometheus of the supervisor's run directory, discovering
    pods on `cluster` (None: host processes only); returns its URL once `/-/ready` answers."""
    run_dir = supervisor.run_dir
    directory = home(run_dir)
    targets_dir(run_dir).mkdir(parents=True, exist_ok=True)
    (port,) = net.sticky_ports(directory / "prometheus.ports", 1)
    url = f"http://{net.LOOPBACK}:{port}"
    if not supervisor.exited(PROCESS):
        return url
    kubeconfig = grant(bins, cluster, directory) if cluster is not None else None
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config(run_dir, kubeconfig), sort_keys=False))
    supervisor.start(
        ProcessSpec(
            name=PROCESS,
            argv=[
                str(bins / "prometheus"),
                f"--config.file={config_file}",
                f"--web.listen-address={net.LOOPBACK}:{port}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--storage.tsdb.retention.size={RETENTION_SIZE}",
                "--log.level=warn",
            ],
            cwd=directory,
        )
    )
    supervisor.wait_ready(PROCESS, lambda: net.http_ok(f"{url}/-/ready"), timeout=60)
    return url
