/*
 * hookd/verify.h - authenticate a webhook delivery.
 *
 * A verifier holds one endpoint's rules: its scheme, its keys, its replay window and an optional
 * bearer token. hookd_verify() checks one delivery against them, over the raw body bytes exactly as
 * received (never re-serialised JSON), and says precisely why it failed.
 *
 *   telnyx    headers telnyx-timestamp, telnyx-signature-ed25519; Ed25519 over "timestamp|body";
 *             keys: base64 of the raw 32-byte public key.
 *   standard  headers webhook-id, webhook-timestamp, webhook-signature; "v1" (HMAC-SHA256) and "v1a"
 *             (Ed25519) over "id.timestamp.body"; keys: whsec_... (or bare base64 secret, 24 to 64
 *             bytes) and whpk_... (raw 32-byte key or 44-byte DER SubjectPublicKeyInfo).
 *   none      no signature; only the bearer token, when one is set, is checked.
 *
 * Order of checks: bearer, headers present, (id), timestamp format, replay window, signature
 * format, signature. The timestamp is checked before any signature work, as every Telnyx SDK does.
 *
 * A verifier is immutable once configured, so one may be shared by many threads.
 */
#ifndef HOOKD_VERIFY_H
#define HOOKD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/error.h"
#include "hookd/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hookd_scheme {
    HOOKD_SCHEME_NONE = 0,
    HOOKD_SCHEME_TELNYX,
    HOOKD_SCHEME_STANDARD,
} hookd_scheme;

/* "none", "telnyx", "standard"; HOOKD_ERR_INVALID_ARGUMENT for anything else. */
HOOKD_API hookd_err hookd_scheme_parse(const char *name, hookd_scheme *out);
HOOKD_API const char *hookd_scheme_name(hookd_scheme scheme);

/* Header names, lower case. */
#define HOOKD_HDR_TELNYX_TIMESTAMP "telnyx-timestamp"
#define HOOKD_HDR_TELNYX_SIGNATURE "telnyx-signature-ed25519"
#define HOOKD_HDR_WEBHOOK_ID "webhook-id"
#define HOOKD_HDR_WEBHOOK_TIMESTAMP "webhook-timestamp"
#define HOOKD_HDR_WEBHOOK_SIGNATURE "webhook-signature"
#define HOOKD_HDR_AUTHORIZATION "authorization"

typedef struct hookd_verifier hookd_verifier;

HOOKD_API hookd_err hookd_verifier_new(hookd_scheme scheme, hookd_verifier **out);
HOOKD_API void hookd_verifier_free(hookd_verifier *v);

/* Add a key in the text form of the verifier's scheme (see above). Up to HOOKD_MAX_KEYS; a delivery
 * is authentic when any key verifies it. HOOKD_ERR_BAD_KEY names no detail of the key. */
HOOKD_API hookd_err hookd_verifier_add_key(hookd_verifier *v, const char *key_text);

/* Replay window in seconds, >= 0 (default HOOKD_DEFAULT_TOLERANCE). */
HOOKD_API hookd_err hookd_verifier_set_tolerance(hookd_verifier *v, int64_t seconds);

/* Require "Authorization: Bearer <token>" (compared in constant time). */
HOOKD_API hookd_err hookd_verifier_set_bearer(hookd_verifier *v, const char *token);

HOOKD_API hookd_scheme hookd_verifier_scheme(const hookd_verifier *v);
HOOKD_API size_t hookd_verifier_key_count(const hookd_verifier *v);

/* Look up a request header by its lower-case name, case-insensitively; NULL when absent. The
 * returned string must stay valid until hookd_verify returns. */
typedef const char *hookd_header_lookup(void *ctx, const char *name);

/* A ready-made lookup over an array of name/value pairs (ctx is a hookd_header_list *). */
typedef struct hookd_header {
    const char *name;
    const char *value;
} hookd_header;
typedef struct hookd_header_list {
    const hookd_header *items;
    size_t count;
} hookd_header_list;
HOOKD_API const char *hookd_header_list_lookup(void *ctx, const char *name);

/* What hookd_verify found. Nothing in it is secret. */
typedef struct hookd_verify_result {
    hookd_err err;          /* same as the return value */
    const char *header;     /* the header a failure concerns, or NULL */
    int64_t timestamp;      /* the delivery's timestamp, once parsed */
    int64_t skew;           /* now - timestamp, once parsed */
    int64_t tolerance;      /* the window it was checked against */
    int key_index;          /* which added key verified (0-based), or -1 */
    const char *version;    /* "ed25519", "v1" or "v1a" for the signature that verified, or NULL */
    unsigned entries_skipped; /* standard: malformed or unknown entries passed over */
} hookd_verify_result;

/* Verify one delivery at time now (Unix seconds). result may be NULL. */
HOOKD_API hookd_err hookd_verify(const hookd_verifier *v, hookd_header_lookup *lookup, void *ctx,
                                 const void *body, size_t len, int64_t now,
                                 hookd_verify_result *result);

/* The checks that need no body, for a server to run before it reads one: the bearer token, the
 * presence of the scheme's headers, the webhook-id, the timestamp window and the form of the
 * signature header. HOOKD_OK means the body may be worth reading; only hookd_verify authenticates. */
HOOKD_API hookd_err hookd_verify_headers(const hookd_verifier *v, hookd_header_lookup *lookup,
                                         void *ctx, int64_t now, hookd_verify_result *result);

/* One log-ready line describing result, e.g. "timestamp is too old: 412 s before now, window 300 s"
 * or "missing header telnyx-signature-ed25519". snprintf semantics. */
HOOKD_API int hookd_verify_describe(const hookd_verify_result *result, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
