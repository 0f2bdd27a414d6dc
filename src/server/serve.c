/*
 * serve.c - the daemon's life: start the store and the listeners, wait for signals, drain.
 *
 *   SIGTERM, SIGINT  stop accepting, let in-flight requests commit and answer, exit 0
 *   SIGHUP           re-read the config file and apply what can change safely while running:
 *                    endpoints' keys, tolerances, bearer tokens and allow-lists, ops_allow, and
 *                    handlers' timeout, concurrency, max_attempts, retry_base and retry_max.
 *                    Everything else that changed is logged by name as needing a restart. If
 *                    the file does not load, nothing changes and the reason is logged.
 *
 * Signals are blocked in every thread and taken here with sigwait(), so no handler runs in an
 * arbitrary thread.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "dispatch.h"
#include "log.h"
#include "tls.h"
#include "route.h"
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

/* The settings that differ between the running config and fresh and cannot change while
 * running, by name ("[server] listen", "[handler h] exec", ...), into a JSON array. */
static void note(json_t *list, const char *section, const char *key)
{
    char name[160];
    snprintf(name, sizeof name, "[%s] %s", section, key);
    json_array_append_new(list, json_string(name));
}

static bool same_words(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a[i] != NULL && b[i] != NULL; i++) {
        if (strcmp(a[i], b[i]) != 0)
            return false;
    }
    return a[i] == NULL && b[i] == NULL;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static json_t *needs_restart(const config *old, const config *fresh, bool *endpoints_same)
{
    json_t *list = json_array();
    bool listen_same = old->nlisten == fresh->nlisten;
    for (size_t i = 0; listen_same && i < old->nlisten; i++)
        listen_same = strcmp(old->listen[i], fresh->listen[i]) == 0;
    if (!listen_same)
        note(list, "server", "listen");
    const struct {
        const char *key;
        long long was, now;
    } scalars[] = {
        {"threads", old->threads, fresh->threads},
        {"max_connections", old->max_connections, fresh->max_connections},
        {"per_ip_connections", old->per_ip_connections, fresh->per_ip_connections},
        {"request_timeout", old->request_timeout, fresh->request_timeout},
        {"header_timeout", old->header_timeout, fresh->header_timeout},
        {"max_body", (long long)old->max_body, (long long)fresh->max_body},
        {"max_header", (long long)old->max_header, (long long)fresh->max_header},
        {"max_buffered", (long long)old->max_buffered, (long long)fresh->max_buffered},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        if (scalars[i].was != scalars[i].now)
            note(list, "server", scalars[i].key);
    }
    if (strcmp(old->store_url, fresh->store_url) != 0)
        note(list, "store", "url");
    if (old->durability != fresh->durability)
        note(list, "store", "durability");
    if (old->store_max_size != fresh->store_max_size)
        note(list, "store", "max_size");
    if (old->store_retain_s != fresh->store_retain_s)
        note(list, "store", "retain");
    if (old->lease_grace != fresh->lease_grace)
        note(list, "store", "lease_grace");
    if (old->commit_wait_us != fresh->commit_wait_us)
        note(list, "store", "commit_wait");
    if (strcmp(old->tls_cert, fresh->tls_cert) != 0 || strcmp(old->tls_key, fresh->tls_key) != 0)
        note(list, "server", "tls_cert"); /* other paths: the files at the old ones are re-read */
    if (strcmp(old->node, fresh->node) != 0)
        note(list, "server", "node");
    if (strcmp(old->console_listen, fresh->console_listen) != 0)
        note(list, "console", "listen");
    if (!same_text(old->console_token, fresh->console_token))
        note(list, "console", "token");
    *endpoints_same = old->nendpoints == fresh->nendpoints;
    for (size_t i = 0; *endpoints_same && i < old->nendpoints; i++) {
        const cfg_endpoint *a = &old->endpoints[i], *b = &fresh->endpoints[i];
        *endpoints_same = strcmp(a->name, b->name) == 0 && a->scheme == b->scheme;
        if (*endpoints_same && strcmp(a->path, b->path) != 0) {
            char section[80];
            snprintf(section, sizeof section, "endpoint %s", a->name);
            note(list, section, "path");
        }
    }
    if (!*endpoints_same)
        note(list, "endpoint", "added, removed, renamed or scheme changed (keys not reloaded)");
    for (size_t i = 0; i < fresh->nhandlers; i++) {
        const cfg_handler *b = &fresh->handlers[i], *a = route_handler(old, b->name);
        char section[80];
        snprintf(section, sizeof section, "handler %s", b->name);
        if (a == NULL) {
            note(list, section, "added");
            continue;
        }
        bool on_same = a->non == b->non;
        for (size_t k = 0; on_same && k < a->non; k++)
            on_same = strcmp(a->on[k], b->on[k]) == 0;
        bool env_same = a->env_clear == b->env_clear && a->nenv_pass == b->nenv_pass;
        for (size_t k = 0; env_same && k < a->nenv_pass; k++)
            env_same = strcmp(a->env_pass[k], b->env_pass[k]) == 0;
        const struct {
            const char *key;
            bool same;
        } keys[] = {
            {"on", on_same},
            {"endpoint", strcmp(a->endpoint, b->endpoint) == 0},
            {"exec or forward", a->action == b->action && same_words(a->argv, b->argv)
                                    && same_text(a->url, b->url)},
            {"sign_secret / sign_key", same_text(a->sign_secret, b->sign_secret)
                                           && same_text(a->sign_key, b->sign_key)},
            {"order", a->order_call == b->order_call},
            {"env_clear / env_pass", env_same},
        };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (!keys[k].same)
                note(list, section, keys[k].key);
        }
    }
    for (size_t i = 0; i < old->nhandlers; i++) {
        if (route_handler(fresh, old->handlers[i].name) == NULL) {
            char section[80];
            snprintf(section, sizeof section, "handler %s", old->handlers[i].name);
            note(list, section, "removed");
        }
    }
    return list;
}

