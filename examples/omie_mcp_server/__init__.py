"""An Omie MCP server a Brazilian team would ship, observed by omie-otel with one call.

Run it from the repository root::

    python -m examples.omie_mcp_server                    # stdio, for Claude Desktop, Cursor...
    python -m examples.omie_mcp_server --transport http   # streamable HTTP on http://127.0.0.1:8000/mcp

With no ``OMIE_APP_KEY``/``OMIE_APP_SECRET`` it talks to the local Omie simulator at
``http://127.0.0.1:8765/api/v1/`` (start it with ``omie-otel simulator``); with them, to the real
``https://app.omie.com.br/api/v1/``. ``OMIE_API_URL`` overrides the URL. Telemetry is configured from the standard
``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``, ``OTEL_SERVICE_NAME``...).

Modules: :mod:`.client` (the Omie client: retries, limits, faults), :mod:`.server` (the tools), ``__main__`` (the
command line, and the one ``omie_otel.instrument`` call).
"""

from examples.omie_mcp_server.client import OmieClient, OmieError, OmieSettings
from examples.omie_mcp_server.server import build_server

__all__ = ["OmieClient", "OmieError", "OmieSettings", "build_server"]
