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
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import psutil
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from omie_otel import semconv
from omie_otel._cgroup import CGROUP_ROOT, ContainerMemory, container_memory
from omie_otel._config import option_named
from omie_otel._guard import internal_error
from omie_otel._observable import observable
from omie_otel.environment_variables import OMIE_OTEL_HOST_METRICS_EXCLUDE, OMIE_OTEL_HOST_METRICS_PER_CPU
from omie_otel.version import __version__

if TYPE_CHECKING:
    import httpx

__all__ = [
    "OMIE_OTEL_HOST_METRICS_EXCLUDE",
    "OMIE_OTEL_HOST_METRICS_PER_CPU",
    "HostMetrics",
    "register_pool",
]



METER_NAME: Final = "omie_otel.host_metrics"

_logger = logging.getLogger("omie_otel.host_metrics")

#: Patched by tests; psutil's own CPU percentages use the same clock.
_monotonic = time.monotonic

_T = TypeVar("_T")
_Points = list[tuple[float, dict[str, Any]]]

#: Errors that mean "this platform or this process cannot give that value": logged without a traceback.
_PLATFORM_ERRORS: Final = (psutil.Error, NotImplementedError, AttributeError, OSError)

#: Filesystem types that are not real storage even when psutil lists them.
_SKIPPED_FSTYPES: Final = frozenset({"tmpfs", "devtmpfs", "ramfs", "squashfs", "overlay", "iso9660", "udf"})
#: Filesystem types that are kept when mounted on ``/``: a container's root.
_CONTAINER_ROOT_FSTYPES: Final = frozenset({"overlay", "aufs", "fuse.fuse-overlayfs"})
_LOOPBACK_INTERFACE: Final = re.compile(r"lo\d*|loopback.*", re.IGNORECASE)

_MEMORY_STATES: Final = ("used", "free", "cached", "buffers")


@dataclass(frozen=True)
class _Spec:
    name: str
    instrument: Literal["gauge", "up_down_counter", "counter"]
    unit: str
    description: str


_SPECS: Final = (
    _Spec(semconv.SYSTEM_CPU_UTILIZATION, "gauge", "1", "Fraction of CPU time in each mode since the last measurement."),
    _Spec(semconv.SYSTEM_CPU_TIME, "counter", "s", "Seconds each logical CPU spent in each mode, since boot."),
    _Spec(semconv.SYSTEM_MEMORY_USAGE, "up_down_counter", "By", "Memory in use, by state."),
    _Spec(semconv.SYSTEM_MEMORY_UTILIZATION, "gauge", "1", "Fraction of total memory, by state."),
    _Spec(semconv.SYSTEM_FILESYSTEM_USAGE, "up_down_counter", "By", "Filesystem space, by state."),
    _Spec(semconv.SYSTEM_FILESYSTEM_UTILIZATION, "gauge", "1", "Fraction of filesystem space, by state."),
    _Spec(semconv.SYSTEM_NETWORK_IO, "counter", "By", "Bytes sent and received, by non-loopback interface."),
    _Spec(
        semconv.PROCESS_CPU_UTILIZATION,
        "gauge",
        "1",
        "CPU time of this process in each mode since the last measurement, divided by elapsed time and available CPUs.",
    ),
    _Spec(semconv.PROCESS_CPU_TIME, "counter", "s", "CPU seconds of this process, by mode."),
    _Spec(semconv.PROCESS_MEMORY_USAGE, "up_down_counter", "By", "Resident set size of this process."),
    _Spec(
        semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        "up_down_counter",
        "{file_descriptor}",
        "File descriptors open in this process.",
    ),
    _Spec(semconv.PROCESS_THREAD_COUNT, "up_down_counter", "{thread}", "Threads of this process."),
    _Spec(
        semconv.OMIE_CLIENT_POOL_CONNECTIONS,
        "up_down_counter",
        "{connection}",
        "Connections in a registered httpx client's pool, by state.",
    ),
    _Spec(
        semconv.OMIE_CLIENT_POOL_LIMIT, "up_down_counter", "{connection}", "max_connections of a registered pool."
    ),
    _Spec(semconv.OMIE_CLIENT_POOL_UTILIZATION, "gauge", "1", "Active connections / max_connections of a pool."),
)

_POOLS: dict[str, weakref.ref[httpx.Client | httpx.AsyncClient]] = {}
_POOLS_LOCK = threading.Lock()


