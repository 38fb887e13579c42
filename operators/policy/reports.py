"""Findings rendered as wg-policy reports (`wgpolicyk8s.io/v1alpha2`): one PolicyReport per
namespace and one ClusterPolicyReport for cluster-scoped objects, each named `meridian-policy`.

A report always carries the whole of one scan: the `results` list is atomic in the CRD, so a
server-side apply replaces it, and a violation fixed since the last scan is gone from the next
report (no stale result survives a clean re-scan). A violation of an Enforce policy is `fail`, of
an Audit one `warn`; passing checks are only counted (`summary.pass`), never listed. Listed
results are capped (`max_results`); the summary counts every one and an annotation says how
many were left out. Each result is stamped with when it was first seen, so an unchanged scan
renders an identical report and is not written again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meridian.core.policy.catalogue import Mode
from meridian.operators.policy.findings import Finding

API_VERSION = "wgpolicyk8s.io/v1alpha2"
NAME = "meridian-policy"
SOURCE = "meridian"
OMITTED = "meridian.io/results-omitted"
MAX_MESSAGE = 512


def result_of(finding: Finding, first_seen: int) -> dict[str, Any]:
    violation = finding.violation
    return {
        "source": SOURCE,
        "policy": violation.policy.name,
        "rule": violation.policy.name,
        "category": violation.policy.engine.value,
        "severity": "high" if finding.mode is Mode.ENFORCE else "medium",
        "result": "fail" if finding.mode is Mode.ENFORCE else "warn",
        "scored": True,
        "message": violation.text()[:MAX_MESSAGE],
        "resources": [finding.resource],
        "timestamp": {"seconds": first_seen, "nanos": 0},
        "properties": {"field": violation.field, "mode": str(finding.mode)},
    }


def _order(result: Mapping[str, Any]) -> tuple[str, str, str, str]:
    resource = result["resources"][0]
    return (result["result"], result["policy"], resource["kind"], resource["name"])


def render(
    namespace: str,
    findings: Sequence[Finding],
    *,
    checked: int,
    first_seen: Mapping[tuple[str, str, str], int],
    max_results: int,
) -> dict[str, Any]:
    """The report of one namespace ("" renders the ClusterPolicyReport)."""
    results = sorted(
        (result_of(finding, first_seen[finding.key]) for finding in findings), key=_order
    )
    failing = sum(1 for r in results if r["result"] == "fail")
    warning = len(results) - failing
    metadata: dict[str, Any] = {
        "name": NAME,
        "labels": {"app.kubernetes.io/managed-by": "meridian-policy-audit"},
        "annotations": {OMITTED: str(max(0, len(results) - max_results))},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport" if namespace else "ClusterPolicyReport",
        "metadata": metadata,
        "summary": {
            "pass": max(0, checked - len(results)),
            "fail": failing,
            "warn": warning,
            "error": 0,
            "skip": 0,
        },
        "results": results[:max_results],
    }
