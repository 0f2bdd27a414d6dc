/*
 * cmd_deliveries.c - hookd deliveries list, and hookd replay: see what the handlers did, and
 * queue fresh deliveries for stored events (after a fix, or for dead letters).
 *
 * replay writes to the store while the daemon may be running: it takes SQLite's write lock for one
 * short transaction, and the daemon's dispatcher finds the new rows on its next look.
 */
#include <getopt.h>
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

typedef struct dl_args {
    const char *db, *file, *state, *handler, *event, *type, *since, *until;
    long long limit;
    bool json;
    const char *positional;
} dl_args;

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

static int parse(const char *cmd, int argc, char **argv, dl_args *a, const char *help)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},      {"config", required_argument, NULL, 'c'},
        {"state", required_argument, NULL, 's'},   {"handler", required_argument, NULL, 'H'},
        {"event", required_argument, NULL, 'e'},   {"type", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 'S'},   {"until", required_argument, NULL, 'U'},
        {"limit", required_argument, NULL, 'n'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    a->limit = 50;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->db = optarg; break;
        case 'c': a->file = optarg; break;
        case 'H': a->handler = optarg; break;
        case 'e': a->event = optarg; break;
        case 't': a->type = optarg; break;
        case 'S': a->since = optarg; break;
        case 'U': a->until = optarg; break;
        case 'j': a->json = true; break;
        case 's': {
            delivery_state s;
            if (!delivery_state_parse(optarg, &s))
                return cli_usage_error(cmd, "--state is pending, waiting, in_flight, succeeded, "
                                            "retry, dead or replayed");
            a->state = delivery_state_name(s);
            break;
        }
        case 'n':
            if (!cli_parse_int(optarg, 1, 1000000, &a->limit))
                return cli_usage_error(cmd, "--limit must be 1 to 1000000");
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    return cli_positional(cmd, argc, argv, &a->positional);
}

/* ---- deliveries list ------------------------------------------------------------------------ */

static json_t *row_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        json_t *v;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
        case SQLITE_NULL: v = json_null(); break;
        default: v = json_string((const char *)sqlite3_column_text(st, i)); break;
        }
        json_object_set_new(o, sqlite3_column_name(st, i), v != NULL ? v : json_null());
    }
    return o;
}

/* One attempt line of the table, with the start of its output on the same line. */
static void print_attempt(sqlite3_stmt *at)
{
    const char *out = (const char *)sqlite3_column_text(at, 7);
    char excerpt[121] = "";
    if (out != NULL) {
        snprintf(excerpt, sizeof excerpt, "%s", out);
        for (char *p = excerpt; *p; p++) {
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        }
    }
    printf("    #%d %s %5lldms %-9s", sqlite3_column_int(at, 0),
           (const char *)sqlite3_column_text(at, 1), (long long)sqlite3_column_int64(at, 2),
           (const char *)sqlite3_column_text(at, 3));
    if (sqlite3_column_type(at, 4) != SQLITE_NULL)
        printf(" http=%d", sqlite3_column_int(at, 4));
    if (sqlite3_column_type(at, 5) != SQLITE_NULL)
        printf(" exit=%d", sqlite3_column_int(at, 5));
    if (sqlite3_column_type(at, 6) != SQLITE_NULL)
        printf(" error=\"%s\"", cli_safe((const char *)sqlite3_column_text(at, 6)));
    if (excerpt[0])
        printf(" output=\"%s\"", cli_safe(excerpt));
    printf("\n");
}

#define DELIVERIES_WHERE                                                                            \
    " FROM deliveries d JOIN events e ON e.seq = d.event_seq"                                      \
    " WHERE (?1 IS NULL OR d.state = ?1) AND (?2 IS NULL OR d.handler = ?2)"                       \
    " AND (?3 IS NULL OR e.id = ?3)"

