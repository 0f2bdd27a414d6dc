/*
 * test_dedupe.c - deduplication without an index keyed by random ids (dedupe.h, schema 9), on a
 * real file, through the SQLite backend's own operations in the order the writer thread runs
 * them (begin, event_upsert..., commit, idle), at the scale where keys leave memory:
 *   - every event is NEW once and a DUPLICATE after, whether its key is in memory or already
 *     moved into event_keys, and across a restart; the redelivery is counted on its row;
 *   - the same id at another endpoint is another event;
 *   - a rolled-back transaction leaves no key behind that would call a new event a duplicate;
 *   - two writers on one file (hookd serve and hookd events import) see each other's events,
 *     and an import too large for memory moves its keys into event_keys before it commits;
 *   - a store whose rows have no keys yet (just upgraded) gets them all at open;
 *   - keys of deleted events are swept from event_keys when their range is merged again.
 */
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "config.h"
#include "dedupe.h"
#include "metrics.h"
#include "store_backend.h"
#include "store_sqlite.h"

static const store_backend *be = &store_sqlite_backend;

typedef struct fixture {
    char dir[64], path[128];
    config cfg;
    metrics m;
    sqlite3 *check; /* a connection of its own, for the assertions */
} fixture;

static fixture f;

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/hookd-dedupe-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof f.path, "%s/hookd.db", f.dir);
    config_defaults(&f.cfg);
    f.cfg.durability = DURABILITY_PROCESS; /* the tests write 100,000s of events */
    snprintf(f.cfg.store_url, sizeof f.cfg.store_url, "sqlite:%s", f.path);
    metrics_init(&f.m);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sqlite3_close(f.check);
    metrics_destroy(&f.m);
    static const char *const files[] = {"hookd.db", "hookd.db-wal", "hookd.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s/%s", f.dir, files[i]);
        unlink(p);
    }
    rmdir(f.dir);
    return 0;
}

static store_conn *open_writer(void)
{
    store_conn *c = NULL;
    char err[512];
    if (!be->open(&f.cfg, &f.m, &c, err, sizeof err))
        fail_msg("open: %s", err);
    return c;
}

