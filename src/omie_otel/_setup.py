"""SDK set-up from the standard ``OTEL_*`` variables, for users who configured nothing themselves.

Only used when :func:`omie_otel.instrument` is given no providers and no SDK provider is set globally. The exporters
read their own ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, per-signal endpoints, headers, timeout, compression);
``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` / ``OTEL_LOGS_EXPORTER`` choose them (``otlp``, ``console``,
``none``, comma lists; see :func:`_exporter_names`); the metric reader reads ``OTEL_METRIC_EXPORT_INTERVAL``; the tracer provider
reads ``OTEL_TRACES_SAMPLER``; :class:`~opentelemetry.sdk.resources.Resource` reads ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``. Every exporter is wrapped so failed exports are counted in
:data:`omie_otel._export_counting.export_stats` — a dead collector is visible, never silent, and never blocks a request
(spans, points and records are queued and sent from background threads).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from omie_otel._export_counting import CountingLogExporter, CountingMetricExporter, CountingSpanExporter
from omie_otel._otel_env import OtelEnv

__all__ = ["Providers", "configure_from_env", "sdk_disabled", "is_sdk_provider"]

_logger = logging.getLogger("omie_otel")


@dataclass
class Providers:
    """The providers omie-otel emits through, and whether we created (and so own) them."""

    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    owned: bool = False


def sdk_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """``OTEL_SDK_DISABLED=true``: the SDK must not be configured, everything stays a no-op."""
    env = os.environ if environ is None else environ
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def is_sdk_provider(provider: Any) -> bool:
    """True for an SDK (recording) provider; False for the API's proxy / no-op defaults."""
    name = type(provider).__name__
    return not (name.startswith("Proxy") or name.startswith("NoOp") or name.startswith("_Proxy"))


def _otlp_exporter(signal: str, checked: OtelEnv, grpc: bool) -> Any:
    """An OTLP exporter for ``signal`` built with the checked ``OTEL_EXPORTER_OTLP_*`` values (a bad one has already
    warned and is replaced by its default here, so the SDK never sees it)."""
    kwargs = checked.exporter_kwargs(signal, grpc)
    if signal == "traces":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
        return OTLPSpanExporter(**kwargs)
    if signal == "metrics":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
        return OTLPMetricExporter(**kwargs)
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # type: ignore[assignment]
    return OTLPLogExporter(**kwargs)


_OTLP_NAMES = {"otlp_proto_http": False, "otlp_proto_grpc": True}


_EXPORTER_VARIABLES = {"traces": "OTEL_TRACES_EXPORTER", "metrics": "OTEL_METRICS_EXPORTER", "logs": "OTEL_LOGS_EXPORTER"}


def _exporter_names(signal: str, env: Mapping[str, str], checked: OtelEnv) -> list[str]:
    """``OTEL_<SIGNAL>_EXPORTER`` as the spec reads it: a comma list, default ``otlp``, ``none`` for no exporter.

    ``otlp`` becomes the SDK's entry-point name for the configured protocol (``otlp_proto_http`` unless
    ``OTEL_EXPORTER_OTLP[_<SIGNAL>]_PROTOCOL=grpc``: the spec's default protocol, where the Python SDK's own
    configurator would pick gRPC).
    """
    raw = env.get(_EXPORTER_VARIABLES[signal])
    names = [n.strip().lower() for n in (raw if raw is not None and raw.strip() else "otlp").split(",") if n.strip()]
    if "none" in names:
        return []
    out: list[str] = []
    for name in names:
        if name == "otlp":
            name = "otlp_proto_grpc" if checked.protocol(signal) == "grpc" else "otlp_proto_http"
        if name not in out:
            out.append(name)
    return out


def _exporters(signal: str, env: Mapping[str, str], checked: OtelEnv) -> list[Any]:
    """The exporters (metric readers too, for ``metrics``) that ``OTEL_<SIGNAL>_EXPORTER`` names, loaded through the
    SDK's own entry points (``opentelemetry_<signal>_exporter``: ``otlp_proto_http``, ``otlp_proto_grpc``,
    ``console``, and whatever installed packages register). An unknown name warns once, naming the variable."""
    from opentelemetry.sdk._configuration import _import_exporters

    out: list[Any] = []
    for name in _exporter_names(signal, env, checked):
        if name in _OTLP_NAMES:
            out.append(_otlp_exporter(signal, checked, grpc=_OTLP_NAMES[name]))
            continue
        selection: dict[str, list[str]] = {"traces": [], "metrics": [], "logs": []}
        selection[signal] = [name]
        try:
            loaded = _import_exporters(selection["traces"], selection["metrics"], selection["logs"])
            exporter_class = loaded[("traces", "metrics", "logs").index(signal)][name]
        except (RuntimeError, KeyError, ImportError) as exc:
            variable = _EXPORTER_VARIABLES[signal]
            checked.warn(
                variable,
                env.get(variable, ""),
                f"otlp, console, none, or the name of an installed exporter, comma-separated ({name!r}: {exc})",
                f"no {signal} exporter for {name!r}",
            )
            continue
        out.append(exporter_class())
    return out


def configure_from_env(service_name: str | None, environ: Mapping[str, str] | None = None) -> Providers | None:
    """Create SDK providers exporting over OTLP, set them globally (the caller shuts them down at exit).

    Returns ``None`` when ``OTEL_SDK_DISABLED=true``.
    """
    env = os.environ if environ is None else environ
    checked = OtelEnv(env)  # bad OTEL_* values: one warning each, and the default handed to the SDK explicitly
    if checked.sdk_disabled():
        return None
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    attrs: dict[str, Any] = {}
    if service_name:
        attrs[SERVICE_NAME] = service_name
    resource = Resource.create(attrs)
    if service_name is None and str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "omie-mcp-server"}))
    if not resource.attributes.get(SERVICE_INSTANCE_ID):
        # Recent SDKs add a random one; older ones (we accept >= 1.30) do not. Without it, two processes of one
        # service write the same Prometheus series (instance = service.instance.id) and remote write refuses whole
        # requests as out of order (docs/capacity.md).
        resource = resource.merge(Resource({SERVICE_INSTANCE_ID: str(uuid.uuid4())}))

    # shutdown_on_exit=False: the SDK's own exit hook waits as long as a dead collector makes it; omie-otel's
    # (registered by instrument(), see omie_otel._shutdown) gives up after shutdown_timeout and counts what is lost.
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False, **checked.sampler_kwargs())
    for span_exporter in _exporters("traces", env, checked):
        tracer_provider.add_span_processor(
            BatchSpanProcessor(CountingSpanExporter(span_exporter), **checked.batch_kwargs("traces"))
        )
    readers = [
        exporter
        if isinstance(exporter, MetricReader)
        else PeriodicExportingMetricReader(CountingMetricExporter(exporter), **checked.reader_kwargs())
        for exporter in _exporters("metrics", env, checked)
    ]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for log_exporter in _exporters("logs", env, checked):
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(CountingLogExporter(log_exporter), **checked.batch_kwargs("logs"))  # type: ignore[arg-type]
        )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    set_logger_provider(logger_provider)
    return Providers(tracer_provider, meter_provider, logger_provider, owned=True)
