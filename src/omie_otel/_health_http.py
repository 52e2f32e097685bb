"""Health over HTTP, and the health integration of ``instrument()``.

``/health/live`` and ``/health/ready`` as routes on each instrumented FastMCP server, the same two paths from a
loopback stdlib listener for stdio servers (``health_port=``), and :func:`start`, which builds the
:class:`~omie_otel.health.HealthChecker`, its ``omie_otel.health.status`` gauge, the routes and the listener. What
the checks mean and the public API are in :mod:`omie_otel.health`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel._state import SCOPE, State
from omie_otel.health import LIVE_PATH, READY_PATH, HealthChecker, check, live
from omie_otel.version import __version__

__all__ = ["HealthListener", "add_routes", "remove_routes", "start"]

_logger = logging.getLogger("omie_otel")


# --- HTTP: FastMCP routes ------------------------------------------------------------------------------------------------


async def _live_endpoint(request: Any) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(live().to_dict())


async def _ready_endpoint(request: Any) -> Any:
    import asyncio

    from starlette.responses import JSONResponse

    report = await asyncio.to_thread(check)  # a probe may wait on Omie: keep the event loop free
    return JSONResponse(report.to_dict(), status_code=report.http_status)


_ENDPOINTS = ((LIVE_PATH, _live_endpoint), (READY_PATH, _ready_endpoint))


def add_routes(server: Any) -> None:
    """Add ``/health/live`` and ``/health/ready`` to a FastMCP server (2.x, 3.x, 4.x: ``custom_route``)."""
    add = getattr(server, "custom_route", None)
    if add is None:
        return
    taken = {getattr(r, "path", None) for r in getattr(server, "_additional_http_routes", None) or ()}
    for path, endpoint in _ENDPOINTS:
        if path in taken:
            _logger.warning("omie-otel: %r already has a %s route; omie-otel leaves it alone", server, path)
            continue
        add(path, methods=["GET"])(endpoint)


def remove_routes(server: Any) -> None:
    """Take our routes back out of a server's route list (an app already built keeps serving them)."""
    routes = getattr(server, "_additional_http_routes", None)
    if isinstance(routes, list):
        ours = {endpoint for _, endpoint in _ENDPOINTS}
        routes[:] = [r for r in routes if getattr(r, "endpoint", None) not in ours]


# --- HTTP: loopback listener for stdio servers ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "omie-otel-health"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            if path == LIVE_PATH:
                code, body = 200, live().to_dict()
            elif path == READY_PATH:
                report = check()
                code, body = report.http_status, report.to_dict()
            else:
                code, body = 404, {"error": "not found", "paths": [LIVE_PATH, READY_PATH]}
        except Exception as exc:  # noqa: BLE001
            internal_error("health listener", exc)
            code, body = 500, {"error": "internal error"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdio servers own stdout; stay quiet
        return


class HealthListener:
    """``/health/live`` and ``/health/ready`` on ``127.0.0.1:port`` from a stdlib HTTP server in a daemon thread."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="omie-otel-health", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- instrument() integration --------------------------------------------------------------------------------------------


def start(state: State, mcp: Any) -> Callable[[], None]:
    """Starter for ``omie_otel._integrations``: the checker, the gauge, the routes and the optional listener."""
    from omie_otel._observable import observable

    opts = state.options
    self_telemetry = state.self_telemetry
    checker = HealthChecker(
        recent=None if state.omie is None else state.omie.recent,
        omie_url=opts.omie_urls[0],
        omie_probe=opts.health_omie_probe,
        memory_threshold=opts.health_memory_threshold,
        disk_threshold=opts.health_disk_threshold,
        queues=None if self_telemetry is None else self_telemetry.queues,
        scrubber=state.scrubber,
    )
    state.health = checker
    meter = state.providers.meter_provider.get_meter(SCOPE, __version__)
    observable(
        meter, "gauge", sc.OMIE_OTEL_HEALTH_STATUS, checker.observe,
        unit="1",
        description="Readiness per check and overall: 1 ok, 0.5 degraded, 0 fail",
    )
    if opts.health_routes:
        for server in list(state.servers):
            add_routes(server)
        state.attach_hooks.append(add_routes)
    listener = None
    if opts.health_port is not None:
        try:
            listener = HealthListener(opts.health_port)
        except OSError as exc:
            _logger.warning(
                "omie-otel: cannot serve health checks on 127.0.0.1:%s (%s); the health listener is off",
                opts.health_port, exc,
            )
        else:
            listener.start()
            state.health_listener = listener

    def close() -> None:
        checker.running = False
        if add_routes in state.attach_hooks:
            state.attach_hooks.remove(add_routes)
        for server in list(state.servers):
            remove_routes(server)
        if listener is not None:
            listener.stop()
            state.health_listener = None

    return close
