#!/usr/bin/env bash
# console.sh - the console's API and its guards, driven with curl against the real daemon: the
# config's fail-closed rules, bearer, cookie sign-in and CSRF, every route (paging, filters,
# byte-exact raw bodies, calls, deliveries, replay queuing deliveries, stats), the live stream
# delivering a new event, the security headers on every answer, and the no-token loopback mode
# refusing foreign Host names. Runs on SQLite and (console-pg) on PostgreSQL.
PG_PRIVATE=1 # on PostgreSQL, the suite stops its own server to see the console answer 503
. "$(dirname "$0")/lib.sh"

eval "$("$HOOKD" keygen | sed 's/^/K_/')"
TOKEN=console-token-$RANDOM-$RANDOM-xyz
new_store c

# --- the config fails closed ----------------------------------------------------------------
cat >"$TMP/open.conf" <<CONF
[store]
url = $STORE_URL
[console]
listen = 0.0.0.0:0
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
CONF
expect_exit 1 "a console on a public address without a token is refused" "$HOOKD" check-config -c "$TMP/open.conf"
expect_match "$TMP/err" 'open.conf: \[console\] listen: 0.0.0.0:0 is not a loopback address' "  naming the file and the key"
printf '[console]\nlisten = 127.0.0.1:0\ntoken = short\n' >>"$TMP/open.conf"
expect_exit 1 "a short token is refused" "$HOOKD" check-config -c "$TMP/open.conf"
expect_match "$TMP/err" 'open.conf:[0-9]+: \[console\] token: expected 16 to' "  at FILE:LINE"
expect_exit 2 "--console on a public address without HOOKD_CONSOLE_TOKEN is refused" \
  env -u HOOKD_CONSOLE_TOKEN "$HOOKD" serve --telnyx-public-key "$K_public_key" --db "$STORE_URL" --console 0.0.0.0:0
expect_match "$TMP/err" 'not a loopback address' "  saying why"

# --- a daemon with a console, two handlers (one always fails: dead letters) ------------------
{ console_conf env:CONSOLE_TOKEN; cat <<CONF
[handler ok]
on = *
exec = /bin/cat
retry_base = 1
[handler fail]
on = siprec.failed
exec = /bin/sh -c "echo 'no disk' >&2; exit 3"
max_attempts = 1
CONF
} >"$TMP/hookd.conf"
CONSOLE_TOKEN=$TOKEN start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 \$SERVER_PID \${STREAM_PID:-} 2>/dev/null"
CPORT=$(console_port "$TMP/serve.log")
C="http://127.0.0.1:$CPORT"
expect_match "$TMP/serve.log" '"msg":"console listening".*"token":true' "the console listens, with a token"
expect_no_match "$TMP/serve.log" "$TOKEN" "  the token never reaches the log"

