"""``make demo`` (examples/demo) run as ``make demo`` runs it, for a few seconds: the live summary shows real numbers
read from the telemetry, the telemetry agrees with the simulator, and with an OTLP endpoint everything ships."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from examples.demo.dashboard import Histogram, Summary, render
from omie_otel import semconv as sc
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from tests.helpers.otlp_sink import otlp_sink

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^  (?P<name>\w+)\s+(?P<count>\d+)\s+(?P<rate>[\d.]+)\s+(?P<p50>\d+|-)\s+(?P<p95>\d+|-)  (?P<tail>.*)$", re.M)


def run_demo(seconds: float, **env: str) -> subprocess.CompletedProcess[str]:
    # OMIE_OTEL_RAISE_INTERNAL_ERRORS (set by conftest) stays: a library bug must fail the demo, not hide.
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OTEL_", "OMIE_APP_", "OMIE_API_", "LC_")) and k != "LANG"}
    return subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={**clean, "DEMO_SECONDS": str(seconds), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def counts(text: str) -> Counter[str]:
    """``"server_error 4 · redundant 1"`` -> Counter."""
    return Counter({k: int(v) for k, v in re.findall(r"(\w+) (\d+)", text)})


def test_demo_shows_real_numbers_from_the_telemetry_and_exits_0() -> None:
    proc = run_demo(5)  # no LANG at all: Brazilian Portuguese, the default
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"Simulador Omie: http://127\.0\.0\.1:\d+/api/v1/", out)
    assert re.search(r"Servidor MCP: +http://127\.0\.0\.1:\d+/mcp", out)
    # stdout is a pipe, not a terminal: no live refresh blocks, one final summary
    assert "── " not in out and out.count("Resumo final") == 1
    assert max(len(line) for line in out.splitlines()) <= 100

    final = re.sub(r"\n {4,}", " ", out.split("Resumo final", 1)[1])  # undo the wrapping at 100 columns
    rows = {m["name"]: m for m in ROW.finditer(final)}
    tools = {name: row for name, row in rows.items() if name.startswith(("consultar_", "cadastrar_", "testar_"))}
    assert len(tools) >= 4 and int(tools["consultar_clientes"]["count"]) > 0, final
    assert all(int(row["count"]) > 0 and row["p95"] != "-" for row in tools.values())
    assert int(rows["ListarClientes"]["count"]) > 0 and rows["ListarClientes"]["p95"] != "-"

    everything = re.search(r"^  todas\s+(\d+)\s+(\d+)\s+(\d+)  (.*)$", final, re.M)
    assert everything is not None and int(everything[1]) > 0
    telemetry_faults = counts(everything[4])
    assert telemetry_faults.keys() & {"redundant", "no_records", "server_error", "rate_limited"}, final
    simulator = re.search(r"Conferência no simulador.*?(\d+) requisições; faltas: (.*)$", final, re.M)
    assert simulator is not None
    assert int(simulator[1]) == int(everything[1]) and counts(simulator[2]) == telemetry_faults  # nothing lost

    assert re.search(r"RSS \d+ MB · CPU \d+%", final)
    assert re.search(r"Sinais: spans CLIENT \d+ · SERVER \d+ · logs .*INFO \d+", final)
    assert "make stack-up" in final and "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo" in final
    assert DEFAULT_APP_SECRET not in out + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def test_demo_speaks_english_when_lang_says_so_and_fits_100_columns() -> None:
    proc = run_demo(3, LANG="en_US.UTF-8")
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"Omie simulator: http://127\.0\.0\.1:\d+/api/v1/", out)
    assert out.count("Final summary") == 1 and "MCP tools" in out and "Cross-check in the simulator" in out
    assert "Resumo final" not in out and "Conferência" not in out and "agentes" not in out
    assert re.search(r"^  all\s+\d+", out, re.M)
    assert max(len(line) for line in out.splitlines()) <= 100


def test_lang_precedence_and_portuguese_default() -> None:
    from examples.demo.lang import english

    assert english({}) is False
    assert english({"LANG": "pt_BR.UTF-8"}) is False
    assert english({"LANG": "C.UTF-8"}) is False
    assert english({"LANG": "en_GB.UTF-8"}) is True
    assert english({"LANG": "en_US.UTF-8", "LC_ALL": "pt_BR.UTF-8"}) is False  # LC_ALL wins, as POSIX says
    assert english({"LANG": "pt_BR.UTF-8", "LC_MESSAGES": "en_US"}) is True


def test_terminal_gets_live_summaries_redrawn_within_100_columns() -> None:
    import io

    from examples.demo.runner import _Screen

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term, pipe = Terminal(), io.StringIO()
    body = render(Summary(), elapsed=1.0) + "\n  " + "x" * 180
    for stream in (term, pipe):
        screen = _Screen(stream)
        screen.show("2 s de 40 s", body, "banner")
        screen.show("4 s de 40 s", body, "banner")
    assert term.getvalue().count("── ") == 2 and term.getvalue().count("\x1b[2J") == 2
    assert max(len(line.replace("\x1b[H\x1b[2J", "")) for line in term.getvalue().splitlines()) <= 100
    assert pipe.getvalue() == ""


def test_demo_ships_otlp_when_an_endpoint_is_set() -> None:
    with otlp_sink() as sink:
        proc = run_demo(3, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert f"Enviado por OTLP para {sink.url}" in proc.stdout
        with sink.lock:
            spans, metrics, logs = list(sink.spans), list(sink.metrics), list(sink.logs)
    assert {s["resource"]["service.name"] for s in spans} == {"omie-mcp-demo"}
    tool_spans = [s for s in spans if s["name"].startswith("tools/call ")]
    omie_spans = [s for s in spans if s["name"].startswith("omie ")]
    assert tool_spans and omie_spans
    assert {s["parent_span_id"] for s in omie_spans} & {s["span_id"] for s in tool_spans}
    names = {m["name"] for m in metrics}
    assert {sc.MCP_SERVER_OPERATION_DURATION, sc.OMIE_CLIENT_REQUEST_DURATION, sc.PROCESS_MEMORY_USAGE} <= names
    assert any(log["trace_id"].strip("0") for log in logs)
    exported = json.dumps([spans, logs], default=str)
    assert DEFAULT_APP_SECRET not in exported and DEFAULT_APP_KEY not in exported


def test_render_reads_percentiles_and_rates_from_buckets() -> None:
    summary = Summary(
        tools={"consultar_clientes": Histogram((0.1, 0.5), (0, 10, 0), 0.2, 0.4)},
        tool_errors={"consultar_clientes": Counter({"tool_error": 2})},
        omie={"ListarClientes": Histogram((0.1, 0.5), (5, 5, 0), 0.05, 0.3)},
        omie_faults={"ListarClientes": Counter({"redundant": 1})},
    )
    text = render(summary, elapsed=5.0)
    row = next(m for m in ROW.finditer(text) if m["name"] == "consultar_clientes")
    assert (row["count"], row["rate"], row["p50"], row["p95"]) == ("10", "2.0", "300", "390")
    assert row["tail"] == "tool_error 2"
    assert re.search(r"^  todas\s+10\s+100\s+280  redundant 1$", text, re.M)
