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
recognised and neither spanned nor counted twice. The joining tracer and the request context are in
:mod:`omie_otel._mcp_context`, what a request says (parent, version, session, error) in
:mod:`omie_otel._mcp_request_facts`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from omie_otel import semconv as sc
from omie_otel._config import Options
from omie_otel._guard import internal_error
from omie_otel._mcp_context import (
    Outcome,
    Request,
    request_var,
    seam_outcome_var,
    seam_span_var,
    session_var,
    sessionless,
    transport_var,
)
from omie_otel._mcp_request_facts import parent_and_links, protocol_version, request_context, session_id_of, wire_error

__all__ = ["McpTelemetry", "McpTelemetryMiddleware"]

try:  # the base class comes from FastMCP, an optional dependency
    from fastmcp.server.middleware import Middleware as _Middleware
except Exception:  # pragma: no cover - fastmcp missing or too old
    _Middleware = object  # type: ignore[assignment,misc]


_MAX_METRIC_NAMES = 500
_MAX_VERSIONS = 16
_TARGETED = {"tools/call": sc.GEN_AI_TOOL_NAME, "prompts/get": sc.GEN_AI_PROMPT_NAME}


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
        safe: str = self.scrubber.scrub_text(name)
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


class McpTelemetryMiddleware(_Middleware):  # type: ignore[misc,valid-type,unused-ignore]
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
        if not t.enabled or request_var.get() is not None:
            return await call_next(context)
        start = time.perf_counter()
        try:
            req, metric_attrs, method = self._begin(context)
        except Exception as exc:  # noqa: BLE001
            internal_error("mcp request start", exc)
            return await call_next(context)
        token = request_var.set(req)
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
                request_var.reset(token)

    def _begin(self, context: Any) -> tuple[Request, dict[str, Any], str]:
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
        rc = request_context(context)
        transport = transport_var.get()
        if transport is None and getattr(rc, "request", None) is not None:
            transport = sc.TRANSPORT_TCP
        if transport is not None:
            extra[sc.NETWORK_TRANSPORT] = transport
            metric_attrs[sc.NETWORK_TRANSPORT] = transport
            if transport == sc.TRANSPORT_TCP:
                extra[sc.NETWORK_PROTOCOL_NAME] = "http"
                metric_attrs[sc.NETWORK_PROTOCOL_NAME] = "http"
        version = protocol_version(rc)
        if version is not None:
            extra[sc.MCP_PROTOCOL_VERSION] = version
            metric_attrs[sc.MCP_PROTOCOL_VERSION] = t.bounded_version(version)
        session_id = None if sessionless(version) else session_id_of(context)
        facts = session_var.get()  # mcp 1.x: requests run inside the session's task; mcp >= 2 reads its Connection
        if facts is not None and version is not None:
            facts.setdefault(sc.MCP_PROTOCOL_VERSION, version)
        if session_id is not None:
            extra[sc.MCP_SESSION_ID] = session_id
        name = f"{method} {target}" if target_key else method

        seam = seam_span_var.get()
        if seam is not None and seam.is_recording():
            # FastMCP >= 4 already put method, request id, session and protocol version on its seam span.
            seam.update_name(name)
            seam.set_attributes(extra)
            outcome = seam_outcome_var.get() or Outcome()
            outcome.session_id = session_id
            return Request(seam, owned=False, outcome=outcome), metric_attrs, method

        extra[sc.MCP_METHOD_NAME] = method
        if rc is not None:
            rid = getattr(rc, "request_id", None)
            if rid is not None:
                extra[sc.JSONRPC_REQUEST_ID] = str(rid)
        parent, links = parent_and_links(None, context)
        span = t.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=extra, links=links)
        return Request(span, owned=True, outcome=Outcome(session_id)), metric_attrs, method

    def _end(
        self,
        req: Request,
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
            error_type, code = wire_error(error, method)
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
