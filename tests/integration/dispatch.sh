#!/usr/bin/env bash
# dispatch.sh - handlers run at least once: a signed forward verified by a second hookd (v1 and
# v1a), retries against a flaky target, dead letters and replay, Retry-After and 410, exec with
# the right stdin and environment, a hanging handler killed whole at its timeout, order = call,
# kill -9 mid-dispatch, and the example handlers.
. "$(dirname "$0")/lib.sh"
EXAMPLES="$(cd "$(dirname "$0")/../../examples" && pwd)"

eval "$("$HOOKD" keygen | sed 's/^/K_/')"
SECRET=$("$HOOKD" keygen --secret | sed -n 's/^secret=//p')
eval "$("$HOOKD" keygen --scheme standard | sed 's/^/S_/')"

# --- the targets: a second hookd that verifies, and a Node target that misbehaves on purpose ---
new_store target
TARGET_URL=$STORE_URL
new_store sender
SENDER_STORE=$STORE_URL
cat >"$TMP/target.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = $TARGET_URL
[endpoint v1]
path = /in/v1
scheme = standard
secret = $SECRET
[endpoint v1a]
path = /in/v1a
scheme = standard
public_key = $S_public_key
CONF
start_server "$TMP/target.log" -c "$TMP/target.conf" || exit 1
TARGET_PID=$SERVER_PID
TPORT=$PORT
: >"$TMP/node.jsonl"
: >"$TMP/node.out"
"$NODE" "$(dirname "$0")/target.js" "$TMP/node.jsonl" >"$TMP/node.out" &
NODE_PID=$!
CLEANUP="kill -9 $TARGET_PID $NODE_PID 2>/dev/null; kill -9 \$SERVER_PID 2>/dev/null"
for _ in $(seq 100); do grep -q listening "$TMP/node.out" && break; sleep 0.05; done
NPORT=$(sed -n 's/^listening //p' "$TMP/node.out")

