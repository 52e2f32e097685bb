"""The example Omie MCP server (examples/omie_mcp_server) against the simulator: tools, Omie's faults and limits,
the telemetry it yields once instrumented, and a real stdio run."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from opentelemetry.trace import SpanKind, StatusCode

import omie_otel
from examples.omie_mcp_server import OmieClient, OmieError, OmieSettings, build_server
from examples.omie_mcp_server.client import OMIE_API_URL, SIMULATOR_API_URL, api_prefix
from omie_otel import semconv as sc
from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, OmieSimulator, serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
#: The real Omie's URL, served in process by the simulator, so instrument()'s default prefix matches.
OMIE_URL = "https://app.omie.com.br/api/"
SETTINGS = OmieSettings(OMIE_URL + "v1/", DEFAULT_APP_KEY, DEFAULT_APP_SECRET, simulator=True)
MAY_2025 = {"data_inicio": "01/05/2025", "data_fim": "31/05/2025"}


class Sleeps:
    """An async sleep that records what it was asked and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(sim: OmieSimulator | None = None, **options: Any) -> tuple[Any, OmieClient, OmieSimulator, Sleeps]:
    """A server over a client over the in-process simulator; waits between retries are recorded, not slept."""
    sim = sim if sim is not None else OmieSimulator(seed=7)
    sleeps = Sleeps()
    options.setdefault("max_retry_wait", 0.2)
    client = OmieClient(SETTINGS, transport=httpx.ASGITransport(app=sim), sleep=sleeps, **options)
    return build_server(client), client, sim, sleeps


async def call(mcp: Any, tool: str, args: dict[str, Any] | None = None) -> Any:
    async with Client(mcp) as client:
        return await client.call_tool(tool, args or {}, raise_on_error=False)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return result.content[0].text


# --- the tools ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args", "check"),
    [
        ("testar_conexao", {}, lambda r: r["conectado"] and r["empresa"] and r["simulador"]),
        ("consultar_clientes", {"registros_por_pagina": 5}, lambda r: len(r["clientes"]) == 5),
        ("consultar_categorias", {}, lambda r: r["total"] == len(r["categorias"]) > 0),
        ("consultar_departamentos", {}, lambda r: r["total"] == len(r["departamentos"]) == 8),
        ("consultar_tipos_documento", {}, lambda r: r["total"] == len(r["tipos_documento"]) > 1),
        ("consultar_tipos_documento", {"codigo": "bol"}, lambda r: r["tipos_documento"][0]["codigo"] == "BOL"),
        ("consultar_contas_pagar", MAY_2025, lambda r: r["total_de_registros"] > 0 and r["contas"]),
        ("consultar_contas_receber", {**MAY_2025, "data_fim": "2025-05-31"}, lambda r: r["contas"]),
    ],
)
async def test_each_tool_answers_from_omie(tool: str, args: dict[str, Any], check: Any) -> None:
    mcp, *_ = make()
    result = await call(mcp, tool, args)
    assert not result.is_error, result.content
    assert check(result.structured_content), result.structured_content


async def test_consultar_clientes_filters_by_document_and_pages() -> None:
    mcp, _, sim, _ = make()
    first = sim.records("clientes")[0]
    found = (await call(mcp, "consultar_clientes", {"cnpj_cpf": first["cnpj_cpf"]})).structured_content
    assert [c["codigo_cliente_omie"] for c in found["clientes"]] == [first["codigo_cliente_omie"]]
    page = (await call(mcp, "consultar_clientes", {"pagina": 2, "registros_por_pagina": 50})).structured_content
    assert page["pagina"] == 2 and page["total_de_registros"] == len(sim.records("clientes"))


async def test_consultar_cliente_and_its_not_found() -> None:
    mcp, _, sim, _ = make()
    code = sim.records("clientes")[3]["codigo_cliente_omie"]
    found = (await call(mcp, "consultar_cliente", {"codigo_cliente_omie": code})).structured_content
    assert found["codigo_cliente_omie"] == code and found["cep"]
    assert "não encontrado" in error_text(await call(mcp, "consultar_cliente", {"codigo_cliente_omie": 1}))


