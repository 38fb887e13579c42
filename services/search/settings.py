"""Search's settings: the kit's (consumer), plus Elasticsearch, its queue and its bounds."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, HttpUrl
from pydantic_settings import SettingsConfigDict

from meridian.services.kit.settings import ConsumerSettings, ServiceSettings


class Settings(ServiceSettings, ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_SEARCH_", extra="ignore", frozen=True)

    name: str = "search"
    elasticsearch_url: HttpUrl | None = None
    # Index and alias names start with this: `<prefix>-<tenant id>` is the tenant's alias.
    index_prefix: str = Field(default="products", pattern=r"^[a-z][a-z0-9-]*$")
    # Queue on `inventory.events` for product events; its `.retry` and `.dlq` follow its name.
    products_queue: str = "search.products"
    # Deliveries in flight (unacked): what the bulks in flight and the next batch share. At 200
    # updates/s a second of refresh wait holds ~200; the rest is headroom to catch up a backlog.
    amqp_prefetch: int = Field(default=2000, ge=1)
    bulk_max_docs: int = Field(default=1000, ge=1, le=5000)
    # Bulks in flight at once, each waiting (`refresh=wait_for`) for its shards' next refresh.
    bulk_concurrency: int = Field(default=4, ge=1, le=32)
    # How long the first document of a bulk waits for company before the bulk is sent.
    bulk_linger_s: float = Field(default=0.02, ge=0)
    # Elasticsearch unreachable or refusing: indexing waits (nothing acked) and retries this often.
    elasticsearch_retry_s: float = Field(default=1.0, gt=0)
    elasticsearch_timeout_s: float = Field(default=10.0, gt=0)
    # Retry-After of a 503 while Elasticsearch is down.
    unavailable_retry_after_s: int = Field(default=5, ge=1)
    # A page may not reach past this many hits (from + size), the seed's "bounded depth".
    max_result_window: int = Field(default=1000, ge=10, le=10_000)
    # Reindex (`reindex`): where inventory serves the catalogue (None: this replica cannot
    # reindex; the signing key, `identity_signing_key_file`, proves its calls there too).
    inventory_url: str | None = None
    reindex_page_size: int = Field(default=500, ge=1, le=500)
    # After the alias swap, searches already running on the old index get this long to finish
    # before it is deleted.
    reindex_grace_s: float = Field(default=5.0, ge=0)
    # A running reindex renews its heartbeat this often; one silent for `reindex_stale_s` was
    # abandoned (its process died) and the next request resumes it.
    reindex_heartbeat_s: float = Field(default=2.0, gt=0)
    reindex_stale_s: float = Field(default=15.0, gt=0)


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
