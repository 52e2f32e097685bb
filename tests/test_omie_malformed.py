"""Malformed, huge and hostile Omie answers: every Omie span is ended, nothing raises, numbers stay bounded.

Runs with ``OMIE_OTEL_RAISE_INTERNAL_ERRORS=1`` (tests/conftest.py), so an internal error of ours fails the call
here instead of being swallowed.
"""

from __future__ import annotations

import gzip
import json
import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind

import omie_otel
from omie_otel import semconv as sc
from omie_otel.omie import _FAULT_HEAD, MAX_RETRY_AFTER, classify, parse_ratelimit
from omie_otel.omie import fault_body as _fault_body

URL = "https://app.omie.com.br/api/v1/geral/clientes/"
DEEP = 200_000
HUGE_FAULT = json.dumps(
    {"faultstring": "ERROR: Broken response", "faultcode": "SOAP-ENV:Server", "registros": [{"codigo": 1}] * 3_000_000}
).encode()


def _r(status: int, content: bytes = b"", **headers: str) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(status, content=content, headers=headers)


#: name -> (answer, expected omie.fault.kind or None for a success)
MALFORMED: dict[str, tuple[Callable[[], httpx.Response], str | None]] = {
    "500 empty": (_r(500), "server_error"),
    "500 broken json": (_r(500, b'{"faultstring": "ERROR'), "server_error"),
    "500 200k-deep list": (_r(500, b"[" * DEEP), "server_error"),
    "500 200k-deep object": (_r(500, b'{"a":' * DEEP), "server_error"),
    "500 deep json after a fault": (
        _r(500, b'{"faultstring": "ERROR: Aguarde 30 segundos (REDUNDANT)", "faultcode": "SOAP-ENV:Client-6", "d": '
           + b"[" * DEEP),
        "redundant",
    ),
    "500 json list": (_r(500, b"[1, 2, 3]"), "server_error"),
    "500 json scalar": (_r(500, b"12345678909"), "server_error"),
    "500 non-string fault fields": (_r(500, b'{"faultstring": 123, "faultcode": null}'), "server_error"),
    "500 100 KB faultstring": (_r(500, json.dumps({"faultstring": "x" * 100_000}).encode()), "unknown"),
    "500 not utf-8": (_r(500, b"\xff\xfe\x00\x81" * 1000), "server_error"),
    "500 50 MB fault": (_r(500, HUGE_FAULT), "server_error"),
    "200 truncated fault": (_r(200, b'{"faultstring": '), None),
    "200 5000-digit total": (_r(200, b'{"pagina": 1, "total_de_registros": ' + b"9" * 5000 + b"}"), None),
    "200 5000-digit rate limit": (_r(200, b"{}", **{"x-omie-ratelimit": "9" * 5000 + "/1 allow"}), None),
    "200 zero rate limit": (_r(200, b"{}", **{"x-omie-ratelimit": "5/0 allow"}), None),
    "429 Retry-After 1e309": (_r(429, b"", **{"retry-after": "1e309"}), "rate_limited"),
    "429 Retry-After nan": (_r(429, b"", **{"retry-after": "nan"}), "rate_limited"),
    "429 Retry-After negative": (_r(429, b"", **{"retry-after": "-5"}), "rate_limited"),
    "425 400-digit wait": (
        _r(425, json.dumps({"faultstring": f"ERROR: Tente novamente em {'9' * 400} segundos.",
                            "faultcode": "MISUSE_API_PROCESS"}).encode()),
        "misuse_blocked",
    ),
    "500 garbage OmieAPI-Error": (_r(500, b"", **{"omieapi-error": "\x7f" * 10_000}), "unknown"),
}


@pytest.fixture
def instrumented(telemetry: Any) -> Any:
    omie_otel.instrument(None, meter_provider=telemetry.meter_provider, host_metrics=False)
    return telemetry


def _omie_spans(telemetry: Any) -> list[Any]:
    return [s for s in telemetry.finished(SpanKind.CLIENT) if s.name.startswith("omie ")]


