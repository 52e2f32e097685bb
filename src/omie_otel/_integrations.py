"""The integrations ``instrument()`` starts, in order, after the FastMCP patches: each starter gets the
:class:`~omie_otel._state.State` of the call and the server (or ``None``), and returns a closer or ``None``.

Order matters and is written here once: health reads ``state.omie`` (recent Omie answers) and
``state.self_telemetry`` (the export check), so both start before it; the ops tools read ``state.host_metrics`` at
start. A starter that raises is reported through ``internal_error`` and the others still start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omie_otel._fastmcp_patch import wrap
from omie_otel._state import SCOPE, State
from omie_otel.version import __version__

__all__ = ["INTEGRATIONS"]


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
    wrap(state, httpx.Client, "send", send)
    wrap(state, httpx.AsyncClient, "send", async_send)
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

    bridge = LogBridge(
        state.providers.logger_provider, state.options.log_level, state.scrubber, fmt=state.options.log_format
    )
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


#: A starter: ``(state, server or None) -> closer or None``.
Starter = Callable[[State, Any], "Callable[[], None] | None"]

INTEGRATIONS: tuple[Starter, ...] = (
    _start_omie,
    _start_host_metrics,
    _start_logs,
    _start_self_telemetry,
    _start_health,
    _start_ops_tools,
)
