/*
 * store_pg_view.c - the command line's side of the PostgreSQL backend: its reports, replay and
 * import (store_sqlite_view.c is the SQLite twin; the column names are the same contract).
 *
 * Reads are single statements in autocommit with a statement timeout, so a command never holds
 * back vacuum on a busy store. Parameters arrive as text (NULL: no filter) and are cast where they
 * are numbers. Times are formatted in SQL as ISO 8601 UTC with milliseconds, as SQLite does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define TIME(col) "to_char(to_timestamp((" col ") / 1e6) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define RECEIVED TIME("received_at_us")

#define EVENTS_WHERE                                                                               \
    " FROM events WHERE ($1::text IS NULL OR event_type = $1)"                                    \
    " AND ($2::text IS NULL OR $2 IN (call_session_id, call_control_id, call_leg_id))"           \
    " AND received_at_us >= coalesce($3::bigint, 0) AND ($4::text IS NULL OR endpoint = $4)"

#define CONSOLE_EVENT                                                                              \
    "seq, id, endpoint, event_type, occurred_at, " RECEIVED " AS received_at, call_control_id,"   \
    " call_session_id, failure_cause, hangup_cause, attempts, parse_status AS parse"

#define CONSOLE_DELIVERY                                                                           \
    "d.id, d.handler, d.state, d.attempts, e.id AS event_id, e.event_type,"                       \
    " " TIME("d.created_us") " AS queued_at, CASE WHEN d.state IN ('pending', 'retry', 'waiting')" \
    " THEN " TIME("d.next_attempt_us") " END AS next_attempt_at, d.last_outcome"                   \
    " FROM deliveries d JOIN events e ON e.seq = d.event_seq"

#define DELIVERIES_WHERE                                                                           \
    " FROM deliveries d JOIN events e ON e.seq = d.event_seq"                                     \
    " WHERE ($1::text IS NULL OR d.state = $1) AND ($2::text IS NULL OR d.handler = $2)"          \
    " AND ($3::text IS NULL OR e.id = $3)"

static const char *const reports[] = {
    [REPORT_EVENTS_LIST] =
        "SELECT " RECEIVED " AS received_at, coalesce(event_type, '-') AS event_type, id,"
        " coalesce(call_session_id, call_control_id) AS call,"
        " coalesce(failure_cause, hangup_cause) AS cause, attempts, parse_status AS parse"
        EVENTS_WHERE " ORDER BY seq DESC LIMIT $5::bigint",
    [REPORT_EVENTS_COUNT] =
        "SELECT count(*) AS count FROM (SELECT 1" EVENTS_WHERE " LIMIT " HK_STR(STORE_COUNT_CAP) " + 1) AS c",
    /* value_type is not a column of the report: it types the value before it (report()) */
    [REPORT_EVENT_FIELDS] =
        "SELECT j.key AS field, j.value #>> '{}' AS value, json_typeof(j.value) AS value_type"
        " FROM (SELECT seq, json_build_object("
        "'id', id, 'endpoint', endpoint, 'scheme', scheme, 'event_type', event_type,"
        "'occurred_at', occurred_at, 'received_at', " RECEIVED ","
        "'call_control_id', call_control_id, 'call_session_id', call_session_id,"
        "'call_leg_id', call_leg_id, 'connection_id', connection_id,"
        "'failure_cause', failure_cause, 'hangup_cause', hangup_cause,"
        "'attempts', attempts, 'meta_attempt', meta_attempt, 'delivered_to', delivered_to,"
        "'remote_addr', remote_addr, 'content_type', content_type,"
        "'parse_status', parse_status, 'parse_error', parse_error, 'received_by', received_by,"
        "'body_bytes', length(body), 'body', hookd_text(body)) AS fields"
        " FROM events WHERE id = $1 AND ($2::text IS NULL OR endpoint = $2)) AS ev,"
        " json_each(ev.fields) WITH ORDINALITY AS j(key, value, n) ORDER BY ev.seq, j.n",
    [REPORT_EVENT_ROWS] =
        "SELECT seq, id, endpoint, scheme, event_type, occurred_at, " RECEIVED " AS received_at,"
        " call_control_id, call_session_id, call_leg_id, connection_id, failure_cause,"
        " hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type,"
        " parse_status, parse_error, hookd_text(body) AS body FROM events"
        " WHERE id = $1 AND ($2::text IS NULL OR endpoint = $2) ORDER BY seq",
    [REPORT_EVENT_BODY] =
        "SELECT body FROM events WHERE id = $1 AND ($2::text IS NULL OR endpoint = $2)"
        " ORDER BY seq LIMIT 2",
    [REPORT_CALL_TIMELINE] =
        "WITH call AS (SELECT * FROM events WHERE $1 IN (call_session_id, call_control_id,"
        " call_leg_id)), first AS (SELECT min(coalesce(occurred_at_us, received_at_us)) AS t0"
        " FROM call)"
        " SELECT coalesce(occurred_at, " RECEIVED ") AS occurred_at,"
        " '+' || ((coalesce(occurred_at_us, received_at_us) - t0) / 1000)::text AS ms,"
        " coalesce(event_type, '-') AS event_type, id, call_leg_id AS leg,"
        " coalesce(failure_cause, hangup_cause) AS cause, attempts"
        " FROM call, first ORDER BY coalesce(occurred_at_us, received_at_us), seq",
    [REPORT_STATS_BY_TYPE] =
        "SELECT coalesce(event_type, '(unparsed)') AS event_type, count(*) AS events,"
        " sum(attempts)::bigint AS deliveries FROM events"
        " WHERE received_at_us >= coalesce($1::bigint, 0) GROUP BY 1 ORDER BY 2 DESC, 1",
    [REPORT_STATS_BY_CAUSE] =
        "SELECT coalesce(failure_cause, '-') AS failure_cause, count(*) AS events FROM events"
        " WHERE event_type = 'siprec.failed' AND received_at_us >= coalesce($1::bigint, 0)"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
    [REPORT_STATS_PER_HOUR] =
        "SELECT to_char(to_timestamp(received_at_us / 1000000) AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24\":00Z\"') AS hour, count(*) AS events,"
        " sum((event_type = 'siprec.failed')::int)::bigint AS siprec_failed FROM events"
        " WHERE received_at_us >= coalesce($1::bigint, 0) GROUP BY 1 ORDER BY 1",
    [REPORT_DELIVERIES_LIST] =
        "SELECT d.id, d.handler, d.state, d.attempts, e.id AS event_id,"
        " e.event_type, " TIME("d.created_us") " AS queued_at,"
        " CASE WHEN d.state IN ('pending', 'retry', 'waiting') THEN " TIME("d.next_attempt_us")
        " END AS next_attempt_at, d.last_outcome" DELIVERIES_WHERE
        " ORDER BY d.id DESC LIMIT $4::bigint",
    [REPORT_DELIVERIES_COUNT] =
        "SELECT count(*) AS count FROM (SELECT 1" DELIVERIES_WHERE " LIMIT " HK_STR(STORE_COUNT_CAP) " + 1) AS c",
    [REPORT_ATTEMPTS_OF] =
        "SELECT attempt, " TIME("started_us") " AS started_at,"
        " (finished_us - started_us) / 1000 AS ms, outcome, http_status, exit_code, error, output"
        " FROM attempts WHERE delivery_id = $1::bigint ORDER BY attempt, id",
    [REPORT_EXPORT] =
        "SELECT id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
        " " RECEIVED " AS received_at, received_at_us, last_received_at_us, call_control_id,"
        " call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause, attempts,"
        " meta_attempt, delivered_to, remote_addr, content_type, parse_status, parse_error, body"
        " FROM events WHERE ($1::text IS NULL OR event_type = $1)"
        " AND received_at_us >= coalesce($2::bigint, 0)"
        " AND ($3::bigint IS NULL OR received_at_us < $3::bigint) ORDER BY seq",
    [REPORT_CONSOLE_EVENTS] =
        "SELECT " CONSOLE_EVENT EVENTS_WHERE
        " AND ($6::bigint IS NULL OR received_at_us < $6::bigint)"
        " AND ($7::text IS NULL OR parse_status = $7) AND ($8::bigint IS NULL OR seq < $8::bigint)"
        " ORDER BY seq DESC LIMIT $5::bigint",
    [REPORT_CONSOLE_CALL] =
        "SELECT " CONSOLE_EVENT ", call_leg_id, coalesce(occurred_at_us, received_at_us) AS t_us"
        " FROM events WHERE $1 IN (call_session_id, call_control_id, call_leg_id)"
        " ORDER BY t_us, seq LIMIT 5000",
    [REPORT_CONSOLE_EVENT] =
        "SELECT seq, id, endpoint, scheme, event_type, occurred_at, " RECEIVED " AS received_at,"
        " call_control_id, call_session_id, call_leg_id, connection_id, failure_cause,"
        " hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type,"
        " parse_status AS parse, parse_error, body FROM events"
        " WHERE id = $1 AND ($2::text IS NULL OR endpoint = $2)"
        " AND ($3::text IS NULL OR seq = CAST($3 AS bigint)) ORDER BY seq",
    [REPORT_CALL_DELIVERIES] =
        "SELECT " CONSOLE_DELIVERY
        " WHERE $1 IN (e.call_session_id, e.call_control_id, e.call_leg_id) ORDER BY d.id LIMIT 5000",
    [REPORT_EVENT_DELIVERIES] =
        "SELECT " CONSOLE_DELIVERY " WHERE d.event_seq = $1::bigint ORDER BY d.id",
    [REPORT_STATS_BUCKETS] =
        "SELECT received_at_us / $2::bigint * $2::bigint AS bucket_us,"
        " coalesce(event_type, '(unparsed)') AS event_type, count(*) AS events FROM events"
        " WHERE received_at_us >= $1::bigint GROUP BY 1, 2 ORDER BY 1, 2",
    [REPORT_STATS_OUTCOMES] =
        "SELECT finished_us / $2::bigint * $2::bigint AS bucket_us, outcome,"
        " count(*) AS attempts FROM attempts WHERE finished_us >= $1::bigint AND NOT fenced_out"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    [REPORT_DEAD_GROUPS] =
        "SELECT handler, coalesce(last_outcome, '-') AS cause, count(*) AS deliveries,"
        " " TIME("min(updated_us)") " AS first_at, " TIME("max(updated_us)") " AS last_at"
        " FROM deliveries WHERE state = 'dead' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
};

