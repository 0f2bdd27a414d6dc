/*
 * cmd_events.c - read the store: hookd events list|show, hookd calls show, hookd stats.
 *
 * Each command opens the SQLite store read-only (from --db PATH, or the [store] url of -c FILE),
 * runs one or a few queries and prints the rows: a readable table, or JSON with --json. One
 * printer serves every query, so every command's columns and JSON keys are its SQL's column names.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "cli.h"
#include "query.h"

typedef struct query_args {
    const char *db, *file, *type, *call, *since, *endpoint;
    long long limit;
    bool json, raw;
    const char *positional;
} query_args;

static sqlite3 *open_store(const char *cmd, const query_args *a)
{
    return query_open(cmd, a->db, a->file, false, NULL);
}

/* ---- arguments ------------------------------------------------------------------------------ */

static int parse_args(const char *cmd, int argc, char **argv, query_args *a, const char *help)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 't'},  {"call", required_argument, NULL, 'C'},
        {"since", required_argument, NULL, 's'}, {"limit", required_argument, NULL, 'n'},
        {"endpoint", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},
        {"raw", no_argument, NULL, 'r'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    a->limit = 50;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->db = optarg; break;
        case 'c': a->file = optarg; break;
        case 't': a->type = optarg; break;
        case 'C': a->call = optarg; break;
        case 's': a->since = optarg; break;
        case 'e': a->endpoint = optarg; break;
        case 'j': a->json = true; break;
        case 'r': a->raw = true; break;
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

/* ---- commands ------------------------------------------------------------------------------- */

static const char events_help[] =
    "usage: hookd events list [--type T] [--call ID] [--since TIME] [--endpoint E] [--limit N]\n"
    "                         [--json] (--db PATH | -c FILE)\n"
    "       hookd events show ID [--raw] [--json] [--endpoint E] (--db PATH | -c FILE)\n\n"
    "list: the newest events first (default 50). --call matches a call_session_id,\n"
    "call_control_id or call_leg_id; TIME is Unix seconds, ISO 8601 or an age (30m, 2h, 7d).\n"
    "show: one event with every stored field; --raw prints the exact stored body, byte for byte.\n";

static int events_list(sqlite3 *db, const query_args *a)
{
    int64_t since = 0;
    if (a->since != NULL && !query_parse_since(a->since, &since))
        return cli_usage_error("events", "--since is Unix seconds, ISO 8601 or an age like 2h");
    char since_text[32], limit_text[32];
    snprintf(since_text, sizeof since_text, "%" PRId64, since);
    snprintf(limit_text, sizeof limit_text, "%lld", a->limit);
    const char *params[] = {a->type, a->call, since_text, a->endpoint, limit_text};
#define EVENTS_WHERE                                                                                \
    " FROM events WHERE (?1 IS NULL OR event_type = ?1)"                                           \
    " AND (?2 IS NULL OR ?2 IN (call_session_id, call_control_id, call_leg_id))"                  \
    " AND received_at_us >= CAST(?3 AS INTEGER) AND (?4 IS NULL OR endpoint = ?4)"
    long rows = 0;
    int rc = query_run(db,
               "SELECT " RECEIVED " AS received_at, coalesce(event_type, '-') AS event_type, id,"
               " coalesce(call_session_id, call_control_id) AS call,"
               " coalesce(failure_cause, hangup_cause) AS cause, attempts, parse_status AS parse"
               EVENTS_WHERE " ORDER BY seq DESC LIMIT CAST(?5 AS INTEGER)",
               params, 5, a->json, WIDTHS(27, 22, 36, 36, 16, 8, 8), &rows);
    if (rc == CLI_EXIT_OK)
        query_note_more(db, "events", "SELECT count(*)" EVENTS_WHERE, params, 4, rows, a->limit);
    return rc;
#undef EVENTS_WHERE
}

static int events_show(sqlite3 *db, const query_args *a)
{
    const char *params[] = {a->positional, a->endpoint};
    if (a->raw) {
        sqlite3_stmt *st = NULL;
        int rc = CLI_EXIT_FAIL;
        if (sqlite3_prepare_v2(db, "SELECT body FROM events WHERE id = ?1 AND (?2 IS NULL OR endpoint = ?2)"
                                   " ORDER BY seq LIMIT 2", -1, &st, NULL) != SQLITE_OK)
            return CLI_EXIT_FAIL;
        sqlite3_bind_text(st, 1, params[0], -1, SQLITE_STATIC);
        if (params[1] != NULL)
            sqlite3_bind_text(st, 2, params[1], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            /* Copy the body out: stepping to the next row invalidates SQLite's pointer. */
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            void *body = malloc(n > 0 ? n : 1);
            if (body != NULL && n > 0)
                memcpy(body, sqlite3_column_blob(st, 0), n);
            if (body == NULL) {
                fprintf(stderr, "hookd events: out of memory\n");
            } else if (sqlite3_step(st) == SQLITE_ROW) {
                fprintf(stderr, "hookd events: %s is stored by more than one endpoint; add --endpoint\n",
                        params[0]);
            } else {
                fwrite(body, 1, n, stdout);
                rc = CLI_EXIT_OK;
            }
            free(body);
        } else {
            fprintf(stderr, "hookd events: no event %s\n", params[0]);
        }
        sqlite3_finalize(st);
        return rc;
    }
    if (!a->json) {
        /* One field a line: the SQL returns (field, value) pairs. */
        long rows = 0;
        int rc = query_run(db,
                     "SELECT key AS field, value FROM (SELECT seq, json_object("
                     "'id', id, 'endpoint', endpoint, 'scheme', scheme, 'event_type', event_type,"
                     "'occurred_at', occurred_at, 'received_at', " RECEIVED ","
                     "'call_control_id', call_control_id, 'call_session_id', call_session_id,"
                     "'call_leg_id', call_leg_id, 'connection_id', connection_id,"
                     "'failure_cause', failure_cause, 'hangup_cause', hangup_cause,"
                     "'attempts', attempts, 'meta_attempt', meta_attempt, 'delivered_to', delivered_to,"
                     "'remote_addr', remote_addr, 'content_type', content_type,"
                     "'parse_status', parse_status, 'parse_error', parse_error,"
                     "'body_bytes', length(body), 'body', CAST(body AS TEXT)) AS fields"
                     " FROM events WHERE id = ?1 AND (?2 IS NULL OR endpoint = ?2)) AS ev,"
                     " json_each(ev.fields) ORDER BY ev.seq",
                     params, 2, false, WIDTHS(20, 0), &rows);
        if (rc == CLI_EXIT_OK && rows == 0) {
            fprintf(stderr, "hookd events: no event %s\n", params[0]);
            return CLI_EXIT_FAIL;
        }
        return rc;
    }
    return query_run(db,
               "SELECT seq, id, endpoint, scheme, event_type, occurred_at, " RECEIVED " AS received_at,"
               " call_control_id, call_session_id, call_leg_id, connection_id, failure_cause,"
               " hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type,"
               " parse_status, parse_error, CAST(body AS TEXT) AS body FROM events"
               " WHERE id = ?1 AND (?2 IS NULL OR endpoint = ?2) ORDER BY seq",
               params, 2, true, WIDTHS(0), NULL);
}

int cmd_events(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "show") != 0)) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(events_help, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error("events", "expected 'list' or 'show'");
    }
    bool show = strcmp(argv[1], "show") == 0;
    query_args a = {0};
    int rc = parse_args("events", argc - 1, argv + 1, &a, events_help);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (show && a.positional == NULL)
        return cli_usage_error("events", "show needs an event ID");
    if (!show && a.positional != NULL)
        return cli_usage_error("events", "unexpected argument '%s'", a.positional);
    sqlite3 *db = open_store("events", &a);
    if (db == NULL)
        return CLI_EXIT_FAIL;
    rc = show ? events_show(db, &a) : events_list(db, &a);
    sqlite3_close(db);
    return rc;
}

