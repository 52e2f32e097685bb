"""The SLA report's numbers: its period, one result per objective and service, computed from Prometheus.

Every SLI is the expression of an SLO recording rule read from ``/api/v1/rules``, evaluated over the report's period
(see :mod:`omie_otel._slo_report`); rendering is :mod:`omie_otel._slo_report_render`'s job.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from omie_otel import slo
from omie_otel._slo_report_messages import t as _t

__all__ = ["Period", "Report", "ReportError", "SloResult", "build_report", "period_for"]

#: The rule window whose expression defines each SLI (its range is replaced by the report's period).
SLI_RULE_WINDOW = "30d"
#: The rule window whose expression counts the events (the longest one recorded).
EVENTS_RULE_WINDOW = "6h"


class ReportError(Exception):
    """A report that cannot be made: the message (in the user's language) says why and what to do."""


@dataclass(frozen=True)
class Period:
    """The half-open interval ``[start, end)`` a report covers (UTC)."""

    label: str
    start: datetime
    end: datetime
    #: The end of the calendar month when ``end`` is "now" inside it (a month still running), else ``None``.
    month_end: datetime | None = None

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class SloResult:
    """One objective of one service over the period; ``bad_ratio`` is ``None`` when there is no data."""

    slo: str
    description: str
    objective: float
    bad_ratio: float | None
    events: float | None = None

    @property
    def has_data(self) -> bool:
        return self.bad_ratio is not None

    @property
    def sli(self) -> float | None:
        return None if self.bad_ratio is None else 1.0 - self.bad_ratio

    @property
    def budget(self) -> float:
        return 1.0 - self.objective

    @property
    def budget_spent(self) -> float | None:
        """Share of the error budget used (1.0 = all of it; above 1.0 the objective was missed)."""
        return None if self.bad_ratio is None else self.bad_ratio / self.budget

    @property
    def budget_left(self) -> float | None:
        spent = self.budget_spent
        return None if spent is None else 1.0 - spent

    @property
    def bad_events(self) -> float | None:
        return None if self.bad_ratio is None or self.events is None else self.bad_ratio * self.events

    @property
    def met(self) -> bool | None:
        # A tolerance for float noise: exactly on the objective meets it.
        return None if self.bad_ratio is None else self.bad_ratio <= self.budget + 1e-12


@dataclass
class Report:
    prometheus: str
    period: Period
    service: str | None
    #: service -> one result per SLO, in the order of omie_otel.slo.SLOS.
    services: dict[str, list[SloResult]] = field(default_factory=dict)

    @property
    def has_data(self) -> bool:
        return any(r.has_data for results in self.services.values() for r in results)



# --------------------------------------------------------------------------------------------------- period ---
def period_for(month: str | None, now: datetime) -> Period:
    """The report's period: the calendar month ``YYYY-MM`` (up to ``now`` if it is running), or the last 30 days."""
    if month is None:
        return Period(_t("last30"), now - timedelta(days=slo.WINDOW_DAYS), now)
    match = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ReportError(_t("bad_month", value=month))
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime(year, mon, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=calendar.monthrange(year, mon)[1])
    if start > now:
        raise ReportError(_t("future_month", value=month, today=now.strftime("%Y-%m-%d")))
    if end > now:
        return Period(f"{year:04d}-{mon:02d}", start, now, month_end=end)
    return Period(f"{year:04d}-{mon:02d}", start, end)


# ------------------------------------------------------------------------------------------------ prometheus ---
class _Prometheus:
    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self._client = client

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = self._client.get(f"{self.url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise ReportError(_t("unreachable", url=self.url, error=exc)) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise ReportError(
                _t("bad_answer", url=self.url, what=f"HTTP {response.status_code}", detail=response.text[:200])
            ) from exc
        if response.status_code != 200 or body.get("status") != "success":
            detail = body.get("error") or response.text[:200]
            raise ReportError(_t("bad_answer", url=self.url, what=f"HTTP {response.status_code}", detail=detail))
        return body["data"]

    def recording_rules(self) -> dict[str, str]:
        """Every recording rule loaded: record name -> expression."""
        data = self._get("/api/v1/rules", {"type": "record"})
        return {
            rule["name"]: rule["query"]
            for group in data.get("groups", [])
            for rule in group.get("rules", [])
            if rule.get("type") == "recording"
        }

    def query(self, expr: str, at: datetime) -> dict[str, float]:
        """Instant query at ``at``: job -> value (NaN and infinities dropped: no data)."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at.timestamp():.3f}"})
        out: dict[str, float] = {}
        for sample in data.get("result", []):
            value = float(sample["value"][1])
            if math.isfinite(value):
                out[sample["metric"].get("job", "")] = value
        return out


def _over(rules: dict[str, str], record: str, window: str, seconds: int, url: str) -> str:
    """The expression of the rule ``record + window`` with its range ``[window]`` replaced by ``seconds``."""
    name = record + window
    if name not in rules:
        raise ReportError(_t("no_rules", url=url, rule=name))
    return rules[name].replace(f"[{window}]", f"[{seconds}s]")


def build_report(
    prometheus_url: str,
    period: Period,
    service: str | None = None,
    *,
    client: httpx.Client | None = None,
) -> Report:
    """Query Prometheus and compute every SLO of every service (or of ``service``) over ``period``."""
    own = client is None
    http = client or httpx.Client(timeout=60.0)
    try:
        prom = _Prometheus(prometheus_url, http)
        rules = prom.recording_rules()
        report = Report(prom.url, period, service)
        per_slo: list[tuple[slo.SLO, dict[str, float], dict[str, float]]] = []
        for objective in slo.SLOS:
            bad = prom.query(
                _over(rules, objective.error_ratio_record, SLI_RULE_WINDOW, period.seconds, prom.url), period.end
            )
            events: dict[str, float] = {}
            if objective.requests_record is not None:
                events = prom.query(
                    _over(rules, objective.requests_record, EVENTS_RULE_WINDOW, period.seconds, prom.url), period.end
                )
            per_slo.append((objective, bad, events))
        jobs = sorted({job for _, bad, events in per_slo for job in (*bad, *events)} - {""})
        if service is not None:
            jobs = [service]
        for job in jobs:
            report.services[job] = [
                SloResult(
                    objective.name,
                    objective.description,
                    objective.objective,
                    bad.get(job),
                    events.get(job) if objective.requests_record is not None else None,
                )
                for objective, bad, events in per_slo
            ]
        return report
    finally:
        if own:
            http.close()

