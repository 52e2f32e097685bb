"""No secret and no CPF/CNPJ reaches the wire, whatever the input: proven on the raw OTLP bytes.

Real tool calls (arguments and results captured, exceptions, the tool's own spans, events and links), real Omie
calls (the simulator, in process) and real log records (structured ``extra=``) go through the real OTLP/HTTP
exporters to a receiver on 127.0.0.1. The exporters are the *user's*, added before ``instrument()``, on providers
with attribute length limits. The receiver keeps the request bodies undecoded, and they are searched for:

* every secret (``app_key`` sent as a number, ``app_secret``, an inline password) and its first characters — what
  a length limit applied before scrubbing would leave;
* every CPF/CNPJ used, in any spelling: the digits with up to three non-digit bytes between them (``.``, ``-``,
  ``/``, spaces, ``+``, ``%20``, a JSON escape), and the first nine digits alone (a cut document);
* the numbers themselves as protobuf ``int_value`` varints (``{"cpf": 11144477735}`` is not text on the wire).

The negative control runs the same traffic with the scrubber switched off and requires *every* needle to be found:
so each needle really is exercised, and the search can fail.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastmcp import Client, FastMCP
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import omie_otel
from omie_otel import redaction
from omie_otel.simulator import OmieSimulator
from tests.helpers.otlp_sink import OtlpSink, otlp_sink

APP_KEY = 7364519028471  # sent as a JSON number: never learnt by the registry before
APP_SECRET = "Zq8omieSecret4f1c2b9e"
INLINE_PASSWORD = "p@ss w0rd&x"
CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
CPF_AS_INT = 11144477735  # 111.444.777-35
CPF_LEADING_ZERO = 1234567890  # 012.345.678-90 as a number: its leading zero is gone
CNPJ_AS_INT = 60701190000104  # 60.701.190/0001-04
LIMIT = 40  # attribute length limit on both providers


def _cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


#: Every document used, as the digits of its text (numbers lose their leading zeros: 01234567890 is 1234567890).
DOCUMENT_DIGITS = [
    "52998224725",
    "11222333000181",
    "12345678000195",
    *(str(n) for n in (CPF_AS_INT, CPF_LEADING_ZERO, CNPJ_AS_INT)),
]


def _spelled(digits: str) -> re.Pattern[bytes]:
    return re.compile(b"[^0-9]{0,3}".join(d.encode() for d in digits))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


NEEDLES: dict[str, re.Pattern[bytes]] = {
    "app_secret": re.compile(re.escape(APP_SECRET[:8].encode())),
    "app_key": _spelled(str(APP_KEY)),
    "app_key (int_value)": re.compile(re.escape(b"\x18" + _varint(APP_KEY))),
    "inline password": re.compile(rb"p@ss|w0rd&x"),
    **{f"document {d}": _spelled(d) for d in DOCUMENT_DIGITS},
    **{f"document {d} cut": _spelled(d[:9]) for d in DOCUMENT_DIGITS},
    **{
        f"document {n} (int_value)": re.compile(re.escape(b"\x18" + _varint(n)))
        for n in (CPF_AS_INT, CPF_LEADING_ZERO, CNPJ_AS_INT)
    },
}


def _found(sink: OtlpSink) -> dict[str, str]:
    """Which needles occur in which signal's raw bodies."""
    hits: dict[str, str] = {}
    for path, body in sink.raw:
        for name, needle in NEEDLES.items():
            if name not in hits and needle.search(body):
                hits[name] = path
    return hits


@pytest.fixture
def scrubbing_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative control: every scrubbing entry point returns its input as it came."""
    monkeypatch.setattr(redaction.Scrubber, "scrub_text", lambda self, text, *a, **k: text)
    monkeypatch.setattr(redaction.Scrubber, "scrub_value", lambda self, value, *a, **k: value)
    monkeypatch.setattr(redaction.Scrubber, "_walk", lambda self, value, *a, **k: value)
    monkeypatch.setattr(redaction.Scrubber, "scrub_attributes", lambda self, *a, **k: None)


@pytest.fixture
def pipeline(telemetry: Any) -> Iterator[tuple[OtlpSink, TracerProvider, MeterProvider, LoggerProvider]]:
    """The user's own providers and OTLP/HTTP exporters, set up *before* instrument(), with length limits."""
    with otlp_sink() as sink:
        resource = Resource({"service.name": "leak-test"})
        tracer_provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_attribute_length=LIMIT))
        tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{sink.url}/v1/traces")))
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{sink.url}/v1/metrics"), export_interval_millis=3_600_000
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        logger_provider = LoggerProvider(
            resource=resource, log_record_limits=LogRecordLimits(max_attribute_length=LIMIT)
        )
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{sink.url}/v1/logs"))
        )
        try:
            yield sink, tracer_provider, meter_provider, logger_provider
        finally:
            omie_otel.uninstrument()
            for provider in (tracer_provider, meter_provider, logger_provider):
                provider.shutdown()