def register_pool(name: str, client: httpx.AsyncClient | httpx.Client) -> None:
    """Report the connection pool of ``client`` as ``omie.client.pool.connections``.

    The client is held by a weak reference: once it is garbage collected its series disappear. Registering another
    client under the same name replaces the first.

    Args:
        name: The value of ``omie.client.pool.name``, e.g. ``"omie"``. Keep it low-cardinality.
        client: An ``httpx.Client`` or ``httpx.AsyncClient`` using its default transport.

    Example:
        >>> import httpx
        >>> client = httpx.Client(base_url="https://app.omie.com.br/api/v1/")
        >>> register_pool("omie", client)
    """
    if not name:
        raise ValueError("register_pool() needs a non-empty pool name")
    with _POOLS_LOCK:
        _POOLS[name] = weakref.ref(client)


def _registered_pools() -> list[tuple[str, Any]]:
    """The live registered clients, forgetting the collected ones."""
    live: list[tuple[str, Any]] = []
    with _POOLS_LOCK:
        for name, ref in list(_POOLS.items()):
            client = ref()
            if client is None:
                del _POOLS[name]
            else:
                live.append((name, client))
    return live


def _pool_counts(client: Any) -> dict[str, int]:
    """Active and idle connections of an httpx client's httpcore pool; AttributeError if it has none."""
    connections = client._transport._pool.connections
    idle = sum(1 for connection in connections if connection.is_idle())
    return {"active": len(connections) - idle, "idle": idle}


def _pool_limit(client: Any) -> int | None:
    """The httpcore pool's ``max_connections`` (``None``: unlimited); AttributeError if it has no pool."""
    limit = client._transport._pool._max_connections
    # httpcore stores "no limit" as sys.maxsize
    return int(limit) if isinstance(limit, int) and 0 < limit < sys.maxsize else None


def _cpu_busy_total(times: Any) -> tuple[float, float]:
    """Busy and total seconds of a ``psutil.cpu_times()`` tuple, the way ``psutil.cpu_percent`` counts them."""
    # Linux counts guest time inside user/nice too; leave it out of the total so it is not counted twice.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def _cpu_modes(times: Any) -> list[float]:
    """Seconds per ``cpu.mode`` (:data:`semconv.CPU_MODES_SYSTEM` order) of a ``psutil.cpu_times()`` tuple.

    Linux counts guest time inside user and nice, so ``guest`` is not a mode of its own; ``interrupt`` is
    irq + softirq. The modes sum to :func:`_cpu_busy_total`'s total.
    """
    get = lambda field: float(getattr(times, field, 0.0))  # noqa: E731 - platforms differ in fields
    return [
        get("user"),
        get("nice"),
        get("system"),
        get("idle"),
        get("iowait"),
        get("irq") + get("softirq") + get("interrupt") + get("dpc"),
        get("steal"),
    ]


def _mode_pairs(times: Any) -> list[tuple[float, float]]:
    """``(seconds in mode, total seconds)`` per ``cpu.mode``, what :class:`_DeltaSampler` turns into fractions."""
    total = _cpu_busy_total(times)[1]
    return [(seconds, total) for seconds in _cpu_modes(times)]


def _busy(fractions: Sequence[float | None]) -> float | None:
    """The busy fraction from one CPU's per-mode fractions: every mode but idle and iowait."""
    if not fractions or None in fractions:
        return None
    return _clamp(
        sum(v for mode, v in zip(semconv.CPU_MODES_SYSTEM, fractions, strict=True)
            if v is not None and mode not in semconv.CPU_MODES_IDLE)
    )


