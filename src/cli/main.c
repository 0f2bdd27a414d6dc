/*
 * main.c - the hookd program: one binary, one subcommand per job.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"keygen", cmd_keygen, "make an Ed25519 key pair or a Standard Webhooks secret"},
    {"sign", cmd_sign, "print the signature headers for a body"},
    {"verify", cmd_verify, "check a delivery's signature and timestamp"},
    {"send", cmd_send, "deliver a signed event like Telnyx does, with retries and failover"},
    {"serve", cmd_serve, "run the receiver: verify, store durably, answer 200"},
    {"check-config", cmd_check_config, "validate a configuration file"},
    {"events", cmd_events, "list or show stored events"},
    {"calls", cmd_calls, "show one call's events as a timeline"},
    {"stats", cmd_stats, "counts by type, failure cause and hour"},
    {"deliveries", cmd_deliveries, "list what the handlers did with each event"},
    {"replay", cmd_replay, "queue fresh deliveries for stored events"},
    {"backup", cmd_backup, "copy the store, consistently, while hookd serve runs"},
    {"migrate", cmd_migrate, "create the store, or bring its schema up to date"},
    {"prune", cmd_prune, "remove events older than a time (retention by hand)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: hookd COMMAND [OPTIONS]\n\n"
                 "hookd verifies, signs and sends Telnyx and Standard Webhooks deliveries.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'hookd COMMAND --help' describes each; see also hookd(1).\n");
}

/* Output is checked once, here: a command whose output was lost (disk full, closed pipe) fails. */
static int finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hookd: cannot write output: %s\n", strerror(errno));
        return rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return finish(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("hookd %s\n", hookd_version());
        return finish(CLI_EXIT_OK);
    }
    if (hookd_init() != HOOKD_OK) {
        fprintf(stderr, "hookd: %s\n", hookd_strerror(HOOKD_ERR_CRYPTO_INIT));
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            return finish(commands[i].run(argc - 1, argv + 1));
    }
    fprintf(stderr, "hookd: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
