"""Readiness and liveness: as data, over a real streamable-HTTP server, over the stdio loopback listener, as a gauge.

Omie evidence comes through the real Omie instrumentation (httpx.MockTransport answers, or the Omie simulator on a
loopback port for the active probe); only the clock is ours where time has to pass.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

import omie_otel
from omie_otel import health
from omie_otel import semconv as sc
from omie_otel._export_counting import export_stats
from omie_otel._omie_recent import RecentOmieOutcomes
from omie_otel._selftelemetry import drops
from omie_otel.health import ContainerMemory, HealthChecker, container_memory
from omie_otel.omie import OmieFault
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator, serve_in_thread
from tests.helpers.net import free_port, stop, wait_for_port
from tests.test_transports import ROOT

HEALTH_SERVER = str(Path(__file__).parent / "servers" / "omie_health.py")
OMIE = "https://app.omie.com.br/api/v1/geral/clientes/"
CHECKS = ["omie_api", "telemetry_export", "memory", "disk"]
BLOCK_425 = {
    "faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1726 segundos.",
    "faultcode": "MISUSE_API_PROCESS",
}


@pytest.fixture(autouse=True)
def no_recent_export_trouble(monkeypatch: pytest.MonkeyPatch) -> None:
    """Export failures other tests caused in this process must not degrade these reports."""
    monkeypatch.setattr(export_stats, "last_failure_ns", {})
    monkeypatch.setattr(drops, "last_drop_ns", {})


def by_name(report: health.HealthReport) -> dict[str, health.CheckResult]:
    return {c.name: c for c in report.checks}


def omie_call(answer: httpx.Response, call: str = "ListarClientes") -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda request: answer)) as client:
        client.post(OMIE, json={"call": call, "param": [{"pagina": 1}]})


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def checker(clock: Clock, recent: RecentOmieOutcomes | None = None, **kw: Any) -> HealthChecker:
    kw.setdefault("memory_threshold", 100)
    kw.setdefault("disk_threshold", 100)
    return HealthChecker(recent=recent, clock=clock, report_ttl=0, **kw)


# --- the report as data ----------------------------------------------------------------------------------------------


def test_report_shape_and_no_traffic_no_keys_is_unknown_not_a_failure(telemetry: Any) -> None:
    omie_otel.instrument(
        meter_provider=telemetry.meter_provider, health_memory_threshold=100, health_disk_threshold=100,
        host_metrics=False,
    )
    report = health.check()
    assert [c.name for c in report.checks] == CHECKS
    omie = by_name(report)["omie_api"]
    assert omie.status == "unknown" and "no app key" in omie.detail
    assert (report.status, report.ready, report.http_status) == ("ok", True, 200)
    data = report.to_dict()
    assert set(data) == {"status", "ready", "checked_at", "checks"}
    assert all(set(c) == {"name", "status", "latency_ms", "detail"} for c in data["checks"])
    assert all(isinstance(c["latency_ms"], float) and c["latency_ms"] >= 0 for c in data["checks"])
    json.dumps(data)
    live = health.live()
    assert live.status == "ok" and live.uptime_seconds > 0 and live.version == omie_otel.__version__


def test_a_425_seen_by_the_omie_instrumentation_makes_the_server_not_ready(telemetry: Any) -> None:
    omie_otel.instrument(meter_provider=telemetry.meter_provider, health_memory_threshold=100,
                         health_disk_threshold=100, host_metrics=False, health_omie_probe=False)
    omie_call(httpx.Response(200, json={"pagina": 1, "total_de_paginas": 1, "registros": 0}))
    assert by_name(health.check())["omie_api"].status == "ok"
    omie_call(httpx.Response(425, json=BLOCK_425))
    report = health.check()  # right away: a new Omie answer is never hidden by the report cache
    omie = by_name(report)["omie_api"]
    assert (report.status, report.ready, report.http_status, omie.status) == ("fail", False, 503, "fail")
    assert "ListarClientes (HTTP 425 MISUSE_API_PROCESS); the block ends in 172" in omie.detail


def test_block_time_left_counts_down_and_a_later_answer_clears_it() -> None:
    clock = Clock()
    recent = RecentOmieOutcomes(clock=clock)
    recent.record("ListarClientes", OmieFault("misuse_blocked", "MISUSE_API_PROCESS", "x", 120.0))
    c = checker(clock, recent)
    assert "ends in 120 s" in by_name(c.check())["omie_api"].detail
    clock.now += 100
    assert "ends in 20 s" in by_name(c.check())["omie_api"].detail
    recent.record("ListarClientes", None)
    assert by_name(c.check())["omie_api"].status == "ok"
    recent.record("ListarProdutos", OmieFault("misuse_blocked", "MISUSE_API_PROCESS", "sem prazo"))
    assert "ends in 1800 s" in by_name(c.check())["omie_api"].detail, "no figure from Omie: its 30 minutes"


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        ([OmieFault("no_records", "5113")], "ok"),
        ([OmieFault("validation", "71")], "ok"),
        ([OmieFault("redundant", "6", None, 58.0)], "degraded"),
        ([OmieFault("rate_limited")], "degraded"),
        ([OmieFault("transport")], "degraded"),
        ([OmieFault("transport"), OmieFault("server_error"), OmieFault("transport")], "fail"),
        ([OmieFault("auth", None, "A chave de acesso não está preenchida ou não é válida.")], "fail"),
    ],
)
def test_passive_omie_evidence(faults: list[OmieFault], status: str) -> None:
    clock = Clock()
    recent = RecentOmieOutcomes(clock=clock)
    for fault in faults:
        recent.record("ListarClientes", fault)
    report = checker(clock, recent).check()
    assert by_name(report)["omie_api"].status == status
    assert report.ready is (status != "fail")


def test_passive_evidence_expires_after_the_window() -> None:
    clock = Clock()
    recent = RecentOmieOutcomes(clock=clock)
    recent.record("ListarClientes", OmieFault("auth"))
    c = checker(clock, recent, window=300)
    assert by_name(c.check())["omie_api"].status == "fail"
    clock.now += 301
    assert by_name(c.check())["omie_api"].status == "unknown"


def test_memory_threshold_zero_fails_and_export_trouble_only_degrades() -> None:
    report = checker(Clock(), memory_threshold=0).check()
    memory = by_name(report)["memory"]
    assert memory.status == "fail" and "at or above the 0 % threshold" in memory.detail
    assert not report.ready
    export_stats.record("logs", 1, False, time.time_ns())
    report = checker(Clock()).check()
    assert by_name(report)["telemetry_export"].status == "degraded"
    assert (report.status, report.ready) == ("degraded", True)


# --- memory: the container's cgroup limit, else the host --------------------------------------------------------------

MiB = 1 << 20
GiB = 1 << 30
V1_NO_LIMIT = "9223372036854771712"  # what cgroup v1 writes when there is no limit


def cgroup_v2(root: Path, limit: str, current: str | None, stat: str | None) -> Path:
    (root / "memory.max").write_text(limit + "\n")
    if current is not None:
        (root / "memory.current").write_text(current + "\n")
    if stat is not None:
        (root / "memory.stat").write_text(stat)
    return root


def cgroup_v1(root: Path, limit: str, usage: str, stat: str) -> Path:
    (root / "memory").mkdir()
    (root / "memory" / "memory.limit_in_bytes").write_text(limit + "\n")
    (root / "memory" / "memory.usage_in_bytes").write_text(usage + "\n")
    (root / "memory" / "memory.stat").write_text(stat)
    return root


def memory_check(cgroup_root: Path, threshold: float = 85) -> health.CheckResult:
    return by_name(checker(Clock(), memory_threshold=threshold, cgroup_root=cgroup_root).check())["memory"]


def cgroup_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "cannot read the cgroup memory limit" in r.getMessage()]


def test_cgroup_v2_limit_is_judged_on_the_working_set(tmp_path: Path) -> None:
    stat = f"anon {400 * MiB}\nfile {240 * MiB}\nactive_file {112 * MiB}\ninactive_file {128 * MiB}\n"
    root = cgroup_v2(tmp_path, str(GiB), str(640 * MiB), stat)
    assert container_memory(root) == ContainerMemory("v2", 512 * MiB, GiB)  # 640 MiB used minus 128 MiB reclaimable
    memory = memory_check(root)
    assert (memory.status, memory.detail) == ("ok", "container: 512 MiB of 1 GiB in use (50.0 %), below the 85 % threshold")
    assert memory_check(root, threshold=50).status == "fail"
    assert container_memory(root, host_total=GiB) is None, "a limit the host cannot reach never binds first"


def test_cgroup_v1_limit_counts_the_whole_hierarchys_inactive_cache(tmp_path: Path) -> None:
    stat = f"cache {300 * MiB}\ninactive_file {900 * MiB}\ntotal_cache {300 * MiB}\ntotal_inactive_file {40 * MiB}\n"
    root = cgroup_v1(tmp_path, str(GiB), str(1000 * MiB), stat)
    assert container_memory(root) == ContainerMemory("v1", 960 * MiB, GiB)
    memory = memory_check(root)
    assert memory.status == "fail"
    assert memory.detail == "container: 960 MiB of 1 GiB in use (93.8 %), at or above the 85 % threshold"


@pytest.mark.parametrize("layout", ["v2 max", "v1 huge", "no cgroup files"])
def test_no_cgroup_limit_uses_the_host_figure_silently(
    tmp_path: Path, layout: str, caplog: pytest.LogCaptureFixture
) -> None:
    if layout == "v2 max":
        cgroup_v2(tmp_path, "max", str(640 * MiB), "inactive_file 0\n")
    elif layout == "v1 huge":
        cgroup_v1(tmp_path, V1_NO_LIMIT, str(640 * MiB), "total_inactive_file 0\n")
    assert container_memory(tmp_path) is None
    memory = memory_check(tmp_path, threshold=100)
    assert memory.status == "ok" and memory.detail.startswith("host: ")
    assert re.fullmatch(r"host: [\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]iB in use \([\d.]+ %\), below the 100 % threshold",
                        memory.detail), memory.detail
    assert cgroup_warnings(caplog) == []


DIRECTORY = object()  # a file the kernel would have written is a directory: reading it fails
V2_FILES = {"memory.max": str(GiB), "memory.current": str(MiB), "memory.stat": "inactive_file 0\n"}
V1_FILES = {
    "memory/memory.limit_in_bytes": str(GiB),
    "memory/memory.usage_in_bytes": str(MiB),
    "memory/memory.stat": "total_inactive_file 0\n",
}


@pytest.mark.parametrize(
    ("files", "changed"),
    [
        (V2_FILES, {"memory.max": "lots"}),
        (V2_FILES, {"memory.max": DIRECTORY}),
        (V2_FILES, {"memory.current": "-5"}),
        (V2_FILES, {"memory.current": None}),
        (V2_FILES, {"memory.stat": "anon 1\ninactive_file many\n"}),
        (V2_FILES, {"memory.stat": None}),
        (V1_FILES, {"memory/memory.usage_in_bytes": "12 MiB"}),
    ],
    ids=["v2 limit", "v2 limit unreadable", "v2 negative usage", "v2 no usage", "v2 stat", "v2 no stat", "v1 usage"],
)
def test_garbage_cgroup_files_fall_back_to_the_host_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, files: dict[str, str], changed: dict[str, Any]
) -> None:
    for name, content in {**files, **changed}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        if content is DIRECTORY:
            (tmp_path / name).mkdir()
        elif content is not None:  # None: the file is missing
            (tmp_path / name).write_text(content)
    c = checker(Clock(), memory_threshold=100, cgroup_root=tmp_path)
    for _ in range(3):  # checked again and again, as the gauge and the routes do
        memory = by_name(c.check())["memory"]
        assert memory.status == "ok" and memory.detail.startswith("host: ")
    (warning,) = cgroup_warnings(caplog)
    assert warning.levelno == logging.WARNING and str(tmp_path) in warning.getMessage()


def test_real_machine_memory_figure_is_sane() -> None:
    reading = container_memory()  # whichever applies here: a container limit or none
    if reading is not None:
        assert reading.cgroup in ("v1", "v2") and 0 < reading.used <= reading.limit and 0 < reading.percent <= 100
    memory = by_name(checker(Clock()).check())["memory"]
    match = re.fullmatch(r"(container|host): .+ of .+ in use \(([\d.]+) %\), below the 100 % threshold", memory.detail)
    assert match, memory.detail
    assert match[1] == ("host" if reading is None else "container")
    assert 0 < float(match[2]) < 100 and memory.status == "ok"


# --- the active probe ------------------------------------------------------------------------------------------------


@pytest.fixture
def simulator() -> Iterator[tuple[OmieSimulator, str]]:
    sim = OmieSimulator(seed=7)
    with serve_in_thread(sim) as url:
        yield sim, url


def app_used(*credentials: str) -> RecentOmieOutcomes:
    """Omie outcomes after the application itself sent these credentials (long ago: no passive evidence now)."""
    recent = RecentOmieOutcomes()
    recent.note_credentials(*credentials)
    return recent


def test_probe_only_from_a_readiness_check_after_a_minute_cached_and_never_redundant(
    telemetry: Any, simulator: tuple[OmieSimulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, url = simulator
    monkeypatch.setenv("OMIE_APP_KEY", DEFAULT_APP_KEY)  # never read by the probe: the app has not used it yet
    monkeypatch.setenv("OMIE_APP_SECRET", DEFAULT_APP_SECRET)
    omie_otel.instrument(meter_provider=telemetry.meter_provider, omie_url=url, host_metrics=False,
                         health_memory_threshold=100, health_disk_threshold=100)
    state = omie_otel._lifecycle.current_state()
    assert by_name(health.check())["omie_api"].status == "unknown"
    assert sim.stats.calls == {}, "credentials from the environment are never used"
    # The application calls Omie itself (through the instrumented httpx): now its credentials are known.
    with httpx.Client(base_url=url) as client:
        client.post("v1/geral/clientes/", json={"call": "ListarClientes", "app_key": DEFAULT_APP_KEY,
                                             "app_secret": DEFAULT_APP_SECRET, "param": [{"pagina": 1}]})
    skew = {"s": 301.0}  # five minutes later: the passive evidence expired, the first minute is long past
    state.health._clock = lambda: time.monotonic() + skew["s"]
    state.health._report_ttl = 0
    for _ in range(5):  # metric collections never probe, however stale the evidence
        points = {p.attributes[sc.OMIE_OTEL_HEALTH_CHECK]: p.value for p in telemetry.points(sc.OMIE_OTEL_HEALTH_STATUS)}
        assert "omie_api" not in points  # unknown: no point
    assert sim.stats.calls == {"ListarClientes": 1}
    omie = by_name(health.check())["omie_api"]  # a readiness check: now it probes, once
    assert omie.status == "ok" and "ListarCategorias" in omie.detail
    for _ in range(3):
        health.check()
    assert sim.stats.calls == {"ListarClientes": 1, "ListarCategorias": 1}
    (span,) = telemetry.finished(name="omie ListarCategorias")  # the probe is an ordinary, visible Omie call
    assert DEFAULT_APP_SECRET not in json.dumps(dict(span.attributes))
    # The next probe, 65 s+ later, never repeats the previous parameters (Omie's REDUNDANT: same call and params)
    first_rows = span.attributes.get(sc.OMIE_RECORDS_PER_PAGE)
    skew["s"] += 602
    assert by_name(health.check())["omie_api"].status == "ok"
    second = [s for s in telemetry.finished(name="omie ListarCategorias") if s is not span]
    assert len(second) == 1 and second[0].attributes.get(sc.OMIE_RECORDS_PER_PAGE) != first_rows


def test_no_probe_in_the_first_minute(simulator: tuple[OmieSimulator, str]) -> None:
    sim, url = simulator
    clock = Clock()
    c = checker(clock, app_used(DEFAULT_APP_KEY, DEFAULT_APP_SECRET), omie_url=url, omie_probe=True)
    assert by_name(c.check())["omie_api"].status == "unknown"
    clock.now += 59
    c.check()
    assert c.probes_sent == 0 and sim.stats.calls == {}
    clock.now += 2
    assert by_name(c.check())["omie_api"].status == "ok"
    assert c.probes_sent == 1


def test_short_lived_stdio_process_never_probes(simulator: tuple[OmieSimulator, str], tmp_path: Path) -> None:
    """A stdio server that calls Omie and exits within seconds: its exit flush collects the health gauge, which must
    not call Omie (one Omie request in all: the tool's own)."""
    sim, url = simulator
    script = tmp_path / "stdio_once.py"
    script.write_text(
        "import asyncio, httpx\n"
        "from fastmcp import Client, FastMCP\n"
        "import omie_otel\n"
        "mcp = FastMCP('curto')\n"
        "@mcp.tool\n"
        "def clientes() -> int:\n"
        f"    r = httpx.post('{url}v1/geral/clientes/', json={{'call': 'ListarClientes', 'app_key': '{DEFAULT_APP_KEY}',"
        f" 'app_secret': '{DEFAULT_APP_SECRET}', 'param': [{{'pagina': 1}}]}})\n"
        "    return r.status_code\n"
        f"omie_otel.instrument(mcp, omie_url='{url}', host_metrics=False)\n"
        "async def main():\n"
        "    async with Client(mcp) as c:\n"
        "        print((await c.call_tool('clientes', {})).data)\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OMIE_OTEL_"))}
    env.update(PYTHONPATH=str(Path(__file__).parent.parent), OTEL_TRACES_EXPORTER="none",
               OTEL_METRICS_EXPORTER="console", OTEL_LOGS_EXPORTER="none", OTEL_METRIC_EXPORT_INTERVAL="100")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "200" in out.stdout, out.stderr[-2000:]
    assert "omie_otel.health.status" in out.stdout  # the gauge was collected, at exit too
    assert sim.stats.calls == {"ListarClientes": 1}


