"""One API call as the simulator's pipeline sees it, and the realistic fault of each kind for it.

:mod:`omie_otel.simulator._app` runs the pipeline; forced and random faults of a given kind are made here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from omie_otel.simulator import _faults
from omie_otel.simulator._catalog import Method
from omie_otel.simulator._config import SimulatorConfig
from omie_otel.simulator._data import ENTITIES
from omie_otel.simulator._faults import SimulatedFault

__all__ = ["RATE_WINDOW_S", "ApiCall", "make_fault", "parse_body"]

#: Omie's rate-limit window, in seconds.
RATE_WINDOW_S = 60.0
_BRASILIA = timezone(timedelta(hours=-3))


@dataclass
class ApiCall:
    """One API request once its ``call`` is known: who asks, for what, and what the limits saw."""

    ip: str
    app_key: str
    service: str
    name: str
    method: Method | None
    body: Mapping[str, Any]
    in_flight: int = 0
    ip_denied: bool = False
    parallel_denied: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """The unit Omie limits: IP + app_key + method."""
        return (self.ip, self.app_key, self.name)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or the fault Omie answers (syntax error, not an object)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _faults.malformed_json() from None
    if not isinstance(body, dict):
        raise _faults.invalid_json_object()
    return body


def _first_param(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """``param[0]`` when it is an object; else ``{}``."""
    param = body.get("param")
    return param[0] if isinstance(param, list) and param and isinstance(param[0], dict) else {}


def _page_of(body: Mapping[str, Any]) -> int:
    first = _first_param(body)
    for key in ("pagina", "nPagina"):
        try:
            return max(1, int(first[key]))
        except (KeyError, TypeError, ValueError):
            continue
    return 1


def make_fault(kind: str, call: ApiCall, config: SimulatorConfig, wall_clock: Callable[[], float]) -> SimulatedFault:
    """A realistic fault of ``kind`` for ``call`` (forced or random ones); ``wall_clock`` gives epoch seconds."""
    if kind == "no_records":
        return _faults.no_records(_page_of(call.body))
    if kind == "redundant":
        return _faults.redundant(config.redundancy_window_s or RATE_WINDOW_S)
    if kind == "concurrent_request":
        return _faults.concurrent_request()
    if kind == "duplicate_request":
        retry_at = datetime.fromtimestamp(wall_clock() + RATE_WINDOW_S, _BRASILIA)
        return _faults.duplicate_request(retry_at.strftime("%H:%M:%S"))
    if kind == "rate_limited":
        return _faults.rate_limited(RATE_WINDOW_S)
    if kind == "misuse_blocked":
        return _faults.misuse_blocked(config.misuse_block_s)
    if kind == "auth":
        return _faults.auth()
    if kind == "validation":
        return _faults.no_params()
    if kind == "not_found":
        return _not_found_fault(call)
    return _faults.server_error()


def _not_found_fault(call: ApiCall) -> SimulatedFault:
    handler = call.method.handler if call.method else None
    table = getattr(handler, "table", None) or getattr(handler, "source", None)
    entity = ENTITIES.get(table) if isinstance(table, str) else None
    values = _first_param(call.body).values()
    key = next((v for v in values if isinstance(v, (int, str)) and v != ""), 0)
    if entity is None:
        return _faults.not_registered("Registro", "cadastrado", key)
    return _faults.not_registered(entity.label, entity.registered, key)
