#!/usr/bin/env bash
# export.sh - hookd events export | import, and hookd migrate (issue #10, export; issue #8, migrate):
# a round trip keeps every field and every body byte for byte (a binary one included), importing
# twice adds nothing, a bad line is named by its number and then nothing is stored, and a new
# store is created by import or by hookd migrate.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
new_store a
A=$STORE_URL
start_server "$TMP/serve.log" --listen 127.0.0.1:0 --db "$A" --telnyx-public-key "$K_public_key" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" 300 4 10 "$TMP/load.jsonl" >/dev/null
stop_server
# One event whose body is not UTF-8 (stored raw by an unsigned endpoint), straight into the file.
if [ "$STORE" = postgres ]; then BIN="'\\x00FF80C3287A'"; else BIN="X'00FF80C3287A'"; fi
sql_in a "INSERT INTO events (id, endpoint, scheme, received_at_us, last_received_at_us, parse_status, parse_error, body) VALUES ('sha256:bin', 'open', 'none', 1700000000000000, 1700000000000000, 'unparsed', 'not JSON', $BIN)" >/dev/null

expect_exit 0 "hookd events export" "$HOOKD" events export --db "$A"
cp "$TMP/out" "$TMP/all.jsonl"
expect_eq "$(wc -l <"$TMP/all.jsonl")" 301 "one line per event (300 + 1)"
expect_match "$TMP/all.jsonl" '"id":"sha256:bin".*"body_base64":"AP\+Awyh6"' "a body that is not UTF-8 goes as body_base64"
expect_exit 0 "export --type --since" "$HOOKD" events export --db "$A" --type siprec.failed --since 1h
expect_eq "$(wc -l <"$TMP/out")" 300 "  filters like events list"

new_store b
B=$STORE_URL
[ "$STORE" = postgres ] && "$HOOKD" migrate --db "$B" >/dev/null # a database must exist; import makes the tables
expect_exit 0 "import into a new store (it is created)" "$HOOKD" events import "$TMP/all.jsonl" --db "$B"
expect_match "$TMP/out" '^imported 301 events \(0 were stored already\)$' "  all 301"
expect_exit 0 "import twice, from stdin" sh -c "\"$HOOKD\" events import --db \"$B\" <\"$TMP/all.jsonl\""
expect_match "$TMP/out" '^imported 0 events \(301 were stored already\)$' "  adds nothing"
cols="id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us, call_control_id, call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type, parse_status, parse_error, hex(body)"
expect_eq "$(sql_in b "SELECT $cols FROM events ORDER BY id" | md5sum)" "$(sql_in a "SELECT $cols FROM events ORDER BY id" | md5sum)" \
  "every field and every body byte survives the round trip (duplicates' counts too)"
expect_eq "$(sql_in b 'SELECT count(*) FROM deliveries')" 0 "imported events get no deliveries"

head -3 "$TMP/all.jsonl" >"$TMP/bad.jsonl"
printf '{"id":"x","endpoint":"e"}\nnot json\n' >>"$TMP/bad.jsonl"
sed -n 4p "$TMP/all.jsonl" >>"$TMP/bad.jsonl"
new_store c
C=$STORE_URL
[ "$STORE" = postgres ] && "$HOOKD" migrate --db "$C" >/dev/null
expect_exit 1 "an import with bad lines" "$HOOKD" events import "$TMP/bad.jsonl" --db "$C"
expect_match "$TMP/err" 'bad.jsonl:4: id, endpoint and scheme are required' "  names the first bad line and why"
expect_match "$TMP/err" 'bad.jsonl:5: not a JSON object' "  and the next"
expect_match "$TMP/err" '2 bad lines: nothing was stored' "  and says nothing was stored"
expect_eq "$(sql_in c 'SELECT count(*) FROM events')" 0 "  and nothing was"

if [ "$STORE" = sqlite ]; then
M="$TMP/m/hookd.db"
expect_exit 0 "hookd migrate creates a store" "$HOOKD" migrate --db "$M"
expect_match "$TMP/out" "^sqlite:$M: schema up to date$" "  and says so"
expect_eq "$(sqlite3 "$M" 'PRAGMA user_version')" 10 "  at the current schema"
expect_eq "$(sqlite3 "$M" 'PRAGMA page_size')" 2048 "  with 2 KiB pages (a new store)"
sqlite3 "$TMP/k4.db" 'PRAGMA page_size = 4096; PRAGMA journal_mode = WAL' >/dev/null
expect_exit 0 "a file already in 4 KiB pages is made a store" "$HOOKD" migrate --db "$TMP/k4.db"
expect_exit 0 "  and takes events" "$HOOKD" events import "$TMP/all.jsonl" --db "$TMP/k4.db"
expect_eq "$(sqlite3 "$TMP/k4.db" 'PRAGMA page_size')/$(sqlite3 "$TMP/k4.db" 'SELECT count(*) > 0 FROM events')" "4096/1" \
  "  in the pages it was made with (a store keeps its page size)"
