/*
 * test_event.c - Telnyx (v2 wrapped, v2 bare, v1) and Standard Webhooks bodies: the fields we
 * extract, what we tolerate (unknown types, extra fields) and what we refuse, with where.
 */
#include <stdlib.h>

#include "testutil.h"
#include "internal.h"

/* The siprec.failed example from Telnyx's reference page (telnyx-siprec-failed.txt). */
#define SIPREC_DATA                                                                              \
    "{\"record_type\":\"event\",\"event_type\":\"siprec.failed\","                             \
    "\"id\":\"25dc3731-e51e-4927-a50d-a61cc25984b1\","                                         \
    "\"occurred_at\":\"2021-12-15T14:11:24.613295Z\",\"payload\":{"                            \
    "\"call_control_id\":\"31f19208-5db0-11ec-9ea7-02420a0d3a69\","                            \
    "\"connection_id\":\"7267xxxxxxxxxxxxxx\","                                                \
    "\"call_leg_id\":\"31f19208-5db0-11ec-9ea7-02420a0d3a69\","                                \
    "\"call_session_id\":\"31f19208-5db0-11ec-9ea7-02420a0d3a69\","                            \
    "\"client_state\":\"aGF2ZSBhIG5pY2UgZGF5ID1d\",\"failure_cause\":\"no_answer\"}}"

static hookd_err parse(const char *body, hookd_event *ev, hookd_parse_error *pe)
{
    return hookd_event_parse_telnyx(body, strlen(body), ev, pe);
}

static void check_siprec(const hookd_event *ev)
{
    assert_string_equal(ev->record_type, "event");
    assert_string_equal(ev->event_type, "siprec.failed");
    assert_string_equal(ev->id, "25dc3731-e51e-4927-a50d-a61cc25984b1");
    assert_string_equal(ev->occurred_at, "2021-12-15T14:11:24.613295Z");
    assert_true(ev->occurred_at_us == INT64_C(1639577484613295));
    assert_string_equal(ev->call_control_id, "31f19208-5db0-11ec-9ea7-02420a0d3a69");
    assert_string_equal(ev->call_leg_id, "31f19208-5db0-11ec-9ea7-02420a0d3a69");
    assert_string_equal(ev->call_session_id, "31f19208-5db0-11ec-9ea7-02420a0d3a69");
    assert_string_equal(ev->connection_id, "7267xxxxxxxxxxxxxx");
    assert_string_equal(ev->client_state, "aGF2ZSBhIG5pY2UgZGF5ID1d");
    assert_int_equal(ev->client_state_raw_len, 18);
    assert_memory_equal(ev->client_state_raw, "have a nice day =]", 18);
    assert_string_equal(ev->failure_cause, "no_answer");
    assert_null(ev->hangup_cause);
}

static void siprec_failed_wrapped(void **state)
{
    (void)state;
    hookd_event ev;
    const char *body = "{\"data\":" SIPREC_DATA ",\"meta\":{\"attempt\":2,"
                       "\"delivered_to\":\"https://example.com/hooks\"}}";
    assert_int_equal(parse(body, &ev, NULL), HOOKD_OK);
    assert_int_equal(ev.format, HOOKD_FORMAT_TELNYX_V2);
    check_siprec(&ev);
    assert_int_equal(ev.attempt, 2);
    assert_string_equal(ev.delivered_to, "https://example.com/hooks");
    hookd_event_free(&ev);
}

static void siprec_failed_bare(void **state)
{
    (void)state;
    hookd_event ev;
    assert_int_equal(parse(SIPREC_DATA, &ev, NULL), HOOKD_OK);
    assert_int_equal(ev.format, HOOKD_FORMAT_TELNYX_V2_BARE);
    check_siprec(&ev);
    assert_int_equal(ev.attempt, 0);
    assert_null(ev.delivered_to);
    hookd_event_free(&ev);
}

