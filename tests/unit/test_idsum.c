/*
 * test_idsum.c - the id summaries (idsum.h) on a real SQLite file, through the same report SQL
 * the command line and the console run (store_sqlite_report):
 *   - every event is found by its id and its call by its control and leg ids, in summarised
 *     blocks and in the open block, and an absent id is not;
 *   - what the summaries hold: one per complete block, its received-time range, and filters
 *     that answer "no" for nearly every absent id (a filter that always says yes would find
 *     everything and be useless);
 *   - the writer's hard cases: a transaction rolled back across a block boundary, two writers
 *     taking turns, a block another writer summarised, seqs reused after the newest events are
 *     deleted (hookd never reuses one since schema 9; the sequence set back by other means),
 *     every event pruned, and a store filled without summaries (an upgrade) caught up.
 */
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "idsum.h"
#include "schema.h"
#include "store_sqlite.h"

#define B STORE_IDSUM_BLOCK

typedef struct fixture {
    char path[64];
    sqlite3 *db;
    idsum ids;
    store_conn *view;
} fixture;

static fixture f;

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "/tmp/hookd-idsum-%d.db", (int)getpid());
    unlink(f.path);
    char err[256];
    assert_int_equal(sqlite3_open(f.path, &f.db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f.db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_true(schema_migrate(f.db, err, sizeof err));
    assert_true(idsum_register(f.db)); /* for the checks' own SQL; the writer needs none */
    char url[80];
    snprintf(url, sizeof url, "sqlite:%s", f.path);
    assert_true(store_sqlite_view_open(url, false, &f.view, err, sizeof err));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_sqlite_close(f.view);
    idsum_release(&f.ids);
    sqlite3_close(f.db);
    char p[80];
    unlink(f.path);
    snprintf(p, sizeof p, "%s-wal", f.path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", f.path);
    unlink(p);
    return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* The type of event k: one of TYPES names, or none (an unparsed event) for every 13th; with
 * distinct_types, a type of its own. */
#define TYPES 5
static bool distinct_types;
static const char *type_of(int k, char *buf, size_t len)
{
    if (k % 13 == 0)
        return NULL;
    snprintf(buf, len, distinct_types ? "many-%d" : "type-%d", distinct_types ? k : k % TYPES);
    return buf;
}

/* Insert events n of [from, to) as the writer does: a row, then idsum_row with its seq; each
 * event k has id evt-k, control id ctl-k, leg id leg-k, call sess-k (none for every 17th, so
 * its call key is its control id), type type_of(k), received at 1e15 + k. With st NULL, no
 * summary is kept (a store filled by other means). */
static void insert_range(sqlite3 *db, idsum *st, int from, int to)
{
    sqlite3_stmt *ins = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO events (id, endpoint, scheme, received_at_us,"
                                        " last_received_at_us, call_session_id, call_control_id,"
                                        " call_leg_id, event_type, parse_status, body)"
                                        " VALUES (?1, 'telnyx', 'telnyx', ?2, ?2, ?3, ?4, ?5, ?6,"
                                        " 'parsed', '{}')",
                                        -1, &ins, NULL),
                     SQLITE_OK);
    for (int k = from; k < to; k++) {
        char id[32], sess[32], ctl[32], leg[32], tbuf[32];
        snprintf(id, sizeof id, "evt-%d", k);
        snprintf(sess, sizeof sess, "sess-%d", k);
        snprintf(ctl, sizeof ctl, "ctl-%d", k);
        snprintf(leg, sizeof leg, "leg-%d", k);
        const char *type = type_of(k, tbuf, sizeof tbuf);
        const char *session = k % 17 == 0 ? NULL : sess;
        int64_t at = 1000000000000000LL + k;
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, at);
        sqlite3_bind_text(ins, 3, session, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, ctl, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 5, leg, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 6, type, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        if (st != NULL) {
            const char *ids[4] = {id, ctl, leg, session};
            assert_true(idsum_row(st, db, sqlite3_last_insert_rowid(db), at, ids, type));
        }
    }
    sqlite3_finalize(ins);
}

/* Events [from, to) in transactions of 100, as batches. */
static void write_events(sqlite3 *db, idsum *st, int from, int to)
{
    for (int k = from; k < to; k += 100) {
        if (st != NULL)
            idsum_begin(st);
        exec(db, "BEGIN IMMEDIATE");
        insert_range(db, st, k, k + 100 < to ? k + 100 : to);
        exec(db, "COMMIT");
    }
}

static bool count_row(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)ncol;
    (void)names;
    (void)v;
    ++*(int *)ctx;
    return true;
}

static int report_rows(store_report which, const char *param)
{
    const char *params[] = {param, NULL};
    int n = 0;
    assert_true(store_sqlite_report(f.view, which, params, 2, count_row, &n));
    return n;
}

/* Rows for kind ("evt", "ctl" or "leg") of event k: the event by id, or its call's timeline. */
static int found(const char *kind, int k)
{
    char v[32];
    snprintf(v, sizeof v, "%s-%d", kind, k);
    return report_rows(kind[0] == 'e' ? REPORT_EVENT_BODY : REPORT_CALL_TIMELINE, v);
}

static int64_t one_int(const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f.db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Rows of a report with all its parameters. */
static int report_rows_n(store_report which, const char *const *params, size_t n)
{
    int rows = 0;
    assert_true(store_sqlite_report(f.view, which, params, n, count_row, &rows));
    return rows;
}

static bool keep_count(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)ncol;
    (void)names;
    *(int64_t *)ctx = v[0].type == STORE_INT ? v[0].i : -1;
    return true;
}

/* Schema 10's entries say what the rows say: every event of a summarised block has its digests
 * in event_ids and, if it has a type, its entry in event_types; no entry names a row of another
 * type; and events list (and its count) by each type, and by none, finds exactly the events of
 * that type, summarised or not (the two arms of MATCHING). */
static void assert_entries_match(void)
{
    static const char *const checks[] = {
        ("SELECT count(*) FROM events AS e WHERE seq < (SELECT (coalesce(max(block), -1) + 1) * "
         HK_STR(STORE_IDSUM_BLOCK) " FROM id_blocks) AND NOT EXISTS (SELECT 1 FROM event_ids AS i"
         " WHERE i.seq = e.seq AND i.id_d IS hookd_idsum_digest(e.id)"
         " AND i.control_d IS hookd_idsum_digest(e.call_control_id)"
         " AND i.leg_d IS hookd_idsum_digest(e.call_leg_id)"
         " AND i.key_d IS hookd_idsum_digest(e.call_key))"),
        ("SELECT count(*) FROM events AS e WHERE seq < (SELECT (coalesce(max(block), -1) + 1) * "
         HK_STR(STORE_IDSUM_BLOCK) " FROM id_blocks) AND event_type IS NOT NULL"
         " AND (event_type, seq) NOT IN (SELECT event_type, seq FROM event_types)"),
        ("SELECT count(*) FROM event_types AS t JOIN events AS e USING (seq)"
         " WHERE e.event_type IS NOT t.event_type"),
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        int64_t bad = one_int(checks[i]);
        if (bad != 0)
            fail_msg("%lld rows fail: %s", (long long)bad, checks[i]);
    }
    for (int t = -1; t < TYPES; t++) {
        char type[32], sql[160];
        snprintf(type, sizeof type, "type-%d", t);
        if (t < 0)
            snprintf(sql, sizeof sql, "SELECT count(*) FROM events");
        else
            snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE event_type = '%s'", type);
        int64_t want = one_int(sql), counted = -1;
        const char *params[] = {t < 0 ? NULL : type, NULL, "0", NULL, "1000000"};
        assert_true(store_sqlite_report(f.view, REPORT_EVENTS_COUNT, params, 4, keep_count,
                                        &counted));
        int listed = report_rows_n(REPORT_EVENTS_LIST, params, 5);
        if (listed != want || counted != (want > STORE_COUNT_CAP ? STORE_COUNT_CAP + 1 : want))
            fail_msg("%s: %lld events, %d listed, %lld counted", t < 0 ? "no type" : type,
                     (long long)want, listed, (long long)counted);
        /* the console's next page: the events of the type older than the middle one */
        int64_t middle = one_int("SELECT max(seq) / 2 FROM events");
        snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE seq < %lld%s%s%s",
                 (long long)middle, t < 0 ? "" : " AND event_type = '", t < 0 ? "" : type,
                 t < 0 ? "" : "'");
        char before[32];
        snprintf(before, sizeof before, "%lld", (long long)middle);
        const char *page[] = {params[0], NULL, "0", NULL, "1000000", NULL, NULL, before};
        int64_t older = one_int(sql);
        int paged = report_rows_n(REPORT_CONSOLE_EVENTS, page, 8);
        if (paged != older)
            fail_msg("%s before seq %s: %lld events, %d on the console's page",
                     t < 0 ? "no type" : type, before, (long long)older, paged);
    }
    /* a type and a call together: the call's events of that type, in and out of blocks */
    int64_t top = one_int("SELECT max(seq) FROM events");
    for (int64_t seq = 1; seq <= top; seq += top / 7 + 1) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM events WHERE seq = %lld AND call_session_id IS NOT NULL"
                 " AND event_type IS NOT NULL", (long long)seq);
        if (one_int(sql) == 0)
            continue;
        char call[64], type[64];
        sqlite3_stmt *st = NULL;
        snprintf(sql, sizeof sql, "SELECT call_session_id, event_type FROM events WHERE seq = %lld",
                 (long long)seq);
        assert_int_equal(sqlite3_prepare_v2(f.db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(call, sizeof call, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(type, sizeof type, "%s", (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        const char *both[] = {type, call, "0", NULL, "100"};
        const char *other[] = {"no.such.type", call, "0", NULL, "100"};
        if (report_rows_n(REPORT_EVENTS_LIST, both, 5) != 1
            || report_rows_n(REPORT_EVENTS_LIST, other, 5) != 0)
            fail_msg("seq %lld: events list --type %s --call %s", (long long)seq, type, call);
    }
}

/* Every event of [from, to) found by id, and its call by control and by leg id (every 61st, and
 * each block's edges); and the entries as the rows say. */
static void assert_all_found(int from, int to)
{
    assert_entries_match();
    for (int k = from; k < to; k++) {
        int s = k + 1; /* seq of event k when seqs started at 1 with event 0 */
        if (k % 61 != 0 && s % B > 1 && s % B < B - 1 && k != to - 1)
            continue;
        if (found("evt", k) != 1 || found("ctl", k) != 1 || found("leg", k) != 1)
            fail_msg("event %d (seq %d) not found by id, control or leg id", k, s);
    }
}

static void found_by_every_id_in_and_out_of_summaries(void **state)
{
    (void)state;
    int n = 3 * B + 123;
    write_events(f.db, &f.ids, 0, n);
    /* seqs 1..n: blocks 0..2 are complete, 3 is open. */
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 3);
    assert_int_equal(one_int("SELECT count(*) FROM id_bloom"), 3 * STORE_IDSUM_SLICES);
    int64_t t0 = 1000000000000000LL;
    assert_int_equal(one_int("SELECT lo_us FROM id_blocks WHERE block = 1"), t0 + B - 1);
    assert_int_equal(one_int("SELECT hi_us FROM id_blocks WHERE block = 1"), t0 + 2LL * B - 2);
    assert_all_found(0, n);
    assert_int_equal(found("evt", n + 5), 0);
    assert_int_equal(found("ctl", n + 5), 0);
    assert_int_equal(report_rows(REPORT_EVENT_BODY, "evt-1x"), 0);
}

/* The filters are worth reading: nearly every absent id is ruled out in nearly every block. */
static void filters_rule_out_absent_ids(void **state)
{
    (void)state;
    write_events(f.db, &f.ids, 0, 4 * B);
    assert_true(idsum_register(f.db));
    int64_t yes = 0, asked = 0, blocks = one_int("SELECT count(*) FROM id_blocks");
    assert_int_equal(blocks, 4);
    for (int k = 0; k < 2000; k++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM id_bloom WHERE slice = hookd_idsum_slice('absent-%d')"
                 " AND hookd_idsum_has(bits, 'absent-%d')", k, k);
        yes += one_int(sql);
        asked += blocks;
    }
    print_message("false yes: %lld of %lld block tests\n", (long long)yes, (long long)asked);
    /* a blob that is not a slice this build wrote says "may hold", so that block is scanned */
    assert_int_equal(one_int("SELECT hookd_idsum_has(x'00ff', 'evt-1')"), 1);
    assert_int_equal(one_int("SELECT hookd_idsum_has(NULL, 'evt-1')"), 1);
    assert_int_equal(one_int("SELECT hookd_idsum_has(zeroblob(" HK_STR(STORE_IDSUM_SLICE_BYTES)
                             "), 'evt-1')"),
                     0);
    assert_int_equal(one_int("SELECT hookd_idsum_slice(NULL) IS NULL"), 1);
    assert_true(yes * 100 < asked * 2); /* under 2% (about 0.7% expected) */
    /* and every present id says yes in its own block */
    for (int k = 0; k < 3 * B - 1; k += 97) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM id_bloom WHERE block = %d"
                 " AND slice = hookd_idsum_slice('evt-%d') AND hookd_idsum_has(bits, 'evt-%d')",
                 (k + 1) / B, k, k);
        assert_int_equal(one_int(sql), 1);
    }
}

