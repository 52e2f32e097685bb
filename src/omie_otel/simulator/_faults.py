"""Omie's faults: HTTP status, ``faultcode``, exact ``faultstring`` and the ``OmieAPI-Error`` header.

Every fault body is ``{"faultstring": "...", "faultcode": "..."}`` (in that order, as recorded). Texts marked
[confirmed] in ``docs/omie-api.md`` are copied verbatim; the others (429 body, unknown call, 1100's clock format,
the "não cadastrado" wording for entities other than clients) are inferences and say so below.

Each fault has a ``kind`` from :data:`FAULT_KINDS`, the same names as the ``omie.fault.kind`` attribute.

Example:
    >>> fault = no_records(3)
    >>> fault.status, fault.faultcode, fault.faultstring
    (500, 'SOAP-ENV:Client-5113', 'ERROR: Não existem registros para a página [3]!')
    >>> fault.header
    '5113 - Não existem registros para a página [3]!'
"""

from __future__ import annotations

import math
import re
from typing import Any

from omie_otel.semconv import OMIE_FAULT_KINDS

__all__ = [
    "FAULT_KINDS",
    "SimulatedFault",
    "already_registered",
    "auth",
    "concurrent_request",
    "duplicate_request",
    "invalid_json_object",
    "malformed_json",
    "misuse_blocked",
    "no_params",
    "no_records",
    "not_registered",
    "rate_limited",
    "redundant",
    "required_tag",
    "seconds",
    "server_error",
    "unknown_call",
    "unknown_tag",
]

#: The fault kinds the simulator produces (a subset of ``semconv.OMIE_FAULT_KINDS``: no ``transport``/``unknown``).
FAULT_KINDS: tuple[str, ...] = tuple(k for k in OMIE_FAULT_KINDS if k not in ("transport", "unknown"))

_SOAP_CLIENT = "SOAP-ENV:Client"
_SOAP_SERVER = "SOAP-ENV:Server"


