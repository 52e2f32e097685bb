"""The telemetry pipeline's capacity: where the collector on one core, and one process's SDK queue, break.

Two modes (``make capacity-pipeline`` runs both; not part of ``make test``):

``--mode collector``
    Our collector (``otelcol-omie`` with ``collector-config/otelcol.yaml``, as ``scripts/stack.sh`` runs it:
    memory_limiter, scrub, tail sampling, span metrics, batch, exporters to Jaeger / Prometheus remote write /
    VictoriaLogs) restarted pinned to ONE core (``taskset -c --collector-cpu``, ``GOMAXPROCS=1``), driven by
    ``telemetrygen`` (the OpenTelemetry project's Go load generator, ``tools/telemetrygen``, built from the Go module
    proxy and cached in ~/.cache/omie-otel/bin) pinned to the other core, at stepped rates of spans/s, metric
    points/s and log records/s. Per step it reads the collector's own metrics (receiver accepted/refused,
    exporter sent/send_failed/enqueue_failed, sending-queue size/capacity, CPU, RSS) and what reached the backends
    (spans Jaeger accepted, samples Prometheus appended, rows VictoriaLogs ingested), and names the first limit
    hit. The backends are pinned to the load generator's core, so the collector's core is its own (as far as the
    shared machine allows: the load average is recorded).
``--mode sdk``
    One Python process (``_sdk_load.py``) emits MCP-like spans through ``omie_otel.instrument()`` (scrubber, counting
    exporter, BatchSpanProcessor, OTLP/HTTP) at stepped rates, against the live collector, then against an
    unreachable one (nothing listening), with the SDK's defaults and with the knobs changed
    (``OTEL_BSP_MAX_QUEUE_SIZE``, ``OTEL_BSP_SCHEDULE_DELAY``). Drops are what omie-otel's self-telemetry counts
    (``omie_otel.export.dropped{error.type=queue_full}``); with the live collector the same counter is read back
    from Prometheus, where the self-telemetry metric landed.

Usage (from the repository root; the stack of STACK_PORT_OFFSET is used, or started and stopped again):
    python benchmarks/capacity/pipeline.py [--mode collector|sdk|all] [--seconds 15]
        [--traces-rates 5000,10000,...] [--metrics-rates ...] [--logs-rates ...] [--sdk-rates 1000,...,0]
Results: docs/capacity/pipeline-results.json (``--out``) and Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import free_port, proc_cpu_seconds, stack, stack_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TOOLS_DIR = ROOT / "tools" / "telemetrygen"
TELEMETRYGEN_PKG = "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen"
SIGNALS = ("traces", "metrics", "logs")
#: What each signal's items are called in the collector's own metrics, and which exporter sends them on.
ITEM = {"traces": "spans", "metrics": "metric_points", "logs": "log_records"}
EXPORTER = {"traces": "otlp_grpc/jaeger", "metrics": "prometheus_remote_write", "logs": "otlp_http/logs"}
#: 0 = as fast as telemetrygen goes (the step that finds the collector's ceiling when the paced ones do not).
DEFAULT_RATES = {"traces": "5000,10000,20000,0", "metrics": "5000,10000,20000,0", "logs": "5000,10000,20000,0"}
#: A step is healthy when the collector took at least this share of the offered rate ...
TAKEN_SHARE = 0.95
#: ... and its busiest sending queue stayed below this share of its capacity.
QUEUE_SHARE = 0.5
SERVICE = "omie-otel-pipeline-bench"


# ------------------------------------------------------------------------------------------------ parsing ---
def parse_rates(text: str, *, allow_zero: bool = False) -> list[float]:
    """``"500,1000,2k"`` -> ``[500.0, 1000.0, 2000.0]``; a bad value raises ``ValueError`` naming it and the fix."""
    rates = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(k?)", part.lower())
        value = float(match.group(1)) * (1000 if match.group(2) else 1) if match else -1.0
        if value < 0 or (value == 0 and not allow_zero):
            floor = "0 or more (0 = as fast as it goes)" if allow_zero else "above 0"
            raise ValueError(f"rate {part!r} is not a number {floor}; use e.g. 500,1000,2k")
        rates.append(value)
    return rates


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text exposition -> ``[(name, labels, value)]`` (comments and unparsable lines skipped)."""
    samples = []
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        if not match:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        try:
            samples.append((match.group(1), labels, float(match.group(3))))
        except ValueError:
            continue
    return samples


