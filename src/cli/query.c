/*
 * query.c - what the commands that read or change the store share: opening it (from --db or the
 * [store] url of -c FILE), --since times, and one printer for rows (a table, or JSON).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>

#include "cli.h"
#include "query.h"
#include "states.h"

/* ---- opening the store ---------------------------------------------------------------------- */

void query_store_url(const char *db, const config *cfg, char *url, size_t cap)
{
    if (db == NULL)
        snprintf(url, cap, "%s", cfg != NULL ? cfg->store_url : STORE_DEFAULT_URL);
    else if (strstr(db, "://") != NULL || strncmp(db, "sqlite:", 7) == 0)
        snprintf(url, cap, "%s", db);
    else
        snprintf(url, cap, "sqlite:%s", db);
}

/* The config of -c FILE, or NULL without one; false (reported) when the file does not load. */
static bool load_config(const char *cmd, const char *file, config **out)
{
    *out = NULL;
    if (file == NULL)
        return true;
    config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return false;
    config_defaults(cfg);
    char err[768];
    if (!config_load(cfg, file, err, sizeof err)) {
        fprintf(stderr, "hookd %s: %s\n", cmd, err);
        config_free(cfg);
        free(cfg);
        return false;
    }
    *out = cfg;
    return true;
}

static void drop_config(config *cfg)
{
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
}

bool query_url(const char *cmd, const char *db, const char *file, char *url, size_t cap)
{
    config *cfg = NULL;
    if (!load_config(cmd, file, &cfg))
        return false;
    query_store_url(db, cfg, url, cap);
    drop_config(cfg);
    return true;
}

store_view *query_open(const char *cmd, const char *db, const char *file, bool write,
                       config **cfg_out)
{
    config *cfg = NULL;
    if (!load_config(cmd, file, &cfg))
        return NULL;
    char url[600], err[768];
    query_store_url(db, cfg, url, sizeof url);
    store_view *v = store_view_open(url, write, err, sizeof err);
    if (v == NULL)
        fprintf(stderr, "hookd %s: %s\n", cmd, err);
    if (v != NULL && cfg_out != NULL)
        *cfg_out = cfg;
    else
        drop_config(cfg);
    return v;
}

/* --since: Unix seconds, an ISO 8601 date-time, or an age like 30m, 2h, 7d. Microseconds. */
bool query_parse_since(const char *s, int64_t *us)
{
    return config_parse_time(s, cli_now(), us);
}

/* ---- arguments ------------------------------------------------------------------------------ */

typedef struct parse_ctx {
    const char *cmd;
    unsigned takes;
    query_args *a;
} parse_ctx;

static const struct {
    int opt;
    unsigned bit;
    const char *name;
} option_bits[] = {
    {'t', QUERY_TYPE, "type"},       {'C', QUERY_CALL, "call"},   {'S', QUERY_SINCE, "since"},
    {'U', QUERY_UNTIL, "until"},     {'e', QUERY_ENDPOINT, "endpoint"},
    {'s', QUERY_STATE, "state"},     {'H', QUERY_HANDLER, "handler"},
    {'E', QUERY_EVENT, "event"},     {'n', QUERY_LIMIT, "limit"}, {'j', QUERY_JSON, "json"},
    {'r', QUERY_RAW, "raw"},         {'o', QUERY_TO, "to"},       {'B', QUERY_BEFORE, "before"},
    {'y', QUERY_DRY_RUN, "dry-run"},
};

static int store_option(void *ctx, int opt, const char *arg)
{
    parse_ctx *p = ctx;
    query_args *a = p->a;
    for (size_t i = 0; i < sizeof option_bits / sizeof option_bits[0]; i++) {
        if (option_bits[i].opt == opt && !(p->takes & option_bits[i].bit))
            return cli_usage_error(p->cmd, "--%s does not apply to this command", option_bits[i].name);
    }
    switch (opt) {
    case 'd': a->db = arg; break;
    case 'c': a->file = arg; break;
    case 't': a->type = arg; break;
    case 'C': a->call = arg; break;
    case 'e': a->endpoint = arg; break;
    case 'H': a->handler = arg; break;
    case 'E': a->event = arg; break;
    case 'j': a->json = true; break;
    case 'r': a->raw = true; break;
    case 'o': a->to = arg; break;
    case 'y': a->dry_run = true; break;
    case 'B':
        if (!query_parse_since(arg, &a->before_us))
            return cli_usage_error(p->cmd, "--before is Unix seconds, ISO 8601 or an age like 30d");
        a->has_before = true;
        break;
    case 'S':
    case 'U':
        if (!query_parse_since(arg, opt == 'S' ? &a->since_us : &a->until_us))
            return cli_usage_error(p->cmd, "--%s is Unix seconds, ISO 8601 or an age like 2h",
                                   opt == 'S' ? "since" : "until");
        *(opt == 'S' ? &a->has_since : &a->has_until) = true;
        break;
    case 's': {
        delivery_state st;
        if (!delivery_state_parse(arg, &st))
            return cli_usage_error(p->cmd, "--state is pending, waiting, in_flight, succeeded, "
                                           "retry, dead or replayed");
        a->state = delivery_state_name(st);
        break;
    }
    case 'n':
        if (!cli_parse_int(arg, 1, 1000000, &a->limit))
            return cli_usage_error(p->cmd, "--limit must be 1 to 1000000");
        break;
    default: return cli_usage_error(p->cmd, "unknown option");
    }
    return CLI_CONTINUE;
}

int query_parse_args(const char *cmd, int argc, char **argv, unsigned takes, const char *help,
                     query_args *a)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},      {"config", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 't'},    {"call", required_argument, NULL, 'C'},
        {"since", required_argument, NULL, 'S'},   {"until", required_argument, NULL, 'U'},
        {"endpoint", required_argument, NULL, 'e'}, {"state", required_argument, NULL, 's'},
        {"handler", required_argument, NULL, 'H'}, {"event", required_argument, NULL, 'E'},
        {"limit", required_argument, NULL, 'n'},   {"json", no_argument, NULL, 'j'},
        {"raw", no_argument, NULL, 'r'},           {"to", required_argument, NULL, 'o'},
        {"before", required_argument, NULL, 'B'},  {"dry-run", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (query_args){.until_us = INT64_MAX, .limit = 50};
    parse_ctx p = {.cmd = cmd, .takes = takes, .a = a};
    return cli_getopt(cmd, argc, argv, "c:h", opts, help, store_option, &p,
                      (takes & QUERY_POSITIONAL) ? &a->positional : NULL);
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
    if (total > STORE_COUNT_CAP) /* counted no further */
        fprintf(stderr, "hookd %s: ... more than %lld more; showing the newest %ld (use --limit)\n",
                cmd, (long long)(STORE_COUNT_CAP - shown), shown);
    else if (total > shown)
        fprintf(stderr, "hookd %s: ... %lld more; showing the newest %ld (use --limit)\n", cmd,
                (long long)(total - shown), shown);
}
