"""The Planned drill five times on the DR platform: RTO and RPO min/median/max, and the time of
each step, beside the seed's promise (RPO < 1 min, RTO < 15 min, reached by hand).

Not part of `make test` (no timed assertions beyond each run succeeding): `make bench` prints it.
Each drill starts from a fresh pair (`reset_pair`) with rows written into the primary throughout.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from meridian.localplatform import drplan
from meridian.operators.failover import journal
from tests.bench.figures import _row
from tests.e2e import failover_platform
from tests.e2e.test_failover import PRIMARY, _dsns, _fresh_plan

DRILLS = 5
SEED_RTO_S = 15 * 60
SEED_RPO_S = 60


@pytest.fixture(scope="module")
def drill() -> Iterator[failover_platform.Drill]:
    yield from failover_platform.up()


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


@pytest.mark.timeout(1800)
def test_planned_drill_five_times(drill: failover_platform.Drill) -> None:
    runs = []
    for index in range(DRILLS):
        name = f"bench-{index}"
        _fresh_plan(drill, name)
        writer = failover_platform.Writer(_dsns(drill)[PRIMARY])
        writer.start()
        try:
            time.sleep(1)
            drill.start_run(name, {"id": "planned-1", "mode": "Planned"})
            run = drill.wait_run_done(name)
        finally:
            writer.stop()
        assert run["state"] == "Succeeded", run["message"]
        runs.append(run)
        drill.kubectl("delete", "fp", name, "-n", drplan.NAMESPACE)
    print(f"\n== FailoverPlan: Planned drill x{DRILLS} (min / median / max) ==")
    _row(
        "RTO, start to verified (s)",
        _spread([r["rtoSeconds"] for r in runs]),
        f"seed: < {SEED_RTO_S} s by hand",
    )
    _row("RPO (bytes of WAL lost)", _spread([float(r["rpoBytes"]) for r in runs]), "goal 0")
    _row("RPO (s)", _spread([float(r["rpoSeconds"]) for r in runs]), f"seed: < {SEED_RPO_S} s")
    for step in journal.PLANNED:
        took = [
            seconds
            for r in runs
            for name, _, seconds in journal.durations(r)
            if name == step and seconds is not None
        ]
        _row(f"  {step} (s)", _spread(took))
