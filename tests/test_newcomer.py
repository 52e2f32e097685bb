"""A newcomer's first hour: what the README and the CLI promise is true of this checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

from omie_otel.simulator import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_simulator_help_shows_the_demo_credentials_and_how_omie_otel_finds_it() -> None:
    out = subprocess.run([sys.executable, "-m", "omie_otel", "simulator", "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert DEFAULT_APP_KEY in out and DEFAULT_APP_SECRET in out
    assert "/api/v1/" in out and "omie_url" in out


def test_readme_install_path_extra_console_path_and_credentials_match_the_code() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("fastmcp") for dep in extras["fastmcp"])
    assert 'pip install -e ".[fastmcp]"' in README and "git+https://" in README
    assert "OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=console" in README
    assert f"`app_key` `{DEFAULT_APP_KEY}`, `app_secret` `{DEFAULT_APP_SECRET}`" in README
    assert "omie_url" in README and "OMIE_OTEL_OMIE_URL" in README
