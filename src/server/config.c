/*
 * config.c - hookd.conf: an INI file read with libinih.
 *
 * libinih (as Debian builds it) does not pass line numbers to the handler, so the file is fed
 * through a reader that counts lines and notes where each [section] starts; every error then names
 * FILE:LINE, the section and the key. Unknown sections and keys are errors: a typo in a security
 * setting must not be silently ignored.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include "tls.h"
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "store_backend.h"

typedef struct parse_ctx {
    config *c;
    FILE *f;
    int line;
    char section[128];
    cfg_endpoint *ep;      /* the endpoint being read, when in [endpoint NAME] */
    cfg_handler *hd;       /* the handler being read, when in [handler NAME] */
    char *err;
    size_t errlen;
    bool failed;
} parse_ctx;

/* Secrets are wiped before their memory is returned. */
static void secret_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

static bool failf(parse_ctx *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error, as "FILE:LINE: [section] key: message". */
static bool failf(parse_ctx *p, const char *key, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key != NULL)
        snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->c->file, p->line, p->section, key, msg);
    else
        snprintf(p->err, p->errlen, "%s:%d: %s", p->c->file, p->line, msg);
    return false;
}

static void warnf(parse_ctx *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keep a warning, as "FILE:LINE: [section] key: message". */
static void warnf(parse_ctx *p, const char *key, const char *fmt, ...)
{
    config *c = p->c;
    if (c->nwarnings >= SRV_MAX_WARNINGS)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[1024];
    if (snprintf(line, sizeof line, "%s:%d: [%s] %s: %s", c->file, p->line, p->section, key, msg) < 0)
        return;
    if (snprintf(c->warnings[c->nwarnings], sizeof c->warnings[0], "%s", line) >= 0)
        c->nwarnings++;
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    c->threads = SRV_DEFAULT_THREADS;
    c->max_connections = SRV_DEFAULT_MAX_CONNECTIONS;
    c->per_ip_connections = SRV_DEFAULT_PER_IP_CONNECTIONS;
    c->request_timeout = SRV_DEFAULT_REQUEST_TIMEOUT;
    c->header_timeout = SRV_DEFAULT_HEADER_TIMEOUT;
    c->max_body = SRV_DEFAULT_MAX_BODY;
    c->max_header = SRV_DEFAULT_MAX_HEADER;
    c->max_buffered = SRV_DEFAULT_MAX_BUFFERED;
    char bad[64];
    allow_parse(&c->ops_allow, SRV_DEFAULT_OPS_ALLOW, bad, sizeof bad);
    snprintf(c->store_url, sizeof c->store_url, "%s", STORE_DEFAULT_URL);
    c->durability = DURABILITY_FULL;
    c->lease_grace = STORE_LEASE_GRACE_S;
    c->commit_wait_us = STORE_COMMIT_WAIT_US;
}

void config_free(config *c)
{
    for (size_t i = 0; i < c->nendpoints; i++) {
        cfg_endpoint *e = &c->endpoints[i];
        for (size_t k = 0; k < e->nkeys; k++) {
            secret_free(e->keys[k]);
            e->keys[k] = NULL;
        }
        secret_free(e->bearer);
        e->bearer = NULL;
    }
    c->nendpoints = 0;
    for (size_t i = 0; i < c->nhandlers; i++) {
        cfg_handler *h = &c->handlers[i];
        for (size_t k = 0; k < h->non; k++)
            free(h->on[k]);
        for (size_t k = 0; h->argv[k] != NULL; k++)
            free(h->argv[k]);
        free(h->url);
        secret_free(h->sign_secret);
        secret_free(h->sign_key);
        for (size_t k = 0; k < h->nenv_pass; k++)
            free(h->env_pass[k]);
        memset(h, 0, sizeof *h);
    }
    c->nhandlers = 0;
    secret_free(c->console_token);
    c->console_token = NULL;
}

/* ---- values ---------------------------------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool config_parse_duration(const char *s, int64_t *seconds)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = *end == '\0' || strcmp(end, "s") == 0 ? 1
                              : strcmp(end, "m") == 0                ? 60
                              : strcmp(end, "h") == 0                ? 3600
                              : strcmp(end, "d") == 0                ? 86400
                                                                     : 0;
    if (errno != 0 || unit == 0 || v > (unsigned long long)INT64_MAX / unit)
        return false;
    *seconds = (int64_t)(v * unit);
    return true;
}

/* "0", "500us", "2ms": a short wait, in microseconds. */
static bool parse_micros(const char *s, int64_t *us)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = strcmp(end, "us") == 0                      ? 1
                              : strcmp(end, "ms") == 0                    ? 1000
                              : *end == '\0' && v == 0 ? 1
                                                                          : 0;
    if (errno != 0 || unit == 0 || v > (unsigned long long)STORE_COMMIT_WAIT_MAX_US / unit)
        return false;
    *us = (int64_t)(v * unit);
    return true;
}

bool config_parse_size(const char *s, int64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1024ULL;
    else if (*end == 'm' || *end == 'M')
        mult = 1024ULL * 1024;
    else if (*end == 'g' || *end == 'G')
        mult = 1024ULL * 1024 * 1024;
    else if (*end != '\0')
        return false;
    if (mult != 1 && end[1] != '\0')
        return false;
    if (errno != 0 || v > (unsigned long long)INT64_MAX / mult)
        return false;
    *out = (int64_t)(v * mult);
    return true;
}

