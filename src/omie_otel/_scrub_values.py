"""How the scrubber walks values of every type, and OpenTelemetry attribute mappings.

Mappings (keys too), sequences, sets, bytes, numbers (a CPF/CNPJ stored as a number) and other objects by their text;
strings go to :meth:`~omie_otel.redaction.Scrubber.scrub_text`. These functions are the
:class:`~omie_otel.redaction.Scrubber`'s walking half: each takes the scrubber first and uses its rules and caches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from omie_otel import semconv as sc
from omie_otel._cpf_cnpj import MAX_DOC_INT, MIN_DOC_INT, number_kind
from omie_otel._known_secrets import registry

if TYPE_CHECKING:
    from omie_otel.redaction import Scrubber

__all__ = ["CLEAN_CACHE_SIZE", "scrub_attributes", "walk"]

#: How many keys (and clean strings) a scrubber remembers before it starts over.
CLEAN_CACHE_SIZE = 4096
#: Nesting deeper than this is replaced whole: it cannot be inspected cheaply, so it does not leave.
_MAX_DEPTH = 32

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

KeyPath = tuple[str | int, ...]


def walk(scrubber: Scrubber, value: Any, path: KeyPath, redacted: list[str] | None, depth: int, layer: int) -> Any:
    """``value`` scrubbed whatever its type; ``layer`` counts the encodings (JSON in JSON...) already opened."""
    if isinstance(value, str):
        return scrubber.scrub_text(value, path, redacted, _layer=layer)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _scrub_number(scrubber, value, path, redacted)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _scrub_bytes(scrubber, bytes(value), path, redacted)
    if depth >= _MAX_DEPTH:
        return scrubber._marker(path, "…", "too_deep", redacted)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = _scrub_key(scrubber, k, path, redacted)
            sub = (*path, key if isinstance(key, (str, int)) else str(key))
            reason = scrubber._key_reason(key) if isinstance(key, str) else None
            if reason is not None and not _empty(v):
                new = scrubber._marker(sub, v, reason, redacted)
            else:
                new = walk(scrubber, v, sub, redacted, depth + 1, layer)
            out[_unique(out, key)] = new
        return out
    if isinstance(value, (list, tuple, set, frozenset)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    ):
        items = [walk(scrubber, v, (*path, i), redacted, depth + 1, layer) for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    try:
        text = str(value)  # what an exporter would send for an unknown object
    except Exception:  # noqa: BLE001 - a broken __str__: the object cannot be shown, so it is not
        return scrubber._marker(path, "…", "unprintable", redacted)
    new_text = scrubber.scrub_text(text, path, redacted, _layer=layer)
    return value if new_text == text else new_text


def _scrub_key(scrubber: Scrubber, key: Any, path: KeyPath, redacted: list[str] | None) -> Any:
    """A mapping key is text that leaves like any value: a CPF or a secret used as a key is removed too."""
    if not isinstance(key, str):  # ``{52998224725: ...}`` in a log record's ``extra``
        new_key = scrubber.scrub_value(key, path, None)
        if new_key != key and redacted is not None:
            redacted.append(scrubber._path_text((*path, str(new_key))))
        return new_key
    generation = registry.generation
    entry = scrubber._keys.get(key)
    if entry is None or entry[0] != generation:
        entry = _key_entry(scrubber, key, generation)
    new = entry[1]
    if new != key and redacted is not None:
        redacted.append(scrubber._path_text((*path, new)))
    return new


def _key_entry(scrubber: Scrubber, key: str, generation: int) -> tuple[int, str, str | None]:
    """(generation, scrubbed key, why its value goes whole or None): one cache lookup per attribute key."""
    new = scrubber.scrub_text(key, (), None)
    entry = (generation, new, scrubber._key_reason(new))
    if len(scrubber._keys) >= CLEAN_CACHE_SIZE:
        scrubber._keys.clear()
    scrubber._keys[key] = entry
    return entry


def _scrub_number(scrubber: Scrubber, value: int | float, path: KeyPath, redacted: list[str] | None) -> Any:
    """A CPF/CNPJ stored as a number (``{"cpf": 52998224725}``): checked by its digits, zeros restored."""
    if isinstance(value, float):
        if not (MIN_DOC_INT <= abs(value) < MAX_DOC_INT) or not value.is_integer():
            return value
        n = int(abs(value))
    else:
        n = -value if value < 0 else value
        if n < MIN_DOC_INT or n >= MAX_DOC_INT:
            return value
    kind = number_kind(n) if scrubber._documents else None
    return value if kind is None else scrubber._marker(path, value, kind, redacted)


def _scrub_bytes(scrubber: Scrubber, value: bytes, path: KeyPath, redacted: list[str] | None) -> bytes:
    text = value.decode("utf-8", "surrogateescape")  # lossless: undecodable bytes come back unchanged
    new = scrubber.scrub_text(text, path, redacted)
    return value if new == text else new.encode("utf-8", "surrogateescape")


def _attribute_value(scrubber: Scrubber, value: Any, path: KeyPath, reason: str | None, redacted: list[str]) -> Any:
    if reason is not None:
        new = scrubber._marker(path, value, reason, redacted)
        return (str(new),) if isinstance(value, (list, tuple)) and new is not value else new
    if type(value) is str:
        return scrubber.scrub_text(value, path, redacted)
    return walk(scrubber, value, path, redacted, 0, 0)


def scrub_attributes(
    scrubber: Scrubber,
    attributes: Mapping[str, Any] | None,
    prefix: str,
    redacted: list[str],
    max_length: int | None = None,
) -> dict[str, Any] | None:
    """See :meth:`omie_otel.redaction.Scrubber.scrub_attributes`."""
    if not attributes:
        return None
    changes: list[tuple[str, Any, Any]] | None = None
    plain = getattr(attributes, "_dict", attributes)  # BoundedAttributes: iterate its dict, not the locked view
    generation = registry.generation
    keys = scrubber._keys
    clean = scrubber._clean
    for key, value in plain.items():
        if key in _OPAQUE_VALUE_KEYS:  # identifiers and enums we set: never scanned, only cut
            if max_length is None:
                continue
            new_key: Any = key
            new: Any = _truncate(value, max_length)
        else:
            entry = keys.get(key)
            if entry is None or entry[0] != generation:
                entry = _key_entry(scrubber, key, generation)
            new_key, reason = entry[1], entry[2]
            kind = type(value)
            if reason is None and (
                (kind is str and clean.get(value) == generation)  # seen clean before: the hot path
                or kind is bool
                or (kind is int and -MIN_DOC_INT < value < MIN_DOC_INT)
            ):
                new = value
            else:
                new = _attribute_value(scrubber, value, (prefix, new_key), reason, redacted)
            if new_key != key:
                redacted.append(scrubber._path_text((prefix, new_key)))
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


def _truncate(value: Any, limit: int) -> Any:
    """The SDK's attribute length limit, applied by us after scrubbing (we take it over from the provider)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit]
    if isinstance(value, (list, tuple)):
        return tuple(_truncate(v, limit) for v in value)
    if isinstance(value, Mapping):
        return {k: _truncate(v, limit) for k, v in value.items()}
    return value
