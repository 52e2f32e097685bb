"""Shared fixtures: in-memory providers (the global TracerProvider can be set once per process) and an
instrumented FastMCP server factory. Internal errors re-raise here so our bugs fail tests instead of hiding."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("OMIE_OTEL_RAISE_INTERNAL_ERRORS", "1")
os.environ.setdefault("OTEL_METRIC_EXPORT_INTERVAL", "600000")

from opentelemetry import trace  # noqa: E402
from opentelemetry._logs import set_logger_provider  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as _InMemoryLogExporter
except ImportError:  # older SDK name
    from opentelemetry.sdk._logs.export import InMemoryLogExporter as _InMemoryLogExporter  # type: ignore

_SPANS = InMemorySpanExporter()
_TRACER_PROVIDER = TracerProvider()
_TRACER_PROVIDER.add_span_processor(SimpleSpanProcessor(_SPANS))
trace.set_tracer_provider(_TRACER_PROVIDER)

_LOGS = _InMemoryLogExporter()
_LOGGER_PROVIDER = LoggerProvider()
_LOGGER_PROVIDER.add_log_record_processor(SimpleLogRecordProcessor(_LOGS))
set_logger_provider(_LOGGER_PROVIDER)


class Telemetry:
    """What a test reads back: finished spans, metric points, log records."""

    def __init__(self) -> None:
        self.spans = _SPANS
        self.logs = _LOGS
        self.tracer_provider = _TRACER_PROVIDER
        self.logger_provider = _LOGGER_PROVIDER
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self, kind: Any = None, name: str | None = None) -> list[Any]:
        out = list(self.spans.get_finished_spans())
        if kind is not None:
            out = [s for s in out if s.kind == kind]
        if name is not None:
            out = [s for s in out if s.name == name]
        return out

    def server_spans(self) -> list[Any]:
        return self.finished(trace.SpanKind.SERVER)

    def points(self, metric_name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric_name:
                        found.extend(m.data.data_points)
        return found

    def log_records(self) -> list[Any]:
        return [getattr(x, "log_record", x) for x in self.logs.get_finished_logs()]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    import omie_otel

    omie_otel.uninstrument()
    _SPANS.clear()
    _LOGS.clear()
    t = Telemetry()
    yield t
    omie_otel.uninstrument()
    _SPANS.clear()
    _LOGS.clear()
