/*
 * metrics.h - counters and histograms for /metrics, in the Prometheus text format.
 *
 * Updates are lock-free atomics on the request path; only the per-event-type counters (updated by
 * the store's single writer thread) and rendering take a mutex.
 */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "limits.h"
#include "states.h"

#define METRICS_STATUSES 12
#define METRICS_REASONS 32
#define METRICS_BUCKETS 14
#define METRICS_CONSOLE_REASONS 12

typedef struct histogram {
    const double *bounds;           /* upper bounds, ascending; nbounds of them */
    size_t nbounds;
    atomic_uint_least64_t counts[METRICS_BUCKETS + 1]; /* the last is +Inf */
    atomic_uint_least64_t sum_micro;                   /* sum of observations x 1e6 */
} histogram;

/* Counts by a label the senders' data names (event type, failure cause): the first
 * METRICS_MAX_TYPES values seen get a series each, the rest count as "other". */
typedef struct label_counts {
    size_t n;
    char *names[METRICS_MAX_TYPES];
    uint64_t counts[METRICS_MAX_TYPES + 1]; /* the last is "other" */
} label_counts;

typedef struct metrics {
    size_t nendpoints;
    const char *endpoint_names[SRV_MAX_ENDPOINTS + 1]; /* the last is "-": no endpoint */
    atomic_uint_least64_t requests[SRV_MAX_ENDPOINTS + 1][METRICS_STATUSES];
    atomic_uint_least64_t rejections[METRICS_REASONS];
    atomic_uint_least64_t duplicates, unparsed, store_errors, connections_total, checkpoints;
    atomic_uint_least64_t commit_waits; /* batches held for company ([store] commit_wait) */
    atomic_int_least64_t connections, wal_frames;
    atomic_int_least64_t dedupe_keys; /* SQLite: deduplication keys held in memory (dedupe.h) */
    atomic_int_least64_t store_bytes, oldest_event_us; /* JOB_MEASURE */
    atomic_uint_least64_t pruned;
    /* shared stores (PostgreSQL) */
    atomic_uint_least64_t store_reconnects, lease_lost, rescued;
    histogram request_seconds, commit_seconds, commit_batch;
    /* dispatch */
    size_t nhandlers;
    const char *handler_names[SRV_MAX_HANDLERS];
    atomic_uint_least64_t deliveries[SRV_MAX_HANDLERS][OUTCOME__COUNT]; /* by attempt outcome */
    histogram attempt_seconds;
    atomic_int_least64_t queue_depth, oldest_pending_s, dead_letters, orphaned;
    /* the console (src/console) */
    atomic_uint_least64_t console_rejections[METRICS_CONSOLE_REASONS];
    atomic_uint_least64_t console_logins;
    atomic_int_least64_t console_streams;
    pthread_mutex_t types_lock;
    label_counts types;       /* hookd_events_stored_total{type} */
    label_counts causes;      /* hookd_siprec_failed_total{cause} */
} metrics;

void metrics_init(metrics *m);
void metrics_destroy(metrics *m);

/* Name the endpoints (index i is endpoint i); the names must outlive m. */
void metrics_set_endpoints(metrics *m, const char *const *names, size_t n);

/* Name the handlers (index i is handler i); the names must outlive m. */
void metrics_set_handlers(metrics *m, const char *const *names, size_t n);

/* One finished attempt of handler h. */
void metrics_attempt(metrics *m, size_t h, attempt_outcome outcome, double seconds);

/* endpoint is an index, or -1 for a request that matched none. */
void metrics_request(metrics *m, int endpoint, unsigned status, double seconds);
void metrics_reject(metrics *m, const char *reason);
/* A console request refused; reason is one of metrics.c's console_reasons (else "other"). */
void metrics_console_reject(metrics *m, const char *reason);
/* A new event stored (writer thread); a siprec.failed one is also counted by its failure cause. */
void metrics_stored(metrics *m, const char *event_type, const char *failure_cause);
void metrics_observe(histogram *h, double value);

/* The whole exposition, malloc'd; NULL when out of memory. */
char *metrics_render(metrics *m, size_t *len);

#endif
