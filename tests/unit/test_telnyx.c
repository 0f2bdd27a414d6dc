/*
 * test_telnyx.c - the Telnyx scheme: Ed25519 over "timestamp|body", the replay window, strict
 * encodings, key rotation, the bearer check, and the order the checks run in.
 */
#include "testutil.h"

#define NOW 1700000100 /* 100 s after the vector was signed */

static req vector_req(void)
{
    req r = {0};
    req_set(&r, "telnyx-timestamp", TELNYX_TS);
    req_set(&r, "telnyx-signature-ed25519", TELNYX_SIG);
    return r;
}

static void published_vector_verifies(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req r = vector_req();
    hookd_verify_result res;
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_OK);
    assert_int_equal(res.key_index, 0);
    assert_string_equal(res.version, "ed25519");
    assert_int_equal(res.timestamp, 1700000000);
    assert_int_equal(res.skew, 100);
    hookd_verifier_free(v);
}

static void any_changed_byte_fails(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    char body[] = TELNYX_BODY;
    for (size_t i = 0; i < strlen(body); i++) {
        req r = vector_req();
        body[i] ^= 0x01;
        assert_int_equal(req_verify(v, &r, body, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
        body[i] ^= 0x01;
    }
    /* A trailing newline, as a re-serialising framework would add, is a different body. */
    req r = vector_req();
    assert_int_equal(req_verify(v, &r, TELNYX_BODY "\n", NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    /* The timestamp is signed too: the same value written with a leading zero is not. */
    req_set(&r, "telnyx-timestamp", "01700000000");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    hookd_verifier_free(v);
}

static void missing_headers_are_named(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    hookd_verify_result res;
    req r = {0};
    req_set(&r, "telnyx-signature-ed25519", TELNYX_SIG);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_ERR_MISSING_HEADER);
    assert_string_equal(res.header, "telnyx-timestamp");
    req r2 = {0};
    req_set(&r2, "telnyx-timestamp", TELNYX_TS);
    assert_int_equal(req_verify(v, &r2, TELNYX_BODY, NOW, &res), HOOKD_ERR_MISSING_HEADER);
    assert_string_equal(res.header, "telnyx-signature-ed25519");
    req_set(&r2, "telnyx-signature-ed25519", "");
    assert_int_equal(req_verify(v, &r2, TELNYX_BODY, NOW, &res), HOOKD_ERR_MISSING_HEADER);
    char line[128];
    hookd_verify_describe(&res, line, sizeof line);
    assert_string_equal(line, "missing header telnyx-signature-ed25519");
    hookd_verifier_free(v);
}

static void header_names_are_case_insensitive(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req r = {0};
    req_set(&r, "Telnyx-Timestamp", TELNYX_TS);
    req_set(&r, "TELNYX-SIGNATURE-ED25519", TELNYX_SIG);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_OK);
    hookd_verifier_free(v);
}

static void replay_window_300_passes_301_fails(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    hookd_verify_result res;
    req r = vector_req();
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1700000300, NULL), HOOKD_OK);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1700000301, &res), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    char line[128];
    hookd_verify_describe(&res, line, sizeof line);
    assert_string_equal(line, "timestamp is too old: 301 s before now, window 300 s");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1699999700, NULL), HOOKD_OK);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1699999699, &res),
                     HOOKD_ERR_TIMESTAMP_IN_FUTURE);
    hookd_verify_describe(&res, line, sizeof line);
    assert_string_equal(line, "timestamp is in the future: 301 s after now, window 300 s");
    /* A configured window replaces the default. */
    assert_int_equal(hookd_verifier_set_tolerance(v, 10), HOOKD_OK);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1700000010, NULL), HOOKD_OK);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1700000011, NULL), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    assert_int_equal(hookd_verifier_set_tolerance(v, -1), HOOKD_ERR_INVALID_ARGUMENT);
    hookd_verifier_free(v);
}

static void timestamp_is_checked_before_signature(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req r = vector_req();
    req_set(&r, "telnyx-signature-ed25519", "not base64 at all");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, 1800000000, NULL), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    req_set(&r, "telnyx-timestamp", "17e8");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_TIMESTAMP_MALFORMED);
    hookd_verifier_free(v);
}

static void malformed_timestamps(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    const char *bad[] = {" 1700000000", "+1700000000", "-1", "1700000000.0", "1700000000 ",
                         "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req r = vector_req();
        hookd_verify_result res;
        req_set(&r, "telnyx-timestamp", bad[i]);
        assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_ERR_TIMESTAMP_MALFORMED);
        assert_string_equal(res.header, "telnyx-timestamp");
    }
    hookd_verifier_free(v);
}

