"""Tests for omie_otel.host_metrics: every metric against psutil mocked with exact values, once against the real host,
failures, configuration, the httpx pool gauge against a real local server, stop() and snapshot()."""

from __future__ import annotations

import gc
import http.server
import json
import logging
import os
import sys
import threading
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from unittest import mock

import httpx
import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Sum

from omie_otel import _guard, host_metrics, semconv
from omie_otel.host_metrics import HostMetrics, register_pool

scputimes = namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest guest_nice")
svmem = namedtuple("svmem", "total available percent used free active inactive buffers cached shared slab")
svmem_windows = namedtuple("svmem_windows", "total available percent used free")
sdiskpart = namedtuple("sdiskpart", "device mountpoint fstype opts")
sdiskusage = namedtuple("sdiskusage", "total used free percent")
snetio = namedtuple("snetio", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")
pcputimes = namedtuple("pcputimes", "user system children_user children_system")
pmem = namedtuple("pmem", "rss vms")

ALL_METRICS = {
    semconv.SYSTEM_CPU_UTILIZATION,
    semconv.SYSTEM_CPU_TIME,
    semconv.PROCESS_CPU_TIME,
    semconv.SYSTEM_MEMORY_USAGE,
    semconv.SYSTEM_MEMORY_UTILIZATION,
    semconv.SYSTEM_FILESYSTEM_USAGE,
    semconv.SYSTEM_FILESYSTEM_UTILIZATION,
    semconv.SYSTEM_NETWORK_IO,
    semconv.PROCESS_CPU_UTILIZATION,
    semconv.PROCESS_MEMORY_USAGE,
    semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    semconv.PROCESS_THREAD_COUNT,
    semconv.OMIE_CLIENT_POOL_CONNECTIONS,
    semconv.OMIE_CLIENT_POOL_LIMIT,
    semconv.OMIE_CLIENT_POOL_UTILIZATION,
}
POOL_METRICS = {
    semconv.OMIE_CLIENT_POOL_CONNECTIONS, semconv.OMIE_CLIENT_POOL_LIMIT, semconv.OMIE_CLIENT_POOL_UTILIZATION,
}
#: What a collection reports with no registered pool: the pool gauges have nothing to observe.
HOST_METRICS = ALL_METRICS - POOL_METRICS


def cpu(user: float = 0.0, system: float = 0.0, idle: float = 0.0, iowait: float = 0.0, guest: float = 0.0) -> Any:
    return scputimes(user, 0.0, system, idle, iowait, 0.0, 0.0, 0.0, guest, 0.0)


class FakeHost:
    """The values the patched psutil functions return; tests change them between collections."""

    def __init__(self) -> None:
        self.clock = 100.0
        self.cpu = cpu(user=10, system=5, idle=80, iowait=5, guest=2)  # total 100 s: guest is counted inside user
        self.per_cpu = [cpu(user=4, idle=6), cpu(user=1, idle=9)]
        self.memory = svmem(16000, 9000, 25.0, 4000, 8000, 0, 0, 1000, 3000, 0, 0)
        self.partitions = [sdiskpart("/dev/sda1", "/", "ext4", "rw")]
        self.partitions_all: list[Any] = []  # the extra ones psutil only lists with all=True
        self.usage = {"/": sdiskusage(1000, 600, 300, 66.7)}
        self.nics = {
            "lo": snetio(999, 999, 0, 0, 0, 0, 0, 0),
            "eth0": snetio(100, 200, 0, 0, 0, 0, 0, 0),
            "wlan0": snetio(10, 20, 0, 0, 0, 0, 0, 0),
        }
        self.process_cpu = pcputimes(1.0, 0.5, 0.0, 0.0)
        self.rss = 123456
        self.fds = 17
        self.threads = 5
        self.available = 4
        self.cpu_count = 8

    def advance(self) -> None:
        """Ten seconds pass, one of them busy on each CPU and in this process: CPU utilizations have a value."""
        self.clock += 10.0
        self.cpu = self.cpu._replace(user=self.cpu.user + 1, idle=self.cpu.idle + 9)
        self.per_cpu = [times._replace(user=times.user + 1, idle=times.idle + 9) for times in self.per_cpu]
        self.process_cpu = self.process_cpu._replace(user=self.process_cpu.user + 1)

    def cpu_times(self, percpu: bool = False) -> Any:
        return self.per_cpu if percpu else self.cpu

    def disk_partitions(self, all: bool = False) -> list[Any]:  # noqa: A002 - psutil's name
        return self.partitions + self.partitions_all if all else self.partitions

    def disk_usage(self, path: str) -> Any:
        return self.usage[path]

    def net_io_counters(self, pernic: bool = False) -> Any:
        assert pernic, "the module must read per interface to leave loopback out"
        return self.nics


@pytest.fixture
def fake() -> Iterator[FakeHost]:
    host = FakeHost()
    with ExitStack() as stack:
        for name in ("cpu_times", "disk_partitions", "disk_usage", "net_io_counters"):
            stack.enter_context(mock.patch(f"psutil.{name}", getattr(host, name)))
        stack.enter_context(mock.patch("psutil.virtual_memory", lambda: host.memory))
        stack.enter_context(mock.patch("psutil.cpu_count", lambda logical=True: host.cpu_count))
        stack.enter_context(mock.patch.object(psutil.Process, "cpu_times", lambda self: host.process_cpu))
        stack.enter_context(mock.patch.object(psutil.Process, "memory_info", lambda self: pmem(host.rss, 0)))
        stack.enter_context(mock.patch.object(psutil.Process, "num_fds", lambda self: host.fds))
        stack.enter_context(mock.patch.object(psutil.Process, "num_threads", lambda self: host.threads))
        stack.enter_context(
            mock.patch.object(os, "sched_getaffinity", lambda pid: set(range(host.available)), create=True)
        )
        stack.enter_context(mock.patch.object(host_metrics, "_monotonic", lambda: host.clock))
        yield host


@pytest.fixture(autouse=True)
def _isolation() -> Iterator[None]:
    """No registered pool and no host-metrics environment variable leaks between tests."""
    host_metrics._POOLS.clear()
    with mock.patch.dict(os.environ):
        os.environ.pop(host_metrics.OMIE_OTEL_HOST_METRICS_EXCLUDE, None)
        os.environ.pop(host_metrics.OMIE_OTEL_HOST_METRICS_PER_CPU, None)
        yield
    host_metrics._POOLS.clear()


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reader.provider = provider  # type: ignore[attr-defined]
    yield reader
    provider.shutdown()


def started(reader: InMemoryMetricReader, **kwargs: Any) -> HostMetrics:
    host = HostMetrics(reader.provider, **kwargs)  # type: ignore[attr-defined]
    host.start()
    return host


def collect(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """Metric name -> [(attributes, value)] of one collection; only metrics with data points."""
    data = reader.get_metrics_data()
    result: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            assert scope_metrics.scope.name == "omie_otel.host_metrics"
            for metric in scope_metrics.metrics:
                points = [(dict(point.attributes or {}), point.value) for point in metric.data.data_points]  # type: ignore[union-attr]
                if points:
                    result[metric.name] = points
    return result


def collect_later(fake: FakeHost, reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """A collection after time passed (with no time passing, CPU utilizations have nothing to report yet)."""
    fake.advance()
    return collect(reader)


def by(points: list[tuple[dict[str, Any], float]], *keys: str) -> dict[Any, float]:
    """{attribute value (or tuple of values): value}, asserting each point has exactly ``keys``."""
    result = {}
    for attributes, value in points:
        assert set(attributes) == set(keys), attributes
        values = tuple(attributes[key] for key in keys)
        result[values[0] if len(keys) == 1 else values] = value
    return result


def busy(points: list[tuple[dict[str, Any], float]], **attrs: Any) -> float:
    """Sum over the busy ``cpu.mode`` values (all but idle and iowait) of the points matching ``attrs``."""
    matching = [(a, v) for a, v in points if all(a.get(k) == val for k, val in attrs.items())]
    assert matching and all(semconv.CPU_MODE in a for a, _ in matching), points
    return sum(v for a, v in matching if a[semconv.CPU_MODE] not in semconv.CPU_MODES_IDLE)


def single(points: list[tuple[dict[str, Any], float]]) -> float:
    assert len(points) == 1 and points[0][0] == {}, points
    return points[0][1]


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "omie_otel.host_metrics" and r.levelno == logging.WARNING and text in r.getMessage()
    ]


# --- every metric, with exact mocked values ---------------------------------------------------------------------------


def test_system_cpu_utilization_is_the_fraction_per_cpu_mode_since_start(fake, reader):
    started(reader)  # baseline: busy 20 s of 100 s
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)  # busy 59-4 guest = 55... of 200 s
    points = collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]
    # Δtotal = 100 (guest not counted twice): user 30, system 10, idle 50, iowait 10; the modes sum to 1.
    assert by(points, semconv.CPU_MODE) == {
        "user": pytest.approx(0.3), "nice": 0.0, "system": pytest.approx(0.1), "idle": pytest.approx(0.5),
        "iowait": pytest.approx(0.1), "interrupt": 0.0, "steal": 0.0,
    }
    assert busy(points) == pytest.approx(0.4)  # counting guest twice would give 42/102


