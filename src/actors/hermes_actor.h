/*
 * Private to the Hermes files actor's sources: the actor's state, shared by hermes_files.c (lifecycle, upstream
 * resolution), hermes_snapshot.c (the profile list published to workers), hermes_status.c (HermesProfileStatus) and
 * hermes_manage*.c (the management routes' work). Everything here runs on the actor thread unless it says otherwise.
 */
#ifndef HL_ACTORS_HERMES_ACTOR_H
#define HL_ACTORS_HERMES_ACTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "hermes_create.h"
#include "hermes_registry.h"
#include "hl/hermes_files.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_read.h"
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
    hermes_snapshot_t *snapshot;             /* RCU-published (rcu_assign_pointer); read by workers */
    hermes_creation_t creation;              /* the profile being created, or the last one */
    hl_hermes_creation_fn creation_observer; /* told each new creation status (the event stream); set before start */
    void *creation_observer_data;
    /* memory changes waiting for Hermes's lock, oldest first (hermes_manage_memory.c) */
    struct st_hermes_manage_task_t *parked_head, *parked_tail;
};

/* ---- a management request (hermes_manage.c) ---- */

/** One request of the management routes, run on the actor. */
typedef struct st_hermes_manage_task_t {
    hl_task_t super;
    hl_hermes_t *h;
    hl_reply_to_t *to; /* answered exactly once (hermes_manage_finish), or handed on and set to NULL */
    char *name;        /* the profile as the route gave it, not yet checked */
    char *arg;         /* a second path parameter (a skill's name, a tool key), or NULL */
    json_t *body;      /* a copy of the request body, or NULL */
    int op;            /* which change, for tasks that share a runner */
    /* a memory change waiting for Hermes's lock (hermes_manage_memory.c): the next one parked, and until when it may wait */
    struct st_hermes_manage_task_t *next_parked;
    uint64_t parked_until_ms;
} hermes_manage_task_t;

/** Posts a task: `run` gets it on the actor and must end with hermes_manage_finish (or hermes_manage_free). */
hermes_manage_task_t *hermes_manage_post(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *arg, const json_t *body,
                                         int op, void (*run)(hl_task_t *));

/**
 * Tries the memory changes parked behind Hermes's lock again, oldest first, answering each that got through or waited too
 * long (503 memory_busy). Returns in how many ms to try again (-1: none left).
 */
int hermes_memory_retry_parked(hl_hermes_t *h);

/** Frees the parked memory changes (each answered 503: the daemon is stopping). */
void hermes_memory_drop_parked(hl_hermes_t *h);

/** Answers the task's request with `res` and frees the task. */
void hermes_manage_finish(hermes_manage_task_t *t, hl_result_t *res);

/** Frees the task (a request still unanswered gets 503: the daemon is stopping). */
void hermes_manage_free(hermes_manage_task_t *t);

/** True for a :name that may be read: a profile name (API.md §10's pattern, or default) not leading out of the root. */
bool hermes_readable_name(const hl_hermes_t *h, const char *name);

/** True for a :name whose files or metadata may be changed: readable, and default or a name Hermes itself gives
 * (^[a-z0-9][a-z0-9_-]{0,63}$); other folders are listed and readable but read-only (400 invalid_profile_name). */
bool hermes_writable_name(const hl_hermes_t *h, const char *name);

/** 400 invalid_profile_name. */
hl_result_t *hermes_invalid_name(void);

/** Counts a change of the creation status and hands it to the observer (hermes_manage_create.c). */
void hermes_creation_publish(hl_hermes_t *h);

/** Removes a folder and everything under it, depth first, never following a link or leaving its file system. 0 or -1. */
int hermes_remove_tree(const char *dir);

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

/* ---- editing a profile's config.yaml (hermes_config_file.c) ---- */

/** Makes new config.yaml text from the old (`len` bytes, "" for a missing file): 0 and *out (malloc'd), or a -errno of
 * hl_yaml_edit_* and a message in `err`. */
typedef int (*hermes_config_edit_fn)(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err,
                                     size_t errlen);

/**
 * Edits profile `name`'s config.yaml (it must exist): reads it (a missing file is empty), calls `edit`, and when the text
 * changed replaces the file keeping its mode, with a backup (hl_file_replace). NULL on success, with *backup_display the
 * backup's path relative to the Hermes root (NULL when none was made); else the error to answer: 409 config_yaml_invalid
 * (the file is not YAML HermesLink can edit: the file is untouched), 409 config_yaml_unsafe (a link, not a file),
 * 500 internal_error.
 */
hl_result_t *hermes_config_edit(hl_hermes_t *h, const char *name, hermes_config_edit_fn edit, void *ctx, char **backup_display);

/**
 * Reads profile `name`'s config.yaml (a missing file: "" and 0). 0 with *text (malloc'd, NUL-terminated), or the error
 * to answer in *res (409 config_yaml_unsafe for a link out of the root or a non-file, 500 internal_error).
 */
int hermes_config_read(hl_hermes_t *h, const char *name, char **text, size_t *len, hl_result_t **res);

/* ---- memory settings (hermes_memory_settings.c, hermes_manage_memory.c) ---- */

/** The memory view's "settings" of a profile: the built-in provider's limits and switches, or an external provider
 * (read-only, secrets hidden). New reference. */
json_t *hermes_memory_settings(hl_hermes_t *h, const char *name);

/** The whole memory view of an existing profile (200), or the error to answer. */
hl_result_t *hermes_memory_view(hl_hermes_t *h, const char *name);

/** PATCH …/memory/settings (`provider` NULL) or …/memory/providers/:provider/settings: the built-in provider's settings
 * in config.yaml; 409 memory_provider_external when an external provider keeps the memory. */
hl_result_t *hermes_memory_settings_patch(hl_hermes_t *h, const char *name, const char *provider, const json_t *body);

/** PATCH …/memory/provider {provider}: back to the built-in provider, or 409 for one only Hermes can set up. */
hl_result_t *hermes_memory_provider_patch(hl_hermes_t *h, const char *name, const json_t *body);

/* ---- views shared by the catalog and the statistics (hermes_manage_models.c, hermes_manage_settings.c) ---- */

/** The model-config listing of a profile ({configPath, defaultModel, …, models}; empty for one that does not exist),
 * or NULL with *res the error to answer (config.yaml unreadable or invalid). New reference. */
json_t *hermes_model_listing(hl_hermes_t *h, const char *name, hl_result_t **res);

/** The Permissions object of an existing profile, or NULL with *res the error to answer. New reference. */
json_t *hermes_permissions_of(hl_hermes_t *h, const char *name, hl_result_t **res);

#endif