static int64_t one_int(const char *sql)
{
    if (f.check == NULL)
        assert_int_equal(sqlite3_open(f.path, &f.check), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f.check, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Event k: id evt-k at endpoint ep, call sess-(k / 10). */
static store_outcome put(store_conn *c, int k, const char *ep)
{
    char id[32], sess[32];
    snprintf(id, sizeof id, "evt-%d", k);
    snprintf(sess, sizeof sess, "sess-%d", k / 10);
    store_record r = {.id = id, .endpoint = ep, .scheme = "telnyx", .parsed = true,
                      .event_type = "call.hangup", .call_session_id = sess,
                      .received_at_us = 1000000000000000LL + k, .body = (const uint8_t *)"{}",
                      .body_len = 2, .meta_attempt = 1};
    return be->event_upsert(c, &r);
}

/* Events [from, to) in batches of `batch`, each committed and followed by the writer's idle
 * step; every outcome must be `want`. A merge moves STORE_DEDUPE_STEP keys per idle step, so it
 * takes 64 batches once STORE_DEDUPE_PENDING keys are in memory. */
static void write_events(store_conn *c, int from, int to, int batch, store_outcome want)
{
    for (int k = from; k < to; k += batch) {
        assert_true(be->begin(c));
        for (int i = k; i < to && i < k + batch; i++)
            if (put(c, i, "telnyx") != want)
                fail_msg("event %d: not the outcome wanted (%d)", i, (int)want);
        assert_true(be->commit(c));
        be->idle(c);
    }
}

static int64_t pending(store_conn *c)
{
    return (int64_t)dedupe_pending(conn_of(c)->dd);
}

#define MANY (STORE_DEDUPE_PENDING + 2 * STORE_DEDUPE_PENDING / 3)

static void redeliveries_are_found_in_memory_and_in_event_keys(void **state)
{
    (void)state;
    store_conn *c = open_writer();
    write_events(c, 0, MANY, 500, STORE_NEW);
    /* one merge has run: the oldest keys are in event_keys, the newest in memory */
    int64_t upto = one_int("SELECT upto FROM dedupe_state");
    assert_true(upto >= STORE_DEDUPE_PENDING);
    assert_int_equal(one_int("SELECT count(*) FROM event_keys"), upto);
    assert_int_equal(pending(c), MANY - upto);
    /* redeliveries from both levels, in batches as they come */
    for (int k = 0; k < MANY; k += 37) {
        assert_true(be->begin(c));
        assert_int_equal(put(c, k, "telnyx"), STORE_DUPLICATE);
        assert_true(be->commit(c));
    }
    assert_int_equal(one_int("SELECT count(*) FROM events"), MANY);
    assert_int_equal(one_int("SELECT sum(attempts) FROM events"), MANY + (MANY + 36) / 37);
    /* another endpoint's event of the same id is another event */
    assert_true(be->begin(c));
    assert_int_equal(put(c, 5, "other"), STORE_NEW);
    assert_int_equal(put(c, 5, "other"), STORE_DUPLICATE); /* twice in one transaction */
    assert_true(be->commit(c));
    be->close(c);
    /* after a restart: keys above upto are gathered from the rows again */
    c = open_writer();
    assert_int_equal(pending(c), MANY + 1 - upto);
    write_events(c, 0, MANY, 1000, STORE_DUPLICATE);
    write_events(c, MANY, MANY + 100, 100, STORE_NEW);
    be->close(c);
}

static void every_key_names_its_event(void **state)
{
    (void)state;
    store_conn *c = open_writer();
    write_events(c, 0, MANY, 500, STORE_NEW);
    be->close(c);
    assert_int_equal(sqlite3_open(f.path, &f.check), SQLITE_OK);
    assert_true(dedupe_register(f.check));
    int64_t upto = one_int("SELECT upto FROM dedupe_state");
    assert_true(upto > 0);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events e JOIN event_keys k ON k.seq = e.seq"
             " AND k.h = hookd_dedupe_key(e.id, e.endpoint) WHERE e.seq <= %lld",
             (long long)upto);
    assert_int_equal(one_int(sql), upto);
}

static void a_rolled_back_event_is_new_again(void **state)
{
    (void)state;
    store_conn *c = open_writer();
    write_events(c, 0, 10, 10, STORE_NEW);
    assert_true(be->begin(c));
    assert_int_equal(put(c, 10, "telnyx"), STORE_NEW);
    assert_int_equal(put(c, 11, "telnyx"), STORE_NEW);
    be->rollback(c);
    assert_int_equal(pending(c), 10);
    write_events(c, 10, 12, 2, STORE_NEW); /* the same seqs, now other rows */
    write_events(c, 0, 12, 12, STORE_DUPLICATE);
    assert_int_equal(one_int("SELECT count(*) FROM events"), 12);
    be->close(c);
}

static void two_writers_see_each_other(void **state)
{
    (void)state;
    store_conn *a = open_writer(), *b = open_writer();
    for (int round = 0; round < 5; round++) {
        write_events(a, round * 200, round * 200 + 100, 30, STORE_NEW);
        write_events(b, round * 200 + 100, round * 200 + 200, 30, STORE_NEW);
    }
    write_events(a, 0, 1000, 100, STORE_DUPLICATE);
    write_events(b, 0, 1000, 100, STORE_DUPLICATE);
    assert_int_equal(one_int("SELECT count(*) FROM events"), 1000);
    assert_int_equal(one_int("SELECT sum(attempts) FROM events"), 3000);
    be->close(a);
    be->close(b);
}

static void an_upgraded_store_gets_its_keys_at_open(void **state)
{
    (void)state;
    store_conn *running = open_writer(); /* creates the schema, and stays open (hookd serve) */
    assert_int_equal(sqlite3_open(f.path, &f.check), SQLITE_OK);
    char sql[400];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < %d)"
             " INSERT INTO events (id, endpoint, scheme, received_at_us, last_received_at_us,"
             " parse_status, body) SELECT 'evt-' || k, 'telnyx', 'telnyx', k, k, 'parsed', '{}'"
             " FROM n",
             MANY - 1);
    assert_int_equal(sqlite3_exec(f.check, sql, NULL, NULL, NULL), SQLITE_OK);
    store_conn *c = open_writer();
    assert_int_equal(one_int("SELECT count(*) FROM event_keys"), MANY);
    assert_int_equal(one_int("SELECT upto FROM dedupe_state"), MANY);
    assert_int_equal(pending(c), 0);
    write_events(c, 0, MANY, 2000, STORE_DUPLICATE);
    /* the writer that was running finds them in event_keys, without gathering them all */
    write_events(running, 0, MANY, 2000, STORE_DUPLICATE);
    assert_int_equal(pending(running), 0);
    write_events(running, MANY, MANY + 10, 10, STORE_NEW);
    write_events(c, MANY, MANY + 10, 10, STORE_DUPLICATE);
    be->close(c);
    be->close(running);
}

