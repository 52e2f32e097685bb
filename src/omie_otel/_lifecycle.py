"""``instrument()`` / ``uninstrument()``: resolve the options, build or borrow the providers, put the scrubber in
front, patch FastMCP (:mod:`omie_otel._fastmcp_patch`), start the integrations (:mod:`omie_otel._integrations`), and
undo all of it, once, under one lock; plus the bounded flush at ``uninstrument()`` and at interpreter exit."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace

from omie_otel._config import KEYWORDS, resolve_options
from omie_otel._fastmcp_patch import attach, patch_fastmcp
from omie_otel._guard import internal_error
from omie_otel._integrations import INTEGRATIONS
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
    scrub_documents: bool | None = None,
    scrub_patterns: Sequence[str] | None = None,
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
    else the default". The keywords after ``logger_provider`` are the options of :class:`omie_otel._config.Options`,
    in its order (``tests/test_options_table.py`` checks it).
    """
    global _warned_twice, _exit_timeout
    given = locals()
    arguments = {o.keyword: given[o.keyword] for o in KEYWORDS if o.keyword is not None}
    with _lock:
        if _stopping is not None:  # an uninstrument() still flushing: finish its stop before patching again
            _finish_stop(_stopping)
        active = current_state()
        if active is not None:
            if mcp is not None and mcp not in active.servers:
                attach(active, mcp)
                return
            if not _warned_twice:
                _warned_twice = True
                _logger.warning("omie-otel: instrument() was already called; this call changes nothing")
            return
        if mcp is not None and not hasattr(mcp, "middleware"):
            raise TypeError(
                f"instrument(mcp={mcp!r}): expected a fastmcp.FastMCP server (FastMCP >= 2.9) or None for all servers"
            )
        options = resolve_options(**arguments)
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
    patch_fastmcp(state)
    if mcp is not None:
        attach(state, mcp)
    for starter in INTEGRATIONS:
        try:
            closer = starter(state, mcp)
        except Exception as exc:  # noqa: BLE001 - one integration failing must not take the others down
            internal_error(f"starting {starter.__name__}", exc)
            continue
        if closer is not None:
            state.closers.append(closer)


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
