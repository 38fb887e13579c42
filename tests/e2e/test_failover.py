"""A FailoverPlan on the DR platform: bad input refused by the apiserver naming the field, a
plan against the real local components standing ReadyToFailover, and the drill itself: a Planned
run under continuous writes, a failing check, a failure before promotion, and the operator
SIGKILLed inside every step."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from meridian import plugin
from meridian.localplatform import drplan, net, realnode
from meridian.operators.failover import journal
from tests.e2e import failover_platform

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def drill() -> Iterator[failover_platform.Drill]:
    yield from failover_platform.up()


def _refusal(drill: failover_platform.Drill, body: dict[str, Any]) -> str:
    with pytest.raises(RuntimeError) as refused:
        drill.apply(body)
    return str(refused.value)


def _bent(change: str) -> dict[str, Any]:
    body = copy.deepcopy(drplan.plan("refused"))
    spec = body["spec"]
    if change == "same-cluster":
        spec["targetCluster"]["name"] = spec["sourceCluster"]["name"]
    elif change == "emergency-unapproved":
        spec["run"] = {"id": "r1", "mode": "Emergency"}
    elif change == "negative-lag-budget":
        spec["lagBudgetSeconds"] = -1
    elif change == "unknown-mode":
        spec["run"] = {"id": "r1", "mode": "Whenever"}
    return body


@pytest.mark.parametrize("cluster", ["primary", "dr"])
def test_both_clusters_enforce_the_admission_policies(
    drill: failover_platform.Drill, cluster: str
) -> None:
    """What the DR side runs after a failover obeys the rules prod's does."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "latest", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "ghcr.io/meridian/orders:latest",
                    "resources": {"limits": {"cpu": "10m", "memory": "16Mi"}},
                }
            ]
        },
    }
    with pytest.raises(RuntimeError) as refused:
        drill.kubectl(
            "create", "--dry-run=server", "-f", "-", cluster=cluster, stdin=json.dumps(pod)
        )
    assert "meridian-no-latest-tag" in str(refused.value)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("same-cluster", "spec.targetCluster.name", "must differ"),
        ("emergency-unapproved", "spec.approval", "required for an Emergency run"),
        ("negative-lag-budget", "spec.lagBudgetSeconds", "greater than or equal to 0"),
        ("unknown-mode", "spec.run.mode", 'Unsupported value: "Whenever"'),
    ],
)
def test_bad_plan_is_refused_by_the_apiserver_naming_the_field(
    drill: failover_platform.Drill, change: str, field: str, words: str
) -> None:
    message = _refusal(drill, _bent(change))
    assert field in message, message
    assert words in message, message


def test_the_production_example_is_accepted(drill: failover_platform.Drill) -> None:
    example = failover_platform.ROOT / "crds" / "examples" / "failoverplan.yaml"
    out = drill.kubectl("apply", "--dry-run=server", "-f", str(example))
    assert "failoverplan.meridian.io/prod-to-dr created (server dry run)" in out


def test_emergency_with_approval_of_that_run_is_accepted(drill: failover_platform.Drill) -> None:
    body = _bent("emergency-unapproved")
    body["spec"]["approval"] = {"runId": "r1", "by": "dana", "reason": "us-east-1 down"}
    drill.kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(body))
    body["spec"]["approval"]["runId"] = "r0"  # approving another run does not count
    assert "spec.approval" in _refusal(drill, body)


