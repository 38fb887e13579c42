"""A failed first connect leaves no connection behind for the garbage collector to close.

`aio_pika.connect_robust` abandons the connection object when its first connect fails, and its
finalizer then schedules `close()` on whatever loop is current: under `filterwarnings = error`
that surfaced as "coroutine 'RobustConnection.close' was never awaited", blamed on an unrelated
test. An outbox relay retrying through a broker outage made one per attempt.
"""

from __future__ import annotations

import gc
import socket

import aio_pika
import pytest

from meridian.services.kit.events import messaging


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _open_connections() -> int:
    gc.collect()
    return sum(
        1
        for found in gc.get_objects()
        if isinstance(found, aio_pika.RobustConnection) and not found.is_closed
    )


async def test_a_refused_first_connect_closes_its_connection() -> None:
    before = _open_connections()
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await messaging.connect(f"amqp://guest:guest@127.0.0.1:{_closed_port()}/", name="t")
    assert _open_connections() == before
