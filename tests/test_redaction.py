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


# -- issue #8: every spelling, every type, every place -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("529.982.247-25", "cpf"),
        ("52998224725", "cpf"),
        ("529982247-25", "cpf"),
        ("529 982 247 25", "cpf"),
        ("529.982.24725", "cpf"),
        ("529-982-247-25", "cpf"),
        ("529+982+247+25", "cpf"),  # a form body's spaces
        ("cliente.52998224725", "cpf"),
        ("cliente_52998224725", "cpf"),
        ("doc:52998224725;", "cpf"),
        ("11.222.333/0001-81", "cnpj"),
        ("11222333000181", "cnpj"),
        ("11222333/0001-81", "cnpj"),
        ("11.222.333/000181", "cnpj"),
        ("11 222 333 0001 81", "cnpj"),
        ("123.456.789-00", "cpf"),  # official punctuation: removed even with wrong check digits
    ],
)
def test_every_common_document_spelling(text: str, kind: str) -> None:
    out = Scrubber().scrub_text(f"x {text} y")
    assert f"[redacted: {kind}]" in out, out
    assert not any(c.isdigit() for c in out), out


@pytest.mark.parametrize(
    "text",
    [
        "telefone 11987654321",  # 11 digits, CPF check digits wrong
        "529 982 247 26",  # loose spelling, wrong check digit: not a document
        "pedido 12345",
        "chave 35210611222333000181550010000000011000000017",  # digits inside a longer number (an NF-e key)
        "versão 3.14159265358979",
    ],
)
def test_loose_spellings_need_valid_check_digits(text: str) -> None:
    assert Scrubber().scrub_text(text) == text


def test_numbers_that_are_documents() -> None:
    s = Scrubber()
    out = s.scrub_value({"cpf": 52998224725, "zero": 1234567890, "cnpj": 11222333000181, "f": 52998224725.0})
    assert out == {
        "cpf": "[redacted: cpf]",
        "zero": "[redacted: cpf]",  # 012.345.678-90 without its leading zero
        "cnpj": "[redacted: cnpj]",
        "f": "[redacted: cpf]",
    }
    assert s.scrub_value({"n": 1234567891, "small": 42, "flag": True}) == {"n": 1234567891, "small": 42, "flag": True}


def test_keys_bytes_mixed_sequences_and_nested_values() -> None:
    register_secret("Kq7-registry-secret", "app_secret")
    redacted: list[str] = []
    out = Scrubber().scrub_value(
        {
            CPF_DIGITS: "chave é um documento",
            "Kq7-registry-secret": 1,
            52998224725: "chave numérica",
            "lista": [1, CPF, "app_secret=abc", b"senha=xyz " + CNPJ.encode(), (CPF_DIGITS,)],
            "fundo": {"mais": {"app_key": 123456, "ok": "sim"}},
        },
        ("attributes",),
        redacted,
    )
    text = json.dumps(out, default=repr)
    for leaked in (CPF, CPF_DIGITS, CNPJ, "Kq7-registry-secret", "abc", "xyz", "123456"):
        assert leaked not in text, leaked
    assert out["fundo"]["mais"] == {"app_key": "[redacted: app_key]", "ok": "sim"}
    assert isinstance(out["lista"][3], bytes)
    for path in redacted:  # paths are built from scrubbed keys
        assert CPF_DIGITS not in path and "Kq7" not in path, path


def test_redacted_paths_never_spell_a_document_again() -> None:
    redacted: list[str] = []
    out = Scrubber().scrub_value({"529": {"982": {"247-25": {"senha": "x"}}}}, ("attributes",), redacted)
    assert out["529"]["982"]["247-25"]["senha"] == "[redacted: senha]"
    assert redacted and all("982.247" not in p for p in redacted), redacted


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("senha: p@ss w0rd&x", ("p@ss", "w0rd&x")),
        ("senha=p@ss w0rd&x", ("p@ss", "w0rd&x")),
        ('{"senha": "p@ss w0rd&x", "x": 1', ("p@ss", "w0rd")),  # truncated JSON: regexes, quoted value whole
        ("{'app_secret': 'a b;c', 'call': 'X'}", ("a b;c",)),  # a Python repr
        ('{"body": "{\\"app_secret\\": \\"s3 cr3t\\"}"', ("s3 cr3t",)),  # JSON inside a JSON string, broken
        ("Cookie: a=1; sessao=2", ("a=1", "sessao=2")),
        ("https://user:s3nh4@host/x", ("s3nh4",)),
    ],
)
def test_inline_secret_values_go_whole(text: str, gone: tuple[str, ...]) -> None:
    out = Scrubber().scrub_text(text)
    assert "[redacted" in out
    for fragment in gone:
        assert fragment not in out, (fragment, out)


