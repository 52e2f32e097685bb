"""The knee rule of ``make capacity`` (benchmarks/capacity/_knee.py): pass/fail, knee, bisection."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "capacity" / "_knee.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capacity_knee", _PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["capacity_knee"] = module
    spec.loader.exec_module(module)
    return module


knee_mod = _load()


def step(rate: float, p95: float | None = 0.3, errors: float = 0.0) -> dict[str, object]:
    return {"offered_rpm": rate, "p95_s": p95, "error_pct": errors}


@pytest.mark.parametrize(
    ("p95", "errors", "expected"),
    [(0.3, 0.0, True), (1.99, 0.99, True), (2.0, 0.0, False), (0.3, 1.0, False), (None, 0.0, False)],
)
def test_pass_rule_is_p95_under_2s_and_errors_under_1pct(p95: float | None, errors: float, expected: bool) -> None:
    assert knee_mod.passes(step(100, p95, errors)) is expected


def test_knee_ignores_passes_above_the_first_failure() -> None:
    # A lucky pass above a failure is noise, not capacity.
    steps = [step(600), step(1200), step(2400, errors=3.0), step(4800), step(1800)]
    assert knee_mod.knee(steps) == 1800
    assert knee_mod.first_failure(steps) == 2400


def test_no_failure_means_the_knee_is_the_highest_rate_tried() -> None:
    steps = [step(60), step(120)]
    assert knee_mod.knee(steps) == 120
    assert knee_mod.first_failure(steps) is None
    assert knee_mod.next_bisection_rate(steps, 0.05) is None


def test_every_step_failing_has_no_knee() -> None:
    assert knee_mod.knee([step(60, p95=3.0)]) is None
    assert knee_mod.next_bisection_rate([step(60, p95=3.0)], 0.05) is None


def test_bisection_halves_the_interval_until_the_resolution() -> None:
    steps = [step(2400), step(4800, errors=2.0)]
    rates = []
    while (rate := knee_mod.next_bisection_rate(steps, 0.05)) is not None:
        rates.append(rate)
        steps.append(step(rate) if rate <= 3000 else step(rate, p95=2.5))  # the true knee is 3000
    assert rates == [3600, 3000, 3300, 3150]
    assert knee_mod.knee(steps) == 3000
    assert knee_mod.first_failure(steps) - knee_mod.knee(steps) <= 0.05 * 3000
