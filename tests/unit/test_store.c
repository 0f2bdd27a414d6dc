/*
 * test_store.c - the store's contract, through the generic front (store.c), run against every
 * backend (SQLite; PostgreSQL when HOOKD_TEST_PG names a server's socket directory, as
 * scripts/test does) and against a fault-injecting wrapper of SQLite:
 *   - an event is NEW once, then DUPLICATE; a probe writes; the row is committed before the
 *     callback says so (no 200 without a row);
 *   - a batch whose commit fails, or one of whose writes fails (a connection lost mid-batch),
 *     fails every job in it and leaves nothing of any of them (never half-written);
 *   - a slow commit delays every callback of its batch until it returns, and later jobs form
 *     the next batch (group commit);
 *   - a closed store refuses jobs and never calls their callbacks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "testutil.h"

#include "store_backend.h"
#include "walbuf.h"

/* ---- the fault-injecting wrapper -------------------------------------------------------------- */

/* Set by the test thread, read by the writer thread: atomics. */
static struct {
    atomic_bool fail_commit;
    atomic_int fail_upsert_at; /* fail the Nth event_upsert from now (1-based); 0: never */
    atomic_int upserts;
    atomic_int commit_delay_ms;
    atomic_int upserts_total;  /* every event_upsert, failed or not */
    atomic_int event_commits_entered; /* commits of batches that held an event (the front's own
                                       * housekeeping jobs commit batches of their own) */
    atomic_int upserts_at_last_commit;
    _Atomic double committed_at; /* when the last real commit returned */
    atomic_int commits;        /* of batches that held an event */
} faults;