bool store_pg_view_open(const char *url, bool write, store_conn **out, char *err, size_t errlen)
{
    (void)write; /* the database's own grants decide */
    pg_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    c->base.be = &store_pg_backend;
    c->role = PG_VIEW;
    snprintf(c->url, sizeof c->url, "%s", url);
    c->db = store_pg_connect(url, PG_VIEW, NULL, err, errlen);
    if (c->db == NULL) {
        free(c);
        return false;
    }
    *out = &c->base;
    return true;
}

/* PostgreSQL's type OIDs (pg_type.h is server-side): what a column's text becomes. */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT4 = 700,
       OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

static store_value value_of(PGresult *r, int row, int col, unsigned char **freeme)
{
    if (PQgetisnull(r, row, col))
        return (store_value){.type = STORE_NULL};
    const char *t = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case OID_INT8:
    case OID_INT4:
    case OID_INT2: return (store_value){.type = STORE_INT, .i = strtoll(t, NULL, 10)};
    case OID_BOOL: return (store_value){.type = STORE_INT, .i = t[0] == 't'};
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: return (store_value){.type = STORE_REAL, .r = strtod(t, NULL)};
    case OID_BYTEA: {
        size_t len = 0;
        *freeme = PQunescapeBytea((const unsigned char *)t, &len);
        return (store_value){.type = STORE_BLOB, .p = (const char *)*freeme, .len = len};
    }
    default: return (store_value){.type = STORE_TEXT, .p = t, .len = (size_t)PQgetlength(r, row, col)};
    }
}

