"""The FastMCP side of ``instrument()``: our middleware first in each server's chain, native FastMCP spans joined
to ours, the transport noted, and each MCP session timed (``mcp.server.session.duration``).

Every patch goes through :func:`wrap`, which records it in the :class:`~omie_otel._state.State` so ``uninstrument()``
undoes it. The wrappers find the live state with :func:`~omie_otel._state.current_state` at call time: a patch
outliving its ``instrument()`` does nothing.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from typing import Any

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel._state import State, current_state

__all__ = ["attach", "patch_fastmcp", "wrap"]

_logger = logging.getLogger("omie_otel")


def _fastmcp_class() -> Any:
    try:
        from fastmcp import FastMCP
    except ImportError:
        return None
    return FastMCP


def wrap(state: State, owner: Any, name: str, wrapper: Any) -> None:
    """Patch ``owner.name`` with a wrapt ``wrapper`` and record it in ``state`` so ``uninstrument()`` unwraps it."""
    import wrapt

    wrapt.wrap_function_wrapper(owner, name, wrapper)
    state.patches.append((owner, name))


def attach(state: State, server: Any) -> None:
    """Put our middleware first in one server's chain (once)."""
    if server in state.servers:
        return
    chain = getattr(server, "middleware", None)
    if not isinstance(chain, list):
        _logger.warning("omie-otel: %r has no middleware list; this FastMCP version is not supported", server)
        return
    if state.middleware not in chain:
        chain.insert(0, state.middleware)
    state.servers.add(server)
    for hook in list(state.attach_hooks):
        try:
            hook(server)
        except Exception as exc:  # noqa: BLE001 - an extra (routes, tools) must not stop the instrumentation
            internal_error(f"attaching {getattr(hook, '__name__', hook)}", exc)


def patch_fastmcp(state: State) -> None:
    """Join FastMCP's native spans, note the transport, attach to every server (``instrument()``), time sessions."""
    FastMCP = _fastmcp_class()
    if FastMCP is None:
        return
    from omie_otel._mcp_context import JoiningTracer, transport_scope

    tracer_provider = state.providers.tracer_provider
    fastmcp_tracer = JoiningTracer(tracer_provider.get_tracer("fastmcp"))

    fst: Any
    try:
        import fastmcp.server.telemetry as fst
    except ImportError:  # FastMCP 2.x: no native spans
        fst = None
    if fst is not None and hasattr(fst, "get_tracer"):
        native_enabled = getattr(importlib.import_module("fastmcp.telemetry"), "native_spans_enabled", None)

        def get_tracer(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            st = current_state()
            if st is None or st.telemetry is None or not st.telemetry.enabled:
                return wrapped(*args, **kwargs)
            if native_enabled is not None and not native_enabled():
                return wrapped(*args, **kwargs)
            return fastmcp_tracer

        wrap(state, fst, "get_tracer", get_tracer)

    def runner(transport: str) -> Any:
        async def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            with transport_scope(transport):
                return await wrapped(*args, **kwargs)

        return run

    wrap(state, FastMCP, "run_stdio_async", runner(sc.TRANSPORT_PIPE))
    wrap(state, FastMCP, "run_http_async", runner(sc.TRANSPORT_TCP))

    if state.all_servers:

        def init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            st = current_state()
            if st is not None:
                try:
                    attach(st, instance)
                except Exception as exc:  # noqa: BLE001
                    internal_error("FastMCP.__init__ hook", exc)
            return result

        wrap(state, FastMCP, "__init__", init)
        for obj in gc.get_objects():
            if isinstance(obj, FastMCP):
                attach(state, obj)

    _patch_sessions(state)


def _patch_sessions(state: State) -> None:
    """Time each MCP session: stdio and in-memory sessions are one low-level ``Server.run`` call; with mcp >= 2 a
    streamable-HTTP session is one ``serve_loop`` call in the session manager (it ends on the client's ``DELETE``,
    the idle timeout, a crash or server shutdown)."""
    Server: Any
    try:
        from fastmcp.server.low_level import LowLevelServer as Server  # FastMCP 2.x/3.x override run()
    except ImportError:  # pragma: no cover
        return
    if "run" not in Server.__dict__:  # FastMCP 4 inherits the SDK's run(); patch it once, where it is defined
        from mcp.server.lowlevel.server import Server
    wrap(state, Server, "run", _timed_session(None))
    try:
        import mcp.server.streamable_http_manager as manager
    except ImportError:  # pragma: no cover - mcp without streamable HTTP
        return
    if hasattr(manager, "serve_loop"):  # mcp >= 2; mcp 1.x HTTP sessions go through Server.run
        wrap(state, manager, "serve_loop", _timed_session(sc.TRANSPORT_TCP))
    if _has_loop_connections():
        from mcp.server.connection import Connection

        from omie_otel._mcp_context import note_session_connection

        def for_loop(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            connection = wrapped(*args, **kwargs)
            note_session_connection(connection)
            return connection

        wrap(state, Connection, "for_loop", for_loop)


def _has_loop_connections() -> bool:
    try:
        from mcp.server.connection import Connection
    except ImportError:  # mcp 1.x: no Connection, every Server.run is a session
        return False
    return hasattr(Connection, "for_loop")


def _timed_session(transport: str | None) -> Any:
    from omie_otel._mcp_context import current_transport, session_scope
    from omie_otel._mcp_context import sessionless as _sessionless

    async def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        start = time.perf_counter()
        error: str | None = None
        with session_scope() as facts:
            try:
                return await wrapped(*args, **kwargs)
            except BaseException as exc:
                error = type(exc).__qualname__
                raise
            finally:
                st = current_state()
                connection = facts.get("connection")
                version = getattr(connection, "protocol_version", None) or facts.get(sc.MCP_PROTOCOL_VERSION)
                # A 2026-07-28 connection has no MCP session: nothing to time (mcp >= 2 opens a loop-mode
                # Connection only for a handshake-era session).
                sessionless = _sessionless(version) or (_has_loop_connections() and connection is None)
                if st is not None and st.telemetry is not None and st.telemetry.enabled and not sessionless:
                    attrs: dict[str, Any] = {}
                    network = transport or current_transport()
                    if network:
                        attrs[sc.NETWORK_TRANSPORT] = network
                        if network == sc.TRANSPORT_TCP:
                            attrs[sc.NETWORK_PROTOCOL_NAME] = "http"
                    if version is not None:
                        attrs[sc.MCP_PROTOCOL_VERSION] = st.telemetry.bounded_version(version)
                    if error and error not in ("CancelledError", "GeneratorExit"):
                        attrs[sc.ERROR_TYPE] = error
                    st.telemetry.session_duration.record(time.perf_counter() - start, attrs)

    return run