# --- exec handlers used below ----------------------------------------------------------------
cat >"$TMP/record.sh" <<'SH'
#!/bin/sh
# Writes its environment and stdin where the test can look.
{ env | grep '^HOOKD_' | sort; printf 'ARGS=%s|%s\n' "$1" "$2"; } >"$RECORD_DIR/env-$HOOKD_EVENT_ID"
cat >"$RECORD_DIR/stdin-$HOOKD_EVENT_ID"
echo "recorded $HOOKD_EVENT_ID"
SH
cat >"$TMP/hang.sh" <<'SH'
#!/bin/sh
# Starts a grandchild and hangs: a timeout must kill both.
sleep 300 &
echo "$!" >"$RECORD_DIR/grandchild"
sleep 300
SH
cat >"$TMP/ordered.sh" <<'SH'
#!/bin/sh
# One at a time per call, or it says so; notes the order in which events were handled.
if ! mkdir "$RECORD_DIR/lock-$HOOKD_CALL_SESSION_ID" 2>/dev/null; then echo overlap >>"$RECORD_DIR/order"; fi
echo "$HOOKD_OCCURRED_AT" >>"$RECORD_DIR/order"
sleep 0.3
rmdir "$RECORD_DIR/lock-$HOOKD_CALL_SESSION_ID"
SH
cat >"$TMP/chatty.sh" <<'SH'
#!/bin/sh
head -c 10000 /dev/zero | tr '\0' x
SH
cat >"$TMP/slow.sh" <<'SH'
#!/bin/sh
sleep 0.2
echo "$HOOKD_EVENT_ID" >>"$RECORD_DIR/slow"
SH
chmod +x "$TMP"/*.sh
export HOOKD_FWD_SECRET=$SECRET RECORD_DIR="$TMP/rec" HOOKD_ALERT_FILE="$TMP/alerts" TELNYX_API_KEY=test-key \
  TELNYX_API_BASE="http://127.0.0.1:$NPORT"
mkdir -p "$RECORD_DIR"

cat >"$TMP/sender.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = $SENDER_STORE
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key

[handler fwd-v1]
on = siprec.failed
forward = http://127.0.0.1:$TPORT/in/v1
sign_secret = env:HOOKD_FWD_SECRET
[handler fwd-v1a]
on = siprec.failed
forward = http://127.0.0.1:$TPORT/in/v1a
sign_key = $S_private_key
[handler record]
on = siprec.*
endpoint = telnyx
exec = $TMP/record.sh first "second word"
[handler alert]
on = siprec.failed
exec = $EXAMPLES/siprec-alert.sh
[handler restart]
on = siprec.failed
exec = $EXAMPLES/siprec-restart.sh
[handler flaky]
on = call.hangup
forward = http://127.0.0.1:$NPORT/flaky/2
sign_secret = $SECRET
retry_base = 1
retry_max = 1
[handler deadend]
on = call.answered
forward = http://127.0.0.1:$NPORT/flaky/3
sign_secret = $SECRET
retry_base = 1
retry_max = 1
max_attempts = 3
[handler busy]
on = call.bridged
forward = http://127.0.0.1:$NPORT/busy/2
sign_secret = $SECRET
retry_base = 1
[handler gone]
on = call.initiated
forward = http://127.0.0.1:$NPORT/gone
sign_secret = $SECRET
[handler hang]
on = call.playback.started
exec = $TMP/hang.sh
timeout = 1
max_attempts = 1
[handler ordered]
on = call.dtmf.received
exec = $TMP/ordered.sh
order = call
concurrency = 4
[handler chatty]
on = call.speak.started
exec = $TMP/chatty.sh
[handler slow]
on = fax.received
exec = $TMP/slow.sh
concurrency = 2
[handler escape]
on = call.conversation.ended
exec = /usr/bin/printf '\\033]0;pwned\\007\\033[2Jhidden'
[handler envcheck]
on = call.transcription
exec = /usr/bin/env
env_pass = PATH
[handler deadletter]
on = call.gather.ended
forward = http://127.0.0.1:$NPORT/fail
sign_secret = $SECRET
max_attempts = 1
[handler huge]
on = call.recording.saved
forward = http://127.0.0.1:$NPORT/after/99999999999999999999999
sign_secret = $SECRET
retry_base = 1
retry_max = 5
max_attempts = 2
[handler oddid]
on = call.machine.detection.ended
forward = http://127.0.0.1:$NPORT/flaky/1000
sign_secret = $SECRET
retry_base = 600
CONF
expect_exit 0 "check-config accepts handlers" "$HOOKD" check-config -c "$TMP/sender.conf"
start_server "$TMP/sender.log" -c "$TMP/sender.conf" || exit 1
SENDER_URL="http://127.0.0.1:$PORT/webhooks/telnyx"
send() { "$HOOKD" send "$SENDER_URL" --private-key "$K_private_key" --retry-delay 0 --attempts 1 "$@" | sed -n 's/^delivered id=\([^ ]*\) .*/\1/p'; }
# state DELIVERY_HANDLER EVENT_ID: the state of that handler's newest delivery of the event.
state() { sql_in sender "SELECT d.state FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.handler = '$1' AND e.id = '$2' ORDER BY d.id DESC LIMIT 1"; }
wait_state() { for _ in $(seq "${4:-100}"); do [ "$(state "$1" "$2")" = "$3" ] && return 0; sleep 0.1; done; return 1; }

# --- forward, verified by the second hookd with v1 and with v1a --------------------------------
ID=$(send --event siprec.failed)
wait_state fwd-v1 "$ID" succeeded; wait_state fwd-v1a "$ID" succeeded
expect_eq "$(state fwd-v1 "$ID")/$(state fwd-v1a "$ID")" "succeeded/succeeded" "both forwards succeeded"
expect_eq "$(sql_in target "SELECT group_concat(endpoint) FROM (SELECT endpoint FROM events WHERE id = '$ID' ORDER BY endpoint) AS s")" "v1,v1a" \
  "the target hookd verified the v1 (HMAC) and the v1a (Ed25519) signature, and stored the event under its id"
