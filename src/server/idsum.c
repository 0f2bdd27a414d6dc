/*
 * idsum.c - the id summaries of blocks of events (idsum.h): the Bloom filters, the gathering
 * as events are inserted, and the SQL functions the lookups test them with.
 *
 * The hash is FNV-1a finished by splitmix64's mixer: ids are chosen by signed senders, and a
 * sender who made its ids collide would only make lookups scan more blocks (never miss one).
 * The slice comes from the hash's top bits, the probes from double hashing of the rest.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "idsum.h"
#include "store_sqlite.h"

#define SLICE_BITS ((uint64_t)STORE_IDSUM_SLICE_BYTES * 8)

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t hash(const unsigned char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return mix(h);
}

/* The 32-bit digest of an id that event_ids keeps (schema 10), from its hash: signed, so that
 * SQLite stores it in 4 bytes. */
static int32_t digest_of(uint64_t h)
{
    return (int32_t)((int64_t)(h & 0xffffffffu) - 0x80000000LL);
}

static unsigned slice_of(uint64_t h)
{
    return (unsigned)(h >> 59) % STORE_IDSUM_SLICES;
}

/* The i-th bit of an id within its slice. */
static unsigned probe(uint64_t h, unsigned i)
{
    uint64_t h2 = mix(h ^ 0x9e3779b97f4a7c15ULL) | 1;
    return (unsigned)((h + i * h2) % SLICE_BITS);
}

/* Set an id's bits, given its hash. */
static void add_id(idsum *st, uint64_t h)
{
    uint8_t *bits = st->bits[slice_of(h)];
    for (unsigned i = 0; i < STORE_IDSUM_PROBES; i++) {
        unsigned b = probe(h, i);
        bits[b / 8] |= (uint8_t)(1u << (b % 8));
    }
}

/* ---- SQL functions -------------------------------------------------------------------------- */

static void fn_slice(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *v = sqlite3_value_text(argv[0]);
    if (v == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int(ctx, (int)slice_of(hash(v, (size_t)sqlite3_value_bytes(argv[0]))));
}

static void fn_digest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *v = sqlite3_value_text(argv[0]);
    if (v == NULL)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int(ctx, digest_of(hash(v, (size_t)sqlite3_value_bytes(argv[0]))));
}

static void fn_has(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const uint8_t *bits = sqlite3_value_blob(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    const unsigned char *v = sqlite3_value_text(argv[1]);
    if (bits == NULL || v == NULL || len != STORE_IDSUM_SLICE_BYTES) {
        /* Not a summary this build wrote: say "may hold", so the block is scanned. */
        sqlite3_result_int(ctx, v != NULL);
        return;
    }
    uint64_t h = hash(v, (size_t)sqlite3_value_bytes(argv[1]));
    int yes = 1;
    for (unsigned i = 0; yes && i < STORE_IDSUM_PROBES; i++) {
        unsigned b = probe(h, i);
        yes = (bits[b / 8] >> (b % 8)) & 1;
    }
    sqlite3_result_int(ctx, yes);
}

bool idsum_register(sqlite3 *db)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    return sqlite3_create_function(db, "hookd_idsum_slice", 1, flags, NULL, fn_slice, NULL, NULL)
               == SQLITE_OK
           && sqlite3_create_function(db, "hookd_idsum_digest", 1, flags, NULL, fn_digest, NULL,
                                      NULL)
                  == SQLITE_OK
           && sqlite3_create_function(db, "hookd_idsum_has", 2, flags, NULL, fn_has, NULL, NULL)
                  == SQLITE_OK;
}

/* ---- gathering ------------------------------------------------------------------------------ */

static void start(idsum *st, int64_t block)
{
    st->valid = true;
    st->open = block;
    st->lo_us = INT64_MAX;
    st->hi_us = INT64_MIN;
    st->seen_count = 0;
    memset(st->seen, 0, sizeof st->seen);
    memset(st->bits, 0, sizeof st->bits);
    memset(st->present, 0, sizeof st->present);
    memset(st->type_of, 0, sizeof st->type_of);
    st->types_used = 0;
    st->ntypes = 0;
    st->types_spilled = false;
}

/* The index + 1 of type in the open block's list, added if new; 0 when it does not fit (the
 * block's types are then read back from its rows). */
static uint8_t intern_type(idsum *st, const char *type)
{
    size_t at = 0;
    for (unsigned i = 0; i < st->ntypes; i++) {
        if (strcmp(st->types + at, type) == 0)
            return (uint8_t)(i + 1);
        at += strlen(st->types + at) + 1;
    }
    size_t len = strlen(type) + 1;
    if (st->ntypes >= UINT8_MAX || len > sizeof st->types - st->types_used) {
        st->types_spilled = true;
        return 0;
    }
    memcpy(st->types + st->types_used, type, len);
    st->types_used += len;
    return (uint8_t)++st->ntypes;
}

