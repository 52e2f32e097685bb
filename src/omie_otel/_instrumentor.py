"""Entry point for ``opentelemetry-instrument``: instruments every FastMCP server with no code change."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# instrumentor.py starts with a file-wide `# type: ignore`, so mypy sees no BaseInstrumentor there (an Any base class).
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from omie_otel._lifecycle import instrument, uninstrument

__all__ = ["OmieOtelInstrumentor"]

_instruments = ("fastmcp >= 2.9",)


class OmieOtelInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``opentelemetry-instrument`` finds this through the ``opentelemetry_instrumentor`` entry point.

    Example:
        >>> OmieOtelInstrumentor().instrument()  # same as omie_otel.instrument()
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        instrument(
            None,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        uninstrument()
