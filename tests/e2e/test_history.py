"""History that survives, and a rehearsed disaster recovery, on the real stack.

These tests stop, wipe and restore a stack, so they never touch the session's shared stack: they start their own,
at ``OMIE_OTEL_E2E_PORT_OFFSET + 150`` (``OMIE_OTEL_E2E_HISTORY_PORT_OFFSET`` overrides it), with its own state
directory, and stop it at the end of the module.

- a restart (``scripts/stack.sh down`` + ``up``, what ``make stack-down`` / ``make stack-up`` run) keeps the trace in
  Jaeger (Badger), the series in Prometheus, the log line in VictoriaLogs and an active silence in Alertmanager;
- the disaster drill: data in, ``scripts/backup.sh``, more data, the stack dies and every data directory is deleted,
  ``scripts/restore.sh`` into the empty stack; what was written before the backup is back, what was written after it
  is lost; the test prints the time to recover (RTO, the plan's target is 15 minutes) and the data lost (RPO).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.sdk_pipeline import sdk_pipeline

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "scripts" / "stack.sh"
OFFSET = int(
    os.environ.get(
        "OMIE_OTEL_E2E_HISTORY_PORT_OFFSET", str(int(os.environ.get("OMIE_OTEL_E2E_PORT_OFFSET", "20000")) + 150)
    )
)
STACK_DIR = ROOT / ".stack" / f"run-{OFFSET}"
RTO_TARGET_S = 15 * 60


def _run(*cmd: str, fresh: bool = False, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STACK_PORT_OFFSET": str(OFFSET),
        "STACK_DIR": str(STACK_DIR),
        "STACK_FRESH": "1" if fresh else "0",
    }
    return subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _stack(*args: str, fresh: bool = False) -> subprocess.CompletedProcess[str]:
    return _run(str(STACK_SH), *args, fresh=fresh)


@dataclasses.dataclass(frozen=True)
class OwnStack:
    env: dict[str, str]

    @property
    def otlp(self) -> str:
        return self.env["OTELCOL_OTLP_HTTP_ENDPOINT"]

    @property
    def jaeger(self) -> str:
        return self.env["JAEGER_QUERY_URL"]

    @property
    def prometheus(self) -> str:
        return self.env["PROMETHEUS_URL"]

    @property
    def alertmanager(self) -> str:
        return self.env["ALERTMANAGER_URL"]

    @property
    def victorialogs(self) -> str:
        return self.env["VICTORIALOGS_URL"]


def _env_file() -> dict[str, str]:
    lines = (STACK_DIR / "env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def own_stack(stack_binaries: Path) -> Any:
    result = _stack("up", fresh=True)
    if result.returncode != 0:
        _stack("down")
        pytest.fail(f"scripts/stack.sh up (offset {OFFSET}) failed:\n{result.stderr[-6000:]}", pytrace=False)
    try:
        yield OwnStack(_env_file())
    finally:
        if os.environ.get("OMIE_OTEL_E2E_KEEP_STACK") != "1":
            _stack("down")


# --- writing and finding one of everything --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Written:
    service: str
    phase: str
    marker: str
    trace_id: str
    span_id: str
    silence_id: str
    at: float


def _write(stack: OwnStack, service: str, phase: str) -> Written:
    """One span, one counter series, one log line through the collector, and one silence in Alertmanager."""
    from opentelemetry._logs import SeverityNumber

    marker = f"history-{phase}-{uuid.uuid4().hex[:12]}"
    tracer_provider, meter_provider, logger_provider, logger = sdk_pipeline(stack.otlp, service)
    try:
        with tracer_provider.get_tracer("history.e2e").start_as_current_span(
            f"history {phase}", attributes={"history.marker": marker}
        ) as span:
            logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body=f"marcador {marker}")
            ctx = span.get_span_context()
        meter_provider.get_meter("history.e2e").create_counter("history.e2e.writes").add(3, {"phase": phase})
        assert meter_provider.force_flush(10_000)
        assert tracer_provider.force_flush(10_000)
        assert logger_provider.force_flush(10_000)
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()
    now = datetime.now(timezone.utc)
    silence = httpx.post(
        f"{stack.alertmanager}/api/v2/silences",
        json={
            "matchers": [{"name": "job", "value": service, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=2)).isoformat(),
            "createdBy": "tests/e2e/test_history.py",
            "comment": f"silêncio {marker}",
        },
        timeout=10,
    )
    silence.raise_for_status()
    return Written(
        service,
        phase,
        marker,
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        silence.json()["silenceID"],
        time.time(),
    )


def _trace(stack: OwnStack, w: Written) -> bool:
    r = httpx.get(f"{stack.jaeger}/api/traces/{w.trace_id}", timeout=10)
    if r.status_code == 404:
        return False
    r.raise_for_status()
    spans = [s for t in r.json()["data"] for s in t["spans"]]
    return [s["spanID"] for s in spans] == [w.span_id]


def _series(stack: OwnStack, w: Written) -> bool:
    query = f'last_over_time(history_e2e_writes_total{{job="{w.service}",phase="{w.phase}"}}[1h])'
    r = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": query}, timeout=10)
    r.raise_for_status()
    return [float(s["value"][1]) for s in r.json()["data"]["result"]] == [3.0]


def _log(stack: OwnStack, w: Written) -> bool:
    r = httpx.post(
        f"{stack.victorialogs}/select/logsql/query", data={"query": f'"{w.marker}"', "limit": "10"}, timeout=10
    )
    r.raise_for_status()
    records = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return [(x["_msg"], x["service.name"], x["trace_id"]) for x in records] == [
        (f"marcador {w.marker}", w.service, w.trace_id)
    ]


def _silence(stack: OwnStack, w: Written) -> bool:
    r = httpx.get(f"{stack.alertmanager}/api/v2/silence/{w.silence_id}", timeout=10)
    if r.status_code == 404:
        return False
    r.raise_for_status()
    body = r.json()
    return body["status"]["state"] == "active" and body["comment"] == f"silêncio {w.marker}"


CHECKS = {
    "trace in Jaeger": _trace,
    "series in Prometheus": _series,
    "log line in VictoriaLogs": _log,
    "silence in Alertmanager": _silence,
}


def _all_there(stack: OwnStack, w: Written, eventually: Any, timeout: float = 90) -> None:
    for what, check in CHECKS.items():
        eventually(lambda c=check: c(stack, w), timeout=timeout, what=f"{w.phase}: the {what}")


def _none_there(stack: OwnStack, w: Written) -> dict[str, bool]:
    return {what: check(stack, w) for what, check in CHECKS.items()}


# --- the tests ----------------------------------------------------------------------------------------------------


def test_history_survives_a_restart_of_the_whole_stack(own_stack: OwnStack, eventually: Any) -> None:
    written = _write(own_stack, f"history-restart-{uuid.uuid4().hex[:8]}", "restart")
    _all_there(own_stack, written, eventually)

    # Exactly what an operator runs (the Makefile passes STACK_PORT_OFFSET/STACK_DIR through to scripts/stack.sh).
    down = _run("make", "-s", "-C", str(ROOT), "stack-down")
    assert down.returncode == 0, down.stderr
    assert _stack("status").returncode != 0  # really stopped
    up = _run("make", "-s", "-C", str(ROOT), "stack-up")  # STACK_FRESH=0: keep the data
    assert up.returncode == 0, up.stderr[-4000:]
    again = OwnStack(_env_file())
    assert again == own_stack  # same endpoints

    _all_there(again, written, eventually, timeout=60)


def test_disaster_drill_backup_wipe_restore(own_stack: OwnStack, eventually: Any, tmp_path: Path) -> None:
    service = f"history-drill-{uuid.uuid4().hex[:8]}"
    before = _write(own_stack, service, "before")
    _all_there(own_stack, before, eventually)

    backup_started = time.time()
    backup = _run(str(ROOT / "scripts" / "backup.sh"), str(tmp_path))
    assert backup.returncode == 0, backup.stderr[-4000:]
    backup_s = time.time() - backup_started
    archive = Path(backup.stdout.strip().splitlines()[-1])
    assert archive.is_file() and Path(f"{archive}.sha256").is_file()
    # The running stack came back from the pause of the copies.
    assert _stack("status").returncode == 0, _stack("status").stdout

    after = _write(own_stack, service, "after")  # the data a backup taken before it cannot have
    _all_there(own_stack, after, eventually)

    # Disaster: the stack dies and every data directory is lost.
    disaster_at = time.time()
    assert _stack("down").returncode == 0
    shutil.rmtree(STACK_DIR / "data")
    assert not (STACK_DIR / "data").exists()

    recovery_started = time.monotonic()
    restore = _run(str(ROOT / "scripts" / "restore.sh"), str(archive))
    assert restore.returncode == 0, restore.stderr[-4000:]
    restored = OwnStack(_env_file())
    _all_there(restored, before, eventually, timeout=RTO_TARGET_S)
    rto_s = time.monotonic() - recovery_started

    lost = _none_there(restored, after)
    assert lost == dict.fromkeys(CHECKS, False), f"written after the backup, yet restored: {lost}"
    rpo_s = disaster_at - backup_started
    print(
        f"\nDisaster drill (offset {OFFSET}): backup {backup_s:.1f} s, archive {archive.stat().st_size} bytes; "
        f"RTO (restore.sh until every store answers with the data) {rto_s:.1f} s, target {RTO_TARGET_S} s; "
        f"RPO {rpo_s:.1f} s: everything written between the backup and the disaster is lost "
        f"(its trace, series, log line and silence are all gone, as expected)\n"
        f"backup.sh said:\n{backup.stderr}restore.sh said:\n{restore.stderr}"
    )
    assert rto_s < RTO_TARGET_S