/* SIGHUP: what can change while running is swapped in (verifiers and allow-lists under the write
 * lock, handler limits under the dispatcher's); the rest is named as needing a restart. */
static void reload(server *srv, dispatcher *dispatch)
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
    if (!config_load(fresh, srv->cfg->file, err, sizeof err)) {
        log_msg(LOG_ERROR, "reload failed, nothing changed", "%s", err);
        config_free(fresh);
        free(fresh);
        return;
    }
    bool endpoints_same = false;
    json_t *restart = needs_restart(srv->cfg, fresh, &endpoints_same);
    bool keys_ok = endpoints_same && build_verifiers(fresh, next, err, sizeof err);
    if (endpoints_same && !keys_ok)
        log_msg(LOG_ERROR, "reload: keeping the keys in use", "%s", err);
    pthread_rwlock_wrlock(&srv->keys_lock);
    if (keys_ok) {
        for (size_t i = 0; i < fresh->nendpoints; i++) {
            hookd_verifier *old = srv->verifiers[i];
            srv->verifiers[i] = next[i];
            next[i] = old;
        }
        server_set_allow(srv, fresh);
    }
    srv->ops_allow = fresh->ops_allow;
    pthread_rwlock_unlock(&srv->keys_lock);
    for (size_t i = 0; keys_ok && i < fresh->nendpoints; i++)
        hookd_verifier_free(next[i]);
    dispatch_reload(dispatch, fresh);
    /* A renewed certificate (certbot, any ACME client) is read again; a broken one is not used. */
    if (fresh->tls_cert[0] != '\0' && strcmp(fresh->tls_cert, srv->cfg->tls_cert) == 0
        && strcmp(fresh->tls_key, srv->cfg->tls_key) == 0) {
        if (tls_load(fresh->tls_cert, fresh->tls_key, err, sizeof err))
            log_json(LOG_NOTICE, "reload: TLS certificate read again", json_pack("{s:s}", "tls_cert", fresh->tls_cert));
        else
            log_msg(LOG_ERROR, "reload: keeping the TLS certificate in use", "%s", err);
    }
    for (size_t i = 0; i < fresh->nwarnings; i++)
        log_msg(LOG_WARN, "config", "%s", fresh->warnings[i]);
    if (json_array_size(restart) > 0)
        log_json(LOG_WARN, "reload: these settings changed and need a restart",
                 json_pack("{s:O}", "settings", restart));
    log_json(LOG_NOTICE, "reloaded",
             json_pack("{s:b, s:i, s:o}", "endpoints", keys_ok, "handlers",
                       (int)srv->cfg->nhandlers, "needs_restart", restart));
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
    console *cons = NULL;
    if (!http_start(srv, err, sizeof err)
        || !console_start(cfg, srv->store, &srv->metrics, dispatch, &cons, err, sizeof err)) {
        log_msg(LOG_ERROR, "cannot start", "%s", err);
        http_stop(srv);
        dispatch_stop(dispatch);
        store_close(srv->store);
        store_free(srv->store);
        goto out;
    }
    char retain[64] = "every event (no [store] retain)";
    if (cfg->store_retain_s > 0)
        snprintf(retain, sizeof retain, "%lld days %lld h", (long long)(cfg->store_retain_s / 86400),
                 (long long)(cfg->store_retain_s % 86400 / 3600));
    char shown[sizeof cfg->store_url];
    store_url_shown(cfg->store_url, shown, sizeof shown);
    log_json(LOG_NOTICE, "started",
             json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}", "version", hookd_version(), "store",
                       shown, "node", store_node(srv->store), "durability",
                       cfg->durability == DURABILITY_FULL ? "full" : "process", "endpoints",
                       (int)cfg->nendpoints, "handlers", (int)cfg->nhandlers, "keeps", retain));
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(srv, dispatch);
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
    console_stop(cons);                         /* pages and streams close; replay finished */
    wait_inflight(srv, SRV_SHUTDOWN_GRACE_MS);     /* in-flight requests commit and answer */
    dispatch_stop(dispatch);                    /* running attempts finish and are recorded */
    store_close(srv->store);                    /* anything still queued commits (or fails) */
    wait_inflight(srv, 1000);
    http_stop(srv);                             /* every connection closed, every thread gone */
    store_free(srv->store);
    log_json(LOG_NOTICE, "stopped", json_pack("{s:i}", "abandoned", (int)atomic_load(&srv->inflight)));
    rc = 0;
out:
    tls_free_all(); /* no listener runs any more */
    for (size_t i = 0; i < cfg->nendpoints; i++)
        hookd_verifier_free(srv->verifiers[i]);
    metrics_destroy(&srv->metrics);
    pthread_rwlock_destroy(&srv->keys_lock);
    free(srv);
    return rc;
}
