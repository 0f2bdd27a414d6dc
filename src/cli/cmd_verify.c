/*
 * cmd_verify.c - hookd verify: is this delivery authentic? Exit 0 with a one-line summary of the
 * event, or exit 1 with the precise reason on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: hookd verify --scheme telnyx --public-key KEY --timestamp T --signature SIG\n"
    "                    [--tolerance S] [--now T] [--file BODY]\n"
    "       hookd verify --scheme standard --id ID --timestamp T --signature 'v1,... v1a,...'\n"
    "                    (--secret whsec_... | --public-key whpk_...)... [--tolerance S] [--now T]\n"
    "                    [--file BODY]\n\n"
    "Verify a delivery exactly as the receiver does: the body (standard input unless --file) as\n"
    "raw bytes, the header values as given. --public-key and --secret may be repeated (key\n"
    "rotation); any key that verifies is enough. --tolerance is the replay window in seconds\n"
    "(default 300); --now fixes the clock, for checking old captures.\n\n"
    "Exit status: 0 valid (a one-line summary of the event on stdout), 1 invalid (the reason on\n"
    "stderr), 2 usage error (including a key that is not valid for the scheme).\n";

/* Append " name=value" when value is set. */
static void field(char *buf, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (value != NULL && n < cap)
        snprintf(buf + n, cap - n, " %s=%s", name, value);
}

static void print_summary(hookd_scheme scheme, const char *id, const uint8_t *body, size_t len,
                          const hookd_verify_result *r)
{
    hookd_event ev;
    hookd_parse_error pe;
    hookd_err e = scheme == HOOKD_SCHEME_STANDARD ? hookd_event_parse_standard(body, len, &ev, &pe)
                                                  : hookd_event_parse_telnyx(body, len, &ev, &pe);
    char line[2048];
    snprintf(line, sizeof line, "valid %s signature=%s key=%d skew=%" PRId64 "s",
             hookd_scheme_name(scheme), r->version ? r->version : "none", r->key_index, r->skew);
    if (e != HOOKD_OK) {
        printf("%s body=unparsed reason=%s (%s)\n", line, hookd_errname(e), pe.text);
        return;
    }
    field(line, sizeof line, "format", hookd_event_format_name(ev.format));
    field(line, sizeof line, "event_type", ev.event_type);
    field(line, sizeof line, "id", ev.id != NULL ? ev.id : id);
    field(line, sizeof line, "occurred_at", ev.occurred_at);
    field(line, sizeof line, "call_control_id", ev.call_control_id);
    field(line, sizeof line, "call_session_id", ev.call_session_id);
    field(line, sizeof line, "failure_cause", ev.failure_cause);
    field(line, sizeof line, "hangup_cause", ev.hangup_cause);
    if (ev.attempt > 0) {
        char a[24];
        snprintf(a, sizeof a, "%" PRId64, ev.attempt);
        field(line, sizeof line, "attempt", a);
    }
    field(line, sizeof line, "delivered_to", ev.delivered_to);
    printf("%s\n", line);
    hookd_event_free(&ev);
}

typedef struct verify_args {
    hookd_scheme scheme;
    cli_list keys;
    const char *id, *timestamp, *signature, *file;
    long long tolerance;
    int64_t now;
} verify_args;

static int verify_option(void *ctx, int opt, const char *arg)
{
    verify_args *a = ctx;
    switch (opt) {
    case 's':
        if (hookd_scheme_parse(arg, &a->scheme) != HOOKD_OK || a->scheme == HOOKD_SCHEME_NONE)
            return cli_usage_error("verify", "--scheme must be telnyx or standard");
        break;
    case 'k':
    case 'S':
        if (!cli_list_add("verify", &a->keys, opt == 'k' ? "--public-key" : "--secret", arg))
            return CLI_EXIT_USAGE;
        break;
    case 'i': a->id = arg; break;
    case 't': a->timestamp = arg; break;
    case 'g': a->signature = arg; break;
    case 'f': a->file = arg; break;
    case 'T':
        if (!cli_parse_int(arg, 0, INT32_MAX, &a->tolerance))
            return cli_usage_error("verify", "--tolerance must be a whole number of seconds");
        break;
    case 'n':
        if (!cli_parse_time("verify", "--now", arg, &a->now))
            return CLI_EXIT_USAGE;
        break;
    default: return cli_usage_error("verify", "unknown option");
    }
    return CLI_CONTINUE;
}

