/*
 * cmd_events.c - read the store: hookd events list|show, hookd calls show, hookd stats.
 *
 * Each command opens the store read-only (from --db, or the [store] url of -c FILE), runs one or
 * a few of the store's named reports and prints the rows: a readable table, or JSON with --json.
 * One printer serves every report, so every command's columns and JSON keys are the report's
 * column names (store.h, and the backend's queries).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "query.h"

static store_view *open_store(const char *cmd, const query_args *a)
{
    return query_open(cmd, a->db, a->file, false, NULL);
}

/* ---- commands ------------------------------------------------------------------------------- */

static const char events_help[] =
    "usage: hookd events list [--type T] [--call ID] [--since TIME] [--endpoint E] [--limit N]\n"
    "                         [--json] (--db PATH | -c FILE)\n"
    "       hookd events show ID [--raw] [--json] [--endpoint E] (--db PATH | -c FILE)\n\n"
    "list: the newest events first (default 50). --call matches a call_session_id,\n"
    "call_control_id or call_leg_id; TIME is Unix seconds, ISO 8601 or an age (30m, 2h, 7d).\n"
    "show: one event with every stored field; --raw prints the exact stored body, byte for byte.\n"
    "export / import: every event as JSON lines, and back (hookd events export --help).\n";

static int events_list(store_view *v, const query_args *a)
{
    char since_text[32], limit_text[32];
    snprintf(since_text, sizeof since_text, "%" PRId64, a->since_us);
    snprintf(limit_text, sizeof limit_text, "%lld", a->limit);
    const char *params[] = {a->type, a->call, since_text, a->endpoint, limit_text};
    long rows = 0;
    int rc = query_run("events", v, REPORT_EVENTS_LIST, params, 5, a->json,
                       WIDTHS(27, 22, 36, 36, 16, 8, 8), &rows);
    if (rc == CLI_EXIT_OK)
        query_note_more("events", v, REPORT_EVENTS_COUNT, params, 4, rows, a->limit);
    return rc;
}

/* --raw: the stored body, byte for byte, of the one event with this id. */
typedef struct raw_body {
    int rows;
    void *body;
    size_t len;
} raw_body;

static bool keep_body(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)names;
    raw_body *b = ctx;
    if (++b->rows > 1 || ncol < 1)
        return false;
    /* Copied out: the store's pointer is valid only during the call. */
    b->len = v[0].len;
    b->body = malloc(b->len > 0 ? b->len : 1);
    if (b->body != NULL && b->len > 0)
        memcpy(b->body, v[0].p, b->len);
    return true;
}

static int events_show(store_view *v, const query_args *a)
{
    const char *params[] = {a->positional, a->endpoint};
    if (a->raw) {
        raw_body b = {0};
        int rc = CLI_EXIT_FAIL;
        if (!store_view_report(v, REPORT_EVENT_BODY, params, 2, keep_body, &b))
            fprintf(stderr, "hookd events: %s\n", store_view_errmsg(v));
        else if (b.rows == 0)
            fprintf(stderr, "hookd events: no event %s\n", params[0]);
        else if (b.rows > 1)
            fprintf(stderr, "hookd events: %s is stored by more than one endpoint; add --endpoint\n",
                    params[0]);
        else if (b.body == NULL)
            fprintf(stderr, "hookd events: out of memory\n");
        else if (fwrite(b.body, 1, b.len, stdout) == b.len)
            rc = CLI_EXIT_OK;
        free(b.body);
        return rc;
    }
    long rows = 0;
    /* A table: one field a line (the report returns (field, value) pairs); JSON: whole rows. */
    int rc = a->json ? query_run("events", v, REPORT_EVENT_ROWS, params, 2, true, WIDTHS(0), &rows)
                     : query_run("events", v, REPORT_EVENT_FIELDS, params, 2, false, WIDTHS(20, 0),
                                 &rows);
    if (rc == CLI_EXIT_OK && rows == 0 && !a->json) {
        fprintf(stderr, "hookd events: no event %s\n", params[0]);
        return CLI_EXIT_FAIL;
    }
    return rc;
}

