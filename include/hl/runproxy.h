/*
 * The runproxy actor (domain layer): one thread running a libcurl multi loop against each profile's Hermes API server. It
 * observes the store's commits — runs to start, runs to stop, approval decisions — and drives them upstream, reporting
 * what the agent does back as typed store run events; it also serves the routes that go straight to the upstream. An
 * upstream that cannot be reached fails a run within about a second (hermes_api_server_unavailable): nothing stays
 * queued or running (unless a test holds runs: hl_runproxy_test_hold).
 */
#ifndef HL_RUNPROXY_H
#define HL_RUNPROXY_H

#include "hl/actor.h"
#include "hl/hermes_files.h"
#include "hl/link.h"
#include "hl/reply.h"
#include "hl/store.h"

typedef struct st_hl_runproxy_t hl_runproxy_t;

/**
 * Prepares the actor and registers it as an observer of `store` (before the store starts); `hermes` tells it where each
 * profile's API server is. In test mode, HERMESLINK_TEST_STALL_MS / HERMESLINK_TEST_APPROVAL_STALL_MS shorten the stall
 * limits of upstream streams. Main thread.
 */
int hl_runproxy_init(hl_runproxy_t **out, const hl_link_t *link, hl_store_t *store, hl_hermes_t *hermes) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_runproxy_actor(hl_runproxy_t *rp);

/** Frees the actor after hl_actor_stop (or when never started). Main thread. */
void hl_runproxy_dispose(hl_runproxy_t *rp);

/** The bytes of run-event frames the daemon's run proxy keeps in its relays (bounded by RELAY_TOTAL_BYTES), and in
 * `*relays` (if not NULL) how many relays there are (one run proxy per process). Any thread; a relaxed snapshot for the
 * memory report. */
size_t hl_runproxy_relay_bytes(size_t *relays);

/**
 * GET /api/v1/models for `profile` (NULL: default): the upstream's /v1/models object verbatim (raw JSON bytes, no "ok");
 * upstream 404 → {"models":[]}; unreachable → 503 hermes_api_server_unavailable; a non-2xx or non-object answer → 502
 * hermes_response_invalid. Any thread.
 */
void hl_runproxy_models(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile);

/* ---- upstream runs relayed (GET /api/v1/runs/:id/events) ---- */

/** One relayed frame of an upstream run: its number (1, 2, …) and the upstream's data lines ("data: …\n" each). */
typedef struct st_hl_run_frame_t {
    const char *run_id;
    int64_t seq;
    const char *lines;
    size_t len;
    bool final; /* the run's last frame (its terminal event, or a run.failed the proxy wrote when the stream broke) */
} hl_run_frame_t;

/** Receives new frames, in order, on the run proxy's thread (must not block). */
typedef void (*hl_run_frames_fn)(void *data, const hl_run_frame_t *frames, size_t n);

/** Registers the one receiver of relayed frames (the SSE hub). Main thread, before start. */
void hl_runproxy_observe_frames(hl_runproxy_t *rp, hl_run_frames_fn fn, void *data);

/**
 * Reads up to `limit` kept frames of `run_id` after `after` and answers done(ctx, …) exactly once, on the run proxy's
 * thread: failed when the run is unknown or frames after `after` were already dropped (the relay keeps the newest 200,000
 * frames and 32 MiB per run, for 10 minutes after the run ended). Any thread.
 */
void hl_runproxy_read_frames(hl_runproxy_t *rp, const char *run_id, int64_t after, size_t limit,
                             void (*done)(void *ctx, const hl_run_frame_t *frames, size_t n, bool more, bool failed), void *ctx);

/**
 * Makes sure the upstream run `run_id` of `profile` (NULL: default) is relayed: known already (a run started here), or
 * subscribed now (the upstream allows one subscriber: this one). Answers ok {run_id} once frames will flow; 404
 * run_not_found; 503 hermes_api_server_unavailable; 502 hermes_events_unavailable. Any thread.
 */
