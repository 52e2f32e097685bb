"""The readiness checks on the process itself: ``telemetry_export``, ``memory`` and ``disk``.

Each check is a function returning ``(status, detail)``; :class:`omie_otel.health.HealthChecker` times them, scrubs
the detail and combines them into the report. What each check means is in :mod:`omie_otel.health`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from omie_otel._cgroup import container_memory

if TYPE_CHECKING:
    from omie_otel.health import CheckStatus

__all__ = ["ago", "binary_size", "check_disk", "check_memory", "check_telemetry_export"]

#: A batch processor's queue at or above this share of its capacity makes ``telemetry_export`` degraded.
_QUEUE_FULL_SHARE = 0.9


def ago(seconds: float) -> str:
    return f"{seconds:.0f} s ago"


def binary_size(size: float) -> str:
    """``536870912`` -> ``512 MiB``, ``1610612736`` -> ``1.5 GiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{f'{size:.1f}'.rstrip('0').rstrip('.')} {units[index]}"


def check_telemetry_export(
    window: float, queues: Callable[[], Mapping[str, tuple[int, int]]] | None
) -> tuple[CheckStatus, str]:
    """``degraded`` when an export failed or items were dropped in the last ``window`` seconds, or a queue is 90 %
    full; never ``fail``."""
    from omie_otel._export_counting import export_stats
    from omie_otel._selftelemetry import drops

    window_ns = int(window * 1e9)
    now_ns = time.time_ns()
    problems = []
    for signal, at in sorted(dict(export_stats.last_failure_ns).items()):
        if now_ns - at <= window_ns:
            problems.append(
                f"{signal} export failed {ago((now_ns - at) / 1e9)} "
                f"({export_stats.failed.get(signal, 0)} items failed since start)"
            )
    dropped = drops.by_signal()
    for signal, at in sorted(dict(drops.last_drop_ns).items()):
        if now_ns - at <= window_ns:
            problems.append(f"{signal} items dropped {ago((now_ns - at) / 1e9)} ({dropped.get(signal, 0)} since start)")
    for signal, (size, capacity) in sorted((queues() if queues else {}).items()):
        if capacity and size >= _QUEUE_FULL_SHARE * capacity:
            problems.append(f"{signal} queue {size}/{capacity} full")
    if problems:
        return "degraded", "; ".join(problems)
    return "ok", f"no export failure or drop in the last {window:.0f} s"


def check_memory(cgroup_root: str | os.PathLike[str], threshold: float) -> tuple[CheckStatus, str]:
    """The container's memory (cgroup working set over its limit) when there is a limit, else the host's."""
    import psutil

    host = psutil.virtual_memory()
    container = container_memory(cgroup_root, host_total=host.total)
    if container is not None:
        where, used, total, percent = "container", container.used, container.limit, container.percent
    else:  # psutil's percent counts what is not available, so the bytes shown do too
        where, used, total, percent = "host", host.total - host.available, host.total, float(host.percent)
    status, judged = _threshold(percent, threshold)
    return status, f"{where}: {binary_size(used)} of {binary_size(total)} in use ({percent:.1f} %), {judged}"


def check_disk(threshold: float) -> tuple[CheckStatus, str]:
    """The root filesystem's use."""
    import psutil

    root = os.path.abspath(os.sep)
    used = float(psutil.disk_usage(root).percent)
    status, judged = _threshold(used, threshold)
    return status, f"disk {root} {used:.1f} % used, {judged}"


def _threshold(used: float, threshold: float) -> tuple[CheckStatus, str]:
    status: CheckStatus = "fail" if used >= threshold else "ok"
    relation = "at or above" if status == "fail" else "below"
    return status, f"{relation} the {threshold:g} % threshold"