expect_exit 0 "hookd migrate again" "$HOOKD" migrate --db "$M"
sqlite3 "$M" 'PRAGMA user_version = 99'
expect_exit 1 "a store newer than this hookd is refused" "$HOOKD" migrate --db "$M"
expect_match "$TMP/err" 'schema version 99; this hookd knows up to 10' "  with both versions"

# A store of schema 5 (the events table with UNIQUE (id, endpoint) and the two call indexes, as
# hookd 0.1 before issue #11 made it), holding events and a delivery, is upgraded in place.
U="$TMP/u.db"
cp "$TMP/a.db" "$U"
sqlite3 "$U" "PRAGMA foreign_keys = OFF; BEGIN;
  CREATE TABLE events_v5 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, endpoint TEXT NOT NULL, scheme TEXT NOT NULL,
    event_type TEXT, occurred_at TEXT, occurred_at_us INTEGER, received_at_us INTEGER NOT NULL,
    last_received_at_us INTEGER NOT NULL, call_control_id TEXT, call_session_id TEXT, call_leg_id TEXT,
    connection_id TEXT, failure_cause TEXT, hangup_cause TEXT, attempts INTEGER NOT NULL DEFAULT 1,
    meta_attempt INTEGER, delivered_to TEXT, remote_addr TEXT, content_type TEXT,
    parse_status TEXT NOT NULL CHECK (parse_status IN ('parsed', 'unparsed')), parse_error TEXT,
    body BLOB NOT NULL, UNIQUE (id, endpoint));
  INSERT INTO events_v5 SELECT seq, id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us,
    last_received_at_us, call_control_id, call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause,
    attempts, meta_attempt, delivered_to, remote_addr, content_type, parse_status, parse_error, body FROM events;
  DROP TABLE events; ALTER TABLE events_v5 RENAME TO events; DROP TABLE id_blocks; DROP TABLE id_bloom;
  DROP TABLE event_keys; DROP TABLE dedupe_state; DROP TABLE event_types; DROP TABLE event_ids;
  DELETE FROM sqlite_sequence;
  CREATE INDEX events_by_type ON events (event_type, received_at_us);
  CREATE INDEX events_by_session ON events (call_session_id, occurred_at_us);
  CREATE INDEX events_by_control ON events (call_control_id, occurred_at_us);
  CREATE INDEX events_by_received ON events (received_at_us);
  INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us, updated_us)
    SELECT max(seq), 'h', 'dead', 0, 0, 0 FROM events;
  PRAGMA user_version = 5; COMMIT;"
before=$(sqlite3 "$U" "SELECT seq, $cols FROM events ORDER BY seq" | md5sum)
expect_exit 1 "a read that needs the newer schema, before the store is migrated" "$HOOKD" events show some-id --db "$U"
expect_match "$TMP/err" 'the store is at schema version 5 and this hookd reads 10: run hookd migrate on it, or restart hookd serve' "  says so, not just \"no such table\""
expect_exit 0 "  a backup still works on it (before an upgrade)" "$HOOKD" backup --to "$TMP/u-before.db" --db "$U"
expect_eq "$(sqlite3 "$U" 'PRAGMA user_version')" 5 "  and neither migrated it"
expect_exit 0 "a store of schema 5 is upgraded by hookd migrate" "$HOOKD" migrate --db "$U"
expect_eq "$(sqlite3 "$U" 'PRAGMA user_version')/$(sqlite3 "$U" 'PRAGMA integrity_check')/$(sqlite3 "$U" 'PRAGMA foreign_key_check' | wc -l)" "10/ok/0" \
  "  to 10, intact, every delivery's event still there"
expect_eq "$(sqlite3 "$U" "SELECT seq, $cols FROM events ORDER BY seq" | md5sum)" "$before" "  every event kept as it was, seq included"
expect_eq "$(sqlite3 "$U" "SELECT group_concat(name, ' ') FROM (SELECT name FROM pragma_index_list('events') ORDER BY name)")" \
  "events_by_received" "  with no index but the received time's (schema 10; none keyed by a random id since 9)"
