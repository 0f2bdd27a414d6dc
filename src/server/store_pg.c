/*
 * store_pg.c - the shared store backend: PostgreSQL through libpq (store_backend.h), for several
 * hookd nodes on one database.
 *
 * The same guarantees as SQLite, across nodes:
 *   - a 200 only after a durable commit: every session sets synchronous_commit = on (a server
 *     default of off would break the promise silently), and a server with fsync = off is refused;
 *   - one row per (event id, endpoint) in the whole database: the UNIQUE index decides, and an
 *     upsert that returns attempts = 1 made the row (and, in the same statement, its deliveries);
 *   - group commit: the writer pipelines a batch (BEGIN, one statement per job, one NOTIFY,
 *     COMMIT, one Sync) and reads the results once. Event jobs go in (endpoint, id) order, so two
 *     nodes upserting overlapping ids take their row locks in the same order and never deadlock.
 *     A job the database refuses alone fails alone: the batch is sent again without it;
 *   - never two nodes running one delivery: a claim (store_claim, on the dispatcher's own
 *     connection, committed before the handler runs) takes due rows FOR UPDATE SKIP LOCKED and
 *     gives each a lease and a fencing token; a record whose token no longer matches is kept as a
 *     fenced_out attempt and moves nothing. An order = call handler claims under a transaction
 *     advisory lock per handler and only the head of each call; lanes are woken under the same
 *     lock, after the completion committed, so no wake-up is lost between nodes;
 *   - a node that dies leaves leases that run out (the handler's timeout + [store] lease_grace);
 *     every node's rescue sweep makes those deliveries owed again. Nothing is reset at start:
 *     other nodes' in-flight work is live.
 *   - every time compared across nodes (due, lease, backoff) is the database's clock
 *     (hookd_now_us()); node clocks only stamp what people read.
 * A lost connection is made again with backoff (100 ms doubling to STORE_RECONNECT_MAX_MS);
 * meanwhile every write fails at once, so requests get 503 + Retry-After and /readyz says 503.
 * A database unreachable at start is such a loss from the beginning: hookd starts and says so.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_pg.h"

/* ---- the schema -------------------------------------------------------------------------------
 * Its own list (the SQLite one is schema.c); append, never edit a shipped one. The version and
 * the oldest version a binary may run against are in hookd_schema. */
#define PG_MIN_SERVER 130000
#define PG_MIGRATE_LOCK "7426803925091417"   /* pg_advisory_lock key: "hookd migrate" */

/* A migration that starts with this runs statement by statement outside a transaction (what
 * CREATE INDEX CONCURRENTLY requires), and its version row is written after it. */
#define CONCURRENTLY "-- concurrently\n"

static const char *const pg_migrations[] = {
    /* 1: everything SQLite's 1-4 have, plus leases. seq and the deliveries' id are identities. */
    "CREATE FUNCTION hookd_now_us() RETURNS bigint LANGUAGE sql STABLE"
    "  AS $$ SELECT (extract(epoch FROM now()) * 1000000)::bigint $$;"
    "CREATE FUNCTION hookd_text(b bytea) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$"
    " BEGIN RETURN convert_from(b, 'UTF8');"
    " EXCEPTION WHEN others THEN RETURN encode(b, 'escape'); END $$;"
    "CREATE TABLE events ("
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  id text NOT NULL, endpoint text NOT NULL, scheme text NOT NULL,"
    "  event_type text, occurred_at text, occurred_at_us bigint,"
    "  received_at_us bigint NOT NULL, last_received_at_us bigint NOT NULL,"
    "  call_control_id text, call_session_id text, call_leg_id text, connection_id text,"
    "  failure_cause text, hangup_cause text, attempts int NOT NULL DEFAULT 1, meta_attempt int,"
    "  delivered_to text, remote_addr text, content_type text,"
    "  parse_status text NOT NULL CHECK (parse_status IN ('parsed', 'unparsed')),"
    "  parse_error text, received_by text, body bytea NOT NULL,"
    "  UNIQUE (id, endpoint));"
    "CREATE INDEX events_by_type ON events (event_type, received_at_us);"
    "CREATE INDEX events_by_session ON events (call_session_id, occurred_at_us);"
    "CREATE INDEX events_by_control ON events (call_control_id, occurred_at_us);"
    "CREATE INDEX events_by_received ON events (received_at_us);"
    "CREATE TABLE deliveries ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  event_seq bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,"
    "  handler text NOT NULL,"
    "  state text NOT NULL CHECK (state IN ('pending', 'waiting', 'in_flight', 'succeeded',"
    "    'retry', 'dead', 'replayed')),"
    "  attempts int NOT NULL DEFAULT 0,"
    "  next_attempt_us bigint NOT NULL, created_us bigint NOT NULL, updated_us bigint NOT NULL,"
    "  call_key text, occurred_at_us bigint, last_outcome text,"
    "  lease_owner text, lease_token bigint, lease_until_us bigint"
    ") WITH (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.01,"
    "  autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);"
    "CREATE SEQUENCE lease_token_seq;"
    /* the claim path leads with the handler (a scan never steps over other handlers' rows) */
    "CREATE INDEX deliveries_due ON deliveries (handler, next_attempt_us)"
    "  WHERE state IN ('pending', 'retry', 'waiting');"
    /* order = call: a call's owed deliveries in order; lists every owed state, or the planner
     * turns the blocking test into a hash anti join over the whole table */
    "CREATE INDEX deliveries_lane ON deliveries (handler, call_key, occurred_at_us, id)"
    "  WHERE state IN ('pending', 'retry', 'waiting', 'in_flight') AND call_key IS NOT NULL;"
    "CREATE INDEX deliveries_lease ON deliveries (handler, lease_until_us) WHERE state = 'in_flight';"
    "CREATE INDEX deliveries_owed ON deliveries (created_us)"
    "  WHERE state IN ('pending', 'retry', 'waiting', 'in_flight');"
    "CREATE INDEX deliveries_dead ON deliveries (handler) WHERE state = 'dead';"
    "CREATE INDEX deliveries_by_event ON deliveries (event_seq);"
    "CREATE TABLE attempts ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,"
    "  attempt int NOT NULL, started_us bigint NOT NULL, finished_us bigint NOT NULL,"
    "  outcome text NOT NULL, http_status int, exit_code int, error text, output text,"
    "  node text, lease_token bigint, fenced_out boolean NOT NULL DEFAULT false);"
    "CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt);"
    "CREATE TABLE probe (x bytea);",
    /* 2: the console's outcome chart (SQLite's 5); an index only, so 1 stays compatible. */
    "CREATE INDEX attempts_by_finished ON attempts (finished_us);",
    /* 3: `calls show` and the console's call page look for an id among the session, control and
     * leg ids; with no index on the leg id that was a scan of the table (200 ms at a million
     * events), whichever id was given. An index only. Built CONCURRENTLY, so that nodes keep
     * storing events meanwhile (an index build holds writes for seconds on a large table); an
     * index an interrupted build left invalid is dropped first. */
    CONCURRENTLY "DROP INDEX CONCURRENTLY IF EXISTS events_by_leg;"
    "CREATE INDEX CONCURRENTLY events_by_leg ON events (call_leg_id, occurred_at_us);",
};
#define PG_SCHEMA_VERSION ((int)(sizeof pg_migrations / sizeof pg_migrations[0]))
#define PG_MIN_COMPATIBLE 1

/* ---- statements ------------------------------------------------------------------------------- */

