"""``python -m examples.omie_mcp_server [--transport stdio|http] [--host 127.0.0.1] [--port 8000]``.

The one telemetry line is ``omie_otel.instrument(mcp, omie_url=...)``: the SDK is configured from the ``OTEL_*``
variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``, ``OTEL_SDK_DISABLED``...). Logs go to stderr
(stdout is the MCP channel under stdio) and, correlated to traces, to OpenTelemetry.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from fastmcp import FastMCP

import omie_otel
from examples.omie_mcp_server.client import OmieClient, OmieSettings
from examples.omie_mcp_server.server import build_server

logger = logging.getLogger("omie_mcp")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.omie_mcp_server", description="Servidor MCP do Omie.")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP only; default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="HTTP only; default: 8000")
    return parser.parse_args(argv)


async def _serve(mcp: FastMCP, client: OmieClient, args: argparse.Namespace) -> None:
    try:
        if args.transport == "stdio":
            await mcp.run_stdio_async(show_banner=False)
        else:
            logger.info("MCP em http://%s:%d/mcp", args.host, args.port)
            await mcp.run_http_async(transport="http", host=args.host, port=args.port, show_banner=False)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    """Run the Omie MCP server until its transport closes (stdin ends) or it is interrupted.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 2 for a configuration error (printed, in Portuguese).

    Example:
        >>> main(["--transport", "http", "--port", "8000"])  # doctest: +SKIP
    """
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request repeats the Omie span, less well
    try:
        settings = OmieSettings.from_env()
    except ValueError as exc:
        print(f"omie_mcp_server: {exc}", file=sys.stderr)
        return 2
    client = OmieClient(settings)
    mcp = build_server(client)
    omie_otel.instrument(mcp, omie_url=settings.telemetry_url)
    logger.info("Omie em %s%s", settings.api_url, " (simulador local)" if settings.simulator else "")
    try:
        asyncio.run(_serve(mcp, client, args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
