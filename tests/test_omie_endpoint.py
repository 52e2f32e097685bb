"""``omie.endpoint`` is the endpoint template, never a path segment with data; secrets are learnt from every body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind

import omie_otel
from omie_otel import omie
from omie_otel import semconv as sc
from omie_otel.omie import KNOWN_ENDPOINTS, endpoint_of
from omie_otel.redaction import Scrubber
from omie_otel.simulator._catalog import SERVICES

CPF = "529.982.247-25"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/v1/geral/clientes/", "geral/clientes"),
        ("/api/v1/geral/clientes", "geral/clientes"),
        (f"/api/v1/geral/clientes/{CPF}/", "geral/clientes"),
        ("/api/v1/financas/contapagar/52998224725/extra/", "financas/contapagar"),
        ("/proxy/omie/api/v1/GERAL/Clientes/", "geral/clientes"),
        ("/api/v1/52998224725/", "_other"),
        (f"/api/v1/{CPF}/clientes/", "_other"),
        ("/api/v1/geral/cliente52998224725/", "geral/_other"),
        ("/api/v1/geral/", "_other"),
        ("/", "_other"),
        ("/api/v1/segredo/abc/", "_other"),
    ],
)
def test_endpoint_template(path: str, template: str) -> None:
    assert endpoint_of(path) == template


def test_every_service_the_simulator_answers_is_a_known_template() -> None:
    assert set(SERVICES) <= KNOWN_ENDPOINTS


def test_unknown_services_of_omie_shape_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(omie, "_unknown_endpoints", set())
    names = [f"geral/servico{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    out = [endpoint_of(f"/api/v1/{n}/") for n in names]
    assert out[:32] == names[:32]
    assert set(out[32:]) == {"geral/_other"}
    assert endpoint_of(f"/api/v1/{names[0]}/") == names[0]  # a name already admitted stays itself


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"error": {"status_code": 404, "status": "Not Found"}})


def test_a_document_in_the_path_reaches_neither_the_metric_nor_the_span(telemetry: Any) -> None:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    with httpx.Client(transport=httpx.MockTransport(_answer)) as client:
        client.post(f"https://app.omie.com.br/api/v1/geral/clientes/{CPF}/?cpf={CPF}", json={})
    (span,) = [s for s in telemetry.finished(SpanKind.CLIENT) if s.name.startswith("omie ")]
    assert span.attributes[sc.OMIE_ENDPOINT] == "geral/clientes"
    assert span.name == "omie geral/clientes"
    assert CPF not in span.to_json() and "cpf=" not in span.to_json()
    points = telemetry.points(sc.OMIE_CLIENT_REQUEST_DURATION)
    assert points and {p.attributes[sc.OMIE_ENDPOINT] for p in points} == {"geral/clientes"}


@pytest.mark.parametrize(
    ("content", "secret"),
    [
        (json.dumps({"call": "ListarClientes", "app_key": 8812345678901, "app_secret": "x"}), "8812345678901"),
        ("  \n" + json.dumps({"call": "ListarClientes", "app_key": "k", "app_secret": "seg-espaco-1"}), "seg-espaco-1"),
        ("call=ListarClientes&app_key=kk&app_secret=seg-form-2%21", "seg-form-2!"),
    ],
)
def test_secrets_are_learnt_from_int_whitespace_led_and_form_bodies(telemetry: Any, content: str, secret: str) -> None:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    with httpx.Client(transport=httpx.MockTransport(_answer)) as client:
        client.post("https://app.omie.com.br/api/v1/geral/clientes/", content=content.encode())
    out = Scrubber().scrub_text(f"Omie recusou a chave {secret} hoje")
    assert out in ("Omie recusou a chave [redacted: app_key] hoje", "Omie recusou a chave [redacted: app_secret] hoje")
