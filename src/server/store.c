/*
 * store.c - the store's generic front: a job queue, one writer thread, group commit.
 *
 * Requests queue jobs; the writer takes everything queued (up to STORE_MAX_BATCH), hands it to
 * the backend in one transaction and commits once, so concurrent requests share one fsync. Only
 * after the commit returns is any of them told; if anything in the batch fails, the whole batch
 * rolls back and every request in it is told so (503), never half-written. Under load the writer
 * waits up to [store] commit_wait for company before it commits (see gather()). The front also
 * keeps the commit metrics and wakes the dispatcher after a batch that made deliveries due. What
 * is specific to a database is behind store_backend.h (store_sqlite.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_backend.h"

/* Retention and measurement: a thread that queues JOB_PRUNE and JOB_MEASURE jobs for the writer,
 * so deleting old events shares the group commit instead of contending for the write lock. */
typedef struct housekeeping {
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pruning, measuring;  /* its job is in the writer's queue */
    bool more;                /* the last batch was full: go on after STORE_PRUNE_PAUSE_MS */
    int64_t more_at_us;
    long run;                 /* events removed in this run */
    store_job prune, measure;
} housekeeping;

struct store {
    store_conn *conn;        /* used only by the writer thread once it runs */
    char node[128];
    const store_backend *be;
    metrics *m;
    int64_t retain_s;        /* [store] retain, 0: keep everything */
    housekeeping hk;
    atomic_bool compact_due; /* free pages to give back: a step between two batches, or now if
                              * nothing is queued (set at open and when a prune run ends) */
    void (*on_deliveries)(void *ctx);
    void *on_deliveries_ctx;
    store_event_fn *on_event; /* under event_lock: store_on_event(NULL) returns only once no */
    void *on_event_ctx;       /* call is running, so the console can be freed right after */
    pthread_mutex_t event_lock;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    store_job *head, *tail;
    size_t queued;           /* jobs from head to tail */
    int64_t commit_wait_us;  /* [store] commit_wait, 0: never wait for company */
    bool gathering;          /* the writer waits for company: submit wakes it only at the target */
    double last_take;        /* when the writer last took a batch (CLOCK_MONOTONIC seconds) */
    double arrivals;         /* jobs per second, smoothed over recent batches */
    bool closing, closed;
    pthread_t writer;
};

const store_backend *store_backend_for_url(const char *url)
{
    static const store_backend *const all[] = {&store_sqlite_backend, &store_pg_backend};
    for (size_t i = 0; url != NULL && i < sizeof all / sizeof all[0]; i++) {
        const char *names[] = {all[i]->scheme, all[i]->alias};
        for (size_t k = 0; k < 2; k++) {
            size_t n = names[k] != NULL ? strlen(names[k]) : 0;
            if (n > 0 && strncmp(url, names[k], n) == 0 && url[n] == ':')
                return all[i];
        }
    }
    return NULL;
}

void store_node_of(const config *c, char *out, size_t n)
{
    if (c->node[0] != '\0') {
        snprintf(out, n, "%s", c->node);
        return;
    }
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    const char *port = c->nlisten > 0 ? strrchr(c->listen[0], ':') : NULL;
    snprintf(out, n, "%s%s", host, port != NULL ? port : "");
}

void store_url_shown(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    /* scheme://user:PASSWORD@host */
    char *scheme = strstr(out, "://");
    char *at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
    char *colon = scheme != NULL ? strchr(scheme + 3, ':') : NULL;
    if (at != NULL && colon != NULL && colon < at && at - colon > 1) {
        size_t tail = strlen(at);
        if ((size_t)(colon + 1 - out) + 3 + tail < n) {
            memmove(colon + 4, at, tail + 1);
            memset(colon + 1, '*', 3);
        }
    }
    /* ...?password=PASSWORD&... */
    for (char *p = strstr(out, "password="); p != NULL; p = strstr(p + 1, "password=")) {
        if (p != out && p[-1] != '?' && p[-1] != '&' && p[-1] != ' ')
            continue;
        char *v = p + 9, *end = v + strcspn(v, "& ");
        size_t tail = strlen(end);
        if (end - v > 0 && (size_t)(v - out) + 3 + tail < n) {
            memmove(v + 3, end, tail + 1);
            memset(v, '*', 3);
        }
    }
}

