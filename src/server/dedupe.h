/*
 * dedupe.h - deduplication of the SQLite store's events without an index keyed by random ids
 * (schema 9, issue #11).
 *
 * An event is a redelivery when an event with its id and endpoint is stored already. A UNIQUE
 * index answered that up to schema 8; keyed by random UUIDs, every insert landed on a random
 * 4 KiB leaf, which the WAL wrote and the checkpoint wrote again: 8 KiB of the 16 a request cost.
 * Instead, two levels, the way a log-structured store does it:
 *   - event_keys (h, seq), WITHOUT ROWID: a 64-bit key of (id, endpoint) for every event with
 *     seq <= dedupe_state.upto. Keys arrive in bulk, sorted (DEDUPE_STEP at a time), so one leaf
 *     takes many of them at once instead of one page per event;
 *   - in memory, the keys of every event with seq > upto, gathered as they are inserted, and
 *     read from the rows at open and whenever another writer (hookd events import) added some.
 * When memory holds STORE_DEDUPE_PENDING keys, the writer moves the older ones into event_keys
 * between batches, STORE_DEDUPE_STEP keys a transaction, and raises upto when all are in.
 *
 * A key is SipHash-2-4 of id, a NUL and endpoint, with a fixed public key. Keys never decide
 * alone: a match is a candidate seq, and the row must have that id and endpoint (a collision, a
 * deleted event). seqs are never reused (the table is AUTOINCREMENT), so "rows above the highest
 * seq seen" finds every row another writer added. Entries of deleted events are dropped when
 * their key range is next merged, once their seq is below the oldest event's.
 *
 * Threads: a dedupe belongs to the connection that inserts events (the writer thread, or the
 * CLI's import), and is used on it only, inside its write transactions unless said otherwise.
 */
#ifndef HOOKD_DEDUPE_H
#define HOOKD_DEDUPE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

typedef struct dedupe dedupe;

/* The key of (id, endpoint), both non-NULL; false only out of memory (an id and endpoint over
 * 513 bytes together need a buffer). */
bool dedupe_key(const char *id, const char *endpoint, int64_t *key);

/* Register hookd_dedupe_key(id, endpoint) on db (the writer's connections: catch-up uses it). */
bool dedupe_register(sqlite3 *db);

/* Open on a migrated store, outside any transaction: moves the keys of the events above upto
 * into event_keys in one transaction if there are more than STORE_DEDUPE_PENDING of them (a
 * store just upgraded, a large import), then gathers the rest in memory. NULL on failure (the
 * reason in sqlite3_errmsg(db), or out of memory). */
dedupe *dedupe_open(sqlite3 *db);
void dedupe_free(dedupe *d);

/* A write transaction began: gather the rows another writer added since. */
bool dedupe_begin(dedupe *d, sqlite3 *db);

/* The transaction rolled back: forget the keys it added. */
void dedupe_forget(dedupe *d);

/* Call fn(ctx, seq) for each stored event that may have this key, until it returns true (the
 * row is the event: a redelivery). *found says whether one did. False on a database error. */
typedef bool dedupe_match_fn(void *ctx, int64_t seq, bool *failed);
bool dedupe_find(dedupe *d, sqlite3 *db, int64_t key, dedupe_match_fn *fn, void *ctx,
                 bool *found);

/* A new event row with this key and seq was inserted in the current transaction. */
bool dedupe_add(dedupe *d, int64_t key, int64_t seq);

/* Between transactions: if keys are due to move into event_keys, move the next step of them in
 * a transaction of its own. False on a database error (nothing is lost: the step is retried). */
bool dedupe_step(dedupe *d, sqlite3 *db);

/* Inside the current write transaction: move every key above upto into event_keys if there are
 * more than STORE_DEDUPE_PENDING (hookd events import, before it commits). */
bool dedupe_settle(dedupe *d, sqlite3 *db);

/* Keys in memory (tests, metrics). */
size_t dedupe_pending(const dedupe *d);

#endif
