/*
 * hookd/limits.h - every size and count limit of libhookd, in one place.
 *
 * Inputs come from the network, so every parser is bounded. A value over one of these limits is
 * rejected with its own error (HOOKD_ERR_TOO_LARGE, HOOKD_ERR_JSON_TOO_DEEP, ...), never truncated.
 */
#ifndef HOOKD_LIMITS_H
#define HOOKD_LIMITS_H

#include <stddef.h>

/* Replay window used when none is configured, in seconds (every Telnyx and Standard Webhooks SDK). */
#define HOOKD_DEFAULT_TOLERANCE 300

/* Keys one verifier holds (rotation: old and new key side by side). */
#define HOOKD_MAX_KEYS 16

/* Longest timestamp header accepted: INT64_MAX has 19 digits; leading zeros get a little room. */
#define HOOKD_MAX_TIMESTAMP_LEN 32

/* Standard Webhooks: longest webhook-id, longest webhook-signature header, entries tried in it. */
#define HOOKD_MAX_ID_LEN 256
#define HOOKD_MAX_SIGNATURE_HEADER 4096
#define HOOKD_MAX_SIGNATURES 16

/* Ed25519 checks one delivery may cost (each hashes the whole body): entries x keys are cut off
 * here, or at the number of Ed25519 keys configured when that is larger. A sender listing 16 v1a
 * entries cannot make a request cost 16 x keys body hashes. */
#define HOOKD_MAX_ED25519_CHECKS 4

/* Longest key or secret text (whpk_ + base64 of a 44-byte DER key is 65 characters). */
#define HOOKD_MAX_KEY_TEXT 256

/* Longest bearer token. */
#define HOOKD_MAX_BEARER_LEN 1024

/* Event bodies: largest body the event parser looks at, deepest JSON nesting it accepts. */
#define HOOKD_MAX_EVENT_BODY ((size_t)1024 * 1024)
#define HOOKD_MAX_JSON_DEPTH 64

/* Longest value of one extracted event field (ids, types, causes) and of the longer ones. */
#define HOOKD_MAX_FIELD_LEN 256
#define HOOKD_MAX_LONG_FIELD_LEN 4096

/* Output buffer sizes for callers (each includes the terminating NUL). */
#define HOOKD_SIGNATURE_BUFSIZE 96  /* "v1a," + 88 base64 characters + NUL */
#define HOOKD_KEY_BUFSIZE 128       /* printed public or private key */
#define HOOKD_UUID_BUFSIZE 37
#define HOOKD_ISO8601_BUFSIZE 32    /* "2021-12-15T14:11:24.613295Z" + NUL */

#endif