int cmd_events(int argc, char **argv)
{
    static const char *const verbs[] = {"list", "show", "export", "import", NULL};
    const char *verb = NULL;
    int rc = cli_verb("events", argc, argv, verbs, events_help, &verb);
    if (rc != CLI_CONTINUE)
        return rc;
    if (strcmp(verb, "export") == 0 || strcmp(verb, "import") == 0)
        return cmd_events_transfer(argc - 1, argv + 1);
    bool show = strcmp(verb, "show") == 0;
    query_args a;
    rc = query_parse_args("events", argc - 1, argv + 1,
                          show ? QUERY_POSITIONAL | QUERY_ENDPOINT | QUERY_JSON | QUERY_RAW
                               : QUERY_TYPE | QUERY_CALL | QUERY_SINCE | QUERY_ENDPOINT
                                     | QUERY_LIMIT | QUERY_JSON,
                          events_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    if (show && a.positional == NULL)
        return cli_usage_error("events", "show needs an event ID");
    store_view *v = open_store("events", &a);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    rc = show ? events_show(v, &a) : events_list(v, &a);
    store_view_close(v);
    return rc;
}

static const char calls_help[] =
    "usage: hookd calls show ID [--json] (--db PATH | -c FILE)\n\n"
    "Every event of one call, by call_session_id, call_control_id or call_leg_id, in the order\n"
    "they occurred (occurred_at), since Telnyx delivers out of order; +ms is the time since the\n"
    "call's first event.\n";

int cmd_calls(int argc, char **argv)
{
    static const char *const verbs[] = {"show", NULL};
    const char *verb = NULL;
    int rc = cli_verb("calls", argc, argv, verbs, calls_help, &verb);
    if (rc != CLI_CONTINUE)
        return rc;
    query_args a;
    rc = query_parse_args("calls", argc - 1, argv + 1, QUERY_POSITIONAL | QUERY_JSON, calls_help,
                          &a);
    if (rc != CLI_CONTINUE)
        return rc;
    if (a.positional == NULL)
        return cli_usage_error("calls", "show needs a call id");
    store_view *v = open_store("calls", &a);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    const char *params[] = {a.positional};
    long rows = 0;
    rc = query_run("calls", v, REPORT_CALL_TIMELINE, params, 1, a.json,
                   WIDTHS(27, 8, 22, 36, 36, 16, 8), &rows);
    store_view_close(v);
    if (rc == CLI_EXIT_OK && rows == 0 && !a.json) {
        fprintf(stderr, "hookd calls: no events for call %s\n", a.positional);
        return CLI_EXIT_FAIL;
    }
    return rc;
}

static const char stats_help[] =
    "usage: hookd stats [--since TIME] [--json] (--db PATH | -c FILE)\n\n"
    "Counts of stored events: by type, siprec.failed by failure_cause, and per hour.\n";

int cmd_stats(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("stats", argc, argv, QUERY_SINCE | QUERY_JSON, stats_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    rc = CLI_EXIT_OK;
    store_view *v = open_store("stats", &a);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    char since_text[32];
    snprintf(since_text, sizeof since_text, "%" PRId64, a.since_us);
    const char *params[] = {since_text};
    static const struct {
        const char *title, *key;
        store_report report;
    } parts[] = {
        {"by type", "by_type", REPORT_STATS_BY_TYPE},
        {"siprec.failed by failure_cause", "siprec_failed_by_cause", REPORT_STATS_BY_CAUSE},
        {"per hour", "per_hour", REPORT_STATS_PER_HOUR},
    };
    if (a.json)
        printf("{\n");
    for (size_t i = 0; rc == CLI_EXIT_OK && i < sizeof parts / sizeof parts[0]; i++) {
        if (a.json)
            printf("%s\"%s\": ", i ? ",\n" : "", parts[i].key);
        else
            printf("%s%s\n", i ? "\n" : "", parts[i].title);
        rc = query_run("stats", v, parts[i].report, params, 1, a.json, WIDTHS(36, 10, 10), NULL);
    }
    if (a.json)
        printf("}\n");
    store_view_close(v);
    return rc;
}
