/*
 * api.c - the console's JSON API under /api/v1: the store's reports as JSON, and replay.
 *
 *   GET  /events?type=&endpoint=&call=&since=&until=&parse=&limit=&before=   newest first, paged
 *   GET  /events/{id}[?endpoint=]       one event, its body, deliveries and every attempt
 *   GET  /events/{id}/raw               the stored bytes, exactly
 *   GET  /calls/{id}                    a call's events by occurred_at, and its deliveries
 *   GET  /deliveries?state=&handler=&event=&limit=
 *   POST /replay                        {"event": ID} or {"type","since","until","state","handler"}
 *   GET  /stats?since=1h&bucket=60      charts' numbers: events per type and bucket, siprec.failed
 *                                       causes, attempt outcomes, queue depth, dead letters
 *   GET  /openapi.json                  all of the above, as OpenAPI 3.1 (web/openapi.json)
 * The stream (/stream) is console.c's. Every read goes through store_view_report on the
 * console's own connection (console_with_view), so SQLite and PostgreSQL answer alike; the keys
 * are the reports' column names (store.h), a contract like hookd(1)'s --json.
 * Errors: {"error": reason, "message": what to change}, with the status that fits.
 */
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "log.h"
#include "route.h"
#include "states.h"

#define DEFAULT_EVENTS 50
#define DEFAULT_DELIVERIES 100

bool console_utf8_valid(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p, *end = s + len;
    while (s < end) {
        unsigned char c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
        if (n == 0 || c < 0xc2 || c > 0xf4 || (size_t)(end - s) <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return false;
        }
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90)
            || (c == 0xf4 && s[1] >= 0x90))
            return false; /* overlong, a surrogate, or past U+10FFFF */
        s += n + 1;
    }
    return true;
}

/* Text as a JSON string; bytes that are not UTF-8 become U+FFFD (a stored field is shown, never
 * dropped). */
static json_t *text_json(const char *p, size_t len)
{
    if (console_utf8_valid(p, len))
        return json_stringn(p, len);
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return json_null();
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        while (n <= 4 && i + n <= len && !console_utf8_valid(p + i, n))
            n++;
        if (n <= 4 && i + n <= len) {
            memcpy(out + k, p + i, n);
            k += n;
            i += n;
        } else {
            static const char replacement[3] = {'\xef', '\xbf', '\xbd'}; /* U+FFFD */
            memcpy(out + k, replacement, sizeof replacement);
            k += sizeof replacement;
            i++;
        }
    }
    json_t *j = json_stringn(out, k);
    free(out);
    return j != NULL ? j : json_null();
}

static json_t *value_json(const store_value *v)
{
    switch (v->type) {
    case STORE_INT: return json_integer(v->i);
    case STORE_REAL: return json_real(v->r);
    case STORE_TEXT: /* fall through: a blob is shown as text too (U+FFFD where it is not) */
    case STORE_BLOB: return text_json(v->p, v->len);
    default: return json_null();
    }
}

/* ---- running reports ---------------------------------------------------------------------- */

typedef struct rows {
    json_t *list;              /* objects, one per row */
    const char *const *skip;   /* columns left out of the objects (NULL-terminated) */
    int64_t last_seq;          /* of the last row kept, when there is a "seq" column */
    size_t n;
    size_t max;                /* 0: every row */
} rows;

static bool skipped(const rows *r, const char *name)
{
    for (size_t i = 0; r->skip != NULL && r->skip[i] != NULL; i++) {
        if (strcmp(r->skip[i], name) == 0)
            return true;
    }
    return false;
}

static bool collect(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    rows *r = ctx;
    if (r->max > 0 && r->n >= r->max) {
        r->n++; /* one more than asked for: there is a next page */
        return false;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < ncol; i++) {
        if (strcmp(names[i], "seq") == 0 && v[i].type == STORE_INT)
            r->last_seq = v[i].i;
        if (!skipped(r, names[i]))
            json_object_set_new(o, names[i], value_json(&v[i]));
    }
    json_array_append_new(r->list, o);
    r->n++;
    return true;
}

