/*
 * cmd_deliveries.c - hookd deliveries list, and hookd replay: see what the handlers did, and
 * queue fresh deliveries for stored events (after a fix, or for dead letters).
 *
 * replay writes to the store while the daemon may be running: one short transaction (the store's
 * replay op), and the daemon's dispatcher finds the new rows on its next look.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "query.h"
#include "route.h"
#include "states.h"

static const char deliveries_help[] =
    "usage: hookd deliveries list [--state S] [--handler H] [--event ID] [--limit N] [--json]\n"
    "                             (--db PATH | -c FILE)\n\n"
    "Deliveries, newest first (default 50), each with its attempts: time, outcome, HTTP status or\n"
    "exit code, error, and the start of the output. S is pending, waiting (order = call: behind\n"
    "the head of its call), in_flight, succeeded, retry, dead or replayed (dead, then queued again\n"
    "by hookd replay).\n";

static const char replay_help[] =
    "usage: hookd replay EVENT_ID [--handler H] (-c FILE | --db PATH --handler H)\n"
    "       hookd replay --type T --since TIME [--until TIME] [--state S] [--handler H]\n"
    "                    (-c FILE | --db PATH)\n\n"
    "Queue fresh deliveries for stored events, whatever became of the earlier ones. Without\n"
    "--handler, every handler of the config that takes the event. With --state (e.g. dead), only\n"
    "the events with a delivery in that state, for that delivery's handler. A dead delivery that\n"
    "is replayed becomes 'replayed', so --state dead does not pick it again. TIME is Unix\n"
    "seconds, ISO 8601 or an age (30m, 2h, 7d). The running daemon picks them up at once.\n";

/* ---- deliveries list ------------------------------------------------------------------------ */

/* Values of a report row by column (the reports' column order is theirs; names are the contract). */
static const char *text_at(const store_value *v, size_t i)
{
    return v[i].type == STORE_TEXT ? v[i].p : NULL;
}

/* One attempt line of the table, with the start of its output on the same line. */
static bool print_attempt(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)ctx;
    (void)names;
    if (ncol < 8)
        return false;
    const char *out = text_at(v, 7);
    char excerpt[121] = "";
    if (out != NULL) {
        snprintf(excerpt, sizeof excerpt, "%s", out);
        for (char *p = excerpt; *p; p++) {
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        }
    }
    printf("    #%lld %s %5lldms %-9s", (long long)v[0].i, text_at(v, 1), (long long)v[2].i,
           text_at(v, 3));
    if (v[4].type != STORE_NULL)
        printf(" http=%lld", (long long)v[4].i);
    if (v[5].type != STORE_NULL)
        printf(" exit=%lld", (long long)v[5].i);
    if (text_at(v, 6) != NULL)
        printf(" error=\"%s\"", cli_safe(text_at(v, 6)));
    if (excerpt[0])
        printf(" output=\"%s\"", cli_safe(excerpt));
    printf("\n");
    return true;
}

static bool collect_attempt(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    json_array_append_new(ctx, query_row_json(ncol, names, v));
    return true;
}

typedef struct listing {
    store_view *v;
    bool json;
    json_t *all;
    long shown;
    bool ok;
} listing;

static bool list_delivery(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    listing *l = ctx;
    if (ncol < 9)
        return false;
    l->shown++;
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)v[0].i);
    const char *params[] = {id};
    if (l->json) {
        json_t *d = query_row_json(ncol, names, v), *attempts = json_array();
        l->ok = store_view_report(l->v, REPORT_ATTEMPTS_OF, params, 1, collect_attempt, attempts);
        json_object_set_new(d, "attempts_detail", attempts);
        json_array_append_new(l->all, d);
    } else {
        const char *next = text_at(v, 7);
        printf("%-6s %-16s %-10s attempts=%lld event=%s type=%s%s%s\n", id, text_at(v, 1),
               text_at(v, 2), (long long)v[3].i, cli_safe(text_at(v, 4)),
               text_at(v, 5) ? cli_safe(text_at(v, 5)) : "-", next ? " next=" : "", next ? next : "");
        l->ok = store_view_report(l->v, REPORT_ATTEMPTS_OF, params, 1, print_attempt, NULL);
    }
    return l->ok;
}

