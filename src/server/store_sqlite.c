/*
 * store_sqlite.c - the embedded store backend: SQLite in WAL mode (store_backend.h).
 *
 * The front (store.c) batches jobs into one transaction on its writer thread; this file writes
 * them with prepared statements on the writer's own connection, and commits with one fsync
 * (durability = full) for the whole batch.
 *
 * Deduplication (schema 9; README "Duplicates") is dedupe.c's: a redelivery's row gets its
 * attempt counted, in place; a new event is inserted and its key remembered.
 *
 * At durability = full the writer's connection goes through the "hookd-wal" VFS (walbuf.c),
 * which gathers a transaction's WAL frames into 124 KiB pwrite()s instead of two per frame.
 *
 * Checkpoints: a thread of their own copies the WAL into the database (PASSIVE, which never
 * blocks the writer) once it grows past STORE_CHECKPOINT_PAGES / 8; the writer then finishes the
 * checkpoint between two batches (idle: only the few frames left), so that its next transaction
 * starts the WAL over. A WAL is only ever restarted by a writer that begins when every frame is
 * checkpointed; with checkpoints only on another thread that never happened under steady load,
 * and the WAL grew by ~17 KB per event without bound.
 */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "dedupe.h"
#include "schema.h"
#include "store_sqlite.h"
#include "walbuf.h"


static const char insert_sql[] =
    "INSERT INTO events(id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
    " received_at_us, last_received_at_us, call_control_id, call_session_id, call_leg_id,"
    " connection_id, failure_cause, hangup_cause, meta_attempt, delivered_to, remote_addr,"
    " content_type, parse_status, parse_error, body)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, ?20)";
/* A redelivery of the event at seq ?1, if that row is the event (dedupe.h: a key match is only
 * a candidate). */
static const char again_sql[] =
    "UPDATE events SET attempts = attempts + 1,"
    " meta_attempt = max(coalesce(meta_attempt, 0), coalesce(?4, 0)),"
    " delivered_to = coalesce(?5, delivered_to), last_received_at_us = ?6"
    " WHERE seq = ?1 AND id = ?2 AND endpoint = ?3 RETURNING attempts";

static const char queue_sql[] =
    "INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us, updated_us,"
    " call_key, occurred_at_us) VALUES (?1, ?2, 'pending', ?3, ?3, ?3, ?4, ?5)";
/* Only an owed delivery goes in flight, and only if its attempt has not been recorded yet: the
 * record may commit before the mark (a fast attempt), and a failed one leaves the delivery in
 * 'retry', which the mark must not turn back into 'in_flight' (that blocked its call for good). */
static const char claim_sql[] =
    "UPDATE deliveries SET state = 'in_flight', updated_us = ?2"
    " WHERE id = ?1 AND state IN ('pending', 'retry', 'waiting') AND attempts = ?3";
static const char attempt_insert_sql[] =
    "INSERT INTO attempts (delivery_id, attempt, started_us, finished_us, outcome, http_status,"
    " exit_code, error, output) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char attempt_update_sql[] =
    "UPDATE deliveries SET state = ?2, attempts = ?3, next_attempt_us = ?4, updated_us = ?5,"
    " last_outcome = ?6 WHERE id = ?1";
static const char handler_gone_sql[] =
    "UPDATE deliveries SET state = 'dead', updated_us = ?2, last_outcome = 'gone'"
    " WHERE handler = ?1 AND state IN ('pending', 'retry', 'waiting')";
/* A delivery that ended (succeeded, dead) unblocks its call: the parked ones are due now and the
 * scheduler finds the new head among them (and parks the rest again). The state terms repeat the
 * lane index's predicate so SQLite uses it. */
static const char wake_call_sql[] =
    "UPDATE deliveries SET next_attempt_us = ?2"
    " WHERE state IN ('pending', 'retry', 'waiting', 'in_flight') AND state = 'waiting'"
    " AND (handler, call_key) = (SELECT handler, call_key FROM deliveries WHERE id = ?1)";
