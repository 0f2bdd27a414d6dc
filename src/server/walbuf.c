/*
 * walbuf.c - the "hookd-wal" VFS: a transaction's WAL frames in a few large pwrite()s (walbuf.h).
 *
 * A wrapped file is our struct followed by the default VFS's own file object. Every method of a
 * WAL file first writes out the buffer (so the file is exactly what SQLite wrote) and then calls
 * the real one; only xWrite gathers. Other files get methods that only forward.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include <sqlite3.h>

#include "limits.h"
#include "walbuf.h"

typedef struct wal_file {
    sqlite3_file base;
    sqlite3_file *real;
    unsigned char *buf;   /* STORE_WALBUF_BYTES, allocated at the first write */
    size_t len;           /* bytes gathered */
    sqlite3_int64 at;     /* the file offset of buf[0] */
} wal_file;

static sqlite3_vfs *orig;
static sqlite3_vfs vfs;

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((wal_file *)f)->real;
}

/* The unix VFS writes at most 0x1ffff bytes per pwrite() (it masks the count: a write of exactly
 * 128 KiB would write nothing and report the disk full), so larger runs go in pieces of this. */
#define WRITE_MAX ((size_t)124 * 1024)

/* Write out what is gathered: a pwrite() per WRITE_MAX. The buffer is empty afterwards, written
 * or not (a failed write fails the transaction, which SQLite then rolls back). */
static int flush(wal_file *w)
{
    int rc = SQLITE_OK;
    for (size_t done = 0; rc == SQLITE_OK && done < w->len; done += WRITE_MAX) {
        size_t n = w->len - done < WRITE_MAX ? w->len - done : WRITE_MAX;
        rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)n,
                                       w->at + (sqlite3_int64)done);
    }
    w->len = 0;
    return rc;
}

/* ---- WAL files ------------------------------------------------------------------------------ */

static int wal_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    wal_file *w = (wal_file *)f;
    size_t n = (size_t)amt;
    if (w->len > 0 && off == w->at + (sqlite3_int64)w->len && w->len + n <= STORE_WALBUF_BYTES) {
        memcpy(w->buf + w->len, data, n);
        w->len += n;
        return SQLITE_OK;
    }
    int rc = flush(w);
    if (rc != SQLITE_OK)
        return rc;
    if (w->buf == NULL)
        w->buf = sqlite3_malloc(STORE_WALBUF_BYTES);
    if (w->buf == NULL || n > STORE_WALBUF_BYTES)
        return w->real->pMethods->xWrite(w->real, data, amt, off);
    memcpy(w->buf, data, n);
    w->len = n;
    w->at = off;
    return SQLITE_OK;
}

static int wal_close(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    int rc = flush(w);
    sqlite3_free(w->buf);
    w->buf = NULL;
    int rc2 = w->real->pMethods->xClose(w->real);
    return rc != SQLITE_OK ? rc : rc2;
}

/* The methods that must see the file as written: flush, then forward. */
#define FLUSHED(call)                                                                              \
    do {                                                                                           \
        int rc_ = flush((wal_file *)f);                                                            \
        if (rc_ != SQLITE_OK)                                                                      \
            return rc_;                                                                            \
        return call;                                                                               \
    } while (0)

static int wal_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    FLUSHED(real_of(f)->pMethods->xRead(real_of(f), out, amt, off));
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    FLUSHED(real_of(f)->pMethods->xTruncate(real_of(f), size));
}

static int wal_sync(sqlite3_file *f, int flags)
{
    FLUSHED(real_of(f)->pMethods->xSync(real_of(f), flags));
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    FLUSHED(real_of(f)->pMethods->xFileSize(real_of(f), size));
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
    FLUSHED(real_of(f)->pMethods->xFileControl(real_of(f), op, arg));
}

static int wal_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    FLUSHED(real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp));
}

/* ---- forwarded as they are (both kinds of file) --------------------------------------------- */

static int fwd_close(sqlite3_file *f) { return real_of(f)->pMethods->xClose(real_of(f)); }
static int fwd_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
    return real_of(f)->pMethods->xRead(real_of(f), out, amt, off);
}
static int fwd_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
    return real_of(f)->pMethods->xWrite(real_of(f), data, amt, off);
}
static int fwd_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
static int fwd_sync(sqlite3_file *f, int flags) { return real_of(f)->pMethods->xSync(real_of(f), flags); }
static int fwd_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
static int fwd_lock(sqlite3_file *f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
static int fwd_unlock(sqlite3_file *f, int level)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
static int fwd_check_reserved(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
static int fwd_file_control(sqlite3_file *f, int op, void *arg)
{
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int fwd_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
static int fwd_device(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int fwd_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, pp);
}
static int fwd_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
static void fwd_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
static int fwd_shm_unmap(sqlite3_file *f, int del)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}
static int fwd_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
    return real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp);
}
static int fwd_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static const sqlite3_io_methods wal_methods = {
    3,           wal_close,      wal_read,         wal_write,        wal_truncate,
    wal_sync,    wal_file_size,  fwd_lock,         fwd_unlock,       fwd_check_reserved,
    wal_file_control, fwd_sector_size, fwd_device, fwd_shm_map,      fwd_shm_lock,
    fwd_shm_barrier, fwd_shm_unmap, wal_fetch,     fwd_unfetch,
};

static const sqlite3_io_methods pass_methods = {
    3,           fwd_close,      fwd_read,         fwd_write,        fwd_truncate,
    fwd_sync,    fwd_file_size,  fwd_lock,         fwd_unlock,       fwd_check_reserved,
    fwd_file_control, fwd_sector_size, fwd_device, fwd_shm_map,      fwd_shm_lock,
    fwd_shm_barrier, fwd_shm_unmap, fwd_fetch,     fwd_unfetch,
};

/* The real file sits after ours, aligned as SQLite aligns its own (8 bytes). */
#define WRAPPER_SIZE ((sizeof(wal_file) + 7) & ~(size_t)7)

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    wal_file *w = (wal_file *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)(void *)((unsigned char *)f + WRAPPER_SIZE);
    int rc = orig->xOpen(orig, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (w->real->pMethods != NULL)
            w->real->pMethods->xClose(w->real);
        w->base.pMethods = NULL;
        return rc;
    }
    /* Version 3 methods are forwarded; an older real file would not have them all. */
    if (w->real->pMethods->iVersion < 3) {
        w->real->pMethods->xClose(w->real);
        w->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    w->base.pMethods = (flags & SQLITE_OPEN_WAL) != 0 ? &wal_methods : &pass_methods;
    return SQLITE_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool registered;

static void register_once(void)
{
    orig = sqlite3_vfs_find(NULL);
    if (orig == NULL)
        return;
    vfs = *orig; /* every other method is the default VFS's own */
    vfs.szOsFile = (int)(WRAPPER_SIZE + (size_t)orig->szOsFile);
    vfs.pNext = NULL;
    vfs.zName = WALBUF_VFS;
    vfs.xOpen = vfs_open;
    registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

bool walbuf_register(void)
{
    pthread_once(&once, register_once);
    return registered;
}