# get PATH [curl args]: status in $TMP/status, headers in $TMP/h, body in $TMP/b
get() { local p=$1; shift; curl -s -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$@" "$C$p" >"$TMP/status"; }
auth=(-H "Authorization: Bearer $TOKEN")
jqb() { jq -r "$1" "$TMP/b"; }

# --- who may ask ------------------------------------------------------------------------------
get /api/v1/events
expect_eq "$(cat "$TMP/status")" 401 "no credentials: 401"
expect_match "$TMP/h" '^WWW-Authenticate: Bearer' "  with WWW-Authenticate"
expect_eq "$(jqb .error)" unauthorized "  and the reason in the body"
get /api/v1/events -H "Authorization: Bearer not-$TOKEN"
expect_eq "$(cat "$TMP/status")" 401 "a wrong bearer token: 401"
get /api/v1/events "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 200 "the bearer token: 200"
get /
expect_eq "$(cat "$TMP/status")" 303 "the page without a session goes to sign in"
expect_match "$TMP/h" '^Location: /login' "  at /login"
get /login
expect_eq "$(cat "$TMP/status")" 200 "GET /login shows the form"
expect_match "$TMP/b" 'name="token"' "  with a token field"
get /login -X POST --data-urlencode "token=wrong-$TOKEN"
expect_eq "$(cat "$TMP/status")" 401 "a wrong token at sign-in: 401"
expect_match "$TMP/b" 'role="alert"  +data-failed' "  and the page says so"
expect_no_match "$TMP/h" 'Set-Cookie' "  and sets no cookie"
get /login -X POST --data-urlencode "token=$TOKEN" -H "Origin: $C"
expect_eq "$(cat "$TMP/status")" 303 "the right token: 303"
expect_match "$TMP/h" '^Location: /[[:space:]]*$' "  to /"
expect_match "$TMP/h" '^Set-Cookie: hookd_console=[0-9]+\.[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict' "  with an HttpOnly, SameSite=Strict cookie"
COOKIE=$(sed -n 's/^Set-Cookie: \(hookd_console=[^;]*\);.*/\1/p' "$TMP/h")
get /login -X POST --data-urlencode "token=$TOKEN" -H "Origin: http://evil.example"
expect_eq "$(cat "$TMP/status")" 403 "sign-in posted from another site: 403"
get /api/v1/events -H "Cookie: $COOKIE"
expect_eq "$(cat "$TMP/status")" 200 "the session cookie opens the API"
get / -H "Cookie: $COOKIE"
expect_eq "$(cat "$TMP/status")" 200 "  and the page"
FORGED="hookd_console=$(( $(date +%s) + 99999 )).${COOKIE##*.}"
get /api/v1/events -H "Cookie: $FORGED"
expect_eq "$(cat "$TMP/status")" 401 "a cookie with a changed expiry: 401"
get /api/v1/events -H "Cookie: hookd_console=1.$(printf '0%.0s' $(seq 64))"
expect_eq "$(cat "$TMP/status")" 401 "a made-up cookie: 401"
for o in "http://evil.example" "null" ""; do
  if [ -n "$o" ]; then oh=(-H "Origin: $o"); else oh=(); fi
  get /api/v1/replay -X POST -H "Cookie: $COOKIE" "${oh[@]}" -H 'Content-Type: application/json' -d '{"event":"x"}'
  expect_eq "$(cat "$TMP/status")" 403 "a POST with the cookie and Origin '${o:-(none)}': 403"
done
expect_eq "$(jqb .error)" origin_refused "  reason origin_refused"
get /api/v1/replay -X POST -H "Cookie: $COOKIE" -H "Origin: $C" -d '{"event":"no-such-event"}'
expect_eq "$(cat "$TMP/status")" 404 "the console's own Origin passes (404: no such event)"
get /api/v1/replay -X POST "${auth[@]}" -d '{"event":"no-such-event"}'
expect_eq "$(cat "$TMP/status")" 404 "the bearer token needs no Origin"
get /logout -X POST -H "Cookie: $COOKIE" -H "Origin: $C"
expect_match "$TMP/h" '^Set-Cookie: hookd_console=; .*Max-Age=0' "sign-out clears the cookie"

# --- headers on every answer -----------------------------------------------------------------
for p in / /login /assets/app.js /api/v1/events /api/v1/nope; do
  get "$p" "${auth[@]}"
  expect_match "$TMP/h" "^Content-Security-Policy: default-src 'self'; " "CSP on $p"
  expect_match "$TMP/h" '^X-Content-Type-Options: nosniff' "  nosniff on $p"
done
expect_no_match "$TMP/h" "unsafe-inline" "no 'unsafe-inline' anywhere in the policy"
get /api/v1/nope "${auth[@]}"
expect_eq "$(cat "$TMP/status")|$(jqb .error)" "404|not_found" "an unknown route: 404 JSON"
get /api/v1/events -X PUT "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 405 "PUT: 405"
head -c 20000 /dev/zero | tr '\0' 'a' >"$TMP/big"
get /api/v1/replay -X POST "${auth[@]}" --data-binary "@$TMP/big"
expect_eq "$(cat "$TMP/status")" 413 "a body over 16 KiB: 413"

# --- events to look at -------------------------------------------------------------------------
"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" 150 4 0 "$TMP/load.jsonl" 10 >/dev/null
expect_eq "$(grep -c '"status":200' "$TMP/load.jsonl")" 150 "150 events over 10 calls stored"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
printf '{"data":{"record_type":"event","event_type":"call.hangup","id":"evt-xss","occurred_at":"%s","payload":{"call_control_id":"v3:ctl-xss","call_session_id":"sess-xss","hangup_cause":"<img src=x onerror=alert(1)>"}},"meta":{"attempt":1}}\n  \t' "$now" >"$TMP/xss.json"
post_telnyx /webhooks/telnyx "$TMP/xss.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "an event with markup in a field is stored"
printf 'not json \xff\xfe bytes' >"$TMP/binary.body"
post_telnyx /webhooks/telnyx "$TMP/binary.body" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "an authentic body that is not JSON (nor UTF-8) is stored raw"
BIN_ID="sha256:$(sha256sum "$TMP/binary.body" | cut -d' ' -f1)"
TOTAL=$(sql "SELECT count(*) FROM events")
expect_eq "$TOTAL" 152 "152 events in the store"

# --- GET /events: paging and filters ----------------------------------------------------------
: >"$TMP/ids"
cursor=
pages=0
while :; do
  get "/api/v1/events?limit=50${cursor:+&before=$cursor}" "${auth[@]}"
  jqb '.events[].id' >>"$TMP/ids"
  pages=$((pages + 1))
  cursor=$(jqb '.next // empty')
  [ -z "$cursor" ] || [ "$pages" -gt 10 ] && break
done
expect_eq "$pages" 4 "paging 152 events 50 at a time: 4 pages"
expect_eq "$(wc -l <"$TMP/ids")|$(sort -u "$TMP/ids" | wc -l)" "152|152" "  every event once"
expect_eq "$(head -1 "$TMP/ids")" "$BIN_ID" "  newest first"
get "/api/v1/events?limit=1" "${auth[@]}"
expect_eq "$(jq -c '.events[0] | keys' "$TMP/b")" '["attempts","call_control_id","call_session_id","endpoint","event_type","failure_cause","hangup_cause","id","occurred_at","parse","received_at"]' "  an event's fields are the contract's"
get "/api/v1/events?type=call.hangup" "${auth[@]}"
expect_eq "$(jq '.events | length' "$TMP/b")|$(jqb '.events[0].id')" "1|evt-xss" "type= filters"
get "/api/v1/events?call=call-3&limit=500" "${auth[@]}"
expect_eq "$(jq '[.events[] | select(.call_session_id == "call-3")] | length' "$TMP/b")" 15 "call= filters (15 events of call-3)"
get "/api/v1/events?parse=unparsed" "${auth[@]}"
expect_eq "$(jq -r '[.events[].id] | join(",")' "$TMP/b")" "$BIN_ID" "parse=unparsed filters"
get "/api/v1/events?endpoint=nope" "${auth[@]}"
expect_eq "$(jq '.events | length' "$TMP/b")|$(jqb .next)" "0|null" "endpoint= filters"
get "/api/v1/events?until=1h" "${auth[@]}"
expect_eq "$(jq '.events | length' "$TMP/b")" 0 "until=1h (an hour ago): none"
get "/api/v1/events?since=10m&limit=500" "${auth[@]}"
expect_eq "$(jq '.events | length' "$TMP/b")" 152 "since=10m: all"
for bad in "limit=0" "limit=501" "parse=maybe" "since=yesterday" "before=abc"; do
  get "/api/v1/events?$bad" "${auth[@]}"
  expect_eq "$(cat "$TMP/status")|$(jqb .error)" "400|bad_request" "$bad: 400"
done

# --- one event, its raw bytes ------------------------------------------------------------------
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM deliveries WHERE state IN ('succeeded', 'dead')")" -ge 302 ] && break
  sleep 0.1
