"""Alerting, end to end: the rules and their promtool tests, their conventions, and one real alert all the way out.

- every rule file passes ``promtool check rules`` and every unit test file ``promtool test rules``;
- every alert has a severity, Portuguese summary/description, a ``runbook_url`` naming an existing runbook, and
  promtool cases where it fires and where it must not; SLO thresholds are the numbers of ``omie_otel.slo``;
- the stack's Prometheus loads every group and evaluates every rule without error;
- a real Omie 425 (the simulator's ``misuse_blocked``), made by a FastMCP server instrumented with omie-otel,
  travels SDK -> collector -> Prometheus -> rule -> Alertmanager -> webhook, with the exact labels and annotations.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from omie_otel import semconv, slo

yaml = pytest.importorskip("yaml")

pytestmark = pytest.mark.e2e

# tests/ is not a package: the conftest's constants are not imported.
ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "collector-config" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_URL = "https://github.com/omie-otel/omie-otel/blob/main/docs/runbooks/{}.md"
PROBE = Path(__file__).with_name("omie_probe.py")
PORTUGUESE = {"de", "da", "do", "no", "na", "em", "há", "por", "com", "acima", "fora", "não"}
ENGLISH = {"the", "is", "of", "and", "with", "above", "failing"}
RUNBOOK_SECTIONS = ("## O que significa", "## Impacto", "## Como investigar", "## Como mitigar", "## Quando escalar")


def _alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=300, check=False)


# --- the rules as files ------------------------------------------------------------------------------------------


def test_promtool_check_rules_passes_for_every_rule_file(stack_binaries: Path) -> None:
    result = _promtool("check", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", [p.name for p in TEST_FILES])
def test_promtool_unit_tests_pass(stack_binaries: Path, test_file: str) -> None:
    result = _promtool("test", "rules", f"tests/{test_file}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_severity_portuguese_annotations_and_its_runbook() -> None:
    rules = _alert_rules()
    assert len({r["alert"] for r in rules}) >= 15
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        assert notes["runbook_url"] == RUNBOOK_URL.format(name)
        # In Portuguese (a cheap check: a few of its most common words, none of English's).
        for key in ("summary", "description"):
            words = set(re.findall(r"\w+", notes[key].lower()))
            assert words & PORTUGUESE and not words & ENGLISH, (name, key, notes[key])
        runbook = RUNBOOKS / f"{name}.md"
        assert runbook.is_file(), f"{name}: no {runbook.relative_to(ROOT)}"
        text = runbook.read_text()
        for section in RUNBOOK_SECTIONS:
            assert section in text, f"{runbook.name}: no '{section}'"


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
                for alert in check.get("exp_alerts") or []:
                    assert "runbook_url" in alert["exp_annotations"], (path.name, check["alertname"])
    names = {r["alert"] for r in _alert_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"


def test_burn_rate_thresholds_are_the_objectives_of_omie_otel_slo() -> None:
    by_alert: dict[tuple[str, str], str] = {}
    for rule in _alert_rules():
        if "slo" in rule["labels"]:
            by_alert[(rule["alert"], rule["labels"]["severity"])] = rule["expr"]
            assert slo.by_name(rule["labels"]["slo"]).alert == rule["alert"]
    assert len(by_alert) == 2 * len(slo.SLOS)
    for s in slo.SLOS:
        for w in slo.BURN_WINDOWS:
            expr = by_alert[(s.alert, w.severity)]
            threshold = f"> ({w.factor:g} * (1 - {s.objective:g}))"
            for window in (w.long, w.short):
                assert f"{s.error_ratio_record}{window} {threshold}" in expr, (s.name, window, expr)
            # The minimum-traffic guard: min_requests events in the short window; none on uptime (no events).
            if s.requests_record is None:
                assert ":increase" not in expr, (s.name, expr)
            else:
                assert f"{s.requests_record}{w.short} >= {w.min_requests}" in expr, (s.name, w.short, expr)
    # The latency SLI reads the le="2" bucket: 2 s must stay a bucket boundary.
    assert 2.0 in semconv.MCP_DURATION_BUCKETS
    assert slo.by_name("mcp-latency").objective == 0.95


# --- the running stack -------------------------------------------------------------------------------------------


def _get(url: str, **params: Any) -> Any:
    response = httpx.get(url, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def test_prometheus_loads_and_evaluates_every_rule(stack, eventually) -> None:
    expected = {
        group["name"]: len(group["rules"])
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
    }

    def all_evaluated() -> dict[str, int] | None:
        groups = _get(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
        loaded = {g["name"]: g for g in groups}
        for g in loaded.values():
            for rule in g["rules"]:
                assert rule["health"] != "err", (g["name"], rule["name"], rule.get("lastError"))
        # The long-window group runs once a minute: wait for its first evaluation.
        if any(r["health"] != "ok" for g in loaded.values() for r in g["rules"]):
            return None
        return {name: len(g["rules"]) for name, g in loaded.items()}

    assert eventually(all_evaluated, timeout=90, what="every rule evaluated once") == expected


class _Webhook:
    """A loopback HTTP server standing in for Alertmanager's webhook receiver; keeps every JSON body it gets."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alerts(self, **labels: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(notification body, alert) for every alert received with these labels."""
        return [
            (body, alert)
            for body in list(self.bodies)
            for alert in body["alerts"]
            if all(alert["labels"].get(k) == v for k, v in labels.items())
        ]


