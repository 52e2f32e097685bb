"""A FastMCP server with no telemetry code at all: `opentelemetry-instrument python plain_server.py` must suffice."""

from fastmcp import FastMCP

mcp = FastMCP("omie-plain")


@mcp.tool
def somar(a: int, b: int) -> int:
    return a + b


if __name__ == "__main__":
    mcp.run(show_banner=False)