static void a_rollback_across_a_block_boundary_forgets(void **state)
{
    (void)state;
    write_events(f.db, &f.ids, 0, B - 50); /* seqs 1..B-50, block 0 open */
    /* A batch crossing into block 1 (which seals block 0 in memory), rolled back. */
    idsum_begin(&f.ids);
    exec(f.db, "BEGIN IMMEDIATE");
    insert_range(f.db, &f.ids, 900000, 900100);
    exec(f.db, "ROLLBACK");
    idsum_forget(&f.ids);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 0);
    /* The same seqs now go to other events. */
    write_events(f.db, &f.ids, B - 50, 2 * B + 10);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 2);
    assert_all_found(0, 2 * B + 10);
    assert_int_equal(found("evt", 900010), 0);
    assert_int_equal(found("evt", 900090), 0);
}

/* A second writer on the file (hookd events import beside hookd serve), with its own idsum. */
static idsum *open_other(sqlite3 **other)
{
    assert_int_equal(sqlite3_open(f.path, other), SQLITE_OK);
    sqlite3_busy_timeout(*other, 5000);
    idsum *theirs = calloc(1, sizeof *theirs);
    assert_non_null(theirs);
    return theirs;
}

static void close_other(sqlite3 *other, idsum *theirs)
{
    idsum_release(theirs);
    free(theirs);
    sqlite3_close(other);
}

