"""The demo speaks the user's language: English when the locale (``LC_ALL`` > ``LC_MESSAGES`` > ``LANG``, the POSIX
order) starts with ``en``, else Brazilian Portuguese (the default, and what operations speak here)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping

__all__ = ["WIDTH", "english", "fit", "t"]

#: Every line the demo prints fits this many columns.
WIDTH = 100


def english(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "").strip()
        if value:
            return value.lower().startswith("en")
    return False


def t(pt: str, en: str) -> str:
    """``pt`` or ``en`` per :func:`english`, read at each call (tests change ``LANG``)."""
    return en if english() else pt


def fit(text: str, width: int = WIDTH) -> str:
    """Wrap every line longer than ``width``, continuation lines indented, so nothing runs off a 100-column screen.

    Example:
        >>> max(len(line) for line in fit("x " * 80).splitlines()) <= 100
        True
    """
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (min(len(line) - len(line.lstrip(" ")), 20) + 4)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [""]
    return "\n".join(out)
