"""The order pipeline as local processes behind the gateway: `meridian dev up --services`.

The carrier fake, then every service of `SERVICES` (one entry each: its database, Redis, broker,
gateway route and own settings), each as `python -m meridian.services.<name>` on a sticky
loopback port, configured only through its own `MERIDIAN_<SERVICE>_*` variables (built by
`environment` from the platform's state, as a chart would build them from values), each waited
for on `/readyz`; the gateway's routes come from the same table. `seed_demo` then gives a tenant a user and stock,
so `make up` ends with credentials that work through the gateway.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from meridian.localplatform import carrier, net, s3_server, servicekeys, stripe_mock
from meridian.localplatform.processes import ProcessSpec, Supervisor

DEMO_TENANT = "acme"
DEMO_EMAIL = "demo@acme-outdoor.example"
DEMO_SKUS = ("SKU-TENT-2P", "SKU-STOVE-1", "SKU-LAMP-3")
DEMO_WAREHOUSES = {"ewr1": 600, "ord1": 400}
DEMO_SCOPES = (
    "orders:read",
    "orders:write",
    "inventory:read",
    "inventory:write",
    "billing:read",
    "billing:admin",
    "search:read",
    "search:admin",
)
STRIPE_WEBHOOK_PATH = "/v1/stripe/webhooks"
"""Where Stripe posts events: the webhook handler's route, public on the gateway."""


class Pipeline(NamedTuple):
    urls: dict[str, str]
    carrier_url: str

    @property
    def gateway_url(self) -> str:
        return self.urls["gateway"]


class Where(NamedTuple):
    """What a service's own settings are built from: the platform, and where everything runs."""

    state: Any
    urls: dict[str, str]
    carrier_url: str


class Service(NamedTuple):
    """One service of the pipeline: what it takes from the platform, and its gateway route."""

    name: str
    database: str | None = None  # its MERIDIAN_<NAME>_PG_DSN
    redis: bool = False
    amqp: bool = False
    route: str | None = None  # the gateway's prefix for it; None: not behind the gateway
    public: bool = False  # the gateway forwards the route without a token
    own: Callable[[Where], dict[str, str]] = lambda _where: {}  # the rest of its settings
    # Peers whose internal tokens it takes besides the gateway's (`servicekeys`); each one signs.
    callers: tuple[str, ...] = ()
    # Whether this platform runs it: search only where Elasticsearch runs (`dev up --search`).
    enabled: Callable[[Any], bool] = lambda _state: True


def _auth(where: Where) -> dict[str, str]:
    return {
        "PLATFORM_DSN": where.state.postgres_info.dsn("meridian_platform"),
        # The platform's, not this pipeline's: every auth on one database shares its keys.
        "SIGNING_KEY_PASSPHRASE": run_secret(Path(where.state.run_dir), "signing-key-passphrase"),
        # Every local client (curl, the tests, the benchmarks) logs in from 127.0.0.1.
        "LOGIN_ADDRESS_BURST": "100000",
    }


def _fulfillment(where: Where) -> dict[str, str]:
    return {
        "CARRIER_URL": where.carrier_url,
        "CARRIER_API_KEY": carrier.API_KEY,
        "S3_ENDPOINT": str(where.state.s3_endpoint),
        "S3_REGION": s3_server.REGION,
        "S3_ACCESS_KEY_ID": s3_server.ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": s3_server.SECRET_KEY,
    }


def stripe_webhook_secret_file(run_dir: Path) -> Path:
    """The webhook endpoint's signing secret (mode 0600), as a mounted Secret's file would be;
    `meridian dev env` exports its path so a developer can sign test events with it."""
    path = run_dir / "stripe-webhook-signing-secret"
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"whsec_{secrets.token_hex(24)}")
        path.chmod(0o600)
    return path


def _stripe_webhooks(where: Where) -> dict[str, str]:
    run_dir = Path(where.state.run_dir)
    return {
        "SIGNING_SECRET_FILE": str(stripe_webhook_secret_file(run_dir)),
        # During a rotation, the old secret goes here (absent: no rotation under way).
        "PREVIOUS_SIGNING_SECRET_FILE": str(run_dir / "stripe-webhook-signing-secret.previous"),
    }


def _billing(where: Where) -> dict[str, str]:
    return {
        "PLATFORM_DSN": where.state.postgres_info.dsn("meridian_platform"),
        "STRIPE_API_BASE": str(where.state.stripe_url),
        "STRIPE_API_KEY": stripe_mock.API_KEY,
        "KUBECONFIG": str(where.state.kubeconfig),
        # Locally a minute (production: a week), so the walkthrough can show a suspension.
        "PAYMENT_GRACE_S": "60",
    }


def _gateway(where: Where) -> dict[str, str]:
    routes = {
        service.route: {"url": where.urls[service.name], "public": True}
        if service.public
        else where.urls[service.name]
        for service in SERVICES
        if service.route is not None and service.enabled(where.state)
    }
    return {
        "JWKS_URL": f"{where.urls['auth']}/.well-known/jwks.json",
        "ROUTES": json.dumps(routes),
    }