async def test_cadastrar_cliente_generates_the_integration_code() -> None:
    mcp, _, sim, _ = make()
    args = {"razao_social": "Padaria Pão de Mel Ltda", "cnpj_cpf": "11.222.333/0001-81", "email": "oi@paodemel.com.br"}
    created = (await call(mcp, "cadastrar_cliente", args)).structured_content
    assert created["codigo_cliente_integracao"].startswith("mcp-")
    stored = [c for c in sim.records("clientes") if c["codigo_cliente_omie"] == created["codigo_cliente_omie"]]
    assert stored and stored[0]["razao_social"] == args["razao_social"] and stored[0]["nome_fantasia"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"cnpj_cpf": "11.222.333/0001-80"}, "CNPJ/CPF inválido"),
        ({"email": "sem-arroba"}, "E-mail inválido"),
    ],
)
async def test_cadastrar_cliente_checks_input_before_calling_omie(args: dict[str, Any], message: str) -> None:
    mcp, _, sim, _ = make()
    base = {"razao_social": "Mercado Bom Preço", "cnpj_cpf": "529.982.247-25", "email": "a@b.com.br"}
    assert message in error_text(await call(mcp, "cadastrar_cliente", {**base, **args}))
    assert "IncluirCliente" not in sim.stats.calls


async def test_bad_dates_are_refused_in_portuguese() -> None:
    mcp, _, sim, _ = make()
    text = error_text(await call(mcp, "consultar_contas_pagar", {"data_inicio": "31/13/2025", "data_fim": "x"}))
    assert "data_inicio inválida" in text and "dd/mm/aaaa" in text
    text = error_text(await call(mcp, "consultar_contas_pagar", {"data_inicio": "02/05/2025", "data_fim": "01/05/2025"}))
    assert "posterior" in text
    assert sim.stats.requests == 0


async def test_status_resource_reports_state_without_secrets() -> None:
    mcp, _, sim, _ = make()
    sim.inject_fault("server_error", call="ListarClientes", times=10)
    await call(mcp, "consultar_clientes")
    async with Client(mcp) as client:
        text = (await client.read_resource("omie://status"))[0].text
    status = json.loads(text)
    assert status["estado"] == "instavel"
    assert status["ultima_falha"]["tipo"] == "server_error" and status["ultima_falha"]["metodo"] == "ListarClientes"
    assert DEFAULT_APP_KEY not in text and DEFAULT_APP_SECRET not in text


# --- Omie's faults and limits ---------------------------------------------------------------------------------------


async def test_redundant_is_retried_after_the_capped_wait_then_succeeds() -> None:
    mcp, _, sim, sleeps = make(max_retry_wait=0.2)
    sim.inject_fault("redundant", call="ListarClientes", times=1)  # "Aguarde 60 segundos"
    result = await call(mcp, "consultar_clientes", {"registros_por_pagina": 3})
    assert not result.is_error and len(result.structured_content["clientes"]) == 3
    assert sleeps.waits == [0.2]
    assert sim.stats.calls["ListarClientes"] == 2 and sim.stats.faults == {"redundant": 1}


async def test_misuse_block_is_never_retried_and_then_refused_locally() -> None:
    mcp, _, sim, sleeps = make()
    sim.inject_fault("misuse_blocked", call="ListarClientes", times=5)
    text = error_text(await call(mcp, "consultar_clientes"))
    assert "bloqueou" in text and "aguarde 1800 s" in text
    assert sim.stats.calls["ListarClientes"] == 1 and sleeps.waits == []
    assert "bloqueou" in error_text(await call(mcp, "consultar_clientes", {"pagina": 2}))
    assert sim.stats.calls["ListarClientes"] == 1  # the block is honoured without asking Omie again
    assert not (await call(mcp, "consultar_categorias")).is_error  # other methods are not blocked


