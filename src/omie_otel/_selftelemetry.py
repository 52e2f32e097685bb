"""Self-telemetry: a broken export pipeline is visible, never silent.

Metrics (on the ``omie_otel`` meter; all read process-wide totals at each collection):
    * ``omie_otel.export.failures``, counter, ``{item}``, ``omie_otel.signal`` = traces/metrics/logs: spans, metric
      points and log records an exporter returned FAILURE for (or raised on).
    * ``omie_otel.export.dropped``, counter, ``{item}``, ``omie_otel.signal`` = traces/logs and ``error.type`` =
      ``queue_full`` (the batch processor's queue was full), ``already_shutdown`` (emitted after shutdown) or
      ``shutdown`` (still queued or unacknowledged when the exit deadline passed, see :mod:`omie_otel._shutdown`).
    * ``omie_otel.export.queue.size`` / ``omie_otel.export.queue.capacity``, up-down counters, ``{item}``,
      ``omie_otel.signal``: items waiting in the batch processors' queues, and their maximum.
    * ``omie_otel.internal.errors``, counter, ``{error}``: internal errors omie-otel swallowed
      (:func:`omie_otel._guard.internal_error_count`).

Where the numbers come from:
    * Failures: the counting exporters of :mod:`omie_otel._export_counting`. When omie-otel configured the SDK itself
      they are already in place; when the application brought its own SDK (``opentelemetry-instrument``, or providers
      passed to ``instrument()``), the exporters of the SDK's own Batch/Simple span and log processors and of
      ``PeriodicExportingMetricReader`` are wrapped in them while instrumented, and put back by ``uninstrument()``.
      Custom processors and readers are left alone (their failures are not counted).
    * Drops and queue sizes: the SDK (>= 1.34) reports a batch processor's drops through its ``ProcessorMetrics``
      hook — the one behind its own ``otel.sdk.processor.span.processed{error.type=queue_full}`` when
      ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true``. We put a counting stand-in in front of that hook, which
      hands every call on to the SDK's, so the SDK's own metrics keep working. An older SDK that has no such hook
      gives queue sizes only.

A WARNING on the ``omie_otel`` logger says when items start failing or being dropped, at most once a minute, with the
counts since the previous warning; an INFO line says when exports work again. A background daemon thread checks every
few seconds, so the warning does not depend on the (possibly broken) metrics pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

from omie_otel import semconv as sc
from omie_otel._export_counting import CountingLogExporter, CountingMetricExporter, CountingSpanExporter, export_stats
from omie_otel._guard import internal_error, internal_error_count
from omie_otel._observable import observable

__all__ = ["DropCounts", "SelfTelemetry", "drops"]

_logger = logging.getLogger("omie_otel")

#: Signals whose batch processors have queues.
_QUEUED_SIGNALS = ("traces", "logs")


class DropCounts:
    """Process-wide counts of items batch processors dropped, by signal and reason, and when the last one was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}
        self.last_drop_ns: dict[str, int] = {}

    def add(self, signal: str, reason: str, count: int) -> None:
        with self._lock:
            self.counts[(signal, reason)] = self.counts.get((signal, reason), 0) + count
            self.last_drop_ns[signal] = time.time_ns()

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.counts)

    def by_signal(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for (signal, _), count in self.counts.items():
                out[signal] = out.get(signal, 0) + count
            return out


drops = DropCounts()


class _CountingProcessorMetrics:
    """Sits in front of a batch processor's ``ProcessorMetrics`` (the SDK's drop hook), counting drops in
    :data:`drops` and passing every call on, so the SDK's own self-metrics are unchanged."""

    def __init__(self, inner: Any, signal: str) -> None:
        self.inner = inner
        self.signal = signal

    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None:
        self.inner.register_queue_size(get_queue_size)

    def drop_items(self, count: int, error_type: str = sc.DROP_QUEUE_FULL) -> None:
        try:
            drops.add(self.signal, error_type, count)
        except Exception as exc:  # noqa: BLE001
            internal_error("counting dropped items", exc)
        self.inner.drop_items(count, error_type)

    def finish_items(self, count: int) -> None:
        self.inner.finish_items(count)


def _span_processors(provider: Any) -> list[Any]:
    multi = getattr(provider, "_active_span_processor", None)
    return list(getattr(multi, "_span_processors", ()) or ())


def _log_processors(provider: Any) -> list[Any]:
    multi = getattr(provider, "_multi_log_record_processor", None)
    return list(getattr(multi, "_log_record_processors", ()) or ())


def _metric_readers(provider: Any) -> list[Any]:
    config = getattr(provider, "_sdk_config", None)
    return list(getattr(config, "metric_readers", ()) or ())


def _queue(processor: Any) -> tuple[Any, int | None] | None:
    """``(queue, capacity)`` of an SDK batch processor (1.34+: inside ``_batch_processor``; older: on itself)."""
    core = getattr(processor, "_batch_processor", None)
    if core is not None and hasattr(core, "_queue"):
        return core._queue, getattr(core, "_max_queue_size", None)  # noqa: SLF001
    queue = getattr(processor, "queue", None)
    if queue is not None and hasattr(queue, "__len__"):
        return queue, getattr(processor, "max_queue_size", None)
    return None


def _exporter_slot(component: Any) -> tuple[Any, str] | None:
    """Where an SDK Batch/Simple processor or periodic metric reader keeps its exporter: ``(owner, attribute)``."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if isinstance(component, (BatchSpanProcessor, BatchLogRecordProcessor)):
        core = getattr(component, "_batch_processor", None)
        if core is not None and hasattr(core, "_exporter"):
            return core, "_exporter"
        return None
    if isinstance(component, SimpleSpanProcessor) and "span_exporter" in vars(component):
        return component, "span_exporter"
    if isinstance(component, (SimpleLogRecordProcessor, PeriodicExportingMetricReader)) and hasattr(
        component, "_exporter"
    ):
        return component, "_exporter"
    return None


_COUNTING = (CountingSpanExporter, CountingMetricExporter, CountingLogExporter)
_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "traces": CountingSpanExporter,
    "metrics": CountingMetricExporter,
    "logs": CountingLogExporter,
}


class SelfTelemetry:
    """Export failures, drops, queue sizes and internal errors as metrics, and a rate-limited warning.

    Args:
        meter: The ``omie_otel`` meter.
        providers: The :class:`omie_otel._setup.Providers` omie-otel emits through.
        warn_every: Seconds between two warnings at most (default 60).
        poll_every: Seconds between two checks of the counts by the warning thread (default 5).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from omie_otel._setup import Providers
        >>> mp = MeterProvider()
        >>> st = SelfTelemetry(mp.get_meter("omie_otel"), Providers(None, mp, None))
        >>> st.start(); st.stop()
    """

    def __init__(
        self, meter: Any, providers: Any, *, warn_every: float = 60.0, poll_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._meter = meter
        self._providers = providers
        self._warn_every = warn_every
        self._poll_every = poll_every
        self._clock = clock
        self._running = False
        self._lock = threading.Lock()
        self._hooked: weakref.WeakKeyDictionary[Any, tuple[Any, _CountingProcessorMetrics]] = (
            weakref.WeakKeyDictionary()
        )
        self._wrapped: list[tuple[Any, str, Any, Any]] = []  # (owner, attribute, original, wrapper)
        self._batch: list[tuple[str, weakref.ref[Any]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._last_warning: float | None = None
        self._failing = False
        self._instruments_created = False

    # --- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._seen = self._loss_counts()
        self.scan()
        if not self._instruments_created:
            self._create_instruments()
            self._instruments_created = True
        self._running = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="omie-otel-self-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for core, stand_in in list(self._hooked.values()):
                if getattr(core, "_metrics", None) is stand_in:
                    core._metrics = stand_in.inner  # noqa: SLF001
            self._hooked.clear()
            for owner, attribute, original, wrapper in reversed(self._wrapped):
                if getattr(owner, attribute, None) is wrapper:
                    setattr(owner, attribute, original)
            self._wrapped.clear()
            self._batch.clear()

    # --- discovery ---------------------------------------------------------------------------------------------------

    def _components(self) -> Iterator[tuple[str, Any]]:
        p = self._providers
        for processor in _span_processors(p.tracer_provider):
            yield "traces", processor
        for processor in _log_processors(p.logger_provider):
            yield "logs", processor
        for reader in _metric_readers(p.meter_provider):
            yield "metrics", reader

    def scan(self) -> None:
        """Find the providers' batch processors (and, when the SDK is the application's, their exporters)."""
        with self._lock:
            known = {id(ref()) for _, ref in self._batch if ref() is not None}
            for signal, component in self._components():
                if signal in _QUEUED_SIGNALS and _queue(component) is not None and id(component) not in known:
                    self._batch.append((signal, weakref.ref(component)))
                    self._hook_drops(signal, component)
                if not self._providers.owned:
                    self._wrap_exporter(signal, component)

    def _hook_drops(self, signal: str, processor: Any) -> None:
        core = getattr(processor, "_batch_processor", None)
        inner = getattr(core, "_metrics", None)
        if core is None or inner is None or isinstance(inner, _CountingProcessorMetrics) or processor in self._hooked:
            return
        stand_in = _CountingProcessorMetrics(inner, signal)
        core._metrics = stand_in  # noqa: SLF001
        self._hooked[processor] = (core, stand_in)

    def _wrap_exporter(self, signal: str, component: Any) -> None:
        slot = _exporter_slot(component)
        if slot is None:
            return
        owner, attribute = slot
        original = getattr(owner, attribute)
        if original is None or isinstance(original, _COUNTING):
            return
        wrapper = _WRAPPERS[signal](original)
        setattr(owner, attribute, wrapper)
        self._wrapped.append((owner, attribute, original, wrapper))

    def queues(self) -> dict[str, tuple[int, int]]:
        """``{signal: (items queued, capacity)}`` summed over the batch processors found."""
        out: dict[str, tuple[int, int]] = {}
        with self._lock:
            batch = list(self._batch)
        for signal, ref in batch:
            processor = ref()
            found = None if processor is None else _queue(processor)
            if found is None:
                continue
            queue, capacity = found
            size, cap = out.get(signal, (0, 0))
            out[signal] = (size + len(queue), cap + (capacity or 0))
        return out

    # --- metrics -----------------------------------------------------------------------------------------------------

    def _create_instruments(self) -> None:
        for kind, name, callback, unit, description in (
            ("counter", sc.OMIE_OTEL_EXPORT_FAILURES, self._observe_failures, "{item}",
             "Spans, metric points and log records an exporter failed to send"),
            ("counter", sc.OMIE_OTEL_EXPORT_DROPPED, self._observe_dropped, "{item}",
             "Spans and log records a batch processor dropped (queue full, or after shutdown)"),
            ("up_down_counter", sc.OMIE_OTEL_EXPORT_QUEUE_SIZE, self._observe_queue_size, "{item}",
             "Items waiting in the batch processors' queues"),
            ("up_down_counter", sc.OMIE_OTEL_EXPORT_QUEUE_CAPACITY, self._observe_queue_capacity,
             "{item}", "Maximum items the batch processors' queues hold before dropping"),
            ("counter", sc.OMIE_OTEL_INTERNAL_ERRORS, self._observe_internal_errors, "{error}",
             "Internal errors omie-otel caught and swallowed (your code kept running)"),
        ):
            observable(self._meter, kind, name, callback, unit=unit, description=description)

    def _observed(self, name: str, read: Callable[[], Iterable[Observation]]) -> Iterator[Observation]:
        if not self._running:
            return
        try:
            observations = list(read())
        except Exception as exc:  # noqa: BLE001 - a metric callback must never raise
            internal_error(f"self-telemetry {name}", exc)
            return
        yield from observations

    def _observe_failures(self, options: CallbackOptions) -> Iterator[Observation]:
        yield from self._observed(
            sc.OMIE_OTEL_EXPORT_FAILURES,
            lambda: [Observation(export_stats.failed.get(s, 0), {sc.OMIE_OTEL_SIGNAL: s}) for s in sc.OMIE_OTEL_SIGNALS],
        )

    def _observe_dropped(self, options: CallbackOptions) -> Iterator[Observation]:
        def read() -> list[Observation]:
            counts = drops.snapshot()
            for signal in _QUEUED_SIGNALS:
                counts.setdefault((signal, sc.DROP_QUEUE_FULL), 0)
            return [
                Observation(count, {sc.OMIE_OTEL_SIGNAL: signal, sc.ERROR_TYPE: reason})
                for (signal, reason), count in sorted(counts.items())
            ]

        yield from self._observed(sc.OMIE_OTEL_EXPORT_DROPPED, read)

    def _observe_queue_size(self, options: CallbackOptions) -> Iterator[Observation]:
        def read() -> list[Observation]:
            self.scan()
            return [Observation(size, {sc.OMIE_OTEL_SIGNAL: s}) for s, (size, _) in self.queues().items()]

        yield from self._observed(sc.OMIE_OTEL_EXPORT_QUEUE_SIZE, read)

    def _observe_queue_capacity(self, options: CallbackOptions) -> Iterator[Observation]:
        yield from self._observed(
            sc.OMIE_OTEL_EXPORT_QUEUE_CAPACITY,
            lambda: [Observation(cap, {sc.OMIE_OTEL_SIGNAL: s}) for s, (_, cap) in self.queues().items()],
        )

    def _observe_internal_errors(self, options: CallbackOptions) -> Iterator[Observation]:
        yield from self._observed(sc.OMIE_OTEL_INTERNAL_ERRORS, lambda: [Observation(internal_error_count())])

    # --- warning -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _loss_counts() -> dict[str, int]:
        counts = {f"{s} failed": n for s, n in export_stats.failed.items()}
        counts.update({f"{s} dropped": n for s, n in drops.by_signal().items()})
        return counts

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_every):
            try:
                self.check_losses()
            except Exception as exc:  # noqa: BLE001
                internal_error("self-telemetry warning thread", exc)

    def check_losses(self) -> None:
        """Compare the loss counts with the previous look; warn (at most once per ``warn_every``) when they grew."""
        now = self._clock()
        counts = self._loss_counts()
        grew = False
        for key, value in counts.items():
            delta = value - self._seen.get(key, 0)
            if delta > 0:
                self._pending[key] = self._pending.get(key, 0) + delta
                grew = True
        self._seen = counts
        if grew:
            self._failing = True
        if self._pending and (self._last_warning is None or now - self._last_warning >= self._warn_every):
            lost = ", ".join(f"{n} {key}" for key, n in sorted(self._pending.items()))
            _logger.warning(
                "omie-otel: telemetry is being lost: %s (since the previous warning). Is the collector "
                "(OTEL_EXPORTER_OTLP_ENDPOINT) up? Your server keeps running; see the omie_otel.export.* metrics.",
                lost,
            )
            self._pending.clear()
            self._last_warning = now
        elif self._failing and not grew and not self._pending and self._exports_succeed_again():
            self._failing = False
            _logger.info("omie-otel: telemetry exports work again")

    @staticmethod
    def _exports_succeed_again() -> bool:
        """Every signal that failed has had a successful export since its last failure."""
        return all(
            export_stats.last_success_ns.get(signal, 0) > failed_at
            for signal, failed_at in dict(export_stats.last_failure_ns).items()
        )
