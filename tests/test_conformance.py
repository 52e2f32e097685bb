"""Conformance with the OpenTelemetry semantic-conventions registry, read from pinned registry data.

The registry data is the ``opentelemetry-semantic-conventions`` package (installed with the SDK; it is generated from
the semantic-conventions registry, schema 1.44.0 for the version pinned in our test environment — see
``REGISTRY_SCHEMA``): every attribute and metric constant with its docstring (``Deprecated: ...`` marks deprecated
names), every ``create_<metric>`` helper with its instrument kind and unit, and the enums of well-known values. MCP
names live there too (``mcp_attributes`` / ``mcp_metrics``).

A realistic workload runs in memory (MCP tool calls, an unknown tool, a failing resource, an MCP session, Omie calls
with faults and a transport error, host and process metrics, a registered connection pool, the health gauge); the test
fails on any emitted metric whose name, instrument kind or unit contradicts the registry, on any emitted attribute
name the registry does not define (or defines as deprecated), and on any value outside a closed registry enum. Our own
``omie.*`` / ``omie_otel.*`` names must be constants of :mod:`omie_otel.semconv`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
import pytest
from fastmcp import Client, FastMCP
from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

import omie_otel
from omie_otel import health
from omie_otel import semconv as ours
from omie_otel.host_metrics import register_pool
from tests.test_omie import FAULTS, OMIE, body, ok_page

FASTMCP_MAJOR = int(__import__("fastmcp").__version__.split(".")[0])
#: The registry version the installed opentelemetry-semantic-conventions package was generated from.
REGISTRY_SCHEMA = "https://opentelemetry.io/schemas/1.44.0"
#: Attribute prefixes that are neither the registry's nor ours: FastMCP's own span attributes (FastMCP >= 3).
FOREIGN_PREFIXES = ("fastmcp.",)
#: Set by the SDK itself on every ``record_exception`` event (deprecated in the registry, not ours to drop).
SDK_OWNED = frozenset({"exception.escaped"})
#: How semconv 1.44 marks the gen_ai.* / mcp.* names that moved to the GenAI registry (semantic-conventions-genai,
#: which defines them; we follow its MCP conventions, see omie_otel.semconv): moved, not deprecated.
MOVED_TO_GENAI = "Deprecated: Moved to the [OpenTelemetry GenAI semantic conventions repository]"
#: Attributes whose registry enum is closed for our purposes: a value outside it is a bug.
CLOSED_ENUMS = {
    "cpu.mode": "CpuModeValues",
    "network.io.direction": "NetworkIoDirectionValues",
    "network.transport": "NetworkTransportValues",
    "system.memory.state": "SystemMemoryStateValues",
    "system.filesystem.state": "SystemFilesystemStateValues",
    "gen_ai.operation.name": "GenAiOperationNameValues",
    "http.request.method": "HttpRequestMethodValues",
}
_KINDS = {
    "create_counter": "counter",
    "create_observable_counter": "counter",
    "create_up_down_counter": "updowncounter",
    "create_observable_up_down_counter": "updowncounter",
    "create_histogram": "histogram",
    "create_gauge": "gauge",
    "create_observable_gauge": "gauge",
}


@dataclass(frozen=True)
class Name:
    value: str
    deprecated: bool


@dataclass(frozen=True)
class Metric:
    kind: str
    unit: str


@dataclass
class Registry:
    attributes: dict[str, Name]
    metrics: dict[str, Name]
    instruments: dict[str, Metric]
    enums: dict[str, type[Enum]]


def _constants(module: Any) -> dict[str, Name]:
    """``CONST: Final = "a.b"`` of a generated module, with "Deprecated" read from the docstring that follows it."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, Name] = {}
    statements = tree.body
    for i, node in enumerate(statements):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            continue
        doc = ""
        nxt = statements[i + 1] if i + 1 < len(statements) else None
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
            doc = nxt.value.value.strip()
        found[node.target.id] = Name(
            node.value.value, doc.startswith("Deprecated") and not doc.startswith(MOVED_TO_GENAI)
        )
    return found