static void call_hangup_fields(void **state)
{
    (void)state;
    hookd_event ev;
    const char *body = "{\"data\":{\"event_type\":\"call.hangup\",\"id\":\"e1\","
                       "\"occurred_at\":\"2024-01-01T00:00:00.000001Z\",\"payload\":{"
                       "\"call_control_id\":\"v3:abc\",\"hangup_cause\":\"normal_clearing\","
                       "\"hangup_source\":\"caller\",\"sip_hangup_cause\":\"200\"}}}";
    assert_int_equal(parse(body, &ev, NULL), HOOKD_OK);
    assert_string_equal(ev.hangup_cause, "normal_clearing");
    assert_string_equal(ev.hangup_source, "caller");
    assert_string_equal(ev.sip_hangup_cause, "200");
    assert_null(ev.failure_cause);
    hookd_event_free(&ev);
}

static void v1_format(void **state)
{
    (void)state;
    hookd_event ev;
    const char *body = "{\"event_type\":\"call_initiated\",\"id\":\"0ccc7b54\","
                       "\"created_at\":\"2018-02-02T22:25:27.521992Z\",\"payload\":{"
                       "\"call_control_id\":\"AgDIxmoRX6QMuaIj_uXRXnPAXP0QlNfXczRrZvZakpWxBlpw48KyZQ==\","
                       "\"call_leg_id\":\"428c31b6\",\"call_session_id\":\"428c1ef8\"}}";
    assert_int_equal(parse(body, &ev, NULL), HOOKD_OK);
    assert_int_equal(ev.format, HOOKD_FORMAT_TELNYX_V1);
    assert_string_equal(ev.event_type, "call_initiated");
    assert_string_equal(ev.occurred_at, "2018-02-02T22:25:27.521992Z");
    assert_string_equal(ev.call_leg_id, "428c31b6");
    hookd_event_free(&ev);
    /* v1 without created_at is still told apart by its underscore name. */
    assert_int_equal(parse("{\"event_type\":\"call_answered\"}", &ev, NULL), HOOKD_OK);
    assert_int_equal(ev.format, HOOKD_FORMAT_TELNYX_V1);
    hookd_event_free(&ev);
}

static void unknown_types_and_fields_are_fine(void **state)
{
    (void)state;
    hookd_event ev;
    const char *body = "{\"data\":{\"event_type\":\"ai.brand.new.thing\",\"id\":\"x\","
                       "\"novel\":[1,{\"deep\":true}],\"payload\":{\"whatever\":null,"
                       "\"call_control_id\":null}},\"meta\":{\"attempt\":1,\"extra\":\"y\"},"
                       "\"top\":1}";
    assert_int_equal(parse(body, &ev, NULL), HOOKD_OK);
    assert_string_equal(ev.event_type, "ai.brand.new.thing");
    assert_null(ev.call_control_id);
    hookd_event_free(&ev);
    assert_int_equal(parse("{}", &ev, NULL), HOOKD_OK);
    assert_null(ev.id);
    hookd_event_free(&ev);
    /* client_state that is not base64 is kept as text, with no decoding. */
    assert_int_equal(parse("{\"payload\":{\"client_state\":\"not base64!\"}}", &ev, NULL), HOOKD_OK);
    assert_string_equal(ev.client_state, "not base64!");
    assert_null(ev.client_state_raw);
    hookd_event_free(&ev);
}

static void invalid_json_reports_the_offset(void **state)
{
    (void)state;
    hookd_event ev;
    hookd_parse_error pe;
    assert_int_equal(parse("{\"data\": {\"id\": oops}}", &ev, &pe), HOOKD_ERR_JSON_SYNTAX);
    assert_int_equal(pe.offset, 20); /* jansson reports where its lexer stopped: after "oops" */
    assert_non_null(strstr(pe.text, "at byte 20"));
    assert_int_equal(parse("", &ev, &pe), HOOKD_ERR_JSON_SYNTAX);
    assert_int_equal(parse("call_control_id=abc&event=siprec", &ev, &pe), HOOKD_ERR_JSON_SYNTAX);
    assert_int_equal(parse("[1,2]", &ev, &pe), HOOKD_ERR_NOT_OBJECT);
    assert_int_equal(parse("{\"id\":\"a\",\"id\":\"b\"}", &ev, &pe), HOOKD_ERR_JSON_SYNTAX);
    assert_int_equal(hookd_event_parse_telnyx("{\"a\":\"\0\"}", 9, &ev, &pe), HOOKD_ERR_JSON_SYNTAX);
}

