/*
 * store.h - where accepted deliveries go: durably, once per event id, before the 200.
 *
 * Everything outside the store goes through this interface, in three parts:
 *   - the daemon's writes: submit a job, get called back once its transaction has committed (or
 *     failed). The front (store.c) batches concurrent jobs into one transaction and one fsync
 *     (group commit) on its writer thread, and keeps retention and measurement going;
 *   - the dispatcher's reads (store_reader): due deliveries, the order = call check, gauges;
 *   - the command line (store_view): named reports, replay, import, prune, backup.
 * What a database must provide is store_backend.h; SQLite (store_sqlite*.c) is the first backend.
 * Threads: store_submit from any thread; a reader or a view from one thread at a time.
 */
#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "states.h"

/* One delivery to record. Strings may be NULL; everything stays valid until the callback. */
typedef struct store_record {
    const char *id;            /* event id: data.id, webhook-id, or "sha256:HEX" when unparsed */
    const char *endpoint;
    const char *scheme;
    const char *event_type;
    const char *occurred_at;
    int64_t occurred_at_us;    /* 0 when unknown */
    int64_t received_at_us;
    const char *call_control_id, *call_session_id, *call_leg_id, *connection_id;
    const char *failure_cause, *hangup_cause;
    int64_t meta_attempt;      /* 0 when absent */
    const char *delivered_to;
    const char *remote_addr;
    const char *content_type;
    bool parsed;               /* false: stored raw, flagged unparsed */
    const char *parse_error;
    const uint8_t *body;
    size_t body_len;
    /* The handlers this event owes (route.c): a new event gets one delivery for each, in its own
     * transaction; a duplicate gets none. */
    const char *handlers[SRV_MAX_HANDLERS];
    size_t nhandlers;
    int64_t copies;            /* store_view_import only: deliveries of it received (0: 1) */
} store_record;

typedef enum store_outcome {
    STORE_NEW,       /* a new row, committed */
    STORE_DUPLICATE, /* the id was already stored; its attempt count was raised, committed */
    STORE_PROBED,    /* a readiness probe wrote and committed */
    STORE_WRITTEN,   /* dispatch bookkeeping (a claim, an attempt) committed */
    STORE_FAILED,    /* nothing committed (disk full, I/O error, locked, closed) */
} store_outcome;

typedef void store_done(void *ctx, store_outcome outcome, const char *error);

/* The end of one attempt at a delivery, and what becomes of the delivery (dispatch.c). */
typedef struct store_attempt {
    int64_t delivery_id;
    const char *handler;
    int attempt;               /* 1-based */
    int64_t started_us, finished_us;
    attempt_outcome outcome;
    int http_status;           /* 0: none */
    int exit_code;             /* -1: none */
    const char *error;         /* or NULL */
    const char *output;        /* excerpt of stdout/stderr or the response body, or NULL */
    size_t output_len;
    delivery_state new_state;  /* succeeded, retry or dead */
    int64_t next_attempt_us;
    bool handler_gone;         /* 410: the handler's other queued deliveries go dead too */
    int64_t lease_token;       /* a claim's fencing token (store_claim), 0 when the backend has
                              * none: a record whose token no longer matches is kept, flagged
                              * fenced_out, and moves nothing */
} store_attempt;

typedef enum store_job_kind {
    JOB_EVENT,   /* rec: a delivery to record (and its deliveries to queue) */
    JOB_PROBE,   /* a readiness probe */
    JOB_CLAIM,   /* delivery_id goes in_flight, if it has still made `attempts` attempts */
    JOB_ATTEMPT, /* attempt: record it and move the delivery on (and wake its call's parked ones) */
    JOB_PARK,    /* delivery_id waits behind the head of its call (order = call), if it still does */
    JOB_PRUNE,   /* retention: up to STORE_PRUNE_BATCH events received before before_us */
    JOB_MEASURE, /* the store's size and its oldest event, for /metrics */
} store_job_kind;

/* A submission, embedded in the caller's request so submitting allocates nothing. The store owns
 * it from submit until done is called (from the store's writer thread). */
