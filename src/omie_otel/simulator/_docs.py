"""The small HTML pages a GET answers: an index of services, and one page per service (as Omie serves its docs).

Example:
    >>> "ListarClientes" in service_page("geral/clientes")
    True
"""

from __future__ import annotations

import json
from html import escape

from omie_otel.simulator._catalog import SERVICES, Method
from omie_otel.simulator._config import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from omie_otel.simulator._handlers import Lister

__all__ = ["index_page", "service_page"]

_STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto}code,pre{background:#f4f4f4}td{padding:.2rem .6rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}"
        "<p><small>Omie API simulator (omie-otel). Force a fault with the header "
        "<code>X-Omie-Sim-Fault: &lt;kind&gt;</code>.</small></p></body></html>"
    )


def index_page() -> str:
    """The list of every simulated service."""
    rows = "".join(
        f'<tr><td><a href="{escape(service)}/">/api/v1/{escape(service)}/</a></td>'
        f"<td>{escape(', '.join(methods))}</td></tr>"
        for service, methods in SERVICES.items()
    )
    return _page("Omie API (simulador)", f"<table>{rows}</table>")


def _describe(method: Method) -> str:
    handler = method.handler
    if not isinstance(handler, Lister):
        return ""
    return f"lista em <code>{escape(handler.list_field)}</code>, paginação {escape(handler.paging)}"


def _example(method: Method) -> dict[str, int]:
    paging = method.handler.paging if isinstance(method.handler, Lister) else "none"
    if paging == "snake":
        return {"pagina": 1, "registros_por_pagina": 20}
    if paging == "hung":
        return {"nPagina": 1, "nRegPorPagina": 20}
    return {}


def service_page(service: str) -> str:
    """The page of one service: its calls, request types, list fields, and a ``curl`` example."""
    methods = SERVICES[service]
    rows = "".join(
        f"<tr><td><code>{escape(m.call)}</code></td><td><code>{escape(m.request_type)}</code></td>"
        f"<td>{escape(m.summary)}</td><td>{_describe(m)}</td></tr>"
        for m in methods.values()
    )
    first = next(iter(methods.values()))
    example = json.dumps(
        {"call": first.call, "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET, "param": [_example(first)]}
    )
    curl = f"curl -s -X POST http://127.0.0.1:8765/api/v1/{service}/ -H 'Content-Type: application/json' -d '{example}'"
    return _page(f"/api/v1/{service}/", f"<table>{rows}</table><pre>{escape(curl)}</pre>")
