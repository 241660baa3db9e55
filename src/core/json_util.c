#include "hl/json_util.h"

#include "hl/clock.h"

json_t *hl_json_iso(int64_t ms)
{
    char buf[HL_ISO_TIME_LEN];
    return ms != 0 ? json_string(hl_format_iso(ms, buf)) : json_null();
}

const char *hl_json_alias(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (!json_is_string(v) && b != NULL)
        v = json_object_get(obj, b);
    return json_string_value(v); /* NULL when not a string */
}
