"""omie-otel: one-call OpenTelemetry for FastMCP servers that talk to the Omie ERP API.

Usage
-----
.. code-block:: python

    from fastmcp import FastMCP
    from omie_otel import instrument

    mcp = FastMCP("omie")
    instrument(mcp)          # or instrument() for every FastMCP server in the process

With no providers given and no OpenTelemetry SDK configured, the SDK is set up from the standard ``OTEL_*``
variables (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_PROTOCOL``,
``OTEL_TRACES_SAMPLER``, ``OTEL_SDK_DISABLED``...) and traces, metrics and logs leave over OTLP. No code change at
all: ``opentelemetry-instrument python server.py`` finds us through the ``opentelemetry_instrumentor`` entry point.

What you get
------------
* One SERVER span per MCP request (``tools/call listar_clientes``, ``prompts/get resumo``, ``tools/list``...) with
  the MCP semantic-convention attributes, continuing the client's trace from ``params._meta``. On FastMCP >= 3 it
  is FastMCP's own span, enriched — never a duplicate.
* ``mcp.server.operation.duration`` and ``mcp.server.session.duration`` histograms (seconds).
* Omie meaning on httpx calls to the Omie API, host and process gauges, and logs correlated to traces
  (see the docs for each).
* Scrubbing, always on: Omie ``app_key``/``app_secret``, passwords, tokens and CPF/CNPJ numbers are removed from
  every span, event and log record before any exporter sees it.

Configuration
-------------
Argument > environment variable > default. See :mod:`omie_otel.environment_variables` for every variable; the README's
options table is generated from the one table of options (``omie_otel._config.Options``).

* ``capture_arguments`` / ``capture_results`` (``OMIE_OTEL_CAPTURE_ARGUMENTS`` / ``_RESULTS``, default off): record
  tool arguments / results as JSON (scrubbed, truncated to ``capture_max_length``, default 4096).
* ``omie_url``: URL prefix(es) of the Omie API (``OMIE_OTEL_OMIE_URL``, default ``https://app.omie.com.br/api/``).
* ``host_metrics`` (``OMIE_OTEL_HOST_METRICS``, on), ``host_metrics_exclude`` (globs of metric names to leave out),
  ``host_metrics_per_cpu`` (``system.cpu.utilization`` per logical CPU, off).
* ``logs`` / ``log_level`` (``OMIE_OTEL_LOGS`` / ``_LOG_LEVEL``, on / INFO); ``OMIE_OTEL_LOG_FORMAT=json`` (environment
  only) prints one JSON object per line on the console.
* ``scrub_patterns``, ``scrub_documents``, ``scrub_callback``: extend or relax the scrubber.
* ``health_routes`` (``OMIE_OTEL_HEALTH_ROUTES``, on): ``/health/live`` and ``/health/ready`` on HTTP servers;
  ``health_port`` (``OMIE_OTEL_HEALTH_PORT``, off) a loopback listener for stdio servers; thresholds
  ``health_memory_threshold`` / ``health_disk_threshold`` (percent, 85 / 90); ``health_omie_probe``. The same report
  is :func:`omie_otel.health.check` and the ``omie_otel.health.status`` gauge.
* ``ops_tools`` (``OMIE_OTEL_OPS_TOOLS``, off): read-only MCP tools ``get_system_metrics``, ``health_check``,
  ``get_active_alerts`` (``alertmanager_url`` / ``OMIE_OTEL_ALERTMANAGER_URL``).
* ``tracer_provider``, ``meter_provider``, ``logger_provider``: emit through these instead of the global ones.
* ``shutdown_timeout`` (``OMIE_OTEL_SHUTDOWN_TIMEOUT``, 2 s): the longest ``uninstrument()`` and interpreter exit
  wait for telemetry omie-otel set up itself to be sent; what is left then is counted as dropped and reported once.

A bad argument raises ``ValueError`` naming it and the fix; a bad environment value logs a warning and the default
is used, so a typo in a deployment never takes a server down. Telemetry never breaks the tool call it observes: an
internal error is logged once and swallowed.

API
---
``instrument(mcp=None, **options)``, ``uninstrument()``, ``__version__``; :class:`ScrubMatch` for scrub callbacks.
"""

from omie_otel._lifecycle import instrument, uninstrument
from omie_otel.redaction import ScrubMatch
from omie_otel.version import __version__

__all__ = ["ScrubMatch", "__version__", "instrument", "uninstrument"]
