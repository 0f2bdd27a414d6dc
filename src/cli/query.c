/*
 * query.c - what the commands that read or change the store share: opening it (from --db or the
 * [store] url of -c FILE), --since times, and one printer for rows (a table, or JSON).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"

/* ---- opening the store ---------------------------------------------------------------------- */

store_view *query_open(const char *cmd, const char *db, const char *file, bool write,
                       config **cfg_out)
{
    char url[600];
    config *cfg = NULL;
    if (file != NULL || db == NULL) {
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
    /* cfg is loaded whenever db is NULL (above). --db takes a URL, or a path to an SQLite file. */
    if (db == NULL)
        snprintf(url, sizeof url, "%s", cfg->store_url);
    else if (strstr(db, "://") != NULL || strncmp(db, "sqlite:", 7) == 0)
        snprintf(url, sizeof url, "%s", db);
    else
        snprintf(url, sizeof url, "sqlite:%s", db);
    if (cfg_out != NULL) {
        *cfg_out = cfg;
    } else if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    char err[768];
    store_view *v = store_view_open(url, write, err, sizeof err);
    if (v == NULL) {
        fprintf(stderr, "hookd %s: %s\n", cmd, err);
        if (cfg_out != NULL && *cfg_out != NULL) {
            config_free(*cfg_out);
            free(*cfg_out);
            *cfg_out = NULL;
        }
    }
    return v;
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

json_t *query_value_json(const store_value *v)
{
    switch (v->type) {
    case STORE_INT: return json_integer(v->i);
    case STORE_REAL: return json_real(v->r);
    case STORE_TEXT:
    case STORE_BLOB: return json_stringn(v->p, v->len);
    case STORE_NULL: break;
    }
    return json_null();
}

json_t *query_row_json(size_t ncol, const char *const *names, const store_value *v)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < ncol; i++) {
        json_t *j = query_value_json(&v[i]);
        json_object_set_new(o, names[i], j != NULL ? j : json_null());
    }
    return o;
}

static int width(col_widths w, size_t i)
{
    return i < w.n ? w.w[i] : 0;
}

/* A value as table text (NULL: "-"), into buf when it is not text already. */
static const char *value_text(const store_value *v, char *buf, size_t cap)
{
    switch (v->type) {
    case STORE_INT: snprintf(buf, cap, "%lld", (long long)v->i); return buf;
    case STORE_REAL: snprintf(buf, cap, "%g", v->r); return buf;
    case STORE_TEXT: return v->p;
    case STORE_BLOB: snprintf(buf, cap, "(%zu bytes)", v->len); return buf;
    case STORE_NULL: break;
    }
    return "-";
}

typedef struct printer {
    bool json;
    col_widths widths;
    json_t *rows;
    long n;
} printer;

static bool print_row(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    printer *p = ctx;
    if (p->json) {
        json_array_append_new(p->rows, query_row_json(ncol, names, v));
    } else {
        if (p->n == 0) {
            for (size_t i = 0; i < ncol; i++)
                printf("%-*s%s", width(p->widths, i), names[i], i + 1 < ncol ? "  " : "\n");
        }
        for (size_t i = 0; i < ncol; i++) {
            char buf[64];
            int w = width(p->widths, i);
            printf("%-*.*s%s", w, w ? w : 4 * 4096, cli_safe(value_text(&v[i], buf, sizeof buf)),
                   i + 1 < ncol ? "  " : "\n");
        }
    }
    p->n++;
    return true;
}

int query_run(const char *cmd, store_view *v, store_report which, const char *const *params,
              size_t n, bool json, col_widths widths, long *rows_out)
{
    printer p = {.json = json, .widths = widths, .rows = json ? json_array() : NULL};
    bool ok = store_view_report(v, which, params, n, print_row, &p);
    if (!ok)
        fprintf(stderr, "hookd %s: query failed: %s\n", cmd, store_view_errmsg(v));
    else if (json) {
        json_dumpf(p.rows, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(p.rows);
    if (rows_out != NULL)
        *rows_out = p.n;
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static bool take_count(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)names;
    if (ncol > 0 && v[0].type == STORE_INT)
        *(int64_t *)ctx = v[0].i;
    return false;
}

void query_note_more(const char *cmd, store_view *v, store_report count, const char *const *params,
                     size_t n, long shown, long long limit)
{
    int64_t total = 0;
    if (shown < limit || !store_view_report(v, count, params, n, take_count, &total))
        return;
    if (total > shown)
        fprintf(stderr, "hookd %s: ... %lld more; showing the newest %ld (use --limit)\n", cmd,
                (long long)(total - shown), shown);
}