def test_local_plan_stands_ready_to_failover_with_lag_measured(
    drill: failover_platform.Drill,
) -> None:
    name = "standing-by"
    drill.apply(drplan.plan(name))
    drill.wait_condition(name, "ReadyToFailover", "True")
    status = drill.plan(name)["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    for type in ("ReplicaHealthy", "LagWithinBudget", "TargetReachable", "DNSReachable"):
        assert conditions[type]["status"] == "True", conditions[type]
    assert conditions["ReplicaHealthy"]["reason"] == "Streaming"
    assert status["lag"]["bytes"] >= 0
    assert status["phase"] == "StandingBy"
    assert status["activeCluster"] == "prod"
    table = drill.kubectl("get", "fp", name, "-n", drplan.NAMESPACE)
    assert table.split("\n")[0].split() == [
        "NAME",
        "ACTIVE",
        "SIDE",
        "PHASE",
        "READY",
        "LAG",
        "LAST",
        "RUN",
        "RTO",
        "AGE",
    ]


def test_plan_whose_kubeconfig_secret_is_missing_is_not_ready_naming_it(
    drill: failover_platform.Drill,
) -> None:
    name = "no-secret"
    body = drplan.plan(name)
    body["spec"]["targetCluster"]["kubeconfigSecret"] = "nowhere"
    drill.apply(body)
    drill.wait_condition(name, "ReadyToFailover", "False")
    conditions = {c["type"]: c for c in drill.plan(name)["status"]["conditions"]}
    assert conditions["SecretsPresent"]["status"] == "False"
    assert "nowhere" in conditions["SecretsPresent"]["message"]
    # Not ready: a Planned run stops at Preflight and changes nothing.
    drill.start_run(name, {"id": "planned-1", "mode": "Planned"})
    run = drill.wait_run_done(name)
    assert run["state"] == "Failed"
    assert journal.step(run, "Preflight")["state"] == "Failed"
    assert "not ready, nothing changed" in journal.step(run, "Preflight")["message"]
    assert journal.step(run, "FenceSource")["state"] == "Pending"
    assert drill.dns_value() == drplan.SOURCE_VALUE


PRIMARY, STANDBY = "primary", "standby"


def _dsns(drill: failover_platform.Drill) -> dict[str, str]:
    info = drill.state.postgres_info
    return {
        PRIMARY: info.dsn(drplan.DATABASE),
        STANDBY: info.dsn(drplan.DATABASE, standby=True),
    }


def _fresh_plan(
    drill: failover_platform.Drill,
    name: str,
    check_path: str = "/healthz",
    *,
    agents: bool = False,
    real: bool = False,
) -> None:
    """A writable primary with a fresh standby, and a plan over them standing ready (alone:
    earlier plans are deleted, so their readiness checks do not load the machine). With
    `agents` the plan names both instance agents, so its runs re-seed (ReseedSource: the former
    primary follows the new one); without, they leave the former primary fenced (faster). With
    `real`, DR's services are real pods and the plan's checks are their `/readyz`; without, the
    stand-in's `check_path`."""
    drill.kubectl("delete", "fp", "--all", "-n", drplan.NAMESPACE, "--wait=true")
    urls = failover_platform.reset_pair(drill, real=real)
    asyncio.run(failover_platform.create_table(_dsns(drill)[PRIMARY]))
    checks = [{"name": "dr-health", "url": drill.health_url + check_path, "timeoutSeconds": 3}]
    if urls:
        checks = drplan.checks(urls)
    drill.apply(drplan.plan(name, checks=checks, agents=drill.agents if agents else None))
    drill.wait_condition(name, "ReadyToFailover", "True")


def test_planned_drill_moves_production_to_dr_losing_no_acknowledged_write(
    drill: failover_platform.Drill, capsys: pytest.CaptureFixture[str]
) -> None:
    name, dsns = "drill-planned", _dsns(drill)
    _fresh_plan(drill, name, agents=True, real=True)
    upserts = drill.upserts_to(drplan.TARGET_VALUE)
    reseeds = int((drill.agent_state("primary")["reseed"] or {}).get("count") or 0)
    writer = failover_platform.Writer(dsns[PRIMARY])
    writer.start()
    try:
        time.sleep(2)
        assert plugin.main(["failover", "start", name, "--id", "planned-1", *drill.kubeconfig]) == 0
        run = drill.wait_run_done(name)
    finally:
        writer.stop()
    assert run["state"] == "Succeeded", run["message"]
    assert plugin.main(["failover", "status", name, *drill.kubeconfig]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"failoverplan/{name}: run planned-1 requested (Planned, ToTarget)"
    assert printed[1].startswith("Active side: dr")
    assert printed[3].split() == ["STEP", "STATE", "STARTED", "TOOK", "MESSAGE"]
    assert [line.split()[:2] for line in printed[4 : 4 + len(journal.PLANNED)]] == [
        [s, "Succeeded"] for s in journal.PLANNED
    ]
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        (s, "Succeeded") for s in journal.PLANNED
    ]
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) == "ReadOnlySQLTransactionError"
    assert asyncio.run(failover_platform.write_one(dsns[STANDBY])) is None
    # The target already streamed: nothing re-seeded before the move. After it, the fenced old
    # primary was rewound onto the new timeline and follows the new primary: ready to go back.
    assert "already streams" in journal.step(run, "Reseed")["message"]
    assert not journal.step(run, "Reseed").get("changed")
    assert "re-seeded by pg_rewind" in journal.step(run, "ReseedSource")["message"]
    assert asyncio.run(failover_platform.standing(dsns[PRIMARY])) == (True, True)
    reseeded = drill.agent_state("primary")["reseed"]
    assert (reseeded["count"], reseeded["method"]) == (reseeds + 1, "pg_rewind")
    assert run["rtoSeconds"] == pytest.approx(
        journal.seconds_between(run["startedAt"], journal.step(run, "Verify")["finishedAt"]),
        abs=0.01,
    )
    acknowledged = writer.acknowledged
    assert len(acknowledged) > 50
    assert writer.refused > 0  # the writes ran into the fence
    present = asyncio.run(failover_platform.count_present(dsns[STANDBY], acknowledged))
    assert present == len(acknowledged)  # RPO 0, counted
    assert run["rpoBytes"] == 0
    assert run["rtoSeconds"] > 0  # the goal (< 60 s) is tests/bench/test_failover.py's
    assert drill.dns_value() == drplan.TARGET_VALUE
    assert drill.upserts_to(drplan.TARGET_VALUE) == upserts + 1
    assert drill.deployments("dr") == {s: (2, 2) for s in drplan.SERVICES}
    assert {s: r for s, (r, _) in drill.deployments("primary").items()} == {
        s: 0 for s in drplan.SERVICES
    }
    _assert_dr_services_are_real_pods_on_the_promoted_database(drill, name, run)
    assert asyncio.run(failover_platform.history_files(dsns[STANDBY])) == ["00000002.history"]
    status = drill.plan(name)["status"]
    assert status["activeCluster"] == "dr"
    # The same request applied again starts nothing.
    drill.start_run(name, {"id": "planned-1", "mode": "Planned"})
    time.sleep(5)
    assert drill.run_status(name)["startedAt"] == run["startedAt"]
    assert asyncio.run(failover_platform.history_files(dsns[STANDBY])) == ["00000002.history"]


