"""The ASGI app: routing, Omie's headers, the limit pipeline, fault injection and statistics.

A POST to ``/api/v1/<modulo>/<servico>/`` goes through, in order:

0. the body must be JSON with a ``call`` the service has ("JSON request with SyntaxError", "Invalid JSON
   Object", unknown call);
1. a forced fault (``X-Omie-Sim-Fault`` header or :meth:`OmieSimulator.inject_fault`), answered at once and
   left out of every limit;
2. the misuse block (425), the rate limits (429: per IP, then per IP + app_key + method), the credentials (403),
   the concurrency limit (1880);
3. then, counted in flight: the redundancy rule for queries (Client-6), the latency, the random faults (broken
   response, general fault rate), the request's own validation (71, 5001, 103) and the call itself (105, 102,
   5113 or the answer).

Every fault of steps 2 and 3 but ``no_records`` (and the 425 itself) counts towards the misuse block's run of
errors on that IP + app_key + method; a success resets the run. Steps 0 and 1 leave the limits alone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from omie_otel.simulator import _faults
from omie_otel.simulator._api_call import RATE_WINDOW_S, ApiCall, make_fault, parse_body
from omie_otel.simulator._asgi import HttpRequest, HttpResponse, Receive, Scope, Send, lifespan
from omie_otel.simulator._catalog import SERVICES, find_method
from omie_otel.simulator._config import SimulatorConfig
from omie_otel.simulator._data import Record
from omie_otel.simulator._docs import index_page, service_page
from omie_otel.simulator._faults import FAULT_KINDS, SimulatedFault
from omie_otel.simulator._limits import Clock, InFlight, MisuseGuard, RedundancyGuard, SlidingWindow
from omie_otel.simulator._seed import generate

__all__ = ["FAULT_HEADER", "OmieSimulator", "SimulatorStats", "Sleep"]

Sleep = Callable[[float], Awaitable[Any]]

#: Request header forcing a fault on that one request, e.g. ``X-Omie-Sim-Fault: redundant``.
FAULT_HEADER = "x-omie-sim-fault"

_CACHE_CONTROL = "no-store, no-cache, must-revalidate, max-age=0, post-check=0, pre-check=0"
_NOT_FOUND_BODY = b'{"error": {"status_code": 404,"status": "Not Found"}}'  # byte for byte as Omie sends it
_REDIRECT_BODY = (
    b"<html><head><title>301 Moved Permanently</title></head><body><center><h1>301 Moved Permanently</h1>"
    b"</center><hr><center>nginx</center></body></html>"
)
_API_PATH = re.compile(r"^(?P<service>[^/]+/[^/]+)(?P<slash>/?)$")


@dataclass(frozen=True)
class SimulatorStats:
    """A snapshot of what the simulator has answered since it was built or reset.

    Attributes:
        requests: API requests (POSTs to a service path).
        calls: requests per ``call`` name.
        faults: fault answers per kind (see ``FAULT_KINDS``); forced faults included.
        statuses: answers per HTTP status.
        in_flight: requests being processed right now.
    """

    requests: int
    calls: Mapping[str, int]
    faults: Mapping[str, int]
    statuses: Mapping[int, int]
    in_flight: int


@dataclass
class _Injection:
    kind: str
    call: str | None
    remaining: int


def _json(body: object) -> bytes:
    """Compact and ASCII-escaped, as Omie's PHP ``json_encode`` writes it."""
    return json.dumps(body, separators=(",", ":")).encode()


