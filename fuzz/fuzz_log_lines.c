/*
 * The log lines `GET /api/v1/system/logs` and `…/logs/gateway` read (hl_logs_parse_line, src/core/logread.c):
 * HermesLink's own JSON lines and the gateway's plain-text lines. The first byte picks the kind; the rest is one line
 * (as read from the file: any bytes). Checks: an entry is an object with a string `ts`, a `level` among debug, info,
 * warn, error and a string `message`; a gateway line always gives an entry unless it is blank, and its message is
 * valid UTF-8 (jansson refuses anything else, so json_string_value being non-NULL is the check) and its `ts` is
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" that hl_parse_iso reads back, whatever date the line carried; the entry dumps.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/logread.h"

static bool known_level(const char *s)
{
    return s != NULL && (strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 || strcmp(s, "warn") == 0 || strcmp(s, "error") == 0);
}

/** libFuzzer's entry: a selector byte (bit 0: gateway line), then the line. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool gateway = data[0] & 1;
    json_t *e = hl_logs_parse_line(gateway, (const char *)data + 1, size - 1, 1764806400000LL);
    if (e == NULL) {
        if (gateway) {
            /* only a blank line gives no entry */
            for (size_t i = 1; i < size; ++i)
                if (!isspace(data[i]))
                    abort();
        }
        return 0;
    }
    if (!json_is_object(e) || !json_is_string(json_object_get(e, "ts")) ||
        !known_level(json_string_value(json_object_get(e, "level"))) || !json_is_string(json_object_get(e, "message")))
        abort();
    if (gateway) {
        /* the daemon's own timestamp format, which clients parse: it must read back */
        int64_t ms;
        const char *ts = json_string_value(json_object_get(e, "ts"));
        if (strlen(ts) != HL_ISO_TIME_LEN - 1 || hl_parse_iso(ts, &ms) != 0)
            abort();
    }
    char *dump = json_dumps(e, JSON_COMPACT);
    if (dump == NULL)
        abort();
    free(dump);
    json_decref(e);
    return 0;
}
