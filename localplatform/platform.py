"""The local platform as one unit: what `make up`, `meridian dev ...` and the test fixtures call.

`up()` is idempotent: run it twice and the second call finds every process alive and returns the
same state. Everything lives in one run directory; `down()` stops what that directory recorded.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shlex
import sys
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

from meridian.core.registry import tenants
from meridian.localplatform import (
    admission,
    elasticsearch,
    gatewayapi,
    gobuild,
    imagebuild,
    kubecluster,
    net,
    nodestatus,
    packages,
    pg,
    pipeline,
    podpipeline,
    policies,
    prometheus,
    rabbitmq_server,
    realnode,
    redis_server,
    releases,
    s3_server,
    stripe_mock,
)
from meridian.localplatform.processes import ProcessSpec, Supervisor, service_user
from meridian.operators.machinery import operator as operators
from meridian.operators.machinery import rbac


def default_run_dir() -> Path:
    """World-traversable (0711) so the unprivileged service user can reach its own data dirs."""
    configured = os.environ.get("MERIDIAN_RUN_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"meridian-{getpass.getuser()}" / "dev"


@dataclass
class PlatformState:
    run_dir: str
    bin_dir: str
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    external_kubeconfig: str | None = None
    postgres: dict[str, Any] | None = None
    redis_url: str | None = None
    rabbitmq: dict[str, Any] | None = None
    s3_endpoint: str | None = None
    stripe_url: str | None = None
    gateway_url: str | None = None
    elasticsearch_url: str | None = None
    prometheus_url: str | None = None

    @property
    def kubeconfig(self) -> str:
        if self.external_kubeconfig:
            return self.external_kubeconfig
        return str(self.clusters["primary"]["kubeconfig"])

    @property
    def postgres_info(self) -> pg.PostgresInfo:
        assert self.postgres is not None, "PostgreSQL is not part of this platform"
        return pg.PostgresInfo(**self.postgres)

    @property
    def rabbitmq_info(self) -> rabbitmq_server.RabbitInfo:
        assert self.rabbitmq is not None, "RabbitMQ is not part of this platform"
        return rabbitmq_server.RabbitInfo(**self.rabbitmq)

    def environment(self) -> dict[str, str]:
        """The variables `meridian dev env` exports, named as every process's settings read them."""
        env = {
            "MERIDIAN_RUN_DIR": self.run_dir,
            "KUBECONFIG": self.kubeconfig,
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '')}",
        }
        if "dr" in self.clusters:
            env["MERIDIAN_DR_KUBECONFIG"] = str(self.clusters["dr"]["kubeconfig"])
        if self.postgres:
            info = self.postgres_info
            env["MERIDIAN_PG_DSN"] = info.dsn()
            env["MERIDIAN_PG_ADMIN_DSN"] = info.dsn("postgres")
            if Path(self.run_dir, "postgres", "standby", "PG_VERSION").exists():
                env["MERIDIAN_PG_STANDBY_DSN"] = info.dsn(standby=True)
        if self.redis_url:
            env["MERIDIAN_REDIS_URL"] = self.redis_url
        if self.rabbitmq:
            env["MERIDIAN_AMQP_URL"] = self.rabbitmq_info.amqp_url
            env["MERIDIAN_RABBITMQ_MANAGEMENT_URL"] = self.rabbitmq_info.management_url
        if self.s3_endpoint:
            env["MERIDIAN_S3_ENDPOINT"] = self.s3_endpoint
            env["AWS_ACCESS_KEY_ID"] = s3_server.ACCESS_KEY
            env["AWS_SECRET_ACCESS_KEY"] = s3_server.SECRET_KEY
            env["AWS_DEFAULT_REGION"] = s3_server.REGION
        if self.gateway_url:
            env["MERIDIAN_GATEWAY_URL"] = self.gateway_url
            env["MERIDIAN_STRIPE_WEBHOOK_URL"] = self.gateway_url + pipeline.STRIPE_WEBHOOK_PATH
            secret = Path(self.run_dir, "stripe-webhook-signing-secret")
            if secret.exists():
                env["MERIDIAN_STRIPE_WEBHOOK_SECRET_FILE"] = str(secret)
        if self.elasticsearch_url:
            env["MERIDIAN_ELASTICSEARCH_URL"] = self.elasticsearch_url
        if self.prometheus_url:
            env["MERIDIAN_PROMETHEUS_URL"] = self.prometheus_url
        if self.stripe_url:
            env["MERIDIAN_STRIPE_API_BASE"] = self.stripe_url
            env["MERIDIAN_STRIPE_API_KEY"] = stripe_mock.API_KEY
        return env

    def export_lines(self) -> str:
        lines = [
            f"export {k}={shlex.quote(v)}" for k, v in self.environment().items() if k != "PATH"
        ]
        # kubectl of the cluster's own version goes first on PATH (Debian's is far too old).
        lines.append(f'export PATH={shlex.quote(self.bin_dir)}:"$PATH"')
        return "\n".join(lines)


