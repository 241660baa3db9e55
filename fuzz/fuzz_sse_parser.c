/*
 * The upstream's text/event-stream parser (src/core/sse_parser.c, used on every Hermes run stream). Input: byte 0 picks
 * the event size limit (0: the default 1 MiB, else n * 16 bytes), byte 1 the size of the pieces the rest is fed in
 * (0: all at once), the rest is the stream. Checks that feeding in pieces gives exactly the events (event, id, data,
 * raw lines) and the result of one feed of the whole stream, as a network read split anywhere must, and that an event's
 * data is NUL-terminated at its length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/common.h"
#include "hl/sse_parser.h"

typedef struct {
    char *buf;
    size_t len, cap;
} log_t;

static void put(log_t *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        l->cap = (l->len + n + 1) * 2;
        l->buf = hl_realloc(l->buf, l->cap);
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* each event as its fields with their lengths, so that no two event sequences log the same */
static void put_field(log_t *l, const char *s, size_t n)
{
    put(l, (const char *)&n, sizeof(n));
    put(l, s, n);
}

static int on_event(void *data, const hl_sse_event_t *ev)
{
    log_t *l = data;
    if (ev->event == NULL || ev->data == NULL || ev->data[ev->data_len] != '\0')
        abort();
    put_field(l, ev->event, strlen(ev->event));
    put_field(l, ev->id != NULL ? "1" : "0", 1);
    if (ev->id != NULL)
        put_field(l, ev->id, strlen(ev->id));
    put_field(l, ev->data, ev->data_len);
    put_field(l, ev->raw_data, ev->raw_data_len);
    return 0;
}

static int run(const char *s, size_t len, size_t step, size_t max_event, log_t *l, bool *pending)
{
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, max_event);
    int ret = 0;
    if (step == 0)
        step = len;
    for (size_t off = 0; off < len && ret == 0; off += step)
        ret = hl_sse_parser_feed(&p, s + off, len - off < step ? len - off : step, on_event, l);
    *pending = hl_sse_parser_pending(&p);
    hl_sse_parser_dispose(&p);
    return ret;
}

/** libFuzzer's entry: limit byte, piece-size byte, stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max_event = (size_t)data[0] * 16;
    size_t step = data[1];
    const char *s = (const char *)data + 2;
    size_t len = size - 2;
    log_t whole = {0}, pieces = {0};
    bool whole_pending, pieces_pending;
    int r1 = run(s, len, 0, max_event, &whole, &whole_pending);
    int r2 = run(s, len, step, max_event, &pieces, &pieces_pending);
    if (r1 != r2 || whole.len != pieces.len || (whole.len != 0 && memcmp(whole.buf, pieces.buf, whole.len) != 0))
        abort();
    if (r1 == 0 && whole_pending != pieces_pending)
        abort();
    free(whole.buf);
    free(pieces.buf);
    return 0;
}