/* Park a delivery behind the head of its call, re-checked here, in the writer's transaction:
 * the scheduler saw it blocked in an older snapshot, and if the blocker has ended since, parking
 * it now would lose its wake-up. Blocked: another owed delivery of the call is in flight, or
 * occurred earlier. A parked delivery is re-examined at ?2 at the latest. */
static const char park_sql[] =
    "UPDATE deliveries SET state = 'waiting', next_attempt_us = ?2, updated_us = ?3"
    " WHERE id = ?1 AND state IN ('pending', 'retry', 'waiting') AND call_key IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM deliveries o WHERE o.handler = deliveries.handler"
    "   AND o.call_key = deliveries.call_key AND o.id <> deliveries.id"
    "   AND o.state IN ('pending', 'retry', 'waiting', 'in_flight')"
    "   AND (o.state = 'in_flight'"
    "     OR coalesce(o.occurred_at_us, 0) < coalesce(deliveries.occurred_at_us, 0)"
    "     OR (coalesce(o.occurred_at_us, 0) = coalesce(deliveries.occurred_at_us, 0)"
    "         AND o.id < deliveries.id)))";

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

const char *store_sqlite_path(const char *url)
{
    return url != NULL && strncmp(url, "sqlite:", 7) == 0 ? url + 7 : NULL;
}

/* ---- one batch ------------------------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* The deliveries a new event owes (routed by the caller, route.c), in the event's transaction,
 * so a stored event always has its deliveries. */
static bool queue_deliveries(sqlite_conn *s, const store_record *r, int64_t seq)
{
    for (size_t i = 0; i < r->nhandlers; i++) {
        sqlite3_stmt *st = s->queue;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, r->handlers[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->received_at_us);
        bind_text(st, 4, r->call_session_id != NULL ? r->call_session_id : r->call_control_id);
        bind_int(st, 5, r->occurred_at_us, r->occurred_at != NULL);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
            return false;
    }
    return true;
}

/* dedupe_find's test of a candidate row: count the redelivery if the row is this event. */
typedef struct again {
    sqlite_conn *s;
    const store_record *r;
} again;

static bool count_again(void *ctx, int64_t seq, bool *failed)
{
    const again *g = ctx;
    const store_record *r = g->r;
    sqlite3_stmt *st = g->s->again;
    sqlite3_bind_int64(st, 1, seq);
    bind_text(st, 2, r->id);
    bind_text(st, 3, r->endpoint);
    bind_int(st, 4, r->meta_attempt, r->meta_attempt > 0);
    bind_text(st, 5, r->delivered_to);
    sqlite3_bind_int64(st, 6, r->received_at_us);
    int rc = sqlite3_step(st);
    bool row = rc == SQLITE_ROW;
    if (row)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    *failed = rc != SQLITE_DONE;
    return row && !*failed;
}

/* Write one record; its outcome, or STORE_FAILED. */
static store_outcome sq_event_upsert(store_conn *c, const store_record *r)
{
    sqlite_conn *s = conn_of(c);
    /* id and endpoint are NOT NULL columns: without them the insert would fail the same way */
    int64_t key = 0;
    again g = {s, r};
    bool found = false;
    if (r->id == NULL || r->endpoint == NULL || !dedupe_key(r->id, r->endpoint, &key)
        || !dedupe_find(s->dd, s->db, key, count_again, &g, &found))
        return STORE_FAILED;
    if (found)
        return STORE_DUPLICATE; /* a duplicate creates no deliveries */
    sqlite3_stmt *st = s->insert;
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->endpoint);
    bind_text(st, 3, r->scheme);
    bind_text(st, 4, r->event_type);
    bind_text(st, 5, r->occurred_at);
    bind_int(st, 6, r->occurred_at_us, r->occurred_at != NULL);
    sqlite3_bind_int64(st, 7, r->received_at_us);
    bind_text(st, 8, r->call_control_id);
    bind_text(st, 9, r->call_session_id);
    bind_text(st, 10, r->call_leg_id);
    bind_text(st, 11, r->connection_id);
    bind_text(st, 12, r->failure_cause);
    bind_text(st, 13, r->hangup_cause);
    bind_int(st, 14, r->meta_attempt, r->meta_attempt > 0);
    bind_text(st, 15, r->delivered_to);
    bind_text(st, 16, r->remote_addr);
    bind_text(st, 17, r->content_type);
    bind_text(st, 18, r->parsed ? "parsed" : "unparsed");
    bind_text(st, 19, r->parse_error);
    sqlite3_bind_blob64(st, 20, r->body_len > 0 ? r->body : (const void *)"", r->body_len,
                        SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int64_t seq = sqlite3_last_insert_rowid(s->db);
    const char *ids[4] = {r->id, r->call_control_id, r->call_leg_id, r->call_session_id};
    return rc == SQLITE_DONE && dedupe_add(s->dd, key, seq)
                   && idsum_row(s->ids, s->db, seq, r->received_at_us, ids, r->event_type)
                   && queue_deliveries(s, r, seq)
               ? STORE_NEW
               : STORE_FAILED;
}

