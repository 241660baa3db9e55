/*
 * The auth actor (src/actors/auth*.c): owns devices and their access and refresh tokens in link.db and publishes the
 * valid access tokens into the token table that workers read. Every function here posts a job and returns at once;
 * the job answers its reply address (when given) after its transaction committed. Any thread unless stated.
 */
#ifndef HL_AUTH_H
#define HL_AUTH_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hl/db.h"
#include "hl/link.h"
#include "hl/reply.h"

/** Seconds between two last_seen_at writes for one device (debounce). */
#define HL_LAST_SEEN_INTERVAL_MS (60LL * 1000)

/** A device description as a client sends it; every field may be NULL (normalised by the actor). Owned strings. */
typedef struct st_hl_device_descriptor_t {
    char *label;
    char *platform;
    char *model;
    char *app_instance_id;
} hl_device_descriptor_t;

/** Reads the descriptor fields of a request body (device_label|deviceLabel, … , app_instance_id|appInstanceId). */
void hl_device_descriptor_from_json(hl_device_descriptor_t *d, json_t *body);

/** Frees the descriptor's strings. */
void hl_device_descriptor_dispose(hl_device_descriptor_t *d);

/** Devices (not hidden) by state, published by the auth actor after each change; any thread may read them. */
typedef struct st_hl_device_counts_t {
    atomic_uint total, active, revoked;
} hl_device_counts_t;

typedef struct st_hl_auth_t hl_auth_t;

/** Prepares the auth actor on link.db; it publishes device counts into `counts`. Main thread. */
int hl_auth_init(hl_auth_t **out, const hl_link_t *link, hl_device_counts_t *counts) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_auth_actor(hl_auth_t *a);

/** Frees it after hl_actor_stop (or when never started). Main thread. */
void hl_auth_dispose(hl_auth_t *a);

/**
 * Creates a device session (a new device, or the active device bound to the same app instance when `bind_app_instance`)
 * and answers 200 with {ok, link, device, access_token, refresh_token}. Takes ownership of `desc`.
 */
void hl_auth_create_session(hl_auth_t *a, hl_reply_to_t *reply_to, hl_device_descriptor_t *desc, bool bind_app_instance);

/** POST /auth/refresh with a non-empty refresh token; takes ownership of `token` and `desc`. */
void hl_auth_refresh(hl_auth_t *a, hl_reply_to_t *reply_to, char *token, hl_device_descriptor_t *desc);

/** POST /auth/logout: revokes the device of `token` (may be NULL); always answers {"ok":true}. Takes `token`. */
void hl_auth_logout(hl_auth_t *a, hl_reply_to_t *reply_to, char *token);

/** GET /devices for the caller `current_id`. */
void hl_auth_list_devices(hl_auth_t *a, hl_reply_to_t *reply_to, const char *current_id);

/** PATCH /devices/:id with an already validated label. */
void hl_auth_rename_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *label, const char *current_id);

/** DELETE /devices/:id (revoke). */
void hl_auth_revoke_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *current_id);

/** DELETE /devices/:id/app-listing (hide a revoked device). */
void hl_auth_hide_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *current_id);

/**
 * Records that a device was seen (last_seen_at), optionally binding an app instance id and updating its model.
 * Fire-and-forget. NULL extras are ignored.
 */
void hl_auth_record_seen(hl_auth_t *a, const char *device_id, const char *app_instance_id, const char *model);

/**
 * GET /auth/me when the client headers change the device (model or app-instance binding): the auth actor applies the
 * change, publishes it, then answers the /auth/me body — so the next request already sees it.
 */
void hl_auth_me_update(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *app_instance_id,
                       const char *model);

/**
 * `hermeslink import`: adds a device of the Node HermesLink (a normalised object of hl/node_home.h, borrowed) with its
 * token hashes, publishing its access token when live. Answers {imported: bool}: false when its id or one of its hashes
 * is already known here (nothing changes).
 */
void hl_auth_import_device(hl_auth_t *a, hl_reply_to_t *reply_to, json_t *device);

/** True for "dev_" + 32 lowercase hex characters. */
bool hl_device_id_valid(const char *id);

#endif
