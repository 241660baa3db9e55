/*
 * The runproxy actor: hands conversation runs to Hermes's API server and turns the upstream events into store events
 * (HL_STORE_RUN_EVENT). Until the upstream integration lands, every run fails promptly with run.failed and
 * hermes_api_server_unavailable, so nothing stays queued or running.
 */
#ifndef HL_RUNPROXY_H
#define HL_RUNPROXY_H

#include <jansson.h>

#include "hl/actor.h"

/** Prepares the actor. Main thread. */
int hl_runproxy_actor_init(hl_actor_t *actor) HL_WARN_UNUSED;

/**
 * Starts a run: `run` (stolen) = {run_id, conversation_id, input, conversation_history, profile?, model?, session_id?,
 * attachments?}. Any thread.
 */
void hl_runproxy_start(json_t *run);

/** Cancels a run's upstream run, if it has one. Any thread. */
void hl_runproxy_cancel(const char *run_id);

/** Forwards an approval decision {run_id, approval_id, upstream_id, decision, scope} (stolen). Any thread. */
void hl_runproxy_approval(json_t *decision);

#endif
