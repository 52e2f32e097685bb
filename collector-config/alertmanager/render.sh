#!/bin/sh
# Renders collector-config/alertmanager/ (alertmanager.yml + templates/) into OUT_DIR from ALERTMANAGER_*
# variables: Alertmanager 0.25 expands no environment variable in its config. POSIX sh + sed, so it also runs as
# the entrypoint of the prom/alertmanager image (docker-compose.yaml) before Alertmanager itself.
#
#   render.sh SRC_DIR OUT_DIR        writes OUT_DIR/alertmanager.yml, OUT_DIR/templates/, OUT_DIR/secrets/
#
# A channel whose secret or address is missing is left out of the copy, with one line on stderr saying which
# variable turns it on; nothing here ever fails because a channel is off. Every variable, with its default:
#
#   ALERTMANAGER_SLACK_API_URL            Slack incoming-webhook URL for every channel (a secret)       [unset: Slack off]
#   ALERTMANAGER_SLACK_API_URL_FILE       ... or a file holding it                                      [unset]
#   ALERTMANAGER_SLACK_{ONCALL,ALERTS,ESCALATION}_API_URL[_FILE]
#                                         one channel's own webhook (Slack apps post to the channel their
#                                         webhook was made for)                                         [the above]
#   ALERTMANAGER_SLACK_CHANNEL_ONCALL     pages                                                         [#omie-plantao]
#   ALERTMANAGER_SLACK_CHANNEL_ALERTS     tickets                                                       [#omie-alertas]
#   ALERTMANAGER_SLACK_CHANNEL_ESCALATION pages unsolved after 15 min                                   [#omie-escalacao]
#   ALERTMANAGER_SMTP_SMARTHOST           host:port of the SMTP relay; "off" = no e-mail                [127.0.0.1:1025]
#   ALERTMANAGER_SMTP_FROM                sender                       [omie-otel alertas <alertas@omie-otel.local>]
#   ALERTMANAGER_SMTP_REQUIRE_TLS         STARTTLS required (true for a real relay)                     [false]
#   ALERTMANAGER_SMTP_USERNAME            SMTP AUTH user; unset = no authentication                     [unset]
#   ALERTMANAGER_SMTP_PASSWORD_FILE       file with its password (or ALERTMANAGER_SMTP_PASSWORD, a secret)
#                                         a user without a password turns e-mail off                    [unset]
#   ALERTMANAGER_EMAIL_ONCALL / _TEAM / _ESCALATION
#                                         recipients (comma-separated); "off" = none
#                                         [plantao@omie-otel.local / time@omie-otel.local / gestor@omie-otel.local]
#   ALERTMANAGER_WEBHOOK_URL              generic webhook (incident tool) on oncall/team/escalation; empty or
#                                         "off" = none                                                  [http://127.0.0.1:9095/]
#   ALERTMANAGER_HISTORY_URL              where every firing/resolution is posted (the alert history); "off"
#                                         = none            [VictoriaLogs' /insert/jsonline on 127.0.0.1:9428]
#   ALERTMANAGER_JAEGER_URL               Jaeger UI, for the links in the messages                      [http://127.0.0.1:16686]
#   ALERTMANAGER_DASHBOARD_URL            omie-otel dashboard, for the links                            [http://127.0.0.1:8400]
#   ALERTMANAGER_GROUP_WAIT / _GROUP_INTERVAL   route timings (tests shorten them)                      [30s / 5m]
set -eu

SRC="${1:?usage: render.sh SRC_DIR OUT_DIR}"
OUT="${2:?usage: render.sh SRC_DIR OUT_DIR}"


say() { printf 'alertmanager: %s\n' "$*" >&2; }
esc() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }
off() { [ -z "$1" ] || [ "$1" = off ]; }

mkdir -p "$OUT/templates" "$OUT/secrets"
OUT=$(cd "$OUT" && pwd)
SED="$OUT/.render.sed"
chmod 700 "$OUT/secrets"
: > "$SED"

