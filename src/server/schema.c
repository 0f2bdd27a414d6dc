/*
 * schema.c - the tables and their migrations. Append a migration; never edit a shipped one.
 */
#include <stdio.h>

#include "schema.h"

static const char *const migrations[] = {
    /* 1: events, one row per (event id, endpoint), the raw body byte for byte. seq follows commit
     * order, so "newest first" needs no index on received_at_us. Every index costs a random page
     * write per insert (ids are random UUIDs), so there are only those the commands need. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  scheme TEXT NOT NULL,"
    "  event_type TEXT,"
    "  occurred_at TEXT,"
    "  occurred_at_us INTEGER,"
    "  received_at_us INTEGER NOT NULL,"
    "  last_received_at_us INTEGER NOT NULL,"
    "  call_control_id TEXT,"
    "  call_session_id TEXT,"
    "  call_leg_id TEXT,"
    "  connection_id TEXT,"
    "  failure_cause TEXT,"
    "  hangup_cause TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 1,"
    "  meta_attempt INTEGER,"
    "  delivered_to TEXT,"
    "  remote_addr TEXT,"
    "  content_type TEXT,"
    "  parse_status TEXT NOT NULL CHECK (parse_status IN ('parsed', 'unparsed')),"
    "  parse_error TEXT,"
    "  body BLOB NOT NULL,"
    "  UNIQUE (id, endpoint)"
    ");"
    "CREATE INDEX events_by_type ON events (event_type, received_at_us);"
    "CREATE INDEX events_by_session ON events (call_session_id, occurred_at_us);"
    "CREATE INDEX events_by_control ON events (call_control_id, occurred_at_us);"
    "CREATE TABLE probe (x BLOB);",
    /* 2: dispatch. A delivery is one handler's duty towards one event, written in the event's
     * transaction; each try of it is an attempt. */
    "CREATE TABLE deliveries ("
    "  id INTEGER PRIMARY KEY,"
    "  event_seq INTEGER NOT NULL REFERENCES events (seq),"
    "  handler TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'succeeded', 'retry', 'dead')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_us INTEGER NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  updated_us INTEGER NOT NULL,"
    "  call_key TEXT,"
    "  occurred_at_us INTEGER,"
    "  last_outcome TEXT"
    ");"
    /* Partial indexes: the owed deliveries in due order (the scheduler walks it, no sort), and
     * the dead ones (a gauge). Neither holds the succeeded majority. */
    "CREATE INDEX deliveries_owed ON deliveries (next_attempt_us)"
    "  WHERE state IN ('pending', 'retry', 'in_flight');"
    "CREATE INDEX deliveries_dead ON deliveries (handler) WHERE state = 'dead';"
    "CREATE INDEX deliveries_by_event ON deliveries (event_seq);"
    "CREATE INDEX deliveries_by_call ON deliveries (handler, call_key, occurred_at_us);"
    "CREATE TABLE attempts ("
    "  id INTEGER PRIMARY KEY,"
    "  delivery_id INTEGER NOT NULL REFERENCES deliveries (id),"
    "  attempt INTEGER NOT NULL,"
    "  started_us INTEGER NOT NULL,"
    "  finished_us INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  http_status INTEGER,"
    "  exit_code INTEGER,"
    "  error TEXT,"
    "  output TEXT"
    ");"
    "CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt);",
    /* 3: dispatch that cannot stall (issue #7). Two new states: 'waiting', an owed delivery of an
     * order = call handler parked behind the head of its call (next_attempt_us is a recheck time,
     * so the due scan passes over it), and 'replayed', a dead delivery that `hookd replay` queued
     * again. The due index leads with the handler, so each handler's scan sees only its own rows;
     * the lane index finds a call's owed deliveries in order. SQLite cannot change a CHECK, so the
     * table is rebuilt (foreign keys are off during migrations; see schema_migrate). */
    "CREATE TABLE deliveries_v3 ("
    "  id INTEGER PRIMARY KEY,"
    "  event_seq INTEGER NOT NULL REFERENCES events (seq),"
    "  handler TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending', 'waiting', 'in_flight', 'succeeded', 'retry',"
    "    'dead', 'replayed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_us INTEGER NOT NULL,"
    "  created_us INTEGER NOT NULL,"
    "  updated_us INTEGER NOT NULL,"
    "  call_key TEXT,"
    "  occurred_at_us INTEGER,"
    "  last_outcome TEXT"
    ");"
    "INSERT INTO deliveries_v3 SELECT id, event_seq, handler, state, attempts, next_attempt_us,"
    "  created_us, updated_us, call_key, occurred_at_us, last_outcome FROM deliveries;"
    "DROP TABLE deliveries;"
    "ALTER TABLE deliveries_v3 RENAME TO deliveries;"
    "CREATE INDEX deliveries_due ON deliveries (handler, next_attempt_us)"
    "  WHERE state IN ('pending', 'retry', 'waiting');"
    "CREATE INDEX deliveries_lane ON deliveries (handler, call_key, occurred_at_us, id)"
    "  WHERE state IN ('pending', 'retry', 'waiting', 'in_flight') AND call_key IS NOT NULL;"
    "CREATE INDEX deliveries_owed ON deliveries (created_us)"
    "  WHERE state IN ('pending', 'retry', 'waiting', 'in_flight');"
    "CREATE INDEX deliveries_dead ON deliveries (handler) WHERE state = 'dead';"
    "CREATE INDEX deliveries_by_event ON deliveries (event_seq);",
    /* 4: retention ([store] retain, hookd prune) walks events from the oldest received. The key
     * only grows, so each insert lands on the index's last page (cheap, shared by a batch). */
    "CREATE INDEX events_by_received ON events (received_at_us);",
    /* 5: the console's outcome chart reads the attempts of the last hour or day. The key only
     * grows, like 4's. */
    "CREATE INDEX attempts_by_finished ON attempts (finished_us);",
    /* 6: one random index instead of three (issue #11). Each index keyed by a random UUID costs
     * every event a page of its own, written to the WAL and again by the checkpoint (about
     * 8 KiB and 14 us of CPU per event and index, measured); there were three: UNIQUE (id,
     * endpoint), by session, by control id. Now UNIQUE (call_key, id, endpoint) deduplicates and
     * answers `calls show`, and a call's events sit side by side in it (an event retried by
     * Telnyx or a Standard Webhooks sender carries the same call ids; events without a call
     * share call_key ''). call_key is a generated column, stored nowhere but the index, so no
     * writer computes it. The type index becomes (event_type, seq): newest-first lists of one
     * type walk it without a sort. An id alone (`events show ID`) is found by scanning the
     * unique index, not the table. The table is rebuilt (SQLite cannot drop a UNIQUE
     * constraint); seq is kept, so deliveries still point at their events. */
    "CREATE TABLE events_v6 ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  scheme TEXT NOT NULL,"
    "  event_type TEXT,"
    "  occurred_at TEXT,"
    "  occurred_at_us INTEGER,"
    "  received_at_us INTEGER NOT NULL,"
    "  last_received_at_us INTEGER NOT NULL,"
    "  call_control_id TEXT,"
    "  call_session_id TEXT,"
    "  call_leg_id TEXT,"
    "  connection_id TEXT,"
    "  failure_cause TEXT,"
    "  hangup_cause TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 1,"
    "  meta_attempt INTEGER,"
    "  delivered_to TEXT,"
    "  remote_addr TEXT,"
    "  content_type TEXT,"
    "  parse_status TEXT NOT NULL CHECK (parse_status IN ('parsed', 'unparsed')),"
    "  parse_error TEXT,"
    "  body BLOB NOT NULL,"
    "  call_key TEXT NOT NULL"
    "    GENERATED ALWAYS AS (coalesce(call_session_id, call_control_id, call_leg_id, '')) VIRTUAL,"
    "  UNIQUE (call_key, id, endpoint)"
    ");"
    "INSERT INTO events_v6 (seq, id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
    "  received_at_us, last_received_at_us, call_control_id, call_session_id, call_leg_id,"
    "  connection_id, failure_cause, hangup_cause, attempts, meta_attempt, delivered_to,"
    "  remote_addr, content_type, parse_status, parse_error, body)"
    "  SELECT seq, id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us,"
    "  last_received_at_us, call_control_id, call_session_id, call_leg_id, connection_id,"
    "  failure_cause, hangup_cause, attempts, meta_attempt, delivered_to, remote_addr,"
    "  content_type, parse_status, parse_error, body FROM events ORDER BY seq;"
    "DROP TABLE events;"
    "ALTER TABLE events_v6 RENAME TO events;"
    "CREATE INDEX events_by_type ON events (event_type, seq);"
    "CREATE INDEX events_by_received ON events (received_at_us);",
    /* 7: an event id, or a control or leg id, found without an index of its own (issue #11).
     * Schema 6 left `events show ID` a scan of the call index (216 ms at a million events) and
     * `calls show CONTROL_ID` a walk back over the table (135 ms half way back). The last six
     * characters of each (generated columns, stored nowhere but the index) now ride in the
     * received-time index, which only grows, so each event adds ~20 bytes to the page a batch
     * shares instead of a random page: a scan compares them from the index alone and reads a
     * row only when a tail matches. */
    "ALTER TABLE events ADD COLUMN id_tail TEXT GENERATED ALWAYS AS (substr(id, -6)) VIRTUAL;"
    "ALTER TABLE events ADD COLUMN control_tail TEXT"
    "  GENERATED ALWAYS AS (substr(call_control_id, -6)) VIRTUAL;"
    "ALTER TABLE events ADD COLUMN leg_tail TEXT GENERATED ALWAYS AS (substr(call_leg_id, -6)) VIRTUAL;"
    "DROP INDEX events_by_received;"
    "CREATE INDEX events_by_received ON events (received_at_us, id_tail, control_tail, leg_tail);",
    /* 8: id summaries (idsum.h). Schema 7 found an id by scanning the received-time index (95 ms
     * for `events show` at a million events, 64 ms for `calls show` by a control id half way
     * back); each block of 4,096 seqs now gets a Bloom filter of its ids, in 32 slices of 512
     * bytes (one slice per block is read by a lookup: they sit together, keyed by slice first),
     * and the range of its received times, which bounds the scan of that block. Written once a
     * block is complete: 4 bytes an event. Existing events are summarised when the store is
     * next opened for writing (idsum_catch_up). */
    "CREATE TABLE id_blocks (block INTEGER PRIMARY KEY, lo_us INTEGER NOT NULL,"
    "  hi_us INTEGER NOT NULL);"
    "CREATE TABLE id_bloom (slice INTEGER NOT NULL, block INTEGER NOT NULL, bits BLOB NOT NULL,"
    "  PRIMARY KEY (slice, block)) WITHOUT ROWID;",
    /* 9: no index keyed by random ids left (dedupe.h). UNIQUE (call_key, id, endpoint) still
     * cost every event a random leaf, written to the WAL and again by the checkpoint: 8 KiB of
     * the 16 a request wrote. Deduplication moves to event_keys, filled in sorted steps (empty
     * here: the first writer to open the store fills it, hashing in C), and the calls of
     * `calls show` to the id summaries, which now hold each event's call key too (a session id,
     * as a rule; the summaries are made again at that first open). Deduplication is on (id,
     * endpoint) again, as PROTOCOLS.md says: schema 6 had added the call key only to cluster
     * the index. seq becomes AUTOINCREMENT: never reused, so a writer finds the rows another
     * added above the highest seq it saw. The table is rebuilt (a UNIQUE cannot be dropped). */
    "CREATE TABLE events_v9 ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  scheme TEXT NOT NULL,"
    "  event_type TEXT,"
    "  occurred_at TEXT,"
    "  occurred_at_us INTEGER,"
    "  received_at_us INTEGER NOT NULL,"
    "  last_received_at_us INTEGER NOT NULL,"
    "  call_control_id TEXT,"
    "  call_session_id TEXT,"
    "  call_leg_id TEXT,"
    "  connection_id TEXT,"
    "  failure_cause TEXT,"
    "  hangup_cause TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 1,"
    "  meta_attempt INTEGER,"
    "  delivered_to TEXT,"
    "  remote_addr TEXT,"
    "  content_type TEXT,"
    "  parse_status TEXT NOT NULL CHECK (parse_status IN ('parsed', 'unparsed')),"
    "  parse_error TEXT,"
    "  body BLOB NOT NULL,"
    "  call_key TEXT NOT NULL"
    "    GENERATED ALWAYS AS (coalesce(call_session_id, call_control_id, call_leg_id, '')) VIRTUAL,"
    "  id_tail TEXT GENERATED ALWAYS AS (substr(id, -6)) VIRTUAL,"
    "  control_tail TEXT GENERATED ALWAYS AS (substr(call_control_id, -6)) VIRTUAL,"
    "  leg_tail TEXT GENERATED ALWAYS AS (substr(call_leg_id, -6)) VIRTUAL,"
    "  key_tail TEXT GENERATED ALWAYS AS"
    "    (substr(coalesce(call_session_id, call_control_id, call_leg_id, ''), -6)) VIRTUAL"
    ");"
    "INSERT INTO events_v9 (seq, id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
    "  received_at_us, last_received_at_us, call_control_id, call_session_id, call_leg_id,"
    "  connection_id, failure_cause, hangup_cause, attempts, meta_attempt, delivered_to,"
    "  remote_addr, content_type, parse_status, parse_error, body)"
    "  SELECT seq, id, endpoint, scheme, event_type, occurred_at, occurred_at_us, received_at_us,"
    "  last_received_at_us, call_control_id, call_session_id, call_leg_id, connection_id,"
    "  failure_cause, hangup_cause, attempts, meta_attempt, delivered_to, remote_addr,"
    "  content_type, parse_status, parse_error, body FROM events ORDER BY seq;"
    "DROP TABLE events;"
    "ALTER TABLE events_v9 RENAME TO events;"
    "CREATE INDEX events_by_type ON events (event_type, seq);"
    "CREATE INDEX events_by_received ON events"
    "  (received_at_us, id_tail, control_tail, leg_tail, key_tail);"
    "CREATE TABLE event_keys (h INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (h, seq))"
    "  WITHOUT ROWID;"
    "CREATE TABLE dedupe_state (upto INTEGER NOT NULL);"
    "INSERT INTO dedupe_state (upto) VALUES (0);"
    "DELETE FROM id_blocks;"
    "DELETE FROM id_bloom;",
    /* 10: no index on the events table but the received time's (issue #11). A commit of ~27
     * events rewrote ~8 pages of the type index and the received-time index (their last leaves,
     * rebalanced as they fill, and parents), 0.6 KB a request in the WAL. Each complete block of
     * ids (idsum.h) now writes its events' entries once, in order, with its summary: event_types
     * (what events_by_type held) and event_ids (32-bit digests of the ids that the received-time
     * index carried the last six characters of since schema 7, compared by a block's scan before
     * it reads a row). Queries take the newest events, not in a block yet, from the rows. The
     * summaries are made again, with the entries, at the first open for writing. */
    "DROP INDEX events_by_type;"
    "DROP INDEX events_by_received;"
    "CREATE INDEX events_by_received ON events (received_at_us);"
    "ALTER TABLE events DROP COLUMN id_tail;"
    "ALTER TABLE events DROP COLUMN control_tail;"
    "ALTER TABLE events DROP COLUMN leg_tail;"
    "ALTER TABLE events DROP COLUMN key_tail;"
    "CREATE TABLE event_types (event_type TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  PRIMARY KEY (event_type, seq)) WITHOUT ROWID;"
    "CREATE TABLE event_ids (seq INTEGER PRIMARY KEY, id_d INTEGER, control_d INTEGER,"
    "  leg_d INTEGER, key_d INTEGER);"
    "DELETE FROM id_blocks;"
    "DELETE FROM id_bloom;",
};

