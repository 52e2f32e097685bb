"""An async Omie API client that behaves the way Omie asks clients to behave.

One shared ``httpx.AsyncClient`` (timeouts, a bounded connection pool) for the whole process, and for every call:

* the wire format: ``POST <OMIE_API_URL>/<modulo>/<servico>/`` with ``{"call", "app_key", "app_secret",
  "param": [{...}]}`` (credentials only ever in the body);
* Omie's concurrency: at most 4 requests in flight per method, 1 for ``Incluir*``/``Alterar*``/``Upsert*``/
  ``Excluir*``/``Lancar*`` (an ``asyncio.Semaphore`` per method, in this process);
* bounded retries (3 by default) of what is worth retrying — REDUNDANT after the wait Omie announces, concurrency
  (1880), 429, "Broken response" and network errors with exponential back-off — every wait capped by
  ``max_retry_wait``. Never a 425 ``MISUSE_API_PROCESS`` block (the method is then refused locally until the block
  ends, instead of hammering a blocked key) nor an input error. Writes are retried only when Omie certainly did
  nothing (1880, 429, a connection that never opened);
* 5113 "Não existem registros para a página" is an empty page, not an error;
* identical queries (``Listar*``/``Consultar*``/``Pesquisar*`` with the same parameters) are sent once at a time
  and then answered from a 60-second cache: Omie refuses them inside that window anyway (REDUNDANT), so the cached
  answer is the best one there is;
* every other fault raises :class:`OmieError`, which carries the classified fault (:class:`omie_otel.omie.OmieFault`).

The client's pool is registered with :func:`omie_otel.host_metrics.register_pool` as ``"omie"``, so
``omie.client.pool.connections`` shows it.

Configuration (environment, read by :meth:`OmieSettings.from_env`):

* ``OMIE_APP_KEY`` / ``OMIE_APP_SECRET``: your Omie credentials. Set both, or neither.
* ``OMIE_API_URL``: the API base URL. Default: the real ``https://app.omie.com.br/api/v1/`` when the keys are set;
  **the local simulator** ``http://127.0.0.1:8765/api/v1/`` (``omie-otel simulator``) when they are not, with the
  simulator's demo credentials. A URL ending in ``/api/`` gets ``v1/`` appended.

Example:
    >>> import asyncio
    >>> async def main() -> None:
    ...     async with OmieClient() as omie:
    ...         page = await omie.call("geral/clientes", "ListarClientes", {"pagina": 1, "registros_por_pagina": 50})
    ...         print(page["total_de_registros"])
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import random
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Literal

import httpx

from omie_otel.host_metrics import register_pool
from omie_otel.omie import OmieFault, classify_response
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

__all__ = [
    "OMIE_API_URL",
    "SIMULATOR_API_URL",
    "OmieClient",
    "OmieError",
    "OmieSettings",
    "api_prefix",
]

#: The real Omie API.
OMIE_API_URL = "https://app.omie.com.br/api/v1/"
#: The local simulator (``omie-otel simulator --port 8765``), the default when no credentials are set.
SIMULATOR_API_URL = "http://127.0.0.1:8765/api/v1/"

_logger = logging.getLogger("omie_mcp.client")

#: Calls Omie answers REDUNDANT when repeated with the same parameters: the ones we may cache.
_QUERY_PREFIXES = ("Listar", "Consultar", "Pesquisar")
#: Calls Omie runs one at a time per app_key + method (H2: "sem concorrência para inclusão/alteração").
_WRITE_PREFIXES = ("Incluir", "Alterar", "Upsert", "Excluir", "Lancar")
#: Faults proving Omie did nothing with the request, so even a write may be sent again.
_NOTHING_DONE = frozenset({"concurrent_request", "rate_limited"})
#: Network errors raised before the request left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Faults about the data, not the connection: Omie answered, the key works.
_DATA_FAULTS = frozenset({"validation", "not_found", "duplicate_request"})
_CACHE_SIZE = 256
#: Request field, response "total pages" field and "records on this page" field of Omie's two paging styles.
_PAGING = {
    "snake": ("pagina", "registros_por_pagina", "total_de_paginas", "registros", "total_de_registros"),
    "hung": ("nPagina", "nRegPorPagina", "nTotPaginas", "nRegistros", "nTotRegistros"),
}

Sleep = Callable[[float], Awaitable[Any]]


def api_prefix(url: str) -> str:
    """The URL prefix up to and including ``/api/``: what ``omie_otel.instrument(omie_url=...)`` matches.

    Args:
        url: An Omie API base URL.

    Returns:
        ``url`` cut after ``/api/``, or ``url`` itself when it has no ``/api/``.

    Example:
        >>> api_prefix("http://127.0.0.1:8765/api/v1/")
        'http://127.0.0.1:8765/api/'
    """
    marker = url.find("/api/")
    return url[: marker + len("/api/")] if marker >= 0 else url


def _normalize(url: str) -> str:
    url = url if url.endswith("/") else url + "/"
    return url + "v1/" if url.endswith("/api/") else url


@dataclass(frozen=True)
class OmieSettings:
    """Where the Omie API is and the credentials to use; the secrets never show in ``repr``.

    Attributes:
        api_url: Base URL ending in ``/api/v1/``.
        app_key: Omie ``app_key``.
        app_secret: Omie ``app_secret``.
        simulator: True when no credentials were given and the simulator's demo pair is used.
    """

    api_url: str
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    simulator: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OmieSettings:
        """Settings from ``OMIE_APP_KEY``, ``OMIE_APP_SECRET`` and ``OMIE_API_URL`` (see the module docstring).

        Args:
            environ: The environment to read (default ``os.environ``).

        Returns:
            The settings; the simulator's URL and demo credentials when no credentials are set.

        Raises:
            ValueError: Only one of the two credentials is set, or the real Omie is named without credentials.

        Example:
            >>> OmieSettings.from_env({})
            OmieSettings(api_url='http://127.0.0.1:8765/api/v1/', simulator=True)
        """
        env = os.environ if environ is None else environ
        key = env.get("OMIE_APP_KEY", "").strip()
        secret = env.get("OMIE_APP_SECRET", "").strip()
        url = env.get("OMIE_API_URL", "").strip()
        if bool(key) != bool(secret):
            raise ValueError(
                "defina OMIE_APP_KEY e OMIE_APP_SECRET juntas (ou nenhuma das duas, para usar o simulador local)"
            )
        if key:
            return cls(_normalize(url or OMIE_API_URL), key, secret)
        api_url = _normalize(url or SIMULATOR_API_URL)
        if httpx.URL(api_url).host.endswith("omie.com.br"):
            raise ValueError(f"OMIE_API_URL={api_url} é o Omie real: defina OMIE_APP_KEY e OMIE_APP_SECRET")
        return cls(api_url, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, simulator=True)

    @property
    def telemetry_url(self) -> str:
        """The prefix to give ``omie_otel.instrument(omie_url=...)``: :attr:`api_url` up to ``/api/``."""
        return api_prefix(self.api_url)


class OmieError(Exception):
    """An Omie answer that is an error after retries: a 425 block, an input error, a persistent fault.

    Attributes:
        fault: The classified answer (``fault.kind``, ``fault.code``, ``fault.message``, ``fault.retry_after``).
        call: The Omie ``call`` (``ListarClientes``).
        endpoint: The service path (``geral/clientes``).
        attempts: Requests sent for this call (0 when refused locally during a 425 block).

    Example:
        >>> error = OmieError(OmieFault("validation", "103", "ERROR: falta a tag"), call="IncluirCliente",
        ...                   endpoint="geral/clientes")
        >>> str(error)
        'Omie IncluirCliente: validation (103): ERROR: falta a tag'
    """

    def __init__(self, fault: OmieFault, *, call: str, endpoint: str, attempts: int = 1) -> None:
        self.fault = fault
        self.call = call
        self.endpoint = endpoint
        self.attempts = attempts
        code = f" ({fault.code})" if fault.code else ""
        message = f": {fault.message}" if fault.message else ""
        super().__init__(f"Omie {call}: {fault.kind}{code}{message}")


def _is_write(call: str) -> bool:
    return call.startswith(_WRITE_PREFIXES)


def _empty_page(param: Mapping[str, Any]) -> dict[str, Any]:
    """What a 5113 means: the requested page, with nothing on it, in the request's paging style."""
    style = "hung" if "nPagina" in param else "snake"
    page_key, _, total_pages, records, total_records = _PAGING[style]
    return {page_key: param.get(page_key, 1), total_pages: 0, records: 0, total_records: 0}


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class OmieClient:
    """The Omie API over one shared ``httpx.AsyncClient``; use one per process (it is safe to share).

    Args:
        settings: URL and credentials (default: :meth:`OmieSettings.from_env`).
        transport: An httpx transport, e.g. ``httpx.ASGITransport(app=OmieSimulator())`` in tests.
        timeout: Seconds to wait for Omie's answer (Omie takes 0.1-30 s).
        max_retries: Retries after the first attempt, at most.
        max_retry_wait: Cap, in seconds, on any wait between attempts (Omie's REDUNDANT asks up to 60 s).
        backoff: First back-off, in seconds, when Omie announces no wait; it doubles at each retry.
        cache_ttl: Seconds an identical query is answered from memory (``0`` turns the cache off).
        sleep: The async sleep between attempts (injectable in tests).

    Example:
        >>> import httpx
        >>> from omie_otel.simulator import OmieSimulator
        >>> omie = OmieClient(transport=httpx.ASGITransport(app=OmieSimulator()), max_retry_wait=1.0)
    """

    def __init__(
        self,
        settings: OmieSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 45.0,
        max_retries: int = 3,
        max_retry_wait: float = 5.0,
        backoff: float = 0.5,
        cache_ttl: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings if settings is not None else OmieSettings.from_env()
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        self.cache_ttl = cache_ttl
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.settings.api_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            headers={"User-Agent": "omie-mcp-example/1.0"},
        )
        register_pool("omie", self._http)
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._cache: OrderedDict[tuple[str, str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._flights: dict[tuple[str, str, str], list[Any]] = {}
        self._blocked_until: dict[str, float] = {}
        self._requests = 0
        self._faults: Counter[str] = Counter()
        self._last_ok: str | None = None
        self._last_fault: dict[str, Any] | None = None
        self._last_outcome: str | None = None

    async def __aenter__(self) -> OmieClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- calls -----------------------------------------------------------------------------------------------

    async def call(
        self,
        endpoint: str,
        call: str,
        param: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call ``call`` on ``endpoint`` with ``param`` and return Omie's answer.

        Args:
            endpoint: The service path, e.g. ``"geral/clientes"``.
            call: The method, e.g. ``"ListarClientes"``.
            param: The request object (sent as ``"param": [param]``).

        Returns:
            Omie's JSON answer; for 5113 an empty page (``{"pagina": N, "total_de_paginas": 0, ...}``).

        Raises:
            OmieError: A fault that is not retried, or one that outlived the retries.

        Example:
            >>> page = await omie.call("geral/clientes", "ListarClientes",  # doctest: +SKIP
            ...                        {"pagina": 1, "registros_por_pagina": 20})
        """
        param = dict(param or {})
        if not (self.cache_ttl > 0 and call.startswith(_QUERY_PREFIXES)):
            return await self._request(endpoint, call, param)
        key = (endpoint, call, json.dumps(param, sort_keys=True, default=str))
        async with self._single_flight(key):  # an identical query in flight: wait for it, then read the cache
            cached = self._cached(key)
            if cached is not None:
                _logger.debug("Omie %s: resposta em cache", call)
                return cached
            result = await self._request(endpoint, call, param)
            self._store(key, result)
            return result

    async def _request(self, endpoint: str, call: str, param: dict[str, Any]) -> dict[str, Any]:
        """Send until an answer, a fault not worth retrying, or :attr:`max_retries` retries."""
        self._check_block(endpoint, call)
        attempt = 0
        while True:
            fault, body, sent = await self._send(endpoint, call, param)
            if fault is None or fault.kind == "no_records":
                self._last_ok = _now_iso()
                self._last_outcome = "ok"
                return body if fault is None else _empty_page(param)
            self._note_fault(call, fault)
            if attempt >= self.max_retries or not self._retryable(call, fault, sent):
                _logger.warning("Omie %s falhou após %d tentativa(s): %s", call, attempt + 1, self._describe(fault))
                raise OmieError(fault, call=call, endpoint=endpoint, attempts=attempt + 1)
            wait = self._retry_wait(fault, attempt)
            attempt += 1
            _logger.warning(
                "Omie %s: %s; nova tentativa %d/%d em %.1f s", call, self._describe(fault), attempt, self.max_retries, wait
            )
            await self._sleep(wait)

    async def paginate(
        self,
        endpoint: str,
        call: str,
        param: Mapping[str, Any] | None = None,
        *,
        list_field: str,
        page_size: int = 100,
        max_pages: int = 20,
        paging: Literal["snake", "hung"] = "snake",
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of a ``Listar*`` call, page after page (one request per page).

        Args:
            endpoint: The service path, e.g. ``"geral/categorias"``.
            call: The method, e.g. ``"ListarCategorias"``.
            param: Filters; the paging fields are set here.
            list_field: The response field holding the records (``"categoria_cadastro"``).
            page_size: Records per page (Omie recommends at most 500; some calls cap at 100).
            max_pages: Stop after this many pages, with a warning, whatever the total.
            paging: ``"snake"`` (``pagina``/``total_de_paginas``) or ``"hung"`` (``nPagina``/``nTotPaginas``).

        Yields:
            The records, in Omie's order.

        Raises:
            OmieError: As :meth:`call`.

        Example:
            >>> categorias = [c async for c in omie.paginate(  # doctest: +SKIP
            ...     "geral/categorias", "ListarCategorias", list_field="categoria_cadastro")]
        """
        page_key, size_key, total_pages_key, _, _ = _PAGING[paging]
        page = 1
        while True:
            body = await self.call(endpoint, call, {**(param or {}), page_key: page, size_key: page_size})
            records = body.get(list_field) or []
            for record in records:
                yield record
            total_pages = int(body.get(total_pages_key) or 0)
            if not records or page >= total_pages:
                return
            if page >= max_pages:
                _logger.warning("Omie %s: parando na página %d de %d (max_pages)", call, page, total_pages)
                return
            page += 1

    def status(self) -> dict[str, Any]:
        """Connection state for ``omie://status``: no credentials, nothing secret.

        Returns:
            ``estado`` (``sem_chamadas``, ``ok``, ``instavel``, ``bloqueado``, ``credenciais_invalidas``), the API
            URL, whether it is the simulator, request and fault counts, the last success and the last fault.

        Example:
            >>> OmieClient(OmieSettings.from_env({})).status()["estado"]
            'sem_chamadas'
        """
        now = time.monotonic()
        blocked = {call: round(until - now) for call, until in self._blocked_until.items() if until > now}
        if blocked:
            state = "bloqueado"
        elif self._last_outcome is None:
            state = "sem_chamadas"
        elif self._last_outcome == "ok":
            state = "ok"
        else:
            state = "credenciais_invalidas" if self._last_outcome == "auth" else "instavel"
        return {
            "estado": state,
            "api_url": self.settings.api_url,
            "simulador": self.settings.simulator,
            "requisicoes": self._requests,
            "falhas_por_tipo": dict(self._faults),
            "ultima_resposta_ok": self._last_ok,
            "ultima_falha": self._last_fault,
            "metodos_bloqueados_segundos": blocked,
        }

    # --- internals -----------------------------------------------------------------------------------------------

    def _semaphore(self, call: str) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(call)
        if semaphore is None:
            semaphore = self._semaphores[call] = asyncio.Semaphore(1 if _is_write(call) else 4)
        return semaphore

    async def _send(
        self, endpoint: str, call: str, param: Mapping[str, Any]
    ) -> tuple[OmieFault | None, dict[str, Any], bool]:
        """One request: ``(fault or None, body, whether it may have reached Omie)``."""
        payload = {
            "call": call,
            "app_key": self.settings.app_key,
            "app_secret": self.settings.app_secret,
            "param": [dict(param)],
        }
        async with self._semaphore(call):
            self._requests += 1
            try:
                response = await self._http.post(f"{endpoint.strip('/')}/", json=payload)
            except httpx.TransportError as exc:
                fault = OmieFault("transport", None, f"{type(exc).__name__}: {exc}")
                return fault, {}, not isinstance(exc, _NOT_SENT)
        fault = classify_response(response.status_code, response.content, response.headers)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if fault is None and not isinstance(body, dict):
            fault = OmieFault("unknown", None, f"resposta inesperada (HTTP {response.status_code})")
        return fault, body if isinstance(body, dict) else {}, True

    def _retryable(self, call: str, fault: OmieFault, sent: bool) -> bool:
        if not fault.retryable:
            return False
        # A write Omie may have applied ("Broken response", a read timeout) is not sent twice.
        return not _is_write(call) or fault.kind in _NOTHING_DONE or not sent

    def _retry_wait(self, fault: OmieFault, attempt: int) -> float:
        if fault.retry_after is not None:
            wait = fault.retry_after
        else:
            wait = self.backoff * (2**attempt) * random.uniform(0.5, 1.0)
        return max(0.0, min(wait, self.max_retry_wait))

    def _note_fault(self, call: str, fault: OmieFault) -> None:
        self._faults[fault.kind] += 1
        self._last_outcome = "ok" if fault.kind in _DATA_FAULTS else fault.kind
        self._last_fault = {
            "tipo": fault.kind,
            "codigo": fault.code,
            "mensagem": fault.message,
            "metodo": call,
            "em": _now_iso(),
        }
        if fault.kind == "misuse_blocked" and fault.retry_after:
            self._blocked_until[call] = time.monotonic() + fault.retry_after

    def _check_block(self, endpoint: str, call: str) -> None:
        """Refuse locally while Omie's 425 block on ``call`` lasts: every request would only be refused again."""
        until = self._blocked_until.get(call)
        if until is None:
            return
        remaining = until - time.monotonic()
        if remaining <= 0:
            del self._blocked_until[call]
            return
        message = f"API bloqueada por consumo indevido. Tente novamente em {remaining:.0f} segundos."
        fault = OmieFault("misuse_blocked", "MISUSE_API_PROCESS", message, remaining)
        raise OmieError(fault, call=call, endpoint=endpoint, attempts=0)

    @contextlib.asynccontextmanager
    async def _single_flight(self, key: tuple[str, str, str]) -> AsyncIterator[None]:
        """One request per distinct query at a time: Omie would answer a second identical one REDUNDANT."""
        entry = self._flights.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._flights[key]

    def _cached(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, body = entry
        if expires < time.monotonic():
            del self._cache[key]
            return None
        return copy.deepcopy(body)

    def _store(self, key: tuple[str, str, str], body: dict[str, Any]) -> None:
        self._cache[key] = (time.monotonic() + self.cache_ttl, copy.deepcopy(body))
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    @staticmethod
    def _describe(fault: OmieFault) -> str:
        code = f" ({fault.code})" if fault.code else ""
        return f"{fault.kind}{code}"
