"""Omie's consumption limits as small clock-driven counters: rate windows, in-flight counts, redundancy, misuse.

Every class takes the clock (a callable returning monotonic seconds) so tests move time by hand and never sleep.
The classes only count; :mod:`omie_otel.simulator._app` decides which fault to answer.

Example:
    >>> now = [0.0]
    >>> window = SlidingWindow(lambda: now[0], 60.0)
    >>> window.add("10.0.0.1"); window.add("10.0.0.1")
    >>> window.count("10.0.0.1")
    2
    >>> now[0] = 60.0
    >>> window.count("10.0.0.1")
    0
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

__all__ = ["Clock", "InFlight", "MisuseGuard", "RedundancyGuard", "SlidingWindow"]

Clock = Callable[[], float]


class SlidingWindow:
    """Events per key in the last ``window`` seconds."""

    def __init__(self, clock: Clock, window: float) -> None:
        self._clock = clock
        self._window = window
        self._events: dict[Hashable, deque[float]] = defaultdict(deque)

    def _live(self, key: Hashable) -> deque[float]:
        events = self._events[key]
        horizon = self._clock() - self._window
        while events and events[0] <= horizon:
            events.popleft()
        return events

    def count(self, key: Hashable) -> int:
        """Events of ``key`` still inside the window."""
        return len(self._live(key))

    def add(self, key: Hashable) -> None:
        """Record one event of ``key`` now."""
        self._live(key).append(self._clock())

    def wait_for_slot(self, key: Hashable, limit: int) -> float:
        """Seconds until ``key`` has fewer than ``limit`` events in the window (0 when it already has)."""
        events = self._live(key)
        if len(events) < limit:
            return 0.0
        return events[len(events) - limit] + self._window - self._clock()

    def clear(self) -> None:
        """Forget every event."""
        self._events.clear()


class InFlight:
    """Requests in progress per key; :meth:`hold` brackets one (across any ``await`` inside it)."""

    def __init__(self) -> None:
        self._counts: dict[Hashable, int] = defaultdict(int)

    def count(self, key: Hashable) -> int:
        """Requests of ``key`` in progress now."""
        return self._counts.get(key, 0)

    def total(self) -> int:
        """Requests in progress over every key."""
        return sum(self._counts.values())

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[int]:
        """Count one more request of ``key`` until the block ends; yields the count including it."""
        self._counts[key] += 1
        try:
            yield self._counts[key]
        finally:
            self._counts[key] -= 1
            if not self._counts[key]:
                del self._counts[key]

    def clear(self) -> None:
        """Forget every count (only for :meth:`OmieSimulator.reset`; holders still running will not underflow)."""
        self._counts.clear()


class RedundancyGuard:
    """Identical requests inside ``window`` seconds of the first: the first answers, the others must wait."""

    def __init__(self, clock: Clock, window: float) -> None:
        self._clock = clock
        self._window = window
        self._first_seen: dict[Hashable, float] = {}

    def remaining(self, key: Hashable) -> float:
        """Seconds left in ``key``'s window; 0 when there is none (or the window is disabled)."""
        started = self._first_seen.get(key)
        if started is None or self._window <= 0:
            return 0.0
        left = started + self._window - self._clock()
        if left <= 0:
            del self._first_seen[key]
            return 0.0
        return left

    def record(self, key: Hashable) -> None:
        """``key`` was just answered: open its window unless one is already open."""
        if self._window > 0 and not self.remaining(key):
            self._first_seen[key] = self._clock()

    def clear(self) -> None:
        """Close every window."""
        self._first_seen.clear()


class MisuseGuard:
    """``threshold`` consecutive errors on a key block it for ``block_seconds``; a success resets the run."""

    def __init__(self, clock: Clock, threshold: int, block_seconds: float) -> None:
        self._clock = clock
        self._threshold = threshold
        self._block_seconds = block_seconds
        self._errors: dict[Hashable, int] = defaultdict(int)
        self._blocked_until: dict[Hashable, float] = {}

    def blocked_for(self, key: Hashable) -> float:
        """Seconds of block left for ``key``; 0 when it is not blocked."""
        until = self._blocked_until.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._blocked_until[key]
            return 0.0
        return left

    def record(self, key: Hashable, *, error: bool) -> None:
        """Count one answer for ``key``; the ``threshold``-th error in a row starts the block."""
        if not error:
            self._errors.pop(key, None)
            return
        self._errors[key] += 1
        if self._threshold > 0 and self._errors[key] >= self._threshold:
            self._blocked_until[key] = self._clock() + self._block_seconds
            del self._errors[key]

    def clear(self) -> None:
        """Forget every error run and block."""
        self._errors.clear()
        self._blocked_until.clear()