static bool was_seen(const idsum *st, unsigned k)
{
    return st->seen[k / 8] & (1u << (k % 8));
}

static void add_row(idsum *st, int64_t seq, int64_t received_us, const char *const ids[4],
                    const char *type)
{
    unsigned k = (unsigned)(seq % STORE_IDSUM_BLOCK);
    /* Each id is hashed once, for its bits in the filter (the empty id has none) and its digest.
     * event_ids' columns are the id, control and leg ids, and the call key, which is the events
     * table's coalesce(call_session_id, call_control_id, call_leg_id, ''). */
    uint64_t h[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (ids[i] != NULL) {
            h[i] = hash((const unsigned char *)ids[i], strlen(ids[i]));
            if (ids[i][0] != '\0')
                add_id(st, h[i]);
        }
    }
    int key = ids[3] != NULL ? 3 : ids[1] != NULL ? 1 : ids[2] != NULL ? 2 : -1;
    st->present[k] = 1u << 3;
    st->digest[k][3] = digest_of(key >= 0 ? h[key] : hash((const unsigned char *)"", 0));
    for (int i = 0; i < 3; i++) {
        if (ids[i] != NULL) {
            st->digest[k][i] = digest_of(h[i]);
            st->present[k] |= (uint8_t)(1u << i);
        }
    }
    st->type_of[k] = type != NULL && !st->types_spilled ? intern_type(st, type) : 0;
    if (!was_seen(st, k)) {
        st->seen[k / 8] |= (uint8_t)(1u << (k % 8));
        st->seen_count++;
    }
    if (received_us < st->lo_us)
        st->lo_us = received_us;
    if (received_us > st->hi_us)
        st->hi_us = received_us;
}

/* Gather block `block` from its rows, as they are in this transaction. */
static bool read_back(idsum *st, sqlite3 *db, int64_t block)
{
    start(st, block);
    sqlite3_stmt *q = NULL;
    static const char sql[] = "SELECT seq, received_at_us, id, call_control_id, call_leg_id,"
                              " call_session_id, event_type FROM events"
                              " WHERE seq BETWEEN ?1 AND ?2";
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_int64(q, 1, block * STORE_IDSUM_BLOCK);
    sqlite3_bind_int64(q, 2, block * STORE_IDSUM_BLOCK + STORE_IDSUM_BLOCK - 1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *ids[4];
        for (int i = 0; i < 4; i++)
            ids[i] = (const char *)sqlite3_column_text(q, 2 + i);
        add_row(st, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), ids,
                (const char *)sqlite3_column_text(q, 6));
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE;
}

/* Prepare two statements (both finalized by the caller, prepared or not). */
static bool prepare_two(sqlite3 *db, const char *sql_a, sqlite3_stmt **a, const char *sql_b,
                        sqlite3_stmt **b)
{
    return sqlite3_prepare_v2(db, sql_a, -1, a, NULL) == SQLITE_OK
           && sqlite3_prepare_v2(db, sql_b, -1, b, NULL) == SQLITE_OK;
}

typedef struct type_name {
    const char *name;
    uint8_t index; /* in type_of */
} type_name;

/* Order of two names in the open block's list, as SQLite's BINARY collation orders them. */
static int by_name(const void *a, const void *b)
{
    return strcmp(((const type_name *)a)->name, ((const type_name *)b)->name);
}

/* The gathered block's types in event_types, from memory: each type's events together, types
 * in name order, so that each run is appended where that type's run ends. */
static bool write_types(const idsum *st, sqlite3_stmt *ins, int64_t first)
{
    type_name order[UINT8_MAX];
    size_t at = 0;
    for (unsigned i = 0; i < st->ntypes; i++) {
        order[i] = (type_name){.name = st->types + at, .index = (uint8_t)(i + 1)};
        at += strlen(order[i].name) + 1;
    }
    if (st->ntypes > 0)
        qsort(order, st->ntypes, sizeof order[0], by_name);
    bool ok = true;
    for (unsigned n = 0; ok && n < st->ntypes; n++) {
        sqlite3_bind_text(ins, 1, order[n].name, -1, SQLITE_STATIC);
        for (unsigned k = 0; ok && k < STORE_IDSUM_BLOCK; k++) {
            if (st->type_of[k] != order[n].index || !was_seen(st, k))
                continue;
            sqlite3_bind_int64(ins, 2, first + k);
            ok = sqlite3_step(ins) == SQLITE_DONE;
            sqlite3_reset(ins);
        }
    }
    return ok;
}

