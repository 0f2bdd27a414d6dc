/*
 * internal.h - what the modules of libhookd share and callers never see.
 */
#ifndef HOOKD_INTERNAL_H
#define HOOKD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hookd/hookd.h"

#define HK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A key as bytes, parsed from its text form (keys.c). */
typedef enum hk_key_kind {
    HK_KEY_ED25519_PUBLIC, /* 32-byte public key */
    HK_KEY_ED25519_SECRET, /* libsodium's 64-byte secret key: seed || public key */
    HK_KEY_HMAC,           /* 24 to 64 secret bytes */
} hk_key_kind;

typedef struct hk_key {
    hk_key_kind kind;
    size_t len;
    uint8_t bytes[64];
} hk_key;

/* Parse a verification key (public key or HMAC secret) of the given scheme. */
hookd_err hk_key_parse_public(hookd_scheme scheme, const char *text, hk_key *out);
/* Parse a signing key (Ed25519 seed or HMAC secret) of the given scheme. */
hookd_err hk_key_parse_private(hookd_scheme scheme, const char *text, hk_key *out);
/* Wipe a key. */
void hk_key_wipe(hk_key *k);

/* The bytes both schemes sign: "ts|body" (id == NULL, Telnyx) or "id.ts.body" (Standard
 * Webhooks). Returns a malloc'd buffer the caller frees, or NULL when out of memory. */
uint8_t *hk_signed_message(const char *id, const char *ts, const void *body, size_t len,
                           size_t *outlen);

/* HMAC-SHA256 of "id.ts.body" without building the message. */
void hk_hmac_v1(const hk_key *key, const char *id, const char *ts, const void *body, size_t len,
                uint8_t mac[32]);

/* One entry of a webhook-signature header, "version,base64" (siglist.c). */
typedef struct hk_sig_entry {
    const char *version;
    size_t version_len;
    const char *sig;      /* after the first comma; NULL when the entry has no comma */
    size_t sig_len;
} hk_sig_entry;

/* Step through the space-separated entries of a webhook-signature header. *cursor starts at the
 * header and advances; empty tokens (double spaces) are skipped. Returns false at the end. */
bool hk_siglist_next(const char **cursor, const char *end, hk_sig_entry *e);

/* A webhook-id a Standard Webhooks message may carry: 1..HOOKD_MAX_ID_LEN bytes, no '.', no
 * control byte (the id is part of the signed "id.ts.body"). */
bool hk_webhook_id_ok(const char *id);

/* Case-insensitive ASCII comparison of a NUL-terminated string with len bytes. */
bool hk_ascii_ieq(const char *a, size_t alen, const char *b);

#endif
