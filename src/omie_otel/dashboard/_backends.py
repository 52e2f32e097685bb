"""Read-only clients of the standard HTTP APIs the dashboard shows: Prometheus, Alertmanager v2, Jaeger query,
VictoriaLogs LogsQL. Every call is a GET (LogsQL: a POST of a query, which only reads) to a fixed path; a failure
becomes a :class:`BackendError` whose message names the backend and the cause, never its URL or a token.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from omie_otel import semconv as sc
from omie_otel.dashboard._panels import Dashboard, Panel, step_for, substitute
from omie_otel.redaction import Scrubber

__all__ = ["BackendError", "Backends"]

_logger = logging.getLogger("omie_otel.dashboard")

#: Series one panel returns at most (a label with unexpected cardinality must not make a 50 MB page).
MAX_SERIES = 40
#: Prometheus queries run at once for one refresh.
PARALLEL_QUERIES = 8
#: Traces the trace lists show, each.
TRACE_LIST_SIZE = 15
#: A tool call slower than this is "slow" (the latency SLO: p95 < 2 s, docs/slo.md).
SLOW_TRACE_S = 2.0
#: How long a 425 MISUSE_API_PROCESS block lasts when the span has no omie.retry_after (Omie: "about 30 minutes").
MISUSE_BLOCK_S = 1800
_TRUE = (True, "true", "True")
#: What the trace view shows was scrubbed before export by omie-otel; a second pass covers telemetry of services that
#: did not go through it (and a scrubber of an older version): no secret or CPF/CNPJ reaches the page.
_SCRUB = Scrubber()
#: Log fields that are identifiers, shown as they are.
_LOG_IDS = frozenset({"_time", "trace_id", "span_id", "_stream_id"})


class BackendError(Exception):
    """A backend did not answer usefully; ``str()`` is the pt-BR message the page shows."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "conexão recusada ou endereço inacessível"
    if isinstance(exc, httpx.TimeoutException):
        return "não respondeu a tempo"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"respondeu HTTP {exc.response.status_code}"
    if isinstance(exc, ValueError):
        return "respondeu algo que não é JSON"
    return type(exc).__name__


