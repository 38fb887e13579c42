"""The webhook handler's settings: its own database and outbox, and Stripe's signing secrets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.services.kit import contracts
from meridian.services.kit.settings import DatabaseSettings, MessagingSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, MessagingSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_STRIPE_WEBHOOKS_", extra="ignore", frozen=True
    )

    name: str = "stripe-webhooks"
    db_role: str = "meridian_stripe_webhooks_app"

    # Where verified events go (billing binds its queue to it).
    events_exchange: str = contracts.STRIPE_EXCHANGE

    # The endpoint's signing secret (`whsec_...`), a file of a mounted Secret, never in git or an
    # image; re-read when the file changes. During a rotation the old one stays accepted from
    # `previous_signing_secret_file` until every event signed with it has arrived.
    signing_secret_file: Path | None = None
    previous_signing_secret_file: Path | None = None
    # How far `t=` of Stripe-Signature may be from now: replays of old signed bodies are refused.
    tolerance_s: int = Field(default=300, ge=1)

    # Stored events not yet processed are looked for this often (and at once after each receipt).
    process_interval_s: float = Field(default=1.0, gt=0)
    process_batch: int = Field(default=100, ge=1)


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
