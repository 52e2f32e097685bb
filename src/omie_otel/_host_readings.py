"""psutil readings turned into what the host metrics report: CPU modes and busy fractions between two readings,
the CPUs available to this process, real filesystems, non-loopback interfaces, memory states.

Pure functions and one small sampler; no OpenTelemetry here (that is :mod:`omie_otel.host_metrics`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import psutil

from omie_otel import semconv

__all__ = [
    "MEMORY_STATES",
    "PLATFORM_ERRORS",
    "DeltaSampler",
    "Filesystem",
    "available_cpus",
    "busy",
    "clamp",
    "cpu_mode_attributes",
    "cpu_modes",
    "cpu_time_pairs",
    "memory",
    "network_io_per_interface",
    "partitions",
]

#: Errors that mean "this platform or this process cannot give that value": logged without a traceback.
PLATFORM_ERRORS: Final = (psutil.Error, NotImplementedError, AttributeError, OSError)
#: Filesystem types that are not real storage even when psutil lists them.
_SKIPPED_FSTYPES: Final = frozenset({"tmpfs", "devtmpfs", "ramfs", "squashfs", "overlay", "iso9660", "udf"})
#: Filesystem types that are kept when mounted on ``/``: a container's root.
_CONTAINER_ROOT_FSTYPES: Final = frozenset({"overlay", "aufs", "fuse.fuse-overlayfs"})
_LOOPBACK_INTERFACE: Final = re.compile(r"lo\d*|loopback.*", re.IGNORECASE)
MEMORY_STATES: Final = ("used", "free", "cached", "buffers")


def _cpu_busy_total(times: Any) -> tuple[float, float]:
    """Busy and total seconds of a ``psutil.cpu_times()`` tuple, the way ``psutil.cpu_percent`` counts them."""
    # Linux counts guest time inside user/nice too; leave it out of the total so it is not counted twice.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def cpu_modes(times: Any) -> list[float]:
    """Seconds per ``cpu.mode`` (:data:`semconv.CPU_MODES_SYSTEM` order) of a ``psutil.cpu_times()`` tuple.

    Linux counts guest time inside user and nice, so ``guest`` is not a mode of its own; ``interrupt`` is
    irq + softirq. The modes sum to :func:`_cpu_busy_total`'s total.
    """

    def get(field: str) -> float:  # platforms differ in fields
        return float(getattr(times, field, 0.0))

    return [
        get("user"),
        get("nice"),
        get("system"),
        get("idle"),
        get("iowait"),
        get("irq") + get("softirq") + get("interrupt") + get("dpc"),
        get("steal"),
    ]


def mode_pairs(times: Any) -> list[tuple[float, float]]:
    """``(seconds in mode, total seconds)`` per ``cpu.mode``, what :class:`DeltaSampler` turns into fractions."""
    total = _cpu_busy_total(times)[1]
    return [(seconds, total) for seconds in cpu_modes(times)]


def busy(fractions: Sequence[float | None]) -> float | None:
    """The busy fraction from one CPU's per-mode fractions: every mode but idle and iowait."""
    if not fractions or None in fractions:
        return None
    return clamp(
        sum(v for mode, v in zip(semconv.CPU_MODES_SYSTEM, fractions, strict=True)
            if v is not None and mode not in semconv.CPU_MODES_IDLE)
    )


def available_cpus() -> int:
    """CPUs this process may run on, as semconv's ``process.cpu.utilization`` divides by."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return psutil.cpu_count() or 1


class DeltaSampler:
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


def cpu_mode_attributes(count: int, per_cpu: bool) -> list[dict[str, Any]]:
    """Attributes of the ``count`` flattened (CPU, mode) values of a CPU reading."""
    modes = semconv.CPU_MODES_SYSTEM
    return [
        {semconv.CPU_MODE: modes[i % len(modes)], **({semconv.CPU_LOGICAL_NUMBER: i // len(modes)} if per_cpu else {})}
        for i in range(count)
    ]


def clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class Filesystem:
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




def cpu_time_pairs(per_cpu: bool) -> list[tuple[float, float]]:
    """``(seconds in mode, total seconds)`` per ``cpu.mode`` of the whole host, or per CPU then mode."""
    if per_cpu:
        return [pair for times in psutil.cpu_times(percpu=True) for pair in mode_pairs(times)]
    return mode_pairs(psutil.cpu_times(percpu=False))


def memory() -> tuple[int, dict[str, int]]:
    """Total memory and the bytes in each of :data:`MEMORY_STATES` this platform has."""
    reading = psutil.virtual_memory()
    return reading.total, {state: getattr(reading, state) for state in MEMORY_STATES if hasattr(reading, state)}


def partitions() -> list[Any]:
    """The real filesystems, one mount per device (the shortest mount point), sorted by mount point."""
    found = [p for p in psutil.disk_partitions(all=False) if _is_real_filesystem(p)]
    if not any(p.mountpoint == "/" for p in found):
        # psutil leaves out "nodev" filesystems such as overlay, which is what a container's root usually is.
        found += [
            p for p in psutil.disk_partitions(all=True) if p.mountpoint == "/" and p.fstype in _CONTAINER_ROOT_FSTYPES
        ]
    by_device: dict[str, Any] = {}
    for partition in sorted(found, key=lambda p: (len(p.mountpoint), p.mountpoint)):
        by_device.setdefault(partition.device, partition)
    return sorted(by_device.values(), key=lambda p: p.mountpoint)


def network_io_per_interface() -> dict[str, dict[str, int]]:
    """Bytes transmitted and received since boot, per non-loopback interface."""
    counters = psutil.net_io_counters(pernic=True)
    return {
        nic: {"transmit": c.bytes_sent, "receive": c.bytes_recv}
        for nic, c in sorted(counters.items())
        if not _LOOPBACK_INTERFACE.fullmatch(nic)
    }
