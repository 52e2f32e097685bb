#!/usr/bin/env bash
# The local telemetry stack as plain processes on 127.0.0.1 (no Docker needed):
#
#   otelcol-omie (our collector) --traces--> Jaeger v2 (Badger storage on disk, UI/API)
#                                --metrics-> Prometheus (remote-write receiver) --alerts--> Alertmanager
#                                --logs----> VictoriaLogs (OTLP/HTTP, LogsQL)
#   Alertmanager --e-mail--> Mailpit (SMTP; its HTTP API lists what arrived)  --Slack--> (only when configured)
#                --history-> VictoriaLogs (/insert/jsonline: one record per alert firing and per resolution)
#
# Usage: scripts/stack.sh up|down|status|build|deps|env|dir|stop NAME|start NAME|backup|restore ARCHIVE
#   build   build (or take from the cache) otelcol-omie, jaeger, victoria-logs and mailpit into .stack/bin/
#   deps    install prometheus/alertmanager (with promtool/amtool) from Debian's packages if missing
#   up      build, install prometheus/alertmanager from Debian if missing, start everything, wait until
#           ready, write $STACK_DIR/env; on failure print the failing component's log and exit non-zero
#   down    stop everything this stack started (TERM, then KILL after STACK_STOP_TIMEOUT); idempotent
#   status  one line per component; exit 0 only if all are running and ready
#   env     print the env file of the running stack
#   stop NAME / start NAME   stop or (re)start one component of a running stack, e.g. `stop otelcol` to see
#           what a dead collector does to the application (fault tests), then `start otelcol`
#   dir     print the state directory ($STACK_DIR) this offset uses
#   backup [DIR] / restore ARCHIVE   scripts/backup.sh / scripts/restore.sh (docs/recuperacao.md)
#   scaleout up [N] | down | status | stop NAME | start NAME
#           the agent -> gateway tier in front of the running stack's backends: one agent
#           (otelcol-agent.yaml, load-balancing exporters) and N gateway replicas [2] (otelcol-gateway.yaml +
#           otelcol-gateway-lb.yaml) exporting to this stack's Jaeger, Prometheus and VictoriaLogs. NAME is
#           agent or gateway-I. Endpoints in $STACK_DIR/scaleout.env. Ports: STACK_SCALEOUT_PORT [4500] + offset:
#           agent +0..+5, gateway I at +10*I..+10*I+6 (N <= 3)
#
# Environment (defaults in brackets):
#   STACK_PORT_OFFSET [0]         added to every port, so a second stack (e.g. the e2e tests' 20000) can run
#                                 beside a developer's one
#   STACK_DIR [.stack/run, or .stack/run-<offset> when the offset is not 0]
#                                 state: rendered configs, data, logs/, pids/, env
#   STACK_FRESH [0]               1 = wipe the data directories before starting; 0 = keep them, so traces, metrics,
#                                 logs, silences and the notification log survive `down` + `up`
# History (retention; docs/operacao.md has the disk each needs at a stated load):
#   STACK_PROM_RETENTION [35d]    Prometheus: every SLO window (30 days) plus margin
#   STACK_PROM_RETENTION_SIZE [10GB]  Prometheus: oldest blocks are deleted first above this size
#   STACK_JAEGER_TTL [336h]       Jaeger (Badger): spans older than this (14 days) are dropped
#   STACK_VL_RETENTION [35d]      VictoriaLogs: log lines older than this are dropped
#   STACK_VL_MAX_DISK [5GiB]      VictoriaLogs: oldest days are dropped above this size (-retention.maxDiskSpaceUsageBytes)
#   STACK_AM_RETENTION [120h]     Alertmanager: how long expired silences and the notification log are kept
#                                 (active silences are always kept)
#   STACK_READY_TIMEOUT [90]      seconds to wait for each component to become ready
#   STACK_STOP_TIMEOUT [10]       seconds between TERM and KILL
#   STACK_PROM_INTERVAL [5s]      Prometheus scrape and rule evaluation interval
#   STACK_OTELCOL_DEBUG [0]       1 = also load collector-config/otelcol.debug.yaml (debug + file exporters;
#                                 the capture file is $STACK_DIR/otelcol-capture.jsonl)
#   STACK_OTELCOL_EXTRA_CONFIG    one more --config overlay for the collector (a path)
#   OTELCOL_SAMPLING_PERCENT [100], OTELCOL_TAIL_DECISION_WAIT [2s], OTELCOL_SPANMETRICS_FLUSH_INTERVAL [5s]
#   ALERTMANAGER_WEBHOOK_URL [http://127.0.0.1:<9095+offset>/]   "off" = no generic webhook
#   ALERTMANAGER_* (Slack URLs/channels, SMTP relay and password, recipients, links): the channels and their
#                                 variables are documented in collector-config/alertmanager/render.sh; here the
#                                 SMTP relay defaults to Mailpit, the history to VictoriaLogs, the links to this
#                                 stack's Jaeger and dashboard. Slack is off until a URL is given.
#   STACK_AM_GROUP_WAIT [1s], STACK_AM_GROUP_INTERVAL [5s]   Alertmanager route timings (production: 30s, 5m)
#   STACK_ESCALATION_FOR          a shorter `for:` for the escalation rule (production 15m; tests use seconds)
#   OMIE_OTEL_STACK_CACHE [$HOME/.cache/omie-otel/bin]
#                                 built binaries, keyed by a hash of their go.mod/go.sum/sources and the Go
#                                 version, shared by every clone on this machine
#   Base ports (before the offset): STACK_OTLP_GRPC_PORT [4317], STACK_OTLP_HTTP_PORT [4318],
#   STACK_OTELCOL_HEALTH_PORT [13133], STACK_OTELCOL_METRICS_PORT [8888], STACK_OTELCOL_PPROF_PORT [1777],
#   STACK_OTELCOL_ZPAGES_PORT [15679], STACK_JAEGER_OTLP_GRPC_PORT [14317], STACK_JAEGER_OTLP_HTTP_PORT [14318],
#   STACK_JAEGER_QUERY_PORT [16686], STACK_JAEGER_QUERY_GRPC_PORT [16685], STACK_JAEGER_HEALTH_PORT [13134],
#   STACK_JAEGER_METRICS_PORT [18888], STACK_PROMETHEUS_PORT [9090], STACK_ALERTMANAGER_PORT [9093],
#   STACK_VICTORIALOGS_PORT [9428], STACK_MAILPIT_SMTP_PORT [1025], STACK_MAILPIT_HTTP_PORT [8025],
#   STACK_DASHBOARD_PORT [8400]
#   STACK_DASHBOARD_PYTHON [.venv/bin/python]
#                                 the Python that runs `omie-otel dashboard` (the web dashboard, last component);
#                                 when it is missing or cannot import omie_otel, the stack starts without it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CFG="$ROOT/collector-config"
OFF="${STACK_PORT_OFFSET:-0}"
if ! [[ "$OFF" =~ ^[0-9]+$ ]]; then echo "stack: STACK_PORT_OFFSET must be a number, got '$OFF'" >&2; exit 2; fi
if [[ "$OFF" == 0 ]]; then DEFAULT_STACK_DIR="$ROOT/.stack/run"; else DEFAULT_STACK_DIR="$ROOT/.stack/run-$OFF"; fi
STACK_DIR="${STACK_DIR:-$DEFAULT_STACK_DIR}"
BIN_DIR="${STACK_BIN_DIR:-$ROOT/.stack/bin}"
CACHE_DIR="${OMIE_OTEL_STACK_CACHE:-${HOME:-/root}/.cache/omie-otel/bin}"
READY_TIMEOUT="${STACK_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-10}"

