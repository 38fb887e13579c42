"""Fulfillment's settings: the kit's (own database, outbox, consumer), plus the carrier, the label
store and the shipping defaults."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.services.kit import contracts
from meridian.services.kit.settings import ConsumerSettings, DatabaseSettings, ServiceSettings

DEFAULT_ORIGIN = contracts.Address(
    name="Meridian Fulfillment",
    street1="1 Dock Street",
    city="Portland",
    state="OR",
    postal_code="97201",
    country="US",
)
DEFAULT_SHIP_TO = contracts.Address(
    name="Meridian Demo Customer",
    street1="500 Market Street",
    city="San Francisco",
    state="CA",
    postal_code="94105",
    country="US",
)


class Settings(ServiceSettings, DatabaseSettings, ConsumerSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_FULFILLMENT_", extra="ignore", frozen=True
    )

    name: str = "fulfillment"
    db_role: str = "meridian_fulfillment_app"

    # Messaging: names are settings so tests can run on their own; production keeps the defaults.
    orders_exchange: str = contracts.ORDERS_EXCHANGE
    orders_queue: str = "fulfillment.orders"
    events_exchange: str = contracts.FULFILLMENT_EXCHANGE

    # The carrier API (the local platform's fake, or a real carrier's endpoint).
    carrier_url: str | None = None
    carrier_api_key: SecretStr | None = None
    carrier_timeout_s: float = Field(default=10.0, gt=0)
    carrier_connect_timeout_s: float = Field(default=2.0, gt=0)
    # Calls per request before the failure goes back to the queue's retries; full-jitter backoff.
    carrier_attempts: int = Field(default=4, ge=1)
    carrier_backoff_base_s: float = Field(default=0.2, ge=0)
    carrier_backoff_cap_s: float = Field(default=5.0, ge=0)
    carrier_service: Literal["ground", "express", "overnight"] = "ground"

    # Labels: S3 (or compatible). Unset endpoint/credentials: boto3's defaults (IRSA in EKS).
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_bucket: str = "meridian-fulfillment"
    s3_timeout_s: float = Field(default=10.0, gt=0)

    # Where parcels leave from: per warehouse code, else `origin` with the warehouse in its name.
    # Addresses are JSON in the environment: {"name", "street1", "city", "postal_code", "country"}.
    origin: contracts.Address = DEFAULT_ORIGIN
    warehouse_origins: dict[str, contracts.Address] = Field(default_factory=dict)
    # Orders placed without `ship_to` ship here.
    default_ship_to: contracts.Address = DEFAULT_SHIP_TO
    parcel_weight_oz_per_unit: float = Field(default=8.0, gt=0)


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
