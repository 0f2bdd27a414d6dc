/*
 * metrics.c - the numbers behind /metrics.
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const unsigned statuses[METRICS_STATUSES - 1] = {200, 400, 401, 403, 404, 405,
                                                        408, 413, 431, 500, 503};

/* Rejection reasons: the verifier's (hookd_errname) and the server's own. */
static const char *const reasons[] = {
    "missing_header",      "timestamp_malformed", "timestamp_too_old",    "timestamp_in_future",
    "id_malformed",        "signature_malformed", "signature_unsupported", "signature_mismatch",
    "bearer_missing",      "bearer_mismatch",     "no_keys",              "not_found",
    "method_not_allowed",  "body_too_large",      "source_not_allowed",   "ambiguous_length",
    "store_unavailable",   "request_timeout",     "header_too_large",     "header_timeout",
    "bad_header_name",     "bad_header_value",    "transfer_encoding_unsupported",
    "host_missing",        "server_busy",         "client_closed",
    "source_refused_at_accept",                   "other", /* "other" stays last */
};
_Static_assert(sizeof reasons / sizeof reasons[0] <= METRICS_REASONS, "raise METRICS_REASONS");

/* The console's refusals (console.c says when each happens). */
static const char *const console_reasons[] = {
    "unauthorized", "login_failed", "origin_refused", "host_refused", "bad_request",
    "body_too_large", "not_found", "method_not_allowed", "store_unavailable", "other",
};
_Static_assert(sizeof console_reasons / sizeof console_reasons[0] <= METRICS_CONSOLE_REASONS,
               "raise METRICS_CONSOLE_REASONS");

static const double seconds_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,   1,     2.5,   5,    10};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

static void hist_init(histogram *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->nbounds = n;
}

