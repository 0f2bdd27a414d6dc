/*
 * error.c - names and sentences for hookd_err, and library initialisation.
 */
#include <sodium.h>

#include "internal.h"

static const struct {
    const char *name;
    const char *text;
} errors[HOOKD_ERR__COUNT] = {
    [HOOKD_OK] = {"ok", "success"},
    [HOOKD_ERR_INVALID_ARGUMENT] = {"invalid_argument", "invalid argument"},
    [HOOKD_ERR_NO_MEMORY] = {"no_memory", "out of memory"},
    [HOOKD_ERR_CRYPTO_INIT] = {"crypto_init", "the cryptography library could not initialise"},
    [HOOKD_ERR_MISSING_HEADER] = {"missing_header", "a required header is missing"},
    [HOOKD_ERR_TIMESTAMP_MALFORMED] = {"timestamp_malformed",
                                       "timestamp is not a decimal Unix time in seconds"},
    [HOOKD_ERR_TIMESTAMP_TOO_OLD] = {"timestamp_too_old",
                                     "timestamp is too old (outside the replay window)"},
    [HOOKD_ERR_TIMESTAMP_IN_FUTURE] = {"timestamp_in_future",
                                       "timestamp is in the future (outside the replay window)"},
    [HOOKD_ERR_ID_MALFORMED] = {"id_malformed",
                                "webhook-id is empty, too long, or contains '.' or a control byte"},
    [HOOKD_ERR_SIGNATURE_MALFORMED] = {"signature_malformed",
                                       "signature is not strict base64 of the expected length"},
    [HOOKD_ERR_SIGNATURE_UNSUPPORTED] = {"signature_unsupported",
                                         "no v1 or v1a signature in webhook-signature"},
    [HOOKD_ERR_SIGNATURE_MISMATCH] = {"signature_mismatch",
                                      "no signature matched any configured key"},
    [HOOKD_ERR_BEARER_MISSING] = {"bearer_missing", "Authorization: Bearer header is missing"},
    [HOOKD_ERR_BEARER_MISMATCH] = {"bearer_mismatch", "bearer token does not match"},
    [HOOKD_ERR_NO_KEYS] = {"no_keys", "no key is configured for a signed scheme"},
    [HOOKD_ERR_BAD_KEY] = {"bad_key", "key is not in the encoding or size its scheme requires"},
    [HOOKD_ERR_TOO_MANY_KEYS] = {"too_many_keys", "too many keys"},
    [HOOKD_ERR_BASE64] = {"base64", "not strict padded standard base64"},
    [HOOKD_ERR_BUFFER_TOO_SMALL] = {"buffer_too_small", "output buffer too small"},
    [HOOKD_ERR_TOO_LARGE] = {"too_large", "input is over its size limit"},
    [HOOKD_ERR_JSON_SYNTAX] = {"json_syntax", "body is not valid JSON"},
    [HOOKD_ERR_JSON_TOO_DEEP] = {"json_too_deep", "JSON is nested too deeply"},
    [HOOKD_ERR_NOT_OBJECT] = {"not_object", "JSON body is not an object"},
    [HOOKD_ERR_FIELD_TYPE] = {"field_type", "a field has the wrong JSON type"},
    [HOOKD_ERR_FIELD_TOO_LONG] = {"field_too_long", "a field value is too long"},
    [HOOKD_ERR_TIME_MALFORMED] = {"time_malformed", "not an ISO 8601 date-time"},
};

const char *hookd_errname(hookd_err err)
{
    if ((unsigned)err >= HOOKD_ERR__COUNT || errors[err].name == NULL)
        return "unknown_error";
    return errors[err].name;
}

const char *hookd_strerror(hookd_err err)
{
    if ((unsigned)err >= HOOKD_ERR__COUNT || errors[err].text == NULL)
        return "unknown error";
    return errors[err].text;
}

hookd_err hookd_init(void)
{
    return sodium_init() < 0 ? HOOKD_ERR_CRYPTO_INIT : HOOKD_OK;
}

const char *hookd_version(void)
{
    return HOOKD_VERSION_STRING;
}
