/*
 * event.c - the fields of a Telnyx or Standard Webhooks event, out of its JSON body.
 *
 * Parsing runs after verification and only reads: the raw body stays the record. Limits first
 * (size, nesting), then the one-pass view of the members kept (jsonview.c), or jansson's whole
 * document where that pass is not sure (and for every error: its messages and offsets are
 * jansson's), then each known field, checked for type and length. Anything else in the body is
 * left alone, since senders add fields and event types all the time.
 *
 * Objects are view handles: 0 the root, k > 0 the object that is member k - 1, NONE absent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

const char *hookd_event_format_name(hookd_event_format f)
{
    switch (f) {
    case HOOKD_FORMAT_TELNYX_V2: return "telnyx-v2";
    case HOOKD_FORMAT_TELNYX_V2_BARE: return "telnyx-v2-bare";
    case HOOKD_FORMAT_TELNYX_V1: return "telnyx-v1";
    case HOOKD_FORMAT_STANDARD: return "standard";
    case HOOKD_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

void hookd_event_free(hookd_event *ev)
{
    if (ev == NULL)
        return;
    char **fields[] = {&ev->record_type,     &ev->event_type,    &ev->id,
                       &ev->occurred_at,     &ev->call_control_id, &ev->call_leg_id,
                       &ev->call_session_id, &ev->connection_id, &ev->client_state,
                       &ev->failure_cause,   &ev->hangup_cause,  &ev->hangup_source,
                       &ev->sip_hangup_cause, &ev->delivered_to};
    for (size_t i = 0; i < HK_ARRAY_LEN(fields); i++) {
        char *text = *fields[i];
        free(text);
    }
    free(ev->client_state_raw);
    memset(ev, 0, sizeof *ev);
}

/* ---- errors ----------------------------------------------------------------------------- */

#define NONE (-1)

typedef struct parser {
    hk_jview view;
    hookd_event *ev;
    hookd_parse_error *perr;
    hookd_parse_error local;
} parser;

static hookd_err failf(parser *p, hookd_err e, const char *field, size_t offset, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static hookd_err failf(parser *p, hookd_err e, const char *field, size_t offset, const char *fmt,
                       ...)
{
    p->perr->err = e;
    p->perr->field = field;
    p->perr->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->perr->text, sizeof p->perr->text, fmt, ap);
    va_end(ap);
    return e;
}

/* ---- fields ----------------------------------------------------------------------------- */

/* obj[key]: the member, or NULL when obj or the member is absent or the member is null. */
static const hk_jmember *member(const parser *p, int obj, const char *key)
{
    int h = obj != NONE ? hk_jview_get(&p->view, obj, key) : 0;
    const hk_jmember *m = h > 0 ? &p->view.m[h - 1] : NULL;
    return m != NULL && m->type != HK_J_NULL ? m : NULL;
}

/* The string at obj[key] into *out (NULL when absent or null). field names it in errors. */
static hookd_err take_str(parser *p, int obj, const char *key, const char *field, size_t max,
                          char **out)
{
    if (*out != NULL)
        return HOOKD_OK;
    const hk_jmember *v = member(p, obj, key);
    if (v == NULL)
        return HOOKD_OK;
    if (v->type != HK_J_STRING)
        return failf(p, HOOKD_ERR_FIELD_TYPE, field, 0, "%s: expected a string", field);
    if (v->len > max)
        return failf(p, HOOKD_ERR_FIELD_TOO_LONG, field, 0, "%s: longer than %zu bytes", field, max);
    *out = malloc(v->len + 1);
    if (*out == NULL)
        return failf(p, HOOKD_ERR_NO_MEMORY, field, 0, "out of memory");
    memcpy(*out, v->str, v->len);
    (*out)[v->len] = '\0';
    return HOOKD_OK;
}

/* An object at obj[key], NONE when absent or null; an error for any other type. */
static hookd_err take_obj(parser *p, int obj, const char *key, const char *field, int *out)
{
    *out = NONE;
    const hk_jmember *v = member(p, obj, key);
    if (v == NULL)
        return HOOKD_OK;
    if (v->type != HK_J_OBJECT)
        return failf(p, HOOKD_ERR_FIELD_TYPE, field, 0, "%s: expected an object", field);
    *out = (int)(v - p->view.m) + 1;
    return HOOKD_OK;
}

static hookd_err take_time(parser *p, int obj, const char *key, const char *field)
{
    hookd_err e = take_str(p, obj, key, field, HOOKD_MAX_FIELD_LEN, &p->ev->occurred_at);
    if (e != HOOKD_OK || p->ev->occurred_at == NULL)
        return e;
    const char *t = p->ev->occurred_at;
    if (hookd_iso8601_parse(t, strlen(t), &p->ev->occurred_at_us) != HOOKD_OK)
        return failf(p, HOOKD_ERR_TIME_MALFORMED, field, 0, "%s: not an ISO 8601 date-time", field);
    return HOOKD_OK;
}

