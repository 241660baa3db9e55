#include "hl/actor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urcu.h>

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Moves everything up to (and excluding) the stop message into `out`; returns true when a stop message was seen.
 * Messages after the stop are kept too: they were queued before the actor exits and must still be handled. */
static bool split_stop(hl_msg_batch_t *in, hl_msg_batch_t *out)
{
    bool stop = false;
    hl_msg_t *msg;
    __cds_wfcq_init(&out->head, &out->tail);
    while ((msg = hl_msg_batch_pop(in)) != NULL) {
        if (msg->type == HL_MSG_ACTOR_STOP) {
            stop = true;
            hl_msg_free(msg);
            continue;
        }
        cds_wfcq_node_init(&msg->_node);
        cds_wfcq_enqueue(&out->head, &out->tail, &msg->_node);
    }
    return stop;
}

static void handle(hl_actor_t *actor, hl_msg_batch_t *raw, bool *stop)
{
    hl_msg_batch_t batch;
    if (split_stop(raw, &batch))
        *stop = true;
    if (!cds_wfcq_empty(&batch.head, &batch.tail))
        actor->cb.on_batch(actor, &batch);
    hl_msg_batch_free(&batch);
}

static void *actor_main(void *arg)
{
    hl_actor_t *actor = arg;
    /* "hl-<name>" (15 bytes at most) in top, gdb and /proc/<pid>/task/<tid>/comm; the fault shim finds the run proxy's
     * thread by it (tests/fault_shim) */
    char tname[16];
    snprintf(tname, sizeof(tname), "hl-%s", actor->name != NULL ? actor->name : "actor");
    pthread_setname_np(pthread_self(), tname);
    rcu_register_thread();
    int status = actor->cb.on_start != NULL ? actor->cb.on_start(actor) : 0;

    pthread_mutex_lock(&actor->_start_mutex);
    actor->_start_status = status;
    actor->_started = true;
    pthread_cond_signal(&actor->_start_cond);
    pthread_mutex_unlock(&actor->_start_mutex);
    if (status != 0)
        goto Exit;

    bool stop = false;
    uint64_t next_tick = actor->tick_ms != 0 ? monotonic_ms() + actor->tick_ms : 0;
    while (!stop) {
        int timeout = -1;
        if (next_tick != 0) {
            uint64_t now = monotonic_ms();
            timeout = now >= next_tick ? 0 : (int)(next_tick - now);
        }
        if (actor->cb.wait != NULL)
            actor->cb.wait(actor, hl_mailbox_fd(&actor->mailbox), timeout);
        else
            hl_mailbox_wait(&actor->mailbox, timeout);
        hl_msg_batch_t raw;
        if (hl_mailbox_take(&actor->mailbox, &raw))
            handle(actor, &raw, &stop);
        if (next_tick != 0 && monotonic_ms() >= next_tick) {
            if (actor->cb.on_tick != NULL)
                actor->cb.on_tick(actor);
            next_tick = monotonic_ms() + actor->tick_ms;
        }
    }
    /* handle what producers queued before they were stopped (workers stop before actors) */
    hl_msg_batch_t raw;
    while (hl_mailbox_take(&actor->mailbox, &raw)) {
        bool ignored = false;
        handle(actor, &raw, &ignored);
    }
    if (actor->cb.on_stop != NULL)
        actor->cb.on_stop(actor);
Exit:
    rcu_unregister_thread();
    return NULL;
}

int hl_actor_init(hl_actor_t *actor, const char *name, const hl_actor_callbacks_t *cb, void *data)
{
    memset(actor, 0, sizeof(*actor));
    actor->name = name;
    actor->cb = *cb;
    actor->data = data;
    atomic_init(&actor->max_inflight, 4096);
    atomic_init(&actor->inflight, 0);
    pthread_mutex_init(&actor->_start_mutex, NULL);
    pthread_cond_init(&actor->_start_cond, NULL);
    return hl_mailbox_init(&actor->mailbox);
}

int hl_actor_start(hl_actor_t *actor)
{
    int r = pthread_create(&actor->_thread, NULL, actor_main, actor);
    if (r != 0)
        return -r;
    pthread_mutex_lock(&actor->_start_mutex);
    while (!actor->_started)
        pthread_cond_wait(&actor->_start_cond, &actor->_start_mutex);
    int status = actor->_start_status;
    pthread_mutex_unlock(&actor->_start_mutex);
    if (status != 0) {
        pthread_join(actor->_thread, NULL);
        return status < 0 ? status : -status;
    }
    actor->_running = true;
    return 0;
}

bool hl_actor_acquire_slot(hl_actor_t *actor)
{
    unsigned prev = atomic_fetch_add_explicit(&actor->inflight, 1, memory_order_relaxed);
    if (prev >= atomic_load_explicit(&actor->max_inflight, memory_order_relaxed)) {
        atomic_fetch_sub_explicit(&actor->inflight, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

void hl_actor_release_slot(hl_actor_t *actor)
{
    atomic_fetch_sub_explicit(&actor->inflight, 1, memory_order_relaxed);
}

void hl_actor_stop(hl_actor_t *actor)
{
    if (!actor->_running)
        return;
    hl_msg_t *stop = hl_malloc(sizeof(*stop));
    hl_msg_init(stop, HL_MSG_ACTOR_STOP, NULL);
    hl_mailbox_post(&actor->mailbox, stop);
    pthread_join(actor->_thread, NULL);
    actor->_running = false;
}

void hl_actor_dispose(hl_actor_t *actor)
{
    hl_mailbox_dispose(&actor->mailbox);
    pthread_mutex_destroy(&actor->_start_mutex);
    pthread_cond_destroy(&actor->_start_cond);
}

void hl_actor_run_tasks(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    (void)actor;
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(batch)) != NULL) {
        hl_task_t *task = (hl_task_t *)msg;
        task->run(task);
    }
}
