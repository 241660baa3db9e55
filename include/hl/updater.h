/*
 * The updater actor (src/actors/updater*.c): Hermes updates (`hermes update`, spec/API.md §13) and HermesLink's signed
 * self-update from a release feed (§14), plus the combined update summary and its dismissal (§16). One thread; child
 * processes and HTTP transfers are watched by its wait hook, so no request ever waits for them on a worker.
 */
#ifndef HL_UPDATER_H
#define HL_UPDATER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/actor.h"
#include "hl/link.h"
#include "hl/reply.h"

typedef struct st_hl_updater_t hl_updater_t;

/** The job topics of the status streams (HL_SSE_TOPIC_JOB keys) and their event names. */
#define HL_UPDATER_HERMES_TOPIC "hermes-update"
#define HL_UPDATER_HERMES_EVENT "hermes.update.status"
#define HL_UPDATER_LINK_TOPIC "link-update"
#define HL_UPDATER_LINK_EVENT "link.update.status"

/** Prepares the actor (reads the persisted job states when it starts). 0 or -errno. Main thread. */
int hl_updater_init(hl_updater_t **out, const hl_link_t *link) HL_WARN_UNUSED;

/** The actor (start, stop, in-flight bound). */
hl_actor_t *hl_updater_actor(hl_updater_t *u);

/** Frees it after hl_actor_stop (or when never started). Main thread. */
void hl_updater_dispose(hl_updater_t *u);

/** A job status as compact JSON text (borrowed for the call) for topic `topic`, at `version` (>= 1). */
typedef void (*hl_updater_status_fn)(void *data, const char *topic, const char *json, size_t len, int64_t version);

/** Calls `fn` on the actor's thread with every new status of either job. Main thread, before start. */
void hl_updater_observe(hl_updater_t *u, hl_updater_status_fn fn, void *data);

/**
 * Answers a stream's history read: calls `fn` once, on the actor's thread, with the topic's current status when its
 * version is above `after`, else with json NULL (version -1 when the daemon stops, or for an unknown topic). Any thread.
 */
void hl_updater_read(hl_updater_t *u, const char *topic, int64_t after, hl_updater_status_fn fn, void *data);

/** The Link version a feed check found newer than this build (NULL: none), on the actor's thread at each change. */
typedef void (*hl_updater_available_fn)(void *data, const char *version);

/** Registers the observer of the available Link version (system status). Main thread, before start. */
void hl_updater_observe_available(hl_updater_t *u, hl_updater_available_fn fn, void *data);

/** Asks the process to restart from the binary at `exe` (just replaced by a self-update); on the actor's thread. */
typedef void (*hl_updater_restart_fn)(void *data, const char *exe);

/**
 * Registers who restarts the process once a self-update installed a new binary (the daemon: re-exec with a rollback
 * guard). Without one the job ends restart_required. Main thread, before start.
 */
void hl_updater_on_restart(hl_updater_t *u, hl_updater_restart_fn fn, void *data);

/** GET /api/v1/hermes/update-check: runs `hermes version` and `hermes update --check` (bounded time); 200. Any thread. */
void hl_updater_hermes_check(hl_updater_t *u, hl_reply_to_t *to);

/** GET /api/v1/hermes/update/status: 200 HermesUpdateStatus. Any thread. */
void hl_updater_hermes_status(hl_updater_t *u, hl_reply_to_t *to);

/** POST /api/v1/hermes/update: starts `hermes update` unless one runs; 202 with the status either way. Any thread. */
void hl_updater_hermes_start(hl_updater_t *u, hl_reply_to_t *to);

/** GET /api/v1/link/update-check: the release feed's answer (cached for a while); 200. Any thread. */
void hl_updater_link_check(hl_updater_t *u, hl_reply_to_t *to);

/** GET /api/v1/link/update/status: 200 LinkUpdateStatus. Any thread. */
void hl_updater_link_status(hl_updater_t *u, hl_reply_to_t *to);

/**
 * POST /api/v1/link/update with `body` (a JSON object, borrowed for the call; target_version|targetVersion optional):
 * 202 with the status (running, or failed at once with error and manual_command). Any thread.
 */
void hl_updater_link_start(hl_updater_t *u, hl_reply_to_t *to, const json_t *body);

/** GET /api/v1/system/updates: {currentVersion, availableVersion, dismissed, hermes:{…}}. Any thread. */
void hl_updater_summary(hl_updater_t *u, hl_reply_to_t *to);

/** POST /api/v1/system/updates/dismiss: records updateDismissedAt in link-state.json; {"ok":true}. Any thread. */
void hl_updater_dismiss(hl_updater_t *u, hl_reply_to_t *to);

#endif
