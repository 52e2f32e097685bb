"""What an Omie request and its answer carry, read cheaply: the body, the headers we use, paging, HTTP attributes.

Pure functions of the ``httpx`` request and response, used by :mod:`omie_otel._omie_httpx`; what an answer *means*
(its fault kind, a retry delay) is :mod:`omie_otel.omie`'s job.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import httpx

from omie_otel import semconv as sc
from omie_otel.omie import may_be_fault

__all__ = [
    "full_url",
    "http_attributes",
    "http_outcome",
    "looks_like_omie",
    "omie_headers",
    "paging_attributes",
    "request_body",
    "response_attributes",
]

_PAGING = (
    ("pagina", "registros_por_pagina", "total_de_paginas", "registros", "total_de_registros"),
    ("nPagina", "nRegPorPagina", "nTotPaginas", "nRegistros", "nTotRegistros"),
)
# At most 18 digits (and not followed by more): a 5000-digit "total" must not reach int() (ValueError past 4300 digits).
_TOTALS_RE = re.compile(
    rb'"(total_de_paginas|registros|total_de_registros|nTotPaginas|nRegistros|nTotRegistros)"\s*:\s*"?(\d{1,18})(?!\d)'
)
#: How much of a body is looked at for paging totals or an Omie-looking request.
_HEAD = 4096

_WANTED_HEADERS = frozenset(
    {b"x-omie-request-id", b"x-omie-ratelimit", b"x-omie-parallelratelimit", b"omieapi-error", b"retry-after"}
)


def omie_headers(response: httpx.Response) -> dict[str, str]:
    """The few headers we read, in one pass over the raw list (``Headers.get`` scans the whole list per call)."""
    found: dict[str, str] = {}
    for key, value in response.headers.raw:
        lower = key.lower()
        if lower in _WANTED_HEADERS:
            found[lower.decode("ascii")] = value.decode("utf-8", "replace")
    return found


def request_body(raw: bytes) -> dict[str, Any] | None:
    """The request body as a dict: Omie's JSON (leading whitespace allowed) or a form-encoded body, so the
    ``app_key``/``app_secret`` it carries are learnt whichever way the caller encoded them."""
    stripped = raw.strip() if raw else b""
    if stripped[:1] == b"{":
        try:
            body = json.loads(stripped)
        except (ValueError, RecursionError):
            return None
        return body if isinstance(body, dict) else None
    if b"app_key=" in stripped or b"app_secret=" in stripped:
        form = urllib.parse.parse_qs(stripped.decode("utf-8", "replace"))
        return {k: v[0] for k, v in form.items() if v}
    return None


def full_url(url: httpx.URL) -> str:
    """``url.full``: the URL without its query, fragment and user info."""
    if url.userinfo:
        return str(url.copy_with(query=None, fragment=None, username=None, password=None))
    return str(url).split("?", 1)[0].split("#", 1)[0]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def paging_attributes(body: dict[str, Any]) -> dict[str, Any]:
    """``omie.page`` / ``omie.records_per_page`` from the first ``param`` of a request body (either spelling)."""
    attrs: dict[str, Any] = {}
    params = body.get("param")
    first = params[0] if isinstance(params, list) and params and isinstance(params[0], dict) else {}
    for page_key, per_page_key, *_ in _PAGING:
        page = _int(first.get(page_key))
        if page is not None:
            attrs[sc.OMIE_PAGE] = page
            per_page = _int(first.get(per_page_key))
            if per_page is not None:
                attrs[sc.OMIE_RECORDS_PER_PAGE] = per_page
            break
    return attrs


def response_attributes(response: httpx.Response, headers: dict[str, str]) -> tuple[dict[str, Any], bytes | None]:
    """Request id and paging totals, and the body (``None`` for a streamed response not read yet: left alone)."""
    attrs: dict[str, Any] = {}
    rid = headers.get("x-omie-request-id")
    if rid:
        attrs[sc.OMIE_REQUEST_ID] = rid
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return attrs, None
    if not may_be_fault(response.status_code, content):
        head = content[:_HEAD]
        found = {m.group(1).decode(): int(m.group(2)) for m in _TOTALS_RE.finditer(head)}
        for _, _, total_pages, records, total_records in _PAGING:
            if total_pages in found or records in found:
                for key, attr in (
                    (total_pages, sc.OMIE_TOTAL_PAGES),
                    (records, sc.OMIE_RECORDS),
                    (total_records, sc.OMIE_TOTAL_RECORDS),
                ):
                    if key in found:
                        attrs[attr] = found[key]
                break
    return attrs, content


def http_attributes(request: httpx.Request) -> dict[str, Any]:
    """The request's low-cardinality attributes of ``http.client.request.duration`` (semconv HTTP client, stable)."""
    url = request.url
    method = request.method.upper()
    known = method in ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
    attrs: dict[str, Any] = {sc.HTTP_REQUEST_METHOD: method if known else "_OTHER", sc.SERVER_ADDRESS: url.host}
    port = url.port if url.port is not None else {"https": 443, "http": 80}.get(url.scheme)
    if port is not None:
        attrs[sc.SERVER_PORT] = port
    return attrs


def http_outcome(attrs: dict[str, Any], response: httpx.Response | None, error: BaseException | None) -> dict[str, Any]:
    """Add the outcome: ``http.response.status_code``, ``network.protocol.version``, and ``error.type`` (the status
    code from 400 on, else the exception's class) as HTTP semconv says; Omie's own fault kinds stay on ``omie.*``."""
    out = dict(attrs)
    if response is not None:
        out[sc.HTTP_RESPONSE_STATUS_CODE] = response.status_code
        if response.http_version:
            out[sc.NETWORK_PROTOCOL_VERSION] = response.http_version.split("/")[-1]
        if response.status_code >= 400:
            out[sc.ERROR_TYPE] = str(response.status_code)
    elif error is not None:
        out[sc.ERROR_TYPE] = type(error).__qualname__
    return out


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def looks_like_omie(request: httpx.Request) -> bool:
    """The Omie simulator (or any Omie stand-in) on this machine, with no ``omie_url`` configured: a POST on a
    loopback host to ``/api/v1/...`` whose JSON body carries ``call``, ``app_key`` and ``app_secret``, as every Omie
    request does. Other hosts still need ``omie_url``: a remote look-alike is not guessed at."""
    if request.method != "POST" or request.url.host not in _LOOPBACK_HOSTS or "/api/v1/" not in request.url.path:
        return False
    try:
        head = request.content[:_HEAD]
    except httpx.RequestNotRead:  # a streamed body: leave it alone
        return False
    return head[:1] == b"{" and b'"call"' in head and b'"app_key"' in head and b'"app_secret"' in head

