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
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omie_otel import semconv as sc

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

#: Attribute keys whose values are identifiers or enums we set, never free text: their values are not scanned.
#: (A random session id can hold 11 digits in a row that pass the CPF check; redacting it would break correlation.)
#: ``jsonrpc.request.id`` and ``mcp.protocol.version`` are *not* here: an MCP client chooses them.
_OPAQUE_VALUE_KEYS = frozenset(
    {
        sc.MCP_METHOD_NAME,
        sc.MCP_SESSION_ID,
        sc.GEN_AI_OPERATION_NAME,
        sc.NETWORK_TRANSPORT,
        sc.NETWORK_PROTOCOL_NAME,
        sc.NETWORK_PROTOCOL_VERSION,
        sc.ERROR_TYPE,
        sc.RPC_RESPONSE_STATUS_CODE,
        sc.HTTP_REQUEST_METHOD,
        sc.SERVER_ADDRESS,
        sc.FASTMCP_SPAN_SEAM,
        sc.FASTMCP_COMPONENT_TYPE,
        sc.FASTMCP_PROVIDER_TYPE,
        sc.OMIE_CALL,
        sc.OMIE_ENDPOINT,
        sc.OMIE_REQUEST_ID,
        sc.OMIE_FAULT_KIND,
        sc.OMIE_FAULT_CODE,
        sc.OMIE_RATELIMIT_KIND,
        sc.OMIE_OTEL_REDACTED,
    }
)

# Separators people put between the groups of a document number: ``529.982.247-25``, ``529 982 247 25``,
# ``529982247/25``, ``529+982+247+25`` (a form body), or none at all.
_SEP = r"[ \t\u00a0.\-/+]?"
_CPF_SHAPE = rf"\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}"
_CNPJ_SHAPE = rf"\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{4}}{_SEP}\d{{2}}"
# A digit before or after means a longer number (an NF-e access key, a timestamp), not a document.
_DOC_RE = re.compile(rf"(?<!\d)(?:{_CNPJ_SHAPE}|{_CPF_SHAPE})(?!\d)")
_CPF_RE = re.compile(rf"(?<!\d){_CPF_SHAPE}(?!\d)")
# The official punctuation is redacted even with wrong check digits (a mistyped CPF is still someone's CPF);
# every looser spelling must pass the check digits, which keeps phone numbers and ids out.
_CANONICAL_RE = re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}")
_DIGITS = re.compile(r"\D")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
# ``scheme://user:password@host``: the password part.
_URL_PASSWORD_RE = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:(?P<pw>[^/\s@]+)@")
# Where an unquoted inline value ends: at the end of the line, or where the next ``key=`` / ``key:`` field starts
# (``&call=`` in a form body, `` usuario=`` in a logfmt line, ``, x: `` in free text).
_NEXT_FIELD_RE = re.compile(r"(?:[ \t]+|[ \t]*[&,;][ \t]*)[A-Za-z_][\w.%-]*[ \t]*[:=]")
_LINE_END_RE = re.compile(r"[\r\n]")
_QUOTE_RE = re.compile(r"(\\*)([\"'])")
#: Inline keys whose value runs to the end of the line whatever it contains (``Cookie: a=1; b=2``).
_WHOLE_LINE_KEYS = ("authorization", "cookie", "bearer", "auth")
#: JSON-in-JSON, URL-encoding inside JSON...: how many layers of encoding are opened before plain regexes alone.
_MAX_LAYERS = 6
#: Nesting deeper than this is replaced whole: it cannot be inspected cheaply, so it does not leave.
_MAX_DEPTH = 32
_MIN_DOC_INT, _MAX_DOC_INT = 10**8, 10**14


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


def _document_kind(raw: str) -> str | None:
    """``"cpf"`` / ``"cnpj"`` when ``raw`` (a :data:`_DOC_RE` match) is one, else ``None``."""
    digits = _DIGITS.sub("", raw)
    canonical = _CANONICAL_RE.fullmatch(raw) is not None
    if len(digits) == 11 and (canonical or _cpf_valid(digits)):
        return "cpf"
    if len(digits) == 14 and (canonical or _cnpj_valid(digits)):
        return "cnpj"
    return None


def _number_kind(n: int) -> str | None:
    """A CPF or CNPJ written as a number: its leading zeros are gone (``01234567890`` is ``1234567890``)."""
    d = str(n)
    if len(d) <= 11 and _cpf_valid(d.zfill(11)):
        return "cpf"
    if len(d) >= 12 and _cnpj_valid(d.zfill(14)):
        return "cnpj"
    return None


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


