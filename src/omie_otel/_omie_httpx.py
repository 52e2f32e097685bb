"""Omie meaning on httpx calls: one CLIENT span per Omie request, Omie metrics, secrets learnt and scrubbed.

We wrap ``httpx.Client.send`` / ``httpx.AsyncClient.send`` rather than plugging hooks into contrib's
``HTTPXClientInstrumentor``: contrib wraps the *transport*, so it never sees the response body (the fault code lives
there: 5113 "no records" is HTTP 500) and it misses custom transports such as ``httpx.ASGITransport`` (the in-process
simulator). Contrib's own span for the same request is suppressed, so there is exactly one span either way.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import (
    _SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
)
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel._observable import observable
from omie_otel.omie import UNREACHABLE_KINDS, OmieFault, classify_response, endpoint_of, may_be_fault, parse_ratelimit
from omie_otel.redaction import register_secret

__all__ = ["OmieHttpxInstrumentation", "RecentOmieOutcomes"]


_PAGING = (
    ("pagina", "registros_por_pagina", "total_de_paginas", "registros", "total_de_registros"),
    ("nPagina", "nRegPorPagina", "nTotPaginas", "nRegistros", "nTotRegistros"),
)
# At most 18 digits (and not followed by more): a 5000-digit "total" must not reach int() (ValueError past 4300 digits).
_TOTALS_RE = re.compile(
    rb'"(total_de_paginas|registros|total_de_registros|nTotPaginas|nRegistros|nTotRegistros)"\s*:\s*"?(\d{1,18})(?!\d)'
)
_HEAD = 4096
#: A rate-limit reading older than Omie's one-minute window says nothing about now.
_UTILIZATION_TTL_S = 60.0


_WANTED_HEADERS = frozenset(
    {b"x-omie-request-id", b"x-omie-ratelimit", b"x-omie-parallelratelimit", b"omieapi-error", b"retry-after"}
)


def _omie_headers(response: httpx.Response) -> dict[str, str]:
    """The few headers we read, in one pass over the raw list (``Headers.get`` scans the whole list per call)."""
    found: dict[str, str] = {}
    for key, value in response.headers.raw:
        lower = key.lower()
        if lower in _WANTED_HEADERS:
            found[lower.decode("ascii")] = value.decode("utf-8", "replace")
    return found


def _request_body(raw: bytes) -> dict[str, Any] | None:
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


def _full_url(url: httpx.URL) -> str:
    if url.userinfo:
        return str(url.copy_with(query=None, fragment=None, username=None, password=None))
    return str(url).split("?", 1)[0].split("#", 1)[0]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


#: How long a 425 MISUSE_API_PROCESS block lasts when Omie does not say ("about 30 minutes").
MISUSE_BLOCK_SECONDS = 1800.0


class RecentOmieOutcomes:
    """What the last Omie answers said, for the readiness check: passive evidence, no extra calls.

    ``last`` is ``(kind, call, monotonic time)`` of the latest answer (``kind`` is ``"ok"`` or an ``omie.fault.kind``);
    ``blocked_until`` maps a call Omie blocked with 425 to the monotonic time the block ends (``omie.retry_after``
    seconds from when it was seen; 30 minutes when Omie gave no figure), cleared by a later answer to that call;
    ``failures_in_a_row`` counts consecutive ``transport``/``server_error`` outcomes.
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.last: tuple[str, str, float] | None = None
        self.blocked_until: dict[str, float] = {}
        self.failures_in_a_row = 0
        self._credentials: tuple[str, str] | None = None

    def note_credentials(self, app_key: str, app_secret: str) -> None:
        """The app key/secret the application itself sent: the only ones the health probe may use. In memory only."""
        self._credentials = (app_key, app_secret)

    def credentials(self) -> tuple[str, str] | None:
        return self._credentials

    def record(self, call: str, fault: OmieFault | None) -> None:
        kind = "ok" if fault is None else fault.kind
        now = self._clock()
        with self._lock:
            self.last = (kind, call, now)
            if kind == "misuse_blocked":
                wait = fault.retry_after if fault is not None and fault.retry_after else MISUSE_BLOCK_SECONDS
                self.blocked_until[call] = now + wait
            else:
                self.blocked_until.pop(call, None)
            self.failures_in_a_row = self.failures_in_a_row + 1 if kind in UNREACHABLE_KINDS else 0

    def snapshot(self) -> tuple[tuple[str, str, float] | None, dict[str, float], int]:
        with self._lock:
            return self.last, dict(self.blocked_until), self.failures_in_a_row


