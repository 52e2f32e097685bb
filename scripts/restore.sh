#!/usr/bin/env bash
# Restore the local stack (scripts/stack.sh) from an archive written by scripts/backup.sh.
#
# Usage: scripts/restore.sh ARCHIVE [--no-start]        (also: scripts/stack.sh restore ARCHIVE)
#
#   1. checks, BEFORE touching anything: the archive against ARCHIVE.sha256 (when present), that it opens, that it
#      has a manifest of a known format, and every file in it against its SHA256SUMS (no file missing, changed or
#      extra); a bad archive is refused with the reason, and the stack is left as it was
#   2. stops the stack (scripts/stack.sh down)
#   3. moves the current data directory aside to $STACK_DIR/data.before-restore-<time> (nothing is deleted: remove
#      it yourself once the restored stack is verified) and puts the archive's data in its place
#   4. starts the stack again with STACK_FRESH=0 (unless --no-start) and prints the time it took
#
# Environment: STACK_PORT_OFFSET, STACK_DIR (which stack, as for scripts/stack.sh). Messages follow LANG (pt-BR by
# default, English when LANG starts with en). Step by step, and how to rehearse it: docs/recuperacao.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_backup_common.sh
. "$ROOT/scripts/_backup_common.sh"

ARCHIVE="" START_STACK=1
for arg in "$@"; do
  case "$arg" in
    --no-start) START_STACK=0 ;;
    -*) fail "opção desconhecida '$arg'; uso: $0 ARQUIVO [--no-start]" "unknown option '$arg'; usage: $0 ARCHIVE [--no-start]" ;;
    *) ARCHIVE="$arg" ;;
  esac
done
[[ -n "$ARCHIVE" ]] || fail "diga qual arquivo restaurar; uso: $0 ARQUIVO [--no-start] (os backups ficam em .stack/backups/)" \
                            "name the archive to restore; usage: $0 ARCHIVE [--no-start] (backups are in .stack/backups/)"
[[ -f "$ARCHIVE" ]] || fail "o arquivo '$ARCHIVE' não existe" "the archive '$ARCHIVE' does not exist"
ARCHIVE="$(cd "$(dirname "$ARCHIVE")" && pwd)/$(basename "$ARCHIVE")"
START_MS=$(date +%s%3N)

# --- 1. verify everything before changing anything
if [[ -f "$ARCHIVE.sha256" ]]; then
  (cd "$(dirname "$ARCHIVE")" && sha256sum --status -c "$ARCHIVE.sha256") \
    || fail "RECUSADO: '$ARCHIVE' não confere com $ARCHIVE.sha256 (corrompido ou alterado depois do backup); nada foi mudado. Use outro backup." \
            "REFUSED: '$ARCHIVE' does not match $ARCHIVE.sha256 (corrupted or changed after the backup); nothing was changed. Use another backup."
else
  say "aviso: $ARCHIVE.sha256 não existe; confiro só as somas de dentro do arquivo" \
      "warning: $ARCHIVE.sha256 does not exist; checking only the checksums inside the archive"
fi
mkdir -p "$STACK_DIR"
STAGE="$(mktemp -d "$STACK_DIR/.restore.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
tar -xzf "$ARCHIVE" -C "$STAGE" 2>"$STAGE.err" \
  || { err="$(grep -v '^$' "$STAGE.err" | head -n 2 | paste -sd ';')"; rm -f "$STAGE.err"
       fail "RECUSADO: '$ARCHIVE' não abre como .tar.gz (truncado ou corrompido: $err); nada foi mudado. Use outro backup." \
            "REFUSED: '$ARCHIVE' does not open as .tar.gz (truncated or corrupted: $err); nothing was changed. Use another backup."; }
