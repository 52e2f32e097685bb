"""The scrubber: secrets and Brazilian document numbers never leave the process.

Omie credentials (``app_key``, ``app_secret``) travel in the JSON body of every request, so they can end up in an
exception message, a captured argument, a log line or a stack trace. Scrubbing is central and always on: a
processor placed *first* in the tracer provider's and the logger provider's processor chain rewrites every span
(attributes, events — including exception events recorded by FastMCP —, status description) and every log record
(body and attributes) before any exporter, ours or one the user added earlier, sees it.

Every value is walked whatever its type — strings, mapping *keys* and values, mixed lists and tuples, bytes, numbers
— and JSON text (also JSON inside a JSON string) and URL-encoded or form text are opened and walked too. Three rules
apply:

1. **Secret-looking keys** — a value stored under a key matching ``password``, ``senha``, ``secret``, ``token``,
   ``api[._ -]?key``, ``app[._ -]?key``, ``authorization``, ``cookie``, ``credential``... is replaced whole with
   ``[redacted: <what>]``, whatever its type.
2. **Known secret values** — the exact values of ``OMIE_APP_KEY`` / ``OMIE_APP_SECRET`` and of every ``app_key`` /
   ``app_secret`` seen in an Omie request body are replaced wherever they occur, plain, URL-encoded or JSON-escaped.
3. **Inline secrets and documents** — ``senha: ...``-style values in free text (whole: a quoted value to its closing
   quote, an unquoted one to the next ``key=`` field or the end of the line), URL passwords, and CPF / CNPJ numbers
   in any common spelling (official punctuation always; looser spellings and numbers when the check digits agree).

What no rule can catch is listed in the README ("Scrubbing: what is covered").

Example:
    >>> from omie_otel.redaction import Scrubber
    >>> s = Scrubber()
    >>> s.scrub_value({"call": "ListarClientes", "app_secret": "abc123"})
    {'call': 'ListarClientes', 'app_secret': '[redacted: app_secret]'}
    >>> s.scrub_value("cliente 123.456.789-09 não encontrado")
    'cliente [redacted: cpf] não encontrado'
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omie_otel import semconv as sc
from omie_otel._cpf_cnpj import DOC_RE, document_kind, replace_documents
from omie_otel._inline_secrets import inline_regex, key_label, replace_inline, replace_url_passwords
from omie_otel._known_secrets import registry
from omie_otel._scrub_values import CLEAN_CACHE_SIZE, scrub_attributes, walk

__all__ = [
    "DEFAULT_SECRET_KEY_PATTERNS",
    "ScrubMatch",
    "ScrubCallback",
    "Scrubber",
    "register_secret",
]

_logger = logging.getLogger("omie_otel.redaction")

#: Key patterns whose values are removed whole. Matched case-insensitively anywhere in the key.
DEFAULT_SECRET_KEY_PATTERNS: tuple[str, ...] = (
    "app[._ -]?secret",
    "app[._ -]?key",
    "password",
    "passwd",
    "senha",
    "secret",
    "token",
    "api[._ -]?key",
    "authorization",
    "auth[._ -]?header",
    "cookie",
    "credential",
    "private[._ -]?key",
    "bearer",
    "x[._ -]?api[._ -]?key",
)

#: Attribute keys that look secret but never are (ours): never scrubbed by key.
_SAFE_KEYS = frozenset(
    {
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.OMIE_OTEL_REDACTED,
    }
)

_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
#: JSON-in-JSON, URL-encoding inside JSON...: how many layers of encoding are opened before plain regexes alone.
_MAX_LAYERS = 6
#: Clean strings longer than this are not remembered as clean.
_CACHEABLE_LENGTH = 512


@dataclass(frozen=True)
class ScrubMatch:
    """What the scrubber is about to remove; passed to a :data:`ScrubCallback`.

    Attributes:
        path: Where the value sits, e.g. ``("attributes", "gen_ai.tool.call.arguments", "app_secret")``.
        value: The value about to be replaced (a whole value for key matches, the matched text otherwise).
        reason: What matched: the key pattern (``app_secret``, ``senha``...), the label of a known secret, ``cpf``,
            ``cnpj``, ``url_password``, ``too_deep`` (nesting past 32 levels is not walked: it is removed whole) or
            ``unprintable`` (an object whose ``str()`` raised).
    """

    path: tuple[str | int, ...]
    value: Any
    reason: str


#: A callback returning a value keeps that value instead of the redaction marker (to relax the rules); returning
#: ``None`` lets the redaction happen.
ScrubCallback = Callable[[ScrubMatch], Any]


def register_secret(value: str | int, label: str = "secret") -> None:
    """Remember an exact secret value so it is removed from every string exported from now on.

    Args:
        value: The secret; an ``int`` is registered as its decimal text (values shorter than 4 characters are
            ignored: they would redact common text).
        label: What the redaction marker says, e.g. ``app_secret``.

    Example:
        >>> register_secret("my-omie-secret-value", "app_secret")
    """
    registry.add(value, label)


def register_env_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register ``OMIE_APP_KEY`` / ``OMIE_APP_SECRET`` from the environment as known secrets."""
    env = os.environ if environ is None else environ
    for var, label in (("OMIE_APP_KEY", "app_key"), ("OMIE_APP_SECRET", "app_secret")):
        if env.get(var):
            register_secret(env[var], label)


