"""Export counting: what our exporters sent and failed to send, process-wide.

The counting exporters wrap the OTLP/console exporters omie-otel sets up (:mod:`omie_otel._setup`); the health check,
the self-telemetry gauges and the exit flush read :data:`export_stats`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = [
    "ExportStats",
    "export_stats",
    "CountingSpanExporter",
    "CountingMetricExporter",
    "CountingLogExporter",
]


class ExportStats:
    """Process-wide counts of what our exporters failed to send, read by health checks and self-telemetry gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exported: dict[str, int] = {"traces": 0, "metrics": 0, "logs": 0}
        self.failed: dict[str, int] = {"traces": 0, "metrics": 0, "logs": 0}
        self.last_failure_ns: dict[str, int] = {}
        self.last_success_ns: dict[str, int] = {}
        #: Items handed to an exporter whose ``export()`` has not returned yet (lost if the process exits now).
        self.in_flight: dict[str, int] = {"traces": 0, "metrics": 0, "logs": 0}

    def begin(self, signal: str, items: int) -> None:
        with self._lock:
            self.in_flight[signal] = self.in_flight.get(signal, 0) + items

    def record(self, signal: str, items: int, ok: bool, now_ns: int) -> None:
        with self._lock:
            self.in_flight[signal] = max(0, self.in_flight.get(signal, 0) - items)
            if ok:
                self.exported[signal] = self.exported.get(signal, 0) + items
                self.last_success_ns[signal] = now_ns
            else:
                self.failed[signal] = self.failed.get(signal, 0) + items
                self.last_failure_ns[signal] = now_ns


export_stats = ExportStats()

_Result = TypeVar("_Result")


def _counted(
    signal: str, items: int, export: Callable[[], _Result], success: _Result, failure: _Result
) -> _Result:
    """Run one export, count its items as exported or failed; an exporter that raises has failed, not crashed.

    Success is judged by the enum member's *name*: SDK 1.45's OTLP log exporter answers with
    ``LogRecordExportResult.SUCCESS`` while ``LogExportResult.SUCCESS`` is a different enum, and comparing members
    counted every exported log record as a failure.
    """
    export_stats.begin(signal, items)
    try:
        result = export()
    except Exception:  # noqa: BLE001
        result = failure
    ok = result == success or getattr(result, "name", None) == "SUCCESS"
    export_stats.record(signal, items, ok, time.time_ns())
    return result


class CountingSpanExporter(SpanExporter):
    """Wraps a span exporter and counts exported and failed spans in :data:`export_stats`."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return _counted(
            "traces", len(spans), lambda: self._inner.export(spans), SpanExportResult.SUCCESS, SpanExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Wraps a metric exporter, keeping its temporality preferences, and counts failed exports."""

    def __init__(self, inner: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        points = sum(
            len(m.data.data_points)
            for rm in metrics_data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        )
        return _counted(
            "metrics",
            points,
            lambda: self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
        )

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class CountingLogExporter:
    """Wraps a log exporter and counts exported and failed records in :data:`export_stats`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def export(self, batch: Any) -> Any:
        from opentelemetry.sdk._logs.export import LogExportResult

        return _counted(
            "logs", len(batch), lambda: self._inner.export(batch), LogExportResult.SUCCESS, LogExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))
