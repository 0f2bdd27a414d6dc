/*
 * states.c - the name tables of states.h.
 */
#include <string.h>

#include "states.h"

static const char *const state_names[DELIVERY__COUNT] = {
    [DELIVERY_PENDING] = "pending",     [DELIVERY_WAITING] = "waiting",
    [DELIVERY_IN_FLIGHT] = "in_flight", [DELIVERY_SUCCEEDED] = "succeeded",
    [DELIVERY_RETRY] = "retry",         [DELIVERY_DEAD] = "dead",
    [DELIVERY_REPLAYED] = "replayed",
};

static const char *const outcome_names[OUTCOME__COUNT] = {
    [OUTCOME_SUCCEEDED] = "succeeded", [OUTCOME_FAILED] = "failed", [OUTCOME_TIMEOUT] = "timeout",
    [OUTCOME_GONE] = "gone",           [OUTCOME_INVALID] = "invalid",
};

const char *delivery_state_name(delivery_state s)
{
    return (unsigned)s < DELIVERY__COUNT ? state_names[s] : "unknown";
}

const char *attempt_outcome_name(attempt_outcome o)
{
    return (unsigned)o < OUTCOME__COUNT ? outcome_names[o] : "unknown";
}

bool delivery_state_parse(const char *name, delivery_state *out)
{
    for (int i = 0; i < DELIVERY__COUNT; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (delivery_state)i;
            return true;
        }
    }
    return false;
}