def _state_file(run_dir: Path) -> Path:
    return run_dir / "platform.json"


def load(run_dir: Path | None = None) -> PlatformState | None:
    path = _state_file(run_dir or default_run_dir())
    return PlatformState(**json.loads(path.read_text())) if path.exists() else None


def _adopted_kubeconfig(run_dir: Path, requested: str | None, recorded: str | None) -> str | None:
    """The cluster to use instead of starting one: only ever one named by the caller, never the
    caller's KUBECONFIG (a shell left pointing at production must not be adopted by accident).

    A run directory that adopted a cluster once keeps it on a later `up`; a kubeconfig inside the
    run directory is our own cluster's, not a foreign one.
    """
    chosen = requested or recorded
    if not chosen or Path(chosen).resolve().is_relative_to(run_dir.resolve()):
        return None
    return str(Path(chosen).absolute())


def _prepare_run_dir(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for directory in (run_dir.parent, run_dir):
        directory.chmod(0o711)


def up(
    run_dir: Path | None = None,
    *,
    dr: bool = False,
    pg_standby: bool = False,
    datastores: bool = True,
    adopt_kubeconfig: str | None = None,
    real_node: bool | tuple[str, ...] = False,
    search: bool = False,
    metrics: bool = False,
) -> PlatformState:
    """Start (or find, when already running) the clusters and datastores of one run directory.

    With `adopt_kubeconfig` (`meridian dev up --adopt-kubeconfig`, a laptop's kind, say) no
    control plane is started and that cluster is used; datastores are always our own. The state
    file is saved after every component, so a failure half-way leaves a directory that `down` can
    still stop completely and a second `up` can finish. `search` adds Elasticsearch (a JVM with
    a 512 MiB heap: only what needs it starts it, see `start_elasticsearch`); `metrics` adds
    Prometheus (`start_prometheus`). `real_node` gives every cluster a real node, or, as a tuple
    of cluster names ("dr",), only those (a node costs memory and a core's share at start).
    """
    run_dir = run_dir or default_run_dir()
    _prepare_run_dir(run_dir)
    bins = install() if datastores else gobuild.ensure_built()
    supervisor = Supervisor(run_dir)
    state = load(run_dir) or PlatformState(run_dir=str(run_dir), bin_dir=str(bins))
    state.bin_dir = str(bins)
    state.external_kubeconfig = _adopted_kubeconfig(
        run_dir, adopt_kubeconfig, state.external_kubeconfig
    )

    def save() -> None:
        _state_file(run_dir).write_text(json.dumps(state.__dict__, indent=2))

    save()
    names = ["primary", "dr"] if dr else ["primary"]
    if isinstance(real_node, tuple):
        with_node = set(real_node)
    else:
        with_node = set(names) if real_node else set()
    if state.external_kubeconfig is None:
        for name in names:
            cluster_dir = run_dir / "clusters" / name
            cluster = kubecluster.start(supervisor, cluster_dir, bins, name)
            state.clusters[name] = cluster.to_json()
            save()
            if name in with_node:
                realnode.start(supervisor, run_dir, cluster, bins)
    if datastores:
        state.postgres = pg.start(supervisor, run_dir / "postgres", standby=pg_standby).to_json()
        save()
        state.redis_url = redis_server.start(supervisor, run_dir / "redis")
        save()
        state.rabbitmq = rabbitmq_server.start(supervisor, run_dir / "rabbitmq").to_json()
        save()
        state.s3_endpoint = s3_server.start(supervisor, run_dir / "s3")
        save()
        state.stripe_url = stripe_mock.start(supervisor, run_dir / "stripe-mock", bins)
        save()
        if search:
            start_elasticsearch(state)
        if state.external_kubeconfig is None:
            for name, info in state.clusters.items():
                if name not in with_node:
                    continue
                realnode.expose_datastores(
                    supervisor,
                    run_dir,
                    kubecluster.ClusterInfo(**info),
                    bins,
                    datastore_ports(state),
                )
    if metrics:
        start_prometheus(state)
    return state


def start_elasticsearch(state: PlatformState) -> str:
    """Start (or find) the platform's Elasticsearch and record its URL; the test session calls it
    lazily, from the fixture of the tests that search, so other sessions never pay for a JVM."""
    run_dir = Path(state.run_dir)
    state.elasticsearch_url = elasticsearch.start(Supervisor(run_dir), run_dir / "elasticsearch")
    _state_file(run_dir).write_text(json.dumps(state.__dict__, indent=2))
    return state.elasticsearch_url


def start_prometheus(state: PlatformState) -> str:
    """Start (or find) the platform's Prometheus, discovering pods on the primary cluster, and
    record its URL: what the release operator's analysis queries. Tests start it lazily."""
    run_dir = Path(state.run_dir)
    cluster = None
    if state.external_kubeconfig is None:
        cluster = kubecluster.ClusterInfo(**state.clusters["primary"])
    state.prometheus_url = prometheus.start(Supervisor(run_dir), Path(state.bin_dir), cluster)
    _state_file(run_dir).write_text(json.dumps(state.__dict__, indent=2))
    return state.prometheus_url


def has_real_node(state: PlatformState) -> bool:
    """Whether the primary cluster is ours and has its real node (pods run, images imported)."""
    return state.external_kubeconfig is None and "primary" in imagebuild.real_node_clusters(
        Path(state.run_dir)
    )


def datastore_ports(state: PlatformState) -> dict[str, int]:
    """Host loopback port of each datastore a real node's pods reach through a Service; with a
    streaming standby (`pg_standby`), it too: what a DR cluster's services use once promoted."""
    assert state.redis_url
    assert state.s3_endpoint
    ports = {
        "postgres": state.postgres_info.port,
        "redis": int(urllib.parse.urlsplit(state.redis_url).port or 0),
        "rabbitmq": state.rabbitmq_info.amqp_port,
        "s3": int(urllib.parse.urlsplit(state.s3_endpoint).port or 0),
    }
    standby = state.postgres_info.standby_port
    if standby and Path(state.run_dir, "postgres", "standby", "PG_VERSION").exists():
        ports["postgres-standby"] = standby
    return ports


def down(run_dir: Path | None = None) -> list[str]:
    """Stop every process this run directory started; keeps data so `up` resumes it.

    Real nodes go first: their pods, namespaces, mounts and cgroups are undone, not just stopped."""
    run_dir = run_dir or default_run_dir()
    return realnode.stop_all(run_dir) + Supervisor(run_dir).stop_all()


class ProcessStatus(NamedTuple):
    name: str
    pid: int
    alive: bool
    rss_bytes: int


def status(run_dir: Path | None = None) -> list[ProcessStatus]:
    return [
        ProcessStatus(
            record.name, record.pid, record.alive, record.rss_bytes() if record.alive else 0
        )
        for record in Supervisor(run_dir or default_run_dir()).records()
    ]


def real_nodes(run_dir: Path | None = None) -> list[nodestatus.NodeStatus]:
    """Each cluster's real nodes and their pods, for `meridian dev status` (none: no real node)."""
    run_dir = run_dir or default_run_dir()
    state = load(run_dir)
    if state is None or not realnode.nodes_dir(run_dir).is_dir():
        return []
    found = []
    for name, info in state.clusters.items():
        node = realnode.node_name(name)
        if not (realnode.nodes_dir(run_dir) / node / "sandbox.json").exists():
            continue
        try:
            found += nodestatus.of_cluster(Path(state.bin_dir), name, str(info["kubeconfig"]))
        except RuntimeError:  # its apiserver is down: say so rather than fail the whole status
            found.append(nodestatus.NodeStatus(name, node, "unreachable", []))
    return found


def install() -> Path:
    """Everything `up` needs that is installed once per machine: Debian packages, Go builds, user."""
    packages.ensure_installed()
    service_user()
    gatewayapi.ensure_downloaded()
    elasticsearch.ensure_installed()
    return gobuild.ensure_built()


def kubectl(state: PlatformState, *args: str, stdin: str | None = None) -> str:
    return kubecluster.kubectl(Path(state.bin_dir), state.kubeconfig, *args, stdin=stdin)


def install_crds(state: PlatformState, crds_dir: Path) -> None:
    """The CRDs (ours and the Gateway API's), and the cluster-wide RBAC the operators bind
    (what the chart installs)."""
    kubectl(state, "apply", "--server-side", "--force-conflicts", "-f", str(crds_dir))
    gateway_crds = gatewayapi.ensure_downloaded()
    kubectl(state, "apply", "--server-side", "--force-conflicts", "-f", str(gateway_crds))
    kubectl(
        state,
        "apply",
        "--server-side",
        "-f",
        "-",
        stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": rbac.shared_cluster_roles()}
        ),
    )
    kubectl(
        state,
        "wait",
        "--for=condition=Established",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=meridian",
        "--timeout=60s",
    )
    # The admission policies (and their defaults) go in with the CRDs, as the chart installs them,
    # on every cluster: a workload the DR side runs after a failover obeys the same rules.
    for cluster in state.clusters.values():
        policies.install(Path(state.bin_dir), str(cluster["kubeconfig"]))
    kubectl(
        state, "wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io"
    )


