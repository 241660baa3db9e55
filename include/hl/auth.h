/*
 * The auth actor (src/actors/auth*.c): owns devices and their access and refresh tokens in link.db and publishes the
 * valid access tokens into the token table that workers read. Every function here posts a job and returns at once;
 * the job answers `pending` (when given) after its transaction committed. Any thread unless stated.
 */
#ifndef HL_AUTH_H
#define HL_AUTH_H

#include <jansson.h>

#include "hl/db.h"
#include "hl/http.h"

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

/** Prepares the auth actor on link.db. Main thread. */
int hl_auth_actor_init(hl_db_actor_t *actor) HL_WARN_UNUSED;

/**
 * Worker-side bearer check for protected routes: on success sets r->device and returns 0; otherwise answers 401
 * (auth_required, device_access_token_invalid or auth_invalid, spec/API.md §1.7) and returns -1. No actor round trip.
 */
int hl_auth_check(hl_request_t *r);

/**
 * Worker-side check of routes that take a connect token as bearer (device-session): answers 401 auth_required without a
 * bearer, 403 app_connect_required for a valid device access token, 401 device_access_token_invalid for another hlat_
 * token; otherwise sets r->bearer for the handler (which asks the pairing actor) and returns 0.
 */
int hl_auth_check_connect(hl_request_t *r);

/**
 * Creates a device session (a new device, or the active device bound to the same app instance when `bind_app_instance`)
 * and answers 200 with {ok, link, device, access_token, refresh_token}. Takes ownership of `desc`.
 */
void hl_auth_create_session(hl_reply_to_t *reply_to, hl_device_descriptor_t *desc, bool bind_app_instance);

/** POST /auth/refresh with a non-empty refresh token; takes ownership of `token` and `desc`. */
void hl_auth_refresh(hl_reply_to_t *reply_to, char *token, hl_device_descriptor_t *desc);

/** POST /auth/logout: revokes the device of `token` (may be NULL); always answers {"ok":true}. Takes `token`. */
void hl_auth_logout(hl_reply_to_t *reply_to, char *token);

/** GET /devices for the caller `current_id`. */
void hl_auth_list_devices(hl_reply_to_t *reply_to, const char *current_id);

/** PATCH /devices/:id with an already validated label. */
void hl_auth_rename_device(hl_reply_to_t *reply_to, const char *device_id, const char *label, const char *current_id);

/** DELETE /devices/:id (revoke). */
void hl_auth_revoke_device(hl_reply_to_t *reply_to, const char *device_id, const char *current_id);

/** DELETE /devices/:id/app-listing (hide a revoked device). */
void hl_auth_hide_device(hl_reply_to_t *reply_to, const char *device_id, const char *current_id);

/**
 * Records that a device was seen (last_seen_at), optionally binding an app instance id and updating its model.
 * Fire-and-forget. NULL extras are ignored.
 */
void hl_auth_record_seen(const char *device_id, const char *app_instance_id, const char *model);

/**
 * GET /auth/me when the client headers change the device (model or app-instance binding): the auth actor applies the
 * change, publishes it, then answers the /auth/me body — so the next request already sees it.
 */
void hl_auth_me_update(hl_reply_to_t *reply_to, const char *device_id, const char *app_instance_id, const char *model);

/** True for "dev_" + 32 lowercase hex characters. */
bool hl_device_id_valid(const char *id);

#endif
