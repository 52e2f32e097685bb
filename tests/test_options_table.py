"""The option table in ``omie_otel._config`` is the one source: ``instrument()``'s keywords, the resolved
``Options``, the environment variables, the README table and the package docstring must agree with it, and every
option behaves the same way (argument > environment > default; a bad environment value warns and gives the default;
a bad argument raises ``ValueError`` naming it).

Adding an option is one field of ``Options`` and one keyword of ``instrument()``; these tests fail until the
keyword, the README (``make options-table``) and the examples below follow.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import logging
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import omie_otel
from omie_otel import environment_variables as ev
from omie_otel._config import KEYWORDS, OPTIONS, RAISE_INTERNAL_ERRORS, Options, option_named, resolve_options

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "omie_otel"

#: Per option: (a good environment value, what it resolves to, a bad environment value, a good argument,
#: a bad argument). ``None`` where the option has no environment variable / no keyword.
EXAMPLES: dict[str, tuple[str | None, Any, str | None, Any, Any]] = {
    "capture_arguments": ("true", True, "maybe", False, "yes"),
    "capture_results": ("on", True, "2", False, 1),
    "capture_max_length": ("100", 100, "15", 64, 10**9),
    "omie_urls": ("http://127.0.0.1:9/api/", ("http://127.0.0.1:9/api/",), "ftp://x", ["http://a/"], ["ftp://x"]),
    "host_metrics": ("false", False, "tru", True, "false"),
    "host_metrics_exclude": ("system.network.*, process.*", ("system.network.*", "process.*"), None,
                             ["process.*"], 5),
    "host_metrics_per_cpu": ("yes", True, "maybe", False, "no"),
    "logs": ("off", False, "(", True, 0),
    "log_level": ("debug", logging.DEBUG, "LOUD", "WARNING", "LOUD"),
    "log_format": ("JSON", "json", "xml", None, None),
    "scrub_documents": ("0", False, "inf", True, None),
    "scrub_patterns": ("numero_cartao,cvv", ("numero_cartao", "cvv"), "(", ["cvv"], [".*"]),
    "scrub_callback": (None, None, None, print, "not callable"),
    "ops_tools": ("1", True, "sim", False, "on"),
    "alertmanager_url": ("http://127.0.0.1:9093", "http://127.0.0.1:9093", "am:9093", "http://a", "am:9093"),
    "health_routes": ("no", False, "nao", True, None),
    "health_port": ("8081", 8081, "70000", 0, 70000),
    "health_memory_threshold": ("70%", 70.0, "0.85", 50, 0.85),
    "health_disk_threshold": ("95", 95.0, "101", 80.0, float("nan")),
    "health_omie_probe": ("false", False, "talvez", True, "false"),
    "shutdown_timeout": ("0.5", 0.5, "inf", 1, -1),
}
#: ``bool`` options also refuse a non-bool argument whose example above is None.
_NOT_A_BOOL = "true"


def test_every_option_has_examples() -> None:
    assert set(EXAMPLES) == {o.name for o in OPTIONS}


def test_options_fields_are_the_table() -> None:
    assert [(f.name, f.default) for f in fields(Options)] == [(o.name, o.default) for o in OPTIONS]
    assert Options() == resolve_options(environ={}), "the defaults of Options are the resolved defaults"


def test_instrument_keywords_are_the_tables_in_order_with_none_defaults() -> None:
    parameters = list(inspect.signature(omie_otel.instrument).parameters.values())
    head = ["mcp", "service_name", "tracer_provider", "meter_provider", "logger_provider"]
    assert [p.name for p in parameters[: len(head)]] == head
    options = parameters[len(head):]
    assert [p.name for p in options] == [o.keyword for o in KEYWORDS]
    for parameter, o in zip(options, KEYWORDS, strict=True):
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, parameter
        assert parameter.default is None, parameter
        assert parameter.annotation == o.kind.annotation, (parameter, o.kind.annotation)


def test_instrument_forwards_every_keyword_from_the_table() -> None:
    source = inspect.getsource(omie_otel.instrument)
    assert "resolve_options(**arguments)" in source
    assert "for o in KEYWORDS" in source


def test_every_variable_is_a_documented_constant_of_environment_variables() -> None:
    docstrings = _attribute_docstrings(SRC / "environment_variables.py")
    ours = {name for name in docstrings if name.startswith("OMIE_OTEL_")}
    table = {o.env for o in OPTIONS if o.env} | {RAISE_INTERNAL_ERRORS.env}
    assert ours == table
    for o in OPTIONS:
        if o.env:
            assert getattr(ev, o.env) == o.env
            assert docstrings[o.env].strip(), f"{o.env} has no docstring in environment_variables.py"


def test_the_package_docstring_names_every_keyword_and_variable() -> None:
    doc = omie_otel.__doc__ or ""
    missing = [o.keyword for o in KEYWORDS if o.keyword not in doc]
    missing += [o.env for o in OPTIONS if o.keyword is None and o.env and o.env not in doc]
    assert missing == []


def test_the_readme_table_is_generated_from_the_table() -> None:
    spec = importlib.util.spec_from_file_location("options_table", ROOT / "scripts" / "options_table.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.replaced(readme) == readme, "run `make options-table`"
    rendered = script.render()
    for o in OPTIONS:
        assert f"| {f'`{o.keyword}`' if o.keyword else '—'} | " in rendered and o.doc in rendered


def test_no_module_reads_an_omie_otel_variable_itself() -> None:
    """Every OMIE_OTEL_* lookup goes through the table (``Option.from_environment``)."""
    readers = re.compile(r"(?:environ\.get\(|environ\[|getenv\()[^\n]*(?:OMIE_OTEL_|\bev\.)")
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not readers.search(text), f"{path.name} reads an OMIE_OTEL_ variable itself; use option_named()"


def _attribute_docstrings(path: Path) -> dict[str, str]:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    found = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.Assign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            found[node.targets[0].id] = after.value.value  # type: ignore[attr-defined]
    return found


# --- one behaviour per option ----------------------------------------------------------------------------------------

WITH_ENV = [o for o in OPTIONS if o.env]
WITH_KEYWORD = KEYWORDS


@pytest.mark.parametrize("o", WITH_ENV, ids=lambda o: o.name)
def test_the_environment_value_is_used_when_the_argument_is_none(o: Any) -> None:
    good, expected, *_ = EXAMPLES[o.name]
    assert getattr(resolve_options(environ={o.env: good}), o.name) == expected
    assert option_named(o.name).resolve(None, {o.env: good}) == expected


@pytest.mark.parametrize("o", WITH_ENV, ids=lambda o: o.name)
def test_a_bad_environment_value_warns_once_and_gives_the_default(o: Any, caplog: pytest.LogCaptureFixture) -> None:
    bad = EXAMPLES[o.name][2]
    if bad is None:
        pytest.skip(f"every value of {o.env} is accepted (globs are checked against the metrics by HostMetrics)")
    with caplog.at_level(logging.WARNING, logger="omie_otel"):
        value = getattr(resolve_options(environ={o.env: bad}), o.name)
    assert value == o.default
    (warning,) = [r.getMessage() for r in caplog.records if o.env in r.getMessage()]
    assert repr(bad) in warning and re.search(r"accepted|use |not a|is not", warning), warning


@pytest.mark.parametrize("o", WITH_KEYWORD, ids=lambda o: o.name)
def test_the_argument_beats_the_environment(o: Any) -> None:
    good_env, env_value, _, argument, _ = EXAMPLES[o.name]
    environ = {o.env: good_env} if o.env and good_env is not None else {}
    resolved = getattr(resolve_options(environ=environ, **{o.keyword: argument}), o.name)
    if environ:
        assert resolved != env_value, "the example argument must differ from the environment example"
    assert resolved == option_named(o.name).kind.from_argument(argument, o.keyword)


@pytest.mark.parametrize("o", WITH_KEYWORD, ids=lambda o: o.name)
def test_a_bad_argument_raises_value_error_naming_it(o: Any) -> None:
    bad = EXAMPLES[o.name][4]
    if bad is None:
        bad = _NOT_A_BOOL
    with pytest.raises(ValueError, match=re.escape(o.keyword)) as raised:
        resolve_options(environ={}, **{o.keyword: bad})
    assert re.search(r"use |pass |must|write ", str(raised.value)), raised.value


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="capture_argument"):
        resolve_options(environ={}, capture_argument=True)
