"""Liveness and readiness as data, as HTTP routes, and as a metric.

Usage
-----
.. code-block:: python

    from omie_otel import health, instrument

    instrument(mcp)
    report = health.check()          # HealthReport(status="ok", ready=True, checks=(...))
    report.to_dict()                 # JSON-able; what GET /health/ready returns
    health.live()                    # Liveness(status="ok", uptime_seconds=...)

* On HTTP transports, ``instrument()`` adds ``GET /health/live`` (always 200) and ``GET /health/ready`` (200 when
  ready — ``ok`` or ``degraded`` —, 503 when a check failed) to each instrumented FastMCP server's HTTP app
  (``health_routes=False`` / ``OMIE_OTEL_HEALTH_ROUTES=false`` turns them off; a path the server already has is left
  alone). Routes added to a server already serving HTTP appear when its app is next built.
* For stdio servers, ``health_port=8081`` (``OMIE_OTEL_HEALTH_PORT``) serves the same two paths from a small
  stdlib HTTP listener on ``127.0.0.1`` in a daemon thread; ``0`` picks a free port (:func:`listener_url` tells
  which). ``uninstrument()`` stops it.
* ``omie_otel.health.status`` (gauge, ``1``): 1 ok, 0.5 degraded, 0 fail; one series per check (attribute
  ``omie_otel.health.check`` = ``omie_api``, ``telemetry_export``, ``memory``, ``disk``) and one with
  ``omie_otel.health.check=overall``. A check whose status is ``unknown`` has no point in that collection.

Readiness checks
----------------
``omie_api``
    Passive first: the last Omie answer seen by the Omie instrumentation in the last 5 minutes. ``ok`` when Omie
    answered (including "no records", validation and not-found faults: Omie is there); ``degraded`` when it is
    throttling (REDUNDANT, concurrent request, 429) or one or two calls in a row failed to reach it (transport error,
    5xx); ``fail`` after three such failures in a row, on an auth failure (Omie refused the app key/secret), and while
    Omie blocks a method with HTTP 425 ``MISUSE_API_PROCESS`` — for ``omie.retry_after`` seconds from when it was seen
    (30 minutes when Omie gave no figure), with the time left in the detail.
    Active only when all of these hold, so the probe never surprises: a readiness check asked for it (``check()``, the
    ``/health/ready`` route, the ``health_check`` tool — never the gauge's metric collection, never import or
    ``instrument()``); the process has been instrumented for at least a minute (a short-lived stdio process never
    probes); there was no Omie answer in the last 5 minutes; the application itself sent an app key/secret to Omie
    (only those credentials are used: never an environment variable, never a key the application did not use); and
    ``health_omie_probe`` is on (default). The probe is one ``ListarCategorias`` call (page 1, 1 to 9 records per page,
    a different count from one probe to the next) to the instrument's ``omie_url``, timeout 5 s. Its result is kept 5
    minutes (never less than 65 s). Omie answers REDUNDANT to the same call with the same parameters inside 60 s: the
    application's own last call is at least 5 minutes old, our previous probe at least 65 s old and with other
    parameters, so the probe never adds such a request. After a failed probe the wait doubles up to 30 minutes, so a bad
    key cannot add up to the ten errors in a row that make Omie block it. No traffic and no credentials: ``unknown``,
    not a failure.
``telemetry_export``
    ``degraded`` when an exporter failed, or a batch processor dropped items, in the last 5 minutes, or a queue is
    90 % full; never ``fail``: losing telemetry must not take the server out of rotation.
``memory`` / ``disk``
    ``fail`` at or above ``health_memory_threshold`` (default 85) / ``health_disk_threshold`` (default 90) percent in
    use — memory and the root filesystem. Environment: ``OMIE_OTEL_HEALTH_MEMORY_THRESHOLD`` /
    ``OMIE_OTEL_HEALTH_DISK_THRESHOLD``. Under a cgroup memory limit (a container) memory is the cgroup's working set
    over its limit, what the OOM killer goes by, else the host's ``psutil.virtual_memory().percent``; the detail
    starts with ``container:`` or ``host:`` to say which (:func:`container_memory`).

The overall status is ``fail`` if any check failed, else ``degraded`` if any is degraded, else ``ok``; ``ready`` is
"not fail". A report is computed at most every 5 seconds (the routes, tools and gauge share it), and the metric
collection runs the same cached check, so it never probes Omie more often than the probe cache allows.

API
---
:func:`check`, :func:`live`, :func:`listener_url`, :func:`container_memory`, :class:`HealthReport`,
:class:`CheckResult`, :class:`Liveness`, :class:`HealthChecker`, :class:`ContainerMemory`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from opentelemetry.metrics import CallbackOptions, Observation

from omie_otel import semconv as sc
from omie_otel._cgroup import CGROUP_ROOT, ContainerMemory, container_memory
from omie_otel._config import DEFAULT_DISK_THRESHOLD, DEFAULT_MEMORY_THRESHOLD, DEFAULT_OMIE_URL
from omie_otel._guard import internal_error
from omie_otel._health_omie import judge, send_probe
from omie_otel._health_resources import ago, check_disk, check_memory, check_telemetry_export
from omie_otel._state import current_state
from omie_otel.version import __version__

__all__ = [
    "CGROUP_ROOT",
    "CheckResult",
    "CheckStatus",
    "ContainerMemory",
    "HealthChecker",
    "HealthReport",
    "Liveness",
    "check",
    "container_memory",
    "listener_url",
    "live",
]

_logger = logging.getLogger("omie_otel")

CheckStatus = Literal["ok", "degraded", "fail", "unknown"]
LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"

_STARTED = time.monotonic()
_MIN_PROBE_TTL = 65.0
_MAX_PROBE_BACKOFF = 1800.0


@dataclass(frozen=True)
class CheckResult:
    """One readiness check.

    Attributes:
        name: ``omie_api``, ``telemetry_export``, ``memory`` or ``disk``.
        status: ``ok``, ``degraded``, ``fail`` or ``unknown`` (could not tell; not a failure).
        latency_ms: How long the check took.
        detail: One sentence for a human (no secrets, no environment values).
    """

    name: str
    status: CheckStatus
    latency_ms: float
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """The readiness report: what ``GET /health/ready`` and the ``health_check`` tool return.

    Attributes:
        status: ``ok``, ``degraded`` or ``fail``.
        ready: ``False`` only when a check failed (a degraded server stays in rotation).
        checks: Each check's result.
        checked_at: When it was computed, ISO 8601 in UTC.
    """

    status: Literal["ok", "degraded", "fail"]
    ready: bool
    checks: tuple[CheckResult, ...]
    checked_at: str

    @property
    def http_status(self) -> int:
        """200 when ready, 503 when not."""
        return 200 if self.ready else 503

    def to_dict(self) -> dict[str, Any]:
        """``{"status", "ready", "checked_at", "checks": [{"name", "status", "latency_ms", "detail"}]}``."""
        return {
            "status": self.status,
            "ready": self.ready,
            "checked_at": self.checked_at,
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class Liveness:
    """The process answers. What ``GET /health/live`` returns (always 200 when it answers at all)."""

    status: Literal["ok"]
    uptime_seconds: float
    version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overall(checks: tuple[CheckResult, ...], checked_at: str) -> HealthReport:
    """Combine checks: ``fail`` beats ``degraded`` beats ``ok``; ``unknown`` counts as ``ok``."""
    statuses = {c.status for c in checks}
    status: Literal["ok", "degraded", "fail"] = (
        "fail" if "fail" in statuses else "degraded" if "degraded" in statuses else "ok"
    )
    return HealthReport(status, status != "fail", checks, checked_at)


class HealthChecker:
    """Computes :class:`HealthReport` for one ``instrument()``: passive Omie evidence, probe cache, thresholds.

    Args:
        recent: The Omie instrumentation's :class:`~omie_otel._omie_recent.RecentOmieOutcomes` (``None``: no Omie
            instrumentation, the Omie check is ``unknown``).
        omie_url: Omie URL prefix the probe is sent to.
        omie_probe: Allow the active probe.
        memory_threshold, disk_threshold: Percent in use at or above which the check fails.
        cgroup_root: Where the memory check looks for a container's cgroup memory limit (default
            ``/sys/fs/cgroup``; see :func:`container_memory`).
        queues: Returns ``{signal: (queued, capacity)}`` of the batch processors (self-telemetry), or ``None``.
        scrubber: Applied to every detail text.
        environ: Unused; kept for callers that passed it (the probe only uses the credentials the application sent,
            from ``recent``).
        probe_grace: Seconds after creation before the first probe (default 60).
        report_ttl: Seconds a report is reused (default 5).
        window: Seconds an Omie answer, an export failure or a drop counts as recent (default 300).
        probe_ttl: Seconds a probe result is kept (default 300; raised to 65 if lower).
        probe_timeout: Seconds the probe waits for Omie (default 5).

    Example:
        >>> report = HealthChecker(memory_threshold=100, disk_threshold=100).check()
        >>> [c.name for c in report.checks]
        ['omie_api', 'telemetry_export', 'memory', 'disk']
    """

    def __init__(
        self,
        *,
        recent: Any = None,
        omie_url: str = DEFAULT_OMIE_URL,
        omie_probe: bool = False,
        memory_threshold: float = DEFAULT_MEMORY_THRESHOLD,
        disk_threshold: float = DEFAULT_DISK_THRESHOLD,
        cgroup_root: str | os.PathLike[str] = CGROUP_ROOT,
        queues: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
        scrubber: Any = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        report_ttl: float = 5.0,
        window: float = 300.0,
        probe_ttl: float = 300.0,
        probe_timeout: float = 5.0,
        probe_grace: float = 60.0,
    ) -> None:
        self.recent = recent
        self.omie_url = omie_url
        self.omie_probe = omie_probe
        self.memory_threshold = memory_threshold
        self.disk_threshold = disk_threshold
        self.cgroup_root = cgroup_root
        self._queues = queues
        self._scrubber = scrubber
        self._environ = environ
        self._clock = clock
        self._report_ttl = report_ttl
        self._window = window
        self._probe_ttl = max(probe_ttl, _MIN_PROBE_TTL)
        self._probe_timeout = probe_timeout
        self._lock = threading.Lock()
        self._report: tuple[float, HealthReport] | None = None
        self._evidence: Any = None
        self._probe: tuple[float, CheckStatus, str] | None = None  # (valid until, status, detail)
        self._probe_failures = 0
        self._probe_not_before = clock() + probe_grace
        self._may_probe = True  # set by each check(): False for the gauge
        self._probe_rows = 1 + os.getpid() % 9  # registros_por_pagina of the next probe (1-9, varies per probe)
        self.probes_sent = 0
        self.running = True

    # --- the report --------------------------------------------------------------------------------------------------

    def check(self, *, probe: bool = True) -> HealthReport:
        """The current report: recomputed after ``report_ttl`` seconds or when a new Omie answer arrived; concurrent
        callers share one. ``probe=False`` (the gauge) never sends the active Omie probe."""
        with self._lock:
            self._may_probe = probe
            now = self._clock()
            evidence = None if self.recent is None else self.recent.snapshot()[0]
            if self._report is not None and now - self._report[0] < self._report_ttl and self._evidence == evidence:
                return self._report[1]  # a new Omie answer (a 425, say) is never hidden by the cache
            self._evidence = evidence
            checks = tuple(
                self._timed(name, fn)
                for name, fn in (
                    ("omie_api", self._check_omie),
                    ("telemetry_export", lambda: check_telemetry_export(self._window, self._queues)),
                    ("memory", lambda: check_memory(self.cgroup_root, self.memory_threshold)),
                    ("disk", lambda: check_disk(self.disk_threshold)),
                )
            )
            report = overall(checks, datetime.now(timezone.utc).isoformat(timespec="seconds"))
            self._report = (now, report)
            return report

    def _timed(self, name: str, fn: Callable[[], tuple[CheckStatus, str]]) -> CheckResult:
        start = time.perf_counter()
        try:
            status, detail = fn()
        except Exception as exc:  # noqa: BLE001 - a broken check says so; it never breaks the report
            internal_error(f"health check {name}", exc)
            status, detail = "unknown", f"the check itself failed ({type(exc).__qualname__})"
        if self._scrubber is not None:
            detail = self._scrubber.scrub_text(detail)
        return CheckResult(name, status, round((time.perf_counter() - start) * 1000, 3), detail)

    # --- omie_api ----------------------------------------------------------------------------------------------------

    def _check_omie(self) -> tuple[CheckStatus, str]:
        now = self._clock()
        if self.recent is not None:
            last, blocked_until, in_a_row = self.recent.snapshot()
            blocks = {call: until - now for call, until in blocked_until.items() if until > now}
            if blocks:
                call, left = max(blocks.items(), key=lambda item: item[1])
                return "fail", (
                    f"Omie blocked this app key for {call} (HTTP 425 MISUSE_API_PROCESS); "
                    f"the block ends in {left:.0f} s"
                )
            if last is not None and now - last[2] <= self._window:
                kind, call, at = last
                return judge(kind, in_a_row, f"last Omie answer ({call}) {ago(now - at)}")
        if self._probe is not None and now < self._probe[0]:
            return self._probe[1], self._probe[2]
        if not self.omie_probe:
            return "unknown", f"no Omie call in the last {self._window:.0f} s (active probe off)"
        credentials = None if self.recent is None else self.recent.credentials()
        if credentials is None:
            return "unknown", (
                f"no Omie call in the last {self._window:.0f} s, and the application has sent no app key to probe with"
            )
        if not self._may_probe:
            return "unknown", f"no Omie call in the last {self._window:.0f} s (probed only by a readiness check)"
        if now < self._probe_not_before:
            return "unknown", f"no Omie call in the last {self._window:.0f} s (no probe in the first minute)"
        key, secret = credentials
        return self._send_probe(key, secret, now)

    def _send_probe(self, key: str, secret: str, now: float) -> tuple[CheckStatus, str]:
        rows = self._probe_rows
        self._probe_rows = rows % 9 + 1  # registros_por_pagina: never the previous probe's parameters
        self.probes_sent += 1
        status, detail, fault = send_probe(self.omie_url, key, secret, rows, self._probe_timeout)
        if status == "ok":
            self._probe_failures = 0
            ttl = self._probe_ttl
        else:
            self._probe_failures += 1
            ttl = min(self._probe_ttl * 2 ** (self._probe_failures - 1), _MAX_PROBE_BACKOFF)
            if fault is not None and fault.kind == "misuse_blocked" and fault.retry_after:
                ttl = max(ttl, fault.retry_after)
        self._probe = (now + ttl, status, detail)
        return status, detail

    # --- gauge -------------------------------------------------------------------------------------------------------

    def observe(self, options: CallbackOptions | None = None) -> Iterator[Observation]:
        """Callback of ``omie_otel.health.status``: the cached report, one point per known check plus ``overall``."""
        if not self.running:
            return
        try:
            report = self.check(probe=False)  # a metric collection (at exit too) never calls Omie
        except Exception as exc:  # noqa: BLE001 - a metric callback must never raise
            internal_error("health gauge", exc)
            return
        for result in report.checks:
            if result.status in sc.OMIE_OTEL_HEALTH_VALUES:
                yield Observation(sc.OMIE_OTEL_HEALTH_VALUES[result.status], {sc.OMIE_OTEL_HEALTH_CHECK: result.name})
        yield Observation(sc.OMIE_OTEL_HEALTH_VALUES[report.status], {sc.OMIE_OTEL_HEALTH_CHECK: "overall"})


# --- module API ----------------------------------------------------------------------------------------------------------

_fallback: HealthChecker | None = None


def _checker() -> HealthChecker:
    global _fallback
    state = current_state()
    checker = None if state is None else state.health
    if checker is not None:
        return checker
    if _fallback is None:  # not instrumented: thresholds and exports only, Omie unknown, never a probe
        _fallback = HealthChecker()
    return _fallback


def check() -> HealthReport:
    """Readiness now (see the module docstring). Works before ``instrument()`` too, with the defaults."""
    return _checker().check()


def live() -> Liveness:
    """Liveness: the process answers. Always ``ok`` — if it were stuck, nothing would answer."""
    return Liveness("ok", round(time.monotonic() - _STARTED, 3), __version__)


def listener_url() -> str | None:
    """``http://127.0.0.1:PORT`` of the loopback health listener (``health_port=``), or ``None`` when there is none."""
    state = current_state()
    listener = None if state is None else state.health_listener
    return None if listener is None else listener.url
