"""``omie-otel dashboard``: panel definitions from the Grafana JSON, variable substitution, the queries one refresh
costs, the read-only routes, the token, and what the page gets when a backend fails.

The backends here are ``httpx.MockTransport`` handlers (in memory): they check what our server asks and how it turns
answers and failures into JSON. The real backends are exercised by tests/e2e/test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omie_otel.dashboard import _panels
from omie_otel.dashboard.__main__ import main as dashboard_main
from omie_otel.dashboard._backends import Backends
from omie_otel.dashboard._panels import load_dashboard, rate_interval, step_for, substitute
from omie_otel.dashboard._server import STATIC, DashboardServer, is_loopback, parse_range

ROOT = Path(__file__).resolve().parents[1]
GRAFANA_JSON = ROOT / "collector-config" / "grafana" / "dashboards" / "omie-mcp.json"
TOKEN = "s3cret-token-for-tests-0123456789"

Handler = Callable[[httpx.Request], httpx.Response]


# --- the one definition -------------------------------------------------------------------------------------------
def test_panels_are_the_grafana_dashboards_panels() -> None:
    model = json.loads(GRAFANA_JSON.read_text())
    grafana = [p for p in model["panels"] if p["type"] != "row"]
    dashboard = load_dashboard(GRAFANA_JSON)
    assert _panels.dashboard_path().samefile(GRAFANA_JSON)  # a source checkout reads the repository's file
    assert [r["title"] for r in model["panels"] if r["type"] == "row"] == list(dashboard.rows)
    assert {p["id"] for p in grafana} == {p.id for p in dashboard.panels}
    for raw in grafana:
        panel = dashboard.panel(raw["id"])
        assert panel is not None
        assert (panel.title, panel.type) == (raw["title"], raw["type"])
        assert panel.unit == raw["fieldConfig"]["defaults"].get("unit", "none")
        assert panel.thresholds == raw["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
        assert [t.expr for t in panel.targets] == [t["expr"] for t in raw["targets"]]
        assert [t.instant for t in panel.targets] == [bool(t.get("instant")) for t in raw["targets"]]
    assert dashboard.query_count() == sum(len(p["targets"]) for p in grafana)
    assert dashboard.service_query == ("mcp_server_operation_duration_seconds_count", "job")
    # Panels are grouped by the row above them, in the order Grafana lays them out.
    latency = next(p for p in dashboard.panels if "Latência de tools/call" in p.title)
    assert latency.row == "Servidor MCP" and [t.ref_id for t in latency.targets] == ["A", "B", "C"]


def test_substitution_as_grafana_does_it() -> None:
    expr = 'sum(rate(x{job=~"$job"}[$__rate_interval])) / ${job} $__range $__interval $jobs'
    assert substitute(expr, services=[], all_value=".+", range_s=3600, step_s=15) == (
        'sum(rate(x{job=~".+"}[240s])) / .+ 3600s 15s $jobs'
    )
    # Chosen services are regexes, escaped (and escaped again for the PromQL string), joined with |.
    out = substitute('x{job=~"$job"}', services=["svc.a", 'b"c'], all_value=".+", range_s=900, step_s=15)
    assert out == 'x{job=~"svc\\\\.a|b\\"c"}'
    assert step_for(900) == 15 and step_for(2592000) == 10800 and step_for(86400) == 360
    assert rate_interval(15) == 240 and rate_interval(10800) == 10860


def test_parse_range_and_loopback() -> None:
    assert parse_range("15m") == 900 and parse_range("30d") == 2592000 and parse_range("") == 3600
    with pytest.raises(ValueError, match=r"'2y'.*15m, 1h"):
        parse_range("2y")
    assert is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.0.10") and not is_loopback("example.com")


# --- a server on fake backends ------------------------------------------------------------------------------------
class Fake:
    """In-memory Prometheus/Alertmanager/Jaeger/VictoriaLogs: records every request, answers from ``routes``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[str, Handler] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for prefix, handler in self.routes.items():
            if request.url.host + request.url.path == prefix or (request.url.host + request.url.path).startswith(prefix):
                return handler(request)
        raise httpx.ConnectError("refused", request=request)


def _prom_ok(request: httpx.Request) -> httpx.Response:
    q = request.url.params
    if request.url.path.endswith("/query_range"):
        start, step = float(q["start"]), float(q["step"])
        values = [[start + k * step, str(k)] for k in range(3)]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"job": "svc", "gen_ai_tool_name": "listar", "mcp_method_name": "tools/call"}, "values": values}
        ]}})
    if request.url.path.endswith("/query"):
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"job": "svc"}, "value": [q["time"], "0.995"]}
        ]}})
    return httpx.Response(200, json={"status": "success", "data": ["svc", "outro"]})


