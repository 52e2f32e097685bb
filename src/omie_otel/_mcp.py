"""MCP spans and metrics for FastMCP servers: one SERVER span per request, never two.

How the single span is guaranteed across FastMCP majors:

* FastMCP >= 4 opens a SERVER span per request at its dispatch seam, *around* the middleware chain. We redirect
  FastMCP's tracer to our tracer provider (so an explicit, non-global provider is honoured), choose the parent per
  the MCP semconv (``params._meta`` is the parent, a differing HTTP ``traceparent`` becomes a link) and the
  :class:`McpTelemetryMiddleware` enriches that span in place.
* FastMCP 3.x opens its span *inside* the middleware chain. Our middleware opens the SERVER span first and FastMCP's
  ``server_span`` joins it (our tracer hands back the already-open span instead of starting a second one).
* FastMCP 2.x (>= 2.9) opens no span at all: the middleware's own span is the only one.

Mounted sub-servers run their middleware again inside the parent's request: a request already in flight is
recognised and neither spanned nor counted twice.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

from omie_otel import semconv as sc
from omie_otel._config import Options
from omie_otel._guard import internal_error

__all__ = [
    "McpTelemetry",
    "note_session_connection",
    "session_scope",
    "JoiningTracer",
    "current_transport",
    "transport_scope",
]

_logger = logging.getLogger("omie_otel")

try:  # the base class comes from FastMCP, an optional dependency
    from fastmcp.server.middleware import Middleware as _Middleware
except Exception:  # pragma: no cover - fastmcp missing or too old
    _Middleware = object  # type: ignore[assignment,misc]


@dataclass(slots=True)
class _Request:
    span: Span | None
    owned: bool
    outcome: _Outcome


@dataclass(slots=True)
class _Outcome:
    """What the request's span must say when it ends; FastMCP >= 4's seam records its own view last, so the
    tracer re-applies ours after it (one ``error.type`` per failure, the same on the span and the metric)."""

    session_id: str | None = None
    error_type: str | None = None
    status_code: str | None = None

    def apply(self, span: Span) -> None:
        if not span.is_recording():
            return
        if self.session_id is None:
            _drop_attribute(span, sc.MCP_SESSION_ID)
        else:
            span.set_attribute(sc.MCP_SESSION_ID, self.session_id)
        if self.error_type is not None:
            span.set_attribute(sc.ERROR_TYPE, self.error_type)
            if self.status_code is None:
                _drop_attribute(span, sc.RPC_RESPONSE_STATUS_CODE)
            else:
                span.set_attribute(sc.RPC_RESPONSE_STATUS_CODE, self.status_code)


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("omie_otel_mcp_request", default=None)
_seam_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("omie_otel_seam_span", default=None)
_seam_outcome: contextvars.ContextVar[_Outcome | None] = contextvars.ContextVar("omie_otel_seam_outcome", default=None)
_transport: contextvars.ContextVar[str | None] = contextvars.ContextVar("omie_otel_transport", default=None)
_session: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("omie_otel_session", default=None)

_MAX_METRIC_NAMES = 500
_TARGETED = {"tools/call": sc.GEN_AI_TOOL_NAME, "prompts/get": sc.GEN_AI_PROMPT_NAME}


def current_transport() -> str | None:
    """``pipe`` inside a stdio server, ``tcp`` inside an HTTP server, else ``None``."""
    return _transport.get()


@contextmanager
def transport_scope(value: str) -> Iterator[None]:
    """Mark everything run inside (and every task spawned from it) as served over ``value``."""
    token = _transport.set(value)
    try:
        yield
    finally:
        _transport.reset(token)


@contextmanager
def session_scope() -> Iterator[dict[str, Any]]:
    """Facts about one MCP session (its protocol version, its mcp >= 2 ``Connection``), filled from inside it."""
    facts: dict[str, Any] = {}
    token = _session.set(facts)
    try:
        yield facts
    finally:
        _session.reset(token)


def note_session_connection(connection: Any) -> None:
    """mcp >= 2 made a handshake-era (loop-mode) connection: the session being timed has one, with this version."""
    facts = _session.get()
    if facts is not None:
        facts["connection"] = connection


# --- request facts, read defensively across FastMCP / mcp versions ---------------------------------------------------
_UNRESOLVED: Any = object()
_request_ctx_var: Any = _UNRESOLVED  # FastMCP >= 4's request context variable, looked up once (None: older FastMCP)
_modern_versions: Any = _UNRESOLVED  # mcp >= 2's sessionless protocol versions, looked up once (empty: mcp 1.x)


def _fastmcp_request_ctx() -> Any:
    global _request_ctx_var  # noqa: PLW0603 - a per-process cache: an import per call cost 2-14 us, 2-4 calls a request
    if _request_ctx_var is _UNRESOLVED:
        try:
            from fastmcp.server.dependencies import fastmcp_request_ctx  # FastMCP >= 4

            _request_ctx_var = fastmcp_request_ctx
        except ImportError:
            _request_ctx_var = None
    return None if _request_ctx_var is None else _request_ctx_var.get()


def _request_context(mw_context: Any) -> Any:
    rc = _fastmcp_request_ctx()
    if rc is not None:
        return rc
    fc = getattr(mw_context, "fastmcp_context", None) if mw_context is not None else None
    try:
        return fc.request_context if fc is not None else None
    except Exception:  # noqa: BLE001 - FastMCP raises outside a request
        return None


def _meta_dict(meta: Any) -> dict[str, Any] | None:
    if meta is None:
        return None
    if isinstance(meta, Mapping):
        return dict(meta)
    dump = getattr(meta, "model_dump", None)
    if dump is not None:
        try:
            return dump(by_alias=True)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001
            return None
    return None


def _request_meta(mw_context: Any = None) -> dict[str, Any] | None:
    rc = _request_context(mw_context)
    meta = _meta_dict(getattr(rc, "meta", None)) if rc is not None else None
    if meta is None and mw_context is not None:
        msg = getattr(mw_context, "message", None)
        meta = _meta_dict(getattr(msg, "meta", None)) or _meta_dict(
            getattr(getattr(msg, "params", None), "meta", None)
        )
    return meta


def _http_request(mw_context: Any = None) -> Any:
    rc = _request_context(mw_context)
    return getattr(rc, "request", None) if rc is not None else None


def _parent_and_links(fallback: Any, mw_context: Any = None) -> tuple[Any, list[Link] | None]:
    """The semconv rule: ``_meta`` trace context is the parent; a differing HTTP context becomes a link."""
    meta = _request_meta(mw_context)
    meta_ctx = None
    if meta and "traceparent" in meta:
        carrier = {"traceparent": str(meta["traceparent"])}
        if "tracestate" in meta:
            carrier["tracestate"] = str(meta["tracestate"])
        if "baggage" in meta:
            carrier["baggage"] = str(meta["baggage"])
        meta_ctx = propagate.extract(carrier)
        if not trace.get_current_span(meta_ctx).get_span_context().is_valid:
            meta_ctx = None
    http_span_ctx = trace.get_current_span().get_span_context()
    http_ctx = otel_context.get_current() if http_span_ctx.is_valid else None
    if http_ctx is None:
        request = _http_request(mw_context)
        headers = getattr(request, "headers", None)
        if headers is not None and "traceparent" in headers:
            http_ctx = propagate.extract(headers)
            http_span_ctx = trace.get_current_span(http_ctx).get_span_context()
            if not http_span_ctx.is_valid:
                http_ctx = None
    if meta_ctx is not None:
        meta_span_ctx = trace.get_current_span(meta_ctx).get_span_context()
        if http_ctx is not None and http_span_ctx.span_id != meta_span_ctx.span_id:
            return meta_ctx, [Link(http_span_ctx)]
        return meta_ctx, None
    if http_ctx is not None:
        return http_ctx, None
    return fallback, None


def _needs_own_parent() -> bool:
    """FastMCP's own parent choice is right unless an HTTP context competes with ``_meta`` (FastMCP prefers HTTP)."""
    rc = _fastmcp_request_ctx()
    current = trace.get_current_span().get_span_context()
    if current.is_valid:
        meta = getattr(rc, "meta", None)
        traceparent = meta.get("traceparent") if isinstance(meta, dict) else None
        # The ambient span *is* the _meta parent (an in-process client): nothing competes.
        return not (isinstance(traceparent, str) and traceparent[36:52] == format(current.span_id, "016x"))
    request = getattr(rc, "request", None)
    headers = getattr(request, "headers", None)
    return headers is not None and "traceparent" in headers


