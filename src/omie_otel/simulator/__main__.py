"""``python -m omie_otel.simulator``: serve the Omie simulator on a port (uvicorn).

Settings resolve as: command-line option > ``OMIE_SIM_*`` environment variable > default.

Example:
    ``python -m omie_otel.simulator --host 127.0.0.1 --port 8765 --seed 7 --latency-ms 150 --broken-rate 0.02``
    then ``POST http://127.0.0.1:8765/api/v1/geral/clientes/``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from omie_otel.simulator._app import OmieSimulator
from omie_otel.simulator._config import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    OMIE_SIM_HOST,
    OMIE_SIM_PORT,
    SimulatorConfig,
)
from omie_otel.simulator._server import run_server

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omie-otel simulator",
        description="Serve an Omie API simulator (wire format, data, limits, faults) on a local port.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Demo credentials (the only ones it accepts; any other key is refused like Omie does):\n"
            f"  app_key    {DEFAULT_APP_KEY}\n"
            f"  app_secret {DEFAULT_APP_SECRET}\n"
            "Base URL: http://127.0.0.1:<port>/api/v1/ (e.g. POST .../api/v1/geral/clientes/ with\n"
            '  {"call": "ListarClientes", "app_key": ..., "app_secret": ..., "param": [{"pagina": 1}]}).\n'
            "omie-otel recognises Omie-shaped requests to it without configuration; to name it explicitly,\n"
            "instrument(mcp, omie_url='http://127.0.0.1:<port>/api/') or OMIE_OTEL_OMIE_URL.\n\n"
            "Every setting also reads an OMIE_SIM_* environment variable; options win over it."
        ),
    )
    parser.add_argument("--host", default=None, help=f"interface (env {OMIE_SIM_HOST}, default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=None, help=f"port, 0 = any free (env {OMIE_SIM_PORT}, default 8765)"
    )
    parser.add_argument("--seed", type=int, default=None, help="data and randomness seed (default 0)")
    parser.add_argument("--latency-ms", type=float, default=None, help="base latency per call (default 0)")
    parser.add_argument("--jitter-ms", type=float, default=None, help="random extra latency, 0 to N ms (default 0)")
    parser.add_argument("--broken-rate", type=float, default=None, help="probability of 'Broken response' (0-1)")
    parser.add_argument("--fault-rate", type=float, default=None, help="probability of a random fault (0-1)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    return parser


def _env_port() -> int:
    text = os.environ.get(OMIE_SIM_PORT, "").strip()
    try:
        return int(text) if text else 8765
    except ValueError:
        raise ValueError(f"{OMIE_SIM_PORT}={text!r}: expected a port number") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), then serve until interrupted.

    Returns:
        The process exit status: 0 after a clean stop, 1 when it cannot listen, 2 for bad settings.
    """
    args = _parser().parse_args(argv)
    try:
        config = SimulatorConfig.from_env(
            seed=args.seed,
            latency_ms=args.latency_ms,
            latency_jitter_ms=args.jitter_ms,
            broken_response_rate=args.broken_rate,
            fault_rate=args.fault_rate,
        )
        host = args.host or os.environ.get(OMIE_SIM_HOST, "").strip() or "127.0.0.1"
        port = args.port if args.port is not None else _env_port()
    except ValueError as exc:
        print(f"omie simulator: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_server(OmieSimulator(config), host=host, port=port, log_level=args.log_level)
    except OSError as exc:  # the port is taken, the host is not local...
        print(f"omie simulator: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
