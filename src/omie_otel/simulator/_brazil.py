"""Brazilian documents and vocabulary for the seeded data: CPF, CNPJ, NF-e keys, names, cities.

Check digits follow the Receita Federal (CPF/CNPJ) and SEFAZ (NF-e access key, modulo 11) rules, so a client's
validator accepts every generated number.

Example:
    >>> import random
    >>> cpf = make_cpf(random.Random(1))
    >>> is_valid_cpf(cpf), len(cpf)
    (True, 14)
    >>> format_cnpj("11222333000181")
    '11.222.333/0001-81'
"""

from __future__ import annotations

import random
import re
import unicodedata
from typing import NamedTuple

__all__ = [
    "ACTIVITIES",
    "BANKS",
    "CITIES",
    "FIRST_NAMES",
    "NEIGHBOURHOODS",
    "STREETS",
    "SURNAMES",
    "City",
    "ascii_slug",
    "cnpj_check_digits",
    "cpf_check_digits",
    "digits",
    "format_cnpj",
    "format_cpf",
    "is_valid_cnpj",
    "is_valid_cpf",
    "make_cnpj",
    "make_cpf",
    "make_ean13",
    "nfe_access_key",
]

_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def digits(text: str) -> str:
    """Keep only the digits of ``text`` (``"123.456.789-09"`` -> ``"12345678909"``)."""
    return re.sub(r"\D", "", text)


def _mod11_digit(numbers: str, weights: tuple[int, ...] | range) -> str:
    remainder = sum(int(d) * w for d, w in zip(numbers, weights, strict=True)) % 11
    return "0" if remainder < 2 else str(11 - remainder)


def cpf_check_digits(base9: str) -> str:
    """The two check digits of a CPF whose first nine digits are ``base9``."""
    first = _mod11_digit(base9, range(10, 1, -1))
    return first + _mod11_digit(base9 + first, range(11, 1, -1))


def cnpj_check_digits(base12: str) -> str:
    """The two check digits of a CNPJ whose first twelve digits are ``base12``."""
    first = _mod11_digit(base12, _CNPJ_WEIGHTS_1)
    return first + _mod11_digit(base12 + first, _CNPJ_WEIGHTS_2)


def format_cpf(number: str) -> str:
    """``"12345678909"`` -> ``"123.456.789-09"`` (Omie's display format)."""
    n = digits(number)
    return f"{n[:3]}.{n[3:6]}.{n[6:9]}-{n[9:]}"


def format_cnpj(number: str) -> str:
    """``"12345678000195"`` -> ``"12.345.678/0001-95"`` (Omie's display format)."""
    n = digits(number)
    return f"{n[:2]}.{n[2:5]}.{n[5:8]}/{n[8:12]}-{n[12:]}"


def is_valid_cpf(text: str) -> bool:
    """True when ``text`` (formatted or not) is a CPF with correct check digits."""
    n = digits(text)
    return len(n) == 11 and len(set(n)) > 1 and cpf_check_digits(n[:9]) == n[9:]


def is_valid_cnpj(text: str) -> bool:
    """True when ``text`` (formatted or not) is a CNPJ with correct check digits."""
    n = digits(text)
    return len(n) == 14 and len(set(n)) > 1 and cnpj_check_digits(n[:12]) == n[12:]


def make_cpf(rng: random.Random) -> str:
    """A random valid CPF, formatted ``123.456.789-09``."""
    base = "".join(str(rng.randrange(10)) for _ in range(9))
    while len(set(base)) == 1:  # 111.111.111-11 and friends are invalid by rule
        base = "".join(str(rng.randrange(10)) for _ in range(9))
    return format_cpf(base + cpf_check_digits(base))


def make_cnpj(rng: random.Random) -> str:
    """A random valid CNPJ of a head office (``/0001``), formatted ``12.345.678/0001-95``."""
    base = f"{rng.randrange(1, 100_000_000):08d}0001"
    return format_cnpj(base + cnpj_check_digits(base))


def nfe_access_key(uf_code: int, yymm: str, cnpj: str, series: int, number: int, *, rng: random.Random) -> str:
    """A 44-digit NF-e access key (model 55, normal emission) with its modulo-11 check digit."""
    body = f"{uf_code:02d}{yymm}{digits(cnpj)}55{series:03d}{number:09d}1{rng.randrange(10**8):08d}"
    weights = [2 + (i % 8) for i in range(len(body))]
    remainder = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True)) % 11
    check = 0 if remainder < 2 else 11 - remainder
    return body + str(check)


def make_ean13(rng: random.Random) -> str:
    """A random valid EAN-13 with Brazil's GS1 prefix ``789``."""
    body = "789" + "".join(str(rng.randrange(10)) for _ in range(9))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: ``"Padaria São João"`` -> ``"padariasaojoao"``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


class City(NamedTuple):
    """A city with the codes Omie records carry."""

    name: str
    uf: str
    ibge: int
    ddd: str
    cep_prefix: str

    @property
    def uf_code(self) -> int:
        """The IBGE state code: the first two digits of the city's IBGE code."""
        return self.ibge // 100_000

    @property
    def omie_name(self) -> str:
        """The ``cidade`` value Omie returns: ``"São Paulo (SP)"``."""
        return f"{self.name} ({self.uf})"


