"""omie-otel: one-call OpenTelemetry for FastMCP servers that talk to the Omie ERP API."""

from omie_otel.version import __version__

__all__ = ["__version__"]
