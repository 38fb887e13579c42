"""The Python predicates of the five in-apiserver policies: each fixture breaks exactly its policy,
every pod controller's template is read, and the predicates cover exactly the APISERVER policies."""

from __future__ import annotations

from typing import Any

import pytest

from meridian.core.policy import catalogue, predicates
from meridian.core.policy.catalogue import Engine
from tests import policy_fixtures


def _pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec}


def test_one_predicate_per_apiserver_policy() -> None:
    apiserver = {policy.name for policy in catalogue.POLICIES if policy.engine is Engine.APISERVER}
    assert set(predicates.RULES) == apiserver


def test_a_compliant_pod_breaks_nothing() -> None:
    assert predicates.violations("", "Pod", _pod(policy_fixtures.COMPLIANT)) == []


@pytest.mark.parametrize(
    ("policy", "spec"),
    [(policy, spec) for policy, specs in policy_fixtures.VIOLATING.items() for spec in specs],
)
def test_each_fixture_breaks_exactly_its_policy(policy: str, spec: dict[str, Any]) -> None:
    found = predicates.violations("", "Pod", _pod(spec))
    assert {violation.policy.name for violation in found} == {policy}


def test_init_containers_are_named_by_their_path() -> None:
    [found] = predicates.violations(
        "", "Pod", _pod(policy_fixtures.VIOLATING["meridian-non-root"][2])
    )
    assert found.field == "spec.initContainers[0]"


@pytest.mark.parametrize(
    ("group", "kind", "wrap"),
    [
        ("apps", "Deployment", lambda s: {"spec": {"template": {"spec": s}}}),
        ("apps", "StatefulSet", lambda s: {"spec": {"template": {"spec": s}}}),
        ("apps", "DaemonSet", lambda s: {"spec": {"template": {"spec": s}}}),
        ("apps", "ReplicaSet", lambda s: {"spec": {"template": {"spec": s}}}),
        ("batch", "Job", lambda s: {"spec": {"template": {"spec": s}}}),
        (
            "batch",
            "CronJob",
            lambda s: {"spec": {"jobTemplate": {"spec": {"template": {"spec": s}}}}},
        ),
    ],
)
def test_every_pod_controller_template_is_read(group: str, kind: str, wrap: Any) -> None:
    spec = policy_fixtures.VIOLATING["meridian-no-privileged"][0]
    [found] = predicates.violations(group, kind, wrap(spec))
    assert found.policy.name == "meridian-no-privileged"
    assert found.field.endswith(".containers[0]")


def test_ephemeral_containers_need_no_limits_but_are_checked_for_the_rest() -> None:
    spec = {
        "containers": [dict(policy_fixtures.COMPLIANT_CONTAINER)],
        "ephemeralContainers": [{"name": "debug", "image": "busybox", "securityContext": {}}],
    }
    names = {v.policy.name for v in predicates.violations("", "Pod", _pod(spec))}
    assert names == {"meridian-non-root", "meridian-no-latest-tag", "meridian-approved-registry"}