POD_WRITE = """
import asyncio, json, os, asyncpg
async def main():
    conn = await asyncpg.connect(os.environ["MERIDIAN_ORDERS_PG_DSN"])
    try:
        row = await conn.fetchrow(
            "INSERT INTO drill_writes (at) VALUES (now())"
            " RETURNING id, pg_is_in_recovery() AS recovery, inet_server_port() AS port"
        )
        print(json.dumps(dict(row)))
    finally:
        await conn.close()
asyncio.run(main())
"""


def _assert_dr_services_are_real_pods_on_the_promoted_database(
    drill: failover_platform.Drill, name: str, run: dict[str, Any]
) -> None:
    """DR's services ran as real pods of their images on the DR node, the run verified them
    (each `/readyz` pings its database), and orders' database is the promoted one: the
    repointed Secret's, not prod's, whose DSN the Secret held before the run."""
    dsns, info = _dsns(drill), drill.state.postgres_info
    for service in drplan.REAL:
        pods = drill.pods("dr", service)
        assert len(pods) == 2, service
        for pod in pods:
            assert pod["spec"]["nodeName"] == realnode.node_name("dr")
            (container,) = pod["status"]["containerStatuses"]
            assert container["image"] == drill.images[service]
            assert container["ready"] is True
            assert "running" in container["state"]
    verification = drill.plan(name)["spec"]["verification"]
    assert [check["name"] for check in verification] == sorted(
        drplan.check_name(service) for service in drplan.REAL
    )
    for check in verification:  # the host's relay into DR's node
        assert check["url"].startswith(f"http://{net.LOOPBACK}:")
        assert check["url"].endswith("/readyz")
    assert journal.step(run, "Verify")["message"].startswith(f"{len(drplan.REAL)} checks passed")
    # Inventory, whose database the plan does not move, runs on the DR server too.
    inventory = ("inventory", "meridian_inventory")
    assert asyncio.run(failover_platform.connected(dsns[STANDBY], *inventory)) > 0
    assert asyncio.run(failover_platform.connected(dsns[PRIMARY], *inventory)) == 0
    assert journal.step(run, "RepointServices")["changed"][0] == (
        f"secret dr:{drplan.SERVICES_NAMESPACE}/{drplan.DATABASE_SECRET} key dsn → postgres-standby"
    )
    # The orders processes hold sessions on the promoted server, none on the former primary.
    assert asyncio.run(failover_platform.connected(dsns[STANDBY], "orders")) > 0
    assert asyncio.run(failover_platform.connected(dsns[PRIMARY], "orders")) == 0
    # A row written from inside an orders pod, with the pod's own DSN, lands in the promoted one.
    written = json.loads(
        drill.kubectl(
            *("exec", drill.pods("dr", drplan.MOVED)[0]["metadata"]["name"]),
            *("-n", drplan.SERVICES_NAMESPACE),
            *("--", "python3", "-c", POD_WRITE),
            cluster="dr",
        )
    )
    assert (written["recovery"], written["port"]) == (False, info.standby_port)
    assert asyncio.run(failover_platform.count_present(dsns[STANDBY], [written["id"]])) == 1


