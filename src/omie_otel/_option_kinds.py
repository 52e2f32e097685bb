"""What an option is, and how each kind of option value is read from an argument or from the environment.

The options themselves are the fields of :class:`omie_otel._config.Options`; this module only holds the machinery
they share. An :class:`Option` is resolved in one way everywhere: the argument wins over the environment variable,
which wins over the default. A bad ARGUMENT raises ``ValueError`` naming the argument and the fix; a bad
ENVIRONMENT value logs one warning naming the variable, the value and what is accepted, and the default is used
(a list keeps its good entries). Every environment variable omie-otel reads is read by :meth:`Option.from_environment`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

__all__ = ["Kind", "Option", "Partly", "option"]

_logger = logging.getLogger("omie_otel")

T = TypeVar("T")

TRUE: tuple[str, ...] = ("1", "true", "yes", "on")
FALSE: tuple[str, ...] = ("0", "false", "no", "off")


class Partly(ValueError):
    """Some entries of a list value were refused; ``kept`` holds the good ones (the default when none is left)."""

    def __init__(self, message: str, kept: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kept = kept


@dataclass(frozen=True)
class Kind(Generic[T]):
    """How values of one type are read. Both readers raise ``ValueError`` whose text starts ``<source>=<value>``.

    Attributes:
        from_env: ``(raw text, variable name) -> value``.
        from_argument: ``(argument, argument name) -> value``.
        annotation: The type of the matching :func:`omie_otel.instrument` keyword, as written in its signature.
    """

    from_env: Callable[[str, str], T]
    from_argument: Callable[[Any, str], T]
    annotation: str


@dataclass(frozen=True)
class Option:
    """One setting: a field of the resolved options, its keyword, its environment variable, default and docs.

    Attributes:
        name: The field of :class:`omie_otel._config.Options`.
        keyword: The :func:`omie_otel.instrument` keyword, or ``None`` for an environment-only setting.
        env: The environment variable, or ``None`` for an argument-only setting.
        default: Used when neither is given, or the environment value is bad.
        kind: How its values are read.
        doc: One sentence for the README options table.
        shown_default: The default as the README shows it.
    """

    name: str
    keyword: str | None
    env: str | None
    default: Any
    kind: Kind[Any]
    doc: str
    shown_default: str

    def from_environment(self, environ: Mapping[str, str] | None = None) -> Any:
        """The value from the environment: unset or blank gives the default; a bad value warns and gives it too."""
        env = os.environ if environ is None else environ
        raw = env.get(self.env) if self.env else None
        if raw is None or raw.strip() == "":
            return self.default
        assert self.env is not None
        try:
            return self.kind.from_env(raw, self.env)
        except Partly as exc:
            _logger.warning("omie-otel: %s. Those entries are ignored.", exc)
            return exc.kept or self.default
        except ValueError as exc:
            _logger.warning("omie-otel: %s. Using the default (%s).", exc, self.shown_default)
            return self.default

    def resolve(self, argument: Any, environ: Mapping[str, str] | None = None) -> Any:
        """Argument > environment variable > default (``None`` means "not given"); a bad argument raises."""
        if argument is None:
            return self.from_environment(environ)
        return self.kind.from_argument(argument, self.keyword or self.name)


def option(
    default: T, kind: Kind[Any], *, env: str | None, doc: str, keyword: str | None = "", shown: str | None = None
) -> T:
    """A field of :class:`omie_otel._config.Options` that is an :class:`Option` (``keyword=""``: the field name)."""
    spec = {"env": env, "kind": kind, "doc": doc, "keyword": keyword, "shown": shown}
    return field(default=default, metadata={"option": spec})


def shown_default(default: Any) -> str:
    """How the README shows a default: on/off, unset, none, a number without a trailing ``.0``, else the text."""
    if isinstance(default, bool):
        return "on" if default else "off"
    if default is None:
        return "unset"
    if isinstance(default, tuple):
        return ", ".join(f"`{item}`" for item in default) if default else "none"
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


# --- kinds ------------------------------------------------------------------------------------------------------------


def _bool_from_env(raw: str, source: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{source}={raw!r} is not a boolean; use one of {'/'.join(TRUE)} or {'/'.join(FALSE)}")


def _bool_argument(value: Any, source: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{source}={value!r} must be True or False")
    return value


BOOL: Kind[bool] = Kind(_bool_from_env, _bool_argument, "bool | None")


def whole_number(minimum: int, maximum: int, example: int) -> Kind[int]:
    """A whole number from ``minimum`` to ``maximum`` (``inf``, ``1e3``, a bool and 5000 digits are refused)."""

    def parse(value: Any, source: str) -> int:
        number = minimum - 1
        if isinstance(value, str):
            try:
                number = int(value)
            except ValueError:  # also "inf", "1e3" and a 5000-digit number
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        if not minimum <= number <= maximum:
            raise ValueError(f"{source}={value!r} is not a whole number from {minimum} to {maximum}; use e.g. {example}")
        return number

    return Kind(parse, parse, "int | None")


def _split(value: str | Sequence[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


def _globs_argument(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, str | Sequence) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{source}={value!r} must be metric name globs, e.g. ['system.network.*']")
    return _split(value)


GLOBS: Kind[tuple[str, ...]] = Kind(lambda raw, source: _split(raw), _globs_argument, "Sequence[str] | None")


def checked_list(
    check: Callable[[str], str | None], accepted: str, annotation: str, *, example: str | None = None
) -> Kind[tuple[str, ...]]:
    """A comma-separated list (a sequence as an argument) whose entries ``check`` approves (it returns why not).

    From the environment a refused entry is left out with one warning and the others are kept; as an argument any
    refused entry raises (``<argument>=<entry> <why>; pass something like <example>`` when an example is given).
    """

    def from_env(raw: str, source: str) -> tuple[str, ...]:
        entries = _split(raw)
        refused = [(entry, why) for entry in entries if (why := check(entry)) is not None]
        if refused:
            reasons = "; ".join(f"{entry!r}: {why}" for entry, why in refused)
            kept = tuple(entry for entry in entries if check(entry) is None)
            raise Partly(f"{source}={raw!r} has entries that are refused ({reasons}); accepted: {accepted}", kept)
        return entries

    def from_argument(value: Any, source: str) -> tuple[str, ...]:
        entries = (value,) if isinstance(value, str) else tuple(value)
        for entry in entries:
            why = check(entry)
            if why is not None and example is not None:
                raise ValueError(f"{source}={entry!r} {why}; pass something like {example!r}")
            if why is not None:
                raise ValueError(f"{source} entry {entry!r} is refused: {why}; pass {accepted}")
        return entries

    return Kind(from_env, from_argument, annotation)


def url_error(url: Any) -> str | None:
    """Why ``url`` is not an http(s) URL prefix, or ``None``."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return "is not an http(s) URL prefix"
    return None


