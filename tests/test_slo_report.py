"""``omie-otel slo report``: period, arithmetic, languages and failures, against a Prometheus HTTP API in memory
(httpx.MockTransport answering /api/v1/rules and /api/v1/query). The e2e twin (tests/e2e/test_slo_report.py) runs
against the real Prometheus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from omie_otel import slo
from omie_otel.__main__ import main as cli_main
from omie_otel._slo_report import ReportError, build_report, main, period_for, render

NOW = datetime(2026, 12, 3, 7, 0, tzinfo=timezone.utc)
URL = "http://prom.test:9090"


def _rules() -> dict[str, Any]:
    """Recording rules as /api/v1/rules lists them: the 30d SLI rules and the 6h event counts."""
    rules = []
    for s in slo.SLOS:
        rules.append({"type": "recording", "name": s.error_ratio_record + "30d", "query": f"bad_{s.name}[30d]"})
        if s.requests_record:
            rules.append({"type": "recording", "name": s.requests_record + "6h", "query": f"events_{s.name}[6h]"})
    return {"status": "success", "data": {"groups": [{"name": "omie-otel.slo", "rules": rules}]}}


class FakePrometheus:
    """Values per (metric prefix, job); records every query with its evaluation time."""

    def __init__(self, values: dict[str, dict[str, float | str]], rules: dict[str, Any] | None = None) -> None:
        self.values = values
        self.rules = rules if rules is not None else _rules()
        self.queries: list[tuple[str, float]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        if request.url.path == "/api/v1/rules":
            return httpx.Response(200, json=self.rules)
        assert request.url.path == "/api/v1/query"
        expr, at = params["query"], float(params["time"])
        self.queries.append((expr, at))
        name = expr.split("[")[0]
        result = [{"metric": {"job": job}, "value": [at, str(v)]} for job, v in self.values.get(name, {}).items()]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


@pytest.fixture(autouse=True)
def portuguese(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LANG", "pt_BR.UTF-8")
    yield


def test_a_month_is_the_calendar_month_and_a_running_month_ends_now() -> None:
    november = period_for("2026-11", NOW)
    assert (november.start, november.end, november.month_end) == (
        datetime(2026, 11, 1, tzinfo=timezone.utc),
        datetime(2026, 12, 1, tzinfo=timezone.utc),
        None,
    )
    assert november.seconds == 30 * 86400
    february = period_for("2024-02", NOW)
    assert february.seconds == 29 * 86400  # leap year
    december = period_for("2026-12", NOW)
    assert december.end == NOW and december.month_end == datetime(2027, 1, 1, tzinfo=timezone.utc)
    last = period_for(None, NOW)
    assert last.end == NOW and last.seconds == 30 * 86400


@pytest.mark.parametrize("month", ["2026-13", "11/2026", "2026-1", "novembro", ""])
def test_a_bad_month_is_refused_naming_it_and_the_format(month: str) -> None:
    with pytest.raises(ReportError, match=r"AAAA-MM.*2026-11"):
        period_for(month, NOW)


def test_a_future_month_is_refused() -> None:
    with pytest.raises(ReportError, match="ainda não começou"):
        period_for("2027-01", NOW)


def test_every_slo_is_computed_from_its_rule_over_the_period_at_its_end() -> None:
    prom = FakePrometheus(
        {
            "bad_mcp-availability": {"svc": 0.005, "other": 0.02},
            "events_mcp-availability": {"svc": 1000, "other": 50},
            "bad_mcp-latency": {"svc": 0.05},
            "events_mcp-latency": {"svc": 400},
            "bad_omie-api-success": {"svc": "NaN"},  # 0/0: no Omie calls at all
            "bad_mcp-uptime": {"svc": 0.0},
        }
    )
    period = period_for("2026-11", NOW)
    report = build_report(URL, period, client=prom.client())

    assert sorted(report.services) == ["other", "svc"]
    # Every query is the rule's expression with [30d] or [6h] replaced by the month, evaluated at its end.
    assert {expr.split("[")[1] for expr, _ in prom.queries} == {f"{30 * 86400}s]"}
    assert {at for _, at in prom.queries} == {period.end.timestamp()}

    avail, latency, omie, uptime = report.services["svc"]
    assert avail.slo == "mcp-availability" and avail.sli == pytest.approx(0.995)
    assert avail.budget_spent == pytest.approx(0.5) and avail.budget_left == pytest.approx(0.5)
    assert avail.bad_events == pytest.approx(5) and avail.met is True
    assert latency.budget_spent == pytest.approx(1.0) and latency.met is True  # exactly on the objective
    assert omie.has_data is False and omie.met is None
    assert uptime.sli == 1.0 and uptime.events is None and uptime.met is True
    other = report.services["other"][0]
    assert other.budget_spent == pytest.approx(2.0) and other.budget_left == pytest.approx(-1.0) and other.met is False


def test_the_text_report_is_portuguese_with_decimal_commas() -> None:
    prom = FakePrometheus({"bad_mcp-availability": {"svc": 0.02}, "events_mcp-availability": {"svc": 12345}})
    text = render(build_report(URL, period_for("2026-11", NOW), "svc", client=prom.client()))
    assert "Relatório de SLA" in text and "Período: 2026-11 (01/11/2026 00:00 UTC a 01/12/2026 00:00 UTC)" in text
    line = next(row for row in text.splitlines() if "mcp-availability" in row)
    assert "99,00 %" in line and "98,000 %" in line and "200,0 %" in line and "-100,0 %" in line
    assert "12.345 (247)" in line and "NÃO cumprido" in line
    assert "mcp-latency" in text and "sem dados" in next(r for r in text.splitlines() if "mcp-latency" in r)


def test_english_when_lang_is_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    prom = FakePrometheus({"bad_mcp-availability": {"svc": 0.001}, "events_mcp-availability": {"svc": 1000}})
    text = render(build_report(URL, period_for("2026-12", NOW), client=prom.client()))
    assert "SLA report" in text and "month in progress: data up to 2026-12-03 07:00 UTC" in text
    line = next(row for row in text.splitlines() if "mcp-availability" in row)
    assert "99.900 %" in line and "10.0 %" in line and line.endswith("met")


def test_markdown_and_json_carry_the_same_numbers() -> None:
    prom = FakePrometheus({"bad_mcp-uptime": {"svc": 0.01}})
    report = build_report(URL, period_for(None, NOW), client=prom.client())
    md = render(report, "md")
    assert (
        "## Serviço: `svc`" in md
        and "| mcp-uptime | 99,50 % | 99,000 % | 200,0 % | -100,0 % | — | NÃO cumprido |" in md
    )
    data = json.loads(render(report, "json"))
    uptime = data["services"]["svc"][3]
    assert uptime["slo"] == "mcp-uptime" and uptime["bad_ratio"] == 0.01 and uptime["met"] is False
    assert uptime["budget_spent"] == pytest.approx(2.0) and data["period"]["partial"] is False


def test_an_empty_month_says_sem_dados_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    prom = FakePrometheus({})
    report = build_report(URL, period_for("2026-10", NOW), client=prom.client())
    assert report.services == {} and not report.has_data
    assert "Sem dados" in render(report) and "de nenhum serviço" in render(report)
    assert json.loads(render(report, "json"))["has_data"] is False
    # And a named service that has no data gets its rows, each "sem dados".
    named = build_report(URL, period_for("2026-10", NOW), "ninguem", client=prom.client())
    assert [r.has_data for r in named.services["ninguem"]] == [False] * len(slo.SLOS)
    assert "para o serviço ninguem" in render(named)


def test_missing_rules_are_a_clear_error() -> None:
    prom = FakePrometheus({}, rules={"status": "success", "data": {"groups": []}})
    with pytest.raises(
        ReportError, match=r"não tem a regra job:mcp_server_operation_errors:ratio_rate30d.*slo\.rules\.yml"
    ):
        build_report(URL, period_for(None, NOW), client=prom.client())


def test_an_unreachable_prometheus_is_a_clear_error_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--prometheus", "http://127.0.0.1:9"], now=NOW) == 1
    err = capsys.readouterr().err
    assert "não consegui consultar o Prometheus em http://127.0.0.1:9" in err and "scripts/stack.sh status" in err


def test_prometheus_errors_are_reported_with_its_message() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "error": "bad_data: parse error"})

    with pytest.raises(ReportError, match="HTTP 400: bad_data: parse error"):
        build_report(URL, period_for(None, NOW), client=httpx.Client(transport=httpx.MockTransport(broken)))


def test_the_cli_dispatches_and_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["slo", "report", "--prometheus", URL, "--month", "2026-13"]) == 1
    assert "--month '2026-13' inválido" in capsys.readouterr().err
    assert cli_main(["slo", "relatorio"]) == 2
    with pytest.raises(SystemExit):
        cli_main(["slo", "report", "--format", "xml", "--prometheus", URL])


def test_help_and_usage_errors_follow_lang(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    with pytest.raises(SystemExit):
        main(["report"])
    assert "falta --prometheus URL" in capsys.readouterr().err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "SLA report of a calendar month" in capsys.readouterr().out