class SimulatedFault(Exception):
    """One Omie fault answer the simulator sends; raised inside the simulator, turned into an HTTP response at the edge.

    Not to be confused with :class:`omie_otel.omie.OmieFault`, the library's reading of an answer Omie sent.

    Attributes:
        kind: one of :data:`FAULT_KINDS`.
        status: the HTTP status.
        faultcode: e.g. ``SOAP-ENV:Client-5113``.
        faultstring: the exact message.
        extra_headers: headers this fault adds (``retry-after`` on 429).
    """

    def __init__(
        self,
        kind: str,
        status: int,
        faultcode: str,
        faultstring: str,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{faultcode}: {faultstring}")
        self.kind = kind
        self.status = status
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.extra_headers = extra_headers

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body, ``faultstring`` first as Omie sends it."""
        return {"faultstring": self.faultstring, "faultcode": self.faultcode}

    @property
    def header(self) -> str:
        """The ``OmieAPI-Error`` value: numeric code (else the whole faultcode), `` - ``, message sans ``ERROR:``."""
        match = re.search(r"-(\d+)$", self.faultcode)
        code = match.group(1) if match else self.faultcode
        return f"{code} - {self.faultstring.removeprefix('ERROR: ')}"


def seconds(value: float) -> int:
    """Whole seconds to announce for a wait of ``value`` seconds: rounded up, at least 1."""
    return max(1, math.ceil(value - 1e-9))


def _client(kind: str, code: int, message: str) -> SimulatedFault:
    return SimulatedFault(kind, 500, f"{_SOAP_CLIENT}-{code}", f"ERROR: {message}")


def no_records(page: int) -> SimulatedFault:
    """5113: the page is past the end, or the filter matched nothing. [C]"""
    return _client("no_records", 5113, f"Não existem registros para a página [{page}]!")


def redundant(wait: float) -> SimulatedFault:
    """Client-6: the same call with the same parameters inside the redundancy window. [C]"""
    return _client(
        "redundant",
        6,
        f"Consumo redundante detectado. Aguarde {seconds(wait)} segundos para tentar novamente (REDUNDANT).",
    )


def concurrent_request() -> SimulatedFault:
    """1880: more requests of this method in flight than allowed. [C]"""
    return _client(
        "concurrent_request",
        1880,
        "Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns instantes. (1)",
    )


def duplicate_request(retry_at: str) -> SimulatedFault:
    """1100: the request is being (or was) processed; ``retry_at`` is ``HH:MM:SS``. [C text; HTTP 500 is I]"""
    return _client(
        "duplicate_request",
        1100,
        f"Esta requisição já foi processada ou está sendo processada e você pode tentar novamente às {retry_at}. (1)",
    )


def rate_limited(retry_after: float) -> SimulatedFault:
    """429: over 240/min per IP+app_key+method or 960/min per IP. [C status; body and faultcode are I]"""
    return SimulatedFault(
        "rate_limited",
        429,
        f"{_SOAP_CLIENT}-429",
        "ERROR: 429: Too many Requests",
        (("retry-after", str(seconds(retry_after))),),
    )


def misuse_blocked(wait: float) -> SimulatedFault:
    """425 MISUSE_API_PROCESS: blocked after too many consecutive errors. [C]"""
    return SimulatedFault(
        "misuse_blocked",
        425,
        "MISUSE_API_PROCESS",
        f"ERROR: API bloqueada por consumo indevido. Tente novamente em {seconds(wait)} segundos.",
    )


def auth() -> SimulatedFault:
    """403: missing or wrong ``app_key``/``app_secret``. [C]"""
    return SimulatedFault("auth", 403, _SOAP_SERVER, "A chave de acesso não está preenchida ou não é válida.")


def no_params() -> SimulatedFault:
    """71: ``param`` missing, empty, or ``[{}]`` on a method that needs parameters. [C]"""
    return _client("validation", 71, "Nenhum parâmetro foi recebido em WS_PARAMS!")


def unknown_tag(tag: str, complex_type: str) -> SimulatedFault:
    """5001: a request field the method's type does not have. [C]"""
    return _client(
        "validation", 5001, f"Tag [{tag.upper()}] não faz parte da estrutura do tipo complexo [{complex_type}]!"
    )


def required_tag(tag: str) -> SimulatedFault:
    """103: a required field is missing or empty. [C]"""
    return _client("validation", 103, f"O preenchimento da tag [{tag}] é obrigatório!")


def not_registered(label: str, registered: str, key: object, *, integration: bool = False) -> SimulatedFault:
    """105: Consultar*/Alterar*/Excluir* of an id that does not exist. [C for clients; other nouns are I]"""
    what = "Código de Integração" if integration else "Código"
    return _client("not_found", 105, f"{label} não {registered} para o {what} [{key}] !")


def already_registered(label: str, registered: str, integration_code: object, omie_id: object) -> SimulatedFault:
    """102: Incluir* with an integration code already in use. [C for clients]"""
    return _client(
        "validation",
        102,
        f"{label} já {registered} para o Código de Integração [{integration_code}] com o nCod [{omie_id}] !",
    )


def server_error() -> SimulatedFault:
    """The intermittent ``Broken response`` of Omie's application servers. [C]"""
    return SimulatedFault("server_error", 500, _SOAP_SERVER, "SOAP-ERROR: Broken response from Application Server (BG)")


def malformed_json() -> SimulatedFault:
    """The body is not JSON at all. [C message per H2; faultcode is I]"""
    return SimulatedFault("validation", 500, _SOAP_CLIENT, "ERROR: JSON request with SyntaxError")


def invalid_json_object() -> SimulatedFault:
    """The body is JSON but not ``{"call": ..., "param": [...]}``. [C message per H2; faultcode is I]"""
    return SimulatedFault("validation", 500, _SOAP_CLIENT, "ERROR: Invalid JSON Object")


def unknown_call(call: str, service: str) -> SimulatedFault:
    """A ``call`` the endpoint does not have. [I: Omie's text for this is unknown]"""
    message = f"ERROR: O método [{call}] não existe no serviço [{service}]!"
    return SimulatedFault("validation", 500, _SOAP_CLIENT, message)
