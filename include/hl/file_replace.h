/*
 * Replacing a user's file (core layer, src/core/file_replace.c): atomically, its mode kept, its previous content kept
 * as a timestamped backup of which only the newest few remain. Made for Hermes's config.yaml (spec STORAGE §3.2), usable
 * for any file someone else owns the format of. Blocking I/O: only the thread that owns the file (in the daemon, the
 * Hermes files actor), the CLI, or tests.
 */
#ifndef HL_FILE_REPLACE_H
#define HL_FILE_REPLACE_H

#include <stddef.h>

#include "hl/common.h"

/** Backups of a file kept after a replacement; older ones are removed. */
#define HL_FILE_BACKUP_KEEP 5

/**
 * A backup's name: the file's name, ".bak.", the UTC time of the replacement as YYYYMMDD "T" HHMMSS "." microseconds
 * (6 digits) "Z", e.g. `config.yaml.bak.20260508T120000.123456Z`, in the file's directory. Names sort by time; two
 * backups made within the same microsecond get successive microseconds. Length of the suffix after ".bak.":
 */
#define HL_FILE_BACKUP_STAMP_LEN 23

/**
 * Replaces the file at `path` by `len` bytes of `data`: hl_write_file_atomic (unique temp file in the same directory,
 * write, fsync, rename over `path`, directory fsync) with the file's current permission bits. When the file exists and
 * its content differs from `data`, its current content first becomes one backup (a hard link to it, or a copy where the
 * filesystem has no links), and backups of this file beyond the HL_FILE_BACKUP_KEEP newest are then removed (only names
 * of exactly the form above; other files, e.g. `config.yaml.bak.manual`, are never touched). When the content is already
 * `data` nothing is written and no backup is made. A missing file is created with mode 0600, without a backup; its
 * directory must exist.
 *
 * *backup_path, when not NULL, receives the backup's path (caller frees) or NULL when none was made. Returns 0, or
 * -ELOOP when `path` is a symbolic link, -EINVAL when it is not a regular file, another -errno from the filesystem; on
 * failure the file keeps its content and no new backup remains. A failure to remove an old backup is not an error.
 */
int hl_file_replace(const char *path, const void *data, size_t len, char **backup_path) HL_WARN_UNUSED;

#endif
