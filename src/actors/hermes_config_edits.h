/*
 * A list of config.yaml edits applied one after another (hl/hermes_yaml_edit.h), as the callback of hermes_config_edit:
 * routes that change several keys at once plan the whole list first, then change the file once (one backup). Pure: any
 * thread; in the daemon, the Hermes files actor.
 */
#ifndef HL_ACTORS_HERMES_CONFIG_EDITS_H
#define HL_ACTORS_HERMES_CONFIG_EDITS_H

#include <stdbool.h>
#include <stddef.h>

#include "hl/hermes_yaml_edit.h"

#define HERMES_EDIT_MAX_DEPTH 4

typedef enum en_hermes_edit_kind_t { HERMES_EDIT_SET, HERMES_EDIT_STRINGS, HERMES_EDIT_DELETE } hermes_edit_kind_t;

/** One edit: its path holds static strings (string literals); a string value and list items are owned copies. */
typedef struct st_hermes_edit_t {
    hermes_edit_kind_t kind;
    const char *path[HERMES_EDIT_MAX_DEPTH];
    size_t depth;
    hl_yaml_scalar_t value; /* HERMES_EDIT_SET; a string points to `_string` */
    char *_string;
    char **items; /* HERMES_EDIT_STRINGS */
    size_t count;
} hermes_edit_t;

typedef struct st_hermes_edits_t {
    hermes_edit_t *items;
    size_t count, _cap;
    bool changed; /* set by hermes_edits_apply: the text it made differs from the one it was given */
} hermes_edits_t;

/** Sets the scalar at `path` (`depth` static keys, 1..HERMES_EDIT_MAX_DEPTH); a string value is copied. */
void hermes_edits_set(hermes_edits_t *e, const char *const *path, size_t depth, hl_yaml_scalar_t value);

/** Sets the list of strings at `path` to `count` copies of `items`. */
void hermes_edits_strings(hermes_edits_t *e, const char *const *path, size_t depth, const char *const *items, size_t count);

/** Deletes the key at `path`. */
void hermes_edits_delete(hermes_edits_t *e, const char *const *path, size_t depth);

/**
 * hermes_config_edit_fn over a hermes_edits_t (ctx): applies the edits in order to `text`; 0 and *out, or the first
 * editor error (its message in `err`). Sets e->changed.
 */
int hermes_edits_apply(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err, size_t errlen);

/** Frees what `e` owns, leaving it empty. */
void hermes_edits_dispose(hermes_edits_t *e);

#endif
