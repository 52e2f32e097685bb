"""Every environment variable omie-otel reads, given garbage: ONE warning naming the variable, the value and what is
accepted, the default used, and ``instrument()`` never raises. Arguments still raise ``ValueError``.

The table below must list every variable the library reads: ``test_the_table_covers_every_variable_in_the_sources``
greps ``src/omie_otel`` for them, so a new variable cannot be added without its garbage cases.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

import omie_otel
from omie_otel import environment_variables as ev
from omie_otel._config import resolve_options
from omie_otel._setup import configure_from_env
from tests.helpers.otlp_sink import otlp_sink

SRC = Path(__file__).parent.parent / "src" / "omie_otel"

_BOOL = ["maybe", "2", "(", "inf", "tru"]
_NUMBERS = ["-1", "inf", "nan", "1e309", "abc", "9" * 5000]
_BATCH = ["-1", "0", "1.5", "abc", "inf", "9" * 5000]

#: Our own variables, read by instrument(): variable -> garbage values (each must warn once).
OURS: dict[str, list[str]] = {
    ev.OMIE_OTEL_CAPTURE_ARGUMENTS: _BOOL,
    ev.OMIE_OTEL_CAPTURE_RESULTS: _BOOL,
    ev.OMIE_OTEL_CAPTURE_MAX_LENGTH: [*_NUMBERS, "15", "99999999999"],
    ev.OMIE_OTEL_OMIE_URL: ["abc", "ftp://omie", "("],
    ev.OMIE_OTEL_HOST_METRICS: _BOOL,
    ev.OMIE_OTEL_HOST_METRICS_EXCLUDE: ["nomatch.*", "("],
    ev.OMIE_OTEL_HOST_METRICS_PER_CPU: _BOOL,
    ev.OMIE_OTEL_LOGS: _BOOL,
    ev.OMIE_OTEL_LOG_LEVEL: ["LOUD", "(", "-1", "inf"],
    ev.OMIE_OTEL_LOG_FORMAT: ["xml", "(", "inf"],
    ev.OMIE_OTEL_SCRUB_DOCUMENTS: _BOOL,
    ev.OMIE_OTEL_SCRUB_PATTERNS: ["(", ".*", "a|", "[", "x(?i)", ".", "\\w"],
    ev.OMIE_OTEL_OPS_TOOLS: _BOOL,
    ev.OMIE_OTEL_ALERTMANAGER_URL: ["abc", "ftp://x", "("],
    ev.OMIE_OTEL_HEALTH_ROUTES: _BOOL,
    ev.OMIE_OTEL_HEALTH_PORT: ["-1", "65536", "inf", "nan", "abc", "1e309"],
    ev.OMIE_OTEL_HEALTH_MEMORY_THRESHOLD: [*_NUMBERS, "0.85", "101"],
    ev.OMIE_OTEL_HEALTH_DISK_THRESHOLD: [*_NUMBERS, "0.9", "101"],
    ev.OMIE_OTEL_HEALTH_OMIE_PROBE: _BOOL,
    ev.OMIE_OTEL_SHUTDOWN_TIMEOUT: [*_NUMBERS, "601"],
}

#: Standard variables read (by us, or by the SDK we set up) in configure_from_env: variable -> garbage values.
STANDARD: dict[str, list[str]] = {
    "OTEL_SDK_DISABLED": ["yes", "1", "("],
    "OTEL_EXPORTER_OTLP_PROTOCOL": ["http/json", "("],
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": ["http/json"],
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": ["http/json"],
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": ["http/json"],
    "OTEL_EXPORTER_OTLP_TIMEOUT": [*_NUMBERS, "0"],
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": ["-1", "inf"],
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": ["-1", "nan"],
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": ["-1", "abc"],
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ["abc", "ftp://x", "http://", "http://h:99999", "("],
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": ["127.0.0.1:4318"],  # no scheme: refused for http/protobuf
    "OTEL_EXPORTER_OTLP_COMPRESSION": ["zstd", "("],
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": ["zstd"],
    "OTEL_TRACES_SAMPLER": ["abc", "("],
    "OTEL_TRACES_SAMPLER_ARG": ["-1", "2", "nan", "abc"],  # with OTEL_TRACES_SAMPLER=traceidratio
    "OTEL_METRIC_EXPORT_INTERVAL": [*_NUMBERS, "0"],
    "OTEL_TRACES_EXPORTER": ["zipkin_nope", "(", "otlp,nope"],
    "OTEL_METRICS_EXPORTER": ["prometheus_nope"],
    "OTEL_LOGS_EXPORTER": ["nope"],
    "OTEL_METRIC_EXPORT_TIMEOUT": [*_NUMBERS, "0"],
    **{f"OTEL_{p}_{s}": _BATCH for p in ("BSP", "BLRP")
       for s in ("SCHEDULE_DELAY", "MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE", "EXPORT_TIMEOUT")},
}

#: Read, and any value is accepted (a name, a secret, a test switch): no warning expected, nothing raised.
ANY_VALUE = {"OTEL_SERVICE_NAME", ev.OMIE_APP_KEY, ev.OMIE_APP_SECRET, ev.OMIE_OTEL_RAISE_INTERNAL_ERRORS}
#: Read by the Omie simulator (a test tool with its own CLI), not by the library.
SIMULATOR = re.compile(r"OMIE_SIM_")
#: Read by a CLI command, not by instrument(): the command refuses a bad value at start with its own message
#: (tests/test_dashboard.py covers the token).
CLI_ONLY = {"OMIE_OTEL_DASHBOARD_TOKEN"}
#: Names that look like variables but are not read from the environment.
NOT_VARIABLES = {"OMIE_MODULES"}


def test_the_table_covers_every_variable_in_the_sources() -> None:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found |= set(re.findall(r"[\"']((?:OTEL|OMIE)_[A-Z0-9_]+)[\"']", path.read_text()))
    found = {name for name in found if not SIMULATOR.match(name)}
    covered = set(OURS) | set(STANDARD) | ANY_VALUE | CLI_ONLY | NOT_VARIABLES
    assert found - covered == set(), "add these variables and their garbage values to the table"


def _warnings_about(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and name in r.getMessage()]


def _sdk_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings the SDK or exporters logged themselves (set_*_provider's 'Overriding' notice aside)."""
    return [
        r.getMessage() for r in caplog.records
        if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING and "Overriding" not in r.getMessage()
    ]


