"""Alerts reach people, on the real stack: e-mail (Mailpit, started by scripts/stack.sh) and Slack (a loopback server
that checks Slack's incoming-webhook payload and answers ``ok`` like Slack), then the escalation, the resolution with
its duration, and the alert history in the log store.

A FastMCP server instrumented by omie-otel (tests/e2e/omie_probe.py) calls the Omie simulator, which answers 425
(the misuse block) to a burst of 25 tool calls: ``OmieApiMisuseBlocked`` and the fast page ``OmieMcpRequestsFailing``
page by e-mail and Slack; the test prints the time from the fault to each message. The fault is cleared (good calls
again): the fast page resolves on both channels with its duration. The 425 page, still firing after the test
stack's shortened escalation delay (conftest.ESCALATION_FOR), escalates to the manager's e-mail and
``#omie-escalacao``. The history query documented in docs/slo.md returns the firing and the resolution.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.helpers.net import stop

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("omie_probe.py")
SLO_DOC = ROOT / "docs" / "slo.md"
RUNBOOK_URL = "https://github.com/omie-otel/omie-otel/blob/main/docs/runbooks/{}.md"
SLACK_COLORS = {"good", "warning", "danger"}


# --- a Slack-compatible incoming webhook ------------------------------------------------------------------------


@dataclass
class SlackPost:
    received_at: float
    path: str
    payload: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.payload["attachments"][0].get("title", ""))


def slack_payload_problems(payload: object) -> list[str]:
    """What Slack's incoming webhooks would reject or render badly in ``payload`` (empty when it is fine)."""
    if not isinstance(payload, dict):
        return ["the body is not a JSON object"]
    problems = []
    text, attachments, blocks = payload.get("text"), payload.get("attachments"), payload.get("blocks")
    if not (text or attachments or blocks):
        problems.append("no text, attachments or blocks (Slack answers no_text)")
    if text is not None and not isinstance(text, str):
        problems.append("text is not a string")
    if blocks is not None and not isinstance(blocks, list):
        problems.append("blocks is not a list")
    for i, att in enumerate(attachments or []):
        if not isinstance(att, dict):
            problems.append(f"attachments[{i}] is not an object")
            continue
        if not (att.get("text") or att.get("fallback")):
            problems.append(f"attachments[{i}] has neither text nor fallback")
        color = att.get("color", "")
        if color and color not in SLACK_COLORS and not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            problems.append(f"attachments[{i}].color {color!r} is not good/warning/danger or #rrggbb")
        for field in ("title", "text", "fallback", "footer", "title_link"):
            if field in att and not isinstance(att[field], str):
                problems.append(f"attachments[{i}].{field} is not a string")
    channel = payload.get("channel")
    if channel is not None and not (isinstance(channel, str) and re.fullmatch(r"[#@]?[\w.-]+", channel)):
        problems.append(f"channel {channel!r} is not a channel name")
    return problems


class SlackReceiver:
    """Answers like https://hooks.slack.com/services/...: 200 ``ok``, or 400 ``invalid_payload`` (and keeps why)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.posts: list[SlackPost] = []
        self.rejected: list[tuple[list[str], str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                problems = slack_payload_problems(payload)
                if self.headers.get_content_type() != "application/json":
                    problems.append(f"Content-Type {self.headers.get_content_type()}")
                if problems:
                    receiver.rejected.append((problems, body.decode(errors="replace")))
                    self._answer(400, b"invalid_payload")
                    return
                assert isinstance(payload, dict)
                receiver.posts.append(SlackPost(time.time(), self.path, payload))
                self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.path = parts.path
        self.server = ThreadingHTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def find(self, *, channel: str, title: str) -> list[SlackPost]:
        return [p for p in list(self.posts) if p.payload.get("channel") == channel and p.title == title]


@pytest.fixture
def slack(stack) -> Iterator[SlackReceiver]:
    receiver = SlackReceiver(stack.slack_webhook_url)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_the_slack_receiver_rejects_what_slack_would() -> None:
    assert slack_payload_problems({"text": "oi"}) == []
    assert slack_payload_problems({"channel": "#x", "attachments": [{"text": "a", "color": "danger"}]}) == []
    assert slack_payload_problems({}) == ["no text, attachments or blocks (Slack answers no_text)"]
    assert slack_payload_problems({"attachments": [{"color": "red", "text": "a"}]}) == [
        "attachments[0].color 'red' is not good/warning/danger or #rrggbb"
    ]
    assert slack_payload_problems([1]) == ["the body is not a JSON object"]


# --- Mailpit, VictoriaLogs, the probe -----------------------------------------------------------------------------


def _mails(stack, subject: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.mailpit_url}/api/v1/messages", params={"limit": 1000}, timeout=10)
    response.raise_for_status()
    return [m for m in response.json()["messages"] if m["Subject"] == subject]


def _mail_body(stack, message_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.mailpit_url}/api/v1/message/{message_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def _logsql(stack, query: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{stack.victorialogs_url}/select/logsql/query", data={"query": query}, timeout=10)
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def documented_incidents_query() -> str:
    """The LogsQL query docs/slo.md gives for last month's incidents (the block after its marker comment)."""
    text = SLO_DOC.read_text()
    match = re.search(r"<!-- incidents-query -->\s*```logsql\n(.*?)```", text, re.DOTALL)
    assert match, "docs/slo.md has no <!-- incidents-query --> block"
    return " ".join(line.strip() for line in match.group(1).splitlines())


