"""Host and process metrics from psutil, named per the OpenTelemetry ``system.*`` / ``process.*`` conventions.

Usage:
    :class:`HostMetrics` creates asynchronous instruments on the meter ``omie_otel.host_metrics``; the SDK calls their
    callbacks at each collection, and each callback reads psutil once and yields ``Observation`` values. Nothing runs
    between collections.

    >>> from opentelemetry.sdk.metrics import MeterProvider
    >>> host = HostMetrics(MeterProvider(), exclude=["system.network.*"])
    >>> host.start()
    >>> sorted(host.snapshot())
    ['cpu', 'filesystems', 'memory', 'pools', 'process']
    >>> host.stop()

Metrics (instrument types follow semconv, so they match the collector's ``hostmetrics`` receiver):
    * ``system.cpu.utilization``, gauge, ``1``: ``cpu.mode`` (user, nice, system, idle, iowait, interrupt, steal:
      the fractions sum to 1; busy = every mode but idle and iowait), plus ``cpu.logical_number`` with ``per_cpu``.
    * ``system.cpu.time``, counter, ``s``: the same attributes, seconds since boot.
    * ``system.memory.usage``, up-down counter, ``By``: ``system.memory.state`` = used, free, cached, buffers
      (those the platform has).
    * ``system.memory.utilization``, gauge, ``1``: ``system.memory.state``, the same states, as fractions of total.
    * ``system.filesystem.usage``, up-down counter, ``By``: ``system.device``, ``system.filesystem.mountpoint``,
      ``system.filesystem.type``, ``system.filesystem.mode`` = rw, ro, ``system.filesystem.state`` = used, free.
    * ``system.filesystem.utilization``, gauge, ``1``: the same attributes.
    * ``system.network.io``, counter, ``By``: ``network.interface.name``, ``network.io.direction`` = transmit,
      receive.
    * ``process.cpu.utilization``, gauge, ``1``: ``cpu.mode`` = user, system (required by semconv).
    * ``process.cpu.time``, counter, ``s``: ``cpu.mode`` = user, system.
    * ``process.memory.usage``, up-down counter, ``By``: no attribute (resident set size).
    * ``process.unix.file_descriptor.count``, up-down counter, ``{file_descriptor}``: no attribute (it replaces the
      deprecated ``process.open_file_descriptor.count``).
    * ``process.thread.count``, up-down counter, ``{thread}``: no attribute.
    * ``omie.client.pool.connections``, up-down counter, ``{connection}``: ``omie.client.pool.name``,
      ``omie.client.pool.state`` = active, idle.
    * ``omie.client.pool.limit``, up-down counter, ``{connection}``: ``omie.client.pool.name``; the pool's
      ``max_connections`` (absent when unlimited).
    * ``omie.client.pool.utilization``, gauge, ``1``: ``omie.client.pool.name``; active / limit (the plan: < 80 %).

    * CPU utilizations are the busy fraction since the previous collection (the first collection: since
      :meth:`HostMetrics.start`), never a meaningless first 0. ``process.cpu.utilization`` is divided by the CPUs
      available to the process (its affinity mask where the platform has one, else ``psutil.cpu_count()``).
    * Filesystems: real ones only (``psutil.disk_partitions(all=False)``), without tmpfs, squashfs, loop devices or
      overlay, except an overlay mounted on ``/`` (a container's root); one mount per device; utilization is
      ``used / (used + free)``, as ``df`` shows it.
    * Network: per interface, loopback left out; cumulative since boot.
    * Connection pools: register a client with :func:`register_pool`; it is held by a weak reference.

Failures:
    A psutil call this platform refuses (``psutil.Error`` such as ``AccessDenied``, ``NotImplementedError``,
    ``AttributeError``, ``OSError``) drops that one metric: one warning on the ``omie_otel.host_metrics`` logger, and
    its callback yields nothing from then on; the other metrics carry on. A filesystem that cannot be read drops only
    that mount, and a pool whose transport has no httpcore pool drops only that pool, each with one warning. Any other
    exception is a bug of ours: the metric is dropped too and the error goes to ``omie_otel._guard.internal_error``
    (logged once with its traceback; re-raised when ``OMIE_OTEL_RAISE_INTERNAL_ERRORS=1``, as in our test-suite).

Configuration (argument > environment variable > default):
    * ``exclude`` / ``OMIE_OTEL_HOST_METRICS_EXCLUDE``: comma-separated globs over metric names to leave out,
      e.g. ``system.network.*,process.thread.count``. Default: none.
    * ``per_cpu`` / ``OMIE_OTEL_HOST_METRICS_PER_CPU``: ``true`` reports ``system.cpu.utilization`` per logical CPU
      instead of the aggregate. Default: ``false``. A value that is not a boolean logs one warning and the default
      is used, as for every option (:mod:`omie_otel._config`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psutil
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from omie_otel import semconv
from omie_otel._cgroup import CGROUP_ROOT
from omie_otel._client_pools import _POOLS, pool_counts, pool_limit, read_pools, register_pool  # noqa: F401 - _POOLS: tests
from omie_otel._config import option_named
from omie_otel._guard import internal_error
from omie_otel._host_metric_specs import METER_NAME, SPECS
from omie_otel._host_readings import (
    PLATFORM_ERRORS,
    DeltaSampler,
    Filesystem,
    available_cpus,
    clamp,
    cpu_mode_attributes,
    cpu_modes,
    cpu_time_pairs,
    network_io_per_interface,
    partitions,
)
from omie_otel._host_readings import memory as read_memory
from omie_otel._host_snapshot import snapshot
from omie_otel._observable import observable
from omie_otel.environment_variables import OMIE_OTEL_HOST_METRICS_EXCLUDE, OMIE_OTEL_HOST_METRICS_PER_CPU
from omie_otel.version import __version__

__all__ = [
    "OMIE_OTEL_HOST_METRICS_EXCLUDE",
    "OMIE_OTEL_HOST_METRICS_PER_CPU",
    "HostMetrics",
    "register_pool",
]

_logger = logging.getLogger("omie_otel.host_metrics")

#: Patched by tests; psutil's own CPU percentages use the same clock.
_monotonic = time.monotonic

_T = TypeVar("_T")
_Points = list[tuple[float, dict[str, Any]]]


def _without_attributes(read: Callable[[], float]) -> Callable[[], _Points]:
    return lambda: [(read(), {})]


class HostMetrics:
    """psutil readings of this host and this process, as OpenTelemetry asynchronous instruments.

    Args:
        meter_provider: Where the instruments are created (meter ``omie_otel.host_metrics``).
        exclude: Globs over metric names to leave out (a string is split on commas). ``None``: read
            ``OMIE_OTEL_HOST_METRICS_EXCLUDE``; ``[]``: exclude nothing, whatever the environment says.
        per_cpu: Report ``system.cpu.utilization`` per logical CPU. ``None``: read ``OMIE_OTEL_HOST_METRICS_PER_CPU``,
            default ``False``.
        cgroup_root: Where :meth:`snapshot` looks for a container's cgroup memory limit (default ``/sys/fs/cgroup``;
            see :func:`omie_otel.health.container_memory`).

    Raises:
        ValueError: ``per_cpu`` is not a bool, or ``exclude`` is not globs. A bad ``OMIE_OTEL_HOST_METRICS_PER_CPU``
            logs one warning (naming the variable, the value and ``true``/``false``...) and the default is used.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> reader = InMemoryMetricReader()
        >>> host = HostMetrics(MeterProvider(metric_readers=[reader]), exclude=["process.*"], per_cpu=False)
        >>> host.start()
        >>> names = {m.name for rm in reader.get_metrics_data().resource_metrics
        ...          for sm in rm.scope_metrics for m in sm.metrics}
        >>> "system.memory.usage" in names and "process.thread.count" not in names
        True
        >>> host.stop()
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        *,
        exclude: Sequence[str] | None = None,
        per_cpu: bool | None = None,
        cgroup_root: str | os.PathLike[str] = CGROUP_ROOT,
    ) -> None:
        # None: from the environment, read by the option table (a bad value there warns and gives the default)
        globs: tuple[str, ...] = option_named("host_metrics_exclude").resolve(exclude)
        self._per_cpu: bool = option_named("host_metrics_per_cpu").resolve(per_cpu)
        names = [spec.name for spec in SPECS]
        for glob in globs:
            if not fnmatch.filter(names, glob):
                _logger.warning(
                    "omie-otel: host metrics exclusion %r matches no metric (host_metrics_exclude / %s); accepted: "
                    "globs over %s. It excludes nothing.", glob, OMIE_OTEL_HOST_METRICS_EXCLUDE, names,
                )
        self._enabled = frozenset(n for n in names if not any(fnmatch.fnmatchcase(n, glob) for glob in globs))
        self._meter_provider = meter_provider
        self._cgroup_root = cgroup_root
        self._lock = threading.Lock()  # start() and stop()
        self._drop_lock = threading.Lock()
        self._dropped: set[str] = set()  # metric names, "filesystem <mountpoint>" and "<metric> <pool name>" keys
        self._running = False
        self._instruments_created = False
        self._process: psutil.Process | None = None
        # The instruments' samplers and the snapshot's are separate: neither shortens the other's interval.
        self._samplers: dict[str, DeltaSampler] = {}
        self._snapshot_samplers: dict[str, DeltaSampler] = {}
        self._observers: dict[str, Callable[[], _Points]] = {
            semconv.SYSTEM_CPU_UTILIZATION: self._observe_system_cpu,
            semconv.SYSTEM_CPU_TIME: self._observe_system_cpu_time,
            semconv.PROCESS_CPU_TIME: self._observe_process_cpu_time,
            semconv.OMIE_CLIENT_POOL_LIMIT: self._observe_pool_limit,
            semconv.OMIE_CLIENT_POOL_UTILIZATION: self._observe_pool_utilization,
            semconv.SYSTEM_MEMORY_USAGE: self._observe_memory_usage,
            semconv.SYSTEM_MEMORY_UTILIZATION: self._observe_memory_utilization,
            semconv.SYSTEM_FILESYSTEM_USAGE: self._observe_filesystem_usage,
            semconv.SYSTEM_FILESYSTEM_UTILIZATION: self._observe_filesystem_utilization,
            semconv.SYSTEM_NETWORK_IO: self._observe_network_io,
            semconv.PROCESS_CPU_UTILIZATION: self._observe_process_cpu,
            semconv.OMIE_CLIENT_POOL_CONNECTIONS: self._observe_pools,
        }
        # Single-valued process metrics, read the same way by their callbacks and by snapshot().
        self._process_readers: dict[str, Callable[[], int]] = {
            semconv.PROCESS_MEMORY_USAGE: lambda: int(self._proc().memory_info().rss),
            semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: lambda: int(self._proc().num_fds()),
            semconv.PROCESS_THREAD_COUNT: lambda: int(self._proc().num_threads()),
        }
        for name, read in self._process_readers.items():
            self._observers[name] = _without_attributes(read)

    # --- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the instruments (once) and take the CPU baselines, so the first collection is a real reading.

        Calling it again after :meth:`stop` resumes reporting; calling it while running does nothing.
        """
        with self._lock:
            if self._running:
                _logger.warning("HostMetrics.start() called twice; ignored")
                return
            self._samplers.clear()
            for name in (semconv.SYSTEM_CPU_UTILIZATION, semconv.PROCESS_CPU_UTILIZATION):
                self._sampler(self._samplers, name, per_cpu=self._per_cpu)
                self._sampler(self._snapshot_samplers, name, per_cpu=False)
            if not self._instruments_created:
                self._create_instruments()
                self._instruments_created = True
            self._running = True

    def stop(self) -> None:
        """Stop reporting: the callbacks yield nothing from now on (the SDK cannot remove instruments)."""
        with self._lock:
            self._running = False

    def _create_instruments(self) -> None:
        meter = self._meter_provider.get_meter(METER_NAME, __version__)
        for spec in SPECS:
            if spec.name in self._enabled:  # re-registrable: a later HostMetrics on this provider reports again
                observable(
                    meter, spec.instrument, spec.name, self._callback(spec.name),
                    unit=spec.unit, description=spec.description,
                )

    def _callback(self, name: str) -> Callable[[CallbackOptions], Iterator[Observation]]:
        observe = self._observers[name]

        def callback(options: CallbackOptions) -> Iterator[Observation]:
            if not self._running:
                return
            for value, attributes in self._guarded(name, observe) or ():
                yield Observation(value, attributes)

        callback.__qualname__ = f"HostMetrics.callback[{name}]"
        return callback

    # --- failure handling --------------------------------------------------------------------------------------------

    def _guarded(self, name: str, read: Callable[[], _T]) -> _T | None:
        """``read()``, or ``None`` when ``name`` is excluded, dropped, or fails now (then it is dropped).

        A platform refusal is logged once here; anything else is a bug in omie-otel, handed to
        :func:`omie_otel._guard.internal_error` (logged once with its traceback, re-raised under our test-suite).
        """
        if name not in self._enabled or name in self._dropped:
            return None
        try:
            return read()
        except PLATFORM_ERRORS as exc:
            self._drop(name, exc)
        except Exception as exc:  # noqa: BLE001 - a metric callback must never raise
            self._dropped.add(name)
            internal_error(f"host metric {name}", exc)
        return None

    def _drop(self, key: str, exc: BaseException) -> None:
        """Stop reporting ``key`` (a metric, a mount or a pool), with one warning however many threads see it fail."""
        with self._drop_lock:
            if key in self._dropped:
                return
            self._dropped.add(key)
        _logger.warning("host metric %s is not reported any more: %s: %s", key, type(exc).__qualname__, exc)

    # --- readings ----------------------------------------------------------------------------------------------------

    def _proc(self) -> psutil.Process:
        if self._process is None:
            self._process = psutil.Process()
        return self._process

    def _sampler(self, samplers: dict[str, DeltaSampler], name: str, *, per_cpu: bool) -> DeltaSampler | None:
        """The sampler for ``name``; ``None`` when it has no baseline yet (then it takes one now) or that fails."""
        sampler = samplers.get(name)
        if sampler is None:
            if name == semconv.SYSTEM_CPU_UTILIZATION:
                read: Callable[[], list[tuple[float, float]]] = lambda: cpu_time_pairs(per_cpu)  # noqa: E731
            else:
                read = self._read_process_cpu_time
            baseline = self._guarded(name, lambda: DeltaSampler(read))
            if baseline is not None:
                samplers[name] = baseline
        return sampler

    def _read_process_cpu_time(self) -> list[tuple[float, float]]:
        times = self._proc().cpu_times()
        now = _monotonic()
        return [(times.user, now), (times.system, now)]

    def _system_cpu(self, samplers: dict[str, DeltaSampler], *, per_cpu: bool) -> list[float | None]:
        """Fractions per ``cpu.mode`` (per CPU, then mode, with ``per_cpu``)."""
        sampler = self._sampler(samplers, semconv.SYSTEM_CPU_UTILIZATION, per_cpu=per_cpu)
        return [] if sampler is None else [None if v is None else clamp(v) for v in sampler.sample()]

    def _process_cpu(self, samplers: dict[str, DeltaSampler]) -> list[float | None]:
        """Fractions of the available CPUs spent in user and in system mode (:data:`semconv.CPU_MODES_PROCESS`)."""
        sampler = self._sampler(samplers, semconv.PROCESS_CPU_UTILIZATION, per_cpu=False)
        if sampler is None:
            return []
        cpus = available_cpus()
        return [None if ratio is None else clamp(ratio / cpus) for ratio in sampler.sample()]

    def _process_cpu_busy(self, samplers: dict[str, DeltaSampler]) -> float | None:
        modes = self._process_cpu(samplers)
        return None if not modes or None in modes else clamp(sum(m for m in modes if m is not None))

    def _filesystems(self) -> list[Filesystem]:
        filesystems = []
        for partition in partitions():
            key = f"filesystem {partition.mountpoint}"
            if key in self._dropped:
                continue
            try:
                usage = psutil.disk_usage(partition.mountpoint)
            except PLATFORM_ERRORS as exc:
                self._drop(key, exc)
                continue
            filesystems.append(
                Filesystem(
                    partition.device,
                    partition.mountpoint,
                    partition.fstype,
                    "ro" if "ro" in partition.opts.split(",") else "rw",
                    usage.total,
                    usage.used,
                    usage.free,
                )
            )
        return filesystems

    def _network_io(self) -> dict[str, int]:
        nics = network_io_per_interface().values()
        return {"transmit": sum(c["transmit"] for c in nics), "receive": sum(c["receive"] for c in nics)}

    def _pools(self) -> dict[str, dict[str, int]]:
        return read_pools(pool_counts, self._dropped, self._drop)

    # --- observers: one per metric, each returning (value, attributes) pairs ------------------------------------------

    def _observe_system_cpu(self) -> _Points:
        values = self._system_cpu(self._samplers, per_cpu=self._per_cpu)
        return [(v, attrs) for v, attrs in zip(values, cpu_mode_attributes(len(values), self._per_cpu)) if v is not None]

    def _observe_system_cpu_time(self) -> _Points:
        per_cpu = psutil.cpu_times(percpu=True) if self._per_cpu else [psutil.cpu_times(percpu=False)]
        values = [seconds for times in per_cpu for seconds in cpu_modes(times)]
        return list(zip(values, cpu_mode_attributes(len(values), self._per_cpu), strict=True))

    def _observe_process_cpu(self) -> _Points:
        values = self._process_cpu(self._samplers)
        return [
            (v, {semconv.CPU_MODE: mode}) for mode, v in zip(semconv.CPU_MODES_PROCESS, values) if v is not None
        ]

    def _observe_process_cpu_time(self) -> _Points:
        times = self._proc().cpu_times()
        return [(float(times.user), {semconv.CPU_MODE: "user"}), (float(times.system), {semconv.CPU_MODE: "system"})]

    def _observe_memory_usage(self) -> _Points:
        _, states = read_memory()
        return [(value, {semconv.SYSTEM_MEMORY_STATE: state}) for state, value in states.items()]

    def _observe_memory_utilization(self) -> _Points:
        total, states = read_memory()
        return [(value / total, {semconv.SYSTEM_MEMORY_STATE: state}) for state, value in states.items()]

    def _observe_filesystem_usage(self) -> _Points:
        return [
            (value, {**fs.attributes, semconv.SYSTEM_FILESYSTEM_STATE: state})
            for fs in self._filesystems()
            for state, value in (("used", fs.used), ("free", fs.free))
        ]

    def _observe_filesystem_utilization(self) -> _Points:
        return [
            (value, {**fs.attributes, semconv.SYSTEM_FILESYSTEM_STATE: state})
            for fs in self._filesystems()
            for state, value in fs.utilization.items()
        ]

    def _observe_network_io(self) -> _Points:
        return [
            (value, {semconv.NETWORK_INTERFACE_NAME: nic, semconv.NETWORK_IO_DIRECTION: direction})
            for nic, counts in network_io_per_interface().items()
            for direction, value in counts.items()
        ]

    def _pool_limits(self) -> dict[str, tuple[int, int]]:
        """``{pool name: (active connections, max_connections)}`` of the limited pools."""
        read = read_pools(lambda client: (pool_limit(client), pool_counts(client)["active"]), self._dropped, self._drop)
        return {name: (active, limit) for name, (limit, active) in read.items() if limit is not None}

    def _observe_pool_limit(self) -> _Points:
        return [(limit, {semconv.OMIE_CLIENT_POOL_NAME: name}) for name, (_, limit) in self._pool_limits().items()]

    def _observe_pool_utilization(self) -> _Points:
        return [
            (active / limit, {semconv.OMIE_CLIENT_POOL_NAME: name})
            for name, (active, limit) in self._pool_limits().items()
        ]

    def _observe_pools(self) -> _Points:
        return [
            (count, {semconv.OMIE_CLIENT_POOL_NAME: name, semconv.OMIE_CLIENT_POOL_STATE: state})
            for name, counts in self._pools().items()
            for state, count in counts.items()
        ]

    # --- snapshot ----------------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Current values as a JSON-able dict, for an MCP ops tool such as ``get_system_metrics``.

        A section is left out when all its metrics are excluded; a value is ``None`` when its metric is dropped or
        not measurable yet (CPU utilization is measured since the previous snapshot, the first one since
        :meth:`start`). It holds no environment variables, no process list, nothing secret.

        Returns:
            ``{"cpu": {...}, "memory": {...}, "filesystems": [...], "network": {...}, "process": {...},
            "pools": {...}}``; bytes for sizes, fractions in [0, 1] for utilizations. Under a cgroup memory limit (a
            container) it also holds ``"container_memory": {"cgroup", "limit", "used", "utilization"}``: the
            cgroup's working set against its limit, as the ``memory`` readiness check judges it (``memory`` stays
            the host's).

        Example:
            >>> from opentelemetry.sdk.metrics import MeterProvider
            >>> snapshot = HostMetrics(MeterProvider()).snapshot()
            >>> snapshot["memory"]["total"] > 0
            True
        """
        return snapshot(self)
