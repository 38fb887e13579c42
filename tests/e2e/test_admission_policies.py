"""The five in-apiserver policies and their defaults on the real apiserver, through `kubectl apply`.

The session platform installs them with the CRDs (`policies.install`). Each test works in its own
namespace. Enforce denies with the policy, the field and the fix; `kubectl meridian policy audit`
turns a policy to Audit, where the same object is admitted with kubectl's `Warning:` and the
apiserver counts it (`apiserver_validating_admission_policy_check_total`, action `audit`). No
admission webhook is involved: the denials come from the ValidatingAdmissionPolicy itself.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from meridian.core.policy import catalogue, mutating, predicates
from meridian.localplatform import platform
from tests import policy_fixtures

IMAGE = "ghcr.io/meridian/web:1.0"
LIMITS = {"limits": {"cpu": "100m", "memory": "64Mi"}}


def kubectl(
    state: platform.PlatformState, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """kubectl (and `kubectl meridian`, from this venv) against the session cluster, unchecked."""
    env = {
        **os.environ,
        "KUBECONFIG": state.kubeconfig,
        "PATH": f"{state.bin_dir}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(Path(state.bin_dir) / "kubectl"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def apply(
    state: platform.PlatformState, body: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    return kubectl(state, "apply", *extra, "-f", "-", stdin=json.dumps(body))


def until(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """A policy or binding change reaches the apiserver's admission through an informer."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.3)


def policy_checks(state: platform.PlatformState, policy: str, action: str) -> float:
    """`apiserver_validating_admission_policy_check_total` for one policy and action."""
    text = kubectl(state, "get", "--raw", "/metrics").stdout
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "apiserver_validating_admission_policy_check_total"
        and sample.labels.get("policy") == policy
        and sample.labels.get("enforcement_action") == action
    )


def container(name: str = "app", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "resources": LIMITS, **fields}


def pod_spec(**fields: Any) -> dict[str, Any]:
    return {"containers": [container()], **fields}


def workload(kind: str, namespace: str, spec: dict[str, Any], name: str = "w") -> dict[str, Any]:
    """`kind` (Pod or any pod controller) running pod `spec`, the controller's way."""
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": spec}
    api = {"Pod": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    meta = {"name": name, "namespace": namespace}
    if kind == "Pod":
        return {
            "apiVersion": api,
            "kind": kind,
            "metadata": {**meta, "labels": labels},
            "spec": spec,
        }
    if kind == "Job":
        template["spec"] = {"restartPolicy": "Never", **spec}
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"template": template}}
    if kind == "CronJob":
        template["spec"] = {"restartPolicy": "Never", **spec}
        job = {"spec": {"template": template}}
        body = {"schedule": "0 3 * * *", "jobTemplate": job}
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": body}
    body = {"selector": {"matchLabels": labels}, "template": template}
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": body}


# One object per policy that breaks that policy only, the field the message must name, and a
# different kind each, so every pod controller and every container list is exercised.
VIOLATIONS: dict[str, tuple[str, Callable[[], dict[str, Any]], str]] = {
    "meridian-non-root": (
        "Pod",
        lambda: pod_spec(containers=[container(securityContext={"runAsUser": 0})]),
        "spec.containers[0].securityContext.runAsUser is 0",
    ),
    "meridian-resource-limits": (
        "Deployment",
        lambda: pod_spec(initContainers=[container("init", resources={"limits": {"cpu": "100m"}})]),
        "spec.template.spec.initContainers[0].resources.limits lacks memory",
    ),
    "meridian-no-latest-tag": (
        "CronJob",
        lambda: pod_spec(containers=[container(image="ghcr.io/meridian/web:latest")]),
        "spec.jobTemplate.spec.template.spec.containers[0].image (ghcr.io/meridian/web:latest)",
    ),
    "meridian-approved-registry": (
        "StatefulSet",
        lambda: pod_spec(containers=[container(image="docker.io/library/nginx:1.27")]),
        "spec.template.spec.containers[0].image (docker.io/library/nginx:1.27)",
    ),
    "meridian-no-privileged": (
        "DaemonSet",
        lambda: pod_spec(containers=[container(securityContext={"privileged": True})]),
        "spec.template.spec.containers[0].securityContext.privileged is true",
    ),
}


