"""`kubectl meridian policy report [-n NS]`: the audit controller's findings, per namespace and
policy, read from its wg-policy reports (PolicyReport per namespace, ClusterPolicyReport).

The `policy` group (`plugin/policy.py`) adds it with `policy_report.add_report(policy, common)`.
Rows count violations by namespace and policy, with the mode each was found in (`fail`: Enforce,
`warn`: Audit) and a few of the objects; a report that listed only its first results says how
many it left out, so a count is never silently short.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lightkube import AsyncClient

from meridian.plugin import run, table

if TYPE_CHECKING:
    from meridian.plugin import Commands

SHOWN_OBJECTS = 3


def rows(reports: Iterable[dict[str, Any]]) -> tuple[list[list[object]], list[str]]:
    """Table rows (namespace, policy, result, count, objects) and notes on truncated reports."""
    counted: dict[tuple[str, str, str], list[str]] = {}
    notes = []
    for report in reports:
        metadata = report.get("metadata", {})
        namespace = metadata.get("namespace") or "(cluster)"
        omitted = int(metadata.get("annotations", {}).get("meridian.io/results-omitted", "0"))
        if omitted:
            summary = report.get("summary", {})
            notes.append(
                f"{namespace}: {omitted} more results not listed "
                f"(fail {summary.get('fail', 0)}, warn {summary.get('warn', 0)} in all)"
            )
        for result in report.get("results") or []:
            resource = (result.get("resources") or [{}])[0]
            key = (namespace, str(result.get("policy")), str(result.get("result")))
            counted.setdefault(key, []).append(f"{resource.get('kind')}/{resource.get('name')}")
    table_rows: list[list[object]] = []
    for (namespace, policy, result), objects in sorted(counted.items()):
        shown = ", ".join(objects[:SHOWN_OBJECTS])
        if len(objects) > SHOWN_OBJECTS:
            shown += f" (+{len(objects) - SHOWN_OBJECTS})"
        table_rows.append([namespace, policy, result, len(objects), shown])
    return table_rows, notes


async def _report(client: AsyncClient, args: argparse.Namespace) -> int:
    from meridian.operators.policy import audit  # the reports' resource types

    found: list[dict[str, Any]] = []
    namespace = args.namespace or "*"
    found += [audit.plain(r) async for r in client.list(audit.PolicyReport, namespace=namespace)]
    if not args.namespace:
        found += [audit.plain(r) async for r in client.list(audit.ClusterPolicyReport)]
    table_rows, notes = rows(found)
    if not table_rows:
        where = f"namespace {args.namespace}" if args.namespace else "any namespace"
        print(f"No violations reported in {where}.")
    else:
        headers = ["namespace", "policy", "result", "count", "objects"]
        print(table.render(headers, table_rows), end="")
    for note in notes:
        print(note)
    return 0


def add_report(policy: Commands, common: list[argparse.ArgumentParser]) -> None:
    report = policy.add_parser(
        "report", parents=common, help="violations of existing objects, per namespace and policy"
    )
    report.add_argument("-n", "--namespace", default=None, help="one namespace (default: all)")
    report.set_defaults(handler=run.kube_command(_report))
