#!/usr/bin/env bash
# retention.sh - [store] retain and hookd prune (issue #10, retention): events older than the
# window go, with their deliveries and attempts, in small batches, never one that still owes a
# delivery; the file gives the space back (new stores are auto_vacuum = incremental); the store's
# size and oldest event are metrics; hookd prune does the same by hand, with --dry-run.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
new_store r
DB=$STORE_URL
expect_exit 0 "a new store" "$HOOKD" migrate --db "$DB"

# 1500 events received two days ago with 8 KiB bodies, 20 of them with a delivery still owed,
# and 50 received now: made with events import (the export format).
python3 - "$TMP" <<'PY'
import json, sys, time
now = int(time.time() * 1e6)
with open(sys.argv[1] + "/old.jsonl", "w") as f:
    for i in range(1500):
        f.write(json.dumps({"id": "old-%d" % i, "endpoint": "telnyx", "scheme": "telnyx",
            "event_type": "call.hangup", "received_at_us": now - 2 * 86400 * 10**6 + i,
            "body": "x" * 8192}) + "\n")
with open(sys.argv[1] + "/new.jsonl", "w") as f:
    for i in range(50):
        f.write(json.dumps({"id": "new-%d" % i, "endpoint": "telnyx", "scheme": "telnyx",
            "event_type": "call.hangup", "received_at_us": now - 60 * 10**6, "body": "{}"}) + "\n")
PY
expect_exit 0 "import the old and the new events" sh -c "\"$HOOKD\" events import \"$TMP/old.jsonl\" --db \"$DB\" && \"$HOOKD\" events import \"$TMP/new.jsonl\" --db \"$DB\""
sql "INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us, updated_us)
  SELECT seq, 'gone-handler', 'pending', 0, 0, 0 FROM events WHERE id IN ($(seq -s, -f "'old-%g'" 0 19));
  INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us, updated_us, attempts)
  SELECT seq, 'gone-handler', 'succeeded', 0, 0, 0, 1 FROM events WHERE id IN ($(seq -s, -f "'old-%g'" 100 199));
  INSERT INTO attempts (delivery_id, attempt, started_us, finished_us, outcome)
  SELECT id, 1, 0, 0, 'succeeded' FROM deliveries WHERE state = 'succeeded';" >/dev/null
if [ "$STORE" = sqlite ]; then before=$(stat -c %s "$TMP/r.db"); else before=$(sql "SELECT pg_total_relation_size('events') + pg_total_relation_size('deliveries') + pg_total_relation_size('attempts')"); fi

expect_exit 0 "hookd prune --dry-run" "$HOOKD" prune --db "$DB" --before 1d --dry-run
expect_match "$TMP/out" '^would remove 1480 events$' "  counts the old events that owe nothing (1500 - 20)"
expect_eq "$(sql 'SELECT count(*) FROM events')" 1550 "  and removes nothing"

cat >"$TMP/hookd.conf" <<CONF
[server]
listen = 127.0.0.1:0
[store]
url = $DB
retain = 1d
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
CONF
start_server "$TMP/serve.log" -c "$TMP/hookd.conf" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
for _ in $(seq 300); do [ "$(metric hookd_pruned_events_total)" = 1480 ] && break; sleep 0.1; done
expect_eq "$(metric hookd_pruned_events_total)" 1480 "retain = 1d: the daemon prunes the 1480 old events that owe nothing"
expect_eq "$(sql "SELECT count(*) FROM events WHERE id LIKE 'old-%'")" 20 "  the 20 with a delivery still owed stay"
expect_eq "$(sql "SELECT count(*) FROM events WHERE id LIKE 'new-%'")" 50 "  the new events stay"
expect_eq "$(sql "SELECT count(*) FROM deliveries WHERE state = 'succeeded'")/$(sql 'SELECT count(*) FROM attempts')" "0/0" \
  "  their deliveries and attempts went with them"
expect_exit 0 "and the daemon still receives" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --retry-delay 0
# The space goes back a step (STORE_VACUUM_PAGES) at a time: wait for all of it.
[ "$STORE" = sqlite ] && for _ in $(seq 300); do [ "$(metric hookd_store_bytes)" -gt 0 ] 2>/dev/null && [ "$(metric hookd_store_bytes)" -lt $((before / 2)) ] && break; sleep 0.1; done
after=$(metric hookd_store_bytes)
echo "# store: $((before / 1024)) KiB before, $((after / 1024)) KiB after pruning"
if [ "$STORE" = sqlite ]; then # PostgreSQL reuses freed space (autovacuum) rather than shrinking
  [ "$after" -lt $((before / 2)) ]; expect_eq $? 0 "the space goes back to the file system (incremental vacuum)"
fi
age=$(metric hookd_oldest_event_age_seconds)
[ "$age" -ge 172000 ] && [ "$age" -le 173500 ]; expect_eq $? 0 "the oldest event's age is a metric ($age s: an owed one, two days old)"
expect_match "$TMP/serve.log" '"msg":"started".*"keeps":"1 days 0 h"' "the start line says how long events are kept"
stop_server; expect_eq $? 0 "SIGTERM: exit 0"

# By hand, and through a cut-off in ISO 8601.
expect_exit 0 "hookd prune --before an ISO 8601 time" "$HOOKD" prune --db "$DB" --before "$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)"
expect_match "$TMP/out" '^removed 51 events$' "  removes what owes nothing (50 new + the one sent), keeps the owed"
expect_exit 2 "--before is required" "$HOOKD" prune --db "$DB"
expect_exit 1 "[store] retain must be at least 1h" sh -c "sed -i 's/^retain = 1d/retain = 10m/' \"$TMP/hookd.conf\" && \"$HOOKD\" check-config -c \"$TMP/hookd.conf\""
expect_match "$TMP/err" 'retain: expected a duration of at least 1h' "  says so"
finish
