/*
 * store_backend.h - what a store backend implements: hookd's own verbs, not SQL's.
 *
 * Modelled on SQLite's VFS: a table of operations, versioned, chosen at run time by the store
 * URL's scheme (store_backend_for_url), each connection object starting with a pointer to its
 * table. The generic front (store.c) owns the job queue, the writer thread, group commit, the
 * metrics and the dispatcher's wake-up; a backend does only I/O, and never sees the config's
 * policy (routing is decided before a record reaches it: route.c).
 *
 * Threads: everything below runs on the writer thread, between open and close, except that
 * open and close run on the thread that calls store_open / store_close.
 * Transactions: the front calls begin, then the write ops of one batch, then commit; when any op
 * or the commit fails it calls rollback, and nothing of the batch may remain. No op commits on
 * its own. commit returns only once the batch is as durable as the configured durability says.
 */
#ifndef HOOKD_STORE_BACKEND_H
#define HOOKD_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_BACKEND_VERSION 1

/* Capabilities (store_backend.caps). */
#define STORE_CAP_MAX_SIZE 0x1           /* [store] max_size is honoured */
#define STORE_CAP_PROCESS_DURABILITY 0x2 /* durability = process means something */
#define STORE_CAP_LOCAL_FILE 0x4         /* a file on this machine */

typedef struct store_conn {
    const struct store_backend *be;      /* first, in every backend's connection */
} store_conn;

typedef struct store_backend {
    int version;                         /* STORE_BACKEND_VERSION it was written against */
    const char *scheme;                  /* the URL prefix it takes: "sqlite" */
    const char *alias;                   /* another prefix it takes ("postgres"), or NULL */
    unsigned caps;

    /* Open the store a config names (creating it, and migrating the schema under a lock that
     * several processes may contend for), for writing. metrics takes the backend's own gauges
     * (checkpoints, WAL size), or is NULL (hookd migrate). */
    bool (*open)(const config *c, metrics *m, store_conn **out, char *err, size_t errlen);
    /* Finish background work, close; the connection is freed. */
    void (*close)(store_conn *c);
    /* The last error, for logs and the 503's log line. */
    const char *(*errmsg)(store_conn *c);
    /* At the daemon's start, once: deliveries in flight when it stopped are owed again. */
    bool (*recover)(store_conn *c);

    bool (*begin)(store_conn *c);
    bool (*commit)(store_conn *c);
    void (*rollback)(store_conn *c);

    /* The per-job ops below (event_upsert to delivery_park) may be NULL when write_batch is set. */
    /* An event: STORE_NEW (stored, with one delivery per r->handlers), STORE_DUPLICATE (stored
     * before: the copy is counted, no delivery is queued) or STORE_FAILED. The backend's unique
     * key says what "stored before" is: (id, endpoint) on PostgreSQL, (call, id, endpoint) on
     * SQLite. */
    store_outcome (*event_upsert)(store_conn *c, const store_record *r);
    /* A write that fails whenever an event write would (the disk is full): STORE_PROBED. */
    store_outcome (*probe)(store_conn *c);
    /* Delivery id is in flight, if it is owed and has made `attempts` attempts. */
    store_outcome (*delivery_claim)(store_conn *c, int64_t id, int attempts);
    /* An attempt and what becomes of its delivery; a delivery that ended (succeeded, dead) makes
     * the parked deliveries of its call due; handler_gone: the handler's owed ones go dead. */
    store_outcome (*attempt_record)(store_conn *c, const store_attempt *a);
    /* Park delivery id behind the head of its call, if (checked now) it is still blocked. */
    store_outcome (*delivery_park)(store_conn *c, int64_t id);
    /* Inside the current transaction: remove up to limit of the oldest events received before
     * before_us that owe no delivery, with their deliveries and attempts (dry_run: count them);
     * *removed says how many. Also used by the command line's connection. */
    bool (*prune_batch)(store_conn *c, int64_t before_us, int limit, bool dry_run, long *removed);
    /* After pruning, outside a transaction: give some freed space back to the file system; true
     * when there is more to give (the front calls again between the next batches, so requests
     * never wait for the whole of it). */
    bool (*compact)(store_conn *c);
    /* The store's size in bytes and its oldest event's received_at_us (0: none). */
    bool (*measure)(store_conn *c, int64_t *bytes, int64_t *oldest_us);

    /* Optional: a whole batch in one transaction, in place of begin, one op per job and commit
     * (PostgreSQL pipelines it). Fills out[i] for each job: a job the database refused alone is
     * STORE_FAILED while the others commit. Returns false when nothing committed. *wakes: the
     * batch queued deliveries or ended some. Never called with JOB_PRUNE or JOB_MEASURE. */
    bool (*write_batch)(store_conn *c, store_job *const *jobs, size_t n, store_outcome *out,
                        bool *wakes);

    /* Between two batches, on the writer thread (SQLite finishes its checkpoint here). */
    void (*idle)(store_conn *c);

    /* The dispatcher's reader: a connection of its own to the store writer conn writes to, used
     * by one thread. A backend that cannot interleave cursors (libpq) materialises `due`'s rows
     * before calling back, since the callback calls `blocked`. Closed with close. */
    bool (*reader_open)(store_conn *writer, store_conn **out, char *err, size_t errlen);
    bool (*due)(store_conn *c, const char *handler, int64_t now_us, int limit, store_due_fn *fn,
                void *ctx);
    int (*blocked)(store_conn *c, const char *handler, const char *call_key,
                   int64_t occurred_at_us, int64_t id); /* 1 blocked, 0 not, -1 error */
    bool (*gauges)(store_conn *c, store_gauges *out);
    bool (*owed_by_handler)(store_conn *c, store_count_fn *fn, void *ctx);
    /* Claims (store.h), or all NULL when one process owns the store and due + the writer's
     * JOB_CLAIM / JOB_PARK are enough. A backend that claims may leave due and blocked NULL. */
    bool (*claim)(store_conn *c, const char *handler, int limit, bool by_call, int64_t lease_us,
                  store_due_fn *fn, void *ctx);
    bool (*wake_lane)(store_conn *c, const char *handler, const char *call_key);
    long (*rescue)(store_conn *c, const char *handler, int max_attempts);
    int (*wait_fd)(store_conn *c);
    void (*drain_notices)(store_conn *c);

    /* The command line (store_view): a connection of its own, no migration, no recovery, no
     * threads (the daemon may be running). Closed with close. */
    bool (*view_open)(const char *url, bool write, store_conn **out, char *err, size_t errlen);
    bool (*report)(store_conn *c, store_report which, const char *const *params, size_t n,
                   store_row_fn *fn, void *ctx);
    bool (*replay)(store_conn *c, const store_replay *spec, store_route_fn *route, void *ctx,
                   store_replay_counts *out);
    bool (*import)(store_conn *c, store_next_fn *next, void *ctx, store_import_counts *out);
    /* store_view_backup (STORE_CAP_LOCAL_FILE backends; others leave it NULL). */
    bool (*backup)(store_conn *c, const char *dest, char *err, size_t errlen);
} store_backend;

/* The backend for a store URL ("sqlite:PATH"), or NULL when none takes it. */
const store_backend *store_backend_for_url(const char *url);

/* The node name a config gives: [server] node, or the host name and the first listen port. */
void store_node_of(const config *c, char *out, size_t n);

/* store_open with a given backend (tests wrap a real one to inject faults). */
bool store_open_backend(const store_backend *be, const config *c, metrics *m, store **out,
                        char *err, size_t errlen);

extern const store_backend store_sqlite_backend;
extern const store_backend store_pg_backend;

#endif
