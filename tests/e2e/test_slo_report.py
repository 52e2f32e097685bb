"""``omie-otel slo report`` against the real Prometheus of the session stack, after real traffic: a FastMCP server
instrumented by omie-otel (tests/e2e/omie_probe.py) calls the Omie simulator, with two 425s among its calls.

Every number of the report equals a PromQL query written here from the raw metrics (not from the recording rules the
report reads), evaluated at the same instant over the same window; an empty month says "sem dados" and exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from omie_otel._slo_report import main as report_main

pytestmark = pytest.mark.e2e

PROBE = Path(__file__).with_name("omie_probe.py")
WINDOW = "[2592000s]"  # the last 30 days, as the report without --month


def _value(prometheus: str, query: str, at: datetime) -> float | None:
    r = httpx.get(f"{prometheus}/api/v1/query", params={"query": query, "time": f"{at.timestamp():.3f}"}, timeout=30)
    r.raise_for_status()
    result = r.json()["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def _direct(prometheus: str, job: str, at: datetime) -> dict[str, dict[str, float | None]]:
    """Bad-event ratio and event count of each SLO, from the raw series."""
    mcp = f'mcp_server_operation_duration_seconds_count{{job="{job}"}}'
    mcp_bad = f'mcp_server_operation_duration_seconds_count{{job="{job}",error_type!=""}}'
    calls = f'mcp_server_operation_duration_seconds_count{{job="{job}",mcp_method_name="tools/call"}}'
    fast = f'mcp_server_operation_duration_seconds_bucket{{job="{job}",mcp_method_name="tools/call",le="2"}}'
    omie = f'omie_client_request_duration_seconds_count{{job="{job}"}}'
    omie_bad = f'omie_client_request_duration_seconds_count{{job="{job}",error_type!=""}}'

    def inc(selector: str) -> str:
        return f"sum(increase({selector}{WINDOW}))"

    def q(expr: str) -> float | None:
        return _value(prometheus, expr, at)

    return {
        "mcp-availability": {"bad_ratio": q(f"({inc(mcp_bad)} or vector(0)) / {inc(mcp)}"), "events": q(inc(mcp))},
        "mcp-latency": {"bad_ratio": q(f"1 - {inc(fast)} / {inc(calls)}"), "events": q(inc(calls))},
        "omie-api-success": {"bad_ratio": q(f"({inc(omie_bad)} or vector(0)) / {inc(omie)}"), "events": q(inc(omie))},
        "mcp-uptime": {
            "bad_ratio": q(f'1 - avg_over_time(job:omie_otel_service_up:bool{{job="{job}"}}{WINDOW})'),
            "events": None,
        },
    }


def test_the_report_equals_direct_promql_after_real_traffic(stack: Any, eventually: Any, capsys: Any) -> None:
    service = f"slo-report-e2e-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, str(PROBE), "--endpoint", stack.otlp_http_endpoint, "--service", service,
         "--calls", "6", "--faults", "misuse_blocked,misuse_blocked,no_records", "--pause", "1.2", "--hold", "4"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    # Until every SLO has data (the uptime record is evaluated every few seconds by Prometheus) and the last samples
    # the collector was still remote-writing have landed: the same instant, queried twice, gives the same numbers.
    def every_slo_has_data() -> bool:
        direct = _direct(stack.prometheus_url, service, datetime.now(timezone.utc))
        return all(v["bad_ratio"] is not None for v in direct.values())

    eventually(every_slo_has_data, timeout=90, interval=2, what=f"every SLO of {service} in Prometheus")
    at = datetime.now(timezone.utc)
    previous: dict[str, Any] = {}

    def settled() -> dict[str, Any] | None:
        nonlocal previous
        current = _direct(stack.prometheus_url, service, at)
        done = current == previous and all(v["bad_ratio"] is not None for v in current.values())
        previous = current
        return current if done else None

    direct = eventually(settled, timeout=60, interval=3, what="the same numbers twice")

    capsys.readouterr()
    assert (
        report_main(["report", "--prometheus", stack.prometheus_url, "--service", service, "--format", "json"], now=at)
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["has_data"] is True and list(report["services"]) == [service]
    rows = {r["slo"]: r for r in report["services"][service]}
    for name, expected in direct.items():
        assert rows[name]["bad_ratio"] == pytest.approx(expected["bad_ratio"], rel=1e-9, abs=1e-12), name
        if expected["events"] is None:
            assert rows[name]["events"] is None
        else:
            assert rows[name]["events"] == pytest.approx(expected["events"], rel=1e-9), name
    # The traffic itself: two 425s among 9 tool calls (the 5113 "no records" is a success), all answered fast. rate()
    # counts from a series' second sample (slo.rules.yml), so only the second 425 (a later export) is counted.
    availability = rows["mcp-availability"]
    assert availability["bad_ratio"] > 0.01 and availability["met"] is False
    assert availability["budget_spent"] == pytest.approx(availability["bad_ratio"] / 0.01)
    assert rows["mcp-latency"]["bad_ratio"] == 0 and rows["mcp-latency"]["met"] is True
    assert rows["omie-api-success"]["met"] is False
    # Uptime is only compared with PromQL above: the 425 makes the server "not ready", but whether a rule evaluation
    # (every 5 s) saw that before the report's instant is a matter of timing.


def test_the_cli_prints_portuguese_and_an_empty_month_says_sem_dados(stack: Any) -> None:
    env = {**os.environ, "LANG": "pt_BR.UTF-8"}
    cli = [sys.executable, "-m", "omie_otel", "slo", "report", "--prometheus", stack.prometheus_url]

    empty = subprocess.run(
        [*cli, "--month", "2020-01"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert empty.returncode == 0, empty.stderr
    assert "Período: 2020-01 (01/01/2020 00:00 UTC a 01/02/2020 00:00 UTC)" in empty.stdout
    assert "Sem dados" in empty.stdout and "de nenhum serviço" in empty.stdout

    nobody = subprocess.run(
        [*cli, "--service", "ninguem-usa-este-nome", "--format", "md"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert nobody.returncode == 0, nobody.stderr
    assert "Sem dados" in nobody.stdout and "para o serviço ninguem-usa-este-nome" in nobody.stdout

    english = subprocess.run(
        [*cli, "--month", "2020-01"], env={**env, "LANG": "en_US.UTF-8"}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert english.returncode == 0 and "No data" in english.stdout
