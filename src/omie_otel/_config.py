"""Settings, resolved in one place: argument > environment variable > default."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omie_otel import environment_variables as ev
from omie_otel.redaction import ScrubCallback

__all__ = ["Options", "resolve_options", "DEFAULT_OMIE_URL"]

_logger = logging.getLogger("omie_otel")

DEFAULT_OMIE_URL = "https://app.omie.com.br/api/"
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
    extra: Mapping[str, Any] = field(default_factory=dict)


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


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        _logger.warning(
            "omie-otel: %s=%r is not a whole number >= %d; set it like %s=%d. Using the default (%d).",
            name, raw, minimum, name, default, default,
        )
        return default
    return value


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


def _check_url(url: str, source: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"{source}={url!r} is not an http(s) URL prefix; pass something like {DEFAULT_OMIE_URL!r}"
        )
    return url


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
        max_len = _env_int(env, ev.OMIE_OTEL_CAPTURE_MAX_LENGTH, 4096, 16)
    elif not isinstance(capture_max_length, int) or capture_max_length < 16:
        raise ValueError(f"capture_max_length={capture_max_length!r} must be a whole number >= 16, e.g. 4096")
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
        scrub_patterns=tuple(scrub_patterns)
        if scrub_patterns is not None
        else (_env_list(env, ev.OMIE_OTEL_SCRUB_PATTERNS) or ()),
        scrub_callback=scrub_callback,
        ops_tools=pick_bool(ops_tools, "ops_tools", ev.OMIE_OTEL_OPS_TOOLS, False),
    )
