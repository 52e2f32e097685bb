"""The simulator's settings: one frozen dataclass, plus the ``OMIE_SIM_*`` environment variables.

Only :meth:`SimulatorConfig.from_env` (and so the CLI) reads the environment; code that builds a simulator in
process gets exactly the arguments it passes.

Example:
    >>> SimulatorConfig(seed=3, rpm_per_method=10).rpm_per_method
    10
    >>> SimulatorConfig.from_env({"OMIE_SIM_SEED": "42", "OMIE_SIM_RECORDS": "clientes=500"}).records
    {'clientes': 500}
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from omie_otel.simulator._data import DEFAULT_TODAY, parse_date
from omie_otel.simulator._faults import FAULT_KINDS
from omie_otel.simulator._seed import DEFAULT_RECORD_COUNTS

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_RANDOM_FAULT_KINDS",
    "ENV_VARS",
    "OMIE_SIM_APP_KEY",
    "OMIE_SIM_APP_SECRET",
    "OMIE_SIM_BROKEN_RATE",
    "OMIE_SIM_FAULT_KINDS",
    "OMIE_SIM_FAULT_RATE",
    "OMIE_SIM_HOST",
    "OMIE_SIM_LATENCY_JITTER_MS",
    "OMIE_SIM_LATENCY_MS",
    "OMIE_SIM_LATENCY_OVERRIDES",
    "OMIE_SIM_MAX_CONCURRENT",
    "OMIE_SIM_MAX_CONCURRENT_WRITES",
    "OMIE_SIM_MISUSE_BLOCK_S",
    "OMIE_SIM_MISUSE_THRESHOLD",
    "OMIE_SIM_PORT",
    "OMIE_SIM_RECORDS",
    "OMIE_SIM_REDUNDANCY_WINDOW_S",
    "OMIE_SIM_RPM_PER_IP",
    "OMIE_SIM_RPM_PER_METHOD",
    "OMIE_SIM_SEED",
    "OMIE_SIM_TODAY",
    "SimulatorConfig",
]

#: The demo ``app_key`` the simulator accepts by default (13 digits, like Omie's).
DEFAULT_APP_KEY = "1234567890123"
#: The demo ``app_secret`` paired with :data:`DEFAULT_APP_KEY`.
DEFAULT_APP_SECRET = "s3cr3t-demo-omie-simulator"

#: What ``fault_rate`` draws from: the transient faults a well-behaved client should survive by retrying.
DEFAULT_RANDOM_FAULT_KINDS: tuple[str, ...] = ("server_error", "concurrent_request", "rate_limited", "redundant")

OMIE_SIM_SEED = "OMIE_SIM_SEED"
"""Seed of the data set, request ids, latency jitter and random faults. Default ``0``."""

OMIE_SIM_LATENCY_MS = "OMIE_SIM_LATENCY_MS"
"""Base latency added to every admitted call, in milliseconds. Default ``0``."""

OMIE_SIM_LATENCY_JITTER_MS = "OMIE_SIM_LATENCY_JITTER_MS"
"""Uniform random extra latency, 0 to this many milliseconds. Default ``0``."""

OMIE_SIM_LATENCY_OVERRIDES = "OMIE_SIM_LATENCY_OVERRIDES"
"""Per-call latency, ``call=base[:jitter]`` comma-separated, e.g. ``ListarNF=1500:500,ListarClientes=300``."""

OMIE_SIM_BROKEN_RATE = "OMIE_SIM_BROKEN_RATE"
"""Probability (0-1) of the intermittent ``Broken response from Application Server (BG)``. Default ``0``."""

OMIE_SIM_FAULT_RATE = "OMIE_SIM_FAULT_RATE"
"""Probability (0-1) of a random fault drawn from ``OMIE_SIM_FAULT_KINDS``. Default ``0``."""

OMIE_SIM_FAULT_KINDS = "OMIE_SIM_FAULT_KINDS"
"""Comma-separated fault kinds ``OMIE_SIM_FAULT_RATE`` draws from. Default
``server_error,concurrent_request,rate_limited,redundant``."""

OMIE_SIM_APP_KEY = "OMIE_SIM_APP_KEY"
"""The one ``app_key`` accepted (replaces the demo pair; set ``OMIE_SIM_APP_SECRET`` too)."""

OMIE_SIM_APP_SECRET = "OMIE_SIM_APP_SECRET"
"""The ``app_secret`` paired with ``OMIE_SIM_APP_KEY``."""

OMIE_SIM_RPM_PER_METHOD = "OMIE_SIM_RPM_PER_METHOD"
"""Requests per minute per IP + app_key + method before 429. Default ``240``."""

OMIE_SIM_RPM_PER_IP = "OMIE_SIM_RPM_PER_IP"
"""Requests per minute per IP before 429. Default ``960``."""

OMIE_SIM_MAX_CONCURRENT = "OMIE_SIM_MAX_CONCURRENT"
"""Requests in flight per IP + app_key + method before 1880. Default ``4``."""

OMIE_SIM_MAX_CONCURRENT_WRITES = "OMIE_SIM_MAX_CONCURRENT_WRITES"
"""The same for Incluir/Alterar/Upsert/Excluir/Lancar calls. Default ``1``."""

OMIE_SIM_REDUNDANCY_WINDOW_S = "OMIE_SIM_REDUNDANCY_WINDOW_S"
"""Seconds an identical query is refused after it was answered (``0`` disables). Default ``60``."""

OMIE_SIM_MISUSE_THRESHOLD = "OMIE_SIM_MISUSE_THRESHOLD"
"""Consecutive errors on one IP + app_key + method that trigger the 425 block (``0`` disables). Default ``10``."""

OMIE_SIM_MISUSE_BLOCK_S = "OMIE_SIM_MISUSE_BLOCK_S"
"""Seconds the 425 block lasts. Default ``1800``."""

OMIE_SIM_RECORDS = "OMIE_SIM_RECORDS"
"""Records per table, ``table=count`` comma-separated, e.g. ``clientes=1000,produtos=50``."""

OMIE_SIM_TODAY = "OMIE_SIM_TODAY"
"""The simulated current date, ``dd/mm/aaaa``. Default ``11/07/2025``."""

OMIE_SIM_HOST = "OMIE_SIM_HOST"
"""CLI only: the interface to listen on. Default ``127.0.0.1``."""

OMIE_SIM_PORT = "OMIE_SIM_PORT"
"""CLI only: the port to listen on (``0`` picks a free one). Default ``8765``."""


def _pairs(text: str) -> dict[str, str]:
    """``"a=1, b=2"`` -> ``{"a": "1", "b": "2"}``."""
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected name=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _latencies(text: str) -> dict[str, tuple[float, float]]:
    out = {}
    for call, spec in _pairs(text).items():
        base, _, jitter = spec.partition(":")
        out[call] = (float(base), float(jitter or 0))
    return out


def _day(text: str) -> date:
    day = parse_date(text)
    if day is None:
        raise ValueError(f"expected dd/mm/aaaa, got {text!r}")
    return day


#: Environment variable -> (config field, parser).
ENV_VARS: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    OMIE_SIM_SEED: ("seed", int),
    OMIE_SIM_LATENCY_MS: ("latency_ms", float),
    OMIE_SIM_LATENCY_JITTER_MS: ("latency_jitter_ms", float),
    OMIE_SIM_LATENCY_OVERRIDES: ("latency_overrides", _latencies),
    OMIE_SIM_BROKEN_RATE: ("broken_response_rate", float),
    OMIE_SIM_FAULT_RATE: ("fault_rate", float),
    OMIE_SIM_FAULT_KINDS: ("fault_kinds", lambda text: tuple(k.strip() for k in text.split(",") if k.strip())),
    OMIE_SIM_RPM_PER_METHOD: ("rpm_per_method", int),
    OMIE_SIM_RPM_PER_IP: ("rpm_per_ip", int),
    OMIE_SIM_MAX_CONCURRENT: ("max_concurrent", int),
    OMIE_SIM_MAX_CONCURRENT_WRITES: ("max_concurrent_writes", int),
    OMIE_SIM_REDUNDANCY_WINDOW_S: ("redundancy_window_s", float),
    OMIE_SIM_MISUSE_THRESHOLD: ("misuse_threshold", int),
    OMIE_SIM_MISUSE_BLOCK_S: ("misuse_block_s", float),
    OMIE_SIM_RECORDS: ("records", lambda text: {k: int(v) for k, v in _pairs(text).items()}),
    OMIE_SIM_TODAY: ("today", _day),
}


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes the simulator's answers. Limits default to Omie's published ones.

    Attributes:
        seed: seeds the data set, request ids, latency jitter and random faults.
        latency_ms: base latency of every admitted call, in milliseconds.
        latency_jitter_ms: uniform random extra latency, up to this many milliseconds.
        latency_overrides: ``{call: (base_ms, jitter_ms)}`` replacing the two above for that call.
        broken_response_rate: probability of ``SOAP-ERROR: Broken response from Application Server (BG)``.
        fault_rate: probability of a random fault drawn from ``fault_kinds``.
        fault_kinds: the kinds ``fault_rate`` draws from (names from ``FAULT_KINDS``).
        credentials: accepted ``{app_key: app_secret}``; empty accepts anything.
        rpm_per_method: requests per minute per IP + app_key + method (then 429).
        rpm_per_ip: requests per minute per IP (then 429).
        max_concurrent: requests in flight per IP + app_key + method (then 1880).
        max_concurrent_writes: the same for Incluir/Alterar/Upsert/Excluir/Lancar calls.
        redundancy_window_s: seconds an identical query is refused after it was answered (0 disables).
        misuse_threshold: consecutive errors on one IP + app_key + method that start a 425 block (0 disables).
        misuse_block_s: length of that block, in seconds.
        records: records per table, overriding the defaults table by table (``{"clientes": 1000}``).
        today: the simulated current date every generated date is relative to.

    Example:
        >>> config = SimulatorConfig(broken_response_rate=0.05, records={"clientes": 10})
        >>> config.credentials == {DEFAULT_APP_KEY: DEFAULT_APP_SECRET}
        True
    """

    seed: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_overrides: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    broken_response_rate: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = DEFAULT_RANDOM_FAULT_KINDS
    credentials: Mapping[str, str] = field(default_factory=lambda: {DEFAULT_APP_KEY: DEFAULT_APP_SECRET})
    rpm_per_method: int = 240
    rpm_per_ip: int = 960
    max_concurrent: int = 4
    max_concurrent_writes: int = 1
    redundancy_window_s: float = 60.0
    misuse_threshold: int = 10
    misuse_block_s: float = 1800.0
    records: Mapping[str, int] = field(default_factory=dict)
    today: date = DEFAULT_TODAY

    def __post_init__(self) -> None:
        for name in ("broken_response_rate", "fault_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        tables = set(self.records) - set(DEFAULT_RECORD_COUNTS)
        if tables:
            raise ValueError(f"unknown tables {sorted(tables)}; known: {', '.join(DEFAULT_RECORD_COUNTS)}")
        if min(self.rpm_per_method, self.rpm_per_ip, self.max_concurrent, self.max_concurrent_writes) < 1:
            raise ValueError("rate and concurrency limits must be at least 1")

    def latency_for(self, call: str) -> tuple[float, float]:
        """``(base_ms, jitter_ms)`` for ``call``."""
        return self.latency_overrides.get(call, (self.latency_ms, self.latency_jitter_ms))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Settings from ``OMIE_SIM_*`` variables; keyword ``overrides`` win over the environment.

        Args:
            environ: the environment to read (default ``os.environ``).
            **overrides: fields to set regardless of the environment (``None`` values are ignored).

        Raises:
            ValueError: a variable does not parse; the message names it.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable, (name, parse) in ENV_VARS.items():
            text = env.get(variable, "").strip()
            if not text:
                continue
            try:
                values[name] = parse(text)
            except ValueError as exc:
                raise ValueError(f"{variable}={text!r}: {exc}") from None
        key, secret = env.get(OMIE_SIM_APP_KEY, "").strip(), env.get(OMIE_SIM_APP_SECRET, "").strip()
        if key or secret:
            values["credentials"] = {key: secret}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
