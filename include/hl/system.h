/*
 * The system actor (src/actors/system.c): network discovery and the published bootstrap/system-status snapshot.
 */
#ifndef HL_SYSTEM_H
#define HL_SYSTEM_H

#include "hl/actor.h"

/** Prepares the system actor; starting it publishes the first snapshot before hl_actor_start returns. Main thread. */
int hl_system_actor_init(hl_actor_t *actor) HL_WARN_UNUSED;

#endif