_VERSION_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_VERSIONS = 16


def _protocol_version(rc: Any) -> str | None:
    """The negotiated MCP protocol version (FastMCP >= 4), else the version the client asked for (mcp 1.x)."""
    version = getattr(rc, "protocol_version", None)
    if not version:
        params = getattr(getattr(rc, "session", None), "client_params", None)
        version = getattr(params, "protocolVersion", None)
    return version if isinstance(version, str) and _VERSION_SHAPE.fullmatch(version) else None


def _sessionless(version: str | None) -> bool:
    """Protocol 2026-07-28 and later have no MCP session: ``mcp.session.id`` MUST NOT be set there."""
    global _modern_versions  # noqa: PLW0603 - looked up once per process, not at every request
    if version is None:
        return False
    if _modern_versions is _UNRESOLVED:
        try:
            from mcp_types.version import MODERN_PROTOCOL_VERSIONS  # mcp >= 2

            _modern_versions = MODERN_PROTOCOL_VERSIONS
        except ImportError:
            _modern_versions = ()
    return version in _modern_versions


def _session_id(mw_context: Any, version: str | None) -> str | None:
    """The id of the MCP session, stable across its requests; ``None`` on a sessionless connection."""
    if _sessionless(version):
        return None
    fc = getattr(mw_context, "fastmcp_context", None)
    if fc is None:
        return None
    try:
        sid = fc.session_id
    except Exception:  # noqa: BLE001 - FastMCP raises outside a session
        return None
    return sid if isinstance(sid, str) and sid else None


