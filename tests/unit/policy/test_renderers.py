"""The admission policies rendered from the catalogue: what each covers, its mode, the YAML on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from meridian.core.policy import catalogue, manifests, mutating, podcel, validating
from meridian.core.policy.catalogue import Engine, Mode


def test_committed_policies_match_the_catalogue(repo_root: Path) -> None:
    """`make crds` was run after the last change under core/policy (the YAML is never hand-edited)."""
    for name, text in manifests.rendered_files().items():
        committed = (repo_root / "policies" / name).read_text()
        assert committed == text, f"policies/{name} is stale: run `make crds`"


def test_every_apiserver_policy_and_only_those_becomes_a_validating_policy() -> None:
    rendered = {item["metadata"]["name"] for item in validating.policies()}
    expected = {p.name for p in catalogue.POLICIES if p.engine is Engine.APISERVER}
    assert rendered == expected
    assert len(rendered) == 5
    assert {b["spec"]["policyName"] for b in validating.bindings()} == expected


def test_policies_cover_pods_and_every_pod_controller() -> None:
    for item in validating.policies():
        rules = item["spec"]["matchConstraints"]["resourceRules"]
        resources = {resource for rule in rules for resource in rule["resources"]}
        assert resources == {
            "pods",
            "pods/ephemeralcontainers",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "jobs",
            "cronjobs",
        }
        assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in rules)


@pytest.mark.parametrize("name", sorted(validating.CHECKS))
def test_every_container_list_is_checked(name: str) -> None:
    violations = next(
        v["expression"]
        for v in validating.policy(catalogue.get(name))["spec"]["variables"]
        if v["name"] == "violations"
    )
    assert "variables.containers.transformList" in violations
    assert "variables.initContainers.transformList" in violations
    # Ephemeral containers may not set resources at all, so the limits policy leaves them out.
    assert ("variables.ephemeralContainers" in violations) is (name != "meridian-resource-limits")


@pytest.mark.parametrize("name", sorted(validating.CHECKS))
def test_messages_name_the_policy_and_the_fix(name: str) -> None:
    policy = catalogue.get(name)
    validation = validating.policy(policy)["spec"]["validations"][0]
    assert validation["messageExpression"].startswith(f"variables.admitted ? '' : '{name} (")
    assert policy.fix in validation["messageExpression"]
    assert name in validation["message"]
    assert policy.fix in validation["message"]


def test_field_paths_follow_where_the_pod_spec_is() -> None:
    path = next(v["expression"] for v in podcel.VARIABLES if v["name"] == "path")
    for where in ("'spec'", "'spec.template.spec'", "'spec.jobTemplate.spec.template.spec'"):
        assert where in path
    check = validating.CHECKS["meridian-no-latest-tag"]
    assert "variables.path + '.initContainers[' + string(i) + ']'" in podcel.violations(check)


def test_bindings_take_the_live_mode_else_the_default() -> None:
    modes = {"meridian-non-root": Mode.AUDIT}
    actions = {
        b["metadata"]["name"]: b["spec"]["validationActions"] for b in validating.bindings(modes)
    }
    assert actions["meridian-non-root"] == ["Audit", "Warn"]
    assert actions["meridian-no-privileged"] == ["Deny"]  # the catalogue's default
    flipped = validating.bindings(catalogue.live_modes({"meridian-non-root": "Enforce"}))
    assert flipped[0]["spec"]["validationActions"] == ["Deny"]


def test_bindings_leave_kube_system_alone() -> None:
    objects = [*validating.bindings(), *mutating.bindings()]
    for item in objects:
        (expression,) = item["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert expression == {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system"],
        }


def test_the_registry_policy_reads_its_prefixes_from_a_configmap_that_must_exist() -> None:
    item = catalogue.get("meridian-approved-registry")
    assert validating.policy(item)["spec"]["paramKind"] == {"apiVersion": "v1", "kind": "ConfigMap"}
    ref = validating.binding(item, Mode.ENFORCE)["spec"]["paramRef"]
    assert ref["parameterNotFoundAction"] == "Deny"
    params = validating.registries_configmap()
    assert (ref["name"], ref["namespace"]) == (
        params["metadata"]["name"],
        params["metadata"]["namespace"],
    )
    assert params["data"] == {"approvedRegistries": "ghcr.io/meridian/"}
    assert (
        "paramRef" not in validating.binding(catalogue.get("meridian-non-root"), Mode.AUDIT)["spec"]
    )


def test_defaults_only_fill_pods_on_create_and_never_block_one() -> None:
    for item in mutating.policies():
        spec = item["spec"]
        assert spec["failurePolicy"] == "Ignore"
        (rule,) = spec["matchConstraints"]["resourceRules"]
        assert (rule["resources"], rule["operations"]) == (["pods"], ["CREATE"])
        assert all(m["patchType"] == "ApplyConfiguration" for m in spec["mutations"])


def test_limits_are_never_defaulted() -> None:
    """A default limit would make every pod pass meridian-resource-limits."""
    expressions = [
        mutation["applyConfiguration"]["expression"]
        for item in mutating.policies()
        for mutation in item["spec"]["mutations"]
    ]
    assert not [e for e in expressions if "limits:" in e]
    assert [e for e in expressions if "requests: {?'cpu'" in e and "optional.of('100m')" in e]