expect_eq "$(sql_in target "SELECT hex(body) FROM events WHERE endpoint = 'v1'")" "$(sql_in sender "SELECT hex(body) FROM events WHERE id = '$ID'")" \
  "the original body is forwarded byte for byte"

# --- a redelivery (same data.id) creates no deliveries ----------------------------------------
{ sql_in sender "SELECT hex(body) FROM events WHERE id = '$ID'" | xxd -r -p; echo; } >"$TMP/again.json" # + a newline: a new body
expect_eq "$("$HOOKD" send "$SENDER_URL" --private-key "$K_private_key" --retry-delay 0 --attempts 1 --file "$TMP/again.json" | grep -c '^delivered')" 1 \
  "Telnyx redelivers the event (a new body, the same data.id)"
expect_eq "$(sql_in sender "SELECT max(e.attempts), count(d.id) FROM events e JOIN deliveries d ON d.event_seq = e.seq WHERE e.id = '$ID'")" "2|5" \
  "the duplicate is counted on the event and creates no deliveries (still one per handler: 5)"

# --- exec: stdin, environment, arguments without a shell ---------------------------------------
wait_state record "$ID" succeeded
expect_eq "$(xxd -p "$RECORD_DIR/stdin-$ID" | tr -d '\n' | tr a-f A-F)" "$(sql_in sender "SELECT hex(body) FROM events WHERE id = '$ID'")" \
  "exec gets the raw body on stdin, byte for byte"
E="$RECORD_DIR/env-$ID"
expect_match "$E" "^HOOKD_EVENT_ID=$ID$" "HOOKD_EVENT_ID"
expect_match "$E" '^HOOKD_EVENT_TYPE=siprec.failed$' "HOOKD_EVENT_TYPE"
expect_match "$E" '^HOOKD_ENDPOINT=telnyx$' "HOOKD_ENDPOINT"
expect_match "$E" '^HOOKD_CALL_CONTROL_ID=v3:' "HOOKD_CALL_CONTROL_ID"
expect_match "$E" '^HOOKD_CALL_SESSION_ID=[0-9a-f-]{36}$' "HOOKD_CALL_SESSION_ID"
expect_match "$E" '^HOOKD_CALL_LEG_ID=[0-9a-f-]{36}$' "HOOKD_CALL_LEG_ID"
expect_match "$E" '^HOOKD_FAILURE_CAUSE=no_answer$' "HOOKD_FAILURE_CAUSE"
expect_match "$E" '^HOOKD_OCCURRED_AT=20[0-9-]+T' "HOOKD_OCCURRED_AT"
expect_match "$E" '^HOOKD_DELIVERY_ATTEMPT=1$' "HOOKD_DELIVERY_ATTEMPT"
expect_match "$E" '^HOOKD_HANGUP_CAUSE=$' "HOOKD_HANGUP_CAUSE (empty for this event)"
expect_match "$E" '^ARGS=first\|second word$' "exec arguments are split like a shell, quotes kept together, no shell"
"$HOOKD" deliveries list -c "$TMP/sender.conf" --handler record >"$TMP/dl"
expect_match "$TMP/dl" "exit=0 output=\"recorded $ID" "deliveries list shows the exit code and the output"

# --- the examples ------------------------------------------------------------------------------
wait_state alert "$ID" succeeded; wait_state restart "$ID" succeeded
expect_match "$HOOKD_ALERT_FILE" "^ALERT siprec.failed call_control_id=v3:.* cause=no_answer occurred_at=.* event=$ID" \
  "siprec-alert.sh writes an alert line with call, cause and time"
