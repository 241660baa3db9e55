/*
 * Query strings (src/http/dispatch.c hl_request_query) and the parsers of the values routes read from them: the event
 * streams' `after` cursor (hl_sse_request_cursor), the usage range's days/from/to (hl_stats_range) and the logs' limit
 * (hl_logs_limit_number). The input is the raw query string after '?'. Checks: a value found is NUL-terminated with its
 * stated length (an encoded NUL hides it), a range is 1..30 days ending no later than today, a cursor is -1 or more, a
 * limit is 1..1000.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_request.h"
#include "hl/logread.h"
#include "hl/sse.h"
#include "hl/stats.h"

static const char *const NAMES[] = {"limit",
                                    "cursor",
                                    "after",
                                    "page_cursor",
                                    "query",
                                    "q",
                                    "keyword",
                                    "days",
                                    "from",
                                    "to",
                                    "session_id",
                                    "sessionId",
                                    "mode",
                                    "profile",
                                    "source",
                                    "include_disabled",
                                    "includeDisabled",
                                    "hold",
                                    "delay_ms",
                                    ""};

/** libFuzzer's entry: the input is the raw query string. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request_t f;
    fuzz_request_init(&f, (const char *)data, size);
    for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); ++i) {
        size_t len = 0;
        const char *v = hl_request_query(&f.r, NAMES[i], &len);
        if (v != NULL && (strlen(v) != len || len > size))
            abort();
    }
    const int64_t today = 20000; /* 2024-10-04 */
    hl_stats_range_t range;
    hl_stats_range(hl_request_query(&f.r, "days", NULL), hl_request_query(&f.r, "from", NULL), hl_request_query(&f.r, "to", NULL),
                   today, &range);
    if (range.days < 1 || range.days > 30 || range.to_day > today || range.to_day - range.from_day + 1 != range.days)
        abort();
    if (hl_sse_request_cursor(&f.r) < -1)
        abort();
    size_t limit = hl_logs_limit_number(hl_request_query(&f.r, "limit", NULL));
    if (limit < 1 || limit > 1000)
        abort();
    fuzz_request_dispose(&f);
    return 0;
}