done
get /api/v1/events/evt-xss "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 200 "GET /events/ID"
expect_eq "$(jqb .hangup_cause)" "<img src=x onerror=alert(1)>" "  fields as stored"
expect_eq "$(jqb .body)" "$(cat "$TMP/xss.json")" "  the body as a string"
expect_eq "$(jq -c '[.deliveries[] | {handler, state, n: (.attempts | length)}]' "$TMP/b")" '[{"handler":"ok","state":"succeeded","n":1}]' "  its deliveries and attempts"
expect_eq "$(jq -r '.deliveries[0].attempts[0] | keys | join(",")' "$TMP/b")" "attempt,error,exit_code,http_status,ms,outcome,output,started_at" "  each attempt's fields"
SIPREC=$(head -20 "$TMP/load.jsonl" | tail -1 | jq -r .id)
get "/api/v1/events/$SIPREC" "${auth[@]}"
expect_eq "$(jq -c '[.deliveries[] | {handler, state, o: .attempts[0].outcome, x: .attempts[0].exit_code}]' "$TMP/b")" \
  '[{"handler":"ok","state":"succeeded","o":"succeeded","x":0},{"handler":"fail","state":"dead","o":"failed","x":3}]' "  a siprec.failed: one succeeded, one dead"
expect_match "$TMP/b" 'no disk' "  with the attempt's output"
get /api/v1/events/evt-xss/raw "${auth[@]}"
expect_eq "$(sha256sum <"$TMP/b")" "$(sha256sum <"$TMP/xss.json")" "GET /events/ID/raw: byte for byte (trailing blanks too)"
get "/api/v1/events/$BIN_ID" "${auth[@]}"
expect_eq "$(jqb '.body // "absent"')|$(jqb .body_base64 | base64 -d | sha256sum)" "absent|$(sha256sum <"$TMP/binary.body")" "a body that is not UTF-8 comes as body_base64"
get "/api/v1/events/$BIN_ID/raw" "${auth[@]}"
expect_eq "$(sha256sum <"$TMP/b")" "$(sha256sum <"$TMP/binary.body")" "  and raw, byte for byte"
get /api/v1/events/no-such-id "${auth[@]}"
expect_eq "$(cat "$TMP/status")|$(jqb .error)" "404|not_found" "an unknown id: 404"
# The seq a list row carries: the row is read by its key (SQLite has no index on the id alone).
XSS_SEQ=$(sql "SELECT seq FROM events WHERE id = 'evt-xss'")
get "/api/v1/events/evt-xss?seq=$XSS_SEQ" "${auth[@]}"
expect_eq "$(cat "$TMP/status")|$(jqb .hangup_cause)" "200|<img src=x onerror=alert(1)>" "GET /events/ID?seq=: the same event"
get "/api/v1/events/evt-xss?seq=$(sql "SELECT seq FROM events WHERE id = '$SIPREC'")" "${auth[@]}"
expect_eq "$(cat "$TMP/status")|$(jqb .hangup_cause)" "200|<img src=x onerror=alert(1)>" "  another event's seq is not trusted: the id decides"
get "/api/v1/events/evt-xss/raw?seq=$XSS_SEQ" "${auth[@]}"
expect_eq "$(sha256sum <"$TMP/b")" "$(sha256sum <"$TMP/xss.json")" "  and the raw bytes by seq"
get "/api/v1/events/evt-xss?seq=1e3" "${auth[@]}"
expect_eq "$(cat "$TMP/status")|$(jqb .error)" "400|bad_request" "  a seq that is not digits: 400"

