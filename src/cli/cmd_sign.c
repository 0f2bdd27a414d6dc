/*
 * cmd_sign.c - hookd sign: the headers a sender would attach to a body, one "name: value" a line.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: hookd sign --scheme telnyx --private-key KEY [--timestamp T] [--file BODY]\n"
    "       hookd sign --scheme standard --id ID (--secret whsec_... | --private-key whsk_...)...\n"
    "                  [--timestamp T] [--file BODY]\n\n"
    "Read the body (standard input unless --file) and print the headers to send with it:\n"
    "  telnyx:   telnyx-timestamp, telnyx-signature-ed25519\n"
    "  standard: webhook-id, webhook-timestamp, webhook-signature (one v1 entry per --secret,\n"
    "            one v1a entry per --private-key, space separated)\n"
    "--timestamp defaults to now. KEY is the base64 Ed25519 seed (see hookd keygen).\n";

/* Sign with every key in turn, appending each signature (space separated) to out. */
static int sign_all(hookd_scheme scheme, const cli_list *keys, const char *id, const char *ts,
                    const uint8_t *body, size_t len, char *out, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < keys->count; i++) {
        hookd_signer *s = NULL;
        hookd_err e = hookd_signer_new(scheme, keys->items[i], &s);
        if (e != HOOKD_OK)
            return cli_usage_error("sign", "key %zu: %s", i + 1, hookd_strerror(e));
        if (used > 0)
            out[used++] = ' ';
        e = hookd_sign(s, id, ts, body, len, out + used, cap - used);
        hookd_signer_free(s);
        if (e == HOOKD_ERR_ID_MALFORMED)
            return cli_usage_error("sign", "--id: %s", hookd_strerror(e));
        if (e != HOOKD_OK) {
            fprintf(stderr, "hookd sign: %s\n", hookd_strerror(e));
            return CLI_EXIT_FAIL;
        }
        used += strlen(out + used);
    }
    return CLI_EXIT_OK;
}

typedef struct sign_args {
    hookd_scheme scheme;
    cli_list keys;
    const char *id, *file;
    char ts[32];
} sign_args;

static int sign_option(void *ctx, int opt, const char *arg)
{
    sign_args *a = ctx;
    int64_t parsed;
    switch (opt) {
    case 's':
        if (hookd_scheme_parse(arg, &a->scheme) != HOOKD_OK || a->scheme == HOOKD_SCHEME_NONE)
            return cli_usage_error("sign", "--scheme must be telnyx or standard");
        break;
    case 'k':
    case 'S':
        if (!cli_list_add("sign", &a->keys, opt == 'k' ? "--private-key" : "--secret", arg))
            return CLI_EXIT_USAGE;
        break;
    case 'i': a->id = arg; break;
    case 't':
        if (!cli_parse_time("sign", "--timestamp", arg, &parsed))
            return CLI_EXIT_USAGE;
        snprintf(a->ts, sizeof a->ts, "%s", arg);
        break;
    case 'f': a->file = arg; break;
    default: return cli_usage_error("sign", "unknown option");
    }
    return CLI_CONTINUE;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheme", required_argument, NULL, 's'},  {"private-key", required_argument, NULL, 'k'},
        {"secret", required_argument, NULL, 'S'},  {"id", required_argument, NULL, 'i'},
        {"timestamp", required_argument, NULL, 't'}, {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    sign_args a = {.scheme = HOOKD_SCHEME_TELNYX};
    snprintf(a.ts, sizeof a.ts, "%" PRId64, cli_now());
    int rc = cli_getopt("sign", argc, argv, "h", opts, help, sign_option, &a, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    hookd_scheme scheme = a.scheme;
    const cli_list keys = a.keys;
    const char *id = a.id, *file = a.file;
    const char *ts = a.ts;
    if (keys.count == 0)
        return cli_usage_error("sign", "a key is required (--private-key or --secret)");
    if (scheme == HOOKD_SCHEME_TELNYX && keys.count != 1)
        return cli_usage_error("sign", "telnyx signs with exactly one --private-key");
    if (scheme == HOOKD_SCHEME_STANDARD && id == NULL)
        return cli_usage_error("sign", "--id is required with --scheme standard");
    if (scheme == HOOKD_SCHEME_TELNYX && id != NULL)
        return cli_usage_error("sign", "--id is only for --scheme standard");

    uint8_t *body = NULL;
    size_t len = 0;
    if (!cli_read_body("sign", file, &body, &len))
        return CLI_EXIT_FAIL;
    char sig[HOOKD_MAX_KEYS * HOOKD_SIGNATURE_BUFSIZE];
    rc = sign_all(scheme, &keys, id, ts, body, len, sig, sizeof sig);
    free(body);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (scheme == HOOKD_SCHEME_TELNYX)
        printf("%s: %s\n%s: %s\n", HOOKD_HDR_TELNYX_TIMESTAMP, ts, HOOKD_HDR_TELNYX_SIGNATURE, sig);
    else
        printf("%s: %s\n%s: %s\n%s: %s\n", HOOKD_HDR_WEBHOOK_ID, id, HOOKD_HDR_WEBHOOK_TIMESTAMP, ts,
               HOOKD_HDR_WEBHOOK_SIGNATURE, sig);
    return CLI_EXIT_OK;
}
