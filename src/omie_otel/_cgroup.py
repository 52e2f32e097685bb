"""Container memory: the cgroup (v2, else v1) working set and limit of this process, when it has a limit.

The readiness check (:mod:`omie_otel.health`) and the host metrics (:mod:`omie_otel.host_metrics`) both read it;
it lives here so that neither imports the other.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = ["CGROUP_ROOT", "ContainerMemory", "container_memory"]

_logger = logging.getLogger("omie_otel")

#: Where the cgroup filesystem is mounted; inside a container it shows the container's own cgroup.
CGROUP_ROOT: Final = "/sys/fs/cgroup"

# (version, limit file, usage file, stat file, the stat key of the inactive page cache), in the order tried.
_CGROUP_LAYOUTS: Final[tuple[tuple[Literal["v1", "v2"], str, str, str, str], ...]] = (
    ("v2", "memory.max", "memory.current", "memory.stat", "inactive_file"),
    ("v1", "memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat", "total_inactive_file"),
)
_cgroup_warned: set[str] = set()
_cgroup_warned_lock = threading.Lock()


@dataclass(frozen=True)
class ContainerMemory:
    """Memory of the cgroup this process runs in, when that cgroup has a memory limit.

    Attributes:
        cgroup: ``v2`` or ``v1``.
        used: The working set in bytes: usage minus the inactive page cache the kernel can drop before it OOM-kills
            (what the kubelet and ``docker stats`` count).
        limit: The memory limit in bytes.
    """

    cgroup: Literal["v1", "v2"]
    used: int
    limit: int

    @property
    def percent(self) -> float:
        """``used`` as a percentage of ``limit``."""
        return 100.0 * self.used / self.limit


def container_memory(
    cgroup_root: str | os.PathLike[str] = CGROUP_ROOT, *, host_total: int | None = None
) -> ContainerMemory | None:
    """The cgroup's memory use and limit, or ``None`` when this process has no memory limit of its own.

    Reads cgroup v2 (``memory.max``, ``memory.current``, ``memory.stat``) under ``cgroup_root``, else cgroup v1
    (``memory/memory.limit_in_bytes``, ``memory/memory.usage_in_bytes``, ``memory/memory.stat``). No limit is
    ``None``: no such files, ``max``, or a limit at or above the host's memory (v1 writes a huge number for "no
    limit", and a limit the host cannot reach never binds first). Files that cannot be read or hold something else
    than the kernel writes are ``None`` too, with one warning per ``cgroup_root`` on the ``omie_otel`` logger.

    Args:
        cgroup_root: Where the cgroup filesystem is mounted (a test passes a fake tree).
        host_total: The host's memory in bytes (default: ``psutil.virtual_memory().total``, read only when needed).

    Example:
        >>> reading = container_memory()
        >>> reading is None or 0 < reading.limit
        True
    """
    root = Path(cgroup_root)
    try:
        return _read_container_memory(root, host_total)
    except (OSError, ValueError) as exc:
        with _cgroup_warned_lock:
            first = str(root) not in _cgroup_warned
            _cgroup_warned.add(str(root))
        if first:
            _logger.warning(
                "omie-otel: cannot read the cgroup memory limit under %s (%s: %s); memory figures are the host's",
                root, type(exc).__qualname__, exc,
            )
        return None


def _read_container_memory(root: Path, host_total: int | None) -> ContainerMemory | None:
    for version, limit_file, usage_file, stat_file, inactive_key in _CGROUP_LAYOUTS:
        try:
            limit_text = (root / limit_file).read_text().strip()
        except FileNotFoundError:
            continue  # not this layout; once none matches, there is no cgroup memory controller to read
        if limit_text == "max":
            return None
        limit = _cgroup_bytes(limit_file, limit_text)
        if host_total is None:
            import psutil

            host_total = int(psutil.virtual_memory().total)
        if limit == 0 or limit >= host_total:
            return None
        usage = _cgroup_bytes(usage_file, (root / usage_file).read_text().strip())
        inactive = 0
        for line in (root / stat_file).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == inactive_key:
                inactive = _cgroup_bytes(f"{stat_file} {key}", value.strip())
        return ContainerMemory(version, max(usage - inactive, 0), limit)
    return None


def _cgroup_bytes(where: str, text: str) -> int:
    if not text.isdigit():  # digits only: no sign, no blank, no "max" where a number belongs
        raise ValueError(f"{where} holds {text[:40]!r}, not a byte count")
    return int(text)