@pytest.mark.parametrize("kind", ["validation", "auth", "duplicate_request"])
async def test_input_and_credential_errors_are_not_retried(kind: str) -> None:
    mcp, _, sim, sleeps = make()
    sim.inject_fault(kind, call="ListarCategorias", times=1)
    text = error_text(await call(mcp, "consultar_categorias"))
    assert sim.stats.calls["ListarCategorias"] == 1 and sleeps.waits == []
    assert DEFAULT_APP_KEY not in text and DEFAULT_APP_SECRET not in text


async def test_retries_are_bounded_and_back_off() -> None:
    mcp, _, sim, sleeps = make(max_retry_wait=10.0, backoff=0.5)
    sim.inject_fault("server_error", call="ListarClientes", times=10)
    assert "instável" in error_text(await call(mcp, "consultar_clientes"))
    assert sim.stats.calls["ListarClientes"] == 4  # 1 + max_retries
    assert len(sleeps.waits) == 3 and all(0.5 * 2**i * 0.5 <= w <= 0.5 * 2**i for i, w in enumerate(sleeps.waits))


async def test_rate_limit_waits_for_retry_after_capped() -> None:
    mcp, _, sim, sleeps = make(max_retry_wait=0.3)
    sim.inject_fault("rate_limited", call="ListarDepartamentos", times=2)
    assert not (await call(mcp, "consultar_departamentos")).is_error
    assert sleeps.waits == [0.3, 0.3]  # the 429's retry-after: 60, capped


async def test_a_write_is_resent_only_when_omie_surely_did_nothing() -> None:
    args = {"razao_social": "Oficina do Zé", "cnpj_cpf": "529.982.247-25", "email": "ze@oficina.com.br"}
    mcp, _, sim, _ = make()
    sim.inject_fault("concurrent_request", call="IncluirCliente", times=1)
    assert not (await call(mcp, "cadastrar_cliente", args)).is_error
    assert sim.stats.calls["IncluirCliente"] == 2
    sim.inject_fault("server_error", call="IncluirCliente", times=1)  # "Broken response": maybe applied
    assert "instável" in error_text(await call(mcp, "cadastrar_cliente", args))
    assert sim.stats.calls["IncluirCliente"] == 3


async def test_no_records_is_an_empty_list_not_an_error() -> None:
    mcp, _, sim, _ = make()
    sim.inject_fault("no_records", call="ListarContasPagar", times=1)
    result = await call(mcp, "consultar_contas_pagar", MAY_2025)
    assert not result.is_error
    assert result.structured_content["contas"] == [] and result.structured_content["total_de_registros"] == 0
    natural = await call(mcp, "consultar_clientes", {"razao_social": "Nenhuma Empresa Com Esse Nome"})
    assert natural.structured_content["clientes"] == []
    assert sim.stats.faults == {"no_records": 2}


async def test_identical_queries_are_answered_from_cache_not_redundant() -> None:
    mcp, _, sim, _ = make()
    first = await call(mcp, "consultar_tipos_documento")
    second = await call(mcp, "consultar_tipos_documento")
    assert first.structured_content == second.structured_content
    assert sim.stats.calls["PesquisarTipoDocumento"] == 1 and not sim.stats.faults


async def test_identical_concurrent_queries_reach_omie_once() -> None:
    mcp, _, sim, _ = make(OmieSimulator(seed=7, latency_ms=30))
    async with Client(mcp) as client:
        results = await asyncio.gather(*(client.call_tool("consultar_clientes", {"pagina": 1}) for _ in range(8)))
    assert len({json.dumps(r.structured_content) for r in results}) == 1
    assert sim.stats.calls["ListarClientes"] == 1 and not sim.stats.faults  # no REDUNDANT for the 5th to 8th