const char *store_node(const store *s)
{
    return s->node;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One job; *wakes is set when it made deliveries due (the dispatcher is told after COMMIT). */
static store_outcome write_job(store *s, store_job *j, bool *wakes)
{
    store_conn *c = s->conn;
    store_outcome o = STORE_FAILED;
    switch (j->kind) {
    case JOB_EVENT:
        o = s->be->event_upsert(c, j->rec);
        *wakes = *wakes || (o == STORE_NEW && j->rec->nhandlers > 0);
        break;
    case JOB_PROBE: o = s->be->probe(c); break;
    case JOB_CLAIM: o = s->be->delivery_claim(c, j->delivery_id, j->attempts); break;
    case JOB_ATTEMPT:
        o = s->be->attempt_record(c, j->attempt);
        *wakes = *wakes || (o != STORE_FAILED && j->attempt->new_state != DELIVERY_RETRY);
        break;
    case JOB_PARK: o = s->be->delivery_park(c, j->delivery_id); break;
    case JOB_PRUNE:
        o = s->be->prune_batch(c, j->before_us, STORE_PRUNE_BATCH, false, &j->removed)
                ? STORE_WRITTEN
                : STORE_FAILED;
        break;
    case JOB_MEASURE: {
        int64_t bytes = 0, oldest = 0;
        o = s->be->measure(c, &bytes, &oldest) ? STORE_WRITTEN : STORE_FAILED;
        if (o == STORE_WRITTEN) {
            atomic_store(&s->m->store_bytes, bytes);
            atomic_store(&s->m->oldest_event_us, oldest);
        }
        break;
    }
    }
    return o;
}

static bool housekeeping_job(const store_job *j)
{
    return j->kind == JOB_PRUNE || j->kind == JOB_MEASURE;
}

static void run_batch(store *s, store_job *jobs, size_t n)
{
    store_outcome outcomes[STORE_MAX_BATCH];
    double t0 = now_seconds();
    bool wakes = false, ok;
    size_t i = 0;
    if (s->be->write_batch != NULL && !housekeeping_job(jobs)) {
        store_job *list[STORE_MAX_BATCH];
        for (store_job *j = jobs; j != NULL && i < STORE_MAX_BATCH; j = j->next)
            list[i++] = j;
        ok = s->be->write_batch(s->conn, list, i, outcomes, &wakes);
    } else {
        ok = s->be->begin(s->conn);
        for (store_job *j = jobs; ok && j != NULL; j = j->next, i++) {
            outcomes[i] = write_job(s, j, &wakes);
            ok = outcomes[i] != STORE_FAILED;
        }
        if (ok)
            ok = s->be->commit(s->conn);
    }
    char error[256] = "";
    if (!ok) {
        snprintf(error, sizeof error, "%s", s->be->errmsg(s->conn));
        s->be->rollback(s->conn);
        atomic_fetch_add(&s->m->store_errors, 1);
    }
    metrics_observe(&s->m->commit_seconds, now_seconds() - t0);
    metrics_observe(&s->m->commit_batch, (double)n);
    if (ok && wakes) {
        pthread_mutex_lock(&s->lock);
        void (*fn)(void *) = s->on_deliveries;
        void *ctx = s->on_deliveries_ctx;
        pthread_mutex_unlock(&s->lock);
        if (fn != NULL)
            fn(ctx);
    }
    i = 0;
    for (store_job *j = jobs, *next; j != NULL; j = next, i++) {
        next = j->next; /* done() may free the job */
        store_outcome o = ok ? outcomes[i] : STORE_FAILED;
        if (ok && o == STORE_FAILED && error[0] == '\0') /* refused alone (write_batch) */
            snprintf(error, sizeof error, "%s", s->be->errmsg(s->conn));
        if (o == STORE_NEW) {
            metrics_stored(s->m, j->rec->parsed ? j->rec->event_type : NULL, j->rec->failure_cause);
            pthread_mutex_lock(&s->event_lock);
            if (s->on_event != NULL)
                s->on_event(s->on_event_ctx, j->rec);
            pthread_mutex_unlock(&s->event_lock);
        }
        else if (o == STORE_DUPLICATE)
            atomic_fetch_add(&s->m->duplicates, 1);
        j->done(j->ctx, o, ok ? NULL : error);
    }
}

/* Group commit's company. A commit costs about the same for 1 request as for 30 (one fsync, the
 * same few index and header pages written), so while requests arrive faster than commits end the
 * writer holds the first queued job up to commit_wait for others to join it, or until
 * STORE_COMMIT_TARGET are queued. It waits only when the arrival rate predicts at least
 * STORE_COMMIT_COMPANY more jobs within the wait: the lower of the rate smoothed over recent
 * batches and the rate since the last batch was taken, so a lone request at low load, or the
 * first after a quiet spell, commits at once. Housekeeping never waits. Called with s->lock held
 * and a job queued. */
static void gather(store *s)
{
    double now = now_seconds(), gap = now - s->last_take;
    double since = s->last_take > 0 && gap > 0 ? (double)s->queued / gap : 0;
    double rate = since < s->arrivals ? since : s->arrivals;
    if (s->commit_wait_us <= 0 || housekeeping_job(s->head) || s->queued >= STORE_COMMIT_TARGET
        || rate * (double)s->commit_wait_us / 1e6 < STORE_COMMIT_COMPANY)
        return;
    double until = now + (double)s->commit_wait_us / 1e6;
    struct timespec ts = {(time_t)until, (long)((until - (double)(time_t)until) * 1e9)};
    atomic_fetch_add(&s->m->commit_waits, 1);
    s->gathering = true;
    while (!s->closing && s->queued < STORE_COMMIT_TARGET
           && pthread_cond_timedwait(&s->wake, &s->lock, &ts) == 0) {
    }
    s->gathering = false;
}

/* Jobs per second between two batches taken, smoothed (each batch weighs 0.3), so one quiet gap
 * or one burst does not decide the next wait alone. */
static void count_arrivals(store *s, size_t n)
{
    double now = now_seconds(), gap = now - s->last_take;
    if (s->last_take > 0 && gap > 0) {
        double rate = (double)n / gap;
        s->arrivals = s->arrivals > 0 ? 0.7 * s->arrivals + 0.3 * rate : rate;
    }
    s->last_take = now;
}

/* Between two transactions: a step of giving free pages back, if one is due (it stays due while
 * the step says more is left), then the backend's own between-batches work. */
static void between_batches(store *s)
{
    if (atomic_exchange(&s->compact_due, false) && s->be->compact != NULL
        && s->be->compact(s->conn))
        atomic_store(&s->compact_due, true);
    if (s->be->idle != NULL)
        s->be->idle(s->conn);
}

static void *writer_main(void *arg)
{
    store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        /* compact_due is only ever set on this thread (or before it starts): no wake-up needed */
        while (s->head == NULL && !s->closing && !atomic_load(&s->compact_due))
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->head == NULL && s->closing) { /* everything is written */
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        if (s->head == NULL) { /* idle, and space to give back: a step now, not after a batch */
            pthread_mutex_unlock(&s->lock);
            between_batches(s);
            continue;
        }
        gather(s);
        /* Housekeeping (prune, measure) gets a transaction of its own: its failure must never
         * fail a request's commit. */
        store_job *batch = s->head, *last = s->head;
        size_t n = 1;
        while (!housekeeping_job(last) && last->next != NULL && !housekeeping_job(last->next)
               && n < STORE_MAX_BATCH) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (s->head == NULL)
            s->tail = NULL;
        last->next = NULL;
        s->queued -= n;
        count_arrivals(s, n);
        pthread_mutex_unlock(&s->lock);
        run_batch(s, batch, n);
        between_batches(s);
    }
}

