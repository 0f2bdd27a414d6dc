/*
 * verify.c - authenticate one delivery: bearer, headers, timestamp, signature.
 *
 * hookd_verify() reads top to bottom in the order the checks run. The expensive part (Ed25519) runs
 * last, once the cheap checks have passed, so a flood of stale or malformed requests costs little.
 * Secrets never reach a message: a failure is described by its code, the header it concerns and
 * the timestamp skew, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

struct hookd_verifier {
    hookd_scheme scheme;
    int64_t tolerance;
    size_t nkeys;
    hk_key keys[HOOKD_MAX_KEYS];
    bool has_bearer;
    uint8_t bearer_hash[crypto_generichash_BYTES];
    uint8_t bearer_salt[crypto_generichash_KEYBYTES];
};

hookd_err hookd_scheme_parse(const char *name, hookd_scheme *out)
{
    static const char *names[] = {"none", "telnyx", "standard"};
    if (name == NULL || out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < HK_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (hookd_scheme)i;
            return HOOKD_OK;
        }
    }
    return HOOKD_ERR_INVALID_ARGUMENT;
}

const char *hookd_scheme_name(hookd_scheme scheme)
{
    switch (scheme) {
    case HOOKD_SCHEME_NONE: return "none";
    case HOOKD_SCHEME_TELNYX: return "telnyx";
    case HOOKD_SCHEME_STANDARD: return "standard";
    }
    return "unknown";
}

hookd_err hookd_verifier_new(hookd_scheme scheme, hookd_verifier **out)
{
    if (out == NULL || (scheme != HOOKD_SCHEME_NONE && scheme != HOOKD_SCHEME_TELNYX
                        && scheme != HOOKD_SCHEME_STANDARD))
        return HOOKD_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    hookd_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return HOOKD_ERR_NO_MEMORY;
    v->scheme = scheme;
    v->tolerance = HOOKD_DEFAULT_TOLERANCE;
    *out = v;
    return HOOKD_OK;
}

void hookd_verifier_free(hookd_verifier *v)
{
    if (v == NULL)
        return;
    sodium_memzero(v, sizeof *v);
    free(v);
}

hookd_err hookd_verifier_add_key(hookd_verifier *v, const char *key_text)
{
    if (v == NULL || key_text == NULL || v->scheme == HOOKD_SCHEME_NONE)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (v->nkeys >= HOOKD_MAX_KEYS)
        return HOOKD_ERR_TOO_MANY_KEYS;
    hookd_err e = hk_key_parse_public(v->scheme, key_text, &v->keys[v->nkeys]);
    if (e == HOOKD_OK)
        v->nkeys++;
    return e;
}

hookd_err hookd_verifier_set_tolerance(hookd_verifier *v, int64_t seconds)
{
    if (v == NULL || seconds < 0)
        return HOOKD_ERR_INVALID_ARGUMENT;
    v->tolerance = seconds;
    return HOOKD_OK;
}

/* Bearer tokens are compared as keyed BLAKE2b hashes, so the comparison takes the same time
 * whatever the length or content of the token presented. */
static void bearer_hash(const hookd_verifier *v, const char *tok, size_t len, uint8_t *h)
{
    crypto_generichash(h, crypto_generichash_BYTES, (const uint8_t *)tok, len, v->bearer_salt,
                       sizeof v->bearer_salt);
}

