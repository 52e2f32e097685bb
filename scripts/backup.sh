#!/usr/bin/env bash
# Back up every piece of state of the local stack (scripts/stack.sh) into ONE timestamped archive:
#
#   <DEST>/omie-otel-backup-<YYYYMMDDTHHMMSSZ>.tar.gz   prometheus/ jaeger/ victorialogs/ alertmanager/
#                                                       manifest.json (versions, what came from where, how)
#                                                       SHA256SUMS (every file above)
#   <DEST>/omie-otel-backup-<...>.tar.gz.sha256         checksum of the archive itself
#
# Usage: scripts/backup.sh [DEST]          (also: scripts/stack.sh backup [DEST])
#
# How each store is copied (each in its supported way; docs/recuperacao.md):
#   prometheus    TSDB snapshot through the admin API (POST /api/v1/admin/tsdb/snapshot, on 127.0.0.1 only), taken
#                 while Prometheus keeps running; if Prometheus is stopped, its data directory is copied
#   jaeger        Badger has no online backup in Jaeger: Jaeger is stopped, its directory copied, Jaeger started
#                 again (a few seconds; the collector retries and queues spans meanwhile, nothing is lost)
#   victorialogs  VictoriaLogs has no snapshots: stopped, copied, started again, like Jaeger
#   alertmanager  silences and notification log: stopped, copied, started again (a second or two), because
#                 Alertmanager writes them to disk only every 15 minutes and when it stops: a copy while it runs
#                 would miss the newest silences. Prometheus re-sends firing alerts, so none is lost meanwhile.
# The collector and the instrumented servers hold no state worth a backup (their queues are seconds of data).
#
# Environment (defaults in brackets):
#   STACK_PORT_OFFSET, STACK_DIR   which stack (as for scripts/stack.sh)
#   STACK_BACKUP_DIR [.stack/backups]  where archives go when DEST is not given
#   STACK_BACKUP_KEEP [14]         archives kept in DEST; older ones are deleted after a successful backup (0 = keep all)
# Prints the archive's path on stdout. Messages follow LANG (pt-BR by default, English when LANG starts with en).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_backup_common.sh
. "$ROOT/scripts/_backup_common.sh"

DEST="${1:-${STACK_BACKUP_DIR:-$ROOT/.stack/backups}}"
KEEP="${STACK_BACKUP_KEEP:-14}"
[[ "$KEEP" =~ ^[0-9]+$ ]] || fail "STACK_BACKUP_KEEP='$KEEP' não é um número; use por exemplo 14" \
                                  "STACK_BACKUP_KEEP='$KEEP' is not a number; use e.g. 14"
mkdir -p "$DEST" || fail "não consegui criar o diretório de destino $DEST" "cannot create the destination directory $DEST"
DEST="$(cd "$DEST" && pwd)"
DATA="$STACK_DIR/data"
[[ -d "$DATA" ]] || fail "não há dados em $DATA: a pilha desta porta (STACK_PORT_OFFSET=${STACK_PORT_OFFSET:-0}) nunca rodou aqui" \
                         "no data in $DATA: the stack at STACK_PORT_OFFSET=${STACK_PORT_OFFSET:-0} never ran here"

