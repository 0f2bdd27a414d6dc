/*
 * test_codec.c - strict base64, timestamp headers and the replay window, ISO 8601, UUIDs.
 */
#include <stdbool.h>

#include "testutil.h"

static hookd_err dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    return hookd_base64_decode(s, strlen(s), out, cap, n);
}

static void base64_accepts_canonical_padded(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(dec("", out, sizeof out, &n), HOOKD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dec("QQ==", out, sizeof out, &n), HOOKD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(dec("QUI=", out, sizeof out, &n), HOOKD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(dec("QUJD", out, sizeof out, &n), HOOKD_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "ABC", 3);
    assert_int_equal(dec("+/+/", out, sizeof out, &n), HOOKD_OK);
    assert_int_equal(n, 3);
}

static void base64_rejects_everything_else(void **state)
{
    (void)state;
    const char *bad[] = {
        "QQ",      /* padding missing */
        "QQ=",     /* padding short */
        "QR==",    /* non-zero unused bits: a second spelling of "A" */
        "QUJ=",    /* likewise for two bytes... "QUI=" is canonical */
        "QUJD=",   /* stray padding */
        "QU JD",   /* whitespace */
        "QUJD\n",  /* trailing newline */
        "-_-_",    /* URL-safe alphabet */
        "Q===",    /* three padding characters */
        "=QUJ",    /* padding first */
        "QQ==QUJD", /* padding in the middle */
    };
    uint8_t out[16];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (dec(bad[i], out, sizeof out, &n) != HOOKD_ERR_BASE64)
            fail_msg("accepted %s", bad[i]);
    }
}

/* libsodium 1.0.18 (Debian 12) decodes some bytes >= 0x80 as base64 digits: "Q\xcaR\xf8" came
 * back as three bytes, so a signature could be re-spelled with high bytes. Found by fuzz_base64. */
static void base64_rejects_high_bytes(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n;
    assert_int_equal(hookd_base64_decode("Q\xcaR\xf8", 4, out, sizeof out, &n), HOOKD_ERR_BASE64);
    for (unsigned c = 0; c < 256; c++) {
        char s[5] = {'Q', 'U', 'J', 'D', 0};
        s[2] = (char)c;
        bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '+' || c == '/';
        hookd_err want = alphabet ? HOOKD_OK : HOOKD_ERR_BASE64;
        if (hookd_base64_decode(s, 4, out, sizeof out, &n) != want)
            fail_msg("byte 0x%02x in a digit position", c);
    }
}

static void base64_reports_small_buffer(void **state)
{
    (void)state;
    uint8_t out[2];
    size_t n;
    assert_int_equal(dec("QUJD", out, sizeof out, &n), HOOKD_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(dec("QUI=", out, sizeof out, &n), HOOKD_OK);
}

static void base64_exact_length(void **state)
{
    (void)state;
    uint8_t out[32];
    assert_int_equal(hookd_base64_decode_exact(TELNYX_PUB, 44, out, 32), HOOKD_OK);
    assert_int_equal(hookd_base64_decode_exact(TELNYX_PUB, 44, out, 31), HOOKD_ERR_BASE64);
    assert_int_equal(hookd_base64_decode_exact("QUJD", 4, out, 2), HOOKD_ERR_BASE64);
}

static void base64_round_trip(void **state)
{
    (void)state;
    uint8_t bin[67], back[67];
    for (size_t len = 0; len < sizeof bin; len++) {
        randombytes_buf(bin, len);
        char text[HOOKD_BASE64_BUFSIZE(67)];
        assert_int_equal(hookd_base64_encode(bin, len, text, sizeof text), HOOKD_OK);
        size_t n;
        assert_int_equal(hookd_base64_decode(text, strlen(text), back, sizeof back, &n), HOOKD_OK);
        assert_int_equal(n, len);
        assert_memory_equal(bin, back, len);
    }
    char small[4];
    assert_int_equal(hookd_base64_encode(bin, 3, small, sizeof small), HOOKD_ERR_BUFFER_TOO_SMALL);
}

static hookd_err ts(const char *s, int64_t *v)
{
    return hookd_timestamp_parse(s, strlen(s), v);
}

static void timestamp_digits_only(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(ts("1700000000", &v), HOOKD_OK);
    assert_int_equal(v, 1700000000);
    assert_int_equal(ts("0", &v), HOOKD_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ts("9223372036854775807", &v), HOOKD_OK);
    assert_true(v == INT64_MAX);
    const char *bad[] = {"", "-1", "+1700000000", " 1700000000", "1700000000 ", "1700000000\n",
                         "1.7e9", "0x10", "17OO", "9223372036854775808", "99999999999999999999",
                         "000000000000000000000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ts(bad[i], &v) != HOOKD_ERR_TIMESTAMP_MALFORMED)
            fail_msg("accepted timestamp '%s'", bad[i]);
    }
    /* An embedded NUL ends nothing: the length given is what is parsed. */
    assert_int_equal(hookd_timestamp_parse("17\0" "0", 4, &v), HOOKD_ERR_TIMESTAMP_MALFORMED);
}

static void window_is_inclusive(void **state)
{
    (void)state;
    int64_t skew;
    assert_int_equal(hookd_timestamp_check(1000, 1300, 300, &skew), HOOKD_OK);
    assert_int_equal(skew, 300);
    assert_int_equal(hookd_timestamp_check(1000, 1301, 300, &skew), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    assert_int_equal(skew, 301);
    assert_int_equal(hookd_timestamp_check(1300, 1000, 300, NULL), HOOKD_OK);
    assert_int_equal(hookd_timestamp_check(1301, 1000, 300, &skew), HOOKD_ERR_TIMESTAMP_IN_FUTURE);
    assert_int_equal(skew, -301);
    assert_int_equal(hookd_timestamp_check(1000, 1000, 0, NULL), HOOKD_OK);
    assert_int_equal(hookd_timestamp_check(1000, 1001, 0, NULL), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    assert_int_equal(hookd_timestamp_check(0, 0, -1, NULL), HOOKD_ERR_INVALID_ARGUMENT);
    /* Extremes saturate instead of overflowing. */
    assert_int_equal(hookd_timestamp_check(INT64_MAX, 0, 300, &skew), HOOKD_ERR_TIMESTAMP_IN_FUTURE);
    assert_true(skew == -INT64_MAX);
    assert_int_equal(hookd_timestamp_check(INT64_MIN, INT64_MAX, 300, &skew),
                     HOOKD_ERR_TIMESTAMP_TOO_OLD);
    assert_true(skew == INT64_MAX);
}

static hookd_err iso(const char *s, int64_t *us)
{
    return hookd_iso8601_parse(s, strlen(s), us);
}

static void iso8601_parses_rfc3339(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(iso("2021-12-15T14:11:24.613295Z", &us), HOOKD_OK);
    assert_true(us == INT64_C(1639577484613295));
    assert_int_equal(iso("1970-01-01T00:00:00Z", &us), HOOKD_OK);
    assert_true(us == 0);
    assert_int_equal(iso("2021-12-15T15:11:24.6132951+01:00", &us), HOOKD_OK);
    assert_true(us == INT64_C(1639577484613295));
    assert_int_equal(iso("2021-12-15 14:11:24.6Z", &us), HOOKD_OK);
    assert_true(us == INT64_C(1639577484600000));
    assert_int_equal(iso("2024-02-29T00:00:00-05:30", &us), HOOKD_OK);
    assert_int_equal(iso("1969-12-31T23:59:59.5Z", &us), HOOKD_OK);
    assert_true(us == -500000);
}

static void iso8601_rejects_bad_dates(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "2021-12-15", "2021-12-15T14:11:24", /* no zone */
        "2021-13-01T00:00:00Z", "2021-00-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z", "2021-04-31T00:00:00Z", "2021-12-15T24:00:00Z",
        "2021-12-15T14:60:00Z", "2021-12-15T14:11:61Z", "2021-12-15T14:11:24.Z",
        "2021-12-15T14:11:24.1234567890Z", "2021-12-15T14:11:24+0100", "2021-12-15T14:11:24Zjunk",
        "21-12-15T14:11:24Z", "2021/12/15T14:11:24Z", "2021-12-15X14:11:24Z",
        "2021-12-15T14:11:24+24:00", "２021-12-15T14:11:24Z",
    };
    int64_t us;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (iso(bad[i], &us) != HOOKD_ERR_TIME_MALFORMED)
            fail_msg("accepted date-time '%s'", bad[i]);
    }
    assert_int_equal(iso("2000-02-29T00:00:00Z", &us), HOOKD_OK); /* 400-year rule */
}

static void iso8601_formats_what_it_parses(void **state)
{
    (void)state;
    const int64_t samples[] = {0, 1639577484613295, -500000, 951782400000001, 253402300799999999};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[HOOKD_ISO8601_BUFSIZE];
        int64_t back;
        assert_int_equal(hookd_iso8601_format(samples[i], buf, sizeof buf), HOOKD_OK);
        assert_int_equal(iso(buf, &back), HOOKD_OK);
        assert_true(back == samples[i]);
    }
    char buf[HOOKD_ISO8601_BUFSIZE];
    assert_int_equal(hookd_iso8601_format(1639577484613295, buf, sizeof buf), HOOKD_OK);
    assert_string_equal(buf, "2021-12-15T14:11:24.613295Z");
    assert_int_equal(hookd_iso8601_format(0, buf, 10), HOOKD_ERR_BUFFER_TOO_SMALL);
}

static void uuid_is_version_4(void **state)
{
    (void)state;
    char a[HOOKD_UUID_BUFSIZE], b[HOOKD_UUID_BUFSIZE];
    assert_int_equal(hookd_uuid_v4(a, sizeof a), HOOKD_OK);
    assert_int_equal(hookd_uuid_v4(b, sizeof b), HOOKD_OK);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_string_not_equal(a, b);
}

static void errors_have_names(void **state)
{
    (void)state;
    for (int e = 0; e < HOOKD_ERR__COUNT; e++) {
        assert_string_not_equal(hookd_errname((hookd_err)e), "unknown_error");
        assert_string_not_equal(hookd_strerror((hookd_err)e), "unknown error");
    }
    assert_string_equal(hookd_errname(HOOKD_ERR__COUNT), "unknown_error");
    assert_string_equal(hookd_errname(HOOKD_ERR_TIMESTAMP_TOO_OLD), "timestamp_too_old");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_accepts_canonical_padded),
        cmocka_unit_test(base64_rejects_everything_else),
        cmocka_unit_test(base64_rejects_high_bytes),
        cmocka_unit_test(base64_reports_small_buffer),
        cmocka_unit_test(base64_exact_length),
        cmocka_unit_test(base64_round_trip),
        cmocka_unit_test(timestamp_digits_only),
        cmocka_unit_test(window_is_inclusive),
        cmocka_unit_test(iso8601_parses_rfc3339),
        cmocka_unit_test(iso8601_rejects_bad_dates),
        cmocka_unit_test(iso8601_formats_what_it_parses),
        cmocka_unit_test(uuid_is_version_4),
        cmocka_unit_test(errors_have_names),
    };
    assert_int_equal(hookd_init(), HOOKD_OK);
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
