"""The scrubber: secrets and Brazilian document numbers never leave the process.

Omie credentials (``app_key``, ``app_secret``) travel in the JSON body of every request, so they can end up in an
exception message, a captured argument, a log line or a stack trace. Scrubbing is central and always on: a
processor placed *first* in the tracer provider's and the logger provider's processor chain rewrites every span
(attributes, events — including exception events recorded by FastMCP —, status description) and every log record
(body and attributes) before any exporter, ours or one the user added earlier, sees it.

Three rules apply to every string value:

1. **Secret-looking keys** — a value stored under a key matching ``password``, ``senha``, ``secret``, ``token``,
   ``api[._ -]?key``, ``app[._ -]?key``, ``authorization``, ``cookie``, ``credential``... is replaced whole with
   ``[redacted: <what>]``. Nested dicts, lists and JSON strings are walked.
2. **Known secret values** — the exact values of ``OMIE_APP_KEY`` / ``OMIE_APP_SECRET`` and of every ``app_key`` /
   ``app_secret`` seen in an Omie request body are replaced wherever they occur inside any string.
3. **Inline secrets and documents** — ``app_secret=...``-style fragments in free text, and CPF / CNPJ numbers
   (formatted, or bare digits with valid check digits) are replaced inside strings.

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
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SECRET_KEY_PATTERNS",
    "ScrubMatch",
    "ScrubCallback",
    "Scrubber",
    "register_secret",
    "known_secret_count",
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
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "omie_otel.redacted",
    }
)

#: Attribute keys whose values are identifiers or enums we set, never free text: their values are not scanned.
#: (A random session id can hold 11 digits in a row that pass the CPF check; redacting it would break correlation.)
_OPAQUE_VALUE_KEYS = frozenset(
    {
        "mcp.method.name",
        "mcp.session.id",
        "mcp.protocol.version",
        "jsonrpc.request.id",
        "gen_ai.operation.name",
        "network.transport",
        "network.protocol.name",
        "network.protocol.version",
        "error.type",
        "rpc.response.status_code",
        "http.request.method",
        "server.address",
        "fastmcp.span.seam",
        "fastmcp.component.type",
        "fastmcp.provider.type",
        "omie.call",
        "omie.endpoint",
        "omie.request_id",
        "omie.fault.kind",
        "omie.fault.code",
        "omie.ratelimit.kind",
        "omie_otel.redacted",
    }
)

_DIGITS = re.compile(r"\D")
# CPF 000.000.000-00 / CNPJ 00.000.000/0000-00, formatted or as bare digit runs.
_CPF_FORMATTED = r"\d{3}\.\d{3}\.\d{3}-\d{2}"
_CNPJ_FORMATTED = r"\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}"
_DOC_RE = re.compile(rf"(?<![\d.])(?:{_CNPJ_FORMATTED}|{_CPF_FORMATTED}|\d{{14}}|\d{{11}})(?![\d])")
_INLINE_SECRET_RE = re.compile(
    r"""(?ix)
    (?P<key>app[_-]?secret|app[_-]?key|password|senha|api[_-]?key|access[_-]?token|token|secret|authorization)
    (?P<sep>["']?\s*[:=]\s*["']?)
    (?P<value>(?:bearer\s+|basic\s+)?[^"'&\s,;}\]]+)
    """
)


def _cpf_valid(d: str) -> bool:
    if len(d) != 11 or d == d[0] * 11:
        return False
    for n in (9, 10):
        s = sum(int(d[i]) * (n + 1 - i) for i in range(n))
        if (s * 10 % 11) % 10 != int(d[n]):
            return False
    return True


def _cnpj_valid(d: str) -> bool:
    if len(d) != 14 or d == d[0] * 14:
        return False
    weights = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    for n in (12, 13):
        s = sum(int(d[i]) * weights[i + 13 - n] for i in range(n))
        r = s % 11
        if (0 if r < 2 else 11 - r) != int(d[n]):
            return False
    return True


@dataclass(frozen=True)
class ScrubMatch:
    """What the scrubber is about to remove; passed to a :data:`ScrubCallback`.

    Attributes:
        path: Where the value sits, e.g. ``("attributes", "gen_ai.tool.call.arguments", "app_secret")``.
        value: The value about to be replaced (a whole value for key matches, the matched text otherwise).
        reason: What matched: a key pattern, ``known_secret``, ``inline_secret``, ``cpf`` or ``cnpj``.
    """

    path: tuple[str | int, ...]
    value: Any
    reason: str


#: A callback returning a value keeps that value instead of the redaction marker (to relax the rules); returning
#: ``None`` lets the redaction happen.
ScrubCallback = Callable[[ScrubMatch], Any]


_CLEAN_CACHE_SIZE = 4096
_CACHEABLE_LENGTH = 512


class _SecretRegistry:
    """Exact secret values to remove from any string, shared process-wide.

    ``generation`` changes whenever a secret is added, which invalidates every scrubber's cache of strings known
    to be clean.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self._regex: re.Pattern[str] | None = None
        self.generation = 0

    def add(self, value: str, label: str) -> None:
        if not isinstance(value, str) or len(value) < 4 or value in self._secrets:
            return
        with self._lock:
            self._secrets[value] = label
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._regex = re.compile("|".join(re.escape(s) for s in alternatives))
            self.generation += 1

    def sub(self, text: str, on_match: Callable[[str, str], str]) -> str:
        regex = self._regex
        if regex is None:
            return text
        return regex.sub(lambda m: on_match(m.group(0), self._secrets.get(m.group(0), "secret")), text)

    def __len__(self) -> int:
        return len(self._secrets)


_registry = _SecretRegistry()


def register_secret(value: str, label: str = "secret") -> None:
    """Remember an exact secret value so it is removed from every string exported from now on.

    Args:
        value: The secret (values shorter than 4 characters are ignored: they would redact common text).
        label: What the redaction marker says, e.g. ``app_secret``.

    Example:
        >>> register_secret("my-omie-secret-value", "app_secret")
    """
    _registry.add(value, label)


def known_secret_count() -> int:
    """How many exact secret values are registered."""
    return len(_registry)


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
        safe_keys: Keys never scrubbed by key (exact match), e.g. ``("omie.app_key_hash",)``.
        documents: Also remove CPF / CNPJ numbers found in text.
        callback: Called for each match; a non-``None`` return value is kept instead of the marker.

    Example:
        >>> Scrubber(extra_patterns=["numero_cartao"]).scrub_value({"numero_cartao": "4111"})
        {'numero_cartao': '[redacted: numero_cartao]'}
    """

    def __init__(
        self,
        *,
        extra_patterns: Sequence[str] = (),
        safe_keys: Iterable[str] = (),
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
        self._key_re = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(patterns)), re.IGNORECASE)
        self._pattern_names = patterns
        self._safe_keys = _SAFE_KEYS | frozenset(safe_keys)
        self._documents = documents
        self._callback = callback
        self._key_cache: dict[str, str | None] = {}
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
                reason = m.group(0).lower().replace("-", "_").replace(" ", "_").replace(".", "_")
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
            redacted.append(".".join(str(p) for p in path))
        return f"[redacted: {reason}]"

    # -- strings ----------------------------------------------------------------------------------------------------
    def scrub_text(
        self, text: str, path: tuple[str | int, ...] = (), redacted: list[str] | None = None
    ) -> str:
        """Remove known secrets, inline ``key=value`` secrets and documents from free text."""
        if len(text) < 4:
            return text
        cache = self._clean
        generation = _registry.generation
        if cache.get(text) == generation:
            return text  # seen before, nothing to remove, and no secret registered since (the hot path)
        if text[0] in "{[" and text[-1] in "}]":
            try:
                parsed = json.loads(text)
            except ValueError:
                pass
            else:
                if isinstance(parsed, (dict, list)):
                    scrubbed = self.scrub_value(parsed, path, redacted)
                    if scrubbed != parsed:
                        return json.dumps(scrubbed, ensure_ascii=False, default=str)
        out = _registry.sub(text, lambda v, label: self._marker(path, v, label, redacted))
        if ("=" in out or ":" in out) and _INLINE_SECRET_RE.search(out):
            out = _INLINE_SECRET_RE.sub(lambda m: self._inline(m, path, redacted), out)
        if self._documents and _DOC_RE.search(out):
            out = _DOC_RE.sub(lambda m: self._document(m, path, redacted), out)
        if out == text and len(text) <= _CACHEABLE_LENGTH:
            if len(cache) >= _CLEAN_CACHE_SIZE:
                cache.clear()
            cache[text] = generation
        return out

    def _inline(self, m: re.Match[str], path: tuple[str | int, ...], redacted: list[str] | None) -> str:
        value = m.group("value")
        if value.startswith("[redacted"):
            return m.group(0)
        key = m.group("key").lower().replace("-", "_")
        marker = self._marker(path, value, key, redacted)
        return f"{m.group('key')}{m.group('sep')}{marker}"

    def _document(self, m: re.Match[str], path: tuple[str | int, ...], redacted: list[str] | None) -> str:
        raw = m.group(0)
        digits = _DIGITS.sub("", raw)
        formatted = not raw.isdigit()
        if len(digits) == 11 and (formatted or _cpf_valid(digits)):
            return str(self._marker(path, raw, "cpf", redacted))
        if len(digits) == 14 and (formatted or _cnpj_valid(digits)):
            return str(self._marker(path, raw, "cnpj", redacted))
        return raw

    # -- structures -------------------------------------------------------------------------------------------------
    def scrub_value(self, value: Any, path: tuple[str | int, ...] = (), redacted: list[str] | None = None) -> Any:
        """Scrub any JSON-like value: dicts and lists are walked, strings scrubbed, other scalars kept."""
        if isinstance(value, str):
            return self.scrub_text(value, path, redacted)
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                sub = (*path, str(k))
                reason = self._key_reason(str(k)) if isinstance(k, str) else None
                if reason is not None and v not in (None, "", [], {}):
                    out[k] = self._marker(sub, v, reason, redacted)
                else:
                    out[k] = self.scrub_value(v, sub, redacted)
            return out
        if isinstance(value, (list, tuple)):
            items = [self.scrub_value(v, (*path, i), redacted) for i, v in enumerate(value)]
            return tuple(items) if isinstance(value, tuple) else items
        return value

    def scrub_attributes(
        self, attributes: Mapping[str, Any] | None, prefix: str, redacted: list[str]
    ) -> dict[str, Any] | None:
        """Scrub an OpenTelemetry attribute mapping; returns ``None`` when nothing changed (the fast path)."""
        if not attributes:
            return None
        changed: dict[str, Any] | None = None
        plain = getattr(attributes, "_dict", attributes)  # BoundedAttributes: iterate its dict, not the locked view
        for key, value in plain.items():
            if key in _OPAQUE_VALUE_KEYS:
                continue
            reason = self._key_reason(key)
            if reason is not None:
                new: Any = self._marker((prefix, key), value, reason, redacted)
                if isinstance(value, (list, tuple)):
                    new = (str(new),)
            elif isinstance(value, str):
                new = self.scrub_text(value, (prefix, key), redacted)
            elif isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
                new = tuple(self.scrub_text(v, (prefix, key, i), redacted) for i, v in enumerate(value))
            else:
                continue
            if new != value:
                if changed is None:
                    changed = dict(attributes)
                changed[key] = new
        return changed


