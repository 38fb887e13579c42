"""Service settings from the environment, and the breaker gauge every app exports."""

from __future__ import annotations

import prometheus_client
import pytest
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime import metrics, resilience
from meridian.services.kit.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_ORDERS_")

    name: str = "orders"


def test_service_reads_its_own_prefix_and_keeps_kit_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MERIDIAN_ORDERS_PORT", "9000")
    monkeypatch.setenv("MERIDIAN_ORDERS_PG_DSN", "postgresql://u:secret@127.0.0.1/meridian_orders")
    monkeypatch.setenv("MERIDIAN_INVENTORY_PORT", "9999")
    settings = OrdersSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert settings.pg_dsn is not None
    assert "secret" not in repr(settings)
    assert settings.statement_timeout_ms == 5_000
    assert settings.model_config["frozen"] is True


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERIDIAN_ORDERS_OTEL_EXPORTER", "jaeger")
    with pytest.raises(ValueError, match="otel_exporter"):
        OrdersSettings()


async def test_breaker_transitions_reach_the_apps_gauge() -> None:
    app_metrics = metrics.create()
    clock = [0.0]
    breaker = resilience.CircuitBreaker(
        "stripe",
        failure_threshold=1,
        open_for=5,
        clock=lambda: clock[0],
        on_change=app_metrics.breaker_changed,
    )

    async def fail() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    assert _gauge(app_metrics.registry) == 2.0
    clock[0] = 5.0
    assert breaker.state is resilience.State.HALF_OPEN
    assert _gauge(app_metrics.registry) == 1.0


def _gauge(registry: prometheus_client.CollectorRegistry) -> float | None:
    return registry.get_sample_value("circuit_breaker_state", {"breaker": "stripe"})
