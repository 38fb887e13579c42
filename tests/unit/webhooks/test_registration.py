"""The registration never locks the cluster, fails closed elsewhere, and covers every webhook
policy's kinds; the platform's service list stays inside the catalogue the webhook enforces."""

from __future__ import annotations

import pytest

from meridian.core import servicecatalogue
from meridian.core.api.v1alpha1 import meta
from meridian.localplatform import pipeline
from meridian.webhooks import registration


def test_every_webhook_excludes_kube_system_its_namespace_and_break_glass() -> None:
    rendered = registration.render(
        ca_bundle="Q0E=", own_namespace="hooks", url="https://127.0.0.1:1"
    )
    for webhook in rendered["webhooks"]:
        assert webhook["failurePolicy"] == "Fail"
        assert webhook["timeoutSeconds"] <= 3
        assert webhook["sideEffects"] == "None"
        assert webhook["clientConfig"] == {
            "caBundle": "Q0E=",
            "url": "https://127.0.0.1:1/validate",
        }
        expressions = webhook["namespaceSelector"]["matchExpressions"]
        assert {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", "hooks"],
        } in expressions
        assert {
            "key": registration.BREAK_GLASS_LABEL,
            "operator": "NotIn",
            "values": ["true"],
        } in expressions


def test_the_chart_form_calls_a_service() -> None:
    rendered = registration.render(
        ca_bundle="", own_namespace="hooks", service=("hooks", "webhooks", 443)
    )
    assert rendered["webhooks"][0]["clientConfig"]["service"] == {
        "namespace": "hooks",
        "name": "webhooks",
        "port": 443,
        "path": "/validate",
    }
    with pytest.raises(ValueError, match="exactly one"):
        registration.render(ca_bundle="", own_namespace="hooks")


def test_the_rules_cover_every_pod_controller_and_our_four_kinds() -> None:
    rendered = registration.render(ca_bundle="", own_namespace="hooks", url="https://x")
    resources = {
        (group, resource)
        for webhook in rendered["webhooks"]
        for rule in webhook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert resources == {
        ("", "pods"),
        ("apps", "deployments"),
        ("apps", "deployments/scale"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("meridian.io", "servicereleases"),
        ("meridian.io", "failoverplans"),
        ("meridian.io", "edgenodes"),
        ("meridian.io", "tenants"),
    }


def test_the_platform_runs_only_catalogued_services_and_the_catalogue_only_api_names() -> None:
    # A service added to the pipeline but not to the catalogue could never get a release.
    running = {service.name.replace("_", "-") for service in pipeline.SERVICES}
    assert running <= set(servicecatalogue.SERVICES)
    assert set(servicecatalogue.SERVICES) <= set(meta.SERVICES)
