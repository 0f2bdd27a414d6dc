/*
 * fuzz_event.c - the event parsers (Telnyx in all three shapes, Standard Webhooks) and the depth
 * scan in front of them.
 *
 * Properties: no crash or leak; an error always has a message; a parsed occurred_at always parses
 * again to the same instant; a decoded client_state re-encodes to the text it came from.
 */
#include <assert.h>
#include <string.h>

#include "hookd/hookd.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