def test_probe_with_a_bad_key_fails_and_backs_off(simulator: tuple[OmieSimulator, str]) -> None:
    sim, url = simulator
    clock = Clock()
    c = checker(clock, app_used("0000000000000", "errado-errado"), omie_url=url, omie_probe=True, probe_grace=0)
    omie = by_name(c.check())["omie_api"]
    assert omie.status == "fail" and "auth" in omie.detail
    clock.now += 299
    c.check()
    assert c.probes_sent == 1
    clock.now += 2  # 301 s: first retry
    c.check()
    assert c.probes_sent == 2
    clock.now += 301  # the wait doubled to 600 s
    c.check()
    assert c.probes_sent == 2
    clock.now += 300
    c.check()
    assert c.probes_sent == 3 == sim.stats.calls["ListarCategorias"]


def test_probe_ttl_is_never_below_65_seconds() -> None:
    assert HealthChecker(probe_ttl=1)._probe_ttl == 65


def test_unreachable_omie_probe_fails() -> None:
    port = free_port()  # nothing listens there
    c = checker(Clock(), app_used("k" * 13, "s" * 13), omie_url=f"http://127.0.0.1:{port}/api/", omie_probe=True,
                probe_timeout=1, probe_grace=0)
    omie = by_name(c.check())["omie_api"]
    assert omie.status == "fail" and "could not reach Omie" in omie.detail