/* The gathered block's entries in event_ids and event_types (schema 10). SQLite's own indexes
 * on the events table rewrote their last leaves and parents in every commit (8 of the 28 pages a
 * commit wrote, issue #11); these are written once a block, in key order. A block whose types
 * did not all fit in memory takes them from its rows. */
static bool write_entries(const idsum *st, sqlite3 *db)
{
    int64_t first = st->open * STORE_IDSUM_BLOCK;
    sqlite3_stmt *ids = NULL, *types = NULL;
    bool ok = prepare_two(db,
                          "INSERT OR REPLACE INTO event_ids (seq, id_d, control_d, leg_d, key_d)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)",
                          &ids,
                          "INSERT OR IGNORE INTO event_types (event_type, seq) VALUES (?1, ?2)",
                          &types);
    for (unsigned k = 0; ok && k < STORE_IDSUM_BLOCK; k++) {
        if (!was_seen(st, k))
            continue;
        sqlite3_bind_int64(ids, 1, first + k);
        for (int i = 0; i < 4; i++) {
            if (st->present[k] & (1u << i))
                sqlite3_bind_int(ids, 2 + i, st->digest[k][i]);
            else
                sqlite3_bind_null(ids, 2 + i);
        }
        ok = sqlite3_step(ids) == SQLITE_DONE;
        sqlite3_reset(ids);
    }
    if (ok && st->types_spilled)
        ok = store_sqlite_run_int(db,
                                  "INSERT OR IGNORE INTO event_types (event_type, seq)"
                                  " SELECT event_type, seq FROM events WHERE seq BETWEEN ?1 AND ?2"
                                  " AND event_type IS NOT NULL ORDER BY 1, 2",
                                  first, first + STORE_IDSUM_BLOCK - 1, NULL);
    else if (ok)
        ok = write_types(st, types, first);
    sqlite3_finalize(ids);
    sqlite3_finalize(types);
    return ok;
}

/* Write the gathered block's summary and entries (nothing for a block with no rows). */
static bool write_summary(const idsum *st, sqlite3 *db)
{
    if (st->seen_count == 0)
        return true;
    sqlite3_stmt *b = NULL, *f = NULL;
    bool ok = prepare_two(db,
                          "INSERT OR REPLACE INTO id_blocks (block, lo_us, hi_us)"
                          " VALUES (?1, ?2, ?3)",
                          &b,
                          "INSERT OR REPLACE INTO id_bloom (slice, block, bits)"
                          " VALUES (?1, ?2, ?3)",
                          &f);
    if (ok) {
        sqlite3_bind_int64(b, 1, st->open);
        sqlite3_bind_int64(b, 2, st->lo_us);
        sqlite3_bind_int64(b, 3, st->hi_us);
        ok = sqlite3_step(b) == SQLITE_DONE;
    }
    for (int i = 0; ok && i < STORE_IDSUM_SLICES; i++) {
        sqlite3_bind_int(f, 1, i);
        sqlite3_bind_int64(f, 2, st->open);
        sqlite3_bind_blob(f, 3, st->bits[i], STORE_IDSUM_SLICE_BYTES, SQLITE_STATIC);
        ok = sqlite3_step(f) == SQLITE_DONE;
        sqlite3_reset(f);
    }
    sqlite3_finalize(b);
    sqlite3_finalize(f);
    return ok && write_entries(st, db);
}

/* Summarise, from their rows, the blocks from the one after the highest summary up to (not
 * including) `below`. */
static bool seal_up_to(sqlite3 *db, int64_t below)
{
    int64_t from = 0, first_seq = 0;
    if (!store_sqlite_run_int(db, "SELECT coalesce(max(block), -1) + 1 FROM id_blocks", 0, 0,
                              &from)
        || !store_sqlite_run_int(db, "SELECT coalesce(min(seq), 0) FROM events", 0, 0,
                                 &first_seq))
        return false;
    if (from < first_seq / STORE_IDSUM_BLOCK)
        from = first_seq / STORE_IDSUM_BLOCK;
    if (from >= below)
        return true;
    idsum *tmp = sqlite3_malloc(sizeof *tmp);
    bool ok = tmp != NULL;
    for (int64_t block = from; ok && block < below; block++)
        ok = read_back(tmp, db, block) && write_summary(tmp, db);
    sqlite3_free(tmp);
    return ok;
}

/* Drop the entries of the events from seq `first` up. A block's type entries are written and
 * deleted with its event_ids, so none there means none at all: a delete by seq walks the whole
 * of event_types (45 ms at a million events), and every writer's first insert reopens its
 * block. */
