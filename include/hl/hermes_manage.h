/*
 * Managing Hermes profiles (spec/API.md §10), on the Hermes files actor (domain layer, src/actors/hermes_manage*.c): the
 * only code that writes HERMES_HOME. Each call posts the work and answers `to` from the actor's thread; names are
 * checked before any path is built (400 invalid_profile_name; so is a name whose folder is a link leading out of the Hermes
 * root, and, on PATCH and DELETE, a folder name Hermes would not give: such a profile is read-only), and answers never
 * carry the user's absolute paths (paths are shown relative to the Hermes profiles root). Bodies are copied: the caller
 * keeps its own.
 */
#ifndef HL_HERMES_MANAGE_H
#define HL_HERMES_MANAGE_H

#include <jansson.h>
#include <stddef.h>

#include "hl/hermes_files.h"
#include "hl/reply.h"
#include "hl/store.h"

/** Lets a deleted profile's conversations be deleted with it. Main thread, before the actor starts. */
void hl_hermes_set_store(hl_hermes_t *h, hl_store_t *store);

/**
 * The whole answer of GET /api/v1/profiles, {"ok":true,"profiles":["default",…]}, from the list the actor publishes
 * (no hop): a malloc'd copy and its length, or NULL before the actor published one. Worker thread (an RCU reader).
 */
char *hl_hermes_profiles_reply(hl_hermes_t *h, size_t *len);

/** 1 when `name` is in the published profile list, 0 when not, -1 before the first list. RCU reader thread. */
int hl_hermes_profile_listed(hl_hermes_t *h, const char *name);

/** {"profile":HermesProfileStatus} of `name`: 200 also for a profile that does not exist (exists:false). */
void hl_hermes_profile_status_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/**
 * PATCH /api/v1/profiles/:name: a string `name` in `body` renames the profile (its folder, HermesLink's metadata, and
 * <root>/active_profile when it named the profile);
 * otherwise the metadata (displayName, description, avatarType, avatarUrl) changes. {"profile":Status}.
 */
void hl_hermes_profile_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/**
 * DELETE /api/v1/profiles/:name: the folder, HermesLink's metadata, <root>/active_profile when it named the profile, and
 * the profile's conversations. OK, empty body.
 */
void hl_hermes_profile_delete(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

#endif