static int deliveries_list(store_view *v, const query_args *a)
{
    char limit[32];
    snprintf(limit, sizeof limit, "%lld", a->limit);
    const char *params[] = {a->state, a->handler, a->event, limit};
    listing l = {.v = v, .json = a->json, .all = a->json ? json_array() : NULL, .ok = true};
    bool ok = store_view_report(v, REPORT_DELIVERIES_LIST, params, 4, list_delivery, &l) && l.ok;
    if (!ok) {
        fprintf(stderr, "hookd deliveries: %s\n", store_view_errmsg(v));
        json_decref(l.all);
        return CLI_EXIT_FAIL;
    }
    if (a->json) {
        json_dumpf(l.all, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(l.all);
    }
    query_note_more("deliveries", v, REPORT_DELIVERIES_COUNT, params, 3, l.shown, a->limit);
    return CLI_EXIT_OK;
}

int cmd_deliveries(int argc, char **argv)
{
    static const char *const verbs[] = {"list", NULL};
    const char *verb = NULL;
    int rc = cli_verb("deliveries", argc, argv, verbs, deliveries_help, &verb);
    if (rc != CLI_CONTINUE)
        return rc;
    query_args a;
    rc = query_parse_args("deliveries", argc - 1, argv + 1,
                          QUERY_STATE | QUERY_HANDLER | QUERY_EVENT | QUERY_LIMIT | QUERY_JSON,
                          deliveries_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    store_view *v = query_open("deliveries", a.db, a.file, false, NULL);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    rc = deliveries_list(v, &a);
    store_view_close(v);
    return rc;
}

/* ---- replay --------------------------------------------------------------------------------- */

/* Without --state or --handler: the handlers of the config that take the event. */
static size_t route(void *ctx, const char *endpoint, const char *event_type, const char **names,
                    size_t cap)
{
    return route_event(ctx, endpoint, event_type, names, cap);
}

static int run_replay(store_view *v, const config *cfg, const query_args *a)
{
    store_replay spec = {.event_id = a->positional, .type = a->type, .since_us = a->since_us,
                         .until_us = a->until_us, .state = a->state, .handler = a->handler,
                         .now_us = cli_now_us()};
    store_replay_counts n;
    if (!store_view_replay(v, &spec, route, (void *)cfg, &n)) {
        fprintf(stderr, "hookd replay: %s (nothing was queued)\n", store_view_errmsg(v));
        return CLI_EXIT_FAIL;
    }
    if (n.matched == 0) {
        fprintf(stderr, "hookd replay: no stored event matches\n");
        return CLI_EXIT_FAIL;
    }
    printf("queued %ld deliveries for %ld of %ld events\n", n.queued, n.events, n.matched);
    return CLI_EXIT_OK;
}

int cmd_replay(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("replay", argc, argv,
                              QUERY_POSITIONAL | QUERY_TYPE | QUERY_SINCE | QUERY_UNTIL
                                  | QUERY_STATE | QUERY_HANDLER,
                              replay_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((a.positional == NULL) == (a.type == NULL))
        return cli_usage_error("replay", "give an EVENT_ID, or --type T --since TIME");
    if (a.type != NULL && !a.has_since)
        return cli_usage_error("replay", "--type needs --since");
    if (a.file == NULL && a.handler == NULL && a.state == NULL)
        return cli_usage_error("replay", "without -c FILE, say which handler with --handler");
    config *cfg = NULL;
    store_view *v = query_open("replay", a.db, a.file, true, &cfg);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    if (cfg != NULL && a.handler != NULL && route_handler(cfg, a.handler) == NULL)
        rc = cli_usage_error("replay", "the config has no [handler %s]", a.handler);
    else
        rc = run_replay(v, cfg, &a);
    store_view_close(v);
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    return rc;
}