static void wrong_types_are_named(void **state)
{
    (void)state;
    const struct {
        const char *body;
        const char *field;
        hookd_err err;
    } cases[] = {
        {"{\"data\":{\"id\":42}}", "id", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":[]}", "data", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":{},\"meta\":\"x\"}", "meta", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":{\"payload\":7}}", "payload", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":{},\"meta\":{\"attempt\":\"2\"}}", "meta.attempt", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":{},\"meta\":{\"attempt\":-1}}", "meta.attempt", HOOKD_ERR_FIELD_TYPE},
        {"{\"data\":{\"occurred_at\":\"yesterday\"}}", "occurred_at", HOOKD_ERR_TIME_MALFORMED},
        {"{\"data\":{\"payload\":{\"failure_cause\":true}}}", "failure_cause", HOOKD_ERR_FIELD_TYPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hookd_event ev;
        hookd_parse_error pe;
        assert_int_equal(parse(cases[i].body, &ev, &pe), cases[i].err);
        assert_string_equal(pe.field, cases[i].field);
        assert_non_null(strstr(pe.text, cases[i].field));
    }
}

static void sizes_and_depth_are_bounded(void **state)
{
    (void)state;
    hookd_event ev;
    hookd_parse_error pe;
    char deep[2 * HOOKD_MAX_JSON_DEPTH + 16];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 1; i < HOOKD_MAX_JSON_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 1; i < HOOKD_MAX_JSON_DEPTH; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(hookd_event_parse_telnyx(deep, n, &ev, &pe), HOOKD_OK); /* exactly at the limit */
    hookd_event_free(&ev);
    memmove(deep + 6, deep + 5, n - 5);
    deep[5] = '[';
    deep[n + 1] = '}';
    deep[n] = ']';
    assert_int_equal(hookd_event_parse_telnyx(deep, n + 2, &ev, &pe), HOOKD_ERR_JSON_TOO_DEEP);
    assert_int_equal(pe.offset, 5 + HOOKD_MAX_JSON_DEPTH - 1);
    /* Brackets inside strings do not count, nor do escaped quotes end a string. */
    assert_int_equal(hookd_json_depth_check("[\"[[[\\\"[[[\"]", 12, 1, NULL), HOOKD_OK);
    assert_int_equal(hookd_json_depth_check("[[", 2, 1, NULL), HOOKD_ERR_JSON_TOO_DEEP);

    char *big = malloc(HOOKD_MAX_EVENT_BODY + 1);
    assert_non_null(big);
    memset(big, ' ', HOOKD_MAX_EVENT_BODY + 1);
    big[0] = '{';
    big[HOOKD_MAX_EVENT_BODY - 1] = '}';
    assert_int_equal(hookd_event_parse_telnyx(big, HOOKD_MAX_EVENT_BODY, &ev, &pe), HOOKD_OK);
    hookd_event_free(&ev);
    big[HOOKD_MAX_EVENT_BODY - 1] = ' ';
    big[HOOKD_MAX_EVENT_BODY] = '}';
    assert_int_equal(hookd_event_parse_telnyx(big, HOOKD_MAX_EVENT_BODY + 1, &ev, &pe),
                     HOOKD_ERR_TOO_LARGE);
    free(big);

    char longid[HOOKD_MAX_FIELD_LEN + 64];
    int k = snprintf(longid, sizeof longid, "{\"id\":\"");
    memset(longid + k, 'x', HOOKD_MAX_FIELD_LEN + 1);
    snprintf(longid + k + HOOKD_MAX_FIELD_LEN + 1, 3, "\"}");
    assert_int_equal(parse(longid, &ev, &pe), HOOKD_ERR_FIELD_TOO_LONG);
    assert_string_equal(pe.field, "id");

    /* client_state may be longer (HOOKD_MAX_LONG_FIELD_LEN), but not without bound. */
    for (size_t len = HOOKD_MAX_LONG_FIELD_LEN; len <= HOOKD_MAX_LONG_FIELD_LEN + 4; len += 4) {
        char *cs = malloc(len + 64);
        assert_non_null(cs);
        int h = snprintf(cs, len + 64, "{\"payload\":{\"client_state\":\"");
        memset(cs + h, 'Q', len);
        snprintf(cs + h + len, 64 - 1, "\"}}");
        hookd_err want = len <= HOOKD_MAX_LONG_FIELD_LEN ? HOOKD_OK : HOOKD_ERR_FIELD_TOO_LONG;
        assert_int_equal(parse(cs, &ev, &pe), want);
        if (want == HOOKD_OK)
            hookd_event_free(&ev);
        else
            assert_string_equal(pe.field, "client_state");
        free(cs);
    }
}

static void standard_body(void **state)
{
    (void)state;
    hookd_event ev;
    const char *body = "{\"type\":\"invoice.paid\",\"timestamp\":\"2022-11-03T20:26:10.344522Z\","
                       "\"data\":{\"call_session_id\":\"s1\",\"amount\":3}}";
    assert_int_equal(hookd_event_parse_standard(body, strlen(body), &ev, NULL), HOOKD_OK);
    assert_int_equal(ev.format, HOOKD_FORMAT_STANDARD);
    assert_string_equal(ev.event_type, "invoice.paid");
    assert_string_equal(ev.occurred_at, "2022-11-03T20:26:10.344522Z");
    assert_string_equal(ev.call_session_id, "s1");
    assert_null(ev.id);
    hookd_event_free(&ev);
    hookd_parse_error pe;
    assert_int_equal(hookd_event_parse_standard("{\"type\":1}", 10, &ev, &pe), HOOKD_ERR_FIELD_TYPE);
    assert_string_equal(pe.field, "type");
    assert_int_equal(hookd_event_parse_standard("{\"data\":1}", 10, &ev, &pe), HOOKD_ERR_FIELD_TYPE);
}

/* jsonview.c reads plain bodies in one pass and leaves the rest to jansson; either way the fields
 * and the verdicts are the same. */
static void one_pass_or_jansson_read_alike(void **state)
{
    (void)state;
    static hk_jview v;
    const char *plain = "{\"data\":" SIPREC_DATA ",\"meta\":{\"attempt\":2,\"delivered_to\":\"https://x\"}}";
    assert_true(hk_jview_scan(plain, strlen(plain), &v)); /* the common case takes the one pass */
    assert_null(v.doc);
    struct {
        const char *body;
        bool one_pass;           /* the one pass reads it (else jansson) */
        hookd_err err;
        const char *id, *cause;  /* fields read, when err is HOOKD_OK */
    } cases[] = {
        {"{\"data\":{\"id\":\"e1\",\"payload\":{\"failure_cause\":\"a\\/b\"}}}", false, HOOKD_OK, "e1", "a/b"},
        {"{\"data\":{\"id\":\"e\\u00e9\"}}", false, HOOKD_OK, "e\xc3\xa9", NULL},
        {"{\"data\":{\"id\":\"\xc3\xa9t\xc3\xa9\",\"x\":\"\\n\"}}", true, HOOKD_OK, "\xc3\xa9t\xc3\xa9", NULL},
        {"{\"data\":{\"id\":\"e1\",\"id\":\"e2\"}}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},\"x\":[{\"k\":1,\"k\":2}]}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},\"x\":12345678901234567890}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},\"x\":1e400}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},\"x\":1.5e3,\"y\":-0.25,\"z\":-0}", false, HOOKD_OK, "e1", NULL},
        {"{\"data\":{\"id\":\"e1\"},\"y\":-0.25,\"z\":[true,false,null,{}]}", true, HOOKD_OK, "e1", NULL},
        {"{\"data\":{\"id\":\"e\xc0\xaf\"}}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e\xed\xa0\x80\"}}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"}} x", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":01}}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":\"tab\there\"}}", false, HOOKD_ERR_JSON_SYNTAX, NULL, NULL},
        {"{\"data\":{\"id\":7}}", true, HOOKD_ERR_FIELD_TYPE, NULL, NULL},
        {"{\"data\":{\"id\":\"e1\"},\"meta\":{\"attempt\":2.0}}", true, HOOKD_ERR_FIELD_TYPE, NULL, NULL},
        {"[]", false, HOOKD_ERR_NOT_OBJECT, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].body;
        bool fast = hk_jview_scan(b, strlen(b), &v);
        if (fast != cases[i].one_pass)
            fail_msg("case %zu: one pass %d, expected %d", i, fast, cases[i].one_pass);
        hookd_event ev;
        hookd_parse_error pe;
        hookd_err e = parse(b, &ev, &pe);
        if (e != cases[i].err)
            fail_msg("case %zu: %s, expected %s (%s)", i, hookd_strerror(e), hookd_strerror(cases[i].err), pe.text);
        if (e == HOOKD_OK) {
            assert_string_equal(ev.id, cases[i].id);
            if (cases[i].cause != NULL)
                assert_string_equal(ev.failure_cause, cases[i].cause);
        }
        hookd_event_free(&ev);
    }
}

