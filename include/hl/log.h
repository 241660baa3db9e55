/*
 * Logging: JSON lines in <home>/logs/link.log, one object per line
 * {"ts":"<ISO-8601 ms Z>","level":"debug|info|warn|error","message":"…","fields":{…}}, size-rotated (link.log.1 … .5),
 * and readable text on stderr when running in the foreground.
 *
 * Until hl_log_start_thread, hl_log writes synchronously (start-up); afterwards lines are formatted by the caller and
 * written by a logger thread, so worker threads never block on the file.
 */
#ifndef HL_LOG_H
#define HL_LOG_H

#include <jansson.h>

#include "hl/common.h"

typedef enum { HL_LOG_DEBUG = 0, HL_LOG_INFO, HL_LOG_WARN, HL_LOG_ERROR } hl_log_level_t;

#define HL_LOG_ROTATE_BYTES (1024 * 1024)
#define HL_LOG_ROTATE_KEEP 5

/** Parses "debug|info|warn|error"; unknown → HL_LOG_WARN. */
hl_log_level_t hl_log_level_from_name(const char *name);

/**
 * Opens logs_dir/link.log for appending (creating logs_dir 0700). `to_stderr` also prints text lines on stderr.
 * 0 or -errno. Main thread, before other threads start.
 */
int hl_log_open(const char *logs_dir, hl_log_level_t min_level, int to_stderr) HL_WARN_UNUSED;

/** Moves writing to a logger thread. 0 or -errno. Main thread. */
int hl_log_start_thread(void) HL_WARN_UNUSED;

/** Writes everything queued, stops the logger thread and returns to synchronous writes. Main thread. */
void hl_log_stop_thread(void);

/** Closes the file. Main thread, after hl_log_stop_thread. */
void hl_log_close(void);

/**
 * Logs `message` with optional `fields` (an object; the reference is stolen; secrets are redacted). Any thread.
 */
void hl_log(hl_log_level_t level, const char *message, json_t *fields);

/** printf-style convenience without fields. Any thread. */
void hl_logf(hl_log_level_t level, const char *fmt, ...) HL_PRINTF(2, 3);

#endif
