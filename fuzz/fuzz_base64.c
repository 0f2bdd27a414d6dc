/*
 * fuzz_base64.c - strict base64 and the other small codecs (timestamps, ISO 8601).
 *
 * Properties: whatever decodes re-encodes to exactly the input (one spelling per byte string);
 * a parsed timestamp prints back as the digits given, less leading zeros; a parsed date-time
 * formats and parses back to the same instant.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/hookd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void base64_round_trip(const char *text, size_t size)
{
    uint8_t bin[768];
    size_t n = 0;
    if (hookd_base64_decode(text, size, bin, sizeof bin, &n) != HOOKD_OK)
        return;
    char again[HOOKD_BASE64_BUFSIZE(sizeof bin)];
    assert(hookd_base64_encode(bin, n, again, sizeof again) == HOOKD_OK);
    assert(strlen(again) == size && memcmp(again, text, size) == 0);
    uint8_t exact[64];
    if (n <= sizeof exact)
        assert(hookd_base64_decode_exact(text, size, exact, n) == HOOKD_OK);
}

static void timestamp(const char *text, size_t size)
{
    int64_t v;
    if (hookd_timestamp_parse(text, size, &v) != HOOKD_OK)
        return;
    assert(v >= 0);
    size_t z = 0;
    while (z + 1 < size && text[z] == '0')
        z++;
    char back[32];
    int n = snprintf(back, sizeof back, "%" PRId64, v);
    assert((size_t)n == size - z && memcmp(back, text + z, (size_t)n) == 0);
    int64_t skew;
    hookd_err e = hookd_timestamp_check(v, 1700000000, 300, &skew);
    assert(e == HOOKD_OK || e == HOOKD_ERR_TIMESTAMP_TOO_OLD || e == HOOKD_ERR_TIMESTAMP_IN_FUTURE);
}

static void iso8601(const char *text, size_t size)
{
    int64_t us, back;
    if (hookd_iso8601_parse(text, size, &us) != HOOKD_OK)
        return;
    char out[HOOKD_ISO8601_BUFSIZE];
    if (hookd_iso8601_format(us, out, sizeof out) != HOOKD_OK)
        return; /* years outside 0000-9999 after a zone offset do not format */
    assert(hookd_iso8601_parse(out, strlen(out), &back) == HOOKD_OK);
    assert(back == us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *text = malloc(size + 1); /* an exact-size copy, so ASan sees any over-read */
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    base64_round_trip(text, size);
    timestamp(text, size);
    iso8601(text, size);
    free(text);
    return 0;
}
