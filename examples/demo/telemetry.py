"""The demo's OpenTelemetry providers: in memory for the live summary, plus OTLP when an endpoint is set.

``omie_otel.instrument(mcp, tracer_provider=..., meter_provider=..., logger_provider=...)`` records into these, so
the summary reads exactly what an exporter would send: an ``InMemoryMetricReader`` on the same ``MeterProvider``, a
span processor and a log processor that only count. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, the same providers
also ship everything over OTLP (``OTEL_EXPORTER_OTLP_PROTOCOL`` ``http/protobuf``, the default, or ``grpc``).

Example:
    >>> telemetry = DemoTelemetry(otlp=False)
    >>> telemetry.providers()["meter_provider"] is telemetry.meter_provider
    True
    >>> telemetry.shutdown()
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from omie_otel import semconv as sc

__all__ = ["DEFAULT_SERVICE_NAME", "DemoTelemetry", "LogTally", "SpanTally", "otlp_endpoint"]

#: ``service.name`` of the demo unless ``OTEL_SERVICE_NAME`` says otherwise.
DEFAULT_SERVICE_NAME = "omie-mcp-demo"


def otlp_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` when set (the demo then ships OTLP too), else ``None``.

    Example:
        >>> otlp_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
        'http://127.0.0.1:4318'
    """
    env = os.environ if environ is None else environ
    return env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None


def _otlp_exporters() -> tuple[Any, Any, Any]:
    """Span, metric and log OTLP exporters; each reads its own ``OTEL_EXPORTER_OTLP_*`` variables."""
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(), OTLPMetricExporter(), OTLPLogExporter()


class SpanTally(SpanProcessor):
    """Counts finished spans by kind and keeps, per ``omie.fault.kind``, one trace id to look up in Jaeger."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_kind: Counter[str] = Counter()
        self.fault_traces: dict[str, str] = {}

    def on_end(self, span: ReadableSpan) -> None:
        """Count ``span``; remember its trace when it is the first Omie call with that fault kind."""
        kind = (span.attributes or {}).get(sc.OMIE_FAULT_KIND)
        with self._lock:
            self.by_kind[span.kind.name] += 1
            if isinstance(kind, str) and kind not in self.fault_traces and span.context is not None:
                self.fault_traces[kind] = format(span.context.trace_id, "032x")

    def snapshot(self) -> tuple[dict[str, int], dict[str, str]]:
        """``(spans by kind, trace id by fault kind)``, copied."""
        with self._lock:
            return dict(self.by_kind), dict(self.fault_traces)


class LogTally(LogRecordProcessor):
    """Counts log records by severity, and those that carry a trace id (correlated to a span)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_severity: Counter[str] = Counter()
        self.with_trace = 0

    def on_emit(self, log_record: Any) -> None:
        """Count one record."""
        record = getattr(log_record, "log_record", log_record)
        with self._lock:
            self.by_severity[record.severity_text or "UNSPECIFIED"] += 1
            self.with_trace += 1 if getattr(record, "trace_id", 0) else 0

    def snapshot(self) -> tuple[dict[str, int], int]:
        """``(records by severity, records with a trace id)``."""
        with self._lock:
            return dict(self.by_severity), self.with_trace

    def flush(self) -> None:
        """Export now what OTLP has not sent yet (metrics included: a collection while the gauges still run)."""
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            provider.force_flush()

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


class DemoTelemetry:
    """Tracer, meter and logger providers for the demo, read back in memory and optionally shipped over OTLP.

    Args:
        service_name: ``service.name`` (default: ``OTEL_SERVICE_NAME``, else :data:`DEFAULT_SERVICE_NAME`).
        otlp: Ship over OTLP too (default: when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set).

    Example:
        >>> import omie_otel
        >>> telemetry = DemoTelemetry(otlp=False)
        >>> omie_otel.instrument(mcp, **telemetry.providers())  # doctest: +SKIP
    """

    def __init__(self, service_name: str | None = None, *, otlp: bool | None = None) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
        resource = Resource.create({SERVICE_NAME: name})
        self.service_name = name
        self.otlp = otlp_endpoint() is not None if otlp is None else otlp
        self.reader = InMemoryMetricReader()
        self.spans = SpanTally()
        self.logs = LogTally()
        readers: list[MetricReader] = [self.reader]
        span_exporter = metric_exporter = log_exporter = None
        if self.otlp:
            span_exporter, metric_exporter, log_exporter = _otlp_exporters()
            interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "5000"))
            readers.append(PeriodicExportingMetricReader(metric_exporter, export_interval_millis=interval))
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(self.spans)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(self.logs)
        if span_exporter is not None:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
            self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))

    def providers(self) -> dict[str, Any]:
        """The keyword arguments for ``omie_otel.instrument``."""
        return {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
        }

    def flush(self) -> None:
        """Export now what OTLP has not sent yet (metrics included: a collection while the gauges still run)."""
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            provider.force_flush()

    def shutdown(self) -> None:
        """Flush what is queued for OTLP and stop every provider (read the summary before this)."""
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            provider.shutdown()