/* A readiness probe: a write that needs fresh pages (64 KiB, more than fits in the free space of
 * any page), committed and deleted in the same transaction. A small probe would fit in a partly
 * filled page and report "ready" while events no longer can be stored. */
static store_outcome sq_probe(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    bool ok = sqlite3_step(s->probe_insert) == SQLITE_DONE;
    sqlite3_reset(s->probe_insert);
    ok = ok && sqlite3_step(s->probe_delete) == SQLITE_DONE;
    sqlite3_reset(s->probe_delete);
    return ok ? STORE_PROBED : STORE_FAILED;
}

static bool step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE;
}

static store_outcome sq_delivery_claim(store_conn *c, int64_t id, int attempts)
{
    sqlite_conn *s = conn_of(c);
    sqlite3_bind_int64(s->claim, 1, id);
    sqlite3_bind_int64(s->claim, 2, (int64_t)time(NULL) * 1000000);
    sqlite3_bind_int(s->claim, 3, attempts);
    return step_done(s->claim) ? STORE_WRITTEN : STORE_FAILED;
}

static store_outcome sq_attempt_record(store_conn *c, const store_attempt *a)
{
    sqlite_conn *s = conn_of(c);
    sqlite3_stmt *st = s->attempt_insert;
    sqlite3_bind_int64(st, 1, a->delivery_id);
    sqlite3_bind_int(st, 2, a->attempt);
    sqlite3_bind_int64(st, 3, a->started_us);
    sqlite3_bind_int64(st, 4, a->finished_us);
    bind_text(st, 5, attempt_outcome_name(a->outcome));
    bind_int(st, 6, a->http_status, a->http_status > 0);
    bind_int(st, 7, a->exit_code, a->exit_code >= 0);
    bind_text(st, 8, a->error);
    if (a->output != NULL)
        sqlite3_bind_text(st, 9, a->output, (int)a->output_len, SQLITE_STATIC);
    if (!step_done(st))
        return STORE_FAILED;
    st = s->attempt_update;
    sqlite3_bind_int64(st, 1, a->delivery_id);
    bind_text(st, 2, delivery_state_name(a->new_state));
    sqlite3_bind_int(st, 3, a->attempt);
    sqlite3_bind_int64(st, 4, a->next_attempt_us);
    sqlite3_bind_int64(st, 5, a->finished_us);
    bind_text(st, 6, attempt_outcome_name(a->outcome));
    if (!step_done(st))
        return STORE_FAILED;
    if (a->handler_gone) {
        sqlite3_bind_text(s->handler_gone, 1, a->handler, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s->handler_gone, 2, a->finished_us);
        if (!step_done(s->handler_gone))
            return STORE_FAILED;
    }
    if (a->new_state != DELIVERY_RETRY) {
        sqlite3_bind_int64(s->wake_call, 1, a->delivery_id);
        sqlite3_bind_int64(s->wake_call, 2, a->finished_us);
        if (!step_done(s->wake_call))
            return STORE_FAILED;
    }
    return STORE_WRITTEN;
}

