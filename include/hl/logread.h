/*
 * Reading logs back for `hermeslink logs` and GET /api/v1/logs: HermesLink's own JSON lines (link.log and its
 * rotations) and Hermes's gateway log under HERMES_HOME, as spec LogEntry objects
 * {ts, level, message, timestampSource?, fields?}. Blocking file I/O: CLI or an actor.
 */
#ifndef HL_LOGREAD_H
#define HL_LOGREAD_H

#include <jansson.h>
#include <stdbool.h>
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

/** Most entries one read returns (GET …/logs limits are clamped to it). */
#define HL_LOGREAD_MAX_LIMIT 1000

/**
 * The `limit` query of GET /api/v1/system/logs(/gateway) (spec/API.md §16) with JavaScript Number() semantics: surrounding
 * white space ignored, decimal (with fraction or exponent), 0x/0o/0b integers, "Infinity"; absent (NULL), empty, 0 or not
 * a number → 200; otherwise truncated and clamped to 1..1000. Pure.
 */
size_t hl_logs_limit_number(const char *s);

/** <home>/logs/link.log (HermesLink's log) or <hermes_home>/logs/gateway.log (`gateway`). Caller frees. */
char *hl_logs_path(const char *home, bool gateway);

/**
 * One line of HermesLink's log (`gateway` false: JSON, NULL unless it has ts, level and message) or of the gateway's log
 * (`gateway` true: plain text, invalid UTF-8 replaced by U+FFFD; NULL for a blank line) as a LogEntry. `mtime_ms` dates a
 * gateway line that carries no timestamp. New object or NULL. Pure.
 */
json_t *hl_logs_parse_line(bool gateway, const char *line, size_t len, long long mtime_ms);

#endif