def operator_environment(state: PlatformState) -> dict[str, str]:
    """The operator's settings for this platform's datastores, Stripe, S3 and Elasticsearch."""
    env: dict[str, str] = {}
    if state.postgres:
        env["MERIDIAN_OPERATOR_TENANT_PG_DSN"] = state.postgres_info.dsn("meridian_platform")
    if state.redis_url:
        env["MERIDIAN_OPERATOR_TENANT_REDIS_URL"] = state.redis_url
    if state.stripe_url:
        env["MERIDIAN_OPERATOR_TENANT_STRIPE_API_BASE"] = state.stripe_url
        env["MERIDIAN_OPERATOR_TENANT_STRIPE_API_KEY"] = stripe_mock.API_KEY
    if state.elasticsearch_url:  # the Tenant operator provisions each tenant's search index
        env["MERIDIAN_OPERATOR_TENANT_ELASTICSEARCH_URL"] = state.elasticsearch_url
    if state.s3_endpoint:
        env["MERIDIAN_OPERATOR_TENANT_S3_ENDPOINT"] = state.s3_endpoint
        env["MERIDIAN_OPERATOR_TENANT_S3_REGION"] = s3_server.REGION
        # The FailoverPlan operator's Route53 is the same moto server.
        env["MERIDIAN_OPERATOR_FAILOVER_ROUTE53_ENDPOINT"] = state.s3_endpoint
        env["MERIDIAN_OPERATOR_FAILOVER_AWS_ACCESS_KEY_ID"] = s3_server.ACCESS_KEY
        env["MERIDIAN_OPERATOR_FAILOVER_AWS_SECRET_ACCESS_KEY"] = s3_server.SECRET_KEY
    if state.prometheus_url:
        env["MERIDIAN_OPERATOR_RELEASE_PROMETHEUS_URL"] = state.prometheus_url
    env.update(releases.placement_environment(Path(state.run_dir)))  # the real node, if any
    return env


