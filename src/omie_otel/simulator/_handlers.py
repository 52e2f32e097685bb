"""The building blocks every Omie call is made of: paging, filters, list, get and write handlers.

A handler is ``handler(data, param) -> body``: it reads or changes the :class:`DataSet` and returns the success
body, or raises an :class:`SimulatedFault`. :mod:`omie_otel.simulator._catalog` assembles the calls from these blocks.
Bodies may share objects with the data set; the app serialises them before anything else runs.

Example:
    >>> body = paginate([{"n": i} for i in range(5)], {"pagina": 2, "registros_por_pagina": 2}, "snake", "itens")
    >>> body["pagina"], body["total_de_paginas"], body["registros"], body["total_de_registros"], body["itens"]
    (2, 3, 2, 5, [{'n': 2}, {'n': 3}])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from omie_otel.simulator import _faults
from omie_otel.simulator._brazil import digits
from omie_otel.simulator._data import ENTITIES, DataSet, Entity, Record, get_path, parse_date, stamp_info

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Getter",
    "Handler",
    "Lister",
    "Paging",
    "Param",
    "Predicate",
    "all_of",
    "alterer",
    "contains",
    "date_range",
    "deleter",
    "equals",
    "flag",
    "given",
    "includer",
    "inside",
    "lookup",
    "one_of",
    "paginate",
    "require",
    "same_document",
    "status_body",
    "upserter",
]

Param = Mapping[str, Any]
Predicate = Callable[[Record, Param], bool]
Shape = Callable[[Record, Param], Record]
Source = Callable[[DataSet], Sequence[Record]]
Paging = Literal["snake", "hung", "none"]
Key = tuple[str, tuple[str, ...]]  # (request field, path of the record field it matches)

#: Page size when the request does not say (an inference: Omie's documented default is not known).
DEFAULT_PAGE_SIZE = 50

_PAGING_FIELDS: dict[str, tuple[str, str, str, str, str, str]] = {
    # request page, request size, response page, total pages, records on page, total records
    "snake": ("pagina", "registros_por_pagina", "pagina", "total_de_paginas", "registros", "total_de_registros"),
    "hung": ("nPagina", "nRegPorPagina", "nPagina", "nTotPaginas", "nRegistros", "nTotRegistros"),
}


class Handler(Protocol):
    """What every call does: ``(data, param) -> body``, or raise :class:`SimulatedFault`."""

    def __call__(self, data: DataSet, param: Param) -> Record: ...


def given(param: Param, key: str) -> Any:
    """``param[key]`` when it holds something (not missing, ``None``, ``""``, ``[]`` or ``{}``); else ``None``."""
    value = param.get(key)
    return None if value in (None, "", [], {}) else value


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def paginate(records: Sequence[Record], param: Param, paging: Paging, list_field: str, max_size: int = 500) -> Record:
    """One page of ``records`` in the ``snake`` or ``hung`` shape (or all of them for ``none``).

    The page size is capped at ``max_size`` silently, as Omie does.

    Raises:
        SimulatedFault: 5113 when the page is past the end (which includes an empty result).
    """
    if paging == "none":
        if not records:
            raise _faults.no_records(1)
        return {list_field: list(records)}
    page_in, size_in, page_out, pages_out, count_out, total_out = _PAGING_FIELDS[paging]
    page = max(1, _as_int(param.get(page_in), 1))
    size = min(max(1, _as_int(param.get(size_in), DEFAULT_PAGE_SIZE)), max_size)
    total = len(records)
    pages = math.ceil(total / size)
    if page > pages:
        raise _faults.no_records(page)
    chunk = list(records[(page - 1) * size : page * size])
    return {page_out: page, pages_out: pages, count_out: len(chunk), total_out: total, list_field: chunk}


# --- filters: each reads its own request field and passes every record when that field is empty -------------------


def all_of(*predicates: Predicate) -> Predicate:
    """A record passes when it passes every predicate."""
    return lambda record, param: all(p(record, param) for p in predicates)


def equals(key: str, path: tuple[str, ...], normalize: Callable[[Any], Any] = str) -> Predicate:
    """``record[path] == param[key]`` after ``normalize`` on both sides."""

    def check(record: Record, param: Param) -> bool:
        wanted = given(param, key)
        return wanted is None or normalize(get_path(record, path)) == normalize(wanted)

    return check


def same_document(key: str, path: tuple[str, ...]) -> Predicate:
    """CPF/CNPJ equality, formatted or not."""
    return equals(key, path, lambda v: digits(str(v or "")))


def contains(key: str, path: tuple[str, ...]) -> Predicate:
    """Case-insensitive substring match of ``param[key]`` in ``record[path]``."""

    def check(record: Record, param: Param) -> bool:
        wanted = given(param, key)
        return wanted is None or str(wanted).casefold() in str(get_path(record, path) or "").casefold()

    return check


def date_range(from_key: str, to_key: str, path: tuple[str, ...]) -> Predicate:
    """``param[from_key] <= record[path] <= param[to_key]`` on ``dd/mm/aaaa`` dates; either bound may be absent."""

    def check(record: Record, param: Param) -> bool:
        low, high = parse_date(given(param, from_key)), parse_date(given(param, to_key))
        if low is None and high is None:
            return True
        day = parse_date(get_path(record, path))
        return day is not None and (low is None or day >= low) and (high is None or day <= high)

    return check


def flag(key: str, path: tuple[str, ...], wanted: str) -> Predicate:
    """When ``param[key] == "S"``, keep only records whose ``path`` is ``wanted`` (``apenas_importado_api``...)."""
    return lambda record, param: param.get(key) != "S" or get_path(record, path) == wanted


def one_of(key: str, path: tuple[str, ...], meaning: Mapping[str, tuple[str, ...]]) -> Predicate:
    """``param[key]`` names a set of values (``EMABERTO`` -> ``A VENCER``, ``ATRASADO``...) ``record[path]`` is in."""

    def check(record: Record, param: Param) -> bool:
        wanted = given(param, key)
        if wanted is None:
            return True
        return get_path(record, path) in meaning.get(str(wanted).upper(), (str(wanted).upper(),))

    return check


def inside(key: str, predicate: Predicate) -> Predicate:
    """Apply ``predicate`` to the sub-object ``param[key]`` (``clientesFiltro``...)."""

    def check(record: Record, param: Param) -> bool:
        sub = param.get(key)
        return not isinstance(sub, Mapping) or predicate(record, sub)

    return check


def _always(record: Record, param: Param) -> bool:
    return True


def _as_is(record: Record, param: Param) -> Record:
    return record


# --- handlers -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lister:
    """A ``Listar*``/``Pesquisar*`` call: filter the source, shape each record, return one page.

    Attributes:
        source: the table name, or a function building the records (derived views like movimentos).
        list_field: the response field holding the list (``clientes_cadastro``...).
        paging: ``snake``, ``hung`` or ``none``.
        keep: the filter.
        shape: the projection of one record (``ListarClientesResumido``...).
        max_page_size: the silent cap on the page size.
        extra: extra top-level response fields (``dDataPosicao``...).
    """

    source: str | Source
    list_field: str
    paging: Paging = "snake"
    keep: Predicate = _always
    shape: Shape = _as_is
    max_page_size: int = 500
    extra: Callable[[DataSet, Param], Record] | None = None

    def __call__(self, data: DataSet, param: Param) -> Record:
        rows = data.table(self.source) if isinstance(self.source, str) else self.source(data)
        records = [self.shape(r, param) for r in rows if self.keep(r, param)]
        page = paginate(records, param, self.paging, self.list_field, self.max_page_size)
        return {**self.extra(data, param), **page} if self.extra else page


def lookup(data: DataSet, table: str, param: Param, keys: Sequence[Key]) -> Record:
    """The record the first given key points at.

    Raises:
        SimulatedFault: 103 when no key is given, 105 when the key matches nothing.
    """
    entity = ENTITIES[table]
    for field, path in keys:
        value = param.get(field)
        if value in (None, ""):
            continue
        record = data.find(table, path, value)
        if record is None:
            raise _faults.not_registered(entity.label, entity.registered, value, integration=path == entity.int_path)
        return record
    raise _faults.required_tag(keys[0][0])


@dataclass(frozen=True)
class Getter:
    """A ``Consultar*`` call: the record one of ``keys`` points at, optionally wrapped in ``{wrap: record}``."""

    table: str
    keys: tuple[Key, ...]
    wrap: str | None = None

    def __call__(self, data: DataSet, param: Param) -> Record:
        record = lookup(data, self.table, param, self.keys)
        return {self.wrap: record} if self.wrap else record


def require(param: Param, paths: Sequence[tuple[str, ...]]) -> None:
    """Raise 103 naming the first of ``paths`` that is missing or empty in ``param``."""
    for path in paths:
        if get_path(param, path) in (None, "", [], {}):
            raise _faults.required_tag(path[-1])


def status_body(entity: Entity, record: Record, message: str, **extra: Any) -> Record:
    """The ``*_status`` answer of a write: ids, ``codigo_status: "0"``, the success message, extras."""
    body: Record = {entity.id_path[-1]: entity.id_of(record)}
    if entity.int_path:
        body[entity.int_path[-1]] = entity.int_code_of(record) or ""
    return {**body, "codigo_status": "0", "descricao_status": message, **extra}


Build = Callable[[Param, int, DataSet], Record]
Extra = Callable[[Record], Record]


def _insert(table: str, build: Build, data: DataSet, param: Param) -> Record:
    entity = ENTITIES[table]
    code = get_path(param, entity.int_path) if entity.int_path else None
    existing = data.find(table, entity.int_path, code) if code and entity.int_path else None
    if existing is not None:
        raise _faults.already_registered(entity.label, entity.registered, code, entity.id_of(existing))
    record = build(param, data.new_id(table), data)
    data.insert(table, record)
    return record


def _change(record: Record, param: Param, entity: Entity, data: DataSet) -> None:
    ids = {entity.id_path[0], *(entity.int_path[:1] if entity.int_path else ())}
    record.update({k: v for k, v in param.items() if k not in ids and k != "info"})
    if "info" in record:
        record["info"] = stamp_info(record["info"], data.today)


def includer(
    table: str, build: Build, *, required: Sequence[tuple[str, ...]], message: str, extra: Extra | None = None
) -> Handler:
    """``Incluir*``: 103 for a missing required field, 102 for a used integration code, else insert."""
    entity = ENTITIES[table]

    def handle(data: DataSet, param: Param) -> Record:
        require(param, required)
        record = _insert(table, build, data, param)
        return status_body(entity, record, message, **(extra(record) if extra else {}))

    return handle


def alterer(table: str, keys: tuple[Key, ...], *, message: str) -> Handler:
    """``Alterar*``: find by ``keys`` (103/105), then merge the given fields."""
    entity = ENTITIES[table]

    def handle(data: DataSet, param: Param) -> Record:
        record = lookup(data, table, param, keys)
        _change(record, param, entity, data)
        return status_body(entity, record, message)

    return handle


def upserter(table: str, build: Build, *, required: Sequence[tuple[str, ...]], new: str, changed: str) -> Handler:
    """``Upsert*``: keyed by the integration code (103 when missing); insert or merge."""
    entity = ENTITIES[table]
    assert entity.int_path is not None, f"{table} has no integration code to upsert on"
    int_path = entity.int_path

    def handle(data: DataSet, param: Param) -> Record:
        require(param, [int_path, *required])
        record = data.find(table, int_path, get_path(param, int_path))
        if record is None:
            return status_body(entity, _insert(table, build, data, param), new)
        _change(record, param, entity, data)
        return status_body(entity, record, changed)

    return handle


def deleter(table: str, keys: tuple[Key, ...], *, message: str) -> Handler:
    """``Excluir*``: find by ``keys`` (103/105), then delete."""
    entity = ENTITIES[table]

    def handle(data: DataSet, param: Param) -> Record:
        record = lookup(data, table, param, keys)
        data.remove(table, record)
        return status_body(entity, record, message)

    return handle