"$HOOKD" events export --db "$U" >"$TMP/u-all.jsonl" 2>/dev/null
expect_exit 0 "  importing every event again" "$HOOKD" events import "$TMP/u-all.jsonl" --db "$U"
expect_match "$TMP/out" "^imported 0 events \\($(sqlite3 "$U" 'SELECT count(*) FROM events') were stored already\\)$" "  finds every one of them stored (schema 9 deduplicates without an index)"
call=$(sqlite3 "$U" "SELECT call_session_id FROM events WHERE call_session_id IS NOT NULL LIMIT 1")
expect_exit 0 "  calls show answers from it" "$HOOKD" calls show "$call" --db "$U" --json
expect_eq "$(grep -c '"event_type"' "$TMP/out")" "$(sqlite3 "$U" "SELECT count(*) FROM events WHERE call_session_id = '$call'")" "  with every event of the call"
control=$(sqlite3 "$U" "SELECT call_control_id FROM events WHERE call_session_id = '$call' LIMIT 1")
cp "$TMP/out" "$TMP/by-session"
expect_exit 0 "  and by the call's control id (found from the newest event back)" "$HOOKD" calls show "$control" --db "$U" --json
expect_eq "$(md5sum <"$TMP/out")" "$(md5sum <"$TMP/by-session")" "  the same timeline"
expect_eq "$(sqlite3 "$U" "SELECT group_concat(name, ' ') FROM pragma_index_info('events_by_received')")" \
  "received_at_us" "  the received-time index holds the time alone (schema 10: the ids' digests are in event_ids)"
# Schema 7 found an id, a control id or a leg id by its last six characters, schema 10 by its
# digest, then compares the whole: ids that share a tail must not be mistaken for one another.
sqlite3 "$U" "INSERT INTO events (id, endpoint, scheme, event_type, received_at_us, last_received_at_us,
    call_session_id, call_control_id, call_leg_id, parse_status, body) VALUES
  ('evt-a-same6', 'telnyx', 'telnyx', 'call.initiated', 1700000000000001, 1700000000000001, 'sess-one', 'v3:one-tail01', 'leg-one-tail02', 'parsed', '{\"n\":1}'),
  ('evt-b-same6', 'telnyx', 'telnyx', 'call.initiated', 1700000000000002, 1700000000000002, 'sess-two', 'v3:two-tail02', 'leg-two-tail01', 'parsed', '{\"n\":2}')"
expect_exit 0 "events show finds an id by its tail" "$HOOKD" events show evt-a-same6 --raw --db "$U"
expect_eq "$(cat "$TMP/out")" '{"n":1}' "  and shows that event only, not the one whose id ends alike"
expect_exit 1 "an id that only ends like a stored one" "$HOOKD" events show xxx-same6 --db "$U"
for q in v3:one-tail01 leg-one-tail02; do
  expect_exit 0 "calls show $q" "$HOOKD" calls show "$q" --db "$U" --json
  expect_eq "$(grep -c evt-a-same6 "$TMP/out")/$(grep -c evt-b-same6 "$TMP/out")" "1/0" "  is the call it belongs to, not the one whose ids end alike"
done
expect_exit 0 "calls show by the other call's leg id" "$HOOKD" calls show leg-two-tail01 --db "$U" --json
expect_eq "$(grep -c evt-b-same6 "$TMP/out")/$(grep -c evt-a-same6 "$TMP/out")" "1/0" "  finds that call"
# A cut list counts what it leaves out only up to STORE_COUNT_CAP (10,000).
sqlite3 "$U" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10100)
  INSERT INTO events (id, endpoint, scheme, event_type, received_at_us, last_received_at_us, parse_status, body)
  SELECT 'bulk-' || i, 'telnyx', 'telnyx', 'bulk.test', 1700000000000000 + i, 1700000000000000 + i, 'parsed', '{}' FROM c"
expect_exit 0 "events list over 10,000 matches" "$HOOKD" events list --type bulk.test --db "$U"
expect_match "$TMP/err" '^hookd events: \.\.\. more than 9950 more; showing the newest 50 \(use --limit\)$' "  says more than the cap, without counting them all"
expect_eq "$(grep -c bulk- "$TMP/out")" 50 "  and shows the newest 50"
# Schema 8: events written by other means than hookd (the bulk above) are summarised when the
# store is next opened for writing; until then they are found by scanning them.
expect_exit 0 "an event not summarised yet is found" "$HOOKD" events show bulk-5000 --raw --db "$U"
expect_eq "$(sqlite3 "$U" 'SELECT count(*) FROM id_blocks')" 0 "  (no summaries yet)"
expect_exit 0 "hookd migrate summarises the complete blocks of ids" "$HOOKD" migrate --db "$U"
expect_eq "$(sqlite3 "$U" 'SELECT count(*) || "/" || min(block) || "/" || max(block) FROM id_blocks')/$(sqlite3 "$U" 'SELECT count(*) FROM id_bloom')" \
  "$(sqlite3 "$U" 'SELECT (max(seq) / 4096) || "/0/" || (max(seq) / 4096 - 1) FROM events')/$(sqlite3 "$U" 'SELECT max(seq) / 4096 * 32 FROM events')" \
  "  one summary of 32 slices per block of 4,096 seqs, the newest block left open"