def test_system_cpu_utilization_per_cpu_has_logical_number(fake, reader):
    started(reader, per_cpu=True)
    fake.per_cpu = [cpu(user=9, idle=11), cpu(user=1, system=1, idle=18)]  # Δ: 5 of 10 busy, 1 of 10 busy
    points = collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]
    assert {a[semconv.CPU_LOGICAL_NUMBER] for a, _ in points} == {0, 1}
    assert busy(points, **{semconv.CPU_LOGICAL_NUMBER: 0}) == pytest.approx(0.5)
    assert busy(points, **{semconv.CPU_LOGICAL_NUMBER: 1}) == pytest.approx(0.1)


def test_cpu_time_counters_by_mode(fake, reader):
    started(reader)
    metrics = collect(reader)
    assert by(metrics[semconv.SYSTEM_CPU_TIME], semconv.CPU_MODE) == {
        "user": 10, "nice": 0, "system": 5, "idle": 80, "iowait": 5, "interrupt": 0, "steal": 0,
    }
    assert by(metrics[semconv.PROCESS_CPU_TIME], semconv.CPU_MODE) == {"user": 1.0, "system": 0.5}


def test_cpu_utilization_repeats_last_value_when_no_time_passed(fake, reader):
    started(reader)
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0
    first = collect(reader)
    second = collect(reader)  # nothing advanced: a 0/0 interval repeats the last reading rather than inventing a 0
    for name in (semconv.SYSTEM_CPU_UTILIZATION, semconv.PROCESS_CPU_UTILIZATION):
        assert by(second[name], semconv.CPU_MODE) == by(first[name], semconv.CPU_MODE)
        assert busy(second[name]) > 0


