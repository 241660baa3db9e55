#include "hl/db_schema.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hl/db.h"
#include "hl/log.h"
#include "migrations.h"

int hl_db_schema_version(void)
{
    return (int)hl_num_migrations;
}

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -EIO;
}

int hl_db_migrate(const char *path, char *err, size_t errlen)
{
    sqlite3 *db;
    int ret, current = 0;
    if ((ret = hl_db_open(path, false, &db)) != 0) {
        snprintf(err, errlen, "cannot open link.db");
        return ret;
    }
    if ((ret = user_version(db, &current)) != 0) {
        snprintf(err, errlen, "cannot read the link.db schema version: %s", sqlite3_errmsg(db));
        goto Exit;
    }
    if (current > (int)hl_num_migrations) {
        snprintf(err, errlen, "link.db has schema version %d, newer than this binary (%d); upgrade HermesLink", current,
                 (int)hl_num_migrations);
        ret = -EINVAL;
        goto Exit;
    }
    for (int v = current; v < (int)hl_num_migrations; ++v) {
        char *sqlerr = NULL, *set = hl_asprintf("PRAGMA user_version=%d;", v + 1);
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &sqlerr);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, hl_migrations[v], NULL, NULL, &sqlerr);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, set, NULL, NULL, &sqlerr);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &sqlerr);
        free(set);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "link.db migration %d failed: %s", v + 1, sqlerr != NULL ? sqlerr : "unknown error");
            sqlite3_free(sqlerr);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            ret = -EIO;
            goto Exit;
        }
        hl_logf(HL_LOG_INFO, "link.db migrated to schema version %d", v + 1);
    }
Exit:
    sqlite3_close(db);
    return ret;
}
