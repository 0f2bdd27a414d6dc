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

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"scheme", required_argument, NULL, 's'},
        {"secret", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hookd_scheme scheme = HOOKD_SCHEME_TELNYX;
    bool secret = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (hookd_scheme_parse(optarg, &scheme) != HOOKD_OK || scheme == HOOKD_SCHEME_NONE)
                return cli_usage_error("keygen", "--scheme must be telnyx or standard");
            break;
        case 'S':
            secret = true;
            break;
        case 'h':
            fputs(help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("keygen", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);

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
