"""Processors placed in the user's providers: the scrubber first in line, and export self-telemetry.

The scrubbing processors are inserted at the *front* of the provider's processor chain, so processors the user added
before :func:`omie_otel.instrument` (and exporters behind them) only ever see scrubbed data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from omie_otel._guard import internal_error
from omie_otel.redaction import Scrubber

try:  # the SDK moved this class between versions
    from opentelemetry.attributes import BoundedAttributes
except ImportError:  # pragma: no cover
    BoundedAttributes = None  # type: ignore[assignment,misc]

__all__ = [
    "ScrubbingSpanProcessor",
    "ScrubbingLogProcessor",
    "install_span_scrubber",
    "install_log_scrubber",
    "remove_processor",
    "ExportStats",
    "export_stats",
    "CountingSpanExporter",
    "CountingMetricExporter",
    "CountingLogExporter",
]

_logger = logging.getLogger("omie_otel")
_REDACTED_KEY = "omie_otel.redacted"
_MAX_PATHS = 32


def _bounded(attrs: dict[str, Any], original: Any) -> Any:
    if BoundedAttributes is None:
        return attrs
    bounded = BoundedAttributes(maxlen=None, attributes=attrs, immutable=False)
    bounded.dropped = getattr(original, "dropped", 0)
    return bounded


class ScrubbingSpanProcessor(SpanProcessor):
    """Rewrites each ended span's attributes, events and status description through the :class:`Scrubber`."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._scrub(span)
        except Exception as exc:  # noqa: BLE001
            internal_error("span scrubbing", exc)

    def _scrub(self, span: ReadableSpan) -> None:
        scrub = self.scrubber
        redacted: list[str] = []
        name = span._name  # noqa: SLF001 - a span name can carry a client-chosen tool name
        if name:
            clean_name = scrub.scrub_text(name, ("name",), redacted)
            if clean_name != name:
                span._name = clean_name  # noqa: SLF001
        attrs = scrub.scrub_attributes(span._attributes, "attributes", redacted)  # noqa: SLF001
        if span._events:  # noqa: SLF001
            new_events = None
            for i, event in enumerate(span._events):  # noqa: SLF001
                ev_attrs = scrub.scrub_attributes(event.attributes, f"events.{event.name}", redacted)
                if ev_attrs is not None:
                    if new_events is None:
                        new_events = list(span._events)  # noqa: SLF001
                    new_events[i] = Event(event.name, ev_attrs, event.timestamp)
            if new_events is not None:
                span._events = new_events  # noqa: SLF001
        status = span._status  # noqa: SLF001
        if status is not None and status.description:
            desc = scrub.scrub_text(status.description, ("status",), redacted)
            if desc != status.description:
                span._status = Status(status.status_code, desc)  # noqa: SLF001
        if redacted:
            attrs = dict(attrs if attrs is not None else span._attributes or {})  # noqa: SLF001
            attrs[_REDACTED_KEY] = tuple(sorted(set(redacted)))[:_MAX_PATHS]
        if attrs is not None:
            span._attributes = _bounded(attrs, span._attributes)  # noqa: SLF001

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class ScrubbingLogProcessor:
    """Rewrites each log record's body and attributes through the :class:`Scrubber` before other processors."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def on_emit(self, log_data: Any) -> None:
        try:
            record = getattr(log_data, "log_record", log_data)
            redacted: list[str] = []
            body = record.body
            if isinstance(body, (str, dict, list, tuple)):
                new_body = self.scrubber.scrub_value(body, ("body",), redacted)
                if new_body != body:
                    record.body = new_body
            attrs = self.scrubber.scrub_attributes(record.attributes, "attributes", redacted)
            if redacted:
                attrs = dict(attrs if attrs is not None else record.attributes or {})
                attrs[_REDACTED_KEY] = tuple(sorted(set(redacted)))[:_MAX_PATHS]
            if attrs is not None:
                record.attributes = _bounded(attrs, record.attributes)
        except Exception as exc:  # noqa: BLE001
            internal_error("log scrubbing", exc)

    def emit(self, log_data: Any) -> None:  # SDK < 1.28 name
        self.on_emit(log_data)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _multi_span(provider: Any) -> Any:
    return getattr(provider, "_active_span_processor", None)


def install_span_scrubber(provider: Any, processor: ScrubbingSpanProcessor) -> bool:
    """Put ``processor`` first in an SDK tracer provider's chain. Returns False when that is impossible."""
    multi = _multi_span(provider)
    procs = getattr(multi, "_span_processors", None)
    if procs is None:
        return False
    lock = getattr(multi, "_lock", None) or threading.Lock()
    with lock:
        multi._span_processors = (processor, *(p for p in procs if not isinstance(p, ScrubbingSpanProcessor)))  # noqa: SLF001
    return True


def install_log_scrubber(provider: Any, processor: ScrubbingLogProcessor) -> bool:
    """Put ``processor`` first in an SDK logger provider's chain. Returns False when that is impossible."""
    multi = getattr(provider, "_multi_log_record_processor", None)
    procs = getattr(multi, "_log_record_processors", None)
    if multi is None or procs is None:
        return False
    lock = getattr(multi, "_lock", None) or threading.Lock()
    with lock:
        multi._log_record_processors = (  # noqa: SLF001
            processor,
            *(p for p in procs if not isinstance(p, ScrubbingLogProcessor)),
        )
    return True


def remove_processor(provider: Any, processor: Any) -> None:
    """Take one of our processors back out of a provider's chain."""
    for multi_attr, list_attr in (
        ("_active_span_processor", "_span_processors"),
        ("_multi_log_record_processor", "_log_record_processors"),
    ):
        multi = getattr(provider, multi_attr, None)
        procs = getattr(multi, list_attr, None)
        if procs is not None and processor in procs:
            setattr(multi, list_attr, tuple(p for p in procs if p is not processor))


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


def _counted(signal: str, items: int, export: Any, success: Any, failure: Any) -> Any:
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
