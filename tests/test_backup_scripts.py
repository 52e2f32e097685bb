"""scripts/backup.sh and scripts/restore.sh on a stopped stack's state directory (no server needed): the archive's
layout, manifest and checksums, a round trip, and every kind of bad archive refused before anything is touched.
The same scripts against the running stack, with the disaster drill: tests/e2e/test_history.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKUP, RESTORE = ROOT / "scripts" / "backup.sh", ROOT / "scripts" / "restore.sh"
#: A stack that is not running: only its state directory is used (no port is opened).
OFFSET = "21200"
FILES = {
    "prometheus/01HBLOCK/chunks/000001": b"chunk",
    "prometheus/wal/00000000": b"wal",
    "jaeger/keys/000001.sst": b"keys",
    "jaeger/values/000001.vlog": b"values",
    "victorialogs/partitions/20261203/datadb/parts.json": b"[]",
    "alertmanager/silences": b"silence",
    "alertmanager/nflog": b"nflog",
}


def _run(script: Path, *args: str, stack_dir: Path, lang: str = "pt_BR.UTF-8") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STACK_DIR": str(stack_dir), "STACK_PORT_OFFSET": OFFSET, "LANG": lang}
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    for name, content in FILES.items():
        path = tmp_path / "stack" / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return tmp_path / "stack"


@pytest.fixture
def archive(stack_dir: Path, tmp_path: Path) -> Path:
    result = _run(BACKUP, str(tmp_path / "backups"), stack_dir=stack_dir)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.is_file()
    return path


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {
            m.name.removeprefix("./"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_one_timestamped_archive_with_manifest_checksums_and_every_store(archive: Path, stack_dir: Path) -> None:
    assert archive.name.startswith("omie-otel-backup-") and archive.name.endswith("Z.tar.gz")
    members = _members(archive)
    assert {k: v for k, v in members.items() if k not in ("manifest.json", "SHA256SUMS")} == FILES
    sums = dict(reversed(line.split("  ", 1)) for line in members["SHA256SUMS"].decode().splitlines())
    assert set(sums) == {f"./{name}" for name in (*FILES, "manifest.json")}
    for name, digest in sums.items():
        assert hashlib.sha256(members[name.removeprefix("./")]).hexdigest() == digest
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == 1 and manifest["port_offset"] == int(OFFSET)
    assert manifest["stack_dir"] == str(stack_dir)
    assert set(manifest["versions"]) == {"prometheus", "alertmanager", "jaeger", "victorialogs", "otelcol-omie"}
    assert manifest["versions"]["jaeger"] == "github.com/jaegertracing/jaeger v1.76.0"
    components = {c["name"]: c for c in manifest["components"]}
    assert set(components) == {"prometheus", "jaeger", "victorialogs", "alertmanager"}
    assert components["jaeger"]["files"] == 2 and components["jaeger"]["bytes"] == len(b"keys") + len(b"values")
    # Nothing ran, so everything was copied as it lay.
    assert {c["method"] for c in components.values()} == {"copy-while-stopped"}
    # The archive's own checksum, beside it.
    sidecar = archive.with_name(archive.name + ".sha256").read_text().split()
    assert sidecar == [hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name]


def test_restore_puts_the_data_back_and_keeps_what_was_there(archive: Path, stack_dir: Path) -> None:
    (stack_dir / "data" / "jaeger" / "keys" / "000001.sst").write_bytes(b"written after the backup")
    result = _run(RESTORE, str(archive), "--no-start", stack_dir=stack_dir)
    assert result.returncode == 0, result.stderr
    assert "arquivo conferido" in result.stderr and "restauração concluída" in result.stderr
    restored = _tree(stack_dir / "data")
    assert restored.pop("restored-from.json")
    assert restored == FILES
    [aside] = stack_dir.glob("data.before-restore-*")
    assert (aside / "jaeger" / "keys" / "000001.sst").read_bytes() == b"written after the backup"


def _retar(archive: Path, out: Path, change: dict[str, bytes | None]) -> Path:
    members = _members(archive)
    for name, content in change.items():
        if content is None:
            members.pop(name)
        else:
            members[name] = content
    staging = out.with_suffix(".d")
    for name, content in members.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(content)
    subprocess.run(["tar", "-C", str(staging), "-czf", str(out), "."], check=True)
    return out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated", "não abre como .tar.gz"),
        ("flipped_byte", "não confere com"),
        ("tampered_file", "somas SHA-256 não conferem"),
        ("extra_file", "arquivos fora de SHA256SUMS"),
        ("no_manifest", "não tem manifest.json"),
        ("future_format", "formato '2'"),
        ("missing_store", "não confere"),  # a file listed in SHA256SUMS is gone
    ],
)
def test_a_bad_archive_is_refused_with_the_reason_and_nothing_changes(
    archive: Path, stack_dir: Path, tmp_path: Path, case: str, expected: str
) -> None:
    bad = tmp_path / f"{case}.tar.gz"
    if case == "truncated":
        bad.write_bytes(archive.read_bytes()[:300])
    elif case == "flipped_byte":
        data = bytearray(archive.read_bytes())
        data[len(data) // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
        (tmp_path / f"{bad.name}.sha256").write_text(
            archive.with_name(archive.name + ".sha256").read_text().replace(archive.name, bad.name)
        )
    elif case == "tampered_file":
        _retar(archive, bad, {"jaeger/keys/000001.sst": b"evil"})
    elif case == "extra_file":
        _retar(archive, bad, {"jaeger/keys/evil.sst": b"evil"})
    elif case == "no_manifest":
        _retar(archive, bad, {"manifest.json": None})
    elif case == "future_format":
        manifest = _members(archive)["manifest.json"].replace(b'"format": 1', b'"format": 2')
        _retar(archive, bad, {"manifest.json": manifest})
    elif case == "missing_store":
        _retar(archive, bad, {"alertmanager/silences": None})
    before = _tree(stack_dir)
    result = _run(RESTORE, str(bad), "--no-start", stack_dir=stack_dir)
    assert result.returncode == 1
    assert "RECUSADO" in result.stderr and expected in result.stderr and "nada foi mudado" in result.stderr, (
        result.stderr
    )
    assert _tree(stack_dir) == before
    assert not list(stack_dir.glob(".restore.*"))


def test_messages_follow_lang_and_usage_errors_are_clear(archive: Path, stack_dir: Path, tmp_path: Path) -> None:
    result = _run(RESTORE, stack_dir=stack_dir, lang="en_US.UTF-8")
    assert result.returncode == 1 and "name the archive to restore" in result.stderr
    result = _run(RESTORE, str(tmp_path / "nope.tar.gz"), stack_dir=stack_dir)
    assert result.returncode == 1 and "'" + str(tmp_path / "nope.tar.gz") + "' não existe" in result.stderr
    result = _run(RESTORE, str(archive), "--force", stack_dir=stack_dir)
    assert result.returncode == 1 and "opção desconhecida '--force'" in result.stderr
    env_keep = {**os.environ, "STACK_DIR": str(stack_dir), "STACK_PORT_OFFSET": OFFSET, "STACK_BACKUP_KEEP": "x"}
    result = subprocess.run([str(BACKUP), str(tmp_path)], env=env_keep, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "STACK_BACKUP_KEEP='x'" in result.stderr


def test_old_archives_beyond_keep_are_deleted(stack_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "keep"
    dest.mkdir()
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (dest / f"omie-otel-backup-{stamp}.tar.gz").write_bytes(b"old")
        (dest / f"omie-otel-backup-{stamp}.tar.gz.sha256").write_text("x")
    env = {**os.environ, "STACK_DIR": str(stack_dir), "STACK_PORT_OFFSET": OFFSET, "STACK_BACKUP_KEEP": "2"}
    result = subprocess.run([str(BACKUP), str(dest)], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    kept = sorted(p.name for p in dest.glob("*.tar.gz"))
    assert kept == ["omie-otel-backup-20260103T000000Z.tar.gz", Path(result.stdout.strip()).name]
    assert not (dest / "omie-otel-backup-20260101T000000Z.tar.gz.sha256").exists()


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("STACK_PROM_RETENTION", "35days", "35d"),
        ("STACK_PROM_RETENTION_SIZE", "10G", "10GB"),
        ("STACK_JAEGER_TTL", "14d", "336h"),
        ("STACK_VL_RETENTION", "1month", "35d"),
        ("STACK_VL_MAX_DISK", "lots", "5GiB"),
        ("STACK_AM_RETENTION", "5 days", "120h"),
    ],
)
def test_a_bad_retention_setting_stops_stack_sh_naming_it(variable: str, value: str, example: str) -> None:
    env = {**os.environ, "STACK_PORT_OFFSET": OFFSET, variable: value}
    result = subprocess.run(
        [str(ROOT / "scripts" / "stack.sh"), "dir"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert f"{variable}='{value}' is not valid; use a value like {example}" in result.stderr


def test_good_retention_settings_pass() -> None:
    env = {**os.environ, "STACK_PORT_OFFSET": OFFSET, "STACK_PROM_RETENTION": "90d", "STACK_JAEGER_TTL": "72h30m",
           "STACK_VL_MAX_DISK": "512MiB", "STACK_PROM_RETENTION_SIZE": "500MB"}  # fmt: skip
    result = subprocess.run(
        [str(ROOT / "scripts" / "stack.sh"), "dir"], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout.strip().endswith(f".stack/run-{OFFSET}"), result.stderr
