"""``make demo``: simulator + example server + agents, with a live summary read back from the telemetry.

Everything runs in this one process, on loopback ports: the Omie simulator (uvicorn thread), the example MCP
server over streamable HTTP (another uvicorn thread, instrumented with one ``omie_otel.instrument`` call on the
demo's providers), and the agents (this thread's event loop). The summary reads the metrics the library recorded
(an in-memory reader on the same ``MeterProvider``), and counts of the spans and log records it produced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO

import omie_otel
from examples.demo.dashboard import Summary, read_summary, render
from examples.demo.lang import fit, t
from examples.demo.telemetry import DemoTelemetry, otlp_endpoint
from examples.demo.workload import Agent, Catalogue, inject_faults
from examples.omie_mcp_server import OmieClient, OmieSettings, build_server
from omie_otel.simulator import OmieSimulator, SimulatorStats, serve_in_thread

__all__ = ["DEFAULT_SECONDS", "main", "run_demo"]

#: Length of ``make demo`` unless ``DEMO_SECONDS`` says otherwise.
DEFAULT_SECONDS = 40.0
def _stack_hint() -> str:
    return t(
        "Para ver o mesmo no Jaeger e no Prometheus: make stack-up, depois "
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo "
        "(Jaeger http://127.0.0.1:16686, Prometheus http://127.0.0.1:9090; no fim, make stack-down).",
        "To see the same in Jaeger and Prometheus: make stack-up, then "
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo "
        "(Jaeger http://127.0.0.1:16686, Prometheus http://127.0.0.1:9090; afterwards, make stack-down).",
    )
_CLEAR = "\x1b[H\x1b[2J"


def _quiet_console() -> None:
    """Keep the terminal for the summary: logs still reach OpenTelemetry (and OTLP), not the console."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())  # so Python's last-resort handler never prints our warnings
    fastmcp_logger = logging.getLogger("fastmcp")
    for handler in list(fastmcp_logger.handlers):
        fastmcp_logger.removeHandler(handler)
    fastmcp_logger.addHandler(logging.NullHandler())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # as the server's __main__ does
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # the agents' HTTP client: not the server's logs


class _Screen:
    """Shows each live summary redrawn in place on a terminal; a pipe or a CI log gets none of them, only the final
    summary (one block, not forty)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()

    def show(self, title: str, body: str, banner: str) -> None:
        if not self.tty:
            return
        self.out.write(fit(f"{_CLEAR}{banner}\n\n── {title} ──\n{body}") + "\n")
        self.out.flush()

    def final(self, banner: str) -> None:
        """Before the final summary: on a terminal, replace the last live one."""
        if self.tty:
            self.out.write(f"{_CLEAR}{banner}\n")


async def _drive(
    sim: OmieSimulator,
    mcp_url: str,
    seconds: float,
    agents: int,
    refresh: float,
    telemetry: DemoTelemetry,
    show: Callable[[str, str], None],
) -> list[BaseException]:
    """Run the agents and the fault plan for ``seconds``, showing a summary every ``refresh`` seconds."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    known = Catalogue.of(sim)
    tasks = [asyncio.create_task(Agent(mcp_url, known, seed=i).run(stop)) for i in range(agents)]
    tasks.append(asyncio.create_task(inject_faults(sim, seconds, stop)))
    start = previous_at = loop.time()
    previous: Summary | None = None
    while (elapsed := loop.time() - start) < seconds:
        await asyncio.sleep(min(refresh, seconds - elapsed))
        summary = await asyncio.to_thread(read_summary, telemetry)
        now = loop.time()
        body = render(summary, elapsed=now - start, previous=previous, interval=now - previous_at)
        show(
            t(f"{now - start:.0f} s de {seconds:.0f} s (req/s nos últimos {now - previous_at:.0f} s)",
              f"{now - start:.0f} s of {seconds:.0f} s (req/s over the last {now - previous_at:.0f} s)"),
            body,
        )
        previous, previous_at = summary, now
    stop.set()
    done, pending = await asyncio.wait(tasks, timeout=15)
    for task in pending:
        task.cancel()
    return [exc for task in done if (exc := task.exception()) is not None]


def _banner(seconds: float, agents: int, refresh: float, api_url: str, mcp_url: str, telemetry: DemoTelemetry) -> str:
    endpoint = otlp_endpoint() if telemetry.otlp else None
    otlp = f" + OTLP {t('para', 'to')} {endpoint} ({t('serviço', 'service')} {telemetry.service_name})" if endpoint else ""
    return fit("\n".join(
        [
            t(f"omie-otel demo — {seconds:.0f} s (DEMO_SECONDS), {agents} agentes MCP com carga mista",
              f"omie-otel demo — {seconds:.0f} s (DEMO_SECONDS), {agents} MCP agents with a mixed load"),
            f"  {t('Simulador Omie', 'Omie simulator')}: {api_url}",
            "                  " + t("latência 50–300 ms, 2% de respostas quebradas e faltas injetadas de todo tipo",
                                     "latency 50-300 ms, 2% broken answers and injected faults of every kind"),
            f"  {t('Servidor MCP:  ', 'MCP server:    ')} {mcp_url}  (examples.omie_mcp_server, streamable HTTP)",
            "                  " + t("consultas idênticas em 60 s saem do cache do cliente (o Omie as recusaria: "
                                     "REDUNDANT), daí p50 baixos",
                                     "identical queries within 60 s come from the client's cache (Omie would refuse "
                                     "them: REDUNDANT), hence low p50s"),
            f"  {t('Telemetria:    ', 'Telemetry:     ')} "
            + t(f"em memória, resumo a cada {refresh:.0f} s", f"in memory, a summary every {refresh:.0f} s")
            + otlp,
        ]
    ))