static void reset_faults(void)
{
    atomic_store(&faults.fail_commit, false);
    atomic_store(&faults.fail_upsert_at, 0);
    atomic_store(&faults.upserts, 0);
    atomic_store(&faults.commit_delay_ms, 0);
    atomic_store(&faults.upserts_total, 0);
    atomic_store(&faults.event_commits_entered, 0);
    atomic_store(&faults.upserts_at_last_commit, 0);
    atomic_store(&faults.committed_at, 0.0);
    atomic_store(&faults.commits, 0);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool f_open(const config *c, metrics *m, store_conn **out, char *err, size_t errlen)
{
    return store_sqlite_backend.open(c, m, out, err, errlen);
}

static bool f_commit(store_conn *c)
{
    int upserts = atomic_load(&faults.upserts_total);
    bool events = atomic_exchange(&faults.upserts_at_last_commit, upserts) != upserts;
    if (!events)
        return store_sqlite_backend.commit(c); /* a housekeeping batch: no faults */
    atomic_fetch_add(&faults.event_commits_entered, 1);
    int delay = atomic_load(&faults.commit_delay_ms);
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    if (atomic_load(&faults.fail_commit))
        return false;
    bool ok = store_sqlite_backend.commit(c);
    atomic_store(&faults.committed_at, now());
    atomic_fetch_add(&faults.commits, 1);
    return ok;
}

static store_outcome f_event_upsert(store_conn *c, const store_record *r)
{
    atomic_fetch_add(&faults.upserts_total, 1);
    int at = atomic_load(&faults.fail_upsert_at);
    if (at > 0 && atomic_fetch_add(&faults.upserts, 1) + 1 == at)
        return STORE_FAILED; /* the connection went away mid-batch */
    return store_sqlite_backend.event_upsert(c, r);
}

static const store_backend *faulty(void)
{
    static store_backend b;
    b = store_sqlite_backend;
    b.scheme = "faulty";
    b.open = f_open;
    b.commit = f_commit;
    b.event_upsert = f_event_upsert;
    return &b;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

typedef struct job {
    double done_at;
    store_job job;
    store_record rec;
    store_outcome outcome;
    bool done;
    char id[64];
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void on_done(void *ctx, store_outcome outcome, const char *error)
{
    (void)error;
    job *j = ctx;
    pthread_mutex_lock(&lock);
    j->outcome = outcome;
    j->done_at = now();
    j->done = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_for(job *j)
{
    pthread_mutex_lock(&lock);
    while (!j->done)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static void event_job(job *j, const char *id)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    j->rec = (store_record){.id = j->id, .endpoint = "e", .scheme = "telnyx", .parsed = true,
                            .event_type = "call.hangup", .received_at_us = 1,
                            .body = (const uint8_t *)"{}", .body_len = 2};
    j->job = (store_job){.kind = JOB_EVENT, .rec = &j->rec, .done = on_done, .ctx = j};
}

typedef struct fixture {
    char dir[64], path[128];
    char pg[512];   /* a PostgreSQL conninfo for the checks, or "" */
    config cfg;
    metrics m;
    store *s;
} fixture;

/* A store in a new directory, with [store] commit_wait and durability as given. */
static fixture *open_fixture_with(const store_backend *be, int64_t commit_wait_us, durability d)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hookd-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/hookd.db", f->dir);
    config_defaults(&f->cfg);
    f->cfg.commit_wait_us = commit_wait_us;
    f->cfg.durability = d;
    snprintf(f->cfg.store_url, sizeof f->cfg.store_url, "sqlite:%s", f->path);
    metrics_init(&f->m);
    char err[512];
    reset_faults();
    if (!store_open_backend(be, &f->cfg, &f->m, &f->s, err, sizeof err))
        fail_msg("store_open: %s", err);
    return f;
}

static fixture *open_fixture(const store_backend *be)
{
    return open_fixture_with(be, STORE_COMMIT_WAIT_US, DURABILITY_FULL);
}

/* A fresh database on the test server (HOOKD_TEST_PG); false to skip. */
static bool pg_fixture_url(char *url, size_t n, char *conninfo, size_t cn)
{
    const char *host = getenv("HOOKD_TEST_PG");
    if (host == NULL || host[0] == '\0')
        return false;
    static int seq;
    char name[64], sql[160], admin[512];
    snprintf(name, sizeof name, "store_test_%d_%d", (int)getpid(), ++seq);
    snprintf(admin, sizeof admin, "host=%s user=hookd dbname=postgres", host);
    PGconn *db = PQconnectdb(admin);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(db, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(db);
    if (!ok)
        fail_msg("cannot create a test database on %s", host);
    snprintf(url, n, "postgresql:///%s?host=%s&user=hookd", name, host);
    snprintf(conninfo, cn, "host=%s user=hookd dbname=%s", host, name);
    return true;
}

static fixture *open_pg_fixture(void)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    config_defaults(&f->cfg);
    if (!pg_fixture_url(f->cfg.store_url, sizeof f->cfg.store_url, f->pg, sizeof f->pg)) {
        free(f);
        return NULL;
    }
    metrics_init(&f->m);
    char err[512];
    if (!store_open_backend(&store_pg_backend, &f->cfg, &f->m, &f->s, err, sizeof err))
        fail_msg("store_open: %s", err);
    return f;
}

static void close_fixture(fixture *f)
{
    if (f->pg[0] != '\0') {
        store_free(f->s);
        metrics_destroy(&f->m);
        free(f);
        return;
    }
    store_free(f->s);
    metrics_destroy(&f->m);
    static const char *const files[] = {"hookd.db", "hookd.db-wal", "hookd.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
}

/* Rows of event id in the file, read on a connection of its own (what a restart would see). */
static int rows(const fixture *f, const char *id)
{
    if (f->pg[0] != '\0') {
        PGconn *pg = PQconnectdb(f->pg);
        const char *params[] = {id};
        PGresult *r = PQexecParams(pg, "SELECT count(*) FROM events WHERE id = $1", 1, NULL, params,
                                   NULL, NULL, 0);
        int found = PQresultStatus(r) == PGRES_TUPLES_OK ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
        PQclear(r);
        PQfinish(pg);
        return found;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Submit j0, whose commit takes 150 ms; once that commit has begun, the rest: they queue behind
 * it and form the next batch together. */
static void submit_behind_slow_commit(fixture *f, job *jobs, size_t n)
{
    atomic_store(&faults.commit_delay_ms, 150);
    int entered = atomic_load(&faults.event_commits_entered);
    assert_true(store_submit(f->s, &jobs[0].job));
    while (atomic_load(&faults.event_commits_entered) == entered)
        usleep(1000);
    for (size_t i = 1; i < n; i++)
        assert_true(store_submit(f->s, &jobs[i].job));
    wait_for(&jobs[0]);
    atomic_store(&faults.commit_delay_ms, 0);
    for (size_t i = 1; i < n; i++)
        wait_for(&jobs[i]);
}

/* ---- the contract, for each backend ------------------------------------------------------------ */

static void new_then_duplicate_in(fixture *f)
{
    job a, b, probe;
    event_job(&a, "evt-1");
    assert_true(store_submit(f->s, &a.job));
    wait_for(&a);
    assert_int_equal(a.outcome, STORE_NEW);
    assert_int_equal(rows(f, "evt-1"), 1); /* committed before the callback said so */
    event_job(&b, "evt-1");
    assert_true(store_submit(f->s, &b.job));
    wait_for(&b);
    assert_int_equal(b.outcome, STORE_DUPLICATE);
    assert_int_equal(rows(f, "evt-1"), 1);
    memset(&probe, 0, sizeof probe);
    probe.job = (store_job){.kind = JOB_PROBE, .done = on_done, .ctx = &probe};
    assert_true(store_submit(f->s, &probe.job));
    wait_for(&probe);
    assert_int_equal(probe.outcome, STORE_PROBED);
    close_fixture(f);
}

static void new_then_duplicate(const store_backend *be)
{
    new_then_duplicate_in(open_fixture(be));
}

static void contract_postgresql(void **state)
{
    (void)state;
    fixture *f = open_pg_fixture();
    if (f == NULL) {
        skip();
        return; /* skip() does not return; the analyzer does not know */
    }
    new_then_duplicate_in(f);
}

/* PostgreSQL refuses one write of a batch (an id past its index's row size): that request fails,
 * alone; the others of its batch are written and committed. */
static void postgresql_refuses_one_write_alone(void **state)
{
    (void)state;
    fixture *f = open_pg_fixture();
    if (f == NULL) {
        skip();
        return; /* skip() does not return; the analyzer does not know */
    }
    static char huge[9000];
    unsigned x = 12345; /* incompressible, or PostgreSQL would compress it into the index */
    for (size_t i = 0; i < sizeof huge - 1; i++) {
        x = x * 1103515245u + 12345u;
        huge[i] = (char)('a' + (x >> 16) % 26);
    }
    job jobs[5];
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "batch-%d", i);
        event_job(&jobs[i], id);
    }
    jobs[2].rec.id = huge;
    for (int i = 0; i < 5; i++)
        assert_true(store_submit(f->s, &jobs[i].job));
    for (int i = 0; i < 5; i++)
        wait_for(&jobs[i]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(jobs[i].outcome, i == 2 ? STORE_FAILED : STORE_NEW);
    assert_int_equal(rows(f, "batch-4"), 1);
    close_fixture(f);
}

/* One value of a query on the fixture's database, as text ("" for none). */
static void pg_value(const fixture *f, const char *sql, char *out, size_t n)
{
    PGconn *pg = PQconnectdb(f->pg);
    PGresult *r = PQexec(pg, sql);
    snprintf(out, n, "%s", PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(pg);
}

typedef struct claimed_row {
    int64_t id, token;
    int attempts, n;
} claimed_row;

static bool take_claim(void *ctx, const store_due *d)
{
    claimed_row *c = ctx;
    c->id = d->id;
    c->token = d->lease_token;
    c->attempts = d->attempts;
    c->n++;
    return true;
}

static void record_attempt(fixture *f, const claimed_row *c, store_outcome *out)
{
    store_attempt a = {.delivery_id = c->id, .handler = "h", .attempt = c->attempts + 1,
                       .started_us = 1, .finished_us = 2, .outcome = OUTCOME_SUCCEEDED,
                       .exit_code = 0, .new_state = DELIVERY_SUCCEEDED, .next_attempt_us = 2,
                       .lease_token = c->token};
    job j;
    memset(&j, 0, sizeof j);
    j.job = (store_job){.kind = JOB_ATTEMPT, .attempt = &a, .done = on_done, .ctx = &j};
    assert_true(store_submit(f->s, &j.job));
    wait_for(&j);
    *out = j.outcome;
}

/* Fencing: a node whose claim ran out (its lease expired and another node's sweep made the
 * delivery owed again) records its attempt late: the attempt is kept, flagged fenced_out, and
 * the delivery does not move; the next claim's record, with the current token, does. */
static void postgresql_fences_a_late_record(void **state)
{
    (void)state;
    fixture *f = open_pg_fixture();
    if (f == NULL) {
        skip();
        return; /* skip() does not return; the analyzer does not know */
    }
    job e;
    event_job(&e, "fenced-1");
    e.rec.handlers[0] = "h";
    e.rec.nhandlers = 1;
    assert_true(store_submit(f->s, &e.job));
    wait_for(&e);
    assert_int_equal(e.outcome, STORE_NEW);
    char err[256], v[64];
    store_reader *r = store_reader_open(f->s, err, sizeof err);
    assert_non_null(r);
    assert_true(store_reader_claims(r));
    claimed_row first = {0};
    assert_true(store_claim(r, "h", 4, false, 1 /* us: runs out at once */, take_claim, &first));
    assert_int_equal(first.n, 1);
    assert_int_equal(first.attempts, 0);
    usleep(10 * 1000);
    assert_int_equal(store_rescue(r, "h", 5), 1);
    assert_int_equal(atomic_load(&f->m.rescued), 1);
    store_outcome o;
    record_attempt(f, &first, &o);
    assert_int_equal(o, STORE_WRITTEN);
    assert_int_equal(atomic_load(&f->m.lease_lost), 1);
    pg_value(f, "SELECT state FROM deliveries", v, sizeof v);
    assert_string_equal(v, "retry"); /* not moved by the late record */
    pg_value(f, "SELECT string_agg(outcome || ':' || fenced_out, ',' ORDER BY id) FROM attempts", v, sizeof v);
    assert_string_equal(v, "lease_expired:false,succeeded:true");
    claimed_row second = {0};
    assert_true(store_claim(r, "h", 4, false, 60000000, take_claim, &second));
    assert_int_equal(second.n, 1);
    assert_true(second.token != first.token);
    assert_int_equal(second.attempts, 1);
    record_attempt(f, &second, &o);
    assert_int_equal(o, STORE_WRITTEN);
    pg_value(f, "SELECT state || ':' || attempts FROM deliveries", v, sizeof v);
    assert_string_equal(v, "succeeded:2");
    assert_int_equal(atomic_load(&f->m.lease_lost), 1);
    store_reader_close(r);
    close_fixture(f);
}

/* Text PostgreSQL would refuse (invalid UTF-8, from a header, say) must not fail the request:
 * it is stored with U+FFFD in place of each bad byte; the body (bytea) stays as it came. */
static void postgresql_stores_invalid_utf8_text(void **state)
{
    (void)state;
    fixture *f = open_pg_fixture();
    if (f == NULL) {
        skip();
        return;
    }
    job e;
    event_job(&e, "utf8-1");
    e.rec.content_type = "text/x\xff\xfe";
    e.rec.body = (const uint8_t *)"\xff\x00\xfe";
    e.rec.body_len = 3;
    assert_true(store_submit(f->s, &e.job));
    wait_for(&e);
    assert_int_equal(e.outcome, STORE_NEW);
    char v[64];
    pg_value(f, "SELECT content_type || '|' || encode(body, 'hex') FROM events", v, sizeof v);
    assert_string_equal(v, "text/x\xef\xbf\xbd\xef\xbf\xbd|ff00fe");
    close_fixture(f);
}

/* A database that cannot be reached: the store opens (hookd starts, and says so), and every
 * write fails at once, with nothing to commit. */
static void postgresql_unreachable_fails_fast(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    config_defaults(&f->cfg);
    snprintf(f->cfg.store_url, sizeof f->cfg.store_url,
             "postgresql:///nothing?host=/nonexistent-hookd-test&user=hookd");
    snprintf(f->pg, sizeof f->pg, "unused");
    metrics_init(&f->m);
    char err[512];
    assert_true(store_open_backend(&store_pg_backend, &f->cfg, &f->m, &f->s, err, sizeof err));
    job j;
    event_job(&j, "nowhere");
    double t0 = now();
    assert_true(store_submit(f->s, &j.job));
    wait_for(&j);
    assert_int_equal(j.outcome, STORE_FAILED);
    assert_true(now() - t0 < 2.0);
    close_fixture(f);
    /* hookd migrate needs it now */
    assert_false(store_migrate("postgresql:///nothing?host=/nonexistent-hookd-test&user=hookd", err,
                               sizeof err));
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
}

static void contract_sqlite(void **state)
{
    (void)state;
    new_then_duplicate(&store_sqlite_backend);
}

static void contract_through_the_wrapper(void **state)
{
    (void)state;
    new_then_duplicate(faulty());
}

/* ---- faults ------------------------------------------------------------------------------------- */

static void a_failed_commit_fails_the_whole_batch(void **state)
{
    (void)state;
    fixture *f = open_fixture(faulty());
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        event_job(&jobs[i], id);
    }
    atomic_store(&faults.fail_commit, true);
    submit_behind_slow_commit(f, jobs, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].outcome, STORE_FAILED);
        assert_int_equal(rows(f, jobs[i].id), 0);
    }
    assert_true(atomic_load(&f->m.store_errors) >= 2);
    /* The store recovers: the same events are stored once the commit works again. */
    atomic_store(&faults.fail_commit, false);
    event_job(&jobs[0], "c-0");
    assert_true(store_submit(f->s, &jobs[0].job));
    wait_for(&jobs[0]);
    assert_int_equal(jobs[0].outcome, STORE_NEW);
    assert_int_equal(rows(f, "c-0"), 1);
    close_fixture(f);
}

static void a_write_failing_mid_batch_leaves_nothing(void **state)
{
    (void)state;
    fixture *f = open_fixture(faulty());
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "m-%d", i);
        event_job(&jobs[i], id);
    }
    atomic_store(&faults.fail_upsert_at, 3); /* m-0 alone, then m-1 ok, m-2 fails: m-1 and m-3 with it */
    submit_behind_slow_commit(f, jobs, 4);
    assert_int_equal(jobs[0].outcome, STORE_NEW);
    assert_int_equal(rows(f, "m-0"), 1);
    for (int i = 1; i < 4; i++) {
        if (jobs[i].outcome != STORE_FAILED)
            fail_msg("%s: outcome %d, wanted STORE_FAILED", jobs[i].id, jobs[i].outcome);
        if (rows(f, jobs[i].id) != 0)
            fail_msg("%s was half-written", jobs[i].id);
    }
    close_fixture(f);
}

static void callbacks_wait_for_a_slow_commit(void **state)
{
    (void)state;
    fixture *f = open_fixture(faulty());
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "s-%d", i);
        event_job(&jobs[i], id);
    }
    double t0 = now();
    submit_behind_slow_commit(f, jobs, 3);
    assert_true(jobs[0].done_at - t0 >= 0.15);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jobs[i].outcome, STORE_NEW);
        assert_true(jobs[i].done_at >= t0);
    }
    /* s-1 and s-2 waited behind s-0's commit, then shared one: two commits of events in all. */
    assert_int_equal(atomic_load(&faults.commits), 2);
    assert_true(jobs[2].done_at >= atomic_load(&faults.committed_at));
    close_fixture(f);
}

