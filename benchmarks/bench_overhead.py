"""What does instrument() cost per tool call? Interleaved, in one process, against FastMCP's own tracing.

Three modes share one process, one server and one configured SDK, and run round-robin so drift (CPU frequency,
other load) hits them alike:

* ``bare``      FastMCP with ``telemetry_mode="off"``: no spans at all (the floor).
* ``native``    FastMCP's native tracing only (one SERVER span per request into an SDK TracerProvider).
* ``omie_otel`` ``instrument(mcp)`` on top: the same span enriched, plus ``mcp.server.operation.duration``,
                the scrubber in the span pipeline, the session timer, host gauges registered.

Goals (issue #2): ``omie_otel`` ≤ 1.15 × ``native`` and ≤ ``native`` + 100 µs per call. Exit status 1 when missed.

The figures compared are medians over rounds of *paired* differences (each round measures every mode back to back,
in a shuffled order), which cancels most of the drift a shared 2-core machine has.

Usage:
    python benchmarks/bench_overhead.py [--calls 60] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from typing import Any

import fastmcp
from fastmcp import Client, FastMCP
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import omie_otel


class _Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _server() -> FastMCP:
    mcp = FastMCP("bench")

    @mcp.tool
    def listar_clientes(pagina: int = 1) -> dict[str, Any]:
        return {"pagina": pagina, "total_de_paginas": 3, "clientes": [{"codigo": i} for i in range(5)]}

    return mcp


async def _calls(client: Client, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await client.call_tool("listar_clientes", {"pagina": i % 3 + 1})
    return (time.perf_counter() - start) / n


async def main(calls: int, rounds: int) -> int:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=1 << 16))
    trace.set_tracer_provider(provider)
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    mcp = _server()
    results: dict[str, list[float]] = {"bare": [], "native": [], "omie_otel": []}
    async with Client(mcp) as client:
        await _calls(client, 50)  # warm-up: imports, caches, schema compilation
        order = list(results)
        shuffle = random.Random(7).shuffle
        for _ in range(rounds):
            shuffle(order)
            for mode in order:
                gc.collect()
                fastmcp.settings.telemetry_mode = "off" if mode == "bare" else "native"
                if mode == "omie_otel":
                    omie_otel.instrument(mcp, tracer_provider=provider, meter_provider=meters)
                try:
                    results[mode].append(await _calls(client, calls))
                finally:
                    omie_otel.uninstrument()
    fastmcp.settings.telemetry_mode = "native"

    med = {mode: statistics.median(values) for mode, values in results.items()}
    print(f"FastMCP {fastmcp.__version__}, Python {sys.version.split()[0]}, {rounds} rounds × {calls} calls, medians:")
    for mode, value in med.items():
        spread = (max(results[mode]) - min(results[mode])) * 1e6
        print(f"  {mode:<10} {value * 1e6:8.1f} µs/call   (round spread {spread:6.1f} µs)")
    paired = [o - n for o, n in zip(results["omie_otel"], results["native"])]
    extra = statistics.median(paired) * 1e6
    ratio = statistics.median(o / n for o, n in zip(results["omie_otel"], results["native"]))
    native_cost = statistics.median(n - b for n, b in zip(results["native"], results["bare"])) * 1e6
    print(f"  FastMCP native tracing costs {native_cost:.1f} µs/call over bare")
    print(f"  omie_otel vs native (median of paired rounds): ×{ratio:.3f}, {extra:+.1f} µs/call")
    ok = ratio <= 1.15 and extra <= 100
    print("  goal (≤ 1.15× native and ≤ +100 µs):", "MET" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.calls, args.rounds)))
