"""The Omie MCP server: tools a finance or sales assistant needs, in Portuguese, over :class:`OmieClient`.

Tools: ``testar_conexao``, ``consultar_clientes``, ``consultar_cliente``, ``cadastrar_cliente``,
``consultar_categorias``, ``consultar_departamentos``, ``consultar_tipos_documento``, ``consultar_contas_pagar``,
``consultar_contas_receber``. Resource: ``omie://status`` (connection state and last fault, never credentials).

Every tool returns a JSON-able dict with only the fields an assistant needs (Omie's records carry dozens), and turns
an Omie fault into a ``ToolError`` with a Portuguese message saying what happened and what to do.

Example:
    >>> import asyncio
    >>> from fastmcp import Client
    >>> mcp = build_server()
    >>> async def main() -> None:
    ...     async with Client(mcp) as client:
    ...         print((await client.call_tool("consultar_clientes", {"registros_por_pagina": 5})).data)
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import Field

from examples.omie_mcp_server.client import OmieClient, OmieError

__all__ = ["build_server", "tool_error"]

logger = logging.getLogger("omie_mcp")

_READ_ONLY = {"readOnlyHint": True, "openWorldHint": True}

# Parameter types shared by the tools (the descriptions are what the assistant reads).
Pagina = Annotated[int, Field(ge=1, description="Página, a partir de 1.")]
RegistrosPorPagina = Annotated[int, Field(ge=1, le=500, description="Registros por página (até 500).")]
DataInicio = Annotated[str, Field(description="Início do período de emissão, dd/mm/aaaa.")]
DataFim = Annotated[str, Field(description="Fim do período de emissão, dd/mm/aaaa.")]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_MESSAGES: Mapping[str, str] = {
    "misuse_blocked": "O Omie bloqueou temporariamente este aplicativo por consumo indevido da API{espera}. "
    "Não repita a chamada antes disso.",
    "rate_limited": "Limite de requisições da API do Omie atingido{espera}. Tente novamente em instantes.",
    "redundant": "O Omie recusou uma consulta idêntica feita há pouco (REDUNDANT){espera}.",
    "concurrent_request": "O Omie ainda está processando outra requisição deste método. "
    "Tente novamente em alguns instantes.",
    "duplicate_request": "O Omie já processou (ou está processando) esta requisição. Confira antes de repetir.",
    "auth": "O Omie recusou as credenciais. Verifique OMIE_APP_KEY e OMIE_APP_SECRET.",
    "validation": "O Omie rejeitou os dados enviados: {detalhe}",
    "not_found": "Registro não encontrado no Omie: {detalhe}",
    "server_error": "O Omie está instável no momento (erro no servidor dele). Tente novamente em alguns minutos.",
    "transport": "Não foi possível falar com o Omie (rede ou tempo esgotado). Tente novamente.",
}


def tool_error(error: OmieError) -> ToolError:
    """The ``ToolError`` an assistant sees for an Omie fault: what happened and what to do, in Portuguese.

    Args:
        error: The fault raised by :class:`OmieClient`.

    Returns:
        A ``ToolError``; its text never holds credentials (only Omie's own message).

    Example:
        >>> from omie_otel.omie import OmieFault
        >>> fault = OmieFault("misuse_blocked", "MISUSE_API_PROCESS", "bloqueada", retry_after=1726)
        >>> str(tool_error(OmieError(fault, call="ListarClientes", endpoint="geral/clientes")))[:60]
        'O Omie bloqueou temporariamente este aplicativo por consumo '
    """
    fault = error.fault
    wait = f" (aguarde {fault.retry_after:.0f} s)" if fault.retry_after else ""
    detail = (fault.message or "sem detalhes").removeprefix("ERROR: ").strip()
    template = _MESSAGES.get(fault.kind, "O Omie respondeu com um erro inesperado: {detalhe}")
    return ToolError(template.format(espera=wait, detalhe=detail))


def _omie_date(value: str, name: str) -> date:
    """``dd/mm/aaaa`` (Omie's format) or ``aaaa-mm-dd`` (what assistants often send)."""
    text = value.strip()
    try:
        return datetime.strptime(text, "%Y-%m-%d" if _ISO_DATE.match(text) else "%d/%m/%Y").date()
    except ValueError:
        raise ToolError(f"{name} inválida: {value!r}. Use o formato dd/mm/aaaa, por exemplo 01/07/2025.") from None


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _check_digit(numbers: str, weights: list[int]) -> int:
    total = sum(int(n) * w for n, w in zip(numbers, weights))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def _valid_document(number: str) -> bool:
    """CPF (11 digits) or CNPJ (14 digits) with valid check digits."""
    if len(number) not in (11, 14) or len(set(number)) == 1:
        return False
    if len(number) == 11:
        first = (sum(int(n) * w for n, w in zip(number, range(10, 1, -1))) * 10) % 11 % 10
        second = (sum(int(n) * w for n, w in zip(number, range(11, 1, -1))) * 10) % 11 % 10
        return number[9:] == f"{first}{second}"
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _check_digit(number[:12], weights)
    second = _check_digit(number[:12] + str(first), [6, *weights])
    return number[12:] == f"{first}{second}"


def _format_document(number: str) -> str:
    if len(number) == 11:
        return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
    return f"{number[:2]}.{number[2:5]}.{number[5:8]}/{number[8:12]}-{number[12:]}"


def _client_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "codigo_cliente_omie": record.get("codigo_cliente_omie"),
        "codigo_cliente_integracao": record.get("codigo_cliente_integracao") or None,
        "razao_social": record.get("razao_social"),
        "nome_fantasia": record.get("nome_fantasia"),
        "cnpj_cpf": record.get("cnpj_cpf"),
        "email": record.get("email") or None,
        "cidade": record.get("cidade"),
        "estado": record.get("estado"),
        "inativo": record.get("inativo") == "S",
    }


def _bill_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "codigo_lancamento_omie": record.get("codigo_lancamento_omie"),
        "numero_documento": record.get("numero_documento"),
        "parcela": record.get("numero_parcela"),
        "codigo_cliente_fornecedor": record.get("codigo_cliente_fornecedor"),
        "data_emissao": record.get("data_emissao"),
        "data_vencimento": record.get("data_vencimento"),
        "valor_documento": record.get("valor_documento"),
        "status": record.get("status_titulo"),
        "codigo_categoria": record.get("codigo_categoria"),
    }


