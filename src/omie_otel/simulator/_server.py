"""Serving the simulator on a real loopback port with uvicorn, in the foreground (CLI) or in a thread (tests, demo).

uvicorn is imported only here, only when a server starts; the app itself needs nothing beyond the standard library.

Example:
    >>> import httpx
    >>> from omie_otel.simulator import OmieSimulator
    >>> with serve_in_thread(OmieSimulator(records={"clientes": 2})) as url:
    ...     httpx.get(url + "v1/geral/clientes/").status_code
    200
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["run_server", "serve_in_thread"]


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "serving the Omie simulator needs uvicorn: pip install uvicorn (it comes with 'omie-otel[test]')"
        ) from exc
    return uvicorn


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one), handed to uvicorn ready-made."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/api/"


def _server(app: Any, log_level: str) -> Any:
    uvicorn = _uvicorn()
    # server_header=False: the app sends Omie's own "server: nginx".
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", server_header=False, access_log=False)
    return uvicorn.Server(config)


@contextlib.contextmanager
def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning", timeout: float = 10.0
) -> Iterator[str]:
    """Run ``app`` with uvicorn in a daemon thread for the duration of the ``with`` block.

    Args:
        app: the ASGI app (usually an :class:`OmieSimulator`).
        host: the interface to listen on.
        port: the port; ``0`` picks a free one.
        log_level: uvicorn's log level.
        timeout: seconds to wait for the server to start and to stop.

    Yields:
        The base URL, shaped like Omie's: ``http://127.0.0.1:PORT/api/`` (append ``v1/geral/clientes/``).

    Raises:
        RuntimeError: uvicorn is missing, or the server did not start within ``timeout``.
    """
    sock = _bind(host, port)
    server = _server(app, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="omie-simulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Omie simulator server did not start")
            time.sleep(0.01)
        yield _base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def run_server(app: Any, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    """Serve ``app`` in the foreground until interrupted, printing the base URL first."""
    sock = _bind(host, port)
    print(f"Omie simulator listening on {_base_url(sock)}", flush=True)
    try:
        _server(app, log_level).run(sockets=[sock])
    finally:
        sock.close()
