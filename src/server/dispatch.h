/*
 * dispatch.h - run handlers for stored events, at least once.
 */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "store.h"

typedef struct dispatcher dispatcher;

/* Start the scheduler for cfg's handlers (none: returns true and *out = NULL). */
bool dispatch_start(const config *cfg, store *st, metrics *m, dispatcher **out, char *err,
                    size_t errlen);

/* Stop scheduling, wait for running attempts to finish and be recorded (their processes get
 * up to their timeout), free. Call before store_close. */
void dispatch_stop(dispatcher *d);

#endif
