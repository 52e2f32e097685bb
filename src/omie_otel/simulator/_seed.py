"""The seeded data: Omie-shaped records for every table, all drawn from one ``random.Random(seed)``.

The tables are drawn in a fixed order, so the same seed and counts always give the same records, and records
refer to each other: orders name real clients and products, notas fiscais come from invoiced orders, bills use
real categories, departments and bank accounts.

Example:
    >>> data = generate(seed=7, counts={"clientes": 3}, today=date(2025, 7, 11))
    >>> len(data.table("clientes"))
    3
    >>> sorted(data.table("clientes")[0])[:3]
    ['bairro', 'bloqueado', 'bloquear_faturamento']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date, timedelta

from omie_otel.simulator._brazil import (
    ACTIVITIES,
    BANKS,
    CITIES,
    FIRST_NAMES,
    NEIGHBOURHOODS,
    STREETS,
    SURNAMES,
    ascii_slug,
    make_cnpj,
    make_cpf,
    make_ean13,
    nfe_access_key,
)
from omie_otel.simulator._data import DataSet, Record, format_date, id_base, parse_date

__all__ = ["DEFAULT_RECORD_COUNTS", "generate"]

# --- fixed vocabularies ---------------------------------------------------------------------------------------------

#: (codigo, descricao, DRE code) of the chart of categories; group rows (two levels) are totalizers.
_CATEGORY_TREE: tuple[tuple[str, str, str], ...] = (
    ("1.01", "Receitas Operacionais", "1"),
    ("1.01.01", "Vendas de Produtos", "1.01"),
    ("1.01.02", "Vendas de Serviços", "1.02"),
    ("1.01.03", "Receitas de Revenda", "1.01"),
    ("1.02", "Receitas Financeiras", "7.01"),
    ("1.02.01", "Rendimentos de Aplicações", "7.01"),
    ("1.02.02", "Juros Recebidos", "7.01"),
    ("1.02.03", "Descontos Obtidos", "7.01"),
    ("1.03", "Outras Receitas", "7.01"),
    ("1.03.01", "Reembolsos de Despesas", "7.01"),
    ("1.03.02", "Venda de Ativo Imobilizado", "7.01"),
    ("2.01", "Custos", "4"),
    ("2.01.01", "Compras de Mercadorias", "4.01"),
    ("2.01.02", "Matéria-Prima", "4.01"),
    ("2.01.03", "Fretes e Carretos", "4.01"),
    ("2.01.04", "Serviços de Terceiros", "4.02"),
    ("2.02", "Despesas Administrativas", "6.01"),
    ("2.02.01", "Aluguel", "6.01"),
    ("2.02.02", "Energia Elétrica", "6.01"),
    ("2.02.03", "Água e Esgoto", "6.01"),
    ("2.02.04", "Telefonia e Internet", "6.01"),
    ("2.02.05", "Material de Escritório", "6.01"),
    ("2.02.06", "Serviços Contábeis", "6.01"),
    ("2.02.07", "Softwares e Licenças", "6.01"),
    ("2.03", "Despesas com Pessoal", "6.02"),
    ("2.03.01", "Salários", "6.02"),
    ("2.03.02", "Pró-labore", "6.02"),
    ("2.03.03", "FGTS", "6.02"),
    ("2.03.04", "INSS", "6.02"),
    ("2.03.05", "Vale-Transporte", "6.02"),
    ("2.03.06", "Vale-Refeição", "6.02"),
    ("2.03.07", "Férias", "6.02"),
    ("2.03.08", "13º Salário", "6.02"),
    ("2.04", "Impostos e Taxas", "2.01"),
    ("2.04.01", "Simples Nacional", "2.01"),
    ("2.04.02", "ICMS", "2.01"),
    ("2.04.03", "ISS", "2.01"),
    ("2.04.04", "PIS", "2.01"),
    ("2.04.05", "COFINS", "2.01"),
    ("2.04.06", "IRPJ", "2.01"),
    ("2.04.07", "CSLL", "2.01"),
    ("2.05", "Despesas Financeiras", "7.02"),
    ("2.05.01", "Tarifas Bancárias", "7.02"),
    ("2.05.02", "Juros Pagos", "7.02"),
    ("2.05.03", "IOF", "7.02"),
    ("2.06", "Despesas Comerciais", "6.03"),
    ("2.06.01", "Comissões sobre Vendas", "6.03"),
    ("2.06.02", "Marketing e Publicidade", "6.03"),
    ("2.06.03", "Viagens e Hospedagem", "6.03"),
)

#: (codigoDRE, descricaoDRE, nivelDRE, sinalDRE, totalizaDRE, naoExibirDRE)
_DRE: tuple[tuple[str, str, int, str, str, str], ...] = (
    ("1", "Receita Bruta", 1, "+", "S", "N"),
    ("1.01", "Receita de Vendas de Produtos", 2, "+", "N", "N"),
    ("1.02", "Receita de Prestação de Serviços", 2, "+", "N", "N"),
    ("2", "Deduções da Receita Bruta", 1, "-", "S", "N"),
    ("2.01", "Impostos sobre Vendas", 2, "-", "N", "N"),
    ("2.02", "Devoluções e Abatimentos", 2, "-", "N", "N"),
    ("3", "Receita Líquida", 1, "+", "S", "N"),
    ("4", "Custos das Vendas", 1, "-", "S", "N"),
    ("4.01", "Custo das Mercadorias Vendidas", 2, "-", "N", "N"),
    ("4.02", "Custo dos Serviços Prestados", 2, "-", "N", "N"),
    ("5", "Lucro Bruto", 1, "+", "S", "N"),
    ("6", "Despesas Operacionais", 1, "-", "S", "N"),
    ("6.01", "Despesas Administrativas", 2, "-", "N", "N"),
    ("6.02", "Despesas com Pessoal", 2, "-", "N", "N"),
    ("6.03", "Despesas Comerciais", 2, "-", "N", "N"),
    ("7", "Resultado Financeiro", 1, "+", "S", "N"),
    ("7.01", "Receitas Financeiras", 2, "+", "N", "N"),
    ("7.02", "Despesas Financeiras", 2, "-", "N", "N"),
    ("8", "Lucro Líquido do Exercício", 1, "+", "S", "N"),
    ("9", "Resultados Não Operacionais (desativada)", 1, "+", "N", "S"),
)

# fmt: off
#: (codigo, descricao) as PesquisarTipoDocumento returns them
_DOCUMENT_TYPES: tuple[tuple[str, str], ...] = (
    ("ADI", "Adiantamento"), ("BOL", "Boleto"), ("CRT", "Cartão"), ("CHQ", "Cheque"), ("CON", "Convênios"),
    ("CRE", "Crediário"), ("DRF", "DARF"), ("DAS", "DAS"), ("DEB", "Débito em conta"), ("DIN", "Dinheiro"),
    ("DOC", "DOC"), ("GUIA", "Guia de Recolhimento"), ("NF", "Nota Fiscal"), ("PIX", "PIX"), ("PROT", "Protesto"),
    ("REC", "Recibo"), ("RPA", "RPA"), ("TED", "TED"), ("TRA", "Transferência"), ("99999", "Outros"),
)
# fmt: on

# fmt: off
_DEPARTMENTS = (
    "Comercial", "Administrativo", "Financeiro", "Operações", "Marketing", "Recursos Humanos", "Tecnologia",
    "Logística", "Compras", "Jurídico", "Produção", "Atendimento ao Cliente",
)
# fmt: on

# fmt: off
_PROJECTS = (
    "Implantação ERP", "Expansão Filial Sul", "Campanha Black Friday", "Reforma da Sede", "Contrato Prefeitura",
    "Linha Premium", "Exportação Mercosul", "Treinamento de Equipes", "Loja Virtual", "Certificação ISO 9001",
)
# fmt: on

#: (descricao, unidade, NCM, preço base)
_PRODUCTS: tuple[tuple[str, str, str, float], ...] = (
    ("Papel Sulfite A4 75g Resma 500 fls", "PCT", "4802.56.10", 28.90),
    ("Caneta Esferográfica Azul", "UN", "9608.10.00", 1.80),
    ("Café Torrado e Moído 500g", "UN", "0901.21.00", 18.50),
    ("Açúcar Cristal 5kg", "UN", "1701.99.00", 22.90),
    ('Parafuso Sextavado 1/4" Caixa c/ 100', "CX", "7318.15.00", 45.00),
    ("Cabo HDMI 2m", "UN", "8544.42.00", 34.90),
    ("Mouse Óptico USB", "UN", "8471.60.53", 39.90),
    ("Teclado ABNT2 USB", "UN", "8471.60.52", 79.90),
    ("Cimento CP-II 50kg", "SC", "2523.29.10", 36.50),
    ("Tinta Acrílica Branca 18L", "LT", "3209.10.10", 289.00),
    ("Detergente Neutro 500ml", "UN", "3402.20.00", 2.79),
    ("Álcool em Gel 70% 500ml", "UN", "2207.20.19", 9.90),
    ("Camiseta Algodão Básica", "UN", "6109.10.00", 29.90),
    ("Óleo de Soja 900ml", "UN", "1507.90.11", 7.49),
    ("Arroz Tipo 1 5kg", "UN", "1006.30.21", 27.90),
    ("Feijão Carioca 1kg", "UN", "0713.33.19", 8.99),
    ('Notebook 15,6" 8GB SSD 256GB', "UN", "8471.30.12", 3499.00),
    ('Monitor LED 24"', "UN", "8528.52.20", 899.00),
    ("Cadeira de Escritório Giratória", "UN", "9401.30.90", 649.00),
    ("Filtro de Óleo Automotivo", "UN", "8421.23.00", 32.00),
    ("Pastilha de Freio Dianteira", "JG", "6813.81.10", 119.00),
    ("Luva Nitrílica Caixa c/ 100", "CX", "4015.19.00", 49.90),
    ("Ração Bovina 40kg", "SC", "2309.90.90", 98.00),
    ("Fertilizante NPK 10-10-10 50kg", "SC", "3105.20.00", 189.00),
)

#: (código LC 116, descrição do serviço)
_SERVICES = (
    ("1.07", "Suporte técnico em informática"),
    ("1.05", "Licenciamento de programas de computador"),
    ("17.01", "Assessoria e consultoria empresarial"),
    ("17.19", "Serviços de contabilidade"),
    ("7.02", "Execução de obras de construção civil"),
    ("14.01", "Manutenção e conservação de máquinas"),
    ("17.06", "Propaganda e publicidade"),
    ("8.02", "Treinamento e capacitação profissional"),
)

#: Records generated per table unless ``SimulatorConfig(records=...)`` says otherwise.
DEFAULT_RECORD_COUNTS: Mapping[str, int] = {
    "clientes": 120,
    "produtos": 80,
    "pedidos": 60,
    "contas_pagar": 150,
    "contas_receber": 180,
    "nf": 50,
    "categorias": len(_CATEGORY_TREE),
    "departamentos": 8,
    "contas_correntes": 4,
    "projetos": 6,
    "empresas": 1,
    "lancamentos_cc": 120,
    "nfse": 30,
    "os": 40,
}


def _ids(rng: random.Random, count: int) -> list[int]:
    """``count`` increasing 10-digit ids with gaps, like Omie's ``nCod`` values."""
    current = id_base(rng)
    out = []
    for _ in range(count):
        current += rng.randint(1, 9_999)
        out.append(current)
    return out


