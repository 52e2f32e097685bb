"""instrument() after uninstrument() on the same providers: every observable instrument reports again.

The SDK ignores the callbacks of a second registration under the same name on a meter; before the relay in
omie_otel._observable, host metrics, the health gauge and the self-telemetry went silent after a re-instrument.
"""

from __future__ import annotations

from typing import Any

from omie_otel import instrument, uninstrument
from omie_otel import semconv as sc
from omie_otel._lifecycle import current_state

#: Observable instruments that report on every collection while instrumented (whatever the traffic).
ALWAYS_REPORTING = {
    sc.SYSTEM_MEMORY_USAGE,
    sc.PROCESS_THREAD_COUNT,
    sc.SYSTEM_FILESYSTEM_UTILIZATION,
    sc.OMIE_OTEL_HEALTH_STATUS,
    sc.OMIE_OTEL_EXPORT_FAILURES,
    sc.OMIE_OTEL_EXPORT_DROPPED,
    sc.OMIE_OTEL_INTERNAL_ERRORS,
}


def _reporting(telemetry: Any) -> set[str]:
    data = telemetry.reader.get_metrics_data()
    if data is None:
        return set()
    return {
        m.name
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.data.data_points
    }


def _instrument(telemetry: Any) -> None:
    instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=telemetry.logger_provider,
        health_omie_probe=False,
    )


def test_every_observable_reports_again_after_a_second_instrument(telemetry: Any) -> None:
    _instrument(telemetry)
    try:
        first = _reporting(telemetry)
    finally:
        uninstrument()
    assert first >= ALWAYS_REPORTING
    assert not (_reporting(telemetry) & ALWAYS_REPORTING)  # uninstrumented: silent
    for _ in range(2):  # and again, twice
        _instrument(telemetry)
        try:
            state = current_state()
            assert state is not None and state.host_metrics is not None
            again = _reporting(telemetry)
        finally:
            uninstrument()
        assert again >= ALWAYS_REPORTING, ALWAYS_REPORTING - again


def test_the_rate_limit_gauge_reports_for_the_second_instrumentation(telemetry: Any) -> None:
    for round_ in range(2):
        _instrument(telemetry)
        try:
            state = current_state()
            assert state is not None
            state.omie._set_utilization("requests_per_minute", None, 3 + round_, 10)  # noqa: SLF001
            points = [
                p.value
                for rm in telemetry.reader.get_metrics_data().resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
                if m.name == sc.OMIE_CLIENT_RATELIMIT_UTILIZATION
                for p in m.data.data_points
            ]
        finally:
            uninstrument()
        assert points == [(3 + round_) / 10]
