"""`kubectl meridian policy report`: rows per namespace and policy, truncated reports said so."""

from __future__ import annotations

import argparse
from typing import Any

from meridian import plugin
from meridian.plugin import policy_report


def _report(
    namespace: str | None, results: list[tuple[str, str, str]], omitted: int = 0
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "meridian-policy",
        "annotations": {"meridian.io/results-omitted": str(omitted)},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "metadata": metadata,
        "summary": {"fail": 7, "warn": 0},
        "results": [
            {
                "policy": policy,
                "result": result,
                "resources": [{"kind": "Deployment", "name": name}],
            }
            for policy, result, name in results
        ],
    }


def test_violations_are_counted_per_namespace_and_policy_with_a_few_objects() -> None:
    reports = [
        _report("b", [("meridian-pdb-required", "fail", f"d{i}") for i in range(5)]),
        _report("a", [("meridian-network-policy", "warn", "x")]),
        _report(None, []),
    ]
    rows, notes = policy_report.rows(reports)
    assert rows == [
        ["a", "meridian-network-policy", "warn", 1, "Deployment/x"],
        [
            "b",
            "meridian-pdb-required",
            "fail",
            5,
            "Deployment/d0, Deployment/d1, Deployment/d2 (+2)",
        ],
    ]
    assert notes == []


def test_a_truncated_report_is_named_with_its_full_counts() -> None:
    _rows, notes = policy_report.rows([_report("b", [("p", "fail", "d")], omitted=6)])
    assert notes == ["b: 6 more results not listed (fail 7, warn 0 in all)"]


def test_report_takes_a_namespace_and_the_common_options() -> None:
    parser = argparse.ArgumentParser()
    policy_report.add_report(parser.add_subparsers(required=True), [plugin.common_options()])
    args = parser.parse_args(["report", "-n", "tenant-acme", "--kubeconfig", "/k"])
    assert (args.namespace, args.kubeconfig) == ("tenant-acme", "/k")
