/*
 * Private to the Hermes files actor: what HermesLink keeps about each Hermes profile beyond Hermes's own files — a
 * stable uid (`prof_<32 hex>`), a display name, a description and an avatar (spec/API.md §10, HermesProfileStatus).
 * Kept in `<HERMESLINK_HOME>/profiles.json` (0600, replaced atomically), loaded once; a profile gets its entry when it is
 * first seen existing, never for a name that does not exist. Actor thread only.
 */
#ifndef HL_ACTORS_HERMES_REGISTRY_H
#define HL_ACTORS_HERMES_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>

typedef struct st_hermes_registry_t {
    char *path;
    /* name → {"uid","displayName","description","avatarType","avatarUrl","createdAt","updatedAt"} */
    json_t *profiles;
    bool changed; /* an entry was made, moved or removed since the profile snapshot last looked (its uids) */
} hermes_registry_t;

/** Loads the registry of `link_home` (a missing file is an empty registry; an unreadable one is logged and set aside
 * as profiles.json.bad so that it is not overwritten). */
void hermes_registry_open(hermes_registry_t *reg, const char *link_home);

/** Frees it. */
void hermes_registry_dispose(hermes_registry_t *reg);

/** The entry of `name` (borrowed), or NULL. */
json_t *hermes_registry_find(const hermes_registry_t *reg, const char *name);

/** The entry of `name`, made (new uid, default avatar) and saved when missing. Borrowed. */
json_t *hermes_registry_ensure(hermes_registry_t *reg, const char *name);

/**
 * Sets the entry's metadata fields present in `changes` ("displayName", "description", "avatarType", "avatarUrl"; a
 * JSON null clears) and its updatedAt, then saves. 0 or -errno (the registry is then unchanged).
 */
int hermes_registry_update(hermes_registry_t *reg, const char *name, json_t *changes);

/** Moves the entry of `from` to `to` (replacing any stale entry of `to`) and saves. 0 or -errno. */
int hermes_registry_rename(hermes_registry_t *reg, const char *from, const char *to);

/** Removes the entry of `name` (if any) and saves. 0 or -errno. */
int hermes_registry_remove(hermes_registry_t *reg, const char *name);

#endif
