"""Inventory's settings: the kit's (own database, outbox, consumer), plus its queue and cache
lifetime."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.services.kit.settings import ConsumerSettings, DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_INVENTORY_", extra="ignore", frozen=True)

    name: str = "inventory"
    db_role: str = "meridian_inventory_app"
    # Queue on `fulfillment.events` for shipments; its `.retry` and `.dlq` follow its name.
    shipments_queue: str = "inventory.shipments"
    # Cached stock answers live at most this long (a safety net; writes update them at once).
    cache_ttl_s: float = Field(default=60.0, gt=0)


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
