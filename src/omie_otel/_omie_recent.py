"""Passive evidence for the readiness check: what the last Omie answers said, and the credentials the app used.

The Omie instrumentation (:mod:`omie_otel._omie_httpx`) records every answer; :class:`omie_otel.health.HealthChecker`
reads them, so the ``omie_api`` check costs no extra call.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from omie_otel.omie import UNREACHABLE_KINDS, OmieFault

__all__ = ["MISUSE_BLOCK_SECONDS", "RecentOmieOutcomes"]


#: How long a 425 MISUSE_API_PROCESS block lasts when Omie does not say ("about 30 minutes").
MISUSE_BLOCK_SECONDS = 1800.0


class RecentOmieOutcomes:
    """What the last Omie answers said, for the readiness check: passive evidence, no extra calls.

    ``last`` is ``(kind, call, monotonic time)`` of the latest answer (``kind`` is ``"ok"`` or an ``omie.fault.kind``);
    ``blocked_until`` maps a call Omie blocked with 425 to the monotonic time the block ends (``omie.retry_after``
    seconds from when it was seen; 30 minutes when Omie gave no figure), cleared by a later answer to that call;
    ``failures_in_a_row`` counts consecutive ``transport``/``server_error`` outcomes.
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.last: tuple[str, str, float] | None = None
        self.blocked_until: dict[str, float] = {}
        self.failures_in_a_row = 0
        self._credentials: tuple[str, str] | None = None

    def note_credentials(self, app_key: str, app_secret: str) -> None:
        """The app key/secret the application itself sent: the only ones the health probe may use. In memory only."""
        self._credentials = (app_key, app_secret)

    def credentials(self) -> tuple[str, str] | None:
        return self._credentials

    def record(self, call: str, fault: OmieFault | None) -> None:
        kind = "ok" if fault is None else fault.kind
        now = self._clock()
        with self._lock:
            self.last = (kind, call, now)
            if kind == "misuse_blocked":
                wait = fault.retry_after if fault is not None and fault.retry_after else MISUSE_BLOCK_SECONDS
                self.blocked_until[call] = now + wait
            else:
                self.blocked_until.pop(call, None)
            self.failures_in_a_row = self.failures_in_a_row + 1 if kind in UNREACHABLE_KINDS else 0

    def snapshot(self) -> tuple[tuple[str, str, float] | None, dict[str, float], int]:
        with self._lock:
            return self.last, dict(self.blocked_until), self.failures_in_a_row