class Backends:
    """The four backends, by base URL (``None``: not configured, its panels say so)."""

    def __init__(
        self,
        *,
        prometheus: str | None,
        alertmanager: str | None,
        jaeger: str | None,
        logs: str | None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.urls = {"Prometheus": prometheus, "Alertmanager": alertmanager, "Jaeger": jaeger, "VictoriaLogs": logs}
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="omie-otel-dashboard")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _call(self, backend: str, path: str, params: Any = None, *, data: dict[str, str] | None = None) -> httpx.Response:
        base = self.urls[backend]
        if not base:
            raise BackendError(f"{backend} não configurado (veja omie-otel dashboard --help)")
        url = base.rstrip("/") + path
        try:
            if data is not None:
                response = self._http.post(url, data=data)
            else:
                response = self._http.get(url, params=params)
            if response.status_code >= 400 and backend == "Prometheus":
                error = _prometheus_error(response)
                if error:
                    raise BackendError(f"Prometheus recusou a consulta: {error}")
            response.raise_for_status()
            return response
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in its panels
            _logger.warning("dashboard: %s at %s failed: %r", backend, url, exc)
            raise BackendError(f"{backend} indisponível: {_describe(exc)}") from exc

    def _json(self, backend: str, path: str, params: Any = None) -> Any:
        response = self._call(backend, path, params)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(f"{backend} indisponível: {_describe(exc)}") from exc

    # -- Prometheus --------------------------------------------------------------------------------------------
    def services(self, dashboard: Dashboard) -> list[str]:
        metric, label = dashboard.service_query
        body = self._json("Prometheus", f"/api/v1/label/{label}/values", {"match[]": metric})
        return sorted(str(v) for v in body.get("data", []))

    def panel_data(self, dashboard: Dashboard, *, services: list[str], range_s: int, end: float) -> dict[str, Any]:
        """Every panel's data for one refresh: one Prometheus query per target, :data:`PARALLEL_QUERIES` at once.

        Returns ``{panel id: {"x": [...], "series": [...]} or {"series": [...]} (instant) or {"error": "..."}}``."""
        step = step_for(range_s)
        end = float(int(end // step * step))  # aligned, so that refreshes draw the same points
        start = end - range_s
        jobs = {
            (panel.id, i): self._pool.submit(self._target, dashboard, panel, i, services, range_s, step, start, end)
            for panel in dashboard.panels
            for i in range(len(panel.targets))
        }
        out: dict[str, Any] = {}
        for panel in dashboard.panels:
            series: list[dict[str, Any]] = []
            errors: list[str] = []
            for i in range(len(panel.targets)):
                try:
                    series.extend(jobs[(panel.id, i)].result())
                except BackendError as exc:
                    errors.append(str(exc))
                except (KeyError, TypeError, ValueError, IndexError):
                    _logger.warning("dashboard: unexpected Prometheus answer for panel %s", panel.id, exc_info=True)
                    errors.append("Prometheus respondeu num formato inesperado (não é a API /api/v1 do Prometheus?)")
            entry: dict[str, Any] = {"series": series[:MAX_SERIES], "truncated": len(series) > MAX_SERIES}
            if not all(t.instant for t in panel.targets):
                entry["x"] = [start + k * step for k in range(int(range_s // step) + 1)]
            if errors and not series:
                entry = {"error": errors[0]}
            elif errors:
                entry["warning"] = errors[0]
            out[str(panel.id)] = entry
        return out

    def _target(
        self, dashboard: Dashboard, panel: Panel, index: int, services: list[str], range_s: int, step: int,
        start: float, end: float,
    ) -> list[dict[str, Any]]:
        target = panel.targets[index]
        expr = substitute(target.expr, services=services, all_value=dashboard.all_value, range_s=range_s, step_s=step)
        if target.instant:
            body = self._json("Prometheus", "/api/v1/query", {"query": expr, "time": end})
            return [
                {"name": _legend(target.legend, r["metric"]), "labels": r["metric"], "value": _num(r["value"][1])}
                for r in body["data"]["result"]
            ]
        body = self._json(
            "Prometheus", "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step}
        )
        points = int(range_s // step) + 1
        out = []
        for r in body["data"]["result"]:
            values: list[float | None] = [None] * points
            for t, v in r["values"]:
                k = round((float(t) - start) / step)
                if 0 <= k < points:
                    values[k] = _num(v)
            out.append({"name": _legend(target.legend, r["metric"]), "labels": r["metric"], "values": values})
        return out

    # -- Alertmanager ------------------------------------------------------------------------------------------
    def alerts(self, services: list[str]) -> list[dict[str, Any]]:
        """Active (not silenced, not inhibited) alerts, of the chosen services or with no job label."""
        body = self._json("Alertmanager", "/api/v2/alerts", {"active": "true", "silenced": "false", "inhibited": "false"})
        out = []
        for a in body:
            labels, annotations = a.get("labels", {}), a.get("annotations", {})
            if services and labels.get("job") and labels["job"] not in services:
                continue
            runbook = annotations.get("runbook_url", "")
            out.append({
                "alertname": labels.get("alertname", "?"),
                "severity": labels.get("severity", ""),
                "job": labels.get("job", ""),
                "labels": labels,
                "summary": annotations.get("summary", ""),
                "description": annotations.get("description", ""),
                "runbook_url": runbook if runbook.startswith(("https://", "http://")) else "",
                "startsAt": a.get("startsAt", ""),
            })
        order = {"critical": 0, "warning": 1}
        return sorted(out, key=lambda a: (order.get(a["severity"], 2), a["startsAt"]))

    # -- Jaeger ------------------------------------------------------------------------------------------------
    def _search(self, service: str, range_s: int, end: float, limit: int, **params: str) -> list[dict[str, Any]]:
        body = self._json(
            "Jaeger",
            "/api/traces",
            {"service": service, "start": int((end - range_s) * 1e6), "end": int(end * 1e6), "limit": limit, **params},
        )
        return list(body.get("data") or [])

    def jaeger_services(self) -> list[str]:
        return [s for s in self._json("Jaeger", "/api/services").get("data") or [] if s != "jaeger"]

    def traces(self, services: list[str], *, range_s: int, end: float) -> dict[str, Any]:
        """Recent failed and slow traces of the services (all Jaeger knows when none is chosen, at most 5).

        Jaeger v2's memory storage cannot search ``error=true`` (docs/deploy.md): failures are found among the
        most recent traces (any span with ``error``) plus a search by ``error.type=tool_error``; slow ones by
        ``minDuration``."""
        names = services or self.jaeger_services()[:5]
        found: dict[str, dict[str, Any]] = {}
        for service in names:
            for trace in (
                self._search(service, range_s, end, 100)
                + self._search(service, range_s, end, TRACE_LIST_SIZE, tags=json.dumps({sc.ERROR_TYPE: "tool_error"}))
                + self._search(service, range_s, end, TRACE_LIST_SIZE, minDuration=f"{int(SLOW_TRACE_S * 1000)}ms")
            ):
                summary = _summary(trace)
                if summary:
                    found[summary["traceID"]] = summary
        failed = sorted((t for t in found.values() if t["error"]), key=lambda t: -t["start"])[:TRACE_LIST_SIZE]
        slow = sorted((t for t in found.values() if t["duration"] >= SLOW_TRACE_S * 1e6), key=lambda t: -t["duration"])
        return {"failed": failed, "slow": slow[:TRACE_LIST_SIZE], "slow_threshold_s": SLOW_TRACE_S}

    def blocks(self, services: list[str], *, now: float) -> list[dict[str, Any]]:
        """Omie 425 MISUSE_API_PROCESS blocks still in force: the newest such span per (service, call), its
        ``omie.retry_after`` (else 30 min) from the span's start."""
        names = services or self.jaeger_services()[:5]
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for service in names:
            for trace in self._search(
                service, 2 * MISUSE_BLOCK_S, now, 20, tags=json.dumps({sc.OMIE_FAULT_KIND: "misuse_blocked"})
            ):
                for span in trace.get("spans", []):
                    tags = _tags(span)
                    if tags.get(sc.OMIE_FAULT_KIND) != "misuse_blocked":
                        continue
                    call = str(tags.get(sc.OMIE_CALL, "?"))
                    seen = span["startTime"] / 1e6
                    wait = _num(tags.get(sc.OMIE_RETRY_AFTER)) or MISUSE_BLOCK_S
                    until = seen + wait
                    key = (service, call)
                    if until > now and (key not in latest or latest[key]["until"] < until):
                        latest[key] = {"service": service, "call": call, "since": seen, "until": until,
                                       "seconds_left": round(until - now), "traceID": trace["traceID"]}
        return sorted(latest.values(), key=lambda b: b["until"])

    def trace(self, trace_id: str) -> dict[str, Any]:
        """One trace as a waterfall: spans in tree order with depth, attributes, events; its logs."""
        body = self._json("Jaeger", f"/api/traces/{trace_id}")
        data = body.get("data") or []
        if not data:
            raise BackendError(f"Jaeger não tem o trace {trace_id} (memória limpa ou fora da retenção)")
        trace = data[0]
        processes = trace.get("processes", {})
        spans = trace.get("spans", [])
        by_id = {s["spanID"]: s for s in spans}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for s in spans:
            parent = next((r["spanID"] for r in s.get("references", []) if r.get("refType") == "CHILD_OF"), None)
            children.setdefault(parent if parent in by_id else None, []).append(s)
        start = min((s["startTime"] for s in spans), default=0)
        end = max((s["startTime"] + s["duration"] for s in spans), default=0)
        ordered: list[dict[str, Any]] = []

        def walk(parent: str | None, depth: int) -> None:
            for s in sorted(children.get(parent, []), key=lambda s: s["startTime"]):
                tags = _tags(s)
                ordered.append({
                    "spanID": s["spanID"],
                    "parentID": parent,
                    "depth": depth,
                    "name": s["operationName"],
                    "service": processes.get(s.get("processID"), {}).get("serviceName", ""),
                    "offset": s["startTime"] - start,
                    "duration": s["duration"],
                    "error": tags.get("error") in _TRUE or tags.get("otel.status_code") == "ERROR",
                    "kind": tags.get("span.kind", ""),
                    "attributes": _SCRUB.scrub_value(tags),
                    "events": [
                        {"offset": e["timestamp"] - start,
                         "fields": _SCRUB.scrub_value({f["key"]: f["value"] for f in e.get("fields", [])})}
                        for e in s.get("logs", [])
                    ],
                })
                if len(ordered) < 2000:
                    walk(s["spanID"], depth + 1)

        walk(None, 0)
        out: dict[str, Any] = {"traceID": trace["traceID"], "start": start, "duration": end - start, "spans": ordered}
        try:
            out["logs"] = self.logs(trace["traceID"])
        except BackendError as exc:
            out["logs_error"] = str(exc)
        return out

    # -- VictoriaLogs ------------------------------------------------------------------------------------------
    def logs(self, trace_id: str) -> list[dict[str, Any]]:
        response = self._call(
            "VictoriaLogs", "/select/logsql/query", data={"query": f'trace_id:="{trace_id}"', "limit": "200"}
        )
        rows = []
        for line in response.text.splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        return sorted(
            ({k: str(v)[:2000] if k in _LOG_IDS else str(_SCRUB.scrub_value(v))[:2000]
              for k, v in r.items() if not k.startswith("_stream")} for r in rows),
            key=lambda r: r.get("_time", ""),
        )


def _prometheus_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def _legend(fmt: str, labels: dict[str, str]) -> str:
    if not fmt:
        name = labels.get("__name__", "")
        rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        return f"{name}{{{rest}}}" if rest or not name else name
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)
    return " ".join(text.split()) or "valor"


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def _summary(trace: dict[str, Any]) -> dict[str, Any] | None:
    spans = trace.get("spans") or []
    if not spans:
        return None
    ids = {s["spanID"] for s in spans}
    roots = [s for s in spans if not any(r.get("spanID") in ids for r in s.get("references", []))] or spans
    root = min(roots, key=lambda s: s["startTime"])
    start = min(s["startTime"] for s in spans)
    end = max(s["startTime"] + s["duration"] for s in spans)
    errors = sorted({
        str(t.get(sc.ERROR_TYPE) or t.get(sc.OMIE_FAULT_KIND) or "erro")
        for t in map(_tags, spans)
        if t.get("error") in _TRUE or t.get("otel.status_code") == "ERROR"
    })
    processes = trace.get("processes", {})
    return {
        "traceID": trace["traceID"],
        "name": root["operationName"],
        "service": processes.get(root.get("processID"), {}).get("serviceName", ""),
        "start": start,
        "duration": end - start,
        "spans": len(spans),
        "error": bool(errors),
        "errors": errors,
        "omie": sum(1 for s in spans if sc.OMIE_CALL in _tags(s)),
    }
