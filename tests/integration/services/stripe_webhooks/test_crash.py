"""A crash after an event is stored and before it is processed: the next process processes it
exactly once. The handler runs as its own process and is SIGKILLed while its processing
transaction is blocked (the test holds a lock on the outbox), so the receipt has committed and
the effect has not.

The wait for that block reads pg_stat_activity on a second connection: a backend reads it once per
transaction, so the lock holder's own reads would repeat its first snapshot (CI once saw the
processor frozen mid-claim for 20 s that way)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import asyncpg

from meridian.localplatform import net
from meridian.services.stripe_webhooks import processing
from meridian.services.stripe_webhooks.settings import Settings
from tests.integration.services.stripe_webhooks.conftest import Relayed, event, signed
from tests.waiting import eventually


def _environment(settings: Settings, port: int) -> dict[str, str]:
    assert settings.pg_dsn
    assert settings.amqp_url
    assert settings.signing_secret_file
    prefix = "MERIDIAN_STRIPE_WEBHOOKS_"
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(sys.path),
        f"{prefix}PORT": str(port),
        f"{prefix}PG_DSN": settings.pg_dsn.get_secret_value(),
        f"{prefix}AMQP_URL": settings.amqp_url.get_secret_value(),
        f"{prefix}SIGNING_SECRET_FILE": str(settings.signing_secret_file),
        f"{prefix}EVENTS_EXCHANGE": settings.events_exchange,
        f"{prefix}PROCESS_INTERVAL_S": "0.2",
    }


@contextmanager
def _handler(settings: Settings, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    (port,) = net.free_ports(1)
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "meridian.services.stripe_webhooks"],
            env=_environment(settings, port),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{net.LOOPBACK}:{port}"
    try:
        net.wait_until(
            lambda: net.http_ok(f"{url}/readyz"),
            what="stripe-webhooks",
            timeout=60,
            died=lambda: process.poll() is not None,
            diagnostics=lambda: log.read_text(errors="replace")[-3000:],
        )
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def _outbox_rows(dsn: str, message_id: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE message_id = $1::uuid", message_id
            )
        )
    finally:
        await connection.close()


async def test_an_event_stored_then_killed_before_processing_is_processed_once_on_restart(
    settings: Settings, relayed: Relayed, webhooks_dsn: str, tmp_path: Path
) -> None:
    body = event("invoice.payment_failed", customer="cus_CRASH")
    payload, headers = signed(body)
    message_id = str(processing.message_id(body["id"]))
    log = tmp_path / "stripe-webhooks.log"
    blocker = await asyncpg.connect(webhooks_dsn)
    observer = await asyncpg.connect(webhooks_dsn)
    try:
        with _handler(settings, log) as (process, url):
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{url}/v1/stripe/webhooks", data=payload, headers=headers
                ) as response,
            ):
                assert response.status == 200  # stored: Stripe stops retrying

            async def waiting_on_the_outbox() -> bool:
                """the processor's transaction is blocked on the test's outbox lock"""
                waiting = await observer.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                    " AND query LIKE 'INSERT INTO outbox%'"
                )
                return int(waiting) > 0

            try:
                await eventually(waiting_on_the_outbox, within=20, interval=0.05)
            except AssertionError as error:  # say what the backends were doing instead
                activity = await observer.fetch(
                    "SELECT state, wait_event_type, left(query, 60) AS query FROM pg_stat_activity"
                    " WHERE datname = current_database()"
                )
                raise AssertionError(f"{error}; {[dict(row) for row in activity]}") from None
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            await transaction.rollback()
        row = await blocker.fetchrow(
            "SELECT processed_at FROM stripe_events WHERE id = $1", body["id"]
        )
        assert row is not None
        assert row["processed_at"] is None
        assert await _outbox_rows(webhooks_dsn, message_id) == 0
        with _handler(settings, log):
            (message,) = await relayed.take(1)
            assert message.stripe_event_id == body["id"]
        with _handler(settings, log):  # ready = its first pass is done: nothing left to do
            pass
        assert await _outbox_rows(webhooks_dsn, message_id) == 1
        assert await relayed.empty()
    finally:
        await observer.close()
        await blocker.close()
