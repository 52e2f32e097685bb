"""The options of :func:`omie_otel.instrument`, declared once: each field of :class:`Options` is one option.

A field says its type, its default, its environment variable, how its values are read (an
:class:`~omie_otel._option_kinds.Kind`) and one sentence of docs. From that one table come the resolved
:class:`Options` (:func:`resolve_options`), every environment lookup (:meth:`Option.from_environment`), the README
options table (``scripts/options_table.py``) and the checks in ``tests/test_options_table.py`` that
:func:`omie_otel.instrument`'s keywords, :mod:`omie_otel.environment_variables` and the package docstring agree
with it. Adding an option is one field here and one keyword of ``instrument()``.

Resolution: argument > environment variable > default. A bad argument raises ``ValueError`` naming it and the fix;
a bad environment value logs one warning naming the variable, the value and what is accepted, and the default is
used: a typo in a deployment never takes the server down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from omie_otel import _option_kinds as kinds
from omie_otel import environment_variables as ev
from omie_otel._option_kinds import Option, option, shown_default

if TYPE_CHECKING:
    from omie_otel.redaction import ScrubCallback

__all__ = ["OPTIONS", "Option", "Options", "resolve_options", "option_named", "DEFAULT_OMIE_URL"]

DEFAULT_OMIE_URL = "https://app.omie.com.br/api/"
#: Readiness fails at or above these percentages of memory / disk in use (the seed plan's 85 % and 90 %).
DEFAULT_MEMORY_THRESHOLD = 85.0
DEFAULT_DISK_THRESHOLD = 90.0
#: Longest captured argument/result JSON: a span attribute, not a document store.
MAX_CAPTURE_LENGTH = 1_000_000
#: Seconds ``uninstrument()`` and interpreter exit wait for the providers omie-otel created (see ``_shutdown``).
DEFAULT_SHUTDOWN_TIMEOUT = 2.0
MAX_SHUTDOWN_TIMEOUT = 600.0
_ALERTMANAGER_EXAMPLE = "http://127.0.0.1:9093"
_SCRUB_PATTERN = "a Python regular expression matching secret key names, e.g. 'numero[_ ]?cartao'"


@dataclass(frozen=True)
class Options:
    """The resolved settings of one :func:`omie_otel.instrument` call; each field is an option (see the module)."""

    capture_arguments: bool = option(
        False, kinds.BOOL, env=ev.OMIE_OTEL_CAPTURE_ARGUMENTS,
        doc="record tool arguments as `gen_ai.tool.call.arguments` (scrubbed, truncated)",
    )
    capture_results: bool = option(
        False, kinds.BOOL, env=ev.OMIE_OTEL_CAPTURE_RESULTS,
        doc="record tool results as `gen_ai.tool.call.result` (scrubbed, truncated)",
    )
    capture_max_length: int = option(
        4096, kinds.whole_number(16, MAX_CAPTURE_LENGTH, 4096), env=ev.OMIE_OTEL_CAPTURE_MAX_LENGTH,
        doc=f"longest captured argument or result JSON, in characters (16 to {MAX_CAPTURE_LENGTH})",
    )
    omie_urls: tuple[str, ...] = option(
        (DEFAULT_OMIE_URL,),
        kinds.checked_list(kinds.url_error, "http(s) URL prefixes", "str | Sequence[str] | None",
                           example=DEFAULT_OMIE_URL),
        env=ev.OMIE_OTEL_OMIE_URL, keyword="omie_url",
        doc="URL prefix(es) of the Omie API whose httpx calls get Omie spans (comma-separated in the environment)",
    )
    host_metrics: bool = option(
        True, kinds.BOOL, env=ev.OMIE_OTEL_HOST_METRICS, doc="psutil host and process gauges",
    )
    host_metrics_exclude: tuple[str, ...] = option(
        (), kinds.GLOBS, env=ev.OMIE_OTEL_HOST_METRICS_EXCLUDE,
        doc="globs of host metric names to leave out, e.g. `system.network.*` (comma-separated in the environment)",
    )
    host_metrics_per_cpu: bool = option(
        False, kinds.BOOL, env=ev.OMIE_OTEL_HOST_METRICS_PER_CPU,
        doc="`system.cpu.utilization` per logical CPU instead of one aggregate series",
    )
    logs: bool = option(
        True, kinds.BOOL, env=ev.OMIE_OTEL_LOGS, doc="bridge stdlib `logging` records to OpenTelemetry logs",
    )
    log_level: int = option(
        logging.INFO, kinds.LOG_LEVEL, env=ev.OMIE_OTEL_LOG_LEVEL, shown="INFO",
        doc="lowest level of the records exported (`DEBUG`, `INFO`, `WARNING`...)",
    )
    log_format: str = option(
        "text", kinds.choice("a log format", ("text", "json")), env=ev.OMIE_OTEL_LOG_FORMAT, keyword=None,
        doc="`json` prints one JSON object per line on the console, with trace ids (environment only)",
    )
    scrub_documents: bool = option(
        True, kinds.BOOL, env=ev.OMIE_OTEL_SCRUB_DOCUMENTS,
        doc="remove CPF/CNPJ numbers from exported text (secrets are always removed)",
    )
    scrub_patterns: tuple[str, ...] = option(
        (), kinds.checked_list(kinds.scrub_pattern_error, _SCRUB_PATTERN, "Sequence[str] | None"),
        env=ev.OMIE_OTEL_SCRUB_PATTERNS,
        doc="extra key patterns (regular expressions) whose values are removed (comma-separated in the environment)",
    )
    scrub_callback: ScrubCallback | None = option(
        None, kinds.CALLBACK, env=None, shown="none",
        doc="`def cb(match: ScrubMatch)` deciding each replacement (argument only)",
    )
    ops_tools: bool = option(
        False, kinds.BOOL, env=ev.OMIE_OTEL_OPS_TOOLS,
        doc="read-only MCP tools `get_system_metrics`, `health_check`, `get_active_alerts`",
    )
    alertmanager_url: str | None = option(
        None, kinds.url(_ALERTMANAGER_EXAMPLE), env=ev.OMIE_OTEL_ALERTMANAGER_URL,
        doc=f"Alertmanager read by `get_active_alerts`, e.g. `{_ALERTMANAGER_EXAMPLE}`",
    )
    health_routes: bool = option(
        True, kinds.BOOL, env=ev.OMIE_OTEL_HEALTH_ROUTES,
        doc="`/health/live` and `/health/ready` on FastMCP HTTP servers",
    )
    health_port: int | None = option(
        None, kinds.PORT, env=ev.OMIE_OTEL_HEALTH_PORT, shown="off",
        doc="port of a loopback health listener, for stdio servers (`0` picks a free one)",
    )
    health_memory_threshold: float = option(
        DEFAULT_MEMORY_THRESHOLD, kinds.PERCENT, env=ev.OMIE_OTEL_HEALTH_MEMORY_THRESHOLD,
        doc="percent of memory in use at or above which the server is not ready (`85`, not `0.85`)",
    )
    health_disk_threshold: float = option(
        DEFAULT_DISK_THRESHOLD, kinds.PERCENT, env=ev.OMIE_OTEL_HEALTH_DISK_THRESHOLD,
        doc="percent of the root filesystem in use at or above which the server is not ready",
    )
    health_omie_probe: bool = option(
        True, kinds.BOOL, env=ev.OMIE_OTEL_HEALTH_OMIE_PROBE,
        doc='a cached `ListarCategorias` when there is no Omie traffic (see "The Omie readiness probe")',
    )
    shutdown_timeout: float = option(
        DEFAULT_SHUTDOWN_TIMEOUT, kinds.seconds(MAX_SHUTDOWN_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT),
        env=ev.OMIE_OTEL_SHUTDOWN_TIMEOUT,
        doc=f"seconds `uninstrument()` and exit wait for telemetry to leave (0 to {MAX_SHUTDOWN_TIMEOUT:g})",
    )


def _table() -> tuple[Option, ...]:
    table = []
    for f in fields(Options):
        spec = f.metadata["option"]
        keyword = f.name if spec["keyword"] == "" else spec["keyword"]
        shown = spec["shown"] if spec["shown"] is not None else shown_default(f.default)
        table.append(Option(f.name, keyword, spec["env"], f.default, spec["kind"], spec["doc"], shown))
    return tuple(table)


#: Every option, in the order of :class:`Options` (and of ``instrument()``'s keywords).
OPTIONS: tuple[Option, ...] = _table()
#: The options that are keywords of :func:`omie_otel.instrument`.
KEYWORDS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.keyword is not None)
_BY_NAME = {o.name: o for o in OPTIONS}
_BY_KEYWORD = {o.keyword: o for o in KEYWORDS if o.keyword is not None}

#: Our test-suite's switch (``_guard``): re-raise internal errors. Not an option of ``instrument()``.
RAISE_INTERNAL_ERRORS = Option(
    "raise_internal_errors", None, ev.OMIE_OTEL_RAISE_INTERNAL_ERRORS, False, kinds.BOOL,
    "re-raise omie-otel's own internal errors (our test-suite only)", "off",
)


def option_named(name: str) -> Option:
    """The option whose :class:`Options` field is ``name``, for code also used without ``instrument()``
    (``HostMetrics``, ``LogBridge``): ``option_named("log_format").resolve(None)`` reads the environment."""
    return _BY_NAME[name]


def resolve_options(environ: Mapping[str, str] | None = None, **arguments: Any) -> Options:
    """Resolve every option from ``instrument()``'s keywords (``None``: not given), the environment, the defaults.

    Bad arguments raise ``ValueError``; bad environment values warn and use the default.

    Example:
        >>> resolve_options(capture_arguments=True, environ={}).capture_arguments
        True
        >>> resolve_options(environ={"OMIE_OTEL_CAPTURE_RESULTS": "true"}).capture_results
        True
    """
    unknown = arguments.keys() - _BY_KEYWORD.keys()
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; the options are {sorted(_BY_KEYWORD)}")
    return Options(**{o.name: o.resolve(arguments.get(o.keyword or ""), environ) for o in OPTIONS})