CITIES: tuple[City, ...] = (
    City("São Paulo", "SP", 3550308, "11", "01"),
    City("Campinas", "SP", 3509502, "19", "13"),
    City("Santos", "SP", 3548500, "13", "11"),
    City("Ribeirão Preto", "SP", 3543402, "16", "14"),
    City("Sorocaba", "SP", 3552205, "15", "18"),
    City("Rio de Janeiro", "RJ", 3304557, "21", "20"),
    City("Niterói", "RJ", 3303302, "21", "24"),
    City("Belo Horizonte", "MG", 3106200, "31", "30"),
    City("Uberlândia", "MG", 3170206, "34", "38"),
    City("Vitória", "ES", 3205309, "27", "29"),
    City("Curitiba", "PR", 4106902, "41", "80"),
    City("Londrina", "PR", 4113700, "43", "86"),
    City("Florianópolis", "SC", 4205407, "48", "88"),
    City("Joinville", "SC", 4209102, "47", "89"),
    City("Porto Alegre", "RS", 4314902, "51", "90"),
    City("Caxias do Sul", "RS", 4305108, "54", "95"),
    City("Brasília", "DF", 5300108, "61", "70"),
    City("Goiânia", "GO", 5208707, "62", "74"),
    City("Campo Grande", "MS", 5002704, "67", "79"),
    City("Cuiabá", "MT", 5103403, "65", "78"),
    City("Salvador", "BA", 2927408, "71", "40"),
    City("Recife", "PE", 2611606, "81", "50"),
    City("Fortaleza", "CE", 2304400, "85", "60"),
    City("Natal", "RN", 2408102, "84", "59"),
    City("João Pessoa", "PB", 2507507, "83", "58"),
    City("Maceió", "AL", 2704302, "82", "57"),
    City("Aracaju", "SE", 2800308, "79", "49"),
    City("São Luís", "MA", 2111300, "98", "65"),
    City("Teresina", "PI", 2211001, "86", "64"),
    City("Belém", "PA", 1501402, "91", "66"),
    City("Manaus", "AM", 1302603, "92", "69"),
)

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Ana", "Beatriz", "Bruno", "Camila", "Carlos", "Daniela", "Eduardo", "Fernanda", "Gabriel", "Helena", "Igor",
    "Juliana", "Larissa", "Leonardo", "Lucas", "Luiza", "Marcelo", "Mariana", "Mateus", "Patrícia", "Paulo",
    "Rafael", "Renata", "Ricardo", "Rodrigo", "Sofia", "Thiago", "Vanessa", "Vinícius", "Júlia",
)
# fmt: on

# fmt: off
SURNAMES: tuple[str, ...] = (
    "Almeida", "Alves", "Araújo", "Barbosa", "Cardoso", "Carvalho", "Castro", "Costa", "Dias", "Ferreira", "Gomes",
    "Lima", "Martins", "Melo", "Mendes", "Moreira", "Nascimento", "Oliveira", "Pereira", "Ribeiro", "Rocha",
    "Rodrigues", "Santos", "Silva", "Soares", "Souza", "Teixeira", "Vieira", "Azevedo", "Monteiro",
)
# fmt: on

#: (activity in the razão social, prefix of the nome fantasia)
ACTIVITIES: tuple[tuple[str, str], ...] = (
    ("Comércio de Alimentos", "Empório"),
    ("Distribuidora de Bebidas", "Distribuidora"),
    ("Serviços Contábeis", "Contabilidade"),
    ("Tecnologia da Informação", "Tech"),
    ("Materiais de Construção", "Casa & Obra"),
    ("Transportes e Logística", "Transportadora"),
    ("Indústria Têxtil", "Têxtil"),
    ("Consultoria Empresarial", "Consultoria"),
    ("Comércio de Autopeças", "Autopeças"),
    ("Drogaria e Perfumaria", "Drogaria"),
    ("Engenharia e Projetos", "Engenharia"),
    ("Papelaria e Informática", "Papelaria"),
    ("Indústria de Móveis", "Móveis"),
    ("Produtos Agropecuários", "Agro"),
    ("Panificadora e Confeitaria", "Padaria"),
    ("Clínica Odontológica", "Odonto"),
)

# fmt: off
STREETS: tuple[str, ...] = (
    "Rua das Flores", "Avenida Paulista", "Rua XV de Novembro", "Avenida Brasil", "Rua Sete de Setembro",
    "Rua Dom Pedro II", "Avenida Getúlio Vargas", "Rua Marechal Deodoro", "Rua Tiradentes", "Avenida Rio Branco",
    "Rua Santos Dumont", "Rua Barão do Rio Branco", "Avenida Independência", "Rua José Bonifácio",
    "Rua Voluntários da Pátria", "Avenida Presidente Vargas", "Rua Bela Cintra", "Rua Augusta",
)
# fmt: on

# fmt: off
NEIGHBOURHOODS: tuple[str, ...] = (
    "Centro", "Jardim América", "Vila Nova", "Boa Vista", "Santa Cecília", "Bela Vista", "Jardim Paulista",
    "Vila Mariana", "Savassi", "Batel", "Moinhos de Vento", "Pituba", "Boa Viagem", "Aldeota", "Trindade",
)
# fmt: on

#: (código do banco, nome) of banks an Omie company typically holds accounts with
BANKS: tuple[tuple[str, str], ...] = (
    ("001", "Banco do Brasil"),
    ("033", "Santander"),
    ("104", "Caixa Econômica Federal"),
    ("237", "Bradesco"),
    ("341", "Itaú"),
    ("260", "Nubank"),
    ("077", "Banco Inter"),
    ("756", "Sicoob"),
)
