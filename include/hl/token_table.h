/*
 * The published access-token table (DESIGN §1 "token checks without a hop"): a liburcu lock-free hash table from the
 * SHA-256 of an access token to the device it authenticates. The auth actor is its only writer; workers read it
 * under rcu_read_lock(), so an authenticated request costs no actor round trip, and a revocation is visible to the very
 * next request once the writer returns.
 */
#ifndef HL_TOKEN_TABLE_H
#define HL_TOKEN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/tokens.h"

/** What a valid access token resolves to (copied out of the table). */
typedef struct st_hl_auth_device_t {
    const char *id;
    const char *label;
    const char *platform;
    const char *model; /* NULL when unknown */
    bool app_instance_bound;
    int64_t access_expires_at;
    /** the serialised Device object {id, device_id, label, platform, model, scope}; built by the table on put */
    const char *json;
} hl_auth_device_t;

/** Creates the table. Main thread, before workers and the auth actor start. */
void hl_token_table_init(void);

/** Destroys the table and every entry. Main thread, after workers and the auth actor stopped. */
void hl_token_table_destroy(void);

/**
 * Publishes (adds or replaces) the entry for an access-token hash. Writer (auth actor) only; takes the RCU read lock
 * itself. `dev` is copied (its `json` is ignored and rebuilt, so readers can answer /auth/me without serialising).
 */
void hl_token_table_put(const hl_token_hash_t *hash, const hl_auth_device_t *dev);

/** Removes the entry for an access-token hash, if any. Writer only. */
void hl_token_table_remove(const hl_token_hash_t *hash);

/** Removes every entry whose access token expired before `now_ms`. Writer only. Returns how many were removed. */
size_t hl_token_table_prune(int64_t now_ms);

/**
 * A counter that moves on every put, remove and prune that changed the table (any thread). A reader that saw the same
 * value before and after checking a set of hashes knows none of them was revoked or replaced meanwhile; a changed value
 * means "check again" (event streams re-check their tokens only then, or when one of them reaches its expiry).
 * Read with acquire ordering: lookups made after a load see every change counted up to that value.
 */
uint64_t hl_token_table_generation(void);

/** Number of entries (approximate while writes happen). */
unsigned long hl_token_table_count(void);

/** Callback receiving a copy of the entry while the RCU read lock is held; copy what is needed. */
typedef void (*hl_token_table_visit_cb)(const hl_auth_device_t *dev, void *data);

/**
 * Looks up a hash valid at `now_ms`: calls `visit` (when not NULL) inside the read-side critical section and returns true, or
 * returns false when absent or expired. When `seen_interval_ms` has passed since this entry last asked for a last-seen write,
 * *post_seen is set (once per interval per entry, across all workers). Reader threads (RCU-registered).
 */
bool hl_token_table_lookup(const hl_token_hash_t *hash, int64_t now_ms, int64_t seen_interval_ms, bool *post_seen,
                           hl_token_table_visit_cb visit, void *data);

#endif
