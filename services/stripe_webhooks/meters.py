"""The handler's own metrics, on the app's registry beside the runtime's HTTP metrics.

`stripe_webhook_refused_total{reason}` is what the signature-failure alert watches: every refused
event is counted here (and logged), so none is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import prometheus_client
from aiohttp import web

from meridian.core.runtime import app as runtime_app

REASONS = (
    "missing_signature",
    "malformed_signature",
    "signature_mismatch",
    "timestamp_expired",
    "malformed_body",
)


@dataclass(frozen=True)
class Meters:
    received: prometheus_client.Counter
    refused: prometheus_client.Counter
    processed: prometheus_client.Counter
    unprocessed: prometheus_client.Gauge
    oldest_unprocessed: prometheus_client.Gauge


def create(registry: prometheus_client.CollectorRegistry) -> Meters:
    meters = Meters(
        received=prometheus_client.Counter(
            "stripe_webhook_received",
            "Verified Stripe events received, by outcome: stored (first time) or duplicate",
            ("outcome",),
            registry=registry,
        ),
        refused=prometheus_client.Counter(
            "stripe_webhook_refused",
            "Requests refused with 400, by reason (signature, timestamp or body)",
            ("reason",),
            registry=registry,
        ),
        processed=prometheus_client.Counter(
            "stripe_events_processed",
            "Stored events processed, by outcome: relayed (to billing) or ignored (a type "
            "billing does not act on)",
            ("outcome",),
            registry=registry,
        ),
        unprocessed=prometheus_client.Gauge(
            "stripe_events_unprocessed",
            "Stored events not yet processed, as of the last processing pass",
            registry=registry,
        ),
        oldest_unprocessed=prometheus_client.Gauge(
            "stripe_events_oldest_unprocessed_seconds",
            "Age of the oldest stored event not yet processed (0 when none)",
            registry=registry,
        ),
    )
    for reason in REASONS:  # every series exists from the start, so rate() sees the first one
        meters.refused.labels(reason=reason)
    for outcome in ("stored", "duplicate"):
        meters.received.labels(outcome=outcome)
    return meters


METERS = web.AppKey("stripe_webhook_meters", Meters)


def install(app: web.Application) -> None:
    app[METERS] = create(app[runtime_app.METRICS].registry)