static void a_closed_store_refuses(void **state)
{
    (void)state;
    fixture *f = open_fixture(&store_sqlite_backend);
    store_close(f->s);
    job j;
    event_job(&j, "late");
    assert_false(store_submit(f->s, &j.job));
    usleep(20 * 1000);
    assert_false(j.done); /* a refused submit never calls back */
    close_fixture(f);
}

/* ---- group commit's wait for company ([store] commit_wait) ---------------------------------- */

/* n jobs named PREFIX-i, one submitted every gap_us, then every one waited for: all NEW. */
static void stream(fixture *f, job *jobs, size_t n, const char *prefix, useconds_t gap_us)
{
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%zu", prefix, i);
        event_job(&jobs[i], id);
        assert_true(store_submit(f->s, &jobs[i].job));
        usleep(gap_us);
    }
    for (size_t i = 0; i < n; i++) {
        wait_for(&jobs[i]);
        assert_int_equal(jobs[i].outcome, STORE_NEW);
    }
}

/* A job every 0.5 ms, with commits that take a fraction of that (durability = process: no
 * fsync): committed at once, nearly every job would have a commit of its own. With commit_wait
 * = 50ms the writer sees the rate and holds each batch for company, so 200 jobs share a few. */
static void a_steady_stream_shares_commits(void **state)
{
    (void)state;
    fixture *f = open_fixture_with(faulty(), 50000, DURABILITY_PROCESS);
    static job jobs[200];
    stream(f, jobs, 200, "steady", 500);
    int commits = atomic_load(&faults.commits);
    if (commits > 20)
        fail_msg("200 jobs took %d commits", commits);
    assert_true(atomic_load(&f->m.commit_waits) >= 1);
    close_fixture(f);
}

