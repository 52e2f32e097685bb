"""Real transports: stdio and streamable HTTP on a loopback port, servers configured only by OTEL_* variables.

Each server runs in its own process and exports over OTLP/HTTP to a real receiver on 127.0.0.1 (tests/helpers/
otlp_sink.py), which also proves the no-provider path: the SDK set up from the environment and flushed at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from opentelemetry import propagate, trace

from tests.helpers.net import free_port, stop, wait_for_port
from tests.helpers.otlp_sink import OtlpSink, otlp_sink

SERVER = str(Path(__file__).parent / "servers" / "omie_echo.py")
ROOT = str(Path(__file__).parent.parent)
FASTMCP_MAJOR = int(__import__("fastmcp").__version__.split(".")[0])
FOREIGN_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def server_env(sink: OtlpSink, service: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRIC_EXPORT_INTERVAL="500",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
        PYTHONPATH=ROOT,
    )
    env.pop("OMIE_OTEL_RAISE_INTERNAL_ERRORS", None)
    return env


def current_meta() -> dict[str, str]:
    """What an MCP client puts in params._meta (FastMCP >= 3 clients do it themselves; 2.x clients don't)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def tool_span(sink: OtlpSink, text_marker: str | None = None) -> list[dict[str, Any]]:
    return [s for s in sink.spans if s["name"] == "tools/call ecoar"]


async def test_stdio_server_exports_spans_metrics_logs_and_continues_the_client_trace(telemetry: Any) -> None:
    with otlp_sink() as sink:
        transport = StdioTransport(
            command=sys.executable, args=[SERVER], env=server_env(sink, "omie-stdio"), keep_alive=False
        )
        tracer = trace.get_tracer("agent")
        with tracer.start_as_current_span("agent turn") as agent:
            # a stdio session (FastMCP 4's default 2026-07-28 mode has none, so no session duration there)
            async with Client(transport, **({"mode": "legacy"} if FASTMCP_MAJOR >= 4 else {})) as client:
                result = await client.call_tool("ecoar", {"texto": "olá"}, meta=current_meta())
        assert result.data == "OLÁ"
        assert sink.wait_for(lambda s: bool(tool_span(s)) and any(m["name"] == "mcp.server.session.duration" for m in s.metrics))
        (span,) = tool_span(sink)
        assert span["attributes"]["network.transport"] == "pipe"
        assert span["resource"]["service.name"] == "omie-stdio"
        assert span["kind"] == 2  # SPAN_KIND_SERVER
        assert span["trace_id"] == format(agent.get_span_context().trace_id, "032x")
        points = [m for m in sink.metrics if m["name"] == "mcp.server.operation.duration"
                  and m["attributes"].get("gen_ai.tool.name") == "ecoar"]
        assert points and points[-1]["count"] == 1
        assert points[-1]["attributes"]["network.transport"] == "pipe"
        logs = [r for r in sink.logs if str(r["body"]).startswith("ecoando")]
        assert logs and logs[0]["trace_id"] == span["trace_id"] and logs[0]["span_id"] == span["span_id"]


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, OtlpSink]]:
    with otlp_sink() as sink:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, SERVER, "http", str(port)],
            env=server_env(sink, "omie-http"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}/mcp", sink
        finally:
            stop(proc)


def _run_bare_client(url: str, headers: dict[str, str], meta: dict[str, str] | None) -> Any:
    """A client in a fresh interpreter with no OpenTelemetry SDK: it adds no _meta trace context of its own."""
    code = (
        "import asyncio, json, sys\n"
        "from fastmcp import Client\n"
        "from fastmcp.client.transports import StreamableHttpTransport\n"
        "url, headers, meta = json.loads(sys.argv[1])\n"
        "async def main():\n"
        "    async with Client(StreamableHttpTransport(url, headers=headers)) as c:\n"
        "        r = await c.call_tool('ecoar', {'texto': 'x'}, meta=meta)\n"
        "        print(json.dumps(r.data))\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_SDK_DISABLED"] = "true"
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps([url, headers, meta])], env=env, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return json.loads(out.stdout)


def test_http_traceparent_header_is_the_parent_without_meta(http_server: tuple[str, OtlpSink]) -> None:
    url, sink = http_server
    assert _run_bare_client(url, {"traceparent": FOREIGN_PARENT}, None) == "X"
    assert sink.wait_for(lambda s: any(sp["trace_id"] == FOREIGN_PARENT[3:35] for sp in tool_span(s)))
    (span,) = [sp for sp in tool_span(sink) if sp["trace_id"] == FOREIGN_PARENT[3:35]]
    assert span["parent_span_id"] == FOREIGN_PARENT[36:52]
    assert span["attributes"]["network.transport"] == "tcp"
    assert span["attributes"]["network.protocol.name"] == "http"
    assert span["resource"]["service.name"] == "omie-http"