def _instruments(module: Any, constants: dict[str, Name]) -> dict[str, Metric]:
    """Each ``create_<metric>(meter)`` helper: the ``meter.create_*`` call it makes, its ``name=`` and ``unit=``."""
    out: dict[str, Metric] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _KINDS):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        name_node, unit_node = kw.get("name"), kw.get("unit")
        if isinstance(name_node, ast.Name) and name_node.id in constants and isinstance(unit_node, ast.Constant):
            out[constants[name_node.id].value] = Metric(_KINDS[node.func.attr], str(unit_node.value))
    return out


@pytest.fixture(scope="module")
def registry() -> Registry:
    from opentelemetry.semconv.schemas import Schemas

    assert REGISTRY_SCHEMA in {s.value for s in Schemas}, "the pinned registry version is not installed"
    reg = Registry({}, {}, {}, {})
    for package in ("opentelemetry.semconv.attributes", "opentelemetry.semconv._incubating.attributes",
                    "opentelemetry.semconv.metrics", "opentelemetry.semconv._incubating.metrics"):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            constants = _constants(module)
            if package.endswith("attributes"):
                for const in constants.values():
                    if reg.attributes.get(const.value) is None or not const.deprecated:
                        reg.attributes[const.value] = const
                reg.enums.update({n: v for n, v in vars(module).items()
                                  if isinstance(v, type) and issubclass(v, Enum) and v is not Enum})
            else:
                for const in constants.values():  # a stable name wins over its deprecated incubating alias
                    if reg.metrics.get(const.value) is None or not const.deprecated:
                        reg.metrics[const.value] = const
                for metric_name, instrument in _instruments(module, constants).items():
                    if metric_name not in reg.instruments or not constants_deprecated(constants, metric_name):
                        reg.instruments[metric_name] = instrument
    assert len(reg.attributes) > 500 and "mcp.session.id" in reg.attributes
    assert reg.instruments["process.cpu.time"] == Metric("counter", "s")  # the parser reads what it should
    assert reg.metrics["process.open_file_descriptor.count"].deprecated
    return reg


def constants_deprecated(constants: dict[str, Name], value: str) -> bool:
    return any(c.deprecated for c in constants.values() if c.value == value)


def _our_names() -> set[str]:
    return {v for k, v in vars(ours).items() if k.isupper() and isinstance(v, str)}


def _kind(data: Any) -> str:
    if isinstance(data, Sum):
        return "counter" if data.is_monotonic else "updowncounter"
    if isinstance(data, Gauge):
        return "gauge"
    if isinstance(data, Histogram):
        return "histogram"
    return type(data).__name__


def _workload_server() -> FastMCP:
    mcp = FastMCP("conformance")

    @mcp.tool
    def listar_clientes(pagina: int = 1) -> str:
        with httpx.Client(transport=httpx.MockTransport(ok_page)) as client:
            return client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=pagina)).text[:20]

    @mcp.tool
    def redundante() -> str:
        with httpx.Client(transport=httpx.MockTransport(lambda r: FAULTS["redundant"]())) as client:
            return str(client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=2)).status_code)

    @mcp.tool
    def fora_do_ar() -> str:
        def boom(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("recusada", request=request)

        with httpx.Client(transport=httpx.MockTransport(boom)) as client:
            client.post(OMIE + "geral/clientes/", json=body("ListarClientes", pagina=3))
        return "inalcançável"

    @mcp.resource("omie://status")
    def status() -> str:
        return "ok"

    @mcp.prompt
    def resumo(periodo: str) -> str:
        return f"Resuma {periodo}"

    return mcp


async def _run_workload(telemetry: Any) -> None:
    mcp = _workload_server()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, host_metrics=True,
                         health_memory_threshold=100, health_disk_threshold=100)
    kw = {"mode": "legacy"} if FASTMCP_MAJOR >= 4 else {}
    with httpx.Client(limits=httpx.Limits(max_connections=8)) as pooled:
        register_pool("omie", pooled)
        async with Client(mcp, **kw) as client:
            await client.list_tools()
            await client.call_tool("listar_clientes", {"pagina": 1})
            await client.call_tool("redundante", {})
            await client.call_tool("fora_do_ar", {}, raise_on_error=False)
            await client.call_tool("nao_existe", {}, raise_on_error=False)
            await client.call_tool("listar_clientes", {"pagina": "x"}, raise_on_error=False)
            await client.read_resource("omie://status")
            with pytest.raises(Exception, match="omie://nada"):
                await client.read_resource("omie://nada")
            await client.get_prompt("resumo", {"periodo": "11/2026"})
        health.check()
        telemetry.reader.collect()  # host CPU baselines: the next collection has utilizations
        emitted = telemetry.reader.get_metrics_data()
    telemetry.emitted = emitted


