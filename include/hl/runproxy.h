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

/**
 * GET /api/v1/models for `profile` (NULL: default): the upstream's /v1/models object verbatim (raw JSON bytes, no "ok");
 * upstream 404 → {"models":[]}; unreachable → 503 hermes_api_server_unavailable; a non-2xx or non-object answer → 502
 * hermes_response_invalid. Any thread.
 */
void hl_runproxy_models(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile);

/**
 * Test mode only (/__test/runproxy/hold and /release). on 1: every run handed over from now on stays running (held here)
 * instead of failing, until cancelled (dropped) or released; on 0: the hold ends and the held runs fail as they would have;
 * on -1: the held runs fail, the hold is left as it is. Answers {hold, held, released} once applied. Any thread.
 */
void hl_runproxy_test_hold(hl_runproxy_t *rp, int on, hl_reply_to_t *to);

#endif
