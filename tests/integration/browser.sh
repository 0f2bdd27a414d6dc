#!/usr/bin/env bash
# browser.sh - the console in Debian's headless Chromium (tests/browser/console.js drives it over
# the DevTools protocol): a daemon with a token, two handlers (one always fails: dead letters),
# events over several calls, and events whose fields carry markup. Screenshots go to $SHOT_DIR
# (the build directory's screenshots/ under meson).
. "$(dirname "$0")/lib.sh"
BROWSER_DIR="$(cd "$(dirname "$0")/../browser" && pwd)"
: "${SHOT_DIR:=$TMP/screenshots}"
command -v "${CHROMIUM:-chromium}" >/dev/null || { fail "chromium is installed (scripts/install-deps installs it)"; finish; exit 1; }

eval "$("$HOOKD" keygen | sed 's/^/K_/')"
TOKEN=browser-token-$RANDOM-$RANDOM-$RANDOM
new_store b
{ console_conf "$TOKEN"; cat <<CONF
[endpoint second]
scheme = telnyx
public_key = $K_public_key
[handler ok]
on = *
exec = /bin/cat
[handler fail]
on = siprec.failed
exec = /bin/sh -c "echo 'recording target unreachable' >&2; exit 7"
max_attempts = 1
CONF
} >"$TMP/hookd.conf"
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 \$SERVER_PID 2>/dev/null"
CPORT=$(console_port "$TMP/serve.log")

"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" 60 4 0 "$TMP/load.jsonl" 6 >/dev/null
expect_eq "$(grep -c '"status":200' "$TMP/load.jsonl")" 60 "60 siprec.failed events over 6 calls"
t0=$(date -u +%s)
at() { echo "$(date -u -d "@$((t0 + $1))" +%Y-%m-%dT%H:%M:%S).$2Z"; }
evt() { # ID TYPE OCCURRED_AT JSON_OF_MORE_PAYLOAD
  jq -cn --arg id "$1" --arg type "$2" --arg at "$3" --argjson more "$4" \
    '{data: {record_type: "event", event_type: $type, id: $id, occurred_at: $at,
      payload: ({call_session_id: "sess-xss", call_control_id: "v3:ctl-xss"} + $more)}}' >"$TMP/$1.json"
  post_telnyx /webhooks/telnyx "$TMP/$1.json" "$K_private_key"
  expect_eq "$(cat "$TMP/status")" 200 "stored $1"
}
evt evt-xss-start call.initiated "$(at 0 000)" '{}'
evt evt-xss call.hangup "$(at 0 500)" '{"hangup_cause": "<img src=x onerror=window.__xss=1>",
  "connection_id": "<script>window.__xss=2</script>", "call_leg_id": "\"'"'"'><svg onload=window.__xss=3>"}'
evt evt-xss-quote siprec.failed "$(at 2 000)" '{"failure_cause": "\"'"'"'><svg onload=window.__xss=3>"}'
# one id at two endpoints: two events
evt evt-twice call.initiated "$(at 3 000)" '{"call_session_id": "sess-twice"}'
post_telnyx /webhooks/second "$TMP/evt-twice.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "stored evt-twice at a second endpoint"
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retry', 'in_flight')")" -eq 0 ] && break
  sleep 0.1
done
SIPREC_ID=$(head -1 "$TMP/load.jsonl" | jq -r .id)

expect_exit 0 "the console passes its checks in Chromium" env CONSOLE_URL="http://127.0.0.1:$CPORT" TOKEN="$TOKEN" \
  HOOK_URL="http://127.0.0.1:$PORT/webhooks/telnyx" SEED="$K_private_key" SHOT_DIR="$SHOT_DIR" SIPREC_ID="$SIPREC_ID" \
  "$NODE" "$BROWSER_DIR/console.js"
cat "$TMP/out"
[ -s "$TMP/err" ] && sed 's/^/# /' "$TMP/err"
if grep -q '^not ok' "$TMP/out"; then # what the daemon said meanwhile, above info (2xx requests)
  grep -v '"level":"info"' "$TMP/serve.log" | tail -40 | sed 's/^/# serve: /'
fi
expect_match "$TMP/out" '^browser: [0-9]+ passed, 0 failed' "  every browser check passed"
for p in overview events event call dead; do
  [ -s "$SHOT_DIR/console-$p.png" ] && pass "screenshot of the $p page in $SHOT_DIR" || fail "screenshot of the $p page"
done
stop_server
finish
