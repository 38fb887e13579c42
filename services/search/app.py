"""Search's app factory: the runtime's skeleton, Elasticsearch, the reindexer (with its signing key
for inventory, when configured), the indexer and the consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import prometheus_client
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client
from meridian.core.search import elastic
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import consumer, messaging
from meridian.services.kit.trust import identity, signing
from meridian.services.search import (
    admin,
    catalogue,
    consumers,
    indexer,
    openapi,
    reindex,
    routes,
)
from meridian.services.search.settings import SETTINGS, Settings


def create_app(settings: Settings) -> web.Application:
    if settings.amqp_url is None:
        raise ValueError("search: amqp_url is not configured")
    if settings.elasticsearch_url is None:
        raise ValueError("search: elasticsearch_url is not configured")
    es_url = str(settings.elasticsearch_url)
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)
    registry = app[runtime_app.METRICS].registry
    lag = prometheus_client.Histogram(
        "search_index_lag_seconds",
        "Time from a product change (event time) to its document being searchable",
        buckets=indexer.LAG_BUCKETS,
        registry=registry,
    )
    unavailable = prometheus_client.Gauge(
        "search_elasticsearch_unavailable",
        "1 while indexing waits for Elasticsearch (events stay queued), else 0",
        registry=registry,
    )

    async def elastic_client(app: web.Application) -> AsyncIterator[None]:
        session = client.create_session(total=settings.elasticsearch_timeout_s)
        app[routes.ELASTIC] = elastic.Elastic(
            session, es_url, timeout_s=settings.elasticsearch_timeout_s
        )
        try:
            yield
        finally:
            await session.close()

    def make_indexer(app: web.Application) -> indexer.Indexer:
        return indexer.Indexer(
            client=app[routes.ELASTIC],
            prefix=settings.index_prefix,
            max_docs=settings.bulk_max_docs,
            linger_s=settings.bulk_linger_s,
            concurrency=settings.bulk_concurrency,
            retry_s=settings.elasticsearch_retry_s,
            lag=lag,
            unavailable=unavailable,
        )

    signer = None if settings.identity_signing_key_file is None else signing.signing(app, settings)

    async def reindexer(app: web.Application) -> AsyncIterator[None]:
        async with client.create_session(total=settings.elasticsearch_timeout_s) as session:
            source = (
                None
                if signer is None or settings.inventory_url is None
                else catalogue.Catalogue(session, settings.inventory_url, signer)
            )
            app[admin.REINDEXER] = reindex.Reindexer(
                app[routes.ELASTIC],
                settings.index_prefix,
                source,
                page_size=settings.reindex_page_size,
                grace_s=settings.reindex_grace_s,
                heartbeat_s=settings.reindex_heartbeat_s,
                stale_s=settings.reindex_stale_s,
                retry_s=settings.elasticsearch_retry_s,
            )
            try:
                yield
            finally:
                await app[admin.REINDEXER].stop()

    app.cleanup_ctx.extend(
        [
            elastic_client,
            reindexer,
            messaging.connection_context(settings),
            messaging.exchanges_context(contracts.INVENTORY_EXCHANGE),
            indexer.context(make_indexer),
            consumer.consumer_context(
                consumers.products_topology(settings),
                consumers.product_handler(app),
                prefetch=settings.amqp_prefetch,
            ),
        ]
    )
    routes.add_routes(app)
    admin.add_routes(app)
    kit_openapi.route(app, openapi.description(signs=signer is not None))
    return app