static int deliveries_list(sqlite3 *db, const dl_args *a)
{
    sqlite3_stmt *st = NULL, *at = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT d.id, d.handler, d.state, d.attempts, e.id AS event_id,"
                           " e.event_type, " SQL_TIME("d.created_us") " AS queued_at,"
                           " CASE WHEN d.state IN ('pending', 'retry') THEN " SQL_TIME("d.next_attempt_us")
                           " END AS next_attempt_at, d.last_outcome"
                           DELIVERIES_WHERE " ORDER BY d.id DESC LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db,
                              "SELECT attempt, " SQL_TIME("started_us") " AS started_at,"
                              " (finished_us - started_us) / 1000 AS ms, outcome, http_status,"
                              " exit_code, error, output FROM attempts WHERE delivery_id = ?1"
                              " ORDER BY attempt",
                              -1, &at, NULL) != SQLITE_OK) {
        fprintf(stderr, "hookd deliveries: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return CLI_EXIT_FAIL;
    }
    const char *params[] = {a->state, a->handler, a->event};
    for (int i = 0; i < 3; i++) {
        if (params[i] != NULL)
            sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 4, a->limit);
    json_t *all = a->json ? json_array() : NULL;
    long shown = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        shown++;
        sqlite3_bind_int64(at, 1, sqlite3_column_int64(st, 0));
        if (a->json) {
            json_t *d = row_json(st), *attempts = json_array();
            while (sqlite3_step(at) == SQLITE_ROW)
                json_array_append_new(attempts, row_json(at));
            json_object_set_new(d, "attempts_detail", attempts);
            json_array_append_new(all, d);
        } else {
            const char *next = (const char *)sqlite3_column_text(st, 7);
            printf("%-6lld %-16s %-10s attempts=%d event=%s type=%s%s%s\n",
                   (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                   (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
                   cli_safe((const char *)sqlite3_column_text(st, 4)),
                   sqlite3_column_text(st, 5) ? cli_safe((const char *)sqlite3_column_text(st, 5)) : "-",
                   next ? " next=" : "", next ? next : "");
            while (sqlite3_step(at) == SQLITE_ROW)
                print_attempt(at);
        }
        sqlite3_reset(at);
    }
    if (a->json) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(all);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(at);
    query_note_more(db, "deliveries", "SELECT count(*)" DELIVERIES_WHERE, params, 3, shown, a->limit);
    return CLI_EXIT_OK;
}

int cmd_deliveries(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(deliveries_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "list") != 0)
        return cli_usage_error("deliveries", "expected 'list'");
    dl_args a = {0};
    int rc = parse("deliveries", argc - 1, argv + 1, &a, deliveries_help);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.positional != NULL)
        return cli_usage_error("deliveries", "unexpected argument '%s'", a.positional);
    sqlite3 *db = query_open("deliveries", a.db, a.file, false, NULL);
    if (db == NULL)
        return CLI_EXIT_FAIL;
    rc = deliveries_list(db, &a);
    sqlite3_close(db);
    return rc;
}

/* ---- replay --------------------------------------------------------------------------------- */

typedef struct replay {
    sqlite3 *db;
    const config *cfg;       /* NULL with --db only */
    const dl_args *a;
    sqlite3_stmt *insert, *by_state, *mark;
    int64_t now;
    long queued, events;
} replay;

