"""Omie CLIENT spans and metrics on httpx, against recorded Omie answers served by httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastmcp import Client, FastMCP
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import omie_otel
from omie_otel import semconv as sc
from omie_otel.omie import classify

OMIE = "https://app.omie.com.br/api/v1/"
HEADERS = {
    "content-type": "application/json; encoding=UTF-8",
    "x-omie-ratelimit": "3/960 allow",
    "x-omie-parallelratelimit": "1/4 allow 10.TGlzdGFyQ2xpZW50ZXM=",
    "x-omie-request-id": "5f0c3c8e-1b7a-4c38-9b1e-0d5c2f2a9d11",
}


def fault(code: str, text: str, status: int = 500) -> httpx.Response:
    num = code.rsplit("-", 1)[-1]
    return httpx.Response(
        status,
        json={"faultstring": text, "faultcode": code},
        headers={**HEADERS, "OmieAPI-Error": f"{num} - {text}".encode()},
    )


FAULTS: dict[str, Callable[[], httpx.Response]] = {
    "no_records": lambda: fault("SOAP-ENV:Client-5113", "ERROR: Não existem registros para a página [9]!"),
    "redundant": lambda: fault(
        "SOAP-ENV:Client-6",
        "ERROR: Consumo redundante detectado. Aguarde 58 segundos para tentar novamente (REDUNDANT).",
    ),
    "concurrent_request": lambda: fault(
        "SOAP-ENV:Client-1880",
        "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns "
        "instantes. (1)",
    ),
    "duplicate_request": lambda: fault(
        "SOAP-ENV:Client-1100",
        "ERROR: Esta requisição já foi processada ou está sendo processada e você pode tentar novamente às "
        "19:04:08. (1)",
    ),
    "rate_limited": lambda: httpx.Response(429, text="429: Too many Requests", headers={"x-omie-ratelimit": "961/960 deny"}),
    "misuse_blocked": lambda: httpx.Response(
        425,
        json={
            "faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1726 segundos.",
            "faultcode": "MISUSE_API_PROCESS",
        },
    ),
    "auth": lambda: fault("SOAP-ENV:Server", "A chave de acesso não está preenchida ou não é válida.", 403),
    "validation": lambda: fault("SOAP-ENV:Client-71", "ERROR: Nenhum parâmetro foi recebido em WS_PARAMS!"),
    "not_found": lambda: httpx.Response(404, json={"error": {"status_code": 404, "status": "Not Found"}}),
    "server_error": lambda: fault("SOAP-ENV:Server", "SOAP-ERROR: Broken response from Application Server (BG)"),
    "unknown": lambda: fault("SOAP-ENV:Client-9999", "ERROR: algo novo"),
}


def ok_page(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    param = body["param"][0]
    if "nPagina" in param:
        return httpx.Response(
            200,
            json={"nPagina": param["nPagina"], "nTotPaginas": 3, "nRegistros": 2, "nTotRegistros": 6, "movimentos": [{}, {}]},
            headers=HEADERS,
        )
    return httpx.Response(
        200,
        json={
            "pagina": param.get("pagina", 1),
            "total_de_paginas": 4,
            "registros": 50,
            "total_de_registros": 187,
            "clientes_cadastro": [{"codigo_cliente_omie": i} for i in range(50)],
        },
        headers=HEADERS,
    )


def body(call: str, **param: Any) -> dict[str, Any]:
    return {"call": call, "app_key": "1234567890123", "app_secret": "segredo-do-app-omie", "param": [param]}


def omie_spans(telemetry: Any) -> list[Any]:
    return [s for s in telemetry.finished(SpanKind.CLIENT) if s.name.startswith("omie ")]


@pytest.fixture
def instrumented(telemetry: Any) -> Any:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    return telemetry


def test_paging_snake_case_sync_client(instrumented: Any) -> None:
    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        r = client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=2, registros_por_pagina=50))
    assert r.json()["pagina"] == 2  # the caller's response is untouched
    (span,) = omie_spans(instrumented)
    assert span.name == "omie ListarClientes"
    a = span.attributes
    assert (a[sc.OMIE_CALL], a[sc.OMIE_ENDPOINT]) == ("ListarClientes", "geral/clientes")
    assert (a[sc.OMIE_PAGE], a[sc.OMIE_RECORDS_PER_PAGE]) == (2, 50)
    assert (a[sc.OMIE_TOTAL_PAGES], a[sc.OMIE_RECORDS], a[sc.OMIE_TOTAL_RECORDS]) == (4, 50, 187)
    assert a[sc.OMIE_REQUEST_ID] == HEADERS["x-omie-request-id"]
    assert (a[sc.OMIE_RATELIMIT_USED], a[sc.OMIE_RATELIMIT_LIMIT]) == (3, 960)
    assert (a[sc.OMIE_PARALLEL_RATELIMIT_USED], a[sc.OMIE_PARALLEL_RATELIMIT_LIMIT]) == (1, 4)
    assert a["http.request.method"] == "POST" and a["http.response.status_code"] == 200
    assert a["server.address"] == "app.omie.com.br" and a["server.port"] == 443
    assert span.status.status_code is StatusCode.UNSET


async def test_paging_hungarian_async_client(instrumented: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ok_page)) as client:
        await client.post(OMIE + "financas/mf/", json=body("ListarMovimentos", nPagina=3, nRegPorPagina=2))
    (span,) = omie_spans(instrumented)
    a = span.attributes
    assert span.name == "omie ListarMovimentos"
    assert (a[sc.OMIE_PAGE], a[sc.OMIE_RECORDS_PER_PAGE]) == (3, 2)
    assert (a[sc.OMIE_TOTAL_PAGES], a[sc.OMIE_RECORDS], a[sc.OMIE_TOTAL_RECORDS]) == (3, 2, 6)


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_fault_classification(instrumented: Any, kind: str) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: FAULTS[kind]())) as client:
        r = await client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=9))
    assert r.status_code == FAULTS[kind]().status_code
    (span,) = omie_spans(instrumented)
    assert span.attributes[sc.OMIE_FAULT_KIND] == kind
    if kind == "no_records":
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes[sc.OMIE_RECORDS] == 0
        assert sc.ERROR_TYPE not in span.attributes
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[sc.ERROR_TYPE] == kind
    if kind == "redundant":
        assert span.attributes[sc.OMIE_RETRY_AFTER] == 58
        assert span.attributes[sc.OMIE_FAULT_CODE] == "6"
    if kind == "misuse_blocked":
        assert span.attributes[sc.OMIE_RETRY_AFTER] == 1726
    faults = instrumented.points(sc.OMIE_CLIENT_FAULTS)
    assert [(dict(p.attributes), p.value) for p in faults] == [
        ({sc.OMIE_CALL: "ListarClientes", sc.OMIE_FAULT_KIND: kind}, 1)
    ]
    (duration,) = instrumented.points(sc.OMIE_CLIENT_REQUEST_DURATION)
    assert duration.attributes.get(sc.ERROR_TYPE) == (None if kind == "no_records" else kind)
    assert tuple(duration.explicit_bounds) == sc.OMIE_DURATION_BUCKETS


def test_transport_error(instrumented: Any) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(boom)) as client, pytest.raises(httpx.ConnectTimeout):
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    (span,) = omie_spans(instrumented)
    assert span.attributes[sc.OMIE_FAULT_KIND] == "transport"
    assert span.status.status_code is StatusCode.ERROR
    assert any(e.name == "exception" for e in span.events)


def test_client_created_before_instrument_and_non_omie_urls_ignored(telemetry: Any) -> None:
    client = httpx.Client(transport=httpx.MockTransport(ok_page))
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    client.post("https://example.com/api/v1/geral/clientes/", json=body("ListarClientes", pagina=1))
    client.close()
    assert [s.name for s in omie_spans(telemetry)] == ["omie ListarClientes"]


def test_custom_prefix_from_env(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMIE_OTEL_OMIE_URL", "http://127.0.0.1:9999/api/,http://sim.local/api/")
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        client.post("http://sim.local/api/v1/geral/clientes/", json=body("ListarClientes", pagina=1))
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))  # not a configured prefix now
    assert [s.attributes["server.address"] for s in omie_spans(telemetry)] == ["sim.local"]


def test_active_requests_and_ratelimit_utilization(instrumented: Any) -> None:
    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    (active,) = instrumented.points(sc.OMIE_CLIENT_REQUESTS_ACTIVE)
    assert active.value == 0 and active.attributes == {sc.OMIE_CALL: "ListarClientes"}
    util = {tuple(sorted(p.attributes.items())): p.value for p in instrumented.points(sc.OMIE_CLIENT_RATELIMIT_UTILIZATION)}
    assert util[((sc.OMIE_RATELIMIT_KIND, "requests_per_minute"),)] == pytest.approx(3 / 960)
    assert util[((sc.OMIE_CALL, "ListarClientes"), (sc.OMIE_RATELIMIT_KIND, "parallel"))] == pytest.approx(0.25)


async def test_omie_span_is_child_of_tool_span_and_secrets_never_exported(instrumented: Any) -> None:
    """The leak test across signals: spans (attributes, events, status), metrics and logs."""
    import logging

    from opentelemetry.sdk._logs import LoggingHandler

    secret = "segredo-do-app-omie"
    mcp = FastMCP("omie")
    log = logging.getLogger("omie.tools")

    @mcp.tool
    async def consultar_clientes(pagina: int = 1) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: FAULTS["auth"]())) as client:
            r = await client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=pagina))
        log.warning("Omie respondeu %s ao pedido %s", r.status_code, r.request.content.decode())
        raise RuntimeError(f"Omie recusou a chave: {r.request.content.decode()}")

    omie_otel.instrument(mcp)
    handler = LoggingHandler(logger_provider=instrumented.logger_provider)
    log.addHandler(handler)
    try:
        async with Client(mcp) as client:
            result = await client.call_tool("consultar_clientes", {"pagina": 1}, raise_on_error=False)
    finally:
        log.removeHandler(handler)
    assert result.is_error

    tools = [s for s in instrumented.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == "consultar_clientes"]
    assert len(tools) == 1, [(s.name, s.instrumentation_scope.name, s.attributes.get("jsonrpc.request.id")) for s in tools]
    tool = tools[0]
    (omie,) = omie_spans(instrumented)
    assert omie.parent is not None and omie.parent.span_id == tool.context.span_id
    assert omie.attributes[sc.OMIE_FAULT_KIND] == "auth"

    exported = "".join(s.to_json() for s in instrumented.finished())
    exported += "".join(json.dumps(r.to_json()) if hasattr(r, "to_json") else str(r.body) for r in instrumented.log_records())
    data = instrumented.reader.get_metrics_data()
    exported += data.to_json() if data is not None else ""
    assert secret not in exported
    assert "1234567890123" not in exported
    assert "[redacted: app_secret]" in exported


def test_classify_unit_cases() -> None:
    assert classify(200, {"pagina": 1}) is None
    assert classify(502, "<html>Bad Gateway</html>").kind == "server_error"  # type: ignore[union-attr]
    assert classify(500, {"faultstring": "ERROR: Tag [X] não faz parte", "faultcode": "SOAP-ENV:Client-5001"}).kind == "validation"  # type: ignore[union-attr]
    assert classify(500, {"faultstring": "ERROR: Cliente não cadastrado", "faultcode": "SOAP-ENV:Client-105"}).kind == "not_found"  # type: ignore[union-attr]
    assert classify(200, {"faultstring": "A chave de acesso não está preenchida ou não é válida.", "faultcode": "SOAP-ENV:Server"}).kind == "auth"  # type: ignore[union-attr]
    assert classify(500, {"faultstring": "ERROR: O preenchimento da tag [x] é obrigatório!", "faultcode": "SOAP-ENV:Client-103"}).retryable is False  # type: ignore[union-attr]


def test_no_span_after_uninstrument(telemetry: Any) -> None:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    omie_otel.uninstrument()
    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    assert omie_spans(telemetry) == []
    assert trace.get_current_span().get_span_context().is_valid is False


def test_fault_kind_type_matches_the_semconv_contract() -> None:
    from typing import get_args

    from omie_otel.omie import FaultKind

    assert get_args(FaultKind) == sc.OMIE_FAULT_KINDS


def test_429_retry_after_header_and_stale_utilization_expires(instrumented: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from omie_otel import _omie_httpx

    throttled = lambda r: httpx.Response(429, text="429: Too many Requests", headers={"retry-after": "60", **HEADERS})  # noqa: E731
    with httpx.Client(transport=httpx.MockTransport(throttled)) as client:
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    (span,) = omie_spans(instrumented)
    assert span.attributes[sc.OMIE_FAULT_KIND] == "rate_limited"
    assert span.attributes[sc.OMIE_RETRY_AFTER] == 60
    assert instrumented.points(sc.OMIE_CLIENT_RATELIMIT_UTILIZATION)  # fresh readings are reported
    real = _omie_httpx.time.monotonic
    monkeypatch.setattr(_omie_httpx.time, "monotonic", lambda: real() + 61)
    assert instrumented.points(sc.OMIE_CLIENT_RATELIMIT_UTILIZATION) == []  # a minute later they are gone


# --- HTTP semconv: http.client.request.duration, suppression like contrib ------------------------------------------
def test_every_omie_call_records_http_client_request_duration(instrumented: Any) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
    with httpx.Client(transport=httpx.MockTransport(lambda r: FAULTS["redundant"]())) as client:
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=2))
    with httpx.Client(transport=httpx.MockTransport(boom)) as client, pytest.raises(httpx.ConnectTimeout):
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=3))

    points = instrumented.points(sc.HTTP_CLIENT_REQUEST_DURATION)
    by_outcome = {p.attributes.get(sc.ERROR_TYPE): p for p in points}
    assert set(by_outcome) == {None, "500", "ConnectTimeout"}
    ok = by_outcome[None]
    assert dict(ok.attributes) == {
        sc.HTTP_REQUEST_METHOD: "POST",
        sc.SERVER_ADDRESS: "app.omie.com.br",
        sc.SERVER_PORT: 443,
        sc.HTTP_RESPONSE_STATUS_CODE: 200,
        sc.NETWORK_PROTOCOL_VERSION: "1.1",
    }
    assert ok.count == 1 and tuple(ok.explicit_bounds) == sc.HTTP_DURATION_BUCKETS
    assert by_outcome["500"].attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 500
    assert sc.HTTP_RESPONSE_STATUS_CODE not in by_outcome["ConnectTimeout"].attributes
    # no call name, endpoint or page on the HTTP metric: its cardinality is the host's
    assert all(not any(k.startswith("omie.") for k in p.attributes) for p in points)


@pytest.mark.parametrize("scope", ["suppress_instrumentation", "suppress_http_instrumentation"])
def test_suppressed_context_records_no_span_and_no_metric(instrumented: Any, scope: str) -> None:
    from opentelemetry.instrumentation import utils

    with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
        with getattr(utils, scope)():
            client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))
        assert omie_spans(instrumented) == []
        assert instrumented.points(sc.HTTP_CLIENT_REQUEST_DURATION) == []
        assert instrumented.points(sc.OMIE_CLIENT_REQUEST_DURATION) == []
        client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=1))  # outside: recorded again
    assert len(omie_spans(instrumented)) == 1
    assert sum(p.count for p in instrumented.points(sc.HTTP_CLIENT_REQUEST_DURATION)) == 1


def test_the_local_simulator_is_recognised_without_omie_url(instrumented: Any) -> None:
    from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator, serve_in_thread

    with serve_in_thread(OmieSimulator(seed=3)) as url, httpx.Client() as client:
        assert url.startswith("http://127.0.0.1:")
        answer = client.post(url + "v1/geral/clientes/", json={
            "call": "ListarClientes", "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
            "param": [{"pagina": 1, "registros_por_pagina": 5}],
        })
        assert answer.status_code == 200
        client.get(url + "v1/geral/clientes/")  # not Omie-shaped (no JSON body with call/app_key): not an Omie span
    (span,) = omie_spans(instrumented)
    assert span.name == "omie ListarClientes" and span.attributes[sc.OMIE_RECORDS_PER_PAGE] == 5
    assert DEFAULT_APP_SECRET not in json.dumps(dict(span.attributes))


def test_classify_response_decodes_only_what_may_be_a_fault_and_groups_kinds_once() -> None:
    from typing import get_args

    from omie_otel.omie import (
        RETRYABLE_KINDS,
        THROTTLED_KINDS,
        UNREACHABLE_KINDS,
        FaultKind,
        OmieFault,
        classify_response,
    )

    misuse = b'{"faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1726 segundos.", ' \
        b'"faultcode": "MISUSE_API_PROCESS"}'
    fault = classify_response(425, misuse)
    assert fault is not None and (fault.kind, fault.retry_after) == ("misuse_blocked", 1726.0)
    auth = b'{"faultstring": "A chave de acesso n\\u00e3o est\\u00e1 preenchida ou n\\u00e3o \\u00e9 v\\u00e1lida.", ' \
        b'"faultcode": "SOAP-ENV:Server"}'
    assert getattr(classify_response(200, auth), "kind", None) == "auth", "a fault inside HTTP 200 is still a fault"
    assert classify_response(200, b'{"pagina": 1, "faultless": "x"}') is None
    assert classify_response(200, b"not json at all") is None, "a success body is never decoded"
    html = classify_response(502, b"<html>Bad Gateway</html>")
    assert html is not None and html.kind == "server_error" and html.message == "<html>Bad Gateway</html>"
    streamed = classify_response(429, None, {"retry-after": "7"})
    assert streamed is not None and (streamed.kind, streamed.retry_after) == ("rate_limited", 7.0)
    assert set(get_args(FaultKind)) >= RETRYABLE_KINDS == THROTTLED_KINDS | UNREACHABLE_KINDS
    assert [k for k in get_args(FaultKind) if OmieFault(k).retryable] == [
        "redundant", "concurrent_request", "rate_limited", "server_error", "transport"
    ]