def test_form_and_logfmt_keep_the_fields_after_the_secret() -> None:
    s = Scrubber()
    assert s.scrub_text("app_key=123456&app_secret=abc&call=ListarClientes") == (
        "app_key=[redacted: app_key]&app_secret=[redacted: app_secret]&call=ListarClientes"
    )
    assert s.scrub_text("token=abc123 usuario=bob") == "token=[redacted: token] usuario=bob"


@pytest.mark.parametrize(
    "text",
    [
        ' {"app_key": 1234567, "app_secret": "zz-never-learnt"} ',  # JSON led by whitespace, int key
        json.dumps(json.dumps({"app_secret": "zz-never-learnt", "cpf": CPF_DIGITS})),  # JSON-in-JSON
        "cpf%3D" + CPF_DIGITS + "%26app_secret%3Dzz-never-learnt",  # URL-encoded
        "app_key=1234567&app_secret=zz-never-learnt",  # a form body
    ],
)
def test_secrets_never_learnt_do_not_leak_in_a_status_description(telemetry: Any, text: str) -> None:
    provider = TracerProvider()
    early = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(early))
    omie_otel.instrument(FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider)
    with provider.get_tracer("user").start_as_current_span("s") as span:
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"Omie recusou: {text}"))
    (out,) = early.get_finished_spans()
    for leaked in ("zz-never-learnt", "1234567", CPF_DIGITS):
        assert leaked not in (out.status.description or ""), out.status.description


def test_json_keys_scrubbed_and_regexes_still_run_after_a_json_value_changed() -> None:
    register_secret("Kq8-json-secret", "app_secret")
    text = json.dumps({CPF_DIGITS: {"cpf": 52998224725}, "nota": "Kq8-json-secret", "x": f"senha={CPF}"})
    out = Scrubber().scrub_text(text)
    for leaked in (CPF_DIGITS, CPF, "Kq8-json-secret", "52998224725"):
        assert leaked not in out, out
    assert json.loads(out)["[redacted: cpf]"] == {"cpf": "[redacted: cpf]"}


