"""Logs bridged to OpenTelemetry with trace correlation, and the JSON console format parsed back."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastmcp import Client, FastMCP

import omie_otel
from omie_otel import semconv as sc

log = logging.getLogger("omie.app.tools")


def make_server() -> FastMCP:
    mcp = FastMCP("omie")

    @mcp.tool
    def listar(pagina: int = 1) -> str:
        log.info("listando clientes", extra={"pagina": pagina})
        log.debug("detalhe que não deve sair no nível INFO")
        log.warning("cliente com cpf 529.982.247-25 e app_secret=abc-123-xyz")
        return "ok"

    return mcp


@pytest.fixture
def clean_root() -> Any:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    for h in saved[1]:
        root.removeHandler(h)
    root.setLevel(logging.WARNING)
    yield root
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[1]:
        root.addHandler(h)
    root.setLevel(saved[0])


async def test_records_during_a_tool_call_carry_its_trace_and_span(telemetry: Any, clean_root: Any) -> None:
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, logger_provider=telemetry.logger_provider)
    async with Client(mcp) as client:
        await client.call_tool("listar", {"pagina": 3})
    (tool,) = [s for s in telemetry.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == "listar"]
    mine = [r for r in telemetry.log_records() if str(r.body).startswith(("listando", "cliente", "detalhe"))]
    assert [str(r.body)[:8] for r in mine] == ["listando", "cliente "]  # DEBUG below the default INFO level
    info, warning = mine
    assert info.trace_id == tool.context.trace_id
    assert info.span_id == tool.context.span_id
    assert info.severity_text == "INFO"
    assert info.attributes["pagina"] == 3
    assert info.attributes["code.function.name"] == "listar"
    assert warning.severity_text == "WARN"
    assert warning.body == "cliente com cpf [redacted: cpf] e app_secret=[redacted: app_secret]"


async def test_uninstrument_removes_the_handler(telemetry: Any, clean_root: Any) -> None:
    omie_otel.instrument(FastMCP("x"), meter_provider=telemetry.meter_provider)
    assert any(type(h).__name__ == "LoggingHandler" for h in clean_root.handlers)
    assert clean_root.level == logging.INFO  # an unconfigured root is opened to the export level
    omie_otel.uninstrument()
    assert not any(type(h).__name__ in ("LoggingHandler", "StreamHandler") for h in clean_root.handlers)
    assert clean_root.level == logging.WARNING
    log.warning("depois do uninstrument")
    assert all("depois" not in str(r.body) for r in telemetry.log_records())


async def test_json_console_format_parsed_back(
    telemetry: Any, clean_root: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMIE_OTEL_LOG_FORMAT", "json")
    mcp = make_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    async with Client(mcp) as client:
        await client.call_tool("listar", {"pagina": 5})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    ours = [entry for entry in lines if entry["logger"] == "omie.app.tools"]
    assert [e["level"] for e in ours] == ["INFO", "WARNING"]
    (tool,) = [s for s in telemetry.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == "listar"]
    assert ours[0]["trace_id"] == format(tool.context.trace_id, "032x")
    assert ours[0]["span_id"] == format(tool.context.span_id, "016x")
    assert ours[0]["message"] == "listando clientes" and ours[0]["pagina"] == 5
    assert ours[1]["message"] == "cliente com cpf [redacted: cpf] e app_secret=[redacted: app_secret]"


def test_bad_log_format_warns_and_keeps_text(
    telemetry: Any, clean_root: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OMIE_OTEL_LOG_FORMAT", "yaml")
    omie_otel.instrument(FastMCP("x"), meter_provider=telemetry.meter_provider)
    assert any("OMIE_OTEL_LOG_FORMAT='yaml' is not a log format; use 'text' or 'json'" in r.getMessage() for r in caplog.records)
    from omie_otel.logs import JsonFormatter

    assert not any(isinstance(h.formatter, JsonFormatter) for h in clean_root.handlers)