/* At a rate that predicts no company within the wait (one job every 150 ms against a wait of
 * 100 ms) nothing waits, and neither does the first job after a quiet spell that followed a busy
 * stream (the smoothed rate is still high then; the rate since the last batch is not). */
static void a_lone_job_does_not_wait(void **state)
{
    (void)state;
    fixture *f = open_fixture_with(faulty(), 100000, DURABILITY_PROCESS);
    static job jobs[100];
    stream(f, jobs, 5, "lone", 150000);
    assert_int_equal(atomic_load(&f->m.commit_waits), 0);
    stream(f, jobs, 100, "busy", 500);
    uint64_t waits = atomic_load(&f->m.commit_waits);
    assert_true(waits >= 1); /* the stream did wait: the rate was known */
    usleep(300000);
    stream(f, jobs, 1, "after", 0);
    assert_int_equal(atomic_load(&f->m.commit_waits), waits);
    close_fixture(f);
}

/* wait_for with a limit: false when the job is still not done after `seconds`. */
static bool wait_for_at_most(job *j, int seconds)
{
    struct timespec ts; /* cond's clock: the realtime one */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&lock);
    while (!j->done && pthread_cond_timedwait(&cond, &lock, &ts) == 0) {
    }
    bool done = j->done;
    pthread_mutex_unlock(&lock);
    return done;
}

