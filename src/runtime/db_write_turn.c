/*
 * The write turn: a FIFO hand-off lock. The holder gives the turn straight to the oldest waiter (no barging), so a
 * waiter is never overtaken by a thread that asked later.
 */
#include "hl/db_write_turn.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

typedef struct st_waiter_t {
    pthread_cond_t cond;
    bool granted;
    struct st_waiter_t *next;
} waiter_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool held;
static waiter_t *head, *tail;
static unsigned num_waiters;

/* Takes `w` out of the queue (it timed out). Under the lock. */
static void unlink_waiter(waiter_t *w)
{
    waiter_t **p = &head, *prev = NULL;
    while (*p != NULL && *p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    if (*p == NULL)
        return;
    *p = w->next;
    if (tail == w)
        tail = prev;
    --num_waiters;
}

int hl_db_write_turn_take(unsigned timeout_ms)
{
    pthread_mutex_lock(&lock);
    if (!held && head == NULL) {
        held = true;
        pthread_mutex_unlock(&lock);
        return 0;
    }
    waiter_t w = {.granted = false, .next = NULL};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (tail != NULL)
        tail->next = &w;
    else
        head = &w;
    tail = &w;
    ++num_waiters;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (!w.granted && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w.cond, &lock, &until);
    if (!w.granted) /* timed out while still queued: leave the queue; the turn was never ours */
        unlink_waiter(&w);
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&w.cond);
    return w.granted ? 0 : -ETIMEDOUT;
}

void hl_db_write_turn_give(void)
{
    pthread_mutex_lock(&lock);
    waiter_t *w = head;
    if (w != NULL) {
        head = w->next;
        if (head == NULL)
            tail = NULL;
        --num_waiters;
        w->granted = true; /* `held` stays true: the turn passes without ever being free */
        pthread_cond_signal(&w->cond);
    } else {
        held = false;
    }
    pthread_mutex_unlock(&lock);
}

unsigned hl_db_write_turn_waiters(void)
{
    pthread_mutex_lock(&lock);
    unsigned n = num_waiters;
    pthread_mutex_unlock(&lock);
    return n;
}