@pytest.fixture()
def fake() -> Fake:
    return Fake()


def _serve(fake: Fake, token: str | None = None) -> Iterator[str]:
    backends = Backends(prometheus="http://prom:9090", alertmanager="http://am:9093", jaeger="http://jaeger:16686",
                        logs="http://vl:9428", transport=httpx.MockTransport(fake))
    server = DashboardServer(("127.0.0.1", 0), dashboard=load_dashboard(GRAFANA_JSON), backends=backends, token=token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.url.rstrip("/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture()
def url(fake: Fake) -> Iterator[str]:
    yield from _serve(fake)


@pytest.fixture()
def secured(fake: Fake) -> Iterator[str]:
    yield from _serve(fake, token=TOKEN)


def test_one_refresh_costs_one_prometheus_query_per_target(fake: Fake, url: str) -> None:
    fake.routes["prom/api/v1/"] = _prom_ok
    body = httpx.get(f"{url}/api/panels", params={"range": "15m", "service": "svc"}).json()
    dashboard = load_dashboard(GRAFANA_JSON)
    assert len(fake.requests) == dashboard.query_count()
    queries = [r.url.params["query"] for r in fake.requests]
    assert all("$" not in q for q in queries), [q for q in queries if "$" in q]
    assert any('job=~"svc"' in q and "[240s]" in q for q in queries)
    ranged = [r for r in fake.requests if r.url.path.endswith("/query_range")]
    assert ranged and {r.url.params["step"] for r in ranged} == {"15"}
    # A range panel: aligned x axis, the legend filled from the labels.
    requests = body["panels"]["10"]
    assert len(requests["x"]) == 61 and requests["series"][0]["name"] == "tools/call listar"
    assert requests["series"][0]["values"][:3] == [0.0, 1.0, 2.0] and requests["series"][0]["values"][3] is None
    # An instant (stat) panel: one value per series.
    assert body["panels"]["2"]["series"] == [{"name": "svc", "labels": {"job": "svc"}, "value": 0.995}]
    assert httpx.get(f"{url}/api/services").json() == {"services": ["outro", "svc"]}


def test_a_failing_backend_gives_each_panel_a_clear_message_without_its_url(fake: Fake, url: str) -> None:
    body = httpx.get(f"{url}/api/panels").json()  # nothing answers: connection refused everywhere
    assert {p["error"] for p in body["panels"].values()} == {
        "Prometheus indisponível: conexão recusada ou endereço inacessível"
    }
    fake.routes["prom/"] = lambda r: httpx.Response(400, json={"status": "error", "error": "parse error at char 3"})
    body = httpx.get(f"{url}/api/panels").json()
    assert body["panels"]["10"]["error"] == "Prometheus recusou a consulta: parse error at char 3"
    for route in ("alerts", "traces", "blocks", "trace/0123456789abcdef"):
        response = httpx.get(f"{url}/api/{route}")
        assert response.status_code == 502 and "indisponível" in response.json()["error"], route
        assert "http://" not in response.text and "9093" not in response.text and "16686" not in response.text
    fake.routes["prom/"] = lambda r: httpx.Response(200, json={"status": "success", "data": {}})  # not Prometheus
    assert httpx.get(f"{url}/api/panels").json()["panels"]["10"]["error"].startswith("Prometheus respondeu num formato")
    fake.routes["jaeger/"] = lambda r: httpx.Response(200, json={"data": [{"spans": [{"no": "ids"}]}]})
    assert "formato inesperado" in httpx.get(f"{url}/api/traces", params={"service": "svc"}).json()["error"]
    fake.routes["am/"] = lambda r: httpx.Response(200, text="<html>proxy error</html>")
    assert httpx.get(f"{url}/api/alerts").json() == {"error": "Alertmanager indisponível: respondeu algo que não é JSON"}


def test_alerts_of_the_chosen_service_with_safe_runbook_links(fake: Fake, url: str) -> None:
    alerts = [
        {"labels": {"alertname": "OmieApiMisuseBlocked", "job": "svc", "severity": "critical"},
         "annotations": {"summary": "bloqueio", "runbook_url": "https://example.invalid/runbooks/OmieApiMisuseBlocked.md"},
         "startsAt": "2026-12-03T07:00:00Z"},
        {"labels": {"alertname": "Other", "job": "outro", "severity": "warning"}, "annotations": {}, "startsAt": ""},
        {"labels": {"alertname": "Evil", "severity": "warning"},
         "annotations": {"runbook_url": "javascript:alert(1)"}, "startsAt": ""},
    ]
    fake.routes["am/api/v2/alerts"] = lambda r: httpx.Response(200, json=alerts)
    got = httpx.get(f"{url}/api/alerts", params={"service": "svc"}).json()["alerts"]
    assert [a["alertname"] for a in got] == ["OmieApiMisuseBlocked", "Evil"]
    assert got[0]["runbook_url"].endswith("OmieApiMisuseBlocked.md") and got[1]["runbook_url"] == ""
    params = fake.requests[-1].url.params
    assert (params["active"], params["silenced"], params["inhibited"]) == ("true", "false", "false")


def _span(span_id: str, name: str, start: int, duration: int, parent: str | None, tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "traceID": "00000000000000000000000000abcdef", "spanID": span_id, "operationName": name,
        "references": [{"refType": "CHILD_OF", "spanID": parent}] if parent else [],
        "startTime": start, "duration": duration, "processID": "p1",
        "tags": [{"key": k, "value": v} for k, v in tags.items()], "logs": [],
    }


TRACE = {
    "traceID": "00000000000000000000000000abcdef",
    "processes": {"p1": {"serviceName": "svc"}},
    "spans": [
        _span("0000000000000002", "omie ListarClientes", 1_000_100, 400, "0000000000000001",
              {"omie.call": "ListarClientes", "omie.fault.kind": "misuse_blocked", "error": True,
               "omie.retry_after": 600}),
        _span("0000000000000001", "tools/call listar_clientes", 1_000_000, 3_000_000, None,
              {"error": True, "error.type": "tool_error", "app_secret": "not-from-omie-otel"}),
    ],
}


def test_trace_waterfall_in_tree_order_with_its_logs(fake: Fake, url: str) -> None:
    fake.routes["jaeger/api/traces/"] = lambda r: httpx.Response(200, json={"data": [TRACE]})
    fake.routes["vl/select/logsql/query"] = lambda r: httpx.Response(200, text=(
        json.dumps({"_time": "2026-12-03T07:00:01Z", "_msg": "falhou", "span_id": "0000000000000001",
                    "_stream_id": "x"}) + "\n"))
    t = httpx.get(f"{url}/api/trace/00000000000000000000000000ABCDEF").json()
    assert t["spans"][0]["attributes"]["app_secret"].startswith("[redacted")  # a second scrub, whatever the source
    assert [(s["name"], s["depth"], s["error"]) for s in t["spans"]] == [
        ("tools/call listar_clientes", 0, True), ("omie ListarClientes", 1, True)]
    assert t["spans"][1]["offset"] == 100 and t["spans"][1]["attributes"]["omie.call"] == "ListarClientes"
    assert t["logs"] == [{"_time": "2026-12-03T07:00:01Z", "_msg": "falhou", "span_id": "0000000000000001"}]
    logsql = fake.requests[-1]
    assert logsql.method == "POST" and 'trace_id:="00000000000000000000000000abcdef"' in urllib.parse.unquote_plus(
        logsql.content.decode())
    # The log store down: the waterfall still opens, with a message where the logs would be.
    del fake.routes["vl/select/logsql/query"]
    t = httpx.get(f"{url}/api/trace/00000000000000000000000000abcdef").json()
    assert t["spans"] and t["logs_error"].startswith("VictoriaLogs indisponível")
    assert httpx.get(f"{url}/api/trace/not-a-trace").status_code == 400


def test_failed_slow_traces_and_the_425_block_with_time_left(fake: Fake, url: str) -> None:
    now_us = int(__import__("time").time() * 1e6)
    trace = json.loads(json.dumps(TRACE))
    for s in trace["spans"]:
        s["startTime"] += now_us - 1_000_000 - 60_000_000  # a minute ago
    fake.routes["jaeger/api/services"] = lambda r: httpx.Response(200, json={"data": ["svc", "jaeger"]})
    fake.routes["jaeger/api/traces"] = lambda r: httpx.Response(200, json={"data": [trace]})
    body = httpx.get(f"{url}/api/traces").json()
    assert [t["traceID"] for t in body["failed"]] == [TRACE["traceID"]]
    assert body["failed"][0]["errors"] == ["misuse_blocked", "tool_error"] and body["failed"][0]["omie"] == 1
    assert [t["duration"] for t in body["slow"]] == [3_000_000]
    searched = [r.url.params for r in fake.requests if r.url.path == "/api/traces"]
    assert {p["service"] for p in searched} == {"svc"}  # Jaeger's own service is not listed
    assert {p.get("tags") for p in searched} >= {'{"error.type": "tool_error"}'}
    (block,) = httpx.get(f"{url}/api/blocks").json()["blocks"]
    assert block["call"] == "ListarClientes" and 530 <= block["seconds_left"] <= 541  # 600 s from a minute ago


# --- security -----------------------------------------------------------------------------------------------------
def test_only_reads_and_only_its_own_files(url: str) -> None:
    assert httpx.post(f"{url}/api/panels").status_code == 405
    assert httpx.delete(f"{url}/").status_code == 405
    assert httpx.get(f"{url}/static/../_server.py").status_code == 404
    assert httpx.get(f"{url}/static/%2e%2e/_server.py").status_code == 404
    assert httpx.get(f"{url}/api/panels", params={"range": "2y"}).json()["error"].startswith("intervalo inválido '2y'")
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    # DNS rebinding: without a token, only loopback host names are served.
    assert httpx.get(f"{url}/", headers={"Host": "attacker.example"}).status_code == 421


def test_token_is_required_and_traded_for_a_cookie(secured: str) -> None:
    assert httpx.get(f"{secured}/").status_code == 401
    assert httpx.get(f"{secured}/api/config").status_code == 401
    assert httpx.get(f"{secured}/", params={"token": "wrong"}).status_code == 401
    assert httpx.get(f"{secured}/healthz").status_code == 200  # the stack's readiness probe
    login = httpx.get(f"{secured}/", params={"token": TOKEN})
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=Strict" in login.headers["set-cookie"]
    with httpx.Client(base_url=secured) as browser:
        browser.get("/", params={"token": TOKEN})
        assert browser.get("/api/config").status_code == 200
    assert httpx.get(f"{secured}/api/config", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(f"{secured}/api/config", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_cli_refuses_a_non_loopback_address_without_a_token(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OMIE_OTEL_DASHBOARD_TOKEN", raising=False)
    monkeypatch.setenv("LANG", "pt_BR.UTF-8")
    assert dashboard_main(["--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "0.0.0.0" in err and "OMIE_OTEL_DASHBOARD_TOKEN" in err and "recusado" in err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("OMIE_OTEL_DASHBOARD_TOKEN", "short")
    assert dashboard_main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "too short" in capsys.readouterr().err
    monkeypatch.setenv("OMIE_OTEL_DASHBOARD_TOKEN", "a long token; with a semicolon")
    assert dashboard_main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "cookie" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        dashboard_main(["--prometheus", "prom:9090"])
    assert "invalid URL 'prom:9090'" in capsys.readouterr().err


# --- the front end ships in the wheel, pinned, small ---------------------------------------------------------------
def test_static_assets_are_vendored_pinned_and_small() -> None:
    vendor = STATIC / "vendor"
    assert (vendor / "uPlot.LICENSE").read_text().startswith("The MIT License")
    assert (vendor / "VERSION").read_text().startswith("uplot 1.6.")
    page = STATIC / "index.html"
    html = page.read_text()
    loaded = ["index.html", "app.js", "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"]
    for name in loaded[1:]:
        assert f"/static/{name}" in html
    assert "http://" not in html and "https://" not in html  # no CDN
    assert sum((STATIC / n).stat().st_size for n in loaded) < 300_000  # the page budget is 500 KB with its data


def test_the_wheel_carries_the_dashboard_json_and_static_files(tmp_path: Path) -> None:
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not in the venv (make venv installs it)")
    result = subprocess.run([str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("omie-mcp.json", "static/index.html", "static/app.js", "static/app.css",
                 "static/vendor/uPlot.iife.min.js", "static/vendor/uPlot.min.css", "static/vendor/uPlot.LICENSE"):
        assert f"omie_otel/dashboard/{name}" in names, name
    shipped = zipfile.ZipFile(wheel).read("omie_otel/dashboard/omie-mcp.json")
    assert shipped == GRAFANA_JSON.read_bytes()


def test_a_panel_with_one_failing_target_keeps_the_others_and_says_so(fake: Fake, url: str) -> None:
    def half(request: httpx.Request) -> httpx.Response:
        if "0.99," in request.url.params.get("query", ""):  # the p99 target of the latency panels
            return httpx.Response(503, text="overloaded")
        return _prom_ok(request)

    fake.routes["prom/"] = half
    latency = httpx.get(f"{url}/api/panels").json()["panels"]["13"]
    assert len(latency["series"]) == 2 and latency["warning"] == "Prometheus indisponível: respondeu HTTP 503"


def test_legend_without_a_format_names_the_series_by_its_labels() -> None:
    from omie_otel.dashboard._backends import _legend

    assert _legend("", {"__name__": "up", "job": "otelcol", "instance": "a:1"}) == 'up{instance="a:1", job="otelcol"}'
    assert _legend("{{ job }} {{missing}} x", {"job": "svc"}) == "svc x"
    assert _legend("{{missing}}", {}) == "valor"