/* The contents of a file: secret. A FIFO or a device would block (SIGHUP, then SIGTERM, waited
 * on it) or never end: only a regular file is read, opened without blocking. A NUL byte would cut
 * the secret short: refused. A file others can read works, with a warning. */
static char *read_secret_file(parse_ctx *p, const char *key, const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        failf(p, key, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        failf(p, key, "%s is not a regular file (a FIFO, device or directory cannot hold a secret)",
              path);
        return NULL;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        warnf(p, key, "%s can be read by its group or others (mode %03o): chmod 600 it", path,
              (unsigned)(st.st_mode & 0777));
    /* Room for one byte over the limit (to see it) and a NUL that is never overwritten. */
    char *buf = calloc(1, SRV_MAX_SECRET_FILE + 2);
    size_t n = 0;
    ssize_t got = 0;
    while (buf != NULL && n < SRV_MAX_SECRET_FILE + 1
           && (got = read(fd, buf + n, SRV_MAX_SECRET_FILE + 1 - n)) > 0)
        n += (size_t)got;
    close(fd);
    if (buf == NULL || got < 0 || n > SRV_MAX_SECRET_FILE) {
        secret_free(buf);
        failf(p, key, "%s is larger than %d bytes, or could not be read", path, SRV_MAX_SECRET_FILE);
        return NULL;
    }
    if (memchr(buf, '\0', n) != NULL) {
        sodium_memzero(buf, n);
        free(buf);
        failf(p, key, "%s holds a NUL byte (a secret is text)", path);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/* A secret as written: inline, env:NAME or file:PATH (trailing newlines dropped). */
static char *resolve_secret(parse_ctx *p, const char *key, const char *value)
{
    if (strncmp(value, "env:", 4) == 0) {
        const char *v = getenv(value + 4);
        if (v == NULL || *v == '\0') {
            failf(p, key, "environment variable %s is not set", value + 4);
            return NULL;
        }
        config *c = p->c;
        if (c->nsecret_env < SRV_MAX_WARNINGS && strlen(value + 4) < sizeof c->secret_env[0])
            snprintf(c->secret_env[c->nsecret_env++], sizeof c->secret_env[0], "%s", value + 4);
        return strdup(v);
    }
    if (strncmp(value, "file:", 5) == 0)
        return read_secret_file(p, key, value + 5);
    return strdup(value);
}

/* ---- sections -------------------------------------------------------------------------------- */

static bool server_key(parse_ctx *p, const char *name, const char *value)
{
    config *c = p->c;
    unsigned long v;
    int64_t size;
    if (strcmp(name, "listen") == 0) {
        char *copy = strdup(value), *save = NULL;
        c->nlisten = 0;
        for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
            if (c->nlisten >= SRV_MAX_LISTEN || strlen(tok) >= sizeof c->listen[0]) {
                free(copy);
                return failf(p, name, "at most %d addresses of the form HOST:PORT", SRV_MAX_LISTEN);
            }
            snprintf(c->listen[c->nlisten++], sizeof c->listen[0], "%s", tok);
        }
        free(copy);
        return c->nlisten > 0 ? true : failf(p, name, "expected HOST:PORT");
    }
    if (strcmp(name, "threads") == 0) {
        if (!parse_uint(value, 1, 64, &v))
            return failf(p, name, "expected a number from 1 to 64");
        c->threads = (unsigned)v;
    } else if (strcmp(name, "max_connections") == 0) {
        if (!parse_uint(value, 1, 100000, &v))
            return failf(p, name, "expected a number from 1 to 100000");
        c->max_connections = (unsigned)v;
    } else if (strcmp(name, "per_ip_connections") == 0) {
        if (!parse_uint(value, 1, 100000, &v))
            return failf(p, name, "expected a number from 1 to 100000");
        c->per_ip_connections = (unsigned)v;
    } else if (strcmp(name, "request_timeout") == 0) {
        if (!parse_uint(value, 1, 3600, &v))
            return failf(p, name, "expected seconds from 1 to 3600");
        c->request_timeout = (unsigned)v;
    } else if (strcmp(name, "header_timeout") == 0) {
        if (!parse_uint(value, 1, 3600, &v))
            return failf(p, name, "expected seconds from 1 to 3600");
        c->header_timeout = (unsigned)v;
    } else if (strcmp(name, "max_buffered") == 0) {
        if (!config_parse_size(value, &size) || size < 65536 || size > ((int64_t)1 << 40))
            return failf(p, name, "expected a size of at least 64k (e.g. 64M)");
        c->max_buffered = (size_t)size;
    } else if (strcmp(name, "ops_allow") == 0) {
        char bad[64] = "";
        c->ops_allow.count = 0;
        if (!allow_parse(&c->ops_allow, value, bad, sizeof bad))
            return failf(p, name, "'%s' is not a CIDR (like 10.0.0.0/8 or ::1), or the list has more "
                                  "than %d ranges", bad, SRV_MAX_ALLOW);
    } else if (strcmp(name, "max_body") == 0) {
        if (!config_parse_size(value, &size) || size < 1 || size > SRV_MAX_BODY_LIMIT)
            return failf(p, name, "expected a size from 1 to 64M (e.g. 1048576, 512k, 1M)");
        c->max_body = (size_t)size;
    } else if (strcmp(name, "max_header") == 0) {
        if (!config_parse_size(value, &size) || size < 1024 || size > SRV_MAX_HEADER_LIMIT)
            return failf(p, name, "expected a size from 1k to 1M");
        c->max_header = (size_t)size;
    } else if (strcmp(name, "tls_cert") == 0 || strcmp(name, "tls_key") == 0) {
        char *slot = name[4] == 'c' ? c->tls_cert : c->tls_key;
        if (value[0] != '/' || strlen(value) >= sizeof c->tls_cert)
            return failf(p, name, "expected an absolute path to a PEM file");
        snprintf(slot, sizeof c->tls_cert, "%s", value);
    } else if (strcmp(name, "node") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof c->node || strpbrk(value, " \t\"'\\") != NULL)
            return failf(p, name, "expected a name of at most %zu characters without blanks or quotes",
                         sizeof c->node - 1);
        snprintf(c->node, sizeof c->node, "%s", value);
    } else {
        return failf(p, name, "unknown key (listen, threads, max_connections, per_ip_connections, "
                              "request_timeout, header_timeout, max_body, max_header, "
                              "max_buffered, ops_allow, node, tls_cert, tls_key)");
    }
    return true;
}

static bool store_key(parse_ctx *p, const char *name, const char *value)
{
    config *c = p->c;
    if (strcmp(name, "url") == 0) {
        /* A PostgreSQL URL may hold a password: env:NAME and file:PATH work as for secrets. */
        char *url = strncmp(value, "env:", 4) == 0 || strncmp(value, "file:", 5) == 0
                        ? resolve_secret(p, name, value)
                        : strdup(value);
        if (url == NULL)
            return false;
        const char *colon = strchr(url, ':');
        bool ok = store_backend_for_url(url) != NULL && colon != NULL && colon[1] != '\0'
                  && strlen(url) < sizeof c->store_url;
        if (ok)
            snprintf(c->store_url, sizeof c->store_url, "%s", url);
        sodium_memzero(url, strlen(url));
        free(url);
        if (!ok)
            return failf(p, name, "expected sqlite:PATH or postgresql://... (at most %zu bytes)",
                         sizeof c->store_url - 1);
    } else if (strcmp(name, "lease_grace") == 0) {
        unsigned long v;
        if (!parse_uint(value, 1, STORE_LEASE_GRACE_MAX_S, &v))
            return failf(p, name, "expected seconds from 1 to %d", STORE_LEASE_GRACE_MAX_S);
        c->lease_grace = (unsigned)v;
    } else if (strcmp(name, "durability") == 0) {
        if (strcmp(value, "full") == 0)
            c->durability = DURABILITY_FULL;
        else if (strcmp(value, "process") == 0)
            c->durability = DURABILITY_PROCESS;
        else
            return failf(p, name, "expected full or process");
    } else if (strcmp(name, "commit_wait") == 0) {
        if (!parse_micros(value, &c->commit_wait_us))
            return failf(p, name, "expected 0 or a wait up to %dms in us or ms (e.g. 500us, 1ms)",
                         STORE_COMMIT_WAIT_MAX_US / 1000);
    } else if (strcmp(name, "retain") == 0) {
        if (!config_parse_duration(value, &c->store_retain_s) || c->store_retain_s < 3600
            || c->store_retain_s > 100LL * 365 * 86400)
            return failf(p, name, "expected a duration of at least 1h (e.g. 30d, 12h)");
    } else if (strcmp(name, "max_size") == 0) {
        if (!config_parse_size(value, &c->store_max_size) || c->store_max_size < 65536)
            return failf(p, name, "expected a size of at least 64k (e.g. 10G)");
    } else {
        return failf(p, name, "unknown key (url, durability, commit_wait, max_size, retain, "
                                 "lease_grace)");
    }
    return true;
}

static bool console_key(parse_ctx *p, const char *name, const char *value)
{
    config *c = p->c;
    if (strcmp(name, "listen") == 0) {
        const char *addr = strncmp(value, "tls:", 4) == 0 ? value + 4 : value;
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || colon == addr || colon[1] == '\0' || strlen(value) >= sizeof c->console_listen)
            return failf(p, name, "expected HOST:PORT or tls:HOST:PORT (one address)");
        snprintf(c->console_listen, sizeof c->console_listen, "%s", value);
    } else if (strcmp(name, "token") == 0) {
        secret_free(c->console_token);
        c->console_token = resolve_secret(p, name, value);
        if (c->console_token == NULL)
            return false;
        size_t n = strlen(c->console_token);
        if (n < SRV_CONSOLE_TOKEN_MIN || n > HOOKD_MAX_BEARER_LEN)
            return failf(p, name, "expected %d to %d bytes (hookd keygen --scheme standard makes a "
                                  "good one)", SRV_CONSOLE_TOKEN_MIN, HOOKD_MAX_BEARER_LEN);
    } else {
        return failf(p, name, "unknown key (listen, token)");
    }
    return true;
}