def test_user_processor_sees_scrubbed_spans_in_on_start_and_on_ending(telemetry: Any) -> None:
    from opentelemetry.sdk.trace import SpanProcessor

    seen: dict[str, Any] = {}

    class Watcher(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            seen["start"] = (span.name, dict(span.attributes), [dict(link.attributes) for link in span.links])

        def _on_ending(self, span: Any) -> None:
            if span.name != "outer":
                seen["ending"] = (span.name, dict(span.attributes), [e.name for e in span.events])

    provider = TracerProvider()
    provider.add_span_processor(Watcher())  # the user's, before instrument()
    omie_otel.instrument(FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider)
    tracer = provider.get_tracer("user")
    with tracer.start_as_current_span("outer") as outer:
        link = trace.Link(outer.get_span_context(), {"doc": CNPJ})
        with tracer.start_as_current_span(f"cliente {CPF}", attributes={"cpf": CPF, CPF_DIGITS: 1}, links=[link]) as s:
            s.add_event(f"consulta {CPF}", {"app_secret": "x"})
    assert CPF not in repr(seen["start"]) and CNPJ not in repr(seen["start"]) and CPF_DIGITS not in repr(seen["start"])
    assert CPF not in repr(seen["ending"]) and CPF_DIGITS not in repr(seen["ending"])
    assert seen["start"][0] == "cliente [redacted: cpf]"
    assert seen["start"][2] == [{"doc": "[redacted: cnpj]"}]
    assert seen["ending"][2] == ["consulta [redacted: cpf]"]


def test_length_limits_apply_after_scrubbing_and_are_given_back(telemetry: Any) -> None:
    from opentelemetry.sdk.trace import SpanLimits

    register_secret("Kq9-long-registry-secret", "app_secret")
    limits = SpanLimits(max_attribute_length=20)
    provider = TracerProvider(span_limits=limits)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    omie_otel.instrument(FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider)
    assert limits.max_span_attribute_length is None  # taken over while instrumented
    with provider.get_tracer("user").start_as_current_span("s") as span:
        span.set_attribute("a", "abcdefghijKq9-long-registry-secret")
        span.set_attribute("b", "abcdefghij" + CPF)
        span.add_event("e", {"c": "x" * 50})
    (out,) = exporter.get_finished_spans()
    assert out.attributes["a"] == "abcdefghij[redacted:"  # cut after scrubbing: none of the secret's characters
    assert out.attributes["b"] == "abcdefghij[redacted:"
    assert out.events[0].attributes["c"] == "x" * 20
    omie_otel.uninstrument()
    assert limits.max_span_attribute_length == 20 and limits.max_attribute_length == 20


def test_log_records_every_type_and_event_name(telemetry: Any) -> None:
    omie_otel.instrument(
        FastMCP("x"), meter_provider=telemetry.meter_provider, logger_provider=telemetry.logger_provider
    )
    logger = telemetry.logger_provider.get_logger("user")
    from opentelemetry._logs import LogRecord

    logger.emit(
        LogRecord(
            body={"msg": f"cliente {CPF}", "doc": 52998224725, b"k": b"app_secret=abc"},  # type: ignore[dict-item]
            attributes={
                "omie_body": {"app_key": "1234", "app_secret": "s3", "doc": CPF},
                "mista": [1, CPF, "app_secret=s3"],
                "bruto": b"senha=s3",
                "cpf_int": 52998224725,
                CPF_DIGITS: "k",
            },
            event_name=f"consulta.{CPF_DIGITS}",
        )
    )
    (record,) = telemetry.log_records()
    dumped = repr(record.body) + repr(dict(record.attributes)) + repr(record.event_name)
    for leaked in (CPF, CPF_DIGITS, "s3", "abc", "1234"):
        assert leaked not in dumped, (leaked, dumped)
    assert record.event_name == "consulta.[redacted: cpf]"
    assert "attributes.omie_body.app_secret" in record.attributes["omie_otel.redacted"]


def test_service_name_from_the_server_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    from omie_otel import _lifecycle

    seen: list[Any] = []
    monkeypatch.setattr(_lifecycle, "_resolve_providers", lambda *args: seen.append(args) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        omie_otel.instrument(FastMCP(f"omie {CPF}"), service_name=f"svc {CNPJ}")
    assert seen[0][0] == "svc [redacted: cnpj]" and seen[0][4] == "omie [redacted: cpf]"


def test_client_chosen_request_id_and_protocol_version_are_scanned() -> None:
    redacted: list[str] = []
    out = Scrubber().scrub_attributes(
        {"jsonrpc.request.id": CPF_DIGITS, "mcp.protocol.version": CNPJ, "mcp.session.id": "a1b2"}, "attributes", redacted
    )
    assert out is not None
    assert out["jsonrpc.request.id"] == "[redacted: cpf]" and out["mcp.protocol.version"] == "[redacted: cnpj]"


def test_a_failing_scrubber_withholds_instead_of_exporting_raw(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from omie_otel import redaction

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setenv("OMIE_OTEL_RAISE_INTERNAL_ERRORS", "0")
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    omie_otel.instrument(
        FastMCP("x"), tracer_provider=provider, meter_provider=telemetry.meter_provider,
        logger_provider=telemetry.logger_provider,
    )
    monkeypatch.setattr(redaction.Scrubber, "scrub_attributes", broken)
    with provider.get_tracer("user").start_as_current_span(f"cliente {CPF}", attributes={"cpf": CPF}) as span:
        span.add_event(f"e {CPF}", {"cpf": CPF})
        span.set_status(trace.Status(trace.StatusCode.ERROR, CPF))
    from opentelemetry._logs import LogRecord

    telemetry.logger_provider.get_logger("user").emit(LogRecord(body=f"cliente {CPF}", attributes={"cpf": CPF}))
    (out,) = exporter.get_finished_spans()
    assert CPF not in out.to_json()
    assert dict(out.attributes) == {"omie_otel.redacted": ("*",)} and not out.events
    records = telemetry.log_records()  # ours, and the internal-error warning about the failure
    assert records and all(CPF not in str(r.body) + str(dict(r.attributes or {})) for r in records)
    assert any(r.body == "[redacted: scrubbing failed]" for r in records)


def test_json_console_format_walks_extra_values() -> None:
    from omie_otel.logs import JsonFormatter

    record = logging.makeLogRecord(
        {
            "msg": "consulta",
            "levelname": "INFO",
            "corpo": {"app_secret": "s3-console", CPF_DIGITS: 1},
            "tupla": (1234567890, CNPJ),
            "bruto": b"senha=s3-console",
        }
    )
    line = JsonFormatter().format(record)
    for leaked in ("s3-console", CPF_DIGITS, "1234567890", CNPJ):
        assert leaked not in line, line
    assert json.loads(line)["tupla"] == ["[redacted: cpf]", "[redacted: cnpj]"]