_CLEAN_CACHE_SIZE = 4096
_CACHEABLE_LENGTH = 512


class _SecretRegistry:
    """Exact secret values to remove from any string, shared process-wide.

    ``generation`` changes whenever a secret is added, which invalidates every scrubber's cache of strings known
    to be clean.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}  # every form of every secret -> its label
        self._count = 0
        self._regex: re.Pattern[str] | None = None
        self.generation = 0

    def add(self, value: str | int, label: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an app_key sent as a JSON number is as secret as one sent as text
        if not isinstance(value, str) or len(value) < 4 or value in self._secrets:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._count += 1
            # the value as it appears URL-encoded or inside a JSON string too (``a+b``, ``a%40b``, ``a\"b``)
            forms = (value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), json.dumps(value)[1:-1])
            for form in forms:
                self._secrets.setdefault(form, label)
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._regex = re.compile("|".join(re.escape(s) for s in alternatives))
            self.generation += 1

    def sub(self, text: str, on_match: Callable[[str, str], str]) -> str:
        regex = self._regex
        if regex is None:
            return text
        return regex.sub(lambda m: on_match(m.group(0), self._secrets.get(m.group(0), "secret")), text)

    def __len__(self) -> int:
        return self._count


_registry = _SecretRegistry()


def register_secret(value: str | int, label: str = "secret") -> None:
    """Remember an exact secret value so it is removed from every string exported from now on.

    Args:
        value: The secret; an ``int`` is registered as its decimal text (values shorter than 4 characters are
            ignored: they would redact common text).
        label: What the redaction marker says, e.g. ``app_secret``.

    Example:
        >>> register_secret("my-omie-secret-value", "app_secret")
    """
    _registry.add(value, label)


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
        # ``app_secret=...``, ``"senha": "..."``, ``\"token\": \"...\"`` (JSON inside a JSON string): the key, the
        # quote that closes it if any, and the separator. Where the value ends is decided in _value_span.
        keys = "|".join(f"(?:{p})" for p in patterns)
        self._inline_re = re.compile(rf"(?P<key>{keys})(?P<sep>\\*[\"']?[ \t]*[:=][ \t]*)", re.IGNORECASE)
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
                reason = _label(m.group(0))
        if len(self._key_cache) < 10_000:
            self._key_cache[key] = reason
        return reason

    def _scrub_key(self, key: Any, path: tuple[str | int, ...], redacted: list[str] | None) -> Any:
        """A mapping key is text that leaves like any value: a CPF or a secret used as a key is removed too."""
        if not isinstance(key, str):  # ``{52998224725: ...}`` in a log record's ``extra``
            new_key = self.scrub_value(key, path, None)
            if new_key != key and redacted is not None:
                redacted.append(self._path_text((*path, str(new_key))))
            return new_key
        generation = _registry.generation
        entry = self._keys.get(key)
        if entry is None or entry[0] != generation:
            entry = self._key_entry(key, generation)
        new = entry[1]
        if new != key and redacted is not None:
            redacted.append(self._path_text((*path, new)))
        return new

    def _key_entry(self, key: str, generation: int) -> tuple[int, str, str | None]:
        """(generation, scrubbed key, why its value goes whole or None): one cache lookup per attribute key."""
        new = self.scrub_text(key, (), None)
        entry = (generation, new, self._key_reason(new))
        if len(self._keys) >= _CLEAN_CACHE_SIZE:
            self._keys.clear()
        self._keys[key] = entry
        return entry

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
        out = _registry.sub(text, lambda v, label: f"[redacted: {label}]")
        if self._documents and _DOC_RE.search(out):
            out = _DOC_RE.sub(lambda m: f"[redacted: {_document_kind(m.group(0)) or 'number'}]", out)
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
        generation = _registry.generation
        if cache.get(text) == generation:
            return text  # seen before, nothing to remove, and no secret registered since (the hot path)
        out = text
        if _layer < _MAX_LAYERS:
            out = self._scrub_json(text, path, redacted, _layer)
        out = _registry.sub(out, lambda v, label: self._marker(path, v, label, redacted))
        if ("=" in out or ":" in out) and self._inline_re.search(out) is not None:
            out = self._scrub_inline(out, path, redacted)
        if "://" in out and "@" in out:
            out = _URL_PASSWORD_RE.sub(lambda m: self._url_password(m, path, redacted), out)
        if self._documents and _DOC_RE.search(out):
            out = _DOC_RE.sub(lambda m: self._document(m.group(0), path, redacted), out)
        if _layer < _MAX_LAYERS and ("+" in out or ("%" in out and _PERCENT_RE.search(out))):
            decoded = urllib.parse.unquote_plus(out)
            scrubbed = self.scrub_text(decoded, path, redacted, _layer=_layer + 1)
            if scrubbed != decoded:
                out = scrubbed  # something was hidden under the encoding: export the decoded, scrubbed text
        if out == text and len(text) <= _CACHEABLE_LENGTH and not text.isdigit():  # ids would churn the cache
            if len(cache) >= _CLEAN_CACHE_SIZE:
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

    def _scrub_inline(self, text: str, path: tuple[str | int, ...], redacted: list[str] | None) -> str:
        parts: list[str] = []
        pos = 0
        for m in self._inline_re.finditer(text):
            if m.start() < pos:
                continue  # inside a value already removed
            start, end = _value_span(text, m.end(), m.group("key").lower())
            value = text[start:end]
            if not value.strip() or value.startswith("[redacted"):
                continue
            parts.append(text[pos:start])
            parts.append(str(self._marker(path, value, _label(m.group("key")), redacted)))
            pos = end
        if not parts:
            return text
        parts.append(text[pos:])
        return "".join(parts)

    def _url_password(self, m: re.Match[str], path: tuple[str | int, ...], redacted: list[str] | None) -> str:
        whole, pw = m.group(0), m.group("pw")
        if pw.startswith("[redacted"):
            return whole
        cut = m.start("pw") - m.start()
        return whole[:cut] + str(self._marker(path, pw, "url_password", redacted)) + "@"

    def _document(self, raw: str, path: tuple[str | int, ...], redacted: list[str] | None) -> str:
        kind = _document_kind(raw)
        if kind is not None:
            return str(self._marker(path, raw, kind, redacted))
        if len(_DIGITS.sub("", raw)) == 14:  # not a CNPJ: a CPF may still hide inside ("11 529 982 247 25")
            return _CPF_RE.sub(lambda m: self._document(m.group(0), path, redacted), raw)
        return raw

    # -- other scalars ----------------------------------------------------------------------------------------------
    def _scrub_number(self, value: int | float, path: tuple[str | int, ...], redacted: list[str] | None) -> Any:
        """A CPF/CNPJ stored as a number (``{"cpf": 52998224725}``): checked by its digits, zeros restored."""
        if isinstance(value, float):
            if not (_MIN_DOC_INT <= abs(value) < _MAX_DOC_INT) or not value.is_integer():
                return value
            n = int(abs(value))
        else:
            n = -value if value < 0 else value
            if n < _MIN_DOC_INT or n >= _MAX_DOC_INT:
                return value
        kind = _number_kind(n) if self._documents else None
        return value if kind is None else self._marker(path, value, kind, redacted)

    def _scrub_bytes(self, value: bytes, path: tuple[str | int, ...], redacted: list[str] | None) -> bytes:
        text = value.decode("utf-8", "surrogateescape")  # lossless: undecodable bytes come back unchanged
        new = self.scrub_text(text, path, redacted)
        return value if new == text else new.encode("utf-8", "surrogateescape")

    # -- structures -------------------------------------------------------------------------------------------------
    def scrub_value(self, value: Any, path: tuple[str | int, ...] = (), redacted: list[str] | None = None) -> Any:
        """Scrub any value: mappings (keys too), sequences, strings, bytes, numbers; other objects by their text."""
        return self._walk(value, path, redacted, 0, 0)

    def _walk(self, value: Any, path: tuple[str | int, ...], redacted: list[str] | None, depth: int, layer: int) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value, path, redacted, _layer=layer)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return self._scrub_number(value, path, redacted)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self._scrub_bytes(bytes(value), path, redacted)
        if depth >= _MAX_DEPTH:
            return self._marker(path, "…", "too_deep", redacted)
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                key = self._scrub_key(k, path, redacted)
                sub = (*path, key if isinstance(key, (str, int)) else str(key))
                reason = self._key_reason(key) if isinstance(key, str) else None
                if reason is not None and not _empty(v):
                    new = self._marker(sub, v, reason, redacted)
                else:
                    new = self._walk(v, sub, redacted, depth + 1, layer)
                out[_unique(out, key)] = new
            return out
        if isinstance(value, (list, tuple, set, frozenset)) or (
            isinstance(value, Sequence) and not isinstance(value, (str, bytes))
        ):
            items = [self._walk(v, (*path, i), redacted, depth + 1, layer) for i, v in enumerate(value)]
            return tuple(items) if isinstance(value, tuple) else items
        try:
            text = str(value)  # what an exporter would send for an unknown object
        except Exception:  # noqa: BLE001 - a broken __str__: the object cannot be shown, so it is not
            return self._marker(path, "…", "unprintable", redacted)
        new_text = self.scrub_text(text, path, redacted, _layer=layer)
        return value if new_text == text else new_text

    def _attribute_value(
        self, value: Any, path: tuple[str | int, ...], reason: str | None, redacted: list[str]
    ) -> Any:
        if reason is not None:
            new = self._marker(path, value, reason, redacted)
            return (str(new),) if isinstance(value, (list, tuple)) and new is not value else new
        if type(value) is str:
            return self.scrub_text(value, path, redacted)
        return self._walk(value, path, redacted, 0, 0)

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
        if not attributes:
            return None
        changes: list[tuple[str, Any, Any]] | None = None
        plain = getattr(attributes, "_dict", attributes)  # BoundedAttributes: iterate its dict, not the locked view
        generation = _registry.generation
        keys = self._keys
        clean = self._clean
        for key, value in plain.items():
            if key in _OPAQUE_VALUE_KEYS:  # identifiers and enums we set: never scanned, only cut
                if max_length is None:
                    continue
                new_key: Any = key
                new: Any = _truncate(value, max_length)
            else:
                entry = keys.get(key)
                if entry is None or entry[0] != generation:
                    entry = self._key_entry(key, generation)
                new_key, reason = entry[1], entry[2]
                kind = type(value)
                if reason is None and (
                    (kind is str and clean.get(value) == generation)  # seen clean before: the hot path
                    or kind is bool
                    or (kind is int and -_MIN_DOC_INT < value < _MIN_DOC_INT)
                ):
                    new = value
                else:
                    new = self._attribute_value(value, (prefix, new_key), reason, redacted)
                if new_key != key:
                    redacted.append(self._path_text((prefix, new_key)))
                if max_length is not None:
                    new = _truncate(new, max_length)
            if new_key != key or new is not value and new != value:
                if changes is None:
                    changes = []
                changes.append((key, new_key, new))
        if changes is None:
            return None
        out = dict(plain)
        for key, new_key, new in changes:
            if new_key != key:
                del out[key]
                new_key = _unique(out, new_key)
            out[new_key] = new
        return out


def _label(key: str) -> str:
    return key.lower().replace("-", "_").replace(" ", "_").replace(".", "_")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, bytes, list, tuple, dict)) and not value)


def _unique(out: Mapping[Any, Any], key: Any) -> Any:
    """Two keys scrubbed to the same text keep both values: ``[redacted: cpf]``, ``[redacted: cpf] #2``..."""
    if key not in out:
        return key
    n = 2
    while f"{key} #{n}" in out:
        n += 1
    return f"{key} #{n}"


