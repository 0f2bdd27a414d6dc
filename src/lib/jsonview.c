/*
 * jsonview.c - the few members of a webhook body that hookd keeps, in one pass.
 *
 * event.c reads about twenty members (data, meta, payload, id, event_type, the call ids, ...) of
 * a body's top three levels. Building jansson's whole document for that cost a request more than
 * its HTTP parsing: a node, a hash-table entry and a copy per member, all freed again at once
 * (issue #11: about 6 us of jansson and 4 of malloc per 513-byte siprec.failed). hk_jview_scan
 * checks the body in one pass without allocating and records only those members (key, type, the
 * bytes of a string, an integer's value) in an hk_jview.
 *
 * It never decides that a body is bad. It accepts only what it is sure jansson accepts (with
 * JSON_REJECT_DUPLICATES) and reads as jansson would; on anything else (a \u escape, an escape in
 * a key or in a kept string, a number with an exponent or over 18 digits, an object of more than
 * HK_JVIEW_KEYS members, any syntax error) it returns false and event.c hands the body to
 * jansson, whose verdict and error offsets stay the ones users see, then reads jansson's document
 * into the same view (hk_jview_from_jansson). fuzz_event checks the two agree on every input.
 */
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

/* The members event.c looks up; only these are recorded, so a view never fills up: at most
 * 1 + 3 + 9 objects (the root, and data, meta or payload below it, twice) of one each. */
#define NAME(s) {(s), sizeof(s) - 1}
static const struct {
    const char *name;
    size_t len;
} kept[] = {
    NAME("data"),          NAME("meta"),          NAME("payload"),         NAME("record_type"),
    NAME("event_type"),    NAME("id"),            NAME("occurred_at"),     NAME("created_at"),
    NAME("call_control_id"), NAME("call_leg_id"), NAME("call_session_id"), NAME("connection_id"),
    NAME("client_state"),  NAME("failure_cause"), NAME("hangup_cause"),    NAME("hangup_source"),
    NAME("sip_hangup_cause"), NAME("attempt"),    NAME("delivered_to"),    NAME("type"),
    NAME("timestamp"),
};
_Static_assert(HK_ARRAY_LEN(kept) <= HK_JVIEW_KEPT, "HK_JVIEW_KEPT counts the kept names");

static int kept_name(const char *key, size_t len)
{
    for (size_t i = 0; i < HK_ARRAY_LEN(kept); i++)
        if (kept[i].len == len && memcmp(kept[i].name, key, len) == 0)
            return (int)i;
    return -1;
}

/* The objects worth descending into: data, meta, payload, down to HK_JVIEW_DEPTH levels. */
static bool container(int name)
{
    return name >= 0 && name <= 2;
}

static int add(hk_jview *v, int parent, const char *key, size_t key_len)
{
    if (v->n >= HK_ARRAY_LEN(v->m))
        return -1;
    hk_jmember *m = &v->m[v->n];
    memset(m, 0, sizeof *m);
    m->parent = parent;
    m->key = key;
    m->key_len = key_len;
    return (int)v->n++;
}

int hk_jview_get(const hk_jview *v, int obj, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < v->n; i++) {
        const hk_jmember *m = &v->m[i];
        if (m->parent == obj && m->key_len == len && memcmp(m->key, key, len) == 0)
            return (int)i + 1;
    }
    return 0;
}

/* ---- the one pass ------------------------------------------------------------------------- */

