/*
 * keys.c - key text to key bytes, and the bytes each scheme signs.
 *
 *   telnyx public    base64 of the raw 32-byte Ed25519 key (exactly; every Telnyx SDK insists)
 *   telnyx private   base64 of the 32-byte seed, or of the 64-byte seed || public key
 *   standard         whsec_ + base64 of 24..64 bytes (or the bare base64): HMAC-SHA256 ("v1")
 *                    whpk_ + base64 of 32 raw bytes or the 44-byte DER SubjectPublicKeyInfo ("v1a")
 *                    whsk_ + base64 of the 32-byte seed or 64-byte seed || public key ("v1a")
 *
 * Ed25519 public keys must be canonical points of the main subgroup, so a key that could only ever
 * verify forged signatures (a small-order point) is refused when it is configured, not at runtime.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define HMAC_MIN 24
#define HMAC_MAX 64

/* DER SubjectPublicKeyInfo header of an Ed25519 key (RFC 8410); the raw key follows. */
static const uint8_t ed25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void hk_key_wipe(hk_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* Decode base64 text into key bytes (at most 64); HOOKD_ERR_BAD_KEY on any failure. */
static hookd_err decode(const char *text, uint8_t *out, size_t *len)
{
    size_t n = strlen(text);
    if (n == 0 || n > HOOKD_MAX_KEY_TEXT)
        return HOOKD_ERR_BAD_KEY;
    return hookd_base64_decode(text, n, out, 64, len) == HOOKD_OK ? HOOKD_OK : HOOKD_ERR_BAD_KEY;
}

static hookd_err ed25519_public(const uint8_t *pk, hk_key *out)
{
    if (crypto_core_ed25519_is_valid_point(pk) != 1)
        return HOOKD_ERR_BAD_KEY;
    out->kind = HK_KEY_ED25519_PUBLIC;
    out->len = 32;
    memcpy(out->bytes, pk, 32);
    return HOOKD_OK;
}

/* A seed (32 bytes) or seed || public key (64 bytes, the public half must match the seed). */
static hookd_err ed25519_secret(const uint8_t *b, size_t n, hk_key *out)
{
    if (n != 32 && n != 64)
        return HOOKD_ERR_BAD_KEY;
    uint8_t pk[32];
    crypto_sign_seed_keypair(pk, out->bytes, b);
    if (n == 64 && sodium_memcmp(pk, b + 32, 32) != 0) {
        hk_key_wipe(out);
        return HOOKD_ERR_BAD_KEY;
    }
    out->kind = HK_KEY_ED25519_SECRET;
    out->len = 64;
    return HOOKD_OK;
}

static hookd_err hmac_secret(const uint8_t *b, size_t n, hk_key *out)
{
    if (n < HMAC_MIN || n > HMAC_MAX)
        return HOOKD_ERR_BAD_KEY;
    out->kind = HK_KEY_HMAC;
    out->len = n;
    memcpy(out->bytes, b, n);
    return HOOKD_OK;
}

/* whpk_: the raw 32-byte key or its DER SubjectPublicKeyInfo. */
static hookd_err standard_public(const uint8_t *b, size_t n, hk_key *out)
{
    if (n == 32)
        return ed25519_public(b, out);
    if (n == 44 && memcmp(b, ed25519_spki_prefix, sizeof ed25519_spki_prefix) == 0)
        return ed25519_public(b + sizeof ed25519_spki_prefix, out);
    return HOOKD_ERR_BAD_KEY;
}

typedef hookd_err key_builder(const uint8_t *b, size_t n, hk_key *out);

static hookd_err build(const char *b64, key_builder *fn, hk_key *out)
{
    uint8_t b[64];
    size_t n = 0;
    hookd_err e = decode(b64, b, &n);
    if (e == HOOKD_OK)
        e = fn(b, n, out);
    sodium_memzero(b, sizeof b);
    return e;
}

static hookd_err telnyx_public(const uint8_t *b, size_t n, hk_key *out)
{
    return n == 32 ? ed25519_public(b, out) : HOOKD_ERR_BAD_KEY;
}

/* The text forms of each kind of key: the first prefix that matches decides; "" matches all. A
 * NULL builder refuses the form (a private key where a public one belongs, or the reverse). */
typedef struct key_form {
    const char *prefix;
    key_builder *build;
} key_form;

static const key_form telnyx_public_forms[] = {{"", telnyx_public}};
static const key_form telnyx_private_forms[] = {{"", ed25519_secret}};
static const key_form standard_public_forms[] = {
    {"whpk_", standard_public}, {"whsec_", hmac_secret}, {"whsk_", NULL}, {"", hmac_secret}};
static const key_form standard_private_forms[] = {
    {"whsk_", ed25519_secret}, {"whsec_", hmac_secret}, {"whpk_", NULL}, {"", hmac_secret}};

static hookd_err parse_key(hookd_scheme scheme, bool private_key, const char *text, hk_key *out)
{
    if (text == NULL || out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    memset(out, 0, sizeof *out);
    const key_form *forms;
    size_t n;
    if (scheme == HOOKD_SCHEME_TELNYX) {
        forms = private_key ? telnyx_private_forms : telnyx_public_forms;
        n = 1;
    } else if (scheme == HOOKD_SCHEME_STANDARD) {
        forms = private_key ? standard_private_forms : standard_public_forms;
        n = HK_ARRAY_LEN(standard_public_forms);
    } else {
        return HOOKD_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < n; i++) {
        if (has_prefix(text, forms[i].prefix)) {
            if (forms[i].build == NULL)
                return HOOKD_ERR_BAD_KEY;
            return build(text + strlen(forms[i].prefix), forms[i].build, out);
        }
    }
    return HOOKD_ERR_BAD_KEY;
}

hookd_err hk_key_parse_public(hookd_scheme scheme, const char *text, hk_key *out)
{
    return parse_key(scheme, false, text, out);
}

hookd_err hk_key_parse_private(hookd_scheme scheme, const char *text, hk_key *out)
{
    return parse_key(scheme, true, text, out);
}

uint8_t *hk_signed_message(const char *id, const char *ts, const void *body, size_t len,
                           size_t *outlen)
{
    size_t idlen = id != NULL ? strlen(id) + 1 : 0; /* "id." */
    size_t tslen = strlen(ts) + 1;                  /* "ts|" or "ts." */
    if (len > SIZE_MAX - idlen - tslen)
        return NULL;
    size_t n = idlen + tslen + len;
    uint8_t *m = malloc(n > 0 ? n : 1);
    if (m == NULL)
        return NULL;
    uint8_t *p = m;
    if (id != NULL) {
        memcpy(p, id, idlen - 1);
        p[idlen - 1] = '.';
        p += idlen;
    }
    memcpy(p, ts, tslen - 1);
    p[tslen - 1] = id != NULL ? '.' : '|';
    p += tslen;
    if (len > 0)
        memcpy(p, body, len);
    *outlen = n;
    return m;
}

void hk_hmac_v1(const hk_key *key, const char *id, const char *ts, const void *body, size_t len,
                uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key->bytes, key->len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

bool hk_ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}
