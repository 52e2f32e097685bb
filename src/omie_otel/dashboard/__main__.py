"""``omie-otel dashboard``: serve the web dashboard (see :mod:`omie_otel.dashboard`)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence

from omie_otel._lang import say

__all__ = ["main"]

#: The token a dashboard bound to a non-loopback address requires.
TOKEN_ENV = "OMIE_OTEL_DASHBOARD_TOKEN"
#: (environment variable, the local stack's default) of each backend; see scripts/stack.sh.
DEFAULTS = {
    "prometheus": ("PROMETHEUS_URL", "http://127.0.0.1:9090"),
    "alertmanager": ("ALERTMANAGER_URL", "http://127.0.0.1:9093"),
    "jaeger": ("JAEGER_QUERY_URL", "http://127.0.0.1:16686"),
    "logs": ("VICTORIALOGS_URL", "http://127.0.0.1:9428"),
}


_say = say


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            _say(f"URL inválida {value!r}: use http://host:porta", f"invalid URL {value!r}: use http://host:port")
        )
    return value.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="omie-otel dashboard",
        description=_say(
            "Painel web ao vivo (métricas, SLOs, alertas, traces e logs) lendo Prometheus, Alertmanager, Jaeger e "
            "VictoriaLogs.",
            "Live web dashboard (metrics, SLOs, alerts, traces and logs) reading Prometheus, Alertmanager, Jaeger "
            "and VictoriaLogs.",
        ),
    )
    p.add_argument("--host", default="127.0.0.1",
                   help=_say("endereço (padrão 127.0.0.1; outro exige ", "address (default 127.0.0.1; another needs ")
                   + TOKEN_ENV + ")")
    p.add_argument("--port", type=int, default=8400, help=_say("porta (padrão 8400)", "port (default 8400)"))
    for name, (env, default) in DEFAULTS.items():
        p.add_argument(f"--{name}", type=_url, default=None, metavar="URL",
                       help=_say(f"padrão: ${env}, senão {default}", f"default: ${env}, else {default}"))
    p.add_argument("--timeout", type=float, default=5.0,
                   help=_say("tempo máximo de cada consulta (s)", "timeout of each backend query (s)"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from omie_otel.dashboard._backends import Backends
    from omie_otel.dashboard._panels import load_dashboard
    from omie_otel.dashboard._server import DashboardServer, is_loopback

    urls: dict[str, str] = {}
    for name, (env, default) in DEFAULTS.items():
        value = getattr(args, name) or os.environ.get(env, "").strip() or default
        try:
            urls[name] = _url(value)
        except argparse.ArgumentTypeError as exc:
            print(f"omie-otel dashboard: ${env}: {exc}", file=sys.stderr)
            return 2
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    if not is_loopback(args.host) and token is None:
        print(_say(
            f"omie-otel dashboard: recusado: --host {args.host} não é loopback e {TOKEN_ENV} não está definido. "
            f"Defina {TOKEN_ENV} com um segredo longo (ex.: openssl rand -hex 24) ou use --host 127.0.0.1.",
            f"omie-otel dashboard: refused: --host {args.host} is not loopback and {TOKEN_ENV} is not set. "
            f"Set {TOKEN_ENV} to a long secret (e.g. openssl rand -hex 24) or use --host 127.0.0.1.",
        ), file=sys.stderr)
        return 2
    if token is not None and not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
        print(_say(f"omie-otel dashboard: {TOKEN_ENV} tem caracteres que não cabem num cookie: use letras, números "
                   "e ._~+/=- (ex.: openssl rand -hex 24)",
                   f"omie-otel dashboard: {TOKEN_ENV} has characters a cookie cannot carry: use letters, digits and "
                   "._~+/=- (e.g. openssl rand -hex 24)"), file=sys.stderr)
        return 2
    if token is not None and len(token) < 16:
        print(_say(f"omie-otel dashboard: {TOKEN_ENV} curto demais: use ao menos 16 caracteres",
                   f"omie-otel dashboard: {TOKEN_ENV} is too short: use at least 16 characters"), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    backends = Backends(prometheus=urls["prometheus"], alertmanager=urls["alertmanager"], jaeger=urls["jaeger"],
                        logs=urls["logs"], timeout=args.timeout)
    try:
        server = DashboardServer((args.host, args.port), dashboard=load_dashboard(), backends=backends, token=token)
    except OSError as exc:
        backends.close()
        print(_say(f"omie-otel dashboard: não consegui escutar em {args.host}:{args.port}: {exc.strerror}",
                   f"omie-otel dashboard: cannot listen on {args.host}:{args.port}: {exc.strerror}"), file=sys.stderr)
        return 1
    print(_say(f"omie-otel dashboard: {server.url} (Ctrl-C encerra)", f"omie-otel dashboard: {server.url} (Ctrl-C stops)"),
          flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
