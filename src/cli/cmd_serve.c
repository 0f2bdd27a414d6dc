/*
 * cmd_serve.c - hookd serve and hookd check-config: turn flags and a config file into a config.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../server/config.h"
#include "../server/log.h"
#include "../server/server.h"
#include "cli.h"
#include "store_backend.h"

static const char serve_help[] =
    "usage: hookd serve -c FILE [--listen HOST:PORT] [--db URL] [--console HOST:PORT]\n"
    "                   [--log-level LEVEL] [--log-format json|text]\n"
    "       hookd serve --telnyx-public-key KEY [--listen HOST:PORT] [--db URL]\n"
    "                   [--console HOST:PORT] [--durability full|process] [--log-level LEVEL]\n"
    "                   [--log-format json|text]\n\n"
    "Receive webhooks: verify each delivery, store it durably (once per event id), then answer\n"
    "200. Without -c, one Telnyx endpoint is served at /webhooks/telnyx (--telnyx-public-key may\n"
    "be repeated for key rotation). --listen (default 127.0.0.1:8080) and --db (default\n"
    "./var/hookd.db) override the config file. GET /healthz, /readyz and /metrics are always\n"
    "served. Logs are JSON lines on stderr (--log-format text: one line for people, control\n"
    "characters escaped); LEVEL is debug, info, warn or error. --db takes a path, sqlite:PATH\n"
    "or postgresql://... (several nodes on one database).\n"
    "--console serves the console (pages and /api/v1) at HOST:PORT, like [console] listen; its\n"
    "token is HOOKD_CONSOLE_TOKEN when set (without one, only a loopback address is allowed).\n"
    "SIGTERM or SIGINT drains and exits 0; SIGHUP re-reads the keys. See hookd.conf(5).\n";

static const char check_help[] =
    "usage: hookd check-config -c FILE\n\n"
    "Validate a configuration file. Exit 0 and a summary when it is valid; exit 1 and\n"
    "FILE:LINE: [section] key: what is wrong, when it is not.\n";

typedef struct serve_args {
    const char *file, *listen, *db, *level, *format, *console;
    const char *keys[HOOKD_MAX_KEYS];
    size_t nkeys;
    int durability; /* -1: as configured */
} serve_args;

typedef struct serve_ctx {
    const char *cmd;
    serve_args *a;
} serve_ctx;

static int serve_option(void *ctx, int opt, const char *arg)
{
    const char *cmd = ((serve_ctx *)ctx)->cmd;
    serve_args *a = ((serve_ctx *)ctx)->a;
    switch (opt) {
    case 'c': a->file = arg; break;
    case 'l': a->listen = arg; break;
    case 'd': a->db = arg; break;
    case 'L': a->level = arg; break;
    case 'F': a->format = arg; break;
    case 'C': a->console = arg; break;
    case 'k':
        if (a->nkeys >= HOOKD_MAX_KEYS)
            return cli_usage_error(cmd, "at most %d --telnyx-public-key", HOOKD_MAX_KEYS);
        a->keys[a->nkeys++] = arg;
        break;
    case 'D':
        if (strcmp(arg, "full") == 0)
            a->durability = DURABILITY_FULL;
        else if (strcmp(arg, "process") == 0)
            a->durability = DURABILITY_PROCESS;
        else
            return cli_usage_error(cmd, "--durability is full or process");
        break;
    default: return cli_usage_error(cmd, "unknown option");
    }
    return CLI_CONTINUE;
}