static void two_writers_taking_turns(void **state)
{
    (void)state;
    sqlite3 *other = NULL;
    idsum *theirs = open_other(&other);
    /* Turns of 700 events: each writer's open block holds the other's rows too. */
    int k = 0;
    for (int turn = 0; k < 3 * B; turn++, k += 700)
        write_events(turn % 2 ? other : f.db, turn % 2 ? theirs : &f.ids, k, k + 700);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), k / B);
    assert_all_found(0, k);
    close_other(other, theirs);
}

/* Seqs are never reused by hookd (AUTOINCREMENT, schema 9), but a store's sequence can be set
 * back by other means (sqlite3, a restore of part of a file): reuse() deletes the newest events
 * from seq `from` up and sets the sequence back so that the next insert takes `from` again. */
static void reuse(int from)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "DELETE FROM events WHERE seq >= %d;"
             " UPDATE sqlite_sequence SET seq = %d WHERE name = 'events'",
             from, from - 1);
    exec(f.db, sql);
}

/* Another writer summarises this one's open block; the newest events are then deleted and the
 * sequence set back, so this writer's next seqs fall in that block again: they must go into its
 * summary, not only into what this writer gathered in memory (idsum_row looks for others'
 * summaries per transaction). */
static void a_block_another_writer_summarised(void **state)
{
    (void)state;
    sqlite3 *other = NULL;
    idsum *theirs = open_other(&other);
    write_events(f.db, &f.ids, 0, B - 200);          /* ours: block 0 open */
    write_events(other, theirs, B - 200, B + 300);   /* theirs: summarises block 0 */
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 1);
    reuse(B - 100);
    write_events(f.db, &f.ids, 800000, 800050);       /* ours again, seqs in block 0 */
    assert_int_equal(one_int("SELECT max(seq) FROM events"), B - 51);
    for (int k = 800000; k < 800050; k++)
        assert_int_equal(found("evt", k), 1);
    assert_all_found(0, B - 101);
    close_other(other, theirs);
}

