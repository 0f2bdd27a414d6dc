/*
 * store_sqlite_view.c - the command line's side of the SQLite backend: its reports and replay.
 *
 * Every query the read commands run is here, named by store_report; rows go back to the caller
 * as column names and values, and the column names are the --json keys of hookd(1) (a contract:
 * rename one and scripts break). Parameters arrive as text (NULL: no filter) and are compared
 * with CAST where they are numbers. Times are formatted in SQL as ISO 8601 UTC with milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dedupe.h"
#include "schema.h"
#include "store_sqlite.h"

#define TIME(col) "strftime('%Y-%m-%dT%H:%M:%fZ', " col " / 1e6, 'unixepoch')"
#define RECEIVED TIME("received_at_us")

/* The first seq not in a summarised block: events from it up have no summary, digests or type
 * entries yet (idsum.h), and are read from their rows. */
#define OPEN_SEQS                                                                                  \
    "(SELECT (coalesce(max(block), -1) + 1) * " HK_STR(STORE_IDSUM_BLOCK) " FROM id_blocks)"

/* The seqs of the events that may hold id p (schema 8, idsum.h): the blocks whose summary may
 * hold it, each scanned in event_ids (comparing the ids' digests there, reading a row only when
 * one matches; schema 10), and the newest events, not summarised yet, by seq. MATCH is the test
 * on those rows; DIGESTS its test on event_ids (t). */
#define IDSUM_SEQS(p, DIGESTS, MATCH)                                                              \
    "SELECT e.seq FROM id_blocks AS b JOIN event_ids AS t ON t.seq BETWEEN b.block * "            \
    HK_STR(STORE_IDSUM_BLOCK) " AND b.block * " HK_STR(STORE_IDSUM_BLOCK) " + "                   \
    HK_STR(STORE_IDSUM_BLOCK) " - 1 JOIN events AS e ON e.seq = t.seq"                            \
    " WHERE b.block IN (SELECT block FROM id_bloom WHERE slice = hookd_idsum_slice(" p ")"        \
    " AND hookd_idsum_has(bits, " p ")) AND " DIGESTS " AND " MATCH                               \
    " UNION SELECT seq FROM events AS e WHERE seq >= " OPEN_SEQS " AND " MATCH
#define DIGEST(p) "hookd_idsum_digest(" p ")"

/* Events by id alone. */
#define SEQS_OF_ID(p) IDSUM_SEQS(p, "t.id_d = " DIGEST(p), "e.id = " p)
#define BY_ID(p) "seq IN (" SEQS_OF_ID(p) ")"
#define EVENTS_BY_ID " FROM events WHERE " BY_ID("?1")

/* The call an id names: its call_key (a call_session_id, as a rule), or else the call of the
 * newest event whose control or leg id it is. Both found through the summaries (schema 9: no
 * index on call_key). */
#define CALL_OF(p)                                                                                 \
    "coalesce((SELECT call_key FROM events WHERE seq IN ("                                        \
    IDSUM_SEQS(p, "t.key_d = " DIGEST(p), "e.call_key = " p) ") LIMIT 1),"                        \
    " (SELECT call_key FROM events WHERE seq IN ("                                                \
    IDSUM_SEQS(p, DIGEST(p) " IN (t.control_d, t.leg_d)",                                       \
               p " IN (e.call_control_id, e.call_leg_id)")                                        \
    ") ORDER BY received_at_us DESC LIMIT 1))"

/* The seqs of the events of the call id p names; its key is worked out once. */
#define THE_CALL "(SELECT key FROM k)"
#define CALL_SEQS(p)                                                                               \
    "WITH k(key) AS MATERIALIZED (SELECT " CALL_OF(p) ") "                                        \
    IDSUM_SEQS(THE_CALL, "t.key_d = " DIGEST(THE_CALL), "e.call_key = " THE_CALL)

/* {{N ...}}: kept only when parameter N is given (see expand()), so that SQLite plans each filter
 * on its index; "?N IS NULL OR ..." would be planned as a scan whatever N holds. */
