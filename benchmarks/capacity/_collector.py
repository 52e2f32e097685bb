"""Read a collector's own counters (its Prometheus /metrics page), summed over their labels."""

from __future__ import annotations

import re
from collections.abc import Iterable

import requests


def counters(url: str, names: Iterable[str]) -> dict[str, float]:
    """``{name: sum of its samples}`` for each of ``names`` (0 when the collector has none yet)."""
    totals = dict.fromkeys(names, 0.0)
    for line in requests.get(url, timeout=5).text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{.*\})? (\S+)$", line)
        if match and match.group(1) in totals:
            totals[match.group(1)] += float(match.group(2))
    return totals