class OperatorPorts(NamedTuple):
    health: int
    metrics: int


def start_operators(
    state: PlatformState,
    *,
    supervisor: Supervisor | None = None,
    name: str = "operators",
    only: str = "",
    env: Mapping[str, str] | None = None,
) -> OperatorPorts:
    """Run `meridian operator run` under a supervisor, on free loopback ports, until /healthz answers.

    `make up` runs one under the platform's own supervisor; tests run extra ones (replicas, a
    restricted identity) under theirs, with `env` overriding any MERIDIAN_OPERATOR_* setting.
    """
    supervisor = supervisor or Supervisor(Path(state.run_dir))
    ports_file = supervisor.run_dir / f"{name}.ports.json"
    if not supervisor.exited(name) and ports_file.exists():
        return OperatorPorts(*json.loads(ports_file.read_text()))
    ports = OperatorPorts(*net.free_ports(2))
    supervisor.run_dir.mkdir(parents=True, exist_ok=True)
    ports_file.write_text(json.dumps(list(ports)))
    process_env = {
        **state.environment(),
        **operator_environment(state),
        # The child imports meridian exactly as this process does (editable install or not).
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MERIDIAN_OPERATOR_HEALTH_PORT": str(ports.health),
        "MERIDIAN_OPERATOR_METRICS_PORT": str(ports.metrics),
        **(env or {}),
    }
    argv = [sys.executable, "-m", "meridian", "operator", "run"]
    if not only and state.postgres is None:
        # Without datastores (`--no-datastores`) the Tenant operator has nothing to provision into.
        only = ",".join(name for name in operators.discover() if name != "tenant")
    if only:
        argv += ["--only", only]
    supervisor.start(ProcessSpec(name=name, argv=argv, env=process_env))
    healthz = f"http://{net.LOOPBACK}:{ports.health}/healthz"
    supervisor.wait_ready(name, lambda: net.http_ok(healthz), timeout=60)
    return ports


