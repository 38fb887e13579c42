"""Product search at rising load through the gateway, beside the same query straight to the search
service and straight to Elasticsearch, in the same run; and index lag under a stream of updates.

Not part of `make test`. The pipeline runs as local processes (auth, inventory, search, the
gateway...) on the local platform's PostgreSQL, RabbitMQ and Elasticsearch (single node, 512 MiB
heap); the load generator is this process. 20 tenants get 10,000 generated products each, loaded
through the gateway with inventory's bulk upsert (500 per call) and indexed by search from the
outbox's events, as in production; the load time is printed (PostgreSQL -> RabbitMQ -> search ->
Elasticsearch, until every tenant's alias counts 10,000 searchable documents).

Search: at each level, queries (a word, a word in a category, a brand by price; random tenant)
leave open-loop at the offered rate on each of three paths, interleaved, so all share the same
seconds and contention: through the gateway (bearer token), straight to the search service
(identity headers as the gateway sets them), and straight to Elasticsearch with the body the
service builds (`query.search_body`). Latency runs from the query's scheduled departure to its
answer. gateway - search is the gateway's cost, search - Elasticsearch the service's own.
Lag: product updates (a new price) at 200/s through the gateway for LAG_SECONDS, once one per
POST and once in bulk POSTs of 20 (what an admin's price feed would send), each after
Elasticsearch has finished the search levels' queries; lag is
event time -> searchable, read from the service's `search_index_lag_seconds` histogram (bucket
bounds), and measured from outside on every 20th update: one search every 100 ms looks for all
the sampled updates not yet seen (from the update's answer to the poll that first finds its
version, so off by the poll period and the update's own answer time). Beside it, the outbox
relay's share (inventory's outbox rows of the run: committed -> published), the requests each
service shed (503, `max_in_flight`), and the CPU seconds each process, this one included, spent
during the run, to show where the lag comes from.
Goals: search p95 < 150 ms (seed), lag p95 < 30 s (seed), aim < 2 s. The machine is shared:
the 1-minute load average is printed beside each figure.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import pytest

from meridian.core.registry.ratelimits import RateLimit
from meridian.core.search import indices
from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from meridian.services.search import models, query
from tests import tenants
from tests.bench.figures import _row, counter, cpu_seconds, histogram, quantile_bound

TENANTS = 20
PRODUCTS = int(os.environ.get("MERIDIAN_TEST_SEARCH_PRODUCTS", "10000"))
"""Per tenant: the issue's 10,000 (about 35 min to load on a shared two-core machine); fewer for a
quick look at latency and lag, which depend little on it."""
BULK = 500
LOAD_CONCURRENCY = 4
"""Bulk calls in flight while loading: enough to keep every stage busy on two cores."""
LOAD_TIMEOUT_S = 3600
RATES = (10, 25, 50, 100)
"""Queries per second offered on each path (three paths: three times this in total)."""
SECONDS = 10.0
LAG_RATE = 200
LAG_SECONDS = 30.0
LAG_PER_CALL = (1, 20)
"""Products per POST in each lag run: single-product updates, then bulk calls of 20 (10/s)."""
LAG_SAMPLE_EVERY = 20
LAG_POLL_S = 0.1
"""How often the sampled updates are looked for: the polled lag is late by up to this much."""
LAG_GIVE_UP_S = 120.0
P95_GOAL_MS = 150.0
LAG_GOAL_S = 30.0
LAG_AIM_S = 2.0
PREFIX = "products"
"""The search service's default index prefix (what `pipeline.start` runs it with)."""

WORDS = [
    "tarp",
    "tent",
    "stove",
    "lantern",
    "pack",
    "sleeping",
    "bag",
    "mat",
    "pole",
    "stake",
    "cord",
    "bottle",
    "filter",
    "jacket",
    "glove",
    "boot",
    "sock",
    "hat",
    "compass",
    "map",
    "knife",
    "axe",
    "saw",
    "rope",
    "hammock",
    "chair",
    "table",
    "cup",
    "pot",
    "pan",
    "spoon",
]
ADJECTIVES = [
    "light",
    "heavy",
    "waterproof",
    "compact",
    "folding",
    "insulated",
    "ultralight",
    "rugged",
    "small",
    "large",
]
BRANDS = tuple(f"Brand{n:02d}" for n in range(40))
CATEGORIES = tuple(
    f"{top}/{sub}"
    for top in ("shelter", "cooking", "clothing", "tools", "water")
    for sub in ("basic", "pro", "kids", "spare")
)