void metrics_init(metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->types_lock, NULL);
    hist_init(&m->request_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    hist_init(&m->commit_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    hist_init(&m->commit_batch, batch_bounds, sizeof batch_bounds / sizeof batch_bounds[0]);
    hist_init(&m->attempt_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    m->endpoint_names[0] = "-";
}

void metrics_destroy(metrics *m)
{
    for (size_t i = 0; i < m->types.n; i++)
        free(m->types.names[i]);
    for (size_t i = 0; i < m->causes.n; i++)
        free(m->causes.names[i]);
    pthread_mutex_destroy(&m->types_lock);
}

void metrics_set_endpoints(metrics *m, const char *const *names, size_t n)
{
    if (n > SRV_MAX_ENDPOINTS)
        n = SRV_MAX_ENDPOINTS;
    for (size_t i = 0; i < n; i++)
        m->endpoint_names[i] = names[i];
    m->endpoint_names[n] = "-";
    m->nendpoints = n;
}


void metrics_set_handlers(metrics *m, const char *const *names, size_t n)
{
    if (n > SRV_MAX_HANDLERS)
        n = SRV_MAX_HANDLERS;
    for (size_t i = 0; i < n; i++)
        m->handler_names[i] = names[i];
    m->nhandlers = n;
}

void metrics_attempt(metrics *m, size_t h, attempt_outcome outcome, double seconds)
{
    if (h < m->nhandlers && (unsigned)outcome < OUTCOME__COUNT)
        atomic_fetch_add_explicit(&m->deliveries[h][outcome], 1, memory_order_relaxed);
    metrics_observe(&m->attempt_seconds, seconds);
}

void metrics_observe(histogram *h, double value)
{
    size_t i = 0;
    while (i < h->nbounds && value > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micro, (uint64_t)(value * 1e6), memory_order_relaxed);
}

void metrics_request(metrics *m, int endpoint, unsigned status, double seconds)
{
    size_t e = endpoint >= 0 && (size_t)endpoint < m->nendpoints ? (size_t)endpoint : m->nendpoints;
    size_t s = METRICS_STATUSES - 1; /* "other" */
    for (size_t i = 0; i < METRICS_STATUSES - 1; i++) {
        if (statuses[i] == status)
            s = i;
    }
    atomic_fetch_add_explicit(&m->requests[e][s], 1, memory_order_relaxed);
    metrics_observe(&m->request_seconds, seconds);
}

/* The index of reason among n names whose last is "other"; "other" when it is none of them. */
static size_t reason_index(const char *const *names, size_t n, const char *reason)
{
    for (size_t k = 0; k + 1 < n; k++) {
        if (strcmp(names[k], reason) == 0)
            return k;
    }
    return n - 1;
}

void metrics_reject(metrics *m, const char *reason)
{
    size_t i = reason_index(reasons, sizeof reasons / sizeof reasons[0], reason);
    atomic_fetch_add_explicit(&m->rejections[i], 1, memory_order_relaxed);
}

void metrics_console_reject(metrics *m, const char *reason)
{
    size_t i = reason_index(console_reasons, sizeof console_reasons / sizeof console_reasons[0], reason);
    atomic_fetch_add_explicit(&m->console_rejections[i], 1, memory_order_relaxed);
}

/* Called with types_lock held. */
static void count_label(label_counts *l, const char *name)
{
    size_t i = 0;
    while (i < l->n && strcmp(l->names[i], name) != 0)
        i++;
    if (i == l->n && l->n < METRICS_MAX_TYPES) {
        l->names[i] = strdup(name);
        if (l->names[i] != NULL)
            l->n++;
        else
            i = METRICS_MAX_TYPES;
    }
    l->counts[i < l->n ? i : METRICS_MAX_TYPES]++;
}

void metrics_stored(metrics *m, const char *event_type, const char *failure_cause)
{
    const char *t = event_type != NULL ? event_type : "unknown";
    pthread_mutex_lock(&m->types_lock);
    count_label(&m->types, t);
    if (strcmp(t, "siprec.failed") == 0)
        count_label(&m->causes, failure_cause != NULL ? failure_cause : "unknown");
    pthread_mutex_unlock(&m->types_lock);
}

/* ---- rendering ----------------------------------------------------------------------------- */

/* A label value with \, " and newline escaped. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*v, f);
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_histogram(FILE *f, const char *name, const char *help, histogram *h)
{
    head(f, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->nbounds)
            fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
        else
            fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name,
            (double)atomic_load_explicit(&h->sum_micro, memory_order_relaxed) / 1e6, name,
            (unsigned long long)cum);
}

static void counter(FILE *f, const char *name, const char *help, atomic_uint_least64_t *v)
{
    head(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)atomic_load(v));
}

static void label_series(FILE *f, const char *metric, const char *key, const label_counts *l)
{
    for (size_t i = 0; i < l->n; i++) {
        fprintf(f, "%s{%s=\"", metric, key);
        label(f, l->names[i]);
        fprintf(f, "\"} %llu\n", (unsigned long long)l->counts[i]);
    }
    if (l->counts[METRICS_MAX_TYPES] > 0)
        fprintf(f, "%s{%s=\"other\"} %llu\n", metric, key,
                (unsigned long long)l->counts[METRICS_MAX_TYPES]);
}

char *metrics_render(metrics *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    head(f, "hookd_requests_total", "counter", "HTTP requests by endpoint and status.");
    for (size_t e = 0; e <= m->nendpoints; e++) {
        for (size_t s = 0; s < METRICS_STATUSES; s++) {
            uint64_t v = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);
            if (v == 0)
                continue;
            fprintf(f, "hookd_requests_total{endpoint=\"");
            label(f, m->endpoint_names[e]);
            if (s < METRICS_STATUSES - 1)
                fprintf(f, "\",status=\"%u\"} %llu\n", statuses[s], (unsigned long long)v);
            else
                fprintf(f, "\",status=\"other\"} %llu\n", (unsigned long long)v);
        }
    }
    head(f, "hookd_rejections_total", "counter", "Requests refused, by reason.");
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        fprintf(f, "hookd_rejections_total{reason=\"%s\"} %llu\n", reasons[i],
                (unsigned long long)atomic_load_explicit(&m->rejections[i], memory_order_relaxed));
    head(f, "hookd_console_rejections_total", "counter", "Console requests refused, by reason.");
    for (size_t i = 0; i < sizeof console_reasons / sizeof console_reasons[0]; i++)
        fprintf(f, "hookd_console_rejections_total{reason=\"%s\"} %llu\n", console_reasons[i],
                (unsigned long long)atomic_load_explicit(&m->console_rejections[i],
                                                         memory_order_relaxed));
    counter(f, "hookd_console_logins_total", "Console sign-ins with the right token.",
            &m->console_logins);
    head(f, "hookd_console_streams", "gauge", "Console live streams (/api/v1/stream) open.");
    fprintf(f, "hookd_console_streams %lld\n",
            (long long)atomic_load_explicit(&m->console_streams, memory_order_relaxed));
    head(f, "hookd_events_stored_total", "counter", "New events committed, by event type.");
    pthread_mutex_lock(&m->types_lock);
    label_series(f, "hookd_events_stored_total", "type", &m->types);
    head(f, "hookd_siprec_failed_total", "counter", "New siprec.failed events, by failure_cause.");
    label_series(f, "hookd_siprec_failed_total", "cause", &m->causes);
    pthread_mutex_unlock(&m->types_lock);
    counter(f, "hookd_duplicates_total", "Deliveries of an event id already stored.", &m->duplicates);
    counter(f, "hookd_unparsed_total", "Authentic deliveries stored raw because they did not parse.",
            &m->unparsed);
    counter(f, "hookd_store_errors_total", "Transactions the store could not commit.",
            &m->store_errors);
    counter(f, "hookd_store_checkpoints_total", "WAL checkpoints attempted.", &m->checkpoints);
    counter(f, "hookd_commit_waits_total",
            "Commits held up to [store] commit_wait for more requests to share them.",
            &m->commit_waits);
    counter(f, "hookd_store_reconnects_total",
            "Connections to a database server (PostgreSQL) made again after one was lost.",
            &m->store_reconnects);
    counter(f, "hookd_lease_lost_total",
            "Attempts recorded after their claim had run out and been taken over (fenced out).",
            &m->lease_lost);
    counter(f, "hookd_rescued_deliveries_total",
            "In-flight deliveries whose lease ran out (a node died or stalled), owed again.",
            &m->rescued);
    counter(f, "hookd_pruned_events_total", "Events removed by retention ([store] retain).",
            &m->pruned);
    head(f, "hookd_store_bytes", "gauge", "Size of the store (SQLite: the database file).");
    fprintf(f, "hookd_store_bytes %lld\n", (long long)atomic_load(&m->store_bytes));
    head(f, "hookd_oldest_event_age_seconds", "gauge", "Age of the oldest stored event (0: none).");
    int64_t oldest = atomic_load(&m->oldest_event_us);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    fprintf(f, "hookd_oldest_event_age_seconds %lld\n",
            oldest > 0 ? (long long)(now.tv_sec - oldest / 1000000) : 0LL);
    head(f, "hookd_store_wal_frames", "gauge", "Frames (pages) in the SQLite WAL after the last commit.");
    fprintf(f, "hookd_store_wal_frames %lld\n", (long long)atomic_load(&m->wal_frames));
    head(f, "hookd_store_dedupe_memory_keys", "gauge",
         "SQLite: keys of the newest events held in memory for deduplication,"
         " not yet in event_keys.");
    fprintf(f, "hookd_store_dedupe_memory_keys %lld\n", (long long)atomic_load(&m->dedupe_keys));
    counter(f, "hookd_connections_total", "Connections accepted.", &m->connections_total);
    head(f, "hookd_connections", "gauge", "Connections open now.");
    fprintf(f, "hookd_connections %lld\n", (long long)atomic_load(&m->connections));
    render_histogram(f, "hookd_request_duration_seconds", "Time from request to response.",
                     &m->request_seconds);
    render_histogram(f, "hookd_commit_duration_seconds", "Time of one group commit (incl. fsync).",
                     &m->commit_seconds);
    render_histogram(f, "hookd_commit_batch_size", "Requests sharing one commit.", &m->commit_batch);
    if (m->nhandlers > 0) {
        head(f, "hookd_delivery_attempts_total", "counter", "Handler attempts, by handler and outcome.");
        for (size_t h = 0; h < m->nhandlers; h++) {
            for (int o = 0; o < OUTCOME__COUNT; o++)
                fprintf(f, "hookd_delivery_attempts_total{handler=\"%s\",outcome=\"%s\"} %llu\n",
                        m->handler_names[h], attempt_outcome_name((attempt_outcome)o),
                        (unsigned long long)atomic_load(&m->deliveries[h][o]));
        }
        render_histogram(f, "hookd_delivery_attempt_seconds", "Time of one handler attempt.",
                         &m->attempt_seconds);
        head(f, "hookd_dispatch_queue_depth", "gauge", "Deliveries pending or waiting for a retry.");
        fprintf(f, "hookd_dispatch_queue_depth %lld\n", (long long)atomic_load(&m->queue_depth));
        head(f, "hookd_dispatch_oldest_pending_seconds", "gauge",
             "Age of the oldest delivery not yet succeeded or dead.");
        fprintf(f, "hookd_dispatch_oldest_pending_seconds %lld\n",
                (long long)atomic_load(&m->oldest_pending_s));
        head(f, "hookd_dead_letters", "gauge", "Deliveries that are dead (replay them with hookd replay).");
        fprintf(f, "hookd_dead_letters %lld\n", (long long)atomic_load(&m->dead_letters));
        head(f, "hookd_orphaned_deliveries", "gauge",
             "Queued deliveries of handlers no longer configured (kept, not dispatched).");
        fprintf(f, "hookd_orphaned_deliveries %lld\n", (long long)atomic_load(&m->orphaned));
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
