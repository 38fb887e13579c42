"""Orders' settings: the kit's (own database, outbox, consumer), plus where inventory is and how
patiently we call it."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.services.kit.settings import ConsumerSettings, DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_ORDERS_", extra="ignore", frozen=True)

    name: str = "orders"
    db_role: str = "meridian_orders_app"
    inventory_url: str = "http://127.0.0.1:8080"
    # One reservation call: whole exchange bounded by the timeout; connection failures retried
    # (full jitter) up to `inventory_attempts` times; the breaker opens after
    # `breaker_failures` failed calls in a row and stays open `breaker_open_s`.
    inventory_timeout_s: float = Field(default=3.0, gt=0)
    inventory_attempts: int = Field(default=3, ge=1)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=5.0, gt=0)
    # Queue on `fulfillment.events` for shipments; its `.retry` and `.dlq` follow its name.
    shipments_queue: str = "orders.shipments"
    # The sweeper re-drives orders left pending (inventory was down) or with a reservation still
    # to release, once they are this old, every `sweep_interval_s`.
    sweep_after_s: float = Field(default=10.0, ge=0)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # The broker the outbox relay publishes to, when it is not `amqp_url`'s.
    relay_amqp_url: SecretStr | None = None


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
