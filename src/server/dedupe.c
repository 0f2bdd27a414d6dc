/*
 * dedupe.c - the SQLite store's deduplication (dedupe.h): keys in memory for the newest events,
 * moved into event_keys in sorted steps, and the lookups over both.
 *
 * The memory side is an open-addressing table of (key, seq), seq 0 marking a free slot; a key may
 * appear more than once (a collision, or an id stored twice by a store older than schema 9).
 * Entries leave it only in bulk (a finished merge, a rolled-back transaction), by rebuilding it.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dedupe.h"
#include "limits.h"
#include "store_sqlite.h"

typedef struct pair {
    int64_t key, seq;
} pair;

struct dedupe {
    pair *slots;
    size_t cap, count;   /* cap: a power of two */
    int64_t hw;          /* the highest seq gathered (this transaction's included) */
    int64_t hw_begin;    /* hw when the current transaction began */
    int64_t upto;        /* event_keys holds the key of every event up to this seq */
    pair *merge;         /* a merge under way: its keys, sorted by (key, seq) */
    size_t merge_len, merge_done;
    int64_t merge_upto;  /* ... every entry with seq <= this */
    sqlite3_stmt *top, *gap, *probe, *put, *sweep, *raise;
};

/* Public and fixed: keys must agree between processes and versions. It only spreads ids; a
 * sender who made two collide would cost itself one more row read, never a wrong answer. */
static const unsigned char key_of_keys[crypto_shorthash_KEYBYTES] = "hookd dedupe v1";

bool dedupe_key(const char *id, const char *endpoint, int64_t *key)
{
    size_t a = strlen(id), b = strlen(endpoint);
    unsigned char stack[2 * HOOKD_MAX_FIELD_LEN + 2];
    unsigned char *buf = a + b + 1 > sizeof stack ? malloc(a + b + 1) : stack;
    if (buf == NULL)
        return false;
    memcpy(buf, id, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, endpoint, b);
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, buf, a + b + 1, key_of_keys);
    uint64_t out = 0;
    for (int i = 0; i < 8; i++)
        out = out << 8 | h[i];
    if (buf != stack)
        free(buf);
    *key = (int64_t)out;
    return true;
}

static void fn_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *id = (const char *)sqlite3_value_text(argv[0]);
    const char *endpoint = (const char *)sqlite3_value_text(argv[1]);
    int64_t key = 0;
    if (id == NULL || endpoint == NULL)
        sqlite3_result_null(ctx);
    else if (!dedupe_key(id, endpoint, &key))
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_int64(ctx, key);
}

bool dedupe_register(sqlite3 *db)
{
    return sqlite3_create_function(db, "hookd_dedupe_key", 2,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   fn_key, NULL, NULL)
           == SQLITE_OK;
}

/* ---- the table in memory -------------------------------------------------------------------- */

static size_t slot_of(const dedupe *d, int64_t key)
{
    uint64_t k = (uint64_t)key; /* already a hash */
    return (size_t)(k ^ k >> 32) & (d->cap - 1);
}

static void place(pair *slots, size_t cap, pair p)
{
    uint64_t k = (uint64_t)p.key;
    size_t i = (size_t)(k ^ k >> 32) & (cap - 1);
    while (slots[i].seq != 0)
        i = (i + 1) & (cap - 1);
    slots[i] = p;
}

/* Rebuild with room for `need` entries at least, keeping those with lo < seq <= hi. */
static bool rebuild(dedupe *d, size_t need, int64_t lo, int64_t hi)
{
    size_t keep = 0;
    for (size_t i = 0; i < d->cap; i++)
        keep += d->slots[i].seq > lo && d->slots[i].seq <= hi;
    if (need < keep)
        need = keep;
    size_t cap = 1024;
    while (cap / 4 * 3 <= need)
        cap *= 2;
    pair *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    size_t count = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].seq > lo && d->slots[i].seq <= hi) {
            place(slots, cap, d->slots[i]);
            count++;
        }
    free(d->slots);
    d->slots = slots;
    d->cap = cap;
    d->count = count;
    return true;
}

static bool remember(dedupe *d, int64_t key, int64_t seq)
{
    if ((d->count + 1) * 4 > d->cap * 3 && !rebuild(d, d->count * 2 + 1, 0, INT64_MAX))
        return false;
    place(d->slots, d->cap, (pair){key, seq});
    d->count++;
    if (seq > d->hw)
        d->hw = seq;
    return true;
}

size_t dedupe_pending(const dedupe *d)
{
    return d->count;
}

/* ---- statements ----------------------------------------------------------------------------- */

static bool prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    return *st != NULL || sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK;
}

/* Gather the rows above hw: another writer's, or all those above upto at open. Rows another
 * writer has moved into event_keys already (hookd events import settles a large import) are not
 * gathered again: upto covers them. */