def test_memory_usage_and_utilization_by_state(fake, reader):
    started(reader)
    metrics = collect(reader)
    states = {"used": 4000, "free": 8000, "cached": 3000, "buffers": 1000}
    assert by(metrics[semconv.SYSTEM_MEMORY_USAGE], semconv.SYSTEM_MEMORY_STATE) == states
    assert by(metrics[semconv.SYSTEM_MEMORY_UTILIZATION], semconv.SYSTEM_MEMORY_STATE) == {
        "used": 0.25,
        "free": 0.5,
        "cached": 0.1875,
        "buffers": 0.0625,
    }


def test_memory_states_the_platform_lacks_are_left_out(fake, reader):
    fake.memory = svmem_windows(1000, 500, 50.0, 500, 500)  # Windows: no buffers, no cached
    started(reader)
    metrics = collect(reader)
    assert by(metrics[semconv.SYSTEM_MEMORY_USAGE], semconv.SYSTEM_MEMORY_STATE) == {"used": 500, "free": 500}
    assert by(metrics[semconv.SYSTEM_MEMORY_UTILIZATION], semconv.SYSTEM_MEMORY_STATE) == {"used": 0.5, "free": 0.5}


FS_KEYS = (
    semconv.SYSTEM_FILESYSTEM_MOUNTPOINT,
    semconv.SYSTEM_DEVICE,
    semconv.SYSTEM_FILESYSTEM_TYPE,
    semconv.SYSTEM_FILESYSTEM_STATE,
    semconv.SYSTEM_FILESYSTEM_MODE,
)


def test_filesystem_usage_and_utilization_real_filesystems_once_per_device(fake, reader):
    fake.partitions = [
        sdiskpart("/dev/sda1", "/", "ext4", "rw"),
        sdiskpart("/dev/sda1", "/var/lib/docker/bind", "ext4", "rw"),  # same device: reported once, as "/"
        sdiskpart("/dev/sdb1", "/data", "xfs", "rw"),
        sdiskpart("tmpfs", "/run", "tmpfs", "rw"),
        sdiskpart("/dev/loop0", "/snap/core/1", "squashfs", "ro"),
        sdiskpart("/dev/loop1", "/mnt/image", "ext4", "ro"),
        sdiskpart("overlay", "/var/lib/docker/overlay2/x/merged", "overlay", "rw"),
    ]
    fake.usage = {"/": sdiskusage(1000, 600, 300, 66.7), "/data": sdiskusage(4000, 1000, 3000, 25.0)}
    started(reader)
    metrics = collect(reader)
    assert by(metrics[semconv.SYSTEM_FILESYSTEM_USAGE], *FS_KEYS) == {
        ("/", "/dev/sda1", "ext4", "used", "rw"): 600,
        ("/", "/dev/sda1", "ext4", "free", "rw"): 300,
        ("/data", "/dev/sdb1", "xfs", "used", "rw"): 1000,
        ("/data", "/dev/sdb1", "xfs", "free", "rw"): 3000,
    }
    # used / (used + free), as df shows it: the 100 bytes reserved for root on "/" do not count.
    assert by(metrics[semconv.SYSTEM_FILESYSTEM_UTILIZATION], *FS_KEYS) == {
        ("/", "/dev/sda1", "ext4", "used", "rw"): pytest.approx(600 / 900),
        ("/", "/dev/sda1", "ext4", "free", "rw"): pytest.approx(300 / 900),
        ("/data", "/dev/sdb1", "xfs", "used", "rw"): 0.25,
        ("/data", "/dev/sdb1", "xfs", "free", "rw"): 0.75,
    }