# --- a call --------------------------------------------------------------------------------------
get /api/v1/calls/call-3 "${auth[@]}"
expect_eq "$(jq '.events | length' "$TMP/b")" 15 "GET /calls/ID: the call's 15 events"
expect_eq "$(jq '[.events[].occurred_at] == ([.events[].occurred_at] | sort)' "$TMP/b")" true "  by occurred_at (they were sent shuffled)"
expect_eq "$(jq '[.events[].t_ms] | (.[0] == 0 and . == sort)' "$TMP/b")" true "  with ms from the first"
expect_eq "$(jq '.deliveries | length' "$TMP/b")" 30 "  and the call's 30 deliveries"
get /api/v1/calls/v3:ctl-xss "${auth[@]}"
expect_eq "$(jqb .events[0].id)" evt-xss "a call by its call_control_id"
get /api/v1/calls/no-such-call "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 404 "an unknown call: 404"

# --- deliveries ---------------------------------------------------------------------------------
get "/api/v1/deliveries?state=dead&limit=500" "${auth[@]}"
expect_eq "$(jq '.deliveries | length' "$TMP/b")|$(jq -r '[.deliveries[].handler] | unique | join(",")' "$TMP/b")" "150|fail" "GET /deliveries?state=dead: the failing handler's 150"
get "/api/v1/deliveries?event=evt-xss" "${auth[@]}"
expect_eq "$(jq -r '[.deliveries[] | .handler + ":" + .state] | join(",")' "$TMP/b")" "ok:succeeded" "  ?event= filters"
get "/api/v1/deliveries?state=lost" "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 400 "  an unknown state: 400"

