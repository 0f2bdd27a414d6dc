/*
 * cmd_keygen.c - hookd keygen: a fresh key pair or secret, printed as name=value lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

static const char help[] =
    "usage: hookd keygen [--scheme telnyx|standard]\n"
    "       hookd keygen --secret\n\n"
    "Print a new Ed25519 key pair as public_key=... and private_key=... lines\n"
    "(telnyx: base64 raw public key and base64 32-byte seed; standard: whpk_... and whsk_...),\n"
    "or with --secret a Standard Webhooks HMAC secret as secret=whsec_...\n";

typedef struct keygen_args {
    hookd_scheme scheme;
    bool secret;
} keygen_args;

static int keygen_option(void *ctx, int opt, const char *arg)
{
    keygen_args *a = ctx;
    if (opt == 'S') {
        a->secret = true;
    } else if (opt == 's') {
        if (hookd_scheme_parse(arg, &a->scheme) != HOOKD_OK || a->scheme == HOOKD_SCHEME_NONE)
            return cli_usage_error("keygen", "--scheme must be telnyx or standard");
    } else {
        return cli_usage_error("keygen", "unknown option");
    }
    return CLI_CONTINUE;
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheme", required_argument, NULL, 's'},
        {"secret", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    keygen_args a = {.scheme = HOOKD_SCHEME_TELNYX};
    int rc = cli_getopt("keygen", argc, argv, "h", opts, help, keygen_option, &a, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    hookd_scheme scheme = a.scheme;
    bool secret = a.secret;

    if (secret) {
        char s[HOOKD_KEY_BUFSIZE];
        if (hookd_secret_generate(s, sizeof s) != HOOKD_OK)
            return CLI_EXIT_FAIL;
        printf("secret=%s\n", s);
        sodium_memzero(s, sizeof s);
        return CLI_EXIT_OK;
    }
    char pub[HOOKD_KEY_BUFSIZE], priv[HOOKD_KEY_BUFSIZE];
    hookd_err e = hookd_keygen(scheme, pub, sizeof pub, priv, sizeof priv);
    if (e != HOOKD_OK) {
        fprintf(stderr, "hookd keygen: %s\n", hookd_strerror(e));
        return CLI_EXIT_FAIL;
    }
    printf("public_key=%s\nprivate_key=%s\n", pub, priv);
    sodium_memzero(priv, sizeof priv);
    return CLI_EXIT_OK;
}
