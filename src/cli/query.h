/*
 * query.h - what the commands that read or change the store share: opening it (a store_view,
 * from --db or the [store] url of -c FILE), --since times, and one printer for a report's rows
 * (a table for people, or JSON whose keys are the report's column names).
 */
#ifndef HOOKD_QUERY_H
#define HOOKD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../server/config.h"
#include "../server/store.h"

/* Open the store of --db (a path, or a store URL), or of the config file's [store] url (default
 * ./var/hookd.db); write for replay. With cfg_out, the loaded config (NULL without -c) is handed
 * over; free it with config_free. Prints the reason and returns NULL on failure. */
store_view *query_open(const char *cmd, const char *db, const char *file, bool write,
                       config **cfg_out);

/* The store URL of --db (a URL, or a path to an SQLite file), else of cfg's [store] url, else
 * the default. */
void query_store_url(const char *db, const config *cfg, char *url, size_t cap);

/* The same from the command line: --db, or the [store] url of -c FILE (loaded here; a broken
 * file is reported). */
bool query_url(const char *cmd, const char *db, const char *file, char *url, size_t cap);

/* --since/--until: Unix seconds, an ISO 8601 date-time, or an age like 30m, 2h, 7d; microseconds. */
bool query_parse_since(const char *s, int64_t *us);

/* The options of the commands that read or change the store, parsed by one scaffold; each
 * command names the ones it takes (QUERY_*), and any other is a usage error. --db and -c are
 * always taken. */
typedef struct query_args {
    const char *db, *file, *type, *call, *endpoint, *state, *handler, *event, *to;
    int64_t since_us, until_us;  /* 0 and INT64_MAX when not given */
    bool has_since, has_until;
    int64_t before_us;           /* --before (QUERY_BEFORE) */
    bool has_before, dry_run;
    long long limit;             /* default 50 */
    bool json, raw;
    const char *positional;      /* with QUERY_POSITIONAL */
} query_args;

enum {
    QUERY_TYPE = 0x1, QUERY_CALL = 0x2, QUERY_SINCE = 0x4, QUERY_UNTIL = 0x8,
    QUERY_ENDPOINT = 0x10, QUERY_STATE = 0x20, QUERY_HANDLER = 0x40, QUERY_EVENT = 0x80,
    QUERY_LIMIT = 0x100, QUERY_JSON = 0x200, QUERY_RAW = 0x400, QUERY_POSITIONAL = 0x800,
    QUERY_TO = 0x1000, QUERY_BEFORE = 0x2000, QUERY_DRY_RUN = 0x4000,
};

/* CLI_CONTINUE, or the exit code to return (after --help, or a usage error). */
int query_parse_args(const char *cmd, int argc, char **argv, unsigned takes, const char *help,
                     query_args *a);

/* Column widths of a table: one per column; 0, or a column past the list, is as wide as needed. */
typedef struct col_widths {
    const int *w;
    size_t n;
} col_widths;
#define WIDTHS(...) \
    ((col_widths){(const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int)})

/* A value as JSON (text and blobs as strings). */
json_t *query_value_json(const store_value *v);

/* A row as a JSON object keyed by column name. */
json_t *query_row_json(size_t ncol, const char *const *names, const store_value *v);

/* Run a report and print its rows as a table (on a terminal, control characters escaped) or a
 * JSON array. CLI_EXIT_OK or CLI_EXIT_FAIL (with the reason on stderr); *rows_out, if given,
 * the number of rows. */
int query_run(const char *cmd, store_view *v, store_report which, const char *const *params,
              size_t n, bool json, col_widths widths, long *rows_out);

/* After a list cut at --limit: when count (the same filter, a report with one "count" column)
 * finds more rows than were shown, say so on stderr ("... N more; use --limit"). */
void query_note_more(const char *cmd, store_view *v, store_report count, const char *const *params,
                     size_t n, long shown, long long limit);

#endif
