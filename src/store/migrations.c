#include "migrations.h"

const char *const hl_migrations[] = {
    /* 1: the foundation — facts about the database itself */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",
};

const size_t hl_num_migrations = sizeof(hl_migrations) / sizeof(hl_migrations[0]);
