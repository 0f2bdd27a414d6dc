/*
 * test_sign.c - signing as the senders do: vectors, round trips through the verifier, key forms.
 */
#include <stdlib.h>

#include "testutil.h"

static hookd_signer *signer(hookd_scheme scheme, const char *key)
{
    hookd_signer *s = NULL;
    assert_int_equal(hookd_signer_new(scheme, key, &s), HOOKD_OK);
    return s;
}

static void reproduces_published_vectors(void **state)
{
    (void)state;
    char out[HOOKD_SIGNATURE_BUFSIZE];
    hookd_signer *t = signer(HOOKD_SCHEME_TELNYX, TELNYX_SEED);
    assert_int_equal(hookd_sign(t, NULL, TELNYX_TS, TELNYX_BODY, strlen(TELNYX_BODY), out, sizeof out),
                     HOOKD_OK);
    assert_string_equal(out, TELNYX_SIG);
    assert_int_equal(hookd_signer_public_key(t, out, sizeof out), HOOKD_OK);
    assert_string_equal(out, TELNYX_PUB);
    hookd_signer_free(t);

    hookd_signer *s = signer(HOOKD_SCHEME_STANDARD, SW_SECRET);
    assert_int_equal(hookd_sign(s, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), out, sizeof out), HOOKD_OK);
    assert_string_equal(out, SW_SIG);
    assert_int_equal(hookd_signer_public_key(s, out, sizeof out), HOOKD_ERR_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign(s, "has.dot", SW_TS, SW_BODY, 3, out, sizeof out),
                     HOOKD_ERR_ID_MALFORMED);
    assert_int_equal(hookd_sign(s, NULL, SW_TS, SW_BODY, 3, out, sizeof out),
                     HOOKD_ERR_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign(s, SW_ID, SW_TS, SW_BODY, 3, out, 10), HOOKD_ERR_BUFFER_TOO_SMALL);
    hookd_signer_free(s);
}

static void keygen_round_trips(void **state)
{
    (void)state;
    const hookd_scheme schemes[] = {HOOKD_SCHEME_TELNYX, HOOKD_SCHEME_STANDARD};
    for (size_t i = 0; i < 2; i++) {
        char pub[HOOKD_KEY_BUFSIZE], priv[HOOKD_KEY_BUFSIZE], sig[HOOKD_SIGNATURE_BUFSIZE];
        assert_int_equal(hookd_keygen(schemes[i], pub, sizeof pub, priv, sizeof priv), HOOKD_OK);
        if (schemes[i] == HOOKD_SCHEME_TELNYX) {
            assert_int_equal(strlen(pub), 44);
            assert_int_equal(strlen(priv), 44);
        } else {
            assert_memory_equal(pub, "whpk_", 5);
            assert_memory_equal(priv, "whsk_", 5);
        }
        hookd_signer *s = signer(schemes[i], priv);
        char derived[HOOKD_KEY_BUFSIZE];
        assert_int_equal(hookd_signer_public_key(s, derived, sizeof derived), HOOKD_OK);
        assert_string_equal(derived, pub);
        assert_int_equal(hookd_sign(s, "msg_1", "1700000000", "{}", 2, sig, sizeof sig), HOOKD_OK);
        hookd_signer_free(s);

        hookd_verifier *v = verifier(schemes[i], pub);
        req r = {0};
        req_set(&r, "telnyx-timestamp", "1700000000");
        req_set(&r, "telnyx-signature-ed25519", sig);
        req_set(&r, "webhook-id", "msg_1");
        req_set(&r, "webhook-timestamp", "1700000000");
        req_set(&r, "webhook-signature", sig);
        assert_int_equal(req_verify(v, &r, "{}", 1700000000, NULL), HOOKD_OK);
        assert_int_equal(req_verify(v, &r, "{ }", 1700000000, NULL), HOOKD_ERR_SIGNATURE_MISMATCH);
        hookd_verifier_free(v);
    }
    char secret[HOOKD_KEY_BUFSIZE];
    assert_int_equal(hookd_secret_generate(secret, sizeof secret), HOOKD_OK);
    assert_memory_equal(secret, "whsec_", 6);
    assert_int_equal(strlen(secret), 6 + 44);
    hookd_verifier *v = verifier(HOOKD_SCHEME_STANDARD, secret);
    hookd_verifier_free(v);
}

static void private_key_forms(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char full[100], mismatched[100], sig1[HOOKD_SIGNATURE_BUFSIZE], sig2[HOOKD_SIGNATURE_BUFSIZE];
    char seed[60];
    b64(sk, 32, seed, sizeof seed);
    b64(sk, 64, full, sizeof full); /* seed || public key, as some producers store it */
    hookd_signer *a = signer(HOOKD_SCHEME_TELNYX, seed);
    hookd_signer *b = signer(HOOKD_SCHEME_TELNYX, full);
    assert_int_equal(hookd_sign(a, NULL, "1", "x", 1, sig1, sizeof sig1), HOOKD_OK);
    assert_int_equal(hookd_sign(b, NULL, "1", "x", 1, sig2, sizeof sig2), HOOKD_OK);
    assert_string_equal(sig1, sig2);
    hookd_signer_free(a);
    hookd_signer_free(b);
    sk[40] ^= 1; /* the public half no longer matches the seed */
    b64(sk, 64, mismatched, sizeof mismatched);
    hookd_signer *s = NULL;
    assert_int_equal(hookd_signer_new(HOOKD_SCHEME_TELNYX, mismatched, &s), HOOKD_ERR_BAD_KEY);
    assert_null(s);
    assert_int_equal(hookd_signer_new(HOOKD_SCHEME_STANDARD, "whpk_" TELNYX_PUB, &s), HOOKD_ERR_BAD_KEY);
    assert_int_equal(hookd_signer_new(HOOKD_SCHEME_TELNYX, TELNYX_SIG "x", &s), HOOKD_ERR_BAD_KEY);
    assert_int_equal(hookd_signer_new(HOOKD_SCHEME_NONE, TELNYX_SEED, &s), HOOKD_ERR_INVALID_ARGUMENT);
    char whsk[100];
    snprintf(whsk, sizeof whsk, "whsk_%s", seed);
    s = signer(HOOKD_SCHEME_STANDARD, whsk);
    assert_int_equal(hookd_sign(s, "id", "1", "x", 1, sig1, sizeof sig1), HOOKD_OK);
    assert_memory_equal(sig1, "v1a,", 4);
    assert_int_equal(strlen(sig1), 4 + 88);
    hookd_signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reproduces_published_vectors),
        cmocka_unit_test(keygen_round_trips),
        cmocka_unit_test(private_key_forms),
    };
    assert_int_equal(hookd_init(), HOOKD_OK);
    return cmocka_run_group_tests_name("sign", tests, NULL, NULL);
}
