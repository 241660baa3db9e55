/*
 * Private to src/actors: the mapping of one upstream run event (a JSON object of Hermes's run event stream,
 * spec/UPSTREAM-HERMES.md §1.4) to what the runproxy does with it, as a pure function (no actor, no store), so that
 * runproxy_conv.c and the fuzz target fuzz/fuzz_run_events.c share it.
 */
#ifndef HL_ACTORS_RUNPROXY_EVENTS_H
#define HL_ACTORS_RUNPROXY_EVENTS_H

#include <stdbool.h>

#include <jansson.h>

#include "hl/store.h"

typedef enum en_rp_event_action_t {
    RP_EVENT_IGNORE,             /* not part of the conversation (subagents, reasoning deltas, newer events) */
    RP_EVENT_TEXT,               /* message.delta: `text` (NULL when the event carries none) is appended to the reply */
    RP_EVENT_REPORT,             /* `event` goes to the store; `terminal` when the run ends with it */
    RP_EVENT_APPROVAL_RESPONDED, /* the upstream took an approval answer: no longer waiting */
    RP_EVENT_FAILED,             /* run.failed: the run ends failed with `message` (never NULL) */
} rp_event_action_t;

typedef struct st_rp_event_map_t {
    rp_event_action_t action;
    /** the event's type: its "event" or "type" member, else the SSE event name, else "message" (borrowed) */
    const char *type;
    /** RP_EVENT_TEXT: the text (borrowed from the event) */
    const char *text;
    /** RP_EVENT_FAILED: the message (borrowed from the event, or a constant) */
    const char *message;
    /** RP_EVENT_REPORT: the store event; its strings and choices are borrowed from the event, its usage is owned */
    hl_run_event_t event;
    /** the run ends with this event (run.completed, run.failed, run.cancelled) */
    bool terminal;
} rp_event_map_t;

/**
 * Maps the upstream event `ev` (an object; `sse_name` is the SSE `event:` field, "" when absent) into `out`. Pure: it
 * only reads `ev`. Approval choices are kept only when they are a non-empty array of non-empty strings (else NULL: the
 * default choices). Release with rp_event_map_dispose while `ev` is still alive.
 */
void rp_event_map(json_t *ev, const char *sse_name, rp_event_map_t *out);

/** Frees what rp_event_map allocated (the usage object). */
void rp_event_map_dispose(rp_event_map_t *m);

#endif