def test_failing_verification_fails_the_run_naming_the_check_and_leaves_dns(
    drill: failover_platform.Drill,
) -> None:
    name, dsns = "drill-failing-check", _dsns(drill)
    _fresh_plan(drill, name, check_path="/broken")
    drill.start_run(name, {"id": "planned-1", "mode": "Planned"})
    run = drill.wait_run_done(name)
    assert run["state"] == "Failed"
    verify = journal.step(run, "Verify")
    assert verify["state"] == "Failed"
    assert "check dr-health" in verify["message"]
    assert "503" in verify["message"]
    assert f"points at {drplan.TARGET_VALUE}" in run["message"]
    assert "Nothing was undone" in run["message"]
    assert drill.dns_value() == drplan.TARGET_VALUE
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) == "ReadOnlySQLTransactionError"
    assert drill.plan(name)["status"]["phase"] == "Failed"


def test_failure_before_promotion_unfences_the_source(drill: failover_platform.Drill) -> None:
    name, dsns = "drill-replay-timeout", _dsns(drill)
    _fresh_plan(drill, name)
    # The replica keeps streaming but stops replaying: WaitForReplay cannot reach the fence.
    asyncio.run(failover_platform.execute(dsns[STANDBY], "SELECT pg_wal_replay_pause()"))
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) is None
    drill.kill_operator()
    drill.start_operator(replay_timeout_s="3")
    try:
        drill.start_run(name, {"id": "planned-1", "mode": "Planned"})
        run = drill.wait_run_done(name)
    finally:
        drill.kill_operator()
        drill.start_operator()
    assert run["state"] == "Failed"
    assert journal.step(run, "WaitForReplay")["state"] == "Failed"
    assert journal.step(run, "Promote")["state"] == "Pending"
    assert "before promotion" in run["message"]
    assert "writable again" in run["message"]
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) is None
    assert {s: r for s, (r, _) in drill.deployments("primary").items()} == {
        s: 2 for s in drplan.SERVICES
    }
    assert drill.dns_value() == drplan.SOURCE_VALUE


def test_practice_walks_every_step_and_changes_nothing(drill: failover_platform.Drill) -> None:
    name, dsns = "drill-practice", _dsns(drill)
    _fresh_plan(drill, name)
    upserts = drill.upserts_to(drplan.TARGET_VALUE)
    drill.start_run(name, {"id": "practice-1", "mode": "Practice"})
    run = drill.wait_run_done(name)
    assert run["state"] == "Succeeded", run["message"]
    assert [s["state"] for s in run["steps"]] == ["Succeeded"] + ["Skipped"] * 9
    assert journal.step(run, "Promote")["message"].startswith("would promote")
    assert all(not s.get("changed") for s in run["steps"])
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) is None
    assert asyncio.run(failover_platform.history_files(dsns[STANDBY])) == []
    assert drill.dns_value() == drplan.SOURCE_VALUE
    assert drill.upserts_to(drplan.TARGET_VALUE) == upserts
    assert drill.deployments("dr") == {s: (0, 0) for s in drplan.SERVICES}
    assert drill.plan(name)["status"]["activeCluster"] == "prod"