typedef struct store_job {
    store_job_kind kind;
    const store_record *rec;
    const store_attempt *attempt;
    int64_t delivery_id;
    int attempts;              /* JOB_CLAIM: the delivery's attempt count when it was claimed */
    int64_t before_us;         /* JOB_PRUNE */
    long removed;              /* JOB_PRUNE: set by the writer, before done */
    store_done *done;
    void *ctx;
    struct store_job *next;
} store_job;

typedef struct store store;

/* Open (creating and migrating as needed) the store a config names, and start its writer. */
bool store_open(const config *c, metrics *m, store **out, char *err, size_t errlen);

/* Queue a job. Returns false (and never calls done) when the store is closing. */
bool store_submit(store *s, store_job *job);

/* Create the store url names, or bring its schema up to date, and close it (hookd migrate, and
 * before the command line writes). Safe while hookd serve runs: nothing else changes. */
bool store_migrate(const char *url, char *err, size_t errlen);

/* Stop taking jobs (store_submit returns false from now on), commit everything queued, stop the
 * threads, close the database. The handle stays valid for store_submit until store_free. */
void store_close(store *s);

/* Free a closed store; nothing may call store_submit on it any more. */
void store_free(store *s);

/* url as it may be shown (logs, check-config): a password in it becomes ***. */
void store_url_shown(const char *url, char *out, size_t n);

/* The node name this store's attempts and claims are recorded under. */
const char *store_node(const store *s);

/* The path of a sqlite: URL, or NULL. */
const char *store_sqlite_path(const char *url);

/* ---- the dispatcher's reads ------------------------------------------------------------------
 * On a connection of their own (store_reader), used by one thread at a time (the scheduler):
 * reads never wait for the writer, and the writer never waits for them. */

/* One due delivery with what its attempt needs of its event. The strings and body are valid
 * only during the callback. */
typedef struct store_due {
    int64_t id;
    const char *handler;
    int attempts;              /* made so far */
    const char *call_key;      /* call_session_id or call_control_id, or NULL */
    int64_t occurred_at_us;    /* 0 when unknown */
    const char *event_id, *endpoint, *event_type, *occurred_at, *content_type;
    const char *call_control_id, *call_session_id, *call_leg_id, *failure_cause, *hangup_cause;
    const uint8_t *body;
    size_t body_len;
    int64_t lease_token;       /* store_claim: the claim's fencing token; 0 from store_due_walk */
} store_due;

/* Return false to stop the walk. */
typedef bool store_due_fn(void *ctx, const store_due *d);
typedef void store_count_fn(void *ctx, const char *handler, int64_t n);

typedef struct store_gauges {
    int64_t owed;              /* pending, waiting, retry or in flight */
    int64_t oldest_owed_us;    /* created_us of the oldest owed one, 0 when none */
    int64_t dead;
} store_gauges;

typedef struct store_reader store_reader;

/* A reader on the store s writes to. */
store_reader *store_reader_open(const store *s, char *err, size_t errlen);
void store_reader_close(store_reader *r);

/* Handler's due deliveries (owed, not in flight, next attempt <= now_us) in due order, at most
 * limit. The callback may call store_blocked on the same reader. */
bool store_due_walk(store_reader *r, const char *handler, int64_t now_us, int limit,
                    store_due_fn *fn, void *ctx);

/* order = call: is delivery id blocked (another owed delivery of its call is in flight, or
 * occurred earlier)? */
bool store_blocked(store_reader *r, const char *handler, const char *call_key,
                   int64_t occurred_at_us, int64_t id);

bool store_gauges_read(store_reader *r, store_gauges *out);

/* Owed deliveries per handler (every handler the store has any for, configured or not). */
bool store_owed_by_handler(store_reader *r, store_count_fn *fn, void *ctx);

/* The last error of the reader, for the log. */
const char *store_reader_errmsg(store_reader *r);

