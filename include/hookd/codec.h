/*
 * hookd/codec.h - the encodings webhooks are made of: strict base64, Unix timestamps, ISO 8601
 * date-times and UUIDs.
 *
 * Strict means one spelling per value: standard alphabet ("+/"), "=" padding present, no
 * whitespace, unused low bits zero. A signature or key in any other spelling is malformed, so two
 * different strings never stand for the same bytes.
 */
#ifndef HOOKD_CODEC_H
#define HOOKD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/error.h"
#include "hookd/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Characters needed to base64-encode n bytes, including the NUL. */
#define HOOKD_BASE64_BUFSIZE(n) ((((n) + 2) / 3) * 4 + 1)

/* Decode the first len characters of text into out (cap bytes). On success *outlen is the number of
 * bytes written. HOOKD_ERR_BASE64 for anything not strict; HOOKD_ERR_BUFFER_TOO_SMALL when the
 * decoded bytes would not fit. */
HOOKD_API hookd_err hookd_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                                        size_t *outlen);

/* Decode text, which must be exactly want bytes once decoded. */
HOOKD_API hookd_err hookd_base64_decode_exact(const char *text, size_t len, uint8_t *out,
                                              size_t want);

/* Encode len bytes as padded standard base64 into out (cap >= HOOKD_BASE64_BUFSIZE(len)). */
HOOKD_API hookd_err hookd_base64_encode(const uint8_t *bin, size_t len, char *out, size_t cap);

/* Parse a Unix timestamp header: ASCII digits only (no sign, space or other byte), at most
 * HOOKD_MAX_TIMESTAMP_LEN of them, value <= INT64_MAX. */
HOOKD_API hookd_err hookd_timestamp_parse(const char *text, size_t len, int64_t *out);

/* Check ts against now: HOOKD_ERR_TIMESTAMP_TOO_OLD when now - ts > tolerance,
 * HOOKD_ERR_TIMESTAMP_IN_FUTURE when ts - now > tolerance. A difference of exactly tolerance passes.
 * *skew (may be NULL) receives now - ts, saturated to the int64 range. */
HOOKD_API hookd_err hookd_timestamp_check(int64_t ts, int64_t now, int64_t tolerance,
                                          int64_t *skew);

/* Parse an ISO 8601 / RFC 3339 date-time, "2021-12-15T14:11:24.613295Z": a date, 'T' (or 't' or a
 * space), a time with optional fraction (1 to 9 digits), then 'Z' or +HH:MM / -HH:MM. Field ranges
 * are checked (months, days of the month, leap years). *us_out receives microseconds since the Unix
 * epoch, in UTC. */
HOOKD_API hookd_err hookd_iso8601_parse(const char *text, size_t len, int64_t *us_out);

/* Format microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (cap >= HOOKD_ISO8601_BUFSIZE). */
HOOKD_API hookd_err hookd_iso8601_format(int64_t us, char *out, size_t cap);

/* A random (version 4) UUID in lowercase hex, cap >= HOOKD_UUID_BUFSIZE. */
HOOKD_API hookd_err hookd_uuid_v4(char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
