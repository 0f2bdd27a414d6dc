/*
 * allow.h - source address allow lists: CIDRs (IPv4 and IPv6), and "telnyx" for Telnyx's
 * published webhook ranges.
 */
#ifndef HOOKD_ALLOW_H
#define HOOKD_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "limits.h"

typedef struct cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
} cidr;

typedef struct allow_list {
    cidr items[SRV_MAX_ALLOW];
    size_t count;     /* 0: every address is allowed */
} allow_list;

/* Add a comma-separated list ("telnyx, 10.0.0.0/8, ::1"). On error, *bad points at the entry. */
bool allow_parse(allow_list *l, const char *text, char *bad, size_t badlen);

/* True when the list is empty or addr is inside one of its ranges. IPv4-mapped IPv6 addresses
 * match IPv4 ranges. */
bool allow_match(const allow_list *l, const struct sockaddr *addr);

#endif