def _drop_attribute(span: Span, key: str) -> None:
    """Remove an attribute someone else set on a still-open SDK span (the API has no way to unset one)."""
    attrs = getattr(span, "_attributes", None)
    try:
        if attrs is not None and key in attrs:
            del attrs[key]
    except Exception:  # noqa: BLE001 - a non-SDK span: leave it be
        pass


# --- the tracer handed to FastMCP ------------------------------------------------------------------------------------
class JoiningTracer(Tracer):
    """FastMCP's tracer, redirected to our provider; a SERVER span inside a request joins the request's span."""

    def __init__(self, inner: Tracer) -> None:
        self._inner = inner

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._inner.start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        if kind is not SpanKind.SERVER:
            with self._inner.start_as_current_span(
                name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception,
                end_on_exit,
            ) as span:
                yield span
            return
        req = _request.get()
        if req is not None and req.span is not None:
            # FastMCP 3.x server_span, or a mounted server's: the request already has its one SERVER span.
            if attributes:
                req.span.set_attributes(attributes)
            yield req.span
            return
        parent, extra_links = context, None
        if _needs_own_parent():
            try:
                parent, extra_links = _parent_and_links(context)
            except Exception as exc:  # noqa: BLE001
                internal_error("trace context extraction", exc)
        if extra_links:
            links = [*(links or ()), *extra_links]
        with self._inner.start_as_current_span(
            name, parent, kind, attributes, links, start_time, record_exception, set_status_on_exception,
            end_on_exit,
        ) as span:
            outcome = _Outcome()
            token = _seam_span.set(span)
            outcome_token = _seam_outcome.set(outcome)
            try:
                yield span
            finally:
                _seam_outcome.reset(outcome_token)
                _seam_span.reset(token)
                if outcome.error_type is not None or outcome.session_id is not None:
                    outcome.apply(span)


