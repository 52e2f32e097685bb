"""The repository cites only what it contains: no absolute path to notes outside it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHECKED = ("src", "collector-config", "docs", "examples", "scripts", "README.md", "CONTRIBUTING.md")
OUTSIDE = ("/work/shared", "/work/main", "/work/wt")


def _files() -> list[Path]:
    found = []
    for name in CHECKED:
        path = REPO / name
        found += [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.suffix != ".png"]
    return found


def test_no_file_cites_a_path_outside_the_repository() -> None:
    files = _files()
    assert len(files) > 50 and (REPO / "docs" / "omie-api.md") in files, "the files were found"
    offenders = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(REPO)}: {marker}" for marker in OUTSIDE if marker in text]
    assert offenders == [], "cite docs/omie-api.md (or another file in the repository) instead"