/* $1 id, $2 endpoint, $3 scheme, $4 event_type, $5 occurred_at, $6 occurred_at_us,
 * $7 received_at_us, $8-$13 call_control_id, call_session_id, call_leg_id, connection_id,
 * failure_cause, hangup_cause, $14 meta_attempt, $15 delivered_to, $16 remote_addr,
 * $17 content_type, $18 parse_status, $19 parse_error, $20 body (binary), $21 handlers (text[]),
 * $22 call_key, $23 node. One statement, so a pipeline never waits on an earlier result. */
static const char upsert_sql[] =
    "WITH e AS (INSERT INTO events (id, endpoint, scheme, event_type, occurred_at, occurred_at_us,"
    "  received_at_us, last_received_at_us, call_control_id, call_session_id, call_leg_id,"
    "  connection_id, failure_cause, hangup_cause, meta_attempt, delivered_to, remote_addr,"
    "  content_type, parse_status, parse_error, body, received_by)"
    " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $7::bigint, $8, $9, $10, $11, $12, $13,"
    "  $14::int, $15, $16, $17, $18, $19, $20, $23)"
    " ON CONFLICT (id, endpoint) DO UPDATE SET attempts = events.attempts + 1,"
    "  meta_attempt = greatest(coalesce(events.meta_attempt, 0), coalesce(excluded.meta_attempt, 0)),"
    "  delivered_to = coalesce(excluded.delivered_to, events.delivered_to),"
    "  last_received_at_us = excluded.last_received_at_us"
    " RETURNING seq, attempts),"
    " d AS (INSERT INTO deliveries (event_seq, handler, state, next_attempt_us, created_us,"
    "  updated_us, call_key, occurred_at_us)"
    " SELECT e.seq, h, 'pending', hookd_now_us(), $7::bigint, $7::bigint, $22, $6::bigint"
    " FROM e, unnest($21::text[]) AS h WHERE e.attempts = 1)"
    " SELECT attempts FROM e";

/* The end of an attempt, fenced: the delivery moves only if its claim is still this one.
 * $1 delivery, $2 attempt, $3 started_us, $4 finished_us, $5 outcome, $6 http_status,
 * $7 exit_code, $8 error, $9 new state, $10 backoff us (added to the database's clock),
 * $11 lease_token, $12 node, $13 output, $14 handler_gone. */
static const char attempt_sql[] =
    "WITH u AS (UPDATE deliveries SET state = $9, attempts = $2::int,"
    "  next_attempt_us = hookd_now_us() + $10::bigint, updated_us = $4::bigint, last_outcome = $5,"
    "  lease_owner = NULL, lease_token = NULL, lease_until_us = NULL"
    " WHERE id = $1::bigint AND lease_token = $11::bigint AND state = 'in_flight'"
    " RETURNING id, handler),"
    " a AS (INSERT INTO attempts (delivery_id, attempt, started_us, finished_us, outcome,"
    "  http_status, exit_code, error, output, node, lease_token, fenced_out)"
    " SELECT $1::bigint, $2::int, $3::bigint, $4::bigint, $5, $6::int, $7::int, $8, $13, $12,"
    "  $11::bigint, NOT EXISTS (SELECT 1 FROM u) RETURNING fenced_out),"
    " g AS (UPDATE deliveries SET state = 'dead', updated_us = $4::bigint, last_outcome = 'gone'"
    " WHERE $14::boolean AND handler = (SELECT handler FROM u)"
    "  AND state IN ('pending', 'retry', 'waiting')),"
    /* the first wake of the call's parked deliveries, committed with the end; the dispatcher
     * wakes them again under the claimers' lock once this commits (a claimer may be parking one
     * from a snapshot older than this transaction) */
    " w AS (UPDATE deliveries SET next_attempt_us = hookd_now_us()"
    " WHERE $9 <> 'retry' AND (handler, call_key) = (SELECT d.handler, d.call_key FROM deliveries d"
    "  JOIN u ON u.id = d.id) AND state IN ('pending', 'retry', 'waiting', 'in_flight')"
    "  AND state = 'waiting')"
    " SELECT fenced_out FROM a";

/* What a claim hands the dispatcher: the delivery and its event. */
#define CLAIM_RETURNING                                                                            \
    " RETURNING d.id, d.attempts - 1, d.call_key, coalesce(d.occurred_at_us, 0), e.id, e.endpoint," \
    " e.event_type, e.occurred_at, e.content_type, e.call_control_id, e.call_session_id,"         \
    " e.call_leg_id, e.failure_cause, e.hangup_cause, e.body, d.lease_token"
#define CLAIM_SET                                                                                  \
    " UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1, lease_owner = $3,"   \
    " lease_token = nextval('lease_token_seq'), lease_until_us = hookd_now_us() + $4::bigint,"     \
    " updated_us = hookd_now_us() FROM c, events e WHERE d.id = c.id AND e.seq = d.event_seq"

/* Another owed delivery of d's call is in flight, or occurred earlier (the lane index). */
#define BLOCKED_BY(d)                                                                              \
    " EXISTS (SELECT 1 FROM deliveries o WHERE o.handler = " d ".handler"                          \
    "  AND o.call_key = " d ".call_key AND o.id <> " d ".id"                                       \
    "  AND o.state IN ('pending', 'retry', 'waiting', 'in_flight')"                                \
    "  AND (o.state = 'in_flight' OR (coalesce(o.occurred_at_us, 0), o.id)"                       \
    "       < (coalesce(" d ".occurred_at_us, 0), " d ".id)))"

/* $1 handler, $2 limit, $3 node, $4 lease us */
static const char claim_sql[] =
    "WITH c AS MATERIALIZED (SELECT id FROM deliveries WHERE handler = $1"
    " AND state IN ('pending', 'retry', 'waiting') AND next_attempt_us <= hookd_now_us()"
    " ORDER BY next_attempt_us LIMIT $2::int FOR UPDATE SKIP LOCKED)" CLAIM_SET CLAIM_RETURNING;

/* An ordered pass first parks the blocked among the first PARK_WINDOW due rows (the due index,
 * in order), then claims heads, walking the due rows until it has enough: the blocked ones
 * parked earlier are out of its way. Testing every due row for blocking on each pass would cost
 * the whole backlog (it did: a claim at 88% of a core, 113 deliveries/s). */
#define PARK_WINDOW 32
#define ORDERED_WINDOW                                                                             \
    " (SELECT id, handler, call_key, occurred_at_us, next_attempt_us FROM deliveries"             \
    "  WHERE handler = $1 AND state IN ('pending', 'retry', 'waiting')"                           \
    "  AND next_attempt_us <= hookd_now_us() ORDER BY next_attempt_us LIMIT " HK_STR(PARK_WINDOW) ") AS d"

static const char claim_ordered_sql[] =
    "WITH c AS MATERIALIZED (SELECT d.id FROM deliveries d WHERE d.handler = $1"
    " AND d.state IN ('pending', 'retry', 'waiting') AND d.next_attempt_us <= hookd_now_us()"
    " AND (d.call_key IS NULL OR NOT" BLOCKED_BY("d") ")"
    " ORDER BY d.next_attempt_us LIMIT $2::int FOR UPDATE SKIP LOCKED)" CLAIM_SET CLAIM_RETURNING;

/* What this pass found blocked stops costing claims: parked until woken, or rechecked. */
static const char park_sql[] =
    "UPDATE deliveries SET state = 'waiting', updated_us = hookd_now_us(),"
    " next_attempt_us = hookd_now_us() + $2::bigint"
    " WHERE id IN (SELECT d.id FROM" ORDERED_WINDOW
    "  WHERE d.call_key IS NOT NULL AND" BLOCKED_BY("d") ")"
    " AND state IN ('pending', 'retry', 'waiting')";