def test_filesystem_overlay_container_root_is_kept(fake, reader):
    # psutil's all=False leaves out "nodev" filesystems such as overlay: a container then only shows its bind mounts.
    fake.partitions = [sdiskpart("/dev/vda", "/etc/hosts", "ext4", "rw")]
    fake.partitions_all = [sdiskpart("overlay", "/", "overlay", "rw"), sdiskpart("proc", "/proc", "proc", "rw")]
    fake.usage = {"/": sdiskusage(100, 40, 60, 40.0), "/etc/hosts": sdiskusage(900, 300, 600, 33.3)}
    started(reader)
    points = collect(reader)[semconv.SYSTEM_FILESYSTEM_USAGE]
    assert by(points, *FS_KEYS) == {
        ("/", "overlay", "overlay", "used", "rw"): 40,
        ("/", "overlay", "overlay", "free", "rw"): 60,
        ("/etc/hosts", "/dev/vda", "ext4", "used", "rw"): 300,
        ("/etc/hosts", "/dev/vda", "ext4", "free", "rw"): 600,
    }


def test_network_io_is_a_counter_per_non_loopback_interface(fake, reader):
    started(reader)
    metrics = collect(reader)
    assert by(metrics[semconv.SYSTEM_NETWORK_IO], semconv.NETWORK_INTERFACE_NAME, semconv.NETWORK_IO_DIRECTION) == {
        ("eth0", "transmit"): 100, ("eth0", "receive"): 200, ("wlan0", "transmit"): 10, ("wlan0", "receive"): 20,
    }


def test_read_only_filesystem_has_mode_ro(fake, reader):
    fake.partitions = [sdiskpart("/dev/sdc1", "/", "ext4", "ro,relatime")]
    started(reader)
    (attributes, _), *_ = collect(reader)[semconv.SYSTEM_FILESYSTEM_USAGE]
    assert attributes[semconv.SYSTEM_FILESYSTEM_MODE] == "ro"


def test_process_cpu_utilization_is_divided_by_available_cpus(fake, reader):
    started(reader)  # baseline: 1.5 s of CPU at t=100
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0  # 7 s of CPU in 10 s on 4 available CPUs
    points = collect(reader)[semconv.PROCESS_CPU_UTILIZATION]
    assert by(points, semconv.CPU_MODE) == {"user": pytest.approx(5 / 10 / 4), "system": pytest.approx(2 / 10 / 4)}


