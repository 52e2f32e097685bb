"""What the benchmarks ask of the example Omie MCP server, shared by ``run.py`` (Locust) and ``bench_request_cpu.py``.

No third-party imports here: ``run.py`` monkey-patches with gevent before anything else, the CPU benchmark does not.
"""

from __future__ import annotations

import random
from typing import Any

#: Simulator settings that lift Omie's own limits, so what is measured is the MCP server process itself.
SIM_LIMITS_LIFTED = {
    "OMIE_SIM_RPM_PER_METHOD": "1000000",
    "OMIE_SIM_RPM_PER_IP": "1000000",
    "OMIE_SIM_MAX_CONCURRENT": "100000",
    "OMIE_SIM_MAX_CONCURRENT_WRITES": "100000",
    "OMIE_SIM_MISUSE_THRESHOLD": "0",
}


def tool_call(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """The workload: what an assistant asks an Omie MCP server, with varied arguments (60 % clients, 40 % bills)."""
    if rng.random() < 0.6:
        return "consultar_clientes", {"pagina": rng.randint(1, 40), "registros_por_pagina": rng.choice([5, 10, 20, 50])}
    month = rng.randint(1, 12)
    return "consultar_contas_receber", {
        "data_inicio": f"01/{month:02d}/2025",
        "data_fim": f"28/{month:02d}/2025",
        "pagina": rng.randint(1, 5),
        "registros_por_pagina": rng.choice([10, 20, 50]),
    }
