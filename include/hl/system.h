/*
 * The system actor (src/actors/system.c): network discovery and the published bootstrap/system-status snapshot.
 */
#ifndef HL_SYSTEM_H
#define HL_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/actor.h"
#include "hl/reply.h"

/** Prepares the system actor; starting it publishes the first snapshot before hl_actor_start returns. Main thread. */
int hl_system_actor_init(hl_actor_t *actor) HL_WARN_UNUSED;

/** GET /api/v1/status: the summary (spec/API.md §5). Any thread. */
void hl_system_status(hl_actor_t *system, hl_reply_to_t *to);

/** GET /api/v1/logs: the newest `limit` lines of the gateway's log for source "gateway", else of ours; `source` is echoed. */
void hl_system_logs(hl_actor_t *system, hl_reply_to_t *to, const char *source, size_t limit);

#endif