def test_process_cpu_utilization_falls_back_to_cpu_count_without_affinity(fake, reader, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
    started(reader)
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0
    assert busy(collect(reader)[semconv.PROCESS_CPU_UTILIZATION]) == pytest.approx(7 / 10 / 8)


def test_first_reading_covers_cpu_used_since_start_not_zero(fake, reader):
    host = HostMetrics(reader.provider)
    fake.process_cpu, fake.cpu = pcputimes(100.0, 0, 0, 0), cpu(user=500, idle=500)  # before start: not counted
    host.start()
    fake.clock += 2.0
    fake.process_cpu = pcputimes(101.0, 0.0, 0, 0)  # 1 s of CPU in the 2 s since start, on 4 CPUs
    fake.cpu = cpu(user=503, idle=505)  # 3 busy of 8 s since start
    metrics = collect(reader)
    assert busy(metrics[semconv.PROCESS_CPU_UTILIZATION]) == pytest.approx(0.125)
    assert busy(metrics[semconv.SYSTEM_CPU_UTILIZATION]) == pytest.approx(0.375)


def test_process_memory_file_descriptors_threads(fake, reader):
    started(reader)
    metrics = collect(reader)
    assert single(metrics[semconv.PROCESS_MEMORY_USAGE]) == 123456
    assert single(metrics[semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT]) == 17
    assert single(metrics[semconv.PROCESS_THREAD_COUNT]) == 5


def test_instrument_types_and_units_follow_semconv(fake, reader):
    started(reader)
    fake.advance()
    found = {
        metric.name: (type(metric.data), getattr(metric.data, "is_monotonic", None), metric.unit)
        for resource_metrics in reader.get_metrics_data().resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }
    assert found == {
        semconv.SYSTEM_CPU_UTILIZATION: (Gauge, None, "1"),
        semconv.SYSTEM_CPU_TIME: (Sum, True, "s"),
        semconv.PROCESS_CPU_TIME: (Sum, True, "s"),
        semconv.SYSTEM_MEMORY_USAGE: (Sum, False, "By"),
        semconv.SYSTEM_MEMORY_UTILIZATION: (Gauge, None, "1"),
        semconv.SYSTEM_FILESYSTEM_USAGE: (Sum, False, "By"),
        semconv.SYSTEM_FILESYSTEM_UTILIZATION: (Gauge, None, "1"),
        semconv.SYSTEM_NETWORK_IO: (Sum, True, "By"),
        semconv.PROCESS_CPU_UTILIZATION: (Gauge, None, "1"),
        semconv.PROCESS_MEMORY_USAGE: (Sum, False, "By"),
        semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: (Sum, False, "{file_descriptor}"),
        semconv.PROCESS_THREAD_COUNT: (Sum, False, "{thread}"),
    }


# --- the real host ----------------------------------------------------------------------------------------------------


def test_real_host_values_are_in_range(reader):
    started(reader)
    process = psutil.Process()
    spent = sum(process.cpu_times()[:2])
    deadline = time.monotonic() + 5
    while sum(process.cpu_times()[:2]) - spent < 0.05 and time.monotonic() < deadline:
        sum(range(10_000))  # burn CPU so the first reading has something to show
    metrics = collect(reader)
    assert set(metrics) == HOST_METRICS
    assert 0 <= busy(metrics[semconv.SYSTEM_CPU_UTILIZATION]) <= 1 + 1e-9  # each mode is clamped, not their sum
    assert 0 < busy(metrics[semconv.PROCESS_CPU_UTILIZATION]) <= 1 + 1e-9
    memory = by(metrics[semconv.SYSTEM_MEMORY_USAGE], semconv.SYSTEM_MEMORY_STATE)
    assert memory["used"] > 0 and memory["free"] > 0
    assert all(0 <= value <= 1 for _, value in metrics[semconv.SYSTEM_MEMORY_UTILIZATION])
    root = [
        value
        for attributes, value in metrics[semconv.SYSTEM_FILESYSTEM_UTILIZATION]
        if attributes[semconv.SYSTEM_FILESYSTEM_MOUNTPOINT] == "/"
        and attributes[semconv.SYSTEM_FILESYSTEM_STATE] == "used"
    ]
    assert len(root) == 1 and 0 < root[0] < 1
    assert all(value >= 0 for _, value in metrics[semconv.SYSTEM_NETWORK_IO])
    assert single(metrics[semconv.PROCESS_MEMORY_USAGE]) > 0
    assert single(metrics[semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT]) > 0
    assert single(metrics[semconv.PROCESS_THREAD_COUNT]) >= 1


def test_real_snapshot_is_json(reader):
    host = started(reader)
    time.sleep(0.1)  # the kernel counts CPU time in ticks: let a few pass
    snapshot = json.loads(json.dumps(host.snapshot()))
    container = snapshot.pop("container_memory", None)  # only under a cgroup memory limit
    assert set(snapshot) == {"cpu", "memory", "filesystems", "network", "process", "pools"}
    if container is not None:
        assert container["cgroup"] in ("v1", "v2") and 0 < container["used"] <= container["limit"]
        assert container["limit"] < snapshot["memory"]["total"] and 0 < container["utilization"] <= 1
    assert 0 <= snapshot["cpu"]["utilization"] <= 1
    assert snapshot["process"]["pid"] == os.getpid() and snapshot["process"]["memory_rss"] > 0
    assert "/" in {fs["mountpoint"] for fs in snapshot["filesystems"]}


# --- failures ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error", "metric"),
    [
        ("psutil.net_io_counters", NotImplementedError("no network counters here"), semconv.SYSTEM_NETWORK_IO),
        ("psutil.Process.num_threads", psutil.AccessDenied(pid=1), semconv.PROCESS_THREAD_COUNT),
        (
            "psutil.Process.num_fds",
            AttributeError("Windows has no num_fds"),
            semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        ),
        ("psutil.Process.memory_info", OSError("denied"), semconv.PROCESS_MEMORY_USAGE),
    ],
)
def test_failing_psutil_call_drops_only_its_metric_with_one_warning(fake, reader, caplog, target, error, metric):
    started(reader)
    with mock.patch(target, side_effect=error):
        first = collect_later(fake, reader)
        second = collect_later(fake, reader)
    assert set(first) == set(second) == HOST_METRICS - {metric}
    assert len(warnings_about(caplog, metric)) == 1
    assert len(warnings_about(caplog, "not reported")) == 1
    assert busy(second[semconv.PROCESS_CPU_UTILIZATION]) >= 0  # the others carry on


def test_dropped_metric_stays_dropped_when_the_call_recovers(fake, reader, caplog):
    started(reader)
    assert semconv.SYSTEM_NETWORK_IO in collect(reader)
    with mock.patch("psutil.net_io_counters", side_effect=psutil.AccessDenied()):
        assert semconv.SYSTEM_NETWORK_IO not in collect(reader)
    assert semconv.SYSTEM_NETWORK_IO not in collect(reader)
    assert len(warnings_about(caplog, semconv.SYSTEM_NETWORK_IO)) == 1


def test_failing_cpu_baseline_at_start_drops_cpu_metric(fake, reader, caplog):
    with mock.patch("psutil.cpu_times", side_effect=NotImplementedError):
        started(reader)
    metrics = collect_later(fake, reader)
    assert set(metrics) == HOST_METRICS - {semconv.SYSTEM_CPU_UTILIZATION}
    assert len(warnings_about(caplog, semconv.SYSTEM_CPU_UTILIZATION)) == 1


