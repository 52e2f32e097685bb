"""The live terminal summary, computed only from telemetry: metric points, span and log counts.

:func:`read_summary` collects the in-memory metric reader once and folds the points into a :class:`Summary`;
:func:`render` turns it into a plain-text block (no colours: it reads the same in a pipe or a CI log; the runner
only redraws it in place when stdout is a terminal). Percentiles come from the histogram buckets, interpolated inside the bucket as Prometheus'
``histogram_quantile`` does, and clamped to the observed min/max. Every metric and attribute name comes from
:mod:`omie_otel.semconv`.

Example:
    >>> h = Histogram(bounds=(0.1, 0.2, 0.5), counts=(0, 8, 2, 0), min=0.12, max=0.4)
    >>> round(h.quantile(0.5), 3), round(h.quantile(0.95), 3)
    (0.17, 0.35)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from examples.demo.lang import t
from examples.demo.telemetry import DemoTelemetry
from omie_otel import semconv as sc

__all__ = ["Histogram", "Summary", "read_summary", "render"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class Histogram:
    """Explicit-bucket histogram counts (``len(counts) == len(bounds) + 1``), with the observed extremes."""

    bounds: tuple[float, ...] = ()
    counts: tuple[int, ...] = (0,)
    min: float = float("inf")
    max: float = float("-inf")

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return sum(self.counts)

    @classmethod
    def of(cls, point: Any) -> Histogram:
        """From an SDK ``HistogramDataPoint``."""
        return cls(tuple(point.explicit_bounds), tuple(point.bucket_counts), point.min, point.max)

    def merge(self, other: Histogram) -> Histogram:
        """The sum of two histograms with the same bounds (the empty histogram adopts the other's)."""
        if not self.count:
            return other
        if not other.count:
            return self
        counts = tuple(a + b for a, b in zip(self.counts, other.counts))
        return Histogram(self.bounds, counts, min(self.min, other.min), max(self.max, other.max))

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0-1), or ``None`` when empty.

        Example:
            >>> Histogram((1.0,), (4, 0), 0.5, 0.9).quantile(0.5)
            0.7
        """
        total = self.count
        if not total:
            return None
        rank = q * total
        seen = 0
        for i, count in enumerate(self.counts):
            if count and seen + count >= rank:
                lower = max(self.bounds[i - 1] if i > 0 else 0.0, self.min)
                upper = min(self.bounds[i] if i < len(self.bounds) else self.max, self.max)
                return lower + (upper - lower) * (rank - seen) / count
            seen += count
        return self.max


@dataclass
class Summary:
    """What the telemetry says at one instant (cumulative since the demo started).

    Attributes:
        tools: Per tool: ``mcp.server.operation.duration`` merged over its attributes.
        tool_errors: Per tool: calls by ``error.type``.
        methods: Other MCP methods (``initialize``, ``resources/read``...): request counts.
        omie: Per Omie call: ``omie.client.request.duration`` merged.
        omie_faults: Per Omie call: ``omie.client.faults`` by ``omie.fault.kind``.
        ratelimit: ``omie.client.ratelimit.utilization`` of ``omie.ratelimit.kind`` ``requests_per_minute``.
        parallel: The same gauge, kind ``parallel``, per Omie call (in flight / allowed, at the last answer).
        host: Process and host gauges: ``rss`` (bytes), ``cpu``/``system_cpu`` (0-1), ``threads``.
        pool: ``omie.client.pool.connections`` by state.
        spans: Finished spans by kind; ``fault_traces``: a trace id per ``omie.fault.kind``.
        logs: Log records by severity; ``logs_with_trace``: those carrying a trace id.
    """

    tools: dict[str, Histogram] = field(default_factory=dict)
    tool_errors: dict[str, Counter[str]] = field(default_factory=dict)
    methods: Counter[str] = field(default_factory=Counter)
    omie: dict[str, Histogram] = field(default_factory=dict)
    omie_faults: dict[str, Counter[str]] = field(default_factory=dict)
    ratelimit: float | None = None
    parallel: dict[str, float] = field(default_factory=dict)
    host: dict[str, float] = field(default_factory=dict)
    pool: dict[str, int] = field(default_factory=dict)
    spans: dict[str, int] = field(default_factory=dict)
    fault_traces: dict[str, str] = field(default_factory=dict)
    logs: dict[str, int] = field(default_factory=dict)
    logs_with_trace: int = 0

    def fault_totals(self) -> Counter[str]:
        """Omie answers by ``omie.fault.kind``, all calls together."""
        total: Counter[str] = Counter()
        for faults in self.omie_faults.values():
            total.update(faults)
        return total


def _points(data: Any) -> Iterator[tuple[str, Any]]:
    if data is None:
        return
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    yield metric.name, point


def read_summary(telemetry: DemoTelemetry) -> Summary:
    """Collect the in-memory reader once and fold every point we show into a :class:`Summary`.

    Args:
        telemetry: The demo's providers (the ones ``omie_otel.instrument`` records into).

    Returns:
        The cumulative picture at this instant.

    Example:
        >>> summary = read_summary(DemoTelemetry(otlp=False))
        >>> summary.tools, summary.fault_totals()
        ({}, Counter())
    """
    s = Summary()
    for name, point in _points(telemetry.reader.get_metrics_data()):
        attrs = point.attributes or {}
        if name == sc.MCP_SERVER_OPERATION_DURATION:
            tool = attrs.get(sc.GEN_AI_TOOL_NAME)
            if tool is None:
                s.methods[str(attrs.get(sc.MCP_METHOD_NAME))] += point.count
                continue
            s.tools[tool] = s.tools.get(tool, Histogram()).merge(Histogram.of(point))
            errors = s.tool_errors.setdefault(tool, Counter())
            if sc.ERROR_TYPE in attrs:
                errors[str(attrs[sc.ERROR_TYPE])] += point.count
        elif name == sc.OMIE_CLIENT_REQUEST_DURATION:
            call = str(attrs.get(sc.OMIE_CALL))
            s.omie[call] = s.omie.get(call, Histogram()).merge(Histogram.of(point))
        elif name == sc.OMIE_CLIENT_FAULTS:
            call = str(attrs.get(sc.OMIE_CALL))
            s.omie_faults.setdefault(call, Counter())[str(attrs.get(sc.OMIE_FAULT_KIND))] += int(point.value)
        elif name == sc.OMIE_CLIENT_RATELIMIT_UTILIZATION:
            if attrs.get(sc.OMIE_RATELIMIT_KIND) == "parallel":
                s.parallel[str(attrs.get(sc.OMIE_CALL))] = point.value
            else:
                s.ratelimit = point.value
        elif name == sc.OMIE_CLIENT_POOL_CONNECTIONS:
            state = str(attrs.get(sc.OMIE_CLIENT_POOL_STATE))
            s.pool[state] = s.pool.get(state, 0) + int(point.value)
        elif name in (sc.PROCESS_CPU_UTILIZATION, sc.SYSTEM_CPU_UTILIZATION):
            if attrs.get(sc.CPU_MODE) not in sc.CPU_MODES_IDLE and sc.CPU_LOGICAL_NUMBER not in attrs:
                key = _HOST[name]  # busy = the sum over the cpu.mode values that are not idle
                s.host[key] = s.host.get(key, 0.0) + point.value
        elif name in _HOST and not attrs:
            s.host[_HOST[name]] = point.value
    s.spans, s.fault_traces = telemetry.spans.snapshot()
    s.logs, s.logs_with_trace = telemetry.logs.snapshot()
    return s


_HOST = {
    sc.PROCESS_MEMORY_USAGE: "rss",
    sc.PROCESS_CPU_UTILIZATION: "cpu",
    sc.SYSTEM_CPU_UTILIZATION: "system_cpu",
    sc.PROCESS_THREAD_COUNT: "threads",
}


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _counts(counter: Iterable[tuple[str, int]]) -> str:
    return " · ".join(f"{k} {v}" for k, v in counter if v) or "-"


def _table(
    title: str,
    columns: tuple[str, str],
    rows: dict[str, Histogram],
    tails: dict[str, Counter[str]],
    before: dict[str, Histogram] | None,
    seconds: float,
) -> list[str]:
    """One table: a row per name with count, rate, p50/p95 and a tail of counts; rates over ``seconds``."""
    lines = [title, f"  {columns[0]:<28} {'total':>7} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7}  {columns[1]}"]
    for name in sorted(rows):
        hist = rows[name]
        fresh = hist.count - (before.get(name, Histogram()).count if before is not None else 0)
        tail = _counts(sorted(tails.get(name, Counter()).items()))
        lines.append(
            f"  {name:<28} {hist.count:>7} {fresh / max(seconds, 1e-9):>6.1f} {_ms(hist.quantile(0.5)):>7} "
            f"{_ms(hist.quantile(0.95)):>7}  {tail}"
        )
    return lines


def render(summary: Summary, *, elapsed: float, previous: Summary | None = None, interval: float = 0.0) -> str:
    """The summary as a plain-text block (about 30 lines, 100 columns).

    Args:
        summary: What the telemetry says now.
        elapsed: Seconds since the load started (rates are averages over it without ``previous``).
        previous: The previous summary; rates are then over the last ``interval`` seconds.
        interval: Seconds between ``previous`` and ``summary``.

    Returns:
        The text, without a trailing newline.

    Example:
        >>> print(render(Summary(), elapsed=0.0).splitlines()[0])
        Ferramentas MCP · mcp.server.operation.duration
    """
    recent = previous is not None and interval > 0
    seconds = interval if recent else elapsed
    lines = _table(
        t("Ferramentas MCP", "MCP tools") + " · mcp.server.operation.duration",
        (t("ferramenta", "tool"), t("erros por error.type", "errors by error.type")),
        summary.tools,
        summary.tool_errors,
        previous.tools if recent and previous is not None else None,
        seconds,
    )
    if summary.methods:
        lines.append(f"  {t('outros métodos MCP', 'other MCP methods')}: {_counts(sorted(summary.methods.items()))}")
    lines += _table(
        "Omie · omie.client.request.duration, omie.client.faults",
        (t("chamada", "call"), t("faltas por omie.fault.kind", "faults by omie.fault.kind")),
        summary.omie,
        summary.omie_faults,
        previous.omie if recent and previous is not None else None,
        seconds,
    )
    everything = Histogram()
    for hist in summary.omie.values():
        everything = everything.merge(hist)
    lines.append(
        f"  {t('todas', 'all'):<28} {everything.count:>7} {'':>6} {_ms(everything.quantile(0.5)):>7} "
        f"{_ms(everything.quantile(0.95)):>7}  {_counts(summary.fault_totals().most_common())}"
    )
    busiest = sorted(summary.parallel.items(), key=lambda item: (-item[1], item[0]))[:3]
    lines.append(
        f"  {t('limites em uso', 'limits in use')} (omie.client.ratelimit.utilization): "
        f"{t('por minuto', 'per minute')} {_pct(summary.ratelimit)} · "
        f"{t('simultâneas', 'parallel')} {' · '.join(f'{call} {_pct(value)}' for call, value in busiest) or '-'}"
    )

    host, pool = summary.host, summary.pool
    rss = host.get("rss")
    lines.append(
        t("Processo da demo (simulador + servidor + agentes)", "Demo process (simulator + server + agents)")
        + " · process.*, system.cpu.utilization"
    )
    lines.append(
        f"  RSS {'-' if rss is None else f'{rss / _MB:.0f} MB'} · CPU {_pct(host.get('cpu'))} "
        f"({t('máquina', 'machine')} {_pct(host.get('system_cpu'))}) · {host.get('threads', 0):.0f} threads · "
        f"pool httpx 'omie': {pool.get('active', 0)} {t('ativas', 'active')}, "
        f"{pool.get('idle', 0)} {t('ociosas', 'idle')}"
    )
    logs_total = sum(summary.logs.values())
    correlated = (
        f" ({summary.logs_with_trace * 100 // logs_total}% {t('com', 'with')} trace_id)" if logs_total else ""
    )
    lines.append(
        f"{t('Sinais', 'Signals')}: spans {_counts(sorted(summary.spans.items()))} · "
        f"logs {_counts(sorted(summary.logs.items()))}{correlated}"
    )
    return "\n".join(lines)
