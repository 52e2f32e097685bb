"""What one ``instrument()`` call set up, handed to each integration, and which one is in effect.

Integrations (``_start_*`` in :mod:`omie_otel._integrations`, ``_health_http.start``, ``_ops.start``) receive the
:class:`State` as an argument and read what earlier integrations put in it; only code called from outside an
``instrument()`` call (``health.check()``, the ops tools) asks :func:`current_state`. This module imports no other
module of the package at run time, so any module may import it without making a cycle (see CONTRIBUTING.md).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omie_otel._config import Options
    from omie_otel._health_http import HealthListener
    from omie_otel._mcp_middleware import McpTelemetry, McpTelemetryMiddleware
    from omie_otel._omie_httpx import OmieHttpxInstrumentation
    from omie_otel._scrub_processors import ScrubbingLogProcessor, ScrubbingSpanProcessor
    from omie_otel._selftelemetry import SelfTelemetry
    from omie_otel._setup import Providers
    from omie_otel.health import HealthChecker
    from omie_otel.host_metrics import HostMetrics
    from omie_otel.redaction import Scrubber

__all__ = ["SCOPE", "State", "current_state", "set_current_state"]

#: The instrumentation scope of every tracer and meter omie-otel creates.
SCOPE = "omie_otel"


class State:
    """One ``instrument()``: its options, providers and scrubber, and what each integration started.

    The integrations run in the order of ``_integrations.INTEGRATIONS``; a field another integration fills is
    ``None`` until it ran (or when it is turned off or failed to start), and readers must allow for that.
    """

    def __init__(self, options: Options, providers: Providers, scrubber: Scrubber, all_servers: bool) -> None:
        self.options = options
        self.providers = providers
        self.scrubber = scrubber
        self.all_servers = all_servers
        self.servers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.middleware: McpTelemetryMiddleware | None = None
        self.telemetry: McpTelemetry | None = None
        self.patches: list[tuple[Any, str]] = []
        self.span_scrubber: ScrubbingSpanProcessor | None = None
        self.log_scrubber: ScrubbingLogProcessor | None = None
        self.closers: list[Callable[[], Any]] = []
        self.omie: OmieHttpxInstrumentation | None = None
        self.host_metrics: HostMetrics | None = None
        self.health: HealthChecker | None = None
        self.health_listener: HealthListener | None = None
        self.self_telemetry: SelfTelemetry | None = None
        #: Called with each server attached from now on (health routes, ops tools), after the middleware is in.
        self.attach_hooks: list[Callable[[Any], None]] = []
        self.stopped = False


_current: State | None = None


def current_state() -> State | None:
    """The state of the ``instrument()`` in effect, or ``None`` (for code that runs outside ``instrument()``)."""
    return _current


def set_current_state(state: State | None) -> None:
    """Called by :mod:`omie_otel._lifecycle` only, once every integration has started (or on ``uninstrument()``)."""
    global _current
    _current = state
