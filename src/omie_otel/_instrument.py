"""Orchestration: providers, idempotency, patches, and the lazily imported integrations."""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace

from omie_otel import semconv as sc
from omie_otel._config import resolve_options
from omie_otel._guard import internal_error
from omie_otel._scrub_processors import (
    ScrubbingLogProcessor,
    ScrubbingSpanProcessor,
    install_log_scrubber,
    install_span_scrubber,
    remove_processor,
)
from omie_otel._setup import Providers, configure_from_env, is_sdk_provider
from omie_otel._state import SCOPE, State, current_state, set_current_state
from omie_otel.redaction import Scrubber, ScrubCallback, register_env_secrets
from omie_otel.version import __version__

__all__ = ["instrument", "uninstrument", "is_instrumented"]

_logger = logging.getLogger("omie_otel")
_lock = threading.RLock()
#: A state uninstrument() took out and is flushing (outside the lock); a new instrument() finishes stopping it.
_stopping: State | None = None
_warned_twice = False
#: Seconds the exit hook waits for providers omie-otel created (the latest instrument()'s ``shutdown_timeout``).
_exit_timeout: float | None = None


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return current_state() is not None


def _resolve_providers(
    service_name: str | None, tracer_provider: Any, meter_provider: Any, logger_provider: Any, server_name: str | None
) -> Providers:
    from opentelemetry._logs import get_logger_provider

    global_tp = trace.get_tracer_provider()
    configured = None
    if tracer_provider is None and meter_provider is None and logger_provider is None and not is_sdk_provider(global_tp):
        try:
            configured = configure_from_env(service_name or _env_service_name() or server_name)
        except Exception as exc:  # noqa: BLE001 - an environment value must never make instrument() raise
            _logger.warning(
                "omie-otel: the OpenTelemetry SDK could not be set up from the OTEL_* environment (%s: %s); "
                "telemetry stays off until that is fixed. Your server keeps running.",
                type(exc).__name__, exc,
            )
    if configured is not None:
        atexit.register(_shutdown_at_exit, configured)
        return configured
    return Providers(
        tracer_provider or trace.get_tracer_provider(),
        meter_provider or metrics.get_meter_provider(),
        logger_provider or get_logger_provider(),
        owned=False,
    )


def _shutdown_at_exit(providers: Providers) -> None:
    """Interpreter exit: shut down the providers we created, bounded by ``shutdown_timeout``, counting what is lost."""
    from omie_otel._config import DEFAULT_SHUTDOWN_TIMEOUT
    from omie_otel._shutdown import shutdown_at_exit

    try:
        shutdown_at_exit(providers, DEFAULT_SHUTDOWN_TIMEOUT if _exit_timeout is None else _exit_timeout)
    except Exception as exc:  # noqa: BLE001 - an exit hook must never turn a clean exit into a traceback
        _logger.warning("omie-otel: telemetry shutdown at exit failed: %r", exc)


def _env_service_name() -> str | None:
    import os

    return os.environ.get("OTEL_SERVICE_NAME") or None


def _fastmcp_class() -> Any:
    try:
        from fastmcp import FastMCP
    except ImportError:
        return None
    return FastMCP


def _wrap(state: State, owner: Any, name: str, wrapper: Any) -> None:
    import wrapt

    wrapt.wrap_function_wrapper(owner, name, wrapper)
    state.patches.append((owner, name))


def _attach(state: State, server: Any) -> None:
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


