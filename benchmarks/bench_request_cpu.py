"""CPU per MCP request of the real example server, bare vs instrumented, and where the instrumented CPU goes.

``benchmarks/capacity/server.py`` (the example Omie MCP server over streamable HTTP) runs against an Omie simulator
(100–300 ms latency, Omie's limits lifted, no faults) and exports over OTLP/HTTP to the real collector of
``scripts/stack.sh`` (started when it is not running, stopped at the end if this run started it). A fixed open-loop
rate of ``tools/call`` requests (well below the knee, so the machine is not CPU-bound) is offered for ``--seconds``
per variant; the server's CPU (user + system, all threads, from /proc) divided by the requests answered is the CPU
per request. Every variant's server is started and warmed up first (they idle side by side); then the variants are
measured in alternation (forward, then backward order), ``--rounds`` times, so drifting machine load hits them alike.

Variants: ``bare`` (no ``instrument()``), ``full`` (defaults), and ``full`` with one feature off each — which
tells where the instrumented CPU goes:
  no-logs        OMIE_OTEL_LOGS=false (stdlib logging not bridged to OpenTelemetry)
  no-host        OMIE_OTEL_HOST_METRICS=false (no psutil host/process gauges)
  traces-none    OTEL_TRACES_EXPORTER=none (spans made, never exported)
  metrics-none   OTEL_METRICS_EXPORTER=none
  logs-none      OTEL_LOGS_EXPORTER=none

Usage (from the repository root):
    python benchmarks/bench_request_cpu.py [--rate 1800] [--seconds 30] [--rounds 3] [--variants bare,full,...]
Environment: STACK_PORT_OFFSET (the stack to use or start). ``--py-spy`` needs ``pip install py-spy`` in the venv;
``OMIE_OTEL_BENCH_CPROFILE=<file>`` makes each server write a cProfile of its event loop there (one variant at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent / "capacity"))
from _harness import ROOT, ensure_stack, free_port, proc_cpu_seconds, wait_until  # noqa: E402
from _harness import stack as stack_sh  # noqa: E402
from workload import SIM_LIMITS_LIFTED, tool_call  # noqa: E402

PROTOCOL_VERSION = "2025-06-18"
#: Waiting for a server here: only a connection error means "not up yet" (any other exception is a bug to see).
_WAIT: dict[str, Any] = {"label": "bench_request_cpu", "errors": (httpx.HTTPError, OSError)}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
VARIANTS: dict[str, dict[str, str] | None] = {
    "bare": None,
    "full": {},
    "no-logs": {"OMIE_OTEL_LOGS": "false"},
    "no-host": {"OMIE_OTEL_HOST_METRICS": "false"},
    "traces-none": {"OTEL_TRACES_EXPORTER": "none"},
    "metrics-none": {"OTEL_METRICS_EXPORTER": "none"},
    "logs-none": {"OTEL_LOGS_EXPORTER": "none"},
}


class Session:
    """One MCP session over streamable HTTP (raw JSON-RPC)."""

    ids = itertools.count(1)

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client, self.url, self.session_id = client, url, ""

    async def post(self, payload: dict[str, Any]) -> httpx.Response:
        headers = dict(HEADERS)
        if self.session_id:
            headers |= {"Mcp-Session-Id": self.session_id, "Mcp-Protocol-Version": PROTOCOL_VERSION}
        return await self.client.post(self.url, content=json.dumps(payload), headers=headers)

    async def open(self) -> None:
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        response = await self.post({"jsonrpc": "2.0", "id": next(self.ids), "method": "initialize", "params": params})
        response.raise_for_status()
        self.session_id = response.headers.get("mcp-session-id", "")
        (await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})).raise_for_status()

    async def call(self, rng: random.Random) -> bool:
        name, arguments = tool_call(rng)
        payload = {"jsonrpc": "2.0", "id": next(self.ids), "method": "tools/call"}
        response = await self.post(payload | {"params": {"name": name, "arguments": arguments}})
        if response.status_code != 200:
            return False
        text = response.text
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
        message = json.loads(text)
        return "result" in message and not message["result"].get("isError")


async def _drive(url: str, rate_per_s: float, seconds: float, seed: int) -> tuple[int, int]:
    """Offer ``rate_per_s`` calls per second (fixed interval, open loop) for ``seconds``; (ok, failed)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        sessions = [Session(client, url) for _ in range(16)]
        await asyncio.gather(*(s.open() for s in sessions))
        rng = random.Random(seed)
        results: list[bool] = []

        async def one(session: Session) -> None:
            try:
                results.append(await session.call(rng))
            except httpx.HTTPError:
                results.append(False)

        tasks = []
        start = time.monotonic()
        for i in range(int(rate_per_s * seconds)):
            delay = start + i / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(sessions[i % len(sessions)])))
        await asyncio.gather(*tasks)
        for session in sessions:
            try:
                await client.delete(url, headers={"Mcp-Session-Id": session.session_id})
            except httpx.HTTPError:
                pass
    return sum(results), len(results) - sum(results)


