"""The services' plumbing metrics: outbox, consumers and housekeeping, on the app's own registry.

They sit beside the runtime's HTTP metrics (`meridian.core.runtime.metrics`) in the same
`CollectorRegistry`, so `/metrics` still shows one service whole; only services with an outbox or
consumers create them (`of(app)`), so a process without either exports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import prometheus_client
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import metrics as runtime_metrics


@dataclass(frozen=True)
class Metrics:
    registry: prometheus_client.CollectorRegistry
    outbox_parked: prometheus_client.Counter
    outbox_pending: prometheus_client.Gauge
    outbox_oldest_pending: prometheus_client.Gauge
    outbox_parked_rows: prometheus_client.Gauge
    housekeeping_deleted: prometheus_client.Counter
    messages: prometheus_client.Counter
    message_duration: prometheus_client.Histogram

    def handled(self, queue: str, outcome: str, seconds: float) -> None:
        """One delivery a consumer finished with (`consumer.Consumer`)."""
        self.messages.labels(queue=queue, outcome=outcome).inc()
        self.message_duration.labels(queue=queue).observe(seconds)


def create(registry: prometheus_client.CollectorRegistry) -> Metrics:
    return Metrics(
        registry=registry,
        outbox_parked=prometheus_client.Counter(
            "outbox_parked",
            "Outbox rows set aside after the broker refused them max_attempts times",
            registry=registry,
        ),
        outbox_pending=prometheus_client.Gauge(
            "outbox_pending",
            "Outbox rows not yet published (parked ones aside), as of the last housekeeping",
            registry=registry,
        ),
        outbox_oldest_pending=prometheus_client.Gauge(
            "outbox_oldest_pending_seconds",
            "Age of the oldest outbox row not yet published (0 when none), as of the last "
            "housekeeping",
            registry=registry,
        ),
        outbox_parked_rows=prometheus_client.Gauge(
            "outbox_parked_rows",
            "Outbox rows parked and waiting to be re-driven by a human",
            registry=registry,
        ),
        messages=prometheus_client.Counter(
            "messages_handled",
            "Deliveries a consumer finished with, by queue and outcome: acked, retried, "
            "dead_lettered, requeued",
            ("queue", "outcome"),
            registry=registry,
        ),
        message_duration=prometheus_client.Histogram(
            "message_handling_duration_seconds",
            "Time from delivery to ack (or to parking it for a retry or in the DLQ)",
            ("queue",),
            buckets=runtime_metrics.LATENCY_BUCKETS,
            registry=registry,
        ),
        housekeeping_deleted=prometheus_client.Counter(
            "housekeeping_deleted_rows",
            "Rows housekeeping deleted after their retention, by table",
            ("table",),
            registry=registry,
        ),
    )


PLUMBING = web.AppKey("plumbing_metrics", Metrics)


def of(app: web.Application) -> Metrics:
    """The app's plumbing metrics, created on its registry the first time a part asks."""
    if PLUMBING not in app:
        app[PLUMBING] = create(app[runtime_app.METRICS].registry)
    return app[PLUMBING]