static bool endpoint_key(parse_ctx *p, const char *name, const char *value)
{
    cfg_endpoint *e = p->ep;
    unsigned long v;
    if (strcmp(name, "path") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof e->path || strpbrk(value, " ?#") != NULL)
            return failf(p, name, "expected an absolute URL path without query, like /webhooks/telnyx");
        snprintf(e->path, sizeof e->path, "%s", value);
    } else if (strcmp(name, "scheme") == 0) {
        if (hookd_scheme_parse(value, &e->scheme) != HOOKD_OK)
            return failf(p, name, "expected telnyx, standard or none");
        e->scheme_set = true;
    } else if (strcmp(name, "public_key") == 0 || strcmp(name, "secret") == 0) {
        if (e->nkeys >= HOOKD_MAX_KEYS)
            return failf(p, name, "at most %d keys per endpoint", HOOKD_MAX_KEYS);
        char *k = resolve_secret(p, name, value);
        if (k == NULL)
            return p->failed ? false : failf(p, name, "out of memory");
        e->key_lines[e->nkeys] = p->line;
        e->keys[e->nkeys++] = k;
    } else if (strcmp(name, "tolerance") == 0) {
        if (!parse_uint(value, 0, 86400, &v))
            return failf(p, name, "expected seconds from 0 to 86400");
        e->tolerance = (int64_t)v;
    } else if (strcmp(name, "bearer_token") == 0) {
        secret_free(e->bearer);
        e->bearer = resolve_secret(p, name, value);
        if (e->bearer == NULL)
            return false;
        if (e->bearer[0] == '\0' || strlen(e->bearer) > HOOKD_MAX_BEARER_LEN)
            return failf(p, name, "expected 1 to %d bytes", HOOKD_MAX_BEARER_LEN);
    } else if (strcmp(name, "allow") == 0) {
        char bad[64] = "";
        if (!allow_parse(&e->allow, value, bad, sizeof bad))
            return failf(p, name, "'%s' is not a CIDR (like 10.0.0.0/8 or ::1) or 'telnyx', or the "
                                  "list has more than %d ranges", bad, SRV_MAX_ALLOW);
    } else {
        return failf(p, name, "unknown key (path, scheme, public_key, secret, tolerance, "
                              "bearer_token, allow)");
    }
    return true;
}