typedef struct report_call {
    store_report which;
    const char *const *params;
    size_t n;
    rows *out;
} report_call;

static bool run_report(void *ctx, store_view *v)
{
    report_call *rc = ctx;
    return store_view_report(v, rc->which, rc->params, rc->n, collect, rc->out);
}

/* Rows of a report into out->list (created here); false when the store failed. */
static bool report(console *c, store_report which, const char *const *params, size_t n, rows *out)
{
    out->list = json_array();
    report_call rc = {which, params, n, out};
    return console_with_view(c, run_report, &rc);
}

/* ---- answers ------------------------------------------------------------------------------ */

static void fail(api_response *out, unsigned status, const char *reason, const char *message)
{
    json_decref(out->json);
    out->status = status;
    out->reason = reason;
    out->json = json_pack("{s:s, s:s}", "error", reason, "message", message);
}

static void store_down(api_response *out)
{
    fail(out, 503, "store_unavailable", "the store cannot be read right now; try again");
}

static const char *arg(const api_request *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* A time parameter (Unix seconds, ISO 8601, or an age like 1h) into text microseconds. */
static bool time_arg(const api_request *r, const char *name, int64_t fallback, int64_t *us,
                     api_response *out)
{
    const char *v = arg(r, name);
    if (v == NULL) {
        *us = fallback;
        return true;
    }
    if (!config_parse_time(v, now_us() / 1000000, us)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: expected Unix seconds, an ISO 8601 time or an age like 30m, 2h, 7d", name);
        fail(out, 400, "bad_request", msg);
        return false;
    }
    return true;
}

static bool count_arg(const api_request *r, const char *name, long dflt, long max, long *n,
                      api_response *out)
{
    const char *v = arg(r, name);
    char *end = NULL;
    *n = v == NULL ? dflt : strtol(v, &end, 10);
    if (v != NULL && (end == v || *end != '\0' || *n < 1 || *n > max)) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: expected a number from 1 to %ld", name, max);
        fail(out, 400, "bad_request", msg);
        return false;
    }
    return true;
}

static void events_list(const api_request *r, api_response *out)
{
    int64_t since, until;
    long limit;
    const char *parse = arg(r, "parse"), *before = arg(r, "before");
    if (!time_arg(r, "since", 0, &since, out) || !time_arg(r, "until", INT64_MAX, &until, out)
        || !count_arg(r, "limit", DEFAULT_EVENTS, SRV_CONSOLE_PAGE_MAX, &limit, out))
        return;
    if (parse != NULL && strcmp(parse, "parsed") != 0 && strcmp(parse, "unparsed") != 0)
        return fail(out, 400, "bad_request", "parse: expected parsed or unparsed");
    if (before != NULL && before[strspn(before, "0123456789")] != '\0')
        return fail(out, 400, "bad_request", "before: expected the \"next\" of an earlier page");
    char since_t[24], until_t[24], limit_t[24];
    snprintf(since_t, sizeof since_t, "%" PRId64, since);
    snprintf(until_t, sizeof until_t, "%" PRId64, until);
    snprintf(limit_t, sizeof limit_t, "%ld", limit + 1);
    const char *params[] = {arg(r, "type"), arg(r, "call"), since_t, arg(r, "endpoint"),
                            limit_t, until == INT64_MAX ? NULL : until_t, parse, before};
    static const char *const skip[] = {"seq", NULL};
    rows rs = {.skip = skip, .max = (size_t)limit};
    if (!report(r->c, REPORT_CONSOLE_EVENTS, params, 8, &rs)) {
        json_decref(rs.list);
        return store_down(out);
    }
    json_t *next = json_null();
    if (rs.n > (size_t)limit) {
        char cursor[24];
        snprintf(cursor, sizeof cursor, "%" PRId64, rs.last_seq);
        json_decref(next);
        next = json_string(cursor);
    }
    out->status = 200;
    out->json = json_pack("{s:o, s:o}", "events", rs.list, "next", next);
}