def _server(tracer_provider: TracerProvider) -> FastMCP:
    mcp = FastMCP("leaky")
    log = logging.getLogger("leaky.tools")
    tracer = tracer_provider.get_tracer("leaky")
    omie = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=OmieSimulator(seed=7)), base_url="https://app.omie.com.br"
    )

    @mcp.tool
    async def consultar(documento: str, filtro: dict[str, Any], codigos: list[Any]) -> dict[str, Any]:
        body = {"call": "ConsultarCliente", "app_key": APP_KEY, "app_secret": APP_SECRET, "param": [filtro]}
        # Omie calls: a document in the path, a JSON body led by whitespace, a form-encoded body
        await omie.post(f"/api/v1/geral/clientes/{CPF}/", content=b"  " + json.dumps(body).encode())
        await omie.post(
            "/api/v1/geral/clientes/",
            content=f"app_key={APP_KEY}&app_secret={APP_SECRET}&call=ListarClientes&cpf=529+982+247+25".encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        with tracer.start_as_current_span(
            "cliente 52998224725",
            attributes={"cliente.52998224725": "chave", "cpf": CPF_AS_INT, "lista": (CNPJ, "x")},
            links=[trace.Link(trace.get_current_span().get_span_context(), {"doc": "111 444 777 35"})],
        ) as span:
            span.add_event(f"documento {CNPJ}", {"senha": INLINE_PASSWORD, "n": CNPJ_AS_INT})
            span.set_attribute("cortado", "a" * (LIMIT - 12) + CPF)  # a cut before scrubbing leaves 9 digits
            span.set_attribute("segredo_cortado", "a" * (LIMIT - 10) + APP_SECRET)
            span.set_attribute("bytes", f"app_secret={APP_SECRET}".encode())
            span.set_attribute("zero", CPF_LEADING_ZERO)
        log.warning(
            "consulta de %s falhou",
            documento,
            extra={
                "omie_body": {"app_key": APP_KEY, "app_secret": APP_SECRET, "doc": CPF},
                "mista": [1, "11222333/0001-81", APP_SECRET],
                "bruto": f"  {json.dumps({'app_secret': APP_SECRET})}".encode(),
                "cpf_int": CPF_AS_INT,
                "52998224725": "chave com documento",
                "form": f"app_key={APP_KEY}&senha={INLINE_PASSWORD.replace(' ', '+')}",
                "cortado": "b" * (LIMIT - 12) + "111.444.777-35",
            },
        )
        raise ValueError(f"Omie recusou senha: {INLINE_PASSWORD} para 529 982 247 25; corpo {json.dumps(body)}")

    return mcp


async def _traffic(tracer_provider: TracerProvider, meter_provider: MeterProvider, logger_provider: Any) -> None:
    mcp = _server(tracer_provider)
    omie_otel.instrument(
        mcp,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        capture_arguments=True,
        capture_results=True,
        health_routes=False,
    )
    async with Client(mcp) as client:
        result = await client.call_tool(
            "consultar",
            {
                "documento": "529982247-25",
                "filtro": {"cnpj_cpf": "12.345.678/000195", "app_secret": APP_SECRET, "nested": json.dumps(
                    {"inner": json.dumps({"cpf": CPF, "app_key": APP_KEY})}
                )},
                "codigos": [
                    1,
                    "cliente.52998224725",
                    CPF_AS_INT,
                    CPF_LEADING_ZERO,
                    CNPJ_AS_INT,
                    "cpf%3D529.982.247-25%26senha%3Dp%40ss",
                ],
            },
            raise_on_error=False,
        )
        assert result.is_error
        result = await client.call_tool("11222333/0001-81", {}, raise_on_error=False)  # a client-chosen name
        assert result.is_error
    tracer_provider.force_flush()
    logger_provider.force_flush()
    meter_provider.force_flush()


async def test_raw_otlp_bytes_carry_no_secret_and_no_document(pipeline: Any) -> None:
    sink, tracer_provider, meter_provider, logger_provider = pipeline
    await _traffic(tracer_provider, meter_provider, logger_provider)
    paths = {p for p, _ in sink.raw}
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= paths, paths  # every signal was really sent and searched
    assert any(b"[redacted: cpf]" in body for _, body in sink.raw)
    assert _found(sink) == {}


async def test_negative_control_finds_every_needle_when_scrubbing_is_off(pipeline: Any, scrubbing_off: None) -> None:
    sink, tracer_provider, meter_provider, logger_provider = pipeline
    await _traffic(tracer_provider, meter_provider, logger_provider)
    found = _found(sink)
    assert set(found) == set(NEEDLES), f"never exercised: {sorted(set(NEEDLES) - set(found))}"


async def test_omie_endpoint_metric_attribute_is_the_template(pipeline: Any) -> None:
    sink, tracer_provider, meter_provider, logger_provider = pipeline
    await _traffic(tracer_provider, meter_provider, logger_provider)
    endpoints = {
        p["attributes"].get("omie.endpoint")
        for p in sink.metrics
        if p["name"].startswith("omie.client") and "omie.endpoint" in p["attributes"]
    }
    assert endpoints == {"geral/clientes"}, endpoints