TS="$(date -u +%Y%m%dT%H%M%SZ)"
NAME="omie-otel-backup-$TS"
WORK="$(mktemp -d "$DEST/.$NAME.XXXXXX")"
RESTART=()  # components this script stopped and must start again, whatever happens
cleanup() {
  local c
  for c in "${RESTART[@]}"; do "$STACK_SH" start "$c" >/dev/null 2>&1 || say "ATENÇÃO: $c não voltou; rode: scripts/stack.sh start $c" "WARNING: $c did not come back; run: scripts/stack.sh start $c"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
START_MS=$(date +%s%3N)
PHASE_MS=$START_MS
COMPONENTS_JSON=()

# record NAME METHOD: the manifest entry of one component just copied into $WORK/NAME.
record() {
  local files bytes
  files=$(find "$WORK/$1" -type f | wc -l)
  bytes=$(find "$WORK/$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
  COMPONENTS_JSON+=("$(printf '{"name": "%s", "method": "%s", "source": "%s", "files": %d, "bytes": %d}' \
    "$1" "$2" "$DATA/$1" "$files" "$bytes")")
  say "$1: $files arquivos, $bytes bytes ($2), $(seconds_since "$PHASE_MS") s" "$1: $files files, $bytes bytes ($2), $(seconds_since "$PHASE_MS") s"
  PHASE_MS=$(date +%s%3N)
}

# --- prometheus: TSDB snapshot (hard links inside its data dir), copied out, then deleted
if component_running prometheus; then
  PROM_URL="$(env_value PROMETHEUS_URL)"
  reply="$(curl -fsS -m 120 -X POST "$PROM_URL/api/v1/admin/tsdb/snapshot")" \
    || fail "o Prometheus recusou o snapshot ($PROM_URL/api/v1/admin/tsdb/snapshot); ele foi iniciado com --web.enable-admin-api? (scripts/stack.sh down && up)" \
            "Prometheus refused the snapshot ($PROM_URL/api/v1/admin/tsdb/snapshot); was it started with --web.enable-admin-api? (scripts/stack.sh down && up)"
  snap="$(printf '%s' "$reply" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')"
  [[ -n "$snap" && -d "$DATA/prometheus/snapshots/$snap" ]] || fail "resposta inesperada do snapshot: $reply" "unexpected snapshot answer: $reply"
  cp -a "$DATA/prometheus/snapshots/$snap" "$WORK/prometheus"
  rm -rf "$DATA/prometheus/snapshots/$snap"
  record prometheus "tsdb-snapshot-api"
else
  mkdir -p "$WORK/prometheus"
  (cd "$DATA/prometheus" && find . -mindepth 1 -maxdepth 1 ! -name snapshots ! -name lock -exec cp -a {} "$WORK/prometheus/" \;)
  record prometheus "copy-while-stopped"
fi

# --- jaeger, victorialogs, alertmanager: copy while stopped, one at a time
for c in jaeger victorialogs alertmanager; do
  if component_running "$c"; then
    "$STACK_SH" stop "$c" >/dev/null 2>&1
    RESTART+=("$c")
    method="copy-while-stopped (stopped and restarted by backup.sh)"
  else
    method="copy-while-stopped"
  fi
  if [[ -d "$DATA/$c" ]]; then cp -a "$DATA/$c" "$WORK/$c"; else mkdir -p "$WORK/$c"; fi
  if [[ ${#RESTART[@]} -gt 0 && "${RESTART[-1]}" == "$c" ]]; then
    "$STACK_SH" start "$c" >/dev/null 2>&1 || fail "$c não voltou depois da cópia; veja $STACK_DIR/logs/$c.log" "$c did not come back after the copy; see $STACK_DIR/logs/$c.log"
    unset 'RESTART[-1]'
  fi
  record "$c" "$method"
done

# --- manifest and checksums
git_commit="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
{
  printf '{\n  "format": %d,\n  "created_at": "%s",\n' "$FORMAT" "$(date -u -d "@$((START_MS / 1000))" +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "host": "%s",\n  "stack_dir": "%s",\n  "port_offset": %d,\n  "repository_commit": "%s",\n' \
    "$(hostname)" "$STACK_DIR" "${STACK_PORT_OFFSET:-0}" "$git_commit"
  printf '  "retention_overrides": "%s",\n' "$(paste -sd ' ' "$STACK_DIR/retention" 2>/dev/null || true)"
  printf '  "versions": {\n'
  printf '    "prometheus": "%s",\n' "$(version_of prometheus)"
  printf '    "alertmanager": "%s",\n' "$(version_of alertmanager)"
  printf '    "jaeger": "%s",\n' "$(version_of jaeger)"
  printf '    "victorialogs": "%s",\n' "$(version_of victorialogs)"
  printf '    "otelcol-omie": "%s"\n  },\n' "$(version_of otelcol)"
  printf '  "components": [\n'
  for ((i = 0; i < ${#COMPONENTS_JSON[@]}; i++)); do
    printf '    %s%s\n' "${COMPONENTS_JSON[i]}" "$( ((i + 1 < ${#COMPONENTS_JSON[@]})) && echo ,)"
  done
  printf '  ]\n}\n'
} > "$WORK/manifest.json"
(cd "$WORK" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)

# --sparse: Badger preallocates its value log (2 GiB, mostly holes); stored as holes, not as gigabytes of zeros.
PHASE_MS=$(date +%s%3N)
tar --sparse -C "$WORK" -czf "$DEST/.$NAME.tar.gz.tmp" .
mv -f "$DEST/.$NAME.tar.gz.tmp" "$DEST/$NAME.tar.gz"
(cd "$DEST" && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256")
say "somas, manifesto e arquivo: $(seconds_since "$PHASE_MS") s" "checksums, manifest and archive: $(seconds_since "$PHASE_MS") s"

if (( KEEP > 0 )); then
  mapfile -t old < <(cd "$DEST" && ls -1 omie-otel-backup-*.tar.gz 2>/dev/null | sort -r | tail -n +$((KEEP + 1)))
  for f in "${old[@]}"; do rm -f "$DEST/$f" "$DEST/$f.sha256"; say "apagado (mais antigo que os $KEEP últimos): $f" "deleted (older than the last $KEEP): $f"; done
fi
took="$(seconds_since "$START_MS")"
size="$(du -h "$DEST/$NAME.tar.gz" | cut -f1)"
say "backup pronto em $took s: $DEST/$NAME.tar.gz ($size)" "backup done in $took s: $DEST/$NAME.tar.gz ($size)"
echo "$DEST/$NAME.tar.gz"
