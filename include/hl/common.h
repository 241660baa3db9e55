/*
 * Common definitions shared by every HermesLink module: fatal errors, attributes, small helpers.
 */
#ifndef HL_COMMON_H
#define HL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define HL_WARN_UNUSED __attribute__((warn_unused_result))
#define HL_NORETURN __attribute__((noreturn))
#define HL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HL_STRUCT_FROM_MEMBER(s, m, p) ((s *)((char *)(p)-offsetof(s, m)))

/** Prints "fatal: <msg> (file:line)" to stderr and aborts. Any thread. Used for allocation failure and broken invariants. */
#define hl_fatal(...) hl__fatal(__FILE__, __LINE__, __VA_ARGS__)
HL_NORETURN void hl__fatal(const char *file, int line, const char *fmt, ...) HL_PRINTF(3, 4);

/** malloc that never returns NULL (aborts through hl_fatal). Any thread. */
void *hl_malloc(size_t sz);
/** calloc that never returns NULL. Any thread. */
void *hl_calloc(size_t n, size_t sz);
/** realloc that never returns NULL. Any thread. */
void *hl_realloc(void *p, size_t sz);
/** strdup that never returns NULL; NULL in gives NULL out. Any thread. */
char *hl_strdup(const char *s);
/** strndup that never returns NULL. Any thread. */
char *hl_strndup(const char *s, size_t n);
/** Allocates a formatted string (vasprintf that aborts on failure). Caller frees. Any thread. */
char *hl_asprintf(const char *fmt, ...) HL_PRINTF(1, 2);

/** Unicode characters in a NUL-terminated UTF-8 string (continuation bytes are not counted). Any thread. */
size_t hl_utf8_length(const char *s);

/** Value of a hex digit (either case), or -1. */
int hl_hexval(int c);

/** Parses a whole decimal integer in [min,max]; 0 on success, -EINVAL otherwise (no partial parses). */
int hl_parse_long(const char *s, long min, long max, long *out) HL_WARN_UNUSED;

#endif
