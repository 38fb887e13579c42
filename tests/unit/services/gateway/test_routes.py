"""The gateway's routing table and its settings, read from the environment."""

from __future__ import annotations

import pytest

from meridian.services.gateway.proxy import RouteTable
from meridian.services.gateway.settings import Settings as GatewaySettings


def test_routes_from_json_env_accept_bare_urls_and_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MERIDIAN_GATEWAY_ROUTES",
        '{"/v1/auth": "http://127.0.0.1:9001", "/v1/orders": {"url": "http://127.0.0.1:9002",'
        ' "timeout_s": 3}}',
    )
    settings = GatewaySettings()
    assert str(settings.routes["/v1/auth"].url) == "http://127.0.0.1:9001/"
    assert settings.routes["/v1/orders"].timeout_s == 3


def test_longest_prefix_wins_on_whole_segments_and_auth_is_public() -> None:
    settings = GatewaySettings.model_validate(
        {
            "routes": {
                "/v1/auth": "http://a:1",
                "/v1/orders": "http://o:1",
                "/v1/orders/reports": {"url": "http://r:1", "timeout_s": 30},
            }
        }
    )
    table = RouteTable(settings)
    assert table.match("/v1/orders/reports/7").base == "http://r:1"  # type: ignore[union-attr]
    assert table.match("/v1/orders/7").base == "http://o:1"  # type: ignore[union-attr]
    assert table.match("/v1/orders").base == "http://o:1"  # type: ignore[union-attr]
    assert table.match("/v1/ordersx") is None
    assert table.match("/v1/auth/login").public  # type: ignore[union-attr]
    assert not table.match("/v1/orders").public  # type: ignore[union-attr]
    assert table.match("/v1/orders/reports").timeout.total == 30  # type: ignore[union-attr]


def test_a_route_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="routes"):
        GatewaySettings.model_validate({"routes": {"/v1/x": "ftp://nope"}})
