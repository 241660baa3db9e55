#include "hl/mailbox.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hl/tsan.h"

int hl_mailbox_init(hl_mailbox_t *mb)
{
    __cds_wfcq_init(&mb->_head, &mb->_tail);
    mb->_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->_efd < 0)
        return -errno;
    atomic_init(&mb->wakeups, 0);
    return 0;
}

void hl_msg_init(hl_msg_t *msg, int type, hl_msg_free_cb free_cb)
{
    cds_wfcq_node_init(&msg->_node);
    msg->type = type;
    msg->free = free_cb;
}

void hl_msg_free(hl_msg_t *msg)
{
    if (msg->free != NULL)
        msg->free(msg);
    else
        free(msg);
}

void hl_mailbox_post(hl_mailbox_t *mb, hl_msg_t *msg)
{
    cds_wfcq_node_init(&msg->_node);
    HL_TSAN_RELEASE(&mb->_head);
    /* enqueue returns false when the queue was empty: only that transition needs a wake-up, the consumer drains
     * everything that follows in the same batch */
    if (!cds_wfcq_enqueue(&mb->_head, &mb->_tail, &msg->_node)) {
        uint64_t one = 1;
        ssize_t r;
        while ((r = write(mb->_efd, &one, sizeof(one))) < 0 && errno == EINTR)
            ;
        /* EAGAIN means the counter is saturated, which still leaves the fd readable */
    }
}

static void drain_eventfd(hl_mailbox_t *mb)
{
    uint64_t v;
    ssize_t r;
    while ((r = read(mb->_efd, &v, sizeof(v))) < 0 && errno == EINTR)
        ;
}

bool hl_mailbox_take(hl_mailbox_t *mb, hl_msg_batch_t *batch)
{
    /* drain before splicing: a post racing with us either lands in this splice or finds the queue empty afterwards
     * and writes the eventfd again */
    drain_eventfd(mb);
    __cds_wfcq_init(&batch->head, &batch->tail);
    enum cds_wfcq_ret ret = __cds_wfcq_splice_blocking(&batch->head, &batch->tail, &mb->_head, &mb->_tail);
    if (ret == CDS_WFCQ_RET_SRC_EMPTY)
        return false;
    HL_TSAN_ACQUIRE(&mb->_head);
    atomic_fetch_add_explicit(&mb->wakeups, 1, memory_order_relaxed);
    return true;
}

hl_msg_t *hl_msg_batch_pop(hl_msg_batch_t *batch)
{
    struct cds_wfcq_node *node = __cds_wfcq_dequeue_blocking(&batch->head, &batch->tail);
    return node == NULL ? NULL : caa_container_of(node, hl_msg_t, _node);
}

void hl_msg_batch_free(hl_msg_batch_t *batch)
{
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(batch)) != NULL)
        hl_msg_free(msg);
}

int hl_mailbox_wait(hl_mailbox_t *mb, int timeout_ms)
{
    struct pollfd pfd = {.fd = mb->_efd, .events = POLLIN};
    int r = poll(&pfd, 1, timeout_ms);
    return r > 0 ? 1 : 0;
}

int hl_mailbox_fd(const hl_mailbox_t *mb)
{
    return mb->_efd;
}

void hl_mailbox_dispose(hl_mailbox_t *mb)
{
    hl_msg_batch_t batch;
    __cds_wfcq_init(&batch.head, &batch.tail);
    __cds_wfcq_splice_blocking(&batch.head, &batch.tail, &mb->_head, &mb->_tail);
    hl_msg_batch_free(&batch);
    if (mb->_efd >= 0) {
        close(mb->_efd);
        mb->_efd = -1;
    }
}