#define EVENTS_FILTERS(seq)                                                                        \
    " {{2 " seq " IN call_seqs AND}} e.received_at_us >= CAST(?3 AS INTEGER)"                     \
    " {{4 AND e.endpoint = ?4}}"
#define CONSOLE_FILTERS(seq)                                                                       \
    EVENTS_FILTERS(seq) " {{6 AND e.received_at_us < CAST(?6 AS INTEGER)}}"                       \
    " {{7 AND e.parse_status = ?7}} {{8 AND " seq " < CAST(?8 AS INTEGER)}}"

/* The seqs of the events that pass FILTERS and are of type ?1 if it is given, as "s", then TAIL
 * (an ORDER BY s DESC and a LIMIT, or a LIMIT): of a type, the events of the summarised blocks
 * through event_types and the newest ones from their rows (schema 10; a compound whose two arms
 * SQLite merges in seq order, so that the newest N cost N lookups, however common the type);
 * without one, every event from its row (the second arm finds nothing). FILTERS is given the
 * arm's own seq column, so that a call's seqs (found once for both arms) and the console's
 * "older than" are looked up in event_types' key, not tested on each of a type's entries; the
 * second arm's bound below the open block is "+e.seq", which SQLite does not carry over to
 * t.seq: as a range on the key it made SQLite walk the whole type in order rather than look up
 * a call's seqs (60 ms instead of 10 for the commonest type with a call, at a million events). */
#define MATCHING(FILTERS, TAIL)                                                                    \
    "{{2 WITH call_seqs AS MATERIALIZED (" CALL_SEQS("?2") ") }}"                                 \
    "SELECT e.seq AS s FROM events AS e WHERE {{1 e.seq >= " OPEN_SEQS                            \
    " AND e.event_type = ?1 AND}} " FILTERS("e.seq")                                               \
    " UNION ALL SELECT t.seq FROM event_types AS t JOIN events AS e ON e.seq = t.seq"             \
    " WHERE t.event_type = ?1 AND +e.seq < " OPEN_SEQS " AND " FILTERS("t.seq") TAIL

/* The events of one type, old and new alike (schema 10, as MATCHING). */
#define OF_TYPE(T)                                                                                 \
    "seq IN (SELECT seq FROM event_types WHERE event_type = " T " UNION ALL SELECT seq FROM"      \
    " events WHERE seq >= " OPEN_SEQS " AND event_type = " T ")"

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
    " WHERE (?1 IS NULL OR d.state = ?1) AND (?2 IS NULL OR d.handler = ?2)"                      \
    " AND (?3 IS NULL OR e.id = ?3)"

