/*
 * Private to the Hermes files actor's sources: the actor's state, shared by hermes_files.c (lifecycle, upstream
 * resolution), hermes_snapshot.c (the profile list published to workers), hermes_status.c (HermesProfileStatus) and
 * hermes_manage*.c (the management routes' work). Everything here runs on the actor thread unless it says otherwise.
 */
#ifndef HL_ACTORS_HERMES_ACTOR_H
#define HL_ACTORS_HERMES_ACTOR_H

#include <jansson.h>
#include <stdbool.h>

#include "hermes_registry.h"
#include "hl/hermes_files.h"
#include "hl/reply.h"
#include "hl/store.h"

typedef struct st_hermes_snapshot_t hermes_snapshot_t;

struct st_hl_hermes_t {
    hl_actor_t actor;
    const hl_link_t *link;
    hl_store_t *store;       /* conversations of a deleted profile are deleted with it; NULL in unit tests */
    json_t *logged_warnings; /* profile → the warning last logged for it */
    hermes_registry_t registry;
    char *root;     /* the profiles root (STORAGE §3.1), as configured */
    int inotify_fd; /* -1 when inotify is unavailable: the snapshot is then refreshed by the actor's own changes, misses
                       and its tick */
    int watch_root; /* watch on <root> (to see profiles/ appear), -1 when none */
    int watch_dir;  /* watch on <root>/profiles, -1 when none */
    hermes_snapshot_t *snapshot; /* RCU-published (rcu_assign_pointer); read by workers */
};

/* ---- the published profile list (hermes_snapshot.c) ---- */

/** Reads the profile names again and publishes them when they changed (or when nothing was published yet). */
void hermes_snapshot_refresh(hl_hermes_t *h);

/** Frees the published list at dispose (no reader left). */
void hermes_snapshot_clear(hl_hermes_t *h);

/** Starts watching <root> and <root>/profiles with inotify (or re-arms the second after profiles/ appeared). */
void hermes_watch_update(hl_hermes_t *h);

/** Reads the pending inotify events; refreshes the snapshot when one concerns the profiles. */
void hermes_watch_handle(hl_hermes_t *h);

/* ---- profile status (hermes_status.c) ---- */

/** The directory of profile `name` relative to the profiles root, for display ("." for the home of default). */
char *hermes_display_dir(const hl_hermes_t *h, const char *name, const char *file);

/** True when the profile's directory exists inside the root (default: the Hermes home). `name` is valid. */
bool hermes_profile_exists(const hl_hermes_t *h, const char *name);

/**
 * True when something exists at the profile's place under <root>/profiles but, links resolved, lies outside the root (a
 * link leading out of the Hermes home): such a name is refused like a malformed one. False for default. `name` is valid.
 */
bool hermes_profile_escapes(const hl_hermes_t *h, const char *name);

/**
 * HermesProfileStatus of a valid profile name: {uid, name, active, path, configPath, displayName, description,
 * avatarType, avatarUrl, exists, apiKeyConfigured}; an existing profile gets its registry entry on first sight, one that
 * does not exist has none (uid null). Paths are relative to the profiles root. New reference.
 */
json_t *hermes_profile_status(hl_hermes_t *h, const char *name);

#endif
