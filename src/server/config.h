/*
 * config.h - what `hookd serve` runs with: from an INI file (-c) or from the quick-path flags.
 *
 * Fail closed: an endpoint of scheme telnyx or standard without a key is a configuration error;
 * scheme = none is the only way to accept unsigned requests. Secrets may be written inline,
 * env:NAME or file:PATH. Every error names the file, the line and the key.
 */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "allow.h"
#include "hookd/hookd.h"
#include "limits.h"

typedef enum durability {
    DURABILITY_FULL,    /* fsync at every commit: survives power loss */
    DURABILITY_PROCESS, /* survives a crash of hookd, not of the machine */
} durability;

typedef struct cfg_endpoint {
    char name[64];
    char path[256];
    int line;                        /* of the [endpoint NAME] header */
    hookd_scheme scheme;
    bool scheme_set;
    char *keys[HOOKD_MAX_KEYS];      /* resolved text of public_key / secret values */
    int key_lines[HOOKD_MAX_KEYS];
    size_t nkeys;
    int64_t tolerance;
    char *bearer;                    /* resolved, or NULL */
    allow_list allow;
} cfg_endpoint;

typedef enum handler_action { ACTION_EXEC, ACTION_FORWARD } handler_action;

typedef struct cfg_handler {
    char name[64];
    int line;
    char *on[SRV_MAX_PATTERNS];      /* event types or fnmatch globs ("siprec.*", "*") */
    size_t non;
    char endpoint[64];               /* "" for every endpoint */
    bool action_set;
    handler_action action;
    char *argv[SRV_MAX_ARGS + 1];    /* exec: split like a shell, no expansion; NULL-terminated */
    char *url;                       /* forward */
    char *sign_secret, *sign_key;    /* forward: whsec_ (v1) and/or whsk_ (v1a) */
    unsigned timeout, concurrency, max_attempts, retry_base, retry_max;
    bool order_call;                 /* order = call */
    bool env_clear;                  /* exec: start from an empty environment ... */
    char *env_pass[SRV_MAX_ENV_PASS]; /* ... but for these variables (env_pass implies env_clear) */
    size_t nenv_pass;
} cfg_handler;

typedef struct config {
    char file[512];                  /* "" for the quick path */
    char listen[SRV_MAX_LISTEN][128];
    size_t nlisten;
    unsigned threads;
    unsigned max_connections;
    unsigned per_ip_connections;
    unsigned request_timeout;        /* seconds for a whole request, body included */
    unsigned header_timeout;         /* seconds until the headers are in (and keep-alive idle) */
    size_t max_body;
    size_t max_header;
    size_t max_buffered;             /* bytes of request bodies held across all connections */
    allow_list ops_allow;            /* who may read /metrics and /readyz */
    char tls_cert[512], tls_key[512]; /* for listen entries written tls:HOST:PORT ("" when none) */
    char store_url[512];
    durability durability;
    int64_t commit_wait_us;          /* [store] commit_wait: 0 never waits for company */
    int64_t store_max_size;          /* bytes, 0 for no cap */
    int64_t store_retain_s;          /* [store] retain: seconds, 0 keeps every event */
    unsigned lease_grace;            /* [store] lease_grace: seconds a claim outlives its handler's
                                      * timeout before another node may take it over */
    char node[128];                  /* [server] node: "" means host name and first listen port */
    char console_listen[128];        /* [console] listen: HOST:PORT or tls:HOST:PORT, "" off */
    char *console_token;             /* [console] token, resolved, or NULL (loopback only) */
    cfg_endpoint endpoints[SRV_MAX_ENDPOINTS];
    size_t nendpoints;
    cfg_handler handlers[SRV_MAX_HANDLERS];
    size_t nhandlers;
    /* What the file holds that works but deserves a word: printed by check-config, logged at
     * start ("FILE:LINE: ..."). */
    char warnings[SRV_MAX_WARNINGS][320];
    size_t nwarnings;
    char secret_env[SRV_MAX_WARNINGS][64]; /* variables named by env: secrets */
    size_t nsecret_env;
} config;

/* Split a command line like a shell does, without expanding anything: words separated by blanks,
 * '...' and "..." quote, backslash escapes the next character. At most max words. */
bool config_split_args(const char *text, char **argv, size_t max, size_t *argc);

/* Defaults everywhere, no endpoint. */
void config_defaults(config *c);

/* Read an INI file. On error returns false with "FILE:LINE: [section] key: what is wrong" in err. */
bool config_load(config *c, const char *path, char *err, size_t errlen);

/* The same from an open stream; name stands for the file in messages. */
bool config_load_stream(config *c, FILE *f, const char *name, char *err, size_t errlen);

/* Add the quick path's single Telnyx endpoint at /webhooks/telnyx, with one or more keys. */
bool config_add_telnyx_endpoint(config *c, const char *const *keys, size_t nkeys, char *err,
                                size_t errlen);

/* The checks that need the whole file: every endpoint has a scheme and (unless none) keys that
 * parse, paths are unique. Also run by config_load. */
bool config_validate(config *c, char *err, size_t errlen);

/* Build a verifier for an endpoint (keys, tolerance, bearer). */
hookd_err config_verifier(const cfg_endpoint *e, hookd_verifier **out);

void config_free(config *c);

/* Is the listen address HOST:PORT (or tls:HOST:PORT) a loopback one (127.0.0.0/8, [::1])? */
bool config_listen_loopback(const char *listen);

/* Parse a duration: "3600", "90s", "30m", "12h", "30d" (seconds). */
bool config_parse_duration(const char *s, int64_t *seconds);

/* A point in time: Unix seconds, an ISO 8601 date-time, or an age before now_s like "90s",
 * "30m", "2h", "7d". Microseconds. */
bool config_parse_time(const char *s, int64_t now_s, int64_t *us);

/* Parse a size: "1048576", "512k", "1M", "2G" (binary multiples). */
bool config_parse_size(const char *s, int64_t *out);

#endif