def _patch_fastmcp(state: State) -> None:
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

        _wrap(state, fst, "get_tracer", get_tracer)

    def runner(transport: str) -> Any:
        async def run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            with transport_scope(transport):
                return await wrapped(*args, **kwargs)

        return run

    _wrap(state, FastMCP, "run_stdio_async", runner(sc.TRANSPORT_PIPE))
    _wrap(state, FastMCP, "run_http_async", runner(sc.TRANSPORT_TCP))

    if state.all_servers:

        def init(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            result = wrapped(*args, **kwargs)
            st = current_state()
            if st is not None:
                try:
                    _attach(st, instance)
                except Exception as exc:  # noqa: BLE001
                    internal_error("FastMCP.__init__ hook", exc)
            return result

        _wrap(state, FastMCP, "__init__", init)
        for obj in gc.get_objects():
            if isinstance(obj, FastMCP):
                _attach(state, obj)

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
    _wrap(state, Server, "run", _timed_session(None))
    try:
        import mcp.server.streamable_http_manager as manager
    except ImportError:  # pragma: no cover - mcp without streamable HTTP
        return
    if hasattr(manager, "serve_loop"):  # mcp >= 2; mcp 1.x HTTP sessions go through Server.run
        _wrap(state, manager, "serve_loop", _timed_session(sc.TRANSPORT_TCP))
    if _has_loop_connections():
        from mcp.server.connection import Connection

        from omie_otel._mcp_context import note_session_connection

        def for_loop(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            connection = wrapped(*args, **kwargs)
            note_session_connection(connection)
            return connection

        _wrap(state, Connection, "for_loop", for_loop)


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


def instrument(
    mcp: Any = None,
    *,
    service_name: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    capture_arguments: bool | None = None,
    capture_results: bool | None = None,
    capture_max_length: int | None = None,
    omie_url: str | Sequence[str] | None = None,
    host_metrics: bool | None = None,
    host_metrics_exclude: Sequence[str] | None = None,
    host_metrics_per_cpu: bool | None = None,
    logs: bool | None = None,
    log_level: str | int | None = None,
    scrub_patterns: Sequence[str] | None = None,
    scrub_documents: bool | None = None,
    scrub_callback: ScrubCallback | None = None,
    ops_tools: bool | None = None,
    alertmanager_url: str | None = None,
    health_routes: bool | None = None,
    health_port: int | None = None,
    health_memory_threshold: float | None = None,
    health_disk_threshold: float | None = None,
    health_omie_probe: bool | None = None,
    shutdown_timeout: float | None = None,
) -> None:
    """Instrument FastMCP (one server, or every server in the process) and the Omie httpx calls they make.

    See the package docstring (``help(omie_otel)``) for every option; each ``None`` means "from the environment,
    else the default".
    """
    global _warned_twice, _exit_timeout
    with _lock:
        if _stopping is not None:  # an uninstrument() still flushing: finish its stop before patching again
            _finish_stop(_stopping)
        active = current_state()
        if active is not None:
            if mcp is not None and mcp not in active.servers:
                _attach(active, mcp)
                return
            if not _warned_twice:
                _warned_twice = True
                _logger.warning("omie-otel: instrument() was already called; this call changes nothing")
            return
        if mcp is not None and not hasattr(mcp, "middleware"):
            raise TypeError(
                f"instrument(mcp={mcp!r}): expected a fastmcp.FastMCP server (FastMCP >= 2.9) or None for all servers"
            )
        options = resolve_options(
            capture_arguments=capture_arguments,
            capture_results=capture_results,
            capture_max_length=capture_max_length,
            omie_url=omie_url,
            host_metrics=host_metrics,
            host_metrics_exclude=host_metrics_exclude,
            host_metrics_per_cpu=host_metrics_per_cpu,
            logs=logs,
            log_level=log_level,
            scrub_documents=scrub_documents,
            scrub_patterns=scrub_patterns,
            scrub_callback=scrub_callback,
            ops_tools=ops_tools,
            alertmanager_url=alertmanager_url,
            health_routes=health_routes,
            health_port=health_port,
            health_memory_threshold=health_memory_threshold,
            health_disk_threshold=health_disk_threshold,
            health_omie_probe=health_omie_probe,
            shutdown_timeout=shutdown_timeout,
        )
        _exit_timeout = options.shutdown_timeout
        scrubber = Scrubber(
            extra_patterns=options.scrub_patterns, documents=options.scrub_documents, callback=options.scrub_callback
        )
        register_env_secrets()
        # service.name is a resource attribute on everything we export: the names we set it from are scrubbed too
        server_name = getattr(mcp, "name", None)
        providers = _resolve_providers(
            scrubber.scrub_text(service_name) if isinstance(service_name, str) else service_name,
            tracer_provider,
            meter_provider,
            logger_provider,
            scrubber.scrub_text(server_name) if isinstance(server_name, str) else server_name,
        )
        state = State(options, providers, scrubber, all_servers=mcp is None)
        try:
            _start(state, mcp)
        except BaseException:
            _stop(state)
            raise
        set_current_state(state)


def _start(state: State, mcp: Any) -> None:
    from omie_otel._mcp_middleware import McpTelemetry, McpTelemetryMiddleware

    p = state.providers
    state.span_scrubber = ScrubbingSpanProcessor(state.scrubber)
    if not install_span_scrubber(p.tracer_provider, state.span_scrubber):
        state.span_scrubber = None
        if is_sdk_provider(p.tracer_provider):
            _logger.warning(
                "omie-otel: cannot put the scrubber into %r; secrets are only removed from our own attributes",
                p.tracer_provider,
            )
    state.log_scrubber = ScrubbingLogProcessor(state.scrubber)
    if not install_log_scrubber(p.logger_provider, state.log_scrubber):
        state.log_scrubber = None

    tracer = p.tracer_provider.get_tracer(SCOPE, __version__)
    meter = p.meter_provider.get_meter(SCOPE, __version__)
    state.telemetry = McpTelemetry(tracer, meter, state.options, state.scrubber)
    state.middleware = McpTelemetryMiddleware(state.telemetry)
    _patch_fastmcp(state)
    if mcp is not None:
        _attach(state, mcp)
    for starter in _INTEGRATIONS:
        try:
            closer = starter(state, mcp)
        except Exception as exc:  # noqa: BLE001 - one integration failing must not take the others down
            internal_error(f"starting {starter.__name__}", exc)
            continue
        if closer is not None:
            state.closers.append(closer)


def _start_omie(state: State, mcp: Any) -> Any:
    """Omie CLIENT spans and metrics on every httpx client, created before or after this call."""
    import httpx

    from omie_otel._omie_httpx import OmieHttpxInstrumentation, make_wrappers

    p = state.providers
    instr = OmieHttpxInstrumentation(
        state.options.omie_urls,
        p.tracer_provider.get_tracer(SCOPE, __version__),
        p.meter_provider.get_meter(SCOPE, __version__),
        state.scrubber,
    )
    send, async_send = make_wrappers(instr)
    _wrap(state, httpx.Client, "send", send)
    _wrap(state, httpx.AsyncClient, "send", async_send)
    state.omie = instr

    def close() -> None:
        instr.enabled = False

    return close


def _start_host_metrics(state: State, mcp: Any) -> Any:
    """psutil host and process gauges (``host_metrics=False`` turns them off)."""
    if not state.options.host_metrics:
        return None
    from omie_otel.host_metrics import HostMetrics

    hm = HostMetrics(
        state.providers.meter_provider,
        exclude=state.options.host_metrics_exclude,
        per_cpu=state.options.host_metrics_per_cpu,
    )
    hm.start()
    state.host_metrics = hm
    return hm.stop


def _start_logs(state: State, mcp: Any) -> Any:
    """stdlib logging → OpenTelemetry logs, with trace correlation (``logs=False`` turns it off)."""
    if not state.options.logs:
        return None
    from omie_otel.logs import LogBridge

    bridge = LogBridge(state.providers.logger_provider, state.options.log_level, state.scrubber)
    bridge.start()
    return bridge.stop


def _start_self_telemetry(state: State, mcp: Any) -> Any:
    """Export failures, drops, queue sizes and internal errors as metrics, and a warning when telemetry is lost."""
    from omie_otel._selftelemetry import SelfTelemetry

    st = SelfTelemetry(state.providers.meter_provider.get_meter(SCOPE, __version__), state.providers)
    st.start()
    state.self_telemetry = st
    return st.stop


def _start_health(state: State, mcp: Any) -> Any:
    """Readiness checks, the ``omie_otel.health.status`` gauge, ``/health/*`` routes, the optional listener."""
    from omie_otel._health_http import start

    return start(state, mcp)


def _start_ops_tools(state: State, mcp: Any) -> Any:
    """``ops_tools=True``: read-only MCP tools ``get_system_metrics``, ``health_check``, ``get_active_alerts``."""
    from omie_otel._ops import start

    return start(state, mcp)


_INTEGRATIONS: list[Any] = [
    _start_omie,
    _start_host_metrics,
    _start_logs,
    _start_self_telemetry,
    _start_health,
    _start_ops_tools,
]


def _stop(state: State) -> None:
    from opentelemetry.instrumentation.utils import unwrap

    if state.telemetry is not None:
        state.telemetry.enabled = False
    for closer in reversed(state.closers):
        try:
            closer()
        except Exception as exc:  # noqa: BLE001
            internal_error("stopping an integration", exc)
    for owner, name in reversed(state.patches):
        unwrap(owner, name)
    for server in list(state.servers):
        chain = getattr(server, "middleware", [])
        if state.middleware in chain:
            chain.remove(state.middleware)
    if state.span_scrubber is not None:
        remove_processor(state.providers.tracer_provider, state.span_scrubber)
    if state.log_scrubber is not None:
        remove_processor(state.providers.logger_provider, state.log_scrubber)


def _finish_stop(state: State) -> None:
    """Undo one state's patches, processors and integrations, once (called with ``_lock`` held)."""
    global _stopping
    if _stopping is state:
        _stopping = None
    if state.stopped:
        return
    state.stopped = True
    _stop(state)


def uninstrument() -> None:
    """Undo :func:`instrument`: no more spans, metrics or log records from omie-otel; patches removed.

    Providers omie-otel created from the environment are flushed, not shut down (other code may hold them), and the
    flush is waited for at most ``shutdown_timeout`` seconds (default 2), without holding the module lock: a dead
    collector never makes this call hang.
    """
    global _warned_twice, _stopping
    with _lock:
        state = current_state()
        set_current_state(None)
        _warned_twice = False
        if state is None:
            return
        _stopping = state
    if state.providers.owned:  # flush first, so the last export still has every gauge and span
        from omie_otel._shutdown import flush

        try:
            flush(state.providers, state.options.shutdown_timeout)
        except Exception as exc:  # noqa: BLE001
            internal_error("flushing providers", exc)
    with _lock:
        _finish_stop(state)
