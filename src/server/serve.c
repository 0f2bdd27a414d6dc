/*
 * serve.c - the daemon's life: start the store and the listeners, wait for signals, drain.
 *
 *   SIGTERM, SIGINT  stop accepting, let in-flight requests commit and answer, exit 0
 *   SIGHUP           re-read the endpoints' keys (and tolerance, bearer token) from the config
 *                    file; on any error keep the keys in use and log why
 *
 * Signals are blocked in every thread and taken here with sigwait(), so no handler runs in an
 * arbitrary thread.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "log.h"
#include "server.h"

/* What works but deserves a word, at every start: unsigned endpoints, the config's warnings
 * (secret files others can read), and exec handlers that inherit variables holding secrets. */
static void warn_at_start(const config *c)
{
    for (size_t i = 0; i < c->nendpoints; i++) {
        const cfg_endpoint *e = &c->endpoints[i];
        if (e->scheme == HOOKD_SCHEME_NONE)
            log_json(LOG_WARN, "endpoint accepts unsigned requests",
                     json_pack("{s:s, s:s, s:b}", "endpoint", e->name, "path", e->path, "bearer",
                               e->bearer != NULL));
    }
    for (size_t i = 0; i < c->nwarnings; i++)
        log_msg(LOG_WARN, "config", "%s", c->warnings[i]);
    for (size_t i = 0; i < c->nhandlers; i++) {
        const cfg_handler *h = &c->handlers[i];
        if (h->action != ACTION_EXEC || h->env_clear || c->nsecret_env == 0)
            continue;
        json_t *names = json_array();
        for (size_t k = 0; k < c->nsecret_env; k++)
            json_array_append_new(names, json_string(c->secret_env[k]));
        log_json(LOG_WARN, "exec handler inherits variables that hold secrets (set env_clear or env_pass)",
                 json_pack("{s:s, s:o}", "handler", h->name, "variables", names));
    }
}

static bool build_verifiers(const config *c, hookd_verifier **out, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nendpoints; i++) {
        hookd_err e = config_verifier(&c->endpoints[i], &out[i]);
        if (e != HOOKD_OK) {
            snprintf(err, errlen, "[endpoint %s]: %s", c->endpoints[i].name, hookd_strerror(e));
            for (size_t j = 0; j < i; j++)
                hookd_verifier_free(out[j]);
            return false;
        }
    }
    return true;
}

/* SIGHUP: new verifiers for the same endpoints, swapped in under the write lock. */
static void reload_keys(server *srv)
{
    if (srv->cfg->file[0] == '\0') {
        log_msg(LOG_WARN, "reload skipped", "no config file (started with command-line keys)");
        return;
    }
    config *fresh = malloc(sizeof *fresh);
    char err[768];
    hookd_verifier *next[SRV_MAX_ENDPOINTS] = {0};
    if (fresh == NULL)
        return;
    config_defaults(fresh);
    bool ok = config_load(fresh, srv->cfg->file, err, sizeof err);
    if (ok && fresh->nendpoints != srv->cfg->nendpoints) {
        snprintf(err, sizeof err, "the set of endpoints changed; restart hookd to apply that");
        ok = false;
    }
    for (size_t i = 0; ok && i < fresh->nendpoints; i++) {
        if (strcmp(fresh->endpoints[i].name, srv->cfg->endpoints[i].name) != 0
            || fresh->endpoints[i].scheme != srv->cfg->endpoints[i].scheme) {
            snprintf(err, sizeof err, "[endpoint %s] changed name or scheme; restart hookd",
                     fresh->endpoints[i].name);
            ok = false;
        }
    }
    if (ok)
        ok = build_verifiers(fresh, next, err, sizeof err);
    if (!ok) {
        log_msg(LOG_ERROR, "reload failed, keeping the keys in use", "%s", err);
    } else {
        pthread_rwlock_wrlock(&srv->keys_lock);
        for (size_t i = 0; i < fresh->nendpoints; i++) {
            hookd_verifier *old = srv->verifiers[i];
            srv->verifiers[i] = next[i];
            next[i] = old;
        }
        server_set_allow(srv, fresh);
        pthread_rwlock_unlock(&srv->keys_lock);
        for (size_t i = 0; i < fresh->nendpoints; i++)
            hookd_verifier_free(next[i]);
        log_json(LOG_NOTICE, "keys reloaded", json_pack("{s:i}", "endpoints", (int)fresh->nendpoints));
    }
    config_free(fresh);
    free(fresh);
}