static store_outcome sq_delivery_park(store_conn *c, int64_t id)
{
    sqlite_conn *s = conn_of(c);
    int64_t now = (int64_t)time(NULL) * 1000000;
    sqlite3_bind_int64(s->park, 1, id);
    sqlite3_bind_int64(s->park, 2, now + (int64_t)DISPATCH_PARK_RECHECK_S * 1000000);
    sqlite3_bind_int64(s->park, 3, now);
    return step_done(s->park) ? STORE_WRITTEN : STORE_FAILED;
}

/* At the daemon's start: deliveries in flight when hookd stopped (or died) are owed again (at
 * least once), and parked ones are woken (a handler's order may have changed; the scheduler
 * parks them again). One process owns an SQLite store's dispatch, so nothing else can be
 * running them. */
static bool sq_recover(store_conn *c)
{
    return sqlite3_exec(conn_of(c)->db,
                        "UPDATE deliveries SET state = 'pending' WHERE state = 'in_flight';"
                        "UPDATE deliveries SET state = 'pending' WHERE state = 'waiting';",
                        NULL, NULL, NULL) == SQLITE_OK;
}

/* ---- retention --------------------------------------------------------------------------------- */

/* The oldest events received before ?1 that owe no delivery (owed: the four states the lane
 * index lists), walked on events_by_received. */
#define PRUNABLE                                                                                   \
    "SELECT seq FROM events e WHERE received_at_us < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d" \
    " WHERE d.event_seq = e.seq AND d.state IN ('pending', 'retry', 'waiting', 'in_flight'))"      \
    " ORDER BY received_at_us LIMIT ?2"

bool store_sqlite_run_int(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out != NULL)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static bool sq_prune_batch(store_conn *c, int64_t before_us, int limit, bool dry_run, long *removed)
{
    sqlite3 *db = conn_of(c)->db;
    int64_t n = 0;
    *removed = 0;
    if (dry_run) {
        bool ok = store_sqlite_run_int(db, "SELECT count(*) FROM (" PRUNABLE ")", before_us, limit,
                                       &n);
        *removed = (long)n;
        return ok;
    }
    bool ok = sqlite3_exec(db, "CREATE TEMP TABLE IF NOT EXISTS prune_seq (seq INTEGER PRIMARY KEY);"
                               "DELETE FROM temp.prune_seq;",
                           NULL, NULL, NULL) == SQLITE_OK
              && store_sqlite_run_int(db, "INSERT INTO temp.prune_seq " PRUNABLE, before_us, limit,
                                      NULL);
    *removed = ok ? (long)sqlite3_changes(db) : 0;
    return ok && (*removed == 0
                  || (sqlite3_exec(db,
                                   "DELETE FROM event_ids WHERE seq IN"
                                   " (SELECT seq FROM temp.prune_seq);"
                                   "DELETE FROM event_types WHERE (event_type, seq) IN (SELECT"
                                   " event_type, seq FROM events WHERE seq IN (SELECT seq FROM"
                                   " temp.prune_seq) AND event_type IS NOT NULL);"
                                   "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM"
                                   " deliveries WHERE event_seq IN (SELECT seq FROM temp.prune_seq));"
                                   "DELETE FROM deliveries WHERE event_seq IN"
                                   " (SELECT seq FROM temp.prune_seq);"
                                   "DELETE FROM events WHERE seq IN (SELECT seq FROM temp.prune_seq);",
                                   NULL, NULL, NULL) == SQLITE_OK
                      && idsum_prune(db)));
}

/* Stores created since schema 4 are auto_vacuum = INCREMENTAL: the freed pages go back to the
 * file system here, STORE_VACUUM_PAGES at a time (all of a million-event prune at once held the
 * writer for over a second), until fewer than that are left: inserts reuse those. The step is
 * due at every start too (store.c), where a handful of free pages is no reason to move the
 * file's last pages, the newest and busiest. An older store keeps its size and reuses its free
 * pages. */