static const char lock_handler_sql[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('hookd claim ' || $1, 0))";

static const char wake_sql[] =
    "UPDATE deliveries SET next_attempt_us = hookd_now_us() WHERE handler = $1 AND call_key = $2"
    " AND state IN ('pending', 'retry', 'waiting', 'in_flight') AND state = 'waiting'";

/* A rescued delivery keeps its due time, so it is claimed before the backlog behind it.
 * $1 handler, $2 max attempts, $3 node, $4 this process's start (database clock) when it holds
 * its node's lock, else 0: then what this node claimed before it restarted is taken at once, as
 * no other live process can be running it (the lock is held by one session per node name). */
static const char rescue_sql[] =
    "WITH x AS MATERIALIZED (SELECT id, lease_owner, lease_token FROM deliveries"
    "  WHERE handler = $1 AND state = 'in_flight' AND (lease_until_us < hookd_now_us()"
    "   OR (lease_owner = $3 AND updated_us < $4::bigint))"
    "  ORDER BY lease_until_us LIMIT 500 FOR UPDATE SKIP LOCKED),"
    " r AS (UPDATE deliveries d SET state = CASE WHEN d.attempts >= $2::int THEN 'dead'"
    "  ELSE 'retry' END, last_outcome = 'lease_expired',"
    "  updated_us = hookd_now_us(), lease_owner = NULL, lease_token = NULL, lease_until_us = NULL"
    "  FROM x WHERE d.id = x.id RETURNING d.id, d.attempts, d.state, d.call_key, x.lease_owner,"
    "  x.lease_token),"
    " a AS (INSERT INTO attempts (delivery_id, attempt, started_us, finished_us, outcome, error,"
    "  node, lease_token) SELECT id, attempts, hookd_now_us(), hookd_now_us(), 'lease_expired',"
    "  'the claim of node ' || coalesce(lease_owner, '?') || ' ran out (it died or stalled)',"
    "  $3, lease_token FROM r)"
    " SELECT state, call_key FROM r";

static const char gauges_sql[] =
    "SELECT (SELECT count(*) FROM deliveries"
    "   WHERE state IN ('pending', 'retry', 'waiting', 'in_flight')),"
    " coalesce((SELECT min(created_us) FROM deliveries"
    "   WHERE state IN ('pending', 'retry', 'waiting', 'in_flight')), 0),"
    " (SELECT count(*) FROM deliveries WHERE state = 'dead')";

static const char owed_sql[] =
    "SELECT handler, count(*) FROM deliveries WHERE state IN"
    " ('pending', 'retry', 'waiting', 'in_flight') GROUP BY handler";

/* Prepared on every connection of a role, by name. */
typedef struct pg_stmt {
    const char *name, *sql;
    int nparams;
} pg_stmt;

static const pg_stmt writer_stmts[] = {
    {"upsert", upsert_sql, 23},
    {"attempt", attempt_sql, 14},
    {"probe_insert", "INSERT INTO probe (x) VALUES (decode(repeat('00', 65536), 'hex'))", 0},
    {"probe_delete", "DELETE FROM probe", 0},
};

static const pg_stmt reader_stmts[] = {
    {"claim", claim_sql, 4},
    {"claim_ordered", claim_ordered_sql, 4},
    {"park", park_sql, 2},
    {"lock_handler", lock_handler_sql, 1},
    {"wake", wake_sql, 2},
    {"rescue", rescue_sql, 4},
    {"gauges", gauges_sql, 0},
    {"owed", owed_sql, 0},
};

/* ---- helpers ---------------------------------------------------------------------------------- */

/* A number PostgreSQL printed (never malformed; 0 if it were). */
static long num(const char *s)
{
    return strtol(s, NULL, 10);
}

int64_t store_pg_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* libpq's messages span lines ("...\n\tThis probably means..."): one line, for the log. */
static void one_line(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (ch == '\n' || ch == '\t' || ch == '\r')
            ch = ' ';
        if (ch == ' ' && (o == s || o[-1] == ' '))
            continue;
        *o++ = ch;
    }
    while (o > s && o[-1] == ' ')
        o--;
    *o = '\0';
}

static void set_err(pg_conn *c, const char *what, const char *why)
{
    snprintf(c->err, sizeof c->err, "%s%s%s", what, why != NULL && why[0] ? ": " : "",
             why != NULL ? why : "");
    one_line(c->err);
}

bool store_pg_ok(pg_conn *c, PGresult *r, ExecStatusType want)
{
    if (r != NULL && PQresultStatus(r) == want)
        return true;
    set_err(c, "PostgreSQL",
            r != NULL && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r)
            : c->db != NULL                         ? PQerrorMessage(c->db)
                                                    : "no connection");
    return false;
}

/* Let a connection go (the next use reconnects at once, then with backoff), and say so. */
static void drop_conn(pg_conn *c)
{
    if (c->db == NULL)
        return;
    if (c->role != PG_VIEW)
        log_json(LOG_ERROR, "lost the connection to PostgreSQL; reconnecting (writes answer 503 meanwhile)",
                 json_pack("{s:s, s:s}", "connection", c->role == PG_WRITER ? "writer" : "dispatcher",
                           "error", c->err));
    PQfinish(c->db);
    c->db = NULL;
    c->backoff_ms = 0;
    c->next_try_us = 0;
}

/* After a failure: a connection that is gone is let go. */
static void check_conn(pg_conn *c)
{
    if (c->db != NULL && PQstatus(c->db) == CONNECTION_BAD)
        drop_conn(c);
}

/* Server notices (a NOTICE from CREATE ... IF NOT EXISTS, the WARNING of a server shutting down)
 * would go to stderr raw; what matters reaches the log through the errors. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

bool store_pg_exec(pg_conn *c, const char *sql, int n, const char *const *params,
                   ExecStatusType want)
{
    if (c->db == NULL) {
        set_err(c, "PostgreSQL", "no connection");
        return false;
    }
    PGresult *r = PQexecParams(c->db, sql, n, NULL, params, NULL, NULL, 0);
    bool ok = store_pg_ok(c, r, want);
    PQclear(r);
    if (!ok)
        check_conn(c);
    return ok;
}

static bool exec_prepared(pg_conn *c, const char *name, int n, const char *const *params,
                          const int *lengths, const int *formats, ExecStatusType want,
                          PGresult **out)
{
    if (c->db == NULL) {
        set_err(c, "PostgreSQL", "no connection");
        return false;
    }
    PGresult *r = PQexecPrepared(c->db, name, n, params, lengths, formats, 0);
    bool ok = store_pg_ok(c, r, want);
    if (ok && out != NULL)
        *out = r;
    else
        PQclear(r);
    if (!ok)
        check_conn(c);
    return ok;
}

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    size_t len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || b == 0 || b == 0xC0 || b == 0xC1 || b > 0xF4)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    }
    if ((b == 0xE0 && p[1] < 0xA0) || (b == 0xED && p[1] > 0x9F) || (b == 0xF0 && p[1] < 0x90)
        || (b == 0xF4 && p[1] > 0x8F))
        return 0; /* overlong, surrogate, past U+10FFFF */
    return len;
}

static bool text_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0, k; i < n; i += k) {
        k = utf8_seq(p + i, n - i);
        if (k == 0)
            return false;
    }
    return true;
}

