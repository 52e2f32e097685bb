"""A FastMCP server instrumented with no provider: the SDK comes only from the OTEL_* variables. One tool call, one
log record, then exit (the SDK flushes at exit). Used by tests/test_setup.py."""

import asyncio
import logging
import sys
import time

from fastmcp import Client, FastMCP

import omie_otel

mcp = FastMCP("switches")


@mcp.tool
def somar(a: int, b: int) -> int:
    logging.getLogger("app").warning("somando %s e %s", a, b)
    return a + b


omie_otel.instrument(mcp, host_metrics=False)


async def main() -> None:
    async with Client(mcp) as client:
        result = (await client.call_tool("somar", {"a": 1, "b": 2})).data
        # One write of the whole line: print() writes "RESULT", " ", "3" separately, and the console exporters'
        # threads write to the same stdout in between (seen once in CI: "RESULT" + a metrics dump + " 3").
        sys.stdout.write(f"RESULT {result}\n")
        sys.stdout.flush()


asyncio.run(main())
time.sleep(0.3)