# --- stats ----------------------------------------------------------------------------------------
get "/api/v1/stats?since=1h&bucket=60" "${auth[@]}"
expect_eq "$(jqb .events_total)" 152 "GET /stats: every event of the hour"
expect_eq "$(jq '.events.buckets | length' "$TMP/b")" 61 "  in 61 one-minute buckets"
expect_eq "$(jq '[.events.buckets[].counts["siprec.failed"] // 0] | add' "$TMP/b")" 150 "  per type"
expect_eq "$(jq '[.failure_causes[].events] | add' "$TMP/b")" 150 "  siprec.failed by failure cause"
expect_eq "$(jq -r '.outcomes.names | sort | join(",")' "$TMP/b")" "failed,succeeded" "  attempt outcomes"
expect_eq "$(jq -c '[.dead_letters[] | {handler, cause, deliveries}]' "$TMP/b")" '[{"handler":"fail","cause":"failed","deliveries":150}]' "  dead letters by handler and cause"
expect_eq "$(jq '.queue | has("owed") and has("dead")' "$TMP/b")" true "  queue depth and dead letters now"
get "/api/v1/stats?since=2d&bucket=60" "${auth[@]}"
expect_eq "$(cat "$TMP/status")" 400 "  more than 1440 buckets: 400"

# --- replay -------------------------------------------------------------------------------------
before=$(sql "SELECT count(*) FROM deliveries")
get /api/v1/replay -X POST "${auth[@]}" -d "{\"event\":\"$SIPREC\"}"
expect_eq "$(cat "$TMP/status")|$(jqb .queued)" "200|2" "POST /replay {event}: both handlers queued"
expect_eq "$(sql "SELECT count(*) FROM deliveries")" $((before + 2)) "  two new deliveries in the store"
for _ in $(seq 100); do # the replayed siprec.failed's new 'fail' delivery dies again
  [ "$(sql "SELECT count(*) FROM deliveries WHERE state = 'dead'")" -eq 150 ] && break
  sleep 0.1
done
get /api/v1/replay -X POST "${auth[@]}" -d '{"state":"dead","handler":"fail"}'
expect_eq "$(jqb .queued)" 150 "POST /replay {state: dead, handler}: every dead letter queued again"
expect_eq "$(sql "SELECT count(*) FROM deliveries WHERE state = 'replayed'")" 151 "  the dead ones marked replayed (and the one replayed by id before)"
get /api/v1/replay -X POST "${auth[@]}" -d '{"type":"call.hangup","since":"1h"}'
expect_eq "$(jqb .queued)|$(jqb .matched)" "1|1" "POST /replay {type, since}"
for bad in '{' '[]' '{"type":"x"}' '{"state":"lost"}' '{"event":"x","handler":"nope"}' '{"event":5}'; do
  get /api/v1/replay -X POST "${auth[@]}" -d "$bad"
  expect_eq "$(cat "$TMP/status")" 400 "POST /replay $bad: 400"
done
expect_logged "$TMP/serve.log" '"msg":"console: replay".*"queued":150' "a replay is logged"

