"""The host metrics omie-otel reports: name (from :mod:`omie_otel.semconv`), instrument type, unit, description.

Instrument types follow the semantic conventions, so the series match the collector's ``hostmetrics`` receiver.
:class:`omie_otel.host_metrics.HostMetrics` creates one asynchronous instrument per spec that is not excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from omie_otel import semconv

__all__ = ["METER_NAME", "SPECS", "Spec"]

METER_NAME: Final = "omie_otel.host_metrics"


@dataclass(frozen=True)
class Spec:
    """One metric: what the SDK instrument is created with."""

    name: str
    instrument: Literal["gauge", "up_down_counter", "counter"]
    unit: str
    description: str


SPECS: Final = (
    Spec(semconv.SYSTEM_CPU_UTILIZATION, "gauge", "1", "Fraction of CPU time in each mode since the last measurement."),
    Spec(semconv.SYSTEM_CPU_TIME, "counter", "s", "Seconds each logical CPU spent in each mode, since boot."),
    Spec(semconv.SYSTEM_MEMORY_USAGE, "up_down_counter", "By", "Memory in use, by state."),
    Spec(semconv.SYSTEM_MEMORY_UTILIZATION, "gauge", "1", "Fraction of total memory, by state."),
    Spec(semconv.SYSTEM_FILESYSTEM_USAGE, "up_down_counter", "By", "Filesystem space, by state."),
    Spec(semconv.SYSTEM_FILESYSTEM_UTILIZATION, "gauge", "1", "Fraction of filesystem space, by state."),
    Spec(semconv.SYSTEM_NETWORK_IO, "counter", "By", "Bytes sent and received, by non-loopback interface."),
    Spec(
        semconv.PROCESS_CPU_UTILIZATION,
        "gauge",
        "1",
        "CPU time of this process in each mode since the last measurement, divided by elapsed time and available CPUs.",
    ),
    Spec(semconv.PROCESS_CPU_TIME, "counter", "s", "CPU seconds of this process, by mode."),
    Spec(semconv.PROCESS_MEMORY_USAGE, "up_down_counter", "By", "Resident set size of this process."),
    Spec(
        semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        "up_down_counter",
        "{file_descriptor}",
        "File descriptors open in this process.",
    ),
    Spec(semconv.PROCESS_THREAD_COUNT, "up_down_counter", "{thread}", "Threads of this process."),
    Spec(
        semconv.OMIE_CLIENT_POOL_CONNECTIONS,
        "up_down_counter",
        "{connection}",
        "Connections in a registered httpx client's pool, by state.",
    ),
    Spec(
        semconv.OMIE_CLIENT_POOL_LIMIT, "up_down_counter", "{connection}", "max_connections of a registered pool."
    ),
    Spec(semconv.OMIE_CLIENT_POOL_UTILIZATION, "gauge", "1", "Active connections / max_connections of a pool."),
)