def _step_state(run: dict[str, Any], run_id: str, step: str) -> str | None:
    """The state of `step` in run `run_id`, None while the status still shows another run."""
    if run.get("id") != run_id:
        return None
    return str(journal.step(run, step).get("state"))


def _run_killing_the_operator_inside(
    drill: failover_platform.Drill, name: str, request: dict[str, str], step: str
) -> dict[str, Any]:
    """Run `request` under an operator that pauses 3 s inside each step, SIGKILL it once `step`
    is Running (the step acted; its journal says Running), start it again and return the
    finished run. An operator without the pause is left running, whatever happened."""
    drill.kill_operator()
    drill.start_operator(fault_drill_pause_s="3")
    try:
        drill.start_run(name, request)
        net.wait_until(
            lambda: _step_state(drill.run_status(name), request["id"], step) == "Running",
            what=f"{step} running",
            timeout=120,
        )
        time.sleep(1)
        drill.kill_operator()
        drill.start_operator()
        return drill.wait_run_done(name)
    finally:
        drill.kill_operator()
        drill.start_operator()


@pytest.mark.parametrize(
    "step", [s for s in journal.PLANNED if s not in ("Reseed", "ReseedSource")]
)
def test_operator_killed_inside_a_step_completes_the_run_promoting_and_switching_once(
    drill: failover_platform.Drill, step: str
) -> None:
    name, dsns = f"drill-kill-{step.lower()}", _dsns(drill)
    _fresh_plan(drill, name)
    upserts = drill.upserts_to(drplan.TARGET_VALUE)
    run = _run_killing_the_operator_inside(
        drill, name, {"id": "planned-1", "mode": "Planned"}, step
    )
    assert run["state"] == "Succeeded", run["message"]
    assert asyncio.run(failover_platform.history_files(dsns[STANDBY])) == ["00000002.history"]
    assert drill.upserts_to(drplan.TARGET_VALUE) == upserts + 1
    assert drill.dns_value() == drplan.TARGET_VALUE