const char *store_pg_text(const char *s, long len, char *buf, size_t cap)
{
    if (s == NULL)
        return NULL;
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    const unsigned char *p = (const unsigned char *)s;
    if (len < 0 && text_valid(p, n))
        return s;
    if (buf == NULL || cap < 5)
        return NULL;
    /* a copy, with what PostgreSQL would refuse replaced (and ended) */
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- connecting ------------------------------------------------------------------------------- */

static bool run(PGconn *db, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

static int query_int(PGconn *db, const char *sql, int fallback)
{
    PGresult *r = PQexec(db, sql);
    int v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
                ? (int)num(PQgetvalue(r, 0, 0))
                : fallback;
    PQclear(r);
    return v;
}

/* Each ;-terminated statement of sql as a query of its own (no ; inside one). */
static bool run_each(PGconn *db, const char *sql, char *err, size_t errlen, const char *what)
{
    char one[512];
    for (const char *end; (end = strchr(sql, ';')) != NULL; sql = end + 1) {
        if ((size_t)(end - sql) >= sizeof one) {
            snprintf(err, errlen, "%s: a statement over %zu bytes", what, sizeof one);
            return false;
        }
        snprintf(one, sizeof one, "%.*s", (int)(end - sql), sql);
        if (!run(db, one, err, errlen, what))
            return false;
    }
    return true;
}

/* The migration lock, tried every 100 ms for up to a minute rather than waited for: a session
 * waiting inside pg_advisory_lock is a transaction, which CREATE INDEX CONCURRENTLY (run by the
 * holder) waits for in turn: a deadlock when several nodes start at once. */
static bool take_migrate_lock(PGconn *db, char *err, size_t errlen)
{
    struct timespec pause = {0, 100 * 1000000L};
    for (int i = 0; i < 600; i++) {
        PGresult *r = PQexec(db, "SELECT pg_try_advisory_lock(" PG_MIGRATE_LOCK ")");
        bool failed = PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1;
        bool got = !failed && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        if (failed)
            snprintf(err, errlen, "cannot take the migration lock: %s", PQresultErrorMessage(r));
        PQclear(r);
        if (failed || got)
            return got;
        nanosleep(&pause, NULL);
    }
    snprintf(err, errlen, "cannot take the migration lock: another hookd held it for a minute");
    return false;
}

/* Under the migration lock, so nodes starting together migrate once: each migration in its own
 * transaction with its version row. A schema newer than this binary runs only if its oldest
 * compatible version is one this binary knows (an expand-only change during a rolling upgrade). */
static bool migrate(PGconn *db, char *err, size_t errlen)
{
    if (!run(db, "SET lock_timeout = '60s'", err, errlen, "cannot set lock_timeout")
        || !take_migrate_lock(db, err, errlen))
        return false;
    bool ok = run(db, "CREATE TABLE IF NOT EXISTS hookd_schema (version int NOT NULL,"
                      " min_compatible int NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
                      " by_hookd text NOT NULL)",
                  err, errlen, "cannot create hookd_schema");
    int have = ok ? query_int(db, "SELECT coalesce(max(version), 0) FROM hookd_schema", -1) : -1;
    int compatible = ok ? query_int(db, "SELECT coalesce(max(min_compatible), 0) FROM hookd_schema", -1) : -1;
    if (ok && (have < 0 || compatible < 0)) {
        snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(db));
        ok = false;
    }
    if (ok && have > PG_SCHEMA_VERSION && compatible > PG_SCHEMA_VERSION) {
        snprintf(err, errlen, "the database has schema version %d (compatible from %d); this hookd "
                              "knows up to %d: upgrade hookd", have, compatible, PG_SCHEMA_VERSION);
        ok = false;
    }
    for (int v = have; ok && v < PG_SCHEMA_VERSION; v++) {
        char bump[256];
        snprintf(bump, sizeof bump,
                 "INSERT INTO hookd_schema (version, min_compatible, by_hookd) VALUES (%d, %d, 'hookd %s')",
                 v + 1, PG_MIN_COMPATIBLE, HOOKD_VERSION_STRING);
        char what[64];
        snprintf(what, sizeof what, "migration to schema version %d failed", v + 1);
        if (strncmp(pg_migrations[v], CONCURRENTLY, strlen(CONCURRENTLY)) == 0) {
            ok = run_each(db, pg_migrations[v] + strlen(CONCURRENTLY), err, errlen, what)
                 && run(db, bump, err, errlen, what);
            continue;
        }
        ok = run(db, "BEGIN", err, errlen, what) && run(db, pg_migrations[v], err, errlen, what)
             && run(db, bump, err, errlen, what) && run(db, "COMMIT", err, errlen, what);
        if (!ok)
            run(db, "ROLLBACK", what, sizeof what, "rollback");
    }
    char ignored[64];
    run(db, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", ignored, sizeof ignored, "unlock");
    return ok;
}

/* Connect and set up a session for its role; NULL with err on failure. */
PGconn *store_pg_connect(const char *url, pg_role role, const char *node, char *err, size_t errlen)
{
    char app[160];
    snprintf(app, sizeof app, "hookd/%s/%s", node != NULL ? node : "cli",
             role == PG_WRITER ? "writer" : role == PG_READER ? "dispatcher" : "command");
    const char *const keys[] = {"dbname", "fallback_application_name", "connect_timeout",
                                "keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
    const char *const values[] = {url, app, "5", "10", "5", "3", NULL};
    PGconn *db = PQconnectdbParams(keys, values, 1);
    if (db == NULL || PQstatus(db) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 db != NULL ? PQerrorMessage(db) : "out of memory");
        one_line(err);
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeProcessor(db, quiet, NULL);
    /* The session's own settings, whatever the server's defaults say: a commit is durable before
     * it returns, a wait on another node's lock is bounded, a forgotten transaction ends. */
    bool ok = run(db, "SET synchronous_commit = on; SET lock_timeout = '5s';"
                      " SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s';"
                      " SET client_encoding = 'UTF8'",
                  err, errlen, "cannot set up the session");
    if (ok && PQserverVersion(db) < PG_MIN_SERVER) {
        snprintf(err, errlen, "PostgreSQL %d.%d is too old: hookd needs 13 or newer",
                 PQserverVersion(db) / 10000, PQserverVersion(db) % 10000);
        ok = false;
    }
    if (ok && role == PG_WRITER) {
        PGresult *r = PQexec(db, "SHOW fsync");
        bool fsync_on = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                        && strcmp(PQgetvalue(r, 0, 0), "on") == 0;
        PQclear(r);
        if (!fsync_on) {
            snprintf(err, errlen, "the PostgreSQL server runs with fsync = off: a commit there is "
                                  "not durable, and hookd acknowledges only durable commits");
            ok = false;
        }
        ok = ok && migrate(db, err, errlen);
    } else if (ok && role != PG_WRITER) {
        int have = query_int(db, "SELECT coalesce((SELECT max(min_compatible) FROM hookd_schema), -1)", -2);
        if (have == -2 || have == -1) {
            snprintf(err, errlen, "no hookd store in this database (run hookd migrate, or start "
                                  "hookd serve, first)");
            ok = false;
        } else if (have > PG_SCHEMA_VERSION) {
            snprintf(err, errlen, "the database's schema needs a newer hookd (compatible from %d; "
                                  "this one knows up to %d)", have, PG_SCHEMA_VERSION);
            ok = false;
        }
    }
    const pg_stmt *stmts = role == PG_WRITER ? writer_stmts : role == PG_READER ? reader_stmts : NULL;
    size_t n = role == PG_WRITER   ? sizeof writer_stmts / sizeof writer_stmts[0]
               : role == PG_READER ? sizeof reader_stmts / sizeof reader_stmts[0]
                                   : 0;
    for (size_t i = 0; ok && i < n; i++) {
        PGresult *r = PQprepare(db, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, errlen, "cannot prepare %s: %s", stmts[i].name, PQresultErrorMessage(r));
        PQclear(r);
    }
    if (ok && role == PG_READER)
        ok = run(db, "LISTEN " PG_CHANNEL, err, errlen, "cannot LISTEN");
    if (!ok) {
        one_line(err);
        PQfinish(db);
        return NULL;
    }
    return db;
}

/* The dispatcher's session holds a lock named after its node for its life: while it does, no
 * other live hookd runs under that name, so in-flight rows with this node's name that are older
 * than this process are a previous life's, and are owed again at once (not after their lease). */
static void take_node_lock(pg_conn *c)
{
    const char *p[] = {c->node};
    PGresult *r = PQexecParams(c->db,
                               "SELECT pg_try_advisory_lock(hashtextextended('hookd node ' || $1, 0)),"
                               " hookd_now_us()", 1, NULL, p, NULL, NULL, 0);
    bool held = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    if (held && c->started_db_us == 0)
        c->started_db_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    c->node_locked = held;
    if (!held)
        log_json(LOG_WARN, "another hookd runs under this node name: give each node its own "
                           "([server] node); its claims are taken over only when their lease runs out",
                 json_pack("{s:s}", "node", c->node));
}

/* A connection to use now, or false: made again when it was lost and the backoff allows. Each
 * failed try is logged once, with the wait before the next. */
static bool ensure(pg_conn *c)
{
    if (c->db != NULL)
        return true;
    int64_t now = store_pg_now_us();
    if (now < c->next_try_us) {
        if (c->err[0] == '\0')
            set_err(c, "PostgreSQL", "no connection");
        return false;
    }
    char err[512];
    c->db = store_pg_connect(c->url, c->role, c->node, err, sizeof err);
    if (c->db != NULL) {
        if (c->was_up && c->m != NULL)
            atomic_fetch_add(&c->m->store_reconnects, 1);
        if (c->was_up || c->backoff_ms > 0)
            log_json(LOG_NOTICE, "connected to PostgreSQL again",
                     json_pack("{s:s}", "connection", c->role == PG_WRITER ? "writer" : "dispatcher"));
        c->was_up = true;
        c->backoff_ms = 0;
        c->err[0] = '\0';
        if (c->role == PG_READER)
            take_node_lock(c);
        return true;
    }
    set_err(c, err, NULL);
    c->backoff_ms = c->backoff_ms == 0 ? 100 : c->backoff_ms * 2;
    if (c->backoff_ms > STORE_RECONNECT_MAX_MS)
        c->backoff_ms = STORE_RECONNECT_MAX_MS;
    c->next_try_us = now + (int64_t)c->backoff_ms * 1000;
    if (c->role == PG_WRITER) /* the dispatcher's tries say the same thing: one voice is enough */
        log_json(LOG_ERROR, "cannot reach PostgreSQL; requests get 503 until it is back",
                 json_pack("{s:s, s:i}", "error", c->err, "next_try_ms", c->backoff_ms));
    return false;
}

static pg_conn *conn_new(const char *url, pg_role role, const config *cfg, metrics *m)
{
    pg_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->base.be = &store_pg_backend;
    c->role = role;
    c->m = m;
    snprintf(c->url, sizeof c->url, "%s", url);
    if (cfg != NULL)
        store_node_of(cfg, c->node, sizeof c->node);
    return c;
}

/* The writer's connection. The daemon starts when the server cannot be reached (it answers 503
 * and keeps trying); hookd migrate (m == NULL) needs it now. A server that answers but is wrong
 * (fsync off, too old, a newer schema) stops the start. */
static bool pg_open(const config *cfg, metrics *m, store_conn **out, char *err, size_t errlen)
{
    pg_conn *c = conn_new(cfg->store_url, PG_WRITER, cfg, m);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    c->db = store_pg_connect(c->url, PG_WRITER, c->node, err, errlen);
    if (c->db == NULL) {
        bool unreachable = strncmp(err, "cannot connect", 14) == 0;
        if (m == NULL || !unreachable) {
            free(c);
            return false;
        }
        set_err(c, err, NULL);
        log_json(LOG_ERROR, "PostgreSQL cannot be reached at start; starting anyway: requests get "
                            "503 and /readyz says 503 until it is",
                 json_pack("{s:s}", "error", c->err));
        c->backoff_ms = 100;
        c->next_try_us = store_pg_now_us() + 100000;
        err[0] = '\0';
    } else {
        c->was_up = true;
    }
    *out = &c->base;
    return true;
}

void store_pg_close(store_conn *base)
{
    pg_conn *c = pg_of(base);
    if (c == NULL)
        return;
    PQfinish(c->db);
    free(c);
}

const char *store_pg_errmsg(store_conn *base)
{
    pg_conn *c = pg_of(base);
    return c->err[0] ? c->err : "PostgreSQL: unknown error";
}

/* Nothing is reset: in-flight deliveries belong to live nodes, or come back when their lease
 * runs out (store_rescue). */
static bool pg_recover(store_conn *c)
{
    (void)c;
    return true;
}

/* ---- the writer: one batch, pipelined ----------------------------------------------------------- */

/* The text parameters of one job, kept until its statement is sent. */
typedef struct job_params {
    const char *v[23];
    int len[23], fmt[23];
    char ints[8][24];
    char *handlers;         /* a text[] literal */
    char *fixed[16];        /* copies made valid for PostgreSQL */
    size_t nfixed;
} job_params;

static void params_free(job_params *p)
{
    free(p->handlers);
    for (size_t i = 0; i < p->nfixed; i++)
        free(p->fixed[i]);
}

static const char *text_param(job_params *p, const char *s, long len)
{
    if (s == NULL)
        return NULL;
    size_t n = len < 0 ? strlen(s) : (size_t)len;
    if (len < 0 && text_valid((const unsigned char *)s, n))
        return s;
    size_t cap = n * 3 + 8;
    char *buf = p->nfixed < 16 ? malloc(cap) : NULL;
    if (buf == NULL)
        return "";
    p->fixed[p->nfixed++] = buf;
    return store_pg_text(s, (long)n, buf, cap);
}

static const char *int_param(job_params *p, int slot, int64_t v, bool present)
{
    if (!present)
        return NULL;
    snprintf(p->ints[slot], sizeof p->ints[slot], "%" PRId64, v);
    return p->ints[slot];
}

/* {"a","b"}: handler names are config names, quoted all the same. */
static char *array_literal(const char *const *names, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += strlen(names[i]) * 2 + 3;
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *o++ = ',';
        *o++ = '"';
        for (const char *s = names[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

static void upsert_params(pg_conn *c, const store_record *r, job_params *p)
{
    memset(p, 0, sizeof *p);
    const char *texts[] = {r->id, r->endpoint, r->scheme, r->event_type, r->occurred_at};
    for (int i = 0; i < 5; i++)
        p->v[i] = text_param(p, texts[i], -1);
    p->v[5] = int_param(p, 0, r->occurred_at_us, r->occurred_at != NULL);
    p->v[6] = int_param(p, 1, r->received_at_us, true);
    const char *more[] = {r->call_control_id, r->call_session_id, r->call_leg_id, r->connection_id,
                          r->failure_cause,   r->hangup_cause};
    for (int i = 0; i < 6; i++)
        p->v[7 + i] = text_param(p, more[i], -1);
    p->v[13] = int_param(p, 2, r->meta_attempt, r->meta_attempt > 0);
    p->v[14] = text_param(p, r->delivered_to, -1);
    p->v[15] = text_param(p, r->remote_addr, -1);
    p->v[16] = text_param(p, r->content_type, -1);
    p->v[17] = r->parsed ? "parsed" : "unparsed";
    p->v[18] = text_param(p, r->parse_error, -1);
    p->v[19] = r->body_len > 0 ? (const char *)r->body : "";
    p->len[19] = (int)r->body_len;
    p->fmt[19] = 1; /* binary: the body goes as it came, nothing escaped */
    p->handlers = array_literal(r->handlers, r->nhandlers);
    p->v[20] = p->handlers != NULL ? p->handlers : "{}";
    p->v[21] = text_param(p, r->call_session_id != NULL ? r->call_session_id : r->call_control_id, -1);
    p->v[22] = c->node;
}

static void attempt_params(pg_conn *c, const store_attempt *a, job_params *p)
{
    memset(p, 0, sizeof *p);
    p->v[0] = int_param(p, 0, a->delivery_id, true);
    p->v[1] = int_param(p, 1, a->attempt, true);
    p->v[2] = int_param(p, 2, a->started_us, true);
    p->v[3] = int_param(p, 3, a->finished_us, true);
    p->v[4] = attempt_outcome_name(a->outcome);
    p->v[5] = int_param(p, 6, a->http_status, a->http_status > 0);
    p->v[6] = int_param(p, 7, a->exit_code, a->exit_code >= 0);
    p->v[7] = text_param(p, a->error, -1);
    p->v[8] = delivery_state_name(a->new_state);
    int64_t backoff = a->next_attempt_us - a->finished_us;
    p->v[9] = int_param(p, 4, backoff > 0 ? backoff : 0, true);
    p->v[10] = int_param(p, 5, a->lease_token, true);
    p->v[11] = c->node;
    p->v[12] = a->output != NULL ? text_param(p, a->output, (long)a->output_len) : NULL;
    p->v[13] = a->handler_gone ? "true" : "false";
}

/* Sent in the pipeline: what each job's statement is, to read its result. */
typedef enum sent_kind { SENT_NONE, SENT_UPSERT, SENT_ATTEMPT, SENT_PROBE } sent_kind;

static bool send_job(pg_conn *c, const store_job *j, sent_kind *kind, int *nresults)
{
    job_params p;
    bool ok = true;
    *nresults = 1;
    switch (j->kind) {
    case JOB_EVENT:
        *kind = SENT_UPSERT;
        upsert_params(c, j->rec, &p);
        ok = PQsendQueryPrepared(c->db, "upsert", 23, p.v, p.len, p.fmt, 0) == 1;
        params_free(&p);
        break;
    case JOB_ATTEMPT:
        *kind = SENT_ATTEMPT;
        attempt_params(c, j->attempt, &p);
        ok = PQsendQueryPrepared(c->db, "attempt", 14, p.v, NULL, NULL, 0) == 1;
        params_free(&p);
        break;
    case JOB_PROBE:
        *kind = SENT_PROBE;
        *nresults = 2;
        ok = PQsendQueryPrepared(c->db, "probe_insert", 0, NULL, NULL, NULL, 0) == 1
             && PQsendQueryPrepared(c->db, "probe_delete", 0, NULL, NULL, NULL, 0) == 1;
        break;
    default: /* JOB_CLAIM, JOB_PARK: a claim is made on the dispatcher's connection */
        *kind = SENT_NONE;
        *nresults = 0;
        break;
    }
    return ok;
}

/* The next result in the pipeline, and the NULL that ends it; NULL when the connection broke. */
static PGresult *next_result(PGconn *db)
{
    PGresult *r = PQgetResult(db);
    if (r != NULL && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(db);
        while (end != NULL) { /* a statement has one result; be safe all the same */
            PQclear(end);
            end = PQgetResult(db);
        }
    }
    return r;
}

/* Sort key for a batch: events by (endpoint, id), everything else after them, in order. */
static int job_order(const void *a, const void *b)
{
    const store_job *x = *(store_job *const *)a, *y = *(store_job *const *)b;
    bool ex = x->kind == JOB_EVENT, ey = y->kind == JOB_EVENT;
    if (ex != ey)
        return ex ? -1 : 1;
    if (!ex)
        return 0;
    int k = strcmp(x->rec->endpoint, y->rec->endpoint);
    return k != 0 ? k : strcmp(x->rec->id, y->rec->id);
}

typedef struct slot {
    store_job *job;
    size_t index;   /* in the caller's order */
    bool skip;      /* refused alone before: not sent again */
} slot;

static int slot_order(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    int k = job_order(&x->job, &y->job);
    return k != 0 ? k : (x->index > y->index) - (x->index < y->index);
}

/* One try of the batch: 1 committed, 0 the statement at *bad was refused (nothing committed),
 * -1 the connection failed (nothing known to be committed: every job fails). */
static int try_batch(pg_conn *c, slot *slots, size_t n, store_outcome *out, bool *wakes,
                     size_t *bad)
{
    PGconn *db = c->db;
    bool notify = false;
    for (size_t i = 0; i < n; i++) {
        const store_job *j = slots[i].job;
        if (slots[i].skip)
            continue;
        if ((j->kind == JOB_EVENT && j->rec->nhandlers > 0)
            || (j->kind == JOB_ATTEMPT && j->attempt->new_state != DELIVERY_RETRY))
            notify = true;
    }
    if (PQenterPipelineMode(db) != 1) {
        set_err(c, "PostgreSQL: cannot enter pipeline mode", PQerrorMessage(db));
        return -1;
    }
    sent_kind kinds[STORE_MAX_BATCH];
    int counts[STORE_MAX_BATCH];
    bool ok = PQsendQueryParams(db, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        if (slots[i].skip) {
            kinds[i] = SENT_NONE;
            counts[i] = 0;
            continue;
        }
        ok = send_job(c, slots[i].job, &kinds[i], &counts[i]);
    }
    ok = ok && (!notify || PQsendQueryParams(db, "SELECT pg_notify('" PG_CHANNEL "', '')", 0, NULL,
                                             NULL, NULL, NULL, 0) == 1);
    ok = ok && PQsendQueryParams(db, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1
         && PQpipelineSync(db) == 1;
    if (!ok) {
        set_err(c, "PostgreSQL: cannot send the batch", PQerrorMessage(db));
        PQexitPipelineMode(db);
        return -1;
    }
    /* Read every result in order, then the Sync. */
    int verdict = 1;
    bool broken = false;
    PGresult *r = next_result(db);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        store_pg_ok(c, r, PGRES_COMMAND_OK);
        verdict = -1;
    }
    PQclear(r);
    for (size_t i = 0; i < n && !broken; i++) {
        for (int k = 0; k < counts[i] && !broken; k++) {
            r = next_result(db);
            if (r == NULL) {
                broken = true;
                break;
            }
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_FATAL_ERROR && verdict == 1) {
                store_pg_ok(c, r, PGRES_TUPLES_OK);
                verdict = 0;
                *bad = i;
            } else if (verdict == 1 && kinds[i] == SENT_UPSERT) {
                int attempts = st == PGRES_TUPLES_OK && PQntuples(r) == 1 ? (int)num(PQgetvalue(r, 0, 0)) : 0;
                out[slots[i].index] = attempts == 1 ? STORE_NEW : attempts > 1 ? STORE_DUPLICATE : STORE_FAILED;
            } else if (verdict == 1 && kinds[i] == SENT_ATTEMPT) {
                bool fenced = st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
                if (fenced && c->m != NULL)
                    atomic_fetch_add(&c->m->lease_lost, 1);
                out[slots[i].index] = STORE_WRITTEN;
            } else if (verdict == 1) {
                out[slots[i].index] = kinds[i] == SENT_PROBE ? STORE_PROBED : STORE_WRITTEN;
            }
            PQclear(r);
        }
        if (counts[i] == 0 && verdict == 1 && !slots[i].skip)
            out[slots[i].index] = STORE_WRITTEN; /* a claim or park mark: nothing to write here */
    }
    /* the NOTIFY, the COMMIT, the Sync */
    for (int k = 0; !broken && k < (notify ? 3 : 2); k++) {
        r = next_result(db);
        if (r == NULL) {
            broken = true;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (k == (notify ? 1 : 0) && st != PGRES_COMMAND_OK && verdict == 1) {
            store_pg_ok(c, r, PGRES_COMMAND_OK); /* the COMMIT itself failed */
            verdict = -1;
        }
        bool sync = st == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync)
            break;
    }
    if (broken) {
        if (c->err[0] == '\0' || verdict == 1)
            set_err(c, "PostgreSQL: the connection broke during a commit", PQerrorMessage(db));
        verdict = -1;
    }
    if (PQexitPipelineMode(db) != 1 || PQpipelineStatus(db) != PQ_PIPELINE_OFF) {
        drop_conn(c); /* results we could not read: start again on a new connection */
        return -1;
    }
    if (PQtransactionStatus(db) == PQTRANS_INERROR || PQtransactionStatus(db) == PQTRANS_INTRANS) {
        PGresult *rb = PQexec(db, "ROLLBACK");
        PQclear(rb);
    }
    if (verdict == 1)
        *wakes = *wakes || notify;
    return verdict;
}

/* The batch in one transaction. A statement refused alone (a value the database will not take)
 * fails only its own job: the rest is sent again without it, up to a few times. A connection
 * that breaks fails every job: whether a COMMIT that was sent landed is unknown, so nobody gets
 * a 200 for it (a retried copy is then a duplicate, never lost). */
static bool pg_write_batch(store_conn *base, store_job *const *jobs, size_t n, store_outcome *out,
                           bool *wakes)
{
    pg_conn *c = pg_of(base);
    for (size_t i = 0; i < n; i++)
        out[i] = STORE_FAILED;
    if (n == 0)
        return true;
    if (!ensure(c))
        return false;
    slot *slots = malloc(n * sizeof *slots);
    if (slots == NULL) {
        set_err(c, "out of memory", NULL);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        slots[i] = (slot){.job = jobs[i], .index = i};
    qsort(slots, n, sizeof *slots, slot_order);
    int verdict = 0;
    for (int tries = 0; tries < 4; tries++) {
        size_t bad = 0;
        verdict = try_batch(c, slots, n, out, wakes, &bad);
        if (verdict != 0)
            break;
        slots[bad].skip = true; /* its outcome stays STORE_FAILED */
        for (size_t i = 0; i < n; i++) {
            if (!slots[i].skip)
                out[slots[i].index] = STORE_FAILED;
        }
        log_json(LOG_WARN, "PostgreSQL refused one write of a batch; the others are written again",
                 json_pack("{s:s}", "error", c->err));
    }
    if (verdict != 1) {
        for (size_t i = 0; i < n; i++)
            out[i] = STORE_FAILED;
        check_conn(c);
    }
    free(slots);
    return verdict == 1;
}

/* ---- the writer: one op at a time (housekeeping, and callers other than the front) ------------- */

static bool pg_begin(store_conn *base)
{
    pg_conn *c = pg_of(base);
    return ensure(c) && store_pg_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK);
}

static bool pg_commit(store_conn *base)
{
    return store_pg_exec(pg_of(base), "COMMIT", 0, NULL, PGRES_COMMAND_OK);
}

static void pg_rollback(store_conn *base)
{
    pg_conn *c = pg_of(base);
    if (c->db != NULL && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->db, "ROLLBACK");
        PQclear(r);
    }
}

/* ---- retention and size ------------------------------------------------------------------------- */

/* Several nodes may prune at once: each takes rows the others have not locked. Deliveries and
 * attempts go with their event (ON DELETE CASCADE). */
#define PG_PRUNABLE                                                                                \
    "SELECT seq FROM events e WHERE received_at_us < $1::bigint AND NOT EXISTS (SELECT 1"          \
    " FROM deliveries d WHERE d.event_seq = e.seq"                                                \
    " AND d.state IN ('pending', 'retry', 'waiting', 'in_flight'))"                               \
    " ORDER BY received_at_us LIMIT $2::int"

static bool pg_prune_batch(store_conn *base, int64_t before_us, int limit, bool dry_run,
                           long *removed)
{
    pg_conn *c = pg_of(base);
    char b[24], l[24];
    snprintf(b, sizeof b, "%" PRId64, before_us);
    snprintf(l, sizeof l, "%d", limit);
    const char *params[] = {b, l};
    *removed = 0;
    if (!ensure(c))
        return false;
    PGresult *r = PQexecParams(c->db,
                               dry_run ? "SELECT count(*) FROM (" PG_PRUNABLE ") AS p"
                                       : "WITH p AS (" PG_PRUNABLE " FOR UPDATE SKIP LOCKED)"
                                         " DELETE FROM events WHERE seq IN (SELECT seq FROM p)",
                               2, NULL, params, NULL, NULL, 0);
    bool ok = store_pg_ok(c, r, dry_run ? PGRES_TUPLES_OK : PGRES_COMMAND_OK);
    if (ok)
        *removed = dry_run ? num(PQgetvalue(r, 0, 0)) : num(PQcmdTuples(r));
    PQclear(r);
    if (!ok)
        check_conn(c);
    return ok;
}

static bool pg_measure(store_conn *base, int64_t *bytes, int64_t *oldest_us)
{
    pg_conn *c = pg_of(base);
    if (!ensure(c))
        return false;
    PGresult *r = PQexec(c->db, "SELECT pg_total_relation_size('events')"
                                " + pg_total_relation_size('deliveries')"
                                " + pg_total_relation_size('attempts'),"
                                " coalesce((SELECT received_at_us FROM events"
                                " ORDER BY received_at_us LIMIT 1), 0)");
    bool ok = store_pg_ok(c, r, PGRES_TUPLES_OK) && PQntuples(r) == 1;
    if (ok) {
        *bytes = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *oldest_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    if (!ok)
        check_conn(c);
    return ok;
}

/* ---- the dispatcher's connection ----------------------------------------------------------------- */

static bool pg_reader_open(store_conn *writer, store_conn **out, char *err, size_t errlen)
{
    pg_conn *w = pg_of(writer), *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    c->base.be = &store_pg_backend;
    c->role = PG_READER;
    c->m = w->m;
    snprintf(c->url, sizeof c->url, "%s", w->url);
    snprintf(c->node, sizeof c->node, "%s", w->node);
    ensure(c); /* down now: the scheduler keeps trying */
    *out = &c->base;
    return true;
}

static const char *value(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Hand the rows of a claim or due query to fn (the layout of CLAIM_RETURNING). */
static bool each_due(PGresult *r, store_due_fn *fn, void *ctx)
{
    for (int i = 0; i < PQntuples(r); i++) {
        size_t len = 0;
        unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 14), &len);
        store_due d = {
            .id = strtoll(PQgetvalue(r, i, 0), NULL, 10),
            .attempts = (int)num(PQgetvalue(r, i, 1)),
            .call_key = value(r, i, 2),
            .occurred_at_us = strtoll(PQgetvalue(r, i, 3), NULL, 10),
            .event_id = value(r, i, 4),
            .endpoint = value(r, i, 5),
            .event_type = value(r, i, 6),
            .occurred_at = value(r, i, 7),
            .content_type = value(r, i, 8),
            .call_control_id = value(r, i, 9),
            .call_session_id = value(r, i, 10),
            .call_leg_id = value(r, i, 11),
            .failure_cause = value(r, i, 12),
            .hangup_cause = value(r, i, 13),
            .body = body,
            .body_len = len,
            .lease_token = strtoll(PQgetvalue(r, i, 15), NULL, 10),
        };
        bool more = body != NULL && fn(ctx, &d);
        PQfreemem(body);
        if (!more)
            return body != NULL;
    }
    return true;
}

/* Run statements in one transaction on the dispatcher's connection; rolls back on failure. */
static bool in_transaction(pg_conn *c, bool ok)
{
    if (ok)
        return store_pg_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK);
    if (c->db != NULL && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->db, "ROLLBACK");
        PQclear(r);
    }
    return false;
}

static bool pg_claim(store_conn *base, const char *handler, int limit, bool by_call,
                     int64_t lease_us, store_due_fn *fn, void *ctx)
{
    pg_conn *c = pg_of(base);
    char lim[24], lease[24], recheck[24];
    snprintf(lim, sizeof lim, "%d", limit);
    snprintf(lease, sizeof lease, "%" PRId64, lease_us);
    snprintf(recheck, sizeof recheck, "%" PRId64, (int64_t)DISPATCH_PARK_RECHECK_S * 1000000);
    const char *params[] = {handler, lim, c->node, lease};
    if (!ensure(c))
        return false;
    PGresult *r = NULL;
    bool ok;
    if (!by_call) {
        ok = exec_prepared(c, "claim", 4, params, NULL, NULL, PGRES_TUPLES_OK, &r);
    } else { /* one claimer per handler at a time, with a snapshot taken after the lock */
        const char *lock[] = {handler};
        const char *park[] = {handler, recheck};
        ok = store_pg_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK)
             && exec_prepared(c, "lock_handler", 1, lock, NULL, NULL, PGRES_TUPLES_OK, NULL)
             && exec_prepared(c, "park", 2, park, NULL, NULL, PGRES_COMMAND_OK, NULL)
             && exec_prepared(c, "claim_ordered", 4, params, NULL, NULL, PGRES_TUPLES_OK, &r);
        ok = in_transaction(c, ok);
    }
    if (!ok) {
        PQclear(r);
        return false;
    }
    ok = each_due(r, fn, ctx);
    PQclear(r);
    return ok;
}

static bool pg_wake_lane(store_conn *base, const char *handler, const char *call_key)
{
    pg_conn *c = pg_of(base);
    if (call_key == NULL)
        return true;
    const char *lock[] = {handler};
    const char *wake[] = {handler, call_key};
    bool ok = ensure(c) && store_pg_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK)
              && exec_prepared(c, "lock_handler", 1, lock, NULL, NULL, PGRES_TUPLES_OK, NULL)
              && exec_prepared(c, "wake", 2, wake, NULL, NULL, PGRES_COMMAND_OK, NULL)
              && store_pg_exec(c, "SELECT pg_notify('" PG_CHANNEL "', '')", 0, NULL, PGRES_TUPLES_OK);
    return in_transaction(c, ok);
}

