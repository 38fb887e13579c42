"""W3C traceparent: what one process injects, the next one continues, over HTTP and AMQP headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from multidict import CIMultiDict
from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from meridian.core.runtime import tracing


@pytest.fixture
def recorded() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = tracing.create_provider("test-service")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def test_traceparent_round_trips_into_a_child_span(
    recorded: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = recorded
    with tracer.start_as_current_span("client") as parent:
        headers = dict(tracing.inject({}))
    assert headers["traceparent"].startswith("00-")
    # HTTP headers arrive case-insensitive, under whatever case a proxy chose.
    incoming = CIMultiDict({"TraceParent": headers["traceparent"]})
    with tracing.continued_span(tracer, "server", incoming, kind=trace.SpanKind.SERVER) as child:
        assert tracing.trace_id() == format(parent.get_span_context().trace_id, "032x")
    finished = {span.name: span for span in exporter.get_finished_spans()}
    assert finished["server"].parent is not None
    assert finished["server"].parent.span_id == parent.get_span_context().span_id
    assert child.get_span_context().trace_id == parent.get_span_context().trace_id
    assert finished["server"].resource.attributes["service.name"] == "test-service"


def test_amqp_headers_with_bytes_values_are_extracted(
    recorded: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = recorded
    with tracer.start_as_current_span("publish") as parent:
        headers = {k: v.encode() for k, v in tracing.inject({}).items()}
    with tracing.continued_span(tracer, "consume", headers, kind=trace.SpanKind.CONSUMER):
        assert tracing.trace_id() == format(parent.get_span_context().trace_id, "032x")


def test_without_traceparent_a_new_trace_starts(
    recorded: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = recorded
    with tracing.continued_span(tracer, "server", {}, kind=trace.SpanKind.SERVER):
        assert tracing.trace_id() is not None
    assert exporter.get_finished_spans()[0].parent is None


def test_outside_any_span_there_is_no_trace_id() -> None:
    assert tracing.trace_id() is None
    assert tracing.inject({}) == {}


def test_unknown_exporter_is_refused() -> None:
    with pytest.raises(ValueError, match="otlp"):
        tracing.create_provider("x", exporter="otlp")


def test_sdk_provider_is_the_apps_own_not_the_global_one() -> None:
    provider = tracing.create_provider("x")
    try:
        assert trace.get_tracer_provider() is not provider
        assert isinstance(provider, sdk_trace.TracerProvider)
    finally:
        provider.shutdown()
