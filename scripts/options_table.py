#!/usr/bin/env python3
"""Write README.md's options table from the option table in src/omie_otel/_config.py (``make options-table``).

``--check`` only compares and exits 1 when the README differs (tests/test_options_table.py does the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- options-table:begin (generated from src/omie_otel/_config.py by `make options-table`) -->"
END = "<!-- options-table:end -->"


def render() -> str:
    """The table, one row per option, in the order of ``Options``."""
    sys.path.insert(0, str(ROOT / "src"))
    from omie_otel._config import OPTIONS

    rows = [
        "| Argument | Environment | Default | What |",
        "|---|---|---|---|",
        "| `tracer_provider`, `meter_provider`, `logger_provider` | — | global, else configured from `OTEL_*` "
        "| emit through these providers |",
    ]
    for o in OPTIONS:
        keyword = f"`{o.keyword}`" if o.keyword else "—"
        env = f"`{o.env}`" if o.env else "—"
        rows.append(f"| {keyword} | {env} | {o.shown_default} | {o.doc} |")
    return "\n".join([BEGIN, *rows, END])


def replaced(text: str) -> str:
    """``text`` (the README) with the block between the markers replaced by :func:`render`."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + render() + text[end:]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = replaced(text)
    if "--check" in argv:
        if new != text:
            print("README.md's options table differs from src/omie_otel/_config.py; run `make options-table`")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