def _clock_time(rng: random.Random) -> str:
    return f"{rng.randrange(7, 20):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def _info(rng: random.Random, today: date, imported: bool, *, max_age: int = 900) -> Record:
    """The ``info`` block (inclusion/alteration stamps) every Omie record carries."""
    inc = today - timedelta(days=rng.randrange(1, max_age))
    alt = inc + timedelta(days=rng.randrange(0, (today - inc).days + 1))
    user = "WEBSERVICE" if imported else rng.choice(("ADMIN", "FINANCEIRO", "COMERCIAL"))
    return {
        "dInc": format_date(inc),
        "hInc": _clock_time(rng),
        "uInc": user,
        "dAlt": format_date(alt),
        "hAlt": _clock_time(rng),
        "uAlt": user,
        "cImpAPI": "S" if imported else "N",
    }


def _money(value: float) -> float:
    return round(value, 2)


# --- generators, one per table --------------------------------------------------------------------------------------


def _clientes(rng: random.Random, n: int, today: date) -> list[Record]:
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        city = rng.choice(CITIES)
        person = rng.random() < 0.3
        contact_first, contact_last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        if person:
            middle = rng.choice(SURNAMES)
            razao = f"{contact_first} {middle} {contact_last}"
            fantasia = f"{contact_first} {contact_last}"
            document = make_cpf(rng)
            email = f"{ascii_slug(contact_first)}.{ascii_slug(contact_last)}@" + rng.choice(
                ("gmail.com", "hotmail.com", "outlook.com", "uol.com.br")
            )
            phone = f"9{rng.randrange(1000, 10000)}-{rng.randrange(10000):04d}"
        else:
            surname = rng.choice(SURNAMES)
            activity, short = rng.choice(ACTIVITIES)
            razao = f"{surname} {activity} {rng.choice(('Ltda', 'Ltda', 'Ltda', 'ME', 'EIRELI', 'EPP', 'S.A.'))}"
            fantasia = f"{short} {surname}"
            document = make_cnpj(rng)
            email = f"contato@{ascii_slug(fantasia)}.com.br"
            phone = f"3{rng.randrange(100, 1000)}-{rng.randrange(10000):04d}"
        imported = rng.random() < 0.4
        tags = ["Cliente"] + (["Fornecedor"] if rng.random() < 0.25 else []) + (["VIP"] if rng.random() < 0.1 else [])
        records.append(
            {
                "codigo_cliente_omie": code,
                "codigo_cliente_integracao": f"CLI{seq:05d}" if imported else "",
                "razao_social": razao,
                "nome_fantasia": fantasia,
                "cnpj_cpf": document,
                "pessoa_fisica": "S" if person else "N",
                "contato": f"{contact_first} {contact_last}",
                "email": email,
                "homepage": "" if person else f"www.{ascii_slug(fantasia)}.com.br",
                "telefone1_ddd": city.ddd,
                "telefone1_numero": phone,
                "endereco": rng.choice(STREETS),
                "endereco_numero": str(rng.randrange(1, 3000)),
                "complemento": rng.choice(("", "", "", "Sala 12", "Apto 41", "Bloco B", "Loja 3")),
                "bairro": rng.choice(NEIGHBOURHOODS),
                "cidade": city.omie_name,
                "cidade_ibge": str(city.ibge),
                "estado": city.uf,
                "cep": f"{city.cep_prefix}{rng.randrange(100, 1000)}-{rng.randrange(1000):03d}",
                "codigo_pais": "1058",
                "inscricao_estadual": "" if person else rng.choice(("ISENTO", f"{rng.randrange(10**11, 10**12)}")),
                "inscricao_municipal": "" if person else f"{rng.randrange(10**6, 10**8)}",
                "optante_simples_nacional": "N" if person else rng.choice(("S", "N")),
                "contribuinte": "N" if person else "S",
                "produtor_rural": "N",
                "exterior": "N",
                "importado_api": "S" if imported else "N",
                "bloqueado": "N",
                "bloquear_faturamento": "N",
                "inativo": "S" if rng.random() < 0.05 else "N",
                "valor_limite_credito": float(rng.choice((0, 5_000, 10_000, 25_000, 50_000))),
                "tags": [{"tag": tag} for tag in tags],
                "recomendacoes": {"gerar_boletos": rng.choice(("S", "N")), "email_fatura": email},
                "info": _info(rng, today, imported),
            }
        )
    return records


