"""Known secret values: exact strings removed from every exported text, shared process-wide.

Filled by :func:`omie_otel.redaction.register_secret` (``OMIE_APP_KEY`` / ``OMIE_APP_SECRET`` from the environment,
every ``app_key`` / ``app_secret`` seen in an Omie request body); read by every :class:`~omie_otel.redaction.Scrubber`.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable

__all__ = ["SecretRegistry", "registry"]


class SecretRegistry:
    """Exact secret values to remove from any string, shared process-wide.

    ``generation`` changes whenever a secret is added, which invalidates every scrubber's cache of strings known
    to be clean.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}  # every form of every secret -> its label
        self._count = 0
        self._regex: re.Pattern[str] | None = None
        self.generation = 0

    def add(self, value: str | int, label: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an app_key sent as a JSON number is as secret as one sent as text
        if not isinstance(value, str) or len(value) < 4 or value in self._secrets:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._count += 1
            # the value as it appears URL-encoded or inside a JSON string too (``a+b``, ``a%40b``, ``a\"b``)
            forms = (value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), json.dumps(value)[1:-1])
            for form in forms:
                self._secrets.setdefault(form, label)
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._regex = re.compile("|".join(re.escape(s) for s in alternatives))
            self.generation += 1

    def sub(self, text: str, on_match: Callable[[str, str], str]) -> str:
        """``text`` with every known secret replaced by ``on_match(value, label)``."""
        regex = self._regex
        if regex is None:
            return text
        return regex.sub(lambda m: on_match(m.group(0), self._secrets.get(m.group(0), "secret")), text)

    def __len__(self) -> int:
        return self._count


#: The process-wide registry.
registry = SecretRegistry()