# --- the gauge -------------------------------------------------------------------------------------------------------


def test_health_gauge_one_series_per_check_plus_overall(telemetry: Any) -> None:
    omie_otel.instrument(meter_provider=telemetry.meter_provider, health_memory_threshold=0,
                         health_disk_threshold=100, host_metrics=False, health_omie_probe=False)
    export_stats.record("traces", 1, False, time.time_ns())
    points = {p.attributes[sc.OMIE_OTEL_HEALTH_CHECK]: p.value for p in telemetry.points(sc.OMIE_OTEL_HEALTH_STATUS)}
    assert points == {"telemetry_export": 0.5, "memory": 0.0, "disk": 1.0, "overall": 0.0}  # omie_api unknown: no point


# --- HTTP: a real streamable-HTTP FastMCP server ---------------------------------------------------------------------


def subprocess_env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OMIE_"))}
    env.update(OTEL_SDK_DISABLED="true", PYTHONPATH=ROOT, **extra)
    return env


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_http_routes_200_then_503_after_an_omie_425_over_streamable_http() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, HEALTH_SERVER, "http", str(port)], env=subprocess_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        code, body = get(base + "/health/live")
        assert code == 200 and body["status"] == "ok" and set(body) == {"status", "uptime_seconds", "version"}
        code, body = get(base + "/health/ready")
        assert code == 200 and (body["status"], body["ready"]) == ("ok", True)
        assert [c["name"] for c in body["checks"]] == CHECKS

        async with Client(StreamableHttpTransport(base + "/mcp")) as client:
            assert (await client.call_tool("bloquear", {})).data == 425

        code, body = get(base + "/health/ready")
        assert code == 503 and (body["status"], body["ready"]) == ("fail", False)
        omie = next(c for c in body["checks"] if c["name"] == "omie_api")
        assert omie["status"] == "fail" and "HTTP 425 MISUSE_API_PROCESS" in omie["detail"]
        assert get(base + "/health/live")[0] == 200, "liveness does not follow readiness"
    finally:
        stop(proc)