@pytest.fixture
def webhook(stack) -> Iterator[_Webhook]:
    # Nothing listens on the stack's ALERTMANAGER_WEBHOOK_URL (a loopback port of its own): the test does.
    hook = _Webhook(stack.alertmanager_webhook_url)
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def run_probe(stack, service: str, *args: str) -> None:
    """Run tests/e2e/omie_probe.py: a FastMCP server instrumented by omie-otel through OTEL_* variables."""
    result = subprocess.run(
        [sys.executable, str(PROBE), "--endpoint", stack.otlp_http_endpoint, "--service", service, *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_real_omie_425_pages_through_alertmanager_to_the_webhook(stack, eventually, webhook) -> None:
    service = f"alerts-e2e-{uuid.uuid4().hex[:8]}"
    run_probe(stack, service, "--calls", "2", "--faults", "misuse_blocked", "--hold", "3")

    labels = {
        "alertname": "OmieApiMisuseBlocked",
        "job": service,
        "omie_call": "ListarClientes",
        "severity": "critical",
    }
    annotations = {
        "summary": f"API Omie bloqueou {service} por consumo indevido (HTTP 425) em ListarClientes",
        "description": (
            f"{service} recebeu HTTP 425 MISUSE_API_PROCESS da API Omie em ListarClientes nos últimos 30 min. "
            "A Omie bloqueia a app_key nesse método por cerca de 30 minutos (o tempo exato vem na mensagem: "
            '"Tente novamente em N segundos"); cada nova tentativa durante o bloqueio só o prolonga.'
        ),
        "runbook_url": RUNBOOK_URL.format("OmieApiMisuseBlocked"),
    }

    # The counter as remote-written: one 425, on the call the tool made.
    def counter() -> list[Any]:
        return _get(
            f"{stack.prometheus_url}/api/v1/query",
            query=f'omie_client_faults_total{{job="{service}",omie_fault_kind="misuse_blocked"}}',
        )["data"]["result"]

    (series,) = eventually(counter, timeout=60, what="omie_client_faults_total in Prometheus")
    assert series["metric"]["omie_call"] == "ListarClientes" and series["value"][1] == "1"

    # Prometheus fires it (for: 0m)... (Only the 425 alert is looked at: others may fire for this service too, the
    # uptime SLO once the probe has exited. 1 failed tool call in 3 no longer pages the availability SLO: its
    # minimum-traffic guard wants 10 requests in 5 minutes, see docs/slo.md.)
    def prometheus_alert() -> list[Any]:
        alerts = _get(f"{stack.prometheus_url}/api/v1/alerts")["data"]["alerts"]
        return [
            a for a in alerts
            if a["labels"].get("job") == service and a["labels"]["alertname"] == "OmieApiMisuseBlocked"
            and a["state"] == "firing"
        ]

    (fired,) = eventually(prometheus_alert, timeout=60, what="OmieApiMisuseBlocked firing in Prometheus")
    assert fired["labels"] == labels
    assert fired["annotations"] == annotations

    # ... Alertmanager has it, active ...
    def alertmanager_alert() -> list[Any]:
        return _get(
            f"{stack.alertmanager_url}/api/v2/alerts", filter=[f'job="{service}"', 'alertname="OmieApiMisuseBlocked"']
        )

    (active,) = eventually(alertmanager_alert, timeout=60, what="the alert in Alertmanager")
    assert active["labels"] == labels
    assert active["annotations"] == annotations
    assert active["status"]["state"] == "active"
    assert [r["name"] for r in active["receivers"]] == ["default"]

    # ... and notifies the webhook receiver.
    (body, sent), *_ = eventually(
        lambda: webhook.alerts(job=service, alertname="OmieApiMisuseBlocked"), timeout=60, what="a webhook notification"
    )
    assert body["receiver"] == "default"
    assert body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": "OmieApiMisuseBlocked", "job": service, "severity": "critical"}
    assert sent["status"] == "firing"
    assert sent["labels"] == labels
    assert sent["annotations"] == annotations


def test_a_healthy_server_counts_no_export_failures(stack, eventually) -> None:
    service = f"exports-e2e-{uuid.uuid4().hex[:8]}"
    run_probe(stack, service, "--calls", "3", "--hold", "3")

    def failures() -> dict[str, float]:
        result = _get(
            f"{stack.prometheus_url}/api/v1/query", query=f'omie_otel_export_failures_total{{job="{service}"}}'
        )["data"]["result"]
        return {r["metric"]["omie_otel_signal"]: float(r["value"][1]) for r in result}

    counts = eventually(lambda: len(failures()) == 3 and failures(), timeout=60, what="the SDK's failure counters")
    assert counts == {"traces": 0, "metrics": 0, "logs": 0}