def pt_duration(seconds: float) -> str:
    """The templates' rendering of a duration (omie.duration): 1 h 5 min 3 s, zero parts left out."""
    s = round(seconds)
    parts = [(s // 3600, "h"), (s % 3600 // 60, "min"), (s % 60, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "menos de 1 s"


def _mark(probe: subprocess.Popen[str], event: str) -> float:
    assert probe.stdout is not None
    line = probe.stdout.readline()
    assert line.startswith(event), (line, probe.poll())
    return float(line.split()[1])


def _created(mail: dict[str, Any]) -> float:
    return datetime.fromisoformat(mail["Created"]).timestamp()


# --- the test -----------------------------------------------------------------------------------------------------


def test_a_425_outage_reaches_email_and_slack_escalates_resolves_and_is_kept_in_history(
    stack, eventually, slack
) -> None:
    service = f"notify-e2e-{uuid.uuid4().hex[:8]}"
    probe = subprocess.Popen(
        [sys.executable, str(PROBE), "--endpoint", stack.otlp_http_endpoint, "--service", service,
         "--calls", "0", "--outage", "misuse_blocked:25", "--pause", "0.2", "--recover", "15", "--hold", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        fault_at = _mark(probe, "fault-start")

        # 1. The pages, by e-mail to the on-call list and on Slack #omie-plantao.
        timings = {}
        for alert in ("OmieApiMisuseBlocked", "OmieMcpRequestsFailing"):
            subject = f"[CRÍTICO] {alert} — {service}"
            [mail] = eventually(lambda s=subject: _mails(stack, s), timeout=120, what=f"the e-mail {subject}")
            [post] = eventually(
                lambda s=subject: slack.find(channel="#omie-plantao", title=s), timeout=120, what=f"Slack: {subject}"
            )
            timings[alert] = (_created(mail) - fault_at, post.received_at - fault_at)
            print(f"\nfault -> message, {alert}: e-mail {timings[alert][0]:.1f} s, Slack {timings[alert][1]:.1f} s")
            assert [to["Address"] for to in mail["To"]] == ["plantao@omie-otel.local"]
            attachment = post.payload["attachments"][0]
            assert attachment["color"] == "danger"
            assert attachment["title_link"] == RUNBOOK_URL.format(alert)
            assert post.path == urlsplit(stack.slack_webhook_url).path

        # What the 425 page says: every piece an on-call engineer needs, in both parts of the e-mail.
        [mail] = _mails(stack, f"[CRÍTICO] OmieApiMisuseBlocked — {service}")
        body = _mail_body(stack, mail["ID"])
        text, html = body["Text"], body["HTML"]
        assert f"DISPARANDO: API Omie bloqueou {service} por consumo indevido (HTTP 425) em ListarClientes" in text
        assert f"Serviço:     {service}" in text
        assert "Labels:      omie_call=ListarClientes" in text
        assert "Desde:       " in text and "(Brasília)" in text
        assert f"Runbook:     {RUNBOOK_URL.format('OmieApiMisuseBlocked')}" in text
        assert f"Painel:      http://127.0.0.1:{8400 + stack.port_offset}/" in text
        # Links a reader can open: the stack's own Prometheus (its --web.external-url) and Alertmanager.
        assert f"Prometheus:  {stack.prometheus_url}/graph?g0.expr=" in text
        assert f"Silenciar: {stack.alertmanager_url}/#/silences" in text
        assert f'<a href="{RUNBOOK_URL.format("OmieApiMisuseBlocked")}">Runbook</a>' in html
        assert "<!DOCTYPE html>" in html
        # The Jaeger link finds the failing traces: the same search through Jaeger's API.
        [jaeger_link] = re.findall(r"Traces com falha \(Jaeger\): (\S+)", text)
        assert jaeger_link.startswith(f"{stack.jaeger_url}/search?service={service}&")
        params = {k: v for k, v in parse_qsl(urlsplit(jaeger_link).query) if k != "lookback"}
        assert json.loads(params["tags"]) == {"omie.fault.kind": "misuse_blocked"}
        # 25 failing calls were made; the link asks for 20 (tail sampling may still be deciding on the last ones).
        assert params["limit"] == "20"
        traces = eventually(
            lambda: len(found := httpx.get(f"{stack.jaeger_url}/api/traces", params=params, timeout=10).json()["data"])
            == 20 and found,
            timeout=30, what="20 failing traces through the message's Jaeger search",
        )
        assert all(
            any(t["key"] == "omie.fault.kind" and t["value"] == "misuse_blocked" for s in tr["spans"] for t in s["tags"])
            for tr in traces
        )
        # Slack's message carries the same links.
        [post] = slack.find(channel="#omie-plantao", title=f"[CRÍTICO] OmieApiMisuseBlocked — {service}")
        assert f"<{jaeger_link}|Traces com falha no Jaeger>" in post.payload["attachments"][0]["text"]

        # 2. Clear the fault: good calls again. The fast page resolves on both channels, with its duration.
        assert probe.stdin is not None
        probe.stdin.write("\n")
        probe.stdin.flush()
        cleared_at = _mark(probe, "fault-cleared")
        resolved_prefix = f"[RESOLVIDO] OmieMcpRequestsFailing — {service} (durou "

        def resolved_mail() -> list[dict[str, Any]]:
            response = httpx.get(f"{stack.mailpit_url}/api/v1/messages", params={"limit": 1000}, timeout=10)
            return [m for m in response.json()["messages"] if m["Subject"].startswith(resolved_prefix)]

        [mail] = eventually(resolved_mail, timeout=120, what="the resolved e-mail")
        [post] = eventually(
            lambda: [p for p in slack.posts if p.title.startswith(resolved_prefix)], timeout=120, what="resolved, Slack"
        )
        print(f"fault cleared -> resolved: e-mail {_created(mail) - cleared_at:.1f} s, "
              f"Slack {post.received_at - cleared_at:.1f} s")
        assert post.payload["attachments"][0]["color"] == "good"
        assert post.payload["channel"] == "#omie-plantao"
        assert post.title == mail["Subject"]
        body = _mail_body(stack, mail["ID"])
        assert "RESOLVIDO: Servidor MCP" in body["Text"] and "Duração:" in body["Text"]
        assert "*duração " in post.payload["attachments"][0]["text"]

        # 3. The 425 page is still firing: it escalates to the manager and #omie-escalacao.
        escalated = f"[ESCALADO] OmieApiMisuseBlocked — {service}: sem solução há mais de 15 min"
        [mail] = eventually(lambda: _mails(stack, escalated), timeout=120, what="the escalation e-mail")
        [post] = eventually(
            lambda: slack.find(channel="#omie-escalacao", title=escalated), timeout=120, what="escalation, Slack"
        )
        assert [to["Address"] for to in mail["To"]] == ["gestor@omie-otel.local"]
        assert post.payload["attachments"][0]["color"] == "#6a1b9a"
        assert "escalação de OmieApiMisuseBlocked" in _mail_body(stack, mail["ID"])["Text"]
        print(f"fault -> escalation: e-mail {_created(mail) - fault_at:.1f} s, Slack {post.received_at - fault_at:.1f} s")

        # 4. The alert history: one record for the firing, one for the resolution, in the log store.
        selector = f'commonLabels.job:="{service}" commonLabels.alertname:="OmieMcpRequestsFailing"'
        records = eventually(
            lambda: (r := _logsql(stack, f"{selector} receiver:=history")) and len(r) >= 2 and r,
            timeout=60, what="the firing and the resolution in VictoriaLogs",
        )
        assert sorted(r["status"] for r in records) == ["firing", "resolved"]
        assert all(r["commonLabels.severity"] == "critical" for r in records)
        # The documented incidents query: this incident, with its time to recover, equal to the resolved message's.
        [incident] = [
            row for row in _logsql(stack, documented_incidents_query())
            if row["commonLabels.job"] == service and row["commonLabels.alertname"] == "OmieMcpRequestsFailing"
        ]
        seconds = float(incident["duration_s"])
        expected = (
            datetime.fromisoformat(incident["endsAt"]) - datetime.fromisoformat(incident["startsAt"])
        ).total_seconds()
        assert seconds == pytest.approx(expected)
        assert 0 < seconds < 300
        assert resolved_prefix + pt_duration(seconds) + ")" == mail_subject_of(stack, resolved_prefix)
        print(f"history: OmieMcpRequestsFailing lasted {seconds:.0f} s")
        # The history survives a restart of the log store (its data directory).
        env = {**os.environ, "STACK_PORT_OFFSET": str(stack.port_offset), "STACK_DIR": str(stack.dir)}
        for action in ("stop", "start"):
            subprocess.run(["scripts/stack.sh", action, "victorialogs"], cwd=ROOT, env=env, check=True, timeout=120)
        again = eventually(
            lambda: _logsql(stack, f"{selector} receiver:=history"), timeout=30, what="the history after a restart"
        )
        assert sorted((r["status"], r["_time"]) for r in again) == sorted((r["status"], r["_time"]) for r in records)

        assert slack.rejected == []
        assert probe.wait(timeout=60) == 0
    finally:
        stop(probe, timeout=10)


def mail_subject_of(stack, prefix: str) -> str:
    response = httpx.get(f"{stack.mailpit_url}/api/v1/messages", params={"limit": 1000}, timeout=10)
    [subject] = [m["Subject"] for m in response.json()["messages"] if m["Subject"].startswith(prefix)]
    return str(subject)
