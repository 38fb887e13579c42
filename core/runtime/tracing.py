"""OpenTelemetry for services: one tracer provider per app, W3C traceparent in and out.

Propagation is the global `opentelemetry.propagate` (W3C trace context + baggage unless
OTEL_PROPAGATORS says otherwise) so our HTTP headers and AMQP message headers speak the same
format as any other OpenTelemetry process. The provider is the app's own (kept in app state, shut
down in cleanup), not the process-global one, so tests can run several apps side by side. The
exporter is off by default; "console" prints finished spans, an OTLP exporter can join later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators import textmap
from opentelemetry.sdk import resources
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import export, sampling

INSTRUMENTATION = "meridian.core.runtime"


def create_provider(
    service_name: str, *, exporter: str = "none", sample_ratio: float = 1.0
) -> sdk_trace.TracerProvider:
    provider = sdk_trace.TracerProvider(
        resource=resources.Resource.create({resources.SERVICE_NAME: service_name}),
        sampler=sampling.ParentBased(sampling.TraceIdRatioBased(sample_ratio)),
        shutdown_on_exit=False,
    )
    if exporter == "console":
        provider.add_span_processor(export.BatchSpanProcessor(export.ConsoleSpanExporter()))
    elif exporter != "none":
        raise ValueError(f"Unknown span exporter {exporter!r}; expected 'none' or 'console'")
    return provider


class _HeaderGetter(textmap.Getter[Mapping[str, Any]]):
    """Reads HTTP headers (case-insensitive multidicts) and AMQP headers (str or bytes values)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None and hasattr(carrier, "items"):
            lowered = key.lower()
            value = next((v for k, v in carrier.items() if k.lower() == lowered), None)
        if value is None:
            return None
        return [value.decode() if isinstance(value, bytes) else str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier.keys())


_GETTER = _HeaderGetter()


def inject(headers: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Write the current span's traceparent (and baggage) into outgoing headers."""
    propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, Any]) -> otel_context.Context:
    return propagate.extract(headers, getter=_GETTER)


@contextlib.contextmanager
def continued_span(
    tracer: trace.Tracer,
    name: str,
    headers: Mapping[str, Any],
    *,
    kind: trace.SpanKind,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[trace.Span]:
    """A span that continues the trace named in `headers`, current for the block's duration.

    Exceptions propagate; the span records them and is marked as an error.
    """
    with tracer.start_as_current_span(
        name, context=extract(headers), kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span


def trace_id() -> str | None:
    """The current trace id as 32 hex digits (what logs carry), or None outside a valid span."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
