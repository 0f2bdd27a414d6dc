/*
 * log.h - JSON-lines logs on stderr, one object a line, with a level filter.
 */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

#include <stdbool.h>

#include <jansson.h>

/* LOG_NOTICE is for the daemon's life (listening, started, keys reloaded, stopping, stopped):
 * written whatever the level, since operators and scripts need it. */
typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_NOTICE } log_level;

bool log_parse_level(const char *name, log_level *out);
void log_set_level(log_level level);
/* "json" (the default: one object a line, for machines) or "text" (for people at a terminal);
 * false for anything else. */
bool log_set_format(const char *name);
bool log_enabled(log_level level);

/* Write {"ts":..., "level":..., "msg":..., ...fields}; takes ownership of fields (may be NULL). */
void log_json(log_level level, const char *msg, json_t *fields);

/* A message with no fields but printf-style text in "detail". */
void log_msg(log_level level, const char *msg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