@pytest.fixture
def namespace(local_platform: platform.PlatformState, namespace_name: str) -> Iterator[str]:
    name = re.sub(r"[^a-z0-9-]+", "-", namespace_name)  # parametrized ids carry brackets
    created = kubectl(local_platform, "create", "namespace", name)
    assert created.returncode == 0, created.stderr
    yield name
    kubectl(local_platform, "delete", "namespace", name, "--wait=false")


def _denied(state: platform.PlatformState, body: dict[str, Any]) -> bool:
    return apply(state, body, "--dry-run=server").returncode != 0


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_a_violation_is_denied_in_enforce_naming_policy_field_and_fix(
    local_platform: platform.PlatformState, namespace: str, name: str
) -> None:
    kind, spec, field = VIOLATIONS[name]
    before = policy_checks(local_platform, name, "deny")
    result = apply(local_platform, workload(kind, namespace, spec()))
    assert result.returncode != 0
    policy = catalogue.get(name)
    # From the ValidatingAdmissionPolicy inside the apiserver: no webhook to be up or down.
    assert f"ValidatingAdmissionPolicy '{name}'" in result.stderr
    assert f"{name} ({policy.title}): {field}; fix: {policy.fix}" in result.stderr
    assert policy_checks(local_platform, name, "deny") > before
    assert kubectl(local_platform, "get", kind.lower(), "w", "-n", namespace).returncode != 0


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_in_audit_a_violation_is_admitted_with_a_warning_and_counted(
    local_platform: platform.PlatformState, namespace: str, name: str
) -> None:
    """`kubectl meridian policy audit` flips it; `enforce` flips it back and it denies again."""
    kind, spec, field = VIOLATIONS[name]
    body = workload(kind, namespace, spec())
    try:
        flipped = kubectl(local_platform, "meridian", "policy", "audit", name)
        assert flipped.returncode == 0, flipped.stderr
        assert f"{name}=Audit" in flipped.stdout
        until(lambda: not _denied(local_platform, body), f"{name} in Audit")
        before = policy_checks(local_platform, name, "audit")
        result = apply(local_platform, body)
        assert result.returncode == 0, result.stderr
        assert f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}'" in result.stderr
        assert field in result.stderr
        # At least this create (the controller's own creates are audited too).
        assert policy_checks(local_platform, name, "audit") >= before + 1
        assert policy_checks(local_platform, name, "warn") >= 1
    finally:
        restored = kubectl(local_platform, "meridian", "policy", "enforce", name)
        assert restored.returncode == 0, restored.stderr
    until(
        lambda: _denied(local_platform, {**body, "metadata": {**body["metadata"], "name": "v"}}),
        f"{name} back in Enforce",
    )
    modes = json.loads(
        kubectl(
            local_platform,
            "get",
            "configmap",
            catalogue.MODES_CONFIGMAP,
            "-n",
            catalogue.MODES_NAMESPACE,
            "-o",
            "json",
        ).stdout
    )["data"]
    assert modes[name] == "Enforce"
    # What Audit let in stays manageable once enforced: an update that leaves the spec alone
    # (labels, finalizers, the garbage collector's owner references) is admitted, while one that
    # changes the spec is judged again.
    labelled = kubectl(local_platform, "label", kind.lower(), "w", "-n", namespace, "seen=yes")
    assert labelled.returncode == 0, labelled.stderr
    changed = apply(local_platform, _spec_changed(body))
    assert changed.returncode != 0
    assert f"ValidatingAdmissionPolicy '{name}'" in changed.stderr


