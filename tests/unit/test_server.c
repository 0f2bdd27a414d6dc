/*
 * test_server.c - the daemon's small parsers: allow lists (CIDR matching at the prefix
 * boundaries, IPv4-mapped IPv6, the telnyx ranges), config sizes, and the console's sign-in
 * form, UTF-8 check and loopback rule.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>

#include "testutil.h"

#include "allow.h"
#include "config.h"
#include "console.h"
#include "dispatch.h"
#include "server.h"
#include "states.h"

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    return ss;
}

static bool allowed(const allow_list *l, struct sockaddr_storage ss)
{
    return allow_match(l, (const struct sockaddr *)&ss);
}

static allow_list parse(const char *text)
{
    allow_list l = {0};
    char bad[64];
    if (!allow_parse(&l, text, bad, sizeof bad))
        fail_msg("'%s' did not parse (at '%s')", text, bad);
    return l;
}

static void empty_list_allows_everyone(void **state)
{
    (void)state;
    allow_list l = {0};
    assert_true(allowed(&l, v4("8.8.8.8")));
    assert_true(allow_match(&l, NULL));
}

static void ipv4_prefix_boundaries(void **state)
{
    (void)state;
    allow_list l = parse("10.0.0.0/8, 192.168.1.128/25, 203.0.113.7");
    assert_true(allowed(&l, v4("10.0.0.0")));
    assert_true(allowed(&l, v4("10.255.255.255")));
    assert_false(allowed(&l, v4("11.0.0.0")));
    assert_false(allowed(&l, v4("9.255.255.255")));
    assert_true(allowed(&l, v4("192.168.1.128")));
    assert_true(allowed(&l, v4("192.168.1.255")));
    assert_false(allowed(&l, v4("192.168.1.127")));
    assert_true(allowed(&l, v4("203.0.113.7")));  /* a bare address is /32 */
    assert_false(allowed(&l, v4("203.0.113.8")));
    assert_false(allow_match(&l, NULL));           /* no address: refused */
}

static void ipv6_and_mapped(void **state)
{
    (void)state;
    allow_list l = parse("2001:db8::/33, 127.0.0.1");
    assert_true(allowed(&l, v6("2001:db8::1")));
    assert_true(allowed(&l, v6("2001:db8:7fff:ffff::1")));
    assert_false(allowed(&l, v6("2001:db8:8000::1")));
    assert_true(allowed(&l, v6("::ffff:127.0.0.1")));  /* IPv4-mapped matches the IPv4 range */
    assert_false(allowed(&l, v6("::ffff:127.0.0.2")));
    assert_false(allowed(&l, v6("::1")));
    assert_false(allowed(&l, v4("32.1.13.184")));      /* an IPv4 never matches an IPv6 range */
}

static void telnyx_ranges(void **state)
{
    (void)state;
    allow_list l = parse("telnyx");
    assert_int_equal(l.count, 9);
    assert_true(allowed(&l, v4("192.76.120.130")));
    assert_true(allowed(&l, v4("192.76.120.151")));  /* last of 192.76.120.144/29 */
    assert_false(allowed(&l, v4("192.76.120.152")));
    assert_true(allowed(&l, v4("64.16.239.255")));
    assert_false(allowed(&l, v4("127.0.0.1")));
}

static void bad_entries(void **state)
{
    (void)state;
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "::1/129", "example.com",
                         "10.0.0.256", "10.0.0.0/-1", "telnyxx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        allow_list l = {0};
        char where[64] = "";
        if (allow_parse(&l, bad[i], where, sizeof where))
            fail_msg("'%s' parsed", bad[i]);
        assert_string_equal(where, bad[i]);
    }
    allow_list l = {0};
    char where[64];
    for (int i = 0; i < SRV_MAX_ALLOW / 9; i++)
        assert_true(allow_parse(&l, "telnyx", where, sizeof where));
    assert_false(allow_parse(&l, "telnyx", where, sizeof where)); /* past SRV_MAX_ALLOW */
}

static void sizes(void **state)
{
    (void)state;
    int64_t v;
    assert_true(config_parse_size("1048576", &v) && v == 1048576);
    assert_true(config_parse_size("512k", &v) && v == 524288);
    assert_true(config_parse_size("1M", &v) && v == 1048576);
    assert_true(config_parse_size("10G", &v) && v == INT64_C(10737418240));
    const char *bad[] = {"", "k", "1.5M", "-1", "1MB", " 1", "1 ", "99999999999999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_parse_size(bad[i], &v))
            fail_msg("size '%s' parsed", bad[i]);
    }
}

/* A target's Retry-After: delay-seconds or an HTTP-date; any size is safe (clamped to a week,
 * never converted through a double), anything else counts as none. */
