"""Ops tools through the in-memory MCP client: what they return, that they leak nothing, that they come and go.

Alertmanager is played by a small stand-in HTTP server on loopback (it answers ``GET /api/v2/alerts`` like
Alertmanager's v2 API); the real Alertmanager is exercised by the e2e stack tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastmcp import Client, FastMCP

import omie_otel
from omie_otel import semconv as sc
from tests.test_transports import free_port

SECRET = "segredo-omie-de-teste-8431"
MARKER = "valor-de-ambiente-5521"
OPS = ["get_system_metrics", "health_check", "get_active_alerts"]
ALERTS = [
    {
        "labels": {"alertname": "OmieMisuseBlock", "severity": "critical", "service": "omie-mcp"},
        "annotations": {"summary": "Omie bloqueou a chave", "description": f"app_secret={SECRET} vazou no alerta"},
        "startsAt": "2025-07-11T10:44:25.000Z",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "fingerprint": "abc",
        "generatorURL": "http://prometheus:9090/graph",
    },
    {
        "labels": {"alertname": "HighMemory", "severity": "warning"},
        "annotations": {"summary": "memória acima de 85 %"},
        "startsAt": "2025-07-11T10:40:00.000Z",
        "status": {"state": "active"},
    },
]


@contextmanager
def alertmanager_stand_in(status: int = 200, body: Any = ALERTS) -> Iterator[tuple[str, list[str]]]:
    """A stand-in for Alertmanager's v2 API on loopback; yields its URL and the request paths it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIE_APP_SECRET", SECRET)
    monkeypatch.setenv("OMIE_APP_KEY", "1234567890123")
    monkeypatch.setenv("OMIE_OTEL_TEST_MARKER", MARKER)


def make_server() -> FastMCP:
    mcp = FastMCP("omie")

    @mcp.tool
    def listar_clientes() -> list[str]:
        return ["ACME"]

    return mcp


async def call_all(mcp: FastMCP) -> dict[str, Any]:
    async with Client(mcp) as client:
        return {name: (await client.call_tool(name, {})).data for name in OPS}


async def tool_names(mcp: FastMCP) -> list[str]:
    async with Client(mcp) as client:
        return sorted(t.name for t in await client.list_tools())


def assert_nothing_leaks(outputs: Any) -> None:
    text = json.dumps(outputs, ensure_ascii=False)
    assert SECRET not in text and MARKER not in text
    for value in os.environ.values():  # no environment value of any length worth leaking
        if len(value) >= 12 and value not in ("/usr/bin/python3",):
            assert value not in text, f"an environment value leaked: {value[:4]}..."


async def test_tools_answer_through_mcp_and_leak_no_secret_or_environment(
    telemetry: Any, env_secrets: None
) -> None:
    mcp = make_server()
    with alertmanager_stand_in() as (url, seen):
        omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True,
                             alertmanager_url=url.replace("http://", "http://ops:pa55w0rd@"))
        assert await tool_names(mcp) == sorted(["listar_clientes", *OPS])
        out = await call_all(mcp)
    assert_nothing_leaks(out)
    assert "pa55w0rd" not in json.dumps(out)

    metrics = out["get_system_metrics"]
    assert {"timestamp", "cpu", "memory", "filesystems", "process"} <= set(metrics)
    assert metrics["memory"]["total"] > 0 and 0 <= metrics["memory"]["utilization"] <= 1
    assert set(metrics["process"]) == {"pid", "cpu_utilization", "memory_rss", "open_file_descriptors", "threads"}

    report = out["health_check"]
    assert [c["name"] for c in report["checks"]] == ["omie_api", "telemetry_export", "memory", "disk"]
    assert isinstance(report["ready"], bool)

    alerts = out["get_active_alerts"]
    assert seen and parse_qs(urlsplit(seen[0]).query) == {"active": ["true"], "silenced": ["false"]}
    assert urlsplit(seen[0]).path == "/api/v2/alerts"
    assert alerts["status"] == "ok" and alerts["count"] == 2 and alerts["alertmanager"] == url
    first = alerts["alerts"][0]
    assert (first["name"], first["severity"], first["state"]) == ("OmieMisuseBlock", "critical", "active")
    assert "[redacted: app_secret]" in first["annotations"]["description"]

    spans = [s for s in telemetry.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) in OPS]
    assert sorted(s.attributes[sc.GEN_AI_TOOL_NAME] for s in spans) == sorted(OPS), "ordinary tools, ordinary spans"


