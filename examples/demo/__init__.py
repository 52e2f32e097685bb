"""``make demo``: the Omie simulator, the example MCP server and MCP agents, observed live through omie-otel.

``python -m examples.demo`` (what ``make demo`` runs) starts, on loopback ports, the Omie simulator (realistic
latency, a few broken answers, and a fault plan that makes every kind of Omie fault happen), the example server of
:mod:`examples.omie_mcp_server` over streamable HTTP, instrumented with one ``omie_otel.instrument`` call, and four
MCP agents with a mixed workload. Every 2 seconds it prints what the telemetry says — per-tool rate, p50/p95 and
errors by ``error.type``, Omie calls by ``omie.fault.kind`` and their p95, Omie rate-limit use, process RSS and
CPU — and a final summary after ``DEMO_SECONDS`` (default 40). With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set it also
ships traces, metrics and logs over OTLP: ``make stack-up`` then
``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo``.

Modules: :mod:`.runner` (the run), :mod:`.workload` (agents and fault plan), :mod:`.dashboard` (the summary),
:mod:`.telemetry` (the providers).
"""

from examples.demo.runner import main, run_demo

__all__ = ["main", "run_demo"]
