"""The public surface, the entry point, and configuration resolution."""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

import omie_otel
from omie_otel._config import DEFAULT_OMIE_URL, resolve_options


def test_public_names_are_exactly_the_curated_list() -> None:
    public = {name for name in dir(omie_otel) if not name.startswith("_")} - {
        # submodules become attributes once imported; they are not re-exported names
        "environment_variables", "redaction", "semconv", "version", "omie", "host_metrics", "logs", "simulator",
        "health", "slo", "demo", "dashboard",
    }
    assert sorted(omie_otel.__all__) == sorted(public | {"__version__"})
    assert set(omie_otel.__all__) == {"ScrubMatch", "__version__", "instrument", "uninstrument"}


def test_instrument_signature_is_keyword_only_after_mcp() -> None:
    import inspect

    params = list(inspect.signature(omie_otel.instrument).parameters.values())
    assert params[0].name == "mcp" and params[0].default is None
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    assert {"service_name", "tracer_provider", "meter_provider", "logger_provider", "capture_arguments",
            "capture_results"} <= {p.name for p in params}


def test_opentelemetry_instrument_entry_point_is_registered() -> None:
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.value.startswith("omie_otel")]
    cls = ep.load()
    assert cls.__name__ == "OmieOtelInstrumentor"
    assert "fastmcp >= 2.9" in cls().instrumentation_dependencies()


def test_instrumentor_instruments_and_uninstruments(telemetry: Any) -> None:
    from omie_otel._instrumentor import OmieOtelInstrumentor

    inst = OmieOtelInstrumentor()
    inst.instrument(meter_provider=telemetry.meter_provider)
    try:
        assert omie_otel._lifecycle.is_instrumented()
    finally:
        inst.uninstrument()
    assert not omie_otel._lifecycle.is_instrumented()


def test_argument_beats_env_beats_default() -> None:
    env = {"OMIE_OTEL_CAPTURE_ARGUMENTS": "true", "OMIE_OTEL_OMIE_URL": "http://127.0.0.1:8765/api/"}
    assert resolve_options(environ={}).capture_arguments is False
    assert resolve_options(environ={}).omie_urls == (DEFAULT_OMIE_URL,)
    assert resolve_options(environ=env).capture_arguments is True
    assert resolve_options(environ=env).omie_urls == ("http://127.0.0.1:8765/api/",)
    assert resolve_options(capture_arguments=False, environ=env).capture_arguments is False


def test_bad_env_value_warns_with_the_fix_and_uses_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        opts = resolve_options(environ={"OMIE_OTEL_CAPTURE_RESULTS": "talvez", "OMIE_OTEL_CAPTURE_MAX_LENGTH": "-1"})
    assert opts.capture_results is False and opts.capture_max_length == 4096
    text = caplog.text
    assert "OMIE_OTEL_CAPTURE_RESULTS='talvez' is not a boolean; use one of 1/true/yes/on or 0/false/no/off" in text
    assert "OMIE_OTEL_CAPTURE_MAX_LENGTH='-1' is not a whole number from 16 to 1000000" in text


def test_bad_log_level_argument_is_an_error() -> None:
    with pytest.raises(ValueError, match="log_level='LOUD' is not a logging level; use DEBUG, INFO"):
        resolve_options(log_level="LOUD", environ={})


def test_sdk_disabled_means_no_sdk_and_no_crash() -> None:
    code = (
        "from fastmcp import FastMCP\n"
        "from opentelemetry import trace\n"
        "import omie_otel\n"
        "omie_otel.instrument(FastMCP('x'))\n"
        "print(type(trace.get_tracer_provider()).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={"OTEL_SDK_DISABLED": "true", "PATH": ""}, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "ProxyTracerProvider"


def test_env_configured_sdk_has_service_name_and_exporters() -> None:
    code = (
        "from fastmcp import FastMCP\n"
        "from opentelemetry import trace\n"
        "import omie_otel\n"
        "omie_otel.instrument(FastMCP('servidor-omie'), host_metrics=False)\n"
        "tp = trace.get_tracer_provider()\n"
        "print(tp.resource.attributes['service.name'])\n"
        "print(type(tp.sampler).__name__)\n"
    )
    env = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5", "PATH": "",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["servidor-omie", "TraceIdRatioBased"]


def test_cli_version_and_unknown_command_follow_the_locale(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from omie_otel.__main__ import main

    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == omie_otel.__version__
    assert main(["frobnicate"]) == 2  # pt-BR by default, naming every command
    err = capsys.readouterr().err
    assert "comando desconhecido 'frobnicate'; use um de: simulator, dashboard, slo, version" in err
    assert "uso: omie-otel <comando>" in err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: omie-otel <command>")
    monkeypatch.setenv("LC_ALL", "pt_BR.UTF-8")  # LC_ALL wins over LANG, as POSIX says
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("uso: omie-otel <comando>")
