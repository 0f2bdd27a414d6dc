#!/usr/bin/env bash
# backup.sh - hookd backup while hookd serve keeps receiving (issue #10, backups): every event
# acknowledged before the backup began is in the copy, the copy stands alone (no WAL beside it)
# and the read commands open it, an existing file is never overwritten, and the load goes on.
. "$(dirname "$0")/lib.sh"
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
DB="$TMP/hookd.db"
start_server "$TMP/serve.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"

"$NODE" "$CLIENT" load "http://127.0.0.1:$PORT/webhooks/telnyx" "$K_private_key" 4000 8 0 "$TMP/load.jsonl" >"$TMP/load.summary" &
LOADER=$!
for _ in $(seq 400); do [ "$(cat "$TMP/load.jsonl" 2>/dev/null | wc -l)" -ge 1000 ] && break; sleep 0.05; done
grep '"status":200' "$TMP/load.jsonl" | sed 's/.*"id":"\([^"]*\)".*/\1/' >"$TMP/acked-before"
expect_exit 0 "hookd backup while the load runs" "$HOOKD" backup --db "$DB" --to "$TMP/copy.db"
expect_match "$TMP/out" "^backed up to $TMP/copy.db$" "it says where"
wait "$LOADER"
expect_match "$TMP/load.summary" '"ok":4000,' "the load went on: 4000 of 4000 acknowledged"

before=$(wc -l <"$TMP/acked-before")
sqlite3 "$TMP/copy.db" 'SELECT id FROM events' | sort >"$TMP/in-copy"
missing=$(sort "$TMP/acked-before" | comm -23 - "$TMP/in-copy" | wc -l)
echo "# $before events acknowledged before the backup began; $(wc -l <"$TMP/in-copy") in the copy; $missing missing"
[ "$before" -ge 1000 ]; expect_eq $? 0 "the backup ran under load (over 1000 events acknowledged before it)"
expect_eq "$missing" 0 "every event acknowledged before the backup began is in the copy"
expect_eq "$(sqlite3 "$TMP/copy.db" 'PRAGMA integrity_check')" ok "the copy passes integrity_check"
[ ! -e "$TMP/copy.db-wal" ] && [ ! -e "$TMP/copy.db.partial" ]; expect_eq $? 0 "the copy stands alone: no -wal, no .partial"
expect_exit 0 "the read commands open the copy" "$HOOKD" stats --db "$TMP/copy.db"
expect_exit 1 "a backup never overwrites a file" "$HOOKD" backup --db "$DB" --to "$TMP/copy.db"
expect_match "$TMP/err" 'copy.db exists: a backup never overwrites a file' "  and says why"
expect_exit 2 "--to is required" "$HOOKD" backup --db "$DB"
expect_exit 1 "a backup into a directory that does not exist fails" "$HOOKD" backup --db "$DB" --to "$TMP/nope/copy.db"
[ ! -e "$TMP/nope" ]; expect_eq $? 0 "  and leaves nothing"

# Restore, as hookd(1) says: stop, copy over, start; the events are there.
stop_server; expect_eq $? 0 "SIGTERM: exit 0"
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$TMP/copy.db" "$DB"
start_server "$TMP/serve2.log" --listen 127.0.0.1:0 --db "$DB" --telnyx-public-key "$K_public_key" || exit 1
expect_eq "$(sqlite3 "$DB" 'SELECT count(*) FROM events')" "$(wc -l <"$TMP/in-copy")" "a restored store starts with the copy's events"
expect_exit 0 "and receives again" "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --retry-delay 0
stop_server; expect_eq $? 0 "SIGTERM: exit 0"
finish
