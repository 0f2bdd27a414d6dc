/*
 * cmd_backup.c - hookd backup: an online, consistent copy of the store, while hookd serve runs.
 *
 * Restoring is a copy back: stop hookd serve, copy the backup over the store's file (removing the
 * store's -wal and -shm files beside it), start hookd serve (hookd(1), RESTORE).
 */
#include <stdio.h>

#include "cli.h"
#include "query.h"

static const char backup_help[] =
    "usage: hookd backup --to FILE (--db PATH | -c FILE)\n\n"
    "Copy the whole store into the new FILE while hookd serve keeps receiving: everything\n"
    "committed before the copy began is in it. FILE must not exist; a failed backup leaves\n"
    "nothing at FILE. Restore: stop hookd, copy FILE over the store (remove its -wal and -shm\n"
    "files), start hookd.\n";

int cmd_backup(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("backup", argc, argv, QUERY_TO, backup_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    if (a.to == NULL)
        return cli_usage_error("backup", "--to FILE is required");
    store_view *v = query_open("backup", a.db, a.file, false, NULL);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    char err[1200] = "";
    bool ok = store_view_backup(v, a.to, err, sizeof err);
    store_view_close(v);
    if (!ok) {
        fprintf(stderr, "hookd backup: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    printf("backed up to %s\n", a.to);
    return CLI_EXIT_OK;
}
