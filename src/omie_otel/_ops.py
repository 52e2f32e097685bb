"""Ops tools: read-only MCP tools an operator (or an agent) can call on an instrumented server.

``instrument(mcp, ops_tools=True)`` (or ``OMIE_OTEL_OPS_TOOLS=true``) adds to each instrumented FastMCP server:

* ``get_system_metrics``: the host and process gauges now, as JSON (:meth:`omie_otel.host_metrics.HostMetrics.snapshot`
  — CPU, memory, filesystems, network, this process's CPU/RSS/file descriptors/threads, registered pools).
* ``health_check``: the readiness report (:func:`omie_otel.health.check`).
* ``get_active_alerts``: Alertmanager's firing, unsilenced alerts (``GET /api/v2/alerts?active=true&silenced=false``,
  3 s timeout) when ``alertmanager_url`` / ``OMIE_OTEL_ALERTMANAGER_URL`` is set. Not set, unreachable or answering
  an error: a result that says so (``status`` = ``not_configured`` / ``unreachable`` / ``error``), never an exception.

They change nothing, and show no environment variables, process list, command lines or secrets: every result goes
through the scrubber, and the Alertmanager URL is shown without credentials. They are ordinary tools, so their calls
get spans and metrics like any other. A server that already has a tool of the same name keeps its own (a warning
says so). ``uninstrument()`` removes them (``local_provider.remove_tool`` on FastMCP >= 3, ``remove_tool`` on 2.x).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from omie_otel._guard import internal_error
from omie_otel._state import State, current_state

if TYPE_CHECKING:
    from omie_otel.host_metrics import HostMetrics

__all__ = ["TOOL_NAMES", "get_active_alerts", "get_system_metrics", "health_check", "start"]

_logger = logging.getLogger("omie_otel")
ALERTMANAGER_TIMEOUT = 3.0
MAX_ALERTS = 50
_READ_ONLY = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True}


def _scrub(value: dict[str, Any]) -> dict[str, Any]:
    state = current_state()
    if state is None:
        return value
    scrubbed: dict[str, Any] = state.scrubber.scrub_value(value)  # a mapping comes back a dict, values scrubbed
    return scrubbed


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_spare_host_metrics: HostMetrics | None = None


def _spare(state: State | None) -> HostMetrics:
    """A :class:`HostMetrics` with no instruments, for the snapshot when the instrumentation has none (host metrics
    off, or they failed to start); built once, with the instrument()'s resolved options rather than from the
    environment again (a bad value there was already warned about and replaced by the default; read twice, it raised
    and the ops tools were lost)."""
    global _spare_host_metrics
    if _spare_host_metrics is None:
        from opentelemetry.metrics import NoOpMeterProvider

        from omie_otel.host_metrics import HostMetrics

        options = None if state is None else state.options
        _spare_host_metrics = HostMetrics(
            NoOpMeterProvider(),
            exclude=None if options is None else options.host_metrics_exclude,
            per_cpu=None if options is None else options.host_metrics_per_cpu,
        )
        _spare_host_metrics.start()  # CPU baselines now, so the first reading measures something
    return _spare_host_metrics


def _host_metrics() -> HostMetrics:
    """The instrumentation's :class:`HostMetrics`, or the spare one (no instruments) when host metrics are off."""
    state = current_state()
    if state is not None and state.host_metrics is not None:
        return state.host_metrics
    return _spare(state)


async def get_system_metrics() -> dict[str, Any]:
    """Host and process metrics now: CPU, memory, filesystems, network and this server process (read-only).

    Sizes are bytes, utilizations fractions from 0 to 1; CPU utilization is measured since the previous reading
    (null on the very first one).
    """
    snapshot = await asyncio.to_thread(lambda: _host_metrics().snapshot())
    return _scrub({"timestamp": _now(), **snapshot})


async def health_check() -> dict[str, Any]:
    """Readiness of this server: Omie API, telemetry export, memory and disk, each with status and detail."""
    from omie_otel.health import check

    report = await asyncio.to_thread(check)
    return _scrub(report.to_dict())


