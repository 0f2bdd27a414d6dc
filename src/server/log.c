/*
 * log.c - one JSON object per line on stderr. jansson does the escaping, a mutex keeps lines whole.
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
