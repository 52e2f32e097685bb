"""Omie meaning on httpx calls: one CLIENT span per Omie request, Omie metrics, secrets learnt and scrubbed.

We wrap ``httpx.Client.send`` / ``httpx.AsyncClient.send`` rather than plugging hooks into contrib's
``HTTPXClientInstrumentor``: contrib wraps the *transport*, so it never sees the response body (the fault code lives
there: 5113 "no records" is HTTP 500) and it misses custom transports such as ``httpx.ASGITransport`` (the in-process
simulator). Contrib's own span for the same request is suppressed, so there is exactly one span either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined,unused-ignore]  # private to the SDK
    _SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
)
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel._observable import observable
from omie_otel._omie_http_facts import (
    full_url,
    http_attributes,
    http_outcome,
    looks_like_omie,
    omie_headers,
    paging_attributes,
    request_body,
    response_attributes,
)
from omie_otel._omie_recent import RecentOmieOutcomes
from omie_otel.omie import OmieFault, classify_response, endpoint_of, parse_ratelimit
from omie_otel.redaction import register_secret

__all__ = ["OmieHttpxInstrumentation", "make_wrappers"]

#: A rate-limit reading older than Omie's one-minute window says nothing about now.
_UTILIZATION_TTL_S = 60.0


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
        body = request_body(raw)
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
        return call, paging_attributes(body)

    def start(self, request: httpx.Request) -> tuple[Any, dict[str, Any], str, float, Any, dict[str, Any]]:
        call, req_attrs = self._request_facts(request)
        endpoint = endpoint_of(request.url.path)
        name = f"omie {call}" if call else f"omie {endpoint}"
        url = request.url
        attrs: dict[str, Any] = {
            sc.HTTP_REQUEST_METHOD: request.method,
            # Omie URLs carry nothing in the query or the user info: never export either (the span scrubber still
            # removes documents from the path; ``omie.endpoint`` below is the template, without them)
            sc.URL_FULL: full_url(url),
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
        return span, metric_attrs, call or "unknown", time.perf_counter(), token, http_attributes(request)

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
        self.http_duration.record(elapsed, http_outcome(http_attrs, response, error))
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
            headers = omie_headers(response)
            resp_attrs, content = response_attributes(response, headers)
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


def _suppressed() -> bool:
    """``suppress_instrumentation()`` or ``suppress_http_instrumentation()`` is active: record nothing, as contrib."""
    return not is_instrumentation_enabled() or not is_http_instrumentation_enabled()


def make_wrappers(instr: OmieHttpxInstrumentation) -> tuple[Any, Any]:
    """wrapt wrappers for ``Client.send`` and ``AsyncClient.send``."""

    def _begin(args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        if not isinstance(request, httpx.Request) or not instr.enabled or _suppressed():
            return None
        if not instr.matches(request.url) and not looks_like_omie(request):
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
