"""The demo's load: MCP agents calling the example server's tools, and a schedule of Omie faults.

Each :class:`Agent` holds one MCP session over streamable HTTP, like an assistant would, and picks its next step
at random with realistic weights: mostly customer and bill look-ups, with pages past the end and searches with no
hit (5113), a few unknown customer codes (105), reference tables, now and then a new customer, a connection test or
a read of ``omie://status``. :data:`FAULT_PLAN` makes the simulator answer with every other kind of Omie fault at set
points of the run, so the summary shows each of them.

Example:
    >>> import random
    >>> tool, args = next_step(random.Random(1), Catalogue(codes=(1,), documents=("02.904.004/0001-20",)))
    >>> isinstance(tool, str) and isinstance(args, dict)
    True
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from fastmcp import Client

from omie_otel.simulator import OmieSimulator

__all__ = ["FAULT_PLAN", "Agent", "Catalogue", "FaultStep", "inject_faults", "next_step"]

_logger = logging.getLogger("omie_mcp.demo")

#: Valid CPFs/CNPJs for new customers (the tool checks the digits before calling Omie).
_NEW_DOCUMENTS = ("529.982.247-25", "111.444.777-35", "11.222.333/0001-81", "45.723.174/0001-10")
_NAME_FRAGMENTS = ("Silva", "Comércio", "Distribuidora", "Ltda", "Padaria Inexistente", "Tecnologia")
_MONTHS = ((2024, 12), (2025, 1), (2025, 2), (2025, 3), (2025, 4), (2025, 5), (2025, 6), (2025, 7))
_DOC_TYPES = (None, "BOL", "NF", "PIX", "DIN")


@dataclass(frozen=True)
class Catalogue:
    """What an agent knows from earlier conversations: some customer codes and documents."""

    codes: tuple[int, ...]
    documents: tuple[str, ...]

    @classmethod
    def of(cls, sim: OmieSimulator, size: int = 30) -> Catalogue:
        """The first ``size`` customers of the simulator's data set."""
        clients = sim.records("clientes")[:size]
        return cls(tuple(c["codigo_cliente_omie"] for c in clients), tuple(c["cnpj_cpf"] for c in clients))


@dataclass(frozen=True)
class FaultStep:
    """At ``at`` (a fraction of the run), make the next ``times`` answers to ``call`` a fault of ``kind``."""

    at: float
    kind: str
    call: str
    times: int = 1


#: Every fault kind the client must survive or report, spread over the run (natural 5113 and 105 come on top).
FAULT_PLAN: tuple[FaultStep, ...] = (
    FaultStep(0.08, "redundant", "ListarClientes"),  # retried after the (capped) wait, then succeeds
    FaultStep(0.14, "no_records", "ListarContasPagar"),
    FaultStep(0.20, "rate_limited", "ListarContasReceber", 2),  # 429 twice, third attempt passes
    FaultStep(0.28, "server_error", "ListarClientes", 2),
    FaultStep(0.36, "misuse_blocked", "ConsultarCliente"),  # 425: refused locally until the block ends
    FaultStep(0.44, "concurrent_request", "ListarContasPagar"),
    FaultStep(0.50, "validation", "IncluirCliente"),
    FaultStep(0.58, "server_error", "ListarContasReceber", 4),  # outlives the retries: the tool fails
    FaultStep(0.66, "duplicate_request", "IncluirCliente"),
    FaultStep(0.74, "auth", "ListarContasPagar"),
    FaultStep(0.80, "redundant", "ListarContasPagar"),
)


