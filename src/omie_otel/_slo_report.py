"""``omie-otel slo report``: the SLA report of a calendar month (or of the last 30 days), from Prometheus.

For every service (the ``job`` label) and every objective of :mod:`omie_otel.slo`, it prints the objective, the
measured SLI, the error budget spent and left, and whether the period met the objective. The numbers come from the
SLO recording rules already loaded in Prometheus (``collector-config/prometheus/rules/slo.rules.yml``): the
expression of each ``...:ratio_rate30d`` / ``...:ratio_avg30d`` rule, read from ``/api/v1/rules``, is evaluated over
the report's period instead of 30 days (for the last 30 days it is the rule's own expression), at the period's end.
The number of events comes the same way from the ``...:increase6h`` rules. So the report and the alerts always
measure the same thing, and nothing here repeats the rules' PromQL.

Example:
    ``omie-otel slo report --prometheus http://127.0.0.1:9090 --month 2026-11 --service omie-mcp --format md``

Output follows ``LANG``: Portuguese (pt-BR) by default, English when ``LANG`` starts with ``en``.
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from omie_otel import slo
from omie_otel._lang import english

__all__ = ["Period", "Report", "ReportError", "SloResult", "build_report", "main", "period_for", "render"]

#: The rule window whose expression defines each SLI (its range is replaced by the report's period).
SLI_RULE_WINDOW = "30d"
#: The rule window whose expression counts the events (the longest one recorded).
EVENTS_RULE_WINDOW = "6h"
FORMATS = ("text", "json", "md")


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


# ------------------------------------------------------------------------------------------------- language ---
def _english() -> bool:
    return english()


_PT = {
    "title": "Relatório de SLA",
    "period": "Período",
    "last30": "últimos 30 dias",
    "partial": "mês em andamento: dados até {end}",
    "source": "Fonte",
    "source_detail": "regras de gravação SLO do omie-otel",
    "service": "Serviço",
    "slo": "SLO",
    "objective": "Objetivo",
    "measured": "Medido",
    "spent": "Orçamento gasto",
    "left": "Orçamento restante",
    "events": "Eventos (ruins)",
    "result": "Resultado",
    "met": "cumprido",
    "missed": "NÃO cumprido",
    "no_data": "sem dados",
    "no_data_all": "Sem dados: o Prometheus não tem séries das regras SLO {what} neste período.",
    "for_service": "para o serviço {service}",
    "for_any": "de nenhum serviço",
    "no_data_hint": "(Serviço sem tráfego, período fora da retenção do Prometheus, ou nome de serviço errado.)",
    "to": "a",
    "help": "Relatório de SLA de um mês do calendário (ou dos últimos 30 dias), das regras SLO do Prometheus.",
    "help_prometheus": "URL do Prometheus, ex.: http://127.0.0.1:9090 (padrão: $PROMETHEUS_URL)",
    "help_month": "mês do calendário AAAA-MM (padrão: os últimos 30 dias)",
    "help_service": "só este serviço (o label job = OTEL_SERVICE_NAME)",
    "help_format": "text (padrão), json ou md",
    "need_prometheus": "falta --prometheus URL (ou PROMETHEUS_URL), ex.: --prometheus http://127.0.0.1:9090",
    "bad_month": "--month {value!r} inválido: use AAAA-MM, por exemplo --month 2026-11",
    "future_month": "--month {value}: o mês ainda não começou (hoje é {today})",
    "unreachable": "não consegui consultar o Prometheus em {url}: {error}. Ele está rodando? (scripts/stack.sh status)",
    "bad_answer": "o Prometheus em {url} respondeu {what}: {detail}",
    "no_rules": (
        "o Prometheus em {url} não tem a regra {rule}: carregue collector-config/prometheus/rules/slo.rules.yml "
        "(rule_files em prometheus.yml) e recarregue (POST /-/reload)"
    ),
}
_EN = {
    "title": "SLA report",
    "period": "Period",
    "last30": "last 30 days",
    "partial": "month in progress: data up to {end}",
    "source": "Source",
    "source_detail": "omie-otel SLO recording rules",
    "service": "Service",
    "slo": "SLO",
    "objective": "Objective",
    "measured": "Measured",
    "spent": "Budget spent",
    "left": "Budget left",
    "events": "Events (bad)",
    "result": "Result",
    "met": "met",
    "missed": "MISSED",
    "no_data": "no data",
    "no_data_all": "No data: Prometheus has no series of the SLO rules {what} in this period.",
    "for_service": "for the service {service}",
    "for_any": "for any service",
    "no_data_hint": "(No traffic, a period beyond Prometheus's retention, or a wrong service name.)",
    "to": "to",
    "help": "SLA report of a calendar month (or the last 30 days) from the SLO recording rules in Prometheus.",
    "help_prometheus": "Prometheus base URL, e.g. http://127.0.0.1:9090 (default: $PROMETHEUS_URL)",
    "help_month": "calendar month YYYY-MM (default: the last 30 days)",
    "help_service": "only this service (the job label = OTEL_SERVICE_NAME)",
    "help_format": "text (default), json or md",
    "need_prometheus": "--prometheus URL is required (or set PROMETHEUS_URL), e.g. --prometheus http://127.0.0.1:9090",
    "bad_month": "--month {value!r} is not valid: use YYYY-MM, e.g. --month 2026-11",
    "future_month": "--month {value}: that month has not started yet (today is {today})",
    "unreachable": "cannot query Prometheus at {url}: {error}. Is it running? (scripts/stack.sh status)",
    "bad_answer": "Prometheus at {url} answered {what}: {detail}",
    "no_rules": (
        "Prometheus at {url} has no rule {rule}: load collector-config/prometheus/rules/slo.rules.yml "
        "(rule_files in prometheus.yml) and reload (POST /-/reload)"
    ),
}


def _t(key: str, **kwargs: Any) -> str:
    return (_EN if _english() else _PT)[key].format(**kwargs)


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


# -------------------------------------------------------------------------------------------------- render ---
def _pct(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    text = f"{value * 100:.{digits}f} %"
    return text if _english() else text.replace(".", ",")


def _count(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{round(value):,}"
    return text if _english() else text.replace(",", ".")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if _english() else moment.strftime("%d/%m/%Y %H:%M UTC")


def _rows(results: list[SloResult]) -> list[list[str]]:
    rows = []
    for r in results:
        if not r.has_data:
            rows.append([r.slo, _pct(r.objective), _t("no_data"), "—", "—", "—", _t("no_data")])
            continue
        events = "—" if r.events is None else f"{_count(r.events)} ({_count(r.bad_events)})"
        rows.append(
            [
                r.slo,
                _pct(r.objective),
                _pct(r.sli, 3),
                _pct(r.budget_spent, 1),
                _pct(r.budget_left, 1),
                events,
                _t("met") if r.met else _t("missed"),
            ]
        )
    return rows


def _header(report: Report) -> list[str]:
    p = report.period
    lines = [f"{_t('period')}: {p.label} ({_when(p.start)} {_t('to')} {_when(p.month_end or p.end)})"]
    if p.month_end is not None:
        lines.append("  " + _t("partial", end=_when(p.end)))
    lines.append(f"{_t('source')}: {report.prometheus} ({_t('source_detail')})")
    return lines


def _no_data(report: Report) -> str:
    what = _t("for_service", service=report.service) if report.service else _t("for_any")
    return f"{_t('no_data_all', what=what)}\n{_t('no_data_hint')}"


def _columns() -> list[str]:
    return [_t(k) for k in ("slo", "objective", "measured", "spent", "left", "events", "result")]


def _text(report: Report) -> str:
    out = [f"{_t('title')} — omie-otel", *_header(report), ""]
    if not report.has_data:
        return "\n".join([*out, _no_data(report)]) + "\n"
    for job, results in report.services.items():
        table = [_columns(), *_rows(results)]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        out.append(f"{_t('service')}: {job}")
        out.extend("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)
        out.append("")
    return "\n".join(out)


def _markdown(report: Report) -> str:
    out = [f"# {_t('title')} — omie-otel", "", *(f"{line.strip()}  " for line in _header(report)), ""]
    if not report.has_data:
        return "\n".join([*out, _no_data(report)]) + "\n"
    for job, results in report.services.items():
        out += [f"## {_t('service')}: `{job}`", "", "| " + " | ".join(_columns()) + " |"]
        out.append("|" + "---|" * len(_columns()))
        out += ["| " + " | ".join(row) + " |" for row in _rows(results)]
        out.append("")
    return "\n".join(out)


def _json(report: Report) -> str:
    def result(r: SloResult) -> dict[str, Any]:
        return {
            **asdict(r),
            "sli": r.sli,
            "error_budget": r.budget,
            "budget_spent": r.budget_spent,
            "budget_left": r.budget_left,
            "bad_events": r.bad_events,
            "met": r.met,
        }

    p = report.period
    return (
        json.dumps(
            {
                "prometheus": report.prometheus,
                "period": {
                    "label": p.label,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                    "month_end": p.month_end.isoformat() if p.month_end else None,
                    "partial": p.month_end is not None,
                },
                "service": report.service,
                "has_data": report.has_data,
                "services": {job: [result(r) for r in results] for job, results in report.services.items()},
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


_RENDERERS: dict[str, Callable[[Report], str]] = {"text": _text, "json": _json, "md": _markdown}


def render(report: Report, fmt: str = "text") -> str:
    """The report as ``text``, ``json`` or ``md`` (language from ``LANG``; JSON keys are always English)."""
    return _RENDERERS[fmt](report)


# ---------------------------------------------------------------------------------------------------- main ---
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omie-otel slo report", description=_t("help"))
    parser.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL"), help=_t("help_prometheus"))
    parser.add_argument("--month", help=_t("help_month"))
    parser.add_argument("--service", help=_t("help_service"))
    parser.add_argument("--format", choices=FORMATS, default="text", help=_t("help_format"))
    return parser


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None) -> int:
    """``omie-otel slo report ...``; returns the exit status (0 also when there is no data)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["report"]:
        args = args[1:]
    elif args and not args[0].startswith("-"):
        print(f"omie-otel slo: unknown subcommand {args[0]!r}; use 'omie-otel slo report --help'", file=sys.stderr)
        return 2
    options = _parser().parse_args(args)
    if not options.prometheus:
        _parser().error(_t("need_prometheus"))
    try:
        period = period_for(options.month, now or datetime.now(timezone.utc))
        report = build_report(options.prometheus, period, options.service)
    except ReportError as exc:
        print(f"omie-otel slo report: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render(report, options.format))
    return 0
