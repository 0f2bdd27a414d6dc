#!/usr/bin/env bash
# serve.sh - hookd serve, row by row through the table of issue #3: every authentic delivery is
# stored once before its 200, nothing else is stored, and every refusal says why.
. "$(dirname "$0")/lib.sh"

eval "$("$HOOKD" keygen | sed 's/^/K_/')"
export STD_SECRET
STD_SECRET=$("$HOOKD" keygen --secret | sed -n 's/^secret=//p')
printf 'tok-%s\n' "$RANDOM$RANDOM" >"$TMP/token"
TOKEN=$(cat "$TMP/token")
if [ "$STORE" = sqlite ]; then # in a directory hookd must make
  DB="sqlite:$TMP/store/hookd.db"
  sql() { sqlite3 "$TMP/store/hookd.db" "$1"; }
else
  new_store serve
  DB=$STORE_URL
fi
cat >"$TMP/hookd.conf" <<CONF
; the test daemon
[server]
listen = 127.0.0.1:0
max_body = 64k
request_timeout = 5

[store]
url = $DB
durability = full

[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key

[endpoint std]
path = /hooks/std
scheme = standard
secret = env:STD_SECRET
bearer_token = file:$TMP/token

[endpoint open]
scheme = none

[endpoint private]
scheme = telnyx
public_key = $K_public_key
allow = 10.0.0.0/8, telnyx
CONF
expect_exit 0 "check-config accepts the test config" "$HOOKD" check-config -c "$TMP/hookd.conf"
expect_match "$TMP/out" '\[endpoint std\] POST /hooks/std scheme=standard keys=1 .* bearer' "check-config summarises each endpoint"
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
expect_match "$TMP/serve.log" '"msg":"endpoint accepts unsigned requests".*"endpoint":"open"' "scheme = none warns at start"
expect_match "$TMP/serve.log" '"msg":"started","version":"[^"]+","store":"[^"]+","node":"[^"]+","durability":"full","endpoints":4,"handlers":0,' \
  "the start line names the store, the node, the durability and what is configured"

# --- new authentic event: 200 accepted, stored once -------------------------------------------
expect_exit 0 "hookd send delivers to /webhooks/telnyx" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --retry-delay 0
SENT_ID=$(sed -n 's/^delivered id=\([^ ]*\) .*/\1/p' "$TMP/out")
expect_eq "$(sql "SELECT count(*) OVER (), event_type, failure_cause, attempts, parse_status FROM events WHERE id = '$SENT_ID'")" \
  "1|siprec.failed|no_answer|1|parsed" "the event is stored once, parsed"

ID=$(cat /proc/sys/kernel/random/uuid)
printf '{"data":{"record_type":"event","event_type":"siprec.failed","id":"%s","occurred_at":"2021-12-15T14:11:24.613295Z","payload":{"call_control_id":"cc-1","call_session_id":"sess-1","call_leg_id":"leg-1","client_state":"aGF2ZSBhIG5pY2UgZGF5ID1d","failure_cause":"no_answer"}},"meta":{"attempt":1,"delivered_to":"http://a"}}' "$ID" >"$TMP/e1.json"
post_telnyx /webhooks/telnyx "$TMP/e1.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "a delivery signed by Node's crypto is accepted"
expect_eq "$(cat "$TMP/resp")" "{\"status\":\"accepted\",\"id\":\"$ID\"}" "the answer names the event id"
"$HOOKD" events show "$ID" --raw --db "$DB" >"$TMP/raw"
expect_eq "$(cmp "$TMP/raw" "$TMP/e1.json" && echo same)" same "the raw body is stored byte for byte"

# --- the same event again: 200 duplicate, no new row ------------------------------------------
post_telnyx /webhooks/telnyx "$TMP/e1.json" "$K_private_key"
expect_eq "$(cat "$TMP/resp")" "{\"status\":\"duplicate\",\"id\":\"$ID\"}" "a replay inside the window is a duplicate"
sed 's/"attempt":1,"delivered_to":"http:\/\/a"/"attempt":2,"delivered_to":"http:\/\/failover"/' "$TMP/e1.json" >"$TMP/e1-retry.json"
post_telnyx /webhooks/telnyx "$TMP/e1-retry.json" "$K_private_key"
expect_eq "$(cat "$TMP/resp")" "{\"status\":\"duplicate\",\"id\":\"$ID\"}" "a retry on failover (new body, same data.id) is a duplicate"
expect_eq "$(sql "SELECT count(*) OVER (), attempts, meta_attempt, delivered_to FROM events WHERE id = '$ID'")" \
  "1|3|2|http://failover" "one row; attempts counted, last delivered_to and meta.attempt recorded"

# --- authentic but not parseable: 200, stored raw, keyed by SHA-256 ---------------------------
printf 'CallSid=CA1&CallStatus=completed&SiprecStatus=failed' >"$TMP/form"
post_telnyx /webhooks/telnyx "$TMP/form" "$K_private_key"
SHA=$(sha256sum "$TMP/form" | cut -d' ' -f1)
expect_eq "$(cat "$TMP/resp")" "{\"status\":\"accepted\",\"id\":\"sha256:$SHA\",\"parse\":\"unparsed\"}" "a TeXML form body is accepted, flagged unparsed"
expect_eq "$(sql "SELECT parse_status, CASE WHEN hex(body) = '$(xxd -p "$TMP/form" | tr -d '\n' | tr a-f A-F)' THEN 1 ELSE 0 END FROM events WHERE id = 'sha256:$SHA'")" \
  "unparsed|1" "stored raw under sha256:"
printf '{"data":{"event_type":"call.hangup"}}' >"$TMP/noid.json"
post_telnyx /webhooks/telnyx "$TMP/noid.json" "$K_private_key"
expect_match "$TMP/resp" '"parse":"unparsed"' "JSON without an id is stored unparsed"
expect_eq "$(sql "SELECT parse_error FROM events WHERE id = 'sha256:$(sha256sum "$TMP/noid.json" | cut -d' ' -f1)'")" "the event has no id" "with the reason"

# --- refusals: 401 with the reason, nothing stored --------------------------------------------
BEFORE=$(sql "SELECT count(*) FROM events")
printf '{"data":{"id":"evil-1","event_type":"siprec.failed"}}' >"$TMP/evil.json"
post /webhooks/telnyx "$TMP/evil.json"
expect_eq "$(cat "$TMP/status")" 401 "no signature: 401"
expect_eq "$(cat "$TMP/resp")" '{"status":"rejected","reason":"missing_header","message":"missing header telnyx-timestamp"}' "the reason is in the body"
TS_SIG=$("$NODE" "$CLIENT" sign "$K_private_key" "$TMP/e1.json")
post /webhooks/telnyx "$TMP/evil.json" -H "telnyx-timestamp: ${TS_SIG% *}" -H "telnyx-signature-ed25519: ${TS_SIG#* }"
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "401/signature_mismatch" "another body's signature: 401 signature_mismatch"
post_telnyx /webhooks/telnyx "$TMP/evil.json" "$K_private_key" $(( $(date +%s) - 301 ))
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "401/timestamp_too_old" "a timestamp 301 s old: 401 timestamp_too_old"
expect_no_match "$TMP/resp" "${TS_SIG#* }" "no response carries a signature"
expect_eq "$(sql "SELECT count(*) FROM events")" "$BEFORE" "nothing was stored for any refusal"
expect_logged "$TMP/serve.log" '"status":401,"reason":"timestamp_too_old"' "the refusal is logged with its reason"

# --- Standard Webhooks endpoint: bearer, then v1 ----------------------------------------------
printf '{"type":"recording.ready","timestamp":"2026-01-01T00:00:00Z","data":{"call_session_id":"sess-1"}}' >"$TMP/std.json"
"$HOOKD" sign --scheme standard --id msg_std_1 --secret "$STD_SECRET" --file "$TMP/std.json" >"$TMP/stdh"
SW=(-H "webhook-id: msg_std_1" -H "webhook-timestamp: $(header webhook-timestamp "$TMP/stdh")" -H "webhook-signature: $(header webhook-signature "$TMP/stdh")")
post /hooks/std "$TMP/std.json" "${SW[@]}"
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "401/bearer_missing" "standard endpoint without the bearer token: 401"
post /hooks/std "$TMP/std.json" "${SW[@]}" -H "Authorization: Bearer wrong"
expect_eq "$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "bearer_mismatch" "a wrong bearer token: bearer_mismatch"
post /hooks/std "$TMP/std.json" "${SW[@]}" -H "Authorization: Bearer $TOKEN"
expect_eq "$(cat "$TMP/resp")" '{"status":"accepted","id":"msg_std_1"}' "bearer + v1 signature: accepted under webhook-id"
post /hooks/std "$TMP/std.json" "${SW[@]}" -H "Authorization: Bearer $TOKEN"
expect_eq "$(cat "$TMP/resp")" '{"status":"duplicate","id":"msg_std_1"}' "the same webhook-id again: duplicate"

# --- scheme none, allow-list, routing, method -------------------------------------------------
printf '{"data":{"id":"open-1","event_type":"x.y"}}' >"$TMP/open.json"
post /webhooks/open "$TMP/open.json"
expect_eq "$(cat "$TMP/resp")" '{"status":"accepted","id":"open-1"}' "scheme = none accepts unsigned requests"
post_telnyx /webhooks/private "$TMP/open.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "403/source_not_allowed" "a source outside the allow-list: 403"
post /nowhere "$TMP/open.json"
expect_eq "$(cat "$TMP/status")" 404 "unknown path: 404"
curl -s -i "http://127.0.0.1:$PORT/webhooks/telnyx" >"$TMP/get"
expect_match "$TMP/get" '^HTTP/1.1 405' "GET on an endpoint: 405"
expect_match "$TMP/get" '^Allow: POST' "with Allow: POST"

# --- size limits and request smuggling --------------------------------------------------------
head -c 70000 /dev/zero | tr '\0' 'a' >"$TMP/big"
post /webhooks/telnyx "$TMP/big"
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "413/body_too_large" "a body over max_body: 413"
curl -s -o "$TMP/resp" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/big" "http://127.0.0.1:$PORT/webhooks/open" >"$TMP/status"
expect_eq "$(cat "$TMP/status")" 413 "a chunked body over max_body: 413"
printf 'POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}' >"$TMP/req"
expect_eq "$("$NODE" "$CLIENT" raw "$PORT" "$TMP/req")" "HTTP/1.1 400 Bad Request" "two different Content-Length headers: 400"
printf 'POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}' >"$TMP/req"
expect_eq "$("$NODE" "$CLIENT" raw "$PORT" "$TMP/req")" "HTTP/1.1 400 Bad Request" "a repeated Content-Length header: 400"
printf 'POST /webhooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n' >"$TMP/req"
expect_eq "$("$NODE" "$CLIENT" raw "$PORT" "$TMP/req")" "HTTP/1.1 400 Bad Request" "Content-Length with Transfer-Encoding: 400"
expect_logged "$TMP/serve.log" '"reason":"ambiguous_length","message":"more than one Content-Length header"' "smuggling attempts are logged with their reason"
expect_eq "$(sql "SELECT count(*) FROM events WHERE endpoint = 'open'")" 1 "none of them was stored"

curl -s -o "$TMP/resp" -w '%{http_code}' -X POST -H "X-Padding: $(head -c 20000 /dev/zero | tr '\0' a)" \
  --data-binary @"$TMP/open.json" "http://127.0.0.1:$PORT/webhooks/open" >"$TMP/status"
expect_eq "$(cat "$TMP/status")/$(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$TMP/resp")" "431/header_too_large" "headers over max_header: 431"

