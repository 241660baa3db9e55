/*
 * The schema of link.db (store layer): forward-only migrations embedded in the binary, run by the main thread before any
 * actor starts.
 */
#ifndef HL_DB_SCHEMA_H
#define HL_DB_SCHEMA_H

#include <stddef.h>

#include "hl/common.h"

/** Newest schema version this binary knows. */
int hl_db_schema_version(void);

/**
 * Creates or upgrades `path` to the newest schema. Refuses a database newer than this binary. 0 or -errno with a
 * message in err. Main thread, before actors start.
 */
int hl_db_migrate(const char *path, char *err, size_t errlen) HL_WARN_UNUSED;

#endif
