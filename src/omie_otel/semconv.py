"""Every attribute name, metric name, unit and bucket boundary omie-otel emits.

These names are a public contract: dashboards, alert rules and users' queries depend on them. They live in this one
module so a rename is one visible diff.

Versions followed:

* MCP: the gen-ai conventions (``open-telemetry/semantic-conventions-genai``, ``docs/gen-ai/mcp.md``, whose shared
  attributes point at semantic-conventions **v1.41.1**). Errors: ``error.type`` is the JSON-RPC error code (and
  ``rpc.response.status_code`` carries the same code) whenever the client receives a JSON-RPC error, *any* code,
  ``-32601`` and ``-32602`` included (the text makes no exception for client-caused codes); a ``tools/call`` answered
  with ``isError: true`` (a failing tool, an unknown tool, invalid arguments) is ``tool_error`` with no status code.
  ``mcp.session.id`` is set only when the request is part of a session (never on protocol 2026-07-28, which has none).
* System, process and HTTP: semantic-conventions **v1.44.0** (``system.*``, ``process.*``, ``http.client.*``).
* ``omie.*`` and ``omie_otel.*`` names are ours.

``tests/test_conformance.py`` checks every name, instrument kind, unit and closed enum value a realistic workload
emits against the registry data of the installed ``opentelemetry-semantic-conventions`` (schema 1.44.0), and our own
names against this module.

Example:
    >>> from omie_otel import semconv
    >>> semconv.MCP_METHOD_NAME
    'mcp.method.name'
"""

from __future__ import annotations

from typing import Final, get_args

from omie_otel.omie import FaultKind

# --- MCP / GenAI / RPC attributes (OpenTelemetry semconv) -------------------------------------------------------------
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_SESSION_ID: Final = "mcp.session.id"
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
MCP_RESOURCE_URI: Final = "mcp.resource.uri"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
RPC_RESPONSE_STATUS_CODE: Final = "rpc.response.status_code"
NETWORK_TRANSPORT: Final = "network.transport"
NETWORK_PROTOCOL_NAME: Final = "network.protocol.name"
ERROR_TYPE: Final = "error.type"

OPERATION_EXECUTE_TOOL: Final = "execute_tool"
TRANSPORT_PIPE: Final = "pipe"
TRANSPORT_TCP: Final = "tcp"
ERROR_TOOL: Final = "tool_error"

# --- MCP metrics ------------------------------------------------------------------------------------------------------
MCP_SERVER_OPERATION_DURATION: Final = "mcp.server.operation.duration"
MCP_SERVER_SESSION_DURATION: Final = "mcp.server.session.duration"
#: Bucket advice from semconv for MCP operation and session durations, in seconds.
MCP_DURATION_BUCKETS: Final = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# --- Omie attributes (ours) -------------------------------------------------------------------------------------------
OMIE_CALL: Final = "omie.call"
OMIE_ENDPOINT: Final = "omie.endpoint"
OMIE_PAGE: Final = "omie.page"
OMIE_RECORDS_PER_PAGE: Final = "omie.records_per_page"
OMIE_TOTAL_PAGES: Final = "omie.total_pages"
OMIE_TOTAL_RECORDS: Final = "omie.total_records"
OMIE_RECORDS: Final = "omie.records"
OMIE_REQUEST_ID: Final = "omie.request_id"
OMIE_RATELIMIT_USED: Final = "omie.ratelimit.used"
OMIE_RATELIMIT_LIMIT: Final = "omie.ratelimit.limit"
OMIE_PARALLEL_RATELIMIT_USED: Final = "omie.parallel_ratelimit.used"
OMIE_PARALLEL_RATELIMIT_LIMIT: Final = "omie.parallel_ratelimit.limit"
OMIE_RATELIMIT_KIND: Final = "omie.ratelimit.kind"
"""``requests_per_minute`` (x-omie-ratelimit, per IP) or ``parallel`` (x-omie-parallelratelimit, per method)."""
OMIE_FAULT_KIND: Final = "omie.fault.kind"
OMIE_FAULT_CODE: Final = "omie.fault.code"
OMIE_FAULT_MESSAGE: Final = "omie.fault.message"
OMIE_RETRY_AFTER: Final = "omie.retry_after"

#: Values of ``omie.fault.kind``. ``no_records`` is not an error.
#: The values of ``omie.fault.kind``: :data:`omie_otel.omie.FaultKind`'s, in its order (one source).
OMIE_FAULT_KINDS: Final[tuple[FaultKind, ...]] = get_args(FaultKind)

# --- Omie metrics (ours) ----------------------------------------------------------------------------------------------
OMIE_CLIENT_REQUEST_DURATION: Final = "omie.client.request.duration"
OMIE_CLIENT_FAULTS: Final = "omie.client.faults"
OMIE_CLIENT_REQUESTS_ACTIVE: Final = "omie.client.requests.active"
OMIE_CLIENT_RATELIMIT_UTILIZATION: Final = "omie.client.ratelimit.utilization"
#: Omie answers in 0.1-30 s; below 50 ms is a cache or a local fault.
OMIE_DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0)