def test_meta_wins_over_http_header_and_http_context_is_linked(http_server: tuple[str, OtlpSink]) -> None:
    url, sink = http_server
    meta_parent = "00-11111111111111111111111111111111-2222222222222222-01"
    assert _run_bare_client(url, {"traceparent": FOREIGN_PARENT}, {"traceparent": meta_parent}) == "X"
    assert sink.wait_for(lambda s: any(sp["trace_id"] == "1" * 32 for sp in tool_span(s)))
    (span,) = [sp for sp in tool_span(sink) if sp["trace_id"] == "1" * 32]
    assert span["parent_span_id"] == "2" * 16
    assert span["links"] == [(FOREIGN_PARENT[3:35], FOREIGN_PARENT[36:52])]


async def test_http_in_process_client_trace_continues(telemetry: Any, http_server: tuple[str, OtlpSink]) -> None:
    url, sink = http_server
    with trace.get_tracer("agent").start_as_current_span("agent turn") as agent:
        async with Client(StreamableHttpTransport(url)) as client:
            assert (await client.call_tool("ecoar", {"texto": "y"}, meta=current_meta())).data == "Y"
    trace_id = format(agent.get_span_context().trace_id, "032x")
    assert sink.wait_for(lambda s: any(sp["trace_id"] == trace_id for sp in tool_span(s)))
    assert sink.wait_for(
        lambda s: any(m["name"] == "mcp.server.operation.duration" and m["attributes"].get("network.transport") == "tcp"
                      for m in s.metrics)
    )


async def test_http_session_has_one_stable_id_and_its_duration_is_recorded_when_it_ends(
    telemetry: Any, http_server: tuple[str, OtlpSink]
) -> None:
    url, sink = http_server
    kw = {"mode": "legacy"} if FASTMCP_MAJOR >= 4 else {}  # a session needs the initialize handshake
    async with Client(StreamableHttpTransport(url), **kw) as client:
        await client.ping()
        for text in ("sessao-a", "sessao-b"):
            assert (await client.call_tool("ecoar", {"texto": text})).data == text.upper()
    # the client's DELETE ends the session: its duration is recorded then, not at server shutdown
    assert sink.wait_for(
        lambda s: any(m["name"] == "mcp.server.session.duration" and m["attributes"].get("network.transport") == "tcp"
                      for m in s.metrics)
    ), [m["name"] for m in sink.metrics]
    (point, *_) = [m for m in sink.metrics if m["name"] == "mcp.server.session.duration"]
    assert point["attributes"]["network.protocol.name"] == "http"
    assert point["attributes"]["mcp.protocol.version"][:2] == "20"
    assert "error.type" not in point["attributes"]

    def one_session_shares_one_id(s: OtlpSink) -> bool:
        by_session: dict[str, list[str]] = {}
        for sp in s.spans:
            sid = sp["attributes"].get("mcp.session.id")
            if sid:
                by_session.setdefault(sid, []).append(sp["name"])
        return any(names.count("tools/call ecoar") >= 2 and len(names) >= 3 for names in by_session.values())

    # one id for every request of the session: its two tool calls and the handshake share it
    assert sink.wait_for(one_session_shares_one_id), [(sp["name"], sp["attributes"].get("mcp.session.id"))
                                                       for sp in sink.spans]


async def test_opentelemetry_instrument_needs_no_code_change(telemetry: Any) -> None:
    """`opentelemetry-instrument python server.py` finds us through the entry point; the server has no telemetry code."""
    import shutil

    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert launcher, "opentelemetry-instrument is installed with opentelemetry-instrumentation"
    plain = str(Path(__file__).parent / "servers" / "plain_server.py")
    with otlp_sink() as sink:
        env = server_env(sink, "omie-plain")
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "httpx"  # only ours: keep the check about the entry point
        transport = StdioTransport(command=launcher, args=[sys.executable, plain], env=env, keep_alive=False)
        async with Client(transport) as client:
            assert (await client.call_tool("somar", {"a": 2, "b": 3})).data == 5
        assert sink.wait_for(lambda s: any(sp["name"] == "tools/call somar" for sp in s.spans))
        (span,) = [sp for sp in sink.spans if sp["name"] == "tools/call somar"]
        assert span["attributes"]["gen_ai.operation.name"] == "execute_tool"
        assert span["attributes"]["network.transport"] == "pipe"
        assert span["resource"]["service.name"] == "omie-plain"
        assert sink.wait_for(lambda s: any(m["name"] == "mcp.server.operation.duration" for m in s.metrics))