def test_unexpected_error_is_an_internal_error_that_drops_the_metric(fake, reader, caplog):
    started(reader)
    with (
        mock.patch.dict(os.environ, {"OMIE_OTEL_RAISE_INTERNAL_ERRORS": ""}),
        mock.patch.object(_guard, "_seen", set()),
        mock.patch("psutil.virtual_memory", side_effect=ZeroDivisionError("bug")) as virtual_memory,
    ):
        metrics = collect_later(fake, reader)
        collect_later(fake, reader)
    assert virtual_memory.call_count == 2  # once per memory metric, in the first collection only: then dropped
    assert set(metrics) == HOST_METRICS - {semconv.SYSTEM_MEMORY_USAGE, semconv.SYSTEM_MEMORY_UTILIZATION}
    records = [r for r in caplog.records if r.name == "omie_otel" and "internal error in host metric" in r.getMessage()]
    assert sorted(r.getMessage().split(";")[0].rsplit(" ", 1)[1] for r in records) == [
        semconv.SYSTEM_MEMORY_USAGE,
        semconv.SYSTEM_MEMORY_UTILIZATION,
    ]
    assert all(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in records)


def test_unexpected_error_is_raised_under_our_test_suite(fake, reader):
    host = started(reader)
    with (
        mock.patch.dict(os.environ, {"OMIE_OTEL_RAISE_INTERNAL_ERRORS": "1"}),
        mock.patch("psutil.net_io_counters", side_effect=ZeroDivisionError("bug")),
        pytest.raises(ZeroDivisionError),
    ):
        host.snapshot()


def test_drop_logs_once_when_two_readers_race(fake, reader, caplog):
    # snapshot() (an MCP tool's thread) and a metric reader's thread can both see the same failure.
    host = started(reader)
    for _ in range(2):
        host._drop(semconv.SYSTEM_NETWORK_IO, psutil.AccessDenied())
    assert len(warnings_about(caplog, semconv.SYSTEM_NETWORK_IO)) == 1


def test_unreadable_mount_drops_only_that_mount_with_one_warning(fake, reader, caplog):
    fake.partitions = [sdiskpart("/dev/sda1", "/", "ext4", "rw"), sdiskpart("/dev/sdb1", "/secret", "xfs", "rw")]

    def disk_usage(path: str) -> Any:
        if path == "/secret":
            raise PermissionError(13, "Permission denied", path)
        return fake.usage[path]

    fake.disk_usage = disk_usage  # type: ignore[method-assign]
    with mock.patch("psutil.disk_usage", disk_usage):
        started(reader)
        collect(reader)
        metrics = collect(reader)
    for name in (semconv.SYSTEM_FILESYSTEM_USAGE, semconv.SYSTEM_FILESYSTEM_UTILIZATION):
        assert {a[semconv.SYSTEM_FILESYSTEM_MOUNTPOINT] for a, _ in metrics[name]} == {"/"}
    assert len(warnings_about(caplog, "/secret")) == 1


# --- configuration ----------------------------------------------------------------------------------------------------


def test_exclude_argument_globs(fake, reader):
    started(reader, exclude=["system.network.*", "process.thread.count"])
    assert set(collect_later(fake, reader)) == HOST_METRICS - {semconv.SYSTEM_NETWORK_IO, semconv.PROCESS_THREAD_COUNT}


def test_exclude_argument_as_comma_separated_string(fake, reader):
    started(reader, exclude="system.*")
    assert set(collect_later(fake, reader)) == {m for m in HOST_METRICS if m.startswith("process.")}


def test_exclude_from_environment(fake, reader):
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_EXCLUDE": " system.network.* , process.thread.count,"}):
        started(reader)
    assert set(collect_later(fake, reader)) == HOST_METRICS - {semconv.SYSTEM_NETWORK_IO, semconv.PROCESS_THREAD_COUNT}


def test_exclude_argument_wins_over_environment(fake, reader):
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_EXCLUDE": "system.*"}):
        started(reader, exclude=[])
    assert set(collect_later(fake, reader)) == HOST_METRICS


def test_excluded_metric_is_never_read(fake, reader, caplog):
    with mock.patch("psutil.cpu_times", side_effect=NotImplementedError) as cpu_times:
        host = started(reader, exclude=["system.cpu.*"])
        metrics = collect_later(fake, reader)
        snapshot = host.snapshot()
    cpu_times.assert_not_called()
    assert set(metrics) == HOST_METRICS - {semconv.SYSTEM_CPU_UTILIZATION, semconv.SYSTEM_CPU_TIME}
    assert "cpu" not in snapshot and warnings_about(caplog, "") == []


def test_exclusion_matching_nothing_is_warned_about(fake, reader, caplog):
    started(reader, exclude=["system.netwrok.*"])
    assert set(collect_later(fake, reader)) == HOST_METRICS
    assert len(warnings_about(caplog, "'system.netwrok.*' matches no metric")) == 1


@pytest.mark.parametrize("value", ["true", "TRUE", " True ", "1", "on", "yes"])
def test_per_cpu_from_environment(fake, reader, value):
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_PER_CPU": value}):
        started(reader)
    fake.per_cpu = [cpu(user=9, idle=11), cpu(user=1, system=1, idle=18)]
    assert {a[semconv.CPU_LOGICAL_NUMBER] for a, _ in collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]} == {0, 1}


