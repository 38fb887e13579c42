"""When a run's target must be re-seeded first, and the guard that lets such a run start."""

from __future__ import annotations

import pytest

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import database, journal, steps


@pytest.mark.parametrize(
    ("target", "need"),
    [
        (database.Standing(in_recovery=True, streaming=True, fenced=False), "streaming"),
        (database.Standing(in_recovery=True, streaming=False, fenced=False), "reseed"),
        (database.Standing(in_recovery=False, streaming=False, fenced=True), "reseed"),
        (None, "reseed"),  # down: a re-seed is what brings it back
        (database.Standing(in_recovery=False, streaming=False, fenced=False), "refuse"),
    ],
)
def test_reseed_need(target: database.Standing | None, need: str) -> None:
    assert database.reseed_need(target) == need


def test_planned_runs_reseed_before_fencing_and_emergency_runs_do_not() -> None:
    planned = [s for s in journal.PLANNED]
    assert planned.index("Reseed") == planned.index("Preflight") + 1
    assert planned.index("Reseed") < planned.index("FenceSource")
    assert planned[-2:] == ["Verify", "ReseedSource"]  # after verified: not part of the RTO
    assert "Reseed" not in journal.EMERGENCY
    assert "ReseedSource" not in journal.EMERGENCY


def test_the_reseed_id_differs_between_runs_of_the_same_id() -> None:
    first = journal.new_run(failoverplan.RunRequest(id="failback-1", direction="ToSource"))
    again = {**first, "startedAt": "2030-01-01T00:00:00.000+00:00"}
    assert steps.reseed_id(first).startswith("failback-1@")
    assert steps.reseed_id(first) == steps.reseed_id(dict(first))
    assert steps.reseed_id(first) != steps.reseed_id(again)
    assert steps.reseed_id(first) != steps.reseed_id(first, "source")


def test_an_endpoint_may_name_its_instance_agent() -> None:
    endpoint = failoverplan.DatabaseEndpoint.model_validate(
        {
            "host": "db",
            "credentialsSecret": "s",
            "agent": {"url": "http://127.0.0.1:9000", "tokenSecret": {"name": "t", "key": "token"}},
        }
    )
    assert endpoint.agent is not None
    assert endpoint.agent.token_secret.key == "token"
    with pytest.raises(ValueError, match="url"):
        failoverplan.DatabaseEndpoint.model_validate(
            {
                "host": "db",
                "credentialsSecret": "s",
                "agent": {"url": "ftp://x", "tokenSecret": {"name": "t"}},
            }
        )