/* A JSON scalar's text as the value SQLite's json_each would give. */
static store_value typed(store_value v, const char *json_type)
{
    if (json_type == NULL || strcmp(json_type, "null") == 0)
        return (store_value){.type = STORE_NULL};
    if (strcmp(json_type, "number") == 0 && v.type == STORE_TEXT) {
        char *end = NULL;
        long long i = strtoll(v.p, &end, 10);
        if (end != NULL && *end == '\0')
            return (store_value){.type = STORE_INT, .i = i};
        return (store_value){.type = STORE_REAL, .r = strtod(v.p, NULL)};
    }
    return v;
}

bool store_pg_report(store_conn *base, store_report which, const char *const *params, size_t n,
                     store_row_fn *fn, void *ctx)
{
    pg_conn *c = pg_of(base);
    if ((unsigned)which >= sizeof reports / sizeof reports[0] || c->db == NULL)
        return false;
    PGresult *r = PQexecParams(c->db, reports[which], (int)n, NULL, params, NULL, NULL, 0);
    if (!store_pg_ok(c, r, PGRES_TUPLES_OK)) {
        PQclear(r);
        return false;
    }
    int ncol = PQnfields(r);
    if (ncol > 32)
        ncol = 32;
    bool typed_value = ncol >= 2 && strcmp(PQfname(r, ncol - 1), "value_type") == 0;
    int shown = typed_value ? ncol - 1 : ncol;
    const char *names[32];
    for (int i = 0; i < ncol; i++)
        names[i] = PQfname(r, i);
    bool ok = true;
    for (int row = 0; ok && row < PQntuples(r); row++) {
        store_value values[32];
        unsigned char *blobs[32] = {NULL};
        for (int i = 0; i < shown; i++)
            values[i] = value_of(r, row, i, &blobs[i]);
        if (typed_value)
            values[shown - 1] = typed(values[shown - 1],
                                      PQgetisnull(r, row, ncol - 1) ? NULL : PQgetvalue(r, row, ncol - 1));
        ok = fn(ctx, (size_t)shown, names, values);
        for (int i = 0; i < shown; i++)
            PQfreemem(blobs[i]);
    }
    PQclear(r);
    return true;
}

