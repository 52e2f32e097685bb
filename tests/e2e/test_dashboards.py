"""The Grafana dashboard against the real Prometheus of the stack, after real telemetry went through it.

- the JSON is a Grafana dashboard model whose datasources are the provisioned ones;
- every PromQL expression in it parses and runs without error in Prometheus (``/api/v1/query``), with the
  dashboard's variables replaced as Grafana would;
- after a FastMCP server instrumented by omie-otel (tests/e2e/omie_probe.py) made tool calls and Omie calls, with
  faults, every panel but the three that only show failures returns data, and every metric name those panels use
  exists in Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "collector-config" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "omie-mcp.json"
PROBE = Path(__file__).with_name("omie_probe.py")

#: Panels that are empty while nothing is wrong.
MAY_BE_EMPTY = {
    "Alertas disparando",
    "Collector: falhas de envio e recusas",
    "SDK: falhas e descartes de exportação (por minuto)",
}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                   "offset", "inf", "nan"}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return [p for p in out if p["type"] != "row"]


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel."""
    return [(p["title"], t["expr"]) for p in _panels(dashboard) for t in p.get("targets", [])]


def _grafana_vars(expr: str, job: str) -> str:
    """What Grafana sends for the variables: one $job from the picker (a name with no regex characters), and
    $__rate_interval, a few scrape intervals (5m covers the probe's samples however long the test waits)."""
    return expr.replace("$job", job).replace("$__rate_interval", "5m")


def _metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names a PromQL expression selects, without functions, labels or keywords.

    A ``{__name__=~"..."}`` selector gives its regex (every name is also a regex matching itself)."""
    named = set(re.findall(r'__name__=~?"([^"]+)"', expr))
    s = re.sub(r'"[^"]*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+|ms|[smhdwy])?\b", " ", s)  # numbers, 1e3, offset durations
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        after = s[m.end():].lstrip()
        if not after.startswith("(") and m.group(0) not in PROMQL_KEYWORDS:
            names.add(m.group(0))
    return names | named


def test_metric_name_extraction() -> None:
    assert _metric_names(
        'histogram_quantile(0.95, sum by (le, omie_call) (rate(omie_client_request_duration_seconds_bucket'
        '{job=~"$job", le!="1e3"}[$__rate_interval]))) / (1 - 0.99) and on (job) up{job="otelcol"} offset 30m'
        " > bool 1e3 or errors_total * 2.5"
    ) == {"omie_client_request_duration_seconds_bucket", "up", "errors_total"}
    assert _metric_names('min by (job) ({__name__=~"omie_otel_health_status(_ratio)?", job=~"$job"})') == {
        "omie_otel_health_status(_ratio)?"
    }
    assert _metric_names('1 - job:mcp_server_operation_errors:ratio_rate30d{job=~"$job"}') == {
        "job:mcp_server_operation_errors:ratio_rate30d"
    }


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_is_a_grafana_model_on_the_provisioned_datasources(dashboard: dict[str, Any]) -> None:
    provisioned = {
        d["uid"]: d["type"]
        for d in yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yaml").read_text())["datasources"]
    }
    assert dashboard["uid"] == "omie-mcp" and dashboard["title"] and dashboard["schemaVersion"] >= 36
    panels = _panels(dashboard)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for p in panels:
        assert {"x", "y", "w", "h"} <= set(p["gridPos"]), p["title"]
        assert p["targets"], p["title"]
        for source in [p["datasource"], *(t["datasource"] for t in p["targets"])]:
            assert provisioned.get(source["uid"]) == source["type"] == "prometheus", (p["title"], source)
    (var,) = dashboard["templating"]["list"]
    assert provisioned[var["datasource"]["uid"]] == var["datasource"]["type"]
    # The panels the brief asks for, by what they show.
    titles = " | ".join(p["title"] for p in panels)
    for words in ("Requisições MCP", "Erros MCP", "p50, p95", "Omie por método", "falha", "Latência da Omie",
                  "limites de taxa", "queima do orçamento", "CPU", "Memória", "Disco", "Collector"):
        assert words in titles, words


def _query(prometheus_url: str, expr: str) -> httpx.Response:
    return httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)


def test_every_expression_runs_and_the_core_panels_have_data(stack, eventually, dashboard: dict[str, Any]) -> None:
    service = f"dashboards-e2e-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, str(PROBE), "--endpoint", stack.otlp_http_endpoint, "--service", service,
         "--calls", "8", "--faults", "misuse_blocked,rate_limited,redundant,no_records", "--pause", "0.5",
         "--hold", "4"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    targets = [(title, _grafana_vars(expr, service)) for title, expr in _targets(dashboard)]
    assert len(targets) >= 30

    # Every expression parses and evaluates (a parse or evaluation error is an HTTP 400/422 with an error text).
    for title, expr in targets:
        response = _query(stack.prometheus_url, expr)
        assert response.status_code == 200 and response.json()["status"] == "success", (title, expr, response.text)

    # The core panels have data once the probe's metrics and the rules over them (the 30-day records run once a
    # minute) are in.
    core = [(title, expr) for title, expr in targets if title not in MAY_BE_EMPTY]

    def empty() -> list[tuple[str, str]]:
        return [(t, e) for t, e in core if not _query(stack.prometheus_url, e).json()["data"]["result"]]

    eventually(lambda: not empty(), timeout=150, interval=5, what=f"data in every core panel; still empty: {empty()}")

    # The names behind them exist, and the variable's query lists the probe's service.
    existing = set(httpx.get(f"{stack.prometheus_url}/api/v1/label/__name__/values", timeout=30).json()["data"])
    used = set().union(*(_metric_names(expr) for _, expr in core))
    assert {name for name in used if not any(re.fullmatch(name, e) for e in existing)} == set()
    assert {"mcp_server_operation_duration_seconds_bucket", "omie_client_faults_total",
            "omie_client_ratelimit_utilization_ratio", "system_memory_utilization_ratio",
            "system_filesystem_utilization_ratio", "system_cpu_utilization_ratio",
            "omie_otel_health_status(_ratio)?", "job:mcp_server_operation_errors:ratio_rate30d"} <= used
    (var,) = dashboard["templating"]["list"]
    metric = re.fullmatch(r"label_values\((\w+), job\)", var["query"]["query"]).group(1)
    jobs = httpx.get(f"{stack.prometheus_url}/api/v1/label/job/values", params={"match[]": metric}, timeout=30).json()
    assert service in jobs["data"]
