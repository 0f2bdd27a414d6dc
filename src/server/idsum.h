/*
 * idsum.h - summaries of the ids in each block of events (SQLite, schema 8): finding an event by
 * its id, or a call by its session, control or leg id, without an index keyed by random ids; and
 * since schema 10 each block's entries in event_ids and event_types, written once a block.
 *
 * Ids are random UUIDs; an index on them costs every event a random 4 KiB page, written to the
 * WAL and again by the checkpoint (issue #11), so the store has none. Instead, each block of
 * STORE_IDSUM_BLOCK consecutive seqs gets, once it is complete, a Bloom filter of its event,
 * control, leg and session ids (id_bloom, cut in STORE_IDSUM_SLICES slices so that a lookup reads
 * one slice of each block) and the range of its received times (id_blocks). The session id (a
 * call's key, as a rule) is in since schema 9, when the last index that found a call went.
 * Since schema 10 a block also writes, with its summary, its events' entries: event_ids (32-bit
 * digests of each event's id, control and leg ids and call key) and event_types (type, seq),
 * which replace the events table's type index and the id tails its received-time index carried:
 * SQLite maintained those in every commit, rewriting their last leaves and parents (~8 of the 28
 * pages a commit wrote); a block writes its entries once, in key order. A lookup tests one slice
 * per block and compares the digests of the blocks that may hold the id in event_ids, reading a
 * row only where one matches, and reads the rows of the newest events, in no block yet, by seq;
 * a list by type reads event_types below them, and the rows above (store_sqlite_view.c). A filter
 * never says no to an id it holds; a false yes costs one block's scan.
 *
 * The invariant the lookups rely on: every event whose seq is below the first seq after the
 * highest summarised block belongs to a block whose summary holds its ids and received time, and
 * has its entries. Whoever inserts events keeps it with idsum_row, in the insert's transaction:
 *   - the current (open) block's ids, digests and types are gathered in memory and written when
 *     the first event of the next block arrives; from memory only if this idsum saw every seq of
 *     the block inserted, and otherwise read back from the rows (another process inserted some:
 *     hookd import); types that do not fit in memory (STORE_IDSUM_TYPE_BYTES) are read back;
 *   - an event landing in a block below the open one (a seq reused after the newest events were
 *     deleted: hookd never does since schema 9's AUTOINCREMENT, but the sequence can be set back
 *     by other means) drops the summaries from its block up and gathers that block again from
 *     its rows; so does this idsum's open block found summarised by another writer.
 * A rolled-back transaction forgets what was gathered (idsum_forget); the next row reads its
 * block back. Deleted events leave their ids in a filter (a false yes, never a miss); their
 * entries are deleted with them (prune), and a lookup joins the rows, so one left behind by other
 * means finds nothing.
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
    /* The open block's entries (schema 10), by seq % STORE_IDSUM_BLOCK: the digests of each
     * event's id, control, leg id and call key (present: bit i set when the i-th is not NULL),
     * and its type as an index + 1 into `types` (0: none), a list of NUL-terminated names. */
    int32_t digest[STORE_IDSUM_BLOCK][4];
    uint8_t present[STORE_IDSUM_BLOCK];
    uint8_t type_of[STORE_IDSUM_BLOCK];
    char types[STORE_IDSUM_TYPE_BYTES];
    size_t types_used;     /* bytes of `types` in use */
    unsigned ntypes;
    bool types_spilled;    /* a type did not fit: the block's types are read from its rows */
    sqlite3_stmt *top;     /* the highest summarised block, prepared once */
} idsum;

/* The SQL functions the lookups use: hookd_idsum_slice(value) -> the slice that holds value's
 * bits (NULL for NULL), hookd_idsum_has(bits, value) -> 1 if that slice may hold value,
 * hookd_idsum_digest(value) -> the 32-bit digest event_ids keeps of it (NULL for NULL), the
 * same the writer computes in C. */
bool idsum_register(sqlite3 *db);

/* Finalize its statement (before the connection closes); the idsum may be used again. */
void idsum_release(idsum *st);

/* A write transaction begins on db (before any idsum_row in it). */
void idsum_begin(idsum *st);

/* The transaction rolled back: what was gathered may include rows that are gone. */
void idsum_forget(idsum *st);

/* A new event row was inserted with this seq, inside the current write transaction; ids are its
 * event id, control, leg and session ids (NULL where it has none), type its event_type (NULL:
 * none), each exactly as bound to the row. False on a database error (the caller fails the
 * transaction). */
bool idsum_row(idsum *st, sqlite3 *db, int64_t seq, int64_t received_us, const char *const ids[4],
               const char *type);

/* Summarise every complete block below the newest event's that has no summary yet (a store
 * upgraded to schema 8, or filled by other means), inside a write transaction. */
bool idsum_catch_up(sqlite3 *db);

/* After events were deleted: drop the summaries of blocks with no events left (all of them when
 * the table is empty, since seqs then start again from 1). */
bool idsum_prune(sqlite3 *db);

#endif