typedef struct scan {
    const unsigned char *p, *end;
    hk_jview *v;
    /* keys of the objects open now, for JSON_REJECT_DUPLICATES */
    const unsigned char *key[HK_JVIEW_KEYS * 4];
    size_t key_len[HK_JVIEW_KEYS * 4];
    size_t keys;
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* The byte ch next: step over it. */
static bool eat(scan *s, unsigned char ch)
{
    if (s->p >= s->end || *s->p != ch)
        return false;
    s->p++;
    return true;
}

/* After a member or an element: true with *more when a ',' (and space) follows, true without
 * when the closing byte does; false for anything else. */
static bool next(scan *s, unsigned char close, bool *more)
{
    ws(s);
    *more = eat(s, ',');
    if (*more)
        ws(s);
    return *more || eat(s, close);
}

/* One UTF-8 sequence as jansson's utf8_check_full takes it: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
static bool utf8(scan *s)
{
    unsigned c = *s->p;
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || (size_t)(s->end - s->p) < n)
        return false;
    uint32_t cp = c & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
    for (size_t i = 1; i < n; i++) {
        if ((s->p[i] & 0xC0) != 0x80)
            return false;
        cp = (cp << 6) | (s->p[i] & 0x3Fu);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (n == 3 && cp < 0x800)
        || (n == 4 && cp < 0x10000))
        return false;
    s->p += n;
    return true;
}

/* A string after its opening quote: its bytes into at and len; escaped when it held an escape
 * (only the two-character ones: a \u escape is left to jansson). */
static bool string(scan *s, const unsigned char **at, size_t *len, bool *escaped)
{
    *at = s->p;
    *escaped = false;
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            *len = (size_t)(s->p - *at);
            s->p++;
            return true;
        }
        if (c == '\\') {
            if (s->end - s->p < 2 || strchr("\"\\/bfnrt", s->p[1]) == NULL || s->p[1] == '\0')
                return false;
            *escaped = true;
            s->p += 2;
        } else if (c < 0x20) {
            return false;
        } else if (c >= 0x80) {
            if (!utf8(s))
                return false;
        } else {
            s->p++;
        }
    }
    return false;
}

/* A number as jansson's lexer reads it; an integer's value when it has at most 18 digits (so
 * strtoll cannot overflow), a real only without an exponent (so strtod cannot overflow). */