def test_routes_are_added_to_each_server_and_removed_by_uninstrument(telemetry: Any) -> None:
    mine, other = FastMCP("a"), FastMCP("b")

    @other.custom_route("/health/live", methods=["GET"])
    async def own_live(request: Any) -> Any:  # the application's own route is left alone
        raise AssertionError

    omie_otel.instrument(meter_provider=telemetry.meter_provider, host_metrics=False)
    late = FastMCP("c")  # created after instrument(): routes too

    def paths(server: FastMCP) -> list[str]:
        return [r.path for r in server._additional_http_routes]

    assert paths(mine) == ["/health/live", "/health/ready"] == paths(late)
    assert paths(other) == ["/health/live", "/health/ready"]
    assert other._additional_http_routes[0].endpoint is own_live
    omie_otel.uninstrument()
    assert paths(mine) == [] and paths(other) == ["/health/live"]


def test_health_routes_false_adds_none(telemetry: Any) -> None:
    mcp = FastMCP("x")
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, host_metrics=False, health_routes=False)
    assert mcp._additional_http_routes == []


# --- stdio: the loopback listener ------------------------------------------------------------------------------------


def test_loopback_listener_serves_both_paths_and_stops_with_uninstrument(telemetry: Any) -> None:
    omie_otel.instrument(meter_provider=telemetry.meter_provider, host_metrics=False, health_port=0,
                         health_memory_threshold=0)
    url = health.listener_url()
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert get(url + "/health/live")[0] == 200
    code, body = get(url + "/health/ready")
    assert code == 503 and next(c for c in body["checks"] if c["name"] == "memory")["status"] == "fail"
    assert get(url + "/elsewhere")[0] == 404
    omie_otel.uninstrument()
    assert health.listener_url() is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/health/live", timeout=2)