class Scrubber:
    """Removes secrets and CPF/CNPJ numbers from values about to be exported.

    Args:
        extra_patterns: More key patterns (regular expressions) whose values are removed.
        documents: Also remove CPF / CNPJ numbers found in text and numbers.
        callback: Called for each match; a non-``None`` return value is kept instead of the marker.

    Example:
        >>> Scrubber(extra_patterns=["numero_cartao"]).scrub_value({"numero_cartao": "4111"})
        {'numero_cartao': '[redacted: numero_cartao]'}
    """

    def __init__(
        self,
        *,
        extra_patterns: Sequence[str] = (),
        documents: bool = True,
        callback: ScrubCallback | None = None,
    ) -> None:
        patterns = [*DEFAULT_SECRET_KEY_PATTERNS, *extra_patterns]
        for p in extra_patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(
                    f"scrubbing pattern {p!r} is not a valid regular expression ({exc}); "
                    "pass a Python `re` pattern such as 'numero[_ ]?cartao'"
                ) from exc
        self._key_re = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        self._inline_re = inline_regex(patterns)
        self._safe_keys = _SAFE_KEYS
        self._documents = documents
        self._callback = callback
        self._key_cache: dict[str, str | None] = {}
        self._keys: dict[str, tuple[int, str, str | None]] = {}
        self._clean: dict[str, int] = {}

    # -- keys -------------------------------------------------------------------------------------------------------
    def _key_reason(self, key: str) -> str | None:
        cached = self._key_cache.get(key, "")
        if cached != "":
            return cached
        reason: str | None = None
        if key not in self._safe_keys:
            m = self._key_re.search(key)
            if m is not None:
                reason = key_label(m.group(0))
        if len(self._key_cache) < 10_000:
            self._key_cache[key] = reason
        return reason

    def _marker(self, path: tuple[str | int, ...], value: Any, reason: str, redacted: list[str] | None) -> Any:
        if self._callback is not None:
            from omie_otel._guard import run_hook

            kept = run_hook(self._callback, ScrubMatch(path, value, reason))
            if kept is not None:
                return kept
        if redacted is not None:
            redacted.append(self._path_text(path))
        return f"[redacted: {reason}]"

    def _path_text(self, path: tuple[str | int, ...]) -> str:
        """A path for ``omie_otel.redacted``: its parts are scrubbed keys, but joined with dots they could spell a
        document again (keys ``529``, ``982``, ``247-25``), so the joined text is scrubbed once more, without
        callback and without recording."""
        text = ".".join(str(p) for p in path)
        if len(text) < 4:
            return text
        out = registry.sub(text, lambda _, name: f"[redacted: {name}]")
        if self._documents and DOC_RE.search(out):
            out = DOC_RE.sub(lambda m: f"[redacted: {document_kind(m.group(0)) or 'number'}]", out)
        return out

    # -- strings ----------------------------------------------------------------------------------------------------
    def scrub_text(
        self, text: str, path: tuple[str | int, ...] = (), redacted: list[str] | None = None, *, _layer: int = 0
    ) -> str:
        """Remove known secrets, inline ``key=value`` secrets and documents from free text.

        JSON text (objects, arrays, a JSON-encoded string) is parsed and walked, keys included; URL-encoded text
        (``%40``, ``+``) is decoded and scanned too. Both nest: JSON inside a JSON string, a form body inside JSON.
        """
        if len(text) < 4:
            return text
        cache = self._clean
        generation = registry.generation
        if cache.get(text) == generation:
            return text  # seen before, nothing to remove, and no secret registered since (the hot path)
        out = text
        if _layer < _MAX_LAYERS:
            out = self._scrub_json(text, path, redacted, _layer)
        out = registry.sub(out, lambda value, name: self._marker(path, value, name, redacted))
        if ("=" in out or ":" in out) and self._inline_re.search(out) is not None:
            out = replace_inline(out, self._inline_re, lambda value, why: str(self._marker(path, value, why, redacted)))
        if "://" in out and "@" in out:
            out = replace_url_passwords(out, lambda pw: str(self._marker(path, pw, "url_password", redacted)))
        if self._documents and DOC_RE.search(out):
            out = replace_documents(out, lambda raw, kind: str(self._marker(path, raw, kind, redacted)))
        if _layer < _MAX_LAYERS and ("+" in out or ("%" in out and _PERCENT_RE.search(out))):
            decoded = urllib.parse.unquote_plus(out)
            scrubbed = self.scrub_text(decoded, path, redacted, _layer=_layer + 1)
            if scrubbed != decoded:
                out = scrubbed  # something was hidden under the encoding: export the decoded, scrubbed text
        if out == text and len(text) <= _CACHEABLE_LENGTH and not text.isdigit():  # ids would churn the cache
            if len(cache) >= CLEAN_CACHE_SIZE:
                cache.clear()
            cache[text] = generation
        return out

    def _scrub_json(self, text: str, path: tuple[str | int, ...], redacted: list[str] | None, layer: int) -> str:
        """JSON text walked as data (keys and numbers included), re-encoded only when something was removed."""
        first, last = text[0], text[-1]
        if first.isspace() or last.isspace():
            stripped = text.strip()
            if not stripped:
                return text
            first, last = stripped[0], stripped[-1]
        if not ((first == "{" and last == "}") or (first == "[" and last == "]") or (first == '"' == last)):
            return text
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # not JSON after all, or nested past the parser: regexes only
            return text
        if isinstance(parsed, str):
            scrubbed: Any = self.scrub_text(parsed, path, redacted, _layer=layer + 1)
        elif isinstance(parsed, (dict, list)):
            scrubbed = self._walk(parsed, path, redacted, 0, layer + 1)
        else:
            return text
        if scrubbed == parsed:
            return text
        return json.dumps(scrubbed, ensure_ascii=False, default=str)

    # -- structures -------------------------------------------------------------------------------------------------
    def scrub_value(self, value: Any, path: tuple[str | int, ...] = (), redacted: list[str] | None = None) -> Any:
        """Scrub any value: mappings (keys too), sequences, strings, bytes, numbers; other objects by their text."""
        return self._walk(value, path, redacted, 0, 0)

    def _walk(self, value: Any, path: tuple[str | int, ...], redacted: list[str] | None, depth: int, layer: int) -> Any:
        return walk(self, value, path, redacted, depth, layer)

    def scrub_attributes(
        self,
        attributes: Mapping[str, Any] | None,
        prefix: str,
        redacted: list[str],
        max_length: int | None = None,
    ) -> dict[str, Any] | None:
        """Scrub an OpenTelemetry attribute mapping (keys and values of every type), then cut strings longer than
        ``max_length`` — in that order, so a cut never leaves a secret's first characters behind.

        Returns ``None`` when nothing changed (the fast path).
        """
        return scrub_attributes(self, attributes, prefix, redacted, max_length)