class Server:
    """One variant's server process, started and warmed up once; measured in several rounds."""

    def __init__(self, variant: str, sim_url: str, otlp: str, logs: Path) -> None:
        extra = VARIANTS[variant]
        env = {k: v for k, v in os.environ.items() if k not in ("OMIE_APP_KEY", "OMIE_APP_SECRET")}
        env["OMIE_API_URL"] = sim_url
        self.port = free_port()
        cmd = [sys.executable, str(ROOT / "benchmarks" / "capacity" / "server.py"), "--port", str(self.port)]
        if extra is None:
            cmd.append("--bare")
        else:
            env |= {
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "omie-mcp-bench-cpu",
                "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id=bench-cpu-{variant}",
            } | extra
        self.variant = variant
        self.log = open(logs / f"server-{variant}.log", "w")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = f"http://127.0.0.1:{self.port}/mcp"

    def warm_up(self) -> None:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1) is not None,
            f"{self.variant} server", timeout=300, **_WAIT,
        )
        asyncio.run(_drive(self.url, 10, 3, 1000))  # imports, caches, first exports: not measured

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _measure(server: Server, args: argparse.Namespace, seed: int) -> dict[str, float]:
    time.sleep(args.settle)
    spy = None
    if args.py_spy:  # sampling pauses the server: profile runs are for the where, not the how much
        out = args.logs / f"py-spy-{server.variant}-{seed}.txt"
        spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "-r", "100"]
        spy = subprocess.Popen([*spy_cmd, "--pid", str(server.process.pid), "-o", str(out)], stdout=subprocess.DEVNULL)
    cpu0, wall0 = proc_cpu_seconds(server.process.pid), time.monotonic()
    ok, failed = asyncio.run(_drive(server.url, args.rate / 60, args.seconds, seed))
    cpu1, wall1 = proc_cpu_seconds(server.process.pid), time.monotonic()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
    cpu = cpu1 - cpu0
    return {
        "ok": ok,
        "failed": failed,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall1 - wall0, 2),
        "ms_per_request": round(1000 * cpu / max(ok, 1), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1800, help="offered tools/call per minute (default 1800)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2, help="seconds between the warm-up and the measurement")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="profile each server with py-spy (collapsed stacks in"
        " --logs); sampling slows the server, so take the CPU numbers from a run without it",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--logs",
        type=Path,
        default=Path(".stack/bench-request-cpu"),
        help="server/simulator logs and py-spy output (default .stack/bench-request-cpu, git-ignored)",
    )
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose among {', '.join(VARIANTS)}")
    args.logs.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("STACK_PORT_OFFSET", "0")
    stack, started = ensure_stack("bench_request_cpu", os.environ)
    otlp = stack["OTELCOL_OTLP_HTTP_ENDPOINT"]
    sim_port = free_port()
    sim_cmd = [sys.executable, "-m", "omie_otel.simulator", "--port", str(sim_port), "--latency-ms", "100"]
    sim_cmd += ["--jitter-ms", "200", "--fault-rate", "0", "--seed", "7", "--log-level", "warning"]
    sim_log = open(args.logs / "sim.log", "w")  # noqa: SIM115 - the child holds it
    sim = subprocess.Popen(
        sim_cmd,
        env=dict(os.environ) | SIM_LIMITS_LIFTED | {"OMIE_SIM_REDUNDANCY_WINDOW_S": "0"},
        stdout=subprocess.DEVNULL,
        stderr=sim_log,
    )
    sim_url = f"http://127.0.0.1:{sim_port}/api/v1/"
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    servers: list[Server] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the children on kill too
    try:
        wait_until(
            lambda: httpx.post(f"{sim_url}geral/clientes/", json={}, timeout=2), "simulator", **_WAIT
        )
        servers = [Server(v, sim_url, otlp, args.logs) for v in variants]
        for server in servers:
            server.warm_up()
        for round_ in range(args.rounds):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                row = _measure(server, args, seed=round_)
                results[server.variant].append(row)
                print(f"round {round_ + 1} {server.variant:13s} {row}", flush=True)
    finally:
        for server in servers:
            server.stop()
        sim.terminate()
        sim.wait(timeout=15)
        sim_log.close()
        if started:
            stack_sh("down")
    summary = _summary(results)
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"logs": str(args.logs), "out": str(args.out)},
                    "results": results,
                    "summary": summary,
                },
                indent=2,
            )
        )
    return 0


def _summary(results: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per variant: median CPU ms per request, its range, and the median of the per-round differences to ``bare``
    (paired: the same round, back to back), which cancels most of a shared machine's drift."""
    bare_rows = results.get("bare") or []
    print("\n| variant | CPU ms/request, median (min–max) | − bare, paired median (per round) | bare/this | failed |")
    print("|---|---|---|---|---|")
    summary = {}
    for variant, rows in results.items():
        values = [r["ms_per_request"] for r in rows]
        median = statistics.median(values)
        summary[variant] = {"median_ms": median, "min_ms": min(values), "max_ms": max(values)}
        added = ratio = ""
        if bare_rows and variant != "bare":
            diffs = [r["ms_per_request"] - b["ms_per_request"] for r, b in zip(rows, bare_rows, strict=False)]
            summary[variant]["paired_added_ms"] = statistics.median(diffs)
            added = f"{statistics.median(diffs):+.2f} ({', '.join(f'{d:+.2f}' for d in diffs)})"
            ratio = f"{statistics.median(b['ms_per_request'] for b in bare_rows) / median:.2f}"
        failed = sum(int(r["failed"]) for r in rows)
        print(f"| {variant} | {median:.2f} ({min(values):.2f}–{max(values):.2f}) | {added} | {ratio} | {failed} |")
    return summary


if __name__ == "__main__":
    sys.exit(main())
