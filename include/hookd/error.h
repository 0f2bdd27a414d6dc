/*
 * hookd/error.h - errors are values.
 *
 * Every libhookd function that can fail returns a hookd_err. Each code has a stable snake_case name
 * (hookd_errname, for metrics, JSON bodies and scripts) and a sentence (hookd_strerror, for people).
 * Neither ever contains key material or an expected signature.
 */
#ifndef HOOKD_ERROR_H
#define HOOKD_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HOOKD_API __attribute__((visibility("default")))
#else
#define HOOKD_API
#endif

typedef enum hookd_err {
    HOOKD_OK = 0,
    HOOKD_ERR_INVALID_ARGUMENT,    /* the caller passed NULL or an impossible value */
    HOOKD_ERR_NO_MEMORY,
    HOOKD_ERR_CRYPTO_INIT,         /* libsodium could not initialise */
    /* authentication of a delivery */
    HOOKD_ERR_MISSING_HEADER,      /* a required header is absent or empty */
    HOOKD_ERR_TIMESTAMP_MALFORMED, /* not ASCII digits, or does not fit in 64 bits */
    HOOKD_ERR_TIMESTAMP_TOO_OLD,   /* more than the tolerance in the past */
    HOOKD_ERR_TIMESTAMP_IN_FUTURE, /* more than the tolerance in the future */
    HOOKD_ERR_ID_MALFORMED,        /* webhook-id empty, too long, or contains '.' or a control byte */
    HOOKD_ERR_SIGNATURE_MALFORMED, /* not strict base64 of the right length, or a malformed list */
    HOOKD_ERR_SIGNATURE_UNSUPPORTED, /* the list has no v1 or v1a entry */
    HOOKD_ERR_SIGNATURE_MISMATCH,  /* well formed, but no signature verified with any key */
    HOOKD_ERR_BEARER_MISSING,      /* no "Authorization: Bearer" header */
    HOOKD_ERR_BEARER_MISMATCH,     /* a bearer token, but not the configured one */
    HOOKD_ERR_NO_KEYS,             /* a signed scheme with no key configured: fail closed */
    /* keys and encodings */
    HOOKD_ERR_BAD_KEY,             /* a key that is not the encoding or size its scheme requires */
    HOOKD_ERR_TOO_MANY_KEYS,
    HOOKD_ERR_BASE64,              /* not strict, canonical, padded standard base64 */
    HOOKD_ERR_BUFFER_TOO_SMALL,
    /* event bodies */
    HOOKD_ERR_TOO_LARGE,           /* over a limit in hookd/limits.h */
    HOOKD_ERR_JSON_SYNTAX,         /* not JSON; the byte offset is reported */
    HOOKD_ERR_JSON_TOO_DEEP,
    HOOKD_ERR_NOT_OBJECT,          /* JSON, but not an object at the top */
    HOOKD_ERR_FIELD_TYPE,          /* a known field with the wrong JSON type */
    HOOKD_ERR_FIELD_TOO_LONG,
    HOOKD_ERR_TIME_MALFORMED,      /* not an ISO 8601 date-time */
    HOOKD_ERR__COUNT
} hookd_err;

/* A sentence describing err, e.g. "timestamp is too old". Never NULL. */
HOOKD_API const char *hookd_strerror(hookd_err err);

/* A stable machine-readable name, e.g. "timestamp_too_old". Never NULL. */
HOOKD_API const char *hookd_errname(hookd_err err);

/* Initialise libhookd (libsodium). Safe to call more than once and from several threads; the other
 * functions call it themselves where they need it. */
HOOKD_API hookd_err hookd_init(void);

/* The library version, e.g. "0.1.0". */
HOOKD_API const char *hookd_version(void);

#ifdef __cplusplus
}
#endif
#endif
