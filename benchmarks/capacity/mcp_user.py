"""A Locust user that speaks MCP (streamable HTTP, raw JSON-RPC) and offers an OPEN-LOOP arrival rate.

A closed-loop user (send, wait for the answer, send again) slows down with the server, so it never shows a
queue building up. This user instead runs a pacer: arrivals at exponential intervals (Poisson) at ``rate`` per
second, each one a greenlet doing one ``tools/call`` on one of a pool of MCP sessions, whatever the server's
state. A request's latency counts from its *scheduled* arrival, so waiting for a free connection counts too (no
coordinated omission). Every result is reported through Locust's ``request`` event (Locust's statistics) and
kept in :attr:`McpArrivals.samples` for exact percentiles.

Sessions are opened in ``on_start`` (``initialize`` + ``notifications/initialized``, the ``Mcp-Session-Id``
header kept) and closed with ``DELETE`` in ``on_stop``.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any, ClassVar

import gevent
import requests
from gevent.pool import Pool
from locust import User, task
from locust.exception import StopUser
from workload import tool_call

PROTOCOL_VERSION = "2025-06-18"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class McpSession:
    """One MCP session over streamable HTTP (requests' connection pool; gevent-friendly)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=64)
        self.http.mount("http://", adapter)
        self.session_id = ""
        self._ids = itertools.count(1)

    def _post(self, payload: dict[str, Any]) -> requests.Response:
        headers = dict(HEADERS)
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
            headers["Mcp-Protocol-Version"] = PROTOCOL_VERSION
        return self.http.post(self.url, data=json.dumps(payload), headers=headers, timeout=self.timeout)

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON-RPC request; return its ``result`` (raises on HTTP or JSON-RPC errors)."""
        response = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        response.raise_for_status()
        message = _message(response)
        if "error" in message:
            raise RuntimeError(f"JSON-RPC error {message['error'].get('code')}: {message['error'].get('message')}")
        return dict(message["result"])

    def open(self) -> None:
        result = self._post(
            {
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "omie-otel-capacity", "version": "1"},
                },
            }
        )
        result.raise_for_status()
        self.session_id = result.headers.get("mcp-session-id", "")
        _message(result)
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()

    def close(self) -> None:
        if self.session_id:
            headers = {"Mcp-Session-Id": self.session_id}
            try:
                self.http.delete(self.url, headers=headers, timeout=self.timeout)
            except requests.RequestException:
                pass
        self.http.close()


def _message(response: requests.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response: plain JSON, or the last ``data:`` line of an SSE stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        if not data:
            raise RuntimeError("SSE response without a data line")
        return dict(json.loads(data[-1]))
    return dict(response.json())


class McpArrivals(User):
    """One pacer: ``rate`` arrivals per second for ``duration`` seconds over ``sessions`` MCP sessions.

    The runner sets the class attributes before each step, then starts exactly one of these users.
    """

    rate: ClassVar[float] = 1.0
    duration: ClassVar[float] = 10.0
    sessions: ClassVar[int] = 16
    timeout: ClassVar[float] = 10.0
    max_in_flight: ClassVar[int] = 2000
    seed: ClassVar[int] = 0
    #: (scheduled arrival, latency in s or None when it failed, error text or "") per request of the last step.
    samples: ClassVar[list[tuple[float, float | None, str]]] = []
    finished: ClassVar[bool] = False
    arrivals_count: ClassVar[int] = 0

    def on_start(self) -> None:
        self.pool_ = []
        for _ in range(self.sessions):
            session = McpSession(f"{self.host}/mcp", self.timeout)
            started = time.perf_counter()
            try:
                session.open()
            except Exception as exc:  # noqa: BLE001 - a failed session is a result, reported to Locust
                self._report("session", "initialize", started, exc)
                continue
            self._report("session", "initialize", started, None)
            self.pool_.append(session)
        if not self.pool_:
            raise StopUser()

    def on_stop(self) -> None:
        for session in self.pool_:
            session.close()

    def _report(self, kind: str, name: str, started: float, exc: BaseException | None) -> float:
        elapsed = time.perf_counter() - started
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=elapsed * 1000,
            response_length=0,
            exception=exc,
            context={},
        )
        return elapsed

    def _one(self, session: McpSession, scheduled: float, rng_seed: int) -> None:
        name, arguments = tool_call(random.Random(rng_seed))
        error = ""
        try:
            result = session.request("tools/call", {"name": name, "arguments": arguments})
            if result.get("isError"):
                text = " ".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
                error = f"tool error: {text[:80]}"
        except Exception as exc:  # noqa: BLE001 - any failure is an error sample
            error = f"{type(exc).__name__}: {str(exc)[:80]}"
        latency = self._report("MCP", f"tools/call {name}", scheduled, RuntimeError(error) if error else None)
        McpArrivals.samples.append((scheduled, None if error else latency, error))

    @task
    def arrivals(self) -> None:
        rng = random.Random(self.seed)
        workers = Pool(self.max_in_flight)
        start = time.perf_counter()
        next_at = start
        sessions = itertools.cycle(self.pool_)
        while next_at < start + self.duration:
            gevent.sleep(max(0.0, next_at - time.perf_counter()))
            McpArrivals.arrivals_count += 1
            if workers.full():  # the client itself is saturated: an arrival it could not send is an error
                McpArrivals.samples.append((next_at, None, "load generator saturated"))
            else:
                workers.spawn(self._one, next(sessions), next_at, rng.getrandbits(32))
            next_at += rng.expovariate(self.rate)
        workers.join(timeout=self.timeout + 2)
        workers.kill()
        McpArrivals.finished = True
        raise StopUser()