bool config_split_args(const char *text, char **argv, size_t max, size_t *argc)
{
    size_t n = 0, len = strlen(text);
    char *word = malloc(len + 1);
    if (word == NULL)
        return false;
    const char *s = text;
    bool ok = true;
    while (ok) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            break;
        size_t w = 0;
        char quote = 0;
        for (; *s != '\0' && (quote || (*s != ' ' && *s != '\t')); s++) {
            if (quote == 0 && (*s == '\'' || *s == '"')) {
                quote = *s;
            } else if (quote != 0 && *s == quote) {
                quote = 0;
            } else if (*s == '\\' && quote != '\'' && s[1] != '\0') {
                word[w++] = *++s;
            } else {
                word[w++] = *s;
            }
        }
        word[w] = '\0';
        if (quote != 0 || n >= max) {
            ok = false;
        } else {
            argv[n] = strdup(word);
            ok = argv[n++] != NULL;
        }
    }
    free(word);
    argv[n] = NULL;
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            free(argv[i]);
            argv[i] = NULL;
        }
        return false;
    }
    *argc = n;
    return true;
}

static bool handler_uint(parse_ctx *p, const char *name, const char *value, unsigned long min,
                         unsigned long max, unsigned *out)
{
    unsigned long v;
    if (!parse_uint(value, min, max, &v))
        return failf(p, name, "expected a number from %lu to %lu", min, max);
    *out = (unsigned)v;
    return true;
}

static bool set_action(parse_ctx *p, const char *name, handler_action a)
{
    if (p->hd->action_set)
        return failf(p, name, "a handler has exactly one action (exec or forward)");
    p->hd->action_set = true;
    p->hd->action = a;
    return true;
}

