"""The Omie instrumentation against the simulator in-process: real wire format, real faults, no mocks of ours."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import omie_otel
from omie_otel import semconv as sc
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator

BASE = "https://app.omie.com.br/api/v1/"


def payload(call: str, **param: Any) -> dict[str, Any]:
    return {"call": call, "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET, "param": [param]}


def omie_spans(telemetry: Any) -> list[Any]:
    return [s for s in telemetry.finished(SpanKind.CLIENT) if s.name.startswith("omie ")]


@pytest.fixture
def sim_client(telemetry: Any) -> Any:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    sim = OmieSimulator(seed=3)
    return sim, httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))


async def test_paging_loop_until_no_records_then_redundant(telemetry: Any, sim_client: Any) -> None:
    sim, client = sim_client
    async with client:
        page, pages = 1, None
        while True:
            r = await client.post(BASE + "geral/clientes/", json=payload("ListarClientes", pagina=page, registros_por_pagina=20))
            if r.status_code != 200:
                break
            pages = r.json()["total_de_paginas"]
            page += 1
        again = await client.post(BASE + "geral/clientes/", json=payload("ListarClientes", pagina=1, registros_por_pagina=20))
    assert pages is not None and page == pages + 1
    spans = omie_spans(telemetry)
    assert [s.attributes[sc.OMIE_PAGE] for s in spans[:-1]] == list(range(1, pages + 2))
    assert spans[0].attributes[sc.OMIE_TOTAL_PAGES] == pages
    assert spans[0].attributes[sc.OMIE_RECORDS] == 20
    past_end = spans[-2]
    assert past_end.attributes[sc.OMIE_FAULT_KIND] == "no_records"
    assert past_end.status.status_code is StatusCode.UNSET
    assert again.status_code == 500
    redundant = spans[-1]
    assert redundant.attributes[sc.OMIE_FAULT_KIND] == "redundant"
    assert 0 < redundant.attributes[sc.OMIE_RETRY_AFTER] <= 60
    assert redundant.attributes[sc.OMIE_REQUEST_ID]
    used, limit = redundant.attributes[sc.OMIE_RATELIMIT_USED], redundant.attributes[sc.OMIE_RATELIMIT_LIMIT]
    assert (used, limit) == (pages + 2, 960)


@pytest.mark.parametrize(
    "kind", ["redundant", "concurrent_request", "duplicate_request", "rate_limited", "misuse_blocked", "auth",
             "validation", "not_found", "server_error", "no_records"],
)
async def test_every_injected_simulator_fault_is_classified(telemetry: Any, sim_client: Any, kind: str) -> None:
    sim, client = sim_client
    sim.inject_fault(kind, call="ListarCategorias")
    async with client:
        await client.post(BASE + "geral/categorias/", json=payload("ListarCategorias", pagina=1))
    (span,) = omie_spans(telemetry)
    assert span.attributes[sc.OMIE_FAULT_KIND] == kind
    assert (span.status.status_code is StatusCode.ERROR) == (kind != "no_records")


def test_sync_client_against_the_simulator_thread_server(telemetry: Any) -> None:
    from omie_otel.simulator import serve_in_thread

    with serve_in_thread(OmieSimulator(seed=1)) as url:
        omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False, omie_url=url)
        with httpx.Client() as client:
            r = client.post(url + "v1/geral/departamentos/", json=payload("ListarDepartamentos", pagina=1))
    assert r.status_code == 200
    (span,) = omie_spans(telemetry)
    assert span.name == "omie ListarDepartamentos"
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes[sc.OMIE_TOTAL_RECORDS] == r.json()["total_de_registros"]
    exported = "".join(s.to_json() for s in telemetry.finished())
    data = telemetry.reader.get_metrics_data()
    exported += data.to_json() if data else ""
    assert DEFAULT_APP_SECRET not in exported and json.dumps(DEFAULT_APP_SECRET)[1:-1] not in exported


def test_exactly_one_client_span_even_with_contrib_httpx_instrumentation(telemetry: Any) -> None:
    """opentelemetry-instrument loads contrib's httpx instrumentor too: an Omie call must still be one span."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    from omie_otel.simulator import serve_in_thread

    contrib = HTTPXClientInstrumentor()
    contrib.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        with serve_in_thread(OmieSimulator(seed=2)) as url:
            omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False, omie_url=url)
            with httpx.Client() as client:
                client.post(url + "v1/geral/categorias/", json=payload("ListarCategorias", pagina=1))
                client.get(url + "v1/geral/categorias/")  # not an Omie POST we know, but under the prefix
                client.get(url.replace("/api/", "/outra-coisa"))  # outside the prefix: contrib's span only
    finally:
        contrib.uninstrument()
    clients = telemetry.finished(SpanKind.CLIENT)
    names = sorted(s.name for s in clients)
    assert names == ["GET", "omie ListarCategorias", "omie geral/categorias"], names