expect_eq "$("$NODE" -e "
const l=require('fs').readFileSync('$TMP/node.jsonl','utf8').trim().split('\n').map(JSON.parse).filter(r=>r.path.includes('siprec_start'));
const b=JSON.parse(l[0].body); console.log(l.length+' '+l[0].authorization+' '+b.command_id)")" "1 Bearer test-key hookd-siprec-restart-$ID" \
  "siprec-restart.sh asks the Call Control API to start SIPREC again, with a command_id from the event id"
# An event id with quotes cannot add keys to the Call Control request (it is built with jq).
EVIL='x","connector_name":"evil","sip_transport":"udp'
printf '{"data":{"record_type":"event","event_type":"siprec.failed","id":"%s","occurred_at":"2026-01-01T00:00:00Z","payload":{"call_control_id":"v3:evil","call_session_id":"s-evil","failure_cause":"a\\nALERT forged"}}}' \
  "$(printf '%s' "$EVIL" | sed 's/"/\\"/g')" >"$TMP/evil.json"
"$HOOKD" send "$SENDER_URL" --private-key "$K_private_key" --retry-delay 0 --attempts 1 --file "$TMP/evil.json" >/dev/null
wait_state restart "$EVIL" succeeded 50; wait_state alert "$EVIL" succeeded 50
expect_eq "$("$NODE" -e "
const l=require('fs').readFileSync('$TMP/node.jsonl','utf8').trim().split('\n').map(JSON.parse).filter(r=>r.path.includes('v3:evil'));
const b=JSON.parse(l[0].body); console.log(Object.keys(b).join(',')+' '+b.command_id)")" 'command_id,client_state hookd-siprec-restart-x","connector_name":"evil","sip_transport":"udp' \
  "an event id with quotes stays inside command_id (no connector_name, no sip_transport injected)"
expect_eq "$(grep -c 'forged' "$HOOKD_ALERT_FILE")/$(grep -c '^ALERT forged' "$HOOKD_ALERT_FILE")" "1/0" \
  "siprec-alert.sh drops a newline in an event field: no forged alert line"

# --- retries: a target failing twice gets the event on attempt 3 -------------------------------
ID2=$(send --event call.hangup)
wait_state flaky "$ID2" succeeded 80
expect_eq "$(state flaky "$ID2")" succeeded "a flaky target gets the event after retries"
expect_eq "$(sql_in sender "SELECT group_concat(outcome || ':' || coalesce(CAST(http_status AS TEXT), '')) FROM (SELECT a.outcome, a.http_status FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.handler = 'flaky' ORDER BY a.attempt) AS s")" \
  "failed:500,failed:500,succeeded:200" "each attempt is recorded with its HTTP status"
expect_eq "$("$NODE" -e "
const l=require('fs').readFileSync('$TMP/node.jsonl','utf8').trim().split('\n').map(JSON.parse).filter(r=>r.path==='/flaky/2');
console.log(new Set(l.map(r=>r.webhook_id)).size+' '+l[0].webhook_id+' '+l.every(r=>/^v1,/.test(r.signature)))")" "1 $ID2 true" \
  "every retry carries webhook-id = the event id, and a v1 signature"

# --- dead after max_attempts, then replay ------------------------------------------------------
ID3=$(send --event call.answered)
wait_state deadend "$ID3" dead 80
expect_eq "$(state deadend "$ID3")" dead "a target failing every attempt leaves the delivery dead after max_attempts (3)"
for _ in $(seq 30); do  # the gauges are refreshed once a second
  curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
  grep -q '^hookd_dead_letters [1-9]' "$TMP/metrics" && break
  sleep 0.1
done
expect_match "$TMP/metrics" '^hookd_dead_letters [1-9]' "dead letters are a metric"
expect_match "$TMP/metrics" '^hookd_delivery_attempts_total\{handler="deadend",outcome="failed"\} 3$' "attempts by handler and outcome"
expect_exit 0 "hookd replay EVENT_ID --handler" "$HOOKD" replay "$ID3" --handler deadend -c "$TMP/sender.conf"
expect_match "$TMP/out" '^queued 1 deliveries for 1 of 1 events$' "replay says what it queued"
wait_state deadend "$ID3" succeeded 60
expect_eq "$(state deadend "$ID3")" succeeded "the replayed delivery succeeds (the target recovered)"
expect_eq "$(sql_in sender "SELECT group_concat(state) FROM (SELECT d.state FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.handler = 'deadend' AND e.id = '$ID3' ORDER BY d.id) AS s")" \
  "replayed,succeeded" "the replayed dead delivery is marked replayed, beside the new one"
