"""Housekeeping on real PostgreSQL: what has served its purpose goes, in batches; nothing else
does; the outbox gauges say how far behind publishing is."""

from __future__ import annotations

import datetime
import uuid

import prometheus_client
import pytest_asyncio

from meridian.core.runtime import db
from meridian.services.kit import metrics
from meridian.services.kit.settings import MessagingSettings
from meridian.services.kit.storage import housekeeping
from meridian.services.kit.storage import schema as kit_schema

HOUR = datetime.timedelta(hours=1)


@pytest_asyncio.fixture
async def kept_pool(pool: db.Pool) -> db.Pool:
    revisions = (
        *kit_schema.OUTBOX_V1,
        *kit_schema.OUTBOX_V2,
        *kit_schema.IDEMPOTENCY_V1,
        *kit_schema.IDEMPOTENCY_V2,
    )
    await pool.execute(";".join(revisions))
    return pool


def _sample(meters: metrics.Metrics, name: str, **labels: str) -> float:
    """What /metrics would show for `name`."""
    value = meters.registry.get_sample_value(name, labels)
    assert value is not None, f"{name} {labels} is not exported"
    return value


async def _outbox_row(pool: db.Pool, *, created: datetime.timedelta, state: str) -> int:
    """A row created `created` ago: 'sent' (just after), 'unsent' or 'parked'."""
    row_id: int = await pool.fetchval(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, created_at, sent_at,"
        " parked_at) VALUES ($1, 'x', 'y', '{}', now() - $2::interval,"
        " CASE WHEN $3 = 'sent' THEN now() - $2::interval END,"
        " CASE WHEN $3 = 'parked' THEN now() END) RETURNING id",
        uuid.uuid4(),
        created,
        state,
    )
    return row_id


async def test_old_rows_go_in_batches_and_everything_else_stays(kept_pool: db.Pool) -> None:
    settings = MessagingSettings(
        sent_event_retention_s=24 * 3600,
        processed_message_retention_s=7 * 24 * 3600,
        housekeeping_batch=2,  # 5 old rows of each kind: three batches each
    )
    old_sent = [await _outbox_row(kept_pool, created=48 * HOUR, state="sent") for _ in range(5)]
    recent_sent = await _outbox_row(kept_pool, created=HOUR, state="sent")
    old_unsent = await _outbox_row(kept_pool, created=48 * HOUR, state="unsent")
    old_parked = await _outbox_row(kept_pool, created=48 * HOUR, state="parked")
    for n, age in enumerate([8 * 24 * HOUR] * 5 + [HOUR]):
        await kept_pool.execute(
            "INSERT INTO processed_messages (consumer, message_id, processed_at)"
            " VALUES ('c', $1, now() - $2::interval)",
            f"m{n}",
            age,
        )
    tenants = [uuid.uuid4(), uuid.uuid4()]
    for n, expires_in in enumerate([-HOUR] * 5 + [HOUR]):
        await kept_pool.execute(
            "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, expires_at)"
            " VALUES ($1, $2, 'f', now() + $3::interval)",
            tenants[n % 2],
            f"k{n}",
            expires_in,
        )
    meters = metrics.create(prometheus_client.CollectorRegistry())

    await housekeeping.sweep_once(kept_pool, settings, meters)

    outbox_left = {r["id"] for r in await kept_pool.fetch("SELECT id FROM outbox")}
    assert outbox_left == {recent_sent, old_unsent, old_parked}, f"deleted: {old_sent}"
    messages = await kept_pool.fetch("SELECT message_id FROM processed_messages")
    assert [r["message_id"] for r in messages] == ["m5"]
    keys = await kept_pool.fetch("SELECT key FROM idempotency_keys")
    assert [r["key"] for r in keys] == ["k5"]
    for table in ("outbox", "processed_messages", "idempotency_keys"):
        assert _sample(meters, "housekeeping_deleted_rows_total", table=table) == 5
    assert _sample(meters, "outbox_pending") == 1
    assert _sample(meters, "outbox_parked_rows") == 1
    assert 47 * 3600 < _sample(meters, "outbox_oldest_pending_seconds") < 49 * 3600


async def test_an_empty_outbox_reports_nothing_pending(kept_pool: db.Pool) -> None:
    meters = metrics.create(prometheus_client.CollectorRegistry())
    meters.outbox_pending.set(7)
    meters.outbox_oldest_pending.set(99)
    await housekeeping.sweep_once(kept_pool, MessagingSettings(), meters)
    assert _sample(meters, "outbox_pending") == 0
    assert _sample(meters, "outbox_oldest_pending_seconds") == 0
