"""Local (non-global) OpenTelemetry SDK providers exporting over OTLP/HTTP, for e2e tests that need exact telemetry
without the global providers (tests/e2e/test_stack_config.py, test_history.py)."""

from __future__ import annotations

from typing import Any


def sdk_pipeline(endpoint: str, service: str) -> tuple[Any, Any, Any, Any]:
    """Local (non-global) SDK providers exporting over OTLP/HTTP to ``endpoint``."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": service, "service.instance.id": f"{service}-1"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")))
    # The Logs API directly (the SDK's logging.Handler is deprecated); emit() takes the current span's context.
    logger = logger_provider.get_logger("omie_otel.e2e")
    return tracer_provider, meter_provider, logger_provider, logger