void hl_runproxy_open_run(hl_runproxy_t *rp, hl_reply_to_t *to, const char *run_id, const char *profile);

/** POST /api/v1/runs: what to send upstream (body: input, instructions?, session_id?, conversation_history). */
typedef struct st_hl_direct_run_req_t {
    const char *profile; /* NULL: default */
    json_t *body;        /* borrowed (copied) */
} hl_direct_run_req_t;

/**
 * Starts an upstream run and relays its events from the start: 202 {run_id, fallback:false}; 503 when the upstream is
 * down (or answers 404/503), 429 hermes_rate_limited, 502 hermes_response_invalid / hermes_run_invalid. The run's usage is
 * recorded when it completes. Any thread.
 */
void hl_runproxy_create_run(hl_runproxy_t *rp, hl_reply_to_t *to, const hl_direct_run_req_t *req);

/**
 * POST /api/v1/runs/:id/cancel: POST /v1/runs/{id}/stop upstream. {} on success; 404 run_not_found; 503; other → 502
 * hermes_cancel_failed. Any thread.
 */
void hl_runproxy_stop_run(hl_runproxy_t *rp, hl_reply_to_t *to, const char *run_id, const char *profile);

/**
 * Test mode only (/__test/runproxy/hold and /release). on 1: every run handed over from now on stays running (held here)
 * instead of failing, until cancelled (dropped) or released; on 0: the hold ends and the held runs fail as they would have;
 * on -1: the held runs fail, the hold is left as it is. Answers {hold, held, released} once applied. Any thread.
 */
void hl_runproxy_test_hold(hl_runproxy_t *rp, int on, hl_reply_to_t *to);

/*
 * Cron jobs (spec/API.md §11): each profile's /api/jobs… on its Hermes API server, job objects passed through unchanged.
 * `profile` NULL or "" is "default"; a job id outside ^[A-Za-z0-9_-]{1,64}$ → 400 invalid_cron_job_id (checked first); a
 * bad profile name → 400 invalid_profile_name, a missing named profile → 404 profile_not_found. Upstream
 * unreachable → 503 hermes_api_server_unavailable (within about a second); upstream 400 → 400 invalid_cron_job with its
 * message; upstream 404 on a job → 404 cron_job_not_found; any other non-2xx or a non-object body → 502
 * hermes_response_invalid with the upstream's message; no "job" object where one is due → 502 hermes_cron_job_invalid.
 * All of them: any thread.
 */

/** GET /api/jobs[?include_disabled=true] → {"profile":{"name"},"jobs":[…]} (non-object entries dropped). */
void hl_runproxy_cron_list(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, bool include_disabled);
/** POST /api/jobs with `body` (a JSON object: the route checks it; copied, sent verbatim) → created {"job"}. */
void hl_runproxy_cron_create(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const json_t *body);
/** GET /api/jobs/<id> → {"job"}. */
void hl_runproxy_cron_get(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id);
/** PATCH /api/jobs/<id> with `body` (a JSON object: the route checks it; copied, sent verbatim) → {"job"}. */
void hl_runproxy_cron_update(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id, const json_t *body);
/** DELETE /api/jobs/<id> → {} (the envelope's {"ok":true}). */
void hl_runproxy_cron_delete(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id);

typedef enum en_hl_cron_action_t { HL_CRON_PAUSE, HL_CRON_RESUME, HL_CRON_RUN } hl_cron_action_t;
/** POST /api/jobs/<id>/pause|resume|run (no body) → {"job"}. */
void hl_runproxy_cron_action(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id,
                             hl_cron_action_t action);

/**
 * GET /api/v1/cron-jobs: lists every profile ("default" first, then the profile directories) in parallel → always a
 * success, {"ok":<no profile failed>,"jobs":[…each with "_profile":<name>],"failures":[{"profile","message"}]}, jobs and
 * failures in profile order.
 */
void hl_runproxy_cron_list_all(hl_runproxy_t *rp, hl_reply_to_t *to, bool include_disabled);

#endif