static bool sq_compact(store_conn *c)
{
    sqlite3 *db = conn_of(c)->db;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", STORE_VACUUM_PAGES);
    int64_t left = 0;
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
           && store_sqlite_run_int(db, "SELECT freelist_count FROM pragma_freelist_count()", 0, 0,
                                   &left)
           && left >= STORE_VACUUM_PAGES
           && store_sqlite_run_int(db,
                                   "SELECT CASE WHEN (SELECT auto_vacuum FROM pragma_auto_vacuum())"
                                   " = 2 THEN 1 ELSE 0 END",
                                   0, 0, &left)
           && left > 0;
}

static bool sq_measure(store_conn *c, int64_t *bytes, int64_t *oldest_us)
{
    sqlite3 *db = conn_of(c)->db;
    return store_sqlite_run_int(db, "SELECT (SELECT page_count FROM pragma_page_count())"
                                    " * (SELECT page_size FROM pragma_page_size())",
                                0, 0, bytes)
           && store_sqlite_run_int(db, "SELECT coalesce((SELECT received_at_us FROM events"
                                       " ORDER BY received_at_us LIMIT 1), 0)",
                                   0, 0, oldest_us);
}

static bool sq_begin(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    if (s->ids != NULL)
        idsum_begin(s->ids);
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
           && (s->dd == NULL || dedupe_begin(s->dd, s->db));
}

static bool sq_commit(store_conn *c)
{
    return sqlite3_exec(conn_of(c)->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
}

static void sq_rollback(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    if (s->ids != NULL)
        idsum_forget(s->ids);
    if (s->dd != NULL)
        dedupe_forget(s->dd);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *store_sqlite_errmsg(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    return s->why[0] != '\0' ? s->why : sqlite3_errmsg(s->db);
}

/* Between two transactions: move the next step of keys into event_keys if one is due
 * (dedupe.h), and finish the checkpoint so the next transaction restarts the WAL. If readers kept
 * it from restarting until it passed STORE_WAL_TRUNCATE_PAGES, wait briefly for them and truncate
 * the file. */
static void sq_idle(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    if (!dedupe_step(s->dd, s->db) && s->m != NULL)
        atomic_fetch_add(&s->m->store_errors, 1);
    if (s->m != NULL)
        atomic_store(&s->m->dedupe_keys, (int64_t)dedupe_pending(s->dd));
    int pages = atomic_load(&s->wal_pages);
    if (pages < STORE_CHECKPOINT_PAGES)
        return;
    bool truncate = pages >= STORE_WAL_TRUNCATE_PAGES;
    if (truncate)
        sqlite3_busy_timeout(s->db, 200);
    int log = -1, done = -1;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL,
                                       truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &done);
    if (truncate)
        sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK && log >= 0 && log == done)
        atomic_store(&s->wal_pages, 0);
    if (s->m != NULL)
        atomic_fetch_add(&s->m->checkpoints, 1);
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    sqlite_conn *s = arg;
    atomic_store(&s->wal_pages, pages);
    if (s->m != NULL)
        atomic_store(&s->m->wal_frames, pages);
    return SQLITE_OK;
}

/* The bulk of each checkpoint, off the writer's thread: PASSIVE never blocks the writer. The
 * connection must have read the database once: before that it has not opened the WAL, and
 * sqlite3_wal_checkpoint_v2 returns SQLITE_OK with log = done = -1 having done nothing (that was
 * once taken for "done"). */