static bool gather(dedupe *d, sqlite3 *db)
{
    if (!prep(db, &d->top,
              "SELECT coalesce((SELECT max(seq) FROM events), 0),"
              " coalesce((SELECT max(upto) FROM dedupe_state), 0)"))
        return false;
    int64_t top = 0, upto = 0;
    int rc = sqlite3_step(d->top);
    if (rc == SQLITE_ROW) {
        top = sqlite3_column_int64(d->top, 0);
        upto = sqlite3_column_int64(d->top, 1);
    }
    sqlite3_reset(d->top);
    if (rc != SQLITE_ROW)
        return false;
    if (upto > d->upto)
        d->upto = upto;
    if (upto > d->hw)
        d->hw = upto;
    if (top <= d->hw)
        return true;
    if (!prep(db, &d->gap, "SELECT seq, id, endpoint FROM events WHERE seq > ?1 ORDER BY seq"))
        return false;
    sqlite3_bind_int64(d->gap, 1, d->hw);
    bool ok = true;
    while (ok && (rc = sqlite3_step(d->gap)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(d->gap, 1);
        const char *endpoint = (const char *)sqlite3_column_text(d->gap, 2);
        int64_t key = 0;
        ok = dedupe_key(id != NULL ? id : "", endpoint != NULL ? endpoint : "", &key)
             && remember(d, key, sqlite3_column_int64(d->gap, 0));
    }
    sqlite3_reset(d->gap);
    return ok && rc == SQLITE_DONE;
}

/* Move the key of every event above upto into event_keys at once, in the caller's transaction;
 * memory keeps only what is above the new upto (nothing). */
static bool bulk(dedupe *d, sqlite3 *db)
{
    int64_t top = 0;
    bool ok = store_sqlite_run_int(db, "SELECT coalesce(max(seq), 0) FROM events", 0, 0, &top)
              && store_sqlite_run_int(db,
                                      "INSERT OR IGNORE INTO event_keys (h, seq)"
                                      " SELECT hookd_dedupe_key(id, endpoint), seq FROM events"
                                      " WHERE seq > ?1 AND seq <= ?2 ORDER BY 1, 2",
                                      d->upto, top, NULL)
              && store_sqlite_run_int(db, "UPDATE dedupe_state SET upto = max(upto, ?1)", top, 0,
                                      NULL);
    if (ok) {
        d->upto = top > d->upto ? top : d->upto;
        ok = rebuild(d, 0, d->upto, INT64_MAX);
    }
    return ok;
}

static bool read_upto(sqlite3 *db, int64_t *upto)
{
    return store_sqlite_run_int(db, "SELECT coalesce((SELECT max(upto) FROM dedupe_state), 0)",
                                0, 0, upto);
}

dedupe *dedupe_open(sqlite3 *db)
{
    dedupe *d = calloc(1, sizeof *d);
    int64_t top = 0;
    if (d == NULL || !rebuild(d, 0, 0, 0) || !read_upto(db, &d->upto)
        || !store_sqlite_run_int(db, "SELECT coalesce(max(seq), 0) FROM events", 0, 0, &top))
        goto fail;
    if (top - d->upto > STORE_DEDUPE_PENDING) {
        bool ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
                  && read_upto(db, &d->upto) && bulk(d, db)
                  && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        if (!ok) {
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    d->hw = d->upto;
    if (gather(d, db)) {
        d->hw_begin = d->hw;
        return d;
    }
fail:
    dedupe_free(d);
    return NULL;
}

void dedupe_free(dedupe *d)
{
    if (d == NULL)
        return;
    sqlite3_stmt *all[] = {d->top, d->gap, d->probe, d->put, d->sweep, d->raise};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    free(d->slots);
    free(d->merge);
    free(d);
}

bool dedupe_begin(dedupe *d, sqlite3 *db)
{
    d->hw_begin = d->hw;
    return gather(d, db);
}

void dedupe_forget(dedupe *d)
{
    /* Out of memory, the keys stay: an entry whose row is gone only costs a row read. */
    if (d->hw > d->hw_begin)
        (void)rebuild(d, 0, 0, d->hw_begin);
    d->hw = d->hw_begin;
}

/* ---- lookups -------------------------------------------------------------------------------- */

bool dedupe_find(dedupe *d, sqlite3 *db, int64_t key, dedupe_match_fn *fn, void *ctx,
                 bool *found)
{
    bool failed = false;
    *found = false;
    for (size_t i = slot_of(d, key); d->slots[i].seq != 0; i = (i + 1) & (d->cap - 1))
        if (d->slots[i].key == key && fn(ctx, d->slots[i].seq, &failed))
            return *found = true;
        else if (failed)
            return false;
    /* event_keys, a few seqs at a time: fn writes, so no statement stays open across it. */
    if (!prep(db, &d->probe,
              "SELECT seq FROM event_keys WHERE h = ?1 AND seq > ?2 ORDER BY seq LIMIT 8"))
        return false;
    int64_t after = 0;
    for (;;) {
        int64_t seqs[8];
        int n = 0, rc;
        sqlite3_bind_int64(d->probe, 1, key);
        sqlite3_bind_int64(d->probe, 2, after);
        while ((rc = sqlite3_step(d->probe)) == SQLITE_ROW)
            seqs[n++] = sqlite3_column_int64(d->probe, 0);
        sqlite3_reset(d->probe);
        if (rc != SQLITE_DONE)
            return false;
        for (int i = 0; i < n; i++)
            if (fn(ctx, seqs[i], &failed))
                return *found = true;
            else if (failed)
                return false;
        if (n < 8)
            return true;
        after = seqs[n - 1];
    }
}

bool dedupe_add(dedupe *d, int64_t key, int64_t seq)
{
    return remember(d, key, seq);
}

/* ---- merging into event_keys ---------------------------------------------------------------- */

static int by_key(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool start_merge(dedupe *d)
{
    d->merge = malloc(d->count * sizeof *d->merge);
    if (d->merge == NULL)
        return false;
    d->merge_len = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].seq != 0)
            d->merge[d->merge_len++] = d->slots[i];
    qsort(d->merge, d->merge_len, sizeof *d->merge, by_key);
    d->merge_done = 0;
    d->merge_upto = d->hw;
    return true;
}

/* One step, in the open transaction: the next keys, and a sweep of the entries of deleted
 * events over the key range they cover; the last step raises upto. */
static bool merge_step(dedupe *d, sqlite3 *db, size_t n, bool last)
{
    if (!prep(db, &d->put, "INSERT OR IGNORE INTO event_keys (h, seq) VALUES (?1, ?2)")
        || !prep(db, &d->sweep,
                 "DELETE FROM event_keys WHERE h BETWEEN ?1 AND ?2"
                 " AND seq < (SELECT coalesce(min(seq), ?3) FROM events)")
        || !prep(db, &d->raise, "UPDATE dedupe_state SET upto = max(upto, ?1)"))
        return false;
    const pair *p = d->merge + d->merge_done;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(d->put, 1, p[i].key);
        sqlite3_bind_int64(d->put, 2, p[i].seq);
        int rc = sqlite3_step(d->put);
        sqlite3_reset(d->put);
        if (rc != SQLITE_DONE)
            return false;
    }
    /* The steps' ranges cover every key: [INT64_MIN, first step's last key], then from each
     * step's last key to the next one's (that key twice: harmless), the last up to INT64_MAX. */
    sqlite3_bind_int64(d->sweep, 1, d->merge_done == 0 ? INT64_MIN : p[-1].key);
    sqlite3_bind_int64(d->sweep, 2, last ? INT64_MAX : p[n - 1].key);
    sqlite3_bind_int64(d->sweep, 3, d->merge_upto + 1);
    int rc = sqlite3_step(d->sweep);
    sqlite3_reset(d->sweep);
    if (rc != SQLITE_DONE)
        return false;
    if (last) {
        sqlite3_bind_int64(d->raise, 1, d->merge_upto);
        rc = sqlite3_step(d->raise);
        sqlite3_reset(d->raise);
    }
    return rc == SQLITE_DONE;
}

bool dedupe_step(dedupe *d, sqlite3 *db)
{
    if (d->merge == NULL && (d->count < STORE_DEDUPE_PENDING || !start_merge(d)))
        return d->count < STORE_DEDUPE_PENDING;
    size_t n = d->merge_len - d->merge_done;
    if (n > STORE_DEDUPE_STEP)
        n = STORE_DEDUPE_STEP;
    bool last = d->merge_done + n == d->merge_len;
    bool ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
              && dedupe_begin(d, db) && merge_step(d, db, n, last)
              && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        dedupe_forget(d);
        return false;
    }
    d->merge_done += n;
    if (last) {
        if (d->merge_upto > d->upto)
            d->upto = d->merge_upto;
        free(d->merge);
        d->merge = NULL;
        /* Cannot fail for lack of memory in a way that loses keys: on failure they stay. */
        (void)rebuild(d, d->count, d->upto, INT64_MAX);
    }
    return true;
}

bool dedupe_settle(dedupe *d, sqlite3 *db)
{
    if (d->hw - d->upto <= STORE_DEDUPE_PENDING)
        return true;
    free(d->merge); /* a merge under way is covered by the bulk move */
    d->merge = NULL;
    return bulk(d, db);
}
