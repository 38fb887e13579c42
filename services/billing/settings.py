"""Billing's settings: the kit's (own database, Redis), the usage stream's consumer group, the
registry, prices and Stripe."""

from __future__ import annotations

import decimal
import socket

from aiohttp import web
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.services.kit import contracts
from meridian.services.kit.settings import ConsumerSettings, DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_BILLING_", extra="ignore", frozen=True)

    name: str = "billing"
    db_role: str = "meridian_billing_app"

    # The gateway's usage batches: the stream, billing's consumer group and this replica's name
    # in it (stable across restarts of one pod, so it re-reads what it took and did not ack).
    usage_stream: str = contracts.USAGE_STREAM
    usage_group: str = "billing"
    usage_consumer: str = Field(default_factory=socket.gethostname)
    usage_read_count: int = Field(default=100, ge=1)
    usage_block_s: float = Field(default=0.5, gt=0)
    # How long an acknowledgement stays for the gateway to see (it looks every flush interval).
    usage_ack_ttl_s: int = Field(default=3600, ge=60)

    # The platform registry (read-only): each tenant's Stripe customer.
    platform_dsn: SecretStr | None = None

    # Invoices: unit prices in cents (decimals allowed, as Stripe's unit_amount_decimal), the
    # currency, and the reporter's pace: due invoices every `invoice_interval_s`, a failed
    # attempt back in the queue after base * 2^attempts (capped, full jitter).
    unit_prices_cents: dict[str, decimal.Decimal] = Field(
        default_factory=lambda: {
            "api_calls": decimal.Decimal("0.01"),
            "orders_placed": decimal.Decimal("5"),
            "searches": decimal.Decimal("0.05"),
        }
    )
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    invoice_interval_s: float = Field(default=5.0, gt=0)
    invoice_batch: int = Field(default=50, ge=1)
    # Period end: every `close_interval_s` each tenant's invoice of every closed period with usage
    # and no invoice yet is generated, once the period has been over for `close_after_s` (the
    # gateway resends batches not yet acknowledged: late usage of the period still lands in it).
    close_after_s: float = Field(default=3600.0, ge=0)
    close_interval_s: float = Field(default=300.0, gt=0)
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_timeout_s: float = Field(default=10.0, gt=0)
    stripe_connect_timeout_s: float = Field(default=2.0, gt=0)
    stripe_backoff_base_s: float = Field(default=1.0, gt=0)
    stripe_backoff_cap_s: float = Field(default=300.0, gt=0)

    # Stripe's events, as the webhook handler relays them.
    stripe_exchange: str = contracts.STRIPE_EXCHANGE
    stripe_queue: str = "billing.stripe"
    # Past due this long (from the first failed payment) and the Tenant is suspended
    # (spec.suspended); checked every `suspension_interval_s`. The cluster: KUBECONFIG when
    # `kubeconfig` is unset, else the pod's service account.
    payment_grace_s: float = Field(default=7 * 24 * 3600.0, ge=0)
    suspension_interval_s: float = Field(default=60.0, gt=0)
    kubeconfig: str | None = None


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
