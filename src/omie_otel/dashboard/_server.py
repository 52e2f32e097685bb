"""The dashboard's HTTP server: the page, its static files, and a few read-only JSON routes that query the
backends on the page's behalf (the browser talks to this one origin; backend URLs never reach it).

Why the standard library's ``ThreadingHTTPServer``: a dozen GET routes need no framework, and ``omie-otel
dashboard`` then runs on the library's core install (httpx is already a dependency), with no extra to install.
"""

from __future__ import annotations

import gzip
import hmac
import ipaddress
import json
import logging
import mimetypes
import re
import time
import urllib.parse
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from omie_otel.dashboard._backends import BackendError, Backends
from omie_otel.dashboard._panels import Dashboard

__all__ = ["RANGES", "DashboardServer", "is_loopback", "parse_range"]

_logger = logging.getLogger("omie_otel.dashboard")
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "omie_otel_dashboard_token"
#: The time ranges the page offers (label -> seconds), 15 minutes to 30 days.
RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000}
_TRACE_ID = re.compile(r"[0-9a-f]{16,32}")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_range(value: str | None) -> int:
    """``15m`` ... ``30d`` (see :data:`RANGES`) to seconds; ValueError naming the value and the choices."""
    if value is None or value == "":
        return RANGES["1h"]
    if value in RANGES:
        return RANGES[value]
    raise ValueError(f"intervalo inválido {value!r}: use um de {', '.join(RANGES)}")


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], *, dashboard: Dashboard, backends: Backends, token: str | None = None
    ) -> None:
        self.dashboard = dashboard
        self.backends = backends
        self.token = token or None
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.backends.close()


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"
    server_version = "omie-otel-dashboard"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        _logger.debug("dashboard: " + format, *args)

    # -- only reads ------------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        try:
            self._route()
        except BrokenPipeError:
            pass
        except Exception:  # noqa: BLE001 - a bug here must not take the dashboard down; the page shows a message
            _logger.exception("dashboard: %s failed", self.path)
            self._json({"error": "erro interno do painel; veja o log do omie-otel dashboard"}, 500)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _refuse_write(self) -> None:
        self.close_connection = True  # its body is never read
        self._text("o painel só lê: use GET", HTTPStatus.METHOD_NOT_ALLOWED, allow="GET, HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_write  # noqa: N815

    # -- routing ---------------------------------------------------------------------------------------------------
    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        if path == "/healthz":
            return self._text("ok")
        if not self._host_allowed():
            return self._text(
                "Host não permitido: abra o painel pelo endereço em que ele escuta (proteção contra DNS rebinding)",
                HTTPStatus.MISDIRECTED_REQUEST,
            )
        if not self._authorized(path, query):
            return
        if path in ("/", "/index.html"):
            return self._file(STATIC / "index.html")
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        if path.startswith("/api/"):
            return self._api(path[len("/api/"):], query)
        self._text("não encontrado", HTTPStatus.NOT_FOUND)

    def _host_allowed(self) -> bool:
        if self.server.token:
            return True  # bound elsewhere with a token: any name the operator reaches it by
        host = self.headers.get("Host", "")
        hostname = urllib.parse.urlsplit(f"//{host}").hostname or ""
        return is_loopback(hostname)

    def _authorized(self, path: str, query: dict[str, list[str]]) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = (query.get("token") or [""])[0]
        if given and path in ("/", "/index.html") and hmac.compare_digest(given.encode(), token.encode()):
            # Trade the token in the URL for an HttpOnly cookie, and drop it from the address bar.
            self._send(b"", HTTPStatus.SEE_OTHER, "text/plain", location="/",
                       set_cookie=f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
            return False
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        candidates = [cookie[COOKIE].value] if COOKIE in cookie else []
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        if any(hmac.compare_digest(c.encode(), token.encode()) for c in candidates):
            return True
        self._text(
            "Acesso negado: este painel exige o token (OMIE_OTEL_DASHBOARD_TOKEN). Abra /?token=SEU_TOKEN uma vez "
            "ou envie 'Authorization: Bearer SEU_TOKEN'.",
            HTTPStatus.UNAUTHORIZED,
        )
        return False

    def _static(self, name: str) -> None:
        target = (STATIC / name).resolve()
        if STATIC not in target.parents or not target.is_file():
            return self._text("não encontrado", HTTPStatus.NOT_FOUND)
        self._file(target)

    def _api(self, route: str, query: dict[str, list[str]]) -> None:
        backends, dashboard = self.server.backends, self.server.dashboard
        services = [s for s in query.get("service", []) if s and s != "__all"][:20]
        if any(len(s) > 200 for s in services):
            return self._json({"error": "nome de serviço longo demais (máximo 200 caracteres)"}, 400)
        try:
            range_s = parse_range((query.get("range") or [""])[0])
        except ValueError as exc:
            return self._json({"error": str(exc)}, 400)
        now = time.time()
        try:
            if route == "config":
                return self._json({
                    **dashboard.public(),
                    "ranges": list(RANGES),
                    "queries_per_refresh": dashboard.query_count(),
                    "backends": {name: bool(url) for name, url in backends.urls.items()},
                })
            if route == "services":
                return self._json({"services": backends.services(dashboard)})
            if route == "panels":
                return self._json({"panels": backends.panel_data(dashboard, services=services, range_s=range_s,
                                                                 end=now), "time": now})
            if route == "alerts":
                return self._json({"alerts": backends.alerts(services)})
            if route == "traces":
                return self._json(backends.traces(services, range_s=range_s, end=now))
            if route == "blocks":
                return self._json({"blocks": backends.blocks(services, now=now), "time": now})
            if route.startswith("trace/"):
                trace_id = route[len("trace/"):].lower()
                if not _TRACE_ID.fullmatch(trace_id):
                    return self._json({"error": f"trace id inválido {trace_id[:40]!r}: 16 a 32 dígitos hexadecimais"},
                                      400)
                return self._json(backends.trace(trace_id))
        except BackendError as exc:
            return self._json({"error": str(exc)}, 502)
        except (KeyError, TypeError, AttributeError, IndexError):
            _logger.warning("dashboard: unexpected backend answer for /api/%s", route, exc_info=True)
            return self._json({"error": "um backend respondeu num formato inesperado; veja o log do painel"}, 502)
        self._json({"error": f"rota desconhecida /api/{route[:60]}"}, 404)

    # -- responses -------------------------------------------------------------------------------------------------
    def _file(self, path: Path) -> None:
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        self._send(path.read_bytes(), HTTPStatus.OK, ctype, cache="no-cache")

    def _json(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self._send(data, status, "application/json; charset=utf-8", cache="no-store")

    def _text(self, text: str, status: int = 200, **headers: str) -> None:
        self._send(text.encode(), status, "text/plain; charset=utf-8", **headers)

    def _send(self, body: bytes, status: int, ctype: str, *, cache: str = "no-store", location: str = "",
              set_cookie: str = "", allow: str = "") -> None:
        if len(body) > 1024 and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=5)
            encoding = "gzip"
        else:
            encoding = ""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for name, value in (("Content-Encoding", encoding), ("Location", location), ("Set-Cookie", set_cookie),
                            ("Allow", allow), ("Vary", "Accept-Encoding")):
            if value:
                self.send_header(name, value)
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