def _value_span(text: str, start: int, key: str) -> tuple[int, int]:
    """Where the value of an inline secret starting at ``start`` begins and ends.

    Quoted (``"..."``, ``'...'``, ``\\"...\\"`` inside a JSON string): up to the matching closing quote. Unquoted: up
    to the next ``key=`` / ``key:`` field or the end of the line, so ``senha: p@ss w0rd&x`` goes whole while
    ``app_secret=abc&call=X`` keeps ``&call=X``; ``Authorization``/``Cookie`` values always run to the end of the line.
    """
    q = _QUOTE_RE.match(text, start)
    if q is not None:
        closing = q.group(1) + q.group(2)
        begin = q.end()
        i = begin
        while True:
            j = text.find(closing, i)
            if j < 0:
                return begin, len(text)
            if j > begin and text[j - 1] == "\\" and not closing.startswith("\\"):
                i = j + 1  # an escaped quote inside the value
                continue
            return begin, j
    line = _LINE_END_RE.search(text, start)
    end = line.start() if line is not None else len(text)
    if not any(k in key for k in _WHOLE_LINE_KEYS):
        nxt = _NEXT_FIELD_RE.search(text, start, end)
        if nxt is not None:
            end = nxt.start()
    while end > start and text[end - 1] in " \t":
        end -= 1
    return start, end


def _truncate(value: Any, limit: int) -> Any:
    """The SDK's attribute length limit, applied by us after scrubbing (we take it over from the provider)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit]
    if isinstance(value, (list, tuple)):
        return tuple(_truncate(v, limit) for v in value)
    if isinstance(value, Mapping):
        return {k: _truncate(v, limit) for k, v in value.items()}
    return value