def url(example: str) -> Kind[str]:
    """One http(s) URL."""

    def parse(value: Any, source: str) -> str:
        if url_error(value) is not None:
            raise ValueError(f"{source}={value!r} is not an http(s) URL prefix; pass something like {example!r}")
        return cast(str, value)

    return Kind(parse, parse, "str | None")


def choice(what: str, choices: tuple[str, ...]) -> Kind[str]:
    """One of a few words, any case (``what`` names the thing: "a log format")."""

    def parse(value: Any, source: str) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError(f"{source}={value!r} is not {what}; use {' or '.join(map(repr, choices))}")
        return value.strip().lower()

    return Kind(parse, parse, "str | None")


def _log_level(value: Any, source: str) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(value.strip().upper()) if isinstance(value, str) else None
    if not isinstance(level, int):
        raise ValueError(f"{source}={value!r} is not a logging level; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


LOG_LEVEL: Kind[int] = Kind(_log_level, _log_level, "str | int | None")


def _percent(value: Any, source: str) -> float:
    """A threshold in percent, 0-100. ``0.85`` is refused: it reads like a fraction and would mean 0.85 %."""
    text = value.strip().rstrip("%").strip() if isinstance(value, str) else value
    try:
        number = float(text)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0 <= number <= 100 or 0 < number < 1:
        raise ValueError(f"{source}={value!r} is not a percentage from 0 to 100; write 85 for 85 % (not 0.85)")
    return number


PERCENT: Kind[float] = Kind(_percent, _percent, "float | None")


def _port(value: Any, source: str) -> int:
    """A TCP port for the loopback health listener; 0 picks a free one."""
    try:
        port = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"{source}={value!r} is not a TCP port; use 0-65535 (0 picks a free port), e.g. 8081")
    return port


PORT: Kind[int] = Kind(_port, _port, "int | None")


def seconds(maximum: float, example: float) -> Kind[float]:
    """A finite number of seconds from 0 to ``maximum`` (``inf``, ``nan``, negatives and bools refused)."""

    def parse(value: Any, source: str) -> float:
        try:
            number = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            number = -1.0
        if not 0 <= number <= maximum:  # False for nan too
            raise ValueError(f"{source}={value!r} is not a number of seconds from 0 to {maximum:g}; use e.g. {example:g}")
        return number

    return Kind(parse, parse, "float | None")


def _callback(value: Any, source: str) -> Any:
    if not callable(value):
        raise ValueError(f"{source}={value!r} must be callable: def cb(match: ScrubMatch) -> Any")
    return value


def _no_environment(raw: str, source: str) -> Any:  # pragma: no cover - an argument-only option has no variable
    raise ValueError(f"{source} is not read from the environment")


CALLBACK: Kind[Any] = Kind(_no_environment, _callback, "ScrubCallback | None")


#: A scrub pattern that matches all of these (or the empty string) matches every key: every value would be redacted.
_ONE_CHARACTER_KEYS = ("a", "Z", "0", "_")


def scrub_pattern_error(pattern: Any) -> str | None:
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
