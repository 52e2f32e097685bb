"""The ``omie-otel`` command.

Example:
    ``omie-otel simulator --port 8765``   serve the Omie API simulator on 127.0.0.1:8765
    ``omie-otel version``                 print the installed version
    ``omie-otel slo report --prometheus http://127.0.0.1:9090 --month 2026-11``   the month's SLA report
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from omie_otel._lang import say

__all__ = ["main"]

_USAGE_PT = """uso: omie-otel <comando> [opções]

comandos:
  simulator   serve o simulador da API Omie (veja: omie-otel simulator --help)
  dashboard   serve o painel web ao vivo (veja: omie-otel dashboard --help)
  slo report  relatório de SLA de um mês, do Prometheus (veja: omie-otel slo report --help)
  version     mostra a versão do omie-otel
"""
_USAGE_EN = """usage: omie-otel <command> [options]

commands:
  simulator   serve the Omie API simulator (see: omie-otel simulator --help)
  dashboard   serve the live web dashboard (see: omie-otel dashboard --help)
  slo report  SLA report of a month from Prometheus (see: omie-otel slo report --help)
  version     print the omie-otel version
"""
_COMMANDS = ("simulator", "dashboard", "slo", "version")


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``omie-otel <command>``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(say(_USAGE_PT, _USAGE_EN), end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "simulator":
        from omie_otel.simulator.__main__ import main as simulator_main

        return simulator_main(rest)
    if command == "dashboard":
        from omie_otel.dashboard.__main__ import main as dashboard_main

        return dashboard_main(rest)
    if command == "slo":
        from omie_otel._slo_report import main as slo_main

        return slo_main(rest)
    if command == "version":
        from omie_otel.version import __version__

        print(__version__)
        return 0
    known = ", ".join(_COMMANDS)
    usage = say(_USAGE_PT, _USAGE_EN)
    message = say(f"comando desconhecido {command!r}; use um de: {known}", f"unknown command {command!r}; use one of: {known}")
    print(f"omie-otel: {message}\n\n{usage}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
