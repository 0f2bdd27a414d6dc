/*
 * store_pg.h - private to the PostgreSQL backend (store_pg.c, store_pg_view.c): its connection,
 * the helpers both files use, and the command line's ops, which live in a file of their own.
 */
#ifndef HOOKD_STORE_PG_H
#define HOOKD_STORE_PG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"

/* The channel every node LISTENs on; one NOTIFY per batch that queued or ended deliveries. */
#define PG_CHANNEL "hookd_deliveries"

typedef enum pg_role { PG_WRITER, PG_READER, PG_VIEW } pg_role;

typedef struct pg_conn {
    store_conn base;          /* first: the front sees a store_conn */
    pg_role role;
    PGconn *db;               /* NULL, or a connection whose setup (below) completed */
    char url[512];            /* as configured: a libpq URI, passed to libpq as is */
    char node[128];           /* lease_owner, attempts.node, events.received_by */
    metrics *m;               /* NULL for views and hookd migrate */
    char err[512];            /* the last error, for errmsg */
    /* reconnecting: the next try is not before next_try_us; the wait doubles to a cap */
    int64_t next_try_us;
    int backoff_ms;
    bool was_up;              /* a connection had been made: a loss is logged, and its return */
    /* the dispatcher's: its node lock, and when this process first held it (database clock) */
    bool node_locked;
    int64_t started_db_us;
} pg_conn;

static inline pg_conn *pg_of(store_conn *c)
{
    return (pg_conn *)c;
}

/* Connect url for a role: session settings, checks, (writer) migrations, prepared statements.
 * On failure returns NULL with the reason in err. */
PGconn *store_pg_connect(const char *url, pg_role role, const char *node, char *err, size_t errlen);

/* A statement's result is what was expected; otherwise the message goes to c->err and, when the
 * connection is gone, it is dropped (the next use reconnects). Frees nothing. */
bool store_pg_ok(pg_conn *c, PGresult *r, ExecStatusType want);

/* Run sql with text parameters; true when its status is want. */
bool store_pg_exec(pg_conn *c, const char *sql, int n, const char *const *params,
                   ExecStatusType want);

/* Text that PostgreSQL accepts: valid UTF-8 without NUL. s itself when it is, else a copy in buf
 * (cap bytes) with each bad byte as U+FFFD; len < 0: NUL-terminated. NULL stays NULL. */
const char *store_pg_text(const char *s, long len, char *buf, size_t cap);

void store_pg_close(store_conn *c);
const char *store_pg_errmsg(store_conn *c);
int64_t store_pg_now_us(void);

/* store_pg_view.c */
bool store_pg_view_open(const char *url, bool write, store_conn **out, char *err, size_t errlen);
bool store_pg_report(store_conn *c, store_report which, const char *const *params, size_t n,
                     store_row_fn *fn, void *ctx);
bool store_pg_replay(store_conn *c, const store_replay *spec, store_route_fn *route, void *ctx,
                     store_replay_counts *out);
bool store_pg_import(store_conn *c, store_next_fn *next, void *ctx, store_import_counts *out);

#endif
