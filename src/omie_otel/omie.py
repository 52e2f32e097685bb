"""What an Omie API answer means: the fault classification shared by the instrumentation and the example client.

Omie reports most faults as HTTP 500 with a SOAP-style body ``{"faultstring": "...", "faultcode": "SOAP-ENV:Client-N"}``
and an ``OmieAPI-Error: N - message`` header. "No records for this page" (5113) is one of them and is *not* an error;
REDUNDANT (6) asks you to wait N seconds; 425 ``MISUSE_API_PROCESS`` blocks the key for up to 30 minutes.

Example:
    >>> fault = classify(500, {"faultstring": "ERROR: Consumo redundante detectado. Aguarde 58 segundos "
    ...                                        "para tentar novamente (REDUNDANT).",
    ...                         "faultcode": "SOAP-ENV:Client-6"})
    >>> fault.kind, fault.code, fault.retry_after, fault.is_error
    ('redundant', '6', 58.0, True)
    >>> classify(500, {"faultstring": "ERROR: Não existem registros para a página [3]!",
    ...                "faultcode": "SOAP-ENV:Client-5113"}).is_error
    False
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FaultKind",
    "OmieFault",
    "classify",
    "classify_response",
    "fault_body",
    "may_be_fault",
    "parse_ratelimit",
    "endpoint_of",
    "KNOWN_ENDPOINTS",
    "OMIE_MODULES",
    "RETRYABLE_KINDS",
    "THROTTLED_KINDS",
    "UNREACHABLE_KINDS",
]

FaultKind = Literal[
    "no_records",
    "redundant",
    "concurrent_request",
    "duplicate_request",
    "rate_limited",
    "misuse_blocked",
    "auth",
    "validation",
    "not_found",
    "server_error",
    "transport",
    "unknown",
]

#: Omie is there but holding requests back: REDUNDANT, a concurrent request, HTTP 429 (not the 425 block).
THROTTLED_KINDS: frozenset[FaultKind] = frozenset({"redundant", "concurrent_request", "rate_limited"})
#: Omie could not be reached or could not answer: no connection, or its own server error.
UNREACHABLE_KINDS: frozenset[FaultKind] = frozenset({"transport", "server_error"})
#: Worth retrying after ``retry_after`` or a short back-off: never a 425 block or an input error.
RETRYABLE_KINDS: frozenset[FaultKind] = THROTTLED_KINDS | UNREACHABLE_KINDS

#: Bytes of an answer searched for a fault marker, and the longest text kept of a body that is not JSON.
_HEAD = 4096
#: Bytes of an error answer we look at. An Omie fault is a few hundred bytes; a 50 MB HTTP 500 body must cost the
#: instrumentation nothing like its size (it used to be parsed whole: +240 MB and +2 s per call).
_FAULT_HEAD = 64 * 1024
#: More brackets than this in the head and we do not hand it to ``json.loads`` (whose C scanner recurses once per
#: level): the fields are picked out with a regular expression instead, so no input depth can raise RecursionError.
_MAX_BRACKETS = 200
#: A fault field's string value, or its first 4096 characters when it is longer (or cut off by the head).
_FAULT_FIELD_RE = re.compile(rb'"(faultstring|faultcode)"\s*:\s*"((?:[^"\\]|\\.){0,4096})')
_CODE_RE = re.compile(r"(\d+)\s*$")
_WAIT_RE = re.compile(r"(?:Aguarde|em)\s+(\d{1,12})\s+segundos", re.IGNORECASE)
_HEADER_CODE_RE = re.compile(r"^\s*([A-Za-z_]*\d+|[A-Z_]+)\s*-\s*")
_RATELIMIT_RE = re.compile(r"^\s*(\d{1,12})\s*/\s*(\d{1,12})(?!\d)")  # bounded: no 5000-digit int()
_VALIDATION_CODES = frozenset({"71", "5001", "103", "102"})
_AUTH_TEXT = "chave de acesso"


@dataclass(frozen=True)
class OmieFault:
    """One classified Omie answer.

    Attributes:
        kind: One of :data:`FaultKind`.
        code: Omie's numeric fault code as text (``"5113"``), ``"MISUSE_API_PROCESS"``, or ``None``.
        message: Omie's ``faultstring`` (not scrubbed: scrub before exporting).
        retry_after: Seconds Omie asks you to wait (REDUNDANT, 425 blocks), when it says.
    """

    kind: FaultKind
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None

    @property
    def is_error(self) -> bool:
        """Everything but ``no_records`` is an error."""
        return self.kind != "no_records"

    @property
    def retryable(self) -> bool:
        """Worth retrying after ``retry_after`` (or a short back-off): never a 425 block or an input error."""
        return self.kind in RETRYABLE_KINDS


def _code(faultcode: str | None, header: str | None) -> str | None:
    if faultcode:
        m = _CODE_RE.search(faultcode)
        if m:
            return m.group(1)
    if header:
        m = _HEADER_CODE_RE.match(header)
        if m:
            return m.group(1)
    return None


#: Longest wait we report, in seconds (a day): a number from a header or a message is data, not trusted.
MAX_RETRY_AFTER = 86_400.0


def _seconds(value: float) -> float | None:
    """A wait in seconds, bounded: ``None`` for negative, ``nan`` or infinite; at most :data:`MAX_RETRY_AFTER`."""
    if not math.isfinite(value) or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER)


def _wait(text: str | None) -> float | None:
    if not text:
        return None
    m = _WAIT_RE.search(text)
    return _seconds(float(m.group(1))) if m else None


def _retry_after_header(value: str | None) -> float | None:
    """The standard ``Retry-After`` header, in seconds (HTTP-date values are not used by Omie); ``1e309``, ``nan``
    and negatives give ``None``, anything above a day is a day."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return None if seconds is None else _seconds(seconds)