static bool drop_entries(sqlite3 *db, int64_t first)
{
    int64_t any = 0;
    return store_sqlite_run_int(db, "SELECT EXISTS (SELECT 1 FROM event_ids WHERE seq >= ?1)",
                                first, 0, &any)
           && (any == 0
               || (store_sqlite_run_int(db, "DELETE FROM event_ids WHERE seq >= ?1", first, 0, NULL)
                   && store_sqlite_run_int(db, "DELETE FROM event_types WHERE seq >= ?1", first, 0,
                                           NULL)));
}

/* Drop the summaries of the blocks from `block` up (from_up) or below it. id_bloom is keyed
 * slice first, so it is deleted a slice's range at a time (a delete by block alone scans it). */
static bool drop_summaries(sqlite3 *db, bool from_up, int64_t block)
{
    static const char *const blocks[] = {"DELETE FROM id_blocks WHERE block < ?1",
                                         "DELETE FROM id_blocks WHERE block >= ?1"};
    static const char *const blooms[] = {"DELETE FROM id_bloom WHERE slice = ?1 AND block < ?2",
                                         "DELETE FROM id_bloom WHERE slice = ?1 AND block >= ?2"};
    /* The entries go with the summaries from a block up (reopen: a seq reused may name an event
     * of another type now); below, prune has deleted those of the events it deleted. */
    sqlite3_stmt *st = NULL;
    bool ok = (!from_up || drop_entries(db, block * STORE_IDSUM_BLOCK))
              && store_sqlite_run_int(db, blocks[from_up], block, 0, NULL)
              && sqlite3_prepare_v2(db, blooms[from_up], -1, &st, NULL) == SQLITE_OK;
    for (int i = 0; ok && i < STORE_IDSUM_SLICES; i++) {
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_int64(st, 2, block);
        ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return ok;
}

/* Make `block` the open one: drop the summaries from it up, summarise what lies below it, and
 * gather it from its rows (which include the row just inserted). */
static bool reopen(idsum *st, sqlite3 *db, int64_t block)
{
    st->valid = false;
    bool ok = drop_summaries(db, true, block) && seal_up_to(db, block) && read_back(st, db, block);
    st->valid = ok;
    return ok;
}

void idsum_release(idsum *st)
{
    sqlite3_finalize(st->top);
    st->top = NULL;
}

void idsum_begin(idsum *st)
{
    st->checked = false;
}

void idsum_forget(idsum *st)
{
    st->valid = false;
}

bool idsum_row(idsum *st, sqlite3 *db, int64_t seq, int64_t received_us, const char *const ids[4],
               const char *type)
{
    int64_t block = seq / STORE_IDSUM_BLOCK;
    if (st->valid && !st->checked) {
        /* Once per transaction: another writer may have summarised our open block since. */
        if (st->top == NULL
            && sqlite3_prepare_v2(db, "SELECT coalesce(max(block), -1) FROM id_blocks", -1,
                                  &st->top, NULL) != SQLITE_OK)
            return false;
        bool row = sqlite3_step(st->top) == SQLITE_ROW;
        int64_t top = row ? sqlite3_column_int64(st->top, 0) : INT64_MAX;
        sqlite3_reset(st->top);
        if (!row)
            return false;
        st->valid = top < st->open;
    }
    st->checked = true;
    if (!st->valid || block < st->open)
        return reopen(st, db, block);
    if (block > st->open) {
        /* The open block is complete. Its summary comes from memory only if every one of its
         * seqs was inserted here; otherwise from its rows. */
        if (st->seen_count < STORE_IDSUM_BLOCK && !read_back(st, db, st->open))
            return false;
        if (!write_summary(st, db) || !seal_up_to(db, block))
            return false;
        start(st, block);
    }
    add_row(st, seq, received_us, ids, type);
    return true;
}

bool idsum_catch_up(sqlite3 *db)
{
    int64_t top = 0;
    return store_sqlite_run_int(db, "SELECT coalesce(max(seq), 0) FROM events", 0, 0, &top)
           && seal_up_to(db, top / STORE_IDSUM_BLOCK);
}

bool idsum_prune(sqlite3 *db)
{
    /* Runs after every prune batch: two lookups on primary keys unless a block has emptied. */
    int64_t below = 0, oldest = 0;
    static const char first[] = "SELECT coalesce((SELECT min(seq) FROM events) / "
                                HK_STR(STORE_IDSUM_BLOCK) ", 1 << 62)";
    if (!store_sqlite_run_int(db, first, 0, 0, &below)
        || !store_sqlite_run_int(db, "SELECT coalesce(min(block), 1 << 62) FROM id_blocks", 0, 0,
                                 &oldest))
        return false;
    return oldest >= below || drop_summaries(db, false, below);
}