static void malformed_signatures(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    char unpadded[128], truncated[128], urlsafe[128], spaced[128];
    snprintf(unpadded, sizeof unpadded, "%.86s", TELNYX_SIG);
    snprintf(truncated, sizeof truncated, "%.84s", TELNYX_SIG);
    snprintf(urlsafe, sizeof urlsafe, "%s", TELNYX_SIG);
    urlsafe[10] = '-'; /* URL-safe alphabet (this signature has no '+' or '/' to translate) */
    snprintf(spaced, sizeof spaced, " %s", TELNYX_SIG);
    /* Also: the 64 bytes with unused bits set in the last character (a second spelling). */
    char respelled[128];
    snprintf(respelled, sizeof respelled, "%s", TELNYX_SIG);
    respelled[85] = 'R'; /* 'Q' is canonical there: ...XCQ== ; 'R' sets an unused bit */
    char versioned[128];
    snprintf(versioned, sizeof versioned, "v1,%s", TELNYX_SIG);
    const char *bad[] = {unpadded, truncated, urlsafe, spaced, respelled, versioned, "QUJD"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req r = vector_req();
        req_set(&r, "telnyx-signature-ed25519", bad[i]);
        if (req_verify(v, &r, TELNYX_BODY, NOW, NULL) != HOOKD_ERR_SIGNATURE_MALFORMED)
            fail_msg("signature '%s' not rejected as malformed", bad[i]);
    }
    hookd_verifier_free(v);
}

/* S + L is the same signature in a second, non-canonical form; libsodium must refuse it. */
static void non_canonical_s_is_rejected(void **state)
{
    (void)state;
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0,    0,    0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0x10};
    uint8_t sig[64];
    assert_int_equal(hookd_base64_decode_exact(TELNYX_SIG, 88, sig, 64), HOOKD_OK);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned s = sig[32 + i] + L[i] + carry;
        sig[32 + i] = (uint8_t)s;
        carry = s >> 8;
    }
    char text[89];
    b64(sig, 64, text, sizeof text);
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req r = vector_req();
    req_set(&r, "telnyx-signature-ed25519", text);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    hookd_verifier_free(v);
}

static void key_rotation_any_key_verifies(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char other[45];
    b64(pk, 32, other, sizeof other);
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, other);
    req r = vector_req();
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    assert_int_equal(hookd_verifier_add_key(v, TELNYX_PUB), HOOKD_OK);
    hookd_verify_result res;
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_OK);
    assert_int_equal(res.key_index, 1);
    /* A delivery signed by the first key verifies with index 0. */
    char sig[89];
    raw_ed25519_sign(sk, TELNYX_TS "|" TELNYX_BODY, sig);
    req_set(&r, "telnyx-signature-ed25519", sig);
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_OK);
    assert_int_equal(res.key_index, 0);
    assert_int_equal(hookd_verifier_key_count(v), 2);
    for (int i = 2; i < HOOKD_MAX_KEYS; i++)
        assert_int_equal(hookd_verifier_add_key(v, TELNYX_PUB), HOOKD_OK);
    assert_int_equal(hookd_verifier_add_key(v, TELNYX_PUB), HOOKD_ERR_TOO_MANY_KEYS);
    hookd_verifier_free(v);
}

static void bad_keys_are_refused(void **state)
{
    (void)state;
    uint8_t identity[32] = {1}; /* the neutral point: small order, verifies forgeries */
    char small_order[45];
    b64(identity, 32, small_order, sizeof small_order);
    char short_key[64];
    snprintf(short_key, sizeof short_key, "%.43s", TELNYX_PUB);
    const char *bad[] = {"", short_key, "whpk_" TELNYX_PUB, TELNYX_PUB "\n",
                         "jrMBoswHlhhVx2W2Www72WU/xn4UMpjreslD0m2u0qs", /* unpadded */
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 36 bytes */
                         small_order, TELNYX_SIG};
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hookd_verifier_add_key(v, bad[i]) != HOOKD_ERR_BAD_KEY)
            fail_msg("key %zu accepted", i);
    }
    char huge[HOOKD_MAX_KEY_TEXT + 8]; /* over HOOKD_MAX_KEY_TEXT: refused before decoding */
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    assert_int_equal(hookd_verifier_add_key(v, huge), HOOKD_ERR_BAD_KEY);
    assert_int_equal(hookd_verifier_key_count(v), 0);
    hookd_verifier_free(v);
}

static void no_keys_fails_closed(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, NULL);
    req r = vector_req();
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_NO_KEYS);
    hookd_verifier_free(v);
}