def _produtos(rng: random.Random, n: int, today: date) -> list[Record]:
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        name, unit, ncm, base_price = _PRODUCTS[(seq - 1) % len(_PRODUCTS)]
        generation = (seq - 1) // len(_PRODUCTS)
        imported = rng.random() < 0.5
        weight = _money(rng.uniform(0.05, 50))
        records.append(
            {
                "codigo_produto": code,
                "codigo_produto_integracao": f"PRD{seq:05d}" if imported else "",
                "codigo": f"PRD{seq:05d}",
                "descricao": name if generation == 0 else f"{name} - Modelo {generation + 1}",
                "unidade": unit,
                "ncm": ncm,
                "ean": make_ean13(rng),
                "valor_unitario": _money(base_price * rng.uniform(0.9, 1.25)),
                "tipoItem": "00",
                "marca": rng.choice(("", "Genérica", "Premium", "Nacional")),
                "peso_liq": weight,
                "peso_bruto": _money(weight * 1.05),
                "estoque_minimo": float(rng.choice((0, 5, 10, 20))),
                "quantidade_estoque": float(rng.randrange(0, 500)),
                "descr_detalhada": "",
                "obs_internas": "",
                "cfop": "5.102",
                "inativo": "S" if rng.random() < 0.05 else "N",
                "bloqueado": "N",
                "importado_api": "S" if imported else "N",
                "info": _info(rng, today, imported),
            }
        )
    return records


