/*
 * route.h - which handlers an event owes: the one routing rule.
 *
 * The receiver (http.c) routes each new event before it is stored, so its deliveries travel in
 * the store_record and are written in the event's transaction; `hookd replay` routes stored events
 * the same way. No store backend ever sees the config.
 */
#ifndef HOOKD_ROUTE_H
#define HOOKD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* The handler named name, or NULL. */
const cfg_handler *route_handler(const config *c, const char *name);

/* Does handler h take an event of this type from this endpoint? (NULL type: unparsed, which only
 * a pattern matching "" such as "*" takes.) */
bool route_matches(const cfg_handler *h, const char *endpoint, const char *event_type);

/* The names of every handler of c that takes the event, in config order, into names (at most
 * cap; SRV_MAX_HANDLERS always suffices). The names live as long as c. Returns how many. */
size_t route_event(const config *c, const char *endpoint, const char *event_type,
                   const char **names, size_t cap);

#endif
