/*
 * dispatch.h - run handlers for stored events, at least once.
 */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

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

/* SIGHUP: take the timeout, concurrency, max_attempts, retry_base and retry_max of fresh's
 * handlers of the same names. Attempts already running keep the settings they started with. */
void dispatch_reload(dispatcher *d, const config *fresh);

/* Look for due deliveries now (the console queued some): never blocks. d may be NULL. */
void dispatch_kick(dispatcher *d);

/* A target's Retry-After value (delay-seconds or HTTP-date, len bytes, not NUL-terminated) as
 * seconds from now: 0 when absent, malformed or past, at most a week. */
long dispatch_parse_retry_after(const char *value, size_t len, time_t now);

#endif
