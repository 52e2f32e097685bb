"""How many spans per second one collector (collector-config/otelcol.yaml) takes without drops, and where it breaks.

Worker processes make Omie-like spans (a tool-call SERVER span with an Omie CLIENT child, 8 attributes each) with
the OpenTelemetry SDK (BatchSpanProcessor, OTLP/HTTP, as omie-otel exports) at stepped target rates, against the
running stack's collector. Per step: spans made, spans the collector accepted / refused (memory_limiter) / failed
to export (Jaeger), spans the SDK dropped (made - accepted), the collector's CPU (% of one core) and RSS.

Usage (the stack must be up: STACK_PORT_OFFSET=N scripts/stack.sh up):
    python benchmarks/capacity/pipeline.py [--rates 500,1000,2000,4000,8000] [--seconds 10] [--workers 2]
Results: docs/capacity/pipeline-results.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _collector import counters

ROOT = Path(__file__).resolve().parents[2]
COUNTERS = (
    "otelcol_receiver_accepted_spans",
    "otelcol_receiver_refused_spans",
    "otelcol_exporter_sent_spans",
    "otelcol_exporter_send_failed_spans",
    "otelcol_exporter_enqueue_failed_spans",
    "otelcol_process_cpu_seconds",
    "otelcol_process_memory_rss",
)


def _worker(endpoint: str, traces_per_s: float, seconds: float, made: Any) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(
        resource=Resource.create({"service.name": "omie-otel-pipeline-bench", "service.instance.id": "w"})
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
            max_queue_size=8192,
            max_export_batch_size=512,
            schedule_delay_millis=200,
        )
    )
    tracer = provider.get_tracer("pipeline-bench")
    start = time.perf_counter()
    count = 0
    while (now := time.perf_counter()) < start + seconds:
        due = int((now - start) * traces_per_s)
        if count >= due:
            time.sleep(0.002)
            continue
        with tracer.start_as_current_span(
            "tools/call consultar_clientes",
            kind=SpanKind.SERVER,
            attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": "consultar_clientes"},
        ), tracer.start_as_current_span(
            "omie ListarClientes",
            kind=SpanKind.CLIENT,
            attributes={
                "omie.call": "ListarClientes",
                "omie.endpoint": "geral/clientes",
                "http.request.method": "POST",
                "http.response.status_code": 200,
                "server.address": "127.0.0.1",
                "omie.page": count % 40,
            },
        ):
            pass
        count += 1
    provider.force_flush(30_000)
    provider.shutdown()
    with made.get_lock():
        made.value += 2 * count


def step(endpoint: str, metrics_url: str, spans_per_s: float, seconds: float, workers: int) -> dict[str, Any]:
    made = multiprocessing.Value("q", 0)
    before = counters(metrics_url, COUNTERS)
    t0 = time.monotonic()
    procs = [
        multiprocessing.Process(target=_worker, args=(endpoint, spans_per_s / 2 / workers, seconds, made))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=seconds + 60)
    time.sleep(3)  # the collector's batch (1 s) and export
    wall = time.monotonic() - t0
    after = counters(metrics_url, COUNTERS)
    delta = {k: after[k] - before[k] for k in COUNTERS}
    accepted = delta["otelcol_receiver_accepted_spans"]
    return {
        "target_spans_per_s": spans_per_s,
        "made": made.value,
        "made_per_s": round(made.value / seconds, 1),
        "accepted_per_s": round(accepted / seconds, 1),
        "sdk_or_receiver_lost": int(made.value - accepted),
        "refused": int(delta["otelcol_receiver_refused_spans"]),
        "export_failed": int(
            delta["otelcol_exporter_send_failed_spans"] + delta["otelcol_exporter_enqueue_failed_spans"]
        ),
        "collector_cpu_pct": round(100 * delta["otelcol_process_cpu_seconds"] / wall, 1),
        "collector_rss_mib": round(after["otelcol_process_memory_rss"] / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,2000,4000,8000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env_text = subprocess.run([str(ROOT / "scripts" / "stack.sh"), "env"], capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line and not line.startswith("#"))
    if "OTELCOL_METRICS_URL" not in env:
        print("pipeline: no running stack (scripts/stack.sh up first)", file=sys.stderr)
        return 2
    results = []
    for rate in [float(r) for r in args.rates.split(",")]:
        result = step(env["OTELCOL_OTLP_HTTP_ENDPOINT"], env["OTELCOL_METRICS_URL"], rate, args.seconds, args.workers)
        results.append(result)
        print(json.dumps(result), flush=True)
    out = ROOT / "docs" / "capacity"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline-results.json").write_text(json.dumps(results, indent=2))
    print(
        "\n| alvo (spans/s) | gerados/s | aceitos pelo collector/s | perdidos | recusados | falhas de exportação "
        "| CPU do collector (% de 1 núcleo) | RSS do collector (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['target_spans_per_s']:.0f} | {r['made_per_s']:.0f} | {r['accepted_per_s']:.0f} "
            f"| {r['sdk_or_receiver_lost']} | {r['refused']} | {r['export_failed']} | {r['collector_cpu_pct']} "
            f"| {r['collector_rss_mib']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
