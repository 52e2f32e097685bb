"""What does a huge Omie error answer cost the instrumentation? (issue #8, point 6)

An ``httpx.Client`` (``httpx.MockTransport``, no network) posts ``ListarClientes`` and gets a 50 MB HTTP 500 JSON
answer: a SOAP-style fault plus a long list of records. httpx itself reads the whole body (that is the caller's cost,
bare or not); what we measure is what the instrumentation adds on top, bare versus ``instrument()``:

* wall time per call (median of ``--calls``), and
* peak memory allocated during one more call (``tracemalloc``, which slows allocations, so timed apart).

Usage:
    python benchmarks/bench_error_body.py [--mb 50] [--calls 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from typing import Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

import omie_otel

URL = "https://app.omie.com.br/api/v1/geral/clientes/"


def _body(megabytes: int) -> bytes:
    record = {"codigo_cliente": 123456, "razao_social": "Cliente de teste", "cidade": "SAO PAULO (SP)"}
    one = len(json.dumps(record)) + 2
    records = [record] * (megabytes * 1_000_000 // one)
    return json.dumps(
        {"faultstring": "ERROR: Broken response", "faultcode": "SOAP-ENV:Server", "registros": records}
    ).encode()


def _call(client: httpx.Client) -> None:
    response = client.post(URL, json={"call": "ListarClientes", "param": [{"pagina": 1}]})
    assert response.status_code == 500


def _measure(client: httpx.Client, calls: int) -> tuple[float, float]:
    """Median wall time per call (untraced), then the peak allocated during one more call under ``tracemalloc``."""
    times = []
    for _ in range(calls):
        gc.collect()
        start = time.perf_counter()
        _call(client)
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    _call(client)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    body = _body(args.mb)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=body, headers={"content-type": "application/json"})

    results: dict[str, Any] = {}
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        results["bare"] = _measure(client, args.calls)
        omie_otel.instrument(
            tracer_provider=TracerProvider(), meter_provider=MeterProvider(), host_metrics=False, logs=False
        )
        try:
            results["omie_otel"] = _measure(client, args.calls)
        finally:
            omie_otel.uninstrument()
    print(f"{len(body) / 1e6:.1f} MB HTTP 500 body, median of {args.calls} calls")
    for mode, (seconds, peak) in results.items():
        print(f"  {mode:<10} {seconds * 1000:8.1f} ms/call   peak {peak / 1e6:8.1f} MB allocated during the call")
    (bare_s, bare_peak), (inst_s, inst_peak) = results["bare"], results["omie_otel"]
    print(f"  instrumentation adds {(inst_s - bare_s) * 1000:+.1f} ms and {(inst_peak - bare_peak) / 1e6:+.1f} MB per call")


if __name__ == "__main__":
    main()
