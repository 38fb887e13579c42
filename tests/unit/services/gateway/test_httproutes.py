"""The gateway's HTTPRoutes: which routes it takes, and the traffic split by their weights."""

from __future__ import annotations

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


def _picks(table: httproutes.Table, count: int) -> list[str]:
    return [table.match("/v1/orders/42").base for _ in range(count)]  # type: ignore[union-attr]


def test_a_thousand_requests_split_exactly_by_the_weight_and_spread_out() -> None:
    table = httproutes.Table(_settings())
    table.update(httproutes.split([_route(10)], "meridian", "meridian-system"))
    picks = _picks(table, 1000)
    assert Counter(picks) == {STABLE: 900, CANARY: 100}
    assert all(picks[start : start + 10].count(CANARY) == 1 for start in range(0, 1000, 10))


def test_uneven_weights_are_exact_over_each_cycle_of_their_total() -> None:
    table = httproutes.Table(_settings())
    table.update(httproutes.split([_route(37)], "meridian", "meridian-system"))
    picks = _picks(table, 300)
    assert [picks[k : k + 100].count(CANARY) for k in (0, 100, 200)] == [37, 37, 37]


def test_a_refresh_with_the_same_routes_keeps_the_rotation_going() -> None:
    """Each refresh re-reads the routes; restarting the rotation each time would starve a canary
    that gets fewer requests per refresh than 100 / its weight."""
    table = httproutes.Table(_settings())
    seen: Counter[str] = Counter()
    for _ in range(50):
        table.update(httproutes.split([_route(10)], "meridian", "meridian-system"))
        seen.update(_picks(table, 2))
    assert seen == {STABLE: 90, CANARY: 10}


def test_a_new_weight_takes_effect_at_once() -> None:
    table = httproutes.Table(_settings())
    table.update(httproutes.split([_route(10)], "meridian", "meridian-system"))
    _picks(table, 7)
    table.update(httproutes.split([_route(60)], "meridian", "meridian-system"))
    assert Counter(_picks(table, 100)) == {STABLE: 40, CANARY: 60}


def test_a_route_from_settings_takes_the_weights_and_keeps_its_own_options() -> None:
    settings = _settings(routes={"/v1/orders": {"url": "http://127.0.0.1:9", "timeout_s": 3}})
    table = httproutes.Table(settings)
    table.update(httproutes.split([_route(100)], "meridian", "meridian-system"))
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
    table = httproutes.Table(_settings())
    table.update(httproutes.split([_route(0)], "meridian", "meridian-system"))
    assert set(_picks(table, 200)) == {STABLE}


def test_every_weight_zero_falls_back_to_the_settings_route() -> None:
    route = _route(0)
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 0
    table = httproutes.Table(_settings(routes={"/v1/orders": "http://127.0.0.1:9"}))
    table.update(httproutes.split([route], "meridian", "meridian-system"))
    found = table.match("/v1/orders/1")
    assert found is not None
    assert found.base == "http://127.0.0.1:9"