# Components, in start order (backends first, the collector last); stopped in reverse order.
COMPONENTS=(victorialogs jaeger mailpit alertmanager prometheus otelcol)

# The web dashboard (omie-otel dashboard) runs on the project's Python: a component only where that exists
# and imports omie_otel (`up` checks, and leaves dashboard.skipped in $STACK_DIR when it cannot).
DASH_PY="${STACK_DASHBOARD_PYTHON:-$ROOT/.venv/bin/python}"
if [[ -x "$DASH_PY" && ! -f "$STACK_DIR/dashboard.skipped" ]]; then COMPONENTS+=(dashboard); fi

port() { # port NAME DEFAULT -> DEFAULT (or $STACK_NAME_PORT) + offset
  local var="STACK_$1_PORT" p
  p=$(( ${!var:-$2} + OFF ))
  if (( p > 65535 )); then echo "stack: port $1=$p is above 65535; lower STACK_PORT_OFFSET" >&2; exit 2; fi
  echo "$p"
}
P_OTLP_GRPC=$(port OTLP_GRPC 4317)
P_OTLP_HTTP=$(port OTLP_HTTP 4318)
P_COL_HEALTH=$(port OTELCOL_HEALTH 13133)
P_COL_METRICS=$(port OTELCOL_METRICS 8888)
P_COL_PPROF=$(port OTELCOL_PPROF 1777)
P_COL_ZPAGES=$(port OTELCOL_ZPAGES 15679)
P_JAEGER_OTLP_GRPC=$(port JAEGER_OTLP_GRPC 14317)
P_JAEGER_OTLP_HTTP=$(port JAEGER_OTLP_HTTP 14318)
P_JAEGER_QUERY=$(port JAEGER_QUERY 16686)
P_JAEGER_QUERY_GRPC=$(port JAEGER_QUERY_GRPC 16685)
P_JAEGER_HEALTH=$(port JAEGER_HEALTH 13134)
P_JAEGER_METRICS=$(port JAEGER_METRICS 18888)
P_PROM=$(port PROMETHEUS 9090)
P_AM=$(port ALERTMANAGER 9093)
P_VL=$(port VICTORIALOGS 9428)
P_WEBHOOK=$(port WEBHOOK 9095)
# Mailpit: the SMTP server Alertmanager's e-mails go to, and its web UI/API (/api/v1/messages).
P_MAILPIT_SMTP=$(port MAILPIT_SMTP 1025)
P_MAILPIT_HTTP=$(port MAILPIT_HTTP 8025)
P_DASH=$(port DASHBOARD 8400)
H=127.0.0.1

