"""The JSON snapshot of the host metrics that the ``get_system_metrics`` ops tool returns
(:meth:`omie_otel.host_metrics.HostMetrics.snapshot` documents its shape).

It reads through the same :class:`~omie_otel.host_metrics.HostMetrics` as the instruments (same exclusions, same
dropped metrics, same one-warning failure handling) but with CPU samplers of its own, so a snapshot never shortens
the interval the next collection measures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from omie_otel import semconv
from omie_otel._cgroup import ContainerMemory, container_memory
from omie_otel._guard import internal_error
from omie_otel._host_readings import available_cpus, busy
from omie_otel._host_readings import memory as read_memory

if TYPE_CHECKING:
    from omie_otel.host_metrics import HostMetrics

__all__ = ["snapshot"]

_T = TypeVar("_T")


def snapshot(host: HostMetrics) -> dict[str, Any]:
    """What :meth:`HostMetrics.snapshot` returns."""
    result: dict[str, Any] = {}
    if semconv.SYSTEM_CPU_UTILIZATION in host._enabled:
        cpu = _read(
            host, (semconv.SYSTEM_CPU_UTILIZATION,), lambda: host._system_cpu(host._snapshot_samplers, per_cpu=False)
        )
        result["cpu"] = {
            "utilization": busy(cpu) if cpu else None,
            "logical_count": psutil.cpu_count(),
            "available": available_cpus(),
        }
    memory_metrics = (semconv.SYSTEM_MEMORY_USAGE, semconv.SYSTEM_MEMORY_UTILIZATION)
    if host._enabled.intersection(memory_metrics):
        memory = _read(host, memory_metrics, read_memory)
        result["memory"] = memory and {
            "total": memory[0],
            **memory[1],
            "utilization": memory[1]["used"] / memory[0] if "used" in memory[1] and memory[0] else None,
        }
        container = None if memory is None else _container_memory(host, memory[0])
        if container is not None:
            result["container_memory"] = {
                "cgroup": container.cgroup,
                "limit": container.limit,
                "used": container.used,
                "utilization": container.used / container.limit,
            }
    filesystem_metrics = (semconv.SYSTEM_FILESYSTEM_USAGE, semconv.SYSTEM_FILESYSTEM_UTILIZATION)
    if host._enabled.intersection(filesystem_metrics):
        filesystems = _read(host, filesystem_metrics, host._filesystems)
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
    if semconv.SYSTEM_NETWORK_IO in host._enabled:
        network = _read(host, (semconv.SYSTEM_NETWORK_IO,), host._network_io)
        result["network"] = network and {
            "transmit_bytes": network["transmit"],
            "receive_bytes": network["receive"],
        }
    readers: dict[str, Callable[[], Any]] = {
        **host._process_readers,
        semconv.PROCESS_CPU_UTILIZATION: lambda: host._process_cpu_busy(host._snapshot_samplers),
    }
    process = {
        field: _read(host, (metric,), readers[metric])
        for field, metric in (
            ("cpu_utilization", semconv.PROCESS_CPU_UTILIZATION),
            ("memory_rss", semconv.PROCESS_MEMORY_USAGE),
            ("open_file_descriptors", semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT),
            ("threads", semconv.PROCESS_THREAD_COUNT),
        )
        if metric in host._enabled
    }
    if process:
        result["process"] = {"pid": os.getpid(), **process}
    if semconv.OMIE_CLIENT_POOL_CONNECTIONS in host._enabled:
        result["pools"] = _read(host, (semconv.OMIE_CLIENT_POOL_CONNECTIONS,), host._pools)
    return result


def _container_memory(host: HostMetrics, host_total: int) -> ContainerMemory | None:
    """The cgroup's figure, or ``None`` (no limit; unreadable files already warned about, once)."""
    try:
        return container_memory(host._cgroup_root, host_total=host_total)
    except Exception as exc:  # noqa: BLE001 - a bug here must not cost the snapshot
        internal_error("host metrics container memory", exc)
        return None


def _read(host: HostMetrics, metrics: Sequence[str], read: Callable[[], _T]) -> _T | None:
    """``read()`` guarded under the first of ``metrics`` still reported; ``None`` if none is."""
    for metric in metrics:
        if metric in host._enabled and metric not in host._dropped:
            return host._guarded(metric, read)
    return None
