"""Connection pools of httpx clients reported as ``omie.client.pool.*`` (register one with :func:`register_pool`).

Clients are held by weak references: a collected client's series disappear. The readers below reach into httpx's
default transport (its httpcore pool); they raise ``AttributeError`` when a client has no such pool, and the caller
(:class:`omie_otel.host_metrics.HostMetrics`) then drops that one pool with a warning.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any, TypeVar

from omie_otel import semconv

if TYPE_CHECKING:
    import httpx

__all__ = ["pool_counts", "pool_limit", "read_pools", "register_pool", "registered_pools"]

_T = TypeVar("_T")

_POOLS: dict[str, weakref.ref[httpx.Client | httpx.AsyncClient]] = {}
_POOLS_LOCK = threading.Lock()


def register_pool(name: str, client: httpx.AsyncClient | httpx.Client) -> None:
    """Report the connection pool of ``client`` as ``omie.client.pool.connections``.

    The client is held by a weak reference: once it is garbage collected its series disappear. Registering another
    client under the same name replaces the first.

    Args:
        name: The value of ``omie.client.pool.name``, e.g. ``"omie"``. Keep it low-cardinality.
        client: An ``httpx.Client`` or ``httpx.AsyncClient`` using its default transport.

    Example:
        >>> import httpx
        >>> client = httpx.Client(base_url="https://app.omie.com.br/api/v1/")
        >>> register_pool("omie", client)
    """
    if not name:
        raise ValueError("register_pool() needs a non-empty pool name")
    with _POOLS_LOCK:
        _POOLS[name] = weakref.ref(client)


def registered_pools() -> list[tuple[str, Any]]:
    """The live registered clients, forgetting the collected ones."""
    live: list[tuple[str, Any]] = []
    with _POOLS_LOCK:
        for name, ref in list(_POOLS.items()):
            client = ref()
            if client is None:
                del _POOLS[name]
            else:
                live.append((name, client))
    return live


def pool_counts(client: Any) -> dict[str, int]:
    """Active and idle connections of an httpx client's httpcore pool; AttributeError if it has none."""
    connections = client._transport._pool.connections
    idle = sum(1 for connection in connections if connection.is_idle())
    return {"active": len(connections) - idle, "idle": idle}


def pool_limit(client: Any) -> int | None:
    """The httpcore pool's ``max_connections`` (``None``: unlimited); AttributeError if it has no pool."""
    limit = client._transport._pool._max_connections
    # httpcore stores "no limit" as sys.maxsize
    return int(limit) if isinstance(limit, int) and 0 < limit < sys.maxsize else None


def read_pools(
    read: Callable[[Any], _T], dropped: Container[str], drop: Callable[[str, BaseException], None]
) -> dict[str, _T]:
    """``{pool name: read(client)}`` of the live registered pools not dropped yet. A pool whose client has no
    httpcore pool (``AttributeError``: not httpx's default transport, or httpx changed its internals) is handed to
    ``drop`` under one key per pool, so it is warned about once however it fails."""
    readings = {}
    for name, client in registered_pools():
        key = f"{semconv.OMIE_CLIENT_POOL_CONNECTIONS} {name}"
        if key in dropped:
            continue
        try:
            readings[name] = read(client)
        except AttributeError as exc:
            drop(key, exc)
    return readings
