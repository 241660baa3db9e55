/*
 * A parser of text/event-stream bytes (core layer, pure): feed it whatever a read returned and it calls back once per
 * complete event, as the WHATWG EventSource rules define one (lines end with LF, CRLF or CR; `field: value` with one
 * leading space stripped; `data` lines joined with LF; a blank line dispatches; `:` lines are comments; an optional BOM
 * first). It buffers a partial line or event across calls, so an event (or a UTF-8 character) split across reads comes out
 * whole. Every buffer is bounded: an event larger than the limit puts the parser into its error state.
 */
#ifndef HL_SSE_PARSER_H
#define HL_SSE_PARSER_H

#include <stdbool.h>
#include <stddef.h>

/** One dispatched event; every pointer is valid during the callback only. */
typedef struct st_hl_sse_event_t {
    const char *event; /* the `event:` field, "" when absent */
    const char *id;    /* the `id:` field, NULL when absent */
    const char *data;  /* the `data:` lines joined with LF (no final LF), NUL-terminated */
    size_t data_len;
    const char *raw_data; /* the event's `data` lines exactly as received (each with its "data" prefix and an LF) */
    size_t raw_data_len;
} hl_sse_event_t;

/** Called per event; a non-zero return stops the feed, which returns that value. */
typedef int (*hl_sse_event_fn)(void *data, const hl_sse_event_t *ev);

typedef struct st_hl_sse_parser_t {
    size_t max_event; /* bytes of one event (all its lines); more → error */
    char *line;       /* the line being read */
    size_t line_len, line_cap;
    char *data, *raw, *event, *id;
    size_t data_len, data_cap, raw_len, raw_cap, event_len, id_len;
    bool has_data;
    bool after_cr; /* the last byte fed was a CR: an LF right after it is the same line end */
    bool started;  /* past the optional BOM */
    bool failed;
} hl_sse_parser_t;

/** Prepares a parser whose events may hold up to max_event bytes (0: 1 MiB). */
void hl_sse_parser_init(hl_sse_parser_t *p, size_t max_event);

/**
 * Feeds bytes; calls fn for every event they complete. Returns 0, the callback's non-zero value (which stops it), or
 * -1 when an event went past the limit (the parser then stays failed and ignores further input).
 */
int hl_sse_parser_feed(hl_sse_parser_t *p, const char *bytes, size_t len, hl_sse_event_fn fn, void *data);

/** True when an event was started but not dispatched (the stream ended inside an event). */
bool hl_sse_parser_pending(const hl_sse_parser_t *p);

/** Frees the buffers; the parser may be initialised again. */
void hl_sse_parser_dispose(hl_sse_parser_t *p);

#endif