static bool handler_key(parse_ctx *p, const char *name, const char *value)
{
    cfg_handler *h = p->hd;
    if (strcmp(name, "on") == 0) {
        char *copy = strdup(value), *save = NULL;
        for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
            if (h->non >= SRV_MAX_PATTERNS || strlen(t) > HOOKD_MAX_FIELD_LEN) {
                free(copy);
                return failf(p, name, "at most %d event types or patterns", SRV_MAX_PATTERNS);
            }
            h->on[h->non++] = strdup(t);
        }
        free(copy);
        return h->non > 0 ? true : failf(p, name, "expected event types or patterns (siprec.*, *)");
    }
    if (strcmp(name, "endpoint") == 0) {
        if (strlen(value) >= sizeof h->endpoint)
            return failf(p, name, "too long");
        snprintf(h->endpoint, sizeof h->endpoint, "%s", value);
        return true;
    }
    if (strcmp(name, "exec") == 0) {
        size_t argc = 0;
        if (!set_action(p, name, ACTION_EXEC))
            return false;
        if (!config_split_args(value, h->argv, SRV_MAX_ARGS, &argc) || argc == 0)
            return failf(p, name, "expected a program and its arguments (quotes must close; at "
                                  "most %d words)", SRV_MAX_ARGS);
        if (h->argv[0][0] != '/')
            return failf(p, name, "the program must be an absolute path (no shell, no PATH search)");
        return true;
    }
    if (strcmp(name, "forward") == 0) {
        if (!set_action(p, name, ACTION_FORWARD))
            return false;
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return failf(p, name, "expected an http:// or https:// URL");
        h->url = strdup(value);
        return true;
    }
    if (strcmp(name, "sign_secret") == 0 || strcmp(name, "sign_key") == 0) {
        bool is_secret = strcmp(name, "sign_secret") == 0;
        char **slot = is_secret ? &h->sign_secret : &h->sign_key;
        secret_free(*slot);
        *slot = resolve_secret(p, name, value);
        if (*slot == NULL)
            return false;
        hookd_signer *s = NULL;
        hookd_err e = hookd_signer_new(HOOKD_SCHEME_STANDARD, *slot, &s);
        hookd_signer_free(s);
        if (e != HOOKD_OK || strncmp(*slot, is_secret ? "whsec_" : "whsk_", 5) != 0)
            return failf(p, name, "expected %s", is_secret ? "whsec_ + base64 (24 to 64 bytes)"
                                                           : "whsk_ + base64 of a 32-byte seed");
        return true;
    }
    if (strcmp(name, "timeout") == 0)
        return handler_uint(p, name, value, 1, 3600, &h->timeout);
    if (strcmp(name, "concurrency") == 0)
        return handler_uint(p, name, value, 1, 256, &h->concurrency);
    if (strcmp(name, "max_attempts") == 0)
        return handler_uint(p, name, value, 1, 100, &h->max_attempts);
    if (strcmp(name, "retry_base") == 0)
        return handler_uint(p, name, value, 1, 86400, &h->retry_base);
    if (strcmp(name, "retry_max") == 0)
        return handler_uint(p, name, value, 1, 7UL * 86400, &h->retry_max);
    if (strcmp(name, "order") == 0) {
        if (strcmp(value, "call") != 0 && strcmp(value, "none") != 0)
            return failf(p, name, "expected call or none");
        h->order_call = strcmp(value, "call") == 0;
        return true;
    }
    if (strcmp(name, "env_clear") == 0) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            return failf(p, name, "expected yes or no");
        h->env_clear = strcmp(value, "yes") == 0;
        return true;
    }
    if (strcmp(name, "env_pass") == 0) {
        char *copy = strdup(value), *save = NULL;
        for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
            bool ok = h->nenv_pass < SRV_MAX_ENV_PASS && (isalpha((unsigned char)*t) || *t == '_');
            for (const char *q = t; ok && *q; q++)
                ok = isalnum((unsigned char)*q) || *q == '_';
            if (!ok) {
                free(copy);
                return failf(p, name, "expected up to %d variable names (letters, digits, _)",
                             SRV_MAX_ENV_PASS);
            }
            h->env_pass[h->nenv_pass++] = strdup(t);
        }
        free(copy);
        h->env_clear = true;
        return true;
    }
    return failf(p, name, "unknown key (on, endpoint, exec, forward, sign_secret, sign_key, timeout, "
                          "concurrency, max_attempts, retry_base, retry_max, order, env_clear, "
                          "env_pass)");
}

static cfg_handler *new_handler(parse_ctx *p, const char *name)
{
    config *c = p->c;
    if (c->nhandlers >= SRV_MAX_HANDLERS) {
        failf(p, NULL, "at most %d handlers", SRV_MAX_HANDLERS);
        return NULL;
    }
    for (size_t i = 0; i < c->nhandlers; i++) {
        if (strcmp(c->handlers[i].name, name) == 0) {
            failf(p, NULL, "[handler %s] appears twice (first at line %d)", name, c->handlers[i].line);
            return NULL;
        }
    }
    for (const char *s = name; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') {
            failf(p, NULL, "[handler %s]: names are letters, digits, '-' and '_'", name);
            return NULL;
        }
    }
    cfg_handler *h = &c->handlers[c->nhandlers++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->line = p->line;
    h->timeout = HANDLER_DEFAULT_TIMEOUT;
    h->concurrency = HANDLER_DEFAULT_CONCURRENCY;
    h->max_attempts = HANDLER_DEFAULT_MAX_ATTEMPTS;
    h->retry_base = HANDLER_DEFAULT_RETRY_BASE;
    h->retry_max = HANDLER_DEFAULT_RETRY_MAX;
    return h;
}

static cfg_endpoint *new_endpoint(parse_ctx *p, const char *name)
{
    config *c = p->c;
    if (c->nendpoints >= SRV_MAX_ENDPOINTS) {
        failf(p, NULL, "at most %d endpoints", SRV_MAX_ENDPOINTS);
        return NULL;
    }
    for (const char *s = name; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') {
            failf(p, NULL, "[endpoint %s]: names are letters, digits, '-' and '_'", name);
            return NULL;
        }
    }
    for (size_t i = 0; i < c->nendpoints; i++) {
        if (strcmp(c->endpoints[i].name, name) == 0) {
            failf(p, NULL, "[endpoint %s] appears twice (first at line %d)", name,
                  c->endpoints[i].line);
            return NULL;
        }
    }
    cfg_endpoint *e = &c->endpoints[c->nendpoints++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "/webhooks/%s", name);
    e->line = p->line;
    e->tolerance = HOOKD_DEFAULT_TOLERANCE;
    return e;
}

