/*
 * allow.c - match a client's address against the CIDR ranges an endpoint accepts.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"

/* Telnyx's published webhook source ranges (PROTOCOLS.md). */
static const char *const telnyx_ranges[] = {
    "192.76.120.128/29", "192.76.120.136/29", "192.76.120.144/29", "185.246.41.0/29",
    "185.246.41.8/29",   "185.246.41.16/29",  "103.115.244.0/29",  "103.115.244.8/29",
    "64.16.239.0/24",
};

static bool parse_one(const char *text, cidr *out)
{
    char buf[64];
    if (strlen(text) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return false;
    }
    out->prefix = max;
    if (slash != NULL) {
        char *end = NULL;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || p > max)
            return false;
        out->prefix = (unsigned)p;
    }
    return true;
}

static bool add(allow_list *l, const char *text)
{
    if (l->count >= SRV_MAX_ALLOW)
        return false;
    if (!parse_one(text, &l->items[l->count]))
        return false;
    l->count++;
    return true;
}

bool allow_parse(allow_list *l, const char *text, char *bad, size_t badlen)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return false;
    bool ok = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); ok && tok != NULL;
         tok = strtok_r(NULL, ", \t", &save)) {
        if (strcmp(tok, "telnyx") == 0) {
            for (size_t i = 0; ok && i < sizeof telnyx_ranges / sizeof telnyx_ranges[0]; i++)
                ok = add(l, telnyx_ranges[i]);
        } else {
            ok = add(l, tok);
        }
        if (!ok)
            snprintf(bad, badlen, "%s", tok);
    }
    free(copy);
    return ok;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool allow_match(const allow_list *l, const struct sockaddr *addr)
{
    if (l->count == 0)
        return true;
    if (addr == NULL)
        return false;
    uint8_t a4[4], a6[16];
    bool has4 = false, has6 = false;
    if (addr->sa_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
        has4 = true;
    } else if (addr->sa_family == AF_INET6) {
        memcpy(a6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, 16);
        has6 = true;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6, mapped, 12) == 0) {
            memcpy(a4, a6 + 12, 4);
            has4 = true;
        }
    }
    for (size_t i = 0; i < l->count; i++) {
        const cidr *c = &l->items[i];
        if ((c->family == AF_INET && has4 && prefix_equal(a4, c->addr, c->prefix))
            || (c->family == AF_INET6 && has6 && prefix_equal(a6, c->addr, c->prefix)))
            return true;
    }
    return false;
}