/* ---- claims, for stores that several nodes share (PostgreSQL) --------------------------------
 * There the scheduler does not walk due rows and mark them through the writer (SQLite, one
 * process): it claims them, durably, before any handler runs. A claim puts a delivery in flight
 * with a lease (now + lease_us, on the database's clock) and a fencing token; the attempt's
 * record must carry the token, or it changes nothing. A node that died leaves leases that run
 * out; store_rescue makes those deliveries owed again (or dead after max_attempts). */

/* Whether this reader's store claims (store_claim and the rest below); false for SQLite. */
bool store_reader_claims(const store_reader *r);

/* Claim up to limit of handler's due deliveries, in due order, and call fn for each (the row's
 * attempts are those made before this claim). by_call: only the head of each call, and only
 * when nothing of its call is in flight; the blocked ones are parked. */
bool store_claim(store_reader *r, const char *handler, int limit, bool by_call, int64_t lease_us,
                 store_due_fn *fn, void *ctx);

/* order = call: a delivery of (handler, call_key) ended: its parked deliveries are due now. */
bool store_wake_lane(store_reader *r, const char *handler, const char *call_key);

/* Deliveries of handler whose lease ran out are owed again (dead at max_attempts), each with an
 * attempt recorded as lease_expired. Returns how many, or -1. */
long store_rescue(store_reader *r, const char *handler, int max_attempts);

/* A descriptor that becomes readable when another node queued deliveries (LISTEN), or -1; after
 * it did, store_drain_notices. */
int store_wait_fd(store_reader *r);
void store_drain_notices(store_reader *r);

/* ---- the command line's reads and replay ---------------------------------------------------
 * A store_view is a connection of the command line's own, opened while the daemon may be running:
 * no migration, no recovery, no threads. Reports are named; the backend owns their queries and
 * hands back rows as column names and values. The names are the --json keys: a contract. */

typedef enum store_type { STORE_NULL, STORE_INT, STORE_REAL, STORE_TEXT, STORE_BLOB } store_type;

typedef struct store_value {
    store_type type;
    int64_t i;                 /* STORE_INT */
    double r;                  /* STORE_REAL */
    const char *p;             /* STORE_TEXT (NUL-terminated) and STORE_BLOB */
    size_t len;
} store_value;

/* One row; valid during the call. Return false to stop. The callback may run another report on
 * the same view (deliveries, then each one's attempts). */
typedef bool store_row_fn(void *ctx, size_t ncol, const char *const *names, const store_value *v);

/* The reports, and their text parameters (NULL: no filter). Times are microseconds, in text. */
typedef enum store_report {
    REPORT_EVENTS_LIST,      /* type, call, since_us, endpoint, limit: newest first */
    REPORT_EVENTS_COUNT,     /* type, call, since_us, endpoint: one row, "count", at most
                              * STORE_COUNT_CAP + 1 */
    REPORT_EVENT_FIELDS,     /* id, endpoint: (field, value) rows of every stored field */
    REPORT_EVENT_ROWS,       /* id, endpoint: every column, one row per endpoint that stored id */
    REPORT_EVENT_BODY,       /* id, endpoint: "body" (a blob), at most 2 rows */
    REPORT_CALL_TIMELINE,    /* call: its events by occurred_at */
    REPORT_STATS_BY_TYPE,    /* since_us */
    REPORT_STATS_BY_CAUSE,   /* since_us: siprec.failed by failure_cause */
    REPORT_STATS_PER_HOUR,   /* since_us */
    REPORT_DELIVERIES_LIST,  /* state, handler, event id, limit: newest first */
    REPORT_DELIVERIES_COUNT, /* state, handler, event id: one row, "count", at most
                              * STORE_COUNT_CAP + 1 */
    REPORT_ATTEMPTS_OF,      /* delivery id */
    REPORT_EXPORT,           /* type, since_us, until_us: every field of each event, oldest
                              * first, times also in microseconds, "body" a blob */
    /* The console's (console.c); their column names are its JSON API's keys. */
    REPORT_CONSOLE_EVENTS,   /* type, call, since_us, endpoint, limit, until_us, parse,
                              * before_seq: newest first, with seq (the paging cursor) */
    REPORT_CONSOLE_CALL,     /* call: its events by occurred_at, t_us the time they sort by */
    REPORT_CONSOLE_EVENT,    /* id, endpoint, seq (or NULL: the row's key, when a link knows
                              * it): every field and "body" (a blob), one row per endpoint that
                              * stored id, by seq */
    REPORT_CALL_DELIVERIES,  /* call: the deliveries of its events */
    REPORT_EVENT_DELIVERIES, /* seq: the deliveries of one stored event */
    REPORT_STATS_BUCKETS,    /* since_us, bucket_us: events per (bucket_us, event_type) */
    REPORT_STATS_OUTCOMES,   /* since_us, bucket_us: attempts per (bucket_us, outcome) */
    REPORT_DEAD_GROUPS,      /* dead deliveries per (handler, cause) */
} store_report;