# --- slow clients are cut off -----------------------------------------------------------------
printf 'POST /webhooks/open HTTP/1.1\r\nHost: x\r\n' >"$TMP/partial"
START=$(date +%s)
expect_eq "$("$NODE" -e "
const s=require('net').connect($PORT,'127.0.0.1',()=>s.write(require('fs').readFileSync('$TMP/partial')));
s.on('close',()=>{console.log('closed');process.exit()});s.on('error',()=>{});setTimeout(()=>{console.log('still open');process.exit()},12000)")" closed \
  "a client that stops mid-headers is disconnected"
expect_eq "$(( $(date +%s) - START <= 8 ))" 1 "within the request timeout (5 s)"

# --- operations endpoints ---------------------------------------------------------------------
expect_eq "$(curl -s "http://127.0.0.1:$PORT/healthz")" '{"status":"alive"}' "/healthz"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" 200 "/readyz: the store accepts writes"
C0=$(metric hookd_commit_batch_size_count)
for _ in $(seq 25); do curl -s -o /dev/null "http://127.0.0.1:$PORT/readyz"; sleep 0.1; done
C1=$(metric hookd_commit_batch_size_count)
expect_eq "$(( C1 - C0 >= 2 && C1 - C0 <= 4 ))" 1 \
  "/readyz polled 10 times a second probes the store about once a second ($((C1 - C0)) probes in 2.5 s; a cached answer never renews the cache)"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_requests_total\{endpoint="telnyx",status="200"\} [1-9]' "metrics: requests by endpoint and status"
