"""Fixtures for end-to-end tests against the real local stack (``scripts/stack.sh``).

The session fixture ``stack`` starts its own stack with ``STACK_PORT_OFFSET`` (default 20000, so it never
clashes with a developer's stack on the default ports), with fresh data, and stops it at the end of the
session. Tests get every endpoint from the yielded :class:`Stack`::

    pytestmark = pytest.mark.e2e

    def test_something(stack):
        exporter = OTLPSpanExporter(endpoint=f"{stack.otlp_http_endpoint}/v1/traces")
        ...
    def test_traces(stack, eventually):
        data = eventually(lambda: httpx.get(f"{stack.jaeger_url}/api/traces", params=...).json()["data"])

Environment:
    OMIE_OTEL_E2E_PORT_OFFSET   port offset of the test stack (default 20000)
    OMIE_OTEL_E2E_KEEP_STACK    1 = leave the stack running after the session (inspect it with
                                ``STACK_PORT_OFFSET=20000 scripts/stack.sh status``; stop it with ``... down``)
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "scripts" / "stack.sh"
COLLECTOR_CONFIG = ROOT / "collector-config"
E2E_PORT_OFFSET = int(os.environ.get("OMIE_OTEL_E2E_PORT_OFFSET", "20000"))
#: First builds of the collector and Jaeger take minutes on two cores; later runs reuse the binary cache.
BUILD_TIMEOUT_S = 1800

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Stack:
    """Endpoints of the running test stack (all on 127.0.0.1, ports shifted by ``port_offset``)."""

    port_offset: int
    #: Base URL for OTLP/HTTP, e.g. ``http://127.0.0.1:24318`` (append ``/v1/traces`` etc. for one signal).
    otlp_http_endpoint: str
    #: OTLP/gRPC endpoint, e.g. ``http://127.0.0.1:24317``.
    otlp_grpc_endpoint: str
    #: Jaeger query UI and HTTP API (``/api/services``, ``/api/traces?service=...``, ``/api/traces/{id}``).
    jaeger_url: str
    #: Prometheus (``/api/v1/query``); our metrics arrive by remote write, names with unit/type suffixes.
    prometheus_url: str
    #: Alertmanager (``/api/v2/alerts``).
    alertmanager_url: str
    #: Where Alertmanager posts notifications; nothing listens there unless a test starts a server.
    alertmanager_webhook_url: str
    #: VictoriaLogs (``/select/logsql/query``), standing in for Loki.
    victorialogs_url: str
    #: The collector's health_check (200 when ready) and its own Prometheus metrics.
    collector_health_url: str
    collector_metrics_url: str
    #: State directory: logs/ (one file per component), rendered configs, env.
    dir: Path
    #: Everything in the stack's env file, e.g. ``env["OTEL_EXPORTER_OTLP_ENDPOINT"]``.
    env: dict[str, str]
    #: Mailpit's web UI and API (``/api/v1/messages``): every e-mail Alertmanager sends lands there.
    mailpit_url: str = ""
    #: The Slack incoming-webhook URL the stack's Alertmanager posts to: nothing listens unless a test does.
    slack_webhook_url: str = ""

    def otel_env(self) -> dict[str, str]:
        """The OTEL_* variables an application under test needs to export to this stack."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_http_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }


#: The test stack's state directory (the same that scripts/stack.sh picks for this offset by default).
STACK_DIR = ROOT / ".stack" / (f"run-{E2E_PORT_OFFSET}" if E2E_PORT_OFFSET else "run")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Slack is off in a stack without a webhook URL: the test stack gets one on a free loopback port, where
#: tests/e2e/test_notifications.py runs a Slack-compatible receiver.
SLACK_WEBHOOK_URL = f"http://127.0.0.1:{_free_port()}/services/T0E2E/B0E2E/omie-otel-e2e"
#: The escalation rule's `for: 15m`, shortened so the e2e test sees a page escalate.
ESCALATION_FOR = "20s"


def stack_env(**extra: str) -> dict[str, str]:
    """Environment for scripts/stack.sh: the test offset, its own state dir, fresh data, test alerting timings."""
    env = dict(os.environ)
    env.update(
        STACK_PORT_OFFSET=str(E2E_PORT_OFFSET),
        STACK_DIR=str(STACK_DIR),
        STACK_FRESH="1",
        ALERTMANAGER_SLACK_API_URL=SLACK_WEBHOOK_URL,
        STACK_ESCALATION_FOR=ESCALATION_FOR,
        **extra,
    )
    return env


def run_stack(*args: str, timeout: float = BUILD_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STACK_SH), *args], env=stack_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def _parse_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key] = value
    return env


def _eventually(check: Callable[[], T], *, timeout: float = 60.0, interval: float = 1.0, what: str = "") -> T:
    """Call ``check`` until it returns a truthy value (returned) or the timeout passes (AssertionError).

    Exceptions raised by ``check`` count as "not yet"; the last one is chained to the failure.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    last_value: object = None
    while True:
        try:
            last_value = check()
            if last_value:
                return last_value
        except Exception as exc:  # noqa: BLE001 - anything means "not there yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or check!r}; last value: {last_value!r}"
            ) from last_exc
        time.sleep(interval)


@pytest.fixture(scope="session")
def eventually() -> Callable[..., object]:
    """``eventually(check, timeout=60, interval=1, what="...")``: poll until ``check()`` is truthy."""
    return _eventually


@pytest.fixture(scope="session")
def stack_binaries() -> Path:
    """Builds (or takes from the cache) otelcol-omie, jaeger, victoria-logs; returns the bin directory.

    Also makes sure promtool/amtool are installed. Needs no running stack.
    """
    for args in (("build",), ("deps",)):
        result = run_stack(*args)
        if result.returncode != 0:
            pytest.fail(f"scripts/stack.sh {args[0]} failed:\n{result.stderr[-4000:]}", pytrace=False)
    return ROOT / ".stack" / "bin"


@pytest.fixture(scope="session")
def stack(stack_binaries: Path) -> Iterator[Stack]:
    """The whole stack, up and ready, for the test session; stopped afterwards."""
    result = run_stack("up")
    if result.returncode != 0:
        run_stack("down", timeout=120)
        pytest.fail(f"scripts/stack.sh up failed:\n{result.stderr[-6000:]}", pytrace=False)
    env = _parse_env_file(STACK_DIR / "env")
    try:
        yield Stack(
            port_offset=E2E_PORT_OFFSET,
            otlp_http_endpoint=env["OTELCOL_OTLP_HTTP_ENDPOINT"],
            otlp_grpc_endpoint=env["OTELCOL_OTLP_GRPC_ENDPOINT"],
            jaeger_url=env["JAEGER_QUERY_URL"],
            prometheus_url=env["PROMETHEUS_URL"],
            alertmanager_url=env["ALERTMANAGER_URL"],
            alertmanager_webhook_url=env["ALERTMANAGER_WEBHOOK_URL"],
            victorialogs_url=env["VICTORIALOGS_URL"],
            collector_health_url=env["OTELCOL_HEALTH_URL"],
            collector_metrics_url=env["OTELCOL_METRICS_URL"],
            dir=Path(env["STACK_DIR"]),
            env=env,
            mailpit_url=env["MAILPIT_URL"],
            slack_webhook_url=SLACK_WEBHOOK_URL,
        )
    finally:
        if os.environ.get("OMIE_OTEL_E2E_KEEP_STACK") != "1":
            run_stack("down", timeout=120)