/* An object of n extra members "k0".."k(n-1)" around data; nest more levels of the same inside. */
static void wide_body(char *out, size_t cap, int n, int nest)
{
    size_t at = (size_t)snprintf(out, cap, "{\"data\":{\"id\":\"e1\"},\"meta\":{\"attempt\":123456789012345678}");
    for (int level = 0; level <= nest; level++) {
        for (int i = 0; i < n; i++)
            at += (size_t)snprintf(out + at, cap - at, ",\"k%d\":%d", i, i);
        if (level < nest)
            at += (size_t)snprintf(out + at, cap - at, ",\"x\":{\"y\":0");
    }
    for (int level = 0; level <= nest; level++)
        at += (size_t)snprintf(out + at, cap - at, "}");
}

/* The one pass's own limits (HK_JVIEW_KEYS members per object, four times that open at once, 18
 * digits) never change a verdict: past them jansson reads the body, to the same fields. */
static void one_pass_limits_hand_over_to_jansson(void **state)
{
    (void)state;
    static hk_jview v;
    static char body[64 * 1024];
    struct {
        int keys, nest;
        bool one_pass;
    } cases[] = {
        {HK_JVIEW_KEYS - 3, 0, true},  /* with data and meta: 63 members */
        {HK_JVIEW_KEYS - 2, 0, true},  /* 64 */
        {HK_JVIEW_KEYS - 1, 0, false}, /* 65: jansson's hash table checks the duplicates */
        {HK_JVIEW_KEYS - 4, 2, true},  /* three levels of 62-63 open at once: under 4 x 64 */
        {HK_JVIEW_KEYS - 4, 4, false}, /* five: over */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wide_body(body, sizeof body, cases[i].keys, cases[i].nest);
        if (hk_jview_scan(body, strlen(body), &v) != cases[i].one_pass)
            fail_msg("case %zu: one pass %d, expected %d", i, !cases[i].one_pass, cases[i].one_pass);
        hookd_event ev;
        hookd_parse_error pe;
        assert_int_equal(parse(body, &ev, &pe), HOOKD_OK);
        assert_string_equal(ev.id, "e1");
        assert_int_equal(ev.attempt, 123456789012345678LL); /* 18 digits: read by the one pass */
        hookd_event_free(&ev);
    }
    const char *nineteen = "{\"data\":{\"id\":\"e1\"},\"meta\":{\"attempt\":1234567890123456789}}";
    assert_false(hk_jview_scan(nineteen, strlen(nineteen), &v)); /* 19 digits: jansson's strtoll */
    hookd_event ev;
    hookd_parse_error pe;
    assert_int_equal(parse(nineteen, &ev, &pe), HOOKD_OK);
    assert_int_equal(ev.attempt, 1234567890123456789LL);
    hookd_event_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(siprec_failed_wrapped),
        cmocka_unit_test(siprec_failed_bare),
        cmocka_unit_test(call_hangup_fields),
        cmocka_unit_test(v1_format),
        cmocka_unit_test(unknown_types_and_fields_are_fine),
        cmocka_unit_test(invalid_json_reports_the_offset),
        cmocka_unit_test(wrong_types_are_named),
        cmocka_unit_test(sizes_and_depth_are_bounded),
        cmocka_unit_test(standard_body),
        cmocka_unit_test(one_pass_or_jansson_read_alike),
        cmocka_unit_test(one_pass_limits_hand_over_to_jansson),
    };
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