static long pg_rescue(store_conn *base, const char *handler, int max_attempts)
{
    pg_conn *c = pg_of(base);
    char max[24], started[24];
    snprintf(max, sizeof max, "%d", max_attempts);
    PGresult *r = NULL;
    if (!ensure(c))
        return -1;
    snprintf(started, sizeof started, "%" PRId64, c->node_locked ? c->started_db_us : 0);
    const char *params[] = {handler, max, c->node, started};
    if (!exec_prepared(c, "rescue", 4, params, NULL, NULL, PGRES_TUPLES_OK, &r))
        return -1;
    long n = PQntuples(r);
    for (long i = 0; i < n; i++) { /* a dead one no longer blocks its call */
        if (strcmp(PQgetvalue(r, (int)i, 0), "dead") == 0 && !PQgetisnull(r, (int)i, 1))
            pg_wake_lane(base, handler, PQgetvalue(r, (int)i, 1));
    }
    PQclear(r);
    if (n > 0) {
        if (c->m != NULL)
            atomic_fetch_add(&c->m->rescued, (uint64_t)n);
        log_json(LOG_WARN, "deliveries whose claim ran out are owed again",
                 json_pack("{s:s, s:i}", "handler", handler, "deliveries", (int)n));
        store_pg_exec(c, "SELECT pg_notify('" PG_CHANNEL "', '')", 0, NULL, PGRES_TUPLES_OK);
    }
    return n;
}