static bool queue_one(replay *r, sqlite3_stmt *ev, const char *handler)
{
    sqlite3_stmt *st = r->insert;
    sqlite3_bind_int64(st, 1, sqlite3_column_int64(ev, 0));
    sqlite3_bind_text(st, 2, handler, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, r->now);
    sqlite3_bind_value(st, 4, sqlite3_column_value(ev, 4));
    sqlite3_bind_value(st, 5, sqlite3_column_value(ev, 5));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return false;
    r->queued++;
    /* Its dead deliveries for this handler are replaced by the new one. */
    sqlite3_bind_int64(r->mark, 1, sqlite3_column_int64(ev, 0));
    sqlite3_bind_text(r->mark, 2, handler, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(r->mark, 3, r->now);
    rc = sqlite3_step(r->mark);
    sqlite3_reset(r->mark);
    return rc == SQLITE_DONE;
}

/* The deliveries one event gets: by --state, by --handler, or by the config's handlers. */
static bool replay_event(replay *r, sqlite3_stmt *ev)
{
    const dl_args *a = r->a;
    long before = r->queued;
    bool ok = true;
    if (a->state != NULL) {
        sqlite3_bind_int64(r->by_state, 1, sqlite3_column_int64(ev, 0));
        sqlite3_bind_text(r->by_state, 2, a->state, -1, SQLITE_STATIC);
        if (a->handler != NULL)
            sqlite3_bind_text(r->by_state, 3, a->handler, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(r->by_state, 3);
        while (ok && sqlite3_step(r->by_state) == SQLITE_ROW)
            ok = queue_one(r, ev, (const char *)sqlite3_column_text(r->by_state, 0));
        sqlite3_reset(r->by_state);
    } else if (a->handler != NULL) {
        ok = queue_one(r, ev, a->handler);
    } else {
        const char *endpoint = (const char *)sqlite3_column_text(ev, 1);
        const char *type = sqlite3_column_int(ev, 3) ? (const char *)sqlite3_column_text(ev, 2) : NULL;
        for (size_t i = 0; ok && i < r->cfg->nhandlers; i++) {
            if (route_matches(&r->cfg->handlers[i], endpoint, type))
                ok = queue_one(r, ev, r->cfg->handlers[i].name);
        }
    }
    if (r->queued > before)
        r->events++;
    return ok;
}

static int run_replay(replay *r)
{
    const dl_args *a = r->a;
    int64_t since = 0, until = INT64_MAX;
    if (a->since != NULL && !query_parse_since(a->since, &since))
        return cli_usage_error("replay", "--since is Unix seconds, ISO 8601 or an age like 2h");
    if (a->until != NULL && !query_parse_since(a->until, &until))
        return cli_usage_error("replay", "--until is Unix seconds, ISO 8601 or an age like 2h");
    sqlite3_stmt *ev = NULL;
    const char *select =
        "SELECT seq, endpoint, event_type, parse_status = 'parsed',"
        " coalesce(call_session_id, call_control_id), occurred_at_us FROM events";
    char sql[512];
    snprintf(sql, sizeof sql, "%s WHERE %s ORDER BY seq", select,
             a->positional != NULL ? "id = ?1"
                                   : "event_type = ?1 AND received_at_us >= ?2 AND received_at_us < ?3");
    if (sqlite3_prepare_v2(r->db, sql, -1, &ev, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(r->db,
                              "INSERT INTO deliveries (event_seq, handler, state, next_attempt_us,"
                              " created_us, updated_us, call_key, occurred_at_us)"
                              " VALUES (?1, ?2, 'pending', ?3, ?3, ?3, ?4, ?5)",
                              -1, &r->insert, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(r->db,
                              "SELECT DISTINCT handler FROM deliveries WHERE event_seq = ?1"
                              " AND state = ?2 AND (?3 IS NULL OR handler = ?3)",
                              -1, &r->by_state, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(r->db,
                              "UPDATE deliveries SET state = 'replayed', updated_us = ?3"
                              " WHERE event_seq = ?1 AND handler = ?2 AND state = 'dead'",
                              -1, &r->mark, NULL) != SQLITE_OK) {
        fprintf(stderr, "hookd replay: %s\n", sqlite3_errmsg(r->db));
        sqlite3_finalize(ev);
        sqlite3_finalize(r->insert);
        sqlite3_finalize(r->by_state);
        return CLI_EXIT_FAIL;
    }
    sqlite3_bind_text(ev, 1, a->positional != NULL ? a->positional : a->type, -1, SQLITE_STATIC);
    if (a->positional == NULL) {
        sqlite3_bind_int64(ev, 2, since);
        sqlite3_bind_int64(ev, 3, until);
    }
    bool ok = sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    long matched = 0;
    while (ok && sqlite3_step(ev) == SQLITE_ROW) {
        matched++;
        ok = replay_event(r, ev);
    }
    ok = ok && sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        fprintf(stderr, "hookd replay: %s (nothing was queued)\n", sqlite3_errmsg(r->db));
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_finalize(ev);
    sqlite3_finalize(r->insert);
    sqlite3_finalize(r->by_state);
    sqlite3_finalize(r->mark);
    if (!ok)
        return CLI_EXIT_FAIL;
    if (matched == 0) {
        fprintf(stderr, "hookd replay: no stored event matches\n");
        return CLI_EXIT_FAIL;
    }
    printf("queued %ld deliveries for %ld of %ld events\n", r->queued, r->events, matched);
    return CLI_EXIT_OK;
}

int cmd_replay(int argc, char **argv)
{
    dl_args a = {0};
    int rc = parse("replay", argc, argv, &a, replay_help);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((a.positional == NULL) == (a.type == NULL))
        return cli_usage_error("replay", "give an EVENT_ID, or --type T --since TIME");
    if (a.type != NULL && a.since == NULL)
        return cli_usage_error("replay", "--type needs --since");
    if (a.file == NULL && a.handler == NULL && a.state == NULL)
        return cli_usage_error("replay", "without -c FILE, say which handler with --handler");
    config *cfg = NULL;
    sqlite3 *db = query_open("replay", a.db, a.file, true, &cfg);
    if (db == NULL)
        return CLI_EXIT_FAIL;
    if (cfg != NULL && a.handler != NULL && route_handler(cfg, a.handler) == NULL) {
        rc = cli_usage_error("replay", "the config has no [handler %s]", a.handler);
    } else {
        sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        replay r = {.db = db, .cfg = cfg, .a = &a,
                    .now = (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000};
        rc = run_replay(&r);
    }
    sqlite3_close(db);
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    return rc;
}