class OmieHttpxInstrumentation:
    """State for one ``instrument()``: which URLs are Omie, the tracer, and the Omie instruments."""

    def __init__(self, prefixes: Iterable[str], tracer: Any, meter: Any, scrubber: Any) -> None:
        self.prefixes = tuple(prefixes)
        self.tracer = tracer
        self.scrubber = scrubber
        self.enabled = True
        self.recent = RecentOmieOutcomes()
        self.duration = meter.create_histogram(
            sc.OMIE_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of Omie API requests",
            explicit_bucket_boundaries_advisory=list(sc.OMIE_DURATION_BUCKETS),
        )
        self.faults = meter.create_counter(
            sc.OMIE_CLIENT_FAULTS, unit="{fault}", description="Omie API answers by fault kind"
        )
        self.active = meter.create_up_down_counter(
            sc.OMIE_CLIENT_REQUESTS_ACTIVE, unit="{request}", description="Omie requests in flight, per call"
        )
        self.http_duration = meter.create_histogram(
            sc.HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP client requests",
            explicit_bucket_boundaries_advisory=list(sc.HTTP_DURATION_BUCKETS),
        )
        self._lock = threading.Lock()
        self._utilization: dict[tuple[tuple[str, str], ...], tuple[float, float]] = {}
        observable(
            meter, "gauge", sc.OMIE_CLIENT_RATELIMIT_UTILIZATION, self._observe_utilization,
            unit="1",
            description="Share of Omie's rate limits in use, from the x-omie-ratelimit headers (0-1)",
        )

    # -- gauge ------------------------------------------------------------------------------------------------------
    def _observe_utilization(self, options: CallbackOptions) -> Iterable[Observation]:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (_, seen) in self._utilization.items() if now - seen > _UTILIZATION_TTL_S]:
                del self._utilization[key]  # no answer for a minute: Omie's window has moved on, say nothing
            items = list(self._utilization.items())
        for key, (value, _) in items:
            yield Observation(value, dict(key))

    def _set_utilization(self, kind: str, call: str | None, used: int, limit: int) -> None:
        key: tuple[tuple[str, str], ...] = ((sc.OMIE_RATELIMIT_KIND, kind),)
        if call is not None:
            key = (*key, (sc.OMIE_CALL, call))
        with self._lock:
            self._utilization[key] = (min(used / limit, 1.0), time.monotonic())

    # -- matching ---------------------------------------------------------------------------------------------------
    def matches(self, url: httpx.URL) -> bool:
        if not self.enabled:
            return False
        text = str(url)
        return any(text.startswith(p) for p in self.prefixes)

    # -- request/response -------------------------------------------------------------------------------------------
    def _request_facts(self, request: httpx.Request) -> tuple[str | None, dict[str, Any]]:
        attrs: dict[str, Any] = {}
        try:
            raw = request.content
        except httpx.RequestNotRead:
            return None, attrs
        body = _request_body(raw)
        if body is None:
            return None, attrs
        for key, label in (("app_key", "app_key"), ("app_secret", "app_secret")):
            value = body.get(key)
            if isinstance(value, (str, int)):  # an app_key sent as a number is learnt too
                register_secret(value, label)
        if isinstance(body.get("app_key"), str) and isinstance(body.get("app_secret"), str):
            self.recent.note_credentials(body["app_key"], body["app_secret"])
        # ``call`` becomes a metric attribute, which passes no span processor: scrub it here (a cache hit when clean).
        call = self.scrubber.scrub_text(body["call"]) if isinstance(body.get("call"), str) else None
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
        return call, attrs

    def _response_facts(self, response: httpx.Response, headers: dict[str, str]) -> tuple[dict[str, Any], bytes | None]:
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

    def start(self, request: httpx.Request) -> tuple[Any, dict[str, Any], str, float, Any, dict[str, Any]]:
        call, req_attrs = self._request_facts(request)
        endpoint = endpoint_of(request.url.path)
        name = f"omie {call}" if call else f"omie {endpoint}"
        url = request.url
        attrs: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: request.method,
            # Omie URLs carry nothing in the query or the user info: never export either (the span scrubber still
            # removes documents from the path; ``omie.endpoint`` below is the template, without them)
            sc.URL_FULL: _full_url(url),
            sc.SERVER_ADDRESS: url.host,
            sc.OMIE_ENDPOINT: endpoint,
            **req_attrs,
        }
        if url.port is not None:
            attrs[sc.SERVER_PORT] = url.port
        elif url.scheme in ("http", "https"):
            attrs[sc.SERVER_PORT] = 443 if url.scheme == "https" else 80
        if call:
            attrs[sc.OMIE_CALL] = call
        metric_attrs = {sc.OMIE_CALL: call or "unknown", sc.OMIE_ENDPOINT: endpoint}
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        try:
            self.active.add(1, {sc.OMIE_CALL: metric_attrs[sc.OMIE_CALL]})
            # contrib's httpx instrumentor, if also active, skips its transport-level span for this request
            ctx = otel_context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True, trace.set_span_in_context(span))
            token = otel_context.attach(ctx)
        except BaseException:
            span.end()  # no span is left open, even when our own bookkeeping fails
            raise
        return span, metric_attrs, call or "unknown", time.perf_counter(), token, _http_attributes(request)

    def finish(
        self,
        state: tuple[Any, dict[str, Any], str, float, Any, dict[str, Any]],
        response: httpx.Response | None,
        error: BaseException | None,
    ) -> None:
        """Record the outcome; whatever happens while reading it, the span is ended and the in-flight count drops."""
        span, _, call, _, token, _ = state
        try:
            self._record(state, response, error)
        finally:
            otel_context.detach(token)
            try:
                self.active.add(-1, {sc.OMIE_CALL: call})
            finally:
                span.end()

    def _record(
        self,
        state: tuple[Any, dict[str, Any], str, float, Any, dict[str, Any]],
        response: httpx.Response | None,
        error: BaseException | None,
    ) -> None:
        span, metric_attrs, call, start, _, http_attrs = state
        elapsed = time.perf_counter() - start
        self.http_duration.record(elapsed, _http_outcome(http_attrs, response, error))
        fault: OmieFault | None = None
        attrs: dict[str, Any] = {}
        if isinstance(error, httpx.TransportError):
            fault = OmieFault("transport", None, f"{type(error).__name__}: {error}")
            if span.is_recording():
                span.record_exception(error)
        elif error is not None:  # cancelled, or a bug in the caller's event hooks: not Omie's fault
            if span.is_recording():
                span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
                if isinstance(error, Exception):
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            metric_attrs = {**metric_attrs, sc.ERROR_TYPE: type(error).__qualname__}
        elif response is not None:
            attrs[sc.HTTP_RESPONSE_STATUS_CODE] = response.status_code
            headers = _omie_headers(response)
            resp_attrs, content = self._response_facts(response, headers)
            attrs.update(resp_attrs)
            fault = classify_response(response.status_code, content, headers)
            limits = parse_ratelimit(headers.get("x-omie-ratelimit"))
            if limits is not None:
                attrs[sc.OMIE_RATELIMIT_USED], attrs[sc.OMIE_RATELIMIT_LIMIT] = limits
                self._set_utilization("requests_per_minute", None, *limits)
            parallel = parse_ratelimit(headers.get("x-omie-parallelratelimit"))
            if parallel is not None:
                attrs[sc.OMIE_PARALLEL_RATELIMIT_USED], attrs[sc.OMIE_PARALLEL_RATELIMIT_LIMIT] = parallel
                self._set_utilization("parallel", call, *parallel)
            if response.http_version:
                attrs[sc.NETWORK_PROTOCOL_VERSION] = response.http_version.split("/")[-1]
        if error is None or fault is not None:  # Omie answered, or could not be reached: evidence for readiness
            self.recent.record(call, fault)
        if fault is not None:
            attrs[sc.OMIE_FAULT_KIND] = fault.kind
            if fault.code is not None:
                attrs[sc.OMIE_FAULT_CODE] = fault.code
            if fault.message:
                # scrubbed, then cut: a cut first could leave a secret's first characters (the margin covers one)
                attrs[sc.OMIE_FAULT_MESSAGE] = self.scrubber.scrub_text(fault.message[:1024])[:512]
            if fault.retry_after is not None:
                attrs[sc.OMIE_RETRY_AFTER] = fault.retry_after
            if fault.kind == "no_records":
                attrs[sc.OMIE_RECORDS] = 0
            self.faults.add(1, {sc.OMIE_CALL: call, sc.OMIE_FAULT_KIND: fault.kind})
        if span.is_recording():
            span.set_attributes(attrs)
            if fault is not None and fault.is_error:
                span.set_attribute(sc.ERROR_TYPE, fault.kind)
                span.set_status(Status(StatusCode.ERROR, fault.kind))
        if fault is not None and fault.is_error:
            metric_attrs = {**metric_attrs, sc.ERROR_TYPE: fault.kind}
        self.duration.record(elapsed, metric_attrs)


