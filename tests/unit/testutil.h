/*
 * testutil.h - what the unit tests share: cmocka, a header list, and signing with libsodium
 * directly (not through libhookd), so a test of the verifier does not trust the signer under test.
 */
#ifndef HOOKD_TESTUTIL_H
#define HOOKD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hookd/hookd.h"

/* The Telnyx test key pair and vector from PROTOCOLS.md (published in telnyx-java's tests). */
#define TELNYX_SEED "i1xxSkIuQOY9H8laaRslIoYGTJ1NwBAFdjsQwiwJH04="
#define TELNYX_PUB "jrMBoswHlhhVx2W2Www72WU/xn4UMpjreslD0m2u0qs="
#define TELNYX_TS "1700000000"
#define TELNYX_BODY "{\"event_type\":\"test\",\"id\":\"abc123\"}"
#define TELNYX_SIG "7o3u2izfEtn5PFPE0nDvo9y8RErRmfHM5wIO04wRV6VTNaq6RiLj1ehc7uMJuIMihJobi2u3HYyB1Ie61c2XCQ=="

/* The Standard Webhooks vector from the specification's libraries. */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS "1614265330"
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* Up to eight headers for one request. */
typedef struct req {
    hookd_header h[8];
    hookd_header_list list;
} req;

static inline void req_set(req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->list.count; i++) {
        if (strcmp(r->h[i].name, name) == 0) {
            r->h[i].value = value;
            return;
        }
    }
    r->h[r->list.count].name = name;
    r->h[r->list.count].value = value;
    r->list.count++;
}

/* The header list of r. A req may have been copied, so its items are pointed at here. */
static inline hookd_header_list *req_list(req *r)
{
    r->list.items = r->h;
    return &r->list;
}

static inline hookd_err req_verify(const hookd_verifier *v, req *r, const char *body, int64_t now,
                                   hookd_verify_result *res)
{
    return hookd_verify(v, hookd_header_list_lookup, req_list(r), body, strlen(body), now, res);
}

static inline hookd_verifier *verifier(hookd_scheme scheme, const char *key)
{
    hookd_verifier *v = NULL;
    assert_int_equal(hookd_verifier_new(scheme, &v), HOOKD_OK);
    if (key != NULL)
        assert_int_equal(hookd_verifier_add_key(v, key), HOOKD_OK);
    return v;
}

/* Ed25519 sign prefix + body with libsodium directly; base64 of the signature into out. */
static inline void raw_ed25519_sign(const uint8_t sk[64], const char *msg, char out[89])
{
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, strlen(msg), sk);
    sodium_bin2base64(out, 89, sig, 64, sodium_base64_VARIANT_ORIGINAL);
}

static inline void b64(const uint8_t *bin, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

#endif