@pytest.mark.parametrize("value", ["false", "0", "Off", "no", ""])
def test_per_cpu_off_from_environment(fake, reader, value):
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_PER_CPU": value}):
        started(reader)
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)
    points = collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]
    assert all(semconv.CPU_LOGICAL_NUMBER not in a for a, _ in points)
    assert busy(points) == pytest.approx(0.4)


def test_per_cpu_argument_wins_over_environment(fake, reader):
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_PER_CPU": "true"}):
        started(reader, per_cpu=False)
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)
    points = collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]
    assert all(semconv.CPU_LOGICAL_NUMBER not in a for a, _ in points)
    assert busy(points) == pytest.approx(0.4)


def test_bad_per_cpu_environment_value_warns_naming_variable_value_and_accepted_values(fake, reader, caplog):
    """As every option (tests/test_options_table.py): a bad environment value warns once and the default is used."""
    with mock.patch.dict(os.environ, {"OMIE_OTEL_HOST_METRICS_PER_CPU": "maybe"}), caplog.at_level("WARNING"):
        started(reader)
    (message,) = [r.getMessage() for r in caplog.records if "OMIE_OTEL_HOST_METRICS_PER_CPU" in r.getMessage()]
    assert "'maybe'" in message and "true" in message and "false" in message
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)
    points = collect(reader)[semconv.SYSTEM_CPU_UTILIZATION]
    assert all(semconv.CPU_LOGICAL_NUMBER not in a for a, _ in points)  # the default: one aggregate series
    assert busy(points) == pytest.approx(0.4)


# --- lifecycle --------------------------------------------------------------------------------------------------------


def test_stop_then_callbacks_yield_nothing_and_start_resumes(fake, reader):
    host = started(reader)
    assert set(collect_later(fake, reader)) == HOST_METRICS
    host.stop()
    assert collect_later(fake, reader) == {}
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0
    host.start()  # a new baseline: the CPU used while stopped is not reported
    fake.process_cpu, fake.clock = pcputimes(8.0, 2.5, 0, 0), 120.0
    fake.cpu = fake.cpu._replace(user=fake.cpu.user + 1)
    metrics = collect(reader)
    assert set(metrics) == HOST_METRICS
    assert busy(metrics[semconv.PROCESS_CPU_UTILIZATION]) == pytest.approx(2 / 10 / 4)


def test_second_start_warns_and_changes_nothing(fake, reader, caplog):
    host = started(reader)
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0
    host.start()  # must not move the baseline
    assert len(warnings_about(caplog, "start() called twice")) == 1
    assert busy(collect(reader)[semconv.PROCESS_CPU_UTILIZATION]) == pytest.approx(7 / 10 / 4)


# --- snapshot ---------------------------------------------------------------------------------------------------------


def test_snapshot_exact_values(fake, reader):
    host = started(reader)
    fake.cpu = cpu(user=40, system=15, idle=130, iowait=15, guest=4)
    fake.process_cpu, fake.clock = pcputimes(6.0, 2.5, 0, 0), 110.0
    snapshot = host.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot == {
        "cpu": {"utilization": pytest.approx(0.4), "logical_count": 8, "available": 4},
        "memory": {
            "total": 16000,
            "used": 4000,
            "free": 8000,
            "cached": 3000,
            "buffers": 1000,
            "utilization": 0.25,
        },
        "filesystems": [
            {
                "mountpoint": "/",
                "device": "/dev/sda1",
                "type": "ext4",
                "total": 1000,
                "used": 600,
                "free": 300,
                "utilization": pytest.approx(600 / 900),
            }
        ],
        "network": {"transmit_bytes": 110, "receive_bytes": 220},
        "process": {
            "pid": os.getpid(),
            "cpu_utilization": pytest.approx(0.175),
            "memory_rss": 123456,
            "open_file_descriptors": 17,
            "threads": 5,
        },
        "pools": {},
    }
    # The snapshot keeps its own CPU baseline: the metrics still see the whole interval since start.
    assert busy(collect(reader)[semconv.PROCESS_CPU_UTILIZATION]) == pytest.approx(0.175)


def test_snapshot_adds_the_container_memory_under_a_cgroup_limit_and_keeps_the_metrics(fake, reader, tmp_path):
    (tmp_path / "memory.max").write_text("8000\n")  # below the fake host's 16000 bytes: a limit that binds
    (tmp_path / "memory.current").write_text("5000\n")
    (tmp_path / "memory.stat").write_text("anon 3000\nfile 2000\ninactive_file 1000\n")
    host = started(reader, cgroup_root=tmp_path)
    snapshot = host.snapshot()
    assert snapshot["container_memory"] == {"cgroup": "v2", "limit": 8000, "used": 4000, "utilization": 0.5}
    assert snapshot["memory"]["total"] == 16000 and snapshot["memory"]["utilization"] == 0.25  # still the host's
    assert set(collect_later(fake, reader)) == HOST_METRICS  # no metric added or renamed
    (tmp_path / "memory.max").write_text("max\n")
    assert "container_memory" not in host.snapshot()


