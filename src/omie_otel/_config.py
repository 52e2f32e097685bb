"""Settings, resolved in one place: argument > environment variable > default."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omie_otel import environment_variables as ev
from omie_otel.redaction import ScrubCallback

__all__ = ["Options", "resolve_options", "DEFAULT_OMIE_URL"]

_logger = logging.getLogger("omie_otel")

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
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Options:
    """The resolved settings of one :func:`omie_otel.instrument` call."""

    capture_arguments: bool = False
    capture_results: bool = False
    capture_max_length: int = 4096
    omie_urls: tuple[str, ...] = (DEFAULT_OMIE_URL,)
    host_metrics: bool = True
    host_metrics_exclude: tuple[str, ...] = ()
    host_metrics_per_cpu: bool = False
    logs: bool = True
    log_level: int = logging.INFO
    scrub_documents: bool = True
    scrub_patterns: tuple[str, ...] = ()
    scrub_callback: ScrubCallback | None = None
    ops_tools: bool = False
    alertmanager_url: str | None = None
    health_routes: bool = True
    health_port: int | None = None
    health_memory_threshold: float = DEFAULT_MEMORY_THRESHOLD
    health_disk_threshold: float = DEFAULT_DISK_THRESHOLD
    health_omie_probe: bool = True
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    _logger.warning(
        "omie-otel: %s=%r is not a boolean; use one of %s or %s. Using the default (%s).",
        name, raw, "/".join(_TRUE), "/".join(_FALSE), default,
    )
    return default


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:  # also "inf", "1e3" and a 5000-digit number
        value = minimum - 1
    if not minimum <= value <= maximum:
        _logger.warning(
            "omie-otel: %s=%r is not a whole number from %d to %d; set it like %s=%d. Using the default (%d).",
            name, raw, minimum, maximum, name, default, default,
        )
        return default
    return value


#: A scrub pattern that matches all of these (or the empty string) matches every key: every value would be redacted.
_ONE_CHARACTER_KEYS = ("a", "Z", "0", "_")


def _scrub_pattern_error(pattern: Any) -> str | None:
    """Why ``pattern`` cannot be a scrubbing key pattern, or ``None`` when it can."""
    if not isinstance(pattern, str) or not pattern.strip():
        return "it is empty or not a string"
    try:
        compiled = re.compile(f"(?P<p0>{pattern})", re.IGNORECASE)  # the shape the Scrubber combines it in
    except re.error as exc:
        return f"it is not a valid regular expression ({exc})"
    if compiled.search("") is not None or all(compiled.search(key) for key in _ONE_CHARACTER_KEYS):
        return "it matches every key (the empty string or any character), so every value would be redacted"
    return None


def _scrub_patterns(given: Sequence[str] | None, env: Mapping[str, str]) -> tuple[str, ...]:
    """Argument: every pattern must be valid (``ValueError`` otherwise). Environment: a bad entry warns, is skipped."""
    accepted = "a Python regular expression matching secret key names, e.g. 'numero[_ ]?cartao'"
    if given is not None:
        patterns = (given,) if isinstance(given, str) else tuple(given)
        for pattern in patterns:
            error = _scrub_pattern_error(pattern)
            if error is not None:
                raise ValueError(f"scrub_patterns entry {pattern!r} is refused: {error}; pass {accepted}")
        return patterns
    kept = []
    for pattern in _env_list(env, ev.OMIE_OTEL_SCRUB_PATTERNS) or ():
        error = _scrub_pattern_error(pattern)
        if error is None:
            kept.append(pattern)
        else:
            _logger.warning(
                "omie-otel: %s entry %r is refused: %s; accepted: %s. That entry is ignored (the built-in secret "
                "patterns still apply).",
                ev.OMIE_OTEL_SCRUB_PATTERNS, pattern, error, accepted,
            )
    return tuple(kept)


def _env_list(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _log_level(value: str | int, source: str) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(value.strip().upper())
    if not isinstance(level, int):
        raise ValueError(
            f"{source}={value!r} is not a logging level; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return level


def _check_url(url: str, source: str, example: str = DEFAULT_OMIE_URL) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"{source}={url!r} is not an http(s) URL prefix; pass something like {example!r}"
        )
    return url


def _percent(value: Any, source: str) -> float:
    """A threshold in percent, 0-100. ``0.85`` is refused: it reads like a fraction and would mean 0.85 %."""
    text = value.strip().rstrip("%").strip() if isinstance(value, str) else value
    try:
        number = float(text)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0 <= number <= 100 or 0 < number < 1:
        raise ValueError(
            f"{source}={value!r} is not a percentage from 0 to 100; write 85 for 85 % (not 0.85)"
        )
    return number


def _port(value: Any, source: str) -> int | None:
    """A TCP port for the loopback health listener; 0 picks a free one. ``None`` (or an empty value) is off."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        port = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"{source}={value!r} is not a TCP port; use 0-65535 (0 picks a free port), e.g. 8081")
    return port