static void seqs_reused_after_the_newest_are_deleted(void **state)
{
    (void)state;
    write_events(f.db, &f.ids, 0, 3 * B + 20);
    /* From the middle of block 1 up: the next seq falls back into a summarised block. */
    reuse(B + 101);
    write_events(f.db, &f.ids, 500000, 500000 + B + 300);
    assert_int_equal(found("evt", 500000), 1);   /* seq B + 101, in block 1 */
    assert_int_equal(found("ctl", 500150), 1);
    assert_int_equal(found("leg", 500000 + B + 299), 1);
    for (int k = 500000; k < 500000 + B + 300; k += 101)
        assert_int_equal(found("evt", k), 1);
    assert_all_found(0, B + 100);
    assert_int_equal(found("evt", 2 * B), 0); /* deleted */
}

static void pruning_everything_starts_over(void **state)
{
    (void)state;
    write_events(f.db, &f.ids, 0, 2 * B + 5);
    exec(f.db, "DELETE FROM events");
    assert_true(idsum_prune(f.db));
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 0);
    assert_int_equal(one_int("SELECT count(*) FROM id_bloom"), 0);
    write_events(f.db, &f.ids, 700000, 700000 + B + 10); /* seqs carry on (AUTOINCREMENT) */
    assert_int_equal(one_int("SELECT min(seq) FROM events"), 2 * B + 6);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 1);
    for (int k = 700000; k < 700000 + B + 10; k += 101)
        assert_int_equal(found("evt", k), 1);
    assert_int_equal(found("evt", 7), 0);
}

