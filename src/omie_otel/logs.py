"""Logs: stdlib ``logging`` bridged to OpenTelemetry with trace correlation, and an optional JSON console format.

:func:`omie_otel.instrument` attaches an OpenTelemetry logging handler to the root logger (and to FastMCP's logger,
which does not propagate on some versions). Each record emitted while a request is handled carries the trace id and
span id of the active span, its severity and its code location, and is scrubbed like spans before export.

If the root logger's level is above ``log_level`` (Python's default is WARNING), it is lowered so INFO records reach
OpenTelemetry, and the handlers already on the root logger are pinned to the old level, so what your console shows
does not change. When the root logger had no handler at all, a stderr handler standing in for Python's "last resort"
one keeps printing warnings. Call ``logging.basicConfig()`` *before* ``instrument()`` (or pass ``force=True``):
``basicConfig`` does nothing once the root logger has a handler.

``OMIE_OTEL_LOG_FORMAT=json`` prints one JSON object per line on stderr (stdout belongs to stdio MCP servers):

.. code-block:: json

    {"timestamp": "2026-11-29T14:31:02.120Z", "level": "INFO", "logger": "omie.tools",
     "message": "listando clientes", "trace_id": "4bf92f...", "span_id": "00f067...", "pagina": 2}

Example:
    >>> import logging
    >>> from omie_otel.logs import JsonFormatter
    >>> handler = logging.StreamHandler()
    >>> handler.setFormatter(JsonFormatter())
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

from omie_otel._config import option_named
from omie_otel.redaction import Scrubber

__all__ = ["JsonFormatter", "LogBridge"]

_logger = logging.getLogger("omie_otel")
_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}
_WALKABLE = (str, int, float, bool, type(None), list, dict, tuple, set, frozenset, bytes)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, trace_id, span_id, and the ``extra`` fields.

    Args:
        scrubber: Removes secrets and documents from the message and the extra fields (default: a new Scrubber).
    """

    def __init__(self, scrubber: Scrubber | None = None) -> None:
        super().__init__()
        self._scrubber = scrubber or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        trace_id = getattr(record, "otelTraceID", None)
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        elif trace_id and trace_id != "0":
            out["trace_id"] = trace_id
            out["span_id"] = getattr(record, "otelSpanID", None)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("otel") and key not in out:
                # kept as values (not their repr) so the scrubber walks them: keys, numbers, bytes, nesting
                out[key] = value if isinstance(value, _WALKABLE) else repr(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        out = self._scrubber.scrub_value(out)
        return json.dumps(out, ensure_ascii=False, default=_json_default)


def _handler_class() -> Any:
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler

        return LoggingHandler
    except ImportError:  # pragma: no cover - older contrib: the SDK's (deprecated) handler
        from opentelemetry.sdk._logs import LoggingHandler as SdkLoggingHandler

        return SdkLoggingHandler


#: Loggers whose records never enter the OpenTelemetry log pipeline: the SDK and the OTLP exporters report *on* that
#: pipeline (retries, failures, dropped batches), and feeding their records back into it kept its queue from ever
#: emptying while the collector was down.
_PIPELINE_LOGGERS = ("opentelemetry.",)


class _NotFromThePipeline(logging.Filter):
    """Drops records from :data:`_PIPELINE_LOGGERS`, and any record logged while an export runs (a batch processor
    marks that with the suppress-instrumentation key: urllib3, requests or grpc logging from inside an exporter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(_PIPELINE_LOGGERS):
            return False
        return not otel_context.get_value(_SUPPRESS_INSTRUMENTATION_KEY)


class LogBridge:
    """Attach/detach the OpenTelemetry handler and the optional JSON console format."""

    def __init__(self, logger_provider: Any, level: int, scrubber: Scrubber, fmt: str | None = None) -> None:
        self._provider = logger_provider
        self._level = level
        self._scrubber = scrubber
        try:  # None: OMIE_OTEL_LOG_FORMAT (a bad value there warns and gives text)
            self.format: str = option_named("log_format").resolve(fmt)
        except ValueError as exc:
            _logger.warning("omie-otel: %s. Keeping text.", exc)
            self.format = "text"
        self.handler: logging.Handler | None = None
        self.console: logging.Handler | None = None
        self._attached: list[logging.Logger] = []
        self._old_root_level: int | None = None
        self._pinned: list[logging.Handler] = []
        self._last_resort: logging.Handler | None = None
        self._old_formatters: list[tuple[logging.Handler, logging.Formatter | None]] = []

    def start(self) -> None:
        cls = _handler_class()
        try:
            handler = cls(level=self._level, logger_provider=self._provider, log_code_attributes=True)
        except TypeError:  # the SDK handler has no code-location switch (it always records it)
            handler = cls(level=self._level, logger_provider=self._provider)
        handler.addFilter(_NotFromThePipeline())
        self.handler = handler
        root = logging.getLogger()
        if not root.handlers and self.format != "json":
            last_resort = logging.StreamHandler(sys.stderr)
            last_resort.setLevel(max(root.level, logging.WARNING))
            root.addHandler(last_resort)
            self._last_resort = last_resort
        if root.level > self._level:
            self._old_root_level = root.level
            for h in root.handlers:
                if h.level == logging.NOTSET:
                    h.setLevel(root.level)
                    self._pinned.append(h)
            root.setLevel(self._level)
        for logger in (root, logging.getLogger("fastmcp")):
            if logger is root or not logger.propagate:
                logger.addHandler(handler)
                self._attached.append(logger)
        if self.format == "json":
            formatter = JsonFormatter(self._scrubber)
            streams = [h for h in root.handlers if type(h) is logging.StreamHandler]
            if streams:
                for h in streams:
                    self._old_formatters.append((h, h.formatter))
                    h.setFormatter(formatter)
            else:
                console = logging.StreamHandler(sys.stderr)
                console.setFormatter(formatter)
                console.setLevel(self._level)
                root.addHandler(console)
                self.console = console

    def stop(self) -> None:
        root = logging.getLogger()
        for logger in self._attached:
            if self.handler is not None:
                logger.removeHandler(self.handler)
        self._attached.clear()
        if self.console is not None:
            root.removeHandler(self.console)
            self.console = None
        for h, old in self._old_formatters:
            h.setFormatter(old)
        self._old_formatters.clear()
        if self._last_resort is not None:
            root.removeHandler(self._last_resort)
            self._last_resort = None
        for h in self._pinned:
            h.setLevel(logging.NOTSET)
        self._pinned.clear()
        if self._old_root_level is not None:
            root.setLevel(self._old_root_level)
            self._old_root_level = None
