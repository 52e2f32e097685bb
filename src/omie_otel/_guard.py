"""Internal error containment: telemetry must never break the code it observes.

Every piece of omie-otel code that runs on a user's request path contains its own exceptions: it reports them
through :func:`internal_error` (or runs a user hook through :func:`run_hook`).
An exception there is logged once per call site and swallowed, so the user's server keeps running with less
telemetry. Our own test-suite sets ``OMIE_OTEL_RAISE_INTERNAL_ERRORS=1`` so such bugs fail loudly there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["internal_error", "run_hook", "internal_error_count"]

_logger = logging.getLogger("omie_otel")
_seen: set[str] = set()
_count = 0


def _raise_internal() -> bool:
    from omie_otel._config import RAISE_INTERNAL_ERRORS  # read at each error: tests switch it on and off

    return bool(RAISE_INTERNAL_ERRORS.from_environment())


def internal_error(where: str, exc: BaseException | None = None) -> None:
    """Record an internal failure at ``where``: log it once, count it, re-raise only under our tests."""
    global _count
    _count += 1
    if where not in _seen:
        _seen.add(where)
        _logger.warning(
            "omie-otel: internal error in %s; your code keeps running, with less telemetry", where, exc_info=exc
        )
    if _raise_internal() and exc is not None:
        raise exc


def internal_error_count() -> int:
    """How many internal errors were swallowed since the process started."""
    return _count


def run_hook(hook: Callable[..., Any] | None, *args: Any) -> Any:
    """Run a user hook under a guard: a raising hook is logged and telemetry continues."""
    if hook is None:
        return None
    try:
        return hook(*args)
    except Exception as exc:  # noqa: BLE001
        global _count
        _count += 1
        key = f"hook {hook!r}"
        if key not in _seen:
            _seen.add(key)
            _logger.warning("omie-otel: hook %r raised; telemetry continues", hook, exc_info=exc)
        if _raise_internal():
            raise
        return None
