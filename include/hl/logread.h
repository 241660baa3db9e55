/*
 * Reading logs back for `hermeslink logs` and GET /api/v1/logs: HermesLink's own JSON lines (link.log and its
 * rotations) and Hermes's gateway log under HERMES_HOME, as spec LogEntry objects
 * {ts, level, message, timestampSource?, fields?}. Blocking file I/O: CLI or an actor.
 */
#ifndef HL_LOGREAD_H
#define HL_LOGREAD_H

#include <jansson.h>
#include <stddef.h>

/** How much of each file's tail is read. */
#define HL_LOGREAD_TAIL_BYTES (512 * 1024)

/** The newest `limit` entries of <home>/logs/link.log(.1…), oldest first. New JSON array. */
json_t *hl_logs_read_link(const char *home, size_t limit);

/** The newest `limit` lines of <hermes_home>/logs/gateway.log(.1…), oldest first. New JSON array. */
json_t *hl_logs_read_gateway(const char *hermes_home, size_t limit);

/**
 * Parses one gateway log line into an entry (exposed for unit tests). `mtime_ms` is used when the line has no
 * timestamp. NULL for a blank line.
 */
json_t *hl_logs_parse_gateway_line(const char *line, size_t len, long long mtime_ms);

#endif