# --- the live stream ----------------------------------------------------------------------------
curl -s -N "${auth[@]}" "$C/api/v1/stream" >"$TMP/stream" &
STREAM_PID=$!
for _ in $(seq 50); do grep -q 'retry:' "$TMP/stream" && break; sleep 0.1; done
printf '{"data":{"record_type":"event","event_type":"call.initiated","id":"evt-live","occurred_at":"%s","payload":{"call_session_id":"sess-live"}}}' "$now" >"$TMP/live.json"
post_telnyx /webhooks/telnyx "$TMP/live.json" "$K_private_key"
for _ in $(seq 50); do grep -q 'evt-live' "$TMP/stream" && break; sleep 0.1; done
expect_match "$TMP/stream" '^event: event$' "GET /stream: Server-Sent Events"
expect_eq "$(sed -n 's/^data: //p' "$TMP/stream" | jq -r 'select(.id == "evt-live") | .event_type + " " + .call_session_id')" "call.initiated sess-live" "  a new event arrives with its summary"
expect_eq "$(metric hookd_console_streams)" 1 "  hookd_console_streams counts it"
long=$(head -c 250 /dev/zero | tr '\0' 'x') # each field within the parser's 256, together over 1 KiB
printf '{"data":{"record_type":"event","event_type":"call.hangup","id":"evt-long","occurred_at":"%s","payload":{"call_session_id":"s%s","call_control_id":"c%s","hangup_cause":"h%s","failure_cause":"f%s"}}}' "$now" "$long" "$long" "$long" "$long" >"$TMP/long.json"
post_telnyx /webhooks/telnyx "$TMP/long.json" "$K_private_key"
expect_eq "$(cat "$TMP/status")" 200 "  a long event is stored"
for _ in $(seq 50); do grep -q 'evt-long' "$TMP/stream" && break; sleep 0.1; done
expect_eq "$(sed -n 's/^data: //p' "$TMP/stream" | jq -r 'select(.id == "evt-long") | "\(.truncated) \(.hangup_cause // "absent") \(.event_type)"')" "true absent call.hangup" \
  "  an event too long for the stream's summary comes truncated, the long field left out"
LAST=$(sed -n 's/^id: //p' "$TMP/stream" | tail -1)
kill "$STREAM_PID" 2>/dev/null
timeout 2 curl -s -N "${auth[@]}" -H "Last-Event-ID: $((LAST - 1))" "$C/api/v1/stream" >"$TMP/resume"
expect_match "$TMP/resume" "^id: $LAST$" "  Last-Event-ID resumes after a reconnect"

# --- the OpenAPI document -------------------------------------------------------------------------
get /api/v1/openapi.json "${auth[@]}"
expect_eq "$(jqb .openapi)" 3.1.0 "GET /openapi.json: OpenAPI 3.1"
expect_eq "$(jq -r '.paths | keys | join(" ")' "$TMP/b")" "/calls/{id} /deliveries /events /events/{id} /events/{id}/raw /openapi.json /replay /stats /stream" "  every route"

# --- metrics --------------------------------------------------------------------------------------
expect_eq "$(( $(metric 'hookd_console_rejections_total{reason="unauthorized"}') >= 4 ))" 1 "refusals are counted by reason"
expect_eq "$(metric 'hookd_console_rejections_total{reason="origin_refused"}')" 4 "  origin_refused"
expect_eq "$(metric 'hookd_console_rejections_total{reason="login_failed"}')" 1 "  login_failed"
expect_eq "$(metric hookd_console_logins_total)" 1 "sign-ins are counted"
expect_logged "$TMP/serve.log" '"msg":"console: refused","reason":"origin_refused","status":403' "refusals are logged with their reason"

# --- the database goes away and comes back (PostgreSQL) ---------------------------------------------
if [ "$STORE" = postgres ]; then
  "$SCRIPTS/pg-tmp" halt "$PG_HOST"
  get /api/v1/events "${auth[@]}"
  expect_eq "$(cat "$TMP/status")|$(jqb .error)" "503|store_unavailable" "the database down: 503 store_unavailable"
  get /api/v1/calls/call-3 "${auth[@]}"
  expect_eq "$(cat "$TMP/status")" 503 "  on every read"
  expect_eq "$(metric 'hookd_console_rejections_total{reason="store_unavailable"}')" 2 "  counted"
  "$SCRIPTS/pg-tmp" resume "$PG_HOST"
  for _ in $(seq 100); do get /api/v1/events "${auth[@]}"; [ "$(cat "$TMP/status")" = 200 ] && break; sleep 0.1; done
  expect_eq "$(cat "$TMP/status")|$(jq '.events | length' "$TMP/b")" "200|50" "  back: the console reconnects on its own"
fi
stop_server
expect_eq "$?" 0 "hookd stops cleanly with the console open"

# --- no token: loopback only, and only to loopback names ------------------------------------------
start_server "$TMP/open.log" --telnyx-public-key "$K_public_key" --db "$STORE_URL" --listen 127.0.0.1:0 --console 127.0.0.1:0 || exit 1
CPORT=$(console_port "$TMP/open.log")
C="http://127.0.0.1:$CPORT"
get /api/v1/events
expect_eq "$(cat "$TMP/status")" 200 "without a token, loopback needs no credentials"
get /api/v1/events -H "Host: rebound.example:$CPORT"
expect_eq "$(cat "$TMP/status")|$(jqb .error)" "403|host_refused" "  but a foreign Host name is refused (DNS rebinding)"
get /api/v1/events -H "Host: localhost:$CPORT"
expect_eq "$(cat "$TMP/status")" 200 "  localhost is fine"
get /api/v1/replay -X POST -H "Origin: http://evil.example" -d '{"event":"evt-xss"}'
expect_eq "$(cat "$TMP/status")" 403 "  a POST from another site is refused"
get /api/v1/replay -X POST -H "Origin: $C" -d '{"event":"evt-xss","handler":"ok"}'
expect_eq "$(cat "$TMP/status")" 400 "  from its own pages it is served (400: this daemon has no handler ok)"
get /login
expect_eq "$(cat "$TMP/status")" 303 "  /login leads to the console"
stop_server
finish
