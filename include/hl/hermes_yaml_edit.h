/*
 * Editing Hermes's config.yaml in place (domain layer, src/actors/hermes_yaml_edit.c and its helpers): set a scalar, set
 * a list of strings or delete a key at a path of mapping keys. Only the lines of the touched key change; comments, blank
 * lines, key order, the quoting of untouched values and unknown keys stay byte for byte (spec STORAGE §3.2 lists the keys
 * HermesLink writes, UPSTREAM-HERMES §2.3 how Hermes reads them). libyaml's parser locates the nodes; the document is
 * never re-emitted, and every result is parsed again and checked before it is returned.
 *
 * Pure functions on text, no I/O: any thread. Writing the result to disk is hl_file_replace (hl/file_replace.h).
 *
 * Every function takes the original text (`len` bytes, at most HL_HERMES_MAX_FILE_BYTES, UTF-8; empty or comments only
 * counts as an empty mapping), a path of `depth` (1..64) mapping keys from the top level, e.g. {"skills", "disabled"},
 * and an optional `err` buffer of `errlen` bytes for a message (keys and line numbers, never values). It returns 0 with
 * a NUL-terminated malloc'd *out of *out_len bytes (equal to the input when nothing changes), or a negative errno with
 * *out NULL:
 *   -EINVAL   the text is not valid YAML, not UTF-8, holds more than one document, its top level is not a mapping or it
 *             is nested more than 64 levels deep; or an argument is bad (empty path, a string that is not UTF-8);
 *   -EFBIG    the text, or the result, is larger than HL_HERMES_MAX_FILE_BYTES;
 *   -ENOTSUP  valid YAML this editor will not touch safely: an anchor, alias, merge key (`<<`) or tag on the edited path,
 *             a repeated key on it, an explicit `? key`, line breaks other than LF and CRLF;
 *   -ENOTDIR  a key before the last one on the path holds a value other than a mapping or null (set only);
 *   -ENOENT   (paths through lists, below) a list has no item of that index; a key to rename is missing;
 *   -EEXIST   (rename) the new key is already there.
 *
 * Written scalars are plain when YAML reads them back as the same value, else double-quoted with escapes (YAML 1.1 and
 * 1.2 special words such as yes/no/on/off/null/~, numbers and dates written as strings, leading or trailing blanks,
 * indicators, `: `, `#`, control characters). Integers in decimal, floats with a '.', booleans true/false, null as null.
 * New keys and missing parent mappings are appended at the end of their parent block, indented as the file is (default
 * 2 spaces); new lines use the file's line ending (LF or CRLF).
 */
#ifndef HL_HERMES_YAML_EDIT_H
#define HL_HERMES_YAML_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/common.h"

/** Longest path an edit takes (the reader's nesting limit too). */
#define HL_YAML_EDIT_MAX_DEPTH 64

typedef enum en_hl_yaml_type_t { HL_YAML_NULL, HL_YAML_BOOL, HL_YAML_INT, HL_YAML_FLOAT, HL_YAML_STRING } hl_yaml_type_t;

/** A scalar to write: the field of `type` is used. `string` is borrowed, NUL-terminated UTF-8. */
typedef struct st_hl_yaml_scalar_t {
    hl_yaml_type_t type;
    bool boolean;
    int64_t integer;
    double real; /* NaN and infinities are written .nan, .inf, -.inf */
    const char *string;
} hl_yaml_scalar_t;

/** A null, written `null`. */
static inline hl_yaml_scalar_t hl_yaml_null(void)
{
    return (hl_yaml_scalar_t){.type = HL_YAML_NULL};
}

/** A boolean, written `true` or `false`. */
static inline hl_yaml_scalar_t hl_yaml_bool(bool v)
{
    return (hl_yaml_scalar_t){.type = HL_YAML_BOOL, .boolean = v};
}

/** An integer, written in decimal. */
static inline hl_yaml_scalar_t hl_yaml_int(int64_t v)
{
    return (hl_yaml_scalar_t){.type = HL_YAML_INT, .integer = v};
}

/** A float, written in its shortest exact form with a '.' (1.0, 0.1, 1.0e+20). */
static inline hl_yaml_scalar_t hl_yaml_float(double v)
{
    return (hl_yaml_scalar_t){.type = HL_YAML_FLOAT, .real = v};
}

/** A string; `v` is borrowed until the edit returns. */
static inline hl_yaml_scalar_t hl_yaml_string(const char *v)
{
    return (hl_yaml_scalar_t){.type = HL_YAML_STRING, .string = v};
}

