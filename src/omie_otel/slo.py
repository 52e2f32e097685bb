"""The service level objectives of an Omie MCP server, as data.

The Prometheus rules in ``collector-config/prometheus/rules/slo.*.yml`` implement these numbers (their thresholds are
written as ``factor * (1 - objective)``, and an end-to-end test checks them against this module); ``docs/slo.md``
explains them. Nothing here runs at import or talks to anything.

Example:
    >>> from omie_otel import slo
    >>> s = slo.by_name("mcp-availability")
    >>> round(s.error_budget, 4), s.window_days
    (0.01, 30)
    >>> [(w.long, w.short, w.factor, w.severity, w.min_requests) for w in slo.BURN_WINDOWS][:2]
    [('1h', '5m', 14.4, 'critical', 10), ('6h', '30m', 6.0, 'critical', 30)]
    >>> s.requests_record + "5m", slo.by_name("mcp-uptime").requests_record
    ('job:mcp_server_operations:increase5m', None)
    >>> round(slo.BURN_WINDOWS[0].budget_spent(s.window_days), 3)
    0.02
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["SLO", "SLOS", "BurnWindow", "BURN_WINDOWS", "WINDOW_DAYS", "by_name"]

#: The rolling window every objective is measured over.
WINDOW_DAYS: Final = 30


@dataclass(frozen=True)
class SLO:
    """One objective.

    Attributes:
        name: The ``slo`` label of its alerts (``mcp-availability``...).
        objective: Share of good events (or of good time, for uptime), e.g. ``0.99``.
        description: What is measured, in one line.
        error_ratio_record: The recording rule prefix of the bad-event ratio; the window is appended
            (``job:mcp_server_operation_errors:ratio_rate`` + ``1h``).
        alert: The alert that fires when the budget burns too fast.
        requests_record: The recording rule prefix of the number of events the ratio is computed over (its
            denominator), for the minimum-traffic guard; the short window is appended
            (``job:mcp_server_operations:increase`` + ``5m``). ``None`` when there is no event count (uptime is
            a share of time) and so no guard.
        window_days: The rolling window.
    """

    name: str
    objective: float
    description: str
    error_ratio_record: str
    alert: str
    requests_record: str | None = None
    window_days: int = WINDOW_DAYS

    @property
    def error_budget(self) -> float:
        """Share of bad events the objective allows: ``1 - objective``."""
        return 1.0 - self.objective


@dataclass(frozen=True)
class BurnWindow:
    """One pair of windows of a multi-window, multi-burn-rate alert (Google SRE workbook, ch. 5).

    The alert fires when the error ratio over BOTH windows is above ``factor * error_budget``; the short window makes
    it stop soon after the problem stops. For the SLOs that count events (all but uptime) it also needs at least
    ``min_requests`` events in the short window (the minimum-traffic guard): below that a ratio is a handful of
    calls, and one failure in three would page. ``docs/slo.md`` explains the numbers and how to tune them.
    """

    long: str
    short: str
    factor: float
    severity: Literal["critical", "warning"]
    min_requests: int

    @property
    def long_hours(self) -> float:
        value, unit = float(self.long[:-1]), self.long[-1]
        return value * {"m": 1 / 60, "h": 1.0, "d": 24.0}[unit]

    def budget_spent(self, window_days: int = WINDOW_DAYS) -> float:
        """Share of the whole period's budget spent by the time this pair fires at exactly ``factor``."""
        return self.factor * self.long_hours / (window_days * 24)


#: The four windows of the workbook: two pages, two tickets. The last number is the traffic floor in the short
#: window: 2, 1, 0.5 and 0.33 requests a minute, so that at the floor it always takes 2 or more bad events to
#: cross a 99 % SLO's threshold (10 x 14.4 % = 1.44, 30 x 6 % = 1.8, 60 x 3 % = 1.8, 120 x 1 % = 1.2).
BURN_WINDOWS: Final = (
    BurnWindow("1h", "5m", 14.4, "critical", 10),  # 2 % of a 30-day budget in one hour
    BurnWindow("6h", "30m", 6.0, "critical", 30),  # 5 % in six hours
    BurnWindow("1d", "2h", 3.0, "warning", 60),  # 10 % in a day
    BurnWindow("3d", "6h", 1.0, "warning", 120),  # 10 % in three days
)

#: From the project plan: p95 < 2 s, error rate < 1 %, uptime > 99.5 %, Omie API success > 99 %.
SLOS: Final = (
    SLO(
        "mcp-availability",
        0.99,
        "MCP requests answered without error (error.type absent on mcp.server.operation.duration)",
        "job:mcp_server_operation_errors:ratio_rate",
        "OmieMcpAvailabilityBudgetBurn",
        "job:mcp_server_operations:increase",
    ),
    SLO(
        "mcp-latency",
        0.95,
        "tools/call requests answered within 2 s (the le=2 bucket): p95 < 2 s",
        "job:mcp_server_tool_calls_slow:ratio_rate",
        "OmieMcpLatencyBudgetBurn",
        "job:mcp_server_tool_calls:increase",
    ),
    SLO(
        "omie-api-success",
        0.99,
        "Omie API calls without error.type on omie.client.request.duration (5113 no-records is a success)",
        "job:omie_client_request_errors:ratio_rate",
        "OmieApiSuccessBudgetBurn",
        "job:omie_client_requests:increase",
    ),
    SLO(
        "mcp-uptime",
        0.995,
        "Time the server is reporting and no health check fails",
        "job:omie_otel_service_down:ratio_avg",
        "OmieMcpUptimeBudgetBurn",
    ),
)


def by_name(name: str) -> SLO:
    """The SLO whose ``slo`` label is ``name`` (``KeyError`` if none)."""
    for s in SLOS:
        if s.name == name:
            return s
    raise KeyError(name)
