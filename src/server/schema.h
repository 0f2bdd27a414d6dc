/*
 * schema.h - the store's tables, versioned with PRAGMA user_version and migrated at start.
 */
#ifndef HOOKD_SCHEMA_H
#define HOOKD_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* Bring db up to the newest schema in one exclusive transaction that reads the version first, so
 * processes opening one new store at once do not race. A database newer than this hookd is
 * refused rather than misread. Leaves foreign keys off: the caller turns them on. */
bool schema_migrate(sqlite3 *db, char *err, size_t errlen);

/* The schema version this hookd writes. */
int schema_version(void);

/* The schema version db is at (PRAGMA user_version), or -1 if it cannot be read. */
int schema_version_of(sqlite3 *db);

#endif
