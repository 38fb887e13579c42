"""The Tenant operator at Meridian's scale: 400 tenants applied at once.

Prints, beside a baseline from the same run (400 bare namespaces applied, then deleted, with
kubectl): seconds until all 400 are Ready, the API requests that took, the operator's peak RSS, API
writes during 60 s of idle (goal 0; `tests/e2e/test_tenant_operator.py` asserts it in `make test`)
while the resync keeps running, and offboarding all 400 (Retain: exported).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.bench.figures import _row, peak_rss_mib
from tests.metrics import apiserver_requests, apiserver_writes_by_request, writes_since

COUNT = 400
OWNED = tenants.OWNED_RESOURCES


def _phases(state: platform.PlatformState, selector: str) -> list[str]:
    out = platform.kubectl(
        state, "get", "tenants", "-l", selector, "-o", "jsonpath={.items[*].status.phase}"
    )
    return out.split()


def _wait(what: str, done: object, timeout: float = 600) -> float:
    started = time.monotonic()
    while not done():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.mark.timeout(1800)
def test_400_tenants_onboarded_idle_and_offboarded(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    print(f"\n== Tenant operator: {COUNT} tenants at once ==")
    prefix = f"b{uuid.uuid4().hex[:4]}"
    selector = f"meridian.io/bench={prefix}"

    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": f"{prefix}-ns-{i}", "labels": {"meridian.io/bench": prefix}},
        }
        for i in range(COUNT)
    ]
    started = time.monotonic()
    platform.kubectl(
        local_platform, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(namespaces)
    )
    baseline = time.monotonic() - started
    # Gone before the operator starts: the namespace controller's clean-up is itself hundreds
    # of writes, which would count against the operator below.
    started = time.monotonic()
    platform.kubectl(local_platform, "delete", "namespaces", "-l", selector, "--timeout=600s")
    namespaces_deleted = time.monotonic() - started

    documents = []
    for i in range(COUNT):
        document = tenants.manifest(f"{prefix}-{i}", deletionPolicy="Retain")
        document["metadata"]["labels"] = {"meridian.io/bench": prefix}
        documents.append(document)
    supervisor = Supervisor(tmp_path / "run")
    try:
        platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="operator",
            only="tenant",
            env={
                "MERIDIAN_OPERATOR_PEERING_NAME": f"bench-{prefix}",
                # A short resync, so that the idle minute spans six level-triggered rounds.
                "MERIDIAN_OPERATOR_RESYNC_S": "10",
            },
        )
        requests_before = apiserver_requests(local_platform, OWNED, writes_only=False)
        started = time.monotonic()
        platform.kubectl(
            local_platform, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(documents)
        )
        _wait(
            "400 tenants Ready",
            lambda: _phases(local_platform, selector).count("Ready") == COUNT,
        )
        total = time.monotonic() - started
        requests = apiserver_requests(local_platform, OWNED, writes_only=False) - requests_before
        _row(
            f"{COUNT} Tenants applied -> all Ready (s)",
            f"{total:.1f}",
            f"baseline: {COUNT} namespaces applied {baseline:.1f} s",
        )
        _row(
            "API requests for it (tenants + owned kinds, all clients)",
            f"{requests:.0f}",
            f"{requests / COUNT:.1f} per tenant, incl. kubectl's apply and polling",
        )
        _row("operator peak RSS (MiB)", f"{peak_rss_mib(supervisor.records()[0].pid):.0f}")

        writes_before = apiserver_writes_by_request(local_platform, OWNED)
        time.sleep(60)
        idle = writes_since(local_platform, OWNED, writes_before)
        _row(
            "API writes during 60 s idle (goal 0)",
            f"{sum(idle.values()):.0f}",
            f"resync every 10 s; {', '.join(f'{k}: {v:.0f}' for k, v in idle.items())}",
        )

        started = time.monotonic()
        platform.kubectl(local_platform, "delete", "tenants", "-l", selector, "--wait=false")
        offboard = _wait("400 tenants offboarded", lambda: not _phases(local_platform, selector))
        _row(
            f"{COUNT} Tenants deleted -> exported to S3 and gone (s)",
            f"{offboard:.1f}",
            f"baseline: {COUNT} namespaces deleted {namespaces_deleted:.1f} s",
        )
    finally:
        platform.kubectl(local_platform, "delete", "tenants", "-l", selector, "--wait=false")
        _wait("cleanup", lambda: not _phases(local_platform, selector))
        supervisor.stop_all()