static void bearer_token(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    assert_int_equal(hookd_verifier_set_bearer(v, "s3cret-token"), HOOKD_OK);
    hookd_verify_result res;
    req r = vector_req();
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_ERR_BEARER_MISSING);
    assert_string_equal(res.header, "authorization");
    req_set(&r, "authorization", "Basic czNjcmV0LXRva2Vu");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_BEARER_MISSING);
    req_set(&r, "authorization", "Bearer s3cret-toke");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_BEARER_MISMATCH);
    req_set(&r, "authorization", "Bearer s3cret-token2");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_ERR_BEARER_MISMATCH);
    req_set(&r, "authorization", "bearer s3cret-token");
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, NULL), HOOKD_OK);
    /* The bearer is checked first: a right token does not excuse a wrong signature. */
    req_set(&r, "telnyx-signature-ed25519", TELNYX_SIG);
    assert_int_equal(req_verify(v, &r, "{}", NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    assert_int_equal(hookd_verifier_set_bearer(v, ""), HOOKD_ERR_BAD_KEY);
    char long_token[HOOKD_MAX_BEARER_LEN + 2];
    memset(long_token, 't', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = 0;
    assert_int_equal(hookd_verifier_set_bearer(v, long_token), HOOKD_ERR_BAD_KEY); /* limit + 1 */
    long_token[HOOKD_MAX_BEARER_LEN] = 0;
    assert_int_equal(hookd_verifier_set_bearer(v, long_token), HOOKD_OK);          /* at the limit */
    hookd_verifier_free(v);

    hookd_verifier *none = verifier(HOOKD_SCHEME_NONE, NULL);
    req empty = {0};
    assert_int_equal(req_verify(none, &empty, "anything", NOW, NULL), HOOKD_OK);
    assert_int_equal(hookd_verifier_set_bearer(none, "t"), HOOKD_OK);
    assert_int_equal(req_verify(none, &empty, "anything", NOW, NULL), HOOKD_ERR_BEARER_MISSING);
    assert_int_equal(hookd_verifier_add_key(none, TELNYX_PUB), HOOKD_ERR_INVALID_ARGUMENT);
    hookd_verifier_free(none);
}

/* Whatever fails, the description never carries the signature that would have been right. */
static void messages_never_leak_the_expected_signature(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char wrong[89];
    raw_ed25519_sign(sk, TELNYX_TS "|" TELNYX_BODY, wrong);
    req r = vector_req();
    req_set(&r, "telnyx-signature-ed25519", wrong);
    hookd_verify_result res;
    assert_int_equal(req_verify(v, &r, TELNYX_BODY, NOW, &res), HOOKD_ERR_SIGNATURE_MISMATCH);
    char line[512];
    hookd_verify_describe(&res, line, sizeof line);
    assert_null(strstr(line, TELNYX_SIG));
    assert_null(strstr(line, "7o3u2izf"));
    assert_string_equal(line, "telnyx-signature-ed25519: no signature matched any configured key");
    hookd_verifier_free(v);
}

static void empty_body_is_signed_too(void **state)
{
    (void)state;
    uint8_t seed[32], pk[32], sk[64];
    size_t n;
    assert_int_equal(hookd_base64_decode(TELNYX_SEED, 44, seed, 32, &n), HOOKD_OK);
    crypto_sign_seed_keypair(pk, sk, seed);
    char sig[89];
    raw_ed25519_sign(sk, TELNYX_TS "|", sig);
    hookd_verifier *v = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req r = vector_req();
    req_set(&r, "telnyx-signature-ed25519", sig);
    assert_int_equal(hookd_verify(v, hookd_header_list_lookup, req_list(&r), NULL, 0, NOW, NULL),
                     HOOKD_OK);
    hookd_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vector_verifies),
        cmocka_unit_test(any_changed_byte_fails),
        cmocka_unit_test(missing_headers_are_named),
        cmocka_unit_test(header_names_are_case_insensitive),
        cmocka_unit_test(replay_window_300_passes_301_fails),
        cmocka_unit_test(timestamp_is_checked_before_signature),
        cmocka_unit_test(malformed_timestamps),
        cmocka_unit_test(malformed_signatures),
        cmocka_unit_test(non_canonical_s_is_rejected),
        cmocka_unit_test(key_rotation_any_key_verifies),
        cmocka_unit_test(bad_keys_are_refused),
        cmocka_unit_test(no_keys_fails_closed),
        cmocka_unit_test(bearer_token),
        cmocka_unit_test(messages_never_leak_the_expected_signature),
        cmocka_unit_test(empty_body_is_signed_too),
    };
    assert_int_equal(hookd_init(), HOOKD_OK);
    return cmocka_run_group_tests_name("telnyx", tests, NULL, NULL);
}
