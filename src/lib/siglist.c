/*
 * siglist.c - the webhook-signature header of Standard Webhooks: "v1,BASE64 v1a,BASE64 ...".
 *
 * Entries are separated by spaces; runs of spaces make empty tokens, which are skipped. An entry's
 * version runs to its first comma. Classifying entries (known, malformed, unknown) is the
 * verifier's job; this only splits, and never reads past end.
 */
#include <string.h>

#include "internal.h"

bool hk_siglist_next(const char **cursor, const char *end, hk_sig_entry *e)
{
    const char *p = *cursor;
    while (p < end && *p == ' ')
        p++;
    if (p >= end) {
        *cursor = end;
        return false;
    }
    const char *tok = p;
    while (p < end && *p != ' ')
        p++;
    *cursor = p;
    size_t n = (size_t)(p - tok);
    const char *comma = memchr(tok, ',', n);
    e->version = tok;
    if (comma == NULL) {
        e->version_len = n;
        e->sig = NULL;
        e->sig_len = 0;
    } else {
        e->version_len = (size_t)(comma - tok);
        e->sig = comma + 1;
        e->sig_len = n - e->version_len - 1;
    }
    return true;
}
