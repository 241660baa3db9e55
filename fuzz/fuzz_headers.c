/*
 * The request headers HermesLink parses itself: `Authorization` (hl_bearer_from_header, src/core/tokens.c) and
 * `Last-Event-ID` (hl_sse_request_cursor, src/http/sse.c, with no `after` in the query). The input is the Authorization
 * value, then a LF, then the Last-Event-ID value (no LF: the whole input is both). Checks: a bearer token is a non-empty
 * slice of the value without surrounding white space, and a cursor is -1 (absent or not a number) or more.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_request.h"
#include "hl/sse.h"
#include "hl/tokens.h"

/** libFuzzer's entry: "<authorization>\n<last-event-id>". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *lf = memchr(s, '\n', size);
    size_t auth_len = lf != NULL ? (size_t)(lf - s) : size;
    const char *id = lf != NULL ? lf + 1 : s;
    size_t id_len = lf != NULL ? size - auth_len - 1 : size;

    const char *token = NULL;
    size_t token_len = 0;
    if (hl_bearer_from_header(s, auth_len, &token, &token_len)) {
        if (token < s || token_len == 0 || token + token_len > s + auth_len)
            abort();
        if (isspace((unsigned char)token[0]) || isspace((unsigned char)token[token_len - 1]))
            abort();
    }

    fuzz_request_t f;
    fuzz_request_init(&f, "", 0);
    fuzz_request_header(&f, "last-event-id", id, id_len);
    fuzz_request_header(&f, "authorization", s, auth_len);
    if (hl_sse_request_cursor(&f.r) < -1)
        abort();
    fuzz_request_dispose(&f);
    return 0;
}