expect_exit 0 "batch replay of dead letters" "$HOOKD" replay --type call.answered --since 1h --state dead -c "$TMP/sender.conf"
expect_match "$TMP/out" '^queued 0 deliveries for 0 of 1 events$' "--state dead does not replay a dead letter that was replayed already"
ID3b=$(send --event call.gather.ended)
wait_state deadletter "$ID3b" dead 80
expect_exit 0 "batch replay of a new dead letter" "$HOOKD" replay --type call.gather.ended --since 1h --state dead -c "$TMP/sender.conf"
expect_match "$TMP/out" '^queued 1 deliveries for 1 of 1 events$' "--state dead finds the dead delivery's event"

# --- Retry-After and 410 -----------------------------------------------------------------------
ID4=$(send --event call.bridged)
wait_state busy "$ID4" succeeded 60
expect_eq "$(sql_in sender "SELECT CASE WHEN (max(started_us) - min(started_us)) >= 1900000 THEN 1 ELSE 0 END FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.handler = 'busy'")" 1 \
  "Retry-After: 2 on a 503 is honoured (the retry waits at least 2 s)"
ID5=$(send --event call.initiated)
wait_state gone "$ID5" dead 50
expect_eq "$(state gone "$ID5")" dead "410 Gone: dead at once, no retries"

# --- a huge Retry-After waits retry_max, not 285,000 years (and converts no double out of range) --
ID8=$(send --event call.recording.saved)
wait_state huge "$ID8" retry 50
expect_eq "$(sql_in sender "SELECT CASE WHEN d.next_attempt_us - a.finished_us BETWEEN 3900000 AND 6100000 THEN 1 ELSE 0 END FROM deliveries d JOIN attempts a ON a.delivery_id = d.id JOIN events e ON e.seq = d.event_seq WHERE e.id = '$ID8' AND d.handler = 'huge'")" 1 \
  "Retry-After: 99999999999999999999999 is capped at the handler's retry_max (5 s, +-20% jitter)"

# --- one event id that cannot be a webhook-id makes only its own delivery dead ------------------
ID9=$(send --event call.machine.detection.ended)
wait_state oddid "$ID9" retry 50
odd() { # odd ID: a signed call.machine.detection.ended with data.id = ID
  printf '{"data":{"record_type":"event","event_type":"call.machine.detection.ended","id":"%s","occurred_at":"2026-01-01T00:00:00Z","payload":{"call_session_id":"s-odd"}}}' "$1" >"$TMP/odd.json"
  "$HOOKD" send "$SENDER_URL" --private-key "$K_private_key" --retry-delay 0 --attempts 1 --file "$TMP/odd.json" >/dev/null
}
odd "has.a.dot"
wait_state oddid "has.a.dot" dead 50
expect_eq "$(state oddid "has.a.dot")" dead "an event id with '.' cannot be forwarded: its delivery is dead at once"
expect_eq "$(sql_in sender "SELECT a.outcome || ':' || CASE WHEN a.error LIKE '%cannot be a webhook-id%' THEN 1 ELSE 0 END FROM attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN events e ON e.seq = d.event_seq WHERE e.id = 'has.a.dot'")" \
  "invalid:1" "its attempt says why (outcome invalid)"