/* Wait until no request is in flight, or the grace period is over. */
static void wait_inflight(server *srv, long ms)
{
    struct timespec pause = {0, 10 * 1000000L};
    for (long waited = 0; atomic_load(&srv->inflight) > 0 && waited < ms; waited += 10)
        nanosleep(&pause, NULL);
}

int server_run(config *cfg)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return 1;
    srv->cfg = cfg;
    pthread_rwlock_init(&srv->keys_lock, NULL);
    metrics_init(&srv->metrics);
    const char *names[SRV_MAX_ENDPOINTS];
    for (size_t i = 0; i < cfg->nendpoints; i++)
        names[i] = cfg->endpoints[i].name;
    metrics_set_endpoints(&srv->metrics, names, cfg->nendpoints);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[768] = "";
    int rc = 1;
    if (!build_verifiers(cfg, srv->verifiers, err, sizeof err)) {
        log_msg(LOG_ERROR, "cannot start", "%s", err);
        goto out;
    }
    server_set_allow(srv, cfg);
    warn_at_start(cfg);
    if (!store_open(cfg, &srv->metrics, &srv->store, err, sizeof err)) {
        log_msg(LOG_ERROR, "cannot open the store", "%s", err);
        goto out;
    }
    dispatcher *dispatch = NULL;
    if (!dispatch_start(cfg, srv->store, &srv->metrics, &dispatch, err, sizeof err)) {
        log_msg(LOG_ERROR, "cannot start dispatch", "%s", err);
        store_close(srv->store);
        store_free(srv->store);
        goto out;
    }
    if (!http_start(srv, err, sizeof err)) {
        log_msg(LOG_ERROR, "cannot start", "%s", err);
        http_stop(srv);
        dispatch_stop(dispatch);
        store_close(srv->store);
        store_free(srv->store);
        goto out;
    }
    log_json(LOG_NOTICE, "started",
             json_pack("{s:s, s:s, s:s, s:i, s:i}", "version", hookd_version(), "store",
                       cfg->store_url, "durability",
                       cfg->durability == DURABILITY_FULL ? "full" : "process", "endpoints",
                       (int)cfg->nendpoints, "handlers", (int)cfg->nhandlers));
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload_keys(srv);
            continue;
        }
        log_json(LOG_NOTICE, "stopping", json_pack("{s:s, s:i}", "signal",
                                                 sig == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                                                 (int)atomic_load(&srv->inflight)));
        break;
    }
    /* The store is freed only once no HTTP thread can reach it: a request completing its body
     * after store_close() is told 503 (the store refuses it), never a 200, never freed memory. */
    atomic_store(&srv->draining, true);
    http_quiesce(srv);                          /* no new connections */
    wait_inflight(srv, SRV_SHUTDOWN_GRACE_MS);     /* in-flight requests commit and answer */
    dispatch_stop(dispatch);                    /* running attempts finish and are recorded */
    store_close(srv->store);                    /* anything still queued commits (or fails) */
    wait_inflight(srv, 1000);
    http_stop(srv);                             /* every connection closed, every thread gone */
    store_free(srv->store);
    log_json(LOG_NOTICE, "stopped", json_pack("{s:i}", "abandoned", (int)atomic_load(&srv->inflight)));
    rc = 0;
out:
    for (size_t i = 0; i < cfg->nendpoints; i++)
        hookd_verifier_free(srv->verifiers[i]);
    metrics_destroy(&srv->metrics);
    pthread_rwlock_destroy(&srv->keys_lock);
    free(srv);
    return rc;
}