static bool is_done(job *j)
{
    pthread_mutex_lock(&lock);
    bool done = j->done;
    pthread_mutex_unlock(&lock);
    return done;
}

/* A wait for company ends as soon as STORE_COMMIT_TARGET jobs are queued, not at the end of
 * commit_wait: here a minute, so only that end lets the jobs finish within the test. Jobs go in
 * a millisecond apart until the writer, having seen the rate, holds one for company (the waits
 * metric says when); the rest of a target's worth then follows, and is committed at once. */
static void a_wait_ends_at_the_target(void **state)
{
    (void)state;
    fixture *f = open_fixture_with(faulty(), 60LL * 1000000, DURABILITY_PROCESS);
    static job jobs[16 + STORE_COMMIT_TARGET];
    char id[32];
    size_t n = 0;
    bool held = false;
    while (!held) {
        assert_true(n < 16);
        snprintf(id, sizeof id, "target-%zu", n);
        event_job(&jobs[n], id);
        uint64_t waits = atomic_load(&f->m.commit_waits);
        assert_true(store_submit(f->s, &jobs[n].job));
        for (int t = 0; t < 5000 && !held && !is_done(&jobs[n]); t++) {
            held = atomic_load(&f->m.commit_waits) > waits; /* the wait is a minute long */
            usleep(1000);
        }
        held = held && !is_done(&jobs[n]);
        n++;
    }
    size_t first = n - 1; /* the one held; every earlier job is done */
    for (; n < first + STORE_COMMIT_TARGET; n++) {
        snprintf(id, sizeof id, "target-%zu", n);
        event_job(&jobs[n], id);
        assert_true(store_submit(f->s, &jobs[n].job));
    }
    for (size_t i = first; i < n; i++) {
        if (!wait_for_at_most(&jobs[i], 20))
            fail_msg("job %zu of a full batch still waited after 20 s (commit_wait is 60 s)", i);
        assert_int_equal(jobs[i].outcome, STORE_NEW);
    }
    close_fixture(f);
}

