"""The demo speaks the user's language: English when the locale (``LC_ALL`` > ``LC_MESSAGES`` > ``LANG``, the POSIX
order) starts with ``en``, else Brazilian Portuguese (the default, and what operations speak here)."""

from __future__ import annotations

import textwrap

from omie_otel._lang import english, say

__all__ = ["WIDTH", "english", "fit", "t"]

#: Every line the demo prints fits this many columns.
WIDTH = 100


#: ``t(pt, en)``: ``pt`` or ``en`` per the locale, read at each call (tests change ``LANG``); the rule is the
#: library's own, so the demo and the ``omie-otel`` commands always speak the same language.
t = say


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
