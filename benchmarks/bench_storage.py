"""How much disk does each backend of the stack need per MCP request? (docs/operacao.md, "Capacidade e disco")

Starts its own stack (scripts/stack.sh, fresh data, port offset ``--offset``), measures each data directory after a
clean stop with no traffic (the baseline), starts it again, drives ``--requests`` MCP tool calls through a FastMCP
server instrumented by omie-otel (tests/e2e/omie_probe.py: per request one MCP SERVER span and one Omie CLIENT span,
metrics exported every second) plus one log line per request (an INFO line of ~120 bytes with trace/span ids, what a
server logging one line per tool call sends), stops the stack again (every store flushes) and prints the growth of
each directory per request. Prometheus is different: its size depends on series and time, not requests, so it prints
the number of series one server creates and the bytes per sample of its WAL.

Usage:
    python benchmarks/bench_storage.py [--requests 2000] [--offset 21350]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STORES = ("jaeger", "victorialogs", "prometheus", "alertmanager")


def stack(offset: int, *args: str, fresh: bool = False) -> None:
    env = {**os.environ, "STACK_PORT_OFFSET": str(offset), "STACK_FRESH": "1" if fresh else "0"}
    result = subprocess.run([str(ROOT / "scripts" / "stack.sh"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"scripts/stack.sh {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def sizes(stack_dir: Path) -> dict[str, int]:
    """Bytes actually allocated on disk per store (du: sparse preallocated files count as what they use)."""
    out = {}
    for store in STORES:
        du = subprocess.run(
            ["du", "-s", "--block-size=1", str(stack_dir / "data" / store)], capture_output=True, text=True
        )
        out[store] = int(du.stdout.split()[0])
    return out


def env_of(stack_dir: Path) -> dict[str, str]:
    lines = (stack_dir / "env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def send_logs(endpoint: str, service: str, count: int) -> None:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")))
    logger = provider.get_logger("omie_mcp.tools")
    tracer = TracerProvider().get_tracer("bench")  # ids only, never exported
    for i in range(count):
        with tracer.start_as_current_span("tools/call listar_clientes"):
            logger.emit(
                severity_number=SeverityNumber.INFO, severity_text="INFO",
                body=f"tools/call listar_clientes pagina={i % 50 + 1} registros=50 duracao_ms={40 + i % 200} ok",
                attributes={"mcp.method.name": "tools/call", "gen_ai.tool.name": "listar_clientes"},
            )  # fmt: skip
    provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--offset", type=int, default=21350)
    args = parser.parse_args()
    stack_dir = ROOT / ".stack" / f"run-{args.offset}"

    stack(args.offset, "up", fresh=True)
    stack(args.offset, "down")
    base = sizes(stack_dir)
    stack(args.offset, "up")
    env = env_of(stack_dir)
    service = f"bench-storage-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    # In batches of 200: each probe has its own simulator, whose per-minute limit (like Omie's) a batch stays under.
    for batch in range(0, args.requests, 200):
        probe = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "e2e" / "omie_probe.py"), "--endpoint",
             env["OTELCOL_OTLP_HTTP_ENDPOINT"], "--service", service, "--calls", str(min(200, args.requests - batch)),
             "--hold", "2"],
            capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode != 0:
            sys.exit(probe.stderr[-3000:])
    send_logs(env["OTELCOL_OTLP_HTTP_ENDPOINT"], service, args.requests)
    elapsed = time.monotonic() - started
    time.sleep(8)  # tail sampling decision wait, batches, remote write
    prom = env["PROMETHEUS_URL"]
    series = httpx.get(f"{prom}/api/v1/query", params={"query": f'count({{job="{service}"}})'}).json()
    samples = httpx.get(
        f"{prom}/api/v1/query", params={"query": "sum(prometheus_tsdb_head_samples_appended_total)"}
    ).json()
    spans = httpx.get(f"{env['JAEGER_QUERY_URL']}/api/traces", params={"service": service, "limit": "100000"}).json()
    stack(args.offset, "down")
    after = sizes(stack_dir)

    n_series = int(float(series["data"]["result"][0]["value"][1]))
    n_samples = float(samples["data"]["result"][0]["value"][1])
    n_spans = sum(len(t["spans"]) for t in spans["data"])
    print(f"{args.requests} requests in {elapsed:.0f} s; {n_spans} spans in Jaeger; {n_series} series of {service}")
    for store in STORES:
        grown = after[store] - base[store]
        print(
            f"  {store:13s} {base[store]:>12,d} -> {after[store]:>12,d} bytes  (+{grown:,d}; {grown / args.requests:,.0f} B/request)"
        )
    print(
        f"  prometheus: {n_samples:,.0f} samples appended in all; WAL+head {after['prometheus'] - base['prometheus']:,d} B "
        f"= {(after['prometheus'] - base['prometheus']) / max(n_samples, 1):.1f} B/sample before compaction"
    )


if __name__ == "__main__":
    main()