expect_eq "$(state oddid "$ID9")" retry "the handler's other queued delivery is untouched (not dead-lettered with it)"
LONG_ID=$(printf 'L%.0s' $(seq 250))
printf '{"data":{"record_type":"event","event_type":"siprec.failed","id":"%s","occurred_at":"2026-01-01T00:00:00Z","payload":{"call_session_id":"s-long"}}}' "$LONG_ID" >"$TMP/long.json"
"$HOOKD" send "$SENDER_URL" --private-key "$K_private_key" --retry-delay 0 --attempts 1 --file "$TMP/long.json" >/dev/null
wait_state fwd-v1 "$LONG_ID" succeeded 50
expect_eq "$(sql_in target "SELECT count(*) FROM events WHERE id = '$LONG_ID' AND endpoint = 'v1'")" 1 \
  "a 250-character event id is forwarded whole: the target verifies it and stores it under that id"

# --- output is kept up to 4 KiB (the rest is read and dropped, so the program never blocks) ---
ID7=$(send --event call.speak.started)
wait_state chatty "$ID7" succeeded 50
expect_eq "$(sql_in sender "SELECT a.outcome, length(a.output) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.handler = 'chatty'")" \
  "succeeded|4096" "a handler writing 10,000 bytes succeeds, and its first 4096 are kept"

# --- what a handler printed cannot drive the terminal of whoever lists deliveries -------------
ID10=$(send --event call.conversation.ended)
wait_state escape "$ID10" succeeded 50
script -qec "$HOOKD deliveries list --handler escape -c $TMP/sender.conf" /dev/null >"$TMP/tty.out"
expect_eq "$(grep -c $'\e' "$TMP/tty.out")" 0 "on a terminal, deliveries list prints no escape character from handler output"
expect_match "$TMP/tty.out" 'output="\\x1b\]0;pwned\\x07\\x1b\[2Jhidden"' "it shows them escaped as \\xNN"
"$HOOKD" deliveries list --handler escape --json -c "$TMP/sender.conf" >"$TMP/pipe.out"
expect_match "$TMP/pipe.out" '\\u001B\]0;pwned' "--json keeps the bytes (JSON-escaped)"

# --- env_pass: the handler sees PATH and its HOOKD_ variables, not the daemon's API key ---------
ID11=$(send --event call.transcription)
wait_state envcheck "$ID11" succeeded 50
sql_in sender "SELECT a.output FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.handler = 'envcheck'" >"$TMP/env.out"
expect_match "$TMP/env.out" "^HOOKD_EVENT_ID=$ID11$" "env_pass: the handler gets its HOOKD_ variables"
expect_match "$TMP/env.out" '^PATH=' "  and PATH"
expect_no_match "$TMP/env.out" 'TELNYX_API_KEY|RECORD_DIR' "  and nothing else of the daemon's environment"
expect_match "$TMP/sender.log" '"msg":"exec handler inherits variables that hold secrets' "a handler inheriting env: secrets' variables is warned about at start" 

# --- a list cut at --limit says so ------------------------------------------------------------
expect_exit 0 "deliveries list --limit 2" "$HOOKD" deliveries list --limit 2 -c "$TMP/sender.conf"
expect_match "$TMP/err" '^hookd deliveries: \.\.\. [0-9]+ more; showing the newest 2 \(use --limit\)$' "a cut list says how many more there are"
expect_exit 0 "events list --limit 1" "$HOOKD" events list --limit 1 -c "$TMP/sender.conf"
expect_match "$TMP/err" '^hookd events: \.\.\. [0-9]+ more; showing the newest 1 \(use --limit\)$' "events list too"
expect_exit 0 "a list that is not cut" "$HOOKD" deliveries list --handler escape -c "$TMP/sender.conf"
expect_no_match "$TMP/err" 'more' "says nothing more"

