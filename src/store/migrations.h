/*
 * The schema of link.db as forward-only migrations: hl_migrations[i] brings user_version i to i + 1.
 * Never edit a released migration; append a new one.
 */
#ifndef HL_STORE_MIGRATIONS_H
#define HL_STORE_MIGRATIONS_H

#include <stddef.h>

extern const char *const hl_migrations[];
extern const size_t hl_num_migrations;

#endif
