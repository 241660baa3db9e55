/*
 * A profile's `.env` on the Hermes files actor (spec STORAGE §3.6): read inside the Hermes root, and several keys set in
 * one write. Shared by the routes that store secrets or settings there (tool configs, model keys). Actor thread only.
 */
#ifndef HL_ACTORS_HERMES_ENV_FILE_H
#define HL_ACTORS_HERMES_ENV_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/hermes_files.h"
#include "hl/hermes_read.h"
#include "hl/reply.h"

/** Keys to set in a `.env`, each once (a key added again takes the new value). Owns its strings; values are wiped. */
typedef struct st_hermes_env_changes_t {
    char **keys, **values;
    size_t count, _cap;
} hermes_env_changes_t;

/** Adds (or replaces) `key` = `value` (both copied). `key` must pass hl_dotenv_valid_key, `value` hold no NUL. */
void hermes_env_changes_add(hermes_env_changes_t *c, const char *key, const char *value);

/** The value set for `key`, or NULL. Borrowed. */
const char *hermes_env_changes_get(const hermes_env_changes_t *c, const char *key);

/** Frees (and wipes the values of) what `c` owns, leaving it empty. */
void hermes_env_changes_dispose(hermes_env_changes_t *c);

/**
 * Reads profile `name`'s `.env` (a valid name; the file must be a regular file inside the Hermes root, at most
 * HL_HERMES_MAX_FILE_BYTES): 0 with *env parsed (hl_dotenv_dispose); a missing file reads as empty. Otherwise -errno,
 * *env empty and *res the error to answer: 409 env_file_unsafe (a link out of the root, not a regular file, too large),
 * 500 internal_error.
 */
int hermes_env_read(hl_hermes_t *h, const char *name, hl_dotenv_t *env, hl_result_t **res);

/**
 * Sets every key of `changes` in profile `name`'s `.env` (hl_dotenv_set: the other lines byte for byte) and writes the
 * file once when its text changed: atomically, its mode kept (0600 for a new file), the old text kept as one backup of
 * which the five newest remain (hl_file_replace). The profile's folder must exist. NULL on success, with *backup_display
 * the backup's path relative to the Hermes root (NULL when none was made) and *changed whether the file changed;
 * otherwise the error to answer (409 env_file_unsafe, 500 internal_error) and the file untouched.
 */
hl_result_t *hermes_env_write(hl_hermes_t *h, const char *name, const hermes_env_changes_t *changes, char **backup_display,
                              bool *changed);

#endif
