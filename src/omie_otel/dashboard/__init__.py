"""A live web dashboard and trace view for omie-otel's telemetry, with no Grafana.

Usage::

    omie-otel dashboard                      # http://127.0.0.1:8400/, backends of the local stack
    omie-otel dashboard --prometheus http://prom:9090 --alertmanager http://am:9093 \\
        --jaeger http://jaeger:16686 --logs http://victorialogs:9428

It renders the panels of the Grafana dashboard we ship (``collector-config/grafana/dashboards/omie-mcp.json``:
rows, titles, PromQL, units, thresholds), the active alerts of Alertmanager (v2 API) with their runbooks, the recent
failed and slow traces of Jaeger's query API, each opening a span waterfall with the logs of that trace
(VictoriaLogs' LogsQL), and the Omie 425 blocks still in force. It only reads the standard HTTP APIs, so any
Prometheus-compatible store works.

Security: it binds to 127.0.0.1 by default. Bound to any other address it refuses to start unless
``OMIE_OTEL_DASHBOARD_TOKEN`` is set; the page then asks for it once (``/?token=...``, kept in an HttpOnly cookie)
and the API takes ``Authorization: Bearer``. It proxies only fixed read-only queries; it shows only telemetry, which
omie-otel scrubbed before export.
"""

from omie_otel.dashboard.__main__ import main

__all__ = ["main"]