def _categorias(rng: random.Random, n: int, today: date) -> list[Record]:
    rows = list(_CATEGORY_TREE[:n])
    rows += [(f"2.09.{i:02d}", f"Outras Despesas {i:02d}", "6.01") for i in range(1, n - len(rows) + 1)]
    dre = {code: (desc, level, sign) for code, desc, level, sign, _, _ in _DRE}
    records = []
    for code, description, dre_code in rows:
        revenue = code.startswith("1")
        group = code.count(".") == 1
        dre_desc, dre_level, dre_sign = dre[dre_code]
        records.append(
            {
                "codigo": code,
                "descricao": description,
                "descricao_padrao": description,
                "conta_inativa": "S" if rng.random() < 0.04 else "N",
                "definida_pelo_usuario": "N",
                "id_conta_contabil": 0,
                "tag_conta_contabil": "",
                "conta_despesa": "N" if revenue else "S",
                "conta_receita": "S" if revenue else "N",
                "nao_exibir": "N",
                "natureza": "",
                "totalizadora": "S" if group else "N",
                "transferencia": "N",
                "codigo_dre": dre_code,
                "categoria_superior": "" if group else code.rsplit(".", 1)[0],
                "dadosDRE": {
                    "codigoDRE": dre_code,
                    "descricaoDRE": dre_desc,
                    "naoExibirDRE": "N",
                    "nivelDRE": dre_level,
                    "sinalDRE": dre_sign,
                    "totalizaDRE": "N",
                },
            }
        )
    return records


def _departamentos(rng: random.Random, n: int, today: date) -> list[Record]:
    return [
        {
            "codigo": str(code),
            "descricao": _DEPARTMENTS[i % len(_DEPARTMENTS)] + ("" if i < len(_DEPARTMENTS) else f" {i + 1}"),
            "estrutura": f"{i + 1:03d}",
            "inativo": "S" if rng.random() < 0.05 else "N",
            "nivel_totalizador": "N",
        }
        for i, code in enumerate(_ids(rng, n))
    ]


def _contas_correntes(rng: random.Random, n: int, today: date) -> list[Record]:
    records = []
    for i, code in enumerate(_ids(rng, n)):
        cash = i == 0
        bank, bank_name = ("999", "Caixa") if cash else rng.choice(BANKS)
        agency, account = f"{rng.randrange(1, 9999):04d}", f"{rng.randrange(10000, 99999)}-{rng.randrange(10)}"
        records.append(
            {
                "nCodCC": code,
                "cCodCCInt": f"CC{i + 1:03d}",
                "tipo_conta_corrente": "CX" if cash else "CC",
                "codigo_banco": bank,
                "descricao": "Caixinha" if cash else f"{bank_name} - CC {account}",
                "codigo_agencia": "" if cash else agency,
                "numero_conta_corrente": "" if cash else account,
                "saldo_inicial": _money(rng.uniform(500, 80_000)),
                "saldo_data": format_date(today.replace(day=1) - timedelta(days=365)),
                "valor_limite": 0.0 if cash else float(rng.choice((0, 10_000, 50_000))),
                "inativo": "N",
                "bloqueado": "N",
                "pdv_enviar": "N",
            }
        )
    return records


