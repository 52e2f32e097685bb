"""A FastMCP server with the health routes, run over streamable HTTP (or stdio) by tests/test_health.py.

Its tool ``bloquear`` makes one Omie call through a plain httpx client whose transport answers like Omie's 425
MISUSE_API_PROCESS block, so the Omie instrumentation (not the test) is what turns readiness to 503.
"""

import sys

import httpx
from fastmcp import FastMCP

from omie_otel import instrument

OMIE = "https://app.omie.com.br/api/v1/geral/clientes/"
BLOCK = {
    "faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente em 1726 segundos.",
    "faultcode": "MISUSE_API_PROCESS",
}

mcp = FastMCP("omie-health")


@mcp.tool
def bloquear() -> int:
    """One ListarClientes call that Omie answers with a 425 block."""
    transport = httpx.MockTransport(lambda request: httpx.Response(425, json=BLOCK))
    with httpx.Client(transport=transport) as client:
        response = client.post(OMIE, json={"call": "ListarClientes", "param": [{"pagina": 1}]})
    return response.status_code


instrument(mcp, health_memory_threshold=100, health_disk_threshold=100, health_omie_probe=False, host_metrics=False)

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[2]), show_banner=False)
    else:
        mcp.run(show_banner=False)