def test_emergency_promotes_what_the_replica_has_and_failback_reseeds_the_lost_primary(
    drill: failover_platform.Drill,
) -> None:
    """The primary's region is lost: an Emergency run promotes the replica, measuring the RPO.
    Then the failback, with no re-seed by hand: its Reseed step has the lost primary's instance
    agent re-seed it (the operator SIGKILLed inside the step: exactly one re-seed), the move
    back, and ReseedSource leaves the DR side streaming from prod again."""
    name, dsns = "drill-emergency", _dsns(drill)
    _fresh_plan(drill, name, agents=True)
    writer = failover_platform.Writer(dsns[PRIMARY])
    writer.start()
    time.sleep(3)
    drill.supervisor.kill("postgres-primary")  # the region is gone, mid-write
    writer.stop()
    approval = {"runId": "emergency-1", "by": "dana", "reason": "us-east-1 unreachable"}
    drill.start_run(name, {"id": "emergency-1", "mode": "Emergency"}, approval=approval)
    run = drill.wait_run_done(name)
    assert run["state"] == "Succeeded", run["message"]
    assert [s["name"] for s in run["steps"]] == list(journal.EMERGENCY)
    assert "primary not fenced" in journal.step(run, "FenceSource")["message"]
    assert run["rpoBytes"] is not None
    assert run["rpoSeconds"] is not None
    assert asyncio.run(failover_platform.write_one(dsns[STANDBY])) is None
    assert drill.dns_value() == drplan.TARGET_VALUE
    present = asyncio.run(failover_platform.count_present(dsns[STANDBY], writer.acknowledged))
    assert len(writer.acknowledged) > 50
    # Asynchronous replication: what the primary acknowledged last may be lost, and the
    # measured RPO is what says so; on loopback nothing (or next to nothing) is.
    assert len(writer.acknowledged) - present <= 5

    # The guard: not ready (the lost primary is down, not a replica), but curable by a run.
    ready = drill.wait_condition_reason(name, "ReadyToFailover", "ReseedRequired")
    assert ready["status"] == "False"
    assert "once postgres-primary is re-seeded" in ready["message"], ready
    before = {
        w: (drill.agent_state(w)["reseed"] or {}).get("count") or 0 for w in ("primary", "standby")
    }
    failback = {"id": "failback-1", "mode": "Planned", "direction": "ToSource"}
    run = _run_killing_the_operator_inside(drill, name, failback, "Reseed")
    assert run["state"] == "Succeeded", run["message"]
    assert [(s["name"], s["state"]) for s in run["steps"]] == [
        (s, "Succeeded") for s in journal.PLANNED
    ]
    after = {w: drill.agent_state(w)["reseed"] for w in ("primary", "standby")}
    # Exactly one re-seed of each side, by the operator; which method is in the journal.
    assert after["primary"]["count"] == before["primary"] + 1
    assert after["primary"]["id"].startswith("failback-1@")
    method = after["primary"]["method"]
    assert method in ("pg_rewind", "pg_basebackup")  # rewind after crash recovery, else a clone
    assert f"re-seeded by {method}" in journal.step(run, "Reseed")["message"]
    assert journal.step(run, "Reseed")["changed"] == [
        f"database postgres-primary re-seeded from postgres-standby ({method}), "
        "now a streaming standby"
    ]
    assert after["standby"]["count"] == before["standby"] + 1
    assert after["standby"]["method"] == "pg_rewind"  # a fenced, cleanly stopped former primary
    assert "re-seeded by pg_rewind" in journal.step(run, "ReseedSource")["message"]
    print(f"failback re-seeds: prod {method}, DR {after['standby']['method']}")
    print(f"Reseed: {journal.step(run, 'Reseed')['message']}")
    # Prod is the primary again; the DR side was re-seeded by the operator and streams from it.
    assert asyncio.run(failover_platform.write_one(dsns[PRIMARY])) is None
    assert asyncio.run(failover_platform.standing(dsns[STANDBY])) == (True, True)
    assert asyncio.run(failover_platform.write_one(dsns[STANDBY])) == "ReadOnlySQLTransactionError"
    assert drill.dns_value() == drplan.SOURCE_VALUE
    assert drill.plan(name)["status"]["activeCluster"] == "prod"
    assert drill.deployments("primary") == {s: (2, 2) for s in drplan.SERVICES}
    assert {s: r for s, (r, _) in drill.deployments("dr").items()} == {
        s: 0 for s in drplan.SERVICES
    }
    drill.wait_condition(name, "ReadyToFailover", "True")  # standing by again, towards DR


def test_a_run_is_refused_while_another_plan_moves_the_same_database(
    drill: failover_platform.Drill,
) -> None:
    first, second = "drill-guard-first", "drill-guard-second"
    _fresh_plan(drill, first)
    drill.apply(drplan.plan(second))
    drill.wait_condition(second, "ReadyToFailover", "True")
    drill.kill_operator()
    drill.start_operator(fault_drill_pause_s="3")  # keeps the first run going long enough
    try:
        drill.start_run(first, {"id": "planned-1", "mode": "Planned"})
        net.wait_until(
            lambda: drill.run_status(first).get("state") == "Running",
            what="the first plan's run",
            timeout=60,
        )
        drill.start_run(second, {"id": "planned-1", "mode": "Planned"})
        refused = drill.wait_run_done(second)
        finished = drill.wait_run_done(first)
    finally:
        drill.kill_operator()
        drill.start_operator()
    assert refused["state"] == "Failed"
    assert f"{drplan.NAMESPACE}/{first} run planned-1" in refused["message"]
    assert journal.step(refused, "FenceSource")["state"] == "Pending"
    assert finished["state"] == "Succeeded", finished["message"]