def _projetos(rng: random.Random, n: int, today: date) -> list[Record]:
    return [
        {
            "codigo": code,
            "codInt": f"PRJ{i + 1:03d}",
            "nome": _PROJECTS[i % len(_PROJECTS)] + ("" if i < len(_PROJECTS) else f" {i + 1}"),
            "inativo": "S" if rng.random() < 0.1 else "N",
        }
        for i, code in enumerate(_ids(rng, n))
    ]


def _empresas(rng: random.Random, n: int, today: date) -> list[Record]:
    records = []
    for i, code in enumerate(_ids(rng, n)):
        city = rng.choice(CITIES)
        surname = rng.choice(SURNAMES)
        activity, short = rng.choice(ACTIVITIES)
        fantasia = f"{short} {surname}"
        records.append(
            {
                "codigo_empresa": code,
                "codigo_empresa_integracao": f"EMP{i + 1:02d}",
                "cnpj": make_cnpj(rng),
                "razao_social": f"{surname} {activity} Ltda",
                "nome_fantasia": fantasia,
                "endereco": rng.choice(STREETS),
                "endereco_numero": str(rng.randrange(1, 3000)),
                "bairro": rng.choice(NEIGHBOURHOODS),
                "cidade": city.omie_name,
                "estado": city.uf,
                "cep": f"{city.cep_prefix}{rng.randrange(100, 1000)}-{rng.randrange(1000):03d}",
                "telefone1_ddd": city.ddd,
                "telefone1_numero": f"3{rng.randrange(100, 1000)}-{rng.randrange(10000):04d}",
                "email": f"financeiro@{ascii_slug(fantasia)}.com.br",
                "inscricao_estadual": f"{rng.randrange(10**11, 10**12)}",
                "inscricao_municipal": f"{rng.randrange(10**6, 10**8)}",
                "cnae": "4751-2/01",
                "regime_tributario": "1",
                "optante_simples_nacional": "S",
                "inativa": "N",
            }
        )
    return records


def _bill_status(rng: random.Random, due: date, today: date, paid_label: str) -> tuple[str, bool]:
    if rng.random() < 0.03:
        return "CANCELADO", False
    paid = rng.random() < (0.85 if due < today else 0.1)
    if paid:
        return paid_label, True
    if due < today:
        return "ATRASADO", False
    return ("VENCE HOJE" if due == today else "A VENCER"), False


def _contas(
    rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]], *, payable: bool
) -> tuple[list[Record], dict[tuple[str, int], tuple[date, float]]]:
    prefix, paid_label = ("CP", "PAGO") if payable else ("CR", "RECEBIDO")
    group = "2" if payable else "1"  # expenses live under 2.x, revenues under 1.x
    categories = [c["codigo"] for c in refs["categorias"] if c["totalizadora"] == "N" and c["codigo"][0] == group]
    records: list[Record] = []
    payments: dict[tuple[str, int], tuple[date, float]] = {}
    for seq, code in enumerate(_ids(rng, n), start=1):
        issued = today - timedelta(days=rng.randrange(0, 240))
        due = issued + timedelta(days=rng.choice((0, 15, 28, 30, 45, 60, 90)))
        value = _money(rng.uniform(80, 15_000) if payable else rng.uniform(150, 25_000))
        status, paid = _bill_status(rng, due, today, paid_label)
        if paid:
            payments[("contas_pagar" if payable else "contas_receber", code)] = (
                min(today, due + timedelta(days=rng.randrange(-3, 6))),
                value,
            )
        category = rng.choice(categories or ["2.01.01" if payable else "1.01.01"])
        department = rng.choice(refs["departamentos"]) if refs["departamentos"] else None
        imported = rng.random() < 0.5
        parcel_count = rng.choice((1, 1, 1, 2, 3, 6))
        records.append(
            {
                "codigo_lancamento_omie": code,
                "codigo_lancamento_integracao": f"{prefix}{seq:06d}" if imported else "",
                "codigo_cliente_fornecedor": rng.choice(refs["clientes"])["codigo_cliente_omie"],
                "data_emissao": format_date(issued),
                "data_entrada": format_date(issued),
                "data_vencimento": format_date(due),
                "data_previsao": format_date(due),
                "valor_documento": value,
                "codigo_categoria": category,
                "id_conta_corrente": rng.choice(refs["contas_correntes"])["nCodCC"],
                "numero_documento": f"{rng.randrange(1000, 99999)}",
                "numero_documento_fiscal": f"{rng.randrange(1000, 99999)}",
                "numero_parcela": f"{rng.randint(1, parcel_count):03d}/{parcel_count:03d}",
                "codigo_tipo_documento": rng.choice(("BOL", "BOL", "NF", "PIX", "REC", "DEB")),
                "status_titulo": status,
                "observacao": "",
                "codigo_projeto": 0,
                "categorias": [{"codigo_categoria": category, "valor": value, "percentual": 100.0}],
                "distribuicao": []
                if department is None
                else [
                    {
                        "cCodDep": department["codigo"],
                        "cDesDep": department["descricao"],
                        "nPerDep": 100.0,
                        "nValDep": value,
                    }
                ],
                "info": _info(rng, today, imported, max_age=240),
            }
        )
    return records, payments


