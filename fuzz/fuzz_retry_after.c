/*
 * fuzz_retry_after.c - a forward target's Retry-After header (delay-seconds or an HTTP-date).
 *
 * Properties: no crash and no undefined conversion (the sanitizer build checks float casts); the
 * wait is never negative and never over a week; delay-seconds of up to 7 significant digits come
 * back exactly (capped at a week), whatever blanks surround them.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const time_t now = 1764300000;
    long got = dispatch_parse_retry_after((const char *)data, size, now);
    assert(got >= 0 && got <= 7L * 86400);
    size_t b = 0, e = size;
    while (b < e && (data[b] == ' ' || data[b] == '\t'))
        b++;
    while (e > b && (data[e - 1] == ' ' || data[e - 1] == '\r' || data[e - 1] == '\n'))
        e--;
    size_t zeros = 0;
    while (b + zeros < e && data[b + zeros] == '0')
        zeros++;
    bool digits = e > b && e - b < 128;
    for (size_t i = b; digits && i < e; i++)
        digits = data[i] >= '0' && data[i] <= '9';
    if (digits && e - b - zeros <= 7) {
        char text[16] = "0";
        memcpy(text, data + b + zeros, e - b - zeros);
        text[e - b - zeros] = '\0';
        long want = strtol(text, NULL, 10);
        assert(got == (want > 7L * 86400 ? 7L * 86400 : want));
    }
    return 0;
}
