"""The language of what omie-otel's commands print: English when the locale (``LC_ALL`` > ``LC_MESSAGES`` > ``LANG``,
the POSIX order; the first one set decides) starts with ``en``, else Brazilian Portuguese, the default.

Example:
    >>> english({"LANG": "en_US.UTF-8"}), english({"LANG": "pt_BR.UTF-8"}), english({})
    (True, False, False)
    >>> english({"LC_ALL": "pt_BR.UTF-8", "LANG": "en_US.UTF-8"})
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["english", "say"]


def english(environ: Mapping[str, str] | None = None) -> bool:
    """True when the user's locale is English (read at each call: tests and shells change it)."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "").strip()
        if value:
            return value.lower().startswith("en")
    return False


def say(pt: str, en: str) -> str:
    """``pt`` or ``en``, per :func:`english`."""
    return en if english() else pt
