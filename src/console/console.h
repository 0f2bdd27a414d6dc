/*
 * console.h - the console: a JSON API under /api/v1 and the pages that use it, served by
 * `hookd serve` on an address of its own ([console] listen).
 *
 * It reads through the store's view interface (store.h: named reports, on a connection of its
 * own), so it works alike on SQLite and PostgreSQL and never takes the writer's connection; the
 * live stream is fed by the writer's commits (store_on_event), not by polling the store.
 * Threads: console_start and console_stop from the daemon's main thread; the console runs a
 * thread per connection (at most SRV_CONSOLE_MAX_CONNECTIONS) and one sampler thread.
 */
#ifndef HOOKD_CONSOLE_H
#define HOOKD_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "dispatch.h"
#include "metrics.h"
#include "store.h"

typedef struct console console;

/* Start the console cfg's [console] names (none: true and *out = NULL). cfg, st, m and d must
 * outlive it; d may be NULL (no handlers). */
bool console_start(const config *cfg, store *st, metrics *m, dispatcher *d, console **out,
                   char *err, size_t errlen);

/* Close every connection (live streams end), stop the threads, free. NULL is fine. */
void console_stop(console *c);

/* ---- inside the console (console.c and api.c) --------------------------------------------- */

struct MHD_Connection;

/* One API request, as api.c sees it. */
typedef struct api_request {
    console *c;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;          /* after /api/v1, e.g. "/events/ID" */
    const char *body;          /* POST, NUL-terminated, or NULL */
    size_t body_len;
} api_request;

/* An API answer: status and a JSON body (owned), or raw bytes (owned, malloc'd). */
typedef struct api_response {
    unsigned status;
    struct json_t *json;
    char *raw;
    size_t raw_len;
    const char *raw_type;      /* Content-Type of raw */
    const char *reason;        /* a refusal's reason (metrics_console_reject), or NULL */
} api_response;

/* Answer every route under /api/v1 but the stream (console.c streams). */
void api_handle(const api_request *r, api_response *out);

/* What api.c needs of the console. */
typedef bool console_view_fn(void *ctx, store_view *v);
/* Run fn with the console's store view (opened on first use, reopened after an error), one
 * request at a time. False when the store cannot be reached or fn failed. */
bool console_with_view(console *c, console_view_fn *fn, void *ctx);
const config *console_config(const console *c);
metrics *console_metrics(console *c);
void console_kick_dispatch(console *c);
/* Queue depth and dead letters sampled since start: calls fn for each sample at or after
 * since_us, oldest first. */
void console_samples(console *c, int64_t since_us,
                     void (*fn)(void *ctx, int64_t t_us, int64_t owed, int64_t dead), void *ctx);

/* Is p[0..len) well-formed UTF-8 (no overlongs, no surrogates)? */
bool console_utf8_valid(const char *p, size_t len);

/* The value of field name in an application/x-www-form-urlencoded body (NUL-terminated),
 * percent- and plus-decoded, into out (cap bytes, NUL-terminated): false when absent, malformed
 * or longer than cap - 1. */
bool console_form_field(const char *body, const char *name, char *out, size_t cap);

/* The assets the build embeds (assets.c, generated from web/). */
typedef struct console_asset {
    const char *path;          /* "/assets/app.js" */
    const char *type;          /* Content-Type */
    const unsigned char *data;
    size_t len;
} console_asset;

const console_asset *console_asset_find(const char *path);

#endif