def _available_cpus() -> int:
    """CPUs this process may run on, as semconv's ``process.cpu.utilization`` divides by."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return psutil.cpu_count() or 1


class _DeltaSampler:
    """Ratios ``Δbusy / Δtotal`` between successive readings of cumulative ``(busy, total)`` pairs.

    The first reading is taken at construction, so the first :meth:`sample` covers the time since then. A pair whose
    total did not advance repeats its previous ratio (``None`` before there is one).
    """

    def __init__(self, read: Callable[[], list[tuple[float, float]]]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._previous = read()
        self._last: list[float | None] = [None] * len(self._previous)

    def sample(self) -> list[float | None]:
        with self._lock:
            current = self._read()
            previous, self._previous = self._previous, current
            if len(current) != len(previous):  # CPUs came or went: start over from this reading.
                self._last = [None] * len(current)
                return list(self._last)
            for index, ((busy, total), (busy_before, total_before)) in enumerate(zip(current, previous, strict=True)):
                if total > total_before:
                    self._last[index] = (busy - busy_before) / (total - total_before)
            return list(self._last)


def _cpu_mode_attributes(count: int, per_cpu: bool) -> list[dict[str, Any]]:
    """Attributes of the ``count`` flattened (CPU, mode) values of a CPU reading."""
    modes = semconv.CPU_MODES_SYSTEM
    return [
        {semconv.CPU_MODE: modes[i % len(modes)], **({semconv.CPU_LOGICAL_NUMBER: i // len(modes)} if per_cpu else {})}
        for i in range(count)
    ]


def _without_attributes(read: Callable[[], float]) -> Callable[[], _Points]:
    return lambda: [(read(), {})]


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class _Filesystem:
    device: str
    mountpoint: str
    fstype: str
    mode: str
    total: int
    used: int
    free: int

    @property
    def utilization(self) -> dict[str, float]:
        """Used and free as fractions of ``used + free``, as ``df`` shows them (root's reserved blocks left out)."""
        available = self.used + self.free
        return {"used": self.used / available, "free": self.free / available} if available else {}

    @property
    def attributes(self) -> dict[str, str]:
        return {
            semconv.SYSTEM_DEVICE: self.device,
            semconv.SYSTEM_FILESYSTEM_MOUNTPOINT: self.mountpoint,
            semconv.SYSTEM_FILESYSTEM_TYPE: self.fstype,
            semconv.SYSTEM_FILESYSTEM_MODE: self.mode,
        }


def _is_real_filesystem(partition: Any) -> bool:
    if not partition.fstype or "cdrom" in partition.opts or partition.device.startswith("/dev/loop"):
        return False
    if partition.mountpoint == "/" and partition.fstype in _CONTAINER_ROOT_FSTYPES:
        return True
    return partition.fstype not in _SKIPPED_FSTYPES


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
        names = [spec.name for spec in _SPECS]
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
        self._samplers: dict[str, _DeltaSampler] = {}
        self._snapshot_samplers: dict[str, _DeltaSampler] = {}
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
        for spec in _SPECS:
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
        except _PLATFORM_ERRORS as exc:
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

    def _sampler(self, samplers: dict[str, _DeltaSampler], name: str, *, per_cpu: bool) -> _DeltaSampler | None:
        """The sampler for ``name``; ``None`` when it has no baseline yet (then it takes one now) or that fails."""
        sampler = samplers.get(name)
        if sampler is None:
            if name == semconv.SYSTEM_CPU_UTILIZATION:
                read = self._read_cpu_times_per_cpu if per_cpu else self._read_cpu_times
            else:
                read = self._read_process_cpu_time
            baseline = self._guarded(name, lambda: _DeltaSampler(read))
            if baseline is not None:
                samplers[name] = baseline
        return sampler

    @staticmethod
    def _read_cpu_times() -> list[tuple[float, float]]:
        return _mode_pairs(psutil.cpu_times(percpu=False))

    @staticmethod
    def _read_cpu_times_per_cpu() -> list[tuple[float, float]]:
        return [pair for times in psutil.cpu_times(percpu=True) for pair in _mode_pairs(times)]

    def _read_process_cpu_time(self) -> list[tuple[float, float]]:
        times = self._proc().cpu_times()
        now = _monotonic()
        return [(times.user, now), (times.system, now)]

    def _system_cpu(self, samplers: dict[str, _DeltaSampler], *, per_cpu: bool) -> list[float | None]:
        """Fractions per ``cpu.mode`` (per CPU, then mode, with ``per_cpu``)."""
        sampler = self._sampler(samplers, semconv.SYSTEM_CPU_UTILIZATION, per_cpu=per_cpu)
        return [] if sampler is None else [None if v is None else _clamp(v) for v in sampler.sample()]

    def _process_cpu(self, samplers: dict[str, _DeltaSampler]) -> list[float | None]:
        """Fractions of the available CPUs spent in user and in system mode (:data:`semconv.CPU_MODES_PROCESS`)."""
        sampler = self._sampler(samplers, semconv.PROCESS_CPU_UTILIZATION, per_cpu=False)
        if sampler is None:
            return []
        cpus = _available_cpus()
        return [None if ratio is None else _clamp(ratio / cpus) for ratio in sampler.sample()]

    def _process_cpu_busy(self, samplers: dict[str, _DeltaSampler]) -> float | None:
        modes = self._process_cpu(samplers)
        return None if not modes or None in modes else _clamp(sum(m for m in modes if m is not None))

    @staticmethod
    def _memory() -> tuple[int, dict[str, int]]:
        memory = psutil.virtual_memory()
        states = {state: getattr(memory, state) for state in _MEMORY_STATES if hasattr(memory, state)}
        return memory.total, states

    def _filesystems(self) -> list[_Filesystem]:
        partitions = [p for p in psutil.disk_partitions(all=False) if _is_real_filesystem(p)]
        if not any(p.mountpoint == "/" for p in partitions):
            # psutil leaves out "nodev" filesystems such as overlay, which is what a container's root usually is.
            partitions += [
                p
                for p in psutil.disk_partitions(all=True)
                if p.mountpoint == "/" and p.fstype in _CONTAINER_ROOT_FSTYPES
            ]
        by_device: dict[str, Any] = {}
        for partition in sorted(partitions, key=lambda p: (len(p.mountpoint), p.mountpoint)):
            by_device.setdefault(partition.device, partition)
        filesystems = []
        for partition in sorted(by_device.values(), key=lambda p: p.mountpoint):
            key = f"filesystem {partition.mountpoint}"
            if key in self._dropped:
                continue
            try:
                usage = psutil.disk_usage(partition.mountpoint)
            except _PLATFORM_ERRORS as exc:
                self._drop(key, exc)
                continue
            filesystems.append(
                _Filesystem(
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

    @staticmethod
    def _network_io_per_interface() -> dict[str, dict[str, int]]:
        counters = psutil.net_io_counters(pernic=True)
        return {
            nic: {"transmit": c.bytes_sent, "receive": c.bytes_recv}
            for nic, c in sorted(counters.items())
            if not _LOOPBACK_INTERFACE.fullmatch(nic)
        }

    def _network_io(self) -> dict[str, int]:
        nics = self._network_io_per_interface().values()
        return {"transmit": sum(c["transmit"] for c in nics), "receive": sum(c["receive"] for c in nics)}

    def _pools(self) -> dict[str, dict[str, int]]:
        pools = {}
        for name, client in _registered_pools():
            key = f"{semconv.OMIE_CLIENT_POOL_CONNECTIONS} {name}"
            if key in self._dropped:
                continue
            try:
                pools[name] = _pool_counts(client)
            except AttributeError as exc:  # not httpx's default transport, or httpx changed its internals
                self._drop(key, exc)
        return pools

    # --- observers: one per metric, each returning (value, attributes) pairs ------------------------------------------

    def _observe_system_cpu(self) -> _Points:
        values = self._system_cpu(self._samplers, per_cpu=self._per_cpu)
        return [(v, attrs) for v, attrs in zip(values, _cpu_mode_attributes(len(values), self._per_cpu)) if v is not None]

    def _observe_system_cpu_time(self) -> _Points:
        per_cpu = psutil.cpu_times(percpu=True) if self._per_cpu else [psutil.cpu_times(percpu=False)]
        values = [seconds for times in per_cpu for seconds in _cpu_modes(times)]
        return list(zip(values, _cpu_mode_attributes(len(values), self._per_cpu), strict=True))

    def _observe_process_cpu(self) -> _Points:
        values = self._process_cpu(self._samplers)
        return [
            (v, {semconv.CPU_MODE: mode}) for mode, v in zip(semconv.CPU_MODES_PROCESS, values) if v is not None
        ]

    def _observe_process_cpu_time(self) -> _Points:
        times = self._proc().cpu_times()
        return [(float(times.user), {semconv.CPU_MODE: "user"}), (float(times.system), {semconv.CPU_MODE: "system"})]

    def _observe_memory_usage(self) -> _Points:
        _, states = self._memory()
        return [(value, {semconv.SYSTEM_MEMORY_STATE: state}) for state, value in states.items()]

    def _observe_memory_utilization(self) -> _Points:
        total, states = self._memory()
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
            for nic, counts in self._network_io_per_interface().items()
            for direction, value in counts.items()
        ]

    def _pool_limits(self) -> dict[str, tuple[int, int]]:
        """``{pool name: (active connections, max_connections)}`` of the limited pools."""
        limits = {}
        for name, client in _registered_pools():
            key = f"{semconv.OMIE_CLIENT_POOL_CONNECTIONS} {name}"  # one key per pool: one warning however it fails
            if key in self._dropped:
                continue
            try:
                limit = _pool_limit(client)
                active = _pool_counts(client)["active"]
            except AttributeError as exc:
                self._drop(key, exc)
                continue
            if limit is not None:
                limits[name] = (active, limit)
        return limits

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
        result: dict[str, Any] = {}
        if semconv.SYSTEM_CPU_UTILIZATION in self._enabled:
            cpu = self._snapshot_read(
                (semconv.SYSTEM_CPU_UTILIZATION,), lambda: self._system_cpu(self._snapshot_samplers, per_cpu=False)
            )
            result["cpu"] = {
                "utilization": _busy(cpu) if cpu else None,
                "logical_count": psutil.cpu_count(),
                "available": _available_cpus(),
            }
        memory_metrics = (semconv.SYSTEM_MEMORY_USAGE, semconv.SYSTEM_MEMORY_UTILIZATION)
        if self._enabled.intersection(memory_metrics):
            memory = self._snapshot_read(memory_metrics, self._memory)
            result["memory"] = memory and {
                "total": memory[0],
                **memory[1],
                "utilization": memory[1]["used"] / memory[0] if "used" in memory[1] and memory[0] else None,
            }
            container = None if memory is None else self._container_memory(memory[0])
            if container is not None:
                result["container_memory"] = {
                    "cgroup": container.cgroup,
                    "limit": container.limit,
                    "used": container.used,
                    "utilization": container.used / container.limit,
                }
        filesystem_metrics = (semconv.SYSTEM_FILESYSTEM_USAGE, semconv.SYSTEM_FILESYSTEM_UTILIZATION)
        if self._enabled.intersection(filesystem_metrics):
            filesystems = self._snapshot_read(filesystem_metrics, self._filesystems)
            result["filesystems"] = (
                None
                if filesystems is None
                else [
                    {
                        "mountpoint": fs.mountpoint,
                        "device": fs.device,
                        "type": fs.fstype,
                        "total": fs.total,
                        "used": fs.used,
                        "free": fs.free,
                        "utilization": fs.utilization.get("used"),
                    }
                    for fs in filesystems
                ]
            )
        if semconv.SYSTEM_NETWORK_IO in self._enabled:
            network = self._snapshot_read((semconv.SYSTEM_NETWORK_IO,), self._network_io)
            result["network"] = network and {
                "transmit_bytes": network["transmit"],
                "receive_bytes": network["receive"],
            }
        readers: dict[str, Callable[[], Any]] = {
            **self._process_readers,
            semconv.PROCESS_CPU_UTILIZATION: lambda: self._process_cpu_busy(self._snapshot_samplers),
        }
        process = {
            field: self._snapshot_read((metric,), readers[metric])
            for field, metric in (
                ("cpu_utilization", semconv.PROCESS_CPU_UTILIZATION),
                ("memory_rss", semconv.PROCESS_MEMORY_USAGE),
                ("open_file_descriptors", semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT),
                ("threads", semconv.PROCESS_THREAD_COUNT),
            )
            if metric in self._enabled
        }
        if process:
            result["process"] = {"pid": os.getpid(), **process}
        if semconv.OMIE_CLIENT_POOL_CONNECTIONS in self._enabled:
            result["pools"] = self._snapshot_read((semconv.OMIE_CLIENT_POOL_CONNECTIONS,), self._pools)
        return result

    def _container_memory(self, host_total: int) -> ContainerMemory | None:
        """The cgroup's figure, or ``None`` (no limit; unreadable files already warned about, once)."""
        try:
            return container_memory(self._cgroup_root, host_total=host_total)
        except Exception as exc:  # noqa: BLE001 - a bug here must not cost the snapshot
            internal_error("host metrics container memory", exc)
            return None

    def _snapshot_read(self, metrics: Sequence[str], read: Callable[[], _T]) -> _T | None:
        """``read()`` guarded under the first of ``metrics`` still reported; ``None`` if none is."""
        for metric in metrics:
            if metric in self._enabled and metric not in self._dropped:
                return self._guarded(metric, read)
        return None