# --- HTTP client (OpenTelemetry semconv, stable) --------------------------------------------------------------------
HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
NETWORK_PROTOCOL_VERSION: Final = "network.protocol.version"
#: Bucket advice from semconv for ``http.client.request.duration``, in seconds.
HTTP_DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# --- Host and process metrics (OpenTelemetry semconv) -----------------------------------------------------------------
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
SYSTEM_CPU_TIME: Final = "system.cpu.time"
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"
SYSTEM_NETWORK_IO: Final = "system.network.io"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_CPU_TIME: Final = "process.cpu.time"
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: Final = "process.unix.file_descriptor.count"
#: Deprecated alias kept for code importing it: the series ``process.open_file_descriptor.count`` (deprecated in
#: semconv) is no longer emitted; this constant now names its replacement.
PROCESS_OPEN_FILE_DESCRIPTOR_COUNT: Final = PROCESS_UNIX_FILE_DESCRIPTOR_COUNT
PROCESS_THREAD_COUNT: Final = "process.thread.count"
CPU_LOGICAL_NUMBER: Final = "cpu.logical_number"
CPU_MODE: Final = "cpu.mode"
#: ``cpu.mode`` values we report (semconv well-known values; ``interrupt`` is psutil's irq + softirq).
CPU_MODES_SYSTEM: Final = ("user", "nice", "system", "idle", "iowait", "interrupt", "steal")
CPU_MODES_PROCESS: Final = ("user", "system")
#: Modes that are not "busy": ``system.cpu.utilization`` summed over the other modes is the busy fraction.
CPU_MODES_IDLE: Final = ("idle", "iowait")
SYSTEM_MEMORY_STATE: Final = "system.memory.state"
SYSTEM_DEVICE: Final = "system.device"
SYSTEM_FILESYSTEM_MOUNTPOINT: Final = "system.filesystem.mountpoint"
SYSTEM_FILESYSTEM_TYPE: Final = "system.filesystem.type"
SYSTEM_FILESYSTEM_STATE: Final = "system.filesystem.state"
SYSTEM_FILESYSTEM_MODE: Final = "system.filesystem.mode"
NETWORK_INTERFACE_NAME: Final = "network.interface.name"
NETWORK_IO_DIRECTION: Final = "network.io.direction"
OMIE_CLIENT_POOL_CONNECTIONS: Final = "omie.client.pool.connections"
OMIE_CLIENT_POOL_LIMIT: Final = "omie.client.pool.limit"
"""The pool's ``max_connections`` (httpx ``Limits``)."""
OMIE_CLIENT_POOL_UTILIZATION: Final = "omie.client.pool.utilization"
"""Active connections / ``max_connections``: the plan's "pool < 80 %"."""
OMIE_CLIENT_POOL_STATE: Final = "omie.client.pool.state"
OMIE_CLIENT_POOL_NAME: Final = "omie.client.pool.name"

# --- Health and self-telemetry (ours) ---------------------------------------------------------------------------------
OMIE_OTEL_HEALTH_STATUS: Final = "omie_otel.health.status"
OMIE_OTEL_HEALTH_CHECK: Final = "omie_otel.health.check"
OMIE_OTEL_EXPORT_FAILURES: Final = "omie_otel.export.failures"
OMIE_OTEL_EXPORT_DROPPED: Final = "omie_otel.export.dropped"
OMIE_OTEL_EXPORT_QUEUE_SIZE: Final = "omie_otel.export.queue.size"
OMIE_OTEL_EXPORT_QUEUE_CAPACITY: Final = "omie_otel.export.queue.capacity"
OMIE_OTEL_SIGNAL: Final = "omie_otel.signal"
OMIE_OTEL_INTERNAL_ERRORS: Final = "omie_otel.internal.errors"
OMIE_OTEL_REDACTIONS: Final = "omie_otel.redactions"
#: GenAI token counts: they look like secrets to the key patterns ("token") but never are.
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
# FastMCP's own span attributes (its native spans), which we read and keep unscrubbed.
FASTMCP_SPAN_SEAM: Final = "fastmcp.span.seam"
FASTMCP_COMPONENT_TYPE: Final = "fastmcp.component.type"
FASTMCP_PROVIDER_TYPE: Final = "fastmcp.provider.type"
#: Span/log attribute: how many values the scrubber replaced on that span or record.
OMIE_OTEL_REDACTED: Final = "omie_otel.redacted"

#: Values of ``omie_otel.health.check``: one series per readiness check, plus ``overall``.
OMIE_OTEL_HEALTH_CHECKS: Final = ("omie_api", "telemetry_export", "memory", "disk", "overall")
#: Values of ``omie_otel.health.status``: 1 ok, 0.5 degraded, 0 fail (a check whose status is unknown has no point).
OMIE_OTEL_HEALTH_VALUES: Final = {"ok": 1.0, "degraded": 0.5, "fail": 0.0}
#: Values of ``omie_otel.signal``.
OMIE_OTEL_SIGNALS: Final = ("traces", "metrics", "logs")
#: ``error.type`` values on ``omie_otel.export.dropped`` (the SDK's own names for why a batch processor dropped).
DROP_QUEUE_FULL: Final = "queue_full"
DROP_ALREADY_SHUTDOWN: Final = "already_shutdown"
#: Still queued (or handed to an exporter that never answered) when the shutdown deadline passed at exit.
DROP_SHUTDOWN: Final = "shutdown"