/* A "[...]" line, seen by the reader before libinih: check the section and open it. */
static void section_line(parse_ctx *p, const char *line)
{
    const char *close = strchr(line, ']');
    if (close == NULL)
        return; /* libinih reports the syntax error */
    size_t n = (size_t)(close - line - 1);
    if (n >= sizeof p->section)
        n = sizeof p->section - 1;
    memcpy(p->section, line + 1, n);
    p->section[n] = '\0';
    p->ep = NULL;
    p->hd = NULL;
    if (strcmp(p->section, "server") == 0 || strcmp(p->section, "store") == 0
        || strcmp(p->section, "console") == 0)
        return;
    if (strncmp(p->section, "endpoint ", 9) == 0 && p->section[9] != '\0') {
        p->ep = new_endpoint(p, p->section + 9);
        return;
    }
    if (strncmp(p->section, "handler ", 8) == 0 && p->section[8] != '\0') {
        p->hd = new_handler(p, p->section + 8);
        return;
    }
    failf(p, NULL, "unknown section [%s] (server, store, console, endpoint NAME, handler NAME)", p->section);
}

static int dispatch_key(parse_ctx *p, const char *name, const char *value);

/* hookd.conf has no inline comments: ';' or '#' starts a comment only at the start of a line.
 * libinih, as Debian builds it, would cut "a ; b" to "a" without a word, shortening an exec line
 * or a bearer token silently. So the blank before each ';' is handed to libinih as a marker byte
 * it does not take for a blank, and handler() refuses a value with "<blank>;" in it (a comment
 * that used to be cut off, or a secret that cannot be written inline), except inside quotes in
 * exec, where it is an argument. Nothing is cut, and nothing that was a comment becomes a value. */
#define MARK_SPACE '\x1f'
#define MARK_TAB '\x1e'

static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *p = stream;
    if (p->failed)
        return NULL;
    char *s = fgets(str, num, p->f);
    if (s == NULL)
        return NULL;
    p->line++;
    if (strchr(s, '\n') == NULL && !feof(p->f)) {
        failf(p, NULL, "line longer than %d bytes", num - 2);
        return NULL;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r' && *c != '\n') {
            failf(p, NULL, "a control character (byte 0x%02x)", (unsigned)(unsigned char)*c);
            return NULL;
        }
    }
    char *t = s;
    while (*t == ' ' || *t == '\t')
        t++;
    if (*t == '[')
        section_line(p, t);
    else if (*t != ';' && *t != '#')
        for (char *c = t + 1; *c; c++) {
            if (*c == ';' && (c[-1] == ' ' || c[-1] == '\t'))
                c[-1] = c[-1] == ' ' ? MARK_SPACE : MARK_TAB;
        }
    return p->failed ? NULL : s;
}

static int handler(void *user, const char *section, const char *raw_name, const char *raw_value)
{
    parse_ctx *p = user;
    (void)section;
    if (p->failed)
        return 0;
    char name[256], value[1024];
    snprintf(name, sizeof name, "%s", raw_name);
    snprintf(value, sizeof value, "%s", raw_value);
    bool exec = strcmp(name, "exec") == 0;
    char quote = 0;
    for (char *c = value; *c; c++) {
        if (exec && quote == 0 && (*c == '"' || *c == '\''))
            quote = *c;
        else if (quote != 0 && *c == quote)
            quote = 0;
        if (*c != MARK_SPACE && *c != MARK_TAB)
            continue;
        if (quote == 0) {
            sodium_memzero(value, sizeof value);
            return failf(p, name, "a ';' after a blank: hookd.conf has no inline comments (put the "
                                  "comment on a line of its own; in exec, quote the argument; a "
                                  "secret holding \" ;\" goes in env: or file:)");
        }
        *c = *c == MARK_SPACE ? ' ' : '\t';
    }
    int rc = dispatch_key(p, name, value);
    sodium_memzero(value, sizeof value);
    return rc;
}

static int dispatch_key(parse_ctx *p, const char *name, const char *value)
{
    if (strcmp(p->section, "server") == 0)
        return server_key(p, name, value);
    if (strcmp(p->section, "store") == 0)
        return store_key(p, name, value);
    if (strcmp(p->section, "console") == 0)
        return console_key(p, name, value);
    if (p->ep != NULL)
        return endpoint_key(p, name, value);
    if (p->hd != NULL)
        return handler_key(p, name, value);
    return failf(p, name, "outside any section");
}

bool config_load(config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    bool ok = config_load_stream(c, f, path, err, errlen);
    fclose(f);
    return ok;
}

bool config_load_stream(config *c, FILE *f, const char *name, char *err, size_t errlen)
{
    snprintf(c->file, sizeof c->file, "%s", name);
    parse_ctx p = {.c = c, .f = f, .err = err, .errlen = errlen};
    int rc = ini_parse_stream(read_line, &p, handler, &p);
    if (p.failed)
        return false;
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: not an INI line (expected [section], key = value or a comment)",
                 name, rc);
        return false;
    }
    if (c->nlisten == 0) {
        snprintf(c->listen[0], sizeof c->listen[0], "%s", SRV_DEFAULT_LISTEN);
        c->nlisten = 1;
    }
    return config_validate(c, err, errlen);
}

