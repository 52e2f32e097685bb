"""An Omie ERP API simulator: a plain ASGI app (standard library only) for tests, examples and load.

It speaks Omie's wire format (``POST /api/v1/<modulo>/<servico>/`` with ``{"call", "app_key", "app_secret",
"param": [{...}]}``), serves a deterministic, seeded Brazilian data set (valid CPF/CNPJ, ``dd/mm/aaaa`` dates,
``"S"``/``"N"`` flags), both paging styles, Omie's headers and limits, and every fault of Omie's catalogue with
its exact message. The facts it follows: ``docs/omie-api.md``.

Usage
-----
In process, with httpx::

    import httpx
    from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator

    sim = OmieSimulator(seed=42)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="https://app.omie.com.br")
    response = await client.post("/api/v1/geral/clientes/", json={
        "call": "ListarClientes", "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
        "param": [{"pagina": 1, "registros_por_pagina": 50}]})

On a loopback port, for a process that needs a real URL::

    with serve_in_thread(OmieSimulator(), port=0) as url:   # "http://127.0.0.1:PORT/api/"
        ...

Standalone: ``python -m omie_otel.simulator --host 127.0.0.1 --port 8765`` (needs uvicorn).

Calls
-----
geral/clientes (Listar, ListarResumido, Consultar, Incluir, Alterar, Upsert, Excluir), geral/produtos,
produtos/pedido, financas/contapagar and contareceber (incl. LancarPagamento/LancarRecebimento),
produtos/nfconsultar (ListarNF, ConsultarNF), geral/categorias (pages capped at 100), geral/departamentos,
geral/contacorrente, financas/mf (ListarMovimentos, "hung" paging), financas/extrato, financas/
contacorrentelancamentos, estoque/consulta, servicos/nfse, servicos/os, geral/projetos, geral/empresas,
geral/tiposdoc (PesquisarTipoDocumento), geral/dre. A GET on a service path returns its HTML page; a path
without the trailing slash answers 301; an unknown path 404 ``{"error": {"status_code": 404,"status": "Not Found"}}``.

Faults
------
Natural ones come from the limits (per IP + app_key + method: 240/min, 4 in flight, 1 for writes; 960/min per
IP; identical queries inside 60 s; 10 consecutive errors block for 1800 s) and from the data (5113 past the
last page, 105 unknown id, 102 duplicate integration code, 103 missing field, 5001 unknown field, 71 empty
param, 403 bad keys). To produce one on demand:

* ``sim.inject_fault("redundant", call="ListarClientes", times=1)`` in process;
* the request header ``X-Omie-Sim-Fault: <kind>`` over HTTP (that request only).

Kinds: ``no_records``, ``redundant``, ``concurrent_request``, ``duplicate_request``, ``rate_limited``,
``misuse_blocked``, ``auth``, ``validation``, ``not_found``, ``server_error``. Forced faults skip the limits.
``broken_response_rate`` and ``fault_rate`` add random ones.

Configuration
-------------
:class:`SimulatorConfig` fields, given as ``OmieSimulator(config)`` or keyword arguments
(``OmieSimulator(seed=1, latency_ms=120, latency_jitter_ms=80, broken_response_rate=0.02)``). The ``OMIE_SIM_*``
environment variables are read only by :meth:`OmieSimulator.from_env`/:meth:`SimulatorConfig.from_env` and the
CLI. Time is injectable: ``OmieSimulator(clock=fake_monotonic, sleep=fake_async_sleep)``.

API
---
:class:`OmieSimulator` (``reset()``, ``stats``, ``records(table)``, ``inject_fault(kind, call=, times=)``),
:class:`SimulatorConfig`, :class:`SimulatorStats`, :func:`serve_in_thread`, :data:`FAULT_KINDS`,
:data:`DEFAULT_APP_KEY`, :data:`DEFAULT_APP_SECRET`.
"""

from omie_otel.simulator._app import OmieSimulator, SimulatorStats
from omie_otel.simulator._config import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, SimulatorConfig
from omie_otel.simulator._faults import FAULT_KINDS
from omie_otel.simulator._server import serve_in_thread

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "FAULT_KINDS",
    "OmieSimulator",
    "SimulatorConfig",
    "SimulatorStats",
    "serve_in_thread",
]
