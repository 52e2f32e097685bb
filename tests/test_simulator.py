"""The Omie simulator: wire format, data, paging, headers, limits and every fault, through httpx.ASGITransport.

Time never passes for real: a fake monotonic clock drives every window and the latency sleep is injected.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

import omie_otel.simulator
from omie_otel.simulator import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FAULT_KINDS,
    OmieSimulator,
    SimulatorConfig,
    serve_in_thread,
)
from tests.helpers.net import stop

BASE_URL = "https://app.omie.com.br"
CLIENTES = "geral/clientes"
#: 11/07/2025 13:44:23 UTC, the date of the recorded live responses; 10:44:23 in Brasília.
WALL_CLOCK = datetime(2025, 7, 11, 13, 44, 23, tzinfo=timezone.utc).timestamp()


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps:
    """An async sleep that returns at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_sim(clock: FakeClock, sleep: Any, **settings: Any) -> OmieSimulator:
    return OmieSimulator(clock=clock, sleep=sleep, wall_clock=lambda: WALL_CLOCK, **{"seed": 7, **settings})


@pytest.fixture
def sim(clock: FakeClock, sleeps: Sleeps) -> OmieSimulator:
    return make_sim(clock, sleeps)


async def open_client(app: OmieSimulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@pytest.fixture
async def client(sim: OmieSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with await open_client(sim) as http:
        yield http


async def post(
    http: httpx.AsyncClient,
    call: str,
    param: Any = None,
    *,
    service: str = CLIENTES,
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    headers: dict[str, str] | None = None,
    raw_param: bool = False,
) -> httpx.Response:
    """POST one call the way Omie clients do; ``param`` is wrapped in a list unless ``raw_param``."""
    body = omie_body(call, param, app_key=app_key, app_secret=app_secret, raw_param=raw_param)
    return await http.post(f"/api/v1/{service}/", json=body, headers=headers)


def omie_body(
    call: str,
    param: Any = None,
    *,
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    raw_param: bool = False,
) -> dict[str, Any]:
    """``{"call", "app_key", "app_secret", "param": [param]}``."""
    wrapped = param if raw_param else [param if param is not None else {}]
    return {"call": call, "app_key": app_key, "app_secret": app_secret, "param": wrapped}


def assert_fault(response: httpx.Response, status: int, faultcode: str, faultstring: str, header: str) -> None:
    assert response.status_code == status
    assert response.json() == {"faultstring": faultstring, "faultcode": faultcode}
    assert list(response.json()) == ["faultstring", "faultcode"]
    assert response.headers["omieapi-error"] == header


def page(n: int, size: int = 50) -> dict[str, int]:
    return {"pagina": n, "registros_por_pagina": size}


# --- check digits, written independently of the simulator --------------------------------------------------------


def _dv(numbers: list[int], weights: list[int]) -> int:
    rest = sum(n * w for n, w in zip(numbers, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf_ok(text: str) -> bool:
    n = [int(c) for c in text if c.isdigit()]
    return len(n) == 11 and n[9] == _dv(n[:9], list(range(10, 1, -1))) and n[10] == _dv(n[:10], list(range(11, 1, -1)))


def cnpj_ok(text: str) -> bool:
    n = [int(c) for c in text if c.isdigit()]
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    return len(n) == 14 and n[12] == _dv(n[:12], w1) and n[13] == _dv(n[:13], [6, *w1])


def test_check_digit_helpers_know_good_from_bad() -> None:
    assert cpf_ok("529.982.247-25") and not cpf_ok("529.982.247-26")
    assert cnpj_ok("11.222.333/0001-81") and not cnpj_ok("11.222.333/0001-80")


# --- surface ------------------------------------------------------------------------------------------------------


def test_public_surface_is_exactly_the_curated_names() -> None:
    assert sorted(omie_otel.simulator.__all__) == [
        "DEFAULT_APP_KEY",
        "DEFAULT_APP_SECRET",
        "FAULT_KINDS",
        "OmieSimulator",
        "SimulatorConfig",
        "SimulatorStats",
        "serve_in_thread",
    ]
    assert DEFAULT_APP_KEY == "1234567890123"
    assert DEFAULT_APP_SECRET == "s3cr3t-demo-omie-simulator"


# --- data and paging ----------------------------------------------------------------------------------------------


async def test_snake_paging_totals_are_consistent_and_5113_past_the_end(client: httpx.AsyncClient) -> None:
    codes = []
    for n, expected in ((1, 50), (2, 50), (3, 20)):
        body = (await post(client, "ListarClientes", page(n))).json()
        assert list(body)[:4] == ["pagina", "total_de_paginas", "registros", "total_de_registros"]
        assert (body["pagina"], body["total_de_paginas"], body["registros"], body["total_de_registros"]) == (
            n,
            3,
            expected,
            120,
        )
        assert len(body["clientes_cadastro"]) == expected
        codes += [c["codigo_cliente_omie"] for c in body["clientes_cadastro"]]
    assert len(set(codes)) == 120 and codes == sorted(codes)
    assert_fault(
        await post(client, "ListarClientes", page(4)),
        500,
        "SOAP-ENV:Client-5113",
        "ERROR: Não existem registros para a página [4]!",
        "5113 - Não existem registros para a página [4]!",
    )


async def test_hung_paging_on_movimentos(client: httpx.AsyncClient) -> None:
    seen = 0
    for n, expected in ((1, 100), (2, 100), (3, 100), (4, 30)):
        body = (
            await post(client, "ListarMovimentos", {"nPagina": n, "nRegPorPagina": 100}, service="financas/mf")
        ).json()
        assert (body["nPagina"], body["nTotPaginas"], body["nRegistros"], body["nTotRegistros"]) == (
            n,
            4,
            expected,
            330,
        )
        assert set(body["movimentos"][0]) == {"detalhes", "resumo", "departamentos", "categorias"}
        seen += len(body["movimentos"])
    assert seen == 330  # 150 contas a pagar + 180 a receber
    response = await post(client, "ListarMovimentos", {"nPagina": 5, "nRegPorPagina": 100}, service="financas/mf")
    assert response.status_code == 500
    assert response.json()["faultstring"] == "ERROR: Não existem registros para a página [5]!"


async def test_page_size_is_capped_at_500_and_categorias_at_100(clock: FakeClock, sleeps: Sleeps) -> None:
    sim = make_sim(clock, sleeps, records={"clientes": 600, "categorias": 250})
    async with await open_client(sim) as http:
        clients = (await post(http, "ListarClientes", page(1, 1000))).json()
        categories = (await post(http, "ListarCategorias", page(1, 500), service="geral/categorias")).json()
    assert (clients["registros"], clients["total_de_paginas"], clients["total_de_registros"]) == (500, 2, 600)
    assert (categories["registros"], categories["total_de_paginas"], categories["total_de_registros"]) == (100, 3, 250)


async def test_documents_have_valid_check_digits_and_omie_formatting(client: httpx.AsyncClient) -> None:
    clients = (await post(client, "ListarClientes", page(1, 500))).json()["clientes_cadastro"]
    people = [c for c in clients if c["pessoa_fisica"] == "S"]
    companies = [c for c in clients if c["pessoa_fisica"] == "N"]
    assert people and companies
    assert all(re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", c["cnpj_cpf"]) and cpf_ok(c["cnpj_cpf"]) for c in people)
    assert all(
        re.fullmatch(r"\d{2}\.\d{3}\.\d{3}/0001-\d{2}", c["cnpj_cpf"]) and cnpj_ok(c["cnpj_cpf"]) for c in companies
    )


async def test_client_records_look_like_omie(client: httpx.AsyncClient) -> None:
    clients = (await post(client, "ListarClientes", page(1, 500))).json()["clientes_cadastro"]
    required = {
        "codigo_cliente_omie", "codigo_cliente_integracao", "razao_social", "nome_fantasia", "cnpj_cpf", "email",
        "telefone1_ddd", "telefone1_numero", "endereco", "endereco_numero", "bairro", "cidade", "estado", "cep",
        "tags", "inativo", "pessoa_fisica", "info",
    }  # fmt: skip
    ufs = {"SP", "RJ", "MG", "ES", "PR", "SC", "RS", "DF", "GO", "MS", "MT", "BA", "PE", "CE", "RN", "PB", "AL",
           "SE", "MA", "PI", "PA", "AM"}  # fmt: skip
    for record in clients:
        assert required <= set(record)
        assert isinstance(record["codigo_cliente_omie"], int) and record["codigo_cliente_omie"] > 10**9
        assert record["estado"] in ufs and record["cidade"].endswith(f"({record['estado']})")
        assert re.fullmatch(r"\d{5}-\d{3}", record["cep"]) and re.fullmatch(r"\d{2}", record["telefone1_ddd"])
        assert record["inativo"] in ("S", "N") and record["pessoa_fisica"] in ("S", "N")
        assert set(record["info"]) == {"dInc", "hInc", "uInc", "dAlt", "hAlt", "uAlt", "cImpAPI"}
        for stamp in ("dInc", "dAlt"):
            assert datetime.strptime(record["info"][stamp], "%d/%m/%Y")
        assert all(set(tag) == {"tag"} for tag in record["tags"])
    with_code = [c for c in clients if c["codigo_cliente_integracao"]]
    assert with_code and all(re.fullmatch(r"CLI\d{5}", c["codigo_cliente_integracao"]) for c in with_code)


async def test_same_seed_same_answers_and_another_seed_other_data(clock: FakeClock, sleeps: Sleeps) -> None:
    answers = []
    for seed in (7, 7, 8):
        async with await open_client(make_sim(clock, sleeps, seed=seed)) as http:
            response = await post(http, "ListarClientes", page(1))
        answers.append((response.content, response.headers["x-omie-request-id"]))
    assert answers[0] == answers[1]
    assert answers[0][0] != answers[2][0] and answers[0][1] != answers[2][1]


# --- writes ---------------------------------------------------------------------------------------------------------


async def test_incluir_cliente_is_listed_afterwards_and_a_duplicate_is_102(client: httpx.AsyncClient) -> None:
    new = {
        "codigo_cliente_integracao": "ERP-0001",
        "razao_social": "Padaria Pão Quente Ltda",
        "cnpj_cpf": "11.222.333/0001-81",
    }
    created = await post(client, "IncluirCliente", new)
    assert created.status_code == 200
    body = created.json()
    omie_id = body["codigo_cliente_omie"]
    assert body == {
        "codigo_cliente_omie": omie_id,
        "codigo_cliente_integracao": "ERP-0001",
        "codigo_status": "0",
        "descricao_status": "Cliente cadastrado com sucesso!",
    }
    listed = (
        await post(client, "ListarClientes", {**page(1), "clientesFiltro": {"razao_social": "pão quente"}})
    ).json()
    assert listed["total_de_registros"] == 1
    record = listed["clientes_cadastro"][0]
    assert (record["codigo_cliente_omie"], record["pessoa_fisica"], record["importado_api"]) == (omie_id, "N", "S")
    assert (await post(client, "ListarClientes", page(3))).json()["total_de_registros"] == 121
    assert_fault(
        await post(client, "IncluirCliente", new),
        500,
        "SOAP-ENV:Client-102",
        f"ERROR: Cliente já cadastrado para o Código de Integração [ERP-0001] com o nCod [{omie_id}] !",
        f"102 - Cliente já cadastrado para o Código de Integração [ERP-0001] com o nCod [{omie_id}] !",
    )


async def test_alterar_upsert_excluir_cliente(client: httpx.AsyncClient) -> None:
    upserted = (
        await post(client, "UpsertCliente", {"codigo_cliente_integracao": "U-1", "razao_social": "Primeira"})
    ).json()
    assert upserted["descricao_status"] == "Cliente cadastrado com sucesso!"
    again = (
        await post(client, "UpsertCliente", {"codigo_cliente_integracao": "U-1", "razao_social": "Segunda"})
    ).json()
    assert (again["descricao_status"], again["codigo_cliente_omie"]) == (
        "Cliente alterado com sucesso!",
        upserted["codigo_cliente_omie"],
    )
    changed = await post(client, "AlterarCliente", {"codigo_cliente_integracao": "U-1", "nome_fantasia": "Terceira"})
    assert changed.json()["descricao_status"] == "Cliente alterado com sucesso!"
    record = (await post(client, "ConsultarCliente", {"codigo_cliente_integracao": "U-1"})).json()
    assert (record["razao_social"], record["nome_fantasia"]) == ("Segunda", "Terceira")
    deleted = await post(client, "ExcluirCliente", {"codigo_cliente_omie": upserted["codigo_cliente_omie"]})
    assert deleted.json()["descricao_status"] == "Cliente excluído com sucesso!"
    gone = await post(client, "ConsultarCliente", {"codigo_cliente_omie": upserted["codigo_cliente_omie"]})
    assert gone.json()["faultcode"] == "SOAP-ENV:Client-105"


async def test_lancar_pagamento_settles_the_bill(client: httpx.AsyncClient) -> None:
    customer = (await post(client, "ListarClientes", page(1, 1))).json()["clientes_cadastro"][0]["codigo_cliente_omie"]
    bill = {
        "codigo_lancamento_integracao": "CP-T1",
        "codigo_cliente_fornecedor": customer,
        "data_vencimento": "20/07/2025",
        "valor_documento": 300.0,
        "codigo_categoria": "2.02.01",
    }
    created = (await post(client, "IncluirContaPagar", bill, service="financas/contapagar")).json()
    assert created["descricao_status"] == "Lançamento cadastrado com sucesso!"
    code = created["codigo_lancamento_omie"]
    half = {"codigo_lancamento": code, "valor": 150.0, "data": "11/07/2025"}
    first = (await post(client, "LancarPagamento", half, service="financas/contapagar")).json()
    second = (
        await post(client, "LancarPagamento", {**half, "data": "12/07/2025"}, service="financas/contapagar")
    ).json()
    assert (first["liquidado"], second["liquidado"]) == ("N", "S")
    consulted = await post(
        client, "ConsultarContaPagar", {"codigo_lancamento_omie": code}, service="financas/contapagar"
    )
    assert consulted.json()["status_titulo"] == "PAGO"


async def test_extrato_balances_add_up(client: httpx.AsyncClient, sim: OmieSimulator) -> None:
    account = sim.records("contas_correntes")[1]["nCodCC"]
    param = {"nCodCC": account, "dPeriodoInicial": "01/01/2025", "dPeriodoFinal": "11/07/2025"}
    body = (await post(client, "ListarExtrato", param, service="financas/extrato")).json()
    assert body["listaMovimentos"]
    total = sum(m["nValorDocumento"] for m in body["listaMovimentos"])
    assert body["nSaldoAtual"] == pytest.approx(body["nSaldoAnterior"] + total, abs=0.01)
    assert body["listaMovimentos"][-1]["nSaldo"] == body["nSaldoAtual"]
    missing = await post(client, "ListarExtrato", {"dPeriodoInicial": "01/01/2025"}, service="financas/extrato")
    assert missing.json()["faultstring"] == "ERROR: O preenchimento da tag [nCodCC] é obrigatório!"


# --- wire format, routes and headers --------------------------------------------------------------------------------


async def test_headers_are_present_and_parseable(client: httpx.AsyncClient) -> None:
    for n in (1, 2):
        response = await post(client, "ListarClientes", page(n))
        headers = response.headers
        assert headers["content-type"] == "application/json; encoding=UTF-8"
        assert headers["server"] == "nginx"
        assert headers["x-omie-ratelimit"] == f"{n}/960 allow"
        used, limit, verdict, encoded = re.fullmatch(
            r"(\d+)/(\d+) (allow|deny) 10\.(\S+)", headers["x-omie-parallelratelimit"]
        ).groups()  # type: ignore[union-attr]
        assert (used, limit, verdict, base64.b64decode(encoded).decode()) == ("1", "4", "allow", "ListarClientes")
        assert uuid.UUID(headers["x-omie-request-id"]).version == 4
        assert headers["cache-control"].startswith("no-store")
        assert "omieapi-error" not in headers


async def test_unknown_path_is_omies_404(client: httpx.AsyncClient) -> None:
    response = await post(client, "ListarFornecedores", service="geral/fornecedores")
    assert response.status_code == 404
    assert response.content == b'{"error": {"status_code": 404,"status": "Not Found"}}'


async def test_missing_trailing_slash_redirects(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/geral/clientes?x=1", json={"call": "ListarClientes"})
    assert response.status_code == 301
    assert response.headers["location"] == "/api/v1/geral/clientes/?x=1"


async def test_get_returns_the_html_documentation(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/geral/clientes/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert "<code>ListarClientes</code>" in response.text and "clientes_cadastro_resumido" in response.text
    index = await client.get("/api/v1/")
    assert index.status_code == 200 and "/api/v1/financas/mf/" in index.text


async def test_mount_prefix_does_not_matter(client: httpx.AsyncClient) -> None:
    response = await client.post("/omie/api/v1/geral/clientes/", json=omie_body("ListarClientes", page(1)))
    assert response.status_code == 200 and response.json()["pagina"] == 1


# --- the fault catalogue ----------------------------------------------------------------------------------------------


async def test_bad_keys_are_403(client: httpx.AsyncClient) -> None:
    message = "A chave de acesso não está preenchida ou não é válida."
    for key, secret in ((DEFAULT_APP_KEY, "wrong"), ("", "")):
        assert_fault(
            await post(client, "ListarClientes", page(1), app_key=key, app_secret=secret),
            403,
            "SOAP-ENV:Server",
            message,
            f"SOAP-ENV:Server - {message}",
        )


@pytest.mark.parametrize("param", [[{}], [], None], ids=["empty-object", "empty-list", "missing"])
async def test_empty_param_is_71(client: httpx.AsyncClient, param: Any) -> None:
    assert_fault(
        await post(client, "ListarClientes", param, raw_param=True),
        500,
        "SOAP-ENV:Client-71",
        "ERROR: Nenhum parâmetro foi recebido em WS_PARAMS!",
        "71 - Nenhum parâmetro foi recebido em WS_PARAMS!",
    )


async def test_unknown_tag_is_5001(client: httpx.AsyncClient) -> None:
    unknown = "Tag [APENAS_CATEGORIA_DE_RECEITA] não faz parte da estrutura do tipo complexo [categoria_list_request]!"
    assert_fault(
        await post(
            client, "ListarCategorias", {**page(1), "apenas_categoria_de_receita": "S"}, service="geral/categorias"
        ),
        500,
        "SOAP-ENV:Client-5001",
        f"ERROR: {unknown}",
        f"5001 - {unknown}",
    )
    response = await post(client, "IncluirCliente", {"codigo_cliente_integracao": "X", "cliente_fornecedor": "C"})
    assert response.json()["faultstring"] == (
        "ERROR: Tag [CLIENTE_FORNECEDOR] não faz parte da estrutura do tipo complexo [clientes_cadastro]!"
    )


async def test_missing_required_field_is_103(client: httpx.AsyncClient) -> None:
    assert_fault(
        await post(client, "IncluirCliente", {"razao_social": "Sem Código Ltda"}),
        500,
        "SOAP-ENV:Client-103",
        "ERROR: O preenchimento da tag [codigo_cliente_integracao] é obrigatório!",
        "103 - O preenchimento da tag [codigo_cliente_integracao] é obrigatório!",
    )


async def test_consultar_missing_id_is_105(client: httpx.AsyncClient) -> None:
    assert_fault(
        await post(client, "ConsultarCliente", {"codigo_cliente_omie": 999999999}),
        500,
        "SOAP-ENV:Client-105",
        "ERROR: Cliente não cadastrado para o Código [999999999] !",
        "105 - Cliente não cadastrado para o Código [999999999] !",
    )


async def test_filter_without_hits_is_5113_page_1(client: httpx.AsyncClient) -> None:
    response = await post(client, "ListarClientes", {**page(1), "clientesFiltro": {"cnpj_cpf": "00.000.000/0000-00"}})
    assert response.json()["faultstring"] == "ERROR: Não existem registros para a página [1]!"


async def test_unknown_call_and_malformed_json(client: httpx.AsyncClient) -> None:
    unknown = await post(client, "ListarFornecedores")
    assert (unknown.status_code, unknown.json()) == (
        500,
        {
            "faultstring": "ERROR: O método [ListarFornecedores] não existe no serviço [geral/clientes]!",
            "faultcode": "SOAP-ENV:Client",
        },
    )
    broken = await client.post("/api/v1/geral/clientes/", content=b'{"call": "ListarClientes",')
    assert_fault(
        broken,
        500,
        "SOAP-ENV:Client",
        "ERROR: JSON request with SyntaxError",
        "SOAP-ENV:Client - JSON request with SyntaxError",
    )
    not_object = await client.post("/api/v1/geral/clientes/", json=["ListarClientes"])
    assert not_object.json()["faultstring"] == "ERROR: Invalid JSON Object"


async def test_broken_response_at_the_configured_rate(clock: FakeClock, sleeps: Sleeps) -> None:
    async with await open_client(make_sim(clock, sleeps, broken_response_rate=1.0)) as http:
        assert_fault(
            await post(http, "ListarClientes", page(1)),
            500,
            "SOAP-ENV:Server",
            "SOAP-ERROR: Broken response from Application Server (BG)",
            "SOAP-ENV:Server - SOAP-ERROR: Broken response from Application Server (BG)",
        )
    async with await open_client(make_sim(clock, sleeps, broken_response_rate=0.0)) as http:
        assert (await post(http, "ListarClientes", page(1))).status_code == 200


async def test_identical_query_is_redundant_until_the_window_ends(client: httpx.AsyncClient, clock: FakeClock) -> None:
    key = {
        "codigo_cliente_omie": (await post(client, "ListarClientes", page(1, 1))).json()["clientes_cadastro"][0][
            "codigo_cliente_omie"
        ]
    }
    assert (await post(client, "ConsultarCliente", key)).status_code == 200
    clock.advance(2)
    for remaining in (58, 13):
        assert_fault(
            await post(client, "ConsultarCliente", key),
            500,
            "SOAP-ENV:Client-6",
            f"ERROR: Consumo redundante detectado. Aguarde {remaining} segundos para tentar novamente (REDUNDANT).",
            f"6 - Consumo redundante detectado. Aguarde {remaining} segundos para tentar novamente (REDUNDANT).",
        )
        clock.advance(45)
    clock.advance(13 - 45)  # exactly 60 s after the first answer
    assert (await post(client, "ConsultarCliente", key)).status_code == 200
    assert (
        await post(client, "IncluirCliente", {"codigo_cliente_integracao": "W", "razao_social": "W"})
    ).status_code == 200
    again = await post(client, "IncluirCliente", {"codigo_cliente_integracao": "W", "razao_social": "W"})
    assert again.json()["faultcode"] == "SOAP-ENV:Client-102"  # writes are not redundancy-checked


async def test_429_after_240_a_minute_per_method_and_recovery(clock: FakeClock, sleeps: Sleeps) -> None:
    async with await open_client(make_sim(clock, sleeps, redundancy_window_s=0)) as http:
        for _ in range(240):
            last = await post(http, "ListarClientes", page(1))
            assert last.status_code == 200
        assert last.headers["x-omie-ratelimit"] == "240/960 allow"
        clock.advance(30)
        limited = await post(http, "ListarClientes", page(1))
        assert_fault(
            limited, 429, "SOAP-ENV:Client-429", "ERROR: 429: Too many Requests", "429 - 429: Too many Requests"
        )
        assert limited.headers["retry-after"] == "30"
        assert (await post(http, "ListarProdutos", page(1), service="geral/produtos")).status_code == 200
        clock.advance(30)
        assert (await post(http, "ListarClientes", page(1))).status_code == 200


async def test_429_per_ip_counts_every_method_and_follows_x_forwarded_for(clock: FakeClock, sleeps: Sleeps) -> None:
    async with await open_client(make_sim(clock, sleeps, rpm_per_ip=3)) as http:
        for n in (1, 2, 3):
            assert (await post(http, "ListarClientes", page(n))).status_code == 200
        denied = await post(http, "ListarProdutos", page(1), service="geral/produtos")
        assert denied.status_code == 429 and denied.headers["x-omie-ratelimit"] == "3/3 deny"
        other = await post(
            http, "ListarProdutos", page(1), service="geral/produtos", headers={"X-Forwarded-For": "10.9.9.9"}
        )
        assert other.status_code == 200 and other.headers["x-omie-ratelimit"] == "1/3 allow"


async def test_425_after_10_consecutive_errors_and_recovery(client: httpx.AsyncClient, clock: FakeClock) -> None:
    bad = {**page(1), "apenas_categoria_de_receita": "S"}

    async def categorias(param: dict[str, Any]) -> httpx.Response:
        return await post(client, "ListarCategorias", param, service="geral/categorias")

    for _ in range(9):
        assert (await categorias(bad)).status_code == 500
    assert (await categorias(page(1))).status_code == 200  # a success resets the run
    for _ in range(10):
        assert (await categorias(bad)).json()["faultcode"] == "SOAP-ENV:Client-5001"
    assert_fault(
        await categorias(page(1, 10)),
        425,
        "MISUSE_API_PROCESS",
        "ERROR: API bloqueada por consumo indevido. Tente novamente em 1800 segundos.",
        "MISUSE_API_PROCESS - API bloqueada por consumo indevido. Tente novamente em 1800 segundos.",
    )
    assert (await post(client, "ListarClientes", page(1))).status_code == 200  # other methods are not blocked
    clock.advance(1074)
    assert "Tente novamente em 726 segundos." in (await categorias(page(1, 10))).json()["faultstring"]
    clock.advance(726)
    assert (await categorias(page(1, 10))).status_code == 200


async def test_1880_when_more_than_the_concurrency_limit_is_in_flight(clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def gated_sleep(delay: float) -> None:
        await gate.wait()

    sim = make_sim(clock, gated_sleep)

    async def until_in_flight(count: int) -> None:
        for _ in range(1000):
            if sim.stats.in_flight == count:
                return
            await asyncio.sleep(0)  # a yield to the event loop, not a wait
        raise AssertionError(f"never reached {count} in flight")

    async with await open_client(sim) as http:
        reads = [asyncio.ensure_future(post(http, "ListarClientes", page(n, 10))) for n in (1, 2, 3, 4)]
        await until_in_flight(4)
        assert_fault(
            await post(http, "ListarClientes", page(5, 10)),
            500,
            "SOAP-ENV:Client-1880",
            "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns "
            "instantes. (1)",
            "1880 - Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns "
            "instantes. (1)",
        )
        denied = await post(http, "ListarClientes", page(6, 10))
        assert denied.headers["x-omie-parallelratelimit"] == "4/4 deny 10.TGlzdGFyQ2xpZW50ZXM="
        write = asyncio.ensure_future(
            post(http, "IncluirCliente", {"codigo_cliente_integracao": "C1", "razao_social": "C"})
        )
        await until_in_flight(5)
        second_write = await post(http, "IncluirCliente", {"codigo_cliente_integracao": "C2", "razao_social": "C"})
        assert second_write.json()["faultcode"] == "SOAP-ENV:Client-1880"
        assert second_write.headers["x-omie-parallelratelimit"] == "1/1 deny 10.SW5jbHVpckNsaWVudGU="
        gate.set()
        done = await asyncio.gather(*reads, write)
    assert [r.status_code for r in done] == [200] * 5
    assert sorted(r.headers["x-omie-parallelratelimit"].split()[0] for r in done[:4]) == ["1/4", "2/4", "3/4", "4/4"]
    assert sim.stats.in_flight == 0


async def test_latency_is_slept_per_call(clock: FakeClock, sleeps: Sleeps) -> None:
    sim = make_sim(clock, sleeps, latency_ms=120, latency_overrides={"ListarProdutos": (900.0, 0.0)})
    async with await open_client(sim) as http:
        await post(http, "ListarClientes", page(1))
        await post(http, "ListarProdutos", page(1), service="geral/produtos")
    assert sleeps.delays == [0.12, 0.9]


# --- forced faults ----------------------------------------------------------------------------------------------------

FORCED: dict[str, tuple[int, str, str, str]] = {
    "no_records": (500, "SOAP-ENV:Client-5113", "ERROR: Não existem registros para a página [2]!", "5113"),
    "redundant": (
        500,
        "SOAP-ENV:Client-6",
        "ERROR: Consumo redundante detectado. Aguarde 60 segundos para tentar novamente (REDUNDANT).",
        "6",
    ),
    "concurrent_request": (
        500,
        "SOAP-ENV:Client-1880",
        (
            "ERROR: Já existe uma requisição desse método sendo executada e você pode tentar novamente em alguns "
            "instantes. (1)"
        ),
        "1880",
    ),
    "duplicate_request": (
        500,
        "SOAP-ENV:Client-1100",
        (
            "ERROR: Esta requisição já foi processada ou está sendo processada e você pode tentar novamente às "
            "10:45:23. (1)"
        ),
        "1100",
    ),
    "rate_limited": (429, "SOAP-ENV:Client-429", "ERROR: 429: Too many Requests", "429"),
    "misuse_blocked": (
        425,
        "MISUSE_API_PROCESS",
        "ERROR: API bloqueada por consumo indevido. Tente novamente em 1800 segundos.",
        "MISUSE_API_PROCESS",
    ),
    "auth": (403, "SOAP-ENV:Server", "A chave de acesso não está preenchida ou não é válida.", "SOAP-ENV:Server"),
    "validation": (500, "SOAP-ENV:Client-71", "ERROR: Nenhum parâmetro foi recebido em WS_PARAMS!", "71"),
    "not_found": (500, "SOAP-ENV:Client-105", "ERROR: Cliente não cadastrado para o Código [2] !", "105"),
    "server_error": (
        500,
        "SOAP-ENV:Server",
        "SOAP-ERROR: Broken response from Application Server (BG)",
        "SOAP-ENV:Server",
    ),
}


def test_every_fault_kind_has_a_forced_case() -> None:
    assert set(FORCED) == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", sorted(FORCED))
async def test_inject_fault_forces_the_next_answer(client: httpx.AsyncClient, sim: OmieSimulator, kind: str) -> None:
    status, faultcode, faultstring, code = FORCED[kind]
    sim.inject_fault(call="ListarClientes", kind=kind, times=1)
    assert (await post(client, "ListarProdutos", page(2), service="geral/produtos")).status_code == 200
    assert_fault(
        await post(client, "ListarClientes", page(2)),
        status,
        faultcode,
        faultstring,
        f"{code} - {faultstring.removeprefix('ERROR: ')}",
    )
    assert (await post(client, "ListarClientes", page(2))).status_code == 200  # times=1: the next one is normal
    assert sim.stats.faults == {kind: 1}


@pytest.mark.parametrize("kind", sorted(FORCED))
async def test_fault_header_forces_that_request_only(client: httpx.AsyncClient, kind: str) -> None:
    status, faultcode, faultstring, _ = FORCED[kind]
    forced = await post(client, "ListarClientes", page(2), headers={"X-Omie-Sim-Fault": kind})
    assert (forced.status_code, forced.json()) == (status, {"faultstring": faultstring, "faultcode": faultcode})
    assert (await post(client, "ListarClientes", page(2))).status_code == 200


async def test_unknown_fault_header_or_kind_is_refused(client: httpx.AsyncClient, sim: OmieSimulator) -> None:
    response = await post(client, "ListarClientes", page(1), headers={"X-Omie-Sim-Fault": "nope"})
    assert response.status_code == 400 and "nope" in response.json()["error"]
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject_fault("nope")
    with pytest.raises(ValueError, match="no call"):
        sim.inject_fault("auth", call="ListarNada")


async def test_injection_without_call_hits_the_next_request_times_times(
    client: httpx.AsyncClient, sim: OmieSimulator
) -> None:
    sim.inject_fault("server_error", times=2)
    statuses = [(await post(client, "ListarClientes", page(n))).status_code for n in (1, 2, 3)]
    assert statuses == [500, 500, 200]


async def test_stats_and_reset(client: httpx.AsyncClient, sim: OmieSimulator) -> None:
    await post(client, "ListarClientes", page(1))
    await post(client, "ListarClientes", page(9))
    await post(client, "IncluirCliente", {"codigo_cliente_integracao": "R1", "razao_social": "R"})
    stats = sim.stats
    assert (stats.requests, stats.calls, stats.faults, stats.statuses) == (
        3,
        {"ListarClientes": 2, "IncluirCliente": 1},
        {"no_records": 1},
        {200: 2, 500: 1},
    )
    sim.inject_fault("auth")
    sim.reset()
    assert sim.stats.requests == 0 and len(sim.records("clientes")) == 120
    assert (await post(client, "ListarClientes", page(1))).status_code == 200


# --- configuration ----------------------------------------------------------------------------------------------------


def test_config_from_env_and_its_errors() -> None:
    config = SimulatorConfig.from_env(
        {
            "OMIE_SIM_SEED": "42",
            "OMIE_SIM_LATENCY_OVERRIDES": "ListarNF=1500:500, ListarClientes=300",
            "OMIE_SIM_RECORDS": "clientes=10",
            "OMIE_SIM_APP_KEY": "k",
            "OMIE_SIM_APP_SECRET": "s",
            "OMIE_SIM_TODAY": "01/02/2026",
            "OMIE_SIM_FAULT_KINDS": "auth,server_error",
        },
        seed=5,
    )
    assert (config.seed, config.records, config.credentials, config.today.isoformat()) == (
        5,
        {"clientes": 10},
        {"k": "s"},
        "2026-02-01",
    )
    assert config.latency_for("ListarNF") == (1500.0, 500.0) and config.latency_for("ListarClientes") == (300.0, 0.0)
    assert config.fault_kinds == ("auth", "server_error")
    with pytest.raises(ValueError, match="OMIE_SIM_RPM_PER_IP"):
        SimulatorConfig.from_env({"OMIE_SIM_RPM_PER_IP": "many"})
    with pytest.raises(ValueError, match="unknown fault kinds"):
        SimulatorConfig(fault_kinds=("meteor",))
    with pytest.raises(ValueError, match="unknown tables"):
        OmieSimulator(records={"fornecedores": 3})


# --- real servers -----------------------------------------------------------------------------------------------------


def test_serve_in_thread_answers_a_real_http_client() -> None:
    with serve_in_thread(OmieSimulator(records={"clientes": 5}), port=0) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", url)
        response = httpx.post(url + "v1/geral/clientes/", json=omie_body("ListarClientes", page(1)))
    assert response.status_code == 200
    assert response.json()["total_de_registros"] == 5
    assert response.headers.get_list("server") == ["nginx"]


@pytest.fixture
def cli_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "omie_otel.simulator", "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/api/)", line)
        assert match, line
        yield match.group(1)
    finally:
        stop(process, timeout=10)


def test_cli_serves_on_a_loopback_port(cli_server: str) -> None:
    response = httpx.post(
        cli_server + "v1/geral/tiposdoc/",
        json=omie_body("PesquisarTipoDocumento", {"codigo": "BOL"}),
        timeout=10,
    )
    assert response.json() == {"tipo_documento_cadastro": [{"codigo": "BOL", "descricao": "Boleto"}]}