static const char calls_help[] =
    "usage: hookd calls show ID [--json] (--db PATH | -c FILE)\n\n"
    "Every event of one call, by call_session_id, call_control_id or call_leg_id, in the order\n"
    "they occurred (occurred_at), since Telnyx delivers out of order; +ms is the time since the\n"
    "call's first event.\n";

int cmd_calls(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(calls_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "show") != 0)
        return cli_usage_error("calls", "expected 'show ID'");
    query_args a = {0};
    int rc = parse_args("calls", argc - 1, argv + 1, &a, calls_help);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.positional == NULL)
        return cli_usage_error("calls", "show needs a call id");
    sqlite3 *db = open_store("calls", &a);
    if (db == NULL)
        return CLI_EXIT_FAIL;
    const char *params[] = {a.positional};
    long rows = 0;
    rc = query_run(db,
             "WITH call AS (SELECT * FROM events WHERE ?1 IN (call_session_id, call_control_id,"
             " call_leg_id)), first AS (SELECT min(coalesce(occurred_at_us, received_at_us)) AS t0"
             " FROM call)"
             " SELECT coalesce(occurred_at, " RECEIVED ") AS occurred_at,"
             " '+' || ((coalesce(occurred_at_us, received_at_us) - t0) / 1000) AS ms,"
             " coalesce(event_type, '-') AS event_type, id, call_leg_id AS leg,"
             " coalesce(failure_cause, hangup_cause) AS cause, attempts"
             " FROM call, first ORDER BY coalesce(occurred_at_us, received_at_us), seq",
             params, 1, a.json, WIDTHS(27, 8, 22, 36, 36, 16, 8), &rows);
    sqlite3_close(db);
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
    query_args a = {0};
    int rc = parse_args("stats", argc, argv, &a, stats_help);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int64_t since = 0;
    if (a.since != NULL && !query_parse_since(a.since, &since))
        return cli_usage_error("stats", "--since is Unix seconds, ISO 8601 or an age like 2h");
    sqlite3 *db = open_store("stats", &a);
    if (db == NULL)
        return CLI_EXIT_FAIL;
    char since_text[32];
    snprintf(since_text, sizeof since_text, "%" PRId64, since);
    const char *params[] = {since_text};
    static const char *const titles[] = {"by type", "siprec.failed by failure_cause", "per hour"};
    static const char *const sql[] = {
        "SELECT coalesce(event_type, '(unparsed)') AS event_type, count(*) AS events,"
        " sum(attempts) AS deliveries FROM events WHERE received_at_us >= CAST(?1 AS INTEGER)"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        "SELECT coalesce(failure_cause, '-') AS failure_cause, count(*) AS events FROM events"
        " WHERE event_type = 'siprec.failed' AND received_at_us >= CAST(?1 AS INTEGER)"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        "SELECT strftime('%Y-%m-%dT%H:00Z', received_at_us / 1000000, 'unixepoch') AS hour,"
        " count(*) AS events, sum(event_type = 'siprec.failed') AS siprec_failed FROM events"
        " WHERE received_at_us >= CAST(?1 AS INTEGER) GROUP BY 1 ORDER BY 1",
    };
    if (a.json)
        printf("{\n");
    for (size_t i = 0; rc == CLI_EXIT_OK && i < 3; i++) {
        if (a.json)
            printf("%s\"%s\": ", i ? ",\n" : "", i == 0 ? "by_type" : i == 1 ? "siprec_failed_by_cause" : "per_hour");
        else
            printf("%s%s\n", i ? "\n" : "", titles[i]);
        rc = query_run(db, sql[i], params, 1, a.json, WIDTHS(36, 10, 10), NULL);
    }
    if (a.json)
        printf("}\n");
    sqlite3_close(db);
    return rc;
}
