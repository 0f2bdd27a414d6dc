#!/usr/bin/env bash
# send.sh - hookd send against a receiver written in Node (receiver.js), not in hookd's code:
# signatures, Telnyx's headers, retries on the same URL, failover, and what counts as delivered.
. "$(dirname "$0")/lib.sh"
: "${NODE:=node}"

eval "$("$HOOKD" keygen | sed 's/^/KEY_/')"  # KEY_public_key, KEY_private_key
LOG="$TMP/requests.jsonl"
: >"$LOG"
"$NODE" "$(dirname "$0")/receiver.js" "$KEY_public_key" "$LOG" >"$TMP/receiver.out" 2>&1 &
RECEIVER=$!
CLEANUP="kill $RECEIVER 2>/dev/null"
for _ in $(seq 100); do grep -q listening "$TMP/receiver.out" && break; sleep 0.05; done
PORT=$(sed -n 's/^listening //p' "$TMP/receiver.out")
[ -n "$PORT" ] || { echo "receiver did not start: $(cat "$TMP/receiver.out")"; exit 1; }
BASE="http://127.0.0.1:$PORT"
SEND=("$HOOKD" send --private-key "$KEY_private_key" --retry-delay 0)

# jq-free field access: node reads the log.
q() { "$NODE" -e "const l=require('fs').readFileSync('$LOG','utf8').trim().split('\n').map(JSON.parse).filter(e=>$1);console.log(JSON.stringify(l.map(e=>$2)))"; }

# --- delivered at once ------------------------------------------------------------------------
expect_exit 0 "send to a 200 receiver exits 0" "${SEND[@]}" "$BASE/ok"
expect_match "$TMP/out" "^attempt=1 url=$BASE/ok status=200 ms=[0-9]+ outcome=delivered$" "one line for the attempt"
expect_match "$TMP/out" '^delivered id=[0-9a-f-]{36} ' "a closing line with the event id"
expect_eq "$(q "e.path==='/ok'" 'e.verdict')" '["valid"]' "the Node receiver verified the signature"
expect_eq "$(q "e.path==='/ok'" '[e.user_agent,e.content_type,e.method]')" '[["telnyx-webhooks","application/json","POST"]]' "Telnyx's user agent, content type and method"
expect_eq "$(q "e.path==='/ok'" '[e.event_type,e.attempt,e.delivered_to,e.payload.failure_cause]')" \
  "[[\"siprec.failed\",1,\"$BASE/ok\",\"no_answer\"]]" "a realistic siprec.failed with meta"
expect_eq "$(q "e.path==='/ok'" "Math.abs(Date.parse(e.occurred_at)-Date.now())<60000 && /\\.\\d{6}Z$/.test(e.occurred_at)")" '[true]' \
  "occurred_at is now, with microseconds and Z"

"${SEND[@]}" "$BASE/ok" --event call.hangup >/dev/null
expect_eq "$(q "e.event_type==='call.hangup'" '[e.payload.hangup_cause,e.payload.hangup_source]')" '[["normal_clearing","caller"]]' \
  "--event call.hangup builds a hangup payload"

# --- retries on the same URL keep the id, re-sign, and count attempts -------------------------
expect_exit 0 "a receiver failing twice gets the event on attempt 3" "${SEND[@]}" "$BASE/flaky/2" --attempts 3
expect_eq "$(grep -c '^attempt=' "$TMP/out")" 3 "three attempt lines"
expect_match "$TMP/out" '^attempt=2 .*status=500 .*outcome=failed' "failed attempts say so"
expect_eq "$(q "e.path==='/flaky/2'" 'e.attempt')" '[1,2,3]' "meta.attempt counts 1, 2, 3"
expect_eq "$(q "e.path==='/flaky/2'" 'e.id' | "$NODE" -e 'const a=JSON.parse(require("fs").readFileSync(0));console.log(new Set(a).size)')" 1 \
  "every attempt carries the same data.id"
expect_eq "$(q "e.path==='/flaky/2'" 'e.verdict')" '["valid","valid","valid"]' "every attempt is validly signed"

# --- failover ---------------------------------------------------------------------------------
expect_exit 0 "after the primary's attempts, the failover URL gets it" "${SEND[@]}" "$BASE/fail" --failover "$BASE/ok" --attempts 2
expect_eq "$(grep -c "url=$BASE/fail " "$TMP/out")" 2 "two attempts on the primary"
expect_match "$TMP/out" "^attempt=3 url=$BASE/ok status=200 .*outcome=delivered" "attempt 3 on the failover"
expect_eq "$(q "e.path==='/ok' && e.attempt===3" 'e.delivered_to')" "[\"$BASE/ok\"]" "meta.delivered_to names the failover URL"

# A closed port is a failed attempt with curl's reason, then the failover.
CLOSED=$("$NODE" -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
expect_exit 0 "a refused connection moves on to the failover" "${SEND[@]}" "http://127.0.0.1:$CLOSED/x" --failover "$BASE/ok" --attempts 1
expect_match "$TMP/out" '^attempt=1 .*status=0 .*outcome=failed error="' "the refused attempt shows curl's error"

# --- only 200 counts --------------------------------------------------------------------------
expect_exit 1 "201 is not delivered (Telnyx wants 200)" "${SEND[@]}" "$BASE/created" --attempts 2
expect_match "$TMP/out" '^not delivered id=.* attempts=2$' "a closing line says not delivered"
expect_exit 1 "a receiver that always fails: exit 1" "${SEND[@]}" "$BASE/fail" --failover "$BASE/fail" --attempts 1

# --- timeouts ---------------------------------------------------------------------------------
expect_exit 1 "a hanging receiver times out" "${SEND[@]}" "$BASE/hang" --attempts 1 --timeout 1
expect_match "$TMP/out" '^attempt=1 .*status=0 .*outcome=failed error=".*[Tt]ime' "the attempt says it timed out"

# --- a given body is sent byte for byte -------------------------------------------------------
printf '{"data":{"id":"fixed-1","event_type":"siprec.failed"},  "spacing":"kept"}\n' >"$TMP/body"
WANT=$(sha256sum "$TMP/body" | cut -d' ' -f1)
expect_exit 0 "send --file" "${SEND[@]}" "$BASE/ok" --file "$TMP/body"
expect_eq "$(q "e.id==='fixed-1'" 'e.sha256')" "[\"$WANT\"]" "the file's exact bytes arrive"

# --- usage ------------------------------------------------------------------------------------
expect_exit 2 "send without a URL" "$HOOKD" send --private-key "$KEY_private_key"
expect_exit 2 "send with a public key where the private one belongs" "$HOOKD" send "$BASE/ok" --private-key "whpk_$KEY_public_key"
expect_exit 2 "--attempts 0" "${SEND[@]}" "$BASE/ok" --attempts 0

finish
