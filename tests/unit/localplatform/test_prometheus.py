"""The platform's Prometheus configuration: what it discovers, what it keeps, what it may read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meridian.localplatform import platform, prometheus
from meridian.operators.release import resources


def _job(config: dict[str, Any], name: str) -> dict[str, Any]:
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == name]
    return job


def _relabel(source: str, config: dict[str, Any]) -> dict[str, Any]:
    job = _job(config, "kubernetes-pods")
    (rule,) = [rule for rule in job["relabel_configs"] if rule["source_labels"] == [source]]
    return rule


def test_pods_are_discovered_through_the_apiserver_with_its_own_kubeconfig(
    tmp_path: Path,
) -> None:
    config = prometheus.config(tmp_path, tmp_path / "primary.kubeconfig")
    (sd,) = _job(config, "kubernetes-pods")["kubernetes_sd_configs"]
    assert sd == {"role": "pod", "kubeconfig_file": str(tmp_path / "primary.kubeconfig")}


def test_only_annotated_pods_of_a_real_node_are_kept(tmp_path: Path) -> None:
    """kwok's pods have addresses nothing serves: scraping them would send traffic nowhere."""
    config = prometheus.config(tmp_path, tmp_path / "k")
    scrape = _relabel("__meta_kubernetes_pod_annotation_prometheus_io_scrape", config)
    assert (scrape["action"], scrape["regex"]) == ("keep", "true")
    node = _relabel("__meta_kubernetes_pod_node_name", config)
    assert node["action"] == "keep"
    assert node["regex"] == prometheus.REAL_NODE_PATTERN


def test_the_release_operators_pods_carry_the_annotations_discovery_reads() -> None:
    rendered = dict(resources.SCRAPE_ANNOTATIONS)
    assert rendered == {
        prometheus.SCRAPE_ANNOTATION: "true",
        prometheus.PORT_ANNOTATION: str(resources.PORT),
        prometheus.PATH_ANNOTATION: "/metrics",
    }


def test_series_are_labelled_from_the_release_operators_pod_labels(tmp_path: Path) -> None:
    config = prometheus.config(tmp_path, tmp_path / "k")
    for label, target in (
        ("app.kubernetes.io/name", "service"),
        (resources.INSTANCE_LABEL, "release"),
        (resources.ROLE_LABEL, "role"),
        (resources.REVISION_LABEL, "revision"),
    ):
        source = "__meta_kubernetes_pod_label_" + label.replace(".", "_").replace("/", "_")
        assert _relabel(source, config)["target_label"] == target


def test_an_adopted_cluster_leaves_only_the_host_processes(tmp_path: Path) -> None:
    config = prometheus.config(tmp_path, None)
    assert [job["job_name"] for job in config["scrape_configs"]] == ["processes"]


def test_registered_processes_are_a_file_prometheus_watches(tmp_path: Path) -> None:
    targets = prometheus.services({"orders": "http://127.0.0.1:8123", "auth": "http://127.0.0.1:9"})
    path = prometheus.register(tmp_path, "pipeline", targets)
    (pattern,) = _job(prometheus.config(tmp_path, None), "processes")["file_sd_configs"][0]["files"]
    assert path.match(pattern)
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:9"], "labels": {"service": "auth"}},
        {"targets": ["127.0.0.1:8123"], "labels": {"service": "orders"}},
    ]
    prometheus.unregister(tmp_path, "pipeline")
    assert not path.exists()


def test_its_identity_may_only_read_what_discovery_needs() -> None:
    role, binding = prometheus.cluster_role()
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "list", "watch"}
    resources_read = {name for rule in role["rules"] for name in rule["resources"]}
    assert resources_read == {"pods", "services", "endpoints", "endpointslices"}
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": prometheus.USER}
    ]


def test_dev_env_and_the_release_operator_get_its_url(tmp_path: Path) -> None:
    state = platform.PlatformState(
        run_dir=str(tmp_path),
        bin_dir=str(tmp_path / "bin"),
        clusters={"primary": {"kubeconfig": str(tmp_path / "admin.kubeconfig")}},
        prometheus_url="http://127.0.0.1:9090",
    )
    assert state.environment()["MERIDIAN_PROMETHEUS_URL"] == "http://127.0.0.1:9090"
    operator = platform.operator_environment(state)
    assert operator["MERIDIAN_OPERATOR_RELEASE_PROMETHEUS_URL"] == "http://127.0.0.1:9090"