class Shop(NamedTuple):
    name: str
    tenant_id: uuid.UUID
    email: str
    password: str
    token: str


class Bench(NamedTuple):
    state: platform.PlatformState
    pipeline: pipeline.Pipeline
    shops: list[Shop]


def _logged_in(bench: Bench) -> Bench:
    """Fresh access tokens (they live minutes; loading the catalogue takes longer), as a
    storefront would refresh."""
    gateway = bench.pipeline.gateway_url
    shops = [
        shop._replace(token=tenants.login(gateway, shop.name, shop.email, shop.password))
        for shop in bench.shops
    ]
    return bench._replace(shops=shops)


def _load_average() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _product(tenant: int, n: int, chooser: random.Random) -> dict[str, Any]:
    noun = chooser.choice(WORDS)
    name = f"{chooser.choice(ADJECTIVES).title()} {noun.title()} {n}"
    words = " ".join(chooser.choice(WORDS) for _ in range(12))
    return {
        "sku": f"B{tenant:02d}-{n:05d}",
        "name": name,
        "description": f"A {noun} for the trail: {words}",
        "brand": chooser.choice(BRANDS),
        "category": chooser.choice(CATEGORIES),
        "price": {"amount": f"{chooser.randint(100, 50_000) / 100:.2f}", "currency": "USD"},
        "attributes": {"colour": chooser.choice(("red", "green", "blue", "black"))},
    }


@pytest.fixture(scope="module")
def bench(local_platform: platform.PlatformState, elasticsearch_url: str) -> Iterator[Bench]:
    """The pipeline with search, and TENANTS tenants, each with an unthrottled limit and its
    demo user logged in."""
    assert local_platform.elasticsearch_url == elasticsearch_url
    run_dir = Path(local_platform.run_dir) / "bench-search"
    supervisor = Supervisor(run_dir)
    try:
        started = pipeline.start(local_platform, supervisor, run_dir)
        shops = []
        for _ in range(TENANTS):
            name = f"q{uuid.uuid4().hex[:8]}"
            tenant_id = asyncio.run(
                tenants.register(local_platform, name, rate_limit=RateLimit(100_000, 100_000))
            )
            email, password = pipeline.seed_demo(local_platform, started, run_dir, tenant=name)
            token = tenants.login(started.gateway_url, name, email, password)
            shops.append(Shop(name, tenant_id, email, password, token))
        yield Bench(local_platform, started, shops)
    finally:
        supervisor.stop_all()


async def _load_catalogue(bench: Bench) -> float:
    """Every tenant's products through the gateway's bulk upsert; seconds until all searchable."""
    gateway, es = bench.pipeline.gateway_url, str(bench.state.elasticsearch_url)
    chooser = random.Random(15)
    calls = [
        (shop, [_product(t, n, chooser) for n in range(first, min(first + BULK, PRODUCTS))])
        for t, shop in enumerate(bench.shops)
        for first in range(0, PRODUCTS, BULK)
    ]
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        limit = asyncio.Semaphore(LOAD_CONCURRENCY)

        async def upsert(shop: Shop, products: list[dict[str, Any]]) -> None:
            async with (
                limit,
                session.post(
                    f"{gateway}/v1/inventory/products",
                    json={"products": products},
                    headers={"Authorization": f"Bearer {shop.token}"},
                ) as answer,
            ):
                assert answer.status == 200, await answer.text()

        await asyncio.gather(*(upsert(shop, products) for shop, products in calls))
        stored = time.monotonic() - started
        print(f"\n  {TENANTS * PRODUCTS} products stored through the gateway in {stored:.0f} s")
        while True:
            counts = []
            for shop in bench.shops:
                alias = indices.alias(PREFIX, shop.tenant_id)
                async with session.post(
                    f"{es}/{alias}/_count", json={"query": {"term": {"visible": True}}}
                ) as answer:
                    counts.append(int((await answer.json()).get("count", 0)) if answer.ok else 0)
            if sum(counts) >= TENANTS * PRODUCTS:
                return time.monotonic() - started
            assert time.monotonic() - started < LOAD_TIMEOUT_S, f"indexed only {sum(counts)}"
            await asyncio.sleep(2)


def _queries(count: int, chooser: random.Random) -> list[dict[str, str]]:
    """Three shapes, in turn: one word; a word within a top category; a brand, cheapest first."""
    shapes = []
    for i in range(count):
        if i % 3 == 0:
            shapes.append({"q": chooser.choice(WORDS)})
        elif i % 3 == 1:
            top = chooser.choice(CATEGORIES).split("/")[0]
            shapes.append({"q": chooser.choice(WORDS), "category": top})
        else:
            shapes.append({"brand": chooser.choice(BRANDS), "sort": "price_asc"})
    return shapes