static const char *const reports[] = {
    [REPORT_EVENTS_LIST] =
        "SELECT " RECEIVED " AS received_at, coalesce(event_type, '-') AS event_type, id,"
        " coalesce(call_session_id, call_control_id) AS call,"
        " coalesce(failure_cause, hangup_cause) AS cause, attempts, parse_status AS parse"
        " FROM events WHERE seq IN (SELECT s FROM ("
        MATCHING(EVENTS_FILTERS, " ORDER BY s DESC LIMIT CAST(?5 AS INTEGER)")
        ")) ORDER BY seq DESC",
    [REPORT_EVENTS_COUNT] =
        "SELECT count(*) AS count FROM ("
        MATCHING(EVENTS_FILTERS, " LIMIT " HK_STR(STORE_COUNT_CAP) " + 1") ") AS c",
    [REPORT_EVENT_FIELDS] =
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
        EVENTS_BY_ID " AND (?2 IS NULL OR endpoint = ?2)) AS ev,"
        " json_each(ev.fields) ORDER BY ev.seq",
    [REPORT_EVENT_ROWS] =
        "SELECT seq, id, endpoint, scheme, event_type, occurred_at, " RECEIVED " AS received_at,"
        " call_control_id, call_session_id, call_leg_id, connection_id, failure_cause,"
        " hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type,"
        " parse_status, parse_error, CAST(body AS TEXT) AS body"
        EVENTS_BY_ID " AND (?2 IS NULL OR endpoint = ?2) ORDER BY seq",
    [REPORT_EVENT_BODY] =
        "SELECT body" EVENTS_BY_ID " AND (?2 IS NULL OR endpoint = ?2) ORDER BY seq LIMIT 2",
    [REPORT_CALL_TIMELINE] =
        "WITH call AS (SELECT * FROM events WHERE seq IN (" CALL_SEQS("?1") ")),"
        " first AS (SELECT min(coalesce(occurred_at_us, received_at_us)) AS t0 FROM call)"
        " SELECT coalesce(occurred_at, " RECEIVED ") AS occurred_at,"
        " '+' || ((coalesce(occurred_at_us, received_at_us) - t0) / 1000) AS ms,"
        " coalesce(event_type, '-') AS event_type, id, call_leg_id AS leg,"
        " coalesce(failure_cause, hangup_cause) AS cause, attempts"
        " FROM call, first ORDER BY coalesce(occurred_at_us, received_at_us), seq",
    [REPORT_STATS_BY_TYPE] =
        "SELECT coalesce(event_type, '(unparsed)') AS event_type, count(*) AS events,"
        " sum(attempts) AS deliveries FROM events WHERE received_at_us >= CAST(?1 AS INTEGER)"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
    [REPORT_STATS_BY_CAUSE] =
        "SELECT coalesce(failure_cause, '-') AS failure_cause, count(*) AS events FROM events"
        " WHERE " OF_TYPE("'siprec.failed'") " AND received_at_us >= CAST(?1 AS INTEGER)"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
    [REPORT_STATS_PER_HOUR] =
        "SELECT strftime('%Y-%m-%dT%H:00Z', received_at_us / 1000000, 'unixepoch') AS hour,"
        " count(*) AS events, sum(event_type = 'siprec.failed') AS siprec_failed FROM events"
        " WHERE received_at_us >= CAST(?1 AS INTEGER) GROUP BY 1 ORDER BY 1",
    [REPORT_DELIVERIES_LIST] =
        "SELECT d.id, d.handler, d.state, d.attempts, e.id AS event_id,"
        " e.event_type, " TIME("d.created_us") " AS queued_at,"
        " CASE WHEN d.state IN ('pending', 'retry', 'waiting') THEN " TIME("d.next_attempt_us")
        " END AS next_attempt_at, d.last_outcome" DELIVERIES_WHERE
        " ORDER BY d.id DESC LIMIT CAST(?4 AS INTEGER)",
    [REPORT_DELIVERIES_COUNT] =
        "SELECT count(*) AS count FROM (SELECT 1" DELIVERIES_WHERE " LIMIT " HK_STR(STORE_COUNT_CAP) " + 1) AS c",
    [REPORT_ATTEMPTS_OF] =
        "SELECT attempt, " TIME("started_us") " AS started_at,"
        " (finished_us - started_us) / 1000 AS ms, outcome, http_status, exit_code, error, output"
        " FROM attempts WHERE delivery_id = CAST(?1 AS INTEGER) ORDER BY attempt",
    [REPORT_EXPORT] =
        "SELECT id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
        " " RECEIVED " AS received_at, received_at_us, last_received_at_us, call_control_id,"
        " call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause, attempts,"
        " meta_attempt, delivered_to, remote_addr, content_type, parse_status, parse_error, body"
        " FROM events WHERE (?1 IS NULL OR event_type = ?1)"
        " AND received_at_us >= CAST(coalesce(?2, 0) AS INTEGER)"
        " AND (?3 IS NULL OR received_at_us < CAST(?3 AS INTEGER)) ORDER BY seq",
    [REPORT_CONSOLE_EVENTS] =
        "SELECT " CONSOLE_EVENT " FROM events WHERE seq IN (SELECT s FROM ("
        MATCHING(CONSOLE_FILTERS, " ORDER BY s DESC LIMIT CAST(?5 AS INTEGER)")
        ")) ORDER BY seq DESC",
    [REPORT_CONSOLE_CALL] =
        "SELECT " CONSOLE_EVENT ", call_leg_id, coalesce(occurred_at_us, received_at_us) AS t_us"
        " FROM events WHERE seq IN (" CALL_SEQS("?1") ") ORDER BY t_us, seq LIMIT 5000",
    [REPORT_CONSOLE_EVENT] =
        "SELECT seq, id, endpoint, scheme, event_type, occurred_at, " RECEIVED " AS received_at,"
        " call_control_id, call_session_id, call_leg_id, connection_id, failure_cause,"
        " hangup_cause, attempts, meta_attempt, delivered_to, remote_addr, content_type,"
        " parse_status AS parse, parse_error, body FROM events"
        " WHERE " BY_ID("?1") " AND (?2 IS NULL OR endpoint = ?2)"
        " {{3 AND seq = CAST(?3 AS INTEGER)}}"
        " ORDER BY received_at_us, seq",
    [REPORT_CALL_DELIVERIES] =
        "SELECT " CONSOLE_DELIVERY
        " WHERE e.seq IN (" CALL_SEQS("?1") ") ORDER BY d.id LIMIT 5000",
    [REPORT_EVENT_DELIVERIES] =
        "SELECT " CONSOLE_DELIVERY " WHERE d.event_seq = CAST(?1 AS INTEGER) ORDER BY d.id",
    [REPORT_STATS_BUCKETS] =
        "SELECT received_at_us / CAST(?2 AS INTEGER) * CAST(?2 AS INTEGER) AS bucket_us,"
        " coalesce(event_type, '(unparsed)') AS event_type, count(*) AS events FROM events"
        " WHERE received_at_us >= CAST(?1 AS INTEGER) GROUP BY 1, 2 ORDER BY 1, 2",
    [REPORT_STATS_OUTCOMES] =
        "SELECT finished_us / CAST(?2 AS INTEGER) * CAST(?2 AS INTEGER) AS bucket_us, outcome,"
        " count(*) AS attempts FROM attempts WHERE finished_us >= CAST(?1 AS INTEGER)"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    [REPORT_DEAD_GROUPS] =
        "SELECT handler, coalesce(last_outcome, '-') AS cause, count(*) AS deliveries,"
        " " TIME("min(updated_us)") " AS first_at, " TIME("max(updated_us)") " AS last_at"
        " FROM deliveries WHERE state = 'dead' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
};

