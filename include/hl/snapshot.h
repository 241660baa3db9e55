/*
 * Published state: response bodies that change rarely (bootstrap, system status), rebuilt by the system actor and read by
 * workers without locks through RCU. A worker reads hl_snapshot_current() inside rcu_read_lock() and copies what it
 * needs before rcu_read_unlock().
 */
#ifndef HL_SNAPSHOT_H
#define HL_SNAPSHOT_H

#include <stddef.h>
#include <urcu.h>

typedef struct st_hl_snapshot_t {
    struct rcu_head _rcu;
    char *bootstrap_json;
    size_t bootstrap_len;
    char *system_status_json;
    size_t system_status_len;
    /** {"preferred_urls":[…],"lan_ips":[…],"tls_urls":[…]}: where the service is reachable, for pairing */
    char *urls_json;
} hl_snapshot_t;

/** The current snapshot (never NULL once the daemon serves). Inside rcu_read_lock only; pair with hl_snapshot_done. */
hl_snapshot_t *hl_snapshot_current(void);

/** Ends a read of s (from hl_snapshot_current; NULL is fine) before rcu_read_unlock: tells ThreadSanitizer the reads
 * come before the snapshot's free (liburcu's grace period is invisible to it). A no-op in other builds. */
void hl_snapshot_done(hl_snapshot_t *s);

/** Replaces the snapshot (ownership passes); the previous one is freed after a grace period. One writer thread at a time. */
void hl_snapshot_publish(hl_snapshot_t *snap);

/** A parsed copy of the current snapshot's urls_json (new reference; empty lists before the first publish). RCU reader. */
struct json_t *hl_snapshot_urls(void);

/** Frees the current snapshot at exit (no reader may remain). */
void hl_snapshot_clear(void);

#endif
