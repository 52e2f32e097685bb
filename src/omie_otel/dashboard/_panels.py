"""The panels of the Grafana dashboard we ship, read from its JSON, and Grafana's variables substituted.

There is one definition: ``collector-config/grafana/dashboards/omie-mcp.json``. The wheel carries it as
``omie_otel/dashboard/omie-mcp.json`` (a hatch ``force-include``); a source checkout reads the repository's file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

__all__ = ["Dashboard", "Panel", "Target", "dashboard_path", "load_dashboard", "substitute", "step_for", "rate_interval"]

_HERE = Path(__file__).resolve().parent
#: In the wheel (force-included next to this module), then in a source checkout.
_CANDIDATES = (
    _HERE / "omie-mcp.json",
    _HERE.parents[2] / "collector-config" / "grafana" / "dashboards" / "omie-mcp.json",
)
#: Points a range query asks for: enough for a 1440 px wide chart, few enough for a 30-day range.
POINTS = 240
#: The finest step (s): the SDK's periodic metric reader exports every 60 s by default, the stack's every 5 s.
MIN_STEP_S = 15
#: The interval one sample of an exported metric covers (s), for ``$__rate_interval``: the OpenTelemetry SDK's
#: default export interval. A rate over less than 4 of them has too few samples to mean anything.
SCRAPE_INTERVAL_S = 60


@dataclasses.dataclass(frozen=True)
class Target:
    ref_id: str
    expr: str
    legend: str
    instant: bool


@dataclasses.dataclass(frozen=True)
class Panel:
    id: int
    type: str
    title: str
    row: str
    grid: dict[str, int]
    unit: str
    thresholds: list[dict[str, Any]]
    targets: tuple[Target, ...]
    description: str = ""

    def public(self) -> dict[str, Any]:
        """What the page needs to draw the panel (the PromQL is shown, never run, by the page)."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "row": self.row,
            "grid": self.grid,
            "unit": self.unit,
            "thresholds": self.thresholds,
            "description": self.description,
            "targets": [{"refId": t.ref_id, "legend": t.legend, "instant": t.instant, "expr": t.expr} for t in self.targets],
        }


@dataclasses.dataclass(frozen=True)
class Dashboard:
    title: str
    rows: tuple[str, ...]
    panels: tuple[Panel, ...]
    #: (metric, label) of the service variable's ``label_values(metric, label)`` query.
    service_query: tuple[str, str]
    all_value: str

    def panel(self, panel_id: int) -> Panel | None:
        return next((p for p in self.panels if p.id == panel_id), None)

    def query_count(self) -> int:
        """Prometheus queries one refresh of every panel costs."""
        return sum(len(p.targets) for p in self.panels)

    def public(self) -> dict[str, Any]:
        return {"title": self.title, "rows": list(self.rows), "panels": [p.public() for p in self.panels]}


def dashboard_path() -> Path:
    for path in _CANDIDATES:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "omie-mcp.json (the Grafana dashboard the web dashboard renders) is neither in the package nor in a source "
        f"checkout; looked at: {', '.join(str(p) for p in _CANDIDATES)}. Reinstall omie-otel."
    )


def load_dashboard(path: Path | None = None) -> Dashboard:
    """Parse the Grafana dashboard model: rows (also collapsed ones), panels, targets, units, thresholds."""
    model = json.loads((path or dashboard_path()).read_text(encoding="utf-8"))
    rows: list[str] = []
    panels: list[Panel] = []
    row = ""
    for raw in sorted(model["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if raw["type"] == "row":
            row = raw["title"]
            rows.append(row)
            inner = raw.get("panels", [])
        else:
            inner = [raw]
        for p in inner:
            defaults = p.get("fieldConfig", {}).get("defaults", {})
            panels.append(
                Panel(
                    id=int(p["id"]),
                    type=p["type"],
                    title=p["title"],
                    row=row,
                    grid={k: int(p["gridPos"][k]) for k in ("x", "y", "w", "h")},
                    unit=defaults.get("unit", "none"),
                    thresholds=list(defaults.get("thresholds", {}).get("steps", [])),
                    description=p.get("description", ""),
                    targets=tuple(
                        Target(t.get("refId", "A"), t["expr"], t.get("legendFormat", ""), bool(t.get("instant")))
                        for t in p.get("targets", [])
                        if t.get("expr")
                    ),
                )
            )
    (var,) = [v for v in model.get("templating", {}).get("list", []) if v.get("type") == "query"] or [{}]
    query = var.get("definition") or (var.get("query") or {}).get("query", "")
    m = re.fullmatch(r"\s*label_values\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*", query or "")
    service_query = (m.group(1), m.group(2)) if m else ("mcp_server_operation_duration_seconds_count", "job")
    return Dashboard(
        title=model.get("title", "omie-otel"),
        rows=tuple(rows),
        panels=tuple(panels),
        service_query=service_query,
        all_value=var.get("allValue") or ".+",
    )


def step_for(range_s: int) -> int:
    """The range query step (s) for a time range: about :data:`POINTS` points, never under :data:`MIN_STEP_S`."""
    return max(MIN_STEP_S, math.ceil(range_s / POINTS))


def rate_interval(step_s: int) -> int:
    """Grafana's ``$__rate_interval``: max(4 x scrape interval, step + scrape interval)."""
    return max(4 * SCRAPE_INTERVAL_S, step_s + SCRAPE_INTERVAL_S)


def _regex_escape(value: str) -> str:
    # Grafana escapes a multi-value variable's values as regexes; PromQL strings also need \ and " escaped.
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", value).replace("\\", "\\\\").replace('"', '\\"')


def substitute(expr: str, *, services: list[str], all_value: str, range_s: int, step_s: int) -> str:
    """Replace Grafana's variables as Grafana would: ``$job`` (the service picker, a regex: the chosen services
    escaped and joined with ``|``, or the "All" value), ``$__rate_interval``, ``$__interval``, ``$__range``."""
    job = "|".join(_regex_escape(s) for s in services) if services else all_value.replace("\\", "\\\\")
    out = expr
    for name, value in (
        ("__rate_interval", f"{rate_interval(step_s)}s"),
        ("__interval", f"{step_s}s"),
        ("__range", f"{range_s}s"),
        ("job", job),
        ("service", job),
    ):
        out = re.sub(r"\$\{" + name + r"\}|\$" + name + r"\b", value.replace("\\", "\\\\"), out)
    return out