SERVICES = (
    Service("auth", "meridian_auth", redis=True, route="/v1/auth", public=True, own=_auth),
    Service(
        "inventory",
        "meridian_inventory",
        redis=True,
        amqp=True,
        route="/v1/inventory",
        callers=("orders", "search"),
    ),
    Service(
        "orders",
        "meridian_orders",
        redis=True,
        amqp=True,
        route="/v1/orders",
        own=lambda where: {"INVENTORY_URL": where.urls["inventory"]},
    ),
    Service(
        "fulfillment", "meridian_fulfillment", amqp=True, route="/v1/fulfillment", own=_fulfillment
    ),
    # The gateway's database is the registry (rate limits the operator has not cached yet).
    Service("gateway", "meridian_platform", redis=True, own=_gateway),
    Service(
        "billing", "meridian_billing", redis=True, amqp=True, route="/v1/billing", own=_billing
    ),
    # Stripe calls it without a token: every event is verified by its signature instead.
    Service(
        "stripe_webhooks",
        "meridian_stripe_webhooks",
        amqp=True,
        route="/v1/stripe",
        public=True,
        own=_stripe_webhooks,
    ),
    Service(
        "search",
        amqp=True,
        route="/v1/search",
        own=lambda where: {
            "ELASTICSEARCH_URL": str(where.state.elasticsearch_url),
            "INVENTORY_URL": where.urls["inventory"],
        },
        enabled=lambda state: state.elasticsearch_url is not None,
    ),
)
"""Every service, in start order (a service starts after those it calls at start). A new service
is one entry; its ports are appended to the run directory's sticky list, so keep the order."""


def environment(service: Service, where: Where) -> dict[str, str]:
    """`MERIDIAN_<NAME>_*`: where it listens, the datastores it takes, then its own settings."""
    state = where.state
    settings = {"HOST": net.LOOPBACK, "PORT": where.urls[service.name].rsplit(":", 1)[1]}
    if service.database is not None:
        settings["PG_DSN"] = state.postgres_info.dsn(service.database)
    if service.redis:
        settings["REDIS_URL"] = str(state.redis_url)
    if service.amqp:
        settings["AMQP_URL"] = state.rabbitmq_info.amqp_url
    settings.update(service.own(where))
    settings.update(servicekeys.environment(service, SERVICES, Path(state.run_dir), where.urls))
    prefix = f"MERIDIAN_{service.name.upper()}_"
    return {prefix + key: value for key, value in settings.items()}


def start(state: Any, supervisor: Supervisor, run_dir: Path) -> Pipeline:
    """Start (or adopt) every service; idempotent like the rest of the platform."""
    carrier_url = carrier.start(supervisor, run_dir / "carrier")
    ports = net.sticky_ports(run_dir / "services.ports", len(SERVICES))
    urls = {
        service.name: f"http://{net.LOOPBACK}:{port}"
        for service, port in zip(SERVICES, ports, strict=True)
    }
    where = Where(state, urls, carrier_url)
    for service in SERVICES:
        if not service.enabled(state):
            continue
        name, env = service.name, environment(service, where)
        process = f"svc-{name}"
        supervisor.start(
            ProcessSpec(
                name=process,
                argv=[sys.executable, "-m", f"meridian.services.{name}"],
                env={"PYTHONPATH": os.pathsep.join(sys.path), **env},
                cwd=run_dir,
            )
        )
        supervisor.wait_ready(
            process, functools.partial(net.http_ok, f"{urls[name]}/readyz"), timeout=90
        )
    return Pipeline(urls, carrier_url)


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {url}: {error.code} {error.read().decode()}") from error


def run_secret(run_dir: Path, name: str) -> str:
    """A random secret kept in the run directory (mode 0600), the same on every start."""
    path = run_dir / name
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text()


def demo_password(run_dir: Path) -> str:
    return run_secret(run_dir, "demo-password")


def seed_demo(
    state: Any, pipeline: Pipeline, run_dir: Path, tenant: str = DEMO_TENANT
) -> tuple[str, str]:
    """A user for the tenant (which must be in the registry) and stock for the demo SKUs."""
    password = demo_password(run_dir)
    email = DEMO_EMAIL if tenant == DEMO_TENANT else f"demo@{tenant}.example"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MERIDIAN_AUTH_PG_DSN": state.postgres_info.dsn("meridian_auth"),
        "MERIDIAN_AUTH_PLATFORM_DSN": state.postgres_info.dsn("meridian_platform"),
    }
    created = subprocess.run(
        [
            *(sys.executable, "-m", "meridian.services.auth", "create-user"),
            *("--tenant", tenant, "--email", email),
            # The tenant's admin: it also sets stock levels (inventory:write), below.
            *(f"--scope={scope}" for scope in DEMO_SCOPES),
            "--ensure",  # a run dir from before keeps its user: bring it to these scopes
        ],
        input=f"{password}\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        raise RuntimeError(f"creating the demo user failed: {created.stderr.strip()}")
    login = _call(
        "POST",
        f"{pipeline.gateway_url}/v1/auth/login",
        {"tenant": tenant, "email": email, "password": password},
    )
    for sku in DEMO_SKUS:
        for warehouse, on_hand in DEMO_WAREHOUSES.items():
            _call(
                "PUT",
                f"{pipeline.gateway_url}/v1/inventory/stock/{sku}",
                {"warehouse": warehouse, "on_hand": on_hand},
                token=login["access_token"],
            )
    return email, password
