"""A real OTLP/HTTP (protobuf) receiver on 127.0.0.1 for tests of the env-configured SDK path.

It decodes what an OTLP exporter sends — the same bytes a collector would get — and keeps it for assertions.
It is a test peer, not a collector: the real collector is exercised in tests/e2e.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


class OtlpSink:
    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.requests = 0
        self.raw: list[tuple[str, bytes]] = []  # (path, decompressed body): what went over the wire, undecoded
        self.lock = threading.Lock()
        self.fail_with: int | None = None  # answer every export with this status (a broken collector)
        self.delay = 0.0  # seconds to wait before answering each export (a slow collector)
        self.url = ""

    def _ingest(self, path: str, body: bytes) -> None:
        if path.endswith("/v1/traces"):
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                res = _attrs(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        self.spans.append(
                            {
                                "name": s.name,
                                "kind": s.kind,
                                "scope": ss.scope.name,
                                "resource": res,
                                "attributes": _attrs(s.attributes),
                                "trace_id": s.trace_id.hex(),
                                "span_id": s.span_id.hex(),
                                "parent_span_id": s.parent_span_id.hex(),
                                "links": [(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                                "status": s.status.code,
                            }
                        )
        elif path.endswith("/v1/metrics"):
            req = ExportMetricsServiceRequest.FromString(body)
            for rm in req.resource_metrics:
                res = _attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        for p in getattr(m, kind).data_points:
                            point = {"name": m.name, "kind": kind, "resource": res, "attributes": _attrs(p.attributes)}
                            if kind == "histogram":
                                point["count"] = p.count
                            else:
                                point["value"] = p.as_double if p.WhichOneof("value") == "as_double" else p.as_int
                            self.metrics.append(point)
        elif path.endswith("/v1/logs"):
            req = ExportLogsServiceRequest.FromString(body)
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        self.logs.append(
                            {
                                "body": _value(r.body),
                                "severity": r.severity_text,
                                "trace_id": r.trace_id.hex(),
                                "span_id": r.span_id.hex(),
                                "attributes": _attrs(r.attributes),
                            }
                        )

    def wait_for(self, predicate: Callable[[OtlpSink], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return False


@contextmanager
def otlp_sink() -> Iterator[OtlpSink]:
    sink = OtlpSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if sink.delay:
                time.sleep(sink.delay)
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            with sink.lock:
                sink.requests += 1
                failing = sink.fail_with
                if failing is None:
                    sink.raw.append((self.path, body))
                    sink._ingest(self.path, body)
            self.send_response(failing or 200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.block_on_close = False  # a slow sink's late answers must not hold up the test's exit
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
