/*
 * query.h - opening the store and printing rows, for the commands that read or change it.
 */
#ifndef HOOKD_QUERY_H
#define HOOKD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "../server/config.h"
#include "../server/store.h"

/* Open the store of --db PATH, or of the config file's [store] url (default ./var/hookd.db).
 * With cfg_out, the loaded config (NULL without -c) is handed over; free it with config_free. */
sqlite3 *query_open(const char *cmd, const char *dbpath, const char *file, bool write,
                    config **cfg_out);

/* --since/--until: Unix seconds, an ISO 8601 date-time, or an age like 30m, 2h, 7d; microseconds. */
bool query_parse_since(const char *s, int64_t *us);

/* Column widths of a table: one per column; 0, or a column past the list, is as wide as needed. */
typedef struct col_widths {
    const int *w;
    size_t n;
} col_widths;
#define WIDTHS(...) \
    ((col_widths){(const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int)})

/* Print every row of st as a table or as a JSON array of objects. The number of rows, or -1. */
long query_print(sqlite3_stmt *st, bool json, col_widths widths);

/* Prepare sql, bind the text parameters (NULL binds NULL), print. */
int query_run(sqlite3 *db, const char *sql, const char *const *params, size_t nparams, bool json,
              col_widths widths, long *rows_out);

/* The readable time of a *_us column, in SQL. */
#define SQL_TIME(col) "strftime('%Y-%m-%dT%H:%M:%fZ', " col " / 1e6, 'unixepoch')"
#define RECEIVED SQL_TIME("received_at_us")

/* After a list cut at --limit: when count_sql (the same filter, params bound as text) finds more
 * rows than were shown, say so on stderr ("... N more; use --limit"), so a cut is never silent. */
void query_note_more(sqlite3 *db, const char *cmd, const char *count_sql, const char *const *params,
                     size_t nparams, long shown, long long limit);

#endif
