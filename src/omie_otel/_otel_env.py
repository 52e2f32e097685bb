"""The standard ``OTEL_*`` variables the SDK reads when omie-otel sets it up, checked before the SDK sees them.

Left to itself the SDK raises on some bad values (``OTEL_METRIC_EXPORT_INTERVAL=-1``, ``OTEL_BSP_MAX_QUEUE_SIZE=0``:
``instrument()`` failed), silently accepts others that break every export (``OTEL_EXPORTER_OTLP_TIMEOUT=-1``,
``inf``, ``nan``), and warns three times, or with no word on what is accepted, about the rest. Here every such value
gives ONE warning naming the variable, the value and what is accepted, and the default is passed to the SDK
explicitly, so the SDK neither raises nor warns again. Valid values are not touched: the SDK reads them itself.

Checked: ``OTEL_SDK_DISABLED``; ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_|LOGS_]PROTOCOL``, ``..._ENDPOINT``,
``..._TIMEOUT`` and ``..._COMPRESSION``; ``OTEL_TRACES_SAMPLER`` / ``_ARG``; ``OTEL_METRIC_EXPORT_INTERVAL`` / ``_TIMEOUT``;
``OTEL_BSP_*`` and ``OTEL_BLRP_*`` (schedule delay, queue size, batch size, export timeout).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["OtelEnv", "PROTOCOLS", "SAMPLERS"]

_logger = logging.getLogger("omie_otel")

PROTOCOLS = ("http/protobuf", "grpc")
SAMPLERS = (
    "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off",
    "parentbased_traceidratio",
)
_COMPRESSIONS = ("gzip", "deflate", "none")
_DAY_MS = 86_400_000

#: (variable suffix, constructor argument, default, minimum, maximum) of the batch processors' whole-number settings.
_BATCH = (
    ("SCHEDULE_DELAY", "schedule_delay_millis", None, 1, _DAY_MS),
    ("MAX_QUEUE_SIZE", "max_queue_size", 2048, 1, 10_000_000),
    ("MAX_EXPORT_BATCH_SIZE", "max_export_batch_size", 512, 1, 10_000_000),
    ("EXPORT_TIMEOUT", "export_timeout_millis", 30_000, 1, _DAY_MS),
)
_SCHEDULE_DEFAULT = {"BSP": 5000, "BLRP": 1000}


def _endpoint_ok(raw: str, grpc: bool) -> bool:
    """An http(s) URL with a host (and a valid port, if any); for gRPC a bare ``host:port`` too."""
    from urllib.parse import urlsplit

    value = raw.strip()
    if grpc and "://" not in value:
        value = f"http://{value}"
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536  # .port raises ValueError when out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


class OtelEnv:
    """Reads and checks the variables once per SDK set-up; each bad one warns once.

    Example:
        >>> env = OtelEnv({"OTEL_METRIC_EXPORT_INTERVAL": "-1", "OTEL_BSP_MAX_QUEUE_SIZE": "4096"})
        >>> env.reader_kwargs()  # the bad interval is replaced by the default; the good queue size is left alone
        {'export_interval_millis': 60000.0}
        >>> env.batch_kwargs("traces")
        {}
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._warned: set[str] = set()

    # --- helpers ----------------------------------------------------------------------------------------------------

    def _raw(self, name: str) -> str | None:
        raw = self._env.get(name)
        return None if raw is None or raw.strip() == "" else raw

    def warn(self, name: str, raw: str, accepted: str, fallback: Any) -> None:
        """One warning per variable: its name, its value, what is accepted, what is used instead."""
        if name in self._warned:
            return
        self._warned.add(name)
        _logger.warning("omie-otel: %s=%r is not valid; accepted: %s. Using %s.", name, raw, accepted, fallback)

    def _number(self, name: str, default: float, low: float, high: float, unit: str, whole: bool) -> float | None:
        """The default when ``name`` holds a bad value (after one warning); ``None`` when unset or valid."""
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            value = float(int(raw.strip())) if whole else float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            kind = "a whole number" if whole else "a finite number"
            self.warn(name, raw, f"{kind} of {unit} from {low:.15g} to {high:.15g}", f"the default, {default:.15g}")
            return default
        return None

    # --- what the SDK is given ----------------------------------------------------------------------------------------

    def sdk_disabled(self) -> bool:
        raw = self._raw("OTEL_SDK_DISABLED")
        if raw is None:
            return False
        value = raw.strip().lower()
        if value not in ("true", "false"):
            self.warn("OTEL_SDK_DISABLED", raw, "'true' or 'false'", "false (the SDK is on)")
        return value == "true"

    def _signal_var(self, signal: str, setting: str) -> tuple[str, str | None]:
        """``(variable, value)``: the per-signal variable when set, else the general one (as the SDK reads them)."""
        specific = f"OTEL_EXPORTER_OTLP_{signal.upper()}_{setting}"
        if self._raw(specific) is not None:
            return specific, self._raw(specific)
        general = f"OTEL_EXPORTER_OTLP_{setting}"
        return general, self._raw(general)

    def protocol(self, signal: str) -> str:
        name, raw = self._signal_var(signal, "PROTOCOL")
        value = (raw or "http/protobuf").strip().lower()
        if value not in PROTOCOLS:
            self.warn(name, raw or "", " or ".join(repr(p) for p in PROTOCOLS), "http/protobuf")
            value = "http/protobuf"
        return value

    def exporter_kwargs(self, signal: str, grpc: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        name, raw = self._signal_var(signal, "ENDPOINT")
        if raw is not None and not _endpoint_ok(raw, grpc):
            default = "localhost:4317" if grpc else f"http://localhost:4318/v1/{signal}"
            accepted = "an http(s) URL such as http://127.0.0.1:4318" if not grpc else (
                "an http(s) URL or host:port such as 127.0.0.1:4317"
            )
            self.warn(name, raw, accepted, f"the default, {default}")
            out["endpoint"] = default
        name, raw = self._signal_var(signal, "TIMEOUT")
        if raw is not None and self._number(name, 10.0, 0.001, 600.0, "seconds", whole=False) is not None:
            out["timeout"] = 10.0
        name, raw = self._signal_var(signal, "COMPRESSION")
        if raw is not None and raw.strip().lower() not in _COMPRESSIONS:
            self.warn(name, raw, ", ".join(_COMPRESSIONS), "no compression")
            if grpc:
                from grpc import Compression as GrpcCompression

                out["compression"] = GrpcCompression.NoCompression
            else:
                from opentelemetry.exporter.otlp.proto.http import Compression

                out["compression"] = Compression.NoCompression
        return out

    def sampler_kwargs(self) -> dict[str, Any]:
        from opentelemetry.sdk.trace import sampling

        raw = self._raw("OTEL_TRACES_SAMPLER")
        name = (raw or "parentbased_always_on").strip().lower()
        arg_raw = self._raw("OTEL_TRACES_SAMPLER_ARG")
        if name not in SAMPLERS:
            self.warn("OTEL_TRACES_SAMPLER", raw or "", ", ".join(SAMPLERS), "parentbased_always_on")
            return {"sampler": sampling.DEFAULT_ON}
        if name.endswith("traceidratio"):
            rate = 1.0
            if arg_raw is not None:
                try:
                    rate = float(arg_raw)
                except ValueError:
                    rate = math.nan
                if not 0.0 <= rate <= 1.0:  # False for nan
                    self.warn("OTEL_TRACES_SAMPLER_ARG", arg_raw, "a sampling ratio from 0 to 1, e.g. 0.25", "1.0")
                    rate = 1.0
            cls = sampling.TraceIdRatioBased if name == "traceidratio" else sampling.ParentBasedTraceIdRatio
            return {"sampler": cls(rate)}  # also when ARG is unset: the SDK would warn about an empty ratio
        return {}

    def reader_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, arg, default in (
            ("OTEL_METRIC_EXPORT_INTERVAL", "export_interval_millis", 60_000.0),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "export_timeout_millis", 30_000.0),
        ):
            fixed = self._number(name, default, 1, _DAY_MS, "milliseconds", whole=False)
            if fixed is not None:
                out[arg] = fixed
        return out

    def batch_kwargs(self, signal: str) -> dict[str, Any]:
        """Arguments for the batch span (``traces``) or log record (``logs``) processor."""
        prefix = "BSP" if signal == "traces" else "BLRP"
        out: dict[str, Any] = {}
        for suffix, arg, default, low, high in _BATCH:
            default = _SCHEDULE_DEFAULT[prefix] if default is None else default
            fixed = self._number(f"OTEL_{prefix}_{suffix}", default, low, high, "items" if "SIZE" in suffix
                                 else "milliseconds", whole=True)
            if fixed is not None:
                out[arg] = int(fixed)
        queue = out.get("max_queue_size") or self._valid_int(f"OTEL_{prefix}_MAX_QUEUE_SIZE") or 2048
        batch = out.get("max_export_batch_size") or self._valid_int(f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE") or 512
        if batch > queue:  # the SDK raises on this
            name = f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE"
            self.warn(name, str(batch), f"at most the queue size ({queue})", f"{min(512, queue)}")
            out["max_export_batch_size"] = min(512, queue)
        return out

    def _valid_int(self, name: str) -> int | None:
        raw = self._raw(name)
        try:
            return int(raw.strip()) if raw is not None else None
        except ValueError:
            return None