log() { printf 'stack: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --------------------------------------------------------------------------------------- retention ---
# check_setting VAR REGEX EXAMPLE: a retention setting that its program would reject stops us here, naming it.
check_setting() {
  local value="${!1:-}"
  [[ -z "$value" || "$value" =~ $2 ]] || { log "$1='$value' is not valid; use a value like $3 (see the header of $0)"; exit 2; }
}
check_setting STACK_PROM_RETENTION '^[0-9]+(ms|s|m|h|d|w|y)$' 35d
check_setting STACK_PROM_RETENTION_SIZE '^[0-9]+(B|KB|MB|GB|TB|PB)$' 10GB
check_setting STACK_JAEGER_TTL '^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$' 336h
check_setting STACK_VL_RETENTION '^[0-9]+(h|d|w|y)$' 35d
check_setting STACK_VL_MAX_DISK '^[0-9]+(KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$' 5GiB
check_setting STACK_AM_RETENTION '^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$' 120h
RETENTION_VARS=(STACK_PROM_RETENTION STACK_PROM_RETENTION_SIZE STACK_JAEGER_TTL STACK_VL_RETENTION STACK_VL_MAX_DISK STACK_AM_RETENTION)

# `up` records the retention it started with in $STACK_DIR/retention; `start NAME` (also used by scripts/backup.sh)
# reuses it for what the caller's environment does not set, so a restart never silently changes the retention.
save_retention() {
  local v
  for v in "${RETENTION_VARS[@]}"; do if [[ -n "${!v:-}" ]]; then echo "$v=${!v}"; fi; done > "$STACK_DIR/retention"
}
load_retention() {
  local k v
  [[ -f "$STACK_DIR/retention" ]] || return 0
  while IFS='=' read -r k v; do
    if [[ " ${RETENTION_VARS[*]} " == *" $k "* && -z "${!k:-}" ]]; then export "$k=$v"; fi
  done < "$STACK_DIR/retention"
}

# ---------------------------------------------------------------------------------------------- build ---
GO="$(command -v go || true)"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go

# cache_key DIR [FILES...] -> hash of the module files, the Go version and the platform.
cache_key() {
  local dir="$1"; shift
  {
    "$GO" env GOVERSION GOOS GOARCH
    (cd "$dir" && cat go.mod go.sum "$@")
  } | sha256sum | cut -c1-16
}

# build_one NAME MODULE_DIR PACKAGE [SOURCES...]: reuse $CACHE_DIR/NAME-KEY or build it there, then put it
# in $BIN_DIR/NAME. Builds go to a temporary file and are renamed, so concurrent stacks never see half a binary.
build_one() {
  local name="$1" dir="$2" pkg="$3"; shift 3
  local key cached start
  [[ -n "$GO" ]] || die "Go is needed to build $name (go not found on PATH or in /usr/local/go/bin)"
  key="$(cache_key "$dir" "$@")"
  cached="$CACHE_DIR/$name-$key"
  mkdir -p "$CACHE_DIR" "$BIN_DIR"
  if [[ -x "$cached" ]]; then
    log "$name: cached ($cached)"
  else
    log "$name: building $pkg (key $key; the first build takes minutes, later ones reuse Go's caches)"
    start=$SECONDS
    (cd "$dir" && nice -n 10 "$GO" build -buildvcs=false -trimpath -ldflags="-s -w" -o "$cached.tmp.$$" "$pkg") \
      || { rm -f "$cached.tmp.$$"; die "$name: go build failed"; }
    mv -f "$cached.tmp.$$" "$cached"
    log "$name: built in $((SECONDS - start))s"
  fi
  if [[ "$(cat "$BIN_DIR/$name.key" 2>/dev/null)" != "$key" || ! -x "$BIN_DIR/$name" ]]; then
    # A hard link when the cache is on the same file system, else a copy; always via rename.
    ln -f "$cached" "$BIN_DIR/$name.tmp.$$" 2>/dev/null || cp -f "$cached" "$BIN_DIR/$name.tmp.$$"
    mv -f "$BIN_DIR/$name.tmp.$$" "$BIN_DIR/$name"
    echo "$key" > "$BIN_DIR/$name.key"
  fi
}

cmd_build() {
  build_one otelcol-omie "$CFG/otelcol-omie" . main.go components.go
  build_one jaeger "$CFG/tools/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
  build_one victoria-logs "$CFG/tools/victorialogs" github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs
  build_one mailpit "$CFG/tools/mailpit" github.com/axllent/mailpit
}

# Prometheus and Alertmanager come from Debian's packages (2.42 / 0.25 on Debian 12). We never use them as
# system services: the binaries are started below with our own config and data directories.
ensure_debian_packages() {
  [[ -x /usr/bin/prometheus && -x /usr/bin/prometheus-alertmanager && -x /usr/bin/promtool && -x /usr/bin/amtool ]] && return 0
  local sudo=""
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "prometheus/alertmanager are missing; install them: apt-get install prometheus prometheus-alertmanager"
    sudo="sudo"
  fi
  log "installing prometheus and prometheus-alertmanager from Debian's packages"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
}

# -------------------------------------------------------------------------------------------- helpers ---
pidfile() { echo "$STACK_DIR/pids/$1.pid"; }
logfile() { echo "$STACK_DIR/logs/$1.log"; }

binary_of() {
  case "$1" in
    otelcol) echo "$BIN_DIR/otelcol-omie" ;;
    jaeger) echo "$BIN_DIR/jaeger" ;;
    victorialogs) echo "$BIN_DIR/victoria-logs" ;;
    mailpit) echo "$BIN_DIR/mailpit" ;;
    prometheus) echo /usr/bin/prometheus ;;
    alertmanager) echo /usr/bin/prometheus-alertmanager ;;
    dashboard) echo "$DASH_PY" ;;
  esac
}

