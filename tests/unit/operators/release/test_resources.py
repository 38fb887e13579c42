"""The objects a ServiceRelease renders: labels, policies, selectors, weights, revisions."""

from __future__ import annotations

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.release import resources, revision
from tests.unit.operators.release.conftest import spec_of


def _release(spec: servicerelease.ServiceReleaseSpec) -> resources.Release:
    return resources.Release(name="orders", namespace="meridian-prod", uid="u-1", spec=spec)


def _deployment(
    spec: servicerelease.ServiceReleaseSpec, role: resources.Role = "stable"
) -> resources.Manifest:
    template = revision.template_of(spec)
    return resources.deployment(_release(spec), role, template, revision.hash_of(template), 3)


def test_every_object_carries_the_standard_labels_and_its_owner(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    release = _release(spec_of(route="/v1/orders"))
    route = resources.http_route(release, 10)
    assert route is not None
    manifests = [_deployment(example_spec), *resources.fixed(release), route]
    assert {m["kind"] for m in manifests} == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "HTTPRoute",
    }
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "orders"
        assert labels["app.kubernetes.io/instance"] == "orders"
        assert labels["app.kubernetes.io/managed-by"] == resources.MANAGED_BY
        assert labels["app.kubernetes.io/part-of"] == "meridian"
        (owner,) = manifest["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("ServiceRelease", "u-1", True)


def test_pods_run_as_non_root_with_limits_as_the_admission_policies_require(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    pod = _deployment(example_spec)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["privileged"] is False
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_unset_requests_default_to_the_limits() -> None:
    spec = spec_of(resources={"limits": {"cpu": "1", "memory": "256Mi"}})
    container = _deployment(spec)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "256Mi"}


def test_the_pod_template_names_its_version_and_revision(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    labels = _deployment(example_spec)["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "1.14.2"
    assert labels[resources.REVISION_LABEL] == revision.hash_of(revision.template_of(example_spec))


def test_config_becomes_the_environment_after_the_listen_defaults(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    container = _deployment(example_spec)["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MERIDIAN_ORDERS_HOST"] == "0.0.0.0"
    assert env["MERIDIAN_ORDERS_PORT"] == str(resources.PORT)
    # SIGTERM: still answering while the endpoint is withdrawn, killed only after it finished.
    assert env["MERIDIAN_ORDERS_DRAIN_DELAY_S"] == str(resources.DRAIN_DELAY_S)
    grace = _deployment(example_spec)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > resources.DRAIN_DELAY_S + resources.SHUTDOWN_TIMEOUT_S
    assert env["MERIDIAN_ORDERS_INVENTORY_TIMEOUT_SECONDS"] == "5"


def test_stable_and_canary_select_only_their_own_pods(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    release = _release(example_spec)
    stable, canary = _deployment(example_spec, "stable"), _deployment(example_spec, "canary")
    assert stable["metadata"]["name"] == "orders"
    assert canary["metadata"]["name"] == "orders-canary"
    for deployment, role in ((stable, "stable"), (canary, "canary")):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector[resources.ROLE_LABEL] == role
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert resources.service(release, role)["spec"]["selector"] == selector


def test_the_disruption_budget_covers_stable_and_canary_pods(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    budget = resources.disruption_budget(_release(example_spec))
    assert budget is not None
    assert budget["spec"] == {
        "selector": {"matchLabels": {resources.INSTANCE_LABEL: "orders"}},
        "minAvailable": 2,
    }


def test_a_single_replica_without_a_budget_renders_none() -> None:
    spec = spec_of(replicas=1, autoscaling={"enabled": False})
    spec = spec.model_copy(update={"disruption_budget": None})
    assert resources.disruption_budget(_release(spec)) is None


def test_the_autoscaler_scales_the_stable_deployment(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    hpa = resources.autoscaler(_release(example_spec))
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"]["name"] == "orders"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert resources.autoscaler(_release(spec_of(autoscaling={"enabled": False}))) is None


def test_the_route_splits_traffic_by_exact_weight() -> None:
    route = resources.http_route(_release(spec_of(route="/v1/orders")), 37)
    assert route is not None
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/v1/orders"}}]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [
        ("orders", 63),
        ("orders-canary", 37),
    ]
    assert route["spec"]["parentRefs"] == [{"name": "meridian", "namespace": "meridian-system"}]


def test_no_route_renders_no_httproute() -> None:
    assert resources.http_route(_release(spec_of(route=None)), 0) is None


def test_a_config_or_resources_change_is_a_new_revision(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    base = revision.hash_of(revision.template_of(example_spec))
    config = spec_of(config={"MERIDIAN_ORDERS_INVENTORY_URL": "http://elsewhere:8080"})
    limits = spec_of(resources={"limits": {"cpu": "2", "memory": "2Gi"}})
    image = spec_of(image="ghcr.io/meridian/orders:1.14.3")
    hashes = {revision.hash_of(revision.template_of(s)) for s in (config, limits, image)}
    assert base not in hashes
    assert len(hashes) == 3


def test_a_replicas_or_strategy_change_is_the_same_revision(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    base = revision.hash_of(revision.template_of(example_spec))
    other = spec_of(replicas=7, strategy={"type": "RollingUpdate"})
    assert revision.hash_of(revision.template_of(other)) == base


def test_a_digest_image_is_labelled_by_its_digest() -> None:
    digest = "a" * 64
    assert resources.version_of(f"ghcr.io/meridian/orders@sha256:{digest}") == "sha256-aaaaaaaaaaaa"


def test_the_pods_go_where_the_platform_places_them_and_tolerate_its_taint() -> None:
    taint = {"key": "meridian.io/real-node", "operator": "Equal", "value": "true"}
    release = _release(spec_of())._replace(
        placement=resources.Placement({"meridian.io/real-node": "true"}, (taint,))
    )
    template = revision.template_of(release.spec)
    pod = resources.deployment(release, "stable", template, "r1", 2)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"meridian.io/real-node": "true"}
    assert pod["tolerations"] == [taint]


def test_a_signing_service_mounts_its_identity_secret_where_its_config_reads_the_key() -> None:
    key = "/var/run/secrets/meridian/identity/orders.pem"
    spec = spec_of(config={"MERIDIAN_ORDERS_IDENTITY_SIGNING_KEY_FILE": key})
    pod = _deployment(spec)["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    assert volume["secret"] == {"secretName": "orders-identity", "defaultMode": 0o440}
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert mount == {
        "name": "identity",
        "mountPath": "/var/run/secrets/meridian/identity",
        "readOnly": True,
    }
    assert pod["securityContext"]["fsGroup"] == resources.UID  # group-readable by the service


def test_a_service_without_a_signing_key_mounts_nothing(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    pod = _deployment(example_spec)["spec"]["template"]["spec"]
    assert pod["volumes"] == []
    assert pod["containers"][0]["volumeMounts"] == []


def test_pods_are_probed_and_annotated_for_prometheus_pod_discovery(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    template = _deployment(example_spec)["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(resources.PORT),
        "prometheus.io/path": "/metrics",
    }
    (container,) = template["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Liveness waits for the startup probe: a slow start is no dead process.
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert container["livenessProbe"]["timeoutSeconds"] > 1


def test_a_deployment_without_a_count_leaves_replicas_to_the_autoscaler(
    example_spec: servicerelease.ServiceReleaseSpec,
) -> None:
    template = revision.template_of(example_spec)
    manifest = resources.deployment(_release(example_spec), "stable", template, "r1", None)
    assert "replicas" not in manifest["spec"]
