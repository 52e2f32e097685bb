"""Property-based: whatever the nesting, the encoding and the position, no secret and no document survives.

Hypothesis builds values around a payload — a valid CPF/CNPJ in one of its spellings (or as a number), a secret
under a secret-looking key, or a registered secret — then wraps it: free text around it, JSON (JSON inside JSON),
URL-encoding, form bodies, Python ``repr``, bytes, dict values, dict *keys*, lists and tuples, several layers deep.
The scrubbed result is serialised and searched like tests/test_leaks.py searches the wire: the document's digits
with up to three non-digit characters between them (after URL-decoding too), the secret in plain, URL- and
JSON-encoded form.

``make test`` runs a fixed, derandomized set of examples (the same ones every run); ``make fuzz`` runs many more
with a random seed (``OMIE_OTEL_FUZZ=<examples>``); a failure prints the seed and the shrunk example.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from omie_otel._scrub_processors import ScrubbingSpanProcessor, install_span_scrubber
from omie_otel.redaction import Scrubber, register_secret

_FUZZ = int(os.environ.get("OMIE_OTEL_FUZZ", "0") or 0)
SETTINGS = settings(
    max_examples=_FUZZ or 250,
    derandomize=not _FUZZ,  # make test: the same examples every run; make fuzz: a new seed each time
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- payloads ---------------------------------------------------------------------------------------------------


def _cpf_digits(base: str) -> str:
    d = base
    for n in (9, 10):
        s = sum(int(d[i]) * (n + 1 - i) for i in range(n))
        d += str((s * 10 % 11) % 10)
    return d


def _cnpj_digits(base: str) -> str:
    d = base
    weights = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    for n in (12, 13):
        s = sum(int(d[i]) * weights[i + 13 - n] for i in range(n))
        r = s % 11
        d += str(0 if r < 2 else 11 - r)
    return d


_SEPARATORS = ["", ".", "-", "/", " ", "+", "\u00a0"]


@st.composite
def documents(draw: Any) -> tuple[str, Any]:
    """(digits, spelled value): a valid CPF or CNPJ, punctuated officially, partly, with spaces, or a number."""
    if draw(st.booleans()):
        digits = _cpf_digits(draw(st.text("0123456789", min_size=9, max_size=9)))
        groups = [digits[:3], digits[3:6], digits[6:9], digits[9:]]
        official = ["."] * 2 + ["-"]
    else:
        digits = _cnpj_digits(draw(st.text("0123456789", min_size=12, max_size=12)))
        groups = [digits[:2], digits[2:5], digits[5:8], digits[8:12], digits[12:]]
        official = [".", ".", "/", "-"]
    if len(set(digits)) == 1:
        digits = _cpf_digits("529982247")  # all-equal digits are no document by definition
        groups, official = [digits[:3], digits[3:6], digits[6:9], digits[9:]], [".", ".", "-"]
    style = draw(st.sampled_from(["official", "bare", "mixed", "number"]))
    if style == "number" and int(digits) >= 10**8:
        return digits, int(digits)
    if style == "official":
        seps = official
    elif style == "bare" or style == "number":
        seps = [""] * len(official)
    else:
        seps = [draw(st.sampled_from(_SEPARATORS)) for _ in official]
    return digits, groups[0] + "".join(s + g for s, g in zip(seps, groups[1:]))


_SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789@#!$*-_"
secret_values = st.builds(
    lambda head, body: head + body,
    st.sampled_from("QWZX"),
    st.text(_SECRET_ALPHABET + " ", min_size=5, max_size=20).map(lambda s: s.strip() or "Q1Q1Q"),
)
_KEYS = ["app_secret", "app_key", "senha", "password", "token", "api_key", "authorization", "APP_SECRET", "x-api-key"]
_INLINE_SEPS = ["=", ": ", " = ", ":", '": "', "': '", '=\\"']
_AFTER = ["", "\n", "&campo=1", " usuario=bob", ", proximo: 1", "; outro=2"]


@st.composite
def inline_secrets(draw: Any) -> tuple[str, str]:
    """(secret, text): ``key<sep>value`` in free text, the value possibly with spaces and ``&``."""
    value = draw(secret_values)
    if draw(st.booleans()):
        value = value.replace(" ", draw(st.sampled_from([" ", "&", " & "])), 1)
    sep = draw(st.sampled_from(_INLINE_SEPS))
    closing = {'": "': '"', "': '": "'", '=\\"': '\\"'}.get(sep, "")
    return value, f"{draw(st.sampled_from(_KEYS))}{sep}{value}{closing}{draw(st.sampled_from(_AFTER))}"


# -- carriers ---------------------------------------------------------------------------------------------------

_FILLER = st.text("abcdefghijklmnopqrstuvwxyz ,;()[]<>|é", max_size=12)
_FIELD = st.text("abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=10)


def _in_text(draw: Any, payload: str) -> str:
    return draw(_FILLER) + payload + draw(_FILLER.filter(lambda s: not s[:1].isalpha()) | st.just(""))


def _encode(draw: Any, payload: str) -> str:
    how = draw(st.sampled_from(["text", "json", "json_list", "json_string", "url", "url_plus", "form", "repr"]))
    if how == "text":
        return _in_text(draw, payload)
    if how == "json":
        return json.dumps({draw(_FIELD): payload, "outro": draw(_FILLER)}, ensure_ascii=draw(st.booleans()))
    if how == "json_list":
        return json.dumps([draw(_FILLER), payload])
    if how == "json_string":
        return json.dumps(payload)
    if how == "url":
        return urllib.parse.quote(payload, safe=draw(st.sampled_from(["", "/"])))
    if how == "url_plus":
        return urllib.parse.quote_plus(payload)
    if how == "form":
        return urllib.parse.urlencode({draw(_FIELD): payload, "call": "ListarClientes"})
    return repr({draw(_FIELD): payload})


@st.composite
def carried(draw: Any, payload: Any) -> Any:
    """``payload`` wrapped in 0-3 encodings, then 0-4 levels of structure; a text payload may become a key."""
    value = payload
    if isinstance(value, str):
        for _ in range(draw(st.integers(0, 3))):
            value = _encode(draw, value)
        if draw(st.integers(0, 5)) == 0:
            value = value.encode()
    for _ in range(draw(st.integers(0, 4))):
        shape = draw(st.sampled_from(["dict", "key", "list", "tuple"]))
        if shape == "key" and isinstance(value, str):
            value = {value: draw(_FILLER)}
        elif shape == "list":
            value = [draw(st.integers(-5, 5)), value, draw(_FILLER)]
        elif shape == "tuple":
            value = (value,)
        else:
            value = {draw(_FIELD): value}
    return value


# -- the search -------------------------------------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    text = json.dumps(value, ensure_ascii=False, default=lambda o: o.decode("utf-8", "replace") if isinstance(o, bytes) else repr(o))
    text += repr(value)
    out = [text]
    for _ in range(4):
        decoded = urllib.parse.unquote_plus(out[-1])
        if decoded == out[-1]:
            break
        out.append(decoded)
    return out


def _document_leaks(value: Any, digits: str) -> bool:
    needles = {digits, digits.lstrip("0")}
    patterns = [re.compile("[^0-9]{0,3}".join(n)) for n in needles if len(n) >= 9]
    return any(p.search(t) for p in patterns for t in _texts(value))


def _secret_leaks(value: Any, secret: str) -> bool:
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}
    return any(f in t for f in forms for t in _texts(value))


# -- properties -------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_no_document_survives_any_nesting_encoding_or_position(data: Any) -> None:
    digits, spelled = data.draw(documents())
    payload = spelled if not isinstance(spelled, str) else data.draw(st.sampled_from(["", "cpf ", "cliente."])) + spelled
    value = data.draw(carried(payload))
    out = Scrubber().scrub_value(value)
    assert not _document_leaks(out, digits), (value, out)


@SETTINGS
@given(st.data())
def test_no_inline_secret_survives_any_nesting_encoding_or_position(data: Any) -> None:
    secret, text = data.draw(inline_secrets())
    value = data.draw(carried(text))
    out = Scrubber().scrub_value(value)
    assert not _secret_leaks(out, secret), (value, out)


@SETTINGS
@given(st.data())
def test_no_registered_secret_survives_any_nesting_encoding_or_position(data: Any) -> None:
    secret = data.draw(secret_values)
    register_secret(secret, "app_secret")
    value = data.draw(carried(_in_text(data.draw, secret)))
    out = Scrubber().scrub_value(value)
    assert not _secret_leaks(out, secret), (value, out)


@SETTINGS
@given(st.data())
def test_no_secret_under_a_secret_key_survives(data: Any) -> None:
    secret = data.draw(secret_values)
    raw: Any = data.draw(st.sampled_from([secret, [secret], {"v": secret}, secret.encode()]))
    value = data.draw(carried({data.draw(st.sampled_from(_KEYS)): raw}))
    out = Scrubber().scrub_value(value)
    assert not _secret_leaks(out, secret), (value, out)


_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
install_span_scrubber(_PROVIDER, ScrubbingSpanProcessor(Scrubber()))


@SETTINGS
@given(st.data())
def test_no_document_survives_a_span_anywhere(data: Any) -> None:
    """Span name, attribute keys and values, event names and attributes, link attributes, status description."""
    digits, spelled = data.draw(documents())
    text = spelled if isinstance(spelled, str) else digits  # numbers are numbers; as text they keep their zeros
    where = data.draw(st.sampled_from(["name", "key", "value", "event_name", "event", "link", "status"]))
    value = data.draw(carried(spelled)) if where in ("value", "event", "link") else _encode(data.draw, text)
    if isinstance(value, dict) and where in ("value", "event", "link"):
        value = json.dumps(value, default=repr)  # attribute values: AnyValue; a JSON text keeps the nesting
    _EXPORTER.clear()
    tracer = _PROVIDER.get_tracer("props")
    with tracer.start_as_current_span("parent") as parent:
        links = [trace.Link(parent.get_span_context(), {"doc": value})] if where == "link" else []
        with tracer.start_as_current_span(value if where == "name" else "s", links=links) as span:
            if where == "key":
                span.set_attribute(value, "x")
            elif where == "value":
                span.set_attribute("v", value)
            elif where == "event_name":
                span.add_event(value)
            elif where == "event":
                span.add_event("e", {"v": value})
            elif where == "status":
                span.set_status(trace.Status(trace.StatusCode.ERROR, value))
    exported = [
        (s.name, dict(s.attributes or {}), [(e.name, dict(e.attributes or {})) for e in s.events],
         [dict(link.attributes or {}) for link in s.links], s.status.description)
        for s in _EXPORTER.get_finished_spans()
    ]
    assert not _document_leaks(exported, digits), (where, value, exported)
