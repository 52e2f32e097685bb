"""A small FastMCP server instrumented with nothing but OTEL_* variables; run over stdio or HTTP by tests."""

import logging
import sys

from fastmcp import FastMCP

from omie_otel import instrument

mcp = FastMCP("omie-echo")
log = logging.getLogger("omie.echo")


@mcp.tool
def ecoar(texto: str) -> str:
    log.warning("ecoando %s", texto)
    return texto.upper()


instrument(mcp)

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[2]), show_banner=False)
    else:
        mcp.run(show_banner=False)
