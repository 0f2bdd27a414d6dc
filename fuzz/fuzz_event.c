/*
 * fuzz_event.c - the event parsers (Telnyx in all three shapes, Standard Webhooks) and the depth
 * scan in front of them.
 *
 * Properties: no crash or leak; an error always has a message; a parsed occurred_at always parses
 * again to the same instant; a decoded client_state re-encodes to the text it came from. And the
 * one-pass view (jsonview.c) never accepts a body jansson refuses, and when it accepts one, it
 * holds exactly the members jansson's document gives (so both read every field alike).
 */
#include <assert.h>
#include <string.h>

#include <jansson.h>

#include "hookd/hookd.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(hookd_err e, const hookd_event *ev, const hookd_parse_error *pe)
{
    if (e != HOOKD_OK) {
        assert(pe->err == e && pe->text[0] != '\0');
        return;
    }
    if (ev->occurred_at != NULL) {
        int64_t us;
        assert(hookd_iso8601_parse(ev->occurred_at, strlen(ev->occurred_at), &us) == HOOKD_OK);
        assert(us == ev->occurred_at_us);
    }
    if (ev->client_state_raw != NULL) {
        char again[HOOKD_BASE64_BUFSIZE(HOOKD_MAX_LONG_FIELD_LEN)];
        assert(hookd_base64_encode(ev->client_state_raw, ev->client_state_raw_len, again,
                                   sizeof again) == HOOKD_OK);
        assert(strcmp(again, ev->client_state) == 0);
    }
}

/* The members of object ha in a and of hb in b are the same: names, types, contents. */
static void same_object(const hk_jview *a, int ha, const hk_jview *b, int hb)
{
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < b->n; i++)
        nb += b->m[i].parent == hb;
    for (size_t i = 0; i < a->n; i++) {
        const hk_jmember *x = &a->m[i];
        if (x->parent != ha)
            continue;
        na++;
        char key[64];
        assert(x->key_len < sizeof key);
        memcpy(key, x->key, x->key_len);
        key[x->key_len] = '\0';
        int j = hk_jview_get(b, hb, key);
        assert(j > 0);
        const hk_jmember *y = &b->m[j - 1];
        assert(x->type == y->type);
        if (x->type == HK_J_STRING)
            assert(x->len == y->len && memcmp(x->str, y->str, x->len) == 0);
        if (x->type == HK_J_INTEGER)
            assert(x->integer == y->integer);
        if (x->type == HK_J_OBJECT)
            same_object(a, (int)i + 1, b, j);
    }
    assert(na == nb);
}

static void views_agree(const uint8_t *data, size_t size)
{
    static hk_jview fast, slow;
    size_t off;
    if (hookd_json_depth_check(data, size, HOOKD_MAX_JSON_DEPTH, &off) != HOOKD_OK
        || !hk_jview_scan(data, size, &fast))
        return;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    assert(doc != NULL && json_is_object(doc));
    hk_jview_from_jansson(doc, &slow);
    same_object(&fast, 0, &slow, 0);
    hk_jview_free(&slow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    views_agree(data, size);
    hookd_event ev;
    hookd_parse_error pe;
    hookd_err e = hookd_event_parse_telnyx(data, size, &ev, &pe);
    check(e, &ev, &pe);
    hookd_event_free(&ev);
    e = hookd_event_parse_standard(data, size, &ev, &pe);
    check(e, &ev, &pe);
    hookd_event_free(&ev);
    size_t off = 0;
    if (hookd_json_depth_check(data, size, 8, &off) == HOOKD_ERR_JSON_TOO_DEEP)
        assert(off < size && (data[off] == '[' || data[off] == '{'));
    return 0;
}
