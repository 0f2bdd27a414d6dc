/*
 * util.c - helpers shared by the hookd subcommands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hookd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'hookd %s --help'.\n", cmd);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

bool cli_read_body(const char *cmd, const char *path, uint8_t **out, size_t *len)
{
    bool from_stdin = path == NULL || strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "hookd %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return false;
    }
    size_t cap = (size_t)64 * 1024, n = 0;
    uint8_t *buf = malloc(cap + 1);
    bool ok = buf != NULL;
    while (ok) {
        if (n == cap) {
            uint8_t *bigger = cap >= CLI_MAX_BODY ? NULL : realloc(buf, cap * 2 + 1);
            if (bigger == NULL) {
                fprintf(stderr, "hookd %s: body is larger than %zu bytes\n", cmd, CLI_MAX_BODY);
                ok = false;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "hookd %s: cannot read %s: %s\n", cmd,
                        from_stdin ? "standard input" : path, strerror(errno));
                ok = false;
            }
            break;
        }
    }
    if (!from_stdin)
        fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return true;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *opts, const char *help, cli_option_fn *fn, void *ctx,
               const char **positional)
{
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return cli_usage_error(cmd, "unknown option, or an option without its value");
        int rc = fn(ctx, c, optarg);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    if (positional != NULL && optind < argc)
        *positional = argv[optind++];
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return CLI_CONTINUE;
}

int cli_verb(const char *cmd, int argc, char **argv, const char *const *verbs, const char *help,
             const char **verb)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(help, stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; argc >= 2 && verbs[i] != NULL; i++) {
        if (strcmp(argv[1], verbs[i]) == 0) {
            *verb = verbs[i];
            return CLI_CONTINUE;
        }
    }
    char expected[128] = "";
    for (size_t i = 0; verbs[i] != NULL; i++)
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s'%s'",
                 i == 0 ? "" : verbs[i + 1] == NULL ? " or " : ", ", verbs[i]);
    return cli_usage_error(cmd, "expected %s", expected);
}

bool cli_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *out)
{
    if (hookd_timestamp_parse(s, strlen(s), out) != HOOKD_OK) {
        cli_usage_error(cmd, "%s must be Unix seconds (digits only)", opt);
        return false;
    }
    return true;
}

int64_t cli_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cli_now(void)
{
    return cli_now_us() / 1000000;
}

bool cli_list_add(const char *cmd, cli_list *l, const char *opt, const char *value)
{
    if (l->count >= HOOKD_MAX_KEYS) {
        cli_usage_error(cmd, "at most %d %s options", HOOKD_MAX_KEYS, opt);
        return false;
    }
    l->items[l->count++] = value;
    return true;
}

static bool stdout_is_terminal(void)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    return tty == 1;
}

const char *cli_safe(const char *s)
{
    static char ring[8][4 * 4096 + 1];
    static unsigned next;
    if (s == NULL || !stdout_is_terminal())
        return s;
    char *out = ring[next++ % 8];
    size_t o = 0, cap = sizeof ring[0];
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && o + 5 < cap; p++) {
        bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
        if (*p < 0x20 || *p == 0x7f || c1) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
            if (c1)
                o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *++p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return out;
}