/* ---- one event ---------------------------------------------------------------------------- */

typedef struct one_event {
    const char *id, *endpoint;
    json_t *event;             /* the first row's fields */
    json_t *also;              /* endpoints of other rows with this id */
    int64_t seq;
    const char *seq_hint;      /* ?seq=, or NULL */
    unsigned char *body;       /* the first row's body, exactly */
    size_t body_len;
} one_event;

/* REPORT_CONSOLE_EVENT's rows: the first is the event, the others only say where else it is. */
static bool event_row(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    one_event *e = ctx;
    bool first = e->event == NULL;
    if (first)
        e->event = json_object();
    for (size_t i = 0; i < ncol; i++) {
        if (!first) {
            if (strcmp(names[i], "endpoint") == 0)
                json_array_append_new(e->also, value_json(&v[i]));
        } else if (strcmp(names[i], "seq") == 0) {
            e->seq = v[i].i;
        } else if (strcmp(names[i], "body") == 0) {
            e->body = malloc(v[i].len + 1);
            if (e->body != NULL && v[i].len > 0)
                memcpy(e->body, v[i].p, v[i].len);
            e->body_len = e->body != NULL ? v[i].len : 0;
        } else {
            json_object_set_new(e->event, names[i], value_json(&v[i]));
        }
    }
    return true;
}

/* With the seq a link carries, SQLite fetches the row by its key instead of scanning its call
 * index for the id (issue #11: there is no index on the id alone); a seq that is not this id's
 * (an old link, a pruned event) finds nothing, and the id is looked up without it. */
static bool read_event(void *ctx, store_view *v)
{
    one_event *e = ctx;
    const char *params[] = {e->id, e->endpoint, e->seq_hint};
    if (!store_view_report(v, REPORT_CONSOLE_EVENT, params, 3, event_row, e))
        return false;
    if (e->event != NULL || e->seq_hint == NULL)
        return true;
    params[2] = NULL;
    return store_view_report(v, REPORT_CONSOLE_EVENT, params, 3, event_row, e);
}

static bool find_event(const api_request *r, const char *id, one_event *e, api_response *out)
{
    e->id = id;
    e->endpoint = arg(r, "endpoint");
    e->seq_hint = arg(r, "seq");
    if (e->seq_hint != NULL
        && (e->seq_hint[0] == '\0' || strlen(e->seq_hint) > 18
            || strspn(e->seq_hint, "0123456789") != strlen(e->seq_hint))) {
        fail(out, 400, "bad_request", "seq: expected the event's seq, digits");
        return false;
    }
    e->also = json_array();
    if (!console_with_view(r->c, read_event, e)) {
        store_down(out);
        return false;
    }
    if (e->event == NULL) {
        fail(out, 404, "not_found", "no stored event has this id");
        return false;
    }
    return true;
}

static void event_free(one_event *e)
{
    json_decref(e->event);
    json_decref(e->also);
    free(e->body);
}

/* Each delivery of the event with its attempts (attempts are few: max_attempts per delivery). */
static bool add_attempts(console *c, json_t *deliveries)
{
    size_t i;
    json_t *d;
    json_array_foreach(deliveries, i, d) {
        char id[24];
        snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(d, "id")));
        const char *params[] = {id};
        rows at = {0};
        if (!report(c, REPORT_ATTEMPTS_OF, params, 1, &at)) {
            json_decref(at.list);
            return false;
        }
        json_object_set_new(d, "attempts", at.list);
    }
    return true;
}