class Route(NamedTuple):
    label: str
    latencies: list[float]
    errors: Counter[str]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _search_level(bench: Bench, rate: int, seconds: float) -> list[Route]:
    """Open loop at `rate` per path; query i goes to path i mod 3, tenant and shape random."""
    urls = bench.pipeline.urls
    es = str(bench.state.elasticsearch_url)
    chooser = random.Random(rate)
    paths = [Route(label, [], Counter()) for label in ("gateway", "search", "elasticsearch")]
    total = int(rate * seconds) * len(paths)
    shapes = _queries(total, chooser)
    direct = {
        shop.tenant_id: tenants.identity_headers(bench.state, shop.tenant_id, shop.token)
        for shop in bench.shops
    }
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:

        async def one(i: int, due: float) -> None:
            path = paths[i % len(paths)]
            shop = chooser.choice(bench.shops)
            params = shapes[i]
            if path.label == "elasticsearch":
                body = query.search_body(models.SearchQuery.model_validate(params), {})
                alias = indices.alias(PREFIX, shop.tenant_id)
                request = session.post(f"{es}/{alias}/_search", json=body)
            else:
                base = urls["gateway"] if path.label == "gateway" else urls["search"]
                headers = (
                    {"Authorization": f"Bearer {shop.token}"}
                    if path.label == "gateway"
                    else direct[shop.tenant_id]
                )
                encoded = urllib.parse.urlencode(params)
                request = session.get(f"{base}/v1/search/products?{encoded}", headers=headers)
            try:
                async with request as answer:
                    await answer.read()
                    status = str(answer.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            if status == "200":
                path.latencies.append((time.perf_counter() - due) * 1000)
            else:
                path.errors[status] += 1

        tasks = []
        start = time.perf_counter()
        for i in range(total):
            due = start + i / (rate * len(paths))
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
    return paths


class _Sample(NamedTuple):
    alias: str
    sku: str
    version: int
    since: float


async def _watch(
    session: aiohttp.ClientSession,
    es: str,
    pending: list[_Sample],
    polled: list[float],
    errors: Counter[str],
    sending: asyncio.Event,
) -> None:
    """Every LAG_POLL_S, one search over every sampled update not yet seen: each is searchable
    once a hit carries its version (or a newer one); it is timed at that answer. One request per
    poll, whatever the number waiting, so measuring adds ~10 searches/s to Elasticsearch (the
    first version of this bench polled each sample on its own every 50 ms: ~1,000 searches/s,
    a load of its own on the cluster it measured)."""
    while sending.is_set() or pending:
        await asyncio.sleep(LAG_POLL_S)
        if not pending:
            continue
        waiting = list(pending)
        aliases = ",".join(sorted({sample.alias for sample in waiting}))
        skus = sorted({sample.sku for sample in waiting})  # a SKU names its tenant: B<t>-<n>
        body = {
            "query": {"bool": {"filter": [{"terms": {"sku": skus}}]}},
            "_source": ["sku", "version"],
            "size": len(skus),
        }
        async with session.post(f"{es}/{aliases}/_search", json=body) as answer:
            hits = (await answer.json())["hits"]["hits"] if answer.ok else []
        seen_at = time.monotonic()
        versions = {hit["_source"]["sku"]: int(hit["_source"]["version"]) for hit in hits}
        for sample in waiting:
            if versions.get(sample.sku, -1) >= sample.version:
                polled.append(seen_at - sample.since)
                pending.remove(sample)
            elif seen_at - sample.since > LAG_GIVE_UP_S:
                errors[f"not searchable in {LAG_GIVE_UP_S:.0f} s"] += 1
                pending.remove(sample)


async def _lag_run(bench: Bench, per_call: int) -> tuple[float, list[float], Counter[str]]:
    """LAG_RATE product updates/s through the gateway for LAG_SECONDS, open loop: one product
    per POST (`per_call` 1), or `per_call` products of one tenant per bulk POST (LAG_RATE /
    per_call calls/s, as an admin's price feed would send them). Every LAG_SAMPLE_EVERY-th
    update is watched (`_watch`) until its version is searchable. Returns the achieved rate
    (updates/s), the polled lags (s) and the errors (one per update refused)."""
    gateway, es = bench.pipeline.gateway_url, str(bench.state.elasticsearch_url)
    chooser = random.Random(200 + per_call)
    polled: list[float] = []
    pending: list[_Sample] = []
    errors: Counter[str] = Counter()
    done = 0
    answered = time.perf_counter()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(first: int) -> None:
            nonlocal done, answered
            t = chooser.randrange(TENANTS)
            shop = bench.shops[t]
            numbers = chooser.sample(range(PRODUCTS), per_call)
            batch = [_product(t, n, chooser) for n in numbers]
            body: dict[str, Any] = batch[0] if per_call == 1 else {"products": batch}
            stored: list[dict[str, Any]] | None = None
            try:
                async with session.post(
                    f"{gateway}/v1/inventory/products",
                    json=body,
                    headers={"Authorization": f"Bearer {shop.token}"},
                ) as answer:
                    if answer.status in (200, 201):
                        document = await answer.json()
                        stored = [document] if per_call == 1 else document["items"]
                    status = str(answer.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            answered = max(answered, time.perf_counter())
            if stored is None:
                errors[status] += per_call
                return
            done += per_call
            now = time.monotonic()
            alias = indices.alias(PREFIX, shop.tenant_id)
            versions = {item["sku"]: int(item["version"]) for item in stored}
            for i, product in enumerate(batch, start=first):
                if i % LAG_SAMPLE_EVERY == 0:
                    sku = product["sku"]
                    pending.append(_Sample(alias, sku, versions[sku], now))

        sending = asyncio.Event()
        sending.set()
        watcher = asyncio.create_task(_watch(session, es, pending, polled, errors, sending))
        tasks = []
        calls_per_s = LAG_RATE / per_call
        start = answered = time.perf_counter()
        for call in range(int(calls_per_s * LAG_SECONDS)):
            delay = start + call / calls_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(call * per_call)))
        await asyncio.gather(*tasks)
        sending.clear()
        await watcher
    # Over the updates' own time (until the last answer), not the polling that follows.
    return done / max(answered - start, 1e-9), polled, errors


