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

This module is the command; the numbers are computed in :mod:`omie_otel._slo_report_data`, rendered in
:mod:`omie_otel._slo_report_render`, worded in :mod:`omie_otel._slo_report_messages`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from omie_otel._slo_report_data import ReportError, build_report, period_for
from omie_otel._slo_report_messages import t as _t
from omie_otel._slo_report_render import render

__all__ = ["ReportError", "build_report", "main", "period_for", "render"]

FORMATS = ("text", "json", "md")


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