bool config_add_telnyx_endpoint(config *c, const char *const *keys, size_t nkeys, char *err,
                                size_t errlen)
{
    parse_ctx p = {.c = c, .err = err, .errlen = errlen};
    snprintf(p.section, sizeof p.section, "endpoint telnyx");
    cfg_endpoint *e = new_endpoint(&p, "telnyx");
    if (e == NULL)
        return false;
    e->scheme = HOOKD_SCHEME_TELNYX;
    e->scheme_set = true;
    p.ep = e;
    for (size_t i = 0; i < nkeys; i++) {
        if (!endpoint_key(&p, "public_key", keys[i]))
            return false;
    }
    return true;
}

hookd_err config_verifier(const cfg_endpoint *e, hookd_verifier **out)
{
    hookd_verifier *v = NULL;
    hookd_err err = hookd_verifier_new(e->scheme, &v);
    for (size_t k = 0; err == HOOKD_OK && k < e->nkeys; k++)
        err = hookd_verifier_add_key(v, e->keys[k]);
    if (err == HOOKD_OK)
        err = hookd_verifier_set_tolerance(v, e->tolerance);
    if (err == HOOKD_OK && e->bearer != NULL)
        err = hookd_verifier_set_bearer(v, e->bearer);
    if (err != HOOKD_OK) {
        hookd_verifier_free(v);
        return err;
    }
    *out = v;
    return HOOKD_OK;
}

/* An endpoint is complete: a scheme; keys that parse for it, unless it is none; a unique path. */
static bool validate_endpoint(config *c, size_t i, char *err, size_t errlen)
{
    cfg_endpoint *e = &c->endpoints[i];
    const char *where = c->file[0] ? c->file : "command line";
    if (!e->scheme_set) {
        snprintf(err, errlen, "%s:%d: [endpoint %s] scheme: missing (telnyx, standard or none)",
                 where, e->line, e->name);
        return false;
    }
    if (e->scheme != HOOKD_SCHEME_NONE && e->nkeys == 0) {
        snprintf(err, errlen, "%s:%d: [endpoint %s] public_key: scheme %s needs at least one key "
                              "(fail closed: use scheme = none to accept unsigned requests)",
                 where, e->line, e->name, hookd_scheme_name(e->scheme));
        return false;
    }
    if (e->scheme == HOOKD_SCHEME_NONE && e->nkeys > 0) {
        snprintf(err, errlen, "%s:%d: [endpoint %s] public_key: scheme none takes no keys", where,
                 e->key_lines[0], e->name);
        return false;
    }
    for (size_t k = 0; k < e->nkeys; k++) {
        hookd_verifier *v = NULL;
        hookd_err r = hookd_verifier_new(e->scheme, &v);
        if (r == HOOKD_OK)
            r = hookd_verifier_add_key(v, e->keys[k]);
        hookd_verifier_free(v);
        if (r != HOOKD_OK) {
            snprintf(err, errlen, "%s:%d: [endpoint %s] key %zu: not a valid %s key (%s)", where,
                     e->key_lines[k], e->name, k + 1, hookd_scheme_name(e->scheme), hookd_errname(r));
            return false;
        }
    }
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->endpoints[j].path, e->path) == 0) {
            snprintf(err, errlen, "%s:%d: [endpoint %s] path: %s is already [endpoint %s]", where,
                     e->line, e->name, e->path, c->endpoints[j].name);
            return false;
        }
    }
    return true;
}

static bool validate_handler(const config *c, const cfg_handler *h, char *err, size_t errlen)
{
    const char *where = c->file[0] ? c->file : "command line";
    const char *what = NULL;
    if (h->non == 0)
        what = "on: missing (event types or patterns, e.g. siprec.failed or siprec.*)";
    else if (!h->action_set)
        what = "exec or forward: missing (a handler has exactly one action)";
    else if (h->action == ACTION_FORWARD && h->sign_secret == NULL && h->sign_key == NULL)
        what = "sign_secret or sign_key: missing (forwarded events are always signed)";
    else if (h->action == ACTION_EXEC && (h->sign_secret != NULL || h->sign_key != NULL))
        what = "sign_secret / sign_key: only for forward";
    else if (h->retry_max < h->retry_base)
        what = "retry_max: smaller than retry_base";
    if (what == NULL && h->endpoint[0] != '\0') {
        bool found = false;
        for (size_t i = 0; i < c->nendpoints; i++)
            found = found || strcmp(c->endpoints[i].name, h->endpoint) == 0;
        if (!found)
            what = "endpoint: no [endpoint] of that name";
    }
    if (what == NULL)
        return true;
    snprintf(err, errlen, "%s:%d: [handler %s] %s", where, h->line, h->name, what);
    return false;
}