def classify(
    status: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> OmieFault | None:
    """Classify an Omie answer. Returns ``None`` for a plain success.

    Args:
        status: The HTTP status code.
        body: The decoded JSON body (a dict), or raw text for non-JSON answers, or ``None``.
        headers: Response headers (``OmieAPI-Error`` is read when present).
    """
    fault = body if isinstance(body, Mapping) else {}
    faultstring = fault.get("faultstring") if isinstance(fault.get("faultstring"), str) else None
    faultcode = fault.get("faultcode") if isinstance(fault.get("faultcode"), str) else None
    header = None
    if headers is not None:
        header = headers.get("omieapi-error") or headers.get("OmieAPI-Error")
    message = faultstring or (header.split(" - ", 1)[-1] if header else None)
    text = " ".join(t for t in (faultstring, header, body if isinstance(body, str) else None) if t)

    if status == 425 or "MISUSE_API_PROCESS" in text or (faultcode or "") == "MISUSE_API_PROCESS":
        return OmieFault("misuse_blocked", "MISUSE_API_PROCESS", message, _wait(text))
    if status == 429:
        wait = _wait(text)
        if wait is None and headers is not None:
            wait = _retry_after_header(headers.get("retry-after") or headers.get("Retry-After"))
        return OmieFault("rate_limited", _code(faultcode, header), message or "Too many requests", wait)
    if status == 403 or _AUTH_TEXT in text.lower():
        return OmieFault("auth", _code(faultcode, header), message)
    if status == 404:
        return OmieFault("not_found", None, message or "Not Found")
    if faultstring is None and header is None:
        if status >= 500:
            return OmieFault("server_error", None, (body if isinstance(body, str) else None) or f"HTTP {status}")
        if status >= 400:
            return OmieFault("unknown", None, f"HTTP {status}")
        return None
    code = _code(faultcode, header)
    if code == "5113":
        return OmieFault("no_records", code, message)
    if code == "6" or "REDUNDANT" in text:
        return OmieFault("redundant", code or "6", message, _wait(text))
    if code in ("1880", "8020"):
        return OmieFault("concurrent_request", code, message, _wait(text))
    if code == "1100":
        return OmieFault("duplicate_request", code, message)
    if code == "105":
        return OmieFault("not_found", code, message)
    if "Broken response" in text or (faultcode or "").endswith("Server"):
        return OmieFault("server_error", code, message)
    if "SyntaxError" in text or "Invalid JSON" in text:
        return OmieFault("validation", code, message)
    if code is not None and (code in _VALIDATION_CODES or (len(code) == 3 and code.startswith("1"))):
        return OmieFault("validation", code, message)
    return OmieFault("unknown", code, message)


def fault_body(content: bytes) -> Any:
    """What :func:`classify` needs from an error answer, read from its first 64 KiB only.

    A small, shallow JSON answer is parsed (its first 4 KiB as text when it is not valid JSON); a larger or deeply
    nested one gives only its ``faultstring``/``faultcode`` string fields, picked out by regular expression (as a
    whole parse would, a JSON answer naming neither gives an empty mapping); anything else is its first 4 KiB as text.
    """
    head = content[:_FAULT_HEAD]
    text = content[:_HEAD].decode("utf-8", "replace")
    if head.lstrip()[:1] not in (b"{", b"["):
        return text
    if len(content) <= _FAULT_HEAD and head.count(b"{") + head.count(b"[") <= _MAX_BRACKETS:
        try:
            return json.loads(content)
        except (ValueError, RecursionError):  # RecursionError cannot happen below _MAX_BRACKETS; never let it out
            return text
    fields: dict[str, str] = {}
    for match in _FAULT_FIELD_RE.finditer(head):
        key = match.group(1).decode()
        if key not in fields:
            try:
                fields[key] = json.loads(b'"' + match.group(2) + b'"')
            except ValueError:
                fields[key] = match.group(2).decode("utf-8", "replace")
    return fields


def may_be_fault(status: int, content: bytes) -> bool:
    """Whether an answer needs its body decoded to be classified: an HTTP error, or a ``faultstring`` in its first
    4 KiB (Omie sometimes reports a fault with HTTP 200). A plain success is never decoded."""
    return status >= 300 or b'"faultstring"' in content[:_HEAD]


def classify_response(
    status: int, content: bytes | None, headers: Mapping[str, str] | None = None
) -> OmieFault | None:
    """Classify an Omie answer from its raw body: decode it (bounded, see :func:`fault_body`) only when it may be a
    fault, then :func:`classify`. ``content=None`` means the body was not read (a stream): status and headers only.

    The instrumentation, the readiness probe and the example client all classify through this function.

    Example:
        >>> classify_response(425, b'{"faultstring": "ERROR: API bloqueada por consumo indevido. Tente novamente '
        ...                        b'em 1726 segundos.", "faultcode": "MISUSE_API_PROCESS"}').retry_after
        1726.0
        >>> classify_response(200, b'{"pagina": 1, "categoria_cadastro": []}') is None
        True
    """
    body = fault_body(content) if content is not None and may_be_fault(status, content) else None
    return classify(status, body, headers)


def parse_ratelimit(value: str | None) -> tuple[int, int] | None:
    """``"3/960 allow"`` → ``(3, 960)``; ``None`` when absent or malformed.

    Example:
        >>> parse_ratelimit("1/4 allow 10.TGlzdGFy")
        (1, 4)
    """
    if not value:
        return None
    m = _RATELIMIT_RE.match(value)
    if not m:
        return None
    used, limit = int(m.group(1)), int(m.group(2))
    return (used, limit) if limit > 0 else None


#: Omie services (``<module>/<service>`` below ``/api/v1/``) that ``omie.endpoint`` names as they are: every service
#: the simulator answers (tests check this list covers its catalog) and other services in common use.
KNOWN_ENDPOINTS: frozenset[str] = frozenset(
    {
        "estoque/consulta",
        "financas/contacorrentelancamentos",
        "financas/contapagar",
        "financas/contareceber",
        "financas/extrato",
        "financas/mf",
        "financas/pesquisartitulos",
        "geral/categorias",
        "geral/clientes",
        "geral/clientetag",
        "geral/contacorrente",
        "geral/departamentos",
        "geral/dre",
        "geral/empresas",
        "geral/produtos",
        "geral/projetos",
        "geral/tiposdoc",
        "geral/vendedores",
        "produtos/nfconsultar",
        "produtos/pedido",
        "produtos/pedidocompra",
        "servicos/nfse",
        "servicos/os",
        "servicos/servico",
    }
)
#: Omie's API modules: an unknown service under one of these may still be named (bounded, letters only).
OMIE_MODULES: frozenset[str] = frozenset({"crm", "estoque", "financas", "geral", "produtos", "servicos"})
_SERVICE_NAME_RE = re.compile(r"[a-z]{2,40}")
_MAX_UNKNOWN_ENDPOINTS = 32
_unknown_endpoints: set[str] = set()
_unknown_lock = threading.Lock()


def endpoint_of(path: str) -> str:
    """The endpoint *template* of an Omie URL path: ``/api/v1/geral/clientes/`` → ``geral/clientes``.

    ``omie.endpoint`` is a metric attribute, so it never carries a path segment with data and its values are
    bounded: whatever follows ``<module>/<service>`` is dropped (``geral/clientes/123.456.789-09/`` →
    ``geral/clientes``); a service outside :data:`KNOWN_ENDPOINTS` keeps its name only when it has Omie's shape (a
    module of :data:`OMIE_MODULES`, a name of 2–40 lowercase letters: no digits, so no document or key fits) and
    only for the first 32 such names in the process (then ``<module>/_other``); any other path is ``_other``.

    Example:
        >>> endpoint_of("/api/v1/financas/contapagar/")
        'financas/contapagar'
        >>> endpoint_of("/api/v1/geral/clientes/529.982.247-25/")
        'geral/clientes'
        >>> endpoint_of("/api/v1/52998224725/")
        '_other'
    """
    p = path.strip("/")
    marker = p.find("v1/")
    if marker >= 0:
        p = p[marker + 3 :]
    elif p.startswith("api/"):
        p = p[4:]
    parts = [s for s in p.split("/", 3)[:2] if s]
    if len(parts) < 2:
        return "_other"
    module, service = parts[0].lower(), parts[1].lower()
    template = f"{module}/{service}"
    if template in KNOWN_ENDPOINTS:
        return template
    if module not in OMIE_MODULES:
        return "_other"
    if _SERVICE_NAME_RE.fullmatch(service) is None:
        return f"{module}/_other"
    if template in _unknown_endpoints:
        return template
    with _unknown_lock:
        if len(_unknown_endpoints) >= _MAX_UNKNOWN_ENDPOINTS:
            return f"{module}/_other"
        _unknown_endpoints.add(template)
    return template