static void pruning_the_oldest_drops_their_summaries(void **state)
{
    (void)state;
    write_events(f.db, &f.ids, 0, 4 * B);
    char sql[120];
    snprintf(sql, sizeof sql, "DELETE FROM events WHERE seq < %d", 2 * B + 10);
    exec(f.db, sql);
    assert_true(idsum_prune(f.db));
    assert_int_equal(one_int("SELECT min(block) FROM id_blocks"), 2);
    assert_int_equal(one_int("SELECT count(*) FROM id_bloom WHERE block < 2"), 0);
    assert_all_found(2 * B + 10, 4 * B);
}

static void a_store_filled_without_summaries_is_caught_up(void **state)
{
    (void)state;
    write_events(f.db, NULL, 0, 5 * B + 1);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 0);
    assert_all_found(0, 5 * B + 1); /* found meanwhile: nothing summarised is scanned by seq */
    exec(f.db, "BEGIN IMMEDIATE");
    assert_true(idsum_catch_up(f.db));
    exec(f.db, "COMMIT");
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 5);
    assert_all_found(0, 5 * B + 1);
    /* and the writer carries on from there */
    write_events(f.db, &f.ids, 5 * B + 1, 6 * B + 50);
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 6);
    assert_all_found(0, 6 * B + 50);
}

/* A block of more types than the writer keeps in memory (255, or 4 KiB of names) takes its
 * event_types entries from its rows; so does one whose type is longer than that on its own. */
static void a_block_of_many_types_takes_them_from_its_rows(void **state)
{
    (void)state;
    distinct_types = false;
    write_events(f.db, &f.ids, 0, B - 1);
    distinct_types = true;
    write_events(f.db, &f.ids, B - 1, 2 * B + 1); /* block 1: a type for each event */
    distinct_types = false;
    assert_int_equal(one_int("SELECT count(*) FROM id_blocks"), 2);
    assert_int_equal(one_int("SELECT count(*) FROM event_types WHERE event_type LIKE 'many-%'"),
                     one_int("SELECT count(*) FROM events WHERE event_type LIKE 'many-%'"
                             " AND seq < 2 * " HK_STR(STORE_IDSUM_BLOCK)));
    const char *params[] = {"many-5000", NULL, "0", NULL, "10"};
    assert_int_equal(report_rows_n(REPORT_EVENTS_LIST, params, 5), 1);
    /* a type of 5,000 characters */
    char *longest = malloc(5001);
    assert_non_null(longest);
    memset(longest, 'x', 5000);
    longest[5000] = '\0';
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE events SET event_type = ?1 WHERE seq = %d", 2 * B + 5);
    write_events(f.db, &f.ids, 2 * B + 1, 2 * B + 10);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f.db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, longest, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    idsum_forget(&f.ids); /* the row changed behind the writer's back: read block 2 again */
    write_events(f.db, &f.ids, 2 * B + 10, 3 * B + 10);
    const char *long_params[] = {longest, NULL, "0", NULL, "10"};
    assert_int_equal(report_rows_n(REPORT_EVENTS_LIST, long_params, 5), 1);
    free(longest);
    assert_all_found(0, 3 * B + 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(found_by_every_id_in_and_out_of_summaries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(filters_rule_out_absent_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rollback_across_a_block_boundary_forgets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(two_writers_taking_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(a_block_another_writer_summarised, setup, teardown),
        cmocka_unit_test_setup_teardown(seqs_reused_after_the_newest_are_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(pruning_everything_starts_over, setup, teardown),
        cmocka_unit_test_setup_teardown(pruning_the_oldest_drops_their_summaries, setup, teardown),
        cmocka_unit_test_setup_teardown(a_store_filled_without_summaries_is_caught_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_block_of_many_types_takes_them_from_its_rows, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