static int parse_args(int argc, char **argv, verify_args *a)
{
    static const struct option opts[] = {
        {"scheme", required_argument, NULL, 's'},    {"public-key", required_argument, NULL, 'k'},
        {"secret", required_argument, NULL, 'S'},    {"id", required_argument, NULL, 'i'},
        {"timestamp", required_argument, NULL, 't'}, {"signature", required_argument, NULL, 'g'},
        {"tolerance", required_argument, NULL, 'T'}, {"now", required_argument, NULL, 'n'},
        {"file", required_argument, NULL, 'f'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = cli_getopt("verify", argc, argv, "h", opts, help, verify_option, a, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (a->keys.count == 0)
        return cli_usage_error("verify", "a key is required (--public-key or --secret)");
    if (a->timestamp == NULL || a->signature == NULL)
        return cli_usage_error("verify", "--timestamp and --signature are required");
    if (a->scheme == HOOKD_SCHEME_STANDARD && a->id == NULL)
        return cli_usage_error("verify", "--id is required with --scheme standard");
    if (a->scheme == HOOKD_SCHEME_TELNYX && a->id != NULL)
        return cli_usage_error("verify", "--id is only for --scheme standard");
    return CLI_CONTINUE;
}

int cmd_verify(int argc, char **argv)
{
    verify_args a = {.scheme = HOOKD_SCHEME_TELNYX, .tolerance = HOOKD_DEFAULT_TOLERANCE,
                     .now = cli_now()};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_CONTINUE)
        return rc;

    hookd_verifier *v = NULL;
    hookd_err e = hookd_verifier_new(a.scheme, &v);
    for (size_t i = 0; e == HOOKD_OK && i < a.keys.count; i++) {
        e = hookd_verifier_add_key(v, a.keys.items[i]);
        if (e != HOOKD_OK) {
            hookd_verifier_free(v);
            return cli_usage_error("verify", "key %zu: %s", i + 1, hookd_strerror(e));
        }
    }
    if (e == HOOKD_OK)
        e = hookd_verifier_set_tolerance(v, a.tolerance);
    uint8_t *body = NULL;
    size_t len = 0;
    if (e != HOOKD_OK || !cli_read_body("verify", a.file, &body, &len)) {
        hookd_verifier_free(v);
        return CLI_EXIT_FAIL;
    }

    hookd_header hdrs[] = {
        {HOOKD_HDR_TELNYX_TIMESTAMP, a.scheme == HOOKD_SCHEME_TELNYX ? a.timestamp : NULL},
        {HOOKD_HDR_TELNYX_SIGNATURE, a.scheme == HOOKD_SCHEME_TELNYX ? a.signature : NULL},
        {HOOKD_HDR_WEBHOOK_ID, a.id},
        {HOOKD_HDR_WEBHOOK_TIMESTAMP, a.scheme == HOOKD_SCHEME_STANDARD ? a.timestamp : NULL},
        {HOOKD_HDR_WEBHOOK_SIGNATURE, a.scheme == HOOKD_SCHEME_STANDARD ? a.signature : NULL},
    };
    hookd_header_list list = {hdrs, sizeof hdrs / sizeof hdrs[0]};
    hookd_verify_result r;
    e = hookd_verify(v, hookd_header_list_lookup, &list, body, len, a.now, &r);
    hookd_verifier_free(v);
    if (e == HOOKD_OK) {
        print_summary(a.scheme, a.id, body, len, &r);
    } else {
        char why[256];
        hookd_verify_describe(&r, why, sizeof why);
        fprintf(stderr, "hookd verify: invalid: %s (%s)\n", why, hookd_errname(e));
    }
    free(body);
    return e == HOOKD_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