def test_snapshot_leaves_out_excluded_and_nulls_dropped(fake, reader):
    host = started(reader, exclude=["system.*", "process.thread.count"])
    with mock.patch("psutil.Process.num_fds", side_effect=psutil.AccessDenied()):
        snapshot = host.snapshot()
    assert set(snapshot) == {"process", "pools"}
    assert set(snapshot["process"]) == {"pid", "cpu_utilization", "memory_rss", "open_file_descriptors"}
    assert snapshot["process"]["open_file_descriptors"] is None
    assert semconv.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT not in collect(reader)  # dropped for the metrics too


# --- httpx connection pools -------------------------------------------------------------------------------------------


class _KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the server
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a keep-alive handler waits for the next request: do not join it on close

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the client closing its keep-alive connection
            super().handle_error(request, client_address)


@pytest.fixture
def server_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


POOL_KEYS = (semconv.OMIE_CLIENT_POOL_NAME, semconv.OMIE_CLIENT_POOL_STATE)


def test_pool_keep_alive_connection_is_idle(reader, server_url):
    host = started(reader)
    with httpx.Client() as client:
        register_pool("omie", client)
        assert client.get(server_url).status_code == 200
        points = collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS]
        assert by(points, *POOL_KEYS) == {("omie", "active"): 0, ("omie", "idle"): 1}
        assert host.snapshot()["pools"] == {"omie": {"active": 0, "idle": 1}}


def test_pool_connection_in_use_is_active(reader, server_url):
    started(reader)
    with httpx.Client() as client:
        register_pool("omie", client)
        with client.stream("GET", server_url) as response:
            assert response.status_code == 200
            points = collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS]
            assert by(points, *POOL_KEYS) == {("omie", "active"): 1, ("omie", "idle"): 0}


async def test_pool_of_async_client(reader, server_url):
    started(reader)
    async with httpx.AsyncClient() as client:
        register_pool("omie-async", client)
        assert (await client.get(server_url)).status_code == 200
        points = collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS]
        assert by(points, *POOL_KEYS) == {("omie-async", "active"): 0, ("omie-async", "idle"): 1}


def test_pool_client_is_held_weakly(reader):
    started(reader)
    client = httpx.Client()
    register_pool("omie", client)
    assert by(collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS], *POOL_KEYS) == {
        ("omie", "active"): 0,
        ("omie", "idle"): 0,
    }
    client.close()
    del client
    gc.collect()
    assert semconv.OMIE_CLIENT_POOL_CONNECTIONS not in collect(reader)
    assert host_metrics._POOLS == {}


def test_pool_limit_and_utilization_are_active_over_max_connections(reader, server_url):
    started(reader)
    with httpx.Client(limits=httpx.Limits(max_connections=4)) as client:
        register_pool("omie", client)
        with client.stream("GET", server_url) as response:
            assert response.status_code == 200
            metrics = collect(reader)
        assert by(metrics[semconv.OMIE_CLIENT_POOL_LIMIT], semconv.OMIE_CLIENT_POOL_NAME) == {"omie": 4}
        assert by(metrics[semconv.OMIE_CLIENT_POOL_UTILIZATION], semconv.OMIE_CLIENT_POOL_NAME) == {"omie": 0.25}
        idle = collect(reader)  # the connection went back to the pool: idle, not in use
        assert by(idle[semconv.OMIE_CLIENT_POOL_UTILIZATION], semconv.OMIE_CLIENT_POOL_NAME) == {"omie": 0.0}


def test_unlimited_pool_has_no_limit_or_utilization(reader, server_url):
    started(reader)
    with httpx.Client(limits=httpx.Limits(max_connections=None)) as client:
        register_pool("omie", client)
        client.get(server_url)
        metrics = collect(reader)
    assert semconv.OMIE_CLIENT_POOL_CONNECTIONS in metrics
    assert semconv.OMIE_CLIENT_POOL_LIMIT not in metrics and semconv.OMIE_CLIENT_POOL_UTILIZATION not in metrics


def test_pool_without_httpcore_pool_is_dropped_with_one_warning(reader, server_url, caplog):
    started(reader)
    with (
        httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as mocked,
        httpx.Client() as real,
    ):
        register_pool("mocked", mocked)
        register_pool("omie", real)
        real.get(server_url)
        first = collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS]
        second = collect(reader)[semconv.OMIE_CLIENT_POOL_CONNECTIONS]
    assert by(first, *POOL_KEYS) == by(second, *POOL_KEYS) == {("omie", "active"): 0, ("omie", "idle"): 1}
    assert len(warnings_about(caplog, "mocked")) == 1


def test_register_pool_needs_a_name():
    with pytest.raises(ValueError, match="non-empty"):
        register_pool("", httpx.Client())


def test_public_names():
    assert sorted(host_metrics.__all__) == [
        "HostMetrics",
        "OMIE_OTEL_HOST_METRICS_EXCLUDE",
        "OMIE_OTEL_HOST_METRICS_PER_CPU",
        "register_pool",
    ]
