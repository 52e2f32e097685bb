"""CPF and CNPJ numbers: their shapes in text, their check digits, and their replacement.

The official punctuation (``529.982.247-25``, ``11.222.333/0001-81``) is a document even with wrong check digits (a
mistyped CPF is still someone's CPF); every looser spelling — other separators, none at all, a number that lost its
leading zeros — must pass the check digits, which keeps phone numbers and ids out. :mod:`omie_otel.redaction` decides
what replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["DOC_RE", "MAX_DOC_INT", "MIN_DOC_INT", "document_kind", "number_kind", "replace_documents"]

# Separators people put between the groups of a document number: ``529.982.247-25``, ``529 982 247 25``,
# ``529982247/25``, ``529+982+247+25`` (a form body), or none at all.
_SEP = r"[ \t\u00a0.\-/+]?"
_CPF_SHAPE = rf"\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}"
_CNPJ_SHAPE = rf"\d{{2}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{4}}{_SEP}\d{{2}}"
#: Text that may be a CPF or a CNPJ. A digit before or after means a longer number (an NF-e access key, a
#: timestamp), not a document.
DOC_RE = re.compile(rf"(?<!\d)(?:{_CNPJ_SHAPE}|{_CPF_SHAPE})(?!\d)")
_CPF_RE = re.compile(rf"(?<!\d){_CPF_SHAPE}(?!\d)")
_CANONICAL_RE = re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}")
_DIGITS = re.compile(r"\D")
#: Integers outside ``[MIN_DOC_INT, MAX_DOC_INT)`` cannot be a CPF or CNPJ written as a number.
MIN_DOC_INT, MAX_DOC_INT = 10**8, 10**14


def _cpf_valid(d: str) -> bool:
    if len(d) != 11 or d == d[0] * 11:
        return False
    for n in (9, 10):
        s = sum(int(d[i]) * (n + 1 - i) for i in range(n))
        if (s * 10 % 11) % 10 != int(d[n]):
            return False
    return True


def _cnpj_valid(d: str) -> bool:
    if len(d) != 14 or d == d[0] * 14:
        return False
    weights = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    for n in (12, 13):
        s = sum(int(d[i]) * weights[i + 13 - n] for i in range(n))
        r = s % 11
        if (0 if r < 2 else 11 - r) != int(d[n]):
            return False
    return True


def document_kind(raw: str) -> str | None:
    """``"cpf"`` / ``"cnpj"`` when ``raw`` (a :data:`DOC_RE` match) is one, else ``None``."""
    digits = _DIGITS.sub("", raw)
    canonical = _CANONICAL_RE.fullmatch(raw) is not None
    if len(digits) == 11 and (canonical or _cpf_valid(digits)):
        return "cpf"
    if len(digits) == 14 and (canonical or _cnpj_valid(digits)):
        return "cnpj"
    return None


def number_kind(n: int) -> str | None:
    """A CPF or CNPJ written as a number: its leading zeros are gone (``01234567890`` is ``1234567890``)."""
    d = str(n)
    if len(d) <= 11 and _cpf_valid(d.zfill(11)):
        return "cpf"
    if len(d) >= 12 and _cnpj_valid(d.zfill(14)):
        return "cnpj"
    return None


def replace_documents(text: str, mark: Callable[[str, str], str]) -> str:
    """Every CPF and CNPJ in ``text`` replaced by ``mark(raw, kind)``."""
    return DOC_RE.sub(lambda m: _replace(m.group(0), mark), text)


def _replace(raw: str, mark: Callable[[str, str], str]) -> str:
    kind = document_kind(raw)
    if kind is not None:
        return mark(raw, kind)
    if len(_DIGITS.sub("", raw)) == 14:  # not a CNPJ: a CPF may still hide inside ("11 529 982 247 25")
        return _CPF_RE.sub(lambda m: _replace(m.group(0), mark), raw)
    return raw
