"""The in-memory data set the simulator serves: one table (a list of Omie-shaped dicts) per entity.

:mod:`omie_otel.simulator._seed` fills it; the write calls change it through :class:`DataSet`.

Example:
    >>> data = DataSet({"clientes": [{"codigo_cliente_omie": 10, "codigo_cliente_integracao": "A"}]},
    ...                random.Random(0), DEFAULT_TODAY)
    >>> data.find("clientes", ("codigo_cliente_integracao",), "A")["codigo_cliente_omie"]
    10
    >>> format_date(DEFAULT_TODAY), get_path({"a": {"b": 1}}, ("a", "b"))
    ('11/07/2025', 1)
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "DEFAULT_TODAY",
    "ENTITIES",
    "DataSet",
    "Entity",
    "Record",
    "format_date",
    "get_path",
    "id_base",
    "parse_date",
    "stamp_info",
]

Record = dict[str, Any]

#: The simulated "today": dates in the data set are spread around it, so the data (and any test) never depends
#: on the real calendar. Override with ``SimulatorConfig(today=...)``.
DEFAULT_TODAY = date(2025, 7, 11)


def format_date(day: date) -> str:
    """``date(2025, 7, 1)`` -> ``"01/07/2025"`` (Omie's ``dd/mm/aaaa``)."""
    return day.strftime("%d/%m/%Y")


def parse_date(text: object) -> date | None:
    """``"01/07/2025"`` -> ``date(2025, 7, 1)``; anything else -> ``None``."""
    try:
        return datetime.strptime(str(text), "%d/%m/%Y").date()
    except ValueError:
        return None


def get_path(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """``get_path(pedido, ("cabecalho", "codigo_pedido"))``; ``None`` when a step is missing."""
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True)
class Entity:
    """Where an entity keeps its Omie id and integration code, and how Omie names it in messages."""

    table: str
    id_path: tuple[str, ...]
    int_path: tuple[str, ...] | None
    label: str
    registered: str = "cadastrado"  # "cadastrada" for feminine nouns

    def id_of(self, record: Record) -> Any:
        """The record's Omie id."""
        return get_path(record, self.id_path)

    def int_code_of(self, record: Record) -> Any:
        """The record's integration code (``""`` when it has none)."""
        return get_path(record, self.int_path) if self.int_path else None


ENTITIES: dict[str, Entity] = {
    e.table: e
    for e in (
        Entity("clientes", ("codigo_cliente_omie",), ("codigo_cliente_integracao",), "Cliente"),
        Entity("produtos", ("codigo_produto",), ("codigo_produto_integracao",), "Produto"),
        Entity("pedidos", ("cabecalho", "codigo_pedido"), ("cabecalho", "codigo_pedido_integracao"), "Pedido"),
        Entity("contas_pagar", ("codigo_lancamento_omie",), ("codigo_lancamento_integracao",), "Lançamento"),
        Entity("contas_receber", ("codigo_lancamento_omie",), ("codigo_lancamento_integracao",), "Lançamento"),
        Entity("nf", ("compl", "nIdNF"), None, "Nota Fiscal", "cadastrada"),
        Entity("categorias", ("codigo",), None, "Categoria", "cadastrada"),
        Entity("departamentos", ("codigo",), None, "Departamento"),
        Entity("contas_correntes", ("nCodCC",), ("cCodCCInt",), "Conta Corrente", "cadastrada"),
        Entity("projetos", ("codigo",), ("codInt",), "Projeto"),
        Entity("empresas", ("codigo_empresa",), ("codigo_empresa_integracao",), "Empresa", "cadastrada"),
        Entity("lancamentos_cc", ("nCodLanc",), ("cCodIntLanc",), "Lançamento"),
        Entity("nfse", ("Cabecalho", "nCodNF"), None, "NFS-e", "cadastrada"),
        Entity("os", ("Cabecalho", "nCodOS"), ("Cabecalho", "cCodIntOS"), "Ordem de Serviço", "cadastrada"),
    )
}

# --- the data set ---------------------------------------------------------------------------------------------------


class DataSet:
    """The tables, plus the few operations the write calls need.

    Attributes:
        today: the simulated current date.
        payments: payments per bill: ``{(table, id): (date, amount)}`` for ``contas_pagar``/``contas_receber``.
    """

    def __init__(self, tables: dict[str, list[Record]], rng: random.Random, today: date) -> None:
        self._tables = tables
        self._rng = rng
        self.today = today
        self.payments: dict[tuple[str, int], tuple[date, float]] = {}

    def table(self, name: str) -> list[Record]:
        """The live list of records of table ``name`` (fixed tables included), ordered by Omie id."""
        return self._tables[name]

    def find(self, table: str, path: tuple[str, ...], value: Any) -> Record | None:
        """The first record whose field at ``path`` equals ``value`` (compared as text), or ``None``."""
        wanted = str(value)
        return next((r for r in self._tables[table] if str(get_path(r, path)) == wanted), None)

    def new_id(self, table: str) -> int:
        """A fresh Omie id for ``table``: above every existing one, with a realistic gap."""
        entity = ENTITIES[table]
        top = max((int(entity.id_of(r)) for r in self._tables[table]), default=id_base(self._rng))
        return top + self._rng.randint(1, 997)

    def insert(self, table: str, record: Record) -> None:
        """Append ``record`` (its id comes from :meth:`new_id`, so the table stays ordered)."""
        self._tables[table].append(record)

    def remove(self, table: str, record: Record) -> None:
        """Delete ``record`` from ``table``."""
        self._tables[table].remove(record)


def id_base(rng: random.Random) -> int:
    """A random 10-digit starting point for a table's ids."""
    return rng.randrange(1_000_000_000, 4_000_000_000)


def stamp_info(info: Record | None, today: date) -> Record:
    """``info`` stamped as changed today by the API user; a new ``info`` (created today) when there is none."""
    day, hour, user = format_date(today), "12:00:00", "WEBSERVICE"
    base = info if info else {"dInc": day, "hInc": hour, "uInc": user, "cImpAPI": "S"}
    return {**base, "dAlt": day, "hAlt": hour, "uAlt": user}