def _spec_changed(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with a change to its spec that the apiserver allows on an update of its kind."""
    changed = copy.deepcopy(body)
    if body["kind"] == "Pod":  # a Pod's spec is immutable but for its images and a few more
        changed["spec"]["containers"][0]["image"] = "ghcr.io/meridian/web:1.1"
        return changed
    spec = changed["spec"]
    template = (
        spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    )
    template["spec"]["terminationGracePeriodSeconds"] = 45
    return changed


@pytest.mark.parametrize(
    "kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
)
def test_every_pod_controller_is_checked(
    local_platform: platform.PlatformState, namespace: str, kind: str
) -> None:
    spec = pod_spec(initContainers=[container("init", image="ghcr.io/meridian/init")])
    result = apply(local_platform, workload(kind, namespace, spec), "--dry-run=server")
    assert result.returncode != 0
    assert "initContainers[0].image (ghcr.io/meridian/init)" in result.stderr
    assert apply(local_platform, workload(kind, namespace, pod_spec())).returncode == 0


AGREEMENT_KINDS = ("Pod", "Deployment", "CronJob")


def _verdict_of_the_apiserver(
    state: platform.PlatformState, body: dict[str, Any]
) -> tuple[set[str], dict[str, Any]]:
    """The policies the apiserver denies `body` for, and the object it would store (with the
    defaults applied) or, when denied, the object as sent."""
    result = kubectl(
        state, "create", "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(body)
    )
    if result.returncode == 0:
        return set(), json.loads(result.stdout)
    denied = set(re.findall(r"ValidatingAdmissionPolicy '([a-z-]+)'", result.stderr))
    assert denied, result.stderr  # refused, but not by a policy: not a verdict to compare
    return denied, body


@pytest.mark.parametrize("kind", AGREEMENT_KINDS)
def test_the_apiserver_and_the_audit_predicates_agree(
    local_platform: platform.PlatformState, namespace: str, kind: str
) -> None:
    """The CEL the apiserver runs and the Python the audit controller runs
    (`core/policy/predicates.py`) give the same verdict on every shared fixture, as a Pod and as
    the templates of controllers: they are two spellings of one rule and must not drift apart."""
    specs = [policy_fixtures.COMPLIANT] + [
        spec for specs in policy_fixtures.VIOLATING.values() for spec in specs
    ]
    disagreements = []
    for index, spec in enumerate(specs):
        body = workload(kind, namespace, copy.deepcopy(spec), name=f"agree-{index}")
        denied, stored = _verdict_of_the_apiserver(local_platform, body)
        group = body["apiVersion"].rpartition("/")[0]
        audited = {found.policy.name for found in predicates.violations(group, kind, stored)}
        if denied != audited:
            disagreements.append((index, spec, denied, audited))
    assert disagreements == []


def test_an_ephemeral_container_is_checked_when_it_is_added(
    local_platform: platform.PlatformState, namespace: str
) -> None:
    assert apply(local_platform, workload("Pod", namespace, pod_spec())).returncode == 0
    debug = kubectl(
        local_platform,
        "debug",
        "w",
        "-n",
        namespace,
        "--image=ghcr.io/meridian/debug:latest",
        "--container=dbg",
    )
    assert debug.returncode != 0
    assert "meridian-no-latest-tag" in debug.stderr
    assert "spec.ephemeralContainers[0].image (ghcr.io/meridian/debug:latest)" in debug.stderr


def test_a_compliant_pod_is_admitted_unchanged_but_for_the_documented_defaults(
    local_platform: platform.PlatformState, namespace: str
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    kubectl(local_platform, "label", "namespace", namespace, f"{mutating.TENANT_LABEL}={tenant}")
    sent = workload("Pod", namespace, pod_spec(initContainers=[container("init")]))
    created = apply(local_platform, sent, "-o", "json")  # the object as admitted and stored
    assert created.returncode == 0, created.stderr
    got = json.loads(created.stdout)
    assert got["metadata"]["labels"] == {
        "app": "w",
        mutating.NAME_LABEL: "w",
        mutating.TENANT_LABEL: tenant,
    }
    assert got["spec"]["securityContext"] == {"runAsNonRoot": True}
    for got_container in got["spec"]["containers"] + got["spec"]["initContainers"]:
        assert got_container["image"] == IMAGE
        assert got_container["securityContext"] == {"readOnlyRootFilesystem": True}
        # Kubernetes' own defaulting: a request from the limit (no request default needed).
        assert got_container["resources"] == {**LIMITS, "requests": LIMITS["limits"]}
    # A controller's object is not mutated: only the pods it creates get the defaults.
    deployment = workload("Deployment", namespace, pod_spec())
    assert apply(local_platform, deployment).returncode == 0
    stored = json.loads(
        kubectl(local_platform, "get", "deployment", "w", "-n", namespace, "-o", "json").stdout
    )
    stored_container = stored["spec"]["template"]["spec"]["containers"][0]
    assert "securityContext" not in stored_container
    assert stored["spec"]["template"]["spec"]["securityContext"] == {}


def test_defaults_never_override_what_the_user_set(
    local_platform: platform.PlatformState, namespace: str
) -> None:
    mine = container(
        securityContext={"readOnlyRootFilesystem": False, "runAsUser": 1000},
        resources={"requests": {"cpu": "10m"}, "limits": {"cpu": "20m", "memory": "32Mi"}},
    )
    sent = workload(
        "Pod",
        namespace,
        {"containers": [mine], "securityContext": {"runAsNonRoot": False, "runAsUser": 1000}},
    )
    sent["metadata"]["labels"][mutating.NAME_LABEL] = "mine"
    # runAsNonRoot: false is a choice to allow root: the non-root policy refuses it, the default
    # does not flip it.
    denied = apply(local_platform, sent)
    assert "spec.securityContext.runAsNonRoot is false" in denied.stderr
    sent["spec"]["securityContext"] = {"runAsUser": 1000}
    created = apply(local_platform, sent, "-o", "json")
    assert created.returncode == 0, created.stderr
    got = json.loads(created.stdout)
    assert got["metadata"]["labels"][mutating.NAME_LABEL] == "mine"
    assert got["spec"]["containers"][0]["securityContext"] == mine["securityContext"]
    # Kubernetes' own defaulting copies the memory limit into the missing request.
    assert got["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"cpu": "20m", "memory": "32Mi"},
    }
    assert got["spec"]["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}


def test_kube_system_is_left_alone(local_platform: platform.PlatformState) -> None:
    everything_wrong = {"image": "nginx", "securityContext": {"privileged": True, "runAsUser": 0}}
    pod = workload("Pod", "kube-system", {"containers": [{"name": "x", **everything_wrong}]})
    pod["metadata"]["name"] = f"policy-probe-{uuid.uuid4().hex[:6]}"
    result = apply(local_platform, pod, "--dry-run=server", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    admitted = json.loads(result.stdout)["spec"]
    assert admitted.get("securityContext") in (None, {})  # no defaults either
    assert admitted["containers"][0]["securityContext"] == everything_wrong["securityContext"]


def test_approved_registries_are_the_params_configmap(
    local_platform: platform.PlatformState, namespace: str
) -> None:
    kind, spec, _ = VIOLATIONS["meridian-approved-registry"]
    body = workload(kind, namespace, spec())
    patch = {"data": {"approvedRegistries": "ghcr.io/meridian/, docker.io/library/"}}
    restore = {"data": {"approvedRegistries": "ghcr.io/meridian/"}}
    where = ["configmap", "meridian-policy-registries", "-n", catalogue.MODES_NAMESPACE]
    try:
        assert (
            kubectl(
                local_platform, "patch", *where, "--type=merge", "-p", json.dumps(patch)
            ).returncode
            == 0
        )
        until(lambda: not _denied(local_platform, body), "docker.io/library/ approved")
    finally:
        kubectl(local_platform, "patch", *where, "--type=merge", "-p", json.dumps(restore))
    until(lambda: _denied(local_platform, body), "docker.io/library/ refused again")


def test_policy_list_shows_live_and_default_modes(local_platform: platform.PlatformState) -> None:
    listing = kubectl(local_platform, "meridian", "policy", "list")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [policy.name for policy in catalogue.POLICIES]
    unknown = kubectl(local_platform, "meridian", "policy", "enforce", "no-such-policy")
    assert unknown.returncode == 2
    assert "known: meridian-approved-registry" in unknown.stderr
