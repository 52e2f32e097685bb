"""The scrubber, alone and in the pipeline: nothing secret reaches a processor, whoever added it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import omie_otel
from omie_otel.redaction import Scrubber, ScrubMatch, register_secret

CPF = "529.982.247-25"  # valid check digits
CPF_DIGITS = "52998224725"
CNPJ = "11.222.333/0001-81"
CNPJ_DIGITS = "11222333000181"


def test_secret_keys_removed_recursively_including_json_strings() -> None:
    s = Scrubber()
    body = {
        "call": "ListarClientes",
        "app_key": "1234567890123",
        "app_secret": "abcdef0123456789",
        "param": [{"pagina": 1, "senha": "x1y2z3", "nested": json.dumps({"token": "t0k3n-value"})}],
    }
    out = s.scrub_value(body)
    assert out["call"] == "ListarClientes"
    assert out["app_key"] == "[redacted: app_key]"
    assert out["app_secret"] == "[redacted: app_secret]"
    assert out["param"][0]["senha"] == "[redacted: senha]"
    assert out["param"][0]["pagina"] == 1
    assert json.loads(out["param"][0]["nested"]) == {"token": "[redacted: token]"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"cliente {CPF} não encontrado", "cliente [redacted: cpf] não encontrado"),
        (f"cnpj={CNPJ}", "cnpj=[redacted: cnpj]"),
        (f"doc {CPF_DIGITS} ok", "doc [redacted: cpf] ok"),
        (f"doc {CNPJ_DIGITS} ok", "doc [redacted: cnpj] ok"),
        ("telefone 11987654321 ok", "telefone 11987654321 ok"),  # 11 digits, invalid CPF check digits: kept
        ("pedido 12345 ok", "pedido 12345 ok"),
    ],
)
def test_documents(text: str, expected: str) -> None:
    assert Scrubber().scrub_text(text) == expected


def test_documents_can_be_kept() -> None:
    assert Scrubber(documents=False).scrub_text(f"cpf {CPF}") == f"cpf {CPF}"


def test_inline_secrets_in_free_text() -> None:
    s = Scrubber()
    assert s.scrub_text("POST body app_secret=abc123XYZ&call=X") == "POST body app_secret=[redacted: app_secret]&call=X"
    assert (
        s.scrub_text('{"app_key": "999", "x": 1} broken')
        == '{"app_key": "[redacted: app_key]", "x": 1} broken'
    )
    assert s.scrub_text("Authorization: Bearer eyJhbGciOi") == "Authorization: [redacted: authorization]"


def test_known_secret_values_removed_anywhere() -> None:
    register_secret("Zk9-unique-secret-value", "app_secret")
    s = Scrubber()
    assert s.scrub_text("falhou com Zk9-unique-secret-value no corpo") == "falhou com [redacted: app_secret] no corpo"


def test_callback_can_relax_and_extra_patterns_extend() -> None:
    seen: list[ScrubMatch] = []

    def keep_pedido_token(match: ScrubMatch) -> Any:
        seen.append(match)
        return match.value if match.path[-1] == "token_pedido" else None

    s = Scrubber(extra_patterns=["numero_cartao"], callback=keep_pedido_token)
    out = s.scrub_value({"token_pedido": "P-1", "token": "T-2", "numero_cartao": "4111111111111111"})
    assert out == {"token_pedido": "P-1", "token": "[redacted: token]", "numero_cartao": "[redacted: numero_cartao]"}
    assert {m.reason for m in seen} >= {"token", "numero_cartao"}


def test_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"scrubbing pattern '\(' is not a valid regular expression"):
        Scrubber(extra_patterns=["("])


def test_processor_added_before_instrument_only_sees_scrubbed_spans(telemetry: Any) -> None:
    early = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(early))  # the user's, added first
    omie_otel.instrument(FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider)
    tracer = provider.get_tracer("user")
    with tracer.start_as_current_span("omie call", attributes={"app_secret": "s-1234", "cliente": CPF}) as span:
        try:
            raise RuntimeError(f"Omie recusou app_key=AK-98765 para {CNPJ}")
        except RuntimeError as exc:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"erro app_secret=s-1234 {CPF}"))
    (out,) = early.get_finished_spans()
    dumped = out.to_json()
    for secret in ("s-1234", "AK-98765", CPF, CNPJ):
        assert secret not in dumped, secret
    assert out.attributes["app_secret"] == "[redacted: app_secret]"
    assert out.attributes["cliente"] == "[redacted: cpf]"
    assert "attributes.app_secret" in out.attributes["omie_otel.redacted"]
    # an unquoted inline value runs to the end of the line: the CPF after it goes with it
    assert out.status.description == "erro app_secret=[redacted: app_secret]"


def test_processor_added_after_instrument_is_covered_too(telemetry: Any) -> None:
    provider = TracerProvider()
    omie_otel.instrument(FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider)
    late = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(late))
    with provider.get_tracer("user").start_as_current_span("s", attributes={"password": "hunter2"}):
        pass
    assert late.get_finished_spans()[0].attributes["password"] == "[redacted: password]"


async def test_fastmcp_exception_events_and_logs_scrubbed(telemetry: Any) -> None:
    mcp = FastMCP("omie")
    log = logging.getLogger("omie.app")

    @mcp.tool
    def consultar(documento: str) -> str:
        log.error("consulta falhou para %s com app_secret=%s", documento, "segredo-omie-1")
        raise ValueError(f"Omie 500 para {documento}: app_secret=segredo-omie-1")

    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, logger_provider=telemetry.logger_provider)
    handler = _otel_handler(telemetry)
    log.addHandler(handler)
    try:
        async with Client(mcp) as client:
            result = await client.call_tool("consultar", {"documento": CPF}, raise_on_error=False)
    finally:
        log.removeHandler(handler)
    assert result.is_error
    everything = "".join(s.to_json() for s in telemetry.finished())
    records = telemetry.log_records()
    everything += "".join(str(r.body) + str(dict(r.attributes or {})) for r in records)
    assert "segredo-omie-1" not in everything
    assert CPF not in everything
    assert any("[redacted: cpf]" in str(r.body) for r in records)


def _otel_handler(telemetry: Any) -> logging.Handler:
    from opentelemetry.sdk._logs import LoggingHandler

    return LoggingHandler(level=logging.INFO, logger_provider=telemetry.logger_provider)


async def test_client_chosen_tool_name_with_a_cpf_never_reaches_spans_or_metrics(telemetry: Any) -> None:
    mcp = FastMCP("omie")
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider)
    async with Client(mcp) as client:
        with pytest.raises(ToolError, match="Unknown tool"):
            await client.call_tool(CPF, {})
    spans = "".join(s.to_json() for s in telemetry.finished())
    data = telemetry.reader.get_metrics_data()
    metrics = data.to_json() if data is not None else ""
    assert CPF not in spans and CPF not in metrics
    assert "tools/call [redacted: cpf]" in spans
    assert "[redacted: cpf]" in metrics
