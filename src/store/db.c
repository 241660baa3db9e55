#include "hl/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hl/log.h"
#include "migrations.h"

#define BUSY_TIMEOUT_MS 5000

int hl_db_open(const char *path, sqlite3 **out)
{
    sqlite3 *db;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                                  "PRAGMA foreign_keys=ON;"
                                  "PRAGMA synchronous=FULL;"
                                  "PRAGMA temp_store=MEMORY;";
    if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -EIO;
    }
    *out = db;
    return 0;
}

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
    if ((ret = hl_db_open(path, &db)) != 0) {
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