static void retry_after_values(void **state)
{
    (void)state;
    const time_t now = 1445412450; /* Wed, 21 Oct 2015 07:27:30 GMT */
    struct {
        const char *text;
        long want;
    } cases[] = {
        {"120", 120},
        {"  5\r\n", 5},
        {"0", 0},
        {"604800", 604800},
        {"604801", 604800},
        {"99999999999999999999999999999999", 604800},
        {"00000000000000000000000000000007", 7},
        {"-5", 0},
        {"1e400", 0},
        {"abc", 0},
        {"", 0},
        {"Wed, 21 Oct 2015 07:28:00 GMT", 30},
        {"Wed, 21 Oct 2015 07:27:00 GMT", 0},
        {"Fri, 21 Oct 2095 07:28:00 GMT", 604800},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = dispatch_parse_retry_after(cases[i].text, strlen(cases[i].text), now);
        if (got != cases[i].want)
            fail_msg("Retry-After '%s': %ld, wanted %ld", cases[i].text, got, cases[i].want);
    }
}

/* The state names are stored values: each parses back to its state, and nothing else parses. */
static void state_names(void **state)
{
    (void)state;
    for (int i = 0; i < DELIVERY__COUNT; i++) {
        delivery_state s = DELIVERY__COUNT;
        assert_true(delivery_state_parse(delivery_state_name((delivery_state)i), &s));
        assert_int_equal(s, i);
    }
    delivery_state s;
    assert_false(delivery_state_parse("Pending", &s));
    assert_false(delivery_state_parse("", &s));
    assert_string_equal(delivery_state_name(DELIVERY_IN_FLIGHT), "in_flight");
    assert_string_equal(attempt_outcome_name(OUTCOME_INVALID), "invalid");
    assert_string_equal(attempt_outcome_name(OUTCOME__COUNT), "unknown");
}

/* The sign-in form: percent and plus decoded, the exact field name, refused when malformed or
 * too long for the buffer. */
static void console_form(void **state)
{
    (void)state;
    char out[16];
    assert_true(console_form_field("a=1&token=ab%2Bc+d", "token", out, sizeof out));
    assert_string_equal(out, "ab+c d");
    assert_true(console_form_field("xtoken=1&token=2", "token", out, sizeof out));
    assert_string_equal(out, "2");
    assert_true(console_form_field("token=", "token", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(console_form_field("tok=1", "token", out, sizeof out));
    assert_false(console_form_field("token=%zz", "token", out, sizeof out));
    assert_false(console_form_field("token=%4", "token", out, sizeof out));
    assert_false(console_form_field("token=0123456789abcdef", "token", out, sizeof out));
    assert_true(console_form_field("token=0123456789abcde", "token", out, sizeof out));
}

/* What the API shows as text: well-formed UTF-8 only (no overlongs, surrogates or > U+10FFFF). */
static void console_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain", true},           {"\xe2\x82\xac", true},     {"\xf0\x9f\x93\x9e", true},
        {"\xc0\xaf", false},       {"\xe0\x80\xaf", false},   {"\xed\xa0\x80", false},
        {"\xf4\x90\x80\x80", false}, {"\xff", false},         {"\xe2\x82", false},
        {"\x80", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (console_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu: wanted %d", i, cases[i].ok);
    }
}

/* Without a token the console may only listen on loopback. */
static void console_loopback(void **state)
{
    (void)state;
    assert_true(config_listen_loopback("127.0.0.1:8081"));
    assert_true(config_listen_loopback("127.1.2.3:0"));
    assert_true(config_listen_loopback("[::1]:8081"));
    assert_true(config_listen_loopback("tls:127.0.0.1:8444"));
    assert_false(config_listen_loopback("0.0.0.0:8081"));
    assert_false(config_listen_loopback(":8081"));
    assert_false(config_listen_loopback("[::]:8081"));
    assert_false(config_listen_loopback("10.0.0.1:8081"));
    assert_false(config_listen_loopback("localhost:8081")); /* a name could resolve anywhere */
}

/* The 200's template (and the console's live stream) writes a string exactly as jansson would:
 * every ASCII byte inside a string, UTF-8 beyond it, and the bound (no room: 0). */
static void json_quote_matches_jansson(void **state)
{
    (void)state;
    char s[8], out[64];
    for (int c = 1; c < 0x80; c++) {
        snprintf(s, sizeof s, "a%cb", c);
        json_t *j = json_string(s);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t n = http_json_quote(out, sizeof out, s);
        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
        free(want);
        json_decref(j);
    }
    json_t *u = json_string("caf\xc3\xa9 \xe2\x82\xac");
    char *want = json_dumps(u, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_int_equal(http_json_quote(out, sizeof out, "caf\xc3\xa9 \xe2\x82\xac"), strlen(want));
    assert_string_equal(out, want); /* UTF-8 passes as it is, as jansson writes it */
    free(want);
    json_decref(u);
    assert_int_equal(http_json_quote(out, 8, "abcdefgh"), 0);
    assert_int_equal(http_json_quote(out, sizeof out, ""), 2);
    assert_string_equal(out, "\"\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_list_allows_everyone),
        cmocka_unit_test(ipv4_prefix_boundaries),
        cmocka_unit_test(ipv6_and_mapped),
        cmocka_unit_test(telnyx_ranges),
        cmocka_unit_test(bad_entries),
        cmocka_unit_test(sizes),
        cmocka_unit_test(retry_after_values),
        cmocka_unit_test(state_names),
        cmocka_unit_test(console_form),
        cmocka_unit_test(console_utf8),
        cmocka_unit_test(console_loopback),
        cmocka_unit_test(json_quote_matches_jansson),
    };
    return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