/* hookd replay: which events, and for which handlers. */
typedef struct store_replay {
    const char *event_id;      /* one event, or every event of type (NULL: any type, then state
                                * is required) received in [since, until) */
    const char *type;
    int64_t since_us, until_us;
    const char *state;         /* only the events with a delivery in this state, for its handler */
    const char *handler;       /* only this handler */
    int64_t now_us;
} store_replay;

/* Without state or handler, the handlers an event owes (route.c); returns how many it wrote. */
typedef size_t store_route_fn(void *ctx, const char *endpoint, const char *event_type,
                              const char **names, size_t cap);

typedef struct store_replay_counts {
    long matched, events, queued;
} store_replay_counts;

typedef struct store_view store_view;

/* Open url (sqlite:PATH, ...) for the command line; write for replay. */
store_view *store_view_open(const char *url, bool write, char *err, size_t errlen);
void store_view_close(store_view *v);
bool store_view_report(store_view *v, store_report which, const char *const *params, size_t n,
                       store_row_fn *fn, void *ctx);
/* All of it in one transaction, or nothing. A dead delivery replaced by a new one becomes
 * 'replayed'. */
bool store_view_replay(store_view *v, const store_replay *spec, store_route_fn *route, void *ctx,
                       store_replay_counts *out);
const char *store_view_errmsg(store_view *v);

/* hookd prune: remove the events received before before_us that owe no delivery (pending,
 * retry, waiting or in flight), with their deliveries and attempts, in small transactions, and
 * give the freed space back where the backend can. dry_run counts only. *removed: how many. */
bool store_view_prune(store_view *v, int64_t before_us, bool dry_run, long *removed);

/* hookd events import: next fills *r with the next event to store and returns 1, returns 0 at
 * the end, or -1 for an input it could not read (it reported why): then nothing of the whole
 * import is stored, but the rest is still read, so every bad input is reported. */
typedef int store_next_fn(void *ctx, store_record *r);

typedef struct store_import_counts {
    long added, present;       /* new events, and events stored already (the backend's unique
                                * key: see event_upsert in store_backend.h) */
    long bad;
} store_import_counts;

/* Store what next yields, in one transaction: an event already stored is left as it is (an
 * import twice adds nothing); no deliveries are queued (hookd replay queues them if wanted). */
bool store_view_import(store_view *v, store_next_fn *next, void *ctx, store_import_counts *out);

/* An online, consistent copy of the whole store into the new file dest (refused when it exists),
 * while the daemon may keep writing: everything committed before the copy began is in it. The
 * copy is written beside dest and renamed into place once complete and synced, so a backup that
 * fails or is interrupted never looks like one that succeeded. */
bool store_view_backup(store_view *v, const char *dest, char *err, size_t errlen);

/* Called by the writer after a commit that queued deliveries (to wake the dispatcher). */
void store_on_deliveries(store *s, void (*fn)(void *ctx), void *ctx);

/* Called by the writer for every new event, once its transaction has committed (the console's
 * live stream). rec is valid during the call only; fn must not block. */
typedef void store_event_fn(void *ctx, const store_record *rec);
void store_on_event(store *s, store_event_fn *fn, void *ctx);

#endif
