"""The order pipeline as local processes behind the gateway: `meridian dev up --services`.

The carrier fake, then auth, inventory, orders, fulfillment and the gateway, each as
`python -m meridian.services.<name>` on a sticky loopback port, configured only through its own
`MERIDIAN_<SERVICE>_*` variables (built here from the platform's state, as a chart would build
them from values), each waited for on `/readyz`. `seed_demo` then gives a tenant a user and stock,
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
from pathlib import Path
from typing import Any, NamedTuple

from meridian.localplatform import carrier, net, s3_server, servicekeys
from meridian.localplatform.processes import ProcessSpec, Supervisor

SERVICES = ("auth", "inventory", "orders", "fulfillment", "gateway")
DEMO_TENANT = "acme"
DEMO_EMAIL = "demo@acme-outdoor.example"
DEMO_SKUS = ("SKU-TENT-2P", "SKU-STOVE-1", "SKU-LAMP-3")
DEMO_WAREHOUSES = {"ewr1": 600, "ord1": 400}
DEMO_SCOPES = ("orders:read", "orders:write", "inventory:read", "inventory:write")


class Pipeline(NamedTuple):
    urls: dict[str, str]
    carrier_url: str

    @property
    def gateway_url(self) -> str:
        return self.urls["gateway"]


def _environments(state: Any, urls: dict[str, str], carrier_url: str) -> dict[str, dict[str, str]]:
    pg = state.postgres_info
    redis_url, amqp_url = str(state.redis_url), state.rabbitmq_info.amqp_url
    routes = {
        "/v1/auth": {"url": urls["auth"], "public": True},
        "/v1/orders": urls["orders"],
        "/v1/inventory": urls["inventory"],
        "/v1/fulfillment": urls["fulfillment"],
    }
    own = {
        "auth": {
            "PG_DSN": pg.dsn("meridian_auth"),
            "PLATFORM_DSN": pg.dsn("meridian_platform"),
            "REDIS_URL": redis_url,
            # The platform's, not this pipeline's: every auth on one database shares its keys.
            "SIGNING_KEY_PASSPHRASE": run_secret(Path(state.run_dir), "signing-key-passphrase"),
            # Every local client (curl, the tests, the benchmarks) logs in from 127.0.0.1.
            "LOGIN_ADDRESS_BURST": "100000",
        },
        "inventory": {
            "PG_DSN": pg.dsn("meridian_inventory"),
            "REDIS_URL": redis_url,
            "AMQP_URL": amqp_url,
        },
        "orders": {
            "PG_DSN": pg.dsn("meridian_orders"),
            "REDIS_URL": redis_url,
            "AMQP_URL": amqp_url,
            "INVENTORY_URL": urls["inventory"],
        },
        "fulfillment": {
            "PG_DSN": pg.dsn("meridian_fulfillment"),
            "AMQP_URL": amqp_url,
            "CARRIER_URL": carrier_url,
            "CARRIER_API_KEY": carrier.API_KEY,
            "S3_ENDPOINT": str(state.s3_endpoint),
            "S3_REGION": s3_server.REGION,
            "S3_ACCESS_KEY_ID": s3_server.ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": s3_server.SECRET_KEY,
        },
        "gateway": {
            "PG_DSN": pg.dsn("meridian_platform"),
            "REDIS_URL": redis_url,
            "JWKS_URL": f"{urls['auth']}/.well-known/jwks.json",
            "ROUTES": json.dumps(routes),
        },
    }
    identity = servicekeys.environments(Path(state.run_dir), urls)
    environments = {}
    for name in SERVICES:
        port = urls[name].rsplit(":", 1)[1]
        prefix = f"MERIDIAN_{name.upper()}_"
        settings = {"HOST": net.LOOPBACK, "PORT": port, **own[name], **identity[name]}
        environments[name] = {prefix + key: value for key, value in settings.items()}
    return environments


def start(state: Any, supervisor: Supervisor, run_dir: Path) -> Pipeline:
    """Start (or adopt) every service; idempotent like the rest of the platform."""
    carrier_url = carrier.start(supervisor, run_dir / "carrier")
    ports = net.sticky_ports(run_dir / "services.ports", len(SERVICES))
    urls = {
        name: f"http://{net.LOOPBACK}:{port}" for name, port in zip(SERVICES, ports, strict=True)
    }
    for name, env in _environments(state, urls, carrier_url).items():
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
