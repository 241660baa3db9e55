/*
 * Actor: one thread that owns some data alone, a mailbox, and a handler called with each whole batch of messages.
 *
 * Lifecycle: hl_actor_init → hl_actor_start (spawns the thread, runs on_start there) → … → hl_actor_stop (handles
 * everything already queued, runs on_stop on the actor thread, joins). Actors are started and stopped in order by
 * the daemon; an actor must not post to an actor stopped before it.
 */
#ifndef HL_ACTOR_H
#define HL_ACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "hl/mailbox.h"

typedef struct st_hl_actor_t hl_actor_t;

/** Message type reserved by the runtime to stop an actor; user types start at 1. */
#define HL_MSG_ACTOR_STOP (-1)

typedef struct st_hl_actor_callbacks_t {
    /** Runs on the actor thread before the first batch; non-zero aborts start-up (hl_actor_start fails). Optional. */
    int (*on_start)(hl_actor_t *actor);
    /**
     * Handles one batch. The handler owns every message it pops (hl_msg_batch_pop) and must free or forward each;
     * whatever it leaves in the batch is freed by the runtime. Required.
     */
    void (*on_batch)(hl_actor_t *actor, hl_msg_batch_t *batch);
    /** Periodic tick, every `tick_ms` (0 = never), on the actor thread. Optional. */
    void (*on_tick)(hl_actor_t *actor);
    /** Runs on the actor thread after the last batch. Optional. */
    void (*on_stop)(hl_actor_t *actor);
    /**
     * Optional wait hook, for an actor that owns file descriptors and timers besides its mailbox (a curl multi handle):
     * blocks until `mailbox_fd` is readable, `timeout_ms` passes (-1 = no limit; the loop's tick) or the actor's own
     * events arrive, and handles those itself before returning. It must never read `mailbox_fd`. Without it the loop
     * blocks on the mailbox alone.
     */
    void (*wait)(hl_actor_t *actor, int mailbox_fd, int timeout_ms);
} hl_actor_callbacks_t;

struct st_hl_actor_t {
    const char *name;
    hl_mailbox_t mailbox;
    hl_actor_callbacks_t cb;
    void *data;
    unsigned tick_ms;
    /** requests accepted by workers and not yet answered; workers refuse new requests past max_inflight */
    atomic_uint inflight;
    atomic_uint max_inflight;
    pthread_t _thread;
    bool _running;
    int _start_status;
    pthread_mutex_t _start_mutex;
    pthread_cond_t _start_cond;
    bool _started;
};

/** Prepares an actor (no thread yet). Returns 0 or -errno. Main thread. */
int hl_actor_init(hl_actor_t *actor, const char *name, const hl_actor_callbacks_t *cb, void *data) HL_WARN_UNUSED;

/**
 * Spawns the thread (named "hl-<name>", cut to 15 bytes: what top, gdb and the test fault shim see) and waits until
 * on_start returned. Returns 0, or on_start's/pthread's error. Main thread.
 */
int hl_actor_start(hl_actor_t *actor) HL_WARN_UNUSED;

/** Posts a message to the actor; ownership passes to it. Any thread. */
static inline void hl_actor_post(hl_actor_t *actor, hl_msg_t *msg)
{
    hl_mailbox_post(&actor->mailbox, msg);
}

/**
 * Reserves one in-flight request slot; false when the actor is at its bound (the caller answers 503 server_busy).
 * Pair every successful acquire with hl_actor_release_slot. Any thread.
 */
bool hl_actor_acquire_slot(hl_actor_t *actor);

/** Releases a slot taken by hl_actor_acquire_slot. Any thread. */
void hl_actor_release_slot(hl_actor_t *actor);

/** A message that is a closure: the receiving actor calls `run`, which owns (and frees) the task. */
typedef struct st_hl_task_t hl_task_t;
struct st_hl_task_t {
    hl_msg_t super;
    void (*run)(hl_task_t *task);
};

/** Runs every task of a batch in order (an on_batch for actors that only receive tasks). */
void hl_actor_run_tasks(hl_actor_t *actor, hl_msg_batch_t *batch);

/** Stops the actor after it has handled every message queued before this call, then joins it. Main thread. */
void hl_actor_stop(hl_actor_t *actor);

/** Frees the mailbox (and any message left in it). After hl_actor_stop, or for an actor never started. */
void hl_actor_dispose(hl_actor_t *actor);

#endif
