/*
 * walbuf.h - an SQLite VFS that writes a transaction's WAL frames with one system call.
 *
 * SQLite writes each WAL frame as two pwrite() calls (a 24-byte header, then the page): about
 * four system calls per stored event, the largest share of a request's calls. The "hookd-wal"
 * VFS wraps the default one and, for WAL files only, gathers writes that continue one another in
 * a buffer of STORE_WALBUF_BYTES, written out in 124 KiB pwrite()s before anything that must see
 * them: a sync (every commit, at durability = full), a read, a size, a truncate, a close, a
 * write elsewhere in the file, or a full buffer. Other files pass straight through.
 *
 * Only for synchronous = FULL: there every commit syncs the WAL before it makes its frames
 * visible to other connections, so what they read is always on file. Under synchronous =
 * NORMAL a commit does not sync, and other connections could look for frames still in the
 * buffer; store_sqlite.c opens the writer through this VFS only at durability = full.
 *
 * Thread rules: a file belongs to one connection, which SQLite uses from one thread at a time;
 * the buffer needs no lock. walbuf_register() may be called from any thread, any number of times.
 */
#ifndef HOOKD_WALBUF_H
#define HOOKD_WALBUF_H

#include <stdbool.h>

#define WALBUF_VFS "hookd-wal"

/* Register the VFS (once per process); false if SQLite has no default VFS to wrap. */
bool walbuf_register(void);

#endif