ready_url() {
  case "$1" in
    otelcol) echo "http://$H:$P_COL_HEALTH/" ;;
    jaeger) echo "http://$H:$P_JAEGER_QUERY/api/services" ;;
    victorialogs) echo "http://$H:$P_VL/health" ;;
    mailpit) echo "http://$H:$P_MAILPIT_HTTP/readyz" ;;
    prometheus) echo "http://$H:$P_PROM/-/ready" ;;
    alertmanager) echo "http://$H:$P_AM/-/ready" ;;
    dashboard) echo "http://$H:$P_DASH/healthz" ;;
  esac
}

ports_of() {
  case "$1" in
    otelcol) echo "$P_OTLP_GRPC $P_OTLP_HTTP $P_COL_HEALTH $P_COL_METRICS $P_COL_PPROF $P_COL_ZPAGES" ;;
    jaeger) echo "$P_JAEGER_OTLP_GRPC $P_JAEGER_OTLP_HTTP $P_JAEGER_QUERY $P_JAEGER_QUERY_GRPC $P_JAEGER_HEALTH $P_JAEGER_METRICS" ;;
    victorialogs) echo "$P_VL" ;;
    mailpit) echo "$P_MAILPIT_SMTP $P_MAILPIT_HTTP" ;;
    prometheus) echo "$P_PROM" ;;
    alertmanager) echo "$P_AM" ;;
    dashboard) echo "$P_DASH" ;;
  esac
}

