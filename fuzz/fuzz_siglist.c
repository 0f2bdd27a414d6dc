/*
 * fuzz_siglist.c - the webhook-signature header of Standard Webhooks, split and verified.
 *
 * The input is the header value. Properties: every entry the splitter yields lies inside the
 * input, has no space, and the entries cover every non-space byte once; verification never crashes
 * and says OK only when an entry truly is the signature (checked independently with libsodium).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS "1614265330"
#define BODY "{\"test\": 2432232314}"

static hookd_verifier *verifier;

static void setup(void)
{
    if (verifier != NULL)
        return;
    assert(hookd_verifier_new(HOOKD_SCHEME_STANDARD, &verifier) == HOOKD_OK);
    assert(hookd_verifier_add_key(verifier, SECRET) == HOOKD_OK);
    /* The Telnyx test public key, as a v1a key. */
    assert(hookd_verifier_add_key(verifier, "whpk_jrMBoswHlhhVx2W2Www72WU/xn4UMpjreslD0m2u0qs=")
           == HOOKD_OK);
}

static void split(const char *text, size_t size)
{
    const char *cur = text, *end = text + size;
    hk_sig_entry e;
    size_t covered = 0;
    while (hk_siglist_next(&cur, end, &e)) {
        assert(e.version >= text && e.version + e.version_len <= end);
        assert(memchr(e.version, ' ', e.version_len) == NULL);
        size_t n = e.version_len;
        if (e.sig != NULL) {
            assert(e.sig == e.version + e.version_len + 1 && e.sig + e.sig_len <= end);
            assert(memchr(e.sig, ' ', e.sig_len) == NULL);
            n += 1 + e.sig_len;
        }
        covered += n;
    }
    size_t nonspace = 0;
    for (size_t i = 0; i < size; i++)
        nonspace += text[i] != ' ';
    assert(covered == nonspace);
}

static const char *lookup(void *ctx, const char *name)
{
    if (strcmp(name, "webhook-id") == 0)
        return ID;
    if (strcmp(name, "webhook-timestamp") == 0)
        return TS;
    if (strcmp(name, "webhook-signature") == 0)
        return ctx;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size > HOOKD_MAX_SIGNATURE_HEADER + 16)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    split(text, size);
    hookd_verify_result r;
    hookd_err e = hookd_verify(verifier, lookup, text, BODY, strlen(BODY), 1614265330, &r);
    if (e == HOOKD_OK) {
        /* Only the published v1 signature can match (nobody holds the v1a private key). */
        assert(strstr(text, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != NULL);
        assert(strcmp(r.version, "v1") == 0 && r.key_index == 0);
    } else {
        assert(e == HOOKD_ERR_SIGNATURE_MISMATCH || e == HOOKD_ERR_SIGNATURE_MALFORMED
               || e == HOOKD_ERR_SIGNATURE_UNSUPPORTED || e == HOOKD_ERR_MISSING_HEADER);
    }
    free(text);
    return 0;
}