async def test_testar_conexao_asks_omie_once_a_minute_and_reports_the_latest_fault() -> None:
    mcp, _, sim, _ = make()
    for _ in range(3):
        result = (await call(mcp, "testar_conexao")).structured_content
        assert result["conectado"] and result["estado"] == "ok"
    sim.inject_fault("server_error", call="ListarClientes", times=10)
    assert (await call(mcp, "consultar_clientes")).is_error
    result = (await call(mcp, "testar_conexao")).structured_content
    assert result["estado"] == "instavel" and result["ultima_falha"]["tipo"] == "server_error"
    assert sim.stats.calls["ListarEmpresas"] == 1 and "redundant" not in sim.stats.faults


async def test_concurrency_never_exceeds_omies_limit() -> None:
    sim = OmieSimulator(seed=7, latency_ms=30, latency_jitter_ms=20)
    mcp, *_ = make(sim, cache_ttl=0)
    writes = [
        {"razao_social": f"Cliente {i}", "cnpj_cpf": "529.982.247-25", "email": f"c{i}@x.com.br"} for i in range(4)
    ]
    async with Client(mcp) as client:
        results = await asyncio.gather(
            *(client.call_tool("consultar_clientes", {"pagina": p, "registros_por_pagina": 5}) for p in range(1, 21)),
            *(client.call_tool("consultar_contas_receber", {**MAY_2025, "pagina": p}) for p in range(1, 9)),
            *(client.call_tool("cadastrar_cliente", args) for args in writes),
        )
    assert not any(r.is_error for r in results)
    assert "concurrent_request" not in sim.stats.faults, sim.stats.faults
    assert sim.stats.calls["ListarClientes"] == 20 and sim.stats.calls["IncluirCliente"] == 4


async def test_paginate_walks_every_page() -> None:
    _, client, sim, _ = make()
    codes = [c["codigo_cliente_omie"] async for c in client.paginate(
        "geral/clientes", "ListarClientes", {"apenas_importado_api": "N"}, list_field="clientes_cadastro", page_size=50
    )]
    assert codes == [c["codigo_cliente_omie"] for c in sim.records("clientes")]
    assert sim.stats.calls["ListarClientes"] == 3


async def test_omie_error_carries_the_classified_fault() -> None:
    _, client, sim, _ = make()
    sim.inject_fault("validation", call="ListarClientes", times=1)
    with pytest.raises(OmieError) as caught:
        await client.call("geral/clientes", "ListarClientes", {"pagina": 1})
    assert caught.value.fault.kind == "validation" and caught.value.fault.code == "71"
    assert caught.value.call == "ListarClientes" and caught.value.endpoint == "geral/clientes"


# --- settings -------------------------------------------------------------------------------------------------------


def test_settings_default_to_the_simulator_without_keys() -> None:
    settings = OmieSettings.from_env({})
    assert settings.api_url == SIMULATOR_API_URL and settings.simulator
    assert settings.app_key == DEFAULT_APP_KEY and DEFAULT_APP_SECRET not in repr(settings)
    assert settings.telemetry_url == "http://127.0.0.1:8765/api/"


def test_settings_default_to_the_real_omie_with_keys() -> None:
    settings = OmieSettings.from_env({"OMIE_APP_KEY": "111", "OMIE_APP_SECRET": "segredo"})
    assert settings.api_url == OMIE_API_URL and not settings.simulator and "segredo" not in repr(settings)
    assert settings.telemetry_url == OMIE_URL


@pytest.mark.parametrize(
    "env",
    [{"OMIE_APP_KEY": "111"}, {"OMIE_API_URL": "https://app.omie.com.br/api/v1/"}],
)
def test_settings_refuse_half_configurations(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="OMIE_APP_KEY"):
        OmieSettings.from_env(env)


def test_settings_complete_an_api_url_without_version() -> None:
    assert OmieSettings.from_env({"OMIE_API_URL": "http://127.0.0.1:9/api"}).api_url == "http://127.0.0.1:9/api/v1/"
    assert api_prefix("https://proxy.example.com/omie/api/v1/") == "https://proxy.example.com/omie/api/"


