/*
 * sign.c - sign as the senders do, and make keys and secrets.
 *
 * The signing side of verify.c: the same signed bytes (hk_signed_message, hk_hmac_v1), so what
 * hookd signs, hookd verifies, and tests cross-check both against openssl and Node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

struct hookd_signer {
    hookd_scheme scheme;
    hk_key key;
};

hookd_err hookd_signer_new(hookd_scheme scheme, const char *key_text, hookd_signer **out)
{
    if (out == NULL || key_text == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (scheme != HOOKD_SCHEME_TELNYX && scheme != HOOKD_SCHEME_STANDARD)
        return HOOKD_ERR_INVALID_ARGUMENT;
    hookd_signer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return HOOKD_ERR_NO_MEMORY;
    s->scheme = scheme;
    hookd_err e = hk_key_parse_private(scheme, key_text, &s->key);
    if (e != HOOKD_OK) {
        hookd_signer_free(s);
        return e;
    }
    *out = s;
    return HOOKD_OK;
}

void hookd_signer_free(hookd_signer *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, sizeof *s);
    free(s);
}

/* Write prefix + base64(raw) into out; raw is at most 64 bytes. */
static hookd_err put_b64(const char *prefix, const uint8_t *raw, size_t n, char *out, size_t cap)
{
    char text[HOOKD_BASE64_BUFSIZE(64)];
    hookd_err e = hookd_base64_encode(raw, n, text, sizeof text);
    if (e == HOOKD_OK && (size_t)snprintf(out, cap, "%s%s", prefix, text) >= cap)
        e = HOOKD_ERR_BUFFER_TOO_SMALL;
    sodium_memzero(text, sizeof text);
    return e;
}

hookd_err hookd_sign(const hookd_signer *s, const char *id, const char *timestamp, const void *body,
                     size_t len, char *out, size_t cap)
{
    if (s == NULL || timestamp == NULL || out == NULL || (body == NULL && len > 0))
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (s->scheme == HOOKD_SCHEME_STANDARD && (id == NULL || !hk_webhook_id_ok(id)))
        return id == NULL ? HOOKD_ERR_INVALID_ARGUMENT : HOOKD_ERR_ID_MALFORMED;
    if (s->scheme == HOOKD_SCHEME_TELNYX)
        id = NULL;

    if (s->key.kind == HK_KEY_HMAC) {
        uint8_t mac[32];
        hk_hmac_v1(&s->key, id, timestamp, body, len, mac);
        return put_b64("v1,", mac, sizeof mac, out, cap);
    }
    size_t mlen = 0;
    uint8_t *msg = hk_signed_message(id, timestamp, body, len, &mlen);
    if (msg == NULL)
        return HOOKD_ERR_NO_MEMORY;
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg, mlen, s->key.bytes);
    free(msg);
    return put_b64(s->scheme == HOOKD_SCHEME_TELNYX ? "" : "v1a,", sig, sizeof sig, out, cap);
}

hookd_err hookd_signer_public_key(const hookd_signer *s, char *out, size_t cap)
{
    if (s == NULL || out == NULL || s->key.kind != HK_KEY_ED25519_SECRET)
        return HOOKD_ERR_INVALID_ARGUMENT;
    const uint8_t *pk = s->key.bytes + 32; /* libsodium's secret key is seed || public key */
    return put_b64(s->scheme == HOOKD_SCHEME_TELNYX ? "" : "whpk_", pk, 32, out, cap);
}

hookd_err hookd_keygen(hookd_scheme scheme, char *public_out, size_t public_cap, char *private_out,
                       size_t private_cap)
{
    if (public_out == NULL || private_out == NULL
        || (scheme != HOOKD_SCHEME_TELNYX && scheme != HOOKD_SCHEME_STANDARD))
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    bool telnyx = scheme == HOOKD_SCHEME_TELNYX;
    hookd_err e = put_b64(telnyx ? "" : "whpk_", pk, sizeof pk, public_out, public_cap);
    if (e == HOOKD_OK)
        e = put_b64(telnyx ? "" : "whsk_", sk, 32, private_out, private_cap); /* the seed */
    sodium_memzero(sk, sizeof sk);
    return e;
}

hookd_err hookd_secret_generate(char *out, size_t cap)
{
    if (out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    uint8_t b[32];
    randombytes_buf(b, sizeof b);
    hookd_err e = put_b64("whsec_", b, sizeof b, out, cap);
    sodium_memzero(b, sizeof b);
    return e;
}
