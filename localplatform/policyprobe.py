"""Wait until the apiserver's admission applies the policies just installed.

A ValidatingAdmissionPolicy, its binding and a MutatingAdmissionPolicy reach admission through the
apiserver's informers, a moment after the objects are written. `policies.install` returns only
once a server-side dry-run shows each one at work (a probe pod breaking exactly that policy is
named in the denial or, in Audit, the warning; a compliant probe comes back with the defaults),
so the first workload after `make up`, or the first test of a session, meets them.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from meridian.core.policy import catalogue, mutating, validating

_IMAGE = "ghcr.io/meridian/policy-probe:1"
_LIMITS = {"limits": {"cpu": "10m", "memory": "16Mi"}}

# Per policy: what a probe's container changes to break exactly that policy.
_BREAKS: dict[str, dict[str, Any]] = {
    "meridian-non-root": {"securityContext": {"runAsUser": 0}},
    "meridian-resource-limits": {"resources": {}},
    "meridian-no-latest-tag": {"image": "ghcr.io/meridian/policy-probe:latest"},
    "meridian-approved-registry": {"image": "registry.invalid/policy-probe:1"},
    "meridian-no-privileged": {"securityContext": {"privileged": True}},
}
_REFUSED_ANYWAY = "securityContext.privileged: Forbidden"


def probe(breaks: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pod in the policies' namespace, compliant unless `breaks` changes its container."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "policy-probe",
            "namespace": catalogue.MODES_NAMESPACE,
            "labels": {"app": "policy-probe"},
        },
        "spec": {
            "containers": [
                {"name": "probe", "image": _IMAGE, "resources": _LIMITS, **(breaks or {})}
            ]
        },
    }


def _dry_run(bins: Path, kubeconfig: str, pod: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(bins / "kubectl"),
            f"--kubeconfig={kubeconfig}",
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
        ],
        input=json.dumps(pod),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _in_effect(bins: Path, kubeconfig: str) -> list[str]:
    """What is not yet in effect (empty when everything is)."""
    missing = []
    for policy in validating.apiserver_policies():
        said = _dry_run(bins, kubeconfig, probe(_BREAKS[policy.name])).stderr
        if _REFUSED_ANYWAY in said and policy.name == "meridian-no-privileged":
            continue  # an apiserver without --allow-privileged refuses before any policy runs
        if f"ValidatingAdmissionPolicy '{policy.name}'" not in said:
            missing.append(policy.name)
    admitted = _dry_run(bins, kubeconfig, probe())
    if admitted.returncode != 0:
        return [*missing, f"a compliant pod: {admitted.stderr.strip()}"]
    pod = json.loads(admitted.stdout)
    if pod["spec"].get("securityContext", {}).get("runAsNonRoot") is not True:
        missing.append(f"{mutating.NAME} (runAsNonRoot)")
    if (
        pod["spec"]["containers"][0].get("securityContext", {}).get("readOnlyRootFilesystem")
        is not True
    ):
        missing.append(f"{mutating.NAME} (readOnlyRootFilesystem)")
    if mutating.NAME_LABEL not in pod["metadata"]["labels"]:
        missing.append(f"{mutating.NAME} ({mutating.NAME_LABEL})")
    return missing


def wait(bins: Path, kubeconfig: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while missing := _in_effect(bins, kubeconfig):
        if time.monotonic() > deadline:
            raise RuntimeError(f"admission policies not in effect after {timeout} s: {missing}")
        time.sleep(0.5)
