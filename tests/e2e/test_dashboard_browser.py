"""The web dashboard (``omie-otel dashboard``, started by scripts/stack.sh) in a real browser, after a real workload.

Debian's chromium (scripts/install-browser.sh installs it when missing), headless, driven by Playwright for Python
(never ``playwright install``). A FastMCP server instrumented by omie-otel (tests/e2e/omie_probe.py) makes tool calls
and Omie calls with faults, a 425 among them; then:

- every panel but those that only show failures (the same rule as test_dashboards.py) renders data;
- the page logs no console error and no uncaught exception;
- the active-alert list shows the OmieApiMisuseBlocked alert the 425 fired, with its runbook link, and the 425 block
  shows the time left;
- a failed trace opens its span waterfall: the tool span with the Omie span as its child, attributes, logs;
- the page is usable at 390 px (no horizontal scroll) and at 1440 px; screenshots of both go to the output folder
  (``$OMIE_OTEL_E2E_OUTPUT``, default ``.stack/test-output/dashboard``), with the measured render time and weight;
- a dashboard whose backends are unreachable shows a message in every panel, never a blank page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_dashboards import MAY_BE_EMPTY, run_dashboard_workload
from tests.helpers.net import free_port, stop, wait_for_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("OMIE_OTEL_E2E_OUTPUT", ROOT / ".stack" / "test-output")) / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: The issue's bounds: first meaningful render under 1 s against the local stack, the whole page under 500 KB.
#: The render goal is measured by benchmarks/bench_dashboard.py; here, on a CI machine shared with the whole e2e
#: suite (load averages of 10 on 2 cores were seen), the test allows 3x before it calls the page slow.
RENDER_GOAL_MS = 1000
RENDER_BUDGET_MS = 3 * RENDER_GOAL_MS
PAGE_BUDGET_BYTES = 500_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        subprocess.run([str(ROOT / "scripts" / "install-browser.sh")], check=True, timeout=900)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def workload(stack: Any, eventually: Any) -> dict[str, Any]:
    """One probe run; returns the service and the dashboard URL once the dashboard's own API has its data."""
    url = stack.env.get("DASHBOARD_URL")
    assert url, f"scripts/stack.sh wrote no DASHBOARD_URL in {stack.dir / 'env'}: {stack.env}"
    assert url == f"http://127.0.0.1:{8400 + stack.port_offset}/"  # stack.sh's port mechanism, base 8400
    service = f"dashboard-browser-{uuid.uuid4().hex[:8]}"
    run_dashboard_workload(stack.otlp_http_endpoint, service)
    with httpx.Client(base_url=url, timeout=30) as api:  # closed: an unclosed socket is an error in the suite
        params = {"service": service, "range": "15m"}
        config = api.get("/api/config").json()
        core = {str(p["id"]): p["title"] for p in config["panels"] if p["title"] not in MAY_BE_EMPTY}

        def empty() -> list[str]:
            panels = api.get("/api/panels", params=params).json()["panels"]
            return [title for pid, title in core.items() if not panels[pid].get("series")]

        eventually(lambda: not empty(), timeout=150, interval=5, what=f"data in every core panel; empty: {empty()}")
        eventually(lambda: any(a["alertname"] == "OmieApiMisuseBlocked"
                               for a in api.get("/api/alerts", params=params).json()["alerts"]),
                   timeout=90, interval=2, what="OmieApiMisuseBlocked in the dashboard's alert list")
        eventually(lambda: any(t["omie"] for t in api.get("/api/traces", params=params).json()["failed"]),
                   timeout=60, interval=2, what="a failed trace with an Omie span")
    return {"service": service, "url": url, "core": core, "queries": config["queries_per_refresh"]}


def _open(browser: Any, url: str, width: int) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url)
    page.wait_for_selector("body[data-rendered='1']", timeout=15_000)
    return page, problems


