/*
 * Mailbox: a wait-free multi-producer queue (liburcu cds_wfcq) plus an eventfd that is written only when a post
 * turns the queue from empty to non-empty, so a burst of N posts costs the consumer one wake-up.
 *
 * One consumer per mailbox. Consumers either block (hl_mailbox_wait, actor threads) or are woken by their h2o
 * event loop (hl_mailbox_fd, worker threads). Posting transfers ownership of the message.
 */
#ifndef HL_MAILBOX_H
#define HL_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <urcu/wfcqueue.h>

#include "hl/common.h"

typedef struct st_hl_msg_t hl_msg_t;
typedef struct st_hl_mailbox_t hl_mailbox_t;

/** Frees a message and whatever it owns. Called by whoever ends up owning it (receiver, or dispose at shutdown). */
typedef void (*hl_msg_free_cb)(hl_msg_t *msg);

/**
 * The header embedded first in every message. `type` is interpreted by the receiving mailbox's owner.
 */
struct st_hl_msg_t {
    struct cds_wfcq_node _node;
    int type;
    hl_msg_free_cb free;
};

/** A batch taken out of a mailbox in one go; pop messages with hl_msg_batch_pop. */
typedef struct st_hl_msg_batch_t {
    struct __cds_wfcq_head head;
    struct cds_wfcq_tail tail;
} hl_msg_batch_t;

struct st_hl_mailbox_t {
    struct __cds_wfcq_head _head;
    struct cds_wfcq_tail _tail;
    int _efd;
    /** wake-ups that reached the consumer (statistics, for tests and benchmarks) */
    atomic_ulong wakeups;
};

/** Initialises a mailbox. Returns 0 or -errno (eventfd creation failed). Consumer thread or before threads start. */
int hl_mailbox_init(hl_mailbox_t *mb) HL_WARN_UNUSED;

/**
 * Frees every message still queued (through its free callback) and closes the eventfd. Call only when no producer can
 * post any more and after whatever waits on its fd stopped.
 */
void hl_mailbox_dispose(hl_mailbox_t *mb);

/** Initialises a message header with its type and free callback (NULL free → free(3)). */
void hl_msg_init(hl_msg_t *msg, int type, hl_msg_free_cb free_cb);

/** Frees a message through its callback. */
void hl_msg_free(hl_msg_t *msg);

/**
 * Enqueues `msg` (ownership passes to the consumer). Wait-free; writes the eventfd only on the empty→non-empty
 * transition. Any thread.
 */
void hl_mailbox_post(hl_mailbox_t *mb, hl_msg_t *msg);

/**
 * Takes every queued message into `batch` (drains the eventfd first so no wake-up is lost). Returns true when the
 * batch is non-empty. Consumer thread only.
 */
bool hl_mailbox_take(hl_mailbox_t *mb, hl_msg_batch_t *batch);

/** Pops the next message of a batch in FIFO order, or NULL when the batch is empty. */
hl_msg_t *hl_msg_batch_pop(hl_msg_batch_t *batch);

/** Frees every message left in a batch. */
void hl_msg_batch_free(hl_msg_batch_t *batch);

/**
 * Blocks until the mailbox may have messages, `timeout_ms` elapses (-1 = forever) or a signal interrupts.
 * Returns 1 when readable, 0 on timeout. Consumer thread only.
 */
int hl_mailbox_wait(hl_mailbox_t *mb, int timeout_ms);

/**
 * The eventfd that becomes readable when messages may be waiting, for consumers that wait on more than the mailbox (an
 * event loop, a curl multi handle): wait for it to be readable, then call hl_mailbox_take. Never read it directly.
 */
int hl_mailbox_fd(const hl_mailbox_t *mb);

#endif
