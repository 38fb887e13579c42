"""The DR platform a FailoverPlan drill runs on: prod and DR clusters, a primary with a streaming
standby, Route53 on moto, the plan's Secrets and services (`drplan.prepare`), the FailoverPlan
operator alone, and a stand-in for the DR side's health endpoints to verify against.

The DR cluster has a real node with the orders and inventory images on it (prod's services stay
on kwok): a drill that asks for it (`reset_pair(real=True)`) runs DR's services as real pods and
verifies them; the others keep every service on kwok, which starts nothing, so they cost no pod starts."""

from __future__ import annotations

import asyncio
import http.server
import json
import shutil
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from meridian.localplatform import drplan, imagebuild, kubecluster, net, pg, platform
from meridian.localplatform.processes import Supervisor

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "failover-operator"


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return None


class Drill:
    def __init__(
        self, state: platform.PlatformState, health_url: str, images: dict[str, str]
    ) -> None:
        self.state, self.health_url, self.images = state, health_url, images
        self.supervisor = Supervisor(Path(state.run_dir))

    @property
    def kubeconfig(self) -> list[str]:
        """`--kubeconfig` of the prod cluster, for `kubectl meridian` commands."""
        return ["--kubeconfig", str(self.state.clusters["primary"]["kubeconfig"])]

    def kubectl(self, *args: str, cluster: str = "primary", stdin: str | None = None) -> str:
        kubeconfig = str(self.state.clusters[cluster]["kubeconfig"])
        return kubecluster.kubectl(Path(self.state.bin_dir), kubeconfig, *args, stdin=stdin)

    def apply(self, body: dict[str, Any]) -> str:
        return self.kubectl("apply", "-f", "-", stdin=json.dumps(body))

    def plan(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.kubectl("get", "failoverplan", name, "-n", drplan.NAMESPACE, "-o", "json")
        )
        return found

    def condition(self, name: str, type: str) -> str | None:
        for c in self.plan(name).get("status", {}).get("conditions", []):
            if c["type"] == type:
                return str(c["status"])
        return None

    def wait_condition_reason(
        self, name: str, type: str, reason: str, timeout: float = 120
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def reached() -> bool:
            for c in self.plan(name).get("status", {}).get("conditions", []):
                if c["type"] == type and c["reason"] == reason:
                    found.update(c)
                    return True
            return False

        net.wait_until(
            reached,
            what=f"{type} reason {reason} on {name}",
            timeout=timeout,
            diagnostics=lambda: json.dumps(self.plan(name).get("status"), indent=1)[-3000:],
        )
        return found

    @property
    def agents(self) -> tuple[str, str]:
        """The instance agents' URLs: the primary's, the standby's."""
        info = self.state.postgres_info
        return info.agent_url(), info.agent_url(standby=True)

    def agent_state(self, which: str) -> dict[str, Any]:
        """GET /v1/state of the instance agent beside `primary` or `standby`."""
        info = self.state.postgres_info
        request = urllib.request.Request(
            f"{info.agent_url(standby=which == 'standby')}/v1/state",
            headers={"Authorization": f"Bearer {info.agent_token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            found: dict[str, Any] = json.loads(answer.read())
        return found

    def wait_condition(self, name: str, type: str, status: str, timeout: float = 120) -> None:
        net.wait_until(
            lambda: self.condition(name, type) == status,
            what=f"{type}={status} on {name}",
            timeout=timeout,
            diagnostics=lambda: json.dumps(self.plan(name).get("status"), indent=1)[-3000:],
        )

    def start_operator(self, **settings: str) -> None:
        """The FailoverPlan operator alone; `settings` are its own (`fault_drill_pause_s="3"`)."""
        env = {"MERIDIAN_OPERATOR_FAILOVER_READINESS_INTERVAL_S": "2"}
        env |= {f"MERIDIAN_OPERATOR_FAILOVER_{k.upper()}": v for k, v in settings.items()}
        platform.start_operators(
            self.state, supervisor=self.supervisor, name=OPERATOR, only="failover", env=env
        )

    def kill_operator(self) -> None:
        self.supervisor.kill(OPERATOR)

    def start_run(self, name: str, run: dict[str, Any], **spec: Any) -> None:
        patch = json.dumps({"spec": {"run": run, **spec}})
        self.kubectl("patch", "fp", name, "-n", drplan.NAMESPACE, "--type=merge", "-p", patch)

    def run_status(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.plan(name).get("status", {}).get("run") or {}
        return found

    def wait_run_done(self, name: str, timeout: float = 240) -> dict[str, Any]:
        net.wait_until(
            lambda: self.run_status(name).get("state") in ("Succeeded", "Failed"),
            what=f"the run of {name} to end",
            timeout=timeout,
            diagnostics=lambda: json.dumps(self.run_status(name), indent=1)[-3000:],
        )
        return self.run_status(name)

    def dns_value(self) -> str:
        client = drplan.route53(self.state)
        found = client.list_resource_record_sets(
            HostedZoneId=drplan.ensure_zone(self.state),
            StartRecordName=drplan.RECORD + ".",
            StartRecordType="CNAME",
            MaxItems="1",
        )
        return str(found["ResourceRecordSets"][0]["ResourceRecords"][0]["Value"])

    def upserts_to(self, value: str) -> int:
        """UPSERTs of the record to `value` in moto's change list of the zone (all time)."""
        assert self.state.s3_endpoint
        with urllib.request.urlopen(f"{self.state.s3_endpoint}/moto-api/data.json") as answer:
            data = json.loads(answer.read())
        zones = [z for z in data["route53"]["FakeZone"] if z["name"] == drplan.ZONE + "."]
        return sum(
            1
            for change in zones[0]["rr_changes"]
            if change["Action"] == "UPSERT"
            and change["ResourceRecordSet"]["ResourceRecords"][0]["Value"] == value
        )

    def pods(self, cluster: str, service: str) -> list[dict[str, Any]]:
        """The service's pods in the services' namespace of `cluster`, terminating ones left out."""
        found = json.loads(
            self.kubectl(
                *("get", "pods", "-n", drplan.SERVICES_NAMESPACE, "-o", "json"),
                f"--selector=app.kubernetes.io/name={service}",
                cluster=cluster,
            )
        )
        return [p for p in found["items"] if not p["metadata"].get("deletionTimestamp")]

    def deployments(self, cluster: str) -> dict[str, tuple[int, int]]:
        """name: (spec replicas, ready replicas) in the services' namespace of `cluster`."""
        found = json.loads(
            self.kubectl(
                "get", "deploy", "-n", drplan.SERVICES_NAMESPACE, "-o", "json", cluster=cluster
            )
        )
        return {
            d["metadata"]["name"]: (d["spec"]["replicas"], d["status"].get("readyReplicas", 0))
            for d in found["items"]
        }


def up() -> Iterator[Drill]:
    path = platform.default_run_dir().parent / f"test-failover-{uuid.uuid4().hex[:8]}"
    server = http.server.ThreadingHTTPServer((net.LOOPBACK, 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        state = platform.up(path, dr=True, pg_standby=True, real_node=("dr",))
        platform.install_crds(state, ROOT / "crds")
        built = imagebuild.ensure_imported(path, ["dr"], services=drplan.REAL)
        drplan.prepare(state)
        images = {image.service: image.ref for image in built}
        drill = Drill(state, f"http://{net.LOOPBACK}:{server.server_address[1]}", images)
        drill.start_operator()
        started = time.monotonic()
        while time.monotonic() - started < 60:  # the DR apiserver's default account (namespaces)
            try:
                drill.kubectl("get", "serviceaccount", "default", "-o", "name", cluster="dr")
                break
            except RuntimeError:
                time.sleep(1)
        yield drill
    finally:
        server.shutdown()
        server.server_close()
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)


def reset_pair(drill: Drill, *, real: bool = False) -> dict[str, str] | None:
    """Back to the start of a drill: the original primary writable, a fresh standby streaming
    from it, the record on prod, prod's services up and DR's at 0 (between tests, not a step).
    With `real`, DR's services are real pods: returns where the host reaches each (`prepare`)."""
    state = drill.state
    drill.supervisor.stop("postgres-standby")
    shutil.rmtree(Path(state.run_dir) / "postgres" / "standby", ignore_errors=True)
    pg.start(drill.supervisor, Path(state.run_dir) / "postgres")  # (re)starts a killed primary
    if asyncio.run(_moved(state.postgres_info.dsn("postgres"))):
        # Re-seeded or promoted by an earlier drill: a new primary on timeline 1, so each drill
        # counts its own promotions from the start (initdb again; the agents stay).
        drill.supervisor.stop("postgres-primary")
        shutil.rmtree(Path(state.run_dir) / "postgres" / "primary")
        pg.start(drill.supervisor, Path(state.run_dir) / "postgres")
    # Before the copy: pg_basebackup copies postgresql.auto.conf, fence included.
    asyncio.run(_unfence(state.postgres_info.dsn("postgres")))
    pg.start(drill.supervisor, Path(state.run_dir) / "postgres", standby=True)
    client = drplan.route53(state)
    zone = drplan.ensure_zone(state)
    record = {
        "Name": drplan.RECORD,
        "Type": "CNAME",
        "TTL": 60,
        "ResourceRecords": [{"Value": drplan.SOURCE_VALUE}],
    }
    client.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )
    return drplan.prepare(state, drill.images if real else None)


async def _moved(dsn: str) -> bool:
    """Whether the primary is not the initdb'd one any more: a standby, or past timeline 1."""
    conn = await asyncpg.connect(dsn)
    try:
        recovery = await conn.fetchval("SELECT pg_is_in_recovery()")
        histories = await conn.fetchval(
            "SELECT count(*) FROM pg_ls_waldir() WHERE name LIKE '%.history'"
        )
    finally:
        await conn.close()
    return bool(recovery) or int(histories) > 0


async def standing(dsn: str) -> tuple[bool, bool]:
    """(in recovery, streaming) of a server."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT pg_is_in_recovery() AS recovery,"
            " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming"
        )
    finally:
        await conn.close()
    assert row is not None
    return bool(row["recovery"]), bool(row["streaming"])


async def _unfence(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


class Writer(threading.Thread):
    """Rows written into the primary continuously (one every 20 ms), each acknowledged id kept:
    the drill's stand-in for orders. Refusals (a fenced primary) are counted, not retried."""

    TABLE = "drill_writes"

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.acknowledged: list[int] = []
        self.refused = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._write())

    async def _write(self) -> None:
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None:
                    conn = await asyncpg.connect(self.dsn, timeout=5)
                written = await conn.fetchval(
                    f"INSERT INTO {self.TABLE} (at) VALUES (now()) RETURNING id"
                )
                self.acknowledged.append(int(written))
            except Exception:  # refused, cut off, or the server gone: all count as not written
                self.refused += 1
                if conn is not None:
                    conn.terminate()
                conn = None
            await asyncio.sleep(0.02)
        if conn is not None:
            await conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


async def create_table(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {Writer.TABLE} (id bigserial PRIMARY KEY, at timestamptz)"
        )
    finally:
        await conn.close()


async def count_present(dsn: str, ids: list[int]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval(
            f"SELECT count(*) FROM {Writer.TABLE} WHERE id = ANY($1::bigint[])", ids
        )
    finally:
        await conn.close()
    return int(found)


async def write_one(dsn: str) -> str | None:
    """None when a row could be written, else the error's class name."""
    try:
        conn = await asyncpg.connect(dsn)
    except (asyncpg.PostgresError, OSError) as error:
        return type(error).__name__
    try:
        await conn.execute(f"INSERT INTO {Writer.TABLE} (at) VALUES (now())")
    except asyncpg.PostgresError as error:
        return type(error).__name__
    finally:
        await conn.close()
    return None


async def history_files(dsn: str) -> list[str]:
    """The server's timeline history files: each promotion writes exactly one."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT name FROM pg_ls_waldir() WHERE name LIKE '%.history' ORDER BY name"
        )
    finally:
        await conn.close()
    return [str(row["name"]) for row in rows]


async def connected(dsn: str, application: str, database: str = drplan.DATABASE) -> int:
    """Sessions of `application` (its `application_name`) on the server, in `database` (the
    drill's)."""
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            application,
            database,
        )
    finally:
        await conn.close()
    return int(found)


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
