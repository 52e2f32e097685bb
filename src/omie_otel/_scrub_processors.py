"""The scrubbing processors: the scrubber first in line in the user's tracer and logger providers.

They are inserted at the *front* of the provider's processor chain, so processors the user added before
:func:`omie_otel.instrument` (and exporters behind them) only ever see scrubbed data. What is scrubbed is decided
by :class:`omie_otel.redaction.Scrubber`; what our exporters fail to send is counted in
:mod:`omie_otel._export_counting`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, Status

from omie_otel import semconv as sc
from omie_otel._guard import internal_error
from omie_otel.redaction import Scrubber

try:  # the SDK moved this class between versions
    from opentelemetry.attributes import BoundedAttributes
except ImportError:  # pragma: no cover
    BoundedAttributes = None  # type: ignore[assignment,misc]

__all__ = [
    "ScrubbingSpanProcessor",
    "ScrubbingLogProcessor",
    "install_span_scrubber",
    "install_log_scrubber",
    "remove_processor",
]

_REDACTED_KEY = sc.OMIE_OTEL_REDACTED
_MAX_PATHS = 32

# Processors whose on_start does nothing: when only these follow ours, nothing can look at a span as it starts, and
# scrubbing it then would be wasted work (its attributes are scrubbed again when it ends anyway).
_QUIET_ON_START = frozenset({SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start})
# SDKs that call ``_on_ending`` (on the live span, before any processor's on_end) get scrubbed there, once.
_CALLS_ON_ENDING = hasattr(SynchronousMultiSpanProcessor, "_on_ending")
# The attribute length limits we take over from a provider so that values are scrubbed *before* they are cut.
_SPAN_LENGTHS = ("max_span_attribute_length", "max_attribute_length")
_LOG_LENGTHS = ("max_log_record_attribute_length", "max_attribute_length")


def _rebound(attrs: dict[str, Any], original: Any, immutable: bool) -> Any:
    """``attrs`` in a BoundedAttributes like ``original`` (same count limit, same dropped count), without cleaning
    every value again: they are already valid, they come out of the scrubber."""
    if BoundedAttributes is None:
        return attrs
    bounded = BoundedAttributes(maxlen=getattr(original, "maxlen", None), attributes=None, immutable=False)
    bounded._dict = attrs  # noqa: SLF001
    bounded.dropped = getattr(original, "dropped", 0)
    bounded._immutable = immutable  # noqa: SLF001
    return bounded


def _with_paths(attrs: dict[str, Any] | None, original: Any, redacted: list[str]) -> dict[str, Any]:
    """``omie_otel.redacted``: where something was removed (paths built from scrubbed keys), merged with what an
    earlier pass (on_start) already recorded."""
    out = dict(attrs if attrs is not None else original or {})
    before = out.get(_REDACTED_KEY)
    paths = set(redacted)
    if isinstance(before, (list, tuple)):
        paths.update(str(p) for p in before)
    out[_REDACTED_KEY] = tuple(sorted(paths))[:_MAX_PATHS]
    return out


def _take_lengths(limits: Any, names: Sequence[str], already: dict[str, int]) -> dict[str, int]:
    taken = dict(already)
    for name in names:
        value = getattr(limits, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            taken[name] = value
            setattr(limits, name, None)
    return taken


def _give_lengths(limits: Any, taken: dict[str, int]) -> None:
    for name, value in taken.items():
        if limits is not None and getattr(limits, name, 0) is None:
            setattr(limits, name, value)


class ScrubbingSpanProcessor(SpanProcessor):
    """Scrubs every span before any other processor sees it, and cuts long values only after scrubbing.

    * ``on_start`` (only when a processor behind ours does something there): name, attributes and links.
    * ``_on_ending`` (the live span, before any processor's ``on_end``; ``on_end`` on SDKs without it): name,
      attribute keys and values of every type, event names and attributes, link attributes, status description.

    The provider's attribute length limits are taken over while instrumented (and given back by
    :func:`remove_processor`): the SDK would otherwise cut values as they are set, and a secret's first characters
    would survive the cut where no rule can recognise them.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber
        self.lengths: dict[str, int] = {}
        self._limits: Any = None
        self._multi: Any = None
        self._chain: Any = None
        self._watched = True

    # -- hooks ------------------------------------------------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            if self._start_is_watched():
                self._scrub(span, starting=True)
        except Exception as exc:  # noqa: BLE001
            _withhold_span(span, starting=True)
            internal_error("span scrubbing", exc)

    def _on_ending(self, span: Any) -> None:
        try:
            self._scrub(span, starting=False)
        except Exception as exc:  # noqa: BLE001
            _withhold_span(span, starting=False)
            internal_error("span scrubbing", exc)

    def on_end(self, span: ReadableSpan) -> None:
        if _CALLS_ON_ENDING:
            return  # already scrubbed in _on_ending, before the ReadableSpan every processor gets was made
        try:
            self._scrub(span, starting=False)
        except Exception as exc:  # noqa: BLE001
            _withhold_span(span, starting=False)
            internal_error("span scrubbing", exc)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- work -------------------------------------------------------------------------------------------------------
    def _start_is_watched(self) -> bool:
        procs = getattr(self._multi, "_span_processors", None)
        if procs is None:
            return True
        if procs is not self._chain:  # the chain is an immutable tuple, replaced when a processor is added
            self._watched = any(type(p).on_start not in _QUIET_ON_START for p in procs if p is not self)
            self._chain = procs
        return self._watched

    def _scrub(self, span: Any, starting: bool) -> None:
        scrub = self.scrubber
        redacted: list[str] = []
        span_len = self.lengths.get("max_span_attribute_length")
        other_len = self.lengths.get("max_attribute_length")
        name = span._name  # noqa: SLF001 - a span name can carry a client-chosen tool name
        if name:
            clean_name = scrub.scrub_text(name, ("name",), redacted)
            if clean_name != name:
                span._name = clean_name  # noqa: SLF001
        original = span._attributes  # noqa: SLF001
        attrs = scrub.scrub_attributes(original, "attributes", redacted, span_len)
        self._scrub_links(span, redacted, other_len)
        if not starting:
            self._scrub_events(span, redacted, other_len)
            status = span._status  # noqa: SLF001
            if status is not None and status.description:
                desc = scrub.scrub_text(status.description, ("status",), redacted)
                if desc != status.description:
                    span._status = Status(status.status_code, desc)  # noqa: SLF001
        if redacted:
            attrs = _with_paths(attrs, getattr(original, "_dict", original), redacted)
        if attrs is not None:
            span._attributes = _rebound(attrs, original, immutable=not starting)  # noqa: SLF001

    def _scrub_events(self, span: Any, redacted: list[str], max_length: int | None) -> None:
        events = span._events  # noqa: SLF001
        if not events:
            return
        scrub = self.scrubber
        for i, event in enumerate(list(events)):
            name = scrub.scrub_text(event.name, ("events",), redacted) if event.name else event.name
            attrs = scrub.scrub_attributes(event.attributes, f"events.{name}", redacted, max_length)
            if attrs is None and name == event.name:
                continue
            new_attrs = event.attributes if attrs is None else _rebound(attrs, event.attributes, immutable=True)
            _replace(span, "_events", i, Event(name, new_attrs, event.timestamp))

    def _scrub_links(self, span: Any, redacted: list[str], max_length: int | None) -> None:
        links = span._links  # noqa: SLF001
        if not links:
            return
        for i, link in enumerate(list(links)):
            attrs = self.scrubber.scrub_attributes(link.attributes, f"links.{i}", redacted, max_length)
            if attrs is not None:
                _replace(span, "_links", i, Link(link.context, _rebound(attrs, link.attributes, immutable=True)))