async def test_stdio_server_with_health_port_answers_on_loopback_while_serving_mcp() -> None:
    port = free_port()
    transport = StdioTransport(
        command=sys.executable, args=[HEALTH_SERVER], env=subprocess_env(OMIE_OTEL_HEALTH_PORT=str(port)),
        keep_alive=False,
    )
    async with Client(transport) as client:
        code, body = get(f"http://127.0.0.1:{port}/health/ready")
        assert code == 200 and body["ready"] is True
        assert (await client.call_tool("bloquear", {})).data == 425  # stdout stayed clean: MCP still works
        code, body = get(f"http://127.0.0.1:{port}/health/ready")
        assert code == 503 and body["status"] == "fail"


def test_port_in_use_warns_and_the_server_carries_on(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        omie_otel.instrument(meter_provider=telemetry.meter_provider, host_metrics=False, health_port=port)
    assert health.listener_url() is None
    assert f"cannot serve health checks on 127.0.0.1:{port}" in caplog.text


# --- configuration ---------------------------------------------------------------------------------------------------


def test_thresholds_and_port_argument_beats_env_bad_env_warns_bad_argument_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from omie_otel._config import resolve_options

    env = {"OMIE_OTEL_HEALTH_MEMORY_THRESHOLD": "70%", "OMIE_OTEL_HEALTH_DISK_THRESHOLD": "95",
           "OMIE_OTEL_HEALTH_PORT": "8081"}
    opts = resolve_options(environ=env)
    assert (opts.health_memory_threshold, opts.health_disk_threshold, opts.health_port) == (70, 95, 8081)
    assert resolve_options(health_memory_threshold=50, environ=env).health_memory_threshold == 50
    defaults = resolve_options(environ={})
    assert (defaults.health_memory_threshold, defaults.health_disk_threshold, defaults.health_port) == (85, 90, None)
    with caplog.at_level("WARNING", logger="omie_otel"):
        opts = resolve_options(environ={"OMIE_OTEL_HEALTH_MEMORY_THRESHOLD": "0.85", "OMIE_OTEL_HEALTH_PORT": "x"})
    assert (opts.health_memory_threshold, opts.health_port) == (85, None)
    assert "OMIE_OTEL_HEALTH_MEMORY_THRESHOLD='0.85' is not a percentage from 0 to 100; write 85" in caplog.text
    assert "OMIE_OTEL_HEALTH_PORT='x' is not a TCP port" in caplog.text
    with pytest.raises(ValueError, match=r"health_disk_threshold=0.9 is not a percentage .* \(not 0.85\)"):
        resolve_options(health_disk_threshold=0.9, environ={})
    with pytest.raises(ValueError, match="health_port=70000 is not a TCP port"):
        resolve_options(health_port=70000, environ={})
    with pytest.raises(ValueError, match="alertmanager_url='am:9093' is not an http"):
        resolve_options(alertmanager_url="am:9093", environ={})
