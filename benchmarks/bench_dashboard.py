"""How fast does the web dashboard show data, and how heavy is it? (``omie-otel dashboard`` on the local stack)

Loads the page in Debian's headless chromium (Playwright for Python; scripts/install-browser.sh installs it) a few
times and reports, per load: the first meaningful render (navigation start → the first panel data drawn), the bytes
the page transferred (HTML, JS, CSS, uPlot and the data, gzip), and the server time of one ``/api/panels`` refresh
(one Prometheus query per dashboard target).

Goals (issue #11): first meaningful render < 1 s (median) against the local stack; the whole page < 500 KB.

Usage (a stack that had some traffic, e.g. after ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo``):
    python benchmarks/bench_dashboard.py [--url http://127.0.0.1:8400/] [--loads 7] [--service NAME]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
RENDER_GOAL_MS = 1000
PAGE_GOAL_BYTES = 500_000


def _default_url() -> str:
    env = ROOT / ".stack" / "run" / "env"
    for line in env.read_text().splitlines() if env.exists() else []:
        if line.startswith("DASHBOARD_URL="):
            return line.split("=", 1)[1]
    return "http://127.0.0.1:8400/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=_default_url())
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--service", default="")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    query = f"?range=1h&refresh=0{'&service=' + args.service if args.service else ''}"
    server_ms = []
    for _ in range(args.loads):
        start = time.perf_counter()
        httpx.get(f"{args.url}api/panels{query}", timeout=30).raise_for_status()
        server_ms.append((time.perf_counter() - start) * 1000)
    renders, weights = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(args.loads):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(args.url + query)
            page.wait_for_selector("body[data-rendered='1']", timeout=30_000)
            renders.append(page.evaluate("window.omieDashboard.state.firstRender"))
            page.wait_for_timeout(1500)
            weights.append(page.evaluate(
                "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
                ".reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)"))
            page.close()
        browser.close()
    render = statistics.median(renders)
    print(f"/api/panels (server, one refresh): median {statistics.median(server_ms):.0f} ms, "
          f"max {max(server_ms):.0f} ms")
    print(f"first meaningful render: median {render:.0f} ms, min {min(renders):.0f}, max {max(renders):.0f} "
          f"(goal < {RENDER_GOAL_MS} ms)")
    print(f"page weight: {max(weights) / 1000:.0f} KB (goal < {PAGE_GOAL_BYTES / 1000:.0f} KB)")
    return 0 if render < RENDER_GOAL_MS and max(weights) < PAGE_GOAL_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