# --- the middleware --------------------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:  # noqa: BLE001
            return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _protocol_code(exc: BaseException) -> int | None:
    """The JSON-RPC code of an MCP protocol error (``mcp`` 1.x ``McpError``, 2.x ``MCPError``), else ``None``."""
    if not any(cls.__name__ in ("McpError", "MCPError") for cls in type(exc).__mro__):
        return None
    code = getattr(getattr(exc, "error", None), "code", None)
    if code is None:
        code = getattr(exc, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _fastmcp4_wire() -> tuple[tuple[type[BaseException], ...], Any] | None:
    """FastMCP >= 4's exception-to-wire mapping: the exceptions a ``tools/call`` answers with ``isError: true``
    (``FastMCPError``, ``NotFoundError``, ``DisabledError``) and ``to_mcp_error`` for every other method; else ``None``.
    """
    try:
        from fastmcp.exceptions import (  # type: ignore[attr-defined,unused-ignore]
            DisabledError,
            FastMCPError,
            NotFoundError,
            to_mcp_error,
        )
    except ImportError:
        return None
    return (FastMCPError, NotFoundError, DisabledError), to_mcp_error


def _error_type(exc: BaseException, method: str) -> tuple[str, str | None]:
    """``(error.type, rpc.response.status_code)`` for a request that raised: what the client receives on the wire.

    MCP semconv (gen-ai registry, see :mod:`omie_otel.semconv`): a JSON-RPC error reports its code as both
    ``error.type`` and ``rpc.response.status_code``; a ``tools/call`` answered with ``isError: true`` reports
    ``tool_error``. FastMCP turns a tool-visible failure (unknown tool, bad arguments, ``ToolError``) into an
    ``isError`` result, and on FastMCP >= 4 every other failure into a JSON-RPC error (``-32602`` for unknown
    components and invalid params, ``-32603`` otherwise); we map the exception the same way, so the span and the
    metric carry the value the client saw. Older FastMCP answers non-tool failures inconsistently across versions:
    there the exception's class name stands in.
    """
    code = _protocol_code(exc)
    if code is not None:
        return str(code), str(code)
    wire = _fastmcp4_wire()
    if method == "tools/call" and (wire is None or isinstance(exc, wire[0])):
        return sc.ERROR_TOOL, None
    if wire is not None and isinstance(exc, Exception):
        try:
            mapped = wire[1](exc)
        except Exception:  # noqa: BLE001 - FastMCP's own mapping failing must not hide the user's error
            mapped = None
        code = _protocol_code(mapped) if mapped is not None else None
        if code is not None:
            return str(code), str(code)
    return type(exc).__qualname__, None


class McpTelemetry:
    """Per-``instrument()`` state shared by the middleware and the tracer wrapper."""

    def __init__(self, tracer: Tracer, meter: Any, options: Options, scrubber: Any) -> None:
        self.tracer = tracer
        self.options = options
        self.scrubber = scrubber
        self.enabled = True
        self._names: dict[str, str] = {}
        self._versions: set[str] = set()
        self.duration = meter.create_histogram(
            sc.MCP_SERVER_OPERATION_DURATION,
            unit="s",
            description="Duration of an MCP request as observed by the server",
            explicit_bucket_boundaries_advisory=list(sc.MCP_DURATION_BUCKETS),
        )
        self.session_duration = meter.create_histogram(
            sc.MCP_SERVER_SESSION_DURATION,
            unit="s",
            description="Duration of an MCP session as observed by the server",
            explicit_bucket_boundaries_advisory=list(sc.MCP_DURATION_BUCKETS),
        )

    def bounded_name(self, name: str) -> str:
        """Tool/prompt names as metric attributes: scrubbed (metric attributes pass no span processor, and a client
        may call an unknown tool named after a CPF) and bounded (a client inventing names cannot explode cardinality).
        """
        known = self._names.get(name)
        if known is not None:
            return known
        if len(self._names) >= _MAX_METRIC_NAMES:
            return "_other"
        safe = self.scrubber.scrub_text(name)
        self._names[name] = safe
        return safe

    def bounded_version(self, version: str) -> str:
        """``mcp.protocol.version`` as a metric attribute: on mcp 1.x it is what the client asked for, so bound it."""
        if version in self._versions or len(self._versions) < _MAX_VERSIONS:
            self._versions.add(version)
            return version
        return "_other"

    def capture(self, value: Any) -> str:
        text = json.dumps(self.scrubber.scrub_value(_jsonable(value)), ensure_ascii=False, default=str)
        limit = self.options.capture_max_length
        return text if len(text) <= limit else text[: limit - 1] + "…"


class McpTelemetryMiddleware(_Middleware):  # type: ignore[misc,valid-type]
    """FastMCP middleware recording one SERVER span and one duration point per MCP request.

    Added by :func:`omie_otel.instrument`; you don't add it yourself.

    Example:
        >>> from fastmcp import FastMCP
        >>> import omie_otel
        >>> mcp = FastMCP("omie")
        >>> omie_otel.instrument(mcp)  # adds this middleware first in the chain
    """

    def __init__(self, telemetry: McpTelemetry) -> None:
        self._t = telemetry

    async def __call__(self, context: Any, call_next: Any) -> Any:
        # Overriding __call__ (not on_message/on_request/on_call_tool) skips FastMCP's per-call hook-chain
        # building: one frame instead of three. It runs once per message on every FastMCP version.
        if getattr(context, "type", "request") != "request":
            return await call_next(context)
        return await self.on_request(context, call_next)

    async def on_request(self, context: Any, call_next: Any) -> Any:
        t = self._t
        if not t.enabled or _request.get() is not None:
            return await call_next(context)
        start = time.perf_counter()
        try:
            req, metric_attrs, method = self._begin(context)
        except Exception as exc:  # noqa: BLE001
            internal_error("mcp request start", exc)
            return await call_next(context)
        token = _request.set(req)
        scope = trace.use_span(req.span, end_on_exit=False) if req.owned and req.span is not None else None
        if scope is not None:
            scope.__enter__()
        error: BaseException | None = None
        result: Any = None
        try:
            result = await call_next(context)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                self._end(req, context, method, metric_attrs, result, error, start)
            except Exception as exc:  # noqa: BLE001
                internal_error("mcp request end", exc)
            finally:
                if scope is not None:
                    scope.__exit__(None, None, None)
                _request.reset(token)

    def _begin(self, context: Any) -> tuple[_Request, dict[str, Any], str]:
        t = self._t
        method = getattr(context, "method", None) or "unknown"
        msg = getattr(context, "message", None)
        target_key = _TARGETED.get(method)
        target = getattr(msg, "name", None) if target_key else None
        if not isinstance(target, str):
            target_key = target = None
        metric_attrs: dict[str, Any] = {sc.MCP_METHOD_NAME: method}
        extra: dict[str, Any] = {}
        if target_key:
            extra[target_key] = target
            metric_attrs[target_key] = t.bounded_name(target)  # type: ignore[arg-type]
        if method == "tools/call":
            extra[sc.GEN_AI_OPERATION_NAME] = sc.OPERATION_EXECUTE_TOOL
            metric_attrs[sc.GEN_AI_OPERATION_NAME] = sc.OPERATION_EXECUTE_TOOL
            if t.options.capture_arguments:
                extra[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = t.capture(getattr(msg, "arguments", None) or {})
        elif method == "resources/read":
            uri = getattr(msg, "uri", None)
            if uri is not None:
                extra[sc.MCP_RESOURCE_URI] = str(uri)
        rc = _request_context(context)
        transport = _transport.get()
        if transport is None and getattr(rc, "request", None) is not None:
            transport = sc.TRANSPORT_TCP
        if transport is not None:
            extra[sc.NETWORK_TRANSPORT] = transport
            metric_attrs[sc.NETWORK_TRANSPORT] = transport
            if transport == sc.TRANSPORT_TCP:
                extra[sc.NETWORK_PROTOCOL_NAME] = "http"
                metric_attrs[sc.NETWORK_PROTOCOL_NAME] = "http"
        version = _protocol_version(rc)
        if version is not None:
            extra[sc.MCP_PROTOCOL_VERSION] = version
            metric_attrs[sc.MCP_PROTOCOL_VERSION] = t.bounded_version(version)
        session_id = _session_id(context, version)
        facts = _session.get()  # mcp 1.x: requests run inside the session's task; mcp >= 2 reads its Connection
        if facts is not None and version is not None:
            facts.setdefault(sc.MCP_PROTOCOL_VERSION, version)
        if session_id is not None:
            extra[sc.MCP_SESSION_ID] = session_id
        name = f"{method} {target}" if target_key else method

        seam = _seam_span.get()
        if seam is not None and seam.is_recording():
            # FastMCP >= 4 already put method, request id, session and protocol version on its seam span.
            seam.update_name(name)
            seam.set_attributes(extra)
            outcome = _seam_outcome.get() or _Outcome()
            outcome.session_id = session_id
            return _Request(seam, owned=False, outcome=outcome), metric_attrs, method

        extra[sc.MCP_METHOD_NAME] = method
        if rc is not None:
            rid = getattr(rc, "request_id", None)
            if rid is not None:
                extra[sc.JSONRPC_REQUEST_ID] = str(rid)
        parent, links = _parent_and_links(None, context)
        span = t.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=extra, links=links)
        return _Request(span, owned=True, outcome=_Outcome(session_id)), metric_attrs, method

    def _end(
        self,
        req: _Request,
        context: Any,
        method: str,
        metric_attrs: dict[str, Any],
        result: Any,
        error: BaseException | None,
        start: float,
    ) -> None:
        t = self._t
        span = req.span
        error_type: str | None = None
        code: str | None = None
        if error is not None:
            error_type, code = _error_type(error, method)
            if span is not None and span.is_recording():
                if req.owned and not any(e.name == "exception" for e in getattr(span, "events", ())):
                    span.record_exception(error)  # FastMCP 3.x may already have recorded it on the joined span
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        elif getattr(result, "is_error", False) is True or getattr(result, "isError", False) is True:
            error_type = sc.ERROR_TOOL
            if span is not None and span.is_recording():
                span.set_status(Status(StatusCode.ERROR, "tool returned isError"))
        req.outcome.error_type, req.outcome.status_code = error_type, code
        if span is not None:
            req.outcome.apply(span)
        if (
            method == "tools/call"
            and error is None
            and t.options.capture_results
            and span is not None
            and span.is_recording()
        ):
            content = getattr(result, "structured_content", None) or getattr(result, "content", result)
            span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, t.capture(content))
        if error_type is not None:
            metric_attrs[sc.ERROR_TYPE] = error_type
        if code is not None:
            metric_attrs[sc.RPC_RESPONSE_STATUS_CODE] = code
        t.duration.record(time.perf_counter() - start, metric_attrs)
        if req.owned and span is not None:
            span.end()
