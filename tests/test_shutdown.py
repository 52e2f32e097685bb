"""Shutdown is bounded: a closed, black-holed or slow collector never makes uninstrument() or exit hang.

Each case starts a real Python child (tests/servers/shutdown_child.py) that configures the SDK from OTEL_* (so
omie-otel owns the providers), instruments a FastMCP server and makes 50 tool calls that log, then either times
``uninstrument()`` or just exits; the wall time is measured here. The bound (5 s by default) is the issue's
requirement, so these are the few timed assertions of the suite; the margins are generous against a busy machine.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from omie_otel import semconv as sc
from omie_otel._export_counting import CountingSpanExporter
from omie_otel._selftelemetry import drops
from omie_otel._setup import Providers
from omie_otel._shutdown import flush, run_bounded, shutdown_at_exit
from tests.helpers.net import free_port
from tests.helpers.otlp_sink import otlp_sink

CHILD = Path(__file__).parent / "servers" / "shutdown_child.py"
ROOT = Path(__file__).parent.parent
BOUND_S = 5.0  # the bound for the default shutdown_timeout (2 s)


@contextmanager
def black_hole() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


@contextmanager
def collector(state: str) -> Iterator[str]:
    if state == "closed":
        yield f"http://127.0.0.1:{free_port()}"
    elif state == "black_holed":
        with black_hole() as url:
            yield url
    else:  # slow: answers every export, 4 s late (longer than the whole default budget of 2 s)
        with otlp_sink() as sink:
            sink.delay = 4.0
            yield sink.url


def _start(mode: str, endpoint: str, **extra_env: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": f"shutdown-{mode}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        # Keep everything queued until shutdown, the worst case for a flush.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
        "OTEL_BLRP_SCHEDULE_DELAY": "600000",
        "PYTHONPATH": str(ROOT),
        "OMIE_OTEL_SHUTDOWN_TIMEOUT": "",  # the default, whatever the caller's environment says
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _measure(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Seconds from the end of the calls to exit, the child's own uninstrument() time, and its stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    assert line.strip() == "calls-done", (line, proc.stderr.read() if proc.poll() is not None else "")
    calls_done = time.monotonic()
    out: dict[str, Any] = {}
    try:
        rest, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, err = proc.communicate()
        pytest.fail(f"the child did not exit 60 s after its calls: {err[-2000:]}")
    out["exit_s"] = time.monotonic() - calls_done
    for row in rest.splitlines():
        if row.startswith("uninstrument "):
            out["uninstrument_s"] = float(row.split()[1])
    out["stderr"] = err
    out["returncode"] = proc.returncode
    return out


@pytest.mark.parametrize("state", ["closed", "black_holed", "slow"])
def test_uninstrument_and_exit_are_bounded(state: str) -> None:
    with collector(state) as endpoint:
        # One child at a time: two at once on a small shared machine measure CPU contention, not our bound.
        results = {mode: _measure(_start(mode, endpoint)) for mode in ("uninstrument", "exit")}
    un, ex = results["uninstrument"], results["exit"]
    print(f"{state}: uninstrument {un['uninstrument_s']:.2f} s; exit while instrumented {ex['exit_s']:.2f} s; "
          f"exit after uninstrument {un['exit_s'] - un['uninstrument_s']:.2f} s")
    assert un["returncode"] == 0 and ex["returncode"] == 0, (un["stderr"][-2000:], ex["stderr"][-2000:])
    assert un["uninstrument_s"] < BOUND_S
    assert ex["exit_s"] < BOUND_S
    # After uninstrument() the exit hook gets its own budget: the exit itself is bounded too.
    assert un["exit_s"] - un["uninstrument_s"] < BOUND_S
    # Nothing reached a collector, so what was queued is reported lost, once.
    assert ex["stderr"].count("telemetry lost at exit") == 1, ex["stderr"][-3000:]
    assert "spans" in ex["stderr"] and "log records" in ex["stderr"]


def test_shutdown_timeout_is_configurable() -> None:
    with collector("slow") as endpoint:
        proc = _start("uninstrument", endpoint, OMIE_OTEL_SHUTDOWN_TIMEOUT="0.5")
        result = _measure(proc)
    assert result["returncode"] == 0, result["stderr"][-2000:]
    assert result["uninstrument_s"] < 0.5 + 1.5
    assert "did not finish within 0.5 s" in result["stderr"]


def test_a_reachable_collector_gets_everything_and_nothing_is_reported_lost() -> None:
    with otlp_sink() as sink:
        proc = _start("exit", sink.url)
        result = _measure(proc)
        assert result["returncode"] == 0, result["stderr"][-2000:]
        assert "telemetry lost" not in result["stderr"]
        tools = [s for s in sink.spans if s["name"] == "tools/call somar" and s["kind"] == 2]  # SERVER
        assert len(tools) == 50
        assert len([r for r in sink.logs if "somando" in str(r["body"])]) == 50


# --- the pieces, in process ----------------------------------------------------------------------------------------


class _Hanging:
    """An exporter (or provider) that blocks until released: a collector that never answers."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Any) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.release.wait(30)
        return True

    def shutdown(self, **kwargs: Any) -> None:
        self.release.wait(30)


