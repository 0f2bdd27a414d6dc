/*
 * states.h - what becomes of a delivery, and how one attempt at it ended: enums with name tables.
 *
 * The names are the stored values (the deliveries.state and attempts.outcome columns), the metric
 * labels and the CLI's words, so they never change; code compares the enums.
 *
 *   pending -> in_flight -> succeeded
 *                        -> retry -> in_flight ...   (the backoff, up to max_attempts)
 *                        -> dead -> replayed          (hookd replay queued a new delivery)
 *   pending | retry -> waiting -> pending ...         (order = call: behind the head of its call)
 */
#ifndef HOOKD_STATES_H
#define HOOKD_STATES_H

#include <stdbool.h>

typedef enum delivery_state {
    DELIVERY_PENDING,
    DELIVERY_WAITING,
    DELIVERY_IN_FLIGHT,
    DELIVERY_SUCCEEDED,
    DELIVERY_RETRY,
    DELIVERY_DEAD,
    DELIVERY_REPLAYED,
    DELIVERY__COUNT
} delivery_state;

typedef enum attempt_outcome {
    OUTCOME_SUCCEEDED, /* exit 0, or a 2xx */
    OUTCOME_FAILED,    /* another exit status or HTTP status, or no connection */
    OUTCOME_TIMEOUT,   /* killed, or no answer, at the handler's timeout */
    OUTCOME_GONE,      /* HTTP 410: this delivery and the handler's queued ones are dead */
    OUTCOME_INVALID,   /* the event can never be sent this way: this delivery is dead */
    OUTCOME__COUNT
} attempt_outcome;

/* The stored name ("in_flight", "timeout"); never NULL. */
const char *delivery_state_name(delivery_state s);
const char *attempt_outcome_name(attempt_outcome o);

/* A stored name back to its state; false when it is none. */
bool delivery_state_parse(const char *name, delivery_state *out);

#endif