def _pedidos(rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]]) -> list[Record]:
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        client = rng.choice(refs["clientes"])
        stage = rng.choice(("10", "10", "20", "50", "60", "60", "60", "70"))
        invoiced = stage in ("60", "70")
        items, total = [], 0.0
        for item_no in range(1, rng.randint(1, 4) + 1):
            product = rng.choice(refs["produtos"])
            quantity = float(rng.randint(1, 40))
            line_total = _money(quantity * product["valor_unitario"])
            total += line_total
            items.append(
                {
                    "ide": {"codigo_item": code * 10 + item_no, "codigo_item_integracao": "", "simples_nacional": "N"},
                    "produto": {
                        "codigo_produto": product["codigo_produto"],
                        "codigo_produto_integracao": product["codigo_produto_integracao"],
                        "codigo": product["codigo"],
                        "descricao": product["descricao"],
                        "unidade": product["unidade"],
                        "ncm": product["ncm"],
                        "ean": product["ean"],
                        "cfop": "5.102",
                        "quantidade": quantity,
                        "valor_unitario": product["valor_unitario"],
                        "valor_mercadoria": line_total,
                        "valor_desconto": 0.0,
                        "tipo_desconto": "V",
                        "valor_total": line_total,
                    },
                    "inf_adic": {"peso_bruto": product["peso_bruto"], "peso_liquido": product["peso_liq"]},
                }
            )
        total = _money(total)
        forecast = today + timedelta(days=rng.randrange(-120, 30))
        parcels = rng.choice((1, 1, 2, 3))
        imported = rng.random() < 0.6
        info = _info(rng, today, imported, max_age=180)
        records.append(
            {
                "cabecalho": {
                    "codigo_pedido": code,
                    "codigo_pedido_integracao": f"PED{seq:06d}" if imported else "",
                    "numero_pedido": str(1000 + seq),
                    "codigo_cliente": client["codigo_cliente_omie"],
                    "data_previsao": format_date(forecast),
                    "etapa": stage,
                    "codigo_parcela": "000" if parcels == 1 else f"{parcels:03d}",
                    "qtde_parcelas": parcels,
                    "quantidade_itens": len(items),
                    "bloqueado": "N",
                    "origem_pedido": "API" if imported else "WEB",
                },
                "det": items,
                "frete": {"modalidade": "9", "valor_frete": 0.0},
                "informacoes_adicionais": {
                    "codigo_categoria": "1.01.01",
                    "codigo_conta_corrente": rng.choice(refs["contas_correntes"])["nCodCC"],
                    "consumidor_final": client["pessoa_fisica"],
                    "enviar_email": "N",
                },
                "lista_parcelas": {
                    "parcela": [
                        {
                            "numero_parcela": p,
                            "data_vencimento": format_date(forecast + timedelta(days=30 * p)),
                            "percentual": round(100 / parcels, 2),
                            "valor": _money(total / parcels),
                        }
                        for p in range(1, parcels + 1)
                    ]
                },
                "total_pedido": {
                    "valor_mercadorias": total,
                    "valor_descontos": 0.0,
                    "valor_IPI": 0.0,
                    "base_calculo_icms": total,
                    "valor_icms": _money(total * 0.18),
                    "valor_total_pedido": total,
                },
                "infoCadastro": {
                    "dInc": info["dInc"],
                    "hInc": info["hInc"],
                    "uInc": info["uInc"],
                    "dAlt": info["dAlt"],
                    "hAlt": info["hAlt"],
                    "uAlt": info["uAlt"],
                    "faturado": "S" if invoiced else "N",
                    "dFat": format_date(forecast) if invoiced else "",
                    "cancelado": "N",
                    "autorizado": "S" if invoiced else "N",
                    "denegado": "N",
                    "devolvido": "N",
                    "cImpAPI": info["cImpAPI"],
                },
            }
        )
    return records