def start_webhooks(state: PlatformState) -> str:
    """The admission webhook (TLS from its own local PKI) and its registration; returns its URL."""
    webhook_url = admission.start(state)
    admission.register(state)
    return webhook_url


async def _tenant_registered(dsn: str, name: str) -> bool:

    conn = await asyncpg.connect(dsn)
    try:
        return await tenants.is_registered(conn, name)
    finally:
        await conn.close()


def start_pipeline(state: PlatformState) -> tuple[pipeline.Pipeline, str, str]:
    """The order pipeline behind the gateway, plus the demo tenant's user and stock: as
    ServiceReleases on the real node when the platform has one (`podpipeline`; the CRDs and the
    release operator must run), as host processes otherwise (`pipeline`).

    The demo tenant is the example Tenant, registered by the Tenant operator: `up` must run with
    the operators and the examples applied first. Returns the pipeline and the demo credentials.
    """
    run_dir = Path(state.run_dir)
    if has_real_node(state):  # pods the release operator runs, found by Prometheus on the node
        started = podpipeline.start(
            state, Supervisor(run_dir), run_dir / "services", datastore_ports(state)
        )
    else:
        started = pipeline.start(state, Supervisor(run_dir), run_dir / "services")
        prometheus.register(run_dir, "pipeline", prometheus.services(started.urls))
    state.gateway_url = started.gateway_url
    _state_file(run_dir).write_text(json.dumps(state.__dict__, indent=2))
    dsn = state.postgres_info.dsn("meridian_platform")
    net.wait_until(
        lambda: asyncio.run(_tenant_registered(dsn, pipeline.DEMO_TENANT)),
        what=f"tenant {pipeline.DEMO_TENANT} in the registry (the Tenant operator provisions it)",
        timeout=120,
    )
    email, password = pipeline.seed_demo(state, started, run_dir)
    return started, email, password
