"""Gateway-added latency: the same request straight to the upstream and through the gateway.

Not part of `make test`. Three processes on loopback (auth, the gateway, a minimal upstream), the
load generator in this one; at each rate, requests are sent open-loop (on a schedule, not waiting
for answers) for a few seconds straight to the upstream, then through the gateway (JWT check, one
Redis round trip for the tenant's bucket and revocation, identity headers, proxy). Printed: p50
and p99 of each, side by side, and the difference. The seed's goal: gateway-added p99 < 15 ms.
All four processes share this machine's cores, so the figures include that contention.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from meridian.core import migrations
from meridian.core.registry import MIGRATIONS, apikeys, tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.localplatform import platform
from tests.bench.figures import _row

RATES = (100, 200, 400)
SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait_ready(url: str, deadline: float = 60.0) -> None:
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            try:
                async with session.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready")


async def _load(url: str, headers: dict[str, str], rate: int, seconds: float) -> list[float]:
    """Open loop: request i leaves at start + i/rate; returns each latency in ms."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            async with session.get(url, headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    assert errors == 0, f"{errors} requests failed"
    return latencies


@pytest.fixture
def processes(local_platform: platform.PlatformState, tmp_path: Path) -> Iterator[dict[str, str]]:
    pg = local_platform.postgres_info
    ports = {name: _free_port() for name in ("auth", "gateway", "upstream")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    auth_db = f"auth_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(pg.dsn("meridian_auth"), auth_db))
    env = {**os.environ, "MERIDIAN_AUTH_LOG_LEVEL": "WARNING"}
    env.update(
        MERIDIAN_AUTH_PORT=str(ports["auth"]),
        MERIDIAN_AUTH_PG_DSN=pg.dsn(auth_db),
        MERIDIAN_AUTH_PLATFORM_DSN=pg.dsn("meridian_platform"),
        MERIDIAN_AUTH_REDIS_URL=str(local_platform.redis_url),
        MERIDIAN_AUTH_SIGNING_KEY_PASSPHRASE=uuid.uuid4().hex,
        MERIDIAN_GATEWAY_PORT=str(ports["gateway"]),
        MERIDIAN_GATEWAY_REDIS_URL=str(local_platform.redis_url),
        MERIDIAN_GATEWAY_PG_DSN=pg.dsn("meridian_platform"),
        MERIDIAN_GATEWAY_JWKS_URL=f"{urls['auth']}/.well-known/jwks.json",
        MERIDIAN_GATEWAY_ROUTES=json.dumps(
            {"/v1/auth": urls["auth"], "/v1/orders": urls["upstream"]}
        ),
    )
    commands = {
        "upstream": [sys.executable, "-m", "tests.bench.upstream_echo", str(ports["upstream"])],
        "auth": [sys.executable, "-m", "meridian.services.auth"],
        "gateway": [sys.executable, "-m", "meridian.services.gateway"],
    }
    started = []
    try:
        for name, command in commands.items():
            with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own fd
                started.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
            asyncio.run(_wait_ready(f"{urls[name]}/{'readyz' if name != 'upstream' else 'x'}"))
        yield urls
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(30)
        asyncio.run(_drop_database(pg.dsn("meridian_auth"), auth_db))


async def _create_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def _bench_tenant_token(dsn: str, auth_url: str) -> str:
    await migrations.upgrade(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    try:
        record = tenants.TenantRecord(
            name=f"bench{uuid.uuid4().hex[:8]}",
            tier="enterprise",
            region="us-east-1",
            display_name="",
            state="active",
            limits={},
            rate_limit=RateLimit(100_000, 100_000),
        )
        tenant_id = await tenants.upsert(conn, record)
        key = apikeys.generate()
        await apikeys.ensure(conn, tenant_id, prefix=key.prefix, digest=key.digest, purpose="bench")
    finally:
        await conn.close()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{auth_url}/v1/auth/token", headers={"Authorization": f"ApiKey {key.token}"}
        ) as answer,
    ):
        token: str = (await answer.json())["access_token"]
        return token


@pytest.mark.timeout(600)
def test_gateway_added_latency(
    local_platform: platform.PlatformState, processes: dict[str, str]
) -> None:
    dsn = local_platform.postgres_info.dsn("meridian_platform")
    token = asyncio.run(_bench_tenant_token(dsn, processes["auth"]))
    bearer = {"Authorization": f"Bearer {token}"}
    direct_url = f"{processes['upstream']}/v1/orders/1"
    gateway_url = f"{processes['gateway']}/v1/orders/1"
    asyncio.run(_load(gateway_url, bearer, 50, 1.0))  # warm-up: JWKS, limits, keep-alive
    asyncio.run(_load(direct_url, {}, 50, 1.0))
    print(f"\n== gateway-added latency ({SECONDS:.0f} s per level, open loop; goal p99 < 15 ms) ==")
    for rate in RATES:
        direct = asyncio.run(_load(direct_url, {}, rate, SECONDS))
        through = asyncio.run(_load(gateway_url, bearer, rate, SECONDS))
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            d, g = _percentile(direct, q), _percentile(through, q)
            _row(
                f"{rate} req/s {label}: through gateway (direct upstream)",
                f"{g:.2f} ms",
                f"({d:.2f} ms direct; gateway adds {g - d:.2f} ms)",
            )