def _seconds(value: Any, source: str) -> float:
    """A finite number of seconds from 0 to :data:`MAX_SHUTDOWN_TIMEOUT` (``inf``, ``nan`` and negatives refused)."""
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= MAX_SHUTDOWN_TIMEOUT:  # False for nan too
        raise ValueError(
            f"{source}={value!r} is not a number of seconds from 0 to {MAX_SHUTDOWN_TIMEOUT:g}; "
            f"use e.g. {DEFAULT_SHUTDOWN_TIMEOUT:g}"
        )
    return number


def resolve_options(
    *,
    capture_arguments: bool | None = None,
    capture_results: bool | None = None,
    capture_max_length: int | None = None,
    omie_url: str | Sequence[str] | None = None,
    host_metrics: bool | None = None,
    host_metrics_exclude: Sequence[str] | None = None,
    host_metrics_per_cpu: bool | None = None,
    logs: bool | None = None,
    log_level: str | int | None = None,
    scrub_documents: bool | None = None,
    scrub_patterns: Sequence[str] | None = None,
    scrub_callback: ScrubCallback | None = None,
    ops_tools: bool | None = None,
    alertmanager_url: str | None = None,
    health_routes: bool | None = None,
    health_port: int | None = None,
    health_memory_threshold: float | None = None,
    health_disk_threshold: float | None = None,
    health_omie_probe: bool | None = None,
    shutdown_timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Options:
    """Resolve every setting. Bad arguments raise ``ValueError``; bad environment values warn and use the default.

    Example:
        >>> resolve_options(capture_arguments=True, environ={}).capture_arguments
        True
        >>> resolve_options(environ={"OMIE_OTEL_CAPTURE_RESULTS": "true"}).capture_results
        True
    """
    env = os.environ if environ is None else environ

    def pick_bool(arg: bool | None, name: str, var: str, default: bool) -> bool:
        if arg is None:
            return _env_bool(env, var, default)
        if not isinstance(arg, bool):
            raise ValueError(f"{name}={arg!r} must be True or False")
        return arg

    if capture_max_length is None:
        max_len = _env_int(env, ev.OMIE_OTEL_CAPTURE_MAX_LENGTH, 4096, 16, MAX_CAPTURE_LENGTH)
    elif (
        not isinstance(capture_max_length, int)
        or isinstance(capture_max_length, bool)
        or not 16 <= capture_max_length <= MAX_CAPTURE_LENGTH
    ):
        raise ValueError(
            f"capture_max_length={capture_max_length!r} must be a whole number from 16 to {MAX_CAPTURE_LENGTH}, "
            "e.g. 4096"
        )
    else:
        max_len = capture_max_length

    if omie_url is None:
        urls = _env_list(env, ev.OMIE_OTEL_OMIE_URL) or (DEFAULT_OMIE_URL,)
        good = tuple(u for u in urls if u.startswith(("http://", "https://")))
        if len(good) != len(urls):
            _logger.warning(
                "omie-otel: %s=%r holds a value that is not an http(s) URL prefix; those entries are ignored",
                ev.OMIE_OTEL_OMIE_URL, env.get(ev.OMIE_OTEL_OMIE_URL),
            )
        urls = good or (DEFAULT_OMIE_URL,)
    else:
        given = (omie_url,) if isinstance(omie_url, str) else tuple(omie_url)
        urls = tuple(_check_url(u, "omie_url") for u in given)

    if log_level is None:
        try:
            level = _log_level(env.get(ev.OMIE_OTEL_LOG_LEVEL, "INFO"), ev.OMIE_OTEL_LOG_LEVEL)
        except ValueError as exc:
            _logger.warning("omie-otel: %s. Using INFO.", exc)
            level = logging.INFO
    else:
        level = _log_level(log_level, "log_level")

    def from_env(var: str, parse: Any, default: Any) -> Any:
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            return default
        try:
            return parse(raw, var)
        except ValueError as exc:
            _logger.warning("omie-otel: %s. Using the default (%s).", exc, default)
            return default

    def pick(arg: Any, name: str, var: str, parse: Any, default: Any) -> Any:
        return from_env(var, parse, default) if arg is None else parse(arg, name)

    if alertmanager_url is None:
        am_url = from_env(ev.OMIE_OTEL_ALERTMANAGER_URL, lambda v, s: _check_url(v, s, _ALERTMANAGER_EXAMPLE), None)
    else:
        am_url = _check_url(alertmanager_url, "alertmanager_url", _ALERTMANAGER_EXAMPLE)

    if scrub_callback is not None and not callable(scrub_callback):
        raise ValueError(f"scrub_callback={scrub_callback!r} must be callable: def cb(match: ScrubMatch) -> Any")

    return Options(
        capture_arguments=pick_bool(capture_arguments, "capture_arguments", ev.OMIE_OTEL_CAPTURE_ARGUMENTS, False),
        capture_results=pick_bool(capture_results, "capture_results", ev.OMIE_OTEL_CAPTURE_RESULTS, False),
        capture_max_length=max_len,
        omie_urls=urls,
        host_metrics=pick_bool(host_metrics, "host_metrics", ev.OMIE_OTEL_HOST_METRICS, True),
        host_metrics_exclude=tuple(host_metrics_exclude)
        if host_metrics_exclude is not None
        else (_env_list(env, ev.OMIE_OTEL_HOST_METRICS_EXCLUDE) or ()),
        host_metrics_per_cpu=pick_bool(
            host_metrics_per_cpu, "host_metrics_per_cpu", ev.OMIE_OTEL_HOST_METRICS_PER_CPU, False
        ),
        logs=pick_bool(logs, "logs", ev.OMIE_OTEL_LOGS, True),
        log_level=level,
        scrub_documents=pick_bool(scrub_documents, "scrub_documents", ev.OMIE_OTEL_SCRUB_DOCUMENTS, True),
        scrub_patterns=_scrub_patterns(scrub_patterns, env),
        scrub_callback=scrub_callback,
        ops_tools=pick_bool(ops_tools, "ops_tools", ev.OMIE_OTEL_OPS_TOOLS, False),
        alertmanager_url=am_url,
        health_routes=pick_bool(health_routes, "health_routes", ev.OMIE_OTEL_HEALTH_ROUTES, True),
        health_port=pick(health_port, "health_port", ev.OMIE_OTEL_HEALTH_PORT, _port, None),
        health_memory_threshold=pick(
            health_memory_threshold, "health_memory_threshold", ev.OMIE_OTEL_HEALTH_MEMORY_THRESHOLD, _percent,
            DEFAULT_MEMORY_THRESHOLD,
        ),
        health_disk_threshold=pick(
            health_disk_threshold, "health_disk_threshold", ev.OMIE_OTEL_HEALTH_DISK_THRESHOLD, _percent,
            DEFAULT_DISK_THRESHOLD,
        ),
        health_omie_probe=pick_bool(health_omie_probe, "health_omie_probe", ev.OMIE_OTEL_HEALTH_OMIE_PROBE, True),
        shutdown_timeout=pick(
            shutdown_timeout, "shutdown_timeout", ev.OMIE_OTEL_SHUTDOWN_TIMEOUT, _seconds, DEFAULT_SHUTDOWN_TIMEOUT
        ),
    )