static bool number(scan *s, hk_jmember *m)
{
    const unsigned char *start = s->p;
    bool minus = eat(s, '-');
    const unsigned char *digits = s->p;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return false;
    if (*s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            return false;
    } else {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    size_t n = (size_t)(s->p - digits);
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
        return false;
    if (eat(s, '.')) {
        const unsigned char *frac = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        if (s->p == frac || s->p - start > 64 || (s->p < s->end && (*s->p == 'e' || *s->p == 'E')))
            return false;
        if (m != NULL)
            m->type = HK_J_REAL;
        return true;
    }
    if (n > 18)
        return false;
    if (m != NULL) {
        long long n10 = 0;
        for (size_t i = 0; i < n; i++)
            n10 = n10 * 10 + (digits[i] - '0');
        m->type = HK_J_INTEGER;
        m->integer = minus ? -n10 : n10;
    }
    return true;
}

static bool literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool value(scan *s, hk_jmember *m, int handle, int depth);

/* An object after its '{'. handle: its view handle (0 the root, k member k - 1), or -1 when
 * its members are not recorded. */
static bool object(scan *s, int handle, int depth)
{
    size_t first = s->keys;
    ws(s);
    if (eat(s, '}'))
        return true;
    for (bool more = true; more;) {
        const unsigned char *key;
        size_t len;
        bool escaped;
        if (!eat(s, '"') || !string(s, &key, &len, &escaped) || escaped)
            return false;
        if (s->keys - first >= HK_JVIEW_KEYS || s->keys >= HK_ARRAY_LEN(s->key))
            return false;
        for (size_t i = first; i < s->keys; i++)
            if (s->key_len[i] == len && memcmp(s->key[i], key, len) == 0)
                return false;
        s->key[s->keys] = key;
        s->key_len[s->keys++] = len;
        ws(s);
        if (!eat(s, ':'))
            return false;
        ws(s);
        int name = handle >= 0 ? kept_name((const char *)key, len) : -1;
        int at = name >= 0 ? add(s->v, handle, (const char *)key, len) : -1;
        if (name >= 0 && at < 0)
            return false;
        int inner = at >= 0 && container(name) && depth < HK_JVIEW_DEPTH ? at + 1 : -1;
        if (!value(s, at >= 0 ? &s->v->m[at] : NULL, inner, depth + 1) || !next(s, '}', &more))
            return false;
    }
    s->keys = first;
    return true;
}

static bool array(scan *s, int depth)
{
    ws(s);
    if (eat(s, ']'))
        return true;
    for (bool more = true; more;)
        if (!value(s, NULL, -1, depth + 1) || !next(s, ']', &more))
            return false;
    return true;
}

/* A value at s->p; m (when recorded) gets its type and contents. depth bounds the recursion,
 * though hookd_json_depth_check has already held the body to HOOKD_MAX_JSON_DEPTH. */
static bool value(scan *s, hk_jmember *m, int handle, int depth)
{
    if (s->p >= s->end || depth > HOOKD_MAX_JSON_DEPTH)
        return false;
    hk_jmember scratch = {0};
    hk_jmember *out = m != NULL ? m : &scratch;
    switch (*s->p) {
    case '{':
        s->p++;
        out->type = HK_J_OBJECT;
        return object(s, handle, depth);
    case '[':
        s->p++;
        out->type = HK_J_ARRAY;
        return array(s, depth);
    case '"': {
        s->p++;
        const unsigned char *at;
        bool escaped;
        if (!string(s, &at, &out->len, &escaped) || (escaped && m != NULL))
            return false;
        out->type = HK_J_STRING;
        out->str = (const char *)at;
        return true;
    }
    case 't':
        out->type = HK_J_TRUE;
        return literal(s, "true");
    case 'f':
        out->type = HK_J_FALSE;
        return literal(s, "false");
    case 'n':
        out->type = HK_J_NULL;
        return literal(s, "null");
    default:
        return number(s, m);
    }
}

bool hk_jview_scan(const void *body, size_t len, hk_jview *v)
{
    memset(v, 0, offsetof(hk_jview, m));
    if (body == NULL || len == 0)
        return false;
    scan s;
    s.p = body;
    s.end = (const unsigned char *)body + len;
    s.v = v;
    s.keys = 0; /* the key arrays fill as objects open: no need to clear 4 KiB per body */
    ws(&s);
    if (!eat(&s, '{') || !object(&s, 0, 1))
        return false;
    ws(&s);
    return s.p == s.end;
}

/* ---- the same view of jansson's document --------------------------------------------------- */

static void from_object(hk_jview *v, json_t *obj, int handle, int depth)
{
    const char *key;
    json_t *val;
    json_object_foreach (obj, key, val) {
        int name = kept_name(key, strlen(key));
        int at = name >= 0 ? add(v, handle, key, strlen(key)) : -1;
        if (at < 0)
            continue;
        hk_jmember *m = &v->m[at];
        switch (json_typeof(val)) {
        case JSON_OBJECT:
            m->type = HK_J_OBJECT;
            if (container(name) && depth < HK_JVIEW_DEPTH)
                from_object(v, val, at + 1, depth + 1);
            break;
        case JSON_ARRAY: m->type = HK_J_ARRAY; break;
        case JSON_STRING:
            m->type = HK_J_STRING;
            m->str = json_string_value(val);
            m->len = json_string_length(val);
            break;
        case JSON_INTEGER:
            m->type = HK_J_INTEGER;
            m->integer = json_integer_value(val);
            break;
        case JSON_REAL: m->type = HK_J_REAL; break;
        case JSON_TRUE: m->type = HK_J_TRUE; break;
        case JSON_FALSE: m->type = HK_J_FALSE; break;
        case JSON_NULL: m->type = HK_J_NULL; break;
        }
    }
}

void hk_jview_from_jansson(struct json_t *root, hk_jview *v)
{
    memset(v, 0, offsetof(hk_jview, m));
    v->doc = root;
    from_object(v, root, 0, 1);
}

void hk_jview_free(hk_jview *v)
{
    json_decref(v->doc);
    v->doc = NULL;
}