async def inject_faults(sim: OmieSimulator, seconds: float, stop: asyncio.Event) -> None:
    """Inject :data:`FAULT_PLAN` into ``sim`` as the run goes, until ``stop`` is set.

    Args:
        sim: The in-process simulator.
        seconds: Length of the run; each step fires at ``step.at * seconds``.
        stop: Set when the run ends.

    Example:
        >>> asyncio.run(inject_faults(OmieSimulator(), 0.01, asyncio.Event()))  # doctest: +SKIP
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    for step in FAULT_PLAN:
        delay = start + step.at * seconds - loop.time()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
        sim.inject_fault(step.kind, call=step.call, times=step.times)


def _month(rng: random.Random) -> dict[str, str]:
    year, month = rng.choice(_MONTHS)
    last = 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31
    return {"data_inicio": f"01/{month:02d}/{year}", "data_fim": f"{last:02d}/{month:02d}/{year}"}


def next_step(rng: random.Random, known: Catalogue) -> tuple[str, dict[str, Any]]:
    """The next tool call of an agent: ``(tool name, arguments)``; ``("omie://status", {})`` reads the resource.

    Args:
        rng: The agent's random stream.
        known: Customers the agent can ask about.

    Returns:
        The tool (or resource URI) and its arguments.

    Example:
        >>> next_step(random.Random(0), Catalogue((1,), ("1",)))
        ('consultar_tipos_documento', {'codigo': 'PIX'})
    """
    r = rng.random()
    if r < 0.30:
        size = rng.choice((5, 10, 20, 50))
        # now and then one page past the end (120 customers): Omie's 5113, an empty list for the agent
        args: dict[str, Any] = {"pagina": rng.randint(1, 120 // size + 1), "registros_por_pagina": size}
        if rng.random() < 0.15:
            args = {"razao_social": rng.choice(_NAME_FRAGMENTS)}
        elif rng.random() < 0.10:
            args = {"cnpj_cpf": rng.choice(known.documents)}
        return "consultar_clientes", args
    if r < 0.40:
        code = rng.choice(known.codes) if rng.random() < 0.9 else rng.randint(1, 999)
        return "consultar_cliente", {"codigo_cliente_omie": code}
    if r < 0.70:
        tool = "consultar_contas_pagar" if r < 0.55 else "consultar_contas_receber"
        return tool, {**_month(rng), "pagina": rng.randint(1, 3), "registros_por_pagina": rng.choice((5, 10, 20))}
    if r < 0.76:
        return "consultar_categorias", {"apenas_ativas": rng.random() < 0.8}
    if r < 0.81:
        return "consultar_departamentos", {}
    if r < 0.86:
        codigo = rng.choice(_DOC_TYPES)
        return "consultar_tipos_documento", {"codigo": codigo} if codigo else {}
    if r < 0.91:
        return "testar_conexao", {}
    if r < 0.96:
        n = rng.randint(100, 999)
        return "cadastrar_cliente", {
            "razao_social": f"Cliente Demo {n} Ltda",
            "cnpj_cpf": rng.choice(_NEW_DOCUMENTS),
            "email": f"financeiro{n}@clientedemo.com.br",
            "estado": rng.choice(("SP", "RJ", "MG", "PR")),
        }
    return "omie://status", {}


class Agent:
    """One MCP session calling tools until told to stop, with a short think time between calls.

    Args:
        url: The MCP endpoint (``http://127.0.0.1:PORT/mcp``).
        known: Customers it can ask about.
        seed: Seed of its choices.
        think: ``(min, max)`` seconds between calls.

    Example:
        >>> agent = Agent("http://127.0.0.1:8000/mcp", Catalogue((1,), ("1",)), seed=1)
        >>> asyncio.run(agent.run(asyncio.Event()))  # doctest: +SKIP
    """

    def __init__(self, url: str, known: Catalogue, *, seed: int, think: tuple[float, float] = (0.1, 0.5)) -> None:
        self.url = url
        self.known = known
        self.rng = random.Random(seed)
        self.think = think

    async def run(self, stop: asyncio.Event) -> None:
        """Call tools until ``stop`` is set; a tool error is part of the show, a broken session ends the agent."""
        async with Client(self.url, timeout=60) as client:
            while not stop.is_set():
                tool, args = next_step(self.rng, self.known)
                try:
                    if tool.startswith("omie://"):
                        await client.read_resource(tool)
                    else:
                        await client.call_tool(tool, args, raise_on_error=False)
                except Exception as exc:  # noqa: BLE001 - protocol-level failure: say so, keep the demo going
                    _logger.warning("agente: %s falhou no protocolo MCP: %s", tool, exc)
                try:
                    await asyncio.wait_for(stop.wait(), self.rng.uniform(*self.think))
                except asyncio.TimeoutError:
                    pass
