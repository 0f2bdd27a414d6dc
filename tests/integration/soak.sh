#!/usr/bin/env bash
# soak.sh - the store and dispatch at the scale users reach (issue #7, items 6-8): the WAL stays
# bounded over tens of thousands of deliveries; thousands of events over a hundred and fifty calls,
# sent shuffled, reach an order = call handler and an unordered one beside it, every one of them;
# several processes opening one new store at once all start.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
EVENTS=${SOAK_EVENTS:-3000}
CALLS=150

# --- 8. several processes migrate one new store at once -----------------------------------------
cat >"$TMP/race.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = sqlite:$TMP/race/hookd.db
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
CONF
pids=()
for i in 1 2 3 4 5 6; do "$HOOKD" serve -c "$TMP/race.conf" 2>"$TMP/race.$i.log" & pids+=($!); done
started=0
for _ in $(seq 300); do
  started=$(grep -l '"msg":"started"' "$TMP"/race.*.log 2>/dev/null | wc -l)
  [ "$started" -eq 6 ] && break
  sleep 0.05
done
kill -TERM "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
expect_eq "$started" 6 "six processes opening one new store at once all start"
expect_no_match <(cat "$TMP"/race.*.log) 'cannot open the store' "none of them found the store locked"
expect_no_match <(cat "$TMP"/race.*.log) 'migration|already exists' "none of them failed a migration"
expect_eq "$(sqlite3 "$TMP/race/hookd.db" 'PRAGMA user_version')" 10 "the store is at schema version 10"

# --- 6 + 7. a long load with dispatch, sampling the WAL ---------------------------------------
cat >"$TMP/ordered.sh" <<SH
#!/bin/sh
# Fails the first attempt of about 3 events in 16 (retried 1 s later), logs each success.
case "\$HOOKD_EVENT_ID" in *[012]) [ "\$HOOKD_DELIVERY_ATTEMPT" = 1 ] && exit 1 ;; esac
echo "\$HOOKD_CALL_SESSION_ID \$HOOKD_OCCURRED_AT" >>"$TMP/ordered.log"
SH
chmod +x "$TMP/ordered.sh"
DB="$TMP/soak.db"
cat >"$TMP/soak.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = sqlite:$DB
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
[handler all]
on = *
exec = /bin/true
concurrency = 4
[handler ordered]
on = siprec.failed
exec = $TMP/ordered.sh
order = call
concurrency = 4
retry_base = 1
retry_max = 2
CONF
start_server "$TMP/serve.log" -c "$TMP/soak.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
( peak=0; while [ ! -f "$TMP/done" ]; do
    s=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0); [ "$s" -gt "$peak" ] && peak=$s && echo "$peak" >"$TMP/wal.peak"
    sleep 0.1; done ) &
SAMPLER=$!
t0=$(date +%s.%N)
"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" "$EVENTS" 8 0 "$TMP/calls.jsonl" "$CALLS" >"$TMP/calls.summary"
expect_match "$TMP/calls.summary" "\"ok\":$EVENTS," "$EVENTS events over $CALLS calls, sent shuffled: all acknowledged"
owed() { sqlite3 "$DB" "SELECT count(*) FROM deliveries WHERE state NOT IN ('succeeded', 'dead')"; }
for _ in $(seq 900); do [ "$(owed)" = 0 ] && break; sleep 0.2; done
t1=$(date +%s.%N)
echo "# $((EVENTS * 2)) deliveries made in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
expect_eq "$(sqlite3 "$DB" "SELECT handler || ':' || state || ':' || count(*) FROM deliveries GROUP BY handler, state ORDER BY handler")" \
  "all:succeeded:$EVENTS
