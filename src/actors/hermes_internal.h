/*
 * Private to the Hermes files actor's sources (src/actors/hermes_*.c): reading a file of a profile without leaving the
 * Hermes home.
 */
#ifndef HL_HERMES_INTERNAL_H
#define HL_HERMES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