static void event_show(const api_request *r, const char *id, api_response *out)
{
    one_event e = {0};
    if (!find_event(r, id, &e, out)) {
        event_free(&e);
        return;
    }
    if (e.body != NULL && console_utf8_valid((const char *)e.body, e.body_len)) {
        json_object_set_new(e.event, "body", json_stringn((const char *)e.body, e.body_len));
    } else if (e.body != NULL) {
        size_t cap = sodium_base64_ENCODED_LEN(e.body_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        if (b64 != NULL) {
            sodium_bin2base64(b64, cap, e.body, e.body_len, sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(e.event, "body_base64", json_string(b64));
            free(b64);
        }
    }
    json_object_set_new(e.event, "body_bytes", json_integer((json_int_t)e.body_len));
    if (json_array_size(e.also) > 0)
        json_object_set(e.event, "also_at_endpoints", e.also);
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRId64, e.seq);
    const char *params[] = {seq};
    static const char *const skip[] = {"event_id", "event_type", NULL};
    rows ds = {.skip = skip};
    if (!report(r->c, REPORT_EVENT_DELIVERIES, params, 1, &ds) || !add_attempts(r->c, ds.list)) {
        json_decref(ds.list);
        event_free(&e);
        return store_down(out);
    }
    json_object_set_new(e.event, "deliveries", ds.list);
    out->status = 200;
    out->json = json_incref(e.event);
    event_free(&e);
}

static void event_raw(const api_request *r, const char *id, api_response *out)
{
    one_event e = {0};
    if (!find_event(r, id, &e, out)) {
        event_free(&e);
        return;
    }
    out->status = 200;
    out->raw = (char *)e.body;
    out->raw_len = e.body_len;
    out->raw_type = "text/plain; charset=utf-8";
    if (out->raw == NULL) {
        out->raw = malloc(1);
        out->raw_len = 0;
    }
    e.body = NULL;
    event_free(&e);
}

/* ---- a call ------------------------------------------------------------------------------- */

static void call_show(const api_request *r, const char *id, api_response *out)
{
    const char *params[] = {id};
    static const char *const skip[] = {"seq", NULL};
    rows ev = {.skip = skip}, ds = {0};
    if (!report(r->c, REPORT_CONSOLE_CALL, params, 1, &ev)
        || !report(r->c, REPORT_CALL_DELIVERIES, params, 1, &ds)) {
        json_decref(ev.list);
        json_decref(ds.list);
        return store_down(out);
    }
    if (json_array_size(ev.list) == 0) {
        json_decref(ev.list);
        json_decref(ds.list);
        return fail(out, 404, "not_found", "no stored event belongs to this call");
    }
    /* ms from the first event, and from the one before: the timeline's spacing */
    json_int_t t0 = json_integer_value(json_object_get(json_array_get(ev.list, 0), "t_us")), prev = t0;
    size_t i;
    json_t *e;
    json_array_foreach(ev.list, i, e) {
        json_int_t t = json_integer_value(json_object_get(e, "t_us"));
        json_object_set_new(e, "t_ms", json_integer((t - t0) / 1000));
        json_object_set_new(e, "gap_ms", json_integer((t - prev) / 1000));
        json_object_del(e, "t_us");
        prev = t;
    }
    out->status = 200;
    out->json = json_pack("{s:s, s:o, s:o}", "call", id, "events", ev.list, "deliveries", ds.list);
}

/* ---- deliveries --------------------------------------------------------------------------- */

static void deliveries_list(const api_request *r, api_response *out)
{
    long limit;
    const char *state = arg(r, "state");
    delivery_state ignored;
    if (state != NULL && !delivery_state_parse(state, &ignored))
        return fail(out, 400, "bad_request",
                    "state: expected pending, waiting, in_flight, succeeded, retry, dead or replayed");
    if (!count_arg(r, "limit", DEFAULT_DELIVERIES, SRV_CONSOLE_PAGE_MAX, &limit, out))
        return;
    char limit_t[24];
    snprintf(limit_t, sizeof limit_t, "%ld", limit);
    const char *params[] = {state, arg(r, "handler"), arg(r, "event"), limit_t};
    rows ds = {0};
    if (!report(r->c, REPORT_DELIVERIES_LIST, params, 4, &ds)) {
        json_decref(ds.list);
        return store_down(out);
    }
    out->status = 200;
    out->json = json_pack("{s:o}", "deliveries", ds.list);
}

/* ---- replay ------------------------------------------------------------------------------- */

static size_t route(void *ctx, const char *endpoint, const char *event_type, const char **names,
                    size_t cap)
{
    return route_event(ctx, endpoint, event_type, names, cap);
}

typedef struct replay_call {
    const store_replay *spec;
    const config *cfg;
    store_replay_counts n;
} replay_call;

static bool run_replay(void *ctx, store_view *v)
{
    replay_call *rc = ctx;
    return store_view_replay(v, rc->spec, route, (void *)rc->cfg, &rc->n);
}

/* A JSON string member, or NULL; *bad when present but not a non-empty string. */
static const char *member(json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 512) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

static bool time_member(const char *text, int64_t fallback, int64_t *us)
{
    *us = fallback;
    return text == NULL || config_parse_time(text, now_us() / 1000000, us);
}

static void replay(const api_request *r, api_response *out)
{
    json_error_t jerr;
    json_t *body = r->body != NULL ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return fail(out, 400, "bad_request",
                    "expected a JSON object: {\"event\": ID} or {\"type\": T, \"since\": \"1h\", "
                    "\"until\": ..., \"state\": \"dead\", \"handler\": H}");
    }
    bool bad = false;
    const config *cfg = console_config(r->c);
    store_replay spec = {.event_id = member(body, "event", &bad), .type = member(body, "type", &bad),
                         .state = member(body, "state", &bad), .handler = member(body, "handler", &bad),
                         .now_us = now_us()};
    const char *since = member(body, "since", &bad), *until = member(body, "until", &bad);
    delivery_state st;
    const char *why = NULL;
    if (bad)
        why = "event, type, since, until, state and handler are strings";
    else if (spec.event_id == NULL && spec.type == NULL && spec.state == NULL)
        why = "give event, or type and since, or state (e.g. \"dead\")";
    else if (spec.state != NULL && !delivery_state_parse(spec.state, &st))
        why = "state: expected pending, waiting, in_flight, succeeded, retry, dead or replayed";
    else if (spec.handler != NULL && route_handler(cfg, spec.handler) == NULL)
        why = "handler: no handler of this name is configured";
    else if (spec.event_id == NULL && spec.state == NULL && since == NULL)
        why = "replaying by type needs since (e.g. \"1h\")";
    else if (!time_member(since, 0, &spec.since_us) || !time_member(until, spec.now_us + 1, &spec.until_us))
        why = "since/until: expected Unix seconds, an ISO 8601 time or an age like 30m, 2h, 7d";
    if (why != NULL) {
        json_decref(body);
        return fail(out, 400, "bad_request", why);
    }
    replay_call rc = {.spec = &spec, .cfg = cfg};
    bool ok = console_with_view(r->c, run_replay, &rc);
    if (!ok) {
        json_decref(body);
        return store_down(out);
    }
    if (rc.n.queued > 0)
        console_kick_dispatch(r->c);
    log_json(LOG_NOTICE, "console: replay",
             json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I}", "event", spec.event_id, "type",
                       spec.type, "state", spec.state, "handler", spec.handler, "matched",
                       (json_int_t)rc.n.matched, "events", (json_int_t)rc.n.events, "queued",
                       (json_int_t)rc.n.queued));
    json_decref(body);
    if (spec.event_id != NULL && rc.n.matched == 0)
        return fail(out, 404, "not_found", "no stored event has this id");
    out->status = 200;
    out->json = json_pack("{s:I, s:I, s:I}", "queued", (json_int_t)rc.n.queued, "events",
                          (json_int_t)rc.n.events, "matched", (json_int_t)rc.n.matched);
}

