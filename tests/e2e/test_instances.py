"""Two instances of the example Omie MCP server under one service.name, end to end.

Both processes run ``python -m examples.omie_mcp_server --transport http`` with the same ``OTEL_SERVICE_NAME`` and
different ``service.instance.id``, each against its own simulator (no shared state), exporting to the session
stack. Prometheus' rules (collector-config/prometheus/rules/slo.rules.yml) must see two instances up and the
service whole (state 1); after one instance stops, the service is degraded (0.5) but up for the uptime SLO, and
that instance is down. (All instances down = 0 is covered by promtool: tests/instances.test.yml.) The freshness
window of the rules is 3 minutes, so this test waits about that long.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from omie_otel.simulator import OmieSimulator, serve_in_thread
from tests.helpers.net import free_port, stop, wait_for_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _prom(stack: Any, query: str) -> dict[str, float]:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
    response.raise_for_status()
    return {r["metric"].get("instance", ""): float(r["value"][1]) for r in response.json()["data"]["result"]}


async def _one_call(url: str) -> None:
    async with Client(StreamableHttpTransport(url)) as client:
        result = await client.call_tool("consultar_clientes", {"pagina": 1, "registros_por_pagina": 5})
        assert not result.is_error


@pytest.fixture
def two_instances(stack: Any) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    service = f"omie-e2e-instances-{secrets.token_hex(3)}"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with serve_in_thread(OmieSimulator(seed=1)) as sim_a, serve_in_thread(OmieSimulator(seed=2)) as sim_b:
        try:
            for instance, sim_url in (("i1", sim_a), ("i2", sim_b)):
                port = free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OMIE_"))}
                env.update(
                    stack.otel_env(),
                    OTEL_SERVICE_NAME=service,
                    OTEL_RESOURCE_ATTRIBUTES=f"service.instance.id={instance}",
                    OTEL_METRIC_EXPORT_INTERVAL="1000",
                    OMIE_API_URL=sim_url + "v1/",
                    PYTHONPATH=str(ROOT),
                )
                # The child gets its own copy of the log's descriptor; ours is closed as soon as it is started.
                with open(stack.dir / "logs" / f"{service}-{instance}.log", "wb") as log:
                    procs[instance] = subprocess.Popen(
                        [sys.executable, "-m", "examples.omie_mcp_server", "--transport", "http", "--port", str(port)],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                wait_for_port(port, procs[instance], timeout=60)
                asyncio.run(_one_call(f"http://127.0.0.1:{port}/mcp"))
            yield service, procs
        finally:
            for proc in procs.values():
                stop(proc, timeout=20)


def test_one_instance_down_is_degraded_not_down(stack: Any, two_instances: Any, eventually: Any) -> None:
    service, procs = two_instances
    job = f'{{job="{service}"}}'
    eventually(
        lambda: _prom(stack, f"instance:omie_otel_instance_up:bool{job}") == {"i1": 1.0, "i2": 1.0},
        timeout=90,
        what="both instances up",
    )
    assert _prom(stack, f"job:omie_otel_service_state:ratio{job}") == {"": 1.0}
    assert _prom(stack, f"job:omie_otel_instances:count{job}") == {"": 2.0}

    procs["i2"].terminate()
    procs["i2"].wait(timeout=20)
    # i2's last samples leave the 3-minute freshness window: it is down, the service degraded but up.
    eventually(
        lambda: _prom(stack, f"instance:omie_otel_instance_up:bool{job}") == {"i1": 1.0, "i2": 0.0},
        timeout=300,
        interval=5,
        what="i2 down, i1 up",
    )
    assert _prom(stack, f"job:omie_otel_service_state:ratio{job}") == {"": 0.5}
    assert _prom(stack, f"job:omie_otel_service_up:bool{job}") == {"": 1.0}