CASES_OURS = [(name, value) for name, values in OURS.items() for value in values]


@pytest.mark.parametrize(("name", "value"), CASES_OURS, ids=[f"{n}={v[:12]}" for n, v in CASES_OURS])
def test_our_variables_warn_once_and_never_raise(
    name: str, value: str, telemetry: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING):
        omie_otel.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            logger_provider=telemetry.logger_provider,
        )
        omie_otel.uninstrument()
    about = _warnings_about(caplog, name)
    assert len(about) == 1, [r.getMessage() for r in caplog.records]
    message = about[0].getMessage()
    shown = value if len(value) < 100 else value[:20]
    assert shown in message, message  # names the value
    assert re.search(r"accepted|use |must|not a|is not|set it like", message), message  # says what is accepted


CASES_STANDARD = [(name, value) for name, values in STANDARD.items() for value in values]


@pytest.fixture(scope="module")
def sink_url() -> Any:
    with otlp_sink() as sink:
        yield sink.url


@pytest.mark.parametrize(("name", "value"), CASES_STANDARD, ids=[f"{n}={v[:12]}" for n, v in CASES_STANDARD])
def test_standard_variables_warn_once_and_the_sdk_gets_a_default(
    name: str, value: str, sink_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink_url)
    if name == "OTEL_TRACES_SAMPLER_ARG":
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")
    monkeypatch.setenv(name, value)
    bad_endpoint = name.endswith("_ENDPOINT")
    if bad_endpoint:  # its default (localhost:4318) has no receiver here: fail fast, and expect those failures
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.2")
    with caplog.at_level(logging.WARNING):
        providers = configure_from_env("env-garbage")
        if providers is not None:
            if not bad_endpoint:
                providers.tracer_provider.get_tracer("t").start_span("s").end()
            for provider in (providers.tracer_provider, providers.meter_provider, providers.logger_provider):
                provider.shutdown()
    about = _warnings_about(caplog, name)
    assert len(about) == 1, [r.getMessage() for r in caplog.records]
    assert repr(value if len(value) < 100 else value)[:20] in about[0].getMessage() or value[:20] in about[0].getMessage()
    assert "accepted" in about[0].getMessage()
    sdk = [m for m in _sdk_warnings(caplog) if not (bad_endpoint and "export" in m)]
    assert sdk == []  # the SDK was handed the default: it neither raised nor warned again


def test_the_protocol_warning_names_the_per_signal_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from omie_otel._otel_env import OtelEnv

    checked = OtelEnv({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"})
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        assert checked.protocol("traces") == "grpc"
        assert checked.protocol("logs") == "http/protobuf"
    (record,) = caplog.records
    assert "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL='http/json'" in record.getMessage()


def test_any_value_variables_are_taken_as_they_are(telemetry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ANY_VALUE - {ev.OMIE_OTEL_RAISE_INTERNAL_ERRORS}:
        monkeypatch.setenv(name, "(garbage) .* inf")
    omie_otel.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider,
                         logger_provider=telemetry.logger_provider, health_omie_probe=False)
    omie_otel.uninstrument()


def test_an_sdk_that_cannot_be_set_up_never_makes_instrument_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import omie_otel._lifecycle as inst

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("an OTEL_* value the SDK refuses")

    monkeypatch.setattr(inst, "configure_from_env", broken)
    monkeypatch.setattr(inst, "is_sdk_provider", lambda provider: False)  # as if no SDK were set globally
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        omie_otel.instrument()
        omie_otel.uninstrument()
    assert "could not be set up from the OTEL_* environment (ValueError" in caplog.text


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("scrub_patterns", ["("]),
        ("scrub_patterns", [".*"]),
        ("scrub_patterns", ["a|"]),
        ("capture_max_length", 10**9),
        ("capture_max_length", True),
        ("shutdown_timeout", float("inf")),
        ("shutdown_timeout", float("nan")),
        ("shutdown_timeout", -1),
        ("health_port", 70000),
        ("health_memory_threshold", float("nan")),
    ],
)
def test_bad_arguments_still_raise_value_error(argument: str, value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        resolve_options(environ={}, **{argument: value})


def test_good_scrub_patterns_from_the_environment_are_kept_next_to_a_bad_one(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        options = resolve_options(environ={ev.OMIE_OTEL_SCRUB_PATTERNS: "numero_cartao,(,cvv"})
    assert options.scrub_patterns == ("numero_cartao", "cvv")
    assert caplog.text.count(ev.OMIE_OTEL_SCRUB_PATTERNS) == 1
