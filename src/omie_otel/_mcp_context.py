"""The context of an MCP request in flight, and the tracer handed to FastMCP that joins it.

Context variables say which request is in flight (so a mounted sub-server's middleware neither spans nor counts it
twice), which transport and session it runs in, and what its span must say when it ends; :class:`JoiningTracer`
makes FastMCP's own SERVER span join the request's span instead of starting a second one.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span, SpanKind, Tracer

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel._mcp_request_facts import needs_own_parent, parent_and_links

__all__ = [
    "JoiningTracer",
    "Outcome",
    "Request",
    "current_transport",
    "note_session_connection",
    "request_var",
    "seam_outcome_var",
    "seam_span_var",
    "session_scope",
    "session_var",
    "sessionless",
    "transport_scope",
    "transport_var",
]


@dataclass(slots=True)
class Request:
    """The request in flight: its SERVER span (``owned`` when the middleware opened it, not FastMCP's seam)."""

    span: Span | None
    owned: bool
    outcome: Outcome


@dataclass(slots=True)
class Outcome:
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


#: The request in flight (a mounted sub-server's middleware sees it and stays out).
request_var: contextvars.ContextVar[Request | None] = contextvars.ContextVar("omie_otel_mcp_request", default=None)
#: FastMCP >= 4's SERVER span opened at its dispatch seam, and what it must say when it ends.
seam_span_var: contextvars.ContextVar[Span | None] = contextvars.ContextVar("omie_otel_seam_span", default=None)
seam_outcome_var: contextvars.ContextVar[Outcome | None] = contextvars.ContextVar(
    "omie_otel_seam_outcome", default=None
)
#: ``pipe`` / ``tcp`` (see :func:`transport_scope`), and the facts of the session being timed (:func:`session_scope`).
transport_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("omie_otel_transport", default=None)
session_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("omie_otel_session", default=None)


def current_transport() -> str | None:
    """``pipe`` inside a stdio server, ``tcp`` inside an HTTP server, else ``None``."""
    return transport_var.get()


@contextmanager
def transport_scope(value: str) -> Iterator[None]:
    """Mark everything run inside (and every task spawned from it) as served over ``value``."""
    token = transport_var.set(value)
    try:
        yield
    finally:
        transport_var.reset(token)


@contextmanager
def session_scope() -> Iterator[dict[str, Any]]:
    """Facts about one MCP session (its protocol version, its mcp >= 2 ``Connection``), filled from inside it."""
    facts: dict[str, Any] = {}
    token = session_var.set(facts)
    try:
        yield facts
    finally:
        session_var.reset(token)


def note_session_connection(connection: Any) -> None:
    """mcp >= 2 made a handshake-era (loop-mode) connection: the session being timed has one, with this version."""
    facts = session_var.get()
    if facts is not None:
        facts["connection"] = connection


@functools.cache
def _modern_protocol_versions() -> frozenset[str]:
    """mcp >= 2's sessionless protocol versions (none on mcp 1.x), looked up once per process: on mcp 1.x the failed
    import rescanned ``sys.path`` at every request (~230 µs)."""
    try:
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS  # mcp >= 2
    except ImportError:
        return frozenset()
    return frozenset(MODERN_PROTOCOL_VERSIONS)


def sessionless(version: str | None) -> bool:
    """Protocol 2026-07-28 and later have no MCP session: ``mcp.session.id`` MUST NOT be set there."""
    return version is not None and version in _modern_protocol_versions()


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
        req = request_var.get()
        if req is not None and req.span is not None:
            # FastMCP 3.x server_span, or a mounted server's: the request already has its one SERVER span.
            if attributes:
                req.span.set_attributes(attributes)
            yield req.span
            return
        parent, extra_links = context, None
        if needs_own_parent():
            try:
                parent, extra_links = parent_and_links(context)
            except Exception as exc:  # noqa: BLE001
                internal_error("trace context extraction", exc)
        if extra_links:
            links = [*(links or ()), *extra_links]
        with self._inner.start_as_current_span(
            name, parent, kind, attributes, links, start_time, record_exception, set_status_on_exception,
            end_on_exit,
        ) as span:
            outcome = Outcome()
            token = seam_span_var.set(span)
            outcome_token = seam_outcome_var.set(outcome)
            try:
                yield span
            finally:
                seam_outcome_var.reset(outcome_token)
                seam_span_var.reset(token)
                if outcome.error_type is not None or outcome.session_id is not None:
                    outcome.apply(span)

