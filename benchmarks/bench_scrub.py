"""What does the scrubber cost per span and per log record? Interleaved, in one process, with and without it.

The end-to-end figure (benchmarks/bench_overhead.py) cannot resolve a few microseconds on a loaded machine; this one
isolates the scrubbing processors. Per round, in a shuffled order:

* ``spans``      a FastMCP-like tool span (11 attributes) and an Omie-like CLIENT span (13 attributes), ended through
                 an SDK TracerProvider with a discarding SimpleSpanProcessor — bare, then with the scrubber first;
* ``logs``       a log record with a message and 4 ``extra``-like attributes through an SDK LoggerProvider — bare,
                 then with the log scrubber first.

Values repeat from call to call, as they do in a server (the scrubber caches strings it has seen clean). Time is
this thread's CPU time (``time.thread_time``), so other processes on a shared machine weigh little. Reported:
medians of per-round paired differences, in µs per span / per record.

Usage:
    python benchmarks/bench_scrub.py [--rounds 30] [--n 400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from omie_otel import _scrub_processors
from omie_otel.redaction import Scrubber

TOOL = {
    "mcp.method.name": "tools/call",
    "gen_ai.tool.name": "listar_clientes",
    "gen_ai.operation.name": "execute_tool",
    "mcp.session.id": "3f2a9c0e5b7d4e1f9a8b7c6d5e4f3a2b",
    "jsonrpc.request.id": "17",
    "network.transport": "pipe",
    "fastmcp.component.type": "tool",
    "fastmcp.component.key": "tool:listar_clientes@",
    "rpc.system": "jsonrpc",
    "fastmcp.server.name": "bench",
    "mcp.protocol.version": "2025-06-18",
}
OMIE = {
    "http.request.method": "POST",
    "url.full": "https://app.omie.com.br/api/v1/geral/clientes/",
    "server.address": "app.omie.com.br",
    "server.port": 443,
    "omie.endpoint": "geral/clientes",
    "omie.call": "ListarClientes",
    "omie.page": 1,
    "omie.records_per_page": 20,
    "http.response.status_code": 200,
    "omie.total_pages": 3,
    "omie.records": 20,
    "omie.total_records": 57,
    "network.protocol.version": "1.1",
}
LOG_ATTRS = {"code.function.name": "listar", "code.line.number": 42, "pagina": 2, "cliente": "Padaria Pão Quente"}


class _Discard(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _tracer(scrub: bool) -> Any:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Discard()))
    if scrub:
        _scrub_processors.install_span_scrubber(provider, _scrub_processors.ScrubbingSpanProcessor(Scrubber()))
    return provider.get_tracer("bench")


def _logger(scrub: bool) -> Any:
    provider = LoggerProvider()
    if scrub:
        _scrub_processors.install_log_scrubber(provider, _scrub_processors.ScrubbingLogProcessor(Scrubber()))
    return provider.get_logger("bench")


def _spans(tracer: Any, n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        with tracer.start_as_current_span("tools/call listar_clientes", attributes=TOOL):
            pass
        with tracer.start_as_current_span("omie ListarClientes", attributes=OMIE):
            pass
    return (time.thread_time() - start) / (2 * n) * 1e6


def _logs(logger: Any, n: int) -> float:
    from opentelemetry._logs import LogRecord

    start = time.thread_time()
    for _ in range(n):
        logger.emit(LogRecord(body="listando clientes da página 2", attributes=LOG_ATTRS))
    return (time.thread_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    cases = {
        ("spans", False): (_spans, _tracer(False)),
        ("spans", True): (_spans, _tracer(True)),
        ("logs", False): (_logs, _logger(False)),
        ("logs", True): (_logs, _logger(True)),
    }
    results: dict[tuple[str, bool], list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        order = list(cases)
        random.shuffle(order)
        for key in order:
            fn, target = cases[key]
            results[key].append(fn(target, args.n))
    for what in ("spans", "logs"):
        bare, scrubbed = results[(what, False)], results[(what, True)]
        diff = statistics.median(s - b for s, b in zip(scrubbed, bare))
        unit = "span" if what == "spans" else "record"
        print(f"{what:5}  bare {statistics.median(bare):7.2f} µs/{unit}   scrubbed {statistics.median(scrubbed):7.2f}"
              f"   scrubber +{diff:.2f} µs/{unit}")


if __name__ == "__main__":
    main()