/* ---- replay ------------------------------------------------------------------------------------ */

static bool queue_one(pg_conn *c, const char *seq, const char *handler, const char *now,
                      const char *call_key, const char *occurred_us, store_replay_counts *n)
{
    const char *ins[] = {seq, handler, now, call_key, occurred_us};
    if (!store_pg_exec(c,
                       "INSERT INTO deliveries (event_seq, handler, state, next_attempt_us,"
                       " created_us, updated_us, call_key, occurred_at_us)"
                       " VALUES ($1::bigint, $2, 'pending', hookd_now_us(), $3::bigint,"
                       " $3::bigint, $4, $5::bigint)",
                       5, ins, PGRES_COMMAND_OK))
        return false;
    n->queued++;
    const char *mark[] = {seq, handler, now};
    return store_pg_exec(c,
                         "UPDATE deliveries SET state = 'replayed', updated_us = $3::bigint"
                         " WHERE event_seq = $1::bigint AND handler = $2 AND state = 'dead'",
                         3, mark, PGRES_COMMAND_OK);
}

static bool replay_event(pg_conn *c, const store_replay *spec, store_route_fn *route, void *ctx,
                         PGresult *ev, int row, const char *now, store_replay_counts *n)
{
    const char *seq = PQgetvalue(ev, row, 0);
    const char *call_key = PQgetisnull(ev, row, 4) ? NULL : PQgetvalue(ev, row, 4);
    const char *occurred = PQgetisnull(ev, row, 5) ? NULL : PQgetvalue(ev, row, 5);
    long before = n->queued;
    bool ok = true;
    if (spec->state != NULL) {
        const char *p[] = {seq, spec->state, spec->handler};
        PGresult *h = PQexecParams(c->db,
                                   "SELECT DISTINCT handler FROM deliveries WHERE event_seq = $1::bigint"
                                   " AND state = $2 AND ($3::text IS NULL OR handler = $3)",
                                   3, NULL, p, NULL, NULL, 0);
        ok = store_pg_ok(c, h, PGRES_TUPLES_OK);
        for (int i = 0; ok && i < PQntuples(h); i++)
            ok = queue_one(c, seq, PQgetvalue(h, i, 0), now, call_key, occurred, n);
        PQclear(h);
    } else if (spec->handler != NULL) {
        ok = queue_one(c, seq, spec->handler, now, call_key, occurred, n);
    } else {
        const char *endpoint = PQgetvalue(ev, row, 1);
        const char *type = PQgetvalue(ev, row, 3)[0] == 't' && !PQgetisnull(ev, row, 2)
                               ? PQgetvalue(ev, row, 2)
                               : NULL;
        const char *names[SRV_MAX_HANDLERS];
        size_t k = route(ctx, endpoint, type, names, SRV_MAX_HANDLERS);
        for (size_t i = 0; ok && i < k; i++)
            ok = queue_one(c, seq, names[i], now, call_key, occurred, n);
    }
    if (n->queued > before)
        n->events++;
    return ok;
}