static void *checkpointer_main(void *arg)
{
    sqlite_conn *s = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK
        || sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    struct timespec pause = {0, STORE_CHECKPOINT_INTERVAL_MS * 1000000L};
    while (!atomic_load(&s->stop_checkpoints)) {
        nanosleep(&pause, NULL);
        if (atomic_load(&s->wal_pages) >= STORE_CHECKPOINT_PAGES / 8)
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_close(db);
    return NULL;
}

/* ---- open and close ------------------------------------------------------------------------- */

static bool mkdir_parent(const char *path, char *err, size_t errlen)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", path);
    char *dir = dirname(copy);
    struct stat st;
    if (stat(dir, &st) == 0)
        return true;
    char partial[512] = "";
    for (char *p = dir; *p; p++) {
        if (*p == '/' && p != dir) {
            snprintf(partial, sizeof partial, "%.*s", (int)(p - dir), dir);
            if (mkdir(partial, 0750) != 0 && errno != EEXIST)
                break;
        }
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

/* page_size and auto_vacuum take effect only on a new, empty file (before WAL mode is set): a
 * store keeps the page size it was created with. New stores get STORE_PAGE_BYTES (limits.h). */
static bool prepare(sqlite_conn *s, const config *c, char *err, size_t errlen)
{
    char pragmas[320];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size = %d; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;"
             " PRAGMA synchronous = %s; PRAGMA journal_size_limit = %lld;",
             STORE_PAGE_BYTES, c->durability == DURABILITY_FULL ? "FULL" : "NORMAL",
             (long long)STORE_WAL_KEEP_BYTES);
    /* Switching a new file to WAL takes an exclusive lock without waiting on the busy handler, so
     * processes opening one new store at once retry it (and the migration) for a while. */
    bool ready = false;
    struct timespec pause = {0, 50 * 1000000L};
    double give_up = now_seconds() + STORE_BUSY_TIMEOUT_MS / 1000.0;
    while (!ready && now_seconds() < give_up) {
        err[0] = '\0';
        ready = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) == SQLITE_OK
                && schema_migrate(s->db, err, errlen);
        if (!ready && sqlite3_errcode(s->db) != SQLITE_BUSY && sqlite3_errcode(s->db) != SQLITE_LOCKED)
            break;
        if (!ready)
            nanosleep(&pause, NULL);
    }
    /* temp_store: a statement journal (each upsert in a batch's transaction may need rolling back
     * alone) was a file created, written and deleted on every few batches: 0.3 KB and several
     * system calls a request. The writer's temporary data is that and prune's 64 seqs. */
    if (!ready
        || sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY", NULL, NULL,
                        NULL) != SQLITE_OK)
        goto fail;
    if (c->store_max_size > 0) {
        sqlite3_stmt *st = NULL;
        int page = 4096;
        if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK
            && sqlite3_step(st) == SQLITE_ROW)
            page = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
                 (long long)(c->store_max_size / page));
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
    }
    if (sqlite3_prepare_v2(s->db, insert_sql, -1, &s->insert, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, again_sql, -1, &s->again, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, "INSERT INTO probe(x) VALUES (randomblob(65536))", -1,
                              &s->probe_insert, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, "DELETE FROM probe", -1, &s->probe_delete, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, queue_sql, -1, &s->queue, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, claim_sql, -1, &s->claim, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, attempt_insert_sql, -1, &s->attempt_insert, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, attempt_update_sql, -1, &s->attempt_update, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, handler_gone_sql, -1, &s->handler_gone, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, wake_call_sql, -1, &s->wake_call, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, park_sql, -1, &s->park, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_wal_hook(s->db, wal_hook, s); /* replaces SQLite's own auto-checkpoint */
    return true;
fail:
    if (err[0] == '\0')
        snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
    return false;
}

/* Close the database; safe to call twice (store_close, then store_free). */
static void finalize_all(sqlite_conn *s)
{
    sqlite3_stmt **stmts[] = {&s->insert,         &s->again,        &s->probe_insert,
                              &s->probe_delete,
                              &s->queue,          &s->claim,        &s->attempt_insert,
                              &s->attempt_update, &s->handler_gone, &s->wake_call,
                              &s->park,           &s->due,          &s->blocked,
                              &s->gauges,         &s->owed};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_stmt **slot = stmts[i];
        sqlite3_finalize(*slot);
        *slot = NULL;
    }
    if (s->ids != NULL)
        idsum_release(s->ids);
    dedupe_free(s->dd);
    s->dd = NULL;
    sqlite3_close(s->db);
    s->db = NULL;
}

void store_sqlite_close(store_conn *c)
{
    sqlite_conn *s = conn_of(c);
    if (s == NULL)
        return;
    atomic_store(&s->stop_checkpoints, true);
    if (s->checkpointer_started)
        pthread_join(s->checkpointer, NULL);
    if (s->db != NULL && !s->reader)
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    finalize_all(s);
    free(s->ids);
    free(s);
}