async def test_system_metrics_when_host_metrics_are_off(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True, host_metrics=False)
    await asyncio.sleep(0.1)  # CPU time must advance past the clock tick between baseline and reading
    async with Client(mcp) as client:
        first = (await client.call_tool("get_system_metrics", {})).data
    assert first["memory"]["total"] > 0
    assert 0 <= first["cpu"]["utilization"] <= 1, "measured since instrument(), not a meaningless first null"


async def test_alerts_without_alertmanager_say_so(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMIE_OTEL_ALERTMANAGER_URL", raising=False)
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True, host_metrics=False)
    async with Client(mcp) as client:
        result = (await client.call_tool("get_active_alerts", {})).data
    assert result["status"] == "not_configured" and result["alerts"] == [] and result["alertmanager"] is None
    assert "OMIE_OTEL_ALERTMANAGER_URL" in result["detail"]


async def test_alerts_from_env_unreachable_and_error_answers(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("OMIE_OTEL_ALERTMANAGER_URL", closed)
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True, host_metrics=False)
    async with Client(mcp) as client:
        result = (await client.call_tool("get_active_alerts", {})).data
    assert result["status"] == "unreachable" and result["alertmanager"] == closed
    assert result["detail"] == "Alertmanager could not be reached (ConnectError; timeout 3 s)."
    omie_otel.uninstrument()

    with alertmanager_stand_in(status=500, body={"error": "boom"}) as (url, _):
        omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True, host_metrics=False,
                             alertmanager_url=url)
        async with Client(mcp) as client:
            result = (await client.call_tool("get_active_alerts", {})).data
    assert result["status"] == "error" and "HTTP 500" in result["detail"]


async def test_off_by_default_and_removed_by_uninstrument(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, host_metrics=False)
    assert await tool_names(mcp) == ["listar_clientes"]
    omie_otel.uninstrument()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, host_metrics=False, ops_tools=True)
    assert await tool_names(mcp) == sorted(["listar_clientes", *OPS])
    omie_otel.uninstrument()
    assert await tool_names(mcp) == ["listar_clientes"]


async def test_env_turns_them_on_for_every_server_and_a_servers_own_tool_wins(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMIE_OTEL_OPS_TOOLS", "true")
    mcp = make_server()

    @mcp.tool
    def health_check() -> str:
        return "o meu"

    omie_otel.instrument(meter_provider=telemetry.meter_provider, host_metrics=False)
    late = FastMCP("depois")
    assert await tool_names(mcp) == sorted(["listar_clientes", *OPS])
    assert await tool_names(late) == sorted(OPS)
    async with Client(mcp) as client:
        assert (await client.call_tool("health_check", {})).data == "o meu"
    omie_otel.uninstrument()
    assert await tool_names(mcp) == ["health_check", "listar_clientes"], "the server's own tool stays"


@pytest.mark.parametrize("host_metrics", [True, False])
async def test_a_bad_host_metrics_variable_never_costs_the_ops_tools(
    telemetry: Any, monkeypatch: pytest.MonkeyPatch, host_metrics: bool
) -> None:
    """``OMIE_OTEL_HOST_METRICS_PER_CPU=maybe``: the options warn and use the default; the ops tools take the host
    metrics instrument() built (or a spare built from the same resolved options), never read the variable again."""
    from omie_otel import _ops

    monkeypatch.setenv("OMIE_OTEL_HOST_METRICS_PER_CPU", "maybe")
    monkeypatch.setattr(_ops, "_spare_host_metrics", None)
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, ops_tools=True, host_metrics=host_metrics)
    assert await tool_names(mcp) == sorted(["listar_clientes", *OPS])
    assert (_ops._spare_host_metrics is None) is host_metrics, "a second HostMetrics only when host metrics are off"
    async with Client(mcp) as client:
        snapshot = (await client.call_tool("get_system_metrics", {})).data
    assert snapshot["memory"]["total"] > 0