hookd_err hookd_verifier_set_bearer(hookd_verifier *v, const char *token)
{
    if (v == NULL || token == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    size_t n = strlen(token);
    if (n == 0 || n > HOOKD_MAX_BEARER_LEN)
        return HOOKD_ERR_BAD_KEY;
    randombytes_buf(v->bearer_salt, sizeof v->bearer_salt);
    bearer_hash(v, token, n, v->bearer_hash);
    v->has_bearer = true;
    return HOOKD_OK;
}

hookd_scheme hookd_verifier_scheme(const hookd_verifier *v)
{
    return v != NULL ? v->scheme : HOOKD_SCHEME_NONE;
}

size_t hookd_verifier_key_count(const hookd_verifier *v)
{
    return v != NULL ? v->nkeys : 0;
}

const char *hookd_header_list_lookup(void *ctx, const char *name)
{
    const hookd_header_list *l = ctx;
    for (size_t i = 0; l != NULL && i < l->count; i++) {
        const char *n = l->items[i].name;
        if (n != NULL && hk_ascii_ieq(n, strlen(n), name))
            return l->items[i].value;
    }
    return NULL;
}

/* ---- one delivery ----------------------------------------------------------------------- */

typedef struct check {
    const hookd_verifier *v;
    hookd_header_lookup *lookup;
    void *ctx;
    int64_t now;
    bool headers_only;  /* hookd_verify_headers: everything but the body and the cryptography */
    hookd_verify_result *r;
} check;

static hookd_err fail(check *c, hookd_err e, const char *header)
{
    c->r->err = e;
    c->r->header = header;
    return e;
}

/* A header that is present and non-empty, or NULL after recording which one is missing. */
static const char *need(check *c, const char *name)
{
    const char *s = c->lookup(c->ctx, name);
    if (s == NULL || *s == '\0') {
        fail(c, HOOKD_ERR_MISSING_HEADER, name);
        return NULL;
    }
    return s;
}

static hookd_err check_bearer(check *c)
{
    if (!c->v->has_bearer)
        return HOOKD_OK;
    const char *h = c->lookup(c->ctx, HOOKD_HDR_AUTHORIZATION);
    if (h == NULL || strlen(h) < 7 || !hk_ascii_ieq(h, 7, "bearer "))
        return fail(c, HOOKD_ERR_BEARER_MISSING, HOOKD_HDR_AUTHORIZATION);
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    size_t n = strnlen(tok, HOOKD_MAX_BEARER_LEN + 1);
    uint8_t got[crypto_generichash_BYTES];
    bearer_hash(c->v, tok, n, got);
    if (n > HOOKD_MAX_BEARER_LEN || sodium_memcmp(got, c->v->bearer_hash, sizeof got) != 0)
        return fail(c, HOOKD_ERR_BEARER_MISMATCH, HOOKD_HDR_AUTHORIZATION);
    return HOOKD_OK;
}

static hookd_err check_timestamp(check *c, const char *name, const char *ts)
{
    size_t n = strnlen(ts, HOOKD_MAX_TIMESTAMP_LEN + 1);
    hookd_err e = hookd_timestamp_parse(ts, n, &c->r->timestamp);
    if (e != HOOKD_OK)
        return fail(c, e, name);
    e = hookd_timestamp_check(c->r->timestamp, c->now, c->v->tolerance, &c->r->skew);
    return e == HOOKD_OK ? HOOKD_OK : fail(c, e, name);
}

/* Try an Ed25519 signature against every Ed25519 key; the index of the one that verifies, or -1.
 * Each check hashes the whole body, so *budget counts down the checks one request may still cost:
 * a sender cannot multiply them by listing many signatures (HOOKD_MAX_ED25519_CHECKS). */
static int ed25519_match(const hookd_verifier *v, const uint8_t sig[64], const uint8_t *msg,
                         size_t len, unsigned *budget)
{
    for (size_t i = 0; i < v->nkeys && *budget > 0; i++) {
        if (v->keys[i].kind != HK_KEY_ED25519_PUBLIC)
            continue;
        --*budget;
        if (crypto_sign_verify_detached(sig, msg, len, v->keys[i].bytes) == 0)
            return (int)i;
    }
    return -1;
}

/* The Ed25519 checks one request may cost: HOOKD_MAX_ED25519_CHECKS, or one per configured Ed25519
 * key when there are more (the operator's choice, not the sender's). */
static unsigned ed25519_budget(const hookd_verifier *v)
{
    unsigned n = 0;
    for (size_t i = 0; i < v->nkeys; i++)
        n += v->keys[i].kind == HK_KEY_ED25519_PUBLIC;
    return n > HOOKD_MAX_ED25519_CHECKS ? n : HOOKD_MAX_ED25519_CHECKS;
}

static hookd_err verify_telnyx(check *c, const void *body, size_t len)
{
    const char *ts = need(c, HOOKD_HDR_TELNYX_TIMESTAMP);
    if (ts == NULL)
        return c->r->err;
    const char *sig = need(c, HOOKD_HDR_TELNYX_SIGNATURE);
    if (sig == NULL)
        return c->r->err;
    if (check_timestamp(c, HOOKD_HDR_TELNYX_TIMESTAMP, ts) != HOOKD_OK)
        return c->r->err;
    uint8_t raw[64];
    if (hookd_base64_decode_exact(sig, strnlen(sig, 128), raw, sizeof raw) != HOOKD_OK)
        return fail(c, HOOKD_ERR_SIGNATURE_MALFORMED, HOOKD_HDR_TELNYX_SIGNATURE);
    if (c->headers_only)
        return HOOKD_OK;
    size_t mlen = 0;
    uint8_t *msg = hk_signed_message(NULL, ts, body, len, &mlen);
    if (msg == NULL)
        return fail(c, HOOKD_ERR_NO_MEMORY, NULL);
    unsigned budget = ed25519_budget(c->v);
    c->r->key_index = ed25519_match(c->v, raw, msg, mlen, &budget);
    free(msg);
    if (c->r->key_index < 0)
        return fail(c, HOOKD_ERR_SIGNATURE_MISMATCH, HOOKD_HDR_TELNYX_SIGNATURE);
    c->r->version = "ed25519";
    return HOOKD_OK;
}

bool hk_webhook_id_ok(const char *id)
{
    size_t n = strnlen(id, HOOKD_MAX_ID_LEN + 1);
    if (n == 0 || n > HOOKD_MAX_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch == '.' || ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/* The state of one Standard Webhooks check: what was seen, and the lazily built message. */
typedef struct std_state {
    const char *id, *ts;
    const void *body;
    size_t len;
    uint8_t *msg; /* "id.ts.body", built on the first v1a entry */
    size_t mlen;
    bool macs_done;
    uint8_t macs[HOOKD_MAX_KEYS][32];
    unsigned ed25519_left; /* checks this request may still cost */
    unsigned known; /* well-formed v1 / v1a entries */
    unsigned bad;   /* v1 / v1a entries that were malformed */
} std_state;

static int v1_match(const hookd_verifier *v, std_state *s, const uint8_t sig[32])
{
    if (!s->macs_done) {
        for (size_t i = 0; i < v->nkeys; i++) {
            if (v->keys[i].kind == HK_KEY_HMAC)
                hk_hmac_v1(&v->keys[i], s->id, s->ts, s->body, s->len, s->macs[i]);
        }
        s->macs_done = true;
    }
    int hit = -1;
    for (size_t i = 0; i < v->nkeys; i++) {
        /* Every key is compared, in constant time, whether or not one matched already. */
        if (v->keys[i].kind == HK_KEY_HMAC && sodium_memcmp(s->macs[i], sig, 32) == 0 && hit < 0)
            hit = (int)i;
    }
    return hit;
}

static int v1a_match(const hookd_verifier *v, std_state *s, const uint8_t sig[64])
{
    if (s->msg == NULL) {
        s->msg = hk_signed_message(s->id, s->ts, s->body, s->len, &s->mlen);
        if (s->msg == NULL)
            return -2;
    }
    return ed25519_match(v, sig, s->msg, s->mlen, &s->ed25519_left);
}

/* Versions are compared exactly: the specification's are "v1" and "v1a", and every reference
 * library rejects "V1". */
static bool version_is(const hk_sig_entry *e, const char *name)
{
    size_t n = strlen(name);
    return e->version_len == n && memcmp(e->version, name, n) == 0;
}

/* Check one entry; the matching key index, -1 for none, -2 when out of memory. */
static int std_entry(const hookd_verifier *v, std_state *s, const hk_sig_entry *e,
                     const char **version)
{
    uint8_t raw[64];
    if (version_is(e, "v1") && e->sig != NULL) {
        if (hookd_base64_decode_exact(e->sig, e->sig_len, raw, 32) != HOOKD_OK) {
            s->bad++;
            return -1;
        }
        s->known++;
        *version = "v1";
        return v1_match(v, s, raw);
    }
    if (version_is(e, "v1a") && e->sig != NULL) {
        if (hookd_base64_decode_exact(e->sig, e->sig_len, raw, 64) != HOOKD_OK) {
            s->bad++;
            return -1;
        }
        s->known++;
        *version = "v1a";
        return v1a_match(v, s, raw);
    }
    if (e->sig == NULL && (version_is(e, "v1") || version_is(e, "v1a")))
        s->bad++; /* "v1" with no comma */
    return -1;
}

static hookd_err verify_standard(check *c, const void *body, size_t len)
{
    const char *id = need(c, HOOKD_HDR_WEBHOOK_ID);
    if (id == NULL)
        return c->r->err;
    const char *ts = need(c, HOOKD_HDR_WEBHOOK_TIMESTAMP);
    if (ts == NULL)
        return c->r->err;
    const char *sigs = need(c, HOOKD_HDR_WEBHOOK_SIGNATURE);
    if (sigs == NULL)
        return c->r->err;
    if (!hk_webhook_id_ok(id))
        return fail(c, HOOKD_ERR_ID_MALFORMED, HOOKD_HDR_WEBHOOK_ID);
    if (check_timestamp(c, HOOKD_HDR_WEBHOOK_TIMESTAMP, ts) != HOOKD_OK)
        return c->r->err;
    size_t slen = strnlen(sigs, HOOKD_MAX_SIGNATURE_HEADER + 1);
    if (slen > HOOKD_MAX_SIGNATURE_HEADER)
        return fail(c, HOOKD_ERR_SIGNATURE_MALFORMED, HOOKD_HDR_WEBHOOK_SIGNATURE);
    if (c->headers_only)
        return HOOKD_OK;

    std_state s = {.id = id, .ts = ts, .body = body, .len = len,
                   .ed25519_left = ed25519_budget(c->v)};
    const char *cur = sigs, *end = sigs + slen;
    hk_sig_entry e;
    unsigned seen = 0;
    int hit = -1;
    while (hit == -1 && hk_siglist_next(&cur, end, &e)) {
        if (++seen > HOOKD_MAX_SIGNATURES)
            break;
        const char *version = NULL;
        hit = std_entry(c->v, &s, &e, &version);
        if (hit >= 0)
            c->r->version = version;
        else
            c->r->entries_skipped++;
    }
    free(s.msg);
    sodium_memzero(s.macs, sizeof s.macs);
    if (hit == -2)
        return fail(c, HOOKD_ERR_NO_MEMORY, NULL);
    if (hit >= 0) {
        c->r->key_index = hit;
        return HOOKD_OK;
    }
    if (seen > HOOKD_MAX_SIGNATURES)
        return fail(c, HOOKD_ERR_SIGNATURE_MALFORMED, HOOKD_HDR_WEBHOOK_SIGNATURE);
    if (s.known > 0)
        return fail(c, HOOKD_ERR_SIGNATURE_MISMATCH, HOOKD_HDR_WEBHOOK_SIGNATURE);
    if (s.bad > 0)
        return fail(c, HOOKD_ERR_SIGNATURE_MALFORMED, HOOKD_HDR_WEBHOOK_SIGNATURE);
    return fail(c, HOOKD_ERR_SIGNATURE_UNSUPPORTED, HOOKD_HDR_WEBHOOK_SIGNATURE);
}

static hookd_err run_checks(const hookd_verifier *v, hookd_header_lookup *lookup, void *ctx,
                            const void *body, size_t len, int64_t now, bool headers_only,
                            hookd_verify_result *result)
{
    hookd_verify_result local = {0};
    hookd_verify_result *r = result != NULL ? result : &local;
    memset(r, 0, sizeof *r);
    r->key_index = -1;
    if (v == NULL || lookup == NULL || (body == NULL && len > 0))
        return r->err = HOOKD_ERR_INVALID_ARGUMENT;
    r->tolerance = v->tolerance;
    check c = {.v = v, .lookup = lookup, .ctx = ctx, .now = now, .headers_only = headers_only,
               .r = r};

    if (check_bearer(&c) != HOOKD_OK)
        return r->err;
    switch (v->scheme) {
    case HOOKD_SCHEME_NONE:
        return HOOKD_OK;
    case HOOKD_SCHEME_TELNYX:
        if (v->nkeys == 0)
            return fail(&c, HOOKD_ERR_NO_KEYS, NULL);
        return verify_telnyx(&c, body, len);
    case HOOKD_SCHEME_STANDARD:
        if (v->nkeys == 0)
            return fail(&c, HOOKD_ERR_NO_KEYS, NULL);
        return verify_standard(&c, body, len);
    }
    return fail(&c, HOOKD_ERR_INVALID_ARGUMENT, NULL);
}

hookd_err hookd_verify(const hookd_verifier *v, hookd_header_lookup *lookup, void *ctx,
                       const void *body, size_t len, int64_t now, hookd_verify_result *result)
{
    return run_checks(v, lookup, ctx, body, len, now, false, result);
}

hookd_err hookd_verify_headers(const hookd_verifier *v, hookd_header_lookup *lookup, void *ctx,
                               int64_t now, hookd_verify_result *result)
{
    return run_checks(v, lookup, ctx, NULL, 0, now, true, result);
}

int hookd_verify_describe(const hookd_verify_result *r, char *buf, size_t cap)
{
    if (r == NULL || buf == NULL)
        return -1;
    switch (r->err) {
    case HOOKD_ERR_MISSING_HEADER:
        return snprintf(buf, cap, "missing header %s", r->header ? r->header : "?");
    case HOOKD_ERR_TIMESTAMP_TOO_OLD:
        return snprintf(buf, cap, "timestamp is too old: %lld s before now, window %lld s",
                        (long long)r->skew, (long long)r->tolerance);
    case HOOKD_ERR_TIMESTAMP_IN_FUTURE:
        return snprintf(buf, cap, "timestamp is in the future: %lld s after now, window %lld s",
                        r->skew == INT64_MIN ? (long long)INT64_MAX : -(long long)r->skew,
                        (long long)r->tolerance);
    case HOOKD_OK:
        return snprintf(buf, cap, "verified (%s, key %d)", r->version ? r->version : "no signature",
                        r->key_index);
    default:
        if (r->header != NULL)
            return snprintf(buf, cap, "%s: %s", r->header, hookd_strerror(r->err));
        return snprintf(buf, cap, "%s", hookd_strerror(r->err));
    }
}
