/*
 * store_sqlite.h - private to the SQLite backend (store_sqlite.c, store_sqlite_view.c, idsum.c):
 * its connection, and the command line's ops, which live in a file of their own.
 */
#ifndef HOOKD_STORE_SQLITE_H
#define HOOKD_STORE_SQLITE_H

#include <pthread.h>
#include <stdatomic.h>

#include <sqlite3.h>

#include "idsum.h"
#include "store_backend.h"

typedef struct sqlite_conn {
    store_conn base;   /* first: the front sees a store_conn */
    char path[512];
    sqlite3 *db;       /* the writer's connection: the writer thread's alone once it runs */
    sqlite3_stmt *insert, *again, *probe_insert, *probe_delete;
    sqlite3_stmt *queue, *claim, *attempt_insert, *attempt_update, *handler_gone, *wake_call, *park;
    idsum *ids;        /* the writer's id summaries (NULL on readers) */
    struct dedupe *dd; /* the writer's deduplication keys (dedupe.h; NULL on readers) */
    metrics *m;
    pthread_t checkpointer;
    bool checkpointer_started;
    atomic_int wal_pages;
    atomic_bool stop_checkpoints;
    /* a reader (reader_open): read-only, these statements only */
    bool reader;
    sqlite3_stmt *due, *blocked, *gauges, *owed;
    char why[384];     /* a failed report's reason, when SQLite's own would mislead (errmsg) */
} sqlite_conn;

static inline sqlite_conn *conn_of(store_conn *c)
{
    return (sqlite_conn *)c;
}

void store_sqlite_close(store_conn *c);

/* Run sql with ?1 = a and ?2 = b (if it has them); *out (if not NULL) gets the first column of
 * its first row. False on an error (a statement that returns no row is not one). */
bool store_sqlite_run_int(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t *out);
const char *store_sqlite_errmsg(store_conn *c);

/* store_sqlite_view.c */
bool store_sqlite_view_open(const char *url, bool write, store_conn **out, char *err,
                            size_t errlen);
bool store_sqlite_report(store_conn *c, store_report which, const char *const *params, size_t n,
                         store_row_fn *fn, void *ctx);
bool store_sqlite_replay(store_conn *c, const store_replay *spec, store_route_fn *route, void *ctx,
                         store_replay_counts *out);
bool store_sqlite_backup(store_conn *c, const char *dest, char *err, size_t errlen);
bool store_sqlite_import(store_conn *c, store_next_fn *next, void *ctx, store_import_counts *out);

#endif
