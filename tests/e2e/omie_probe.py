"""A FastMCP server instrumented by omie-otel, calling the Omie simulator: real telemetry for the alert and dashboard
e2e tests (tests/e2e/test_alerts.py, test_dashboards.py).

It is a separate process because ``omie_otel.instrument()`` sets the global OpenTelemetry providers from the
``OTEL_*`` environment, exactly as a deployed server does; ``--endpoint`` and ``--service`` set those variables
(with a 1 s metric export interval and 0.5 s batch delays) before ``instrument()``::

    python tests/e2e/omie_probe.py --endpoint http://127.0.0.1:24318 --service probe \\
        --calls 5 --faults misuse_blocked,no_records --pause 0.5 --hold 5

Each call goes through the in-memory MCP client to the tool ``listar_clientes``, which posts ``ListarClientes`` to the
simulator through httpx (``https://app.omie.com.br/api/...``, the URL omie-otel recognises as Omie). ``--faults``
makes one tool call per kind, with the simulator forced to answer that fault (``OmieSimulator.inject_fault``): the
tool fails on every fault but ``no_records`` (5113, an empty page), as a real server would. ``--pause`` spreads the
calls over several metric exports (so that rates are not all zero). The process then stays up ``--hold`` seconds so
the periodic metric reader exports a few more times, and flushes at exit.

An outage (tests/e2e/test_notifications.py): ``--outage misuse_blocked:25`` then makes 25 tool calls, every one
answered by the simulator with that fault (the 425 block), printing ``fault-start <unix time>`` just before the
first; ``--recover 15`` waits for a line on stdin (the test clears the fault when it has seen the page), prints
``fault-cleared <unix time>``, and makes 15 good calls::

    python tests/e2e/omie_probe.py --endpoint ... --service s --calls 0 --outage misuse_blocked:25 --recover 15
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import httpx
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError

from omie_otel import instrument
from omie_otel.host_metrics import register_pool
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator

sim = OmieSimulator(seed=7)
mcp = FastMCP("omie-probe")


@mcp.tool
async def listar_clientes(pagina: int = 1) -> str:
    """One page of clientes from the (simulated) Omie API."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="https://app.omie.com.br") as omie:
        response = await omie.post(
            "/api/v1/geral/clientes/",
            json={
                "call": "ListarClientes",
                "app_key": DEFAULT_APP_KEY,
                "app_secret": DEFAULT_APP_SECRET,
                "param": [{"pagina": pagina, "registros_por_pagina": 5}],
            },
        )
    if response.status_code == 200:
        return response.text
    if "5113" in response.text:  # "Não existem registros para a página": an empty page, not an error
        return "[]"
    raise ToolError(f"Omie answered {response.status_code}")


def _mark(event: str) -> None:
    print(f"{event} {time.time():.3f}", flush=True)


async def drive(calls: int, faults: list[str], pause: float, outage: tuple[str, int] | None, recover: int) -> None:
    # A real httpx pool (the simulator's ASGI transport has none) so the pool series reach the stack.
    pool = httpx.AsyncClient(limits=httpx.Limits(max_connections=10))
    register_pool("omie-probe", pool)
    async with pool, Client(mcp) as client:
        for page in range(1, calls + 1):
            await client.call_tool("listar_clientes", {"pagina": page})
            await asyncio.sleep(pause)
        for kind in faults:
            sim.inject_fault(kind, call="ListarClientes", times=1)
            await client.call_tool("listar_clientes", {"pagina": 1}, raise_on_error=False)
            await asyncio.sleep(pause)
        if outage is not None:
            kind, count = outage
            sim.inject_fault(kind, call="ListarClientes", times=count)
            _mark("fault-start")
            for _ in range(count):
                await client.call_tool("listar_clientes", {"pagina": 1}, raise_on_error=False)
                await asyncio.sleep(pause)
        if recover:
            await asyncio.to_thread(sys.stdin.readline)
            _mark("fault-cleared")
            for page in range(1, recover + 1):
                await client.call_tool("listar_clientes", {"pagina": page})
                await asyncio.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="OTLP/HTTP base URL of the collector")
    parser.add_argument("--service", required=True, help="service.name (the job label in Prometheus)")
    parser.add_argument("--calls", type=int, default=5, help="successful tool calls")
    parser.add_argument("--faults", default="", help="comma-separated Omie fault kinds, one tool call each")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between calls (spread over exports)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to stay up (and export) afterwards")
    parser.add_argument("--outage", default="", help="KIND:N, N tool calls all answered with that fault")
    parser.add_argument("--recover", type=int, default=0, help="after a line on stdin, N good tool calls")
    args = parser.parse_args()
    outage = None
    if args.outage:
        kind, _, count = args.outage.partition(":")
        outage = (kind, int(count or "1"))
    os.environ.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=args.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME=args.service,
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_BSP_SCHEDULE_DELAY="500",
        OTEL_BLRP_SCHEDULE_DELAY="500",
    )
    instrument(mcp)
    asyncio.run(drive(args.calls, [k for k in args.faults.split(",") if k], args.pause, outage, args.recover))
    time.sleep(args.hold)


if __name__ == "__main__":
    main()