/* The call fields, looked up in each of the objects given in turn (payload first, then the
 * event itself, where older and bare shapes keep them). */
static hookd_err take_call_fields(parser *p, int first, int second)
{
    hookd_event *ev = p->ev;
    const struct {
        const char *key;
        char **out;
        size_t max;
    } fields[] = {
        {"call_control_id", &ev->call_control_id, HOOKD_MAX_FIELD_LEN},
        {"call_leg_id", &ev->call_leg_id, HOOKD_MAX_FIELD_LEN},
        {"call_session_id", &ev->call_session_id, HOOKD_MAX_FIELD_LEN},
        {"connection_id", &ev->connection_id, HOOKD_MAX_FIELD_LEN},
        {"client_state", &ev->client_state, HOOKD_MAX_LONG_FIELD_LEN},
        {"failure_cause", &ev->failure_cause, HOOKD_MAX_FIELD_LEN},
        {"hangup_cause", &ev->hangup_cause, HOOKD_MAX_FIELD_LEN},
        {"hangup_source", &ev->hangup_source, HOOKD_MAX_FIELD_LEN},
        {"sip_hangup_cause", &ev->sip_hangup_cause, HOOKD_MAX_FIELD_LEN},
    };
    int objs[2] = {first, second};
    for (size_t o = 0; o < 2; o++) {
        for (size_t i = 0; i < HK_ARRAY_LEN(fields); i++) {
            hookd_err e = take_str(p, objs[o], fields[i].key, fields[i].key, fields[i].max,
                                   fields[i].out);
            if (e != HOOKD_OK)
                return e;
        }
    }
    return HOOKD_OK;
}

/* client_state is base64 of what the application put in; decode it when it is strict base64. */
static hookd_err decode_client_state(parser *p)
{
    const char *cs = p->ev->client_state;
    if (cs == NULL)
        return HOOKD_OK;
    size_t n = strlen(cs), cap = n / 4 * 3 + 1, got = 0;
    uint8_t *raw = malloc(cap);
    if (raw == NULL)
        return failf(p, HOOKD_ERR_NO_MEMORY, "client_state", 0, "out of memory");
    if (hookd_base64_decode(cs, n, raw, cap, &got) != HOOKD_OK) {
        free(raw); /* not base64: keep the text, no decoding */
        return HOOKD_OK;
    }
    raw[got] = 0; /* a NUL after the bytes makes text states printable as they are */
    p->ev->client_state_raw = raw;
    p->ev->client_state_raw_len = got;
    return HOOKD_OK;
}

static hookd_err take_meta(parser *p, int meta)
{
    if (meta == NONE)
        return HOOKD_OK;
    const hk_jmember *a = member(p, meta, "attempt");
    if (a != NULL) {
        if (a->type != HK_J_INTEGER || a->integer < 0)
            return failf(p, HOOKD_ERR_FIELD_TYPE, "meta.attempt", 0,
                         "meta.attempt: expected a non-negative integer");
        p->ev->attempt = a->integer;
    }
    return take_str(p, meta, "delivered_to", "meta.delivered_to", HOOKD_MAX_LONG_FIELD_LEN,
                    &p->ev->delivered_to);
}

/* ---- documents -------------------------------------------------------------------------- */

