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
/* reconciling a run a restart interrupted: its status every RP_POLL_MS, at most RP_MAX_POLLS times (2 hours) */
#define RP_POLL_MS 2000
#define RP_MAX_POLLS 3600

typedef struct st_relay_t relay_t;

typedef enum en_conv_run_state_t {
    RUN_RESOLVING, /* asking the Hermes files actor where the profile's API server is */
    RUN_ADMITTING, /* POST /v1/runs in flight */
    RUN_STREAMING, /* reading /v1/runs/{id}/events */
    RUN_POLLING,   /* reconciling after a restart: asking GET /v1/runs/{id} until the run ends */
    RUN_ENDED,     /* its end was reported to the store; waiting for the stream to close */
} conv_run_state_t;

/* A conversation run the store handed over, until its upstream stream ends. */
typedef struct st_conv_run_t conv_run_t;
struct st_conv_run_t {
    hl_runproxy_t *rp;
    conv_run_t *next;
    char *run_id, *profile;
    json_t *request; /* the store's description: input, conversation_history, session_id, profile, model */
    up_target_t target;
    char *upstream_id;
    up_call_t *call;
    conv_run_state_t state;
    bool cancel_requested;
    bool waiting_approval;
    bool reconcile; /* a run a previous process left running upstream */
    unsigned polls; /* status requests made while reconciling */
    uint64_t next_poll_ms;
    int stream_status; /* HTTP status of the events stream */
    hl_sse_parser_t parser;
    char *delta; /* text received and not yet reported (coalescing) */
    size_t delta_len, delta_cap;
    uint64_t last_flush_ms;
    relay_t *relay; /* its frames, relayed by upstream run id (fed while streaming) */
};

/* Relays keep the newest frames of each upstream run for late subscribers, within these bounds, and an ended run's for
 * RELAY_KEEP_MS; at most RELAY_MAX runs are kept (the oldest ended ones go first). */
#define RELAY_MAX_FRAMES 200000
#define RELAY_MAX_BYTES (32 * 1024 * 1024)
#define RELAY_KEEP_MS (10 * 60 * 1000)
#define RELAY_MAX 512
#define RELAY_TOTAL_BYTES (256 * 1024 * 1024) /* all relays together: ended ones go first past it */

typedef struct st_relay_frame_t {
    int64_t seq;
    bool final;
    size_t len;
    char lines[];
} relay_frame_t;

/* One upstream run's frames. Fed by a conversation run's stream, or by its own subscription (direct runs). */
struct st_relay_t {
    relay_t *next;
    hl_runproxy_t *rp;
    char *run_id;           /* the upstream's run id */
    relay_frame_t **frames; /* a ring: frames[(first + i) % cap] */
    size_t first, count, cap, bytes;
    int64_t next_seq;
    int64_t published_seq; /* frames up to this one were handed to the observer (fewer than next_seq - 1: some are due) */
    bool ended;
    uint64_t ended_ms;
    /* its own subscription (direct runs) */
    up_call_t *call;
    up_target_t target;
    char *profile;
    hl_sse_parser_t parser;
    int stream_status;
    bool waiting_approval;  /* an approval was requested and not answered: the longer stall limit applies */
    bool record_usage;      /* created by POST /api/v1/runs: usage goes to the store */
    bool fed;               /* a conversation run feeds it (and holds a pointer to it) */
    hl_reply_to_t *opening; /* hl_runproxy_open_run waiting for the stream's status */
};

/* What an upstream (by base URL) says it can do (GET /v1/capabilities), read once and again after it was unreachable. */
typedef struct st_caps_t caps_t;
struct st_caps_t {
    caps_t *next;
    char *base_url;
    bool known;     /* the answer came */
    bool approvals; /* features.run_approval_response: POST /v1/runs/{id}/approval exists (v0.15 on) */
};

