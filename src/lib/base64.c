/*
 * base64.c - strict standard base64, on top of libsodium's constant-time codec.
 *
 * Strict: length a multiple of 4, '=' padding present and only at the end, no whitespace, unused
 * low bits zero (libsodium rejects those). One spelling per byte string, so a signature cannot be
 * re-spelled past a check.
 *
 * The alphabet is checked here as well: libsodium 1.0.18 (Debian 12) decodes some bytes >= 0x80 as
 * digits ("Q\xcaR\xf8" decodes to three bytes), which fuzz_base64 found. The check has no
 * data-dependent branch, since secrets (whsec_...) pass through it too.
 */
#include <sodium.h>

#include "internal.h"

/* 1 when lo <= c <= hi, computed without a branch. */
static unsigned in_range(unsigned c, unsigned lo, unsigned hi)
{
    return ((c - lo) | (hi - c)) >> (sizeof(unsigned) * 8 - 1) ^ 1U;
}

/* Nonzero when any of the n bytes before the padding is outside "A-Za-z0-9+/". */
static unsigned outside_alphabet(const char *text, size_t n)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)text[i];
        unsigned ok = in_range(c, 'A', 'Z') | in_range(c, 'a', 'z') | in_range(c, '0', '9')
                      | in_range(c, '+', '+') | in_range(c, '/', '/');
        bad |= ok ^ 1U;
    }
    return bad;
}

/* Bytes that len characters of padded base64 decode to, or SIZE_MAX when len is impossible. */
static size_t decoded_len(const char *text, size_t len)
{
    if (len % 4 != 0)
        return SIZE_MAX;
    size_t n = len / 4 * 3;
    if (len >= 1 && text[len - 1] == '=')
        n--;
    if (len >= 2 && text[len - 2] == '=')
        n--;
    return n;
}

hookd_err hookd_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap,
                              size_t *outlen)
{
    if (text == NULL || (out == NULL && cap > 0) || outlen == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    *outlen = 0;
    size_t want = decoded_len(text, len);
    if (want == SIZE_MAX)
        return HOOKD_ERR_BASE64;
    if (want > cap)
        return HOOKD_ERR_BUFFER_TOO_SMALL;
    if (len == 0)
        return HOOKD_OK;
    size_t digits = len - (text[len - 1] == '=') - (text[len - 2] == '=');
    if (outside_alphabet(text, digits))
        return HOOKD_ERR_BASE64;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    size_t got = 0;
    if (sodium_base642bin(out, cap, text, len, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0
        || got != want)
        return HOOKD_ERR_BASE64;
    *outlen = got;
    return HOOKD_OK;
}

hookd_err hookd_base64_decode_exact(const char *text, size_t len, uint8_t *out, size_t want)
{
    if (text == NULL || out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    /* Refuse before decoding anything of the wrong size. */
    if (decoded_len(text, len) != want)
        return HOOKD_ERR_BASE64;
    size_t got = 0;
    return hookd_base64_decode(text, len, out, want, &got);
}

hookd_err hookd_base64_encode(const uint8_t *bin, size_t len, char *out, size_t cap)
{
    if ((bin == NULL && len > 0) || out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (len > (SIZE_MAX - 4) / 4 * 3 || cap < HOOKD_BASE64_BUFSIZE(len))
        return HOOKD_ERR_BUFFER_TOO_SMALL;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return HOOKD_OK;
}
