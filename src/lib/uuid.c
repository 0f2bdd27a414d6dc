/*
 * uuid.c - random (version 4) UUIDs, for the event ids hookd send makes up.
 */
#include <stdio.h>

#include <sodium.h>

#include "internal.h"

hookd_err hookd_uuid_v4(char *out, size_t cap)
{
    if (out == NULL)
        return HOOKD_ERR_INVALID_ARGUMENT;
    if (cap < HOOKD_UUID_BUFSIZE)
        return HOOKD_ERR_BUFFER_TOO_SMALL;
    if (hookd_init() != HOOKD_OK)
        return HOOKD_ERR_CRYPTO_INIT;
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, cap,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return HOOKD_OK;
}