def total(samples: Iterable[tuple[str, dict[str, str], float]], name: str, **match: str) -> float:
    """Sum of ``name`` (or ``name_total``) over the samples whose labels include ``match``."""
    return sum(
        value
        for n, labels, value in samples
        if n in (name, f"{name}_total") and all(labels.get(k) == v for k, v in match.items())
    )


# ------------------------------------------------------------------------------------------------ summary ---
def verdict(step: dict[str, Any]) -> str | None:
    """The first limit a collector step hit, in pt-BR, or None when the step was healthy."""
    if step["refused"]:
        return "memory_limiter recusou dados (otelcol_receiver_refused)"
    if step["enqueue_failed"]:
        return "fila de envio cheia (otelcol_exporter_enqueue_failed)"
    if step["send_failed"]:
        return "exportação falhou (otelcol_exporter_send_failed)"
    if step.get("write_refused") or step.get("out_of_order"):
        return "Prometheus recusou escrita (remote write com código não 2xx ou amostra fora de ordem)"
    if step["accepted_per_s"] < TAKEN_SHARE * step["generated_per_s"]:
        if step["collector_cpu_pct"] >= 85:
            return "CPU do collector saturada (1 núcleo): aceitou menos do que o gerado"
        return "o collector aceitou menos do que o gerado"
    if step["collector_cpu_pct"] >= 85 and (
        not step["target_per_s"] or step["generated_per_s"] < TAKEN_SHARE * step["target_per_s"]
    ):
        return "CPU do collector saturada (1 núcleo): o gerador foi freado (backpressure)"
    if step["queue_capacity"] and step["queue_max"] > QUEUE_SHARE * step["queue_capacity"]:
        return "fila de envio crescendo (backend atrás)"
    if step["backend_per_s"] is not None and step["backend_per_s"] < TAKEN_SHARE * step["accepted_per_s"]:
        return "o backend recebeu menos do que o collector aceitou"
    return None