def test_run_bounded_returns_at_the_deadline_with_the_late_jobs() -> None:
    hanging = _Hanging()
    start = time.monotonic()
    late = run_bounded({"fast": lambda: None, "slow": hanging.force_flush}, 0.3)
    elapsed = time.monotonic() - start
    hanging.release.set()
    assert late == {"slow"}
    assert elapsed < 2.0


def test_flush_gives_up_at_the_deadline_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    hanging = _Hanging()
    providers = Providers(hanging, hanging, hanging, owned=True)
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        start = time.monotonic()
        assert flush(providers, 0.3) is False
        elapsed = time.monotonic() - start
    hanging.release.set()
    assert elapsed < 2.0
    assert "did not finish within 0.3 s" in caplog.text


def test_what_is_still_queued_at_exit_is_counted_as_dropped(caplog: pytest.LogCaptureFixture) -> None:
    hanging = _Hanging()
    tp = TracerProvider(shutdown_on_exit=False)
    tp.add_span_processor(BatchSpanProcessor(CountingSpanExporter(hanging), max_export_batch_size=4,
                                             schedule_delay_millis=10))
    tracer = tp.get_tracer("t")
    for i in range(10):
        tracer.start_span(f"s{i}").end()
    time.sleep(0.2)  # the worker has handed a first batch to the hanging exporter
    before = drops.snapshot().get(("traces", sc.DROP_SHUTDOWN), 0)
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        lost = shutdown_at_exit(Providers(tp, None, None, owned=True), 0.3)
    hanging.release.set()
    assert lost == {"traces": 10}  # 4 in flight + 6 queued
    assert drops.snapshot()[("traces", sc.DROP_SHUTDOWN)] - before == 10
    assert caplog.text.count("telemetry lost at exit: 10 spans") == 1


def test_the_exporters_own_log_records_never_feed_the_log_pipeline(telemetry: Any) -> None:
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

    from omie_otel.logs import LogBridge
    from omie_otel.redaction import Scrubber

    bridge = LogBridge(telemetry.logger_provider, logging.INFO, Scrubber(), fmt="text")
    bridge.start()
    try:
        telemetry.logs.clear()
        logging.getLogger("opentelemetry.exporter.otlp.proto.http._log_exporter").warning("Transient error, retrying")
        logging.getLogger("opentelemetry.sdk._shared_internal").warning("Queue full, dropping log records")
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # what a batch processor sets around export()
        try:
            logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken")
        finally:
            detach(token)
        logging.getLogger("app.tools").warning("kept")
    finally:
        bridge.stop()
    assert [r.body for r in telemetry.log_records()] == ["kept"]


def test_uninstrument_does_not_hold_the_lock_while_it_waits(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    import omie_otel
    import omie_otel._lifecycle as inst

    hanging = _Hanging()
    tp = TracerProvider(shutdown_on_exit=False)
    tp.add_span_processor(BatchSpanProcessor(hanging, schedule_delay_millis=600_000))
    owned = Providers(tp, telemetry.meter_provider, telemetry.logger_provider, owned=True)
    monkeypatch.setattr(inst, "_resolve_providers", lambda *args, **kwargs: owned)
    omie_otel.instrument(shutdown_timeout=10, host_metrics=False)
    monkeypatch.undo()
    tp.get_tracer("t").start_span("queued").end()
    stopping = threading.Thread(target=omie_otel.uninstrument)
    stopping.start()
    try:
        time.sleep(0.3)  # uninstrument() now waits for a flush that hangs
        start = time.monotonic()
        omie_otel.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
                             logger_provider=telemetry.logger_provider, host_metrics=False)
        elapsed = time.monotonic() - start
        assert inst.is_instrumented()
        assert elapsed < 3.0  # not the 10 s the hanging flush may take
    finally:
        hanging.release.set()
        stopping.join(15)
    assert not stopping.is_alive()
    # The late uninstrument() did not undo the new instrumentation's patches.
    assert inst.is_instrumented() and hasattr(httpx.Client.send, "__wrapped__")
    omie_otel.uninstrument()
    assert not hasattr(httpx.Client.send, "__wrapped__")
