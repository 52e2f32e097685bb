# Shared by scripts/backup.sh and scripts/restore.sh (sourced, not run). Needs $ROOT.
# shellcheck shell=bash

STACK_SH="$ROOT/scripts/stack.sh"
STACK_DIR="$("$STACK_SH" dir)"
export STACK_DIR
#: The archive layout version; restore.sh refuses other versions.
FORMAT=1
#: What an archive holds, one directory each.
STATEFUL=(prometheus jaeger victorialogs alertmanager)
PROG="$(basename "$0" .sh)"

# say PT EN: one message on stderr, in the language of LANG (pt-BR unless LANG starts with en).
say() {
  if [[ "${LANG:-}" == en* ]]; then printf '%s: %s\n' "$PROG" "$2" >&2; else printf '%s: %s\n' "$PROG" "$1" >&2; fi
}
fail() { say "ERRO: $1" "ERROR: $2"; exit 1; }

# (status is read whole first: grep -q quitting early would kill it with SIGPIPE, and pipefail would say "no".)
component_running() {
  local out
  out="$("$STACK_SH" status 2>/dev/null || true)"
  grep -Eq "^$1 +running" <<<"$out"
}

env_value() { sed -n "s/^$1=//p" "$STACK_DIR/env" 2>/dev/null; }

# seconds_since START_MS -> elapsed seconds with one decimal.
seconds_since() {
  local ms=$(( $(date +%s%3N) - $1 ))
  printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

version_of() {
  local bin="${STACK_BIN_DIR:-$ROOT/.stack/bin}" out=""
  case "$1" in
    prometheus) out="$(/usr/bin/prometheus --version 2>&1 | head -n1)" || true ;;
    alertmanager) out="$(/usr/bin/prometheus-alertmanager --version 2>&1 | head -n1)" || true ;;
    jaeger) out="github.com/jaegertracing/jaeger $(awk '$1 == "github.com/jaegertracing/jaeger" {print $2}' "$ROOT/collector-config/tools/jaeger/go.mod")" ;;
    victorialogs) [[ -x "$bin/victoria-logs" ]] && out="$("$bin/victoria-logs" -version 2>&1 | head -n1)" ;;
    otelcol) [[ -x "$bin/otelcol-omie" ]] && out="$("$bin/otelcol-omie" --version 2>&1 | head -n1)" ;;
  esac
  out="${out:-unknown (not installed)}"
  out="${out//\\/\/}"
  printf '%s' "${out//\"/\'}"
}