class OmieSimulator:
    """An ASGI app that answers like ``https://app.omie.com.br/api/v1/``: data, paging, limits and faults.

    Args:
        config: the settings; :class:`SimulatorConfig` defaults when omitted.
        clock: monotonic seconds for every time window (inject a fake one in tests).
        sleep: the async sleep used for latency (inject one that never sleeps, or waits on an event).
        wall_clock: epoch seconds, only for the clock time in the 1100 fault's message.
        **settings: :class:`SimulatorConfig` fields overriding ``config`` (``seed=1, latency_ms=50``...).

    Example:
        >>> import asyncio, httpx
        >>> from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
        >>> sim = OmieSimulator(seed=1, records={"clientes": 3})
        >>> async def first_client():
        ...     transport = httpx.ASGITransport(app=sim)
        ...     async with httpx.AsyncClient(transport=transport, base_url="https://app.omie.com.br") as client:
        ...         response = await client.post("/api/v1/geral/clientes/", json={
        ...             "call": "ListarClientes", "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
        ...             "param": [{"pagina": 1, "registros_por_pagina": 2}]})
        ...     return response.status_code, response.json()["total_de_registros"]
        >>> asyncio.run(first_client())
        (200, 3)
        >>> sim.inject_fault("redundant", call="ListarClientes")
        >>> sim.stats.calls["ListarClientes"]
        1
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
        **settings: Any,
    ) -> None:
        base = config if config is not None else SimulatorConfig()
        self._config = base.replace(**settings) if settings else base
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._lock = threading.RLock()  # guards data, counters and random streams against the server thread
        self.reset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> OmieSimulator:
        """A simulator configured from ``OMIE_SIM_*`` variables (see :meth:`SimulatorConfig.from_env`).

        ``clock``, ``sleep`` and ``wall_clock`` in ``kwargs`` go to the constructor; other ``kwargs`` override
        the environment.
        """
        runtime = {k: kwargs.pop(k) for k in ("clock", "sleep", "wall_clock") if k in kwargs}
        return cls(SimulatorConfig.from_env(environ, **kwargs), **runtime)

    @property
    def config(self) -> SimulatorConfig:
        """The settings in force."""
        return self._config

    def reset(self) -> None:
        """Back to the state right after construction: fresh data, limits, injections, statistics, random streams."""
        config, clock = self._config, self._clock
        with self._lock:
            self._data = generate(config.seed, config.records, config.today)
            self._fault_rng = random.Random(f"{config.seed}:faults")
            self._latency_rng = random.Random(f"{config.seed}:latency")
            self._id_rng = random.Random(f"{config.seed}:request-ids")
            self._ip_window = SlidingWindow(clock, RATE_WINDOW_S)
            self._method_window = SlidingWindow(clock, RATE_WINDOW_S)
            self._in_flight = InFlight()
            self._redundancy = RedundancyGuard(clock, config.redundancy_window_s)
            self._misuse = MisuseGuard(clock, config.misuse_threshold, config.misuse_block_s)
            self._injections: list[_Injection] = []
            self._requests = 0
            self._calls: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()

    @property
    def stats(self) -> SimulatorStats:
        """Counts of requests per call, faults per kind and answers per status (a snapshot)."""
        with self._lock:
            return SimulatorStats(
                requests=self._requests,
                calls=dict(self._calls),
                faults=dict(self._faults),
                statuses=dict(self._statuses),
                in_flight=self._in_flight.total(),
            )

    def records(self, table: str) -> list[Record]:
        """A copy of the records of ``table`` (``clientes``, ``produtos``, ``contas_pagar``, ``nf``...)."""
        with self._lock:
            return deepcopy(self._data.table(table))

    def inject_fault(self, kind: str, *, call: str | None = None, times: int = 1) -> None:
        """Force the next ``times`` answers (to ``call``, or to any call) to be a fault of ``kind``.

        Forced faults skip every limit and count only in :attr:`stats`. Over HTTP, the request header
        ``X-Omie-Sim-Fault: <kind>`` does the same for that one request.

        Args:
            kind: one of ``no_records``, ``redundant``, ``concurrent_request``, ``duplicate_request``,
                ``rate_limited``, ``misuse_blocked``, ``auth``, ``validation``, ``not_found``, ``server_error``.
            call: the ``call`` name it applies to; ``None`` for the next calls whatever they are.
            times: how many answers.

        Raises:
            ValueError: unknown kind or call, or ``times < 1``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if call is not None and not any(call in methods for methods in SERVICES.values()):
            raise ValueError(f"the simulator has no call {call!r}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._injections.append(_Injection(kind, call, times))

    # --- ASGI ---------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point (``http`` and ``lifespan``)."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await HttpRequest.read(scope, receive)
        response = await self._route(request)
        await response.send(send, head=request.method == "HEAD")

    async def _route(self, request: HttpRequest) -> HttpResponse:
        marker = request.path.find("/api/v1")
        rest = request.path[marker + len("/api/v1") :].lstrip("/") if marker >= 0 else None
        if rest == "" or request.path == "/":
            if request.method in ("GET", "HEAD"):
                return self._html(index_page())
            return self._not_found()
        match = _API_PATH.match(rest or "")
        if match is None or match["service"] not in SERVICES:
            return self._not_found()
        if not match["slash"]:
            location = request.path + "/" + (f"?{request.query}" if request.query else "")
            return HttpResponse(301, _REDIRECT_BODY, [*self._base_headers("text/html"), ("location", location)])
        if request.method in ("GET", "HEAD"):
            return self._html(service_page(match["service"]))
        if request.method != "POST":
            return HttpResponse(405, b"", [*self._base_headers("text/plain"), ("allow", "GET, HEAD, POST")])
        return await self._api(request, match["service"])

    # --- responses ----------------------------------------------------------------------------------------------

    def _request_id(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def _base_headers(self, content_type: str) -> list[tuple[str, str]]:
        return [
            ("content-type", content_type),
            ("server", "nginx"),
            ("x-omie-request-id", self._request_id()),
            ("expires", "Tue, 03 Jul 2001 06:00:00 GMT"),
            ("cache-control", _CACHE_CONTROL),
            ("pragma", "no-cache"),
        ]

    def _html(self, page: str) -> HttpResponse:
        return HttpResponse(200, page.encode(), self._base_headers("text/html; charset=UTF-8"))

    def _not_found(self) -> HttpResponse:
        return HttpResponse(404, _NOT_FOUND_BODY, self._base_headers("application/json; encoding=UTF-8"))

    def _answer(self, call: ApiCall, status: int, body: object, fault: SimulatedFault | None = None) -> HttpResponse:
        """An API answer with Omie's headers, counted in :attr:`stats`."""
        used = self._ip_window.count(call.ip)
        limit = self._concurrency_limit(call)
        in_flight = call.in_flight or min(self._in_flight.count(call.key) + 1, limit)
        encoded_call = base64.b64encode(call.name.encode()).decode()
        headers = self._base_headers("application/json; encoding=UTF-8")
        headers[2:2] = [
            ("x-omie-ratelimit", f"{used}/{self._config.rpm_per_ip} {'deny' if call.ip_denied else 'allow'}"),
            (
                "x-omie-parallelratelimit",
                f"{in_flight}/{limit} {'deny' if call.parallel_denied else 'allow'} 10.{encoded_call}",
            ),
        ]
        if fault is not None:
            headers += [("omieapi-error", fault.header), *fault.extra_headers]
        with self._lock:
            self._statuses[status] += 1
            if fault is not None:
                self._faults[fault.kind] += 1
        return HttpResponse(status, _json(body), headers)

    def _fault(self, call: ApiCall, fault: SimulatedFault) -> HttpResponse:
        return self._answer(call, fault.status, fault.body, fault)

    # --- the API pipeline ---------------------------------------------------------------------------------------

    async def _api(self, request: HttpRequest, service: str) -> HttpResponse:
        forced = request.headers.get(FAULT_HEADER, "").strip().lower()
        if forced and forced not in FAULT_KINDS:
            message = {"error": f"unknown {FAULT_HEADER} {forced!r}; known: {', '.join(FAULT_KINDS)}"}
            return HttpResponse(400, _json(message), self._base_headers("application/json; encoding=UTF-8"))
        call = ApiCall(request.client_ip, "", service, "", None, {})
        try:
            call.body = parse_body(request.body)
        except SimulatedFault as fault:
            self._count_request("")
            return self._fault(call, fault)
        name = call.body.get("call")
        call.name = name if isinstance(name, str) else ""
        call.app_key = str(call.body.get("app_key") or "")
        self._count_request(call.name)
        try:
            call.method = find_method(service, call.name)
        except SimulatedFault as fault:
            return self._fault(call, fault)
        forced = forced or self._take_injection(call.name)
        if forced:
            return self._fault(call, make_fault(forced, call, self._config, self._wall_clock))
        refused = self._admit(call)
        if refused is None:
            return await self._process(call)
        self._misuse.record(call.key, error=refused.kind != "misuse_blocked")
        return self._fault(call, refused)

    def _count_request(self, name: str) -> None:
        with self._lock:
            self._requests += 1
            if name:
                self._calls[name] += 1

    def _take_injection(self, name: str) -> str:
        with self._lock:
            for injection in self._injections:
                if injection.call in (None, name):
                    injection.remaining -= 1
                    if not injection.remaining:
                        self._injections.remove(injection)
                    return injection.kind
        return ""

    def _admit(self, call: ApiCall) -> SimulatedFault | None:
        """Misuse block, rate limits, credentials, concurrency: the checks that answer before any work."""
        config = self._config
        blocked = self._misuse.blocked_for(call.key)
        if blocked:
            return _faults.misuse_blocked(blocked)
        if self._ip_window.count(call.ip) >= config.rpm_per_ip:
            call.ip_denied = True
            return _faults.rate_limited(self._ip_window.wait_for_slot(call.ip, config.rpm_per_ip))
        if self._method_window.count(call.key) >= config.rpm_per_method:
            return _faults.rate_limited(self._method_window.wait_for_slot(call.key, config.rpm_per_method))
        self._ip_window.add(call.ip)
        self._method_window.add(call.key)
        secret = config.credentials.get(call.app_key)
        if config.credentials and (secret is None or secret != call.body.get("app_secret")):
            return _faults.auth()
        if self._in_flight.count(call.key) >= self._concurrency_limit(call):
            call.parallel_denied = True
            call.in_flight = self._in_flight.count(call.key)
            return _faults.concurrent_request()
        return None

    def _concurrency_limit(self, call: ApiCall) -> int:
        writes = call.method is not None and call.method.is_write
        return self._config.max_concurrent_writes if writes else self._config.max_concurrent

    async def _process(self, call: ApiCall) -> HttpResponse:
        """The admitted part: counted in flight across the latency and the call itself."""
        assert call.method is not None
        method = call.method
        redundancy_key = (call.app_key, call.service, call.name, json.dumps(call.body.get("param"), sort_keys=True))
        fault: SimulatedFault | None = None
        with self._in_flight.hold(call.key) as in_flight:
            call.in_flight = in_flight
            try:
                wait = self._redundancy.remaining(redundancy_key) if method.is_query else 0.0
                if wait:
                    raise _faults.redundant(wait)
                await self._sleep(self._latency(call.name))
                self._random_fault(call)
                param = method.check_param(call.body.get("param"))
                with self._lock:
                    body = method.handler(self._data, param)
                    response = self._answer(call, 200, body)
                if method.is_query:
                    self._redundancy.record(redundancy_key)
            except SimulatedFault as raised:
                fault = raised
                response = self._fault(call, fault)
        self._misuse.record(call.key, error=fault is not None and fault.kind != "no_records")
        return response

    def _latency(self, name: str) -> float:
        base, jitter = self._config.latency_for(name)
        return (base + (self._latency_rng.uniform(0, jitter) if jitter else 0.0)) / 1000

    def _random_fault(self, call: ApiCall) -> None:
        config, rng = self._config, self._fault_rng
        if config.broken_response_rate and rng.random() < config.broken_response_rate:
            raise _faults.server_error()
        if config.fault_rate and config.fault_kinds and rng.random() < config.fault_rate:
            raise make_fault(rng.choice(config.fault_kinds), call, config, self._wall_clock)
