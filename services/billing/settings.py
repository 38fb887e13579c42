"""Billing's settings: the kit's (own database, Redis), and the usage stream's consumer group."""

from __future__ import annotations

import socket

from aiohttp import web
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from meridian.services.kit import contracts
from meridian.services.kit.settings import DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings):
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


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