def _nf(rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]]) -> list[Record]:
    clients = {c["codigo_cliente_omie"]: c for c in refs["clientes"]}
    invoiced = [p for p in refs["pedidos"] if p["infoCadastro"]["faturado"] == "S"]
    company = refs["empresas"][0] if refs["empresas"] else None
    emitter_cnpj = company["cnpj"] if company else make_cnpj(rng)
    city = rng.choice(CITIES)
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        order = invoiced[seq - 1] if seq <= len(invoiced) else None
        client = clients[order["cabecalho"]["codigo_cliente"]] if order else rng.choice(refs["clientes"])
        lines = (
            [item["produto"] for item in order["det"]]
            if order
            else [
                {
                    "codigo_produto": p["codigo_produto"],
                    "codigo": p["codigo"],
                    "descricao": p["descricao"],
                    "ncm": p["ncm"],
                    "unidade": p["unidade"],
                    "quantidade": float(q),
                    "valor_unitario": p["valor_unitario"],
                    "valor_total": _money(q * p["valor_unitario"]),
                }
                for p, q in ((rng.choice(refs["produtos"]), rng.randint(1, 20)) for _ in range(rng.randint(1, 3)))
            ]
        )
        total = _money(sum(line["valor_total"] for line in lines))
        issued = (parse_date(order["infoCadastro"]["dFat"]) if order else None) or today - timedelta(
            days=rng.randrange(0, 180)
        )
        number = 4000 + seq
        info = _info(rng, today, True, max_age=180)
        records.append(
            {
                "compl": {
                    "nIdNF": code,
                    "nIdPedido": order["cabecalho"]["codigo_pedido"] if order else 0,
                    "cChaveNFe": nfe_access_key(
                        city.uf_code, issued.strftime("%y%m"), emitter_cnpj, 1, number, rng=rng
                    ),
                    "cCodCateg": "1.01.01",
                    "cModFrete": "9",
                },
                "ide": {
                    "nNF": str(number),
                    "serie": "1",
                    "mod": "55",
                    "dEmi": format_date(issued),
                    "hEmi": _clock_time(rng),
                    "dSaiEnt": format_date(issued),
                    "tpNF": "1",
                    "tpAmb": "1",
                    "finNFe": "1",
                    "dCan": "",
                },
                "nfEmitInt": {"nCodEmp": company["codigo_empresa"] if company else 0, "cnpj_cpf": emitter_cnpj},
                "nfDestInt": {
                    "nCodCli": client["codigo_cliente_omie"],
                    "cCodCliInt": client["codigo_cliente_integracao"],
                    "cnpj_cpf": client["cnpj_cpf"],
                    "razao_social": client["razao_social"],
                },
                "det": [
                    {
                        "nfProdInt": {"nCodProd": line["codigo_produto"]},
                        "prod": {
                            "cProd": line["codigo"],
                            "xProd": line["descricao"],
                            "NCM": line["ncm"].replace(".", ""),
                            "CFOP": "5102",
                            "uCom": line["unidade"],
                            "qCom": line["quantidade"],
                            "vUnCom": line["valor_unitario"],
                            "vProd": line["valor_total"],
                            "vDesc": 0.0,
                        },
                    }
                    for line in lines
                ],
                "total": {
                    "ICMSTot": {
                        "vBC": total,
                        "vICMS": _money(total * 0.18),
                        "vProd": total,
                        "vFrete": 0.0,
                        "vDesc": 0.0,
                        "vIPI": 0.0,
                        "vNF": total,
                    }
                },
                "titulos": [
                    {
                        "nCodTitulo": code + 1,
                        "cNumTitulo": f"{number}/1",
                        "dDtVenc": format_date(issued + timedelta(days=30)),
                        "nValorTitulo": total,
                        "nParcela": 1,
                    }
                ],
                "info": info,
            }
        )
    return records


def _lancamentos_cc(rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]]) -> list[Record]:
    categories = [c["codigo"] for c in refs["categorias"] if c["totalizadora"] == "N"] or ["1.01.01"]
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        day = today - timedelta(days=rng.randrange(0, 365))
        category = rng.choice(categories)
        records.append(
            {
                "nCodLanc": code,
                "cCodIntLanc": f"LCC{seq:06d}" if rng.random() < 0.3 else "",
                "cabecalho": {
                    "nCodCC": rng.choice(refs["contas_correntes"])["nCodCC"],
                    "dDtLanc": format_date(day),
                    "nValorLanc": _money(rng.uniform(20, 8_000)),
                },
                "detalhes": {
                    "cCodCateg": category,
                    "cTipo": rng.choice(("DIN", "TRA", "DEB", "PIX", "TED")),
                    "cNumDoc": f"{rng.randrange(1000, 99999)}",
                    "nCodCliente": rng.choice(refs["clientes"])["codigo_cliente_omie"],
                    "cObs": "",
                },
                "diversos": {"cOrigem": "MANL", "dDtConc": format_date(day) if rng.random() < 0.7 else ""},
                "info": _info(rng, today, False, max_age=365),
            }
        )
    return records


def _nfse(rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]]) -> list[Record]:
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        client = rng.choice(refs["clientes"])
        lc116, description = rng.choice(_SERVICES)
        value = _money(rng.uniform(300, 20_000))
        rate = rng.choice((2.0, 3.0, 5.0))
        issued = today - timedelta(days=rng.randrange(0, 365))
        records.append(
            {
                "Cabecalho": {
                    "nCodNF": code,
                    "cNumeroNFSe": str(800 + seq),
                    "cStatusNFSe": "C" if rng.random() < 0.05 else "F",
                    "nCodigoCliente": client["codigo_cliente_omie"],
                    "cCNPJDestinatario": client["cnpj_cpf"],
                    "cRazaoDestinatario": client["razao_social"],
                    "nValorNFSe": value,
                },
                "Emissao": {"cDataEmissao": format_date(issued), "cHoraEmissao": _clock_time(rng)},
                "ListaServicos": [{"cCodServLC116": lc116, "cDescServ": description, "nValorServ": value}],
                "Valores": {
                    "nValorTotalServicos": value,
                    "nAliquotaISS": rate,
                    "nValorISS": _money(value * rate / 100),
                    "nValorLiquido": _money(value * (1 - rate / 100)),
                },
            }
        )
    return records