/* ---- stats -------------------------------------------------------------------------------- */

/* Rows of (bucket_us, NAME, COUNT) into {"names": [...], "buckets": [{"t", "counts": {}}]} with
 * every bucket from since to now present. */
static json_t *series(json_t *list, const char *name_key, const char *count_key, int64_t since_us,
                      int64_t bucket_us, int64_t end_us)
{
    json_t *names = json_array(), *buckets = json_array(), *seen = json_object();
    int64_t first = since_us / bucket_us * bucket_us;
    size_t nb = (size_t)((end_us - first) / bucket_us + 1);
    for (size_t b = 0; b < nb; b++) {
        char t[HOOKD_ISO8601_BUFSIZE];
        hookd_iso8601_format(first + (int64_t)b * bucket_us, t, sizeof t);
        json_array_append_new(buckets, json_pack("{s:s, s:o}", "t", t, "counts", json_object()));
    }
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        int64_t at = json_integer_value(json_object_get(row, "bucket_us"));
        const char *name = json_string_value(json_object_get(row, name_key));
        if (name == NULL || at < first)
            continue;
        size_t b = (size_t)((at - first) / bucket_us);
        if (b >= nb)
            continue;
        if (json_object_get(seen, name) == NULL) {
            json_object_set_new(seen, name, json_true());
            json_array_append_new(names, json_string(name));
        }
        json_object_set(json_object_get(json_array_get(buckets, b), "counts"), name,
                        json_object_get(row, count_key));
    }
    json_decref(seen);
    return json_pack("{s:o, s:o}", "names", names, "buckets", buckets);
}

