/*
 * cmd_export.c - hookd events export | import: the store as JSON lines, and back.
 *
 * One event a line, with every stored field (times also in microseconds) and the raw body: as
 * "body" when it is UTF-8 text, else as "body_base64", so bodies round-trip byte for byte. Import
 * reads the same lines: an event already stored is left as it is, so importing twice adds nothing;
 * a line that cannot be read is reported with its number, and then nothing of the import is
 * stored (one transaction). Imported events get no deliveries: `hookd replay` queues them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "query.h"

/* ---- export ----------------------------------------------------------------------------------- */

static bool export_row(void *ctx, size_t ncol, const char *const *names, const store_value *v)
{
    (void)ctx;
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < ncol; i++) {
        if (strcmp(names[i], "body") != 0) {
            if (v[i].type != STORE_NULL)
                json_object_set_new(o, names[i], query_value_json(&v[i]));
            continue;
        }
        json_t *text = json_stringn(v[i].p != NULL ? v[i].p : "", v[i].len); /* NULL: not UTF-8 */
        if (text != NULL) {
            json_object_set_new(o, "body", text);
        } else {
            size_t cap = sodium_base64_encoded_len(v[i].len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(cap);
            if (b64 == NULL) {
                json_decref(o);
                return false;
            }
            sodium_bin2base64(b64, cap, (const unsigned char *)v[i].p, v[i].len,
                              sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(o, "body_base64", json_string(b64));
            free(b64);
        }
    }
    bool ok = o != NULL && json_dumpf(o, stdout, JSON_COMPACT) == 0 && putchar('\n') != EOF;
    json_decref(o);
    return ok;
}

static const char export_help[] =
    "usage: hookd events export [--type T] [--since TIME] [--until TIME] (--db PATH | -c FILE)\n\n"
    "Every stored event, oldest first, as one JSON object a line on standard output: every\n"
    "field, times also in microseconds, and the raw body (\"body\", or \"body_base64\" when it\n"
    "is not UTF-8). For a data warehouse, a bug report, or hookd events import.\n";

static int events_export(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("events", argc, argv, QUERY_TYPE | QUERY_SINCE | QUERY_UNTIL,
                              export_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    store_view *v = query_open("events", a.db, a.file, false, NULL);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    char since[32], until[32];
    snprintf(since, sizeof since, "%lld", (long long)a.since_us);
    snprintf(until, sizeof until, "%lld", (long long)a.until_us);
    const char *params[] = {a.type, since, a.has_until ? until : NULL};
    bool ok = store_view_report(v, REPORT_EXPORT, params, 3, export_row, NULL);
    if (!ok)
        fprintf(stderr, "hookd events export: %s\n", store_view_errmsg(v));
    store_view_close(v);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- import ----------------------------------------------------------------------------------- */

#define IMPORT_MAX_LINE ((size_t)128 * 1024 * 1024)

typedef struct reader {
    FILE *in;
    const char *name;
    char *line;
    size_t cap;
    long lineno;
    json_t *current;      /* the record's strings point into it until the next call */
    uint8_t *body;
} reader;

static int bad(reader *r, const char *what)
{
    fprintf(stderr, "hookd events import: %s:%ld: %s\n", r->name, r->lineno, what);
    return -1;
}

/* A string member, or NULL; false when it is there but not a string. */
static bool opt_string(json_t *o, const char *key, const char **out)
{
    json_t *j = json_object_get(o, key);
    *out = json_is_string(j) ? json_string_value(j) : NULL;
    return j == NULL || json_is_null(j) || json_is_string(j);
}

static bool opt_int(json_t *o, const char *key, int64_t *out)
{
    json_t *j = json_object_get(o, key);
    *out = json_is_integer(j) ? (int64_t)json_integer_value(j) : 0;
    return j == NULL || json_is_null(j) || json_is_integer(j);
}

static int next_record(void *ctx, store_record *rec)
{
    reader *r = ctx;
    json_decref(r->current);
    r->current = NULL;
    free(r->body);
    r->body = NULL;
    ssize_t n;
    do {
        errno = 0;
        n = getline(&r->line, &r->cap, r->in);
        if (n < 0)
            return 0;
        r->lineno++;
    } while (n == 1 && r->line[0] == '\n'); /* blank lines are not events */
    if ((size_t)n > IMPORT_MAX_LINE)
        return bad(r, "line longer than 128 MiB");
    json_error_t je;
    json_t *o = json_loadb(r->line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(r, "not a JSON object");
    }
    r->current = o;
    memset(rec, 0, sizeof *rec);
    const char *parse_status = NULL, *body = NULL, *body64 = NULL;
    bool ok = opt_string(o, "id", &rec->id) && opt_string(o, "endpoint", &rec->endpoint)
              && opt_string(o, "scheme", &rec->scheme) && opt_string(o, "event_type", &rec->event_type)
              && opt_string(o, "occurred_at", &rec->occurred_at)
              && opt_string(o, "call_control_id", &rec->call_control_id)
              && opt_string(o, "call_session_id", &rec->call_session_id)
              && opt_string(o, "call_leg_id", &rec->call_leg_id)
              && opt_string(o, "connection_id", &rec->connection_id)
              && opt_string(o, "failure_cause", &rec->failure_cause)
              && opt_string(o, "hangup_cause", &rec->hangup_cause)
              && opt_string(o, "delivered_to", &rec->delivered_to)
              && opt_string(o, "remote_addr", &rec->remote_addr)
              && opt_string(o, "content_type", &rec->content_type)
              && opt_string(o, "parse_error", &rec->parse_error)
              && opt_string(o, "parse_status", &parse_status) && opt_string(o, "body", &body)
              && opt_string(o, "body_base64", &body64)
              && opt_int(o, "occurred_at_us", &rec->occurred_at_us)
              && opt_int(o, "received_at_us", &rec->received_at_us)
              && opt_int(o, "meta_attempt", &rec->meta_attempt)
              && opt_int(o, "attempts", &rec->copies);
    if (!ok)
        return bad(r, "a field has the wrong JSON type");
    if (rec->id == NULL || rec->id[0] == '\0' || rec->endpoint == NULL || rec->scheme == NULL)
        return bad(r, "id, endpoint and scheme are required");
    if (strcmp(rec->scheme, "telnyx") != 0 && strcmp(rec->scheme, "standard") != 0
        && strcmp(rec->scheme, "none") != 0)
        return bad(r, "scheme is telnyx, standard or none");
    if (rec->received_at_us <= 0)
        return bad(r, "received_at_us (microseconds since 1970) is required");
    if ((body == NULL) == (body64 == NULL))
        return bad(r, "exactly one of body and body_base64 is required");
    if (parse_status != NULL && strcmp(parse_status, "parsed") != 0
        && strcmp(parse_status, "unparsed") != 0)
        return bad(r, "parse_status is parsed or unparsed");
    rec->parsed = parse_status == NULL || strcmp(parse_status, "parsed") == 0;
    if (body != NULL) {
        json_t *j = json_object_get(o, "body");
        rec->body = (const uint8_t *)body;
        rec->body_len = json_string_length(j);
    } else {
        size_t len = strlen(body64);
        r->body = malloc(len / 4 * 3 + 3);
        if (r->body == NULL || hookd_base64_decode(body64, len, r->body, len / 4 * 3 + 3,
                                                   &rec->body_len) != HOOKD_OK)
            return bad(r, "body_base64 is not strict base64");
        rec->body = r->body;
    }
    return 1;
}

static const char import_help[] =
    "usage: hookd events import [FILE] (--db PATH | -c FILE)\n\n"
    "Store the events of hookd events export (FILE, or standard input). An event already stored\n"
    "(same id and endpoint) is left as it is: importing twice adds nothing. A line that cannot\n"
    "be read is reported with its number, and then nothing is stored. Imported events get no\n"
    "deliveries; hookd replay queues them.\n";

static int events_import(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("events", argc, argv, QUERY_POSITIONAL, import_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    reader r = {.in = stdin, .name = "stdin"};
    if (a.positional != NULL && strcmp(a.positional, "-") != 0) {
        r.in = fopen(a.positional, "r");
        r.name = a.positional;
        if (r.in == NULL) {
            fprintf(stderr, "hookd events import: cannot read %s: %s\n", a.positional, strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }
    /* Importing into a new store (a restore, a copy for a bug report) creates it first. */
    char url[600], err[768] = "";
    store_view *v = NULL;
    if (query_url("events", a.db, a.file, url, sizeof url) && store_migrate(url, err, sizeof err))
        v = store_view_open(url, true, err, sizeof err);
    if (v == NULL && err[0] != '\0')
        fprintf(stderr, "hookd events import: %s\n", err);
    store_import_counts n = {0};
    bool ok = v != NULL && store_view_import(v, next_record, &r, &n);
    if (v != NULL && !ok && n.bad == 0)
        fprintf(stderr, "hookd events import: %s (nothing was stored)\n", store_view_errmsg(v));
    else if (n.bad > 0)
        fprintf(stderr, "hookd events import: %ld bad lines: nothing was stored\n", n.bad);
    else if (ok)
        printf("imported %ld events (%ld were stored already)\n", n.added, n.present);
    store_view_close(v);
    json_decref(r.current);
    free(r.body);
    free(r.line);
    if (r.in != stdin)
        fclose(r.in);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int cmd_events_transfer(int argc, char **argv)
{
    return strcmp(argv[0], "export") == 0 ? events_export(argc, argv) : events_import(argc, argv);
}