/* Size, depth, JSON, object: the checks every body goes through; then p->view holds it. */
static hookd_err load(parser *p, const void *body, size_t len)
{
    if (body == NULL && len > 0)
        return failf(p, HOOKD_ERR_INVALID_ARGUMENT, NULL, 0, "no body");
    if (len > HOOKD_MAX_EVENT_BODY)
        return failf(p, HOOKD_ERR_TOO_LARGE, NULL, 0, "body of %zu bytes is over the %zu byte limit",
                     len, HOOKD_MAX_EVENT_BODY);
    /* The one pass holds nesting to HOOKD_MAX_JSON_DEPTH itself, so only a body it leaves to
     * jansson needs the depth scan. */
    if (hk_jview_scan(body, len, &p->view))
        return HOOKD_OK;
    size_t off = 0;
    if (hookd_json_depth_check(body, len, HOOKD_MAX_JSON_DEPTH, &off) != HOOKD_OK)
        return failf(p, HOOKD_ERR_JSON_TOO_DEEP, NULL, off,
                     "JSON nested deeper than %d levels at byte %zu", HOOKD_MAX_JSON_DEPTH, off);
    json_error_t je;
    json_t *r = json_loadb(len > 0 ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (r == NULL) {
        size_t pos = je.position > 0 ? (size_t)je.position : 0;
        return failf(p, HOOKD_ERR_JSON_SYNTAX, NULL, pos, "invalid JSON at byte %zu: %s", pos,
                     je.text);
    }
    if (!json_is_object(r)) {
        json_decref(r);
        return failf(p, HOOKD_ERR_NOT_OBJECT, NULL, 0, "JSON body is not an object");
    }
    hk_jview_from_jansson(r, &p->view);
    return HOOKD_OK;
}

static void begin(parser *p, hookd_event *ev, hookd_parse_error *perr)
{
    memset(ev, 0, sizeof *ev);
    p->view.n = 0;
    p->view.doc = NULL;
    p->ev = ev;
    p->perr = perr != NULL ? perr : &p->local;
    memset(p->perr, 0, sizeof *p->perr);
}

static hookd_err finish(parser *p, hookd_err e)
{
    hk_jview_free(&p->view);
    if (e != HOOKD_OK)
        hookd_event_free(p->ev);
    return e;
}

/* v1 used underscore names ("call_initiated") and created_at; v2 dotted names and occurred_at. */
static hookd_event_format telnyx_shape(const parser *p, int data)
{
    const hk_jview *v = &p->view;
    if (data != 0)
        return HOOKD_FORMAT_TELNYX_V2;
    if (hk_jview_get(v, 0, "occurred_at") > 0) /* even null, as before */
        return HOOKD_FORMAT_TELNYX_V2_BARE;
    if (hk_jview_get(v, 0, "created_at") > 0)
        return HOOKD_FORMAT_TELNYX_V1;
    int h = hk_jview_get(v, 0, "event_type");
    const hk_jmember *type = h > 0 && v->m[h - 1].type == HK_J_STRING ? &v->m[h - 1] : NULL;
    if (type != NULL && memchr(type->str, '.', type->len) == NULL
        && memchr(type->str, '_', type->len) != NULL)
        return HOOKD_FORMAT_TELNYX_V1;
    return HOOKD_FORMAT_TELNYX_V2_BARE;
}

hookd_err hookd_event_parse_telnyx(const void *body, size_t len, hookd_event *ev,
                                   hookd_parse_error *perr)
{
    if (ev == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    parser p;
    begin(&p, ev, perr);
    int data = NONE, meta = NONE, payload = NONE;
    hookd_err e = load(&p, body, len);
    if (e != HOOKD_OK)
        return finish(&p, e);
    e = take_obj(&p, 0, "data", "data", &data);
    if (e == HOOKD_OK && data != NONE)
        e = take_obj(&p, 0, "meta", "meta", &meta);
    if (data == NONE)
        data = 0;
    ev->format = telnyx_shape(&p, data);
    if (e == HOOKD_OK)
        e = take_obj(&p, data, "payload", "payload", &payload);
    if (e == HOOKD_OK)
        e = take_str(&p, data, "record_type", "record_type", HOOKD_MAX_FIELD_LEN, &ev->record_type);
    if (e == HOOKD_OK)
        e = take_str(&p, data, "event_type", "event_type", HOOKD_MAX_FIELD_LEN, &ev->event_type);
    if (e == HOOKD_OK)
        e = take_str(&p, data, "id", "id", HOOKD_MAX_FIELD_LEN, &ev->id);
    if (e == HOOKD_OK)
        e = take_time(&p, data, "occurred_at", "occurred_at");
    if (e == HOOKD_OK)
        e = take_time(&p, data, "created_at", "created_at");
    if (e == HOOKD_OK)
        e = take_call_fields(&p, payload, data);
    if (e == HOOKD_OK)
        e = decode_client_state(&p);
    if (e == HOOKD_OK)
        e = take_meta(&p, meta);
    return finish(&p, e);
}

hookd_err hookd_event_parse_standard(const void *body, size_t len, hookd_event *ev,
                                     hookd_parse_error *perr)
{
    if (ev == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    parser p;
    begin(&p, ev, perr);
    int data = NONE;
    hookd_err e = load(&p, body, len);
    if (e != HOOKD_OK)
        return finish(&p, e);
    ev->format = HOOKD_FORMAT_STANDARD;
    e = take_str(&p, 0, "type", "type", HOOKD_MAX_FIELD_LEN, &ev->event_type);
    if (e == HOOKD_OK)
        e = take_time(&p, 0, "timestamp", "timestamp");
    if (e == HOOKD_OK)
        e = take_obj(&p, 0, "data", "data", &data);
    if (e == HOOKD_OK && data != NONE) {
        int payload = NONE;
        e = take_obj(&p, data, "payload", "data.payload", &payload);
        if (e == HOOKD_OK)
            e = take_call_fields(&p, payload, data);
    }
    if (e == HOOKD_OK)
        e = decode_client_state(&p);
    return finish(&p, e);
}
