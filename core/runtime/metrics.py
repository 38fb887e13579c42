"""Prometheus metrics every service exports the same way, from a registry of the app's own.

A per-app `CollectorRegistry` (not prometheus-client's global one) keeps tests with several apps
independent and lets `/metrics` show exactly one service. Route labels use the route's canonical
path (`/orders/{id}`), never the raw URL, so label cardinality stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import prometheus_client
from aiohttp import web

from meridian.core.runtime import resilience

# Seed SLOs are p99 in the tens to hundreds of milliseconds; buckets resolve that range.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    registry: prometheus_client.CollectorRegistry
    requests: prometheus_client.Counter
    latency: prometheus_client.Histogram
    breaker_state: prometheus_client.Gauge
    shed: prometheus_client.Counter

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        labels = {"route": route, "method": method, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)

    def breaker_changed(self, name: str, state: resilience.State) -> None:
        """Pass as a CircuitBreaker's `on_change`."""
        self.breaker_state.labels(breaker=name).set(int(state))


def create() -> Metrics:
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    labels = ("route", "method", "status")
    return Metrics(
        registry=registry,
        requests=prometheus_client.Counter(
            "http_requests", "HTTP requests served", labels, registry=registry
        ),
        latency=prometheus_client.Histogram(
            "http_request_duration_seconds",
            "Time from request received to response ready",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        breaker_state=prometheus_client.Gauge(
            "circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open",
            ("breaker",),
            registry=registry,
        ),
        shed=prometheus_client.Counter(
            "http_requests_shed",
            "Requests refused with 503 because max_in_flight were being handled",
            registry=registry,
        ),
    )


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def render(metrics: Metrics) -> web.Response:
    return web.Response(
        body=prometheus_client.generate_latest(metrics.registry),
        headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
    )