typedef struct queue_points {
    json_t *list;
    int64_t first, bucket_us;
} queue_points;

/* The largest sample in each bucket: a chart of the worst moment, not an average. */
static void queue_point(void *ctx, int64_t t_us, int64_t owed, int64_t dead)
{
    queue_points *q = ctx;
    int64_t b = (t_us - q->first) / q->bucket_us * q->bucket_us + q->first;
    char t[HOOKD_ISO8601_BUFSIZE];
    hookd_iso8601_format(b, t, sizeof t);
    json_t *last = json_array_get(q->list, json_array_size(q->list) - 1);
    if (last != NULL && strcmp(json_string_value(json_object_get(last, "t")), t) == 0) {
        if (owed > json_integer_value(json_object_get(last, "owed")))
            json_object_set_new(last, "owed", json_integer(owed));
        if (dead > json_integer_value(json_object_get(last, "dead")))
            json_object_set_new(last, "dead", json_integer(dead));
        return;
    }
    json_array_append_new(q->list, json_pack("{s:s, s:I, s:I}", "t", t, "owed", (json_int_t)owed,
                                             "dead", (json_int_t)dead));
}

static void stats(const api_request *r, api_response *out)
{
    int64_t now = now_us(), since;
    long bucket;
    if (!time_arg(r, "since", now - 3600LL * 1000000, &since, out)
        || !count_arg(r, "bucket", 60, 86400, &bucket, out))
        return;
    if (since < now - 31LL * 86400 * 1000000 || since >= now)
        return fail(out, 400, "bad_request", "since: at most 31 days ago, and in the past");
    int64_t bucket_us = (int64_t)bucket * 1000000;
    if ((now - since) / bucket_us + 1 > SRV_CONSOLE_MAX_BUCKETS)
        return fail(out, 400, "bad_request", "too many buckets: make bucket larger or since shorter (at most 1440)");
    char since_t[24], bucket_t[24];
    snprintf(since_t, sizeof since_t, "%" PRId64, since);
    snprintf(bucket_t, sizeof bucket_t, "%" PRId64, bucket_us);
    const char *p2[] = {since_t, bucket_t};
    rows ev = {0}, causes = {0}, outcomes = {0}, dead = {0};
    bool ok = report(r->c, REPORT_STATS_BUCKETS, p2, 2, &ev)
              && report(r->c, REPORT_STATS_BY_CAUSE, p2, 1, &causes)
              && report(r->c, REPORT_STATS_OUTCOMES, p2, 2, &outcomes)
              && report(r->c, REPORT_DEAD_GROUPS, NULL, 0, &dead);
    if (!ok) {
        json_decref(ev.list);
        json_decref(causes.list);
        json_decref(outcomes.list);
        json_decref(dead.list);
        return store_down(out);
    }
    json_int_t total = 0;
    size_t i;
    json_t *row;
    json_array_foreach(ev.list, i, row)
        total += json_integer_value(json_object_get(row, "events"));
    metrics *m = console_metrics(r->c);
    queue_points q = {json_array(), since / bucket_us * bucket_us, bucket_us};
    console_samples(r->c, since, queue_point, &q);
    char since_iso[HOOKD_ISO8601_BUFSIZE], now_iso[HOOKD_ISO8601_BUFSIZE];
    hookd_iso8601_format(since, since_iso, sizeof since_iso);
    hookd_iso8601_format(now, now_iso, sizeof now_iso);
    out->status = 200;
    out->json = json_pack(
        "{s:s, s:s, s:i, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:o, s:o}", "since", since_iso,
        "until", now_iso, "bucket", (int)bucket, "events_total", total, "events",
        series(ev.list, "event_type", "events", since, bucket_us, now), "failure_causes",
        causes.list, "outcomes", series(outcomes.list, "outcome", "attempts", since, bucket_us, now),
        "queue", "owed", (json_int_t)atomic_load(&m->queue_depth), "oldest_owed_s",
        (json_int_t)atomic_load(&m->oldest_pending_s), "dead", (json_int_t)atomic_load(&m->dead_letters),
        "queue_series", q.list, "dead_letters", dead.list);
    json_decref(ev.list);
    json_decref(outcomes.list);
}