for id in bulk-1 bulk-4000 bulk-8100 bulk-10100 evt-a-same6; do
  expect_exit 0 "  $id found through the summaries" "$HOOKD" events show "$id" --json --db "$U"
  expect_eq "$(grep -c "\"$id\"" "$TMP/out")" 1 "    that event"
done
expect_exit 1 "  an absent id is not" "$HOOKD" events show bulk-10101 --db "$U"
# Schema 10: events of a type come from event_types in the summarised blocks and from their rows
# in the newest; one list crosses both, newest first.
expect_eq "$(sqlite3 "$U" 'SELECT count(*) FROM event_types WHERE event_type = "bulk.test"')" \
  "$(sqlite3 "$U" 'SELECT count(*) FROM events WHERE event_type = "bulk.test" AND seq < (SELECT (max(block) + 1) * 4096 FROM id_blocks)')" \
  "  event_types holds the type of every summarised event"
expect_exit 0 "events list --type over summarised and newer events" "$HOOKD" events list --type bulk.test --limit 20000 --json --db "$U"
expect_eq "$(grep -o '"id": "bulk-[0-9]*"' "$TMP/out" | sed -n '1p;$p' | tr '\n' ' ')$(grep -c '"id": "bulk-' "$TMP/out")" \
  '"id": "bulk-10100" "id": "bulk-1" 10100' "  every one of them, newest first"
for q in v3:one-tail01 leg-one-tail02; do
  expect_exit 0 "  calls show $q through the summaries" "$HOOKD" calls show "$q" --db "$U" --json
  expect_eq "$(grep -c evt-a-same6 "$TMP/out")/$(grep -c evt-b-same6 "$TMP/out")" "1/0" "    the call it belongs to"
done
sqlite3 "$U" "INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us, updated_us)
  SELECT seq, 'bulk', 'dead', 0, 0, 0 FROM events WHERE event_type = 'bulk.test'"
expect_exit 0 "deliveries list over 10,000 matches" "$HOOKD" deliveries list --handler bulk --db "$U"
expect_match "$TMP/err" '^hookd deliveries: \.\.\. more than 9950 more; showing the newest 50 \(use --limit\)$' "  says more than the cap too"
# Schema 9 deduplicates without an index: the keys of the newest 65,536 events in memory, older
# ones in event_keys. A store of 80,000 events written by SQL (no keys yet: an upgrade, another
# program) gets them all at hookd serve's start; an old event delivered again is a duplicate.
D="$TMP/dedupe.db"
"$HOOKD" migrate --db "$D" >/dev/null
sqlite3 "$D" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 80000)
  INSERT INTO events (id, endpoint, scheme, event_type, received_at_us, last_received_at_us, parse_status, body)
  SELECT 'seed-' || i, 'telnyx', 'telnyx', 'call.hangup', 1700000000000000 + i, 1700000000000000 + i, 'parsed', '{}' FROM c"
eval "$("$HOOKD" keygen | sed 's/^/D_/')"
start_server "$TMP/dedupe.log" --listen 127.0.0.1:0 --db "$D" --telnyx-public-key "$D_public_key" || exit 1
expect_eq "$(sqlite3 "$D" 'SELECT count(*) || "/" || (SELECT upto FROM dedupe_state) FROM event_keys')" "80000/80000" \
  "hookd serve moves the keys of 80,000 events written without them into event_keys at start"
# What that catch-up wrote (summaries, type entries, digests and keys: ~7 MB of WAL here) is
# checkpointed before the first request, not left to the small checkpoints between batches.
expect_eq "$(( $(stat -c %s "$D-wal" 2>/dev/null || echo 0) < 1000000 ))" 1 "  and copies it into the database before serving: the WAL is not left holding it ($(stat -c %s "$D-wal" 2>/dev/null || echo 0) bytes)"
for id in seed-1 seed-40000 seed-80000; do
  printf '{"data":{"record_type":"event","event_type":"call.hangup","id":"%s","occurred_at":"2026-01-01T00:00:00.000000Z","payload":{}},"meta":{"attempt":2}}' "$id" >"$TMP/again.json"
  post_telnyx /webhooks/telnyx "$TMP/again.json" "$D_private_key"
  expect_eq "$(cat "$TMP/status") $(grep -o '"status":"[a-z]*"' "$TMP/resp")" '200 "status":"duplicate"' "  $id delivered again: a duplicate"