static bool pg_gauges(store_conn *base, store_gauges *out)
{
    pg_conn *c = pg_of(base);
    PGresult *r = NULL;
    if (!ensure(c) || !exec_prepared(c, "gauges", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &r))
        return false;
    *out = (store_gauges){strtoll(PQgetvalue(r, 0, 0), NULL, 10), strtoll(PQgetvalue(r, 0, 1), NULL, 10),
                          strtoll(PQgetvalue(r, 0, 2), NULL, 10)};
    PQclear(r);
    return true;
}

static bool pg_owed_by_handler(store_conn *base, store_count_fn *fn, void *ctx)
{
    pg_conn *c = pg_of(base);
    PGresult *r = NULL;
    if (!ensure(c) || !exec_prepared(c, "owed", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &r))
        return false;
    for (int i = 0; i < PQntuples(r); i++)
        fn(ctx, PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return true;
}

static int pg_wait_fd(store_conn *base)
{
    pg_conn *c = pg_of(base);
    return c->db != NULL ? PQsocket(c->db) : -1;
}

static void pg_drain_notices(store_conn *base)
{
    pg_conn *c = pg_of(base);
    if (c->db == NULL)
        return;
    if (PQconsumeInput(c->db) != 1) {
        set_err(c, "PostgreSQL", PQerrorMessage(c->db));
        check_conn(c);
        return;
    }
    for (PGnotify *n = PQnotifies(c->db); n != NULL; n = PQnotifies(c->db))
        PQfreemem(n);
}

const store_backend store_pg_backend = {
    .version = STORE_BACKEND_VERSION,
    .scheme = "postgresql",
    .alias = "postgres",
    .caps = 0,
    .open = pg_open,
    .close = store_pg_close,
    .errmsg = store_pg_errmsg,
    .recover = pg_recover,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    /* the per-job ops, due and blocked: write_batch and claim stand for them */
    .prune_batch = pg_prune_batch,
    .compact = NULL,
    .measure = pg_measure,
    .write_batch = pg_write_batch,
    .idle = NULL,
    .reader_open = pg_reader_open,
    .gauges = pg_gauges,
    .owed_by_handler = pg_owed_by_handler,
    .claim = pg_claim,
    .wake_lane = pg_wake_lane,
    .rescue = pg_rescue,
    .wait_fd = pg_wait_fd,
    .drain_notices = pg_drain_notices,
    .view_open = store_pg_view_open,
    .report = store_pg_report,
    .replay = store_pg_replay,
    .import = store_pg_import,
    .backup = NULL,
};