def test_every_malformed_answer_ends_its_span(instrumented: Any) -> None:
    for name, (answer, kind) in MALFORMED.items():
        with httpx.Client(transport=httpx.MockTransport(lambda request, answer=answer: answer())) as client:
            response = client.post(URL, json={"call": "ListarClientes", "param": [{"pagina": 1}]})
        spans = _omie_spans(instrumented)
        assert len(spans) == 1, name
        span = spans[0]
        assert span.end_time is not None, name
        assert span.attributes.get(sc.OMIE_FAULT_KIND) == kind, (name, dict(span.attributes))
        assert response.status_code == span.attributes["http.response.status_code"]
        retry = span.attributes.get(sc.OMIE_RETRY_AFTER)
        assert retry is None or (math.isfinite(retry) and 0 <= retry <= MAX_RETRY_AFTER), (name, retry)
        for key in (sc.OMIE_TOTAL_RECORDS, sc.OMIE_RATELIMIT_USED, sc.OMIE_RATELIMIT_LIMIT):
            assert key not in span.attributes or span.attributes[key] < 10**18, (name, key)
        instrumented.spans.clear()
    (active,) = instrumented.points(sc.OMIE_CLIENT_REQUESTS_ACTIVE)
    assert active.value == 0  # every request that started was counted out


def test_a_broken_gzip_answer_ends_the_span_with_the_error(instrumented: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=b"not gzip at all", headers={"content-encoding": "gzip"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(httpx.DecodingError):
        client.post(URL, json={"call": "ListarClientes", "param": [{}]})
    (span,) = _omie_spans(instrumented)
    assert span.end_time is not None and span.attributes[sc.ERROR_TYPE] == "DecodingError"


def test_the_span_is_ended_even_when_reading_the_answer_fails(
    instrumented: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omie_otel._omie_httpx as mod

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug of ours while classifying")

    monkeypatch.setattr(mod, "classify_response", broken)
    monkeypatch.setenv("OMIE_OTEL_RAISE_INTERNAL_ERRORS", "0")  # as in production: swallowed, logged once
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(500, json={}))) as client:
        response = client.post(URL, json={"call": "ListarClientes", "param": [{}]})
    assert response.status_code == 500  # the caller gets Omie's answer untouched
    (span,) = _omie_spans(instrumented)
    assert span.end_time is not None
    (active,) = instrumented.points(sc.OMIE_CLIENT_REQUESTS_ACTIVE)
    assert active.value == 0


def test_a_deep_body_never_raises_recursion_error() -> None:
    assert _fault_body(b"[" * DEEP) == {}
    assert _fault_body(b'{"a":' * DEEP) == {}
    assert _fault_body(b"[" * 300 + b"]" * 300) == {}  # shallow enough for Python, too deep for our bound
    assert _fault_body(b"[" * 20 + b"]" * 20) == json.loads(b"[" * 20 + b"]" * 20)  # shallow: parsed
    assert _fault_body(b'{"faultstring": "ERROR: x \\u00e9", "faultcode": "SOAP-ENV:Client-6", "d": ' + b"[" * DEEP) == {
        "faultstring": "ERROR: x é", "faultcode": "SOAP-ENV:Client-6"
    }


def test_a_huge_error_body_costs_its_head_not_its_size() -> None:
    tracemalloc.start()
    try:
        body = _fault_body(HUGE_FAULT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert body == {"faultstring": "ERROR: Broken response", "faultcode": "SOAP-ENV:Server"}
    assert len(HUGE_FAULT) > 600 * _FAULT_HEAD
    assert peak < 4 * _FAULT_HEAD  # a whole parse allocated ~5x the body (240 MB for 50 MB)


def test_header_numbers_are_bounded() -> None:
    def retry_after(value: str) -> Any:
        fault = classify(429, None, {"retry-after": value})
        assert fault is not None
        return fault.retry_after

    assert retry_after("1e309") is None
    assert retry_after("inf") is None
    assert retry_after("nan") is None
    assert retry_after("-1") is None
    assert retry_after("1e300") == MAX_RETRY_AFTER
    assert retry_after("30") == 30.0
    assert parse_ratelimit("9" * 5000 + "/1") is None
    assert parse_ratelimit("3/960 allow") == (3, 960)


def test_the_gzip_fixture_is_really_invalid() -> None:  # keeps the DecodingError case honest
    with pytest.raises(OSError):
        gzip.decompress(b"not gzip at all")
