/*
 * idsum.h - summaries of the ids in each block of events (SQLite, schema 8): finding an event by
 * its id, or a call by its session, control or leg id, without an index keyed by random ids.
 *
 * Ids are random UUIDs; an index on them costs every event a random 4 KiB page, written to the
 * WAL and again by the checkpoint (issue #11), so the store has none. Instead, each block of
 * STORE_IDSUM_BLOCK consecutive seqs gets, once it is complete, a Bloom filter of its event,
 * control, leg and session ids (id_bloom, cut in STORE_IDSUM_SLICES slices so that a lookup reads
 * one slice of each block) and the range of its received times (id_blocks). The session id (a
 * call's key, as a rule) is in since schema 9, when the last index that found a call went. A
 * lookup tests one slice per block and scans the received-time index over the blocks that may
 * hold the id, and the rows of the newest blocks that have no summary yet, by seq. A filter
 * never says no to an id it holds; a false yes costs one block's scan.
 *
 * The invariant the lookups rely on: every event whose seq is below the first seq after the
 * highest summarised block belongs to a block whose summary holds its ids and received time.
 * Whoever inserts events keeps it with idsum_row, in the insert's transaction:
 *   - the current (open) block's ids are gathered in memory and written when the first event of
 *     the next block arrives; from memory only if this idsum saw every seq of the block inserted,
 *     and otherwise read back from the rows (another process inserted some: hookd import);
 *   - an event landing in a block below the open one (a seq reused after the newest events were
 *     deleted: hookd never does since schema 9's AUTOINCREMENT, but the sequence can be set back
 *     by other means) drops the summaries from its block up and gathers that block again from
 *     its rows; so does this idsum's open block found summarised by another writer.
 * A rolled-back transaction forgets what was gathered (idsum_forget); the next row reads its
 * block back. Deleted events leave their ids in a filter (a false yes, never a miss).
 *
 * Threads: an idsum belongs to the connection that inserts (the writer thread, or the CLI's
 * import); the SQL functions (idsum_register) are pure and may be used on any connection.
 */
#ifndef HOOKD_IDSUM_H
#define HOOKD_IDSUM_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "limits.h"

typedef struct idsum {
    bool valid;            /* false: the open block is read back from its rows at the next row */
    bool checked;          /* this transaction has looked for another writer's summaries */
    int64_t open;          /* the open block: seq / STORE_IDSUM_BLOCK */
    int64_t lo_us, hi_us;  /* its received times so far */
    unsigned seen_count;   /* seqs of the open block this idsum saw inserted */
    uint8_t seen[STORE_IDSUM_BLOCK / 8];
    uint8_t bits[STORE_IDSUM_SLICES][STORE_IDSUM_SLICE_BYTES];
    sqlite3_stmt *top;     /* the highest summarised block, prepared once */
} idsum;

/* The SQL functions the lookups use: hookd_idsum_slice(value) -> the slice that holds value's
 * bits (NULL for NULL), hookd_idsum_has(bits, value) -> 1 if that slice may hold value. */
bool idsum_register(sqlite3 *db);

/* Finalize its statement (before the connection closes); the idsum may be used again. */
void idsum_release(idsum *st);

/* A write transaction begins on db (before any idsum_row in it). */
void idsum_begin(idsum *st);

/* The transaction rolled back: what was gathered may include rows that are gone. */
void idsum_forget(idsum *st);

/* A new event row was inserted with this seq, inside the current write transaction; ids are its
 * event id, control, leg and session ids (NULL where it has none). False on a database error
 * (the caller fails the transaction). */
bool idsum_row(idsum *st, sqlite3 *db, int64_t seq, int64_t received_us, const char *const ids[4]);

/* Summarise every complete block below the newest event's that has no summary yet (a store
 * upgraded to schema 8, or filled by other means), inside a write transaction. */
bool idsum_catch_up(sqlite3 *db);

/* After events were deleted: drop the summaries of blocks with no events left (all of them when
 * the table is empty, since seqs then start again from 1). */
bool idsum_prune(sqlite3 *db);

#endif
