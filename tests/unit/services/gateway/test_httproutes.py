"""The gateway's HTTPRoutes: which routes it takes, and the traffic split by their weights."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from meridian.services.gateway import httproutes
from meridian.services.gateway.settings import Settings as GatewaySettings

STABLE = "http://orders.meridian-prod.svc.cluster.local:8080"
CANARY = "http://orders-canary.meridian-prod.svc.cluster.local:8080"


def _route(
    weight: int, parent: str = "meridian", parent_namespace: str = "meridian-system"
) -> dict[str, Any]:
    """What the ServiceRelease operator writes (operators/release/resources.http_route)."""
    return {
        "metadata": {"name": "orders", "namespace": "meridian-prod"},
        "spec": {
            "parentRefs": [{"name": parent, "namespace": parent_namespace}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1/orders"}}],
                    "backendRefs": [
                        {"name": "orders", "port": 8080, "weight": 100 - weight},
                        {"name": "orders-canary", "port": 8080, "weight": weight},
                    ],
                }
            ],
        },
    }


def _settings(**fields: Any) -> GatewaySettings:
    return GatewaySettings.model_validate({"gateway_name": "meridian", **fields})


def test_only_routes_attached_to_this_gateway_count() -> None:
    routes = [_route(10), _route(50, parent="other"), _route(50, parent_namespace="elsewhere")]
    assert httproutes.split(routes, "meridian", "meridian-system") == {
        "/v1/orders": [httproutes.Backend(STABLE, 90), httproutes.Backend(CANARY, 10)]
    }


def test_a_thousand_requests_split_within_three_percent_of_the_weight() -> None:
    table = httproutes.Table(_settings(), draw=random.Random(11).random)
    table.update(httproutes.split([_route(10)], "meridian", "meridian-system"))
    seen = Counter(table.match("/v1/orders/42").base for _ in range(1000))  # type: ignore[union-attr]
    assert abs(seen[CANARY] / 1000 - 0.10) <= 0.03
    assert seen[STABLE] + seen[CANARY] == 1000


def test_a_route_from_settings_takes_the_weights_and_keeps_its_own_options() -> None:
    settings = _settings(routes={"/v1/orders": {"url": "http://127.0.0.1:9", "timeout_s": 3}})
    table = httproutes.Table(settings, draw=lambda: 0.95)
    table.update(httproutes.split([_route(10)], "meridian", "meridian-system"))
    route = table.match("/v1/orders")
    assert route is not None
    assert (route.base, route.timeout.total) == (CANARY, 3)


def test_without_httproutes_the_settings_routes_apply() -> None:
    table = httproutes.Table(_settings(routes={"/v1/auth": "http://127.0.0.1:9"}))
    table.update({})
    route = table.match("/v1/auth/login")
    assert route is not None
    assert (route.base, route.public) == ("http://127.0.0.1:9", True)
    assert table.match("/v1/orders") is None


def test_all_weight_on_the_stable_never_picks_the_canary() -> None:
    table = httproutes.Table(_settings(), draw=random.Random(3).random)
    table.update(httproutes.split([_route(0)], "meridian", "meridian-system"))
    assert {table.match("/v1/orders").base for _ in range(200)} == {STABLE}  # type: ignore[union-attr]
