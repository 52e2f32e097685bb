"""Environment variables omie-otel reads, each a named constant.

Standard ``OTEL_*`` variables come first and are read by the OpenTelemetry SDK itself (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``_PROTOCOL`` / ``_HEADERS`` / ``_TIMEOUT``,
``OTEL_TRACES_SAMPLER`` / ``_ARG``, ``OTEL_SDK_DISABLED``). The ``OMIE_OTEL_*`` variables below are ours. An
argument to :func:`omie_otel.instrument` always wins over the environment, which wins over the default. A bad value
in the environment is reported in a warning naming the variable and the accepted values, and the default is used:
a typo in a deployment must not take the server down. Each ``OMIE_OTEL_*`` variable belongs to one option of the
table in ``omie_otel._config`` (where it is read, once); ``tests/test_options_table.py`` checks that this list and
that table agree.
"""

OMIE_OTEL_CAPTURE_ARGUMENTS = "OMIE_OTEL_CAPTURE_ARGUMENTS"
"""``true`` records tool arguments as ``gen_ai.tool.call.arguments`` (scrubbed, truncated). Default ``false``."""

OMIE_OTEL_CAPTURE_RESULTS = "OMIE_OTEL_CAPTURE_RESULTS"
"""``true`` records tool results as ``gen_ai.tool.call.result`` (scrubbed, truncated). Default ``false``."""

OMIE_OTEL_CAPTURE_MAX_LENGTH = "OMIE_OTEL_CAPTURE_MAX_LENGTH"
"""Maximum characters kept of a captured argument or result JSON. Default ``4096``."""

OMIE_OTEL_OMIE_URL = "OMIE_OTEL_OMIE_URL"
"""Comma-separated URL prefixes of the Omie API whose httpx calls get Omie spans.
Default ``https://app.omie.com.br/api/``."""

OMIE_OTEL_HOST_METRICS = "OMIE_OTEL_HOST_METRICS"
"""``false`` turns the psutil host and process gauges off. Default ``true``."""

OMIE_OTEL_HOST_METRICS_EXCLUDE = "OMIE_OTEL_HOST_METRICS_EXCLUDE"
"""Comma-separated globs of host metric names to leave out, e.g. ``system.network.*``. Default: none."""

OMIE_OTEL_HOST_METRICS_PER_CPU = "OMIE_OTEL_HOST_METRICS_PER_CPU"
"""``true`` reports ``system.cpu.utilization`` once per logical CPU (attribute ``cpu.logical_number``). Default
``false``: one aggregate series. Accepted: ``true``/``1``/``yes``/``on`` and ``false``/``0``/``no``/``off``."""

OMIE_OTEL_LOGS = "OMIE_OTEL_LOGS"
"""``false`` stops bridging stdlib ``logging`` records to the OpenTelemetry logger provider. Default ``true``."""

OMIE_OTEL_LOG_LEVEL = "OMIE_OTEL_LOG_LEVEL"
"""Lowest level of records exported through OpenTelemetry (``DEBUG``, ``INFO``...). Default ``INFO``."""

OMIE_OTEL_LOG_FORMAT = "OMIE_OTEL_LOG_FORMAT"
"""``json`` prints one JSON object per line on the console, with trace ids; ``text`` (default) leaves it alone."""

OMIE_OTEL_SCRUB_DOCUMENTS = "OMIE_OTEL_SCRUB_DOCUMENTS"
"""``false`` stops removing CPF/CNPJ numbers from exported text (secrets are always removed). Default ``true``."""

OMIE_OTEL_SCRUB_PATTERNS = "OMIE_OTEL_SCRUB_PATTERNS"
"""Comma-separated extra key patterns (regular expressions) whose values are removed. Default: none. An entry that
is not a valid regular expression, or that matches every key (``.*``, anything matching the empty string or any one
character), is refused with a warning and ignored; the others are kept."""

OMIE_OTEL_OPS_TOOLS = "OMIE_OTEL_OPS_TOOLS"
"""``true`` adds the read-only MCP tools ``get_system_metrics``, ``health_check``, ``get_active_alerts``."""

OMIE_OTEL_ALERTMANAGER_URL = "OMIE_OTEL_ALERTMANAGER_URL"
"""Alertmanager base URL read by the ``get_active_alerts`` ops tool, e.g. ``http://127.0.0.1:9093``. Default: unset
(the tool then answers that it is not configured)."""

OMIE_OTEL_HEALTH_ROUTES = "OMIE_OTEL_HEALTH_ROUTES"
"""``false`` stops adding ``GET /health/live`` and ``GET /health/ready`` to instrumented FastMCP servers' HTTP apps.
Default ``true`` (they only exist when the server runs an HTTP transport)."""

OMIE_OTEL_HEALTH_PORT = "OMIE_OTEL_HEALTH_PORT"
"""TCP port of a small loopback (``127.0.0.1``) HTTP listener serving ``/health/live`` and ``/health/ready``, for
stdio servers that have no HTTP app of their own. ``0`` picks a free port. Default: unset (no listener)."""

OMIE_OTEL_HEALTH_MEMORY_THRESHOLD = "OMIE_OTEL_HEALTH_MEMORY_THRESHOLD"
"""Percentage (0-100) of system memory in use at or above which the server is not ready. Default ``85``.
A percentage, not a fraction: ``0.85`` is refused."""

OMIE_OTEL_HEALTH_DISK_THRESHOLD = "OMIE_OTEL_HEALTH_DISK_THRESHOLD"
"""Percentage (0-100) of the root filesystem in use at or above which the server is not ready. Default ``90``."""

OMIE_OTEL_HEALTH_OMIE_PROBE = "OMIE_OTEL_HEALTH_OMIE_PROBE"
"""``false`` never sends the readiness probe to Omie (``ListarCategorias``, at most once per 5 minutes, only from a
readiness check, never in the first minute, only when there was no Omie call lately and only with the app key/secret
the application itself sent; see :mod:`omie_otel.health`). Default ``true``."""

OMIE_OTEL_SHUTDOWN_TIMEOUT = "OMIE_OTEL_SHUTDOWN_TIMEOUT"
"""Seconds ``uninstrument()`` and interpreter exit wait for the telemetry omie-otel set up itself to be sent
(0-600). Default ``2``: a closed, black-holed or slow collector never delays a restart longer; spans and log records
still queued at exit are counted in ``omie_otel.export.dropped`` (``error.type=shutdown``) and reported once."""

OMIE_APP_KEY = "OMIE_APP_KEY"
"""Omie application key; omie-otel only scrubs its value everywhere (the readiness probe never reads it)."""

OMIE_APP_SECRET = "OMIE_APP_SECRET"
"""Omie application secret; omie-otel only scrubs its value everywhere (the readiness probe never reads it)."""

OMIE_OTEL_RAISE_INTERNAL_ERRORS = "OMIE_OTEL_RAISE_INTERNAL_ERRORS"
"""``1`` re-raises omie-otel's own internal errors instead of logging them (used by our test-suite only)."""
