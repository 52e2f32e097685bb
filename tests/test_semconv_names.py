"""Every attribute and metric name omie-otel uses comes from ``semconv.py``: no module spells one as a string."""

from __future__ import annotations

import ast
from pathlib import Path

from omie_otel import semconv

SRC = Path(__file__).resolve().parent.parent / "src" / "omie_otel"


def _names() -> set[str]:
    return {v for k, v in vars(semconv).items() if k.isupper() and isinstance(v, str) and "." in v}


def literals_of_names(source: str, names: set[str]) -> list[tuple[int, str]]:
    """``(line, name)`` for each string constant in ``source`` that is one of ``names``."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_no_module_spells_a_semconv_name() -> None:
    names = _names()
    assert {"url.full", "server.address", "omie.fault.kind", "omie_otel.redacted"} <= names
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "semconv.py" or "simulator" in path.parts:  # the simulator is Omie, not our telemetry
            continue
        found += [f"{path.relative_to(SRC)}:{line}: {name!r}" for line, name in literals_of_names(path.read_text(), names)]
    assert found == [], "use the semconv constant"


def test_the_check_sees_a_literal() -> None:
    assert literals_of_names('attrs = {"url.full": u, sc.SERVER_ADDRESS: h}', {"url.full", "server.address"}) == [
        (1, "url.full")
    ]