done
printf '{"data":{"record_type":"event","event_type":"call.hangup","id":"seed-80001","payload":{}}}' >"$TMP/new.json"
post_telnyx /webhooks/telnyx "$TMP/new.json" "$D_private_key"
expect_eq "$(cat "$TMP/status") $(grep -o '"status":"[a-z]*"' "$TMP/resp")" '200 "status":"accepted"' "  a new id is accepted"
expect_eq "$(sqlite3 "$D" "SELECT count(*) || '/' || sum(attempts) FROM events")" "80001/80004" "  one row each, the redeliveries counted on theirs"
expect_eq "$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^hookd_store_dedupe_memory_keys //p')" 1 \
  "  only the new event's key waits in memory"
stop_server
else
new_store m
M=$STORE_URL
expect_exit 0 "hookd migrate creates the tables" "$HOOKD" migrate --db "$M"
expect_match "$TMP/out" ": schema up to date$" "  and says so"
expect_eq "$(sql_in m 'SELECT max(version) FROM hookd_schema')" 3 "  at the current schema"
expect_eq "$(sql_in m "SELECT string_agg(indexrelid::regclass::text || '=' || indisvalid, ' ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'events'::regclass AND indexrelid::regclass::text LIKE 'events_by_%'")" \
  "events_by_control=true events_by_leg=true events_by_received=true events_by_session=true events_by_type=true" \
  "  every id calls show looks for is indexed (3: the leg id, built concurrently)"
expect_exit 0 "hookd migrate again" "$HOOKD" migrate --db "$M"
expect_eq "$(sql_in m 'SELECT count(*) FROM hookd_schema')" 3 "  changes nothing"
# An interrupted concurrent build leaves an invalid index behind; migration 3 builds it again.
sql_in m "DELETE FROM hookd_schema WHERE version = 3; UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'events_by_leg'::regclass" >/dev/null
expect_exit 0 "migration 3 after an interrupted index build" "$HOOKD" migrate --db "$M"
expect_eq "$(sql_in m "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_by_leg'::regclass")/$(sql_in m 'SELECT count(*) FROM hookd_schema')" "t/3" "  the index is valid again, the version recorded"
SECRET_URL="postgresql://hookd:pa55word@/$(pg_db m)?host=$PG_HOST"
expect_exit 0 "a URL with a password (trust auth ignores it)" "$HOOKD" migrate --db "$SECRET_URL"
expect_match "$TMP/out" '^postgresql://hookd:\*\*\*@/' "  is shown with the password masked"
expect_no_match "$TMP/out" 'pa55word' "  and never in clear"
expect_exit 0 "a password given as a URL parameter" "$HOOKD" migrate --db "postgresql:///$(pg_db m)?host=$PG_HOST&user=hookd&password=pa55word"
expect_match "$TMP/out" '&password=\*\*\*: schema up to date$' "  is masked too"
expect_no_match "$TMP/out" 'pa55word' "  (not in clear)"
sql_in m "INSERT INTO hookd_schema (version, min_compatible, by_hookd) VALUES (4, 1, 'a newer hookd')" >/dev/null
expect_exit 0 "a newer schema that this hookd is still compatible with runs (rolling upgrade)" "$HOOKD" migrate --db "$M"
sql_in m "INSERT INTO hookd_schema (version, min_compatible, by_hookd) VALUES (99, 99, 'a newer hookd')" >/dev/null
expect_exit 1 "a schema newer than this hookd can run is refused" "$HOOKD" migrate --db "$M"
expect_match "$TMP/err" 'schema version 99 \(compatible from 99\); this hookd knows up to 3' "  with both versions"
expect_exit 1 "  and events list refuses it too" "$HOOKD" events list --db "$M"
expect_match "$TMP/err" 'needs a newer hookd' "  saying why"
new_store race
expect_exit 0 "four processes migrating one new database at once, each succeeds" sh -c "pids=; for i in 1 2 3 4; do \"$HOOKD\" migrate --db '$STORE_URL' >/dev/null & pids=\"\$pids \$!\"; done; rc=0; for p in \$pids; do wait \$p || rc=1; done; exit \$rc"
expect_eq "$(sql_in race 'SELECT count(*), max(version) FROM hookd_schema')" "3|3" "  migrate it once (an advisory lock)"
fi
finish