def test_every_core_panel_alert_block_and_trace_in_the_browser(browser: Any, workload: dict[str, Any]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    service = workload["service"]
    url = f"{workload['url']}?service={service}&range=15m&refresh=0"
    page, problems = _open(browser, url, 1440)

    states = page.eval_on_selector_all("[data-panel-id]", "els => els.map(e => [e.dataset.panelId, e.dataset.state])")
    without = [workload["core"][pid] for pid, s in states if pid in workload["core"] and s != "data"]
    assert not without, f"core panels without data in the browser: {without}"
    assert len(states) == len(json.loads(httpx.get(f"{workload['url']}api/config").text)["panels"])
    # Charts are drawn (uPlot canvases), stats show numbers.
    assert page.locator("[data-type='timeseries'][data-state='data'] canvas").count() >= 10
    assert page.locator("[data-type='stat'] .stat .value").first.inner_text().endswith("%")

    alert = page.locator("#alerts [data-alertname='OmieApiMisuseBlocked']")
    alert.first.wait_for(timeout=10_000)
    assert alert.first.locator("a").get_attribute("href").endswith("/docs/runbooks/OmieApiMisuseBlocked.md")
    block = page.locator("#blocks [data-testid='block']")
    block.first.wait_for(timeout=10_000)
    assert "faltam" in block.first.inner_text() and "ListarClientes" in block.first.inner_text()

    page.screenshot(path=str(OUTPUT / "dashboard-1440.png"), full_page=True)

    # A failed trace opens its waterfall: the tool span, the Omie span as its child.
    page.locator("#failed [data-testid='trace']").first.click()
    waterfall = page.locator("[data-testid='waterfall']")
    waterfall.wait_for(timeout=10_000)
    spans = page.eval_on_selector_all("[data-testid='span']", "els => els.map(e => [e.dataset.spanName, +e.dataset.depth])")
    # Tree order: a span's parent is the nearest span above it one level up. (The in-memory client's own
    # tools/call span and its "MCP send" are the ancestors of the server's tools/call span.)
    omie = [i for i, (name, _) in enumerate(spans) if name.startswith("omie ")]
    assert omie, spans
    parents = [next(name for name, depth in reversed(spans[:i]) if depth == spans[i][1] - 1) for i in omie]
    assert set(parents) == {"tools/call listar_clientes"}, spans
    page.locator("[data-testid='span'][data-span-name^='omie ']").first.click()
    attributes = page.locator("[data-testid='attributes']").inner_text()
    assert "omie.call" in attributes and "omie.fault.kind" in attributes
    assert page.locator("[data-testid='trace-logs'] .msg.error").count() == 0
    page.screenshot(path=str(OUTPUT / "trace-1440.png"), full_page=False)
    assert not problems, problems

    # Fast and small: the first render of a fresh page and what it transferred.
    fresh, problems = _open(browser, url, 1440)
    first_render_ms = fresh.evaluate("window.omieDashboard.state.firstRender")
    fresh.wait_for_timeout(1500)  # alerts, traces
    weight = fresh.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)")
    (OUTPUT / "measurements.json").write_text(json.dumps({
        "first_meaningful_render_ms": first_render_ms, "page_bytes": weight,
        "prometheus_queries_per_refresh": workload["queries"]}, indent=2))
    assert first_render_ms < RENDER_BUDGET_MS, f"first render took {first_render_ms} ms"
    assert weight < PAGE_BUDGET_BYTES, f"the page transferred {weight} bytes"
    assert not problems, problems


def test_usable_at_390_px(browser: Any, workload: dict[str, Any]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page, problems = _open(browser, f"{workload['url']}?service={workload['service']}&range=15m&refresh=0", 390)
    page.locator("#alerts [data-alertname='OmieApiMisuseBlocked']").first.wait_for(timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    widths = page.eval_on_selector_all("[data-panel-id]", "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) > 300  # one panel per line, full width
    page.screenshot(path=str(OUTPUT / "dashboard-390.png"), full_page=True)
    page.locator("#failed [data-testid='trace']").first.click()
    page.locator("[data-testid='waterfall']").wait_for(timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(OUTPUT / "trace-390.png"))
    assert not problems, problems


def test_unreachable_backends_show_a_message_in_every_panel(browser: Any, stack: Any) -> None:
    closed = free_port()
    port = free_port()
    bad = f"http://127.0.0.1:{closed}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omie_otel", "dashboard", "--port", str(port), "--prometheus", bad,
         "--alertmanager", bad, "--jaeger", bad, "--logs", bad],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, proc)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/?refresh=0")
        page.wait_for_selector("body[data-rendered='1']", timeout=15_000)
        page.wait_for_function("document.querySelectorAll('#alerts[data-state=error], #failed[data-state=error]')"
                               ".length === 2", timeout=15_000)
        states = page.eval_on_selector_all("[data-panel-id]", "els => els.map(e => e.dataset.state)")
        assert states and set(states) == {"error"}
        texts = page.locator("[data-panel-id] .msg.error").all_inner_texts()
        assert all("Prometheus indisponível" in t for t in texts) and len(texts) == len(states)
        assert "Alertmanager indisponível" in page.locator("#alerts").inner_text()
        assert "Jaeger indisponível" in page.locator("#failed").inner_text()
        assert bad not in page.content() and str(closed) not in page.content()  # no backend URL in the page
        assert not errors, errors
    finally:
        stop(proc, timeout=10)
