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

/* The members of a JSON body that event.c reads (jsonview.c): those of about twenty names in the
 * root object and in its data, meta and payload objects, down to HK_JVIEW_DEPTH levels. */
#define HK_JVIEW_DEPTH 3 /* the root, data, data.payload */
#define HK_JVIEW_KEPT 21 /* names kept (jsonview.c's list) */
#define HK_JVIEW_KEYS 64 /* members of one object the one pass checks for duplicates; more go to
                          * jansson, whose objects are hash tables */

typedef enum hk_jtype {
    HK_J_NULL, HK_J_STRING, HK_J_INTEGER, HK_J_REAL, HK_J_TRUE, HK_J_FALSE, HK_J_OBJECT, HK_J_ARRAY
} hk_jtype;

typedef struct hk_jmember {
    int parent;          /* the object it is a member of: 0 the root, k the object of member k - 1 */
    hk_jtype type;
    const char *key;     /* the key's bytes, in the body or in jansson's document */
    size_t key_len;
    const char *str;     /* a string's bytes (no escapes in them: the one pass leaves those to */
    size_t len;          /* jansson, which decodes them), not NUL-terminated */
    long long integer;
} hk_jmember;

typedef struct hk_jview {
    size_t n;
    struct json_t *doc;  /* jansson's document when jansson read the body, else NULL */
    hk_jmember m[(1 + 3 + 9) * HK_JVIEW_KEPT]; /* each name once per object (no duplicates) */
} hk_jview;

/* The view in one pass over the body, pointing into it; false (nothing decided) when the body is
 * anything but JSON this pass is sure jansson reads the same way: then ask jansson. */
bool hk_jview_scan(const void *body, size_t len, hk_jview *v);
/* The view of jansson's document of the body, pointing into it; the view owns the reference. */
void hk_jview_from_jansson(struct json_t *root, hk_jview *v);
/* The member key of object obj (0 the root, else a handle from here): its handle (member
 * handle - 1 is v->m[handle - 1]), or 0 when there is none. */
int hk_jview_get(const hk_jview *v, int obj, const char *key);
/* Drop jansson's document, if any. */
void hk_jview_free(hk_jview *v);

/* Case-insensitive ASCII comparison of a NUL-terminated string with len bytes. */
bool hk_ascii_ieq(const char *a, size_t alen, const char *b);

#endif