ordered:succeeded:$EVENTS" "every delivery of both handlers was made (none stalled behind a call's head)"
# Order: a run of an ordered delivery before an earlier event of its call is allowed only when
# that earlier event arrived after the run had started (no design can wait for it). 200 ms of
# slack covers the commit and the scheduler's next look.
late=$(sqlite3 "$DB" "WITH runs AS (SELECT d.call_key k, d.occurred_at_us occ, d.created_us recv,
  min(a.started_us) first FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
  WHERE d.handler = 'ordered' GROUP BY d.id)
  SELECT count(*), sum(x.recv + 200000 < y.first) FROM runs x JOIN runs y ON x.k = y.k
  WHERE x.occ < y.occ AND y.first < x.first")
echo "# order = call: ${late%|*} runs before an earlier event of their call; of those, ${late#*|} where that event was there already"
expect_eq "${late#*|}" 0 "order = call: no run overtook an earlier event of its call that had arrived"
expect_eq "$(sqlite3 "$DB" "SELECT count(DISTINCT call_key) FROM deliveries WHERE handler = 'ordered'")" \
  "$CALLS" "the ordered handler ran for all $CALLS calls"
stop_server; expect_eq $? 0 "SIGTERM: exit 0"

# Then a larger load, ingest only: the WAL must not grow with it.
sed -i '/^\[handler/,$d' "$TMP/soak.conf"
start_server "$TMP/serve2.log" -c "$TMP/soak.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" $((EVENTS * 5)) 16 0 "$TMP/load.jsonl" >"$TMP/load.summary"
expect_match "$TMP/load.summary" "\"ok\":$((EVENTS * 5))," "$((EVENTS * 5)) more events acknowledged"
total=$(sqlite3 "$DB" 'SELECT count(*) FROM events')
peak=$(cat "$TMP/wal.peak")
echo "# WAL peak over $total events and $((EVENTS * 2)) deliveries: $((peak / 1024)) KiB (before the fix it grew ~17.6 KB per event)"
[ "$peak" -lt $((32 * 1024 * 1024)) ]; expect_eq $? 0 "the WAL stays under 32 MiB ($((peak / 1024)) KiB at its peak)"
curl -s "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
expect_match "$TMP/metrics" '^hookd_store_checkpoints_total [1-9]' "checkpoints ran while serving"
stop_server; expect_eq $? 0 "SIGTERM: exit 0"
touch "$TMP/done"; wait "$SAMPLER"

# --- 12. a full store while handlers finish: their records are retried with backoff ------------
cat >"$TMP/chatty.sh" <<'SH'
#!/bin/sh
sleep 1
head -c 4000 /dev/zero | tr '\0' x
SH
chmod +x "$TMP/chatty.sh"
cat >"$TMP/full.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = sqlite:$TMP/full.db
max_size = 512k
[endpoint open]
scheme = none
[handler chatty]
on = *
exec = $TMP/chatty.sh
concurrency = 8
CONF
start_server "$TMP/full.log" -c "$TMP/full.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
head -c 20000 /dev/urandom | base64 -w0 >"$TMP/fill.json"
for i in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$TMP/fill.json" -H "X-N: $i" "http://127.0.0.1:$PORT/webhooks/open?n=$i")
  [ "$code" = 503 ] && break
  printf '%s' "$i" >>"$TMP/fill.json"
done
expect_eq "$code" 503 "the store fills up (503, Retry-After)"
sleep 6   # the attempts finish (1 s) and their records cannot be written
lines=$(grep -c 'cannot record delivery attempts' "$TMP/full.log")
echo "# store full while attempts finish: $lines 'cannot record' log lines in ~5 s"
[ "$lines" -ge 1 ] && [ "$lines" -le 3 ]; expect_eq $? 0 "the failure is logged once per interval ($lines lines), not once per retry"
cpu=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"); sleep 2; cpu2=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
echo "# daemon CPU while the store stays full: $(( (cpu2 - cpu) * 1000 / $(getconf CLK_TCK) / 2 )) ms per second"
[ $((cpu2 - cpu)) -le $(( $(getconf CLK_TCK) / 5 )) ]; expect_eq $? 0 "and it does not spin (under 10% of a core)"
stop_server; expect_eq $? 0 "SIGTERM with the store full: exit 0"
finish