expect_match "$TMP/metrics" '^hookd_rejections_total\{reason="timestamp_too_old"\} 1$' "metrics: rejections by reason"
expect_match "$TMP/metrics" '^hookd_events_stored_total\{type="siprec.failed"\} 2$' "metrics: events stored by type"
expect_match "$TMP/metrics" '^hookd_duplicates_total 3$' "metrics: duplicates"
expect_match "$TMP/metrics" '^hookd_commit_batch_size_bucket\{le="\+Inf"\} [1-9]' "metrics: commit batch histogram"
expect_match "$TMP/metrics" '^hookd_commit_duration_seconds_count [1-9]' "metrics: commit latency histogram"
expect_match "$TMP/metrics" '^hookd_connections [0-9]' "metrics: connections"
if [ "$STORE" = sqlite ]; then
  expect_eq "$(metric hookd_store_dedupe_memory_keys)" "$(sql 'SELECT count(*) FROM events')" \
    "metrics: every stored event's deduplication key is in memory (fewer than 65,536)"
fi
"$NODE" -e "for (const l of require('fs').readFileSync('$TMP/serve.log','utf8').trim().split('\n')) JSON.parse(l)" 2>"$TMP/jsonerr"
expect_eq "$?" 0 "every log line is JSON"
expect_logged "$TMP/serve.log" "\"msg\":\"request\",\"endpoint\":\"telnyx\",\"path\":\"/webhooks/telnyx\",\"status\":200,\"event_id\":\"$ID\",\"latency_ms\":" \
  "a request's log line has endpoint, status, event id and latency"

