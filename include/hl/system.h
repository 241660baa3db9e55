/*
 * The system actor (src/actors/system*.c): network discovery, the published bootstrap/system-status snapshot, and the
 * reports that read files (status, logs).
 */
#ifndef HL_SYSTEM_H
#define HL_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/actor.h"
#include "hl/auth.h"
#include "hl/hermes_files.h"
#include "hl/link.h"
#include "hl/reply.h"

typedef struct st_hl_system_t hl_system_t;

/**
 * Prepares the system actor; starting it publishes the first snapshot before hl_actor_start returns. `counts` are the
 * device counts the auth actor publishes. Main thread.
 */
int hl_system_init(hl_system_t **out, const hl_link_t *link, const hl_device_counts_t *counts) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_system_actor(hl_system_t *sys);

/** Lets the status report count the profiles the Hermes files actor publishes. Main thread, before start. */
void hl_system_set_hermes(hl_system_t *sys, hl_hermes_t *hermes);

/**
 * Sets the Link version system/status reports as updateAvailable (NULL: none; copied) and republishes the snapshot, on the
 * actor's thread. Any thread, while the actor runs.
 */
void hl_system_set_update_available(hl_system_t *sys, const char *version);

/** Frees it after hl_actor_stop (or when never started). Main thread. */
void hl_system_dispose(hl_system_t *sys);

/** GET /api/v1/status: the summary (spec/API.md §5). Any thread. */
void hl_system_status(hl_system_t *sys, hl_reply_to_t *to);

/** GET /api/v1/logs: the newest `limit` lines of HermesLink's own log; `source` is echoed (the gateway's log is the Hermes
 * files actor's: hl_hermes_gateway_logs). */
void hl_system_logs(hl_system_t *sys, hl_reply_to_t *to, const char *source, size_t limit);

/** What hl_system_autostart does. */
typedef enum en_hl_system_autostart_t {
    HL_SYSTEM_AUTOSTART_SHOW,
    HL_SYSTEM_AUTOSTART_ENABLE,
    HL_SYSTEM_AUTOSTART_DISABLE,
} hl_system_autostart_t;

/**
 * Autostart (hl/autostart.h) on the system actor, which may run systemctl (bounded) without holding up a worker: shows,
 * enables (for this binary and home; no second daemon is started) or disables it, republishes system/status, and answers
 * OK with {"supported","enabled","method","filePath"} (a failure to write shows as enabled:false and is logged). Any thread.
 */
void hl_system_autostart(hl_system_t *sys, hl_reply_to_t *to, hl_system_autostart_t action);

#endif