struct st_hl_runproxy_t {
    hl_actor_t actor;
    hl_store_t *store;
    hl_hermes_t *hermes;
    up_client_t *up;
    conv_run_t *runs;
    relay_t *relays;
    size_t num_relays;
    size_t relay_bytes; /* frames kept by every relay */
    caps_t *caps;
    uint64_t timers_due_ms; /* when rp_conv_timers wants to run next (monotonic; 0: no flush or poll due) */
    hl_run_frames_fn frames_fn;
    void *frames_data;
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

/** Where a profile's Hermes API server is, as the Hermes files actor said (run proxy thread). */
typedef struct st_rp_resolved_t {
    up_target_t target;     /* when resolved: owned by the resolution (take it by zeroing it) */
    const char *error_code; /* NULL when resolved, else the literal "profile_not_found" or "invalid_profile_name" */
    const char *message;    /* with error_code: a message fit for a client (NULL: none); valid during the callback */
} rp_resolved_t;
typedef void (*rp_resolved_fn)(hl_runproxy_t *rp, void *arg, rp_resolved_t *res);
/**
 * Resolves `profile` (copied) on the Hermes files actor, then calls done(rp, arg, res) on the run proxy's thread; if the
 * run proxy stops first, drop(arg) instead. Any thread.
 */
void rp_resolve(hl_runproxy_t *rp, const char *profile, rp_resolved_fn done, void *arg, void (*drop)(void *arg));

/** The message of an upstream error body: error.message, message, error (a string), or the first 500 bytes. Caller frees. */
char *rp_upstream_message(const up_answer_t *a);

/** The type of an upstream run event: its `event` (v0.20), else its `type`; NULL when neither. */
const char *rp_event_type(json_t *ev);
/** True for run.completed, run.failed and run.cancelled: exactly one of them ends a run's stream. */
bool rp_event_terminal(const char *type);
/** The usage of a run.completed (or a run status): input/output/total, or the prompt/completion naming; NULL when none.
 * Counts are never negative (a negative one is 0) and the total defaults to their sum, saturated. */
json_t *rp_usage_of(json_t *ev);
/**
 * The result of a failed upstream answer (a literal `code`): our own allocation failure (a->out_of_memory) → 500
 * internal_error; unreachable → 503 hermes_api_server_unavailable "Hermes API
 * Server is unavailable"; connected but no answer (status 0) → 503 hermes_api_server_unavailable "… did not answer: why";
 * otherwise `code` with "Hermes API Server returned HTTP <status>: <rp_upstream_message>", as a 429 when `code` is
 * hermes_rate_limited, a 501 when it is hermes_cancel_unsupported, else a 502.
 */
hl_result_t *rp_upstream_error(const up_answer_t *a, const char *code);
/**
 * How the upstream answered POST /v1/runs: NULL with *run_id set (borrowed from the answer's JSON), or the error result
 * both kinds of run report — 503 hermes_api_server_unavailable (unreachable, no answer, 404, 503), 429
 * hermes_rate_limited, 502 hermes_response_invalid (other non-2xx, or not an object), 502 hermes_run_invalid (no id).
 */
hl_result_t *rp_admission(const up_answer_t *a, const char **run_id);

/* ---- runproxy_relay.c ---- */

/** The relay of an upstream run, or NULL. */
relay_t *rp_relay_find(hl_runproxy_t *rp, const char *run_id);
/** The relay of an upstream run, created when missing (dropping the oldest ended relay past RELAY_MAX). */
relay_t *rp_relay_get(hl_runproxy_t *rp, const char *run_id);
/** Appends one upstream event (its data lines as received); `final` ends the run's streams. */
void rp_relay_append(hl_runproxy_t *rp, relay_t *rl, const char *lines, size_t len, bool final);
/** Ends a relay the upstream did not end: a final `event` frame written here (with `error` when not NULL), unless it ended. */
void rp_relay_end(hl_runproxy_t *rp, relay_t *rl, const char *event, const char *error);
/**
 * Hands the frames appended since the last call to the observer (one call per loop turn), drops stalled subscriptions
 * (rp->stall_ms, as conversation runs) and forgets expired relays.
 */
void rp_relay_publish(hl_runproxy_t *rp);
/** Frees every relay (shutdown). */
void rp_relay_drop_all(hl_runproxy_t *rp);
/** Subscribes a relay to its upstream run's events (direct runs); answers rl->opening once the status is known. */
void rp_relay_subscribe(hl_runproxy_t *rp, relay_t *rl);

/* ---- runproxy_caps.c ---- */

/** Asks the upstream for its capabilities unless known or asked already. */
void rp_caps_note(hl_runproxy_t *rp, const up_target_t *target);
/** Forgets what an upstream said (it was unreachable: it may come back as another version). */
void rp_caps_forget(hl_runproxy_t *rp, const char *base_url);
/** False only when the upstream said it takes no approval answers. */
bool rp_caps_approvals(hl_runproxy_t *rp, const char *base_url);
/** Frees what is known (shutdown). */
void rp_caps_drop_all(hl_runproxy_t *rp);

/* ---- runproxy_conv.c ---- */

/** A run the store wants started (request: the store's description, copied). */
void rp_conv_start(hl_runproxy_t *rp, const json_t *request);
/** The store marked the run cancelled: stop it upstream. */
void rp_conv_cancel(hl_runproxy_t *rp, const char *run_id);
/**
 * A decision on one of the run's approvals (approval_id may be NULL): forward it upstream; once the upstream took it (or
 * answered that nothing waits for it any more) the store records it as delivered, so that a restart sends it again only
 * if it never arrived.
 */
void rp_conv_decide(hl_runproxy_t *rp, const char *run_id, const char *approval_id, const char *decision);
/** Flushes coalesced text that is due and ends stalled streams; returns the ms until the next flush is due (-1: none). */
int rp_conv_timers(hl_runproxy_t *rp);
/** Drops every run (shutdown): their upstream runs keep going; the next start reconciles them. */
void rp_conv_drop_all(hl_runproxy_t *rp);

#endif
