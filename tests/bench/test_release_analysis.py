"""One canary's analysis-to-decision time on the real node, beside the operator's own reaction.

The platform, the release and the gateway pod are `test_release_real_node`'s (its fixtures). A
canary whose config names a database role that does not exist fails every order query; the
client calls orders through the gateway all along; the error-ratio analysis (the example's
query, a measurement every 2 s, two failures in a row to fail) aborts it. The figure: from the
first moment Prometheus holds samples that make the query fail (found by evaluating the query
over the run, every 0.25 s) to the operator's abort decision (`status.abort.at`). The baseline,
same run: a healthy canary paused at its step, aborted by `actions.abort`, from the patch to the
decision: what the operator takes with no analysis in between. The floor the spec sets is
(consecutiveFailureLimit - 1) x interval. Printed, not asserted; with the load average.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.parse
import urllib.request
from typing import Any

from meridian.localplatform import net
from tests.bench.figures import _row
from tests.e2e import test_release_real_node as real

# The platform with its real node and the gateway pod: that module's fixtures.
node = real.node
edge = real.edge
FAILURE = 0.05
"""The example's failureCondition: result >= 0.05."""


def _aborted(platform: real.Node, spec: dict[str, Any]) -> tuple[datetime.datetime, dict[str, Any]]:
    """Patch `spec` in; returns when the patch was sent and the status once Aborted anew."""
    earlier = real._status(platform.state).get("abort")
    sent = datetime.datetime.now(datetime.UTC)
    real._patch(platform.state, spec)

    def aborted() -> bool:
        status = real._status(platform.state)
        return status.get("phase") == "Aborted" and status.get("abort") != earlier

    net.wait_until(aborted, what="the canary aborted", timeout=300)
    return sent, real._status(platform.state)


def _first_failing(platform: real.Node, query: str, start: datetime.datetime, end: str) -> float:
    """The first time (epoch seconds) the query evaluates to a failing value, every 0.25 s."""
    params = {
        "query": query,
        "start": f"{start.timestamp():.3f}",
        "end": f"{real._time(end).timestamp():.3f}",
        "step": "0.25",
    }
    url = f"{platform.prometheus_url}/api/v1/query_range?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        payload = json.load(response)
    (series,) = payload["data"]["result"]
    return next(float(at) for at, value in series["values"] if float(value) >= FAILURE)


def test_analysis_to_decision_time_on_the_real_node(node: real.Node, edge: str) -> None:
    check = real._error_ratio_analysis()
    config = {**node.env.env, "MERIDIAN_ORDERS_DB_ROLE": "meridian_orders_ap"}
    with real._calling(node, edge) as calls:
        started, failed = _aborted(
            node,
            {
                "route": "/v1/orders",
                "strategy": {
                    "type": "Canary",
                    "canarySteps": [{"setWeight": 50}, {"analysis": check}, {"pause": {}}],
                },
                "config": config,
                "progressDeadlineSeconds": 600,
            },
        )
    assert failed["abort"]["reason"] == "AnalysisFailed", failed["abort"]
    decided = real._time(failed["abort"]["at"]).timestamp()
    figure = decided - _first_failing(node, check["query"], started, failed["abort"]["at"])

    # Baseline: a healthy canary held at its step, aborted by hand.
    steps = [{"setWeight": 50}, {"pause": {}}]
    config = {**node.env.env, "MERIDIAN_ORDERS_INVENTORY_ATTEMPTS": "7"}
    real._patch(
        node.state, {"strategy": {"type": "Canary", "canarySteps": steps}, "config": config}
    )
    real._at(node, "Paused", 1)
    count = int(
        (real._release(node.state)["spec"].get("actions") or {}).get("abort", {}).get("count", 0)
    )
    sent, by_hand = _aborted(node, {"actions": {"abort": {"count": count + 1}}})
    baseline = real._time(by_hand["abort"]["at"]).timestamp() - sent.timestamp()
    floor = (check["consecutiveFailureLimit"] - 1) * 2.0

    print(f"\n== ServiceRelease analysis on the real node (load {os.getloadavg()[0]:.1f}) ==")
    print(f"  calls through the gateway meanwhile: {calls}")
    _row("analysis-to-decision: failing samples -> abort decided", f"{figure:.2f} s", "")
    _row("baseline: actions.abort patched -> abort decided", f"{baseline:.2f} s", "")
    _row("floor of the spec: (consecutiveFailureLimit - 1) x interval", f"{floor:.2f} s", "")
