/*
 * Private to the run proxy actor (runproxy.c: the actor, its loop and its requests; runproxy_conv.c: conversation runs;
 * runproxy_direct.c: the direct upstream routes). Everything here runs on the run proxy's thread unless it says otherwise.
 */
#ifndef HL_RUNPROXY_INTERNAL_H
#define HL_RUNPROXY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/hermes_files.h"
#include "hl/runproxy.h"
#include "hl/sse_parser.h"
#include "upstream_client.h"

/* A stream that sends nothing (not even the upstream's 30 s keep-alive comment) for this long has stalled; while the run
 * waits on an approval the upstream may stay silent up to its own 300 s approval timeout. */
#define RP_STALL_MS 45000
#define RP_APPROVAL_STALL_MS 330000
/* message.updated at most every this many ms per run (the last piece always goes out) */
#define RP_COALESCE_MS 50
/* the largest upstream event we accept */
#define RP_MAX_EVENT_BYTES (4 * 1024 * 1024)

typedef enum en_conv_run_state_t {
    RUN_RESOLVING, /* asking the Hermes files actor where the profile's API server is */
    RUN_ADMITTING, /* POST /v1/runs in flight */
    RUN_STREAMING, /* reading /v1/runs/{id}/events */
    RUN_ENDED,     /* its end was reported to the store; waiting for the stream to close */
} conv_run_state_t;

/* A conversation run the store handed over, until its upstream stream ends. */
typedef struct st_conv_run_t conv_run_t;
struct st_conv_run_t {
    hl_runproxy_t *rp;
    conv_run_t *next;
    char *run_id, *conversation_id, *profile;
    json_t *request; /* the store's description: input, conversation_history, session_id, profile, model */
    up_target_t target;
    char *upstream_id;
    up_call_t *call;
    conv_run_state_t state;
    bool cancel_requested;
    bool waiting_approval;
    int stream_status; /* HTTP status of the events stream */
    hl_sse_parser_t parser;
    char *delta; /* text received and not yet reported (coalescing) */
    size_t delta_len, delta_cap;
    uint64_t last_flush_ms;
};

struct st_hl_runproxy_t {
    hl_actor_t actor;
    hl_store_t *store;
    hl_hermes_t *hermes;
    up_client_t *up;
    conv_run_t *runs;
    int64_t stall_ms, approval_stall_ms;
    /* the test hold; actor thread only */
    bool hold;
    json_t *held; /* [{run_id, …}, …] in hand-over order */
};

/* ---- runproxy.c ---- */

/** Posts a closure to the run proxy: fn(rp, arg) on its thread; `free_arg` frees arg if the task never runs. Any thread. */
void rp_post(hl_runproxy_t *rp, void (*fn)(hl_runproxy_t *rp, void *arg), void *arg, void (*free_arg)(void *arg));

/** Copies the upstream target out of a resolution (strings owned by the target; rp_target_dispose frees them). */
void rp_target_copy(up_target_t *to, const hl_upstream_t *up);
void rp_target_dispose(up_target_t *t);

/** The message of an upstream error body: error.message, message, error (a string), or the first 500 bytes. Caller frees. */
char *rp_upstream_message(const up_answer_t *a);

/* ---- runproxy_conv.c ---- */

/** A run the store wants started (request: the store's description, copied). */
void rp_conv_start(hl_runproxy_t *rp, const json_t *request);
/** The store marked the run cancelled: stop it upstream. */
void rp_conv_cancel(hl_runproxy_t *rp, const char *run_id);
/** A decision on one of the run's approvals: forward it upstream. */
void rp_conv_decide(hl_runproxy_t *rp, const char *run_id, const char *decision);
/** Flushes coalesced text that is due and ends stalled streams; returns the ms until the next flush is due (-1: none). */
int rp_conv_timers(hl_runproxy_t *rp);
/** Drops every run (shutdown): their upstream runs keep going; the next start reconciles them. */
void rp_conv_drop_all(hl_runproxy_t *rp);

#endif
