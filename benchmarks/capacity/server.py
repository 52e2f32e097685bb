"""The example Omie MCP server for the capacity run: ``python benchmarks/capacity/server.py --port P [--bare]``.

The same server as ``python -m examples.omie_mcp_server --transport http``, but ``--bare`` skips
``omie_otel.instrument()`` entirely (no SDK, no exporters), so the two variants differ only by the telemetry.
Omie is whatever ``OMIE_API_URL`` names (the runner points it at its simulator). Run from the repository root.
``OMIE_OTEL_BENCH_CPROFILE=<file>`` profiles the event-loop thread with cProfile and writes the stats there at exit
(benchmarks only: ``benchmarks/bench_request_cpu.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import omie_otel  # noqa: E402
from examples.omie_mcp_server.client import OmieClient, OmieSettings  # noqa: E402
from examples.omie_mcp_server.server import build_server  # noqa: E402


async def _serve(port: int, bare: bool) -> None:
    settings = OmieSettings.from_env()
    client = OmieClient(settings)
    mcp = build_server(client)
    if not bare:
        omie_otel.instrument(mcp, omie_url=settings.telemetry_url)
    try:
        await mcp.run_http_async(transport="http", host="127.0.0.1", port=port, show_banner=False, log_level="warning")
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bare", action="store_true", help="do not call omie_otel.instrument()")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    profile_path = os.environ.get("OMIE_OTEL_BENCH_CPROFILE")
    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:  # uvicorn re-raises the SIGTERM it caught: make that an exit that reaches `finally`
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler.enable()
    try:
        asyncio.run(_serve(args.port, args.bare))
    except KeyboardInterrupt:
        pass
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
