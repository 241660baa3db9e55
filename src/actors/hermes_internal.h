/*
 * Private to the Hermes files actor's sources (src/actors/hermes_*.c): reading a file of a profile without leaving the
 * Hermes home.
 */
#ifndef HL_HERMES_INTERNAL_H
#define HL_HERMES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <yaml.h>

/** realpath() of the profiles root of `hermes_home` (hl_hermes_profiles_root), or NULL when it does not exist. Caller frees. */
char *hermes_root_real(const char *hermes_home);

/** True when the resolved path `real` is `root_real` or lies under it. */
int hermes_path_inside(const char *root_real, const char *real);

/**
 * True when `path` exists, is a directory and, symbolic links resolved, lies inside `root_real` (the root itself
 * included). `root_real` NULL: false.
 */
int hermes_dir_inside(const char *root_real, const char *path);

/**
 * Reads <dir>/<name> when it is a regular file inside `root_real` (symbolic links resolved) of at most
 * HL_HERMES_MAX_FILE_BYTES. 0 with a NUL-terminated malloc'd *text; -ENOENT when the file does not exist (not a problem:
 * Hermes does not need it); another -errno otherwise (-EXDEV: a link out of the root, -EFBIG: too large, -EINVAL: not
 * a regular file).
 */
int hermes_read_file(const char *root_real, const char *dir, const char *name, char **text, size_t *len);

/** Adds a warning line (taken over) to *warning, joined with "; " to those before. */
void hermes_add_warning(char **warning, char *line);

/** A boolean as Hermes reads it: true/yes/on → 1, false/no/off → 0 (any case), also 1/0 with `digits`; else -1. */
int hermes_parse_bool(const char *v, bool digits);

/* ---- YAML (hermes_yaml.c) ---- */

/**
 * Loads the first YAML document of `text` into *doc (yaml_document_delete it) after refusing one nested deeper than 64
 * levels (libyaml's scanner is quadratic in the depth). 0, or -EINVAL with "<what>: malformed YAML at line N: …" in
 * `err` (never the text itself) and *doc untouched. An empty text loads an empty document (no root node).
 */
int hermes_yaml_load(yaml_document_t *doc, const char *text, size_t len, const char *what, char *err, size_t errlen);

/** The value of `name` in a mapping node (the last one when repeated, as PyYAML keeps it), or NULL (also for no map). */
yaml_node_t *hermes_yaml_get(yaml_document_t *doc, yaml_node_t *map, const char *name);

/**
 * The first document of config.yaml text as a JSON object (hermes_yaml_json.c): plain scalars typed as PyYAML (YAML 1.1)
 * types them, quoted ones strings, non-scalar keys skipped, a null or empty document {}. 0 and *out (new reference);
 * -EINVAL (malformed, or the top level is not a mapping) or -EFBIG (aliases expanding past the bound) with `err` set.
 */
int hermes_yaml_json(const char *text, size_t len, json_t **out, char *err, size_t errlen);

/** YAML's null: an empty or ~/null/Null/NULL plain scalar. */
int hermes_yaml_is_null(const yaml_node_t *n);

/* ---- text as Python sees it (hermes_text.c) ---- */

/** True when `s` (len bytes) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) without NUL. */
bool hermes_utf8_valid(const char *s, size_t len);

/** Code points in valid UTF-8 `s` (len bytes): what Python's len() gives for the decoded text. */
size_t hermes_utf8_chars(const char *s, size_t len);

/** Bytes of the first `chars` code points of valid UTF-8 `s` (all of it when shorter): Python's s[:chars]. */
size_t hermes_utf8_prefix(const char *s, size_t len, size_t chars);

/**
 * Python's str.strip() with no argument on valid UTF-8: drops, at both ends, the characters str.isspace() knows (ASCII
 * blanks and controls 0x09-0x0D, 0x1C-0x1F, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000). Sets *start and returns the stripped length.
 */
size_t hermes_strip(const char *s, size_t len, size_t *start);

/** Length of the Python whitespace character at s[0] (0 when s does not start with one). */
size_t hermes_space_at(const char *s, size_t len);

#endif
