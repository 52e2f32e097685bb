"""The knee of a capacity run: pass/fail per step and the bisection between the last pass and the first failure.

Kept free of gevent and Locust so the unit tests can import it (``tests/test_capacity_knee.py``).
"""

from __future__ import annotations

from typing import Any

P95_LIMIT_S = 2.0
ERROR_LIMIT = 0.01


def passes(step: dict[str, Any]) -> bool:
    """A step passes when it has a p95 below 2 s and fewer than 1 % errors.

    Example:
        >>> passes({"p95_s": 0.4, "error_pct": 0.0}), passes({"p95_s": 2.1, "error_pct": 0.0})
        (True, False)
    """
    return step["p95_s"] is not None and step["p95_s"] < P95_LIMIT_S and step["error_pct"] < ERROR_LIMIT * 100


def first_failure(steps: list[dict[str, Any]]) -> float | None:
    """The lowest offered rate of a failing step, or None when every step passed."""
    failing = [s["offered_rpm"] for s in steps if not passes(s)]
    return min(failing) if failing else None


def knee(steps: list[dict[str, Any]]) -> float | None:
    """The highest offered rate that passed below every failing rate (steps in any order).

    Example:
        >>> ok, bad = {"p95_s": 0.3, "error_pct": 0.0}, {"p95_s": 3.0, "error_pct": 0.0}
        >>> knee([ok | {"offered_rpm": 600}, bad | {"offered_rpm": 1200}, ok | {"offered_rpm": 900}])
        900
    """
    ceiling = first_failure(steps)
    passed = [s["offered_rpm"] for s in steps if passes(s) and (ceiling is None or s["offered_rpm"] < ceiling)]
    return max(passed) if passed else None


def next_bisection_rate(steps: list[dict[str, Any]], resolution: float) -> float | None:
    """The rate half-way between the knee and the first failure, or None when they are within ``resolution``.

    ``resolution`` is a fraction of the knee (0.05: stop when the interval is narrower than 5 % of it). Rates are
    rounded to whole requests per minute.

    Example:
        >>> ok, bad = {"p95_s": 0.3, "error_pct": 0.0}, {"p95_s": 3.0, "error_pct": 5.0}
        >>> next_bisection_rate([ok | {"offered_rpm": 2400}, bad | {"offered_rpm": 4800}], 0.05)
        3600
        >>> next_bisection_rate([ok | {"offered_rpm": 2400}, bad | {"offered_rpm": 2500}], 0.05) is None
        True
    """
    low, high = knee(steps), first_failure(steps)
    if low is None or high is None or high - low <= resolution * low:
        return None
    mid = round((low + high) / 2)
    return mid if low < mid < high else None