_WITHHELD = "[redacted: scrubbing failed]"


def _withhold_span(span: Any, starting: bool) -> None:
    """Fail closed: when scrubbing itself fails (a bug of ours), the span keeps its identity and timing but none of
    its text — name, attributes, events, links and status description are withheld, not exported unscrubbed."""
    try:
        span._name = _WITHHELD  # noqa: SLF001
        span._attributes = _rebound({_REDACTED_KEY: ("*",)}, span._attributes, immutable=not starting)  # noqa: SLF001
        for field in ("_events", "_links"):
            seq = getattr(span, field, None)
            dq = getattr(seq, "_dq", None)
            if dq is not None:
                with getattr(seq, "_lock"):  # noqa: B009
                    dq.clear()
            elif seq:
                setattr(span, field, ())
        status = span._status  # noqa: SLF001
        if status is not None and status.description:
            span._status = Status(status.status_code, _WITHHELD)  # noqa: SLF001
    except Exception:  # noqa: BLE001, S110 - nothing more can be done; the caller reports the first failure
        pass


def _withhold_record(record: Any) -> None:
    """Fail closed for a log record: body, attributes and event name withheld (see :func:`_withhold_span`)."""
    try:
        record.body = _WITHHELD
        record.attributes = _rebound({_REDACTED_KEY: ("*",)}, record.attributes, immutable=False)
        if getattr(record, "event_name", None):
            record.event_name = None
    except Exception:  # noqa: BLE001, S110
        pass


