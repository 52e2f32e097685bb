"""The ``omie_api`` readiness check's judgement and its active probe.

:class:`omie_otel.health.HealthChecker` keeps the state (the evidence, the probe cache and its backoff, the clock);
this module says what an Omie fault kind means for readiness and sends one probe. What the check means is in
:mod:`omie_otel.health`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from omie_otel.omie import THROTTLED_KINDS, UNREACHABLE_KINDS, OmieFault, classify_response

if TYPE_CHECKING:
    from omie_otel.health import CheckStatus

__all__ = ["UNREACHABLE_FAIL_AFTER", "judge", "probe_url", "send_probe"]

#: Failures to reach Omie in a row (transport error, 5xx) after which ``omie_api`` fails instead of degrading.
UNREACHABLE_FAIL_AFTER = 3


def probe_url(prefix: str) -> str:
    """Where ``ListarCategorias`` lives under an Omie URL prefix (``.../api/`` or ``.../api/v1/``)."""
    base = prefix if prefix.endswith("/") else prefix + "/"
    return base + ("geral/categorias/" if base.endswith("/v1/") else "v1/geral/categorias/")


def judge(kind: str, in_a_row: int, where: str) -> tuple[CheckStatus, str]:
    """What the fault kind of Omie's last answer (``ok`` for none) means for readiness; ``where`` starts the detail."""
    if kind == "auth":
        return "fail", f"{where}: Omie refused the app key/secret (auth)"
    if kind in UNREACHABLE_KINDS:
        status: CheckStatus = "fail" if in_a_row >= UNREACHABLE_FAIL_AFTER else "degraded"
        return status, f"{where}: {kind}, {in_a_row} in a row"
    if kind in THROTTLED_KINDS:
        return "degraded", f"{where}: Omie is throttling ({kind})"
    if kind == "misuse_blocked":
        return "degraded", f"{where}: a 425 block has ended; no answer since"
    return "ok", f"{where}: {kind}"


def send_probe(
    omie_url: str, key: str, secret: str, rows: int, timeout: float
) -> tuple[CheckStatus, str, OmieFault | None]:
    """One ``ListarCategorias`` call (page 1, ``rows`` records per page) with the application's own credentials.

    Returns the verdict, its detail, and the fault Omie answered with, if any (its ``retry_after`` sets how long a
    425 block keeps the verdict).
    """
    import httpx

    body = {
        "call": "ListarCategorias",
        "app_key": key,
        "app_secret": secret,
        # Never the parameters of the previous probe: Omie's REDUNDANT rule is the same call *and* parameters.
        "param": [{"pagina": 1, "registros_por_pagina": rows}],
    }
    start = time.perf_counter()
    fault = None
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(probe_url(omie_url), json=body)
    except httpx.HTTPError:
        kind = "transport"
    else:
        fault = classify_response(response.status_code, response.content, response.headers)
        kind = "ok" if fault is None else fault.kind
    took = (time.perf_counter() - start) * 1000
    if kind == "transport":
        return "fail", f"probe ListarCategorias could not reach Omie within {timeout:.0f} s", fault
    if kind == "misuse_blocked":
        wait = fault.retry_after if fault is not None and fault.retry_after else None
        detail = "probe: Omie blocked this app key (HTTP 425 MISUSE_API_PROCESS)" + (
            f"; the block ends in {wait:.0f} s" if wait else ""
        )
        return "fail", detail, fault
    status, detail = judge(kind, UNREACHABLE_FAIL_AFTER, f"probe ListarCategorias answered in {took:.0f} ms")
    return status, detail, fault
