"""MCP spans and metrics through the in-memory fastmcp.Client (runs on FastMCP 2.x, 3.x and 4.x)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import omie_otel
from omie_otel import semconv as sc

FASTMCP_MAJOR = int(__import__("fastmcp").__version__.split(".")[0])


def make_server(name: str = "omie") -> FastMCP:
    mcp = FastMCP(name)

    @mcp.tool
    def listar_clientes(pagina: int = 1) -> dict[str, Any]:
        return {"pagina": pagina, "clientes": ["ACME"]}

    @mcp.tool
    def falhar(motivo: str) -> str:
        raise ValueError(f"falhou: {motivo}")

    @mcp.tool
    def recusar() -> str:
        raise ToolError("recusado pelo Omie")

    @mcp.resource("omie://status")
    def status() -> str:
        return "ok"

    @mcp.prompt
    def resumo(periodo: str) -> str:
        return f"Resuma o período {periodo}"

    return mcp


async def call(mcp: FastMCP, tool: str, args: dict[str, Any] | None = None, **kw: Any) -> Any:
    async with Client(mcp) as client:
        return await client.call_tool(tool, args or {}, **kw)


def tool_spans(telemetry: Any, tool: str) -> list[Any]:
    return [s for s in telemetry.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == tool]


def duration_points(telemetry: Any, **attrs: Any) -> list[Any]:
    return [
        p
        for p in telemetry.points(sc.MCP_SERVER_OPERATION_DURATION)
        if all(p.attributes.get(k) == v for k, v in attrs.items())
    ]


# --- 3. spans -----------------------------------------------------------------------------------------------------
async def test_tool_call_has_exactly_one_server_span_with_semconv_attributes(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    await call(mcp, "listar_clientes", {"pagina": 2})

    spans = tool_spans(telemetry, "listar_clientes")
    assert len(spans) == 1, [s.name for s in telemetry.server_spans()]
    span = spans[0]
    assert span.name == "tools/call listar_clientes"
    assert span.kind is SpanKind.SERVER
    assert span.attributes[sc.MCP_METHOD_NAME] == "tools/call"
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert span.attributes[sc.JSONRPC_REQUEST_ID]
    if FASTMCP_MAJOR >= 4:  # the default client speaks 2026-07-28: no session, so no mcp.session.id (MUST NOT)
        assert sc.MCP_SESSION_ID not in span.attributes
    else:
        assert span.attributes[sc.MCP_SESSION_ID]
    assert span.status.status_code is StatusCode.UNSET
    # nothing captured by default
    assert sc.GEN_AI_TOOL_CALL_ARGUMENTS not in span.attributes
    assert sc.GEN_AI_TOOL_CALL_RESULT not in span.attributes
    # every SERVER span is one request: no two share a jsonrpc id within a session and method
    keys = [
        (s.attributes.get(sc.MCP_SESSION_ID), s.attributes.get(sc.MCP_METHOD_NAME), s.attributes.get(sc.JSONRPC_REQUEST_ID))
        for s in telemetry.server_spans()
    ]
    assert len(keys) == len(set(keys))


async def test_prompt_resource_and_list_methods_are_spanned(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    async with Client(mcp) as client:
        await client.list_tools()
        await client.list_prompts()
        await client.list_resources()
        await client.get_prompt("resumo", {"periodo": "11/2026"})
        await client.read_resource("omie://status")

    by_method: dict[str, list[Any]] = {}
    for s in telemetry.server_spans():
        by_method.setdefault(s.attributes[sc.MCP_METHOD_NAME], []).append(s)
    assert len(by_method["prompts/get"]) == 1
    prompt = by_method["prompts/get"][0]
    assert prompt.name == "prompts/get resumo"
    assert prompt.attributes[sc.GEN_AI_PROMPT_NAME] == "resumo"
    assert len(by_method["resources/read"]) == 1
    assert by_method["resources/read"][0].attributes[sc.MCP_RESOURCE_URI] == "omie://status"
    for method in ("tools/list", "prompts/list", "resources/list"):
        assert by_method[method], method
        assert by_method[method][0].name == method
    init = "initialize" if FASTMCP_MAJOR < 4 else "server/discover"
    assert init in by_method, sorted(by_method)
    assert len(duration_points(telemetry, **{sc.MCP_METHOD_NAME: "prompts/get", sc.GEN_AI_PROMPT_NAME: "resumo"})) == 1


async def test_mounted_sub_server_does_not_double_count(telemetry: Any) -> None:
    parent = FastMCP("gateway")
    child = make_server("financeiro")
    parent.mount(child, prefix="fin") if FASTMCP_MAJOR < 3 else parent.mount(child, namespace="fin")
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider)  # every server, the child included
    await call(parent, "fin_listar_clientes")

    calls = [s for s in telemetry.server_spans() if s.attributes.get(sc.MCP_METHOD_NAME) == "tools/call"]
    assert len(calls) == 1, [(s.name, dict(s.attributes)) for s in calls]
    assert calls[0].name == "tools/call fin_listar_clientes"
    points = duration_points(telemetry, **{sc.MCP_METHOD_NAME: "tools/call"})
    assert sum(p.count for p in points) == 1


# --- 4. errors ----------------------------------------------------------------------------------------------------
async def test_tool_exception_sets_error_and_client_sees_unchanged_error(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    with pytest.raises(ToolError, match="falhou: sem saldo"):
        await call(mcp, "falhar", {"motivo": "sem saldo"})
    (span,) = tool_spans(telemetry, "falhar")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "tool_error"
    assert [e.name for e in span.events].count("exception") == 1
    (point,) = duration_points(telemetry, **{sc.GEN_AI_TOOL_NAME: "falhar"})
    assert point.attributes[sc.ERROR_TYPE] == "tool_error"


async def test_tool_error_result_and_unknown_tool_and_validation(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    result = await call(mcp, "recusar", raise_on_error=False)
    assert result.is_error is True
    with pytest.raises(Exception, match="nao_existe"):
        await call(mcp, "nao_existe")
    with pytest.raises(ToolError):
        await call(mcp, "listar_clientes", {"pagina": "não é número"})

    (recusar,) = tool_spans(telemetry, "recusar")
    assert recusar.status.status_code is StatusCode.ERROR
    assert recusar.attributes[sc.ERROR_TYPE] == "tool_error"
    # An unknown tool and invalid arguments reach the client as `isError: true` results: `tool_error`, no JSON-RPC code
    (unknown,) = tool_spans(telemetry, "nao_existe")
    (invalid,) = [s for s in tool_spans(telemetry, "listar_clientes")]
    for span in (unknown, invalid):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == "tool_error", dict(span.attributes)
        assert sc.RPC_RESPONSE_STATUS_CODE not in span.attributes
    for tool in ("recusar", "nao_existe", "listar_clientes"):
        (point,) = duration_points(telemetry, **{sc.GEN_AI_TOOL_NAME: tool})
        assert point.attributes[sc.ERROR_TYPE] == "tool_error", (tool, dict(point.attributes))
        assert sc.RPC_RESPONSE_STATUS_CODE not in point.attributes


async def test_json_rpc_error_is_one_error_type_on_span_and_metric_with_status_code(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    async with Client(mcp) as client:
        with pytest.raises(Exception, match="omie://nada"):
            await client.read_resource("omie://nada")

    (span,) = [s for s in telemetry.server_spans() if s.attributes.get(sc.MCP_METHOD_NAME) == "resources/read"]
    (point,) = duration_points(telemetry, **{sc.MCP_METHOD_NAME: "resources/read"})
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == point.attributes[sc.ERROR_TYPE]
    assert span.attributes.get(sc.RPC_RESPONSE_STATUS_CODE) == point.attributes.get(sc.RPC_RESPONSE_STATUS_CODE)
    if FASTMCP_MAJOR >= 4:  # the wire answer is JSON-RPC error -32602 (unknown resource = invalid params, SEP-2164)
        assert point.attributes[sc.ERROR_TYPE] == "-32602"
        assert point.attributes[sc.RPC_RESPONSE_STATUS_CODE] == "-32602"


async def test_is_error_result_returned_by_tool_marks_span(telemetry: Any) -> None:
    if FASTMCP_MAJOR < 3:
        pytest.skip("FastMCP 2.x tools cannot return an isError result (ToolResult has no is_error)")
    from fastmcp.tools import ToolResult
    mcp = make_server()

    @mcp.tool
    def meio_erro():  # type: ignore[no-untyped-def]
        return ToolResult(content=[{"type": "text", "text": "Omie fora do ar"}], is_error=True)  # type: ignore[list-item]

    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    result = await call(mcp, "meio_erro", raise_on_error=False)
    assert result.is_error is True
    (span,) = tool_spans(telemetry, "meio_erro")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "tool_error"


# --- 5. metrics ---------------------------------------------------------------------------------------------------
async def test_operation_duration_histogram_buckets_and_low_cardinality(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    for page in (1, 2, 3):
        await call(mcp, "listar_clientes", {"pagina": page})
    (point,) = duration_points(telemetry, **{sc.GEN_AI_TOOL_NAME: "listar_clientes"})
    assert point.count == 3
    assert tuple(point.explicit_bounds) == sc.MCP_DURATION_BUCKETS
    # the recommended attributes of mcp.server.operation.duration, each bounded (no ids, no arguments)
    assert set(point.attributes) == {
        sc.MCP_METHOD_NAME, sc.GEN_AI_TOOL_NAME, sc.GEN_AI_OPERATION_NAME, sc.MCP_PROTOCOL_VERSION,
    }
    assert point.attributes[sc.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert point.attributes[sc.MCP_PROTOCOL_VERSION][:2] == "20"
    assert 0 < point.sum < 5
    # gen_ai.operation.name is for tool calls only (semconv: SHOULD NOT be set otherwise)
    for p in telemetry.points(sc.MCP_SERVER_OPERATION_DURATION):
        if p.attributes[sc.MCP_METHOD_NAME] != "tools/call":
            assert sc.GEN_AI_OPERATION_NAME not in p.attributes


def test_protocol_version_on_metrics_is_bounded() -> None:
    from omie_otel._mcp_middleware import McpTelemetry

    t = McpTelemetry.__new__(McpTelemetry)
    t._versions = set()
    seen = {t.bounded_version(f"2025-01-{i:02d}") for i in range(1, 29)}
    assert "_other" in seen and len(seen) <= 17


# --- MCP sessions ---------------------------------------------------------------------------------------------------
def _session_ids(telemetry: Any) -> list[Any]:
    return [s.attributes.get(sc.MCP_SESSION_ID) for s in telemetry.server_spans()]


async def test_session_id_is_the_session_stable_across_requests_and_differs_between_sessions(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    kw = {"mode": "legacy"} if FASTMCP_MAJOR >= 4 else {}  # FastMCP 4 default client mode has no sessions
    for _ in range(2):
        async with Client(mcp, **kw) as client:
            await client.ping()
            await client.list_tools()
            await client.call_tool("listar_clientes", {})
            await client.call_tool("nao_existe", {}, raise_on_error=False)
    methods = [s.attributes[sc.MCP_METHOD_NAME] for s in telemetry.server_spans()]
    ids = _session_ids(telemetry)
    if FASTMCP_MAJOR < 3:  # FastMCP 2.x runs initialize middleware without the session: no id to read there
        ids = [i for m, i in zip(methods, ids, strict=True) if m != "initialize"]
    assert None not in ids, list(zip(methods, ids, strict=True))
    assert len(set(ids)) == 2, "one id per session, not per request"
    if FASTMCP_MAJOR >= 4:  # FastMCP 4 spans initialize and ping too, and they carry the session id
        assert {"initialize", "ping"} <= set(methods)


async def test_no_session_id_on_sessionless_protocol(telemetry: Any) -> None:
    if FASTMCP_MAJOR < 4:
        pytest.skip("protocol 2026-07-28 (sessionless) needs FastMCP 4")
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    async with Client(mcp) as client:
        await client.call_tool("listar_clientes", {})
        await client.call_tool("nao_existe", {}, raise_on_error=False)
    spans = telemetry.server_spans()
    assert len(spans) >= 3
    assert all(sc.MCP_SESSION_ID not in s.attributes for s in spans), [dict(s.attributes) for s in spans]
    assert {s.attributes[sc.MCP_PROTOCOL_VERSION] for s in spans} == {"2026-07-28"}


async def test_session_duration_recorded_per_session(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    kw = {"mode": "legacy"} if FASTMCP_MAJOR >= 4 else {}
    for _ in range(2):
        async with Client(mcp, **kw) as client:
            await client.call_tool("listar_clientes", {})
    points = telemetry.points(sc.MCP_SERVER_SESSION_DURATION)
    assert sum(p.count for p in points) == 2
    (point,) = points
    assert point.attributes[sc.MCP_PROTOCOL_VERSION][:2] == "20"
    assert sc.ERROR_TYPE not in point.attributes


async def test_no_session_duration_without_a_session(telemetry: Any) -> None:
    if FASTMCP_MAJOR < 4:
        pytest.skip("protocol 2026-07-28 (sessionless) needs FastMCP 4")
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    await call(mcp, "listar_clientes")  # the default client negotiates 2026-07-28: no MCP session
    assert telemetry.points(sc.MCP_SERVER_OPERATION_DURATION)
    assert sum(p.count for p in telemetry.points(sc.MCP_SERVER_SESSION_DURATION)) == 0


# --- 6. context propagation ---------------------------------------------------------------------------------------
async def test_client_trace_continues_into_server_span_from_meta(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    tracer = trace.get_tracer("agent")
    with tracer.start_as_current_span("agent turn") as agent:
        meta: dict[str, Any] = {}
        propagate.inject(meta)
        await call(mcp, "listar_clientes", meta=meta)
    (span,) = tool_spans(telemetry, "listar_clientes")
    assert span.context.trace_id == agent.get_span_context().trace_id
    # the parent is what _meta names: the agent span (FastMCP 2.x client) or FastMCP's own client span (>= 3)
    candidates = {agent.get_span_context().span_id} | {
        s.context.span_id for s in telemetry.finished(SpanKind.CLIENT) if s.context.trace_id == span.context.trace_id
    }
    assert span.parent is not None and span.parent.span_id in candidates


async def test_meta_parent_wins_over_ambient_context_and_is_linked(telemetry: Any) -> None:
    """The semconv rule: _meta is the parent; a different ambient (HTTP) context becomes a link."""
    from omie_otel._mcp_request_facts import parent_and_links as _parent_and_links

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("meta-origin") as origin:
        meta: dict[str, Any] = {}
        propagate.inject(meta)

    class Msg:
        def __init__(self) -> None:
            self.meta = meta

    class Ctx:
        message = Msg()
        fastmcp_context = None

    with tracer.start_as_current_span("http-server") as http_span:
        parent, links = _parent_and_links(None, Ctx())
    assert trace.get_current_span(parent).get_span_context().span_id == origin.get_span_context().span_id
    assert links is not None and links[0].context.span_id == http_span.get_span_context().span_id


# --- 7. capture ---------------------------------------------------------------------------------------------------
async def test_capture_arguments_and_results_scrubbed_and_truncated(telemetry: Any) -> None:
    mcp = make_server()

    @mcp.tool
    def incluir(app_secret: str, nome: str) -> str:
        return "x" * 500

    omie_otel.instrument(
        mcp, meter_provider=telemetry.meter_provider, capture_arguments=True, capture_results=True, capture_max_length=64
    )
    await call(mcp, "incluir", {"app_secret": "s3nh4-m3str4", "nome": "ACME"})
    (span,) = tool_spans(telemetry, "incluir")
    args = json.loads(span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS])
    assert args == {"app_secret": "[redacted: app_secret]", "nome": "ACME"}
    result = span.attributes[sc.GEN_AI_TOOL_CALL_RESULT]
    assert len(result) == 64 and result.endswith("…")


async def test_capture_enabled_by_environment(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIE_OTEL_CAPTURE_ARGUMENTS", "true")
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    await call(mcp, "listar_clientes", {"pagina": 7})
    (span,) = tool_spans(telemetry, "listar_clientes")
    assert json.loads(span.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"pagina": 7}
    assert sc.GEN_AI_TOOL_CALL_RESULT not in span.attributes


# --- 2. API: providers, idempotency, uninstrument, every server --------------------------------------------------
async def test_explicit_non_global_tracer_provider_gets_the_only_span(telemetry: Any) -> None:
    own_spans = InMemorySpanExporter()
    own = TracerProvider()
    own.add_span_processor(SimpleSpanProcessor(own_spans))
    mcp = make_server()
    omie_otel.instrument(mcp, tracer_provider=own, meter_provider=telemetry.meter_provider)
    await call(mcp, "listar_clientes")
    mine = [s for s in own_spans.get_finished_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == "listar_clientes"]
    assert len(mine) == 1
    assert tool_spans(telemetry, "listar_clientes") == []  # nothing went to the global provider


async def test_instrument_twice_is_harmless(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    await call(mcp, "listar_clientes")
    assert len(tool_spans(telemetry, "listar_clientes")) == 1
    assert sum(p.count for p in duration_points(telemetry, **{sc.GEN_AI_TOOL_NAME: "listar_clientes"})) == 1
    assert sum("already called" in r.getMessage() for r in caplog.records) == 1


async def test_uninstrument_stops_recording(telemetry: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    omie_otel.uninstrument()
    await call(mcp, "listar_clientes")
    assert duration_points(telemetry) == []
    assert all(s.instrumentation_scope.name != "omie_otel" for s in telemetry.server_spans())
    assert all(sc.GEN_AI_OPERATION_NAME not in s.attributes or FASTMCP_MAJOR >= 4 for s in telemetry.server_spans())


async def test_mcp_none_instruments_existing_and_later_servers(telemetry: Any) -> None:
    before = make_server("antes")
    omie_otel.instrument(meter_provider=telemetry.meter_provider)
    after = make_server("depois")
    await call(before, "listar_clientes")
    await call(after, "listar_clientes")
    assert sum(p.count for p in duration_points(telemetry, **{sc.GEN_AI_TOOL_NAME: "listar_clientes"})) == 2


def test_bad_argument_names_value_and_fix() -> None:
    with pytest.raises(ValueError, match=r"capture_max_length=3 .* e\.g\. 4096"):
        omie_otel.instrument(make_server(), capture_max_length=3)
    with pytest.raises(ValueError, match=r"omie_url='ftp://x' .*https://app.omie.com.br/api/"):
        omie_otel.instrument(make_server(), omie_url="ftp://x")
    with pytest.raises(TypeError, match="expected a fastmcp.FastMCP"):
        omie_otel.instrument(object())
    assert not omie_otel._lifecycle.is_instrumented()


# --- 9. telemetry never breaks the server -------------------------------------------------------------------------
async def test_broken_scrub_callback_never_breaks_the_tool(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMIE_OTEL_RAISE_INTERNAL_ERRORS")

    def broken(match: Any) -> Any:
        raise RuntimeError("hook bug")

    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, capture_arguments=True, scrub_callback=broken)
    result = await call(mcp, "listar_clientes", {"pagina": 1})
    assert result.data == {"pagina": 1, "clientes": ["ACME"]} or result.structured_content["pagina"] == 1
    assert len(tool_spans(telemetry, "listar_clientes")) == 1


async def test_internal_error_in_middleware_is_swallowed(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMIE_OTEL_RAISE_INTERNAL_ERRORS")
    from omie_otel import _mcp_middleware as _mcp

    def explode(*a: Any, **k: Any) -> Any:
        raise RuntimeError("our bug")

    monkeypatch.setattr(_mcp.McpTelemetryMiddleware, "_begin", explode)
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    result = await call(mcp, "listar_clientes", {"pagina": 4})
    assert result.structured_content["pagina"] == 4


async def test_session_that_ends_in_error_records_error_type(telemetry: Any) -> None:
    from types import SimpleNamespace

    from omie_otel._fastmcp_patch import _timed_session
    from omie_otel._mcp_context import note_session_connection

    omie_otel.instrument(make_server(), meter_provider=telemetry.meter_provider)

    async def crashing_session() -> None:
        note_session_connection(SimpleNamespace(protocol_version="2025-11-25"))
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        await _timed_session("tcp")(crashing_session, None, (), {})
    (point,) = telemetry.points(sc.MCP_SERVER_SESSION_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "ConnectionResetError"
    assert point.attributes[sc.NETWORK_TRANSPORT] == "tcp"
    assert point.attributes[sc.MCP_PROTOCOL_VERSION] == "2025-11-25"
