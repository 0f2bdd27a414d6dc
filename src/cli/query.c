/*
 * query.c - what the commands that read or change the store share: opening it (from --db or the
 * [store] url of -c FILE), --since times, and one printer for rows (a table, or JSON).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "query.h"

/* ---- opening the store ---------------------------------------------------------------------- */

sqlite3 *query_open(const char *cmd, const char *dbpath, const char *file, bool write,
                    config **cfg_out)
{
    char path[512];
    config *cfg = NULL;
    if (file != NULL || dbpath == NULL) {
        char err[768];
        cfg = malloc(sizeof *cfg);
        if (cfg == NULL)
            return NULL;
        config_defaults(cfg);
        if (file != NULL && !config_load(cfg, file, err, sizeof err)) {
            fprintf(stderr, "hookd %s: %s\n", cmd, err);
            config_free(cfg);
            free(cfg);
            return NULL;
        }
    }
    /* cfg is loaded whenever dbpath is NULL (above). */
    const char *from = dbpath != NULL ? dbpath : cfg != NULL ? store_sqlite_path(cfg->store_url) : "";
    snprintf(path, sizeof path, "%s", from);
    if (cfg_out != NULL) {
        *cfg_out = cfg;
    } else if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
        || sqlite3_exec(db, "SELECT 1 FROM events LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "hookd %s: cannot read a hookd store at %s: %s\n", cmd, path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    return db;
}

/* --since: Unix seconds, an ISO 8601 date-time, or an age like 30m, 2h, 7d. Microseconds. */
bool query_parse_since(const char *s, int64_t *us)
{
    size_t n = strlen(s);
    int64_t v;
    if (hookd_timestamp_parse(s, n, &v) == HOOKD_OK && v < INT64_MAX / 1000000) {
        *us = v * 1000000;
        return true;
    }
    if (hookd_iso8601_parse(s, n, us) == HOOKD_OK)
        return true;
    if (n >= 2 && hookd_timestamp_parse(s, n - 1, &v) == HOOKD_OK && v < 100000000) {
        int64_t unit = s[n - 1] == 's' ? 1 : s[n - 1] == 'm' ? 60 : s[n - 1] == 'h' ? 3600
                                             : s[n - 1] == 'd' ? 86400 : 0;
        if (unit == 0)
            return false;
        *us = (cli_now() - v * unit) * 1000000;
        return true;
    }
    return false;
}

/* ---- printing rows -------------------------------------------------------------------------- */

static json_t *column_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL: return json_null();
    case SQLITE_BLOB:
        return json_stringn((const char *)sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
    default: return json_string((const char *)sqlite3_column_text(st, i));
    }
}

static int width(col_widths w, int i)
{
    return (size_t)i < w.n ? w.w[i] : 0;
}

/* Print every row of st as a table or as a JSON array of objects. The number of rows, or -1. */
long query_print(sqlite3_stmt *st, bool json, col_widths widths)
{
    int ncol = sqlite3_column_count(st);
    json_t *arr = json ? json_array() : NULL;
    long rows = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (json) {
            json_t *o = json_object();
            for (int i = 0; i < ncol; i++)
                json_object_set_new(o, sqlite3_column_name(st, i), column_json(st, i));
            json_array_append_new(arr, o);
        } else {
            if (rows == 0) {
                for (int i = 0; i < ncol; i++)
                    printf("%-*s%s", width(widths, i), sqlite3_column_name(st, i),
                           i + 1 < ncol ? "  " : "\n");
            }
            for (int i = 0; i < ncol; i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                int w = width(widths, i);
                printf("%-*.*s%s", w, w ? w : 4 * 4096, v ? cli_safe(v) : "-", i + 1 < ncol ? "  " : "\n");
            }
        }
        rows++;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "hookd: query failed: %s\n", sqlite3_errmsg(sqlite3_db_handle(st)));
        json_decref(arr);
        return -1;
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(arr);
    }
    return rows;
}

/* Prepare sql, bind the text parameters given (NULL binds NULL), print. */
int query_run(sqlite3 *db, const char *sql, const char *const *params, size_t nparams, bool json,
               col_widths widths, long *rows_out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "hookd: %s\n", sqlite3_errmsg(db));
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < nparams; i++) {
        if (params[i] != NULL)
            sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_TRANSIENT);
    }
    long rows = query_print(st, json, widths);
    sqlite3_finalize(st);
    if (rows_out != NULL)
        *rows_out = rows;
    return rows < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}


void query_note_more(sqlite3 *db, const char *cmd, const char *count_sql, const char *const *params,
                     size_t nparams, long shown, long long limit)
{
    if (shown < limit)
        return;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, count_sql, -1, &st, NULL) != SQLITE_OK)
        return;
    for (size_t i = 0; i < nparams; i++) {
        if (params[i] != NULL)
            sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > shown)
        fprintf(stderr, "hookd %s: ... %lld more; showing the newest %ld (use --limit)\n", cmd,
                (long long)sqlite3_column_int64(st, 0) - shown, shown);
    sqlite3_finalize(st);
}