def _attribute_problems(where: str, attributes: Any, registry: Registry, mine: set[str]) -> list[str]:
    problems = []
    for key, value in (attributes or {}).items():
        if key.startswith(("omie.", "omie_otel.")):
            if key not in mine:
                problems.append(f"{where}: {key} is ours but not a constant of omie_otel.semconv")
            continue
        if key.startswith(FOREIGN_PREFIXES) or key in SDK_OWNED:
            continue
        known = registry.attributes.get(key)
        if known is None:
            problems.append(f"{where}: attribute {key} is not in the registry")
        elif known.deprecated:
            problems.append(f"{where}: attribute {key} is deprecated in the registry")
        enum = registry.enums.get(CLOSED_ENUMS.get(key, ""))
        if enum is not None and value not in {m.value for m in enum}:
            problems.append(f"{where}: {key}={value!r} is not one of {sorted(m.value for m in enum)}")
    return problems


async def test_every_emitted_name_kind_unit_and_value_matches_the_registry(telemetry: Any, registry: Registry) -> None:
    await _run_workload(telemetry)
    mine = _our_names()
    problems: list[str] = []
    seen: set[str] = set()
    for rm in telemetry.emitted.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                seen.add(metric.name)
                where = f"metric {metric.name}"
                if metric.name.startswith(("omie.", "omie_otel.")):
                    if metric.name not in mine:
                        problems.append(f"{where}: ours but not a constant of omie_otel.semconv")
                else:
                    known = registry.metrics.get(metric.name)
                    expected = registry.instruments.get(metric.name)
                    if known is None or expected is None:
                        problems.append(f"{where}: not in the registry")
                    else:
                        if known.deprecated:
                            problems.append(f"{where}: deprecated in the registry")
                        if _kind(metric.data) != expected.kind:
                            problems.append(f"{where}: a {_kind(metric.data)}, the registry says {expected.kind}")
                        if metric.unit != expected.unit:
                            problems.append(f"{where}: unit {metric.unit!r}, the registry says {expected.unit!r}")
                for point in metric.data.data_points:
                    problems += _attribute_problems(where, point.attributes, registry, mine)
    # Ours: the MCP SERVER spans (FastMCP's, enriched by us, on FastMCP >= 3) and the Omie CLIENT spans; the MCP
    # client's own spans in this process belong to FastMCP's client, not to this library.
    for span in [s for s in telemetry.finished() if s.kind.name == "SERVER" or s.name.startswith("omie ")]:
        problems += _attribute_problems(f"span {span.name!r}", span.attributes, registry, mine)
        for event in span.events:
            problems += _attribute_problems(f"span {span.name!r} event {event.name}", event.attributes, registry, mine)
    assert problems == [], "\n".join(sorted(set(problems)))
    # The workload really exercised what it claims (else the test could pass on nothing).
    assert {"mcp.server.operation.duration", "mcp.server.session.duration", "http.client.request.duration",
            "omie.client.request.duration", "process.cpu.utilization", "system.cpu.time",
            "process.unix.file_descriptor.count", "system.network.io", "omie.client.pool.utilization",
            "omie_otel.health.status"} <= seen, sorted(seen)


def test_the_check_catches_a_contradiction(registry: Registry) -> None:
    mine = _our_names()
    assert _attribute_problems("x", {"process.cpu.state": "user"}, registry, mine)  # deprecated
    assert _attribute_problems("x", {"cpu.mode": "busy"}, registry, mine)  # not a cpu.mode value
    assert _attribute_problems("x", {"omie.invented": 1}, registry, mine)  # ours, undeclared
    assert _attribute_problems("x", {"mcp.sesion.id": "typo"}, registry, mine)  # not in the registry
    assert _attribute_problems("x", {"cpu.mode": "user", "mcp.session.id": "a", "omie.call": "b"}, registry, mine) == []
    assert registry.instruments["http.client.request.duration"] == Metric("histogram", "s")
    assert registry.instruments["process.unix.file_descriptor.count"] == Metric("updowncounter", "{file_descriptor}")
