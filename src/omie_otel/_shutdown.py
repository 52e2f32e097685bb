"""Bounded flush and shutdown: a dead, black-holed or slow collector never holds the server's exit hostage.

The SDK does not enforce its own timeouts here: ``force_flush`` of a batch processor exports until the queue is empty
whatever ``timeout_millis`` says, an OTLP exporter retries with back-off for up to its own timeout per batch, and a
provider's ``shutdown()`` joins its worker thread. So omie-otel runs every flush and shutdown of providers it created
in daemon threads and waits for them at most ``shutdown_timeout`` seconds (``OMIE_OTEL_SHUTDOWN_TIMEOUT``, default
2 s). What the deadline leaves behind is not waited for:

* after :func:`flush` (``uninstrument()``), export goes on in the background — nothing is lost yet;
* after :func:`shutdown_at_exit` (interpreter exit), the spans and log records still queued or in flight are lost:
  they are counted in ``omie_otel.export.dropped`` (``error.type=shutdown``) and one warning says how many.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omie_otel import semconv as sc
from omie_otel._export_counting import export_stats

if TYPE_CHECKING:
    from omie_otel._setup import Providers

__all__ = ["flush", "shutdown_at_exit", "run_bounded"]

_logger = logging.getLogger("omie_otel")


def run_bounded(jobs: dict[str, Callable[[], Any]], timeout: float) -> set[str]:
    """Run each job in its own daemon thread, all at once; wait at most ``timeout`` seconds in total.

    Returns the names of the jobs that had not finished by then (they keep running, unobserved). An exception in a
    job is logged at DEBUG: at this point the provider's own logging has said what went wrong.
    """
    threads: dict[str, threading.Thread] = {}

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - a failing flush must not become an unhandled thread exception
            _logger.debug("omie-otel: %s raised", name, exc_info=True)

    for name, job in jobs.items():
        thread = threading.Thread(target=run, args=(name, job), name=f"omie-otel-{name}", daemon=True)
        thread.start()
        threads[name] = thread
    deadline = time.monotonic() + max(0.0, timeout)
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name for name, thread in threads.items() if thread.is_alive()}


def _provider_jobs(providers: Providers, action: str, timeout: float) -> dict[str, Callable[[], Any]]:
    millis = int(timeout * 1000)
    jobs: dict[str, Callable[[], Any]] = {}
    for signal, provider in (
        ("traces", providers.tracer_provider),
        ("metrics", providers.meter_provider),
        ("logs", providers.logger_provider),
    ):
        method = getattr(provider, action, None)
        if method is None:
            continue
        if action == "force_flush":
            jobs[f"{signal}-flush"] = functools.partial(method, millis)
        elif signal == "metrics":
            jobs[f"{signal}-shutdown"] = functools.partial(method, timeout_millis=millis)
        else:
            jobs[f"{signal}-shutdown"] = method
    return jobs


def flush(providers: Providers, timeout: float) -> bool:
    """Flush the three providers in parallel, waiting at most ``timeout`` seconds. False when it did not finish."""
    late = run_bounded(_provider_jobs(providers, "force_flush", timeout), timeout)
    if late:
        _logger.warning(
            "omie-otel: flushing telemetry did not finish within %.1f s (%s); uninstrument() returns anyway and "
            "export goes on in the background. Is the collector (OTEL_EXPORTER_OTLP_ENDPOINT) up? "
            "Raise OMIE_OTEL_SHUTDOWN_TIMEOUT to wait longer.",
            timeout, ", ".join(sorted(late)),
        )
    return not late


def _queued(providers: Providers) -> dict[str, int]:
    """Items still waiting in the providers' batch processors, plus those handed to an exporter that never returned."""
    from omie_otel._selftelemetry import _log_processors, _queue, _span_processors

    out: dict[str, int] = {}
    for signal, processors in (
        ("traces", _span_processors(providers.tracer_provider)),
        ("logs", _log_processors(providers.logger_provider)),
    ):
        count = 0
        for processor in processors:
            found = _queue(processor)
            if found is not None:
                count += len(found[0])
        count += export_stats.in_flight.get(signal, 0)
        if count:
            out[signal] = count
    return out


def shutdown_at_exit(providers: Providers, timeout: float) -> dict[str, int]:
    """Shut the providers down at interpreter exit, in at most ``timeout`` seconds; count and report what is lost.

    Returns ``{signal: items lost}`` (empty when everything left in time).
    """
    from omie_otel._selftelemetry import drops

    started = time.monotonic()
    late = run_bounded(_provider_jobs(providers, "shutdown", timeout), timeout)
    lost = _queued(providers) if late else {}
    for signal, count in lost.items():
        drops.add(signal, sc.DROP_SHUTDOWN, count)
    if lost:
        _logger.warning(
            "omie-otel: telemetry lost at exit: %s still queued or unacknowledged after %.1f s (%s did not finish). "
            "Is the collector (OTEL_EXPORTER_OTLP_ENDPOINT) up? Raise OMIE_OTEL_SHUTDOWN_TIMEOUT to wait longer.",
            ", ".join(f"{n} {_ITEMS[s]}" for s, n in sorted(lost.items())),
            time.monotonic() - started,
            ", ".join(sorted(late)),
        )
    elif late:
        _logger.warning(
            "omie-otel: telemetry shutdown did not finish within %.1f s (%s); exiting anyway.",
            timeout, ", ".join(sorted(late)),
        )
    return lost


_ITEMS = {"traces": "spans", "logs": "log records"}