int schema_version(void)
{
    return (int)(sizeof migrations / sizeof migrations[0]);
}

int schema_version_of(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Several processes may open one new store at once: the version is read inside the same
 * exclusive transaction that applies the migrations, so exactly one of them migrates and the
 * others find the work done. Foreign keys are off meanwhile (a migration may rebuild a table,
 * and the pragma cannot change inside a transaction); the caller turns them on afterwards. */
bool schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
    if (sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot lock the store to check its schema: %s", sqlite3_errmsg(db));
        return false;
    }
    int have = schema_version_of(db);
    bool ok = have >= 0 && have <= schema_version();
    if (have < 0)
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
    else if (have > schema_version())
        snprintf(err, errlen, "the database has schema version %d; this hookd knows up to %d", have,
                 schema_version());
    for (int v = have; ok && v < schema_version(); v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        ok = sqlite3_exec(db, migrations[v], NULL, NULL, NULL) == SQLITE_OK
             && sqlite3_exec(db, bump, NULL, NULL, NULL) == SQLITE_OK;
        if (!ok)
            snprintf(err, errlen, "migration to schema version %d failed: %s", v + 1,
                     sqlite3_errmsg(db));
    }
    if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot commit the schema: %s", sqlite3_errmsg(db));
        ok = false;
    }
    if (!ok)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return ok;
}
