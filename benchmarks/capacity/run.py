"""``make capacity``: how many MCP requests per minute one example Omie MCP server carries, bare and instrumented.

For each profile, two copies of ``benchmarks/capacity/server.py`` run side by side on 127.0.0.1 — ``bare`` (no
``instrument()``) and ``instrumented`` (exporting over OTLP to the real collector of ``scripts/stack.sh``) — each
against its own Omie simulator with Omie-like latency (100–300 ms) and faults (2 % random transient faults, which
the client retries). Locust (``mcp_user.McpArrivals``: MCP sessions over streamable HTTP, open-loop Poisson
arrivals) offers stepped rates, bare and instrumented alternating at every step, until p95 > 2 s or errors > 1 %.

Profiles:
  omie      the simulator enforces Omie's own limits (240 req/min per method, 960 per IP, 4 concurrent per method,
            the 425 block after repeated errors): what a server can do against the real Omie with one app_key.
  servidor  those limits lifted: what the MCP server process itself carries (CPU, event loop).

Per step: offered and achieved req/min, p50/p95/p99 (from the scheduled arrival), error %, server CPU (% of one
core) and peak RSS; for the instrumented server also what the collector received and dropped. Results go to
``--out`` (JSON + PNG); a Markdown table is printed.

Usage (from the repository root; the whole run stays under ~10 minutes):
    python benchmarks/capacity/run.py [--profiles omie,servidor] [--step-seconds 15]
Environment: STACK_PORT_OFFSET (the stack to use or start; stopped at the end only if this run started it).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from locust.env import Environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _collector import counters  # noqa: E402
from _harness import ROOT, ensure_stack, free_port, wait_until  # noqa: E402
from _harness import stack as stack_sh  # noqa: E402
from _knee import P95_LIMIT_S, first_failure, knee, next_bisection_rate, passes  # noqa: E402
from mcp_user import McpArrivals, McpSession, tool_call  # noqa: E402
from workload import SIM_LIMITS_LIFTED  # noqa: E402

RATES = {
    "omie": [60, 120, 240, 480, 960, 1920, 3840, 7680],
    "servidor": [300, 600, 1200, 2400, 4800, 9600, 19200],
}
#: Collector counters read around every instrumented step (summed over their labels).
COLLECTOR_COUNTERS = (
    "otelcol_receiver_accepted_spans",
    "otelcol_receiver_refused_spans",
    "otelcol_receiver_accepted_metric_points",
    "otelcol_receiver_refused_metric_points",
    "otelcol_receiver_accepted_log_records",
    "otelcol_exporter_send_failed_spans",
    "otelcol_exporter_send_failed_metric_points",
    "otelcol_exporter_enqueue_failed_spans",
    "otelcol_process_cpu_seconds",
)


class Pair:
    """A simulator and a server (bare or instrumented) on free ports; stopped by :meth:`stop`."""

    def __init__(self, variant: str, profile: str, logs: Path, otlp: str) -> None:
        self.variant = variant
        sim_port, self.port = free_port(), free_port()
        sim_env = dict(os.environ) | (SIM_LIMITS_LIFTED if profile == "servidor" else {})
        sim_cmd = [sys.executable, "-m", "omie_otel.simulator", "--port", str(sim_port), "--latency-ms", "100"]
        sim_cmd += ["--jitter-ms", "200", "--fault-rate", "0.02", "--seed", "7", "--log-level", "warning"]
        self.sim = subprocess.Popen(
            sim_cmd, env=sim_env, stdout=subprocess.DEVNULL, stderr=open(logs / f"sim-{variant}.log", "w")  # noqa: SIM115 - the child holds it
        )
        env = dict(os.environ) | {"OMIE_API_URL": f"http://127.0.0.1:{sim_port}/api/v1/"}
        env = {k: v for k, v in env.items() if k not in ("OMIE_APP_KEY", "OMIE_APP_SECRET")}
        if variant == "instrumented":
            env |= {
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "omie-mcp-capacidade",
                "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id=capacidade-{profile}",
            }
        cmd = [sys.executable, str(ROOT / "benchmarks" / "capacity" / "server.py"), "--port", str(self.port)]
        cmd += ["--bare"] if variant == "bare" else []
        self.server = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(logs / f"server-{variant}.log", "w")  # noqa: SIM115 - the child holds it
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = psutil.Process(self.server.pid)
        try:
            self._ready(sim_port)
        except BaseException:
            self.stop()
            raise

    def _ready(self, sim_port: int) -> None:
        wait_until(
            lambda: (
                requests.post(f"http://127.0.0.1:{sim_port}/api/v1/geral/clientes/", json={}, timeout=2).status_code
            ),
            "simulator",
            label="capacity",
        )
        wait_until(self._mcp_ready, f"{self.variant} server", label="capacity")
        # Warm-up, not measured: the simulator builds its data set and the server its caches on first use.
        session = McpSession(f"{self.url}/mcp", 30)
        session.open()
        rng = random.Random(99)
        for _ in range(6):
            name, arguments = tool_call(rng)
            session.request("tools/call", {"name": name, "arguments": arguments})
        session.close()

    def _mcp_ready(self) -> bool:
        session = McpSession(f"{self.url}/mcp", 5)
        try:
            session.open()
            return bool(session.session_id)
        finally:
            session.close()

    def stop(self) -> None:
        for proc in (self.server, self.sim):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_step(pair: Pair, rate_per_min: float, seconds: float, metrics_url: str | None) -> dict[str, Any]:
    McpArrivals.rate = rate_per_min / 60
    McpArrivals.duration = seconds
    McpArrivals.samples = []
    McpArrivals.finished = False
    McpArrivals.arrivals_count = 0
    env = Environment(user_classes=[McpArrivals], host=pair.url)
    runner = env.create_local_runner()
    rss: list[int] = []
    sampling = True

    def sample_rss() -> None:
        while sampling:
            rss.append(pair.process.memory_info().rss)
            gevent.sleep(0.5)

    sampler = gevent.spawn(sample_rss)
    before = counters(metrics_url, COLLECTOR_COUNTERS) if metrics_url else {}
    cpu0, wall0 = pair.process.cpu_times(), time.monotonic()
    me0 = psutil.Process().cpu_times()
    runner.start(1, spawn_rate=1)
    deadline = time.monotonic() + seconds + McpArrivals.timeout + 30
    while not McpArrivals.finished and time.monotonic() < deadline:
        gevent.sleep(0.2)
    runner.quit()
    cpu1, wall1 = pair.process.cpu_times(), time.monotonic()
    me1 = psutil.Process().cpu_times()
    sampling = False
    sampler.join(timeout=2)
    samples = list(McpArrivals.samples)
    arrivals = max(McpArrivals.arrivals_count, len(samples))
    ok = sorted(latency for _, latency, _ in samples if latency is not None)
    errors = arrivals - len(ok)
    kinds: dict[str, int] = {}
    for _, latency, error in samples:
        if latency is None:
            key = error.split(":")[0] if not error.startswith("tool error") else error[:60]
            kinds[key] = kinds.get(key, 0) + 1
    if arrivals > len(samples):
        kinds["no answer before the timeout"] = arrivals - len(samples)
    busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    result: dict[str, Any] = {
        "offered_rpm": rate_per_min,
        "arrivals": arrivals,
        "arrived_rpm": round(arrivals / seconds * 60, 1),
        "achieved_rpm": round(len(ok) / seconds * 60, 1),
        "p50_s": _percentile(ok, 50),
        "p95_s": _percentile(ok, 95),
        "p99_s": _percentile(ok, 99),
        "error_pct": round(100 * errors / arrivals, 2) if arrivals else 0.0,
        "errors": kinds,
        "server_cpu_pct": round(100 * busy / (wall1 - wall0), 1),
        "server_rss_mib": round(max(rss) / 2**20, 1) if rss else None,
        "loadgen_cpu_pct": round(100 * ((me1.user + me1.system) - (me0.user + me0.system)) / (wall1 - wall0), 1),
    }
    if metrics_url:
        after = counters(metrics_url, COLLECTOR_COUNTERS)
        delta = {name: after[name] - before[name] for name in COLLECTOR_COUNTERS}
        result["collector"] = {
            "spans_per_s": round(delta["otelcol_receiver_accepted_spans"] / (wall1 - wall0), 1),
            "metric_points_per_s": round(delta["otelcol_receiver_accepted_metric_points"] / (wall1 - wall0), 1),
            "log_records_per_s": round(delta["otelcol_receiver_accepted_log_records"] / (wall1 - wall0), 1),
            "refused": delta["otelcol_receiver_refused_spans"] + delta["otelcol_receiver_refused_metric_points"],
            "export_failed": delta["otelcol_exporter_send_failed_spans"]
            + delta["otelcol_exporter_send_failed_metric_points"]
            + delta["otelcol_exporter_enqueue_failed_spans"],
            "cpu_pct": round(100 * delta["otelcol_process_cpu_seconds"] / (wall1 - wall0), 1),
        }
    return result


def run_profile(
    profile: str, seconds: float, logs: Path, stack: dict[str, str], bisections: int, resolution: float
) -> dict[str, list[dict[str, Any]]]:
    """Coarse steps (doubling) for both variants, alternating; then up to ``bisections`` rounds per variant between
    its last pass and its first failure, still alternating, so a knee is known to within ``resolution`` (a fraction)
    or one bisection interval."""
    pairs: dict[str, Pair] = {}
    steps: dict[str, list[dict[str, Any]]] = {"bare": [], "instrumented": []}
    stale: set[str] = set()  # variants whose last step failed: restarted before their next step
    try:
        for variant in ("bare", "instrumented"):
            pairs[variant] = Pair(variant, profile, logs, stack["OTELCOL_OTLP_HTTP_ENDPOINT"])

        def measure(variant: str, rate: float, phase: str) -> None:
            if variant in stale:
                # What a failing step leaves behind outlives it (the simulator's 30-minute 425 block after repeated
                # errors, a backlog in the server): the next step, a bisection below that rate, starts from a fresh
                # simulator and server, as the first step did.
                pairs[variant].stop()
                pairs[variant] = Pair(variant, profile, logs, stack["OTELCOL_OTLP_HTTP_ENDPOINT"])
                stale.discard(variant)
            metrics = stack["OTELCOL_METRICS_URL"] if variant == "instrumented" else None
            step = run_step(pairs[variant], rate, seconds, metrics) | {"phase": phase}
            steps[variant].append(step)
            print(
                f"{profile:9} {variant:12} {phase:6} offered {rate:6} req/min  achieved {step['achieved_rpm']:7}  "
                f"p95 {step['p95_s'] or float('nan'):6.2f} s  errors {step['error_pct']:5.1f} %  "
                f"cpu {step['server_cpu_pct']:5.1f} %  rss {step['server_rss_mib']} MiB  {step.get('collector', '')}",
                flush=True,
            )
            if not passes(step):
                stale.add(variant)
            gevent.sleep(2)

        for rate in RATES[profile]:
            for variant in pairs:
                if first_failure(steps[variant]) is None:  # past its knee already otherwise
                    measure(variant, rate, "degrau")
            if all(first_failure(s) is not None for s in steps.values()):
                break
        for round_ in range(bisections):
            order = list(pairs) if round_ % 2 == 0 else list(reversed(pairs))
            todo = {v: next_bisection_rate(steps[v], resolution) for v in order}
            if all(rate is None for rate in todo.values()):
                break
            for variant in order:
                if todo[variant] is not None:
                    measure(variant, todo[variant], "bissec")
    finally:
        for pair in pairs.values():
            pair.stop()
    return steps


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f}"


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for profile, steps in results["profiles"].items():
        lines.append(f"\n### Perfil `{profile}`\n")
        lines.append(
            "| oferecido (req/min) | variante | obtido (req/min) | p50 (ms) | p95 (ms) | p99 (ms) | erros (%) "
            "| CPU servidor (% de 1 núcleo) | RSS (MiB) |"
        )
        lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        rates = sorted({s["offered_rpm"] for v in steps.values() for s in v})
        for rate in rates:
            for variant in ("bare", "instrumented"):
                for s in steps[variant]:
                    if s["offered_rpm"] == rate:
                        lines.append(
                            f"| {rate:.0f}{' (bissecção)' if s.get('phase') == 'bissec' else ''} "
                            f"| {'sem' if variant == 'bare' else 'com'} instrument() | {s['achieved_rpm']:.0f} "
                            f"| {_ms(s['p50_s'])} | {_ms(s['p95_s'])} | {_ms(s['p99_s'])} | {s['error_pct']:.1f} "
                            f"| {s['server_cpu_pct']:.0f} | {s['server_rss_mib']:.0f} |"
                        )
        k = results["knees"][profile]
        ratio = f"{k['ratio'] * 100:.0f} %" if k["ratio"] is not None else "—"

        def fail(rate: float | None) -> str:
            return f"1ª falha a {rate:.0f}" if rate is not None else "nenhum degrau falhou"

        lines.append(
            f"\nJoelho: sem instrument() {k['bare']} req/min ({fail(k.get('bare_first_failure'))}), "
            f"com instrument() {k['instrumented']} req/min ({fail(k.get('instrumented_first_failure'))}); "
            f"razão {ratio}."
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = list(results["profiles"])
    fig, axes = plt.subplots(2, len(profiles), figsize=(6 * len(profiles), 8), squeeze=False)
    for col, profile in enumerate(profiles):
        for variant, style in (("bare", "o-"), ("instrumented", "s--")):
            steps = sorted(results["profiles"][profile][variant], key=lambda s: s["offered_rpm"])
            x = [s["offered_rpm"] for s in steps]
            label = "sem instrument()" if variant == "bare" else "com instrument()"
            axes[0][col].plot(x, [(s["p95_s"] or float("nan")) * 1000 for s in steps], style, label=f"p95 {label}")
            axes[1][col].plot(x, [s["achieved_rpm"] for s in steps], style, label=f"obtido {label}")
        axes[0][col].axhline(P95_LIMIT_S * 1000, color="red", linewidth=1, label="limite p95 2 s")
        axes[1][col].plot(x, x, ":", color="gray", label="oferecido")
        axes[1][col].axhline(100, color="orange", linewidth=1, label="meta do plano: 100 req/min")
        for ax, ylabel in ((axes[0][col], "p95 (ms)"), (axes[1][col], "req/min obtidas")):
            ax.set_xscale("log")
            ax.set_xlabel("req/min oferecidas (chegadas em malha aberta)")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        axes[0][col].set_title(f"perfil {profile}")
    fig.suptitle("Capacidade de um servidor MCP do Omie (exemplo), sem e com omie-otel")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description="Capacity of one Omie MCP server, bare and instrumented.")
    parser.add_argument("--profiles", default="omie,servidor")
    parser.add_argument("--step-seconds", type=float, default=15)
    parser.add_argument("--out", default=str(ROOT / "docs" / "capacity"))
    parser.add_argument("--bisections", type=int, default=4, help="rounds between last pass and first failure")
    parser.add_argument("--resolution", type=float, default=0.05, help="stop bisecting within this fraction")
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in RATES]
    if unknown:
        print(f"capacity: unknown profile(s) {unknown}; choose from {sorted(RATES)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    logs = ROOT / ".stack" / "capacity-logs"
    out.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    stack, started = ensure_stack("capacity")
    began = time.time()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(began)),
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg(),
        },
        "step_seconds": args.step_seconds,
        "profiles": {},
        "knees": {},
    }
    try:
        for profile in profiles:
            results["profiles"][profile] = steps = run_profile(
                profile, args.step_seconds, logs, stack, args.bisections, args.resolution
            )
            k_bare, k_instr = knee(steps["bare"]), knee(steps["instrumented"])
            results["knees"][profile] = {
                "bare": k_bare,
                "instrumented": k_instr,
                "bare_first_failure": first_failure(steps["bare"]),
                "instrumented_first_failure": first_failure(steps["instrumented"]),
                "ratio": (k_instr / k_bare) if k_bare and k_instr else None,
            }
    finally:
        if started:
            stack_sh("down")
    results["minutes"] = round((time.time() - began) / 60, 1)
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    (out / "capacity-results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    plot(results, out / "capacity.png")
    print(markdown(results))
    print(f"\ncapacity: {results['minutes']} min; results in {out}/capacity-results.json and capacity.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
