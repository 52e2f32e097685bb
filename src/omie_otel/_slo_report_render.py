"""The SLA report as text, Markdown or JSON (words and number formats follow ``LANG``; JSON keys are English)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from omie_otel._lang import english as _english
from omie_otel._slo_report_data import Report, SloResult
from omie_otel._slo_report_messages import t as _t

__all__ = ["render"]


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