rm -f "$STAGE.err"
for f in manifest.json SHA256SUMS; do
  [[ -f "$STAGE/$f" ]] || fail "RECUSADO: '$ARCHIVE' não tem $f: não foi feito por scripts/backup.sh; nada foi mudado." \
                               "REFUSED: '$ARCHIVE' has no $f: it was not made by scripts/backup.sh; nothing was changed."
done
format="$(sed -n 's/^ *"format": *\([0-9]*\).*/\1/p' "$STAGE/manifest.json")"
[[ "$format" == "$FORMAT" ]] || fail "RECUSADO: formato '$format' do manifesto; esta versão restaura o formato $FORMAT; nada foi mudado. Use o restore.sh do commit em repository_commit do manifesto." \
                                     "REFUSED: manifest format '$format'; this version restores format $FORMAT; nothing was changed. Use restore.sh from the manifest's repository_commit."
bad="$(cd "$STAGE" && sha256sum -c --quiet SHA256SUMS 2>/dev/null | head -n 5 | paste -sd ';' || true)"
[[ -z "$bad" ]] || fail "RECUSADO: somas SHA-256 não conferem em '$ARCHIVE'; nada foi mudado. Primeiros erros: $bad" \
                        "REFUSED: SHA-256 checksums do not match in '$ARCHIVE'; nothing was changed. First errors: $bad"
extra="$(cd "$STAGE" && comm -13 <(sed 's/^[0-9a-f]*  //' SHA256SUMS | sort) <(find . -type f ! -name SHA256SUMS | sort) | head -n 5 | paste -sd ' ')"
[[ -z "$extra" ]] || fail "RECUSADO: arquivos fora de SHA256SUMS em '$ARCHIVE': $extra; nada foi mudado." \
                          "REFUSED: files not in SHA256SUMS in '$ARCHIVE': $extra; nothing was changed."
for c in "${STATEFUL[@]}"; do
  [[ -d "$STAGE/$c" ]] || fail "RECUSADO: '$ARCHIVE' não tem $c/; nada foi mudado." "REFUSED: '$ARCHIVE' has no $c/; nothing was changed."
done
say "arquivo conferido: $(wc -l < "$STAGE/SHA256SUMS") arquivos, somas SHA-256 corretas" \
    "archive verified: $(wc -l < "$STAGE/SHA256SUMS") files, SHA-256 checksums match"

# --- 2. stop, 3. swap the data directory
"$STACK_SH" down 2>/dev/null
ASIDE=""
if [[ -d "$STACK_DIR/data" ]] && [[ -n "$(ls -A "$STACK_DIR/data")" ]]; then
  ASIDE="$STACK_DIR/data.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$STACK_DIR/data" "$ASIDE"
  say "dados atuais guardados em $ASIDE (apague quando a pilha restaurada estiver conferida)" \
      "current data kept in $ASIDE (delete it once the restored stack is verified)"
fi
rm -rf "$STACK_DIR/data"
mkdir -p "$STACK_DIR/data"
for c in "${STATEFUL[@]}"; do mv "$STAGE/$c" "$STACK_DIR/data/$c"; done
cp "$STAGE/manifest.json" "$STACK_DIR/data/restored-from.json"
say "dados de $(sed -n 's/^ *"created_at": *"\([^"]*\)".*/\1/p' "$STAGE/manifest.json") colocados em $STACK_DIR/data" \
    "data of $(sed -n 's/^ *"created_at": *"\([^"]*\)".*/\1/p' "$STAGE/manifest.json") put in $STACK_DIR/data"

# --- 4. start
if (( START_STACK )); then
  STACK_FRESH=0 "$STACK_SH" up >/dev/null \
    || fail "a pilha não subiu com os dados restaurados (veja $STACK_DIR/logs/); os dados anteriores estão em ${ASIDE:-(nenhum)}" \
            "the stack did not start with the restored data (see $STACK_DIR/logs/); the previous data is in ${ASIDE:-(none)}"
fi
took="$(seconds_since "$START_MS")"
say "restauração concluída em $took s" "restore done in $took s"
