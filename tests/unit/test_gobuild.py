"""The wrapper go.mod undoes k8s.io/kubernetes' staging replaces from its own go.mod."""

from __future__ import annotations

from meridian.localplatform import gobuild, versions

UPSTREAM = """module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	github.com/blang/semver/v4 v4.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kube-aggregator => ./staging/src/k8s.io/kube-aggregator
)
"""


def test_staging_replaces_point_at_published_modules() -> None:
    gomod = gobuild.wrapper_gomod(versions.GO_TOOLS["kubernetes"], UPSTREAM)
    staging = versions.KUBERNETES_STAGING
    assert f"\tk8s.io/api => k8s.io/api {staging}" in gomod
    assert f"\tk8s.io/client-go => k8s.io/client-go {staging}" in gomod
    assert f"\tk8s.io/kube-aggregator => k8s.io/kube-aggregator {staging}" in gomod
    assert "./staging" not in gomod
    assert "godebug default=go1.26" in gomod
    assert f"require k8s.io/kubernetes {versions.KUBERNETES}" in gomod


def test_modules_without_staging_get_a_plain_require() -> None:
    gomod = gobuild.wrapper_gomod(
        versions.GO_TOOLS["etcd"], "module go.etcd.io/etcd/server/v3\n\ngo 1.26.0\n"
    )
    assert "replace" not in gomod
    assert f"require go.etcd.io/etcd/server/v3 {versions.ETCD}" in gomod


def test_cache_key_names_every_pinned_version() -> None:
    key = versions.cache_key()
    for version in (versions.KUBERNETES, versions.ETCD, versions.KWOK):
        assert version in key


def test_prometheus_reports_its_release_not_the_module_tag() -> None:
    """Module tag v0.316.0 is Prometheus 3.16.0: `--version` and build_info must say so."""
    tool = versions.GO_TOOLS["prometheus"]
    assert tool.version == "v0.316.0"
    assert "-X github.com/prometheus/common/version.Version=3.16.0" in gobuild._ldflags(tool)
    assert set(tool.tags) == {"remove_all_sd", "enable_kubernetes_sd"}