def build_server(client: OmieClient | None = None) -> FastMCP:
    """The Omie MCP server, with its tools and the ``omie://status`` resource.

    Args:
        client: The Omie client to use (default: ``OmieClient()``, configured from the environment). The caller
            owns it and closes it (``await client.aclose()``) when the server stops.

    Returns:
        A FastMCP server named ``omie``; instrument it with ``omie_otel.instrument(mcp)`` and run it.

    Example:
        >>> import omie_otel
        >>> mcp = build_server()
        >>> omie_otel.instrument(mcp)  # doctest: +SKIP
        >>> mcp.run()  # doctest: +SKIP
    """
    omie = client if client is not None else OmieClient()
    mcp = FastMCP(
        "omie",
        instructions=(
            "Ferramentas para consultar e cadastrar dados no ERP Omie: clientes, categorias, departamentos, tipos "
            "de documento, contas a pagar e a receber. Datas no formato dd/mm/aaaa. Em caso de bloqueio ou limite "
            "da API, respeite o tempo de espera indicado na mensagem de erro."
        ),
    )

    async def omie_call(endpoint: str, call: str, param: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        try:
            return await omie.call(endpoint, call, param, **options)
        except OmieError as exc:
            raise tool_error(exc) from exc

    async def every_record(endpoint: str, call: str, list_field: str, param: Mapping[str, Any]) -> list[Any]:
        try:
            return [record async for record in omie.paginate(endpoint, call, param, list_field=list_field)]
        except OmieError as exc:
            raise tool_error(exc) from exc

    @mcp.tool(annotations=_READ_ONLY)
    async def testar_conexao() -> dict[str, Any]:
        """Testa a conexão com a API do Omie: a empresa ligada às credenciais e como foram as últimas chamadas.

        Use antes das outras ferramentas, ou quando elas falharem, para saber se o problema é de conexão.
        """
        # Omie refuses the same query twice in a minute (REDUNDANT, which counts towards the 425 block): inside that
        # minute the client's cached answer stands, and its state tells how the latest calls went.
        start = time.perf_counter()
        body = await omie_call("geral/empresas", "ListarEmpresas", {"pagina": 1, "registros_por_pagina": 1})
        elapsed_ms = round((time.perf_counter() - start) * 1000)
        empresa = (body.get("empresas_cadastro") or [{}])[0]
        status = omie.status()
        logger.info("testar_conexao: conectado (%d ms), estado %s", elapsed_ms, status["estado"])
        return {
            "conectado": True,
            "empresa": empresa.get("razao_social"),
            "nome_fantasia": empresa.get("nome_fantasia"),
            "tempo_ms": elapsed_ms,
            "estado": status["estado"],
            "ultima_falha": status["ultima_falha"],
            "simulador": omie.settings.simulator,
        }

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_clientes(
        pagina: Pagina = 1,
        registros_por_pagina: RegistrosPorPagina = 50,
        cnpj_cpf: Annotated[str | None, Field(description="Filtra por CNPJ ou CPF, com ou sem pontuação.")] = None,
        razao_social: Annotated[str | None, Field(description="Filtra pela razão social (trecho do nome).")] = None,
    ) -> dict[str, Any]:
        """Lista os clientes cadastrados no Omie, página a página, com filtros opcionais.

        Retorna, para cada cliente, o código no Omie, razão social, nome fantasia, CNPJ/CPF, e-mail, cidade e UF.
        Uma busca sem resultados devolve uma lista vazia.
        """
        param: dict[str, Any] = {"pagina": pagina, "registros_por_pagina": registros_por_pagina}
        param["apenas_importado_api"] = "N"
        filters = {k: v.strip() for k, v in (("cnpj_cpf", cnpj_cpf), ("razao_social", razao_social)) if v}
        if filters:
            param["clientesFiltro"] = filters
        body = await omie_call("geral/clientes", "ListarClientes", param)
        clientes = [_client_summary(c) for c in body.get("clientes_cadastro") or []]
        logger.info(
            "consultar_clientes: página %d de %s, %d cliente(s) de %s",
            pagina,
            body.get("total_de_paginas"),
            len(clientes),
            body.get("total_de_registros"),
        )
        return {
            "pagina": pagina,
            "total_de_paginas": body.get("total_de_paginas", 0),
            "total_de_registros": body.get("total_de_registros", 0),
            "clientes": clientes,
        }

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_cliente(
        codigo_cliente_omie: Annotated[int, Field(gt=0, description="Código do cliente no Omie.")],
    ) -> dict[str, Any]:
        """Consulta o cadastro de um cliente pelo código do Omie (endereço, contato, situação)."""
        body = await omie_call("geral/clientes", "ConsultarCliente", {"codigo_cliente_omie": codigo_cliente_omie})
        logger.info("consultar_cliente: cliente %d encontrado", codigo_cliente_omie)
        return {
            **_client_summary(body),
            "telefone": " ".join(filter(None, (body.get("telefone1_ddd"), body.get("telefone1_numero")))) or None,
            "endereco": ", ".join(filter(None, (body.get("endereco"), body.get("endereco_numero")))) or None,
            "bairro": body.get("bairro"),
            "cep": body.get("cep"),
            "bloqueado": body.get("bloqueado") == "S",
        }

    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "openWorldHint": True})
    async def cadastrar_cliente(
        razao_social: Annotated[str, Field(min_length=2, max_length=60, description="Razão social ou nome.")],
        cnpj_cpf: Annotated[str, Field(description="CNPJ (14 dígitos) ou CPF (11 dígitos), com ou sem pontuação.")],
        email: Annotated[str, Field(description="E-mail de contato.")],
        nome_fantasia: Annotated[str | None, Field(max_length=100, description="Nome fantasia.")] = None,
        cidade: Annotated[str | None, Field(description="Cidade, por exemplo 'São Paulo (SP)'.")] = None,
        estado: Annotated[str | None, Field(min_length=2, max_length=2, description="UF, por exemplo 'SP'.")] = None,
    ) -> dict[str, Any]:
        """Cadastra um novo cliente no Omie (IncluirCliente) e devolve os códigos gerados.

        O código de integração é gerado aqui, o que permite localizar o cliente depois e evita cadastro duplicado.
        """
        number = _digits(cnpj_cpf)
        if not _valid_document(number):
            raise ToolError("CNPJ/CPF inválido: confira os dígitos (CNPJ tem 14, CPF tem 11).")
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email.strip()):
            raise ToolError(f"E-mail inválido: {email!r}.")
        param: dict[str, Any] = {
            "codigo_cliente_integracao": f"mcp-{uuid.uuid4().hex[:20]}",
            "razao_social": razao_social.strip(),
            "nome_fantasia": (nome_fantasia or razao_social).strip(),
            "cnpj_cpf": _format_document(number),
            "email": email.strip(),
        }
        if cidade:
            param["cidade"] = cidade.strip()
        if estado:
            param["estado"] = estado.strip().upper()
        body = await omie_call("geral/clientes", "IncluirCliente", param)
        logger.info("cadastrar_cliente: cliente %s incluído", body.get("codigo_cliente_omie"))
        return {
            "codigo_cliente_omie": body.get("codigo_cliente_omie"),
            "codigo_cliente_integracao": body.get("codigo_cliente_integracao", param["codigo_cliente_integracao"]),
            "status": body.get("descricao_status"),
        }

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_categorias(
        apenas_ativas: Annotated[bool, Field(description="Só as categorias ativas.")] = True,
    ) -> dict[str, Any]:
        """Lista o plano de categorias (receitas e despesas) usado nos lançamentos financeiros."""
        param = {"filtrar_apenas_ativo": "S" if apenas_ativas else "N"}
        records = await every_record("geral/categorias", "ListarCategorias", "categoria_cadastro", param)
        categorias = [
            {
                "codigo": c.get("codigo"),
                "descricao": c.get("descricao"),
                "tipo": "receita" if c.get("conta_receita") == "S" else "despesa",
                "totalizadora": c.get("totalizadora") == "S",
                "inativa": c.get("conta_inativa") == "S",
            }
            for c in records
        ]
        logger.info("consultar_categorias: %d categoria(s)", len(categorias))
        return {"total": len(categorias), "categorias": categorias}

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_departamentos() -> dict[str, Any]:
        """Lista os departamentos (centros de custo) da empresa."""
        records = await every_record("geral/departamentos", "ListarDepartamentos", "departamentos", {})
        departamentos = [
            {
                "codigo": d.get("codigo"),
                "descricao": d.get("descricao"),
                "estrutura": d.get("estrutura"),
                "inativo": d.get("inativo") == "S",
            }
            for d in records
        ]
        logger.info("consultar_departamentos: %d departamento(s)", len(departamentos))
        return {"total": len(departamentos), "departamentos": departamentos}

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_tipos_documento(
        codigo: Annotated[str | None, Field(description="Código do tipo, por exemplo 'BOL' ou 'NF'.")] = None,
    ) -> dict[str, Any]:
        """Lista os tipos de documento financeiro (boleto, nota fiscal, cartão...) ou consulta um pelo código."""
        param = {"codigo": codigo.strip().upper()} if codigo else {}
        body = await omie_call("geral/tiposdoc", "PesquisarTipoDocumento", param)
        tipos = [{"codigo": t.get("codigo"), "descricao": t.get("descricao")} for t in body.get("tipo_documento_cadastro") or []]
        logger.info("consultar_tipos_documento: %d tipo(s)", len(tipos))
        return {"total": len(tipos), "tipos_documento": tipos}

    async def list_bills(
        kind: Literal["pagar", "receber"], data_inicio: str, data_fim: str, pagina: int, registros_por_pagina: int
    ) -> dict[str, Any]:
        start, end = _omie_date(data_inicio, "data_inicio"), _omie_date(data_fim, "data_fim")
        if start > end:
            raise ToolError("data_inicio é posterior a data_fim.")
        noun = kind.capitalize()
        param = {
            "pagina": pagina,
            "registros_por_pagina": registros_por_pagina,
            "apenas_importado_api": "N",
            "filtrar_por_emissao_de": start.strftime("%d/%m/%Y"),
            "filtrar_por_emissao_ate": end.strftime("%d/%m/%Y"),
        }
        body = await omie_call(f"financas/conta{kind}", f"ListarContas{noun}", param)
        contas = [_bill_summary(c) for c in body.get(f"conta_{kind}_cadastro") or []]
        logger.info(
            "consultar_contas_%s: %s a %s, página %d, %d conta(s) de %s",
            kind,
            param["filtrar_por_emissao_de"],
            param["filtrar_por_emissao_ate"],
            pagina,
            len(contas),
            body.get("total_de_registros"),
        )
        return {
            "periodo_emissao": {"inicio": param["filtrar_por_emissao_de"], "fim": param["filtrar_por_emissao_ate"]},
            "pagina": pagina,
            "total_de_paginas": body.get("total_de_paginas", 0),
            "total_de_registros": body.get("total_de_registros", 0),
            "valor_total_da_pagina": round(sum(float(c["valor_documento"] or 0) for c in contas), 2),
            "contas": contas,
        }

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_contas_pagar(
        data_inicio: DataInicio, data_fim: DataFim, pagina: Pagina = 1, registros_por_pagina: RegistrosPorPagina = 20
    ) -> dict[str, Any]:
        """Lista as contas a pagar emitidas no período, com vencimento, valor e situação de cada título."""
        return await list_bills("pagar", data_inicio, data_fim, pagina, registros_por_pagina)

    @mcp.tool(annotations=_READ_ONLY)
    async def consultar_contas_receber(
        data_inicio: DataInicio, data_fim: DataFim, pagina: Pagina = 1, registros_por_pagina: RegistrosPorPagina = 20
    ) -> dict[str, Any]:
        """Lista as contas a receber emitidas no período, com vencimento, valor e situação de cada título."""
        return await list_bills("receber", data_inicio, data_fim, pagina, registros_por_pagina)

    @mcp.resource("omie://status", name="status_omie", mime_type="application/json")
    def status() -> str:
        """Estado da conexão com o Omie: última resposta, última falha, bloqueios em curso. Sem credenciais."""
        return json.dumps(omie.status(), ensure_ascii=False)

    return mcp