bool store_sqlite_view_open(const char *url, bool write, store_conn **out, char *err,
                            size_t errlen)
{
    const char *path = store_sqlite_path(url);
    sqlite_conn *s = path != NULL ? calloc(1, sizeof *s) : NULL;
    if (s == NULL) {
        snprintf(err, errlen, "%s: not a sqlite:PATH url, or out of memory", url);
        return false;
    }
    s->base.be = &store_sqlite_backend;
    s->reader = true;
    snprintf(s->path, sizeof s->path, "%s", path);
    if (sqlite3_open_v2(path, &s->db, write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL)
            != SQLITE_OK
        || sqlite3_exec(s->db, "SELECT 1 FROM events LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read a hookd store at %s: %s", path,
                 s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
        store_sqlite_close(&s->base);
        return false;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (!idsum_register(s->db)) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
        store_sqlite_close(&s->base);
        return false;
    }
    *out = &s->base;
    return true;
}

static store_value value_of(sqlite3_stmt *st, int i)
{
    store_value v = {.type = STORE_NULL};
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: v = (store_value){.type = STORE_INT, .i = sqlite3_column_int64(st, i)}; break;
    case SQLITE_FLOAT: v = (store_value){.type = STORE_REAL, .r = sqlite3_column_double(st, i)}; break;
    case SQLITE_BLOB:
        v.type = STORE_BLOB;
        v.p = sqlite3_column_blob(st, i);
        v.len = (size_t)sqlite3_column_bytes(st, i);
        break;
    case SQLITE_TEXT:
        v.type = STORE_TEXT;
        v.p = (const char *)sqlite3_column_text(st, i);
        v.len = (size_t)sqlite3_column_bytes(st, i);
        break;
    default: break;
    }
    return v;
}

