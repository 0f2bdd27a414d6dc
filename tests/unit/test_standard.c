/*
 * test_standard.c - Standard Webhooks: v1 (HMAC-SHA256) and v1a (Ed25519) over "id.ts.body", the
 * signature list with its malformed and unknown entries, key forms, and the webhook-id rule.
 */
#include "testutil.h"

#define NOW 1614265400

static req vector_req(const char *sig)
{
    req r = {0};
    req_set(&r, "webhook-id", SW_ID);
    req_set(&r, "webhook-timestamp", SW_TS);
    req_set(&r, "webhook-signature", sig);
    return r;
}

static hookd_err check(hookd_verifier *v, const char *sig, hookd_verify_result *res)
{
    req r = vector_req(sig);
    return req_verify(v, &r, SW_BODY, NOW, res);
}

/* A v1a key pair and the signature of the vector message with it. */
typedef struct ed {
    uint8_t pk[32], sk[64];
    char whpk[64], der[96], entry[100];
} ed;

static void make_ed(ed *e)
{
    static const uint8_t spki[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    crypto_sign_keypair(e->pk, e->sk);
    strcpy(e->whpk, "whpk_");
    b64(e->pk, 32, e->whpk + 5, sizeof e->whpk - 5);
    uint8_t der[44];
    memcpy(der, spki, 12);
    memcpy(der + 12, e->pk, 32);
    strcpy(e->der, "whpk_");
    b64(der, 44, e->der + 5, sizeof e->der - 5);
    char sig[89];
    raw_ed25519_sign(e->sk, SW_ID "." SW_TS "." SW_BODY, sig);
    snprintf(e->entry, sizeof e->entry, "v1a,%s", sig);
}

static void published_vector_verifies(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    hookd_verify_result res;
    assert_int_equal(check(v, SW_SIG, &res), HOOKD_OK);
    assert_string_equal(res.version, "v1");
    assert_int_equal(res.key_index, 0);
    /* The same secret without its prefix. */
    hookd_verifier *bare = verifier(HOOKD_SCHEME_STANDARD, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_int_equal(check(bare, SW_SIG, NULL), HOOKD_OK);
    /* Body, id and timestamp are all signed. */
    req r = vector_req(SW_SIG);
    assert_int_equal(req_verify(v, &r, "{\"test\": 2432232315}", NOW, NULL),
                     HOOKD_ERR_SIGNATURE_MISMATCH);
    req_set(&r, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJel");
    assert_int_equal(req_verify(v, &r, SW_BODY, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    req r2 = vector_req(SW_SIG);
    req_set(&r2, "webhook-timestamp", "1614265331");
    assert_int_equal(req_verify(v, &r2, SW_BODY, NOW, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    hookd_verifier_free(v);
    hookd_verifier_free(bare);
}

static void any_entry_with_any_key(void **state)
{
    (void)state;
    ed e;
    make_ed(&e);
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, "whsec_" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(hookd_verifier_add_key(v, e.whpk), HOOKD_OK);
    assert_int_equal(hookd_verifier_add_key(v, SW_SECRET), HOOKD_OK);
    hookd_verify_result res;
    char list[512];
    snprintf(list, sizeof list, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= %s", SW_SIG);
    assert_int_equal(check(v, list, &res), HOOKD_OK);
    assert_string_equal(res.version, "v1");
    assert_int_equal(res.key_index, 2);
    assert_int_equal(res.entries_skipped, 1);
    snprintf(list, sizeof list, "v2,abc %s", e.entry);
    assert_int_equal(check(v, list, &res), HOOKD_OK);
    assert_string_equal(res.version, "v1a");
    assert_int_equal(res.key_index, 1);
    hookd_verifier_free(v);
}

static void v1a_accepts_raw_and_der_keys(void **state)
{
    (void)state;
    ed e;
    make_ed(&e);
    hookd_verifier *raw = verifier(HOOKD_SCHEME_STANDARD, e.whpk);
    hookd_verifier *der = verifier(HOOKD_SCHEME_STANDARD, e.der);
    assert_int_equal(check(raw, e.entry, NULL), HOOKD_OK);
    assert_int_equal(check(der, e.entry, NULL), HOOKD_OK);
    /* A v1 signature cannot verify against an Ed25519 key, nor v1a against a secret. */
    assert_int_equal(check(raw, SW_SIG, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    hookd_verifier *mac = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    assert_int_equal(check(mac, e.entry, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    hookd_verifier_free(raw);
    hookd_verifier_free(der);
    hookd_verifier_free(mac);
}

static void malformed_entries_are_skipped(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    char truncated[64];
    snprintf(truncated, sizeof truncated, "%.40s", SW_SIG);
    const char *noise[] = {"v1,", "v1", ",", "v1,,", truncated, "v1,g0hM9SsE", "v1,!!!!",
                           "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                           "v2,whatever", "v1a,AAAA", "V9,x"};
    for (size_t i = 0; i < sizeof noise / sizeof noise[0]; i++) {
        char list[256];
        /* Alone: never valid, never a crash. With the good entry after it: valid. */
        if (check(v, noise[i], NULL) == HOOKD_OK)
            fail_msg("'%s' alone verified", noise[i]);
        snprintf(list, sizeof list, "%s  %s", noise[i], SW_SIG);
        if (check(v, list, NULL) != HOOKD_OK)
            fail_msg("'%s' before a good entry made it fail", noise[i]);
    }
    hookd_verifier_free(v);
}

static void failure_reasons_are_precise(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    hookd_verify_result res;
    assert_int_equal(check(v, "v1,", &res), HOOKD_ERR_SIGNATURE_MALFORMED);
    assert_int_equal(check(v, "v1", &res), HOOKD_ERR_SIGNATURE_MALFORMED);
    assert_int_equal(check(v, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", &res),
                     HOOKD_ERR_SIGNATURE_MALFORMED); /* padding cut off */
    assert_int_equal(check(v, "v2,abc v3,def", &res), HOOKD_ERR_SIGNATURE_UNSUPPORTED);
    assert_int_equal(res.entries_skipped, 2);
    assert_int_equal(check(v, "   ", &res), HOOKD_ERR_SIGNATURE_UNSUPPORTED);
    assert_int_equal(check(v, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &res),
                     HOOKD_ERR_SIGNATURE_MISMATCH);
    assert_string_equal(res.header, "webhook-signature");
    hookd_verifier_free(v);
}

static void too_many_entries_or_too_long_a_header(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    char list[HOOKD_MAX_SIGNATURE_HEADER + 64] = "";
    size_t n = 0;
    for (int i = 0; i < HOOKD_MAX_SIGNATURES; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "v2,x ");
    snprintf(list + n, sizeof list - n, "%s", SW_SIG); /* entry 17: past the limit, not looked at */
    assert_int_equal(check(v, list, NULL), HOOKD_ERR_SIGNATURE_MALFORMED);
    /* A header of exactly the limit is read; one byte more is refused. */
    for (size_t len = HOOKD_MAX_SIGNATURE_HEADER; len <= HOOKD_MAX_SIGNATURE_HEADER + 1; len++) {
        memset(list, ' ', len);
        snprintf(list + len - strlen(SW_SIG), sizeof list - len + strlen(SW_SIG), "%s", SW_SIG);
        assert_int_equal(strlen(list), len);
        assert_int_equal(check(v, list, NULL), len == HOOKD_MAX_SIGNATURE_HEADER
                                                   ? HOOKD_OK
                                                   : HOOKD_ERR_SIGNATURE_MALFORMED);
    }
    hookd_verifier_free(v);
}

static void webhook_id_rules(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    char long_id[HOOKD_MAX_ID_LEN + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    const char *bad[] = {"msg.1", ".", "a\x01" "b", long_id};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req r = vector_req(SW_SIG);
        hookd_verify_result res;
        req_set(&r, "webhook-id", bad[i]);
        assert_int_equal(req_verify(v, &r, SW_BODY, NOW, &res), HOOKD_ERR_ID_MALFORMED);
        assert_string_equal(res.header, "webhook-id");
    }
    hookd_verifier_free(v);
}

static void missing_headers_and_window(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    const char *names[] = {"webhook-id", "webhook-timestamp", "webhook-signature"};
    for (size_t i = 0; i < 3; i++) {
        req r = vector_req(SW_SIG);
        req_set(&r, names[i], NULL);
        hookd_verify_result res;
        assert_int_equal(req_verify(v, &r, SW_BODY, NOW, &res), HOOKD_ERR_MISSING_HEADER);
        assert_string_equal(res.header, names[i]);
    }
    req r = vector_req(SW_SIG);
    assert_int_equal(req_verify(v, &r, SW_BODY, 1614265330 + 300, NULL), HOOKD_OK);
    assert_int_equal(req_verify(v, &r, SW_BODY, 1614265330 + 301, NULL), HOOKD_ERR_TIMESTAMP_TOO_OLD);
    assert_int_equal(req_verify(v, &r, SW_BODY, 1614265330 - 301, NULL),
                     HOOKD_ERR_TIMESTAMP_IN_FUTURE);
    req_set(&r, "webhook-timestamp", "1614265330.5");
    assert_int_equal(req_verify(v, &r, SW_BODY, NOW, NULL), HOOKD_ERR_TIMESTAMP_MALFORMED);
    hookd_verifier_free(v);
}

static void key_forms(void **state)
{
    (void)state;
    uint8_t b[65];
    char text[128];
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, NULL);
    for (size_t n = 20; n <= 65; n++) {
        randombytes_buf(b, n);
        strcpy(text, "whsec_");
        b64(b, n, text + 6, sizeof text - 6);
        hookd_err want = n >= 24 && n <= 64 ? HOOKD_OK : HOOKD_ERR_BAD_KEY;
        hookd_verifier *w = verifier(HOOKD_SCHEME_STANDARD, NULL);
        if (hookd_verifier_add_key(w, text) != want)
            fail_msg("whsec_ secret of %zu bytes", n);
        hookd_verifier_free(w);
    }
    ed e;
    make_ed(&e);
    char whsk[80] = "whsk_";
    b64(e.sk, 32, whsk + 5, sizeof whsk - 5);
    char whpk_of_signature[100];
    snprintf(whpk_of_signature, sizeof whpk_of_signature, "whpk_%s", TELNYX_SIG); /* 64 bytes */
    const char *bad[] = {whsk,     "whpk_AAAA",         "whpk_",
                         "whsec_", "whsec_not base64!", whpk_of_signature};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hookd_verifier_add_key(v, bad[i]) != HOOKD_ERR_BAD_KEY)
            fail_msg("key '%s' accepted", bad[i]);
    }
    hookd_verifier_free(v);
}

/* The specification's versions are "v1" and "v1a", compared exactly (as every reference library
 * does): "V1,<valid signature>" is an unknown entry, not a signature. */
static void versions_are_case_sensitive(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    char upper[128];
    snprintf(upper, sizeof upper, "V%s", &SW_SIG[1]);
    assert_int_equal(check(v, upper, NULL), HOOKD_ERR_SIGNATURE_UNSUPPORTED);
    ed e;
    make_ed(&e);
    hookd_verifier *k = verifier(HOOKD_SCHEME_STANDARD, e.whpk);
    char shout[128];
    snprintf(shout, sizeof shout, "V1A%s", e.entry + 3);
    assert_int_equal(check(k, shout, NULL), HOOKD_ERR_SIGNATURE_UNSUPPORTED);
    assert_int_equal(check(k, e.entry, NULL), HOOKD_OK);
    hookd_verifier_free(v);
    hookd_verifier_free(k);
}

/* Each Ed25519 check hashes the whole body: a sender listing many v1a entries (valid signatures
 * from another key) cannot multiply them by the number of keys. The budget is
 * HOOKD_MAX_ED25519_CHECKS, so a legitimate rotation (2 entries x 2 keys) still verifies. */
static void ed25519_checks_per_request_are_capped(void **state)
{
    (void)state;
    ed good, other, spare;
    make_ed(&good);
    make_ed(&other);
    make_ed(&spare);
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, spare.whpk);
    assert_int_equal(hookd_verifier_add_key(v, good.whpk), HOOKD_OK);
    char list[4096] = "";
    /* Two keys: one foreign entry costs 2 checks, the good one 2 more: within the budget. */
    snprintf(list, sizeof list, "%s %s", other.entry, good.entry);
    assert_int_equal(check(v, list, NULL), HOOKD_OK);
    /* Two foreign entries spend all 4 checks: the good entry behind them is never tried. */
    snprintf(list, sizeof list, "%s %s %s", other.entry, other.entry, good.entry);
    assert_int_equal(check(v, list, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
    /* 15 foreign entries and the good one first: verified at once. */
    size_t used = (size_t)snprintf(list, sizeof list, "%s", good.entry);
    for (int i = 0; i < 15; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, " %s", other.entry);
    assert_int_equal(check(v, list, NULL), HOOKD_OK);
    /* More Ed25519 keys than the budget: each key still gets its check for the first entry. */
    hookd_verifier *many = verifier(HOOKD_SCHEME_STANDARD, NULL);
    for (int i = 0; i < HOOKD_MAX_ED25519_CHECKS + 1; i++)
        assert_int_equal(hookd_verifier_add_key(many, spare.whpk), HOOKD_OK);
    assert_int_equal(hookd_verifier_add_key(many, good.whpk), HOOKD_OK);
    assert_int_equal(check(many, good.entry, NULL), HOOKD_OK);
    hookd_verifier_free(v);
    hookd_verifier_free(many);
}

/* hookd_verify_headers: what a server checks before it reads a body. */
static void header_checks_need_no_body(void **state)
{
    (void)state;
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, SW_SECRET);
    req r = vector_req(SW_SIG);
    hookd_verify_result res;
    assert_int_equal(hookd_verify_headers(v, hookd_header_list_lookup, req_list(&r), NOW, &res),
                     HOOKD_OK);
    /* A wrong signature is only found with the body. */
    req wrong = vector_req("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_int_equal(hookd_verify_headers(v, hookd_header_list_lookup, req_list(&wrong), NOW, &res),
                     HOOKD_OK);
    assert_int_equal(hookd_verify_headers(v, hookd_header_list_lookup, req_list(&r), NOW + 1000,
                                          &res),
                     HOOKD_ERR_TIMESTAMP_TOO_OLD);
    req none = {0};
    req_set(&none, "webhook-id", SW_ID);
    req_set(&none, "webhook-timestamp", SW_TS);
    assert_int_equal(hookd_verify_headers(v, hookd_header_list_lookup, req_list(&none), NOW, &res),
                     HOOKD_ERR_MISSING_HEADER);
    assert_string_equal(res.header, "webhook-signature");
    assert_int_equal(hookd_verifier_set_bearer(v, "s3cret"), HOOKD_OK);
    assert_int_equal(hookd_verify_headers(v, hookd_header_list_lookup, req_list(&r), NOW, &res),
                     HOOKD_ERR_BEARER_MISSING);
    /* Telnyx: the signature must at least be strict base64 of 64 bytes. */
    hookd_verifier *t = verifier(HOOKD_SCHEME_TELNYX, TELNYX_PUB);
    req tr = {0};
    req_set(&tr, "telnyx-timestamp", TELNYX_TS);
    req_set(&tr, "telnyx-signature-ed25519", "AAAA");
    assert_int_equal(hookd_verify_headers(t, hookd_header_list_lookup, req_list(&tr), 1700000000,
                                          &res),
                     HOOKD_ERR_SIGNATURE_MALFORMED);
    req_set(&tr, "telnyx-signature-ed25519", TELNYX_SIG);
    assert_int_equal(hookd_verify_headers(t, hookd_header_list_lookup, req_list(&tr), 1700000000,
                                          &res),
                     HOOKD_OK);
    hookd_verifier_free(v);
    hookd_verifier_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vector_verifies),
        cmocka_unit_test(any_entry_with_any_key),
        cmocka_unit_test(v1a_accepts_raw_and_der_keys),
        cmocka_unit_test(malformed_entries_are_skipped),
        cmocka_unit_test(failure_reasons_are_precise),
        cmocka_unit_test(too_many_entries_or_too_long_a_header),
        cmocka_unit_test(webhook_id_rules),
        cmocka_unit_test(missing_headers_and_window),
        cmocka_unit_test(key_forms),
        cmocka_unit_test(versions_are_case_sensitive),
        cmocka_unit_test(ed25519_checks_per_request_are_capped),
        cmocka_unit_test(header_checks_need_no_body),
    };
    assert_int_equal(hookd_init(), HOOKD_OK);
    return cmocka_run_group_tests_name("standard", tests, NULL, NULL);
}
