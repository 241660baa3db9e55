/*
 * Small JSON helpers shared by every layer (core layer).
 */
#ifndef HL_JSON_UTIL_H
#define HL_JSON_UTIL_H

#include <jansson.h>
#include <stdint.h>

/** "YYYY-MM-DDTHH:MM:SS.mmmZ" for `ms` (a new JSON string), or JSON null for 0 (never set). */
json_t *hl_json_iso(int64_t ms);

/** The value of the first of the keys `a`, `b` (b may be NULL) that holds a string in `obj` (borrowed), or NULL. */
const char *hl_json_alias(json_t *obj, const char *a, const char *b);

#endif
