"""Which address a login is throttled by: the one our own proxies saw, never the client's claim."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from meridian.services.auth.throttle import client_address

PEER = "192.0.2.1"


class _Socket:
    """What aiohttp asks a transport for `request.remote`."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (PEER, 40000) if name == "peername" else default


def _request(forwarded: str | None) -> web.Request:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return make_mocked_request("POST", "/v1/auth/login", headers=headers, transport=_Socket())


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        # The gateway appended its peer: whatever the client wrote before it does not count.
        ("203.0.113.9", 1, "203.0.113.9"),
        ("1.2.3.4, 5.6.7.8, 203.0.113.9", 1, "203.0.113.9"),
        # A load balancer appended the client, then the gateway appended the balancer.
        ("1.2.3.4, 203.0.113.9, 10.0.0.7", 2, "203.0.113.9"),
        # Fewer entries than trusted hops: the leftmost our proxies wrote.
        ("203.0.113.9", 2, "203.0.113.9"),
        (" 1.2.3.4 ,, 203.0.113.9 ", 1, "203.0.113.9"),
    ],
)
def test_the_address_is_counted_from_the_right(forwarded: str, hops: int, expected: str) -> None:
    assert client_address(_request(forwarded), hops) == expected


def test_without_proxies_or_the_header_the_peer_is_the_client() -> None:
    assert client_address(_request("1.2.3.4"), 0) == PEER
    assert client_address(_request(None), 1) == PEER
    assert client_address(_request(""), 1) == PEER