/* ---- routing ------------------------------------------------------------------------------ */

void api_handle(const api_request *r, api_response *out)
{
    out->status = 404;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    const char *p = r->path;
    if (strcmp(p, "/openapi.json") == 0 && get) {
        const console_asset *a = console_asset_find("/openapi.json");
        out->raw = a != NULL ? malloc(a->len) : NULL;
        if (out->raw != NULL) {
            memcpy(out->raw, a->data, a->len);
            out->raw_len = a->len;
            out->raw_type = "application/json";
            out->status = 200;
            return;
        }
    } else if (strcmp(p, "/events") == 0 && get) {
        return events_list(r, out);
    } else if (strncmp(p, "/events/", 8) == 0 && p[8] != '\0' && get) {
        size_t n = strlen(p + 8);
        char *id = strdup(p + 8);
        if (id == NULL)
            return fail(out, 500, "other", "out of memory");
        if (n > 4 && strcmp(id + n - 4, "/raw") == 0) {
            id[n - 4] = '\0';
            event_raw(r, id, out);
        } else {
            event_show(r, id, out);
        }
        free(id);
        return;
    } else if (strncmp(p, "/calls/", 7) == 0 && p[7] != '\0' && get) {
        return call_show(r, p + 7, out);
    } else if (strcmp(p, "/deliveries") == 0 && get) {
        return deliveries_list(r, out);
    } else if (strcmp(p, "/stats") == 0 && get) {
        return stats(r, out);
    } else if (strcmp(p, "/replay") == 0) {
        if (strcmp(r->method, "POST") != 0)
            return fail(out, 405, "method_not_allowed", "POST /api/v1/replay");
        return replay(r, out);
    }
    if (get || strcmp(r->method, "POST") == 0)
        return fail(out, 404, "not_found", "no such API route (see /api/v1/openapi.json)");
    fail(out, 405, "method_not_allowed", "GET or POST");
}