# --- reading the store ------------------------------------------------------------------------
expect_exit 0 "events list" "$HOOKD" events list --db "$DB" --type siprec.failed
expect_eq "$(grep -c siprec.failed "$TMP/out")" 2 "events list --type filters"
expect_exit 0 "events list --json" "$HOOKD" events list --db "$DB" --call sess-1 --json
expect_eq "$("$NODE" -e "const a=JSON.parse(require('fs').readFileSync('$TMP/out'));console.log(a.map(e=>e.id).sort().join(','))")" \
  "$ID,msg_std_1" "events list --call finds a call's events across endpoints"
expect_exit 0 "events show" "$HOOKD" events show "$ID" --db "$DB"
expect_match "$TMP/out" '^attempts +3' "events show prints every field"
expect_exit 1 "events show of an unknown id" "$HOOKD" events show nope --db "$DB"
expect_exit 0 "stats --json" "$HOOKD" stats --db "$DB" --json
expect_match "$TMP/out" '"failure_cause": "no_answer"' "stats: siprec.failed by failure_cause"
expect_exit 2 "events without list/show" "$HOOKD" events --db "$DB"
# A sender's text cannot drive the terminal of whoever reads the store.
printf '{"data":{"event_type":"call.hangup","id":"esc-1","occurred_at":"2026-01-01T00:00:00Z","payload":{"call_session_id":"s\\u001b]0;pwned\\u0007\\u001b[2J","hangup_cause":"normal"}}}' >"$TMP/esc.json"
post /webhooks/open "$TMP/esc.json"
script -qec "$HOOKD events list --db '$DB' --call \"\$(printf 's\\033]0;pwned\\007\\033[2J')\"" /dev/null >"$TMP/tty.out"
expect_match "$TMP/tty.out" 's\\x1b\]0;pwned\\x07\\x1b\[2J' "on a terminal, events list shows control characters escaped"
expect_eq "$(grep -c $'\e' "$TMP/tty.out")" 0 "  and prints none of them"
"$HOOKD" events list --db "$DB" --call "$(printf 's\033]0;pwned\007\033[2J')" >"$TMP/pipe.out"
expect_eq "$(grep -c $'\e' "$TMP/pipe.out")" 1 "through a pipe the stored bytes are printed as they are"

