/*
 * log.c - one JSON object per line on stderr (or, with --log-format text, one line for people:
 * "TIME LEVEL MSG key=value ..."). jansson does the JSON escaping; the text form escapes every
 * control byte, so a sender's text cannot drive the terminal reading the log. A mutex keeps
 * lines whole.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/codec.h"
#include "log.h"

static log_level threshold = LOG_INFO;
static bool as_text;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"debug", "info", "warn", "error", "notice"};

bool log_parse_level(const char *name, log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

void log_set_level(log_level level)
{
    threshold = level;
}

bool log_set_format(const char *name)
{
    if (strcmp(name, "json") != 0 && strcmp(name, "text") != 0)
        return false;
    as_text = strcmp(name, "text") == 0;
    return true;
}

/* A value as text: bare when it is a plain word, else quoted with \", \\, \n, \t and \xHH. */
static void put_text(FILE *f, const char *s)
{
    bool bare = *s != '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
        bare = *p > ' ' && *p < 0x7f && *p != '"' && *p != '=' && *p != '\\';
    if (bare) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < ' ' || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void write_text(const char *when, log_level level, const char *msg, json_t *fields)
{
    fprintf(stderr, "%s %-6s ", when, names[level]);
    put_text(stderr, msg);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) {
        fputc(' ', stderr);
        fputs(key, stderr);
        fputc('=', stderr);
        if (json_is_string(v)) {
            put_text(stderr, json_string_value(v));
        } else {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
            if (d != NULL)
                put_text(stderr, d);
            free(d);
        }
    }
    fputc('\n', stderr);
}

bool log_enabled(log_level level)
{
    return level >= threshold;
}

void log_json(log_level level, const char *msg, json_t *fields)
{
    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[HOOKD_ISO8601_BUFSIZE];
    hookd_iso8601_format((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, when, sizeof when);
    if (as_text) {
        pthread_mutex_lock(&out_lock);
        write_text(when, level, msg, fields);
        pthread_mutex_unlock(&out_lock);
        json_decref(fields);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "ts", when, "level", names[level], "msg", msg);
    if (o != NULL && fields != NULL)
        json_object_update(o, fields);
    json_decref(fields);
    char *line = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (line == NULL)
        return;
    pthread_mutex_lock(&out_lock);
    fputs(line, stderr);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
    free(line);
}

void log_msg(log_level level, const char *msg, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    log_json(level, msg, json_pack("{s:s}", "detail", detail));
}
