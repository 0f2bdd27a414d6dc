/*
 * server.h - `hookd serve`: the receiver daemon.
 *
 * One request, in order (http.c): accept -> limits -> method and path -> source allow-list ->
 * bearer -> signature over the raw body -> parse -> dedupe on the event id -> durable commit ->
 * respond. Never 200 without a committed row.
 */
#ifndef HOOKD_SERVER_H
#define HOOKD_SERVER_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "store.h"

struct MHD_Daemon;
struct conn_watch;

typedef struct server {
    config *cfg;
    /* What SIGHUP replaces, under keys_lock: the verifiers (keys, tolerance, bearer) and the
     * allow lists. Request threads and the accept policy take it for reading. */
    hookd_verifier *verifiers[SRV_MAX_ENDPOINTS];
    allow_list allow[SRV_MAX_ENDPOINTS];
    allow_list ops_allow;
    bool accept_any;         /* some endpoint takes every address: no filter at accept time */
    pthread_rwlock_t keys_lock;
    store *store;
    metrics metrics;
    struct MHD_Daemon *daemons[SRV_MAX_LISTEN];
    atomic_long inflight;    /* requests begun and not yet completed */
    atomic_bool draining;    /* SIGTERM: answering what is in flight, accepting nothing new */
    atomic_size_t buffered;  /* bytes of request bodies held, all connections ([server] max_buffered) */
    /* /readyz: the last probe's answer, reused for SRV_READY_CACHE_MS (a probe writes 64 KiB). */
    atomic_llong ready_until_ms;
    atomic_bool ready_ok;
    /* Deadlines (http.c): every open connection, for the reaper that cuts slow ones. */
    pthread_mutex_t watch_lock;
    struct conn_watch *watches;
    pthread_t reaper;
    atomic_bool stop_reaper;
    bool reaper_started;
} server;

/* Copy the allow lists of cfg into srv (call with keys_lock held for writing, or before start). */
void server_set_allow(server *srv, const config *cfg);

/* Run until SIGTERM or SIGINT; 0 after a clean drain. The config must have been validated. */
int server_run(config *cfg);

/* "127.0.0.1:8080", "[::1]:8080", ":8080" (all IPv4 addresses) as a socket address. */
struct sockaddr_storage;
/* s (UTF-8) as a JSON string, quotes included, as json_dumps writes it; its length, or 0 when
 * it does not fit in cap bytes. */
size_t http_json_quote(char *out, size_t cap, const char *s);
bool http_parse_listen(const char *text, struct sockaddr_storage *ss);

/* An IPv4 or IPv6 socket address as text, into out (INET6_ADDRSTRLEN); "" for anything else. */
struct sockaddr;
void http_address_text(const struct sockaddr *a, char *out, size_t cap);

/* libmicrohttpd's error log into ours, at warn, under the message cls (NULL: "libmicrohttpd"). */
void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* http.c: start and stop the libmicrohttpd daemons (one per listen address). */
bool http_start(server *srv, char *err, size_t errlen);
void http_quiesce(server *srv);
void http_stop(server *srv);

#endif
