"""``mypy --strict`` on ``src/omie_otel``, with a stated allowlist of modules not yet strict-clean that only shrinks.

``make lint`` / ``make test`` run mypy with the configuration in ``pyproject.toml``; this test guards the
configuration itself: strict mode stays on, the only relaxations are the allowlist's, and the allowlist never grows.
When a module becomes strict-clean, take it off the list and lower ``ALLOWLIST_LENGTH`` to match (CONTRIBUTING.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "omie_otel"

#: How many modules may still be relaxed. Only ever lowered: a new module is written strict-clean.
ALLOWLIST_LENGTH = 0

#: The per-module settings that ``strict = true`` turns on (``warn_unused_configs`` is global-only); strict also sets
#: ``implicit_reexport`` to false.
STRICT_FLAGS = {
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_calls",
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "check_untyped_defs",
    "disallow_untyped_decorators",
    "warn_redundant_casts",
    "warn_unused_ignores",
    "warn_return_any",
    "strict_equality",
    "extra_checks",
}


def _mypy() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["mypy"]
    return config


def _relaxes(block: dict[str, Any]) -> bool:
    """An override that turns a strict check off, or ignores errors altogether."""
    return (
        bool(block.get("ignore_errors"))
        or block.get("implicit_reexport") is True
        or any(block.get(flag) is False for flag in STRICT_FLAGS)
    )


def _allowlist() -> list[str]:
    """Our modules in any override that relaxes strict mode (a dependency's module may be relaxed: not our code)."""
    modules: list[str] = []
    for block in _mypy().get("overrides", []):
        if _relaxes(block):
            names = block["module"]
            modules.extend(n for n in ([names] if isinstance(names, str) else names) if n.startswith("omie_otel"))
    return modules


def test_strict_mode_is_on_for_the_whole_package() -> None:
    config = _mypy()
    assert config.get("strict") is True
    assert config.get("files") == ["src/omie_otel"]
    relaxed_globally = sorted(flag for flag in STRICT_FLAGS if config.get(flag) is False)
    assert not relaxed_globally, f"[tool.mypy] turns strict checks off for every module: {relaxed_globally}"
    assert not config.get("ignore_errors") and config.get("implicit_reexport") is not True


def test_the_allowlist_only_shrinks() -> None:
    modules = _allowlist()
    assert len(modules) == len(set(modules)), f"a module is listed twice: {sorted(modules)}"
    assert len(modules) <= ALLOWLIST_LENGTH, (
        f"{len(modules)} modules are exempt from mypy --strict, more than the {ALLOWLIST_LENGTH} allowed: "
        "write new modules strict-clean instead of adding them to [[tool.mypy.overrides]] in pyproject.toml"
    )
    assert len(modules) == ALLOWLIST_LENGTH, (
        f"the allowlist shrank to {len(modules)}: lower ALLOWLIST_LENGTH in {Path(__file__).name} to "
        f"{len(modules)} so that it cannot grow back"
    )


def test_every_allowlisted_module_exists_and_wildcards_are_not_used() -> None:
    for name in _allowlist():
        assert "*" not in name, f"{name!r}: list modules one by one, so the list says exactly what is exempt"
        assert name == "omie_otel" or name.startswith("omie_otel."), name
        relative = Path(*name.split(".")[1:])
        assert (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file(), (
            f"{name} is in the mypy allowlist but no longer exists: take it off the list and lower ALLOWLIST_LENGTH"
        )