/* Summarise the complete blocks of events that have no id summary yet: all of them in a store
 * just upgraded to schema 9 (0.9 s for a million events here), none otherwise. Then gather the
 * deduplication keys (dedupe_open: all of them into event_keys after that upgrade). */
static bool catch_up(sqlite_conn *s, char *err, size_t errlen)
{
    bool ok = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
              && idsum_catch_up(s->db)
              && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "%s: cannot summarise the event ids: %s", s->path,
                 sqlite3_errmsg(s->db));
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    if (!dedupe_register(s->db) || (s->dd = dedupe_open(s->db)) == NULL) {
        snprintf(err, errlen, "%s: cannot gather the deduplication keys: %s", s->path,
                 sqlite3_errmsg(s->db));
        return false;
    }
    /* What a catch-up wrote (86 MB of WAL for a million events filled by SQL: summaries, entries
     * and keys) is copied into the database now, before the first request, rather than by the
     * small checkpoints between batches, which held the first seconds' requests (p99 195 ms at
     * 1,000 req/s), and the file cut back. Nothing to copy costs nothing; a reader in the way
     * (for up to the busy timeout) leaves the rest to them. */
    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return true;
}

static bool sq_open(const config *c, metrics *m, store_conn **out, char *err, size_t errlen)
{
    err[0] = '\0';
    const char *path = store_sqlite_path(c->store_url);
    sqlite_conn *s = path != NULL ? calloc(1, sizeof *s) : NULL;
    if (s == NULL) {
        snprintf(err, errlen, "%s: not a sqlite:PATH url, or out of memory", c->store_url);
        return false;
    }
    s->base.be = &store_sqlite_backend;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->m = m;
    s->ids = calloc(1, sizeof *s->ids);
    if (s->ids == NULL || !mkdir_parent(path, err, errlen)
        || sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           c->durability == DURABILITY_FULL && walbuf_register() ? WALBUF_VFS : NULL)
               != SQLITE_OK
        || sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK
        || !prepare(s, c, err, errlen) || !catch_up(s, err, errlen)) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        store_sqlite_close(&s->base);
        return false;
    }
    if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        store_sqlite_close(&s->base);
        return false;
    }
    s->checkpointer_started = true;
    *out = &s->base;
    return true;
}

/* ---- the dispatcher's reader -------------------------------------------------------------- */

/* One handler's due deliveries, in due order: the due index leads with the handler, and the
 * state terms repeat its predicate so SQLite uses it. */
static const char due_sql[] =
    "SELECT d.id, d.handler, d.attempts, d.call_key, coalesce(d.occurred_at_us, 0), e.id,"
    " e.endpoint, e.event_type, e.occurred_at, e.content_type, e.call_control_id,"
    " e.call_session_id, e.call_leg_id, e.failure_cause, e.hangup_cause, e.body"
    " FROM deliveries d JOIN events e ON e.seq = d.event_seq"
    " WHERE d.handler = ?1 AND d.state IN ('pending', 'retry', 'waiting') AND d.next_attempt_us <= ?2"
    " ORDER BY d.next_attempt_us, d.id LIMIT ?3";

/* The same test as park_sql's, on the lane index. */
static const char blocked_sql[] =
    "SELECT 1 FROM deliveries WHERE handler = ?1 AND call_key = ?2 AND id <> ?4"
    " AND state IN ('pending', 'retry', 'waiting', 'in_flight')"
    " AND (state = 'in_flight' OR coalesce(occurred_at_us, 0) < ?3"
    "      OR (coalesce(occurred_at_us, 0) = ?3 AND id < ?4))"
    " LIMIT 1";

static const char gauges_sql[] =
    "SELECT (SELECT count(*) FROM deliveries"
    "   WHERE state IN ('pending', 'retry', 'waiting', 'in_flight')),"
    " (SELECT min(created_us) FROM deliveries"
    "   WHERE state IN ('pending', 'retry', 'waiting', 'in_flight')),"
    " (SELECT count(*) FROM deliveries WHERE state = 'dead')";

