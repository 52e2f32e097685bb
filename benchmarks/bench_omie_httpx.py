"""What does an Omie span cost per httpx call, and does instrumenting leak memory over many calls?

One process, the Omie simulator in-process (``httpx.ASGITransport``, zero latency) so the call itself is as cheap as
it gets and the overhead is as visible as it can be. Two modes, interleaved and shuffled per round:

* ``bare``       an ``httpx.AsyncClient`` posting ``ListarClientes`` page after page, nothing instrumented;
* ``omie_otel``  the same with ``instrument()`` (Omie CLIENT span, 2 histograms/counters, secrets learnt, scrubbing).

Memory: after a warm-up, ``tracemalloc`` measures what stays allocated after 2000 more calls, bare and instrumented
(the span exporter discards, the metric reader is cumulative); the simulator itself keeps its rate-limit windows, so
the figure that matters is the difference.

Goals: ≤ +400 µs per Omie call (Omie itself answers in 100 ms–30 s: ≤ 0.4 % of the fastest real call; the in-process
simulator answers in ~1.5 ms, which makes the overhead as visible as it can be), and < 10 bytes per call retained
beyond the bare run (no leak).

Usage:
    python benchmarks/bench_omie_httpx.py [--calls 100] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
import tracemalloc
from typing import Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import omie_otel
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator

URL = "https://app.omie.com.br/api/v1/geral/clientes/"


class _Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


async def _calls(client: httpx.AsyncClient, n: int, offset: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        page = (offset + i) % 5 + 1
        body = {"call": "ListarClientes", "app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
                "param": [{"pagina": page, "registros_por_pagina": 20, "apenas_importado_api": "N"}]}
        await client.post(URL, json=body)
    return (time.perf_counter() - start) / n


_MEMORY_CALLS = 2000
_GOAL_US = 400
_GOAL_BYTES = 10


async def _retained(client: httpx.AsyncClient, tracer_provider: Any, meters: Any, *, instrumented: bool) -> float:
    """Bytes per call still allocated after _MEMORY_CALLS calls (spans flushed, garbage collected)."""
    if instrumented:
        omie_otel.instrument(None, tracer_provider=tracer_provider, meter_provider=meters,
                             host_metrics=False, logs=False, health_routes=False)
    try:
        await _calls(client, 300, 0)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await _calls(client, _MEMORY_CALLS, 0)
        tracer_provider.force_flush()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        omie_otel.uninstrument()
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / _MEMORY_CALLS


async def main(calls: int, rounds: int) -> int:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=1 << 16))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    # A window of 0 s: the same page twice is not REDUNDANT, so every call is a plain 200 with 20 records.
    sim = OmieSimulator(seed=5, redundancy_window_s=0, rpm_per_method=10**9, rpm_per_ip=10**9)
    results: dict[str, list[float]] = {"bare": [], "omie_otel": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as client:
        await _calls(client, 50, 0)
        order = list(results)
        for r in range(rounds):
            random.Random(r).shuffle(order)
            for mode in order:
                if mode == "omie_otel":
                    omie_otel.instrument(None, tracer_provider=tracer_provider, meter_provider=meters,
                                         host_metrics=False, logs=False, health_routes=False)
                gc.collect()
                try:
                    results[mode].append(await _calls(client, calls, r))
                finally:
                    omie_otel.uninstrument()

        retained = {
            mode: await _retained(client, tracer_provider, meters, instrumented=mode == "omie_otel") for mode in results
        }
    growth = retained["omie_otel"] - retained["bare"]

    extra = statistics.median(o - b for o, b in zip(results["omie_otel"], results["bare"])) * 1e6
    print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}, {rounds} rounds × {calls} calls, medians:")
    for mode, values in results.items():
        print(f"  {mode:<10} {statistics.median(values) * 1e6:8.1f} µs/call")
    print(f"  Omie span overhead (median of paired rounds): {extra:+.1f} µs/call")
    print(
        f"  memory retained per call after {_MEMORY_CALLS} more calls: bare {retained['bare']:+.1f} B, "
        f"omie_otel {retained['omie_otel']:+.1f} B (difference {growth:+.1f} B/call)"
    )
    ok = extra <= _GOAL_US and growth < _GOAL_BYTES
    print(f"  goal (≤ +{_GOAL_US} µs per call, < {_GOAL_BYTES} B/call more retained than bare):", "MET" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.calls, args.rounds)))