def _replace(span: Any, field: str, index: int, item: Any) -> None:
    """Swap one event or link, keeping the SDK's BoundedList (and so its dropped count) when there is one."""
    seq = getattr(span, field)
    dq = getattr(seq, "_dq", None)
    if dq is not None:
        with seq._lock:  # noqa: SLF001
            dq[index] = item
        return
    items = list(seq)
    items[index] = item
    setattr(span, field, tuple(items) if isinstance(seq, tuple) else items)


class ScrubbingLogProcessor:
    """Scrubs each log record (body of any type, attribute keys and values of any type, event name) before the
    processors behind it, and cuts long attribute values only after scrubbing (the provider's length limits are
    taken over like the tracer provider's)."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber
        self.lengths: dict[str, int] = {}
        self._limits: Any = None

    def on_emit(self, log_data: Any) -> None:
        try:
            record = getattr(log_data, "log_record", log_data)
            scrub = self.scrubber
            redacted: list[str] = []
            body = record.body
            if body is not None:
                new_body = scrub.scrub_value(body, ("body",), redacted)
                if new_body is not body and new_body != body:
                    record.body = new_body
            event_name = getattr(record, "event_name", None)
            if isinstance(event_name, str) and event_name:
                new_name = scrub.scrub_text(event_name, ("event_name",), redacted)
                if new_name != event_name:
                    record.event_name = new_name
            max_length = self.lengths.get("max_log_record_attribute_length", self.lengths.get("max_attribute_length"))
            original = record.attributes
            attrs = scrub.scrub_attributes(original, "attributes", redacted, max_length)
            if redacted:
                attrs = _with_paths(attrs, getattr(original, "_dict", original), redacted)
            if attrs is not None:
                record.attributes = _rebound(attrs, original, immutable=False)
        except Exception as exc:  # noqa: BLE001
            _withhold_record(getattr(log_data, "log_record", log_data))
            internal_error("log scrubbing", exc)

    def emit(self, log_data: Any) -> None:  # SDK < 1.28 name
        self.on_emit(log_data)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _multi_span(provider: Any) -> Any:
    return getattr(provider, "_active_span_processor", None)


def _log_limits(provider: Any) -> Any:
    return getattr(provider, "_log_record_limits", None) or getattr(provider, "_log_limits", None)


def install_span_scrubber(provider: Any, processor: ScrubbingSpanProcessor) -> bool:
    """Put ``processor`` first in an SDK tracer provider's chain and take over its attribute length limits.
    Returns False when that is impossible."""
    multi = _multi_span(provider)
    procs = getattr(multi, "_span_processors", None)
    if procs is None:
        return False
    lock = getattr(multi, "_lock", None) or threading.Lock()
    with lock:
        earlier = [p for p in procs if isinstance(p, ScrubbingSpanProcessor)]
        limits = getattr(provider, "_span_limits", None)
        inherited = {k: v for p in earlier for k, v in p.lengths.items()}
        processor.lengths = _take_lengths(limits, _SPAN_LENGTHS, inherited) if limits is not None else inherited
        processor._limits = limits  # noqa: SLF001
        processor._multi = multi  # noqa: SLF001
        multi._span_processors = (processor, *(p for p in procs if not isinstance(p, ScrubbingSpanProcessor)))  # noqa: SLF001
    return True


def install_log_scrubber(provider: Any, processor: ScrubbingLogProcessor) -> bool:
    """Put ``processor`` first in an SDK logger provider's chain and take over its attribute length limits.
    Returns False when that is impossible."""
    multi = getattr(provider, "_multi_log_record_processor", None)
    procs = getattr(multi, "_log_record_processors", None)
    if multi is None or procs is None:
        return False
    lock = getattr(multi, "_lock", None) or threading.Lock()
    with lock:
        earlier = [p for p in procs if isinstance(p, ScrubbingLogProcessor)]
        limits = _log_limits(provider)
        inherited = {k: v for p in earlier for k, v in p.lengths.items()}
        processor.lengths = _take_lengths(limits, _LOG_LENGTHS, inherited) if limits is not None else inherited
        processor._limits = limits  # noqa: SLF001
        multi._log_record_processors = (  # noqa: SLF001
            processor,
            *(p for p in procs if not isinstance(p, ScrubbingLogProcessor)),
        )
    return True


def remove_processor(provider: Any, processor: Any) -> None:
    """Take one of our processors back out of a provider's chain (and give back the length limits it took)."""
    for multi_attr, list_attr in (
        ("_active_span_processor", "_span_processors"),
        ("_multi_log_record_processor", "_log_record_processors"),
    ):
        multi = getattr(provider, multi_attr, None)
        procs = getattr(multi, list_attr, None)
        if procs is not None and processor in procs:
            setattr(multi, list_attr, tuple(p for p in procs if p is not processor))
            _give_lengths(getattr(processor, "_limits", None), getattr(processor, "lengths", {}))
