"""Observable instruments that report again after ``uninstrument()`` and a new ``instrument()`` on the same providers.

The SDK keeps the first instrument registered under a name on a meter: a second ``create_observable_gauge`` with
the same name logs a warning and returns the first instrument, *ignoring the new callbacks*. So the callbacks of the
first ``instrument()`` (stopped by ``uninstrument()``, yielding nothing) were the only ones ever called, and host
metrics, the health gauge and the self-telemetry went silent. Each observable instrument is therefore created once
per meter with a :class:`_Relay` as its callback, and every registration points the relay at its own callback.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

__all__ = ["observable"]

Callback = Callable[[CallbackOptions], Iterable[Observation]]

_lock = threading.Lock()
_relays: weakref.WeakKeyDictionary[Any, dict[str, _Relay]] = weakref.WeakKeyDictionary()


class _Relay:
    """The instrument's only callback: calls whichever callback registered last under this name on this meter."""

    def __init__(self) -> None:
        self.target: Callback | None = None

    def __call__(self, options: CallbackOptions) -> Iterable[Observation]:
        target = self.target
        return () if target is None else target(options)


def observable(
    meter: Any,
    kind: str,
    name: str,
    callback: Callback,
    **kwargs: Any,
) -> None:
    """``meter.create_observable_<kind>(name, callbacks=[callback], **kwargs)``, re-registrable on the same meter.

    ``kind`` is ``"gauge"``, ``"counter"`` or ``"up_down_counter"``.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> reader = InMemoryMetricReader()
        >>> meter = MeterProvider(metric_readers=[reader]).get_meter("demo")
        >>> observable(meter, "gauge", "demo.value", lambda options: [Observation(1)])
        >>> observable(meter, "gauge", "demo.value", lambda options: [Observation(2)])  # a second instrument()
        >>> [p.value for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
        ...  for m in sm.metrics for p in m.data.data_points]
        [2]
    """
    with _lock:
        try:
            per_meter: dict[str, _Relay] | None = _relays.setdefault(meter, {})
        except TypeError:  # a meter that cannot be weakly referenced: no re-registration, plain instrument
            per_meter = None
        relay = None if per_meter is None else per_meter.get(name)
        if relay is None:
            relay = _Relay()
            getattr(meter, f"create_observable_{kind}")(name, callbacks=[relay], **kwargs)
            if per_meter is not None:
                per_meter[name] = relay
        relay.target = callback