# --- telemetry ------------------------------------------------------------------------------------------------------


def omie_spans(telemetry: Any, call: str) -> list[Any]:
    return telemetry.finished(SpanKind.CLIENT, f"omie {call}")


def tool_span(telemetry: Any, tool: str) -> Any:
    spans = [s for s in telemetry.server_spans() if s.attributes.get(sc.GEN_AI_TOOL_NAME) == tool]
    assert len(spans) == 1, [s.name for s in telemetry.server_spans()]
    return spans[0]


async def test_tool_span_has_the_omie_call_as_child(telemetry: Any) -> None:
    mcp, *_ = make()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, omie_url=OMIE_URL)
    result = await call(mcp, "consultar_clientes", {"pagina": 2, "registros_por_pagina": 10})
    assert not result.is_error

    server = tool_span(telemetry, "consultar_clientes")
    assert server.name == "tools/call consultar_clientes" and server.kind is SpanKind.SERVER
    (client,) = omie_spans(telemetry, "ListarClientes")
    assert client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert client.attributes[sc.OMIE_CALL] == "ListarClientes"
    assert client.attributes[sc.OMIE_PAGE] == 2
    assert client.attributes[sc.OMIE_RECORDS_PER_PAGE] == 10
    assert client.attributes[sc.OMIE_TOTAL_RECORDS] == 120
    assert sc.OMIE_FAULT_KIND not in client.attributes
    assert DEFAULT_APP_SECRET not in json.dumps(dict(client.attributes))


async def test_faulted_omie_calls_carry_their_kind(telemetry: Any) -> None:
    mcp, _, sim, _ = make()
    omie_otel.instrument(mcp, meter_provider=telemetry.meter_provider, omie_url=OMIE_URL)
    sim.inject_fault("server_error", call="ListarCategorias", times=1)
    sim.inject_fault("misuse_blocked", call="ListarDepartamentos", times=1)
    assert not (await call(mcp, "consultar_categorias")).is_error
    assert (await call(mcp, "consultar_departamentos")).is_error

    failed, retried = omie_spans(telemetry, "ListarCategorias")
    assert failed.attributes[sc.OMIE_FAULT_KIND] == "server_error" and failed.status.status_code is StatusCode.ERROR
    assert sc.OMIE_FAULT_KIND not in retried.attributes
    server = tool_span(telemetry, "consultar_categorias")
    assert {failed.parent.span_id, retried.parent.span_id} == {server.context.span_id}

    (blocked,) = omie_spans(telemetry, "ListarDepartamentos")
    assert blocked.attributes[sc.OMIE_FAULT_KIND] == "misuse_blocked"
    assert blocked.attributes[sc.OMIE_RETRY_AFTER] == 1800
    assert tool_span(telemetry, "consultar_departamentos").attributes[sc.ERROR_TYPE] == sc.ERROR_TOOL
    faults = {p.attributes[sc.OMIE_FAULT_KIND]: p.value for p in telemetry.points(sc.OMIE_CLIENT_FAULTS)}
    assert faults == {"server_error": 1, "misuse_blocked": 1}


# --- the real stdio transport ---------------------------------------------------------------------------------------


async def test_stdio_server_answers_from_the_simulator_on_a_port() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMIE_APP_", "OMIE_API_", "OTEL_"))}
    with serve_in_thread(OmieSimulator(seed=7)) as url:
        env.update({"OMIE_API_URL": url + "v1/", "OTEL_SDK_DISABLED": "true"})
        transport = StdioTransport(sys.executable, ["-m", "examples.omie_mcp_server"], env=env, cwd=str(ROOT))
        async with Client(transport) as client:
            result = await client.call_tool("consultar_clientes", {"registros_por_pagina": 3})
    assert len(result.structured_content["clientes"]) == 3
    assert result.structured_content["total_de_registros"] == 120
