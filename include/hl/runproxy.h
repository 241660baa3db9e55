/*
 * The runproxy actor (domain layer): observes the store's commits — runs to start, runs to stop, approval decisions — and
 * hands them to Hermes's API server, reporting the upstream's events back as typed store run events. Until the upstream
 * integration lands, every run fails promptly with run.failed and hermes_api_server_unavailable, so nothing stays queued
 * or running (unless a test holds runs: hl_runproxy_test_hold).
 */
#ifndef HL_RUNPROXY_H
#define HL_RUNPROXY_H

#include "hl/actor.h"
#include "hl/reply.h"
#include "hl/store.h"

typedef struct st_hl_runproxy_t hl_runproxy_t;

/** Prepares the actor and registers it as an observer of `store` (before the store starts). Main thread. */
int hl_runproxy_init(hl_runproxy_t **out, hl_store_t *store) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_runproxy_actor(hl_runproxy_t *rp);

/** Frees the actor after hl_actor_stop (or when never started). Main thread. */
void hl_runproxy_dispose(hl_runproxy_t *rp);

/**
 * Test mode only (/__test/runproxy/hold and /release). on 1: every run handed over from now on stays running (held here)
 * instead of failing, until cancelled (dropped) or released; on 0: the hold ends and the held runs fail as they would have;
 * on -1: the held runs fail, the hold is left as it is. Answers {hold, held, released} once applied. Any thread.
 */
void hl_runproxy_test_hold(hl_runproxy_t *rp, int on, hl_reply_to_t *to);

#endif