/* ---- the hookd-wal VFS (walbuf.c) ------------------------------------------------------------ */

static long long count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Free pages a store holds at its start (here a dropped table of 8 MiB: four steps of
 * STORE_VACUUM_PAGES) go back while nothing is queued: the writer takes the steps back to back
 * instead of one after each batch (only the housekeeper's measure, every 10 s, would come). */
static void an_idle_store_gives_free_pages_back(void **state)
{
    (void)state;
    fixture *f = open_fixture(&store_sqlite_backend);
    store_free(f->s);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    static const char junk[] = "CREATE TABLE junk(b); INSERT INTO junk WITH RECURSIVE c(i) AS"
                               " (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 8192)"
                               " SELECT randomblob(1000) FROM c; DROP TABLE junk";
    assert_int_equal(sqlite3_exec(db, junk, NULL, NULL, NULL), SQLITE_OK);
    long long freed = count_of(db, "SELECT freelist_count FROM pragma_freelist_count()");
    assert_true(freed >= 4LL * STORE_VACUUM_PAGES);
    char err[512];
    if (!store_open_backend(&store_sqlite_backend, &f->cfg, &f->m, &f->s, err, sizeof err))
        fail_msg("store_open: %s", err);
    long long left = freed;
    for (int i = 0; i < 500 && left >= STORE_VACUUM_PAGES; i++) {
        usleep(10000);
        left = count_of(db, "SELECT freelist_count FROM pragma_freelist_count()");
    }
    sqlite3_close(db);
    if (left >= STORE_VACUUM_PAGES)
        fail_msg("%lld free pages of %lld still there after 5 s idle", left, freed);
    close_fixture(f);
}

/* Transactions from one row to over the buffer (1 MiB) and over one pwrite (124 KiB), and a
 * rollback after a spill: after each commit another connection, on the default VFS, reads
 * exactly what was committed (a frame left in the buffer would show as a missing or torn row),
 * and after a reopen the file is intact. */
static void walbuf_commits_are_on_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/hookd-walbuf-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/w.db", dir);
    assert_true(walbuf_register());
    sqlite3 *w = NULL, *r = NULL;
    assert_int_equal(sqlite3_open_v2(path, &w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, WALBUF_VFS),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(w, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                     " PRAGMA cache_size = 16;" /* small: big transactions spill */
                                     " CREATE TABLE t (n INTEGER, b BLOB);", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_open_v2(path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    const int sizes[] = {1, 7, 31, 200, 1500, 3};
    long long total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < %d)"
                 " INSERT INTO t SELECT k, randomblob(1000) FROM c; COMMIT;", sizes[i]);
        assert_int_equal(sqlite3_exec(w, sql, NULL, NULL, NULL), SQLITE_OK);
        total += sizes[i];
        assert_int_equal(count_of(r, "SELECT count(*) FROM t WHERE length(b) = 1000"), total);
    }
    assert_int_equal(sqlite3_exec(w, "BEGIN; WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1"
                                     " FROM c WHERE k < 2000) INSERT INTO t SELECT k, randomblob(1000)"
                                     " FROM c; ROLLBACK;", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(count_of(r, "SELECT count(*) FROM t"), total);
    assert_int_equal(sqlite3_exec(w, "INSERT INTO t VALUES (-1, zeroblob(1000))", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(count_of(r, "SELECT count(*) FROM t"), total + 1);
    sqlite3_close(r);
    sqlite3_close(w);
    assert_int_equal(sqlite3_open_v2(path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(count_of(r, "SELECT count(*) FROM t"), total + 1);
    sqlite3_close(r);
    static const char *const files[] = {"w.db", "w.db-wal", "w.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contract_sqlite),
        cmocka_unit_test(contract_through_the_wrapper),
        cmocka_unit_test(contract_postgresql),
        cmocka_unit_test(postgresql_refuses_one_write_alone),
        cmocka_unit_test(postgresql_unreachable_fails_fast),
        cmocka_unit_test(postgresql_fences_a_late_record),
        cmocka_unit_test(postgresql_stores_invalid_utf8_text),
        cmocka_unit_test(a_failed_commit_fails_the_whole_batch),
        cmocka_unit_test(a_write_failing_mid_batch_leaves_nothing),
        cmocka_unit_test(callbacks_wait_for_a_slow_commit),
        cmocka_unit_test(a_closed_store_refuses),
        cmocka_unit_test(a_steady_stream_shares_commits),
        cmocka_unit_test(a_lone_job_does_not_wait),
        cmocka_unit_test(a_wait_ends_at_the_target),
        cmocka_unit_test(an_idle_store_gives_free_pages_back),
        cmocka_unit_test(walbuf_commits_are_on_file),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