# --- SIGHUP re-reads keys, allow-lists, and names what needs a restart --------------------------
eval "$("$HOOKD" keygen | sed 's/^/N_/')"
sed -i "0,/^public_key = .*/s||public_key = $N_public_key|" "$TMP/hookd.conf"
post_telnyx /webhooks/private "$TMP/e1.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 403 "before SIGHUP, 127.0.0.1 may not deliver to the private endpoint"
sed -i 's|^allow = 10.0.0.0/8, telnyx|allow = 127.0.0.1/32|; s|^max_body = 64k|max_body = 32k|' "$TMP/hookd.conf"
sed -i 's|^durability = full|&\ncommit_wait = 2ms\nretain = 30d\nlease_grace = 20|' "$TMP/hookd.conf"
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do grep -q '"msg":"reloaded"' "$TMP/serve.log" && break; sleep 0.05; done
expect_logged "$TMP/serve.log" '"msg":"reloaded","endpoints":true' "SIGHUP reloads the keys"
expect_logged "$TMP/serve.log" '"msg":"reload: these settings changed and need a restart","settings":\["\[server\] max_body","\[store\] retain","\[store\] lease_grace","\[store\] commit_wait"\]' \
  "what cannot change while running is named, not silently ignored"
ID_P=$(cat /proc/sys/kernel/random/uuid)
sed "s/$ID/$ID_P/" "$TMP/e1.json" >"$TMP/e_p.json"
post_telnyx /webhooks/private "$TMP/e_p.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "after SIGHUP, the new allow-list applies (127.0.0.1 delivers)"
expect_exit 0 "the new key is accepted" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$N_private_key" --attempts 1
expect_exit 1 "the old key is refused" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --attempts 1
echo "public_key = not-a-key" >>"$TMP/hookd.conf"
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do grep -q '"msg":"reload failed' "$TMP/serve.log" && break; sleep 0.05; done
expect_logged "$TMP/serve.log" '"msg":"reload failed, nothing changed"' "a broken config on SIGHUP keeps the keys in use"
expect_exit 0 "and the daemon still accepts" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$N_private_key" --attempts 1

# --- SIGTERM ----------------------------------------------------------------------------------
stop_server
expect_eq "$?" 0 "SIGTERM: exit 0"
expect_logged "$TMP/serve.log" '"msg":"stopped"' "and it says so"
finish
