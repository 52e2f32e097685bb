"""The telemetry pipeline's configuration, checked by the real tools, and the real stack end to end.

- every shipped collector config passes ``otelcol-omie validate`` (and a broken one does not);
- our own rules for those configs: memory_limiter first / batch last, every endpoint from ``${env:...}``,
  the gateway identical to otelcol.yaml where it must be;
- ``promtool check config|rules``, ``promtool test rules``, ``amtool check-config``;
- the stack (scripts/stack.sh, port offset 20000) takes one span, one metric and one log record over OTLP/HTTP
  from the Python SDK and each arrives, scrubbed, with exact values in Jaeger, Prometheus and VictoriaLogs;
- the agent -> gateways tier is tested in test_scaleout.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.sdk_pipeline import sdk_pipeline as _sdk_pipeline

pytestmark = pytest.mark.e2e

# The ``stack`` fixture (conftest.py) yields a conftest.Stack; tests/ is not a package, so it is not imported here.
ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_CONFIG = ROOT / "collector-config"
COLLECTOR_CONFIGS = ["otelcol.yaml", "otelcol-agent.yaml", "otelcol-gateway.yaml"]
PROMETHEUS_CONFIGS = ["prometheus/prometheus.yml", "prometheus/prometheus.compose.yml"]


def _clean_env() -> dict[str, str]:
    """The environment without any variable our configs read, so their defaults are what gets validated."""
    prefixes = ("OTELCOL_", "JAEGER_", "PROMETHEUS_", "LOGS_", "GATEWAY_", "DEPLOYMENT_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def _otelcol(bin_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "otelcol-omie"), *args],
        env=env if env is not None else _clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=COLLECTOR_CONFIG, capture_output=True, text=True, timeout=120, check=False)


def _yaml(name: str) -> dict:
    # PyYAML comes with the test extra's dependency tree (fastmcp -> jsonschema-path).
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((COLLECTOR_CONFIG / name).read_text())


# --- collector configs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", COLLECTOR_CONFIGS)
def test_collector_config_validates(stack_binaries: Path, config: str) -> None:
    result = _otelcol(stack_binaries, "validate", f"--config={COLLECTOR_CONFIG / config}")
    assert result.returncode == 0, result.stderr


def test_kubernetes_agent_overlay_validates_and_uses_dns_only(stack_binaries: Path) -> None:
    overlay = COLLECTOR_CONFIG / "kubernetes" / "otelcol-agent.k8s.yaml"
    result = _otelcol(
        stack_binaries, "validate", f"--config={COLLECTOR_CONFIG / 'otelcol-agent.yaml'}", f"--config={overlay}"
    )
    assert result.returncode == 0, result.stderr
    agent, k8s = _yaml("otelcol-agent.yaml"), _yaml("kubernetes/otelcol-agent.k8s.yaml")
    balancers = {name for name in agent["exporters"] if name.startswith("load_balancing/")}
    assert set(k8s["exporters"]) == balancers  # every balancer switched to dns, static removed
    for name in balancers:
        assert k8s["exporters"][name]["resolver"]["static"] is None
        assert k8s["exporters"][name]["resolver"]["dns"]["port"] == ("4319" if name.endswith("spanmetrics") else "4317")


def test_kubernetes_manifests_agree_with_the_collector_configs() -> None:
    """No cluster here: the manifests are checked for shape only (see their header)."""
    yaml = pytest.importorskip("yaml")
    docs = {
        d["kind"]: d for d in yaml.safe_load_all((COLLECTOR_CONFIG / "kubernetes" / "otelcol.k8s.yaml").read_text())
    }
    service, gateway, agent = docs["Service"], docs["Deployment"], docs["DaemonSet"]
    assert service["spec"]["clusterIP"] == "None"  # headless: the dns resolver sees every replica
    assert service["spec"]["selector"] == gateway["spec"]["template"]["metadata"]["labels"]
    assert {p["port"] for p in service["spec"]["ports"]} == {4317, 4319}
    [gw] = gateway["spec"]["template"]["spec"]["containers"]
    assert gw["args"] == ["--config=/conf/otelcol-gateway.yaml", "--config=/conf/otelcol-gateway-lb.yaml"]
    [ag] = agent["spec"]["template"]["spec"]["containers"]
    assert ag["args"] == ["--config=/conf/otelcol-agent.yaml", "--config=/conf/otelcol-agent.k8s.yaml"]
    env = {e["name"]: e["value"] for e in ag["env"]}
    mounts = {m["mountPath"] for m in ag["volumeMounts"]}
    assert env["OTELCOL_AGENT_QUEUE_DIR"] in mounts  # the persistent queue is on a volume, not in the container
    assert env["GATEWAY_HEADLESS_SERVICE"].startswith(
        f"{service['metadata']['name']}.{service['metadata']['namespace']}."
    )


@pytest.mark.parametrize(
    ("base", "overlay"),
    [("otelcol.yaml", "otelcol.debug.yaml"), ("otelcol-gateway.yaml", "otelcol-gateway-lb.yaml")],
)
def test_overlay_validates_on_top_of_its_base(stack_binaries: Path, base: str, overlay: str) -> None:
    result = _otelcol(
        stack_binaries, "validate", f"--config={COLLECTOR_CONFIG / base}", f"--config={COLLECTOR_CONFIG / overlay}"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("original", "broken", "expected_in_error"),
    [
        # A pipeline naming an exporter that is not defined.
        ("exporters: [otlp_grpc/jaeger]", "exporters: [otlp_grpc/nowhere]", "otlp_grpc/nowhere"),
        # An OTTL function that does not exist.
        ("replace_pattern(log.body", "no_such_function(log.body", "no_such_function"),
        # A metric-name translation strategy that does not exist. (An unknown tail_sampling policy type is
        # NOT caught by `validate` at v0.161.0, only at start-up: the stack test starts otelcol.yaml for real.)
        (
            "translation_strategy: UnderscoreEscapingWithSuffixes",
            "translation_strategy: DotsEverywhere",
            "DotsEverywhere",
        ),
    ],
    ids=["undefined-exporter", "bad-ottl", "bad-translation-strategy"],
)
def test_broken_collector_config_fails_validation(
    stack_binaries: Path, tmp_path: Path, original: str, broken: str, expected_in_error: str
) -> None:
    text = (COLLECTOR_CONFIG / "otelcol.yaml").read_text()
    assert original in text, "the mutation no longer applies; update this test"
    bad = tmp_path / "otelcol.yaml"
    bad.write_text(text.replace(original, broken, 1))

    result = _otelcol(stack_binaries, "validate", f"--config={bad}")

    assert result.returncode != 0
    assert expected_in_error in result.stderr


@pytest.mark.parametrize("config", COLLECTOR_CONFIGS)
def test_memory_limiter_first_and_batch_last_in_every_pipeline(config: str) -> None:
    pipelines = _yaml(config)["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter", f"{config} {name}: {processors}"
        assert processors[-1] == "batch", f"{config} {name}: {processors}"


def _endpoints(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("endpoint", "host", "port") and not isinstance(value, dict):
                yield f"{path}.{key}", value
            yield from _endpoints(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _endpoints(value, f"{path}[{i}]")


@pytest.mark.parametrize("config", [*COLLECTOR_CONFIGS, "jaeger/jaeger.yaml"])
def test_every_address_comes_from_the_environment(config: str) -> None:
    found = list(_endpoints(_yaml(config)))
    assert found
    hardcoded = [(path, value) for path, value in found if "${env:" not in str(value)]
    assert hardcoded == []


def test_gateway_is_otelcol_yaml_apart_from_the_listen_host() -> None:
    single, gateway = _yaml("otelcol.yaml"), _yaml("otelcol-gateway.yaml")
    for section in ("processors", "connectors", "exporters"):
        assert gateway[section] == single[section], section
    assert gateway["service"]["pipelines"] == single["service"]["pipelines"]
    single_text = (COLLECTOR_CONFIG / "otelcol.yaml").read_text()
    gateway_text = (COLLECTOR_CONFIG / "otelcol-gateway.yaml").read_text()
    body = single_text[single_text.index("extensions:\n") :]
    gateway_body = gateway_text[gateway_text.index("extensions:\n") :]
    strip = re.compile(r"^\s*#.*\n", re.MULTILINE)
    assert strip.sub("", gateway_body) == strip.sub("", body).replace(
        "${env:OTELCOL_LISTEN_HOST:-127.0.0.1}", "${env:OTELCOL_LISTEN_HOST:-0.0.0.0}"
    )


# --- Prometheus and Alertmanager configs ---------------------------------------------------------------------


@pytest.mark.parametrize("config", PROMETHEUS_CONFIGS)
def test_promtool_check_config(stack_binaries: Path, config: str) -> None:
    result = _tool("promtool", "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules(stack_binaries: Path) -> None:
    rules = sorted(str(p.relative_to(COLLECTOR_CONFIG)) for p in (COLLECTOR_CONFIG / "prometheus/rules").glob("*.yml"))
    assert rules, "no rule files"
    result = _tool("promtool", "check", "rules", *rules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(stack_binaries: Path) -> None:
    tests = sorted(str(p.relative_to(COLLECTOR_CONFIG)) for p in (COLLECTOR_CONFIG / "prometheus/tests").glob("*.yml"))
    assert tests, "no rule unit tests"
    result = _tool("promtool", "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule(stack_binaries: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: bad\n    rules:\n      - record: x:y:rate5m\n        expr: rate(foo[5m]\n")
    result = _tool("promtool", "check", "rules", str(bad))
    assert result.returncode != 0


def test_amtool_check_config(stack_binaries: Path) -> None:
    result = _tool("amtool", "check-config", "alertmanager/alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_an_unknown_receiver(stack_binaries: Path, tmp_path: Path) -> None:
    text = (COLLECTOR_CONFIG / "alertmanager/alertmanager.yml").read_text()
    bad = tmp_path / "alertmanager.yml"
    bad.write_text(text.replace("receiver: team", "receiver: nobody", 1))
    result = _tool("amtool", "check-config", str(bad))
    assert result.returncode != 0


# --- the running stack ---------------------------------------------------------------------------------------


def _get(url: str, **params: str) -> dict:
    response = httpx.get(url, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def _prom_value(stack, query: str) -> float | None:
    result = _get(f"{stack.prometheus_url}/api/v1/query", query=query)["data"]["result"]
    if not result:
        return None
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_the_pipeline_and_talks_to_alertmanager(stack, eventually) -> None:
    for job in ("otelcol", "prometheus", "alertmanager"):
        eventually(lambda job=job: _prom_value(stack, f'up{{job="{job}"}}') == 1.0, what=f"up{{job={job}}} == 1")

    groups = _get(f"{stack.prometheus_url}/api/v1/rules")["data"]["groups"]
    pipeline = next(g for g in groups if g["name"] == "otelcol.pipeline")
    assert len(pipeline["rules"]) == 13
    assert {r["health"] for r in pipeline["rules"]} <= {"ok", "unknown"}

    managers = _get(f"{stack.prometheus_url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == [f"{stack.alertmanager_url}/api/v2/alerts"]

    status = _get(f"{stack.alertmanager_url}/api/v2/status")
    assert f"url: {stack.alertmanager_webhook_url}" in status["config"]["original"]


def test_one_span_metric_and_log_arrive_scrubbed_with_exact_values(stack, eventually) -> None:
    from opentelemetry._logs import SeverityNumber

    service = f"omie-otel-e2e-{uuid.uuid4().hex[:8]}"
    tracer_provider, meter_provider, logger_provider, logger = _sdk_pipeline(stack.otlp_http_endpoint, service)
    try:
        meter = meter_provider.get_meter("omie_otel.e2e")
        duration = meter.create_histogram(
            "mcp.server.operation.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0, 2.0]
        )
        faults = meter.create_counter("omie.client.faults", unit="{fault}")
        with tracer_provider.get_tracer("omie_otel.e2e").start_as_current_span(
            "tools/call ListarClientes",
            attributes={
                "mcp.method.name": "tools/call",
                # What the collector's fallback scrub must catch if the SDK's scrubber was bypassed:
                "app_secret": "s3cr3t-value",
                "gen_ai.tool.call.arguments": '{"app_key": "123456789", "pagina": 1}',
                "omie.app_key": "123456789",
                "note": "cliente 123.456.789-09",
            },
        ) as span:
            logger.emit(
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body="ListarClientes pagina 1 app_secret=s3cr3t-value",
            )
            trace_id = format(span.get_span_context().trace_id, "032x")
            span_id = format(span.get_span_context().span_id, "016x")
        duration.record(0.25, {"mcp.method.name": "tools/call"})
        duration.record(1.5, {"mcp.method.name": "tools/call"})
        faults.add(3, {"omie.fault.kind": "rate_limited"})
        assert meter_provider.force_flush(10_000)
        assert tracer_provider.force_flush(10_000)
        assert logger_provider.force_flush(10_000)
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()

    # Traces: Jaeger, after tail sampling (every trace kept at OTELCOL_SAMPLING_PERCENT=100).
    traces = eventually(
        lambda: _get(f"{stack.jaeger_url}/api/traces", service=service)["data"], what=f"a trace of {service} in Jaeger"
    )
    assert len(traces) == 1
    assert traces[0]["traceID"] == trace_id
    [jspan] = traces[0]["spans"]
    assert jspan["spanID"] == span_id
    assert jspan["operationName"] == "tools/call ListarClientes"
    tags = {t["key"]: t["value"] for t in jspan["tags"]}
    assert tags["mcp.method.name"] == "tools/call"
    assert tags["app_secret"] == "[redacted: app_secret]"
    assert tags["gen_ai.tool.call.arguments"] == '{"app_key": "[redacted]", "pagina": 1}'
    assert tags["omie.app_key"] == "****"
    assert tags["note"] == "cliente ****"
    assert traces[0]["processes"][jspan["processID"]]["serviceName"] == service

    # Metrics: Prometheus via remote write; names get unit and type suffixes, job/instance from the resource.
    sel = f'job="{service}",instance="{service}-1",mcp_method_name="tools/call"'
    expected = {
        f"mcp_server_operation_duration_seconds_count{{{sel}}}": 2.0,
        f"mcp_server_operation_duration_seconds_sum{{{sel}}}": 1.75,
        f'mcp_server_operation_duration_seconds_bucket{{{sel},le="0.1"}}': 0.0,
        f'mcp_server_operation_duration_seconds_bucket{{{sel},le="0.5"}}': 1.0,
        f'mcp_server_operation_duration_seconds_bucket{{{sel},le="2"}}': 2.0,
        f'mcp_server_operation_duration_seconds_bucket{{{sel},le="+Inf"}}': 2.0,
        f'omie_client_faults_total{{job="{service}",omie_fault_kind="rate_limited"}}': 3.0,
        # Span metrics from the span_metrics connector (before sampling), in seconds.
        f'traces_span_metrics_calls_total{{job="{service}",span_name="tools/call ListarClientes",'
        f'mcp_method_name="tools/call",status_code="STATUS_CODE_UNSET"}}': 1.0,
    }
    # Polled until equal: a new cumulative series can first arrive as 0 (span_metrics starts counters at 0).
    for query, value in expected.items():
        eventually(lambda q=query, v=value: _prom_value(stack, q) == v, what=f"{query} == {value}")

    # Logs: VictoriaLogs, found by the trace id the SDK attached; the body scrubbed by transform/scrub.
    def logs_of_trace() -> list[dict]:
        response = httpx.post(
            f"{stack.victorialogs_url}/select/logsql/query", data={"query": f'trace_id:="{trace_id}"'}, timeout=10
        )
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    [record] = eventually(logs_of_trace, what=f"a log record with trace_id {trace_id} in VictoriaLogs")
    assert record["_msg"] == "ListarClientes pagina 1 app_secret=[redacted]"
    assert record["trace_id"] == trace_id
    assert record["span_id"] == span_id
    assert record["severity_text"] == "INFO"
    assert record["service.name"] == service


def test_stack_state_is_kept_under_the_stack_dir(stack) -> None:
    assert stack.dir == ROOT / ".stack" / f"run-{stack.port_offset}"
    for name in ("otelcol", "jaeger", "prometheus", "alertmanager", "victorialogs", "mailpit"):
        assert (stack.dir / "logs" / f"{name}.log").is_file()
        assert (stack.dir / "pids" / f"{name}.pid").is_file()
    assert stack.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == stack.otlp_http_endpoint
    assert stack.otlp_http_endpoint == f"http://127.0.0.1:{4318 + stack.port_offset}"