static const char owed_sql[] =
    "SELECT handler, count(*) FROM deliveries WHERE state IN"
    " ('pending', 'retry', 'waiting', 'in_flight') GROUP BY handler";

static bool sq_reader_open(store_conn *writer, store_conn **out, char *err, size_t errlen)
{
    sqlite_conn *w = conn_of(writer), *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    s->base.be = &store_sqlite_backend;
    s->reader = true;
    snprintf(s->path, sizeof s->path, "%s", w->path);
    bool ok = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
              && sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) == SQLITE_OK
              && sqlite3_prepare_v2(s->db, due_sql, -1, &s->due, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db, blocked_sql, -1, &s->blocked, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db, gauges_sql, -1, &s->gauges, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db, owed_sql, -1, &s->owed, NULL) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "cannot read the store %s: %s", s->path,
                 s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
        store_sqlite_close(&s->base);
        return false;
    }
    *out = &s->base;
    return true;
}

static const char *text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static bool sq_due(store_conn *c, const char *handler, int64_t now_us, int limit, store_due_fn *fn,
                   void *ctx)
{
    sqlite_conn *s = conn_of(c);
    sqlite3_stmt *st = s->due;
    sqlite3_bind_text(st, 1, handler, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_us);
    sqlite3_bind_int(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_due d = {
            .id = sqlite3_column_int64(st, 0),
            .handler = text(st, 1),
            .attempts = sqlite3_column_int(st, 2),
            .call_key = text(st, 3),
            .occurred_at_us = sqlite3_column_int64(st, 4),
            .event_id = text(st, 5),
            .endpoint = text(st, 6),
            .event_type = text(st, 7),
            .occurred_at = text(st, 8),
            .content_type = text(st, 9),
            .call_control_id = text(st, 10),
            .call_session_id = text(st, 11),
            .call_leg_id = text(st, 12),
            .failure_cause = text(st, 13),
            .hangup_cause = text(st, 14),
            .body = sqlite3_column_blob(st, 15),
            .body_len = (size_t)sqlite3_column_bytes(st, 15),
        };
        if (!fn(ctx, &d)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static int sq_blocked(store_conn *c, const char *handler, const char *call_key,
                      int64_t occurred_at_us, int64_t id)
{
    sqlite3_stmt *st = conn_of(c)->blocked;
    sqlite3_bind_text(st, 1, handler, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, call_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, occurred_at_us);
    sqlite3_bind_int64(st, 4, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static bool sq_gauges(store_conn *c, store_gauges *out)
{
    sqlite3_stmt *st = conn_of(c)->gauges;
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        *out = (store_gauges){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                              sqlite3_column_int64(st, 2)};
    sqlite3_reset(st);
    return ok;
}

static bool sq_owed_by_handler(store_conn *c, store_count_fn *fn, void *ctx)
{
    sqlite3_stmt *st = conn_of(c)->owed;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

const store_backend store_sqlite_backend = {
    .version = STORE_BACKEND_VERSION,
    .scheme = "sqlite",
    .caps = STORE_CAP_MAX_SIZE | STORE_CAP_PROCESS_DURABILITY | STORE_CAP_LOCAL_FILE,
    .open = sq_open,
    .close = store_sqlite_close,
    .errmsg = store_sqlite_errmsg,
    .recover = sq_recover,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .event_upsert = sq_event_upsert,
    .probe = sq_probe,
    .delivery_claim = sq_delivery_claim,
    .attempt_record = sq_attempt_record,
    .delivery_park = sq_delivery_park,
    .prune_batch = sq_prune_batch,
    .compact = sq_compact,
    .measure = sq_measure,
    .idle = sq_idle,
    .reader_open = sq_reader_open,
    .due = sq_due,
    .blocked = sq_blocked,
    .gauges = sq_gauges,
    .owed_by_handler = sq_owed_by_handler,
    .view_open = store_sqlite_view_open,
    .report = store_sqlite_report,
    .replay = store_sqlite_replay,
    .import = store_sqlite_import,
    .backup = store_sqlite_backup,
};
