"""One SDK step of ``pipeline.py --mode sdk``, in its own process: spans through ``omie_otel.instrument()``.

``python benchmarks/capacity/_sdk_load.py SPANS_PER_S SECONDS`` (0 = as fast as the process can) with the SDK's
environment set by the caller (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_BSP_*``, ``OTEL_SERVICE_NAME``...). Each
iteration is one MCP-like tool call: a SERVER span with an Omie CLIENT child, through omie-otel's whole span
pipeline (scrubber, counting exporter, BatchSpanProcessor, OTLP/HTTP). Prints one JSON line: spans made, what
omie-otel's self-telemetry counted as dropped (``omie_otel.export.dropped``, ``error.type=queue_full``), exported
and failed, the deepest the BatchSpanProcessor's queue got, when the first drop happened, CPU and RSS.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind

import omie_otel
from omie_otel._selftelemetry import _queue, _span_processors, drops, export_stats


def _queue_depth() -> tuple[int, int]:
    """Spans waiting in the tracer provider's batch processors, and their capacity."""
    size = capacity = 0
    for processor in _span_processors(trace.get_tracer_provider()):
        found = _queue(processor)
        if found is not None:
            size += len(found[0])
            capacity += found[1] or 0
    return size, capacity


def _dropped() -> int:
    return sum(n for (signal, reason), n in drops.snapshot().items() if signal == "traces" and reason == "queue_full")


def run(spans_per_s: float, seconds: float) -> dict[str, Any]:
    omie_otel.instrument(host_metrics=False, logs=False, ops_tools=False, health_routes=False)
    tracer = trace.get_tracer("omie-otel-pipeline-bench")
    calls_per_s = spans_per_s / 2
    cpu0 = time.process_time()
    start = time.perf_counter()
    next_sample = start
    calls = max_queue = 0
    capacity = _queue_depth()[1]
    first_drop_s: float | None = None
    while (now := time.perf_counter()) < start + seconds:
        if now >= next_sample:
            depth, capacity = _queue_depth()
            max_queue = max(max_queue, depth)
            if first_drop_s is None and _dropped():
                first_drop_s = round(now - start, 2)
            next_sample = now + 0.05
        if calls_per_s and calls >= (now - start) * calls_per_s:
            time.sleep(0.001)
            continue
        with tracer.start_as_current_span(
            "tools/call consultar_clientes",
            kind=SpanKind.SERVER,
            attributes={
                "mcp.method.name": "tools/call",
                "gen_ai.tool.name": "consultar_clientes",
                # Something for the scrubber to do, as in a real call: the secret must leave redacted.
                "gen_ai.tool.call.arguments": f'{{"pagina": {calls % 40}, "app_secret": "s3cr3t-{calls}"}}',
            },
        ), tracer.start_as_current_span(
            "omie ListarClientes",
            kind=SpanKind.CLIENT,
            attributes={
                "omie.call": "ListarClientes",
                "omie.endpoint": "geral/clientes",
                "http.request.method": "POST",
                "http.response.status_code": 200,
                "server.address": "127.0.0.1",
            },
        ):
            pass
        calls += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    result: dict[str, Any] = {
        "target_spans_per_s": spans_per_s,
        "seconds": round(elapsed, 2),
        "made": 2 * calls,
        "made_per_s": round(2 * calls / elapsed, 1),
        "dropped_queue_full": _dropped(),
        "first_drop_after_s": first_drop_s,
        "max_queue": max_queue,
        "queue_capacity": capacity,
        "process_cpu_pct": round(100 * cpu / elapsed, 1),
        "rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if os.environ.get("PIPELINE_SDK_FLUSH", "1") == "1":
        # Let the queue drain (a live collector), then push the self-telemetry so the backend has it too.
        trace.get_tracer_provider().force_flush(30_000)  # type: ignore[attr-defined]
        result["dropped_queue_full"] = _dropped()
        metrics.get_meter_provider().force_flush(10_000)  # type: ignore[attr-defined]
    result["exported"] = export_stats.exported.get("traces", 0)
    result["export_failed"] = export_stats.failed.get("traces", 0)
    return result


if __name__ == "__main__":
    print(json.dumps(run(float(sys.argv[1]), float(sys.argv[2]))), flush=True)
    sys.stdout.flush()
    os._exit(0)  # an unreachable collector would hold the exit for the shutdown deadline; the numbers are out
