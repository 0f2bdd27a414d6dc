/*
 * cli.h - what the hookd subcommands share: argument checks, reading a body, the clock.
 *
 * Exit codes are the command-line contract: 0 success, 1 the thing checked failed (invalid
 * signature, not delivered), 2 a usage error (unknown option, missing argument, unusable key).
 */
#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hookd/hookd.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_CONTINUE (-1) /* not an exit code: the command goes on */

/* Largest body the command line reads from a file or stdin. */
#define CLI_MAX_BODY ((size_t)64 * 1024 * 1024)

int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_calls(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_deliveries(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_prune(int argc, char **argv);
/* hookd events export | import (argv[0] is the verb). */
int cmd_events_transfer(int argc, char **argv);

/* Print "hookd CMD: message" and a pointer to --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read a whole file ("-" or NULL: stdin), at most CLI_MAX_BODY bytes. The buffer is NUL-terminated
 * (not counted in *len) and must be freed. Prints the reason and returns false on failure. */
bool cli_read_body(const char *cmd, const char *path, uint8_t **out, size_t *len);

/* The scaffold every command's arguments go through. */
struct option;

/* One of the command's own options (fn of cli_getopt): CLI_CONTINUE, or an exit code to return
 * now (a usage error, from cli_usage_error). */
typedef int cli_option_fn(void *ctx, int opt, const char *arg);

/* The getopt loop every command shares: -h/--help prints help and returns CLI_EXIT_OK; an unknown
 * option, or a positional argument where none (or a second) is taken, is a usage error; every
 * other option goes to fn. With positional, the one positional argument (optional) lands there.
 * CLI_CONTINUE when the command should run, else the exit code to return. opts needs
 * {"help", no_argument, NULL, 'h'}; shortopts is what getopt takes ("c:h"). */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *opts, const char *help, cli_option_fn *fn, void *ctx,
               const char **positional);

/* "hookd CMD VERB ...": *verb is argv[1] when it is one of verbs (NULL-terminated). --help prints
 * help. CLI_CONTINUE, or the exit code to return. */
int cli_verb(const char *cmd, int argc, char **argv, const char *const *verbs, const char *help,
             const char **verb);

/* Parse a decimal integer in [min, max]. */
bool cli_parse_int(const char *s, long long min, long long max, long long *out);

/* Parse a --timestamp/--now value with the same rules as the headers. */
bool cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *out);

/* The wall clock, Unix seconds and microseconds. */
int64_t cli_now(void);
int64_t cli_now_us(void);

/* Stored text for a table on stdout: when stdout is a terminal, control characters (C0, DEL, and
 * UTF-8 C1) come back escaped as \xNN, so a stored field, a target's response or a handler's output
 * cannot move the cursor, retitle the window or hide text. Otherwise (a pipe, a file) s itself.
 * The result lives until the 8th call after this one. --raw and --json never go through it. */
const char *cli_safe(const char *s);

/* Collects repeated options (--public-key, --secret). */
typedef struct cli_list {
    const char *items[HOOKD_MAX_KEYS];
    size_t count;
} cli_list;
bool cli_list_add(const char *cmd, cli_list *l, const char *opt, const char *value);

#endif
