/*
 * timestamp.c - the Unix-seconds timestamp headers and the replay window.
 *
 * Both schemes send decimal seconds. Accept ASCII digits only: no sign, no space, no "1e9", no
 * trailing newline. The text is signed verbatim, so a lenient parser here would let two spellings
 * of one time pass, which buys an attacker nothing but costs us a precise error.
 */
#include "internal.h"

hookd_err hookd_timestamp_parse(const char *text, size_t len, int64_t *out)
{
    if (text == NULL || out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (len == 0 || len > HOOKD_MAX_TIMESTAMP_LEN)
        return HOOKD_ERR_TIMESTAMP_MALFORMED;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)text[i] - (unsigned)'0';
        if (d > 9)
            return HOOKD_ERR_TIMESTAMP_MALFORMED;
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return HOOKD_ERR_TIMESTAMP_MALFORMED;
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return HOOKD_OK;
}

/* a - b without overflow, saturated to the int64 range. */
static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

hookd_err hookd_timestamp_check(int64_t ts, int64_t now, int64_t tolerance, int64_t *skew)
{
    if (tolerance < 0)
        return HOOKD_ERR_INVALID_ARGUMENT;
    int64_t d = sat_sub(now, ts);
    if (skew != NULL)
        *skew = d;
    if (d > tolerance)
        return HOOKD_ERR_TIMESTAMP_TOO_OLD;
    if (d < -tolerance)
        return HOOKD_ERR_TIMESTAMP_IN_FUTURE;
    return HOOKD_OK;
}