/* All in one transaction, and one NOTIFY with it: whichever node is free runs them. */
bool store_pg_replay(store_conn *base, const store_replay *spec, store_route_fn *route, void *ctx,
                     store_replay_counts *out)
{
    pg_conn *c = pg_of(base);
    *out = (store_replay_counts){0};
    char since[24], until[24], now[24];
    snprintf(since, sizeof since, "%" PRId64, spec->since_us);
    snprintf(until, sizeof until, "%" PRId64, spec->until_us);
    snprintf(now, sizeof now, "%" PRId64, spec->now_us);
    const char *select =
        "SELECT seq, endpoint, event_type, parse_status = 'parsed',"
        " coalesce(call_session_id, call_control_id), occurred_at_us FROM events";
    char sql[768];
    snprintf(sql, sizeof sql, "%s WHERE %s ORDER BY seq", select,
             spec->event_id != NULL
                 ? "id = $1"
                 : "($1::text IS NULL OR event_type = $1) AND received_at_us >= $2::bigint"
                   " AND received_at_us < $3::bigint AND ($4::text IS NULL OR seq IN (SELECT"
                   " event_seq FROM deliveries WHERE state = $4 AND ($5::text IS NULL OR handler = $5)))");
    /* Without a type (a state is then required), only the events with such deliveries match. */
    const char *p[] = {spec->event_id != NULL ? spec->event_id : spec->type, since, until,
                       spec->type == NULL ? spec->state : NULL,
                       spec->type == NULL ? spec->handler : NULL};
    if (!store_pg_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK))
        return false;
    PGresult *ev = PQexecParams(c->db, sql, spec->event_id != NULL ? 1 : 5, NULL, p, NULL, NULL, 0);
    bool ok = store_pg_ok(c, ev, PGRES_TUPLES_OK);
    for (int i = 0; ok && i < PQntuples(ev); i++) {
        out->matched++;
        ok = replay_event(c, spec, route, ctx, ev, i, now, out);
    }
    PQclear(ev);
    ok = ok && (out->queued == 0
                || store_pg_exec(c, "SELECT pg_notify('" PG_CHANNEL "', '')", 0, NULL, PGRES_TUPLES_OK));
    ok = ok && store_pg_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK);
    if (!ok && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->db, "ROLLBACK");
        PQclear(r);
    }
    return ok;
}

/* ---- import ------------------------------------------------------------------------------------ */

bool store_pg_import(store_conn *base, store_next_fn *next, void *ctx, store_import_counts *out)
{
    pg_conn *c = pg_of(base);
    *out = (store_import_counts){0};
    bool ok = store_pg_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK);
    store_record r;
    int got;
    while (ok && (got = next(ctx, &r)) != 0) {
        if (got < 0) {
            out->bad++;
            continue;
        }
        if (out->bad > 0)
            continue; /* nothing will be stored: read on, to report every bad input */
        char ints[4][24], fixed[15][1024];
        snprintf(ints[0], sizeof ints[0], "%" PRId64, r.occurred_at_us);
        snprintf(ints[1], sizeof ints[1], "%" PRId64, r.received_at_us);
        snprintf(ints[2], sizeof ints[2], "%" PRId64, r.copies > 0 ? r.copies : 1);
        snprintf(ints[3], sizeof ints[3], "%" PRId64, r.meta_attempt);
        const char *texts[] = {r.id,           r.endpoint,        r.scheme,        r.event_type,
                               r.occurred_at,  r.call_control_id, r.call_session_id, r.call_leg_id,
                               r.connection_id, r.failure_cause,  r.hangup_cause,  r.delivered_to,
                               r.remote_addr,  r.content_type,    r.parse_error};
        const char *t[15];
        for (int i = 0; i < 15; i++)
            t[i] = store_pg_text(texts[i], -1, fixed[i], sizeof fixed[i]);
        const char *v[] = {t[0], t[1], t[2], t[3], t[4],
                           r.occurred_at_us != 0 ? ints[0] : NULL, ints[1],
                           t[5], t[6], t[7], t[8], t[9], t[10], ints[2],
                           r.meta_attempt > 0 ? ints[3] : NULL, t[11], t[12], t[13],
                           r.parsed ? "parsed" : "unparsed", t[14],
                           r.body_len > 0 ? (const char *)r.body : ""};
        int len[21] = {0}, fmt[21] = {0};
        len[20] = (int)r.body_len;
        fmt[20] = 1;
        PGresult *res = PQexecParams(
            c->db,
            "INSERT INTO events (id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
            " received_at_us, last_received_at_us, call_control_id, call_session_id, call_leg_id,"
            " connection_id, failure_cause, hangup_cause, attempts, meta_attempt, delivered_to,"
            " remote_addr, content_type, parse_status, parse_error, body)"
            " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $7::bigint, $8, $9, $10, $11, $12,"
            " $13, $14::int, $15::int, $16, $17, $18, $19, $20, $21)"
            " ON CONFLICT (id, endpoint) DO NOTHING",
            21, NULL, v, len, fmt, 0);
        ok = store_pg_ok(c, res, PGRES_COMMAND_OK);
        if (ok && strcmp(PQcmdTuples(res), "1") == 0)
            out->added++;
        else if (ok)
            out->present++;
        PQclear(res);
    }
    if (ok && out->bad == 0)
        return store_pg_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK);
    PGresult *rb = PQexec(c->db, "ROLLBACK");
    PQclear(rb);
    return false;
}