def _final_report(
    final: Summary, stats: SimulatorStats, failures: list[BaseException], seconds: float, telemetry: DemoTelemetry
) -> str:
    endpoint = otlp_endpoint() if telemetry.otlp else None
    lines = [
        t(f"\n══ Resumo final: {seconds:.0f} s, tudo lido da telemetria (req/s: média) ══",
          f"\n══ Final summary: {seconds:.0f} s, all read from the telemetry (req/s: average) ══"),
        render(final, elapsed=seconds),
    ]
    jaeger = os.environ.get("JAEGER_QUERY_URL", "http://127.0.0.1:16686").rstrip("/")
    prometheus = os.environ.get("PROMETHEUS_URL", "http://127.0.0.1:9090").rstrip("/")
    if endpoint and final.fault_traces:
        lines.append(t("Traces para abrir no Jaeger, um por omie.fault.kind:", "Traces to open in Jaeger, one per omie.fault.kind:"))
        lines += [f"  {kind:<20} {jaeger}/trace/{trace_id}" for kind, trace_id in sorted(final.fault_traces.items())]
    faults = " · ".join(f"{k} {v}" for k, v in sorted(stats.faults.items())) or "-"
    lines.append(t(f"Conferência no simulador (não é telemetria): {stats.requests} requisições; faltas: {faults}",
                   f"Cross-check in the simulator (not telemetry): {stats.requests} requests; faults: {faults}"))
    lines += [t("Aviso: um agente parou", "Warning: an agent stopped") + f": {type(exc).__name__}: {exc}"
              for exc in failures]
    if endpoint:
        lines.append(
            t(f"Enviado por OTLP para {endpoint}: Jaeger {jaeger} (serviço {telemetry.service_name}), ",
              f"Sent over OTLP to {endpoint}: Jaeger {jaeger} (service {telemetry.service_name}), ")
            + f"Prometheus {prometheus} (job=\"{telemetry.service_name}\")."
        )
    else:
        lines.append(_stack_hint())
    if not final.tools:
        lines.append(t("Erro: nenhuma chamada de ferramenta apareceu na telemetria.",
                       "Error: no tool call showed up in the telemetry."))
    return fit("\n".join(lines)) + "\n"


def run_demo(seconds: float = DEFAULT_SECONDS, *, agents: int = 4, refresh: float = 2.0, out: TextIO | None = None) -> int:
    """Run the whole demo for ``seconds`` and print the live and final summaries.

    Args:
        seconds: How long the agents run.
        agents: Concurrent MCP sessions.
        refresh: Seconds between two summaries.
        out: Where to print (default ``sys.stdout``).

    Returns:
        0 when tools were called and the telemetry saw them; 1 otherwise (the reason is printed).

    Example:
        >>> run_demo(6)  # doctest: +SKIP
        0
    """
    out = out if out is not None else sys.stdout
    _quiet_console()
    telemetry = DemoTelemetry()
    sim = OmieSimulator(
        seed=42, latency_ms=50, latency_jitter_ms=250, broken_response_rate=0.02, misuse_block_s=max(3, seconds // 7)
    )
    screen = _Screen(out)
    with serve_in_thread(sim) as sim_base:
        settings = OmieSettings.from_env({"OMIE_API_URL": sim_base + "v1/"})
        mcp = build_server(OmieClient(settings, timeout=10.0, max_retry_wait=0.5))
        omie_otel.instrument(mcp, omie_url=settings.telemetry_url, **telemetry.providers())
        try:
            with serve_in_thread(mcp.http_app(transport="http")) as mcp_base:
                mcp_url = mcp_base.removesuffix("api/") + "mcp"
                banner = _banner(seconds, agents, refresh, settings.api_url, mcp_url, telemetry)
                out.write(banner + "\n")
                out.flush()
                failures = asyncio.run(
                    _drive(sim, mcp_url, seconds, agents, refresh, telemetry,
                           lambda title, body: screen.show(title, body, banner))
                )
                final = read_summary(telemetry)  # before uninstrument(), which stops the host gauges
                stats = sim.stats
                telemetry.flush()  # so the last OTLP export still has them too
        finally:
            omie_otel.uninstrument()
    telemetry.shutdown()
    screen.final(banner)
    out.write(_final_report(final, stats, failures, seconds, telemetry))
    out.flush()
    return 0 if final.tools else 1


def main() -> int:
    """``python -m examples.demo``: ``DEMO_SECONDS`` (default 40) long; exit status of :func:`run_demo`.

    Example:
        >>> main()  # doctest: +SKIP
    """
    raw = os.environ.get("DEMO_SECONDS", "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_SECONDS
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        print(f"DEMO_SECONDS={raw!r}: " + t("use um número de segundos maior que zero",
                                             "use a number of seconds greater than zero"), file=sys.stderr)
        return 2
    try:
        return run_demo(seconds)
    except KeyboardInterrupt:
        print("\n" + t("demo interrompida", "demo interrupted"), file=sys.stderr)
        return 130