/* ---- housekeeping ------------------------------------------------------------------------------ */

static int64_t wall_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void pruned(void *ctx, store_outcome outcome, const char *error)
{
    (void)error;
    store *s = ctx;
    housekeeping *h = &s->hk;
    pthread_mutex_lock(&h->lock);
    h->pruning = false;
    h->more = outcome == STORE_WRITTEN && h->prune.removed == STORE_PRUNE_BATCH;
    h->more_at_us = wall_us() + (int64_t)STORE_PRUNE_PAUSE_MS * 1000;
    if (outcome == STORE_WRITTEN) {
        h->run += h->prune.removed;
        atomic_fetch_add(&s->m->pruned, (uint64_t)h->prune.removed);
    }
    if (!h->more && h->run > 0) {
        atomic_store(&s->compact_due, true);
        h->run = 0;
    }
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static void measured(void *ctx, store_outcome outcome, const char *error)
{
    (void)outcome;
    (void)error;
    store *s = ctx;
    pthread_mutex_lock(&s->hk.lock);
    s->hk.measuring = false;
    pthread_mutex_unlock(&s->hk.lock);
}

static void *housekeeper_main(void *arg)
{
    store *s = arg;
    housekeeping *h = &s->hk;
    int64_t next_measure = 0, next_prune = 0;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        int64_t now = wall_us();
        if (!h->measuring && now >= next_measure) {
            h->measure = (store_job){.kind = JOB_MEASURE, .done = measured, .ctx = s};
            h->measuring = store_submit(s, &h->measure);
            next_measure = now + (int64_t)STORE_MEASURE_INTERVAL_S * 1000000;
        }
        if (s->retain_s > 0 && !h->pruning && ((h->more && now >= h->more_at_us) || now >= next_prune)) {
            h->prune = (store_job){.kind = JOB_PRUNE, .before_us = now - s->retain_s * 1000000,
                                   .done = pruned, .ctx = s};
            h->more = false;
            h->pruning = store_submit(s, &h->prune);
            next_prune = now + (int64_t)STORE_RETAIN_INTERVAL_S * 1000000;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        if (h->more && !h->pruning) { /* the pause between two prune batches */
            int64_t at = h->more_at_us > now ? h->more_at_us : now;
            until = (struct timespec){(time_t)(at / 1000000), (long)(at % 1000000) * 1000};
        } else {
            until.tv_sec += 1;
        }
        pthread_cond_timedwait(&h->cond, &h->lock, &until);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

bool store_submit(store *s, store_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&s->lock);
    bool ok = !s->closing;
    if (ok) {
        if (s->tail != NULL)
            s->tail->next = job;
        else
            s->head = job;
        s->tail = job;
        s->queued++;
        if (!s->gathering || s->queued >= STORE_COMMIT_TARGET)
            pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

bool store_open(const config *c, metrics *m, store **out, char *err, size_t errlen)
{
    const store_backend *be = store_backend_for_url(c->store_url);
    if (be == NULL) {
        snprintf(err, errlen, "unsupported store url (expected sqlite:PATH or postgresql://...)");
        return false;
    }
    return store_open_backend(be, c, m, out, err, errlen);
}

bool store_open_backend(const store_backend *be, const config *c, metrics *m, store **out,
                        char *err, size_t errlen)
{
    err[0] = '\0';
    store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return false;
    s->be = be;
    s->m = m;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->event_lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &monotonic);
    pthread_condattr_destroy(&monotonic);
    s->commit_wait_us = c->commit_wait_us;
    s->retain_s = c->store_retain_s;
    store_node_of(c, s->node, sizeof s->node);
    pthread_mutex_init(&s->hk.lock, NULL);
    pthread_cond_init(&s->hk.cond, NULL);
    bool ok = be->open(c, m, &s->conn, err, errlen);
    if (ok && !be->recover(s->conn)) {
        snprintf(err, errlen, "cannot recover deliveries that were in flight: %s",
                 be->errmsg(s->conn));
        be->close(s->conn);
        ok = false;
    }
    /* Free pages left by an earlier run (a prune cut short, a migration that rebuilt a table:
     * schema 9 frees the old events table, as large as the new) go back a step at a time too. */
    atomic_store(&s->compact_due, true);
    if (ok && pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        be->close(s->conn);
        ok = false;
    }
    if (!ok) {
        pthread_mutex_destroy(&s->hk.lock);
        pthread_cond_destroy(&s->hk.cond);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->event_lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        return false;
    }
    s->hk.started = pthread_create(&s->hk.thread, NULL, housekeeper_main, s) == 0;
    *out = s;
    return true;
}

struct store_reader {
    store_conn *conn;
    const store_backend *be;
};

store_reader *store_reader_open(const store *s, char *err, size_t errlen)
{
    store_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->be = s->be;
    if (!s->be->reader_open(s->conn, &r->conn, err, errlen)) {
        free(r);
        return NULL;
    }
    return r;
}

void store_reader_close(store_reader *r)
{
    if (r == NULL)
        return;
    r->be->close(r->conn);
    free(r);
}

bool store_due_walk(store_reader *r, const char *handler, int64_t now_us, int limit,
                    store_due_fn *fn, void *ctx)
{
    return r->be->due != NULL && r->be->due(r->conn, handler, now_us, limit, fn, ctx);
}

bool store_blocked(store_reader *r, const char *handler, const char *call_key,
                   int64_t occurred_at_us, int64_t id)
{
    /* An error counts as blocked: the delivery waits for the next look rather than run early. */
    return r->be->blocked == NULL || r->be->blocked(r->conn, handler, call_key, occurred_at_us, id) != 0;
}

bool store_gauges_read(store_reader *r, store_gauges *out)
{
    return r->be->gauges(r->conn, out);
}

bool store_owed_by_handler(store_reader *r, store_count_fn *fn, void *ctx)
{
    return r->be->owed_by_handler(r->conn, fn, ctx);
}

const char *store_reader_errmsg(store_reader *r)
{
    return r->be->errmsg(r->conn);
}

bool store_reader_claims(const store_reader *r)
{
    return r->be->claim != NULL;
}

bool store_claim(store_reader *r, const char *handler, int limit, bool by_call, int64_t lease_us,
                 store_due_fn *fn, void *ctx)
{
    return r->be->claim(r->conn, handler, limit, by_call, lease_us, fn, ctx);
}

bool store_wake_lane(store_reader *r, const char *handler, const char *call_key)
{
    return r->be->wake_lane == NULL || r->be->wake_lane(r->conn, handler, call_key);
}

long store_rescue(store_reader *r, const char *handler, int max_attempts)
{
    return r->be->rescue != NULL ? r->be->rescue(r->conn, handler, max_attempts) : 0;
}

int store_wait_fd(store_reader *r)
{
    return r->be->wait_fd != NULL ? r->be->wait_fd(r->conn) : -1;
}

void store_drain_notices(store_reader *r)
{
    if (r->be->drain_notices != NULL)
        r->be->drain_notices(r->conn);
}

void store_on_event(store *s, store_event_fn *fn, void *ctx)
{
    pthread_mutex_lock(&s->event_lock);
    s->on_event = fn;
    s->on_event_ctx = ctx;
    pthread_mutex_unlock(&s->event_lock);
}

void store_on_deliveries(store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->lock);
    s->on_deliveries = fn;
    s->on_deliveries_ctx = ctx;
    pthread_mutex_unlock(&s->lock);
}

void store_close(store *s)
{
    if (s == NULL || s->closed)
        return;
    if (s->hk.started) { /* first: it queues jobs; any it queued is still written below */
        pthread_mutex_lock(&s->hk.lock);
        s->hk.stop = true;
        pthread_cond_signal(&s->hk.cond);
        pthread_mutex_unlock(&s->hk.lock);
        pthread_join(s->hk.thread, NULL);
        s->hk.started = false;
    }
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->writer, NULL);
    s->be->close(s->conn);
    s->conn = NULL;
    s->closed = true;
}

void store_free(store *s)
{
    if (s == NULL)
        return;
    store_close(s);
    pthread_mutex_destroy(&s->hk.lock);
    pthread_cond_destroy(&s->hk.cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->event_lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}

bool store_migrate(const char *url, char *err, size_t errlen)
{
    const store_backend *be = store_backend_for_url(url);
    if (be == NULL) {
        snprintf(err, errlen, "unsupported store url (expected sqlite:PATH or postgresql://...)");
        return false;
    }
    config *c = malloc(sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    config_defaults(c);
    snprintf(c->store_url, sizeof c->store_url, "%s", url);
    store_conn *conn = NULL;
    bool ok = be->open(c, NULL, &conn, err, errlen);
    if (ok)
        be->close(conn);
    free(c);
    return ok;
}

/* ---- the command line ------------------------------------------------------------------------ */

struct store_view {
    store_conn *conn;
    const store_backend *be;
};

store_view *store_view_open(const char *url, bool write, char *err, size_t errlen)
{
    const store_backend *be = store_backend_for_url(url);
    if (be == NULL) {
        snprintf(err, errlen, "unsupported store url (expected sqlite:PATH or postgresql://...)");
        return NULL;
    }
    store_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->be = be;
    if (!be->view_open(url, write, &v->conn, err, errlen)) {
        free(v);
        return NULL;
    }
    return v;
}

void store_view_close(store_view *v)
{
    if (v == NULL)
        return;
    v->be->close(v->conn);
    free(v);
}

bool store_view_report(store_view *v, store_report which, const char *const *params, size_t n,
                       store_row_fn *fn, void *ctx)
{
    return v->be->report(v->conn, which, params, n, fn, ctx);
}

bool store_view_replay(store_view *v, const store_replay *spec, store_route_fn *route, void *ctx,
                       store_replay_counts *out)
{
    return v->be->replay(v->conn, spec, route, ctx, out);
}

const char *store_view_errmsg(store_view *v)
{
    return v->be->errmsg(v->conn);
}

bool store_view_prune(store_view *v, int64_t before_us, bool dry_run, long *removed)
{
    const store_backend *be = v->be;
    *removed = 0;
    if (dry_run) /* one count, in one read */
        return be->prune_batch(v->conn, before_us, INT32_MAX, true, removed);
    for (;;) {
        long n = 0;
        bool ok = be->begin(v->conn) && be->prune_batch(v->conn, before_us, STORE_PRUNE_BATCH, false, &n)
                  && be->commit(v->conn);
        if (!ok) {
            be->rollback(v->conn);
            return false;
        }
        *removed += n;
        if (n < STORE_PRUNE_BATCH)
            break;
    }
    while (*removed > 0 && be->compact != NULL && be->compact(v->conn)) {
    }
    return true;
}

bool store_view_import(store_view *v, store_next_fn *next, void *ctx, store_import_counts *out)
{
    return v->be->import(v->conn, next, ctx, out);
}

bool store_view_backup(store_view *v, const char *dest, char *err, size_t errlen)
{
    if (v->be->backup == NULL) {
        snprintf(err, errlen, "the %s store has no file to copy: use its own backup tools",
                 v->be->scheme);
        return false;
    }
    return v->be->backup(v->conn, dest, err, errlen);
}
