"""Secrets written inside free text: ``senha: ...``-style fields and URL passwords.

A quoted value goes to its closing quote, an unquoted one to the next ``key=`` / ``key:`` field or the end of the
line (``Authorization`` and ``Cookie`` values always to the end of the line). Which keys count as secret is the
scrubber's list of key patterns (:data:`omie_otel.redaction.DEFAULT_SECRET_KEY_PATTERNS` plus the user's);
:mod:`omie_otel.redaction` decides what replaces the values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["inline_regex", "key_label", "replace_inline", "replace_url_passwords"]

# ``scheme://user:password@host``: the password part.
_URL_PASSWORD_RE = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:(?P<pw>[^/\s@]+)@")
# Where an unquoted inline value ends: at the end of the line, or where the next ``key=`` / ``key:`` field starts
# (``&call=`` in a form body, `` usuario=`` in a logfmt line, ``, x: `` in free text).
_NEXT_FIELD_RE = re.compile(r"(?:[ \t]+|[ \t]*[&,;][ \t]*)[A-Za-z_][\w.%-]*[ \t]*[:=]")
_LINE_END_RE = re.compile(r"[\r\n]")
_QUOTE_RE = re.compile(r"(\\*)([\"'])")
#: Inline keys whose value runs to the end of the line whatever it contains (``Cookie: a=1; b=2``).
_WHOLE_LINE_KEYS = ("authorization", "cookie", "bearer", "auth")


def inline_regex(patterns: Sequence[str]) -> re.Pattern[str]:
    """``app_secret=...``, ``"senha": "..."``, ``\\"token\\": \\"...\\"`` (JSON inside a JSON string): the key, the
    quote that closes it if any, and the separator. Where the value ends is decided by :func:`replace_inline`."""
    keys = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?P<key>{keys})(?P<sep>\\*[\"']?[ \t]*[:=][ \t]*)", re.IGNORECASE)


def key_label(key: str) -> str:
    """What a redaction marker calls a matched key: ``App-Secret`` -> ``app_secret``."""
    return key.lower().replace("-", "_").replace(" ", "_").replace(".", "_")


def replace_inline(text: str, inline_re: re.Pattern[str], mark: Callable[[str, str], str]) -> str:
    """Every inline secret value in ``text`` (found by ``inline_re``) replaced by ``mark(value, key_label)``."""
    parts: list[str] = []
    pos = 0
    for m in inline_re.finditer(text):
        if m.start() < pos:
            continue  # inside a value already removed
        start, end = _value_span(text, m.end(), m.group("key").lower())
        value = text[start:end]
        if not value.strip() or value.startswith("[redacted"):
            continue
        parts.append(text[pos:start])
        parts.append(mark(value, key_label(m.group("key"))))
        pos = end
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def replace_url_passwords(text: str, mark: Callable[[str], str]) -> str:
    """The password of every ``scheme://user:password@host`` in ``text`` replaced by ``mark(password)``."""

    def one(m: re.Match[str]) -> str:
        whole, pw = m.group(0), m.group("pw")
        if pw.startswith("[redacted"):
            return whole
        cut = m.start("pw") - m.start()
        return whole[:cut] + mark(pw) + "@"

    return _URL_PASSWORD_RE.sub(one, text)


def _value_span(text: str, start: int, key: str) -> tuple[int, int]:
    """Where the value of an inline secret starting at ``start`` begins and ends.

    Quoted (``"..."``, ``'...'``, ``\\"...\\"`` inside a JSON string): up to the matching closing quote. Unquoted: up
    to the next ``key=`` / ``key:`` field or the end of the line, so ``senha: p@ss w0rd&x`` goes whole while
    ``app_secret=abc&call=X`` keeps ``&call=X``; ``Authorization``/``Cookie`` values always run to the end of the line.
    """
    q = _QUOTE_RE.match(text, start)
    if q is not None:
        closing = q.group(1) + q.group(2)
        begin = q.end()
        i = begin
        while True:
            j = text.find(closing, i)
            if j < 0:
                return begin, len(text)
            if j > begin and text[j - 1] == "\\" and not closing.startswith("\\"):
                i = j + 1  # an escaped quote inside the value
                continue
            return begin, j
    line = _LINE_END_RE.search(text, start)
    end = line.start() if line is not None else len(text)
    if not any(k in key for k in _WHOLE_LINE_KEYS):
        nxt = _NEXT_FIELD_RE.search(text, start, end)
        if nxt is not None:
            end = nxt.start()
    while end > start and text[end - 1] in " \t":
        end -= 1
    return start, end
