"""A process that instruments a FastMCP server from the OTEL_* environment, makes calls, then stops.

Used by tests/test_shutdown.py to measure how long ``uninstrument()`` and interpreter exit take when the collector is
closed, black-holed or slow. Argument: ``uninstrument`` (time ``uninstrument()``, then exit) or ``exit`` (just exit).
Prints ``calls-done`` once the calls are made, then (``uninstrument`` mode) ``uninstrument <seconds>``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from fastmcp import Client, FastMCP

from omie_otel import instrument, uninstrument

mcp = FastMCP("shutdown-child")
log = logging.getLogger("shutdown.child")


@mcp.tool
def somar(a: int, b: int) -> int:
    log.warning("somando %s e %s", a, b)
    return a + b


async def calls(n: int) -> None:
    async with Client(mcp) as client:
        for i in range(n):
            await client.call_tool("somar", {"a": i, "b": 1})


def main() -> None:
    mode = sys.argv[1]
    instrument(mcp)
    asyncio.run(calls(int(sys.argv[2]) if len(sys.argv) > 2 else 50))
    print("calls-done", flush=True)
    if mode == "uninstrument":
        start = time.monotonic()
        uninstrument()
        print(f"uninstrument {time.monotonic() - start:.3f}", flush=True)


if __name__ == "__main__":
    main()