def _http_attributes(request: httpx.Request) -> dict[str, Any]:
    """The request's low-cardinality attributes of ``http.client.request.duration`` (semconv HTTP client, stable)."""
    url = request.url
    method = request.method.upper()
    known = method in ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
    attrs: dict[str, Any] = {sc.HTTP_REQUEST_METHOD: method if known else "_OTHER", sc.SERVER_ADDRESS: url.host}
    port = url.port if url.port is not None else {"https": 443, "http": 80}.get(url.scheme)
    if port is not None:
        attrs[sc.SERVER_PORT] = port
    return attrs


def _http_outcome(attrs: dict[str, Any], response: httpx.Response | None, error: BaseException | None) -> dict[str, Any]:
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


def _looks_like_omie(request: httpx.Request) -> bool:
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


def _suppressed() -> bool:
    """``suppress_instrumentation()`` or ``suppress_http_instrumentation()`` is active: record nothing, as contrib."""
    return not is_instrumentation_enabled() or not is_http_instrumentation_enabled()


def make_wrappers(instr: OmieHttpxInstrumentation) -> tuple[Any, Any]:
    """wrapt wrappers for ``Client.send`` and ``AsyncClient.send``."""

    def _begin(args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        if not isinstance(request, httpx.Request) or not instr.enabled or _suppressed():
            return None
        if not instr.matches(request.url) and not _looks_like_omie(request):
            return None
        try:
            return instr.start(request)
        except Exception as exc:  # noqa: BLE001
            internal_error("omie request start", exc)
            return None

    def _end(state: Any, response: Any, error: BaseException | None) -> None:
        try:
            instr.finish(state, response, error)
        except Exception as exc:  # noqa: BLE001
            internal_error("omie request end", exc)

    def send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        state = _begin(args, kwargs)
        if state is None:
            return wrapped(*args, **kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            _end(state, None, exc)
            raise
        _end(state, response, None)
        return response

    async def async_send(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        state = _begin(args, kwargs)
        if state is None:
            return await wrapped(*args, **kwargs)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _end(state, None, exc)
            raise
        _end(state, response, None)
        return response

    return send, async_send