# --- a hanging handler is killed with its whole process group ----------------------------------
ID6=$(send --event call.playback.started)
wait_state hang "$ID6" dead 60
expect_eq "$(sql_in sender "SELECT outcome FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.handler = 'hang'")" timeout "a hanging handler ends in timeout"
GRANDCHILD=$(cat "$RECORD_DIR/grandchild")
sleep 0.2
# Killed and orphaned, it may linger as a zombie until PID 1 reaps it: dead either way.
alive() { [ -e "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
expect_eq "$(alive "$GRANDCHILD" && echo alive || echo gone)" gone "its background child was killed too (process group)"

# --- order = call: one at a time per call, earliest occurred_at first --------------------------
SESSION=$(cat /proc/sys/kernel/random/uuid)
for t in 03 01 05 02 04; do
  printf '{"data":{"record_type":"event","event_type":"call.dtmf.received","id":"dtmf-%s-%s","occurred_at":"2026-01-01T00:00:%s.000000Z","payload":{"call_session_id":"%s","call_control_id":"cc"}}}' \
    "$t" "$SESSION" "$t" "$SESSION" >"$TMP/dtmf-$t.json"
done
for t in 03 01 05 02 04; do send --file "$TMP/dtmf-$t.json" >/dev/null; done
for _ in $(seq 100); do [ "$(grep -c . "$RECORD_DIR/order" 2>/dev/null)" -ge 5 ] && break; sleep 0.1; done
: >"$RECORD_DIR/order"
# All five queued at once (replay): they must run one by one, in occurred_at order.
"$HOOKD" replay --type call.dtmf.received --since 1h -c "$TMP/sender.conf" >/dev/null
for _ in $(seq 100); do [ "$(grep -c . "$RECORD_DIR/order")" -ge 5 ] && break; sleep 0.1; done
expect_eq "$(tr '\n' ' ' <"$RECORD_DIR/order")" \
  "2026-01-01T00:00:01.000000Z 2026-01-01T00:00:02.000000Z 2026-01-01T00:00:03.000000Z 2026-01-01T00:00:04.000000Z 2026-01-01T00:00:05.000000Z " \
  "order = call: one in flight per call, in occurred_at order (concurrency 4 notwithstanding)"

# --- kill -9 mid-dispatch, restart: every event delivered at least once ------------------------
: >"$RECORD_DIR/slow"
for _ in $(seq 16); do send --event fax.received >/dev/null; done
for _ in $(seq 100); do [ "$(grep -c . "$RECORD_DIR/slow")" -ge 3 ] && break; sleep 0.05; done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
BEFORE=$(grep -c . "$RECORD_DIR/slow")
expect_eq "$(( BEFORE < 16 ))" 1 "the kill landed mid-dispatch ($BEFORE of 16 handled)"
start_server "$TMP/sender2.log" -c "$TMP/sender.conf" || exit 1
for _ in $(seq 150); do
  [ "$(sql_in sender "SELECT count(*) FROM deliveries WHERE handler = 'slow' AND state = 'succeeded'")" -ge 16 ] && break
  sleep 0.1
done
expect_eq "$(sql_in sender "SELECT count(*) FROM deliveries WHERE handler = 'slow' AND state != 'succeeded'")" 0 \
  "after the restart every delivery succeeded"
MISSING=$(sql_in sender "SELECT id FROM events WHERE event_type = 'fax.received'" | while read -r id; do grep -qx "$id" "$RECORD_DIR/slow" || echo "$id"; done | wc -l)
expect_eq "$MISSING" 0 "every one of the 16 events reached the handler at least once"

# --- a removed handler's deliveries are kept and reported --------------------------------------
stop_server
sql_in sender "UPDATE deliveries SET state = 'retry' WHERE handler = 'gone'"
sed -i '/^\[handler gone\]/,/^sign_secret/d' "$TMP/sender.conf"
start_server "$TMP/sender3.log" -c "$TMP/sender.conf" || exit 1
expect_match "$TMP/sender3.log" '"msg":"deliveries of a removed handler are kept, not run","handler":"gone","deliveries":1' \
  "deliveries of a removed handler are kept and reported at start"
expect_eq "$(state gone "$ID5")" retry "and left as they were"
stop_server
expect_eq "$?" 0 "SIGTERM: exit 0"
finish