# set_value TAG VALUE: the value of the line tagged "# render: TAG", single-quoted for YAML.
set_value() {
  case "$2" in *'
'*) say "ignoring a value with a line break for $1"; return 0 ;; esac
  v=$(esc "$(printf '%s' "$2" | sed -e "s/'/''/g")")
  printf 's|^\\( *-\\{0,1\\} *[A-Za-z_]*:\\) .*  # render: %s$|\\1 '"'"'%s'"'"'  # render: %s|\n' "$1" "$v" "$1" >> "$SED"
}
drop() { printf '/# >>> %s$/,/# <<< %s$/d\n' "$1" "$1" >> "$SED"; }

# secret_file NAME VALUE FILE -> prints the path of a readable file holding the secret, or nothing.
secret_file() {
  if [ -n "$3" ]; then
    if [ -r "$3" ] && [ -s "$3" ]; then printf '%s' "$3"; return 0; fi
    say "$1: $3 is missing, empty or unreadable"
    return 0
  fi
  if [ -n "$2" ]; then
    (umask 077 && printf '%s\n' "$2" > "$OUT/secrets/$1")
    printf '%s' "$OUT/secrets/$1"
  fi
}

# --- Slack: one channel per receiver --------------------------------------------------------------------------
for pair in oncall:ONCALL:omie-plantao alerts:ALERTS:omie-alertas escalation:ESCALATION:omie-escalacao; do
  name=${pair%%:*}; rest=${pair#*:}; up=${rest%%:*}; default_channel="#${rest#*:}"
  eval "url=\${ALERTMANAGER_SLACK_${up}_API_URL:-\${ALERTMANAGER_SLACK_API_URL:-}}"
  eval "file=\${ALERTMANAGER_SLACK_${up}_API_URL_FILE:-\${ALERTMANAGER_SLACK_API_URL_FILE:-}}"
  eval "channel=\${ALERTMANAGER_SLACK_CHANNEL_${up}:-$default_channel}"
  # shellcheck disable=SC2154 # set by eval
  path=$(secret_file "slack-$name.url" "$url" "$file")
  if [ -n "$path" ]; then
    set_value "slack_${name}_file" "$path"
    set_value "slack_${name}_channel" "$channel"
  else
    drop "slack_$name"
    slack_off="${slack_off:+$slack_off, }$channel"
  fi
done
[ -z "${slack_off:-}" ] || say "Slack off for $slack_off: set ALERTMANAGER_SLACK_API_URL_FILE (a file holding the incoming-webhook URL; or ALERTMANAGER_SLACK_<ONCALL|ALERTS|ESCALATION>_API_URL_FILE per channel) to turn it on"

# --- e-mail -----------------------------------------------------------------------------------------------------
email=on
smarthost="${ALERTMANAGER_SMTP_SMARTHOST-127.0.0.1:1025}"
if off "$smarthost"; then
  email=off
  say "e-mail off: ALERTMANAGER_SMTP_SMARTHOST is '$smarthost'; set it to the SMTP relay's host:port"
else
  set_value smtp_smarthost "$smarthost"
  set_value smtp_from "${ALERTMANAGER_SMTP_FROM:-omie-otel alertas <alertas@omie-otel.local>}"
  printf 's|^\\(  smtp_require_tls:\\) .*  # render: smtp_require_tls$|\\1 %s  # render: smtp_require_tls|\n' \
    "${ALERTMANAGER_SMTP_REQUIRE_TLS:-false}" >> "$SED"
  if [ -n "${ALERTMANAGER_SMTP_USERNAME:-}" ]; then
    path=$(secret_file smtp-password "${ALERTMANAGER_SMTP_PASSWORD:-}" "${ALERTMANAGER_SMTP_PASSWORD_FILE:-}")
    if [ -n "$path" ]; then
      set_value smtp_auth_username "$ALERTMANAGER_SMTP_USERNAME"
      set_value smtp_auth_password_file "$path"
    else
      email=off
      say "e-mail off: ALERTMANAGER_SMTP_USERNAME is set but no password; set ALERTMANAGER_SMTP_PASSWORD_FILE"
    fi
  else
    drop smtp_auth
  fi
fi
for pair in oncall:ONCALL:plantao team:TEAM:time escalation:ESCALATION:gestor; do
  name=${pair%%:*}; rest=${pair#*:}; up=${rest%%:*}
  eval "to=\${ALERTMANAGER_EMAIL_${up}-${rest#*:}@omie-otel.local}"
  # shellcheck disable=SC2154 # set by eval
  if [ "$email" = off ]; then
    drop "email_$name"
  elif off "$to"; then
    drop "email_$name"
    say "e-mail to the $name list off: set ALERTMANAGER_EMAIL_${up} to its addresses"
  else
    set_value "email_$name" "$to"
  fi
done
[ "$email" = off ] && drop smtp_auth

# --- webhooks: the incident tool's (optional) and the alert history ------------------------------------------
webhook="${ALERTMANAGER_WEBHOOK_URL-http://127.0.0.1:9095/}"
if off "$webhook"; then
  for name in oncall team escalation; do drop "webhook_$name"; done
else
  set_value webhook_url "$webhook"
fi
if [ -n "${ALERTMANAGER_HISTORY_URL+x}" ]; then
  if off "$ALERTMANAGER_HISTORY_URL"; then
    drop history
    say "alert history off: set ALERTMANAGER_HISTORY_URL to the log store's JSON-lines endpoint"
  else
    set_value history_url "$ALERTMANAGER_HISTORY_URL"
  fi
fi

# --- route timings ---------------------------------------------------------------------------------------------
[ -n "${ALERTMANAGER_GROUP_WAIT:-}" ] && printf 's/^\\(  group_wait:\\) .*/\\1 %s/\n' "$ALERTMANAGER_GROUP_WAIT" >> "$SED"
[ -n "${ALERTMANAGER_GROUP_INTERVAL:-}" ] && printf 's/^\\(  group_interval:\\) .*/\\1 %s/\n' "$ALERTMANAGER_GROUP_INTERVAL" >> "$SED"

sed -f "$SED" "$SRC/alertmanager.yml" > "$OUT/alertmanager.yml.tmp"
mv -f "$OUT/alertmanager.yml.tmp" "$OUT/alertmanager.yml"
rm -f "$SED"

# --- templates: the links ---------------------------------------------------------------------------------------
jaeger=$(esc "${ALERTMANAGER_JAEGER_URL:-http://127.0.0.1:16686}")
dashboard=$(esc "${ALERTMANAGER_DASHBOARD_URL:-http://127.0.0.1:8400}")
rm -f "$OUT"/templates/*.tmpl
for f in "$SRC"/templates/*.tmpl; do
  sed -e "s|{{ define \"omie.jaeger_url\" }}.*{{ end }}|{{ define \"omie.jaeger_url\" }}${jaeger}{{ end }}|" \
      -e "s|{{ define \"omie.dashboard_url\" }}.*{{ end }}|{{ define \"omie.dashboard_url\" }}${dashboard}{{ end }}|" \
      "$f" > "$OUT/templates/${f##*/}"
done
