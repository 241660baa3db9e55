/*
 * Small filesystem helpers: atomic writes (temp file, fsync, rename, directory fsync), bounded reads, mkdir -p.
 * Blocking I/O: main thread, CLI, or the actor that owns the file; never a worker thread.
 */
#ifndef HL_FSUTIL_H
#define HL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "hl/common.h"

/** Creates `path` and its missing parents with `mode`. 0 or -errno. */
int hl_mkdir_p(const char *path, mode_t mode) HL_WARN_UNUSED;

/**
 * Writes `len` bytes to `path` atomically: unique temp file in the same directory (O_EXCL, `mode`), write, fsync,
 * rename over `path`, fsync the directory. On failure the temp file is removed. 0 or -errno.
 */
int hl_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) HL_WARN_UNUSED;

/**
 * Reads the whole file into a NUL-terminated malloc'd buffer. Fails with -EFBIG past `max_len` bytes. 0 or -errno;
 * the caller frees *out.
 */
int hl_read_file(const char *path, size_t max_len, char **out, size_t *out_len) HL_WARN_UNUSED;

/**
 * Test mode only (the `/__test/storage-full` route): while set, hl_write_file_atomic fails with -ENOSPC after creating its
 * temp file, and the db actors' write statements fail with SQLITE_FULL, as on a full disk. Any thread.
 */
void hl_storage_full_simulate(int on);

/** Whether hl_storage_full_simulate is on. Any thread. */
int hl_storage_full_simulated(void);

/** Whether a -errno from a write means the disk (or the user's quota) is full: -ENOSPC or -EDQUOT. */
int hl_errno_is_disk_full(int neg_errno);

/** Joins a directory and a file name with one '/'. Caller frees. */
char *hl_path_join(const char *dir, const char *name);

#endif
