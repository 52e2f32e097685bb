"""The standard OTEL_* switches, exactly as the spec and the Python SDK define them, in a fresh interpreter each time
(the SDK's globals can be set once per process). Exports go to stdout (console) or to a real OTLP/HTTP receiver on
127.0.0.1 (tests/helpers/otlp_sink.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.otlp_sink import otlp_sink

SERVER = str(Path(__file__).parent / "servers" / "switches.py")
ROOT = str(Path(__file__).parent.parent)


def run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OMIE_OTEL_"))}
    clean.update({"PYTHONPATH": ROOT, "OTEL_SERVICE_NAME": "switches", "OTEL_METRIC_EXPORT_INTERVAL": "200", **env})
    out = subprocess.run([sys.executable, SERVER], env=clean, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "RESULT 3" in out.stdout, out.stderr[-3000:]
    return out


def test_console_exporters_print_spans_metrics_and_logs_with_resource_attributes() -> None:
    out = run(
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_LOGS_EXPORTER="console",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=teste,service.namespace=omie",
    )
    seen = out.stdout[-3000:] + out.stderr[-3000:]
    assert '"name": "tools/call somar"' in out.stdout, seen
    assert '"mcp.server.operation.duration"' in out.stdout, seen
    assert "somando 1 e 2" in out.stdout, seen  # the log record, exported by the console log exporter
    assert '"deployment.environment.name": "teste"' in out.stdout and '"service.namespace": "omie"' in out.stdout
    assert "OTEL_" not in out.stderr, out.stderr[-3000:]  # no warning about a switch: every value is valid


def test_none_exports_nothing_for_that_signal() -> None:
    with otlp_sink() as sink:
        out = run(
            OTEL_TRACES_EXPORTER="none",
            OTEL_METRICS_EXPORTER="console",
            OTEL_LOGS_EXPORTER="none",
            OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
        )
        assert '"name": "tools/call somar"' not in out.stdout
        assert '"mcp.server.operation.duration"' in out.stdout
        assert "somando" not in out.stdout
        assert sink.requests == 0  # none means no exporter, not "OTLP to the default"


def test_default_is_otlp_and_each_signal_follows_its_own_endpoint() -> None:
    with otlp_sink() as traces, otlp_sink() as rest:
        run(
            OTEL_EXPORTER_OTLP_ENDPOINT=rest.url,
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{traces.url}/v1/traces",
        )
        assert traces.wait_for(lambda s: any(sp["name"] == "tools/call somar" for sp in s.spans))
        assert rest.wait_for(lambda s: bool(s.metrics) and bool(s.logs))
        assert rest.spans == [] and traces.metrics == [] and traces.logs == []
        (span, *_) = [sp for sp in traces.spans if sp["name"] == "tools/call somar"]
        assert span["resource"]["service.name"] == "switches"


def test_comma_list_exports_to_every_exporter_named() -> None:
    with otlp_sink() as sink:
        out = run(
            OTEL_TRACES_EXPORTER="console, otlp",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
        )
        assert '"name": "tools/call somar"' in out.stdout
        assert sink.wait_for(lambda s: any(sp["name"] == "tools/call somar" for sp in s.spans))


def test_unknown_exporter_warns_once_naming_the_variable_and_the_rest_still_works() -> None:
    out = run(OTEL_TRACES_EXPORTER="console,zipkin_typo", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    warnings = [line for line in out.stderr.splitlines() if "OTEL_TRACES_EXPORTER" in line]
    assert len(warnings) == 1 and "zipkin_typo" in warnings[0], out.stderr[-2000:]
    assert '"name": "tools/call somar"' in out.stdout


def test_sdk_disabled_exports_nothing() -> None:
    out = run(
        OTEL_SDK_DISABLED="true",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_LOGS_EXPORTER="console",
    )
    assert '"name"' not in out.stdout and "somando" not in out.stdout


@pytest.mark.parametrize("interval", ["200", "60000"])
def test_metric_export_interval_is_honoured(interval: str) -> None:
    out = run(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="console", OTEL_LOGS_EXPORTER="none",
              OTEL_METRIC_EXPORT_INTERVAL=interval)
    exports = out.stdout.count('"resource_metrics"')
    # 200 ms: a few periodic exports in the ~0.3 s+ the process lives, plus the one at exit; 60 s: only the one at exit
    assert (exports >= 2) if interval == "200" else (exports == 1), exports


def _resource_of_configured_providers(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    from omie_otel._setup import configure_from_env

    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    for name, value in {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", **env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    providers = configure_from_env("instancias")
    assert providers is not None
    try:
        return dict(providers.tracer_provider.resource.attributes)
    finally:
        for provider in (providers.tracer_provider, providers.meter_provider, providers.logger_provider):
            provider.shutdown()


def test_every_process_gets_its_own_service_instance_id_even_on_an_sdk_that_adds_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two processes of one service without distinct instance ids write the same Prometheus series, and remote write
    # refuses whole requests as out of order. Recent SDKs add a random id; the oldest SDK we accept (1.30) does not.
    from opentelemetry.sdk.resources import Resource

    import omie_otel._setup as setup

    real_create = Resource.create

    def old_sdk_create(attributes: dict[str, object] | None = None) -> Resource:
        made = real_create(attributes)
        return Resource({k: v for k, v in made.attributes.items() if k != "service.instance.id"})

    monkeypatch.setattr(setup.Resource, "create", staticmethod(old_sdk_create))
    first = _resource_of_configured_providers(monkeypatch)
    second = _resource_of_configured_providers(monkeypatch)
    assert first["service.name"] == "instancias"
    ids = {first.get("service.instance.id"), second.get("service.instance.id")}
    assert None not in ids and len(ids) == 2, ids


def test_a_service_instance_id_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    attrs = _resource_of_configured_providers(monkeypatch, OTEL_RESOURCE_ATTRIBUTES="service.instance.id=vm-7-pid-42")
    assert attrs["service.instance.id"] == "vm-7-pid-42"
