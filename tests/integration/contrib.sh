#!/usr/bin/env bash
# contrib.sh - what ships beside the binary for operators (issue #10): the systemd unit verifies
# and its command line runs the daemon; the Prometheus rules pass promtool, and they and the
# Grafana dashboard name only metrics hookd exports; --log-format text writes one line per event
# for people, control bytes escaped.
. "$(dirname "$0")/lib.sh"
CONTRIB="$(cd "$(dirname "$0")/../../contrib" && pwd)"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"

# --- the Prometheus rules ----------------------------------------------------------------------
if command -v promtool >/dev/null; then
  expect_exit 0 "promtool check rules contrib/prometheus/hookd-rules.yml" promtool check rules "$CONTRIB/prometheus/hookd-rules.yml"
else
  fail "promtool is missing (scripts/install-deps installs Debian's prometheus package for it)"
fi
cat >"$TMP/open.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = sqlite:$TMP/c.db
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
[endpoint open]
scheme = none
[handler h]
on = siprec.failed
exec = /bin/true
CONF
start_server "$TMP/serve.log" -c "$TMP/open.conf" --log-format text || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
"$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --attempts 1 >/dev/null
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
# Every metric the rules use is one hookd exports (a renamed metric must not silence an alert).
for m in $(grep -o 'hookd_[a-z_]*' "$CONTRIB/prometheus/hookd-rules.yml" | sort -u); do
  expect_match "$TMP/metrics" "^# TYPE $m " "the rules' $m is exported"
done
expect_match "$TMP/metrics" '^hookd_siprec_failed_total\{cause="no_answer"\} 1$' "siprec.failed is counted by failure cause"
# --- the Grafana dashboard ---------------------------------------------------------------------
expect_exit 0 "contrib/grafana/hookd.json is JSON with panels" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"] and all(p["targets"] for p in d["panels"])' "$CONTRIB/grafana/hookd.json"
for m in $(grep -o 'hookd_[a-z_]*' "$CONTRIB/grafana/hookd.json" | sed 's/_\(bucket\|sum\|count\)$//' | sort -u); do
  expect_match "$TMP/metrics" "^# TYPE $m " "the dashboard's $m is exported"
done

# --- --log-format text ---------------------------------------------------------------------------
expect_match "$TMP/serve.log" '^[0-9T:.-]+Z notice +started version=[^ ]+ store=sqlite:' "--log-format text: TIME LEVEL MSG key=value"
expect_no_match "$TMP/serve.log" '^\{' "  and no JSON"
printf '{"data":{"event_type":"x\\u001b]0;pwned\\u0007","id":"esc id \\"q\\""}}' >"$TMP/esc.json"
post /webhooks/open "$TMP/esc.json"
expect_logged "$TMP/serve.log" 'event_id="esc id \\"q\\""' "  a value with blanks or quotes is quoted and escaped"
expect_logged "$TMP/serve.log" 'event_type="x\\x1b]0;pwned\\x07"' "  control bytes are written as \\xHH, never raw"
expect_eq "$(grep -c $'\e' "$TMP/serve.log")" 0 "  (no escape byte reaches the terminal)"
# The 200 is written from a template for ASCII ids; others go through jansson: both as JSON.
expect_eq "$(cat "$TMP/resp")" '{"status":"accepted","id":"esc id \"q\""}' "the 200 escapes the id as JSON"
printf '{"data":{"event_type":"x","id":"caf\xc3\xa9 \xe2\x9c\x93"}}' >"$TMP/utf8.json"
post /webhooks/open "$TMP/utf8.json"
expect_eq "$(cat "$TMP/resp")" $'{"status":"accepted","id":"caf\xc3\xa9 \xe2\x9c\x93"}' "  and an id beyond ASCII as its UTF-8"
stop_server
expect_exit 2 "--log-format takes json or text" "$HOOKD" serve --log-format xml --telnyx-public-key "$K_public_key"

# --- the systemd unit ----------------------------------------------------------------------------
UNIT="$CONTRIB/systemd/hookd.service"
if command -v systemd-analyze >/dev/null; then
  # Verified as installed: the binary at the unit's path (a copy pointing at this build).
  sed "s|/usr/bin/hookd|$HOOKD|g" "$UNIT" >"$TMP/hookd.service"
  systemd-analyze verify "$TMP/hookd.service" >"$TMP/verify.out" 2>&1
  # Not on this machine until the package installs them: the hookd user, the man pages.
  grep -v -e 'Failed to resolve user' -e 'Unknown user' -e "Command 'man hookd" "$TMP/verify.out" \
    | grep -i -e 'hookd.service' >"$TMP/verify.problems" || true
  expect_eq "$(cat "$TMP/verify.problems")" "" "systemd-analyze verify finds nothing wrong with hookd.service"
fi
expect_match "$UNIT" '^ExecReload=/bin/kill -HUP \$MAINPID$' "the unit reloads with SIGHUP"
expect_match "$UNIT" '^StateDirectory=hookd$' "  keeps its state in /var/lib/hookd"
expect_match "$UNIT" '^User=hookd$' "  runs as its own user"
expect_match "$UNIT" '^SystemCallFilter=@system-service$' "  with a system call filter"
# Its command line, as the unit runs it, from the state directory's layout.
mkdir -p "$TMP/etc" "$TMP/lib"
sed "s|^url = .*|url = sqlite:$TMP/lib/hookd.db|" "$TMP/open.conf" >"$TMP/etc/hookd.conf"
EXEC=$(sed -n 's|^ExecStart=/usr/bin/hookd serve ||p' "$UNIT" | sed "s|/etc/hookd/hookd.conf|$TMP/etc/hookd.conf|")
# shellcheck disable=SC2086
start_server "$TMP/unit.log" $EXEC || exit 1
expect_exit 0 "the unit's command line serves: an event is accepted" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --attempts 1
stop_server
expect_eq $? 0 "  and stops on SIGTERM with exit 0"
finish
