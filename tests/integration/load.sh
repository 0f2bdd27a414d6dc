#!/usr/bin/env bash
# load.sh - the store's promise under pressure: concurrent clients, duplicates, kill -9, a full
# store and SIGTERM. After each, every event a client saw a 200 for must be in the store, once.
PG_PRIVATE=1 # it restarts PostgreSQL
. "$(dirname "$0")/lib.sh"

eval "$("$HOOKD" keygen | sed 's/^/K_/')"
new_store load
DB=$STORE_URL
URL_PATH=/webhooks/telnyx

# in_store OUT_FILE: how many ids the client got a 200 for, and how many of those are stored.
in_store() {
  "$NODE" -e "
    const seen = new Set();
    for (const l of require('fs').readFileSync('$1', 'utf8').split('\n')) {
      if (!l) continue; const r = JSON.parse(l); if (r.status === 200) seen.add(r.id);
    }
    console.log([...seen].join('\n'));" >"$TMP/ok-ids"
  stored_of load "$TMP/ok-ids"
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
load() { "$NODE" "$CLIENT" load "http://127.0.0.1:$PORT$URL_PATH" "$K_private_key" "$@"; }
field() { "$NODE" -e "console.log(JSON.parse(process.argv[1]).$1)" "$2"; }

# --- 64 concurrent clients, 5,000 distinct events, 500 redeliveries --------------------------
start_server "$TMP/a.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level warn || exit 1
CLEANUP="kill -9 \$SERVER_PID 2>/dev/null"
SUMMARY=$(load 5000 64 10 "$TMP/a.out")
echo "# $SUMMARY"
expect_eq "$(field ok "$SUMMARY")" 5500 "all 5,500 deliveries got 200"
expect_eq "$(field accepted "$SUMMARY")/$(field duplicate "$SUMMARY")" "5000/500" "5,000 accepted, 500 duplicates"
expect_eq "$(sql "SELECT count(*), count(DISTINCT id), sum(attempts) FROM events")" "5000|5000|5500" \
  "exactly the 5,000 distinct events are stored, with 5,500 attempts counted"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_commit_batch_size_count [0-9]+$' "group commit batches are measured"
BATCHES=$(sed -n 's/^hookd_commit_batch_size_count //p' "$TMP/metrics")
expect_eq "$(( BATCHES < 5500 ))" 1 "concurrent requests shared commits ($BATCHES commits for 5,500 requests)"
stop_server
expect_eq "$?" 0 "SIGTERM after the load: exit 0"

# --- kill -9 mid-load, restart: every 200 is in the store ------------------------------------
new_store load
start_server "$TMP/b.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level warn || exit 1
load 5000 64 7 "$TMP/b.out" >"$TMP/b.summary" &
LOADER=$!
for _ in $(seq 200); do [ "$(lines "$TMP/b.out")" -ge 1500 ] && break; sleep 0.02; done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
wait "$LOADER"
echo "# killed at: $(cat "$TMP/b.summary")"
expect_eq "$(( $(field ok "$(cat "$TMP/b.summary")") > 0 && $(field errors "$(cat "$TMP/b.summary")") > 0 ))" 1 \
  "the kill landed mid-load (some 200s, some failures)"
start_server "$TMP/b2.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level warn || exit 1
read -r SAW STORED <<<"$(in_store "$TMP/b.out")"
echo "# client saw 200 for $SAW events; $STORED of them are in the store"
expect_eq "$STORED" "$SAW" "after kill -9 and restart, every event that got a 200 is stored"
[ "$STORE" = sqlite ] && expect_eq "$(sql 'PRAGMA integrity_check')" ok "the database is intact"
expect_eq "$(sql 'SELECT CASE WHEN count(*) = count(DISTINCT id) THEN 1 ELSE 0 END FROM events')" 1 "still one row per event"
stop_server

full_store() {
# --- a full store: 503 with Retry-After, never a 200 without a row ---------------------------
new_store load
cat >"$TMP/full.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = $DB
max_size = 160k
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
CONF
start_server "$TMP/c.log" -c "$TMP/full.conf" --log-level error || exit 1
SUMMARY=$(load 600 8 0 "$TMP/c.out")
echo "# $SUMMARY"
expect_eq "$(( $(field ok "$SUMMARY") > 0 ))" 1 "events are accepted while there is room"
expect_eq "$("$NODE" -e "console.log(JSON.parse(process.argv[1]).statuses['503'] > 0)" "$SUMMARY")" true "then refused with 503"
read -r SAW STORED <<<"$(in_store "$TMP/c.out")"
expect_eq "$STORED" "$SAW" "every 200 has its row ($SAW of $SAW); no 200 without a commit"
printf '{"data":{"id":"one-more","event_type":"siprec.failed","payload":{"x":"%s"}}}' "$(head -c 3000 /dev/zero | tr '\0' y)" >"$TMP/more.json"
TS_SIG=$("$NODE" "$CLIENT" sign "$K_private_key" "$TMP/more.json")
curl -s -i -X POST --data-binary "@$TMP/more.json" -H "telnyx-timestamp: ${TS_SIG% *}" \
  -H "telnyx-signature-ed25519: ${TS_SIG#* }" "http://127.0.0.1:$PORT$URL_PATH" >"$TMP/full.resp"
expect_match "$TMP/full.resp" '^HTTP/1.1 503' "a delivery to a full store: 503"
expect_match "$TMP/full.resp" '^Retry-After: 5' "with Retry-After"
expect_match "$TMP/full.resp" '"reason":"store_unavailable"' "and the reason"
expect_eq "$(sql "SELECT count(*) FROM events WHERE id = 'one-more'")" 0 "nothing half-written"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" 503 "/readyz says the store cannot take writes"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_store_errors_total [1-9]' "store errors are counted"
stop_server

}
# --- the database stops mid-load and comes back: 503 meanwhile, never a 200 without a row ------
outage() {
start_server "$TMP/o.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level info || exit 1
load 4000 32 0 "$TMP/o.out" >"$TMP/o.summary" &
LOADER=$!
for _ in $(seq 200); do [ "$(lines "$TMP/o.out")" -ge 800 ] && break; sleep 0.02; done
"$SCRIPTS/pg-tmp" restart "$PG_HOST"
wait "$LOADER"
echo "# through a restart of PostgreSQL: $(cat "$TMP/o.summary")"
expect_eq "$("$NODE" -e "const s = JSON.parse(process.argv[1]); console.log(s.statuses['200'] > 0 && s.statuses['503'] > 0)" "$(cat "$TMP/o.summary")")" true \
  "while PostgreSQL restarts, requests get 503 (and 200 before and after)"
read -r SAW STORED <<<"$(in_store "$TMP/o.out")"
expect_eq "$STORED" "$SAW" "every 200 has its row ($SAW of $SAW), through the outage"
expect_logged "$TMP/o.log" '"msg":"lost the connection to PostgreSQL' "the loss is logged"
expect_eq "$(( $(grep -c '"msg":"store failed"' "$TMP/o.log") < 60 ))" 1 "failed requests are logged at most once a second, not each"
for _ in $(seq 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.1; done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" 200 "/readyz is 200 again within 20 s"
expect_logged "$TMP/o.log" '"msg":"connected to PostgreSQL again"' "and the return"
expect_exit 0 "a delivery after the outage is accepted" "$HOOKD" send "http://127.0.0.1:$PORT$URL_PATH" --private-key "$K_private_key" --attempts 1
stop_server

# Unreachable at start: hookd starts anyway, says so, answers 503, and recovers by itself.
"$SCRIPTS/pg-tmp" halt "$PG_HOST"
start_server "$TMP/u.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level info || exit 1
expect_match "$TMP/u.log" '"msg":"PostgreSQL cannot be reached at start; starting anyway' "a database down at start: hookd starts and says so"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" 503 "  /readyz says 503"
expect_exit 1 "  a delivery gets 503" "$HOOKD" send "http://127.0.0.1:$PORT$URL_PATH" --private-key "$K_private_key" --attempts 1
expect_match "$TMP/out" 'status=503' "  (503)"
"$SCRIPTS/pg-tmp" resume "$PG_HOST"
for _ in $(seq 200); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break; sleep 0.1; done
expect_exit 0 "  once the database is up, deliveries are stored" "$HOOKD" send "http://127.0.0.1:$PORT$URL_PATH" --private-key "$K_private_key" --attempts 1
stop_server

# A server that does not flush its commits (fsync = off) is refused: a 200 there would be a lie.
"$SCRIPTS/pg-tmp" halt "$PG_HOST"
PG_TMP_FSYNC=off "$SCRIPTS/pg-tmp" resume "$PG_HOST"
expect_exit 1 "a server with fsync = off is refused" "$HOOKD" migrate --db "$DB"
expect_match "$TMP/err" 'fsync = off' "  and the reason is named"
"$SCRIPTS/pg-tmp" restart "$PG_HOST"
}

if [ "$STORE" = sqlite ]; then full_store; else new_store load; outage; fi

# --- SIGTERM under load: drains, exits 0, loses nothing --------------------------------------
new_store load
start_server "$TMP/d.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" --log-level warn || exit 1
load 4000 64 0 "$TMP/d.out" >"$TMP/d.summary" &
LOADER=$!
for _ in $(seq 200); do [ "$(lines "$TMP/d.out")" -ge 1000 ] && break; sleep 0.02; done
stop_server
expect_eq "$?" 0 "SIGTERM mid-load: exit 0"
wait "$LOADER"
echo "# stopped at: $(cat "$TMP/d.summary")"
read -r SAW STORED <<<"$(in_store "$TMP/d.out")"
expect_eq "$STORED" "$SAW" "every 200 before the drain is stored ($SAW)"
expect_eq "$(grep -c '"status":200' "$TMP/d.out")" "$SAW" "each of them answered once"
expect_eq "$("$NODE" -e "console.log(JSON.parse(process.argv[1]).statuses['200'] > 0)" "$(cat "$TMP/d.summary")")" true \
  "the drain began mid-load"
finish