/**
 * Sets the value at `path` to `value`. An existing scalar or flow value is replaced where it stands (a comment after it
 * stays); an existing block value (mapping or list) is replaced by the scalar on the key's line and its lines removed.
 * Missing keys are created, with their missing parent mappings (a parent holding null becomes a mapping). A value that
 * already reads as `value` is left as written (its quoting kept; *out then equals the input). Errors as above.
 */
int hl_yaml_edit_set(const char *text, size_t len, const char *const *path, size_t depth, const hl_yaml_scalar_t *value, char **out,
                     size_t *out_len, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Sets the value at `path` to the list of `count` strings `items` (NULL allowed when `count` is 0). An existing flow list
 * `[a, b]` stays in flow style; otherwise the list is written in block style, one `- item` line per item, at the column
 * of the list it replaces or as the file indents lists under keys; an empty list is written `[]`. A list already holding
 * exactly these strings is left as written. Parents and errors as hl_yaml_edit_set.
 */
int hl_yaml_edit_set_strings(const char *text, size_t len, const char *const *path, size_t depth, const char *const *items,
                             size_t count, char **out, size_t *out_len, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Deletes the key at `path` with its value: the whole lines from the key's line to the last line of its value, nested
 * block included (in a flow mapping, the entry and one separating comma). A mapping left empty is written `{}` after its
 * key, so that it still reads as a mapping. A missing key (or parent, or a parent that is not a mapping) changes nothing.
 * Errors as above (never -ENOTDIR).
 */
int hl_yaml_edit_delete(const char *text, size_t len, const char *const *path, size_t depth, char **out, size_t *out_len, char *err,
                        size_t errlen) HL_WARN_UNUSED;

/* ---- paths through lists ---- */

/**
 * One step of a path: a key of a mapping, or, when `key` is NULL, item `index` (from 0) of a list, e.g.
 * {key("custom_providers"), item(2), key("model")}. A path starts with a key (the top level is a mapping).
 */
typedef struct st_hl_yaml_step_t {
    const char *key; /* borrowed, NUL-terminated UTF-8; NULL: an item step */
    size_t index;
} hl_yaml_step_t;

static inline hl_yaml_step_t hl_yaml_key(const char *key)
{
    return (hl_yaml_step_t){.key = key};
}

static inline hl_yaml_step_t hl_yaml_item(size_t index)
{
    return (hl_yaml_step_t){.index = index};
}

/*
 * The functions below are those above on a path of steps; the path ends with a key, except for a delete. Items are never
 * made: a missing item is -ENOENT (nothing for a delete), a step into something that is not a list (null included)
 * -ENOTDIR. An item reached by a later key must be a mapping (-ENOTDIR otherwise). Keys are edited in an item's mapping
 * as in any other, also the first one on the item's dash line (`- name: x`): when it is deleted, the next key moves up
 * next to the dash (or, with comment lines before it, the dash keeps a line of its own), and when it was the only one
 * the item becomes `- {}`.
 */

/** hl_yaml_edit_set on a path of steps. */
int hl_yaml_edit_set_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const hl_yaml_scalar_t *value,
                        char **out, size_t *out_len, char *err, size_t errlen) HL_WARN_UNUSED;

/** hl_yaml_edit_set_strings on a path of steps. */
int hl_yaml_edit_set_strings_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *const *items,
                                size_t count, char **out, size_t *out_len, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * hl_yaml_edit_delete on a path of steps. When the last step is an item, that item goes: in a block list its lines, from
 * its dash's line to its last content line (-ENOTSUP when its content does not start on its dash's line); in a flow
 * list the item and one separating comma. A list left without items is written `[]` after its key.
 */
int hl_yaml_edit_delete_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, char **out, size_t *out_len,
                           char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Renames the key at `path` (its last step) to `new_key`, the value untouched: only the key's own text changes. -ENOENT
 * when the key is missing, -EEXIST when `new_key` is already in that mapping (the same key: nothing changes).
 */
int hl_yaml_edit_rename_at(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *new_key, char **out,
                           size_t *out_len, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Appends an item to the list at `path`: a mapping of the `count` (at least 1) distinct `keys` to scalar `values`, in that
 * order. In a block list the item goes after its last content line, at its dash's column, its keys indented as the
 * first item's are (`- key: v` lines); in a flow list it is added as `{key: v, …}` after the last item. A missing key, or
 * one holding null or [], gets a block list of that one item (parents made as hl_yaml_edit_set does); anything else
 * there is -ENOTDIR.
 */
int hl_yaml_edit_append_mapping(const char *text, size_t len, const hl_yaml_step_t *path, size_t depth, const char *const *keys,
                                const hl_yaml_scalar_t *values, size_t count, char **out, size_t *out_len, char *err,
                                size_t errlen) HL_WARN_UNUSED;

#endif