# The PID in the pid file, if that process is still alive AND is still our binary (PIDs get reused).
running_pid() {
  local f pid bin
  f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  bin="$(binary_of "$1")"
  local argv0=""
  IFS= read -r -d '' argv0 < "/proc/$pid/cmdline" 2>/dev/null || true
  [[ "$argv0" == "$bin" ]] || return 1
  echo "$pid"
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

port_busy() { (exec 3<>"/dev/tcp/$H/$1") 2>/dev/null; }

# ----------------------------------------------------------------------------------------- components ---
render_configs() {
  mkdir -p "$STACK_DIR/prometheus" "$STACK_DIR/alertmanager"
  local interval="${STACK_PROM_INTERVAL:-5s}"
  sed -e "s/127\.0\.0\.1:8888/$H:$P_COL_METRICS/g" \
      -e "s/127\.0\.0\.1:9090/$H:$P_PROM/g" \
      -e "s/127\.0\.0\.1:9093/$H:$P_AM/g" \
      -e "s/^\(  [a-z_]*_interval:\) 15s/\1 $interval/" \
      "$CFG/prometheus/prometheus.yml" > "$STACK_DIR/prometheus/prometheus.yml"
  # rule_files are relative to the config file: rules/ links to the repository's files, so edits + reload apply.
  rm -rf "$STACK_DIR/prometheus/rules"
  mkdir -p "$STACK_DIR/prometheus/rules"
  ln -sf "$CFG"/prometheus/rules/*.yml "$STACK_DIR/prometheus/rules/"
  render_alerting
}

# Alerting: the escalation rule (a copy with STACK_ESCALATION_FOR, for tests) and Alertmanager's config, rendered
# by collector-config/alertmanager/render.sh (channels on/off, secrets in files, links, timings).
render_alerting() {
  if [[ -n "${STACK_ESCALATION_FOR:-}" ]]; then
    local rule="$STACK_DIR/prometheus/rules/escalation.alerts.yml"
    rm -f "$rule"
    sed "s/^\(        for:\) 15m\$/\1 $STACK_ESCALATION_FOR/" "$CFG/prometheus/rules/escalation.alerts.yml" > "$rule"
  fi
  local jsonline="/insert/jsonline?_stream_fields=commonLabels.alertname,commonLabels.job&_msg_field=commonAnnotations.summary"
  env ALERTMANAGER_SMTP_SMARTHOST="${ALERTMANAGER_SMTP_SMARTHOST-$H:$P_MAILPIT_SMTP}" \
      ALERTMANAGER_WEBHOOK_URL="${ALERTMANAGER_WEBHOOK_URL:-http://$H:$P_WEBHOOK/}" \
      ALERTMANAGER_HISTORY_URL="${ALERTMANAGER_HISTORY_URL-http://$H:$P_VL$jsonline}" \
      ALERTMANAGER_JAEGER_URL="${ALERTMANAGER_JAEGER_URL:-http://$H:$P_JAEGER_QUERY}" \
      ALERTMANAGER_DASHBOARD_URL="${ALERTMANAGER_DASHBOARD_URL:-http://$H:$P_DASH}" \
      ALERTMANAGER_GROUP_WAIT="${STACK_AM_GROUP_WAIT:-1s}" ALERTMANAGER_GROUP_INTERVAL="${STACK_AM_GROUP_INTERVAL:-5s}" \
      "$CFG/alertmanager/render.sh" "$CFG/alertmanager" "$STACK_DIR/alertmanager" 2>&1 | sed 's/^/stack: /' >&2
}

# start NAME: launch in its own session (so it outlives this script and a Ctrl-C in its terminal), without
# the lock file descriptor 9 (a child holding it would block the next `down`).
start() {
  local name="$1" bin; bin="$(binary_of "$name")"
  local out; out="$(logfile "$name")"
  : > "$out"
  case "$name" in
    otelcol)
      local cfgs=(--config="$CFG/otelcol.yaml")
      [[ "${STACK_OTELCOL_DEBUG:-0}" == 1 ]] && cfgs+=(--config="$CFG/otelcol.debug.yaml")
      [[ -n "${STACK_OTELCOL_EXTRA_CONFIG:-}" ]] && cfgs+=(--config="$STACK_OTELCOL_EXTRA_CONFIG")
      env OTELCOL_LISTEN_HOST=$H OTELCOL_ADMIN_HOST=$H \
          OTELCOL_OTLP_GRPC_PORT="$P_OTLP_GRPC" OTELCOL_OTLP_HTTP_PORT="$P_OTLP_HTTP" \
          OTELCOL_HEALTH_PORT="$P_COL_HEALTH" OTELCOL_METRICS_PORT="$P_COL_METRICS" \
          OTELCOL_PPROF_PORT="$P_COL_PPROF" OTELCOL_ZPAGES_PORT="$P_COL_ZPAGES" \
          OTELCOL_SAMPLING_PERCENT="${OTELCOL_SAMPLING_PERCENT:-100}" \
          OTELCOL_TAIL_DECISION_WAIT="${OTELCOL_TAIL_DECISION_WAIT:-2s}" \
          OTELCOL_SPANMETRICS_FLUSH_INTERVAL="${OTELCOL_SPANMETRICS_FLUSH_INTERVAL:-5s}" \
          OTELCOL_CAPTURE_FILE="$STACK_DIR/otelcol-capture.jsonl" \
          JAEGER_OTLP_ENDPOINT="$H:$P_JAEGER_OTLP_GRPC" JAEGER_OTLP_INSECURE=true \
          PROMETHEUS_REMOTE_WRITE_URL="http://$H:$P_PROM/api/v1/write" \
          LOGS_OTLP_ENDPOINT="http://$H:$P_VL/insert/opentelemetry" \
          setsid "$bin" "${cfgs[@]}" >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    jaeger)
      env JAEGER_LISTEN_HOST=$H JAEGER_QUERY_PORT="$P_JAEGER_QUERY" JAEGER_QUERY_GRPC_PORT="$P_JAEGER_QUERY_GRPC" \
          JAEGER_OTLP_GRPC_PORT="$P_JAEGER_OTLP_GRPC" JAEGER_OTLP_HTTP_PORT="$P_JAEGER_OTLP_HTTP" \
          JAEGER_HEALTH_PORT="$P_JAEGER_HEALTH" JAEGER_METRICS_PORT="$P_JAEGER_METRICS" \
          JAEGER_BADGER_DIR="$STACK_DIR/data/jaeger" JAEGER_BADGER_TTL="${STACK_JAEGER_TTL:-336h}" \
          setsid "$bin" --config="$CFG/jaeger/jaeger.yaml" >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    victorialogs)
      setsid "$bin" -httpListenAddr="$H:$P_VL" -storageDataPath="$STACK_DIR/data/victorialogs" \
          -retentionPeriod="${STACK_VL_RETENTION:-35d}" -retention.maxDiskSpaceUsageBytes="${STACK_VL_MAX_DISK:-5GiB}" \
          >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    mailpit)
      setsid "$bin" --listen "$H:$P_MAILPIT_HTTP" --smtp "$H:$P_MAILPIT_SMTP" --smtp-disable-rdns \
          --database "$STACK_DIR/data/mailpit/mailpit.db" --disable-version-check --label "omie-otel stack $OFF" \
          >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    prometheus)
      # --web.enable-admin-api serves the TSDB snapshot that scripts/backup.sh takes; like every other API here
      # it listens on 127.0.0.1 only.
      setsid "$bin" --config.file="$STACK_DIR/prometheus/prometheus.yml" \
          --storage.tsdb.path="$STACK_DIR/data/prometheus" \
          --storage.tsdb.retention.time="${STACK_PROM_RETENTION:-35d}" \
          --storage.tsdb.retention.size="${STACK_PROM_RETENTION_SIZE:-10GB}" \
          --web.listen-address="$H:$P_PROM" --web.enable-remote-write-receiver --web.enable-lifecycle \
          --web.enable-admin-api \
          --rules.alert.resend-delay=2s \
          --web.external-url="http://$H:$P_PROM" >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    alertmanager)
      setsid "$bin" --config.file="$STACK_DIR/alertmanager/alertmanager.yml" \
          --storage.path="$STACK_DIR/data/alertmanager" --data.retention="${STACK_AM_RETENTION:-120h}" \
          --web.listen-address="$H:$P_AM" \
          --cluster.listen-address= \
          --web.external-url="http://$H:$P_AM" >>"$out" 2>&1 </dev/null 9>&- &
      ;;
    dashboard)
      env PROMETHEUS_URL="http://$H:$P_PROM" ALERTMANAGER_URL="http://$H:$P_AM" \
          JAEGER_QUERY_URL="http://$H:$P_JAEGER_QUERY" VICTORIALOGS_URL="http://$H:$P_VL" \
          setsid "$DASH_PY" -m omie_otel dashboard --host $H --port "$P_DASH" >>"$out" 2>&1 </dev/null 9>&- &
      ;;
  esac
  local pid=$! i
  echo "$pid" > "$(pidfile "$name")"
  # Until the forked shell has exec'ed the binary, /proc/PID/cmdline is not yet ours: wait for the exec.
  for ((i = 0; i < 50; i++)); do
    running_pid "$name" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# wait_ready NAME: poll its readiness URL; fail early if the process died.
wait_ready() {
  local name="$1" url deadline code=""
  url="$(ready_url "$name")"
  deadline=$((SECONDS + READY_TIMEOUT))
  while (( SECONDS < deadline )); do
    running_pid "$name" >/dev/null || { fail_component "$name" "exited during start-up"; return 1; }
    code="$(http_code "$url")"
    [[ "$code" == 200 ]] && return 0
    sleep 0.5
  done
  fail_component "$name" "not ready after ${READY_TIMEOUT}s ($url answered '${code:-nothing}')"
  return 1
}

fail_component() {
  log "$1 FAILED: $2"
  log "last lines of $(logfile "$1"):"
  tail -n 40 "$(logfile "$1")" >&2 || true
}

write_env() {
  local f="$STACK_DIR/env"
  cat > "$f.tmp" <<EOF
# Endpoints of the local stack started by scripts/stack.sh (STACK_PORT_OFFSET=$OFF). Source it:
#   set -a; . $f; set +a
STACK_PORT_OFFSET=$OFF
STACK_DIR=$STACK_DIR
OTEL_EXPORTER_OTLP_ENDPOINT=http://$H:$P_OTLP_HTTP
OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
OTELCOL_OTLP_HTTP_ENDPOINT=http://$H:$P_OTLP_HTTP
OTELCOL_OTLP_GRPC_ENDPOINT=http://$H:$P_OTLP_GRPC
OTELCOL_HEALTH_URL=http://$H:$P_COL_HEALTH/
OTELCOL_METRICS_URL=http://$H:$P_COL_METRICS/metrics
OTELCOL_ZPAGES_URL=http://$H:$P_COL_ZPAGES/debug/pipelinez
JAEGER_QUERY_URL=http://$H:$P_JAEGER_QUERY
PROMETHEUS_URL=http://$H:$P_PROM
ALERTMANAGER_URL=http://$H:$P_AM
ALERTMANAGER_WEBHOOK_URL=${ALERTMANAGER_WEBHOOK_URL:-http://$H:$P_WEBHOOK/}
VICTORIALOGS_URL=http://$H:$P_VL
MAILPIT_URL=http://$H:$P_MAILPIT_HTTP
MAILPIT_SMTP=$H:$P_MAILPIT_SMTP
EOF
  if [[ " ${COMPONENTS[*]} " == *" dashboard "* ]]; then echo "DASHBOARD_URL=http://$H:$P_DASH/" >> "$f.tmp"; fi
  mv -f "$f.tmp" "$f"
}

stop_one() {
  local name="$1" pid i
  if pid="$(running_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$(pidfile "$name")"
}

# ------------------------------------------------------------------------- scale-out: agent + N gateways ---
# Extra otelcol-omie processes in front of the running stack's backends (docs/deploy.md, tests/e2e/test_scaleout.py).
P_SO=$(port SCALEOUT 4500)
SO_MAX=3

so_pidfile() { echo "$STACK_DIR/pids/scaleout-$1.pid"; }
so_logfile() { echo "$STACK_DIR/logs/scaleout-$1.log"; }
so_count() { cat "$STACK_DIR/scaleout.n" 2>/dev/null || echo 0; }
# so_port NAME INDEX: agent ports 0..5 = grpc http health metrics pprof zpages; gateway-I adds 10*I, and 6 = the
# span-metrics receiver.
so_port() { local i=0; [[ "$1" == gateway-* ]] && i="${1#gateway-}"; echo $((P_SO + 10 * i + $2)); }

so_running_pid() {
  local f pid argv0=""
  f="$(so_pidfile "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  IFS= read -r -d '' argv0 < "/proc/$pid/cmdline" 2>/dev/null || true
  [[ "$argv0" == "$BIN_DIR/otelcol-omie" ]] || return 1
  echo "$pid"
}

so_start() {
  local name="$1" out cfgs i list="" smlist="" pid
  out="$(so_logfile "$name")"
  : >> "$out"
  local common=(OTELCOL_LISTEN_HOST=$H OTELCOL_ADMIN_HOST=$H
    OTELCOL_OTLP_GRPC_PORT="$(so_port "$name" 0)" OTELCOL_OTLP_HTTP_PORT="$(so_port "$name" 1)"
    OTELCOL_HEALTH_PORT="$(so_port "$name" 2)" OTELCOL_METRICS_PORT="$(so_port "$name" 3)"
    OTELCOL_PPROF_PORT="$(so_port "$name" 4)" OTELCOL_ZPAGES_PORT="$(so_port "$name" 5)")
  if [[ "$name" == agent ]]; then
    for ((i = 1; i <= $(so_count); i++)); do
      list+="${list:+, }$H:$(so_port "gateway-$i" 0)"; smlist+="${smlist:+, }$H:$(so_port "gateway-$i" 6)"
    done
    env "${common[@]}" GATEWAY_OTLP_ENDPOINTS="[$list]" GATEWAY_SPANMETRICS_ENDPOINTS="[$smlist]" \
        OTELCOL_AGENT_QUEUE_DIR="$STACK_DIR/data/scaleout-agent-queue" OTELCOL_AGENT_RETRY_MAX="${OTELCOL_AGENT_RETRY_MAX:-30m}" \
        setsid "$BIN_DIR/otelcol-omie" --config="$CFG/otelcol-agent.yaml" >>"$out" 2>&1 </dev/null 9>&- &
  else
    env "${common[@]}" OTELCOL_SPANMETRICS_GRPC_PORT="$(so_port "$name" 6)" \
        OTELCOL_SAMPLING_PERCENT="${OTELCOL_SAMPLING_PERCENT:-100}" \
        OTELCOL_TAIL_DECISION_WAIT="${OTELCOL_TAIL_DECISION_WAIT:-2s}" \
        OTELCOL_SPANMETRICS_FLUSH_INTERVAL="${OTELCOL_SPANMETRICS_FLUSH_INTERVAL:-5s}" \
        JAEGER_OTLP_ENDPOINT="$H:$P_JAEGER_OTLP_GRPC" JAEGER_OTLP_INSECURE=true \
        PROMETHEUS_REMOTE_WRITE_URL="http://$H:$P_PROM/api/v1/write" \
        LOGS_OTLP_ENDPOINT="http://$H:$P_VL/insert/opentelemetry" \
        setsid "$BIN_DIR/otelcol-omie" --config="$CFG/otelcol-gateway.yaml" --config="$CFG/otelcol-gateway-lb.yaml" \
        >>"$out" 2>&1 </dev/null 9>&- &
  fi
  pid=$!
  echo "$pid" > "$(so_pidfile "$name")"
  local deadline=$((SECONDS + READY_TIMEOUT)) url="http://$H:$(so_port "$name" 2)/"
  while (( SECONDS < deadline )); do
    kill -0 "$pid" 2>/dev/null || { log "scaleout $name exited during start-up:"; tail -n 30 "$out" >&2; return 1; }
    [[ "$(http_code "$url")" == 200 ]] && { log "scaleout $name ready ($url)"; return 0; }
    sleep 0.5
  done
  log "scaleout $name not ready after ${READY_TIMEOUT}s:"; tail -n 30 "$out" >&2; return 1
}

so_stop() {
  local name="$1" pid i
  if pid="$(so_running_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "scaleout $name ignored TERM; sending KILL"; kill -KILL "$pid" 2>/dev/null || true; }
    log "scaleout $name stopped (pid $pid)"
  fi
  rm -f "$(so_pidfile "$name")"
}

so_names() { local i; for ((i = 1; i <= $(so_count); i++)); do echo "gateway-$i"; done; echo agent; }

so_write_env() {
  local i f="$STACK_DIR/scaleout.env"
  {
    echo "# The scale-out tier (scripts/stack.sh scaleout up): send to the agent; gateways export to this stack."
    echo "SCALEOUT_GATEWAYS=$(so_count)"
    echo "AGENT_OTLP_HTTP_ENDPOINT=http://$H:$(so_port agent 1)"
    echo "AGENT_OTLP_GRPC_ENDPOINT=http://$H:$(so_port agent 0)"
    echo "AGENT_METRICS_URL=http://$H:$(so_port agent 3)/metrics"
    for ((i = 1; i <= $(so_count); i++)); do
      echo "GATEWAY_${i}_OTLP_GRPC_ENDPOINT=http://$H:$(so_port "gateway-$i" 0)"
      echo "GATEWAY_${i}_METRICS_URL=http://$H:$(so_port "gateway-$i" 3)/metrics"
    done
  } > "$f.tmp"
  mv -f "$f.tmp" "$f"
}

cmd_scaleout() {
  local sub="${1:-}" n name p
  case "$sub" in
    up)
      n="${2:-2}"
      [[ "$n" =~ ^[1-9]$ ]] && (( n <= SO_MAX )) || die "scaleout up N: N must be 1..$SO_MAX, got '$n'"
      cmd_status >/dev/null 2>&1 || die "scaleout needs the stack running first: STACK_PORT_OFFSET=$OFF $0 up"
      for name in $(so_names); do so_stop "$name"; done
      echo "$n" > "$STACK_DIR/scaleout.n"
      for name in $(so_names); do
        for p in $(seq "$(so_port "$name" 0)" "$(so_port "$name" 6)"); do
          port_busy "$p" && die "port $p (scaleout $name) is already in use on $H; set STACK_SCALEOUT_PORT or STACK_PORT_OFFSET"
        done
      done
      for name in $(so_names); do so_start "$name" || { for name in $(so_names); do so_stop "$name"; done; exit 1; }; done
      so_write_env; cat "$STACK_DIR/scaleout.env" ;;
    down) for name in $(so_names); do so_stop "$name"; done; rm -f "$STACK_DIR/scaleout.env" "$STACK_DIR/scaleout.n" ;;
    status)
      local all=0
      for name in $(so_names); do
        if p="$(so_running_pid "$name")"; then printf '%-10s running  pid %s\n' "$name" "$p"; else printf '%-10s stopped\n' "$name"; all=1; fi
      done
      return "$all" ;;
    stop|start)
      name="${2:-}"
      [[ " $(so_names | tr '\n' ' ') " == *" $name "* && -n "$name" ]] \
        || die "usage: $0 scaleout $sub NAME, NAME one of: $(so_names | tr '\n' ' ')"
      if [[ "$sub" == stop ]]; then so_stop "$name"; else
        so_running_pid "$name" >/dev/null && die "scaleout $name is already running"
        so_start "$name" || exit 1
      fi ;;
    *) die "usage: $0 scaleout up [N]|down|status|stop NAME|start NAME" ;;
  esac
}

# ---------------------------------------------------------------------------------------- subcommands ---
cmd_down() {
  local i name
  for name in $(so_names); do so_stop "$name"; done
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_one "${COMPONENTS[i]}"; done
  rm -f "$STACK_DIR/env"
}

cmd_status() {
  local name pid code all=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(running_pid "$name")"; then
      code="$(http_code "$(ready_url "$name")")"
      printf '%-13s running  pid %-7s ready=%s  %s\n' "$name" "$pid" "$([[ $code == 200 ]] && echo yes || echo "no($code)")" "$(ready_url "$name")"
      [[ "$code" == 200 ]] || all=1
    else
      printf '%-13s stopped\n' "$name"
      all=1
    fi
  done
  [[ -f "$STACK_DIR/env" ]] && echo "env file: $STACK_DIR/env"
  return "$all"
}

cmd_up() {
  mkdir -p "$STACK_DIR"/{logs,pids,data}
  exec 9>"$STACK_DIR/.lock"
  flock -w 600 9 || die "another scripts/stack.sh holds $STACK_DIR/.lock"

  if cmd_status >/dev/null 2>&1; then
    log "already running (STACK_DIR=$STACK_DIR)"
    write_env
    cmd_status
    return 0
  fi
  cmd_down 2>/dev/null  # leftovers of a half-started stack

  cmd_build
  ensure_debian_packages
  rm -f "$STACK_DIR/dashboard.skipped"
  local kept=() c
  for c in "${COMPONENTS[@]}"; do [[ "$c" == dashboard ]] || kept+=("$c"); done
  COMPONENTS=("${kept[@]}")
  if [[ ! -x "$DASH_PY" ]]; then
    log "dashboard: skipped (no $DASH_PY; 'make venv' creates it)"
  elif ! "$DASH_PY" -c 'import omie_otel.dashboard' 2>/dev/null; then
    log "dashboard: skipped ($DASH_PY cannot import omie_otel.dashboard; run 'make venv')"
    touch "$STACK_DIR/dashboard.skipped"
  else
    COMPONENTS+=(dashboard)
  fi

  local name p
  for name in "${COMPONENTS[@]}"; do
    for p in $(ports_of "$name"); do
      port_busy "$p" && die "port $p (for $name) is already in use on $H; stop what uses it or set STACK_PORT_OFFSET"
    done
  done

  if [[ "${STACK_FRESH:-0}" == 1 ]]; then rm -rf "$STACK_DIR/data"; fi
  mkdir -p "$STACK_DIR/data"/{prometheus,alertmanager,victorialogs,mailpit} "$STACK_DIR/data/jaeger"/{keys,values}
  rm -f "$STACK_DIR/otelcol-capture.jsonl"
  render_configs
  save_retention

  for name in "${COMPONENTS[@]}"; do
    log "starting $name"
    start "$name"
    if ! wait_ready "$name"; then
      log "stopping what was started; logs are kept in $STACK_DIR/logs/"
      cmd_down 2>/dev/null
      exit 1
    fi
  done
  write_env
  log "stack is up; endpoints in $STACK_DIR/env"
  cat "$STACK_DIR/env"
}

case "${1:-}" in
  up) cmd_up ;;
  down) mkdir -p "$STACK_DIR"; exec 9>"$STACK_DIR/.lock"; flock -w 60 9 || true; cmd_down ;;
  status) cmd_status ;;
  build) cmd_build ;;
  deps) ensure_debian_packages ;;
  env) cat "$STACK_DIR/env" ;;
  dir) echo "$STACK_DIR" ;;
  backup) shift; exec "$ROOT/scripts/backup.sh" "$@" ;;
  restore) shift; exec "$ROOT/scripts/restore.sh" "$@" ;;
  scaleout) mkdir -p "$STACK_DIR"/{logs,pids,data}; shift; cmd_scaleout "$@" ;;
  stop|start)
    [[ " ${COMPONENTS[*]} " == *" ${2:-} "* ]] || die "usage: $0 $1 NAME, NAME one of: ${COMPONENTS[*]}"
    exec 9>"$STACK_DIR/.lock"; flock -w 60 9 || die "another scripts/stack.sh holds $STACK_DIR/.lock"
    if [[ "$1" == stop ]]; then stop_one "$2"; else
      running_pid "$2" >/dev/null && die "$2 is already running"
      load_retention
      start "$2"; wait_ready "$2" || exit 1; log "$2 started"
    fi ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
