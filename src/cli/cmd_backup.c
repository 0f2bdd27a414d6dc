/*
 * cmd_backup.c - hookd backup: an online, consistent copy of the store, while hookd serve runs;
 * hookd migrate: create the store, or bring its schema up to date, explicitly; and hookd prune:
 * retention by hand.
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

static const char migrate_help[] =
    "usage: hookd migrate (--db URL | -c FILE)\n\n"
    "Create the store, or bring its schema up to date, and exit. hookd serve does the same at\n"
    "start (several at once are safe); this makes an upgrade a step of its own. A store newer\n"
    "than this hookd is refused.\n";

int cmd_migrate(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("migrate", argc, argv, 0, migrate_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    char url[600], err[768];
    if (a.db == NULL && a.file == NULL)
        return cli_usage_error("migrate", "say which store: --db URL or -c FILE");
    if (!query_url("migrate", a.db, a.file, url, sizeof url))
        return CLI_EXIT_FAIL;
    if (!store_migrate(url, err, sizeof err)) {
        fprintf(stderr, "hookd migrate: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    char shown[sizeof url];
    store_url_shown(url, shown, sizeof shown);
    printf("%s: schema up to date\n", shown);
    return CLI_EXIT_OK;
}

static const char prune_help[] =
    "usage: hookd prune --before TIME [--dry-run] (--db PATH | -c FILE)\n\n"
    "Remove the events received before TIME (Unix seconds, ISO 8601, or an age like 30d) with\n"
    "their deliveries and attempts, in small transactions while hookd serve may run. An event\n"
    "that still owes a delivery (pending, retry, waiting, in flight) is kept. --dry-run only\n"
    "counts. [store] retain does the same in the background.\n";

int cmd_prune(int argc, char **argv)
{
    query_args a;
    int rc = query_parse_args("prune", argc, argv, QUERY_BEFORE | QUERY_DRY_RUN, prune_help, &a);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!a.has_before)
        return cli_usage_error("prune", "--before TIME is required");
    store_view *v = query_open("prune", a.db, a.file, !a.dry_run, NULL);
    if (v == NULL)
        return CLI_EXIT_FAIL;
    long removed = 0;
    bool ok = store_view_prune(v, a.before_us, a.dry_run, &removed);
    if (!ok)
        fprintf(stderr, "hookd prune: %s (%ld events were removed before it)\n", store_view_errmsg(v),
                removed);
    else
        printf("%s %ld events\n", a.dry_run ? "would remove" : "removed", removed);
    store_view_close(v);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