def _public_url(url: str) -> str:
    """``scheme://host[:port]`` — never user:password, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _alert(raw: Any) -> dict[str, Any]:
    labels = raw.get("labels") if isinstance(raw.get("labels"), dict) else {}
    annotations = raw.get("annotations") if isinstance(raw.get("annotations"), dict) else {}
    status = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    return {
        "name": labels.get("alertname"),
        "severity": labels.get("severity"),
        "state": status.get("state"),
        "starts_at": raw.get("startsAt"),
        "summary": annotations.get("summary") or annotations.get("description"),
        "labels": labels,
        "annotations": annotations,
    }


async def get_active_alerts() -> dict[str, Any]:
    """Alerts firing now in Alertmanager (active, not silenced), or why they cannot be read (read-only)."""
    import httpx

    state = current_state()
    url = None if state is None else state.options.alertmanager_url
    result: dict[str, Any] = {"status": "not_configured", "alertmanager": None, "count": 0, "alerts": [],
                              "truncated": False}
    if not url:
        result["detail"] = "No Alertmanager configured: set OMIE_OTEL_ALERTMANAGER_URL (or instrument(alertmanager_url=))."
        return result
    result["alertmanager"] = _public_url(url)
    try:
        async with httpx.AsyncClient(timeout=ALERTMANAGER_TIMEOUT) as client:
            response = await client.get(
                url.rstrip("/") + "/api/v2/alerts", params={"active": "true", "silenced": "false"}
            )
    except httpx.HTTPError as exc:
        result["status"] = "unreachable"
        result["detail"] = f"Alertmanager could not be reached ({type(exc).__name__}; timeout {ALERTMANAGER_TIMEOUT:g} s)."
        return result
    try:
        alerts = response.json() if response.status_code == 200 else None
    except ValueError:
        alerts = None
    if not isinstance(alerts, list):
        result["status"] = "error"
        result["detail"] = f"Alertmanager answered HTTP {response.status_code} without a list of alerts."
        return result
    summaries = [_alert(a) for a in alerts if isinstance(a, dict)]
    summaries.sort(key=lambda a: (str(a["severity"] or ""), str(a["starts_at"] or "")))
    result.update(
        status="ok",
        count=len(summaries),
        alerts=summaries[:MAX_ALERTS],
        truncated=len(summaries) > MAX_ALERTS,
        detail=f"{len(summaries)} active alert(s)" + (f"; the first {MAX_ALERTS} shown" if len(summaries) > MAX_ALERTS else ""),
    )
    return _scrub(result)


TOOLS: tuple[Callable[[], Any], ...] = (get_system_metrics, health_check, get_active_alerts)
TOOL_NAMES = tuple(t.__name__ for t in TOOLS)


def _tool_names(server: Any) -> set[str] | None:
    """Names of the tools registered on a server, read without awaiting (``None`` when this version hides them)."""
    provider = getattr(server, "local_provider", None) or getattr(server, "_local_provider", None)
    components = getattr(provider, "_components", None)
    if isinstance(components, dict):  # FastMCP 3.x / 4.x
        from fastmcp.tools import Tool

        return {c.name for c in components.values() if isinstance(c, Tool)}
    tools = getattr(getattr(server, "_tool_manager", None), "_tools", None)
    if isinstance(tools, dict):  # FastMCP 2.x
        return {str(getattr(t, "name", k)) for k, t in tools.items()}
    return None


def _remove_tool(server: Any, name: str) -> None:
    provider = getattr(server, "local_provider", None)
    remove = getattr(provider, "remove_tool", None) or getattr(server, "remove_tool", None)
    if remove is None:
        _logger.warning("omie-otel: this FastMCP cannot remove tools; %s stays on %r", name, server)
        return
    try:
        remove(name)
    except Exception as exc:  # noqa: BLE001 - already removed by the application: nothing to undo
        _logger.debug("omie-otel: removing tool %s: %s", name, exc)


def start(state: State, mcp: Any) -> Callable[[], None] | None:
    """Starter for ``omie_otel._integrations``: add the tools to every instrumented server, now and later."""
    if not state.options.ops_tools:
        return None
    added: list[tuple[weakref.ref[Any], str]] = []
    if state.host_metrics is None:  # host metrics off: start the spare's CPU baselines before the first call
        _spare(state)

    def add_tools(server: Any) -> None:
        existing = _tool_names(server) or set()
        for fn in TOOLS:
            name = fn.__name__
            if name in existing:
                _logger.warning("omie-otel: %r already has a tool named %s; keeping the server's own", server, name)
                continue
            server.tool(fn, name=name, annotations=_READ_ONLY)
            added.append((weakref.ref(server), name))

    for server in list(state.servers):
        try:
            add_tools(server)
        except Exception as exc:  # noqa: BLE001
            internal_error("adding ops tools", exc)
    state.attach_hooks.append(add_tools)

    def close() -> None:
        if add_tools in state.attach_hooks:
            state.attach_hooks.remove(add_tools)
        for ref, name in reversed(added):
            server = ref()
            if server is not None:
                _remove_tool(server, name)
        added.clear()

    return close