async def _settled(es: str) -> None:
    """Until Elasticsearch has no search running or queued: the search levels' last queries
    (some left behind by callers that gave up) must not be charged to the lag run."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for _ in range(120):
            url = f"{es}/_cat/thread_pool/search?format=json&h=active,queue"
            async with session.get(url) as answer:
                pools = await answer.json()
            if all(int(pool["active"]) + int(pool["queue"]) == 0 for pool in pools):
                return
            await asyncio.sleep(0.5)


async def _relay_delays(bench: Bench, since_s: float) -> tuple[int, float, float, float]:
    """Inventory's outbox rows of the last `since_s` seconds: how many, and the p50 / p95 / max
    seconds from commit (`created_at`) to published (`sent_at`); unsent rows count as now."""
    connection = await asyncpg.connect(bench.state.postgres_info.dsn("meridian_inventory"))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS n,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50,"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY d) AS p95, max(d) AS top"
            " FROM (SELECT extract(epoch FROM coalesce(sent_at, now()) - created_at) AS d"
            " FROM outbox WHERE created_at > now() - make_interval(secs => $1)) AS delays",
            since_s,
        )
    finally:
        await connection.close()
    assert row is not None
    return row["n"], *(float(row[k] or "nan") for k in ("p50", "p95", "top"))


def _shed(bench: Bench, service: str) -> float:
    return counter(f"{bench.pipeline.urls[service]}/metrics", "http_requests_shed")


def _errors(errors: Counter[str]) -> str:
    if not errors:
        return "0 errors"
    kinds = ", ".join(f"{kind} x{n}" for kind, n in errors.most_common())
    return f"{sum(errors.values())} errors ({kinds})"


def _lag_level(bench: Bench, per_call: int) -> list[float]:
    """One lag run (`_lag_run`) and its rows; returns the polled lags."""
    asyncio.run(_settled(str(bench.state.elasticsearch_url)))
    how = "one product per POST" if per_call == 1 else f"bulk POSTs of {per_call}"
    print(f"\n  -- index lag, {how} --")
    lag_metric = f"{bench.pipeline.urls['search']}/metrics"
    before = histogram(lag_metric, "search_index_lag_seconds")
    run_dir = Path(bench.state.run_dir)
    shedders = ("gateway", "inventory")
    shed_before = {name: _shed(bench, name) for name in shedders}
    cpu_before = cpu_seconds(run_dir / "bench-search", run_dir)
    cpu_before["bench (this process)"] = time.process_time()
    lag_started = time.monotonic()
    achieved, polled, errors = asyncio.run(_lag_run(bench, per_call))
    after = histogram(lag_metric, "search_index_lag_seconds")
    cpu_after = cpu_seconds(run_dir / "bench-search", run_dir)
    cpu_after["bench (this process)"] = time.process_time()
    shed = {name: _shed(bench, name) - shed_before[name] for name in shedders}
    lag_took = time.monotonic() - lag_started
    relayed, relay_p50, relay_p95, relay_max = asyncio.run(_relay_delays(bench, lag_took))
    load = _load_average()
    _row(
        f"updates offered at {LAG_RATE}/s for {LAG_SECONDS:.0f} s ({how}): achieved",
        f"{achieved:.0f}/s",
        f"{_errors(errors)} ({load})",
    )
    _row(
        "requests shed (503, max_in_flight): gateway / inventory",
        " / ".join(f"{shed[name]:.0f}" for name in shedders),
        f"({load})",
    )
    _row(
        "index lag p50 / p95 / p99 (service histogram)",
        " / ".join(f"<= {quantile_bound(before, after, q):g}" for q in (0.5, 0.95, 0.99)) + " s",
        f"(bucket bounds) goal p95 < {LAG_GOAL_S:.0f} s, aim < {LAG_AIM_S:.0f} s ({load})",
    )
    _row(
        f"index lag p50 / p95 / max (polled, {len(polled)} updates)",
        f"{_percentile(polled, 0.5):.2f} / {_percentile(polled, 0.95):.2f} / "
        f"{max(polled, default=float('nan')):.2f} s",
        f"from the update's answer to searchable in Elasticsearch ({load})",
    )
    _row(
        f"outbox relay p50 / p95 / max ({relayed} rows)",
        f"{relay_p50:.2f} / {relay_p95:.2f} / {relay_max:.2f} s",
        f"inventory's commit -> published to RabbitMQ ({load})",
    )
    spent = sorted(
        ((name, cpu_after[name] - cpu_before.get(name, 0.0)) for name in cpu_after),
        key=lambda item: -item[1],
    )
    _row(
        f"CPU seconds in the {lag_took:.0f} s of the lag run, busiest first",
        f"{sum(cpu for _, cpu in spent):.0f} s",
        ", ".join(f"{name} {cpu:.0f}" for name, cpu in spent[:8] if cpu >= 0.5),
    )
    return polled


@pytest.mark.timeout(7200)
def test_search_latency_and_index_lag(bench: Bench) -> None:
    cores = os.cpu_count()
    print(
        f"\n== product search: {TENANTS} tenants x {PRODUCTS} products, one index each; "
        f"{cores} cores shared by every process and by other users of the machine =="
    )
    loaded = asyncio.run(_load_catalogue(bench))
    _row(
        f"{TENANTS * PRODUCTS} products loaded and searchable",
        f"{loaded:.0f} s",
        f"{TENANTS * PRODUCTS / loaded:.0f}/s end to end ({_load_average()})",
    )
    bench = _logged_in(bench)
    asyncio.run(_search_level(bench, 5, 2.0))  # warm-up: JWKS, pools, keep-alive, caches
    failures = []
    for rate in RATES:
        bench = _logged_in(bench)
        paths = asyncio.run(_search_level(bench, rate, SECONDS))
        load = _load_average()
        for path in paths:
            p50, p95, p99 = (_percentile(path.latencies, q) for q in (0.5, 0.95, 0.99))
            _row(
                f"{rate}/s per path, {path.label}: p50 / p95 / p99",
                f"{p50:.0f}/{p95:.0f}/{p99:.0f} ms",
                f"{_errors(path.errors)}; goal p95 < {P95_GOAL_MS:.0f} ms ({load})",
            )
            refused = {kind: n for kind, n in path.errors.items() if kind.startswith("4")}
            if not path.latencies or refused:
                failures.append(f"{rate}/s {path.label}: {_errors(path.errors)}")
        gateway, search, elastic = ([_percentile(p.latencies, 0.5)] for p in paths)
        _row(
            f"{rate}/s per path, p50 added: gateway / search service",
            f"{gateway[0] - search[0]:.0f} / {search[0] - elastic[0]:.0f} ms",
            "(differences of paths, noisy under contention)",
        )
    all_polled = []
    for per_call in LAG_PER_CALL:
        bench = _logged_in(bench)
        all_polled += _lag_level(bench, per_call)
    assert not failures, "; ".join(failures)
    assert all_polled, "no update was polled searchable"