/* What the store's backend cannot honour is refused, not ignored. */
static bool validate_store(const config *c, char *err, size_t errlen)
{
    const store_backend *be = store_backend_for_url(c->store_url);
    const char *where = c->file[0] ? c->file : "command line";
    if (be == NULL) {
        snprintf(err, errlen, "%s: [store] url: expected sqlite:PATH or postgresql://...", where);
        return false;
    }
    if (c->store_max_size > 0 && !(be->caps & STORE_CAP_MAX_SIZE)) {
        snprintf(err, errlen, "%s: [store] max_size works with sqlite: stores only; a %s database's "
                              "size is the server's to manage", where, be->scheme);
        return false;
    }
    if (c->durability == DURABILITY_PROCESS && !(be->caps & STORE_CAP_PROCESS_DURABILITY)) {
        snprintf(err, errlen, "%s: [store] durability = process works with sqlite: stores only; on %s "
                              "every acknowledgement follows a synchronous commit", where, be->scheme);
        return false;
    }
    return true;
}

/* TLS: a tls:HOST:PORT listener needs both files, a private key file; files without one such
 * listener are a mistake worth saying (a certificate nobody serves). */
static bool validate_tls(const config *c, char *err, size_t errlen)
{
    const char *where = c->file[0] ? c->file : "command line";
    size_t tls = strncmp(c->console_listen, "tls:", 4) == 0;
    for (size_t i = 0; i < c->nlisten; i++)
        tls += strncmp(c->listen[i], "tls:", 4) == 0;
    if (tls > 0 && (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')) {
        snprintf(err, errlen, "%s: [server] listen: a tls: address needs tls_cert and tls_key", where);
        return false;
    }
    if (tls == 0 && (c->tls_cert[0] != '\0' || c->tls_key[0] != '\0')) {
        snprintf(err, errlen, "%s: [server] tls_cert/tls_key: no listen address is tls:HOST:PORT", where);
        return false;
    }
    char why[600];
    if (tls > 0 && !tls_key_private(c->tls_key, why, sizeof why)) {
        snprintf(err, errlen, "%s: [server] %s", where, why);
        return false;
    }
    return true;
}

bool config_parse_time(const char *s, int64_t now_s, int64_t *us)
{
    size_t n = strlen(s);
    int64_t v;
    if (hookd_timestamp_parse(s, n, &v) == HOOKD_OK && v < INT64_MAX / 1000000) {
        *us = v * 1000000;
        return true;
    }
    if (hookd_iso8601_parse(s, n, us) == HOOKD_OK)
        return true;
    if (n >= 2 && hookd_timestamp_parse(s, n - 1, &v) == HOOKD_OK && v < 100000000) {
        int64_t unit = s[n - 1] == 's' ? 1 : s[n - 1] == 'm' ? 60 : s[n - 1] == 'h' ? 3600
                                             : s[n - 1] == 'd' ? 86400 : 0;
        if (unit == 0)
            return false;
        *us = (now_s - v * unit) * 1000000;
        return true;
    }
    return false;
}

bool config_listen_loopback(const char *listen)
{
    const char *addr = strncmp(listen, "tls:", 4) == 0 ? listen + 4 : listen;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return false;
    char host[64];
    if (colon - addr >= (long)sizeof host)
        return false;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct in_addr a4;
    struct in6_addr a6;
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* The console shows every stored event and can queue deliveries: without a token it may only
 * listen where nobody but this machine reaches it (fail closed). */
static bool validate_console(const config *c, char *err, size_t errlen)
{
    const char *where = c->file[0] ? c->file : "command line";
    if (c->console_listen[0] == '\0') {
        if (c->console_token != NULL) {
            snprintf(err, errlen, "%s: [console] token: the console has no listen address", where);
            return false;
        }
        return true;
    }
    if (c->console_token == NULL && !config_listen_loopback(c->console_listen)) {
        snprintf(err, errlen, "%s: [console] listen: %s is not a loopback address, and without a "
                              "token anyone who reaches it could read every event: set [console] "
                              "token (or HOOKD_CONSOLE_TOKEN), or listen on 127.0.0.1",
                 where, c->console_listen);
        return false;
    }
    for (size_t i = 0; i < c->nlisten; i++) {
        const char *a = strncmp(c->listen[i], "tls:", 4) == 0 ? c->listen[i] + 4 : c->listen[i];
        const char *b = strncmp(c->console_listen, "tls:", 4) == 0 ? c->console_listen + 4
                                                                   : c->console_listen;
        const char *pa = strrchr(a, ':'), *pb = strrchr(b, ':');
        if (pa != NULL && pb != NULL && strcmp(pa, pb) == 0 && strcmp(pa, ":0") != 0) {
            snprintf(err, errlen, "%s: [console] listen: port %s is [server] listen's too", where, pb + 1);
            return false;
        }
    }
    return true;
}

bool config_validate(config *c, char *err, size_t errlen)
{
    if (!validate_store(c, err, errlen) || !validate_tls(c, err, errlen)
        || !validate_console(c, err, errlen))
        return false;
    for (size_t i = 0; i < c->nhandlers; i++) {
        if (!validate_handler(c, &c->handlers[i], err, errlen))
            return false;
    }
    if (c->nendpoints == 0) {
        snprintf(err, errlen, "%s: no [endpoint NAME] section", c->file[0] ? c->file : "command line");
        return false;
    }
    for (size_t i = 0; i < c->nendpoints; i++) {
        if (!validate_endpoint(c, i, err, errlen))
            return false;
    }
    return true;
}