def knee(steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per signal: the highest healthy accepted rate, and the first broken step (rate and why)."""
    out: dict[str, Any] = {}
    for signal in SIGNALS:
        mine = [s for s in steps if s["signal"] == signal]
        if not mine:
            continue
        healthy = [s for s in mine if s["verdict"] is None]
        broken = [s for s in mine if s["verdict"] is not None]
        best = max(healthy, key=lambda s: s["accepted_per_s"], default=None)
        out[signal] = {
            "max_healthy_per_s": best["accepted_per_s"] if best else 0,
            "cpu_pct_at_max_healthy": best["collector_cpu_pct"] if best else None,
            "per_core_at_100pct_cpu": (
                round(100 * best["accepted_per_s"] / best["collector_cpu_pct"])
                if best and best["collector_cpu_pct"]
                else None
            ),
            "first_break_target_per_s": broken[0]["target_per_s"] if broken else None,
            "first_break_accepted_per_s": broken[0]["accepted_per_s"] if broken else None,
            "first_break": broken[0]["verdict"] if broken else None,
        }
    return out


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: the text columns left-aligned, the numbers right-aligned."""
    align = ["---" if h in ("sinal", "collector", "ajuste", "resultado") else "---:" for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def collector_table(steps: Sequence[dict[str, Any]]) -> str:
    header = (
        "sinal", "pedido/s", "gerado/s", "aceito pelo collector/s", "chegou ao backend/s", "recusado", "falha envio",
        "fila máx/capac.", "CPU collector (% de 1 núcleo)", "RSS (MiB)", "CPU gerador (%)", "resultado",
    )
    return markdown_table(header, (
        (
            s["signal"], f"{s['target_per_s']:.0f}" if s["target_per_s"] else "máx.",
            f"{s['generated_per_s']:.0f}", f"{s['accepted_per_s']:.0f}",
            "—" if s["backend_per_s"] is None else f"{s['backend_per_s']:.0f}", s["refused"],
            s["send_failed"] + s["enqueue_failed"], f"{s['queue_max']}/{s['queue_capacity']}",
            s["collector_cpu_pct"], s["collector_rss_max_mib"], s["generator_cpu_pct"], s["verdict"] or "ok",
        )
        for s in steps
    ))


def sdk_table(steps: Sequence[dict[str, Any]]) -> str:
    header = (
        "collector", "ajuste", "alvo (spans/s)", "gerados/s", "descartados (queue_full)", "1º descarte após (s)",
        "fila máx/capac.", "exportados", "falhas", "CPU do processo (%)", "RSS (MiB)",
    )
    return markdown_table(header, (
        (
            s["collector"], s["knob"], f"{s['target_spans_per_s']:.0f}" if s["target_spans_per_s"] else "máx.",
            f"{s['made_per_s']:.0f}", s["dropped_queue_full"],
            "—" if s["first_drop_after_s"] is None else s["first_drop_after_s"],
            f"{s['max_queue']}/{s['queue_capacity']}", s["exported"], s["export_failed"], s["process_cpu_pct"],
            s["rss_mib"],
        )
        for s in steps
    ))


# -------------------------------------------------------------------------------------------------- stack ---
def stack_pid(env: dict[str, str], name: str) -> int:
    return int((Path(env["STACK_DIR"]) / "pids" / f"{name}.pid").read_text().strip())


def restart_collector(cpu: str | None, extra_config: Path | None = None) -> None:
    """Restart the stack's collector, pinned to ``cpu`` with GOMAXPROCS=1, or unpinned (``None``)."""
    stack("stop", "otelcol")
    env = dict(os.environ)
    env.pop("GOMAXPROCS", None)
    env.pop("STACK_OTELCOL_EXTRA_CONFIG", None)
    if extra_config is not None:
        env["STACK_OTELCOL_EXTRA_CONFIG"] = str(extra_config)
    prefix: list[str] = []
    if cpu is not None:
        env["GOMAXPROCS"] = "1"
        prefix = ["taskset", "-c", cpu]
    done = stack("start", "otelcol", env=env, prefix=prefix)
    if done.returncode:
        raise RuntimeError(f"pipeline: the collector did not restart: {done.stderr[-2000:]}")


def pin(pid: int, cpus: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, check=False)


def allowed_cpus(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# ---------------------------------------------------------------------------------------------- telemetrygen ---
def telemetrygen() -> Path:
    """The telemetrygen binary: from the cache, or built there (keyed like scripts/stack.sh's binaries)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    goenv = subprocess.run([go, "env", "GOVERSION", "GOOS", "GOARCH"], capture_output=True, check=True).stdout
    key = hashlib.sha256(goenv + (TOOLS_DIR / "go.mod").read_bytes() + (TOOLS_DIR / "go.sum").read_bytes())
    cache = Path(os.environ.get("OMIE_OTEL_STACK_CACHE") or Path.home() / ".cache" / "omie-otel" / "bin")
    binary = cache / f"telemetrygen-{key.hexdigest()[:16]}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f"{binary.name}.tmp.{os.getpid()}")
        print(f"pipeline: building telemetrygen into {binary} (minutes the first time)", file=sys.stderr)
        subprocess.run(
            ["nice", "-n", "10", go, "build", "-buildvcs=false", "-trimpath", "-ldflags=-s -w", "-o", str(tmp),
             TELEMETRYGEN_PKG],
            cwd=TOOLS_DIR, check=True,
        )
        tmp.rename(binary)
    return binary


# ------------------------------------------------------------------------------------------ collector mode ---
class Urls:
    def __init__(self, env: dict[str, str]) -> None:
        off = int(env.get("STACK_PORT_OFFSET", "0"))
        self.otlp_grpc = env["OTELCOL_OTLP_GRPC_ENDPOINT"].removeprefix("http://")
        self.collector = env["OTELCOL_METRICS_URL"]
        self.jaeger = f"http://127.0.0.1:{int(os.environ.get('STACK_JAEGER_METRICS_PORT', 18888)) + off}/metrics"
        self.prometheus = env["PROMETHEUS_URL"]
        self.victorialogs = env["VICTORIALOGS_URL"]


def _scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    return parse_metrics(requests.get(url, timeout=5).text)


def backend_count(urls: Urls, signal: str) -> float:
    """What the backend of ``signal`` has taken in so far (spans / samples / rows)."""
    if signal == "traces":
        return total(_scrape(urls.jaeger), "otelcol_receiver_accepted_spans")
    if signal == "metrics":
        return total(_scrape(f"{urls.prometheus}/metrics"), "prometheus_tsdb_head_samples_appended")
    return total(_scrape(f"{urls.victorialogs}/metrics"), "vl_rows_ingested")


def prometheus_write_counts(urls: Urls) -> dict[str, float]:
    """Prometheus' side of remote write: requests answered 2xx / not, and samples refused as out of order."""
    samples = _scrape(f"{urls.prometheus}/metrics")
    writes = [(labels, value) for name, labels, value in samples
              if name == "prometheus_http_requests_total" and labels.get("handler") == "/api/v1/write"]
    return {
        "write_ok": sum(v for labels, v in writes if labels.get("code", "").startswith("2")),
        "write_refused": sum(v for labels, v in writes if not labels.get("code", "").startswith("2")),
        "out_of_order": total(samples, "prometheus_tsdb_out_of_order_samples_total"),
    }


def _collector_counts(urls: Urls, signal: str) -> dict[str, float]:
    samples = _scrape(urls.collector)
    item, exporter = ITEM[signal], EXPORTER[signal]
    return {
        "accepted": total(samples, f"otelcol_receiver_accepted_{item}", receiver="otlp"),
        "refused": total(samples, f"otelcol_receiver_refused_{item}", receiver="otlp"),
        "sent": total(samples, f"otelcol_exporter_sent_{item}", exporter=exporter),
        "send_failed": total(samples, f"otelcol_exporter_send_failed_{item}"),
        "enqueue_failed": total(samples, f"otelcol_exporter_enqueue_failed_{item}"),
        "queue_size": total(samples, "otelcol_exporter_queue_size", exporter=exporter),
        "queue_capacity": total(samples, "otelcol_exporter_queue_capacity", exporter=exporter),
        "tail_dropped_too_early": total(samples, "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early"),
    }


#: telemetrygen paces each worker with a rate limiter of burst 1, which cannot wait less than ~0.6 ms at a time (a
#: worker asked for 5 000/s makes ~1 600/s): keep every worker at or under this rate and add workers instead.
PER_WORKER_RATE = 500


#: Rate 0 = as fast as telemetrygen goes, with this many workers (or metric processes).
UNTHROTTLED_WORKERS = 8
#: Metrics: one telemetrygen process per this many points/s, one worker each (see generator_commands).
PER_METRICS_PROCESS = 1000


def generator_workers(rate: float) -> int:
    return max(1, math.ceil(rate / PER_WORKER_RATE)) if rate else UNTHROTTLED_WORKERS


def generator_commands(tg: Path, endpoint: str, signal: str, rate: float, seconds: float, cpu: str) -> list[list[str]]:
    """The telemetrygen command lines of one step (rate 0 = unthrottled)."""
    base = [
        "taskset", "-c", cpu, str(tg), signal, "--otlp-endpoint", endpoint, "--otlp-insecure",
        "--duration", f"{seconds:g}s", "--service", SERVICE, "--allow-export-failures", "--interval", "3600s",
    ]
    if signal != "metrics":
        workers = generator_workers(rate)
        extra = ["--workers", str(workers), "--rate", f"{rate / workers:g}", "--batch-size", "512"]
        if signal == "traces":
            extra += ["--child-spans", "1"]  # 2 spans per trace, like a tool call and its Omie call
        return [base + extra]
    # Metrics: each series gets one point per second (telemetrygen's "timebox" attribute, reset every second), as when
    # many SDKs push their series: a process at R points/s keeps R series. One worker per process (the workers of a
    # process share the timebox and their buffers interleave), and each process is its own SDK instance
    # (service.instance.id -> the "instance" label): processes sharing one resource shared its target_info series,
    # whose samples then reached Prometheus out of order and made it refuse the whole write request (HTTP 400).
    count = max(1, math.ceil(rate / PER_METRICS_PROCESS)) if rate else UNTHROTTLED_WORKERS
    return [
        base + [
            "--workers", "1", "--rate", f"{rate / count:g}", "--batch-size", "1000", "--unique-timeseries",
            "--unique-timeseries-duration", "1s", "--otlp-attributes", f'service.instance.id="gen-{i}"',
        ]
        for i in range(count)
    ]


def generated_items(log: str, signal: str) -> int:
    """Items telemetrygen made, from its workers' closing lines (``traces generated {"worker": 0, "traces": N}``).

    A trace is two spans here (``--child-spans 1``)."""
    made = sum(int(n) for n in re.findall(rf'{signal} generated\s.*"{signal}": (\d+)', log))
    return 2 * made if signal == "traces" else made


def collector_step(
    tg: Path, urls: Urls, pid: int, signal: str, rate: float, seconds: float, load_cpu: str
) -> dict[str, Any]:
    cmds = generator_commands(tg, urls.otlp_grpc, signal, rate, seconds, load_cpu)
    workers = len(cmds) if signal == "metrics" else generator_workers(rate)
    before, backend0 = _collector_counts(urls, signal), backend_count(urls, signal)
    writes0 = prometheus_write_counts(urls) if signal == "metrics" else {}
    cpu0, rusage0 = proc_cpu_seconds(pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    queue_max, rss_max = 0.0, proc_rss_mib(pid)
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"telemetrygen-{os.getpid()}.log"
    with open(log, "w") as out:
        procs = [subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT) for cmd in cmds]
        while any(proc.poll() is None for proc in procs):
            time.sleep(0.5)
            counts = _collector_counts(urls, signal)
            queue_max, rss_max = max(queue_max, counts["queue_size"]), max(rss_max, proc_rss_mib(pid))
    generated = generated_items(log.read_text(errors="replace"), signal)
    log.unlink()
    load_s = time.monotonic() - t0
    cpu_load = proc_cpu_seconds(pid) - cpu0
    rusage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    accepted_at_end = _collector_counts(urls, signal)["accepted"] - before["accepted"]
    # Drain: the batch processor (1 s), tail sampling's decision_wait (2 s in the stack) and the sending queues.
    last, still = None, 0
    for _ in range(60):
        time.sleep(0.5)
        counts = _collector_counts(urls, signal)
        queue_max, rss_max = max(queue_max, counts["queue_size"]), max(rss_max, proc_rss_mib(pid))
        if counts["queue_size"] == 0 and counts["sent"] - before["sent"] >= counts["accepted"] - before["accepted"]:
            break
        now = (counts["sent"], backend_count(urls, signal))
        still = still + 1 if now == last else 0
        if still >= 6 and counts["queue_size"] == 0:
            break
        last = now
    time.sleep(1)  # the backend's own pipeline (Jaeger's batch, VictoriaLogs' buffer)
    after, backend1 = _collector_counts(urls, signal), backend_count(urls, signal)
    d = {k: after[k] - before[k] for k in before}
    gen_cpu = (rusage1.ru_utime + rusage1.ru_stime) - (rusage0.ru_utime + rusage0.ru_stime)
    step: dict[str, Any] = {
        "signal": signal,
        "target_per_s": rate,
        "load_seconds": round(load_s, 1),
        # What telemetrygen made: below the target when its core (shared with the backends) could not keep the pace.
        "generated_per_s": round(generated / seconds, 1),
        "accepted_per_s": round(accepted_at_end / seconds, 1),
        "accepted": int(d["accepted"]),
        "refused": int(d["refused"]),
        "sent": int(d["sent"]),
        "send_failed": int(d["send_failed"]),
        "enqueue_failed": int(d["enqueue_failed"]),
        "queue_max": int(queue_max),
        "queue_capacity": int(after["queue_capacity"]),
        "tail_dropped_too_early": int(d["tail_dropped_too_early"]),
        "backend_received": int(backend1 - backend0),
        # Prometheus' appended samples include its own scrapes; Jaeger's and VictoriaLogs' counts are ours alone.
        "backend_per_s": round((backend1 - backend0) / seconds, 1),
        "collector_cpu_pct": round(100 * cpu_load / load_s, 1),
        "collector_rss_max_mib": rss_max,
        "generator_cpu_pct": round(100 * gen_cpu / load_s, 1),
        "generator_workers": workers,
    }
    if signal == "metrics":
        step["backend_per_s"] = None if step["backend_received"] < 0 else step["backend_per_s"]
        step.update({k: int(v - writes0[k]) for k, v in prometheus_write_counts(urls).items()})
    step["verdict"] = verdict(step)
    return step


#: The outage scenario's collector: the stack's config in a container of 320 MiB (the memory_limiter's own rule,
#: 80 % of the memory limit, applied to 320 MiB; on this 24 GiB machine the percentage would never be reached).
MEMORY_OVERLAY = """\
processors:
  memory_limiter:
    limit_mib: 256
    spike_limit_mib: 64
"""


def run_outage(
    tg: Path, urls: Urls, env: dict[str, str], rate: float, seconds: float, cpu: str, load_cpu: str
) -> dict[str, Any]:
    """Jaeger stopped while spans keep coming: what fills first (the sending queue or the memory limit), and how
    much memory a queued span costs. Jaeger is started again at the end and the drain is recorded."""
    overlay = Path(env["STACK_DIR"]) / "pipeline-memory-overlay.yaml"
    overlay.write_text(MEMORY_OVERLAY)
    restart_collector(cpu, overlay)
    pid = stack_pid(env, "otelcol")
    time.sleep(2)
    before = _collector_counts(urls, "traces")
    rss0 = proc_rss_mib(pid)
    stack("stop", "jaeger")
    timeline: list[dict[str, Any]] = []
    cmd = generator_commands(tg, urls.otlp_grpc, "traces", rate, seconds, load_cpu)[0]
    t0 = time.monotonic()
    try:
        with open(os.devnull, "w") as quiet:
            proc = subprocess.Popen(cmd, stdout=quiet, stderr=subprocess.STDOUT)
            while proc.poll() is None:
                time.sleep(1)
                c = _collector_counts(urls, "traces")
                timeline.append({
                    "t": round(time.monotonic() - t0, 1),
                    "accepted": int(c["accepted"] - before["accepted"]),
                    "refused": int(c["refused"] - before["refused"]),
                    "enqueue_failed": int(c["enqueue_failed"] - before["enqueue_failed"]),
                    "send_failed": int(c["send_failed"] - before["send_failed"]),
                    "sent": int(c["sent"] - before["sent"]),
                    "queue_size": int(c["queue_size"]),
                    "queue_capacity": int(c["queue_capacity"]),
                    "rss_mib": proc_rss_mib(pid),
                })
    finally:
        stack("start", "jaeger", prefix=["taskset", "-c", load_cpu])
    pin(stack_pid(env, "jaeger"), load_cpu)
    drain_start = time.monotonic()
    while time.monotonic() - drain_start < 120 and _collector_counts(urls, "traces")["queue_size"] > 0:
        time.sleep(1)
    after = _collector_counts(urls, "traces")
    first = {
        key: next((p["t"] for p in timeline if p[key] > 0), None)
        for key in ("refused", "enqueue_failed", "send_failed")
    }
    peak = max(timeline, key=lambda p: p["rss_mib"]) if timeline else {"rss_mib": rss0, "accepted": 0, "sent": 0}
    backlog = peak["accepted"] - peak["sent"]
    return {
        "rate_spans_per_s": rate,
        "seconds": seconds,
        "memory_limit_mib": 256,
        "rss_before_mib": rss0,
        "rss_peak_mib": peak["rss_mib"],
        "backlog_spans_at_peak": backlog,
        "mib_per_100k_queued_spans": round(100_000 * (peak["rss_mib"] - rss0) / backlog, 1) if backlog > 0 else None,
        "first_refused_after_s": first["refused"],
        "first_enqueue_failed_after_s": first["enqueue_failed"],
        "first_send_failed_after_s": first["send_failed"],
        "refused_total": int(after["refused"] - before["refused"]),
        "enqueue_failed_total": int(after["enqueue_failed"] - before["enqueue_failed"]),
        "send_failed_total": int(after["send_failed"] - before["send_failed"]),
        "sent_after_restart": int(after["sent"] - before["sent"]),
        "drain_seconds": round(time.monotonic() - drain_start, 1),
        "timeline": timeline,
    }


def run_collector(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    tg = telemetrygen()
    urls = Urls(env)
    restart_collector(args.collector_cpu, args.collector_overlay)
    for name in ("jaeger", "prometheus", "victorialogs"):
        pin(stack_pid(env, name), args.load_cpu)
    pid = stack_pid(env, "otelcol")
    pinned = allowed_cpus(pid)
    print(f"pipeline: collector pid {pid} on CPU {pinned}, GOMAXPROCS=1; load on CPU {args.load_cpu}", file=sys.stderr)
    steps: list[dict[str, Any]] = []
    try:
        time.sleep(2)
        for signal in args.signals:
            broken = 0
            for rate in args.rates[signal]:
                step = collector_step(tg, urls, pid, signal, rate, args.seconds, args.load_cpu)
                steps.append(step)
                print(json.dumps(step), flush=True)
                broken += step["verdict"] is not None
                if broken > args.after_break:
                    break
        outage = None
        if args.outage_seconds > 0:
            outage = run_outage(
                tg, urls, env, args.outage_rate, args.outage_seconds, args.collector_cpu, args.load_cpu
            )
            print(json.dumps({k: v for k, v in outage.items() if k != "timeline"}), flush=True)
    finally:
        for name in ("jaeger", "prometheus", "victorialogs"):
            pin(stack_pid(env, name), f"0-{(os.cpu_count() or 1) - 1}")
        restart_collector(None)
    return {
        "collector_cpus": pinned, "gomaxprocs": 1, "load_cpus": args.load_cpu, "steps": steps, "knee": knee(steps),
        "outage": outage,
    }


# ------------------------------------------------------------------------------------------------ sdk mode ---
def sdk_step(endpoint: str, rate: float, seconds: float, knob: dict[str, str], cpu: str, flush: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OMIE_OTEL_"))}
    service = f"omie-otel-pipeline-sdk-{int(time.time() * 1000)}"
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_SERVICE_NAME=service,
        PIPELINE_SDK_FLUSH="1" if flush else "0", PYTHONPATH=str(ROOT / "src"), **knob,
    )
    done = subprocess.run(
        ["taskset", "-c", cpu, sys.executable, str(HERE / "_sdk_load.py"), str(rate), str(seconds)],
        capture_output=True, text=True, env=env, timeout=seconds + 120, check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"pipeline: the SDK step failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["service"] = service
    return result


def prometheus_dropped(prometheus: str, service: str) -> float | None:
    """``omie_otel.export.dropped{error.type=queue_full}`` of ``service`` as Prometheus has it (None = no series)."""
    query = f'sum(omie_otel_export_dropped_total{{job="{service}",error_type="queue_full"}})'
    for _ in range(10):
        data = requests.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
        result = data.get("data", {}).get("result", [])
        if result:
            return float(result[0]["value"][1])
        time.sleep(1)
    return None


def run_sdk(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    live = env["OTELCOL_OTLP_HTTP_ENDPOINT"]
    dead = f"http://127.0.0.1:{free_port()}"
    plan: list[tuple[str, str, dict[str, str], float, float]] = []
    for rate in args.sdk_rates:
        plan.append(("no ar", "padrão", {}, rate, args.seconds))
    for knob_name, knob in (
        ("OTEL_BSP_MAX_QUEUE_SIZE=8192", {"OTEL_BSP_MAX_QUEUE_SIZE": "8192"}),
        ("OTEL_BSP_SCHEDULE_DELAY=500", {"OTEL_BSP_SCHEDULE_DELAY": "500"}),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2048", {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048"}),
    ):
        plan.append(("no ar", knob_name, knob, 0, args.seconds))
    for rate in args.sdk_dead_rates:
        plan.append(("fora do ar", "padrão", {}, rate, args.sdk_dead_seconds))
    plan.append(
        ("fora do ar", "OTEL_BSP_MAX_QUEUE_SIZE=8192", {"OTEL_BSP_MAX_QUEUE_SIZE": "8192"},
         args.sdk_dead_rates[-1], args.sdk_dead_seconds)
    )
    steps = []
    for collector, knob_name, knob, rate, seconds in plan:
        endpoint = live if collector == "no ar" else dead
        step = sdk_step(endpoint, rate, seconds, knob, args.sdk_cpu, flush=collector == "no ar")
        step.update(collector=collector, knob=knob_name)
        if collector == "no ar":
            step["dropped_in_prometheus"] = prometheus_dropped(env["PROMETHEUS_URL"], step["service"])
        steps.append(step)
        print(json.dumps(step), flush=True)
    return {"sdk_cpu": args.sdk_cpu, "steps": steps}


def plot(collector: dict[str, Any], path: Path) -> None:
    """Accepted vs offered and the collector's CPU, per signal (matplotlib, the ``capacity`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for signal, style in zip(SIGNALS, ("o-", "s-", "^-")):
        steps = [s for s in collector["steps"] if s["signal"] == signal]
        if not steps:
            continue
        x = [s["generated_per_s"] for s in steps]
        top.plot(x, [s["accepted_per_s"] for s in steps], style, label=f"{ITEM[signal]} aceitos/s")
        bottom.plot(x, [s["collector_cpu_pct"] for s in steps], style, label=f"{ITEM[signal]}")
    every = [s["generated_per_s"] for s in collector["steps"]]
    if every:
        top.plot([min(every), max(every)], [min(every), max(every)], ":", color="gray", label="aceito = gerado")
    bottom.axhline(100, color="red", linewidth=1, label="1 núcleo")
    top.set_ylabel("itens/s aceitos pelo collector")
    bottom.set_ylabel("CPU do collector (% de 1 núcleo)")
    bottom.set_xlabel("itens/s gerados (telemetrygen)")
    for ax in (top, bottom):
        ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    top.set_yscale("log")
    fig.suptitle("otelcol-omie (otelcol.yaml) num núcleo, GOMAXPROCS=1")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------------------------------------------ main ---
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("collector", "sdk", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=15, help="length of one load step [15]")
    for signal in SIGNALS:
        parser.add_argument(f"--{signal}-rates", default=DEFAULT_RATES[signal], help=f"{ITEM[signal]}/s per step")
    parser.add_argument("--signals", default=",".join(SIGNALS), help="collector mode: which signals [all three]")
    parser.add_argument("--after-break", type=int, default=1, help="steps run past the first broken one [1]")
    parser.add_argument("--collector-cpu", default="1", help="the collector's core [1]")
    parser.add_argument("--load-cpu", default="0", help="telemetrygen's and the backends' core(s) [0]")
    parser.add_argument("--collector-overlay", type=Path, help="one more --config for the pinned collector")
    parser.add_argument("--outage-rate", type=float, default=5000, help="spans/s while Jaeger is down [5000]")
    parser.add_argument(
        "--outage-seconds", type=float, default=60, help="Jaeger-down scenario length, 0 = skip [60]"
    )
    parser.add_argument("--sdk-cpu", default="0", help="the SDK process's core [0]")
    parser.add_argument("--sdk-rates", default="1000,2000,4000,8000,0", help="spans/s, 0 = as fast as it goes")
    parser.add_argument("--sdk-dead-rates", default="100,300", help="spans/s against an unreachable collector")
    parser.add_argument("--sdk-dead-seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "capacity" / "pipeline-results.json")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.rates = {s: parse_rates(getattr(args, f"{s}_rates"), allow_zero=True) for s in SIGNALS}
        args.sdk_rates = parse_rates(args.sdk_rates, allow_zero=True)
        args.sdk_dead_rates = parse_rates(args.sdk_dead_rates)
    except ValueError as exc:
        parser.error(str(exc))
    args.signals = [s.strip() for s in args.signals.split(",") if s.strip()]
    unknown = [s for s in args.signals if s not in SIGNALS]
    if unknown:
        parser.error(f"--signals: unknown signal {unknown[0]!r}; use some of {','.join(SIGNALS)}")
    if args.seconds <= 0:
        parser.error(f"--seconds must be above 0, got {args.seconds:g}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = stack_env()
    started = False
    if "OTELCOL_METRICS_URL" not in env:
        print("pipeline: no running stack for this STACK_PORT_OFFSET; starting it", file=sys.stderr)
        up = stack("up")
        if up.returncode:
            print(up.stderr[-3000:], file=sys.stderr)
            return 1
        env, started = stack_env(), True
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_start": os.getloadavg()},
        "seconds_per_step": args.seconds,
    }
    try:
        for mode, run in (("collector", run_collector), ("sdk", run_sdk)):
            if args.mode in (mode, "all"):
                start = os.getloadavg()
                results[mode] = run(args, env)
                results[mode].update(loadavg_start=start, loadavg_end=os.getloadavg())
    finally:
        results["machine"]["loadavg_end"] = os.getloadavg()
        if started:
            stack("down")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # a run of one mode keeps the other mode's last results
        previous = json.loads(args.out.read_text())
        if isinstance(previous, dict):
            results = {**{k: v for k, v in previous.items() if k in ("collector", "sdk")}, **results}
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if "collector" in results:
        try:
            plot(results["collector"], args.out.with_suffix(".png"))
        except ImportError:
            print("pipeline: no matplotlib (pip install -e '.[capacity]'); no plot", file=sys.stderr)
        print("\n" + collector_table(results["collector"]["steps"]))
        print(json.dumps(results["collector"]["knee"], indent=2, ensure_ascii=False))
    if "sdk" in results:
        print("\n" + sdk_table(results["sdk"]["steps"]))
    print(f"\nload average: start {results['machine']['loadavg_start']}, end {results['machine']['loadavg_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
