"""Every Omie call the simulator answers: service path, call name, request type, accepted fields, handler.

Request types and field lists come from Omie's WSDL as mirrored by ``pauloracunha/omie-lib`` where that was
read (clientes, pedidos, contas a pagar/receber, movimentos, NF); the rest are marked ``# [I]`` (inferred).
A field outside the list answers 5001, as Omie does for ``CLIENTE_FORNECEDOR`` on ``IncluirCliente``.

Example:
    >>> method = SERVICES["geral/clientes"]["ListarClientes"]
    >>> method.request_type, method.is_query, method.is_write
    ('clientes_list_request', True, False)
    >>> sorted(SERVICES)[:3]
    ['estoque/consulta', 'financas/contacorrentelancamentos', 'financas/contapagar']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from omie_otel.simulator import _faults
from omie_otel.simulator._brazil import digits
from omie_otel.simulator._data import DataSet, Record, format_date, get_path, parse_date, stamp_info
from omie_otel.simulator._handlers import (
    Getter,
    Handler,
    Key,
    Lister,
    Param,
    Predicate,
    all_of,
    alterer,
    contains,
    date_range,
    deleter,
    equals,
    flag,
    given,
    includer,
    inside,
    lookup,
    one_of,
    require,
    same_document,
    upserter,
)

__all__ = ["QUERY_PREFIXES", "SERVICES", "WRITE_PREFIXES", "Method", "find_method"]

#: Calls Omie checks for redundancy (the same parameters inside the window).
QUERY_PREFIXES = ("Listar", "Consultar", "Pesquisar")
#: Calls Omie runs one at a time per IP + app_key + method.
WRITE_PREFIXES = ("Incluir", "Alterar", "Upsert", "Excluir", "Lancar")


@dataclass(frozen=True)
class Method:
    """One call of one service.

    Attributes:
        service: the path below ``/api/v1/``, without slashes at the ends (``geral/clientes``).
        call: the ``call`` value (``ListarClientes``).
        request_type: the WSDL complex type of ``param[0]``, named in 5001 faults.
        fields: the request fields that type has.
        handler: what the call does.
        summary: one line for the documentation page.
        needs_params: whether ``param: [{}]`` is a 71 fault.
    """

    service: str
    call: str
    request_type: str
    fields: frozenset[str]
    handler: Handler
    summary: str
    needs_params: bool = True

    @property
    def is_query(self) -> bool:
        """``Listar*``, ``Consultar*``, ``Pesquisar*``: subject to the redundancy rule."""
        return self.call.startswith(QUERY_PREFIXES)

    @property
    def is_write(self) -> bool:
        """``Incluir*``, ``Alterar*``, ``Upsert*``, ``Excluir*``, ``Lancar*``: one at a time."""
        return self.call.startswith(WRITE_PREFIXES)

    def check_param(self, raw: object) -> Param:
        """The request object in ``param``, validated against this method's type.

        Raises:
            SimulatedFault: 71 for a missing or empty ``param`` (when the method needs one), 5001 for an unknown field,
                "Invalid JSON Object" when ``param`` is not a list of objects.
        """
        if raw in (None, []):
            if self.needs_params:
                raise _faults.no_params()
            return {}
        if not isinstance(raw, list) or not isinstance(raw[0], dict):
            raise _faults.invalid_json_object()
        param: dict[str, Any] = raw[0]
        if not param and self.needs_params:
            raise _faults.no_params()
        unknown = next((key for key in param if key not in self.fields), None)
        if unknown is not None:
            raise _faults.unknown_tag(unknown, self.request_type)
        return param


def _fields(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(name for group in groups for name in group)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- request field lists --------------------------------------------------------------------------------------------

_SNAKE_PAGE = _split("pagina registros_por_pagina")
_HUNG_PAGE = _split("nPagina nRegPorPagina")
_CHANGE_FILTERS = _split(
    "apenas_importado_api ordenar_por ordem_decrescente ordem_descrescente filtrar_por_data_de filtrar_por_data_ate "
    "filtrar_por_hora_de filtrar_por_hora_ate filtrar_apenas_inclusao filtrar_apenas_alteracao"
)
_CLIENTES_LIST = _fields(
    _SNAKE_PAGE, _CHANGE_FILTERS, _split("clientesFiltro clientesPorCodigo exibir_caracteristicas exibir_obs")
)
_CLIENTES_CADASTRO = _fields(
    _split(
        "codigo_cliente_omie codigo_cliente_integracao razao_social cnpj_cpf nome_fantasia telefone1_ddd "
        "telefone1_numero contato endereco endereco_numero bairro complemento estado cidade cep codigo_pais "
        "separar_endereco pesquisar_cep telefone2_ddd telefone2_numero fax_ddd fax_numero email homepage "
        "inscricao_estadual inscricao_municipal inscricao_suframa optante_simples_nacional tipo_atividade cnae "
        "produtor_rural contribuinte observacao obs_detalhadas recomendacao_atraso tags pessoa_fisica exterior "
        "logradouro importado_api bloqueado cidade_ibge valor_limite_credito bloquear_faturamento recomendacoes "
        "enderecoEntrega nif documento_exterior inativo dadosBancarios caracteristicas enviar_anexos info "
        "bloquear_exclusao"
    )
)
_CLIENTES_CHAVE = _fields(_split("codigo_cliente_omie codigo_cliente_integracao"))
_PRODUTOS_LIST = _fields(  # [I] beyond the paging and change filters
    _SNAKE_PAGE,
    _CHANGE_FILTERS,
    _split("filtrar_apenas_omiepdv filtrar_apenas_familia produtosPorCodigo exibir_caracteristicas exibir_obs"),
)
_PRODUTOS_CHAVE = _fields(_split("codigo_produto codigo_produto_integracao codigo"))
_PEDIDOS_LIST = _fields(
    _SNAKE_PAGE,
    _CHANGE_FILTERS,
    _split(
        "filtrar_por_cliente filtrar_por_vendedor filtrar_por_projeto etapa numero_pedido_de numero_pedido_ate "
        "apenas_resumo data_previsao_de data_previsao_ate data_faturamento_de data_faturamento_ate data_emissao_de "
        "data_emissao_ate data_cancelamento_de data_cancelamento_ate status_pedido"
    ),
)
_PEDIDOS_CHAVE = _fields(_split("codigo_pedido codigo_pedido_integracao numero_pedido"))
_PEDIDO_CADASTRO = _fields(
    _split(
        "cabecalho det frete informacoes_adicionais lista_parcelas observacoes total_pedido departamentos "
        "exportacao agropecuario"
    )
)
_CONTAS_LIST = _fields(
    _SNAKE_PAGE,
    _CHANGE_FILTERS,
    _split(
        "filtrar_por_emissao_de filtrar_por_emissao_ate filtrar_por_registro_de filtrar_por_registro_ate "
        "filtrar_conta_corrente filtrar_cliente filtrar_por_cpf_cnpj filtrar_por_status filtrar_por_projeto "
        "filtrar_por_vendedor filtrar_apenas_titulos_em_aberto exibir_obs"
    ),
)
_CONTAS_CHAVE = _fields(_split("codigo_lancamento_omie codigo_lancamento_integracao"))
_CONTA_CADASTRO = _fields(
    _split(
        "codigo_lancamento_omie codigo_lancamento_integracao codigo_cliente_fornecedor "
        "codigo_cliente_fornecedor_integracao data_vencimento valor_documento codigo_categoria data_previsao "
        "id_conta_corrente numero_documento_fiscal data_emissao data_entrada codigo_projeto observacao "
        "numero_parcela numero_documento codigo_tipo_documento categorias distribuicao"
    )
)
_BAIXA = _fields(
    _split(
        "codigo_lancamento codigo_lancamento_integracao codigo_baixa_integracao codigo_conta_corrente "
        "codigo_conta_corrente_integracao valor desconto juros multa data observacao conciliar_documento"
    )
)
_NF_LIST = _fields(
    _SNAKE_PAGE,
    _CHANGE_FILTERS,
    _split(
        "filtrar_por_status dEmiInicial hEmiInicial dEmiFinal hEmiFinal dSaiEntInicial dSaiEntFinal dRegInicial "
        "dRegFinal dCanInicial dCanFinal dInutInicial dInutFinal tpNF tpAmb cSerie nNFInicial nNFFinal "
        "cDetalhesPedido cApenasResumo opPedido cNumeroPedidoCliente nIdCliente cnpj_cpf"
    ),
)
_NF_CHAVE = _fields(_split("nCodNF nNF serie cChaveNFe nIdPedido"))
_MF_LIST = _fields(
    _HUNG_PAGE,
    _split(
        "cOrdenarPor cOrdemDecrescente lDadosCad nCodTitulo cCodIntTitulo cNumTitulo dDtEmisDe dDtEmisAte "
        "dDtVencDe dDtVencAte dDtPagtoDe dDtPagtoAte dDtPrevDe dDtPrevAte dDtRegDe dDtRegAte nCodCliente "
        "cCPFCNPJCliente nCodCtr cNumCtr nCodOS cNumOS nCodCC cStatus cNatureza cTipo cOperacao cNumDocFiscal "
        "cCodigoBarras nCodProjeto nCodVendedor nCodComprador cCodCateg dDtIncDe dDtIncAte dDtAltDe dDtAltAte "
        "cTpLancamento cExibirDepartamentos nCodMovCC"
    ),
)
# The lists below are [I]: paging plus the filters the MCP projects send.
_CATEGORIAS_LIST = _fields(_SNAKE_PAGE, _split("filtrar_apenas_ativo filtrar_por_tipo"))
_SIMPLE_LIST = _fields(_SNAKE_PAGE, _split("apenas_importado_api"))
_CONTAS_CORRENTES_LIST = _fields(_SNAKE_PAGE, _split("apenas_importado_api filtrar_apenas_ativo codigo"))
_EXTRATO = _fields(_split("nCodCC cCodIntCC dPeriodoInicial dPeriodoFinal cExibirApenasSaldo"))
_LANC_CC_LIST = _fields(_HUNG_PAGE, _split("nCodCC dtPagInicial dtPagFinal"))
_ESTOQUE_LIST = _fields(_HUNG_PAGE, _split("dDataPosicao cExibeTodos codigo_local_estoque"))
_NFSE_LIST = _fields(_HUNG_PAGE, _split("dEmiInicial dEmiFinal nCodigoCliente cStatusNFSe"))
_OS_LIST = _fields(_SNAKE_PAGE, _CHANGE_FILTERS, _split("filtrar_por_cliente filtrar_por_etapa filtrar_por_status"))

# --- shapes, filters and derived views ------------------------------------------------------------------------------

_CLIENT_KEYS: tuple[Key, ...] = (
    ("codigo_cliente_omie", ("codigo_cliente_omie",)),
    ("codigo_cliente_integracao", ("codigo_cliente_integracao",)),
)
_BILL_KEYS: tuple[Key, ...] = (
    ("codigo_lancamento_omie", ("codigo_lancamento_omie",)),
    ("codigo_lancamento_integracao", ("codigo_lancamento_integracao",)),
)
_OPEN = ("A VENCER", "ATRASADO", "VENCE HOJE", "PAGTO_PARCIAL")
_SETTLED = ("PAGO", "RECEBIDO")
#: ``filtrar_por_status`` / ``cStatus`` values and the ``status_titulo`` values they select.
_BILL_STATUS: Mapping[str, tuple[str, ...]] = {
    "EMABERTO": _OPEN,
    "AVENCER": ("A VENCER",),
    "VENCEHOJE": ("VENCE HOJE",),
    "ATRASADO": ("ATRASADO",),
    "PAGTO_PARCIAL": ("PAGTO_PARCIAL",),
    "PAGO": _SETTLED,
    "RECEBIDO": _SETTLED,
    "LIQUIDADO": _SETTLED,
    "CANCELADO": ("CANCELADO",),
}


def _changed(info: tuple[str, ...]) -> Predicate:
    """``filtrar_por_data_de/ate`` on the alteration date, or the inclusion date with ``filtrar_apenas_inclusao``."""
    altered = date_range("filtrar_por_data_de", "filtrar_por_data_ate", (*info, "dAlt"))
    included = date_range("filtrar_por_data_de", "filtrar_por_data_ate", (*info, "dInc"))

    def check(record: Record, param: Param) -> bool:
        return (included if param.get("filtrar_apenas_inclusao") == "S" else altered)(record, param)

    return check


def _client_matches(record: Record, param: Param) -> bool:
    """``clientesPorCodigo``: a list of ``{codigo_cliente_omie | codigo_cliente_integracao}``."""
    codes = param.get("clientesPorCodigo")
    if not isinstance(codes, list) or not codes:
        return True
    wanted_ids = {str(c.get("codigo_cliente_omie")) for c in codes if isinstance(c, Mapping)}
    wanted_codes = {c.get("codigo_cliente_integracao") for c in codes if isinstance(c, Mapping)} - {None, ""}
    return str(record["codigo_cliente_omie"]) in wanted_ids or record["codigo_cliente_integracao"] in wanted_codes


_CLIENT_FILTER = all_of(
    flag("apenas_importado_api", ("importado_api",), "S"),
    _changed(("info",)),
    _client_matches,
    inside(
        "clientesFiltro",
        all_of(
            equals("codigo_cliente_omie", ("codigo_cliente_omie",)),
            equals("codigo_cliente_integracao", ("codigo_cliente_integracao",)),
            same_document("cnpj_cpf", ("cnpj_cpf",)),
            contains("razao_social", ("razao_social",)),
            contains("nome_fantasia", ("nome_fantasia",)),
            contains("email", ("email",)),
            contains("cidade", ("cidade",)),
            equals("estado", ("estado",), lambda v: str(v).upper()),
            equals("inativo", ("inativo",)),
            equals("pessoa_fisica", ("pessoa_fisica",)),
        ),
    ),
)


def _client_summary(record: Record, param: Param) -> Record:
    return {
        "codigo_cliente": record["codigo_cliente_omie"],
        "codigo_cliente_integracao": record["codigo_cliente_integracao"],
        "razao_social": record["razao_social"],
        "nome_fantasia": record["nome_fantasia"],
        "cnpj_cpf": record["cnpj_cpf"],
    }


def _product_summary(record: Record, param: Param) -> Record:
    return {
        "codigo_produto": record["codigo_produto"],
        "codigo_produto_integracao": record["codigo_produto_integracao"],
        "codigo": record["codigo"],
        "descricao": record["descricao"],
        "valor_unitario": record["valor_unitario"],
    }


def _order_shape(record: Record, param: Param) -> Record:
    if param.get("apenas_resumo") != "S":
        return record
    return {k: record[k] for k in ("cabecalho", "total_pedido", "infoCadastro")}


def _nf_shape(record: Record, param: Param) -> Record:
    if param.get("cApenasResumo") != "S":
        return record
    return {k: v for k, v in record.items() if k not in ("det", "titulos")}


def _account_summary(record: Record, param: Param) -> Record:
    return {
        "nCodCC": record["nCodCC"],
        "cCodCCInt": record["cCodCCInt"],
        "descricao": record["descricao"],
        "codigo_banco": record["codigo_banco"],
        "codigo_agencia": record["codigo_agencia"],
        "conta_corrente": record["numero_conta_corrente"],
        "tipo": record["tipo_conta_corrente"],
        "inativo": record["inativo"],
    }


_BILL_FILTER = all_of(
    flag("apenas_importado_api", ("info", "cImpAPI"), "S"),
    _changed(("info",)),
    date_range("filtrar_por_emissao_de", "filtrar_por_emissao_ate", ("data_emissao",)),
    one_of("filtrar_por_status", ("status_titulo",), _BILL_STATUS),
    equals("filtrar_cliente", ("codigo_cliente_fornecedor",)),
    equals("filtrar_conta_corrente", ("id_conta_corrente",)),
    equals("filtrar_por_projeto", ("codigo_projeto",)),
)


def _movements(data: DataSet) -> list[Record]:
    """``ListarMovimentos``: one movement per bill of either table, with what was paid of it."""
    clients = {c["codigo_cliente_omie"]: c for c in data.table("clientes")}
    rows: list[Record] = []
    for table, nature, group in (("contas_pagar", "P", "CONTA_A_PAGAR"), ("contas_receber", "R", "CONTA_A_RECEBER")):
        for bill in data.table(table):
            code, value = bill["codigo_lancamento_omie"], bill["valor_documento"]
            paid_on, paid = data.payments.get((table, code), (None, 0.0))
            share = {"nDistrPercentual": 100.0, "nDistrValor": value, "nValorFixo": "N"}
            rows.append(
                {
                    "detalhes": {
                        "nCodTitulo": code,
                        "cCodIntTitulo": bill["codigo_lancamento_integracao"],
                        "cNumTitulo": bill["numero_documento"],
                        "dDtEmissao": bill["data_emissao"],
                        "dDtVenc": bill["data_vencimento"],
                        "dDtPrevisao": bill["data_previsao"],
                        "dDtPagamento": format_date(paid_on) if paid_on else "",
                        "nCodCliente": bill["codigo_cliente_fornecedor"],
                        "cCPFCNPJCliente": clients.get(bill["codigo_cliente_fornecedor"], {}).get("cnpj_cpf", ""),
                        "nValorTitulo": value,
                        "cStatus": bill["status_titulo"],
                        "cNatureza": nature,
                        "cGrupo": group,
                        "cTipo": bill["codigo_tipo_documento"],
                        "nCodCC": bill["id_conta_corrente"],
                        "cCodCateg": bill["codigo_categoria"],
                        "cNumParcela": bill["numero_parcela"],
                    },
                    "resumo": {
                        "nValPago": paid,
                        "nValAberto": round(max(value - paid, 0.0), 2),
                        "nDesconto": 0.0,
                        "nJuros": 0.0,
                        "nMulta": 0.0,
                        "nValLiquido": value,
                        "cLiquidado": "S" if paid >= value else "N",
                    },
                    "departamentos": [{"cCodDepartamento": d["cCodDep"], **share} for d in bill["distribuicao"]],
                    "categorias": [{"cCodCateg": bill["codigo_categoria"], **share}],
                }
            )
    rows.sort(key=lambda r: r["detalhes"]["nCodTitulo"])
    return rows


_LANCAMENTO_KINDS = {"CP": ("P",), "CR": ("R",), "CPCR": ("P", "R")}

_MOVEMENT_FILTER = all_of(
    equals("cNatureza", ("detalhes", "cNatureza"), lambda v: str(v).upper()),
    one_of("cTpLancamento", ("detalhes", "cNatureza"), _LANCAMENTO_KINDS),
    one_of("cStatus", ("detalhes", "cStatus"), _BILL_STATUS),
    equals("nCodCliente", ("detalhes", "nCodCliente")),
    equals("nCodCC", ("detalhes", "nCodCC")),
    equals("cCodCateg", ("detalhes", "cCodCateg")),
    equals("nCodTitulo", ("detalhes", "nCodTitulo")),
    date_range("dDtVencDe", "dDtVencAte", ("detalhes", "dDtVenc")),
    date_range("dDtPagtoDe", "dDtPagtoAte", ("detalhes", "dDtPagamento")),
    date_range("dDtEmisDe", "dDtEmisAte", ("detalhes", "dDtEmissao")),
)


def _stock(data: DataSet) -> list[Record]:
    """``ListarPosEstoque``: the stock position of every product."""
    return [
        {
            "nCodProd": p["codigo_produto"],
            "cCodInt": p["codigo_produto_integracao"],
            "cCodigo": p["codigo"],
            "cDescricao": p["descricao"],
            "nPrecoUnitario": p["valor_unitario"],
            "nSaldo": p["quantidade_estoque"],
            "nCMC": round(p["valor_unitario"] * 0.62, 2),
            "nPendente": 0.0,
            "estoque_minimo": p["estoque_minimo"],
            "reservado": 0.0,
            "fisico": p["quantidade_estoque"],
        }
        for p in data.table("produtos")
    ]


def _stock_date(data: DataSet, param: Param) -> Record:
    return {"dDataPosicao": given(param, "dDataPosicao") or format_date(data.today)}


def _inflow(category: str) -> bool:
    """Categories 1.x are revenues (money in), 2.x expenses (money out)."""
    return category.startswith("1")


def _statement(data: DataSet, param: Param) -> Record:
    """``ListarExtrato``: the bank statement of one account over a period (default: the last 30 days)."""
    account = lookup(data, "contas_correntes", param, (("nCodCC", ("nCodCC",)), ("cCodIntCC", ("cCodCCInt",))))
    start = parse_date(given(param, "dPeriodoInicial")) or data.today - timedelta(days=30)
    end = parse_date(given(param, "dPeriodoFinal")) or data.today
    clients = {c["codigo_cliente_omie"]: c for c in data.table("clientes")}
    categories = {c["codigo"]: c["descricao"] for c in data.table("categorias")}
    entries = sorted(
        (e for e in data.table("lancamentos_cc") if e["cabecalho"]["nCodCC"] == account["nCodCC"]),
        key=lambda e: (parse_date(e["cabecalho"]["dDtLanc"]) or date.min, e["nCodLanc"]),
    )

    def signed(entry: Record) -> float:
        value = float(entry["cabecalho"]["nValorLanc"])
        return value if _inflow(entry["detalhes"]["cCodCateg"]) else -value

    before = account["saldo_inicial"] + sum(
        signed(e) for e in entries if (parse_date(e["cabecalho"]["dDtLanc"]) or date.min) < start
    )
    balance, movements = before, []
    for entry in entries:
        day = parse_date(entry["cabecalho"]["dDtLanc"]) or date.min
        if not start <= day <= end:
            continue
        balance += signed(entry)
        client = clients.get(entry["detalhes"]["nCodCliente"], {})
        movements.append(
            {
                "nCodLancamento": entry["nCodLanc"],
                "dDataLancamento": entry["cabecalho"]["dDtLanc"],
                "cDesCliente": client.get("nome_fantasia", ""),
                "cRazCliente": client.get("razao_social", ""),
                "cDocCliente": client.get("cnpj_cpf", ""),
                "cCodCategoria": entry["detalhes"]["cCodCateg"],
                "cDesCategoria": categories.get(entry["detalhes"]["cCodCateg"], ""),
                "cDocumento": entry["detalhes"]["cNumDoc"],
                "nValorDocumento": round(signed(entry), 2),
                "nSaldo": round(balance, 2),
                "cNatureza": "R" if _inflow(entry["detalhes"]["cCodCateg"]) else "P",
                "cSituacao": "Conciliado" if entry["diversos"]["dDtConc"] else "Não conciliado",
                "cOrigem": entry["diversos"]["cOrigem"],
            }
        )
    return {
        "nCodCC": account["nCodCC"],
        "cCodIntCC": account["cCodCCInt"],
        "cDescricao": account["descricao"],
        "cCodBanco": account["codigo_banco"],
        "cCodAgencia": account["codigo_agencia"],
        "cNumConta": account["numero_conta_corrente"],
        "nSaldoAnterior": round(before, 2),
        "nSaldoAtual": round(balance, 2),
        "nSaldoConciliado": round(balance, 2),
        "nSaldoProvisorio": 0.0,
        "nLimiteCreditoTotal": account["valor_limite"],
        "nSaldoDisponivel": round(balance + account["valor_limite"], 2),
        "dPeriodoInicial": format_date(start),
        "dPeriodoFinal": format_date(end),
        "listaMovimentos": movements,
    }


# --- record builders for the write calls ----------------------------------------------------------------------------

_CLIENT_DEFAULTS: Record = {
    "nome_fantasia": "",
    "cnpj_cpf": "",
    "email": "",
    "telefone1_ddd": "",
    "telefone1_numero": "",
    "endereco": "",
    "endereco_numero": "",
    "complemento": "",
    "bairro": "",
    "cidade": "",
    "estado": "",
    "cep": "",
    "codigo_pais": "1058",
    "inscricao_estadual": "",
    "inscricao_municipal": "",
    "optante_simples_nacional": "N",
    "contribuinte": "N",
    "produtor_rural": "N",
    "exterior": "N",
    "bloqueado": "N",
    "bloquear_faturamento": "N",
    "inativo": "N",
    "valor_limite_credito": 0.0,
    "tags": [],
}


def _new_client(param: Param, code: int, data: DataSet) -> Record:
    given_fields = {k: v for k, v in param.items() if k not in ("codigo_cliente_omie", "info")}
    record: Record = {"codigo_cliente_omie": code, **_CLIENT_DEFAULTS, **given_fields}
    record["nome_fantasia"] = record["nome_fantasia"] or record["razao_social"]
    record["pessoa_fisica"] = "S" if len(digits(str(record["cnpj_cpf"]))) == 11 else "N"
    record["importado_api"] = "S"
    record["info"] = stamp_info(None, data.today)
    return record


def _due_status(due: date | None, today: date) -> str:
    if due is None or due > today:
        return "A VENCER"
    return "VENCE HOJE" if due == today else "ATRASADO"


def _number(value: Any) -> float:
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        return 0.0


def _new_bill(param: Param, code: int, data: DataSet) -> Record:
    value = _number(param["valor_documento"])
    category = str(param.get("codigo_categoria") or "")
    record: Record = {
        "codigo_lancamento_omie": code,
        "codigo_lancamento_integracao": "",
        "data_emissao": format_date(data.today),
        "data_previsao": param["data_vencimento"],
        "codigo_categoria": category,
        "id_conta_corrente": 0,
        "numero_documento": "",
        "numero_parcela": "001/001",
        "codigo_tipo_documento": "BOL",
        "observacao": "",
        "codigo_projeto": 0,
        "categorias": [{"codigo_categoria": category, "valor": value, "percentual": 100.0}],
        "distribuicao": [],
        **{k: v for k, v in param.items() if k not in ("codigo_lancamento_omie", "info")},
    }
    record["valor_documento"] = value
    record["status_titulo"] = _due_status(parse_date(param["data_vencimento"]), data.today)
    record["info"] = stamp_info(None, data.today)
    return record


def _new_order(param: Param, code: int, data: DataSet) -> Record:
    items = [item for item in param["det"] if isinstance(item, Mapping)] if isinstance(param["det"], list) else []
    total = round(
        sum(
            _number(get_path(item, ("produto", "quantidade"))) * _number(get_path(item, ("produto", "valor_unitario")))
            for item in items
        ),
        2,
    )
    last_number = max((int(p["cabecalho"]["numero_pedido"]) for p in data.table("pedidos")), default=1000)
    info = stamp_info(None, data.today)
    return {
        "cabecalho": {
            "etapa": "10",
            "codigo_parcela": "000",
            "qtde_parcelas": 1,
            "bloqueado": "N",
            **param["cabecalho"],
            "codigo_pedido": code,
            "numero_pedido": str(last_number + 1),
            "quantidade_itens": len(items),
            "origem_pedido": "API",
        },
        "det": items,
        "frete": param.get("frete") or {"modalidade": "9", "valor_frete": 0.0},
        "informacoes_adicionais": param.get("informacoes_adicionais") or {},
        "lista_parcelas": param.get("lista_parcelas") or {"parcela": []},
        "total_pedido": {"valor_mercadorias": total, "valor_descontos": 0.0, "valor_total_pedido": total},
        "infoCadastro": {
            **{k: info[k] for k in ("dInc", "hInc", "uInc", "dAlt", "hAlt", "uAlt", "cImpAPI")},
            "faturado": "N",
            "dFat": "",
            "cancelado": "N",
            "autorizado": "N",
            "denegado": "N",
            "devolvido": "N",
        },
    }


def _settle(table: str, message: str) -> Handler:
    """``LancarPagamento``/``LancarRecebimento``: pay (part of) a bill; settled once the payments cover it."""
    settled = "PAGO" if table == "contas_pagar" else "RECEBIDO"
    keys: tuple[Key, ...] = (
        ("codigo_lancamento", ("codigo_lancamento_omie",)),
        ("codigo_lancamento_integracao", ("codigo_lancamento_integracao",)),
    )

    def handle(data: DataSet, param: Param) -> Record:
        require(param, [("valor",)])
        bill = lookup(data, table, param, keys)
        code, amount = bill["codigo_lancamento_omie"], _number(param["valor"])
        day = parse_date(given(param, "data")) or data.today
        paid = round(data.payments.get((table, code), (day, 0.0))[1] + amount, 2)
        data.payments[(table, code)] = (day, paid)
        settled_now = paid >= bill["valor_documento"]
        bill["status_titulo"] = settled if settled_now else "PAGTO_PARCIAL"
        return {
            "codigo_lancamento": code,
            "codigo_baixa": data.new_id(table),
            "codigo_baixa_integracao": param.get("codigo_baixa_integracao", ""),
            "liquidado": "S" if settled_now else "N",
            "valor_baixado": amount,
            "codigo_status": "0",
            "descricao_status": message,
        }

    return handle


# --- the catalogue --------------------------------------------------------------------------------------------------

_PRODUCT_FILTER = all_of(flag("apenas_importado_api", ("importado_api",), "S"), _changed(("info",)))
_ORDER_FILTER = all_of(
    equals("etapa", ("cabecalho", "etapa")),
    equals("filtrar_por_cliente", ("cabecalho", "codigo_cliente")),
    date_range("data_previsao_de", "data_previsao_ate", ("cabecalho", "data_previsao")),
    date_range("data_faturamento_de", "data_faturamento_ate", ("infoCadastro", "dFat")),
    _changed(("infoCadastro",)),
)
_NF_FILTER = all_of(
    date_range("dEmiInicial", "dEmiFinal", ("ide", "dEmi")),
    equals("tpNF", ("ide", "tpNF")),
    equals("tpAmb", ("ide", "tpAmb")),
    equals("nIdCliente", ("nfDestInt", "nCodCli")),
    same_document("cnpj_cpf", ("nfDestInt", "cnpj_cpf")),
    _changed(("info",)),
)
_CATEGORY_FILTER = all_of(
    flag("filtrar_apenas_ativo", ("conta_inativa",), "N"),
    one_of("filtrar_por_tipo", ("conta_receita",), {"R": ("S",), "D": ("N",)}),
)
_ACTIVE_ACCOUNT = flag("filtrar_apenas_ativo", ("inativo",), "N")
_CC_ENTRY_FILTER = all_of(
    equals("nCodCC", ("cabecalho", "nCodCC")),
    date_range("dtPagInicial", "dtPagFinal", ("cabecalho", "dDtLanc")),
)
_NFSE_FILTER = all_of(
    date_range("dEmiInicial", "dEmiFinal", ("Emissao", "cDataEmissao")),
    equals("nCodigoCliente", ("Cabecalho", "nCodigoCliente")),
    equals("cStatusNFSe", ("Cabecalho", "cStatusNFSe")),
)
_OS_FILTER = all_of(
    equals("filtrar_por_cliente", ("Cabecalho", "nCodCli")),
    equals("filtrar_por_etapa", ("Cabecalho", "cEtapa")),
)
_BILL_REQUIRED = [
    ("codigo_lancamento_integracao",),
    ("codigo_cliente_fornecedor",),
    ("data_vencimento",),
    ("valor_documento",),
]

_METHODS: tuple[Method, ...] = (
    # geral/clientes
    Method(
        "geral/clientes",
        "ListarClientes",
        "clientes_list_request",
        _CLIENTES_LIST,
        Lister("clientes", "clientes_cadastro", keep=_CLIENT_FILTER),
        "Lista os clientes cadastrados.",
    ),
    Method(
        "geral/clientes",
        "ListarClientesResumido",
        "clientes_list_request",
        _CLIENTES_LIST,
        Lister("clientes", "clientes_cadastro_resumido", keep=_CLIENT_FILTER, shape=_client_summary),
        "Lista os clientes de forma resumida.",
    ),
    Method(
        "geral/clientes",
        "ConsultarCliente",
        "clientes_cadastro_chave",
        _CLIENTES_CHAVE,
        Getter("clientes", _CLIENT_KEYS),
        "Consulta os dados de um cliente.",
    ),
    Method(
        "geral/clientes",
        "IncluirCliente",
        "clientes_cadastro",
        _CLIENTES_CADASTRO,
        includer(
            "clientes",
            _new_client,
            required=[("codigo_cliente_integracao",), ("razao_social",)],
            message="Cliente cadastrado com sucesso!",
        ),
        "Inclui o cliente no Omie.",
    ),
    Method(
        "geral/clientes",
        "AlterarCliente",
        "clientes_cadastro",
        _CLIENTES_CADASTRO,
        alterer("clientes", _CLIENT_KEYS, message="Cliente alterado com sucesso!"),
        "Altera os dados do cliente.",
    ),
    Method(
        "geral/clientes",
        "UpsertCliente",
        "clientes_cadastro",
        _CLIENTES_CADASTRO,
        upserter(
            "clientes",
            _new_client,
            required=[("razao_social",)],
            new="Cliente cadastrado com sucesso!",
            changed="Cliente alterado com sucesso!",
        ),
        "Inclui ou altera o cliente pelo código de integração.",
    ),
    Method(
        "geral/clientes",
        "ExcluirCliente",
        "clientes_cadastro_chave",
        _CLIENTES_CHAVE,
        deleter("clientes", _CLIENT_KEYS, message="Cliente excluído com sucesso!"),
        "Exclui um cliente da base de dados.",
    ),
    # geral/produtos
    Method(
        "geral/produtos",
        "ListarProdutos",
        "produto_servico_list_request",
        _PRODUTOS_LIST,
        Lister("produtos", "produto_servico_cadastro", keep=_PRODUCT_FILTER),
        "Lista os produtos cadastrados.",
    ),
    Method(
        "geral/produtos",
        "ListarProdutosResumido",
        "produto_servico_list_request",
        _PRODUTOS_LIST,
        Lister("produtos", "produto_servico_resumido", keep=_PRODUCT_FILTER, shape=_product_summary),
        "Lista os produtos de forma resumida.",
    ),
    Method(
        "geral/produtos",
        "ConsultarProduto",
        "produto_servico_cadastro_chave",
        _PRODUTOS_CHAVE,
        Getter(
            "produtos",
            (
                ("codigo_produto", ("codigo_produto",)),
                ("codigo_produto_integracao", ("codigo_produto_integracao",)),
                ("codigo", ("codigo",)),
            ),
        ),
        "Consulta um produto.",
    ),
    # produtos/pedido
    Method(
        "produtos/pedido",
        "ListarPedidos",
        "pvpListarRequest",
        _PEDIDOS_LIST,
        Lister("pedidos", "pedido_venda_produto", keep=_ORDER_FILTER, shape=_order_shape),
        "Lista os pedidos de venda.",
    ),
    Method(
        "produtos/pedido",
        "ConsultarPedido",
        "pvpConsultarRequest",
        _PEDIDOS_CHAVE,
        Getter(
            "pedidos",
            (
                ("codigo_pedido", ("cabecalho", "codigo_pedido")),
                ("codigo_pedido_integracao", ("cabecalho", "codigo_pedido_integracao")),
                ("numero_pedido", ("cabecalho", "numero_pedido")),
            ),
            wrap="pedido_venda_produto",
        ),
        "Consulta um pedido de venda.",
    ),
    Method(
        "produtos/pedido",
        "IncluirPedido",
        "pedido_venda_produto",
        _PEDIDO_CADASTRO,
        includer(
            "pedidos",
            _new_order,
            required=[("cabecalho", "codigo_pedido_integracao"), ("cabecalho", "codigo_cliente"), ("det",)],
            message="Pedido cadastrado com sucesso!",
            extra=lambda record: {"numero_pedido": record["cabecalho"]["numero_pedido"]},
        ),
        "Inclui um pedido de venda.",
    ),
    # financas/contapagar, financas/contareceber
    *(
        method
        for table, service, noun, singular in (
            ("contas_pagar", "financas/contapagar", "Pagar", "pagar"),
            ("contas_receber", "financas/contareceber", "Receber", "receber"),
        )
        for method in (
            Method(
                service,
                f"ListarContas{noun}",
                f"lc{singular[0]}ListarRequest",
                _CONTAS_LIST,
                Lister(table, f"conta_{singular}_cadastro", keep=_BILL_FILTER),
                f"Lista as contas a {singular}.",
            ),
            Method(
                service,
                f"ConsultarConta{noun}",
                f"conta_{singular}_cadastro_chave",
                _CONTAS_CHAVE,
                Getter(table, _BILL_KEYS),
                f"Consulta uma conta a {singular}.",
            ),
            Method(
                service,
                f"IncluirConta{noun}",
                f"conta_{singular}_cadastro",
                _CONTA_CADASTRO,
                includer(table, _new_bill, required=_BILL_REQUIRED, message="Lançamento cadastrado com sucesso!"),
                f"Inclui uma conta a {singular}.",
            ),
        )
    ),
    Method(
        "financas/contapagar",
        "LancarPagamento",
        "conta_pagar_lancar_pagamento",
        _BAIXA,
        _settle("contas_pagar", "Pagamento lançado com sucesso!"),
        "Lança o pagamento de uma conta a pagar.",
    ),
    Method(
        "financas/contareceber",
        "LancarRecebimento",
        "conta_receber_lancar_recebimento",
        _BAIXA,
        _settle("contas_receber", "Recebimento lançado com sucesso!"),
        "Lança o recebimento de uma conta a receber.",
    ),
    # produtos/nfconsultar
    Method(
        "produtos/nfconsultar",
        "ListarNF",
        "nfListarRequest",
        _NF_LIST,
        Lister("nf", "nfCadastro", keep=_NF_FILTER, shape=_nf_shape),
        "Lista as notas fiscais.",
    ),
    Method(
        "produtos/nfconsultar",
        "ConsultarNF",
        "nfChave",
        _NF_CHAVE,
        Getter(
            "nf",
            (
                ("nCodNF", ("compl", "nIdNF")),
                ("cChaveNFe", ("compl", "cChaveNFe")),
                ("nNF", ("ide", "nNF")),
                ("nIdPedido", ("compl", "nIdPedido")),
            ),
        ),
        "Consulta uma nota fiscal.",
    ),
    # geral/categorias, geral/departamentos, geral/contacorrente
    Method(
        "geral/categorias",
        "ListarCategorias",
        "categoria_list_request",
        _CATEGORIAS_LIST,
        Lister("categorias", "categoria_cadastro", keep=_CATEGORY_FILTER, max_page_size=100),
        "Lista as categorias (no máximo 100 por página).",
    ),
    Method(
        "geral/categorias",
        "ConsultarCategoria",
        "categoria_consultar",  # [I]
        _fields(("codigo",)),
        Getter("categorias", (("codigo", ("codigo",)),)),
        "Consulta uma categoria.",
    ),
    *(
        Method(
            "geral/departamentos",
            call,
            "departamento_listar_request",  # [I]
            _fields(_SNAKE_PAGE),
            Lister("departamentos", "departamentos"),
            "Lista os departamentos.",
        )
        for call in ("ListarDepartamentos", "ListarDepatartamentos")  # the WSDL has the typo as an alias
    ),
    Method(
        "geral/contacorrente",
        "ListarContasCorrentes",
        "fin_conta_corrente_listar_request",  # [I]
        _CONTAS_CORRENTES_LIST,
        Lister("contas_correntes", "ListarContasCorrentes", keep=_ACTIVE_ACCOUNT),
        "Lista as contas correntes.",
    ),
    *(
        Method(
            "geral/contacorrente",
            call,
            "fin_conta_corrente_resumo_request",  # [I]
            _CONTAS_CORRENTES_LIST,
            Lister("contas_correntes", "conta_corrente_lista", keep=_ACTIVE_ACCOUNT, shape=_account_summary),
            "Lista as contas correntes de forma resumida.",
        )
        for call in ("ListarResumoContasCorrentes", "PesquisarContaCorrente")
    ),
    Method(
        "geral/contacorrente",
        "ConsultarContaCorrente",
        "fin_conta_corrente_chave",  # [I]
        _fields(_split("nCodCC cCodCCInt")),
        Getter("contas_correntes", (("nCodCC", ("nCodCC",)), ("cCodCCInt", ("cCodCCInt",)))),
        "Consulta uma conta corrente.",
    ),
    # financas: movimentos, extrato, lançamentos de conta corrente
    Method(
        "financas/mf",
        "ListarMovimentos",
        "mfListarRequest",
        _MF_LIST,
        Lister(_movements, "movimentos", paging="hung", keep=_MOVEMENT_FILTER),
        "Lista a movimentação financeira (contas a pagar e a receber).",
    ),
    Method(
        "financas/extrato",
        "ListarExtrato",
        "eccListarExtratoRequest",  # [I]
        _EXTRATO,
        _statement,
        "Extrato de uma conta corrente (nCodCC obrigatório).",
    ),
    Method(
        "financas/contacorrentelancamentos",
        "ListarLancCC",
        "lccListarRequest",  # [I]
        _LANC_CC_LIST,
        Lister("lancamentos_cc", "listaLancamentos", paging="hung", keep=_CC_ENTRY_FILTER),
        "Lista os lançamentos de conta corrente.",
    ),
    # geral: projetos, empresas, tipos de documento, DRE
    Method(
        "geral/projetos",
        "ListarProjetos",
        "projListarRequest",  # [I]
        _SIMPLE_LIST,
        Lister("projetos", "cadastro"),
        "Lista os projetos.",
    ),
    Method(
        "geral/empresas",
        "ListarEmpresas",
        "empresas_list_request",  # [I]
        _SIMPLE_LIST,
        Lister("empresas", "empresas_cadastro"),
        "Lista as empresas.",
    ),
    Method(
        "geral/tiposdoc",
        "PesquisarTipoDocumento",
        "tipo_documento_pesquisar",  # [I]
        _fields(("codigo",)),
        Lister("tipos_documento", "tipo_documento_cadastro", paging="none", keep=equals("codigo", ("codigo",))),
        "Pesquisa os tipos de documento.",
        needs_params=False,
    ),
    Method(
        "geral/dre",
        "ListarCadastroDRE",
        "dreListarRequest",  # [I]
        _fields(("apenasContasAtivas",)),
        Lister("dre", "dreLista", paging="none", keep=flag("apenasContasAtivas", ("naoExibirDRE",), "N")),
        "Lista as contas do DRE.",
        needs_params=False,
    ),
    # estoque, serviços
    Method(
        "estoque/consulta",
        "ListarPosEstoque",
        "listarPosEstoqueRequest",  # [I]
        _ESTOQUE_LIST,
        Lister(_stock, "produtos", paging="hung", extra=_stock_date),
        "Posição de estoque dos produtos.",
    ),
    Method(
        "servicos/nfse",
        "ListarNFSEs",
        "nfseListarRequest",  # [I]
        _NFSE_LIST,
        Lister("nfse", "nfseEncontradas", paging="hung", keep=_NFSE_FILTER),
        "Lista as NFS-e emitidas.",
    ),
    Method(
        "servicos/os",
        "ListarOS",
        "osListarRequest",  # [I]
        _OS_LIST,
        Lister("os", "osCadastro", keep=_OS_FILTER),
        "Lista as ordens de serviço.",
    ),
)

#: ``SERVICES["geral/clientes"]["ListarClientes"]`` -> :class:`Method`; services in path order.
SERVICES: dict[str, dict[str, Method]] = {}
for _method in sorted(_METHODS, key=lambda m: m.service):
    SERVICES.setdefault(_method.service, {})[_method.call] = _method
del _method


def find_method(service: str, call: str) -> Method:
    """The method ``call`` of ``service`` (which must be a key of :data:`SERVICES`).

    Raises:
        SimulatedFault: the call does not exist on that service.
    """
    method = SERVICES[service].get(call) if isinstance(call, str) else None
    if method is None:
        raise _faults.unknown_call(str(call), service)
    return method