static int parse(const char *cmd, int argc, char **argv, serve_args *a, const char *help)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},     {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},         {"telnyx-public-key", required_argument, NULL, 'k'},
        {"durability", required_argument, NULL, 'D'}, {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'},
        {"console", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    serve_ctx ctx = {cmd, a};
    return cli_getopt(cmd, argc, argv, "c:h", opts, help, serve_option, &ctx, NULL);
}

/* The config the arguments describe; false with the reason in err. */
static bool build(const serve_args *a, config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    if (a->file != NULL && !config_load(cfg, a->file, err, errlen))
        return false;
    if (a->listen != NULL) {
        snprintf(cfg->listen[0], sizeof cfg->listen[0], "%s", a->listen);
        cfg->nlisten = 1;
    }
    if (cfg->nlisten == 0) {
        snprintf(cfg->listen[0], sizeof cfg->listen[0], "%s", SRV_DEFAULT_LISTEN);
        cfg->nlisten = 1;
    }
    if (a->db != NULL)
        snprintf(cfg->store_url, sizeof cfg->store_url, "%s%s",
                 strchr(a->db, ':') != NULL && store_backend_for_url(a->db) != NULL ? "" : "sqlite:",
                 a->db);
    if (a->durability >= 0)
        cfg->durability = (durability)a->durability;
    if (a->console != NULL) {
        if (strlen(a->console) >= sizeof cfg->console_listen) {
            snprintf(err, errlen, "--console: expected HOST:PORT");
            return false;
        }
        snprintf(cfg->console_listen, sizeof cfg->console_listen, "%s", a->console);
        const char *token = getenv("HOOKD_CONSOLE_TOKEN");
        if (token != NULL && token[0] != '\0') {
            if (strlen(token) < SRV_CONSOLE_TOKEN_MIN || strlen(token) > HOOKD_MAX_BEARER_LEN) {
                snprintf(err, errlen, "HOOKD_CONSOLE_TOKEN: expected %d to %d bytes",
                         SRV_CONSOLE_TOKEN_MIN, HOOKD_MAX_BEARER_LEN);
                return false;
            }
            if (cfg->console_token != NULL)
                explicit_bzero(cfg->console_token, strlen(cfg->console_token));
            free(cfg->console_token);
            cfg->console_token = strdup(token);
        }
    }
    if (a->nkeys > 0 && !config_add_telnyx_endpoint(cfg, a->keys, a->nkeys, err, errlen))
        return false;
    return config_validate(cfg, err, errlen);
}

int cmd_serve(int argc, char **argv)
{
    serve_args a = {.durability = -1};
    int rc = parse("serve", argc, argv, &a, serve_help);
    if (rc != CLI_CONTINUE)
        return rc;
    if (a.level != NULL) {
        log_level lv;
        if (!log_parse_level(a.level, &lv))
            return cli_usage_error("serve", "--log-level is debug, info, warn or error");
        log_set_level(lv);
    }
    if (a.format != NULL && !log_set_format(a.format))
        return cli_usage_error("serve", "--log-format is json or text");
    if (a.file == NULL && a.nkeys == 0)
        return cli_usage_error("serve", "give -c FILE, or --telnyx-public-key KEY for the quick path");
    config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return CLI_EXIT_FAIL;
    char err[768];
    if (!build(&a, cfg, err, sizeof err)) {
        fprintf(stderr, "hookd serve: %s\n", err);
        config_free(cfg);
        free(cfg);
        return CLI_EXIT_USAGE;
    }
    rc = server_run(cfg) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    config_free(cfg);
    free(cfg);
    return rc;
}

int cmd_check_config(int argc, char **argv)
{
    serve_args a = {.durability = -1};
    int rc = parse("check-config", argc, argv, &a, check_help);
    if (rc != CLI_CONTINUE)
        return rc;
    if (a.file == NULL)
        return cli_usage_error("check-config", "-c FILE is required");
    config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return CLI_EXIT_FAIL;
    char err[768];
    bool ok = build(&a, cfg, err, sizeof err);
    if (ok) {
        char shown[sizeof cfg->store_url];
        store_url_shown(cfg->store_url, shown, sizeof shown);
        printf("%s: valid; store %s (durability %s, commit_wait %lldus); listen", a.file, shown,
               cfg->durability == DURABILITY_FULL ? "full" : "process",
               (long long)cfg->commit_wait_us);
        for (size_t i = 0; i < cfg->nlisten; i++)
            printf(" %s", cfg->listen[i]);
        printf("\n");
        for (size_t i = 0; i < cfg->nendpoints; i++) {
            const cfg_endpoint *e = &cfg->endpoints[i];
            printf("  [endpoint %s] POST %s scheme=%s keys=%zu tolerance=%llds%s%s\n", e->name,
                   e->path, hookd_scheme_name(e->scheme), e->nkeys, (long long)e->tolerance,
                   e->bearer ? " bearer" : "", e->allow.count ? " allow-list" : "");
        }
        for (size_t i = 0; i < cfg->nhandlers; i++) {
            const cfg_handler *h = &cfg->handlers[i];
            printf("  [handler %s] endpoint=%s %s", h->name, h->endpoint[0] ? h->endpoint : "*",
                   h->action == ACTION_EXEC ? "exec" : "forward");
            if (h->action == ACTION_EXEC) {
                for (size_t k = 0; h->argv[k] != NULL; k++)
                    printf(" [%s]", h->argv[k]);
                printf(" env=%s", h->env_clear ? "" : "inherited");
                for (size_t k = 0; h->env_clear && k < h->nenv_pass; k++)
                    printf("%s%s", k ? "," : "", h->env_pass[k]);
            } else {
                printf(" %s", h->url);
            }
            printf("\n");
        }
        for (size_t i = 0; i < cfg->nwarnings; i++)
            fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    config_free(cfg);
    free(cfg);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
