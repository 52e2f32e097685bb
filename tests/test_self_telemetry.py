"""Self-telemetry: failed exports, full queues, queue sizes and swallowed internal errors are counted, and a warning
says so at most once a minute. Counts are process-wide, so each test compares before and after."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import omie_otel
from omie_otel import semconv as sc
from omie_otel._export_counting import CountingSpanExporter, export_stats
from omie_otel._selftelemetry import SelfTelemetry, drops
from omie_otel._setup import Providers
from tests.helpers.otlp_sink import otlp_sink
from tests.test_transports import SERVER, server_env


class FailingExporter(SpanExporter):
    """An exporter whose backend refuses everything."""

    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        return None


class StuckExporter(SpanExporter):
    """Holds the batch processor's worker inside export() until released, so the queue fills up behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def value(reader: InMemoryMetricReader, name: str, **attrs: Any) -> Any:
    data = reader.get_metrics_data()
    found = [
        p.value
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
        if all(p.attributes.get(k) == v for k, v in attrs.items())
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def trace_failures() -> int:
    return export_stats.failed.get("traces", 0)


def test_failing_exporter_in_the_applications_own_sdk_is_counted_and_degrades_health(
    telemetry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = FailingExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    tp = TracerProvider()
    tp.add_span_processor(processor)
    before = trace_failures()
    omie_otel.instrument(tracer_provider=tp, meter_provider=telemetry.meter_provider, host_metrics=False, logs=False)
    for i in range(3):
        tp.get_tracer("app").start_span(f"work {i}").end()
    processor.force_flush()

    assert exporter.calls == 1
    assert trace_failures() - before == 3
    assert value(telemetry.reader, sc.OMIE_OTEL_EXPORT_FAILURES, **{sc.OMIE_OTEL_SIGNAL: "traces"}) == trace_failures()

    from omie_otel import health

    report = health.check()
    (export,) = [c for c in report.checks if c.name == "telemetry_export"]
    assert export.status == "degraded" and "traces export failed" in export.detail
    assert report.ready, "telemetry trouble must never take the server out of rotation"

    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        omie_otel._lifecycle.current_state().self_telemetry.check_losses()
    assert "telemetry is being lost: 3 traces failed" in caplog.text

    omie_otel.uninstrument()
    assert processor._batch_processor._exporter is exporter, "the application's exporter is given back"


def test_full_queue_drops_are_counted_and_the_sdks_own_metric_still_works(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    sdk_reader = InMemoryMetricReader()
    exporter = StuckExporter()
    processor = BatchSpanProcessor(
        exporter, max_queue_size=2, max_export_batch_size=1, schedule_delay_millis=60_000,
        meter_provider=MeterProvider(metric_readers=[sdk_reader]),
    )
    tp = TracerProvider()
    tp.add_span_processor(processor)
    before = drops.snapshot().get(("traces", sc.DROP_QUEUE_FULL), 0)
    omie_otel.instrument(tracer_provider=tp, meter_provider=telemetry.meter_provider, host_metrics=False, logs=False)
    tracer = tp.get_tracer("app")
    try:
        tracer.start_span("first").end()  # wakes the worker, which gets stuck exporting it
        assert exporter.entered.wait(5)
        for i in range(5):  # 2 fit in the queue, 3 are dropped
            tracer.start_span(f"more {i}").end()
        assert drops.snapshot()[("traces", sc.DROP_QUEUE_FULL)] - before == 3
        reader = telemetry.reader
        assert value(reader, sc.OMIE_OTEL_EXPORT_QUEUE_SIZE, **{sc.OMIE_OTEL_SIGNAL: "traces"}) == 2
        assert value(reader, sc.OMIE_OTEL_EXPORT_QUEUE_CAPACITY, **{sc.OMIE_OTEL_SIGNAL: "traces"}) == 2
        dropped = value(reader, sc.OMIE_OTEL_EXPORT_DROPPED, **{sc.OMIE_OTEL_SIGNAL: "traces", sc.ERROR_TYPE: "queue_full"})
        assert dropped - before == 3
        sdk_dropped = value(sdk_reader, "otel.sdk.processor.span.processed", **{"error.type": "queue_full"})
        assert sdk_dropped == 3, "our counting stand-in passes every drop on to the SDK's own metric"
    finally:
        exporter.release.set()
        omie_otel.uninstrument()
        processor.shutdown()
    assert type(processor._batch_processor._metrics).__name__ == "ProcessorMetrics", "the SDK's hook is given back"


def test_swallowed_internal_errors_are_counted(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from omie_otel._guard import internal_error, internal_error_count

    omie_otel.instrument(meter_provider=telemetry.meter_provider, host_metrics=False, logs=False)
    first = value(telemetry.reader, sc.OMIE_OTEL_INTERNAL_ERRORS)
    monkeypatch.delenv("OMIE_OTEL_RAISE_INTERNAL_ERRORS")
    internal_error("a test of the internal error counter", RuntimeError("boom"))
    assert value(telemetry.reader, sc.OMIE_OTEL_INTERNAL_ERRORS) == first + 1 == internal_error_count()


def test_warning_at_most_once_a_minute_with_counts_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    st = SelfTelemetry(None, Providers(None, None, None), clock=lambda: now[0])
    st._seen = st._loss_counts()
    t0 = time.time_ns()
    with caplog.at_level(logging.INFO, logger="omie_otel"):
        export_stats.record("logs", 4, False, t0)
        st.check_losses()
        now[0] += 10
        export_stats.record("logs", 2, False, t0 + 1)
        drops.add("logs", sc.DROP_QUEUE_FULL, 5)
        st.check_losses()  # 10 s later: counted, not logged
        now[0] += 51
        st.check_losses()  # 61 s after the first warning: what piled up since
        export_stats.record("logs", 1, True, time.time_ns())
        now[0] += 5
        st.check_losses()
    messages = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "omie_otel"]
    warnings = [m for level, m in messages if level == "WARNING"]
    assert len(warnings) == 2
    assert "telemetry is being lost: 4 logs failed" in warnings[0]
    assert "5 logs dropped, 2 logs failed" in warnings[1]
    assert messages[-1] == ("INFO", "omie-otel: telemetry exports work again")


def test_sdk_configured_by_omie_otel_is_not_wrapped_twice() -> None:
    inner = FailingExporter()
    counting = CountingSpanExporter(inner)
    processor = BatchSpanProcessor(counting, schedule_delay_millis=60_000)
    tp = TracerProvider()
    tp.add_span_processor(processor)
    mp = MeterProvider()
    st = SelfTelemetry(mp.get_meter("t"), Providers(tp, mp, None, owned=True))
    st.start()
    try:
        assert processor._batch_processor._exporter is counting
    finally:
        st.stop()
        processor.shutdown()


async def test_broken_collector_failures_reach_the_collector_once_it_recovers() -> None:
    """The env-configured path end to end: a real OTLP receiver refuses exports (HTTP 400), then accepts them;
    the failures it refused arrive as omie_otel.export.failures from the stdio server."""
    with otlp_sink() as sink:
        sink.fail_with = 400
        transport = StdioTransport(
            command=sys.executable, args=[SERVER], env=server_env(sink, "omie-broken"), keep_alive=False
        )
        async with Client(transport) as client:
            await client.call_tool("ecoar", {"texto": "x"})
            seen = sink.requests
            await asyncio.sleep(1.5)  # spans leave after 100 ms, metrics every 500 ms: all refused
            assert sink.requests >= seen + 3
            sink.fail_with = None

            def failures(s: Any) -> list[Any]:
                return [
                    m["value"] for m in s.metrics
                    if m["name"] == sc.OMIE_OTEL_EXPORT_FAILURES and m["attributes"].get(sc.OMIE_OTEL_SIGNAL) == "traces"
                ]

            assert sink.wait_for(lambda s: any(v >= 1 for v in failures(s)))
        metrics_failed = [
            m["value"] for m in sink.metrics
            if m["name"] == sc.OMIE_OTEL_EXPORT_FAILURES and m["attributes"].get(sc.OMIE_OTEL_SIGNAL) == "metrics"
        ]
        assert metrics_failed and max(metrics_failed) >= 1


def test_log_exporter_answering_with_the_other_success_enum_is_not_a_failure() -> None:
    """SDK 1.45's OTLP log exporter returns LogRecordExportResult, not LogExportResult: both mean success."""
    from opentelemetry.sdk._logs import export as log_export

    from omie_otel._export_counting import CountingLogExporter, export_stats

    enum = getattr(log_export, "LogRecordExportResult", log_export.LogExportResult)

    class Answers:
        def export(self, batch: object) -> object:
            return enum.SUCCESS

    before_ok, before_failed = export_stats.exported.get("logs", 0), export_stats.failed.get("logs", 0)
    CountingLogExporter(Answers()).export([object(), object()])
    assert export_stats.exported["logs"] == before_ok + 2
    assert export_stats.failed.get("logs", 0) == before_failed