static void keys_of_deleted_events_are_swept(void **state)
{
    (void)state;
    store_conn *c = open_writer();
    write_events(c, 0, MANY, 500, STORE_NEW);
    int64_t first = one_int("SELECT count(*) FROM event_keys");
    assert_true(first >= STORE_DEDUPE_PENDING);
    assert_int_equal(sqlite3_exec(f.check, "DELETE FROM events WHERE seq <= 30000", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    /* the next merge sweeps every key range */
    write_events(c, MANY, 3 * STORE_DEDUPE_PENDING, 1000, STORE_NEW);
    assert_true(one_int("SELECT upto FROM dedupe_state") > first);
    assert_int_equal(one_int("SELECT count(*) FROM event_keys WHERE seq <= 30000"), 0);
    assert_int_equal(one_int("SELECT count(*) FROM event_keys"),
                     one_int("SELECT count(*) FROM events WHERE seq <= (SELECT upto FROM"
                             " dedupe_state)"));
    /* a deleted event delivered again is stored again, once */
    write_events(c, 7, 8, 1, STORE_NEW);
    write_events(c, 7, 8, 1, STORE_DUPLICATE);
    be->close(c);
}

/* hookd events import, with hookd serve running: an import larger than the memory's share
 * moves its keys into event_keys before it commits (dedupe_settle), and an import of the same
 * events again finds every one stored. */
typedef struct feed {
    int next, end;
    char id[32];
} feed;

static int next_event(void *ctx, store_record *r)
{
    feed *fd = ctx;
    if (fd->next >= fd->end)
        return 0;
    snprintf(fd->id, sizeof fd->id, "imp-%d", fd->next);
    *r = (store_record){.id = fd->id, .endpoint = "telnyx", .scheme = "telnyx", .parsed = true,
                        .received_at_us = 1000000000000000LL + fd->next,
                        .body = (const uint8_t *)"{}", .body_len = 2};
    fd->next++;
    return 1;
}

static void a_large_import_settles_its_keys(void **state)
{
    (void)state;
    store_conn *running = open_writer();
    write_events(running, 0, 100, 100, STORE_NEW);
    char url[200], err[256];
    snprintf(url, sizeof url, "sqlite:%s", f.path);
    for (int round = 0; round < 2; round++) {
        store_conn *v = NULL;
        assert_true(store_sqlite_view_open(url, true, &v, err, sizeof err));
        feed fd = {.next = 0, .end = MANY};
        store_import_counts n;
        assert_true(store_sqlite_import(v, next_event, &fd, &n));
        assert_int_equal(n.added, round == 0 ? MANY : 0);
        assert_int_equal(n.present, round == 0 ? 0 : MANY);
        store_sqlite_close(v);
        if (round == 0) /* settled: every key up to the newest event is in event_keys */
            assert_int_equal(one_int("SELECT upto FROM dedupe_state"), MANY + 100);
    }
    assert_int_equal(one_int("SELECT count(*) FROM event_keys"), MANY + 100);
    /* hookd serve goes on: the imported events are duplicates, without gathering them */
    assert_true(be->begin(running));
    char id[32];
    snprintf(id, sizeof id, "imp-%d", MANY / 2);
    store_record r = {.id = id, .endpoint = "telnyx", .scheme = "telnyx", .parsed = true,
                      .received_at_us = 1, .body = (const uint8_t *)"{}", .body_len = 2};
    assert_int_equal(be->event_upsert(running, &r), STORE_DUPLICATE);
    assert_true(be->commit(running));
    assert_true(pending(running) <= 100);
    be->close(running);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(redeliveries_are_found_in_memory_and_in_event_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_key_names_its_event, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rolled_back_event_is_new_again, setup, teardown),
        cmocka_unit_test_setup_teardown(two_writers_see_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(an_upgraded_store_gets_its_keys_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_of_deleted_events_are_swept, setup, teardown),
        cmocka_unit_test_setup_teardown(a_large_import_settles_its_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