/* A report's SQL for these parameters: each "{{N text}}" becomes text when parameter N (1-based)
 * is given, and nothing when it is not. False if it does not fit or a part is malformed. */
static bool expand(const char *sql, const char *const *params, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    while (*sql != '\0') {
        const char *open = strstr(sql, "{{");
        size_t plain = open != NULL ? (size_t)(open - sql) : strlen(sql);
        if (o + plain >= cap)
            return false;
        memcpy(out + o, sql, plain);
        o += plain;
        if (open == NULL)
            break;
        char *after = NULL;
        unsigned long k = strtoul(open + 2, &after, 10);
        const char *close = strstr(after, "}}");
        if (k == 0 || close == NULL)
            return false;
        if (k <= n && params[k - 1] != NULL) {
            size_t len = (size_t)(close - after);
            if (o + len >= cap)
                return false;
            memcpy(out + o, after, len);
            o += len;
        }
        sql = close + 2;
    }
    out[o] = '\0';
    return true;
}

/* Prepared per call (a report runs once per command, or once per delivery listed). */
bool store_sqlite_report(store_conn *c, store_report which, const char *const *params, size_t n,
                         store_row_fn *fn, void *ctx)
{
    sqlite_conn *s = conn_of(c);
    sqlite3_stmt *st = NULL;
    char sql[8192];
    s->why[0] = '\0';
    if ((unsigned)which >= sizeof reports / sizeof reports[0]
        || !expand(reports[which], params, n, sql, sizeof sql))
        return false;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        /* The store was made by an older hookd and not migrated yet (no table or column of the
         * newer schema): say that, not "no such table". Only hookd serve and hookd migrate
         * migrate; reads, and a backup before an upgrade, work on the store as it is. */
        char sqlite_says[128];
        snprintf(sqlite_says, sizeof sqlite_says, "%s", sqlite3_errmsg(s->db));
        int have = schema_version_of(s->db);
        if (have >= 0 && have < schema_version())
            snprintf(s->why, sizeof s->why,
                     "the store is at schema version %d and this hookd reads %d: run hookd migrate"
                     " on it, or restart hookd serve, which migrates it (%s)",
                     have, schema_version(), sqlite_says);
        else
            snprintf(s->why, sizeof s->why, "%s", sqlite_says);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (params[i] != NULL)
            sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_TRANSIENT);
    }
    int ncol = sqlite3_column_count(st);
    const char *names[32];
    store_value values[32];
    if (ncol > 32)
        ncol = 32;
    for (int i = 0; i < ncol; i++)
        names[i] = sqlite3_column_name(st, i);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncol; i++)
            values[i] = value_of(st, i);
        if (!fn(ctx, (size_t)ncol, names, values)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

/* ---- replay ----------------------------------------------------------------------------------- */

typedef struct replay {
    const store_replay *spec;
    store_route_fn *route;
    void *ctx;
    sqlite3_stmt *insert, *by_state, *mark;
    store_replay_counts *n;
} replay;

/* One new delivery of event ev for handler, in place of its dead ones. */
static bool queue_one(replay *r, sqlite3_stmt *ev, const char *handler)
{
    sqlite3_stmt *st = r->insert;
    sqlite3_bind_int64(st, 1, sqlite3_column_int64(ev, 0));
    sqlite3_bind_text(st, 2, handler, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, r->spec->now_us);
    sqlite3_bind_value(st, 4, sqlite3_column_value(ev, 4));
    sqlite3_bind_value(st, 5, sqlite3_column_value(ev, 5));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return false;
    r->n->queued++;
    sqlite3_bind_int64(r->mark, 1, sqlite3_column_int64(ev, 0));
    sqlite3_bind_text(r->mark, 2, handler, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(r->mark, 3, r->spec->now_us);
    rc = sqlite3_step(r->mark);
    sqlite3_reset(r->mark);
    return rc == SQLITE_DONE;
}

/* The deliveries one event gets: by state, by handler, or by the caller's routing. */
static bool replay_event(replay *r, sqlite3_stmt *ev)
{
    const store_replay *spec = r->spec;
    long before = r->n->queued;
    bool ok = true;
    if (spec->state != NULL) {
        sqlite3_bind_int64(r->by_state, 1, sqlite3_column_int64(ev, 0));
        sqlite3_bind_text(r->by_state, 2, spec->state, -1, SQLITE_STATIC);
        if (spec->handler != NULL)
            sqlite3_bind_text(r->by_state, 3, spec->handler, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(r->by_state, 3);
        /* Collected first: queue_one changes the rows this walks. */
        char *names[SRV_MAX_HANDLERS];
        size_t k = 0;
        while (k < SRV_MAX_HANDLERS && sqlite3_step(r->by_state) == SQLITE_ROW) {
            names[k] = strdup((const char *)sqlite3_column_text(r->by_state, 0));
            if (names[k] != NULL)
                k++;
        }
        sqlite3_reset(r->by_state);
        for (size_t i = 0; i < k; i++) {
            ok = ok && queue_one(r, ev, names[i]);
            free(names[i]);
        }
    } else if (spec->handler != NULL) {
        ok = queue_one(r, ev, spec->handler);
    } else {
        const char *endpoint = (const char *)sqlite3_column_text(ev, 1);
        const char *type = sqlite3_column_int(ev, 3) ? (const char *)sqlite3_column_text(ev, 2) : NULL;
        const char *names[SRV_MAX_HANDLERS];
        size_t k = r->route(r->ctx, endpoint, type, names, SRV_MAX_HANDLERS);
        for (size_t i = 0; ok && i < k; i++)
            ok = queue_one(r, ev, names[i]);
    }
    if (r->n->queued > before)
        r->n->events++;
    return ok;
}

bool store_sqlite_replay(store_conn *c, const store_replay *spec, store_route_fn *route, void *ctx,
                         store_replay_counts *out)
{
    sqlite_conn *s = conn_of(c);
    *out = (store_replay_counts){0};
    replay r = {.spec = spec, .route = route, .ctx = ctx, .n = out};
    sqlite3_stmt *ev = NULL;
    const char *select =
        "SELECT seq, endpoint, event_type, parse_status = 'parsed',"
        " coalesce(call_session_id, call_control_id), occurred_at_us";
    char sql[2048];
    /* Without a type, a state is required and only the events that have a delivery in it match
     * (the partial index of dead ones finds them without walking every event of the range). With
     * a type, every event of it in the range matches, as hookd replay has always counted. */
    snprintf(sql, sizeof sql, "%s%s ORDER BY seq", select,
             spec->event_id != NULL
                 ? EVENTS_BY_ID
                 : " FROM events WHERE (?1 IS NULL OR event_type = ?1) AND received_at_us >= ?2"
                   " AND received_at_us < ?3 AND (?4 IS NULL OR seq IN (SELECT event_seq FROM deliveries WHERE state = ?4"
                   " AND (?5 IS NULL OR handler = ?5)))");
    bool ok = sqlite3_prepare_v2(s->db, sql, -1, &ev, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db,
                                    "INSERT INTO deliveries (event_seq, handler, state,"
                                    " next_attempt_us, created_us, updated_us, call_key,"
                                    " occurred_at_us) VALUES (?1, ?2, 'pending', ?3, ?3, ?3, ?4, ?5)",
                                    -1, &r.insert, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db,
                                    "SELECT DISTINCT handler FROM deliveries WHERE event_seq = ?1"
                                    " AND state = ?2 AND (?3 IS NULL OR handler = ?3)",
                                    -1, &r.by_state, NULL) == SQLITE_OK
              && sqlite3_prepare_v2(s->db,
                                    "UPDATE deliveries SET state = 'replayed', updated_us = ?3"
                                    " WHERE event_seq = ?1 AND handler = ?2 AND state = 'dead'",
                                    -1, &r.mark, NULL) == SQLITE_OK;
    if (ok) {
        const char *first = spec->event_id != NULL ? spec->event_id : spec->type;
        if (first != NULL)
            sqlite3_bind_text(ev, 1, first, -1, SQLITE_STATIC);
        if (spec->event_id == NULL) {
            sqlite3_bind_int64(ev, 2, spec->since_us);
            sqlite3_bind_int64(ev, 3, spec->until_us);
            if (spec->type == NULL) { /* every type: only the events with such deliveries */
                sqlite3_bind_text(ev, 4, spec->state, -1, SQLITE_STATIC);
                if (spec->handler != NULL)
                    sqlite3_bind_text(ev, 5, spec->handler, -1, SQLITE_STATIC);
            }
        }
        ok = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        while (ok && sqlite3_step(ev) == SQLITE_ROW) {
            out->matched++;
            ok = replay_event(&r, ev);
        }
        sqlite3_reset(ev);
        ok = ok && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        if (!ok && !sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_finalize(ev);
    sqlite3_finalize(r.insert);
    sqlite3_finalize(r.by_state);
    sqlite3_finalize(r.mark);
    return ok;
}

/* ---- backup ----------------------------------------------------------------------------------- */

/* SQLite's online backup API, in one step: the copy is read inside one read transaction, so it
 * is the store as of one commit, while the writer goes on appending to the WAL. */
bool store_sqlite_backup(store_conn *c, const char *dest, char *err, size_t errlen)
{
    sqlite_conn *s = conn_of(c);
    struct stat st;
    if (stat(dest, &st) == 0) {
        snprintf(err, errlen, "%s exists: a backup never overwrites a file", dest);
        return false;
    }
    char partial[1024];
    snprintf(partial, sizeof partial, "%s.partial", dest);
    unlink(partial);
    sqlite3 *out = NULL;
    bool ok = sqlite3_open_v2(partial, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
              == SQLITE_OK;
    sqlite3_backup *b = ok ? sqlite3_backup_init(out, "main", s->db, "main") : NULL;
    int rc = SQLITE_ERROR;
    if (b != NULL) {
        do
            rc = sqlite3_backup_step(b, -1);
        while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
        sqlite3_backup_finish(b);
    }
    ok = rc == SQLITE_DONE;
    if (!ok)
        snprintf(err, errlen, "backup to %s failed: %s", dest,
                 out != NULL ? sqlite3_errmsg(out) : "cannot create the file");
    /* The copy stands alone: no WAL beside it. */
    ok = ok && sqlite3_exec(out, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(out);
    int fd = ok ? open(partial, O_RDONLY | O_CLOEXEC) : -1;
    ok = ok && fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (ok && rename(partial, dest) != 0) {
        snprintf(err, errlen, "cannot move the backup into place at %s: %s", dest, strerror(errno));
        ok = false;
    }
    if (ok) { /* the rename itself, durable */
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", dest);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            slash[slash == dir ? 1 : 0] = '\0';
        int dfd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (!ok) {
        if (err[0] == '\0')
            snprintf(err, errlen, "backup to %s failed", dest);
        unlink(partial);
    }
    return ok;
}

/* ---- import ----------------------------------------------------------------------------------- */

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* dedupe_find's test: the row at seq is this record's event (same id and endpoint). */
typedef struct stored {
    sqlite3_stmt *q;
    const store_record *r;
} stored;

static bool is_stored(void *ctx, int64_t seq, bool *failed)
{
    const stored *t = ctx;
    sqlite3_bind_int64(t->q, 1, seq);
    sqlite3_bind_text(t->q, 2, t->r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(t->q, 3, t->r->endpoint, -1, SQLITE_STATIC);
    int rc = sqlite3_step(t->q);
    sqlite3_reset(t->q);
    *failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    return rc == SQLITE_ROW;
}

bool store_sqlite_import(store_conn *c, store_next_fn *next, void *ctx, store_import_counts *out)
{
    sqlite_conn *s = conn_of(c);
    *out = (store_import_counts){0};
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(
                  s->db,
                  "INSERT INTO events(id, endpoint, scheme, event_type, occurred_at,"
                  " occurred_at_us, received_at_us, last_received_at_us, call_control_id,"
                  " call_session_id, call_leg_id, connection_id, failure_cause, hangup_cause,"
                  " attempts, meta_attempt, delivered_to, remote_addr, content_type, parse_status,"
                  " parse_error, body)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                  " ?16, ?17, ?18, ?19, ?20, ?21)",
                  -1, &st, NULL) == SQLITE_OK
              && dedupe_register(s->db);
    stored t = {NULL, NULL};
    ok = ok
         && sqlite3_prepare_v2(s->db,
                               "SELECT 1 FROM events WHERE seq = ?1 AND id = ?2 AND endpoint = ?3",
                               -1, &t.q, NULL)
                == SQLITE_OK;
    /* The new events' id summaries (idsum.h), and the keys of what is stored (dedupe.h). */
    dedupe *dd = ok ? dedupe_open(s->db) : NULL;
    idsum *ids = calloc(1, sizeof *ids);
    ok = ok && dd != NULL && ids != NULL
         && sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
         && dedupe_begin(dd, s->db);
    store_record r;
    int got;
    while (ok && (got = next(ctx, &r)) != 0) {
        if (got < 0) {
            out->bad++;
            continue;
        }
        if (out->bad > 0)
            continue; /* nothing will be stored: read on, to report every bad input */
        bool found = false;
        int64_t key = 0;
        t.r = &r;
        bool keyed = r.id != NULL && r.endpoint != NULL; /* else the insert fails, as before */
        ok = !keyed
             || (dedupe_key(r.id, r.endpoint, &key)
                 && dedupe_find(dd, s->db, key, is_stored, &t, &found));
        if (ok && found) {
            out->present++;
            continue;
        }
        const char *strings[] = {r.id, r.endpoint, r.scheme, r.event_type, r.occurred_at};
        for (int i = 0; i < 5; i++)
            bind_opt_text(st, i + 1, strings[i]);
        if (r.occurred_at_us != 0)
            sqlite3_bind_int64(st, 6, r.occurred_at_us);
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_int64(st, 7, r.received_at_us);
        const char *more[] = {r.call_control_id, r.call_session_id, r.call_leg_id, r.connection_id,
                              r.failure_cause,   r.hangup_cause};
        for (int i = 0; i < 6; i++)
            bind_opt_text(st, i + 8, more[i]);
        sqlite3_bind_int64(st, 14, r.copies > 0 ? r.copies : 1);
        if (r.meta_attempt > 0)
            sqlite3_bind_int64(st, 15, r.meta_attempt);
        else
            sqlite3_bind_null(st, 15);
        bind_opt_text(st, 16, r.delivered_to);
        bind_opt_text(st, 17, r.remote_addr);
        bind_opt_text(st, 18, r.content_type);
        sqlite3_bind_text(st, 19, r.parsed ? "parsed" : "unparsed", -1, SQLITE_STATIC);
        bind_opt_text(st, 20, r.parse_error);
        sqlite3_bind_blob64(st, 21, r.body_len > 0 ? r.body : (const void *)"", r.body_len,
                            SQLITE_TRANSIENT);
        ok = ok && sqlite3_step(st) == SQLITE_DONE;
        if (ok) {
            out->added++;
            int64_t seq = sqlite3_last_insert_rowid(s->db);
            const char *idv[4] = {r.id, r.call_control_id, r.call_leg_id, r.call_session_id};
            ok = dedupe_add(dd, key, seq)
                 && idsum_row(ids, s->db, seq, r.received_at_us, idv, r.event_type);
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (ok && out->bad == 0)
        ok = dedupe_settle(dd, s->db)
             && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if ((!ok || out->bad > 0) && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    dedupe_free(dd);
    sqlite3_finalize(t.q);
    sqlite3_finalize(st);
    if (ids != NULL)
        idsum_release(ids);
    free(ids);
    return ok && out->bad == 0;
}
