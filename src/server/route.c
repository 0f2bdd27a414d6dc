/*
 * route.c - which handlers an event owes (see route.h).
 */
#include <fnmatch.h>
#include <string.h>

#include "route.h"

const cfg_handler *route_handler(const config *c, const char *name)
{
    for (size_t i = 0; i < c->nhandlers; i++) {
        if (strcmp(c->handlers[i].name, name) == 0)
            return &c->handlers[i];
    }
    return NULL;
}

bool route_matches(const cfg_handler *h, const char *endpoint, const char *event_type)
{
    if (h->endpoint[0] != '\0' && (endpoint == NULL || strcmp(h->endpoint, endpoint) != 0))
        return false;
    const char *type = event_type != NULL ? event_type : "";
    for (size_t i = 0; i < h->non; i++) {
        if (fnmatch(h->on[i], type, 0) == 0)
            return true;
    }
    return false;
}

size_t route_event(const config *c, const char *endpoint, const char *event_type,
                   const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nhandlers && n < cap; i++) {
        if (route_matches(&c->handlers[i], endpoint, event_type))
            names[n++] = c->handlers[i].name;
    }
    return n;
}
