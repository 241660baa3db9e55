/*
 * Wall-clock time for timestamps and expiries. Tests may shift it (test mode only) so that expiry can be checked without
 * sleeping; monotonic time for timeouts is taken directly from the OS.
 */
#ifndef HL_CLOCK_H
#define HL_CLOCK_H

#include <stdint.h>

/** Length of an ISO-8601 UTC timestamp with milliseconds, "2026-05-08T12:00:00.000Z", plus NUL. */
#define HL_ISO_TIME_LEN 25

/** Milliseconds since the Unix epoch, including the test offset. Any thread. */
int64_t hl_now_ms(void);

/** Monotonic milliseconds (never shifted). Any thread. */
uint64_t hl_monotonic_ms(void);

/** Adds `delta_ms` to the offset hl_now_ms applies (test mode only; the daemon exposes it only then). Any thread. */
void hl_clock_advance(int64_t delta_ms);

/** Formats `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (HL_ISO_TIME_LEN bytes). Returns buf. */
char *hl_format_iso(int64_t ms, char *buf);

/** Parses the format hl_format_iso produces (also without milliseconds). 0 on success, -EINVAL otherwise (NULL too). */
int hl_parse_iso(const char *s, int64_t *ms);

#endif