def _os(rng: random.Random, n: int, today: date, refs: Mapping[str, list[Record]]) -> list[Record]:
    records = []
    for seq, code in enumerate(_ids(rng, n), start=1):
        services = [rng.choice(_SERVICES) for _ in range(rng.randint(1, 3))]
        lines: list[Record] = [
            {
                "cCodServLC116": lc116,
                "cDescServ": description,
                "nQtde": float(rng.randint(1, 10)),
                "nValUnit": _money(rng.uniform(80, 2_500)),
                "cTribServ": "01",
            }
            for lc116, description in services
        ]
        stage = rng.choice(("10", "20", "50", "60"))
        info = _info(rng, today, False, max_age=240)
        records.append(
            {
                "Cabecalho": {
                    "nCodOS": code,
                    "cCodIntOS": f"OS{seq:05d}" if rng.random() < 0.4 else "",
                    "cNumOS": f"{seq:06d}",
                    "nCodCli": rng.choice(refs["clientes"])["codigo_cliente_omie"],
                    "dDtPrevisao": format_date(today + timedelta(days=rng.randrange(-90, 30))),
                    "cEtapa": stage,
                    "cCodParc": "000",
                    "nQtdeParc": 1,
                    "nValorTotal": _money(sum(line["nQtde"] * line["nValUnit"] for line in lines)),
                },
                "InformacoesAdicionais": {
                    "cCodCateg": "1.01.02",
                    "nCodCC": rng.choice(refs["contas_correntes"])["nCodCC"],
                    "cCidPrestServ": rng.choice(CITIES).omie_name,
                },
                "ServicosPrestados": lines,
                "InfoCadastro": {
                    "dDtInc": info["dInc"],
                    "cHrInc": info["hInc"],
                    "dDtAlt": info["dAlt"],
                    "cHrAlt": info["hAlt"],
                    "cFaturada": "S" if stage == "60" else "N",
                    "cCancelada": "N",
                },
            }
        )
    return records


def _fixed_tables() -> dict[str, list[Record]]:
    return {
        "tipos_documento": [{"codigo": code, "descricao": desc} for code, desc in _DOCUMENT_TYPES],
        "dre": [
            {
                "codigoDRE": code,
                "descricaoDRE": desc,
                "nivelDRE": level,
                "sinalDRE": sign,
                "totalizaDRE": total,
                "naoExibirDRE": hidden,
            }
            for code, desc, level, sign, total, hidden in _DRE
        ],
    }


#: Tables other tables draw from: they always hold at least one record.
_REQUIRED = frozenset({"clientes", "produtos", "contas_correntes"})

_Simple = Callable[[random.Random, int, date], list[Record]]
_Related = Callable[[random.Random, int, date, Mapping[str, list[Record]]], list[Record]]

#: Independent tables first, then the ones that refer to them; this order is part of the determinism contract.
_SIMPLE: tuple[tuple[str, _Simple], ...] = (
    ("empresas", _empresas),
    ("clientes", _clientes),
    ("produtos", _produtos),
    ("categorias", _categorias),
    ("departamentos", _departamentos),
    ("contas_correntes", _contas_correntes),
    ("projetos", _projetos),
)
_RELATED: tuple[tuple[str, _Related], ...] = (
    ("pedidos", _pedidos),
    ("nf", _nf),
    ("lancamentos_cc", _lancamentos_cc),
    ("nfse", _nfse),
    ("os", _os),
)


def generate(seed: int, counts: Mapping[str, int], today: date) -> DataSet:
    """Build the whole data set for ``seed``.

    Args:
        seed: the one seed everything derives from.
        counts: records per table, overriding :data:`DEFAULT_RECORD_COUNTS` table by table.
        today: the simulated current date.

    Raises:
        ValueError: a table name in ``counts`` is unknown.
    """
    unknown = set(counts) - set(DEFAULT_RECORD_COUNTS)
    if unknown:
        raise ValueError(f"unknown tables in record counts: {sorted(unknown)}; known: {sorted(DEFAULT_RECORD_COUNTS)}")
    size = {**DEFAULT_RECORD_COUNTS, **counts}
    rng = random.Random(seed)
    tables: dict[str, list[Record]] = {}
    for name, simple in _SIMPLE:
        tables[name] = simple(rng, max(size[name], 1 if name in _REQUIRED else 0), today)
    for name, related in _RELATED:
        tables[name] = related(rng, size[name], today, tables)
    tables["contas_pagar"], payable = _contas(rng, size["contas_pagar"], today, tables, payable=True)
    tables["contas_receber"], receivable = _contas(rng, size["contas_receber"], today, tables, payable=False)
    tables |= _fixed_tables()
    data = DataSet(tables, random.Random(f"{seed}:ids"), today)
    data.payments = payable | receivable
    return data
