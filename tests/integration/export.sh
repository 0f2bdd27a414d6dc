#!/usr/bin/env bash
# export.sh - hookd events export | import, and hookd migrate (issue #10, export; issue #8, migrate):
# a round trip keeps every field and every body byte for byte (a binary one included), importing
# twice adds nothing, a bad line is named by its number and then nothing is stored, and a new
# store is created by import or by hookd migrate.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
A="$TMP/a.db"
start_server "$TMP/serve.log" --listen 127.0.0.1:0 --db "$A" --telnyx-public-key "$K_public_key" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" 300 4 10 "$TMP/load.jsonl" >/dev/null
stop_server
# One event whose body is not UTF-8 (stored raw by an unsigned endpoint), straight into the file.
sqlite3 "$A" "INSERT INTO events (id, endpoint, scheme, received_at_us, last_received_at_us, parse_status, parse_error, body) VALUES ('sha256:bin', 'open', 'none', 1700000000000000, 1700000000000000, 'unparsed', 'not JSON', X'00FF80C3287A')"

expect_exit 0 "hookd events export" "$HOOKD" events export --db "$A"
cp "$TMP/out" "$TMP/all.jsonl"
expect_eq "$(wc -l <"$TMP/all.jsonl")" 301 "one line per event (300 + 1)"
expect_match "$TMP/all.jsonl" '"id":"sha256:bin".*"body_base64":"AP\+Awyh6"' "a body that is not UTF-8 goes as body_base64"
expect_exit 0 "export --type --since" "$HOOKD" events export --db "$A" --type siprec.failed --since 1h
expect_eq "$(wc -l <"$TMP/out")" 300 "  filters like events list"

B="$TMP/b.db"
expect_exit 0 "import into a new store (it is created)" "$HOOKD" events import "$TMP/all.jsonl" --db "$B"
expect_match "$TMP/out" '^imported 301 events \(0 were stored already\)$' "  all 301"
expect_exit 0 "import twice, from stdin" sh -c "\"$HOOKD\" events import --db \"$B\" <\"$TMP/all.jsonl\""
expect_match "$TMP/out" '^imported 0 events \(301 were stored already\)$' "  adds nothing"
cols="id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us, call_control_id, call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type, parse_status, parse_error, hex(body)"
expect_eq "$(sqlite3 "$B" "SELECT $cols FROM events ORDER BY id" | md5sum)" "$(sqlite3 "$A" "SELECT $cols FROM events ORDER BY id" | md5sum)" \
  "every field and every body byte survives the round trip (duplicates' counts too)"
expect_eq "$(sqlite3 "$B" 'SELECT count(*) FROM deliveries')" 0 "imported events get no deliveries"

head -3 "$TMP/all.jsonl" >"$TMP/bad.jsonl"
printf '{"id":"x","endpoint":"e"}\nnot json\n' >>"$TMP/bad.jsonl"
sed -n 4p "$TMP/all.jsonl" >>"$TMP/bad.jsonl"
C="$TMP/c.db"
expect_exit 1 "an import with bad lines" "$HOOKD" events import "$TMP/bad.jsonl" --db "$C"
expect_match "$TMP/err" 'bad.jsonl:4: id, endpoint and scheme are required' "  names the first bad line and why"
expect_match "$TMP/err" 'bad.jsonl:5: not a JSON object' "  and the next"
expect_match "$TMP/err" '2 bad lines: nothing was stored' "  and says nothing was stored"
expect_eq "$(sqlite3 "$C" 'SELECT count(*) FROM events')" 0 "  and nothing was"

M="$TMP/m/hookd.db"
expect_exit 0 "hookd migrate creates a store" "$HOOKD" migrate --db "$M"
expect_match "$TMP/out" "^sqlite:$M: schema up to date$" "  and says so"
expect_eq "$(sqlite3 "$M" 'PRAGMA user_version')" 4 "  at the current schema"
expect_exit 0 "hookd migrate again" "$HOOKD" migrate --db "$M"
sqlite3 "$M" 'PRAGMA user_version = 99'
expect_exit 1 "a store newer than this hookd is refused" "$HOOKD" migrate --db "$M"
expect_match "$TMP/err" 'schema version 99; this hookd knows up to 4' "  with both versions"
finish
