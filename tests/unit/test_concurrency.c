/*
 * Mailbox and actor runtime under real threads (own binary, also built with ThreadSanitizer).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "hl/actor.h"
#include "hl/config.h"
#include "hl/db_readers.h"
#include "hl/db_write_turn.h"
#include "hl/hermes_files.h"
#include "hl/hermes_manage.h"
#include "hl/keyed_counts.h"
#include "hl/mailbox.h"
#include "hl/stats.h"
#include "hl/store.h"
#include "hl/db_schema.h"
#include "hl/token_table.h"
#include "hl/tokens.h"
#include "hl/updater.h"
#include "unit_util.h"

#define STRESS_PER_PRODUCER 100000 /* ~3 s under TSan on 2 cores: no need to scale down */
#define STRESS_PRODUCERS 4

#if defined(__SANITIZE_THREAD__)
/* Stop a test at its first race report: a race repeated for every message would otherwise print for minutes. Check
 * forks per test, so only the racy test fails (exit 66). */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "halt_on_error=1";
}

/* liburcu is not instrumented: its own hand-offs (rcu_barrier's completion, freed by the call_rcu thread; resized
 * hash-table buckets) synchronise through atomics and futexes ThreadSanitizer cannot see. Ignore the allocator calls made
 * from inside the library only; entries freed by our call_rcu callbacks are still checked. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:liburcu.so\n"
           "called_from_lib:liburcu-cds.so\n";
}
#endif

/*
 * regression (TSan build only): src/actors/mailbox.c hands messages between threads through liburcu's cds_wfcq, whose
 * atomics live in the uninstrumented liburcu-cds.so, so ThreadSanitizer sees no happens-before from a producer's writes
 * to a message to the consumer's reads and reports a data race for every message that crosses threads (eventfd
 * read/write only covers the first post of a burst). hl_mailbox_post should __tsan_release(&mb->_head) before the
 * enqueue and hl_mailbox_take __tsan_acquire(&mb->_head) after a non-empty splice (under __SANITIZE_THREAD__). Every
 * test below that posts from one thread and handles on another fails under TSan until then.
 *
 * regression (TSan build only): src/actors/token_table.c publishes and reclaims entries through liburcu (cds_lfht,
 * call_rcu), equally invisible to ThreadSanitizer, so token_table_readers_and_writer reports a race between the
 * writer's initialisation of an entry (hl_token_table_put) and a reader's visit (hl_token_table_lookup), and between a
 * reader and free_entry_rcu. Needed under __SANITIZE_THREAD__: __tsan_release(e) before cds_lfht_add_replace and before
 * every call_rcu, __tsan_acquire(e) in lookup once the node is found and __tsan_release(e) before its rcu_read_unlock,
 * and __tsan_acquire(e) in free_entry_rcu before free.
 */

typedef struct st_test_msg_t {
    hl_msg_t super;
    int producer;
    int seq;
} test_msg_t;

static atomic_int freed_count;

static void count_free(hl_msg_t *msg)
{
    atomic_fetch_add(&freed_count, 1);
    free(msg);
}

/* for messages living in a preallocated array: the owner frees the array */
static void no_free(hl_msg_t *msg)
{
    (void)msg;
}

static test_msg_t *new_msg(int type, int producer, int seq)
{
    test_msg_t *m = malloc(sizeof(*m));
    ck_assert_ptr_nonnull(m);
    hl_msg_init(&m->super, type, count_free);
    m->producer = producer;
    m->seq = seq;
    return m;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- mailbox, single thread ---- */

START_TEST(mailbox_fifo_single_producer)
{
    hl_mailbox_t mb;
    ck_assert_int_eq(hl_mailbox_init(&mb), 0);
    atomic_store(&freed_count, 0);
    for (int i = 0; i < 1000; ++i)
        hl_mailbox_post(&mb, &new_msg(1 + i % 3, 0, i)->super);
    hl_msg_batch_t batch;
    ck_assert(hl_mailbox_take(&mb, &batch));
    for (int i = 0; i < 1000; ++i) {
        test_msg_t *m = (test_msg_t *)hl_msg_batch_pop(&batch);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(m->seq, i);
        ck_assert_int_eq(m->super.type, 1 + i % 3);
        hl_msg_free(&m->super);
    }
    ck_assert_ptr_null(hl_msg_batch_pop(&batch));
    ck_assert_int_eq(atomic_load(&freed_count), 1000);
    ck_assert(!hl_mailbox_take(&mb, &batch));
    hl_mailbox_dispose(&mb);
}
END_TEST

START_TEST(mailbox_one_wakeup_per_batch)
{
    hl_mailbox_t mb;
    ck_assert_int_eq(hl_mailbox_init(&mb), 0);
    ck_assert_uint_eq(atomic_load(&mb.wakeups), 0);
    ck_assert_int_eq(hl_mailbox_wait(&mb, 0), 0); /* empty: not readable */

    for (int i = 0; i < 500; ++i)
        hl_mailbox_post(&mb, &new_msg(1, 0, i)->super);
    ck_assert_int_eq(hl_mailbox_wait(&mb, 0), 1);

    hl_msg_batch_t batch;
    ck_assert(hl_mailbox_take(&mb, &batch));
    ck_assert_uint_eq(atomic_load(&mb.wakeups), 1);
    int n = 0;
    hl_msg_t *m;
    while ((m = hl_msg_batch_pop(&batch)) != NULL) {
        ++n;
        hl_msg_free(m);
    }
    ck_assert_int_eq(n, 500);
    /* the eventfd was drained by the take: nothing left to wake up for */
    ck_assert_int_eq(hl_mailbox_wait(&mb, 0), 0);
    ck_assert(!hl_mailbox_take(&mb, &batch));
    ck_assert_uint_eq(atomic_load(&mb.wakeups), 1);

    /* a post after the take makes the fd readable again */
    hl_mailbox_post(&mb, &new_msg(2, 0, 0)->super);
    ck_assert_int_eq(hl_mailbox_wait(&mb, 0), 1);
    ck_assert(hl_mailbox_take(&mb, &batch));
    ck_assert_uint_eq(atomic_load(&mb.wakeups), 2);
    m = hl_msg_batch_pop(&batch);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->type, 2);
    hl_msg_free(m);
    ck_assert_ptr_null(hl_msg_batch_pop(&batch));
    ck_assert_int_eq(hl_mailbox_wait(&mb, 0), 0);
    hl_mailbox_dispose(&mb);
}
END_TEST

START_TEST(mailbox_eventfd_written_once_per_burst)
{
    hl_mailbox_t mb;
    ck_assert_int_eq(hl_mailbox_init(&mb), 0);
    for (int i = 0; i < 100; ++i)
        hl_mailbox_post(&mb, &new_msg(1, 0, i)->super);
    /* peek at the private eventfd: only the empty→non-empty post wrote it, so its counter is 1, not 100 */
    uint64_t v = 0;
    ck_assert_int_eq(read(mb._efd, &v, sizeof(v)), (ssize_t)sizeof(v));
    ck_assert_uint_eq(v, 1);
    hl_msg_batch_t batch;
    ck_assert(hl_mailbox_take(&mb, &batch));
    hl_msg_batch_free(&batch);
    hl_mailbox_dispose(&mb);
}
END_TEST

START_TEST(mailbox_dispose_frees_queued)
{
    hl_mailbox_t mb;
    ck_assert_int_eq(hl_mailbox_init(&mb), 0);
    atomic_store(&freed_count, 0);
    for (int i = 0; i < 7; ++i)
        hl_mailbox_post(&mb, &new_msg(1, 0, i)->super);
    hl_mailbox_dispose(&mb);
    ck_assert_int_eq(atomic_load(&freed_count), 7);
}
END_TEST

START_TEST(batch_free_uses_callbacks)
{
    hl_mailbox_t mb;
    ck_assert_int_eq(hl_mailbox_init(&mb), 0);
    atomic_store(&freed_count, 0);
    for (int i = 0; i < 5; ++i)
        hl_mailbox_post(&mb, &new_msg(1, 0, i)->super);
    /* a message with a NULL free callback is released with free(3) (ASan would flag a leak otherwise) */
    hl_msg_t *plain = malloc(sizeof(*plain));
    ck_assert_ptr_nonnull(plain);
    hl_msg_init(plain, 9, NULL);
    hl_mailbox_post(&mb, plain);
    hl_msg_batch_t batch;
    ck_assert(hl_mailbox_take(&mb, &batch));
    hl_msg_batch_free(&batch);
    ck_assert_int_eq(atomic_load(&freed_count), 5);
    ck_assert_ptr_null(hl_msg_batch_pop(&batch));
    hl_mailbox_dispose(&mb);
}
END_TEST

/* ---- mailbox, 4 producers x N messages, one blocking consumer ---- */

typedef struct st_stress_t {
    hl_mailbox_t mb;
    test_msg_t *msgs[STRESS_PRODUCERS];
    unsigned char *seen[STRESS_PRODUCERS];
    int last_seq[STRESS_PRODUCERS];
    long received, duplicates, out_of_order, bad, timeouts, takes, empty_takes;
} stress_t;

typedef struct st_producer_arg_t {
    stress_t *s;
    int id;
} producer_arg_t;

static void *stress_producer(void *arg)
{
    producer_arg_t *a = arg;
    test_msg_t *msgs = a->s->msgs[a->id];
    for (int i = 0; i < STRESS_PER_PRODUCER; ++i) {
        hl_msg_init(&msgs[i].super, 1, no_free);
        msgs[i].producer = a->id;
        msgs[i].seq = i;
        hl_mailbox_post(&a->s->mb, &msgs[i].super);
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    stress_t *s = arg;
    const long total = (long)STRESS_PRODUCERS * STRESS_PER_PRODUCER;
    while (s->received < total) {
        /* producers that are still running post far more often than every 5 s, and ones that finished leave the fd
         * readable if anything is queued: a timeout here means a lost wake-up */
        if (hl_mailbox_wait(&s->mb, 5000) == 0) {
            ++s->timeouts;
            if (s->timeouts > 2)
                break;
        }
        hl_msg_batch_t batch;
        if (!hl_mailbox_take(&s->mb, &batch)) {
            ++s->empty_takes;
            continue;
        }
        ++s->takes;
        hl_msg_t *msg;
        while ((msg = hl_msg_batch_pop(&batch)) != NULL) {
            test_msg_t *m = (test_msg_t *)msg;
            if (m->producer < 0 || m->producer >= STRESS_PRODUCERS || m->seq < 0 || m->seq >= STRESS_PER_PRODUCER) {
                ++s->bad;
                continue;
            }
            if (s->seen[m->producer][m->seq]++ != 0)
                ++s->duplicates;
            if (m->seq != s->last_seq[m->producer] + 1)
                ++s->out_of_order;
            s->last_seq[m->producer] = m->seq;
            ++s->received;
            hl_msg_free(msg);
        }
    }
    return NULL;
}

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(mailbox_stress_no_loss_fifo_per_producer)
{
    stress_t *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(hl_mailbox_init(&s->mb), 0);
    for (int p = 0; p < STRESS_PRODUCERS; ++p) {
        s->msgs[p] = calloc(STRESS_PER_PRODUCER, sizeof(test_msg_t));
        s->seen[p] = calloc(STRESS_PER_PRODUCER, 1);
        ck_assert(s->msgs[p] != NULL && s->seen[p] != NULL);
        s->last_seq[p] = -1;
    }
    pthread_t consumer, producers[STRESS_PRODUCERS];
    producer_arg_t args[STRESS_PRODUCERS];
    ck_assert_int_eq(pthread_create(&consumer, NULL, stress_consumer, s), 0);
    for (int p = 0; p < STRESS_PRODUCERS; ++p) {
        args[p] = (producer_arg_t){s, p};
        ck_assert_int_eq(pthread_create(&producers[p], NULL, stress_producer, &args[p]), 0);
    }
    for (int p = 0; p < STRESS_PRODUCERS; ++p)
        pthread_join(producers[p], NULL);
    pthread_join(consumer, NULL);

    ck_assert_int_eq(s->timeouts, 0);
    ck_assert_int_eq(s->bad, 0);
    ck_assert_int_eq(s->duplicates, 0);
    ck_assert_int_eq(s->out_of_order, 0);
    ck_assert_int_eq(s->received, (long)STRESS_PRODUCERS * STRESS_PER_PRODUCER);
    for (int p = 0; p < STRESS_PRODUCERS; ++p) {
        ck_assert_int_eq(s->last_seq[p], STRESS_PER_PRODUCER - 1);
        for (int i = 0; i < STRESS_PER_PRODUCER; ++i)
            if (s->seen[p][i] != 1)
                ck_abort_msg("producer %d message %d seen %d times", p, i, s->seen[p][i]);
    }
    /* every non-empty take counted exactly one wake-up */
    ck_assert_uint_eq(atomic_load(&s->mb.wakeups), (unsigned long)s->takes);
    ck_assert_int_le(s->takes, s->received);
    /* nothing left behind */
    hl_msg_batch_t batch;
    ck_assert(!hl_mailbox_take(&s->mb, &batch));
    ck_assert_int_eq(hl_mailbox_wait(&s->mb, 0), 0);

    hl_mailbox_dispose(&s->mb);
    for (int p = 0; p < STRESS_PRODUCERS; ++p) {
        free(s->msgs[p]);
        free(s->seen[p]);
    }
    free(s);
}
END_TEST

/* ---- actors ---- */

typedef struct st_actor_probe_t {
    pthread_t start_thread, stop_thread, batch_thread, tick_thread;
    int started, stopped, batches, handled, out_of_order, ticks, start_status, handled_at_stop, handled_after_batch_end;
    int last_seq;
    int pop_only_one;
    uint64_t tick_times[64];
} actor_probe_t;

static int probe_on_start(hl_actor_t *actor)
{
    actor_probe_t *p = actor->data;
    p->start_thread = pthread_self();
    ++p->started;
    return p->start_status;
}

static void probe_on_batch(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    actor_probe_t *p = actor->data;
    p->batch_thread = pthread_self();
    ++p->batches;
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(batch)) != NULL) {
        test_msg_t *m = (test_msg_t *)msg;
        if (m->seq != p->last_seq + 1)
            ++p->out_of_order;
        p->last_seq = m->seq;
        ++p->handled;
        hl_msg_free(msg);
        if (p->pop_only_one)
            break; /* the runtime frees the rest */
    }
}

static void probe_on_tick(hl_actor_t *actor)
{
    actor_probe_t *p = actor->data;
    p->tick_thread = pthread_self();
    if (p->ticks < (int)HL_ARRAY_SIZE(p->tick_times))
        p->tick_times[p->ticks] = now_ms();
    ++p->ticks;
}

static void probe_on_stop(hl_actor_t *actor)
{
    actor_probe_t *p = actor->data;
    p->stop_thread = pthread_self();
    p->handled_at_stop = p->handled;
    ++p->stopped;
}

static const hl_actor_callbacks_t PROBE_CB = {
    .on_start = probe_on_start, .on_batch = probe_on_batch, .on_tick = probe_on_tick, .on_stop = probe_on_stop};

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_callbacks_run_on_actor_thread)
{
    actor_probe_t p = {.last_seq = -1};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "probe", &PROBE_CB, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    ck_assert_int_eq(p.started, 1); /* start waits for on_start */
    hl_actor_post(&actor, &new_msg(1, 0, 0)->super);
    hl_actor_stop(&actor);
    ck_assert_int_eq(p.stopped, 1);
    ck_assert_int_eq(p.handled, 1);
    ck_assert_int_eq(p.handled_at_stop, 1);
    ck_assert(!pthread_equal(p.start_thread, pthread_self()));
    ck_assert(pthread_equal(p.start_thread, p.stop_thread));
    ck_assert(pthread_equal(p.start_thread, p.batch_thread));
    ck_assert_int_eq(p.ticks, 0); /* tick_ms 0: never */
    hl_actor_stop(&actor);        /* a second stop is harmless */
    ck_assert_int_eq(p.stopped, 1);
    hl_actor_dispose(&actor);
}
END_TEST

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_stop_handles_everything_queued)
{
    actor_probe_t p = {.last_seq = -1};
    hl_actor_t actor;
    atomic_store(&freed_count, 0);
    ck_assert_int_eq(hl_actor_init(&actor, "drain", &PROBE_CB, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    for (int i = 0; i < 10000; ++i)
        hl_actor_post(&actor, &new_msg(1, 0, i)->super);
    hl_actor_stop(&actor);
    ck_assert_int_eq(p.handled, 10000);
    ck_assert_int_eq(p.out_of_order, 0);
    ck_assert_int_eq(p.last_seq, 9999);
    ck_assert_int_eq(p.handled_at_stop, 10000); /* on_stop after the last batch */
    ck_assert_int_eq(p.stopped, 1);
    ck_assert_int_ge(p.batches, 1);
    ck_assert_int_eq(atomic_load(&freed_count), 10000);
    hl_actor_dispose(&actor);
}
END_TEST

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_runtime_frees_unpopped_messages)
{
    actor_probe_t p = {.last_seq = -1, .pop_only_one = 1};
    hl_actor_t actor;
    atomic_store(&freed_count, 0);
    ck_assert_int_eq(hl_actor_init(&actor, "lazy", &PROBE_CB, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    for (int i = 0; i < 100; ++i)
        hl_actor_post(&actor, &new_msg(1, 0, i)->super);
    hl_actor_stop(&actor);
    ck_assert_int_eq(p.handled, p.batches); /* one popped per batch */
    ck_assert_int_eq(atomic_load(&freed_count), 100);
    hl_actor_dispose(&actor);
}
END_TEST

START_TEST(actor_start_failure)
{
    actor_probe_t p = {.last_seq = -1, .start_status = -EIO};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "fails", &PROBE_CB, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), -EIO);
    ck_assert_int_eq(p.started, 1);
    ck_assert_int_eq(p.stopped, 0); /* on_stop does not run after a failed start */
    ck_assert_int_eq(p.batches, 0);
    hl_actor_stop(&actor); /* no-op on an actor that never ran */
    ck_assert_int_eq(p.stopped, 0);
    hl_actor_dispose(&actor);

    /* a positive status is reported as a negative error too */
    actor_probe_t q = {.last_seq = -1, .start_status = 5};
    ck_assert_int_eq(hl_actor_init(&actor, "fails2", &PROBE_CB, &q), 0);
    ck_assert_int_eq(hl_actor_start(&actor), -5);
    hl_actor_dispose(&actor);
}
END_TEST

START_TEST(actor_never_started_dispose)
{
    actor_probe_t p = {.last_seq = -1};
    hl_actor_t actor;
    atomic_store(&freed_count, 0);
    ck_assert_int_eq(hl_actor_init(&actor, "idle", &PROBE_CB, &p), 0);
    hl_actor_post(&actor, &new_msg(1, 0, 0)->super);
    hl_actor_stop(&actor);
    hl_actor_dispose(&actor); /* frees what is still queued */
    ck_assert_int_eq(atomic_load(&freed_count), 1);
    ck_assert_int_eq(p.started + p.handled + p.stopped, 0);
}
END_TEST

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_ticks)
{
    actor_probe_t p = {.last_seq = -1};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "ticker", &PROBE_CB, &p), 0);
    actor.tick_ms = 20;
    uint64_t t0 = now_ms();
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    /* messages keep arriving every 5 ms: they must not starve the tick */
    for (int i = 0; i < 80; ++i) {
        hl_actor_post(&actor, &new_msg(1, 0, i)->super);
        sleep_ms(5);
    }
    hl_actor_stop(&actor);
    uint64_t elapsed = now_ms() - t0;
    ck_assert_int_eq(p.handled, 80);
    ck_assert_int_ge(p.ticks, 3);
    ck_assert_int_le(p.ticks, (int)(elapsed / 20) + 1);
    ck_assert(pthread_equal(p.tick_thread, p.start_thread));
    ck_assert_uint_ge(p.tick_times[0] - t0, 19);
    for (int i = 1; i < p.ticks && i < (int)HL_ARRAY_SIZE(p.tick_times); ++i)
        ck_assert_uint_ge(p.tick_times[i] - p.tick_times[i - 1], 19);
    hl_actor_dispose(&actor);
}
END_TEST

/* An actor that waits on a pipe of its own besides its mailbox (the way the run proxy waits on curl's sockets). */
typedef struct st_wait_probe_t {
    actor_probe_t base;
    int pipe[2];
    atomic_int own_events; /* bytes read from the pipe, on the actor thread */
    int waits;
    pthread_t wait_thread;
} wait_probe_t;

static void probe_wait(hl_actor_t *actor, int mailbox_fd, int timeout_ms)
{
    wait_probe_t *p = actor->data;
    p->wait_thread = pthread_self();
    ++p->waits;
    struct pollfd fds[2] = {{.fd = mailbox_fd, .events = POLLIN}, {.fd = p->pipe[0], .events = POLLIN}};
    if (poll(fds, 2, timeout_ms) > 0 && (fds[1].revents & POLLIN)) {
        char buf[64];
        ssize_t n = read(p->pipe[0], buf, sizeof(buf));
        if (n > 0)
            atomic_fetch_add(&p->own_events, (int)n);
    }
}

static void wait_probe_on_batch(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    probe_on_batch(actor, batch); /* wait_probe_t begins with an actor_probe_t */
}

START_TEST(actor_wait_hook)
{
    wait_probe_t p = {.base = {.last_seq = -1}};
    ck_assert_int_eq(pipe(p.pipe), 0);
    hl_actor_callbacks_t cb = {.on_batch = wait_probe_on_batch, .wait = probe_wait};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "waiter", &cb, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    /* its own fd wakes it without a message … */
    ck_assert_int_eq(write(p.pipe[1], "abc", 3), 3);
    for (int i = 0; i < 200 && atomic_load(&p.own_events) < 3; ++i)
        sleep_ms(5);
    /* … and messages still arrive, in order, through the mailbox fd the hook waits on */
    for (int i = 0; i < 50; ++i)
        hl_actor_post(&actor, &new_msg(1, 0, i)->super);
    hl_actor_stop(&actor);
    ck_assert_int_eq(atomic_load(&p.own_events), 3);
    ck_assert_int_eq(p.base.handled, 50);
    ck_assert_int_eq(p.base.out_of_order, 0);
    ck_assert_int_ge(p.waits, 2);
    ck_assert(pthread_equal(p.wait_thread, p.base.batch_thread));
    hl_actor_dispose(&actor);
    close(p.pipe[0]);
    close(p.pipe[1]);
}
END_TEST

START_TEST(actor_slots_bound)
{
    actor_probe_t p = {.last_seq = -1};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "slots", &PROBE_CB, &p), 0);
    ck_assert_uint_eq(atomic_load(&actor.inflight), 0);
    ck_assert_uint_gt(atomic_load(&actor.max_inflight), 0); /* a default bound */
    atomic_store(&actor.max_inflight, 3);
    ck_assert(hl_actor_acquire_slot(&actor));
    ck_assert(hl_actor_acquire_slot(&actor));
    ck_assert(hl_actor_acquire_slot(&actor));
    ck_assert(!hl_actor_acquire_slot(&actor));
    ck_assert(!hl_actor_acquire_slot(&actor));
    ck_assert_uint_eq(atomic_load(&actor.inflight), 3); /* a refusal leaves the count alone */
    hl_actor_release_slot(&actor);
    ck_assert_uint_eq(atomic_load(&actor.inflight), 2);
    ck_assert(hl_actor_acquire_slot(&actor));
    ck_assert(!hl_actor_acquire_slot(&actor));
    for (int i = 0; i < 3; ++i)
        hl_actor_release_slot(&actor);
    ck_assert_uint_eq(atomic_load(&actor.inflight), 0);
    atomic_store(&actor.max_inflight, 0);
    ck_assert(!hl_actor_acquire_slot(&actor));
    ck_assert_uint_eq(atomic_load(&actor.inflight), 0);
    hl_actor_dispose(&actor);
}
END_TEST

#define SLOT_THREADS 4
#define SLOT_ITERATIONS 200000
#define SLOT_BOUND 3

typedef struct st_slot_shared_t {
    hl_actor_t actor;
    atomic_int held;
    atomic_int max_held;
    atomic_long granted;
    atomic_long refused;
} slot_shared_t;

static void *slot_worker(void *arg)
{
    slot_shared_t *s = arg;
    for (int i = 0; i < SLOT_ITERATIONS; ++i) {
        if (!hl_actor_acquire_slot(&s->actor)) {
            atomic_fetch_add(&s->refused, 1);
            continue;
        }
        atomic_fetch_add(&s->granted, 1);
        int h = atomic_fetch_add(&s->held, 1) + 1;
        int m = atomic_load(&s->max_held);
        while (h > m && !atomic_compare_exchange_weak(&s->max_held, &m, h))
            ;
        atomic_fetch_sub(&s->held, 1);
        hl_actor_release_slot(&s->actor);
    }
    return NULL;
}

START_TEST(actor_slots_concurrent)
{
    static slot_shared_t s;
    actor_probe_t p = {.last_seq = -1};
    ck_assert_int_eq(hl_actor_init(&s.actor, "slots", &PROBE_CB, &p), 0);
    atomic_store(&s.actor.max_inflight, SLOT_BOUND);
    atomic_store(&s.held, 0);
    atomic_store(&s.max_held, 0);
    atomic_store(&s.granted, 0);
    atomic_store(&s.refused, 0);
    pthread_t th[SLOT_THREADS];
    for (int i = 0; i < SLOT_THREADS; ++i)
        ck_assert_int_eq(pthread_create(&th[i], NULL, slot_worker, &s), 0);
    for (int i = 0; i < SLOT_THREADS; ++i)
        pthread_join(th[i], NULL);
    ck_assert_int_le(atomic_load(&s.max_held), SLOT_BOUND);
    ck_assert_int_ge(atomic_load(&s.max_held), 1);
    ck_assert_int_eq(atomic_load(&s.granted) + atomic_load(&s.refused), (long)SLOT_THREADS * SLOT_ITERATIONS);
    ck_assert_uint_eq(atomic_load(&s.actor.inflight), 0);
    /* with every slot back, the full bound is available again */
    for (int i = 0; i < SLOT_BOUND; ++i)
        ck_assert(hl_actor_acquire_slot(&s.actor));
    ck_assert(!hl_actor_acquire_slot(&s.actor));
    hl_actor_dispose(&s.actor);
}
END_TEST

/* several producer threads into a running actor, stopped right after the producers finish */
#define ACTOR_PRODUCERS 3
#define ACTOR_PER_PRODUCER 5000

typedef struct st_multi_probe_t {
    int last_seq[ACTOR_PRODUCERS];
    int handled, out_of_order;
} multi_probe_t;

static void multi_on_batch(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    multi_probe_t *p = actor->data;
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(batch)) != NULL) {
        test_msg_t *m = (test_msg_t *)msg;
        if (m->seq != p->last_seq[m->producer] + 1)
            ++p->out_of_order;
        p->last_seq[m->producer] = m->seq;
        ++p->handled;
        hl_msg_free(msg);
    }
}

typedef struct st_actor_producer_t {
    hl_actor_t *actor;
    int id;
} actor_producer_t;

static void *actor_producer(void *arg)
{
    actor_producer_t *a = arg;
    for (int i = 0; i < ACTOR_PER_PRODUCER; ++i)
        hl_actor_post(a->actor, &new_msg(1, a->id, i)->super);
    return NULL;
}

/* ---- reader threads: many producers, several consumers, every job exactly once, all done before stop returns ---- */

#define READER_PRODUCERS 4
#define READER_JOBS 400

typedef struct st_reader_job_t {
    hl_db_job_t super;
    atomic_int *completed;
    atomic_int *ran;
    int value, got;
} reader_job_t;

static int reader_run(hl_db_job_t *base, hl_db_t *db)
{
    reader_job_t *j = (reader_job_t *)base;
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT ?1 + 1");
    sqlite3_bind_int(st, 1, j->value);
    j->got = hl_db_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    atomic_fetch_add(j->ran, 1);
    return 0;
}

static void reader_complete(hl_db_job_t *base, int status)
{
    reader_job_t *j = (reader_job_t *)base;
    /* the job ran on this reader, in its own read transaction, and saw its own value */
    if (status == 0 && j->got == j->value + 1)
        atomic_fetch_add(j->completed, 1);
    free(j);
}

typedef struct st_reader_producer_t {
    hl_db_readers_t *readers;
    atomic_int *completed, *ran;
    int id;
} reader_producer_t;

static void *reader_producer(void *arg)
{
    reader_producer_t *p = arg;
    for (int i = 0; i < READER_JOBS; ++i) {
        reader_job_t *j = hl_calloc(1, sizeof(*j));
        hl_db_job_init(&j->super, reader_run, reader_complete);
        j->completed = p->completed;
        j->ran = p->ran;
        j->value = p->id * READER_JOBS + i;
        hl_db_readers_post(p->readers, &j->super);
    }
    return NULL;
}

START_TEST(db_readers_many_producers)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "r.db");
    sqlite3 *db;
    ck_assert_int_eq(hl_db_open(path, false, &db), 0); /* creates the WAL database the readers open read-only */
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    hl_db_readers_t *readers;
    ck_assert_int_eq(hl_db_readers_start(&readers, "readers", path, 3, 0, NULL), 0);
    atomic_int completed = 0, ran = 0;
    pthread_t t[READER_PRODUCERS];
    reader_producer_t p[READER_PRODUCERS];
    for (int i = 0; i < READER_PRODUCERS; ++i) {
        p[i] = (reader_producer_t){.readers = readers, .completed = &completed, .ran = &ran, .id = i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, reader_producer, &p[i]), 0);
    }
    for (int i = 0; i < READER_PRODUCERS; ++i)
        pthread_join(t[i], NULL);
    hl_db_readers_stop(readers); /* runs everything queued first */
    ck_assert_int_eq(atomic_load(&ran), READER_PRODUCERS * READER_JOBS);
    ck_assert_int_eq(atomic_load(&completed), READER_PRODUCERS * READER_JOBS);
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* A reader's job that runs past the pool's limit is interrupted and completes with HL_DB_TIMEOUT; the reader goes on. */
typedef struct st_slow_job_t {
    hl_db_job_t super;
    const char *sql;
    atomic_int *status;
} slow_job_t;

static int slow_run(hl_db_job_t *base, hl_db_t *db)
{
    slow_job_t *j = (slow_job_t *)base;
    sqlite3_stmt *st = hl_db_stmt(db, j->sql);
    while (hl_db_step(st) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return 0;
}

static void slow_complete(hl_db_job_t *base, int status)
{
    slow_job_t *j = (slow_job_t *)base;
    atomic_store(j->status, status == 0 ? 1 : status);
    free(j);
}

START_TEST(db_readers_time_limit)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "r.db");
    sqlite3 *db;
    ck_assert_int_eq(hl_db_open(path, false, &db), 0);
    hl_db_readers_t *readers;
    ck_assert_int_eq(hl_db_readers_start(&readers, "slow", path, 1, 100, NULL), 0);
    atomic_int endless = 0, quick = 0;
    slow_job_t *a = hl_calloc(1, sizeof(*a)), *b = hl_calloc(1, sizeof(*b));
    hl_db_job_init(&a->super, slow_run, slow_complete);
    a->sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"; /* never ends */
    a->status = &endless;
    hl_db_job_init(&b->super, slow_run, slow_complete);
    b->sql = "SELECT 1";
    b->status = &quick;
    hl_db_readers_post(readers, &a->super);
    hl_db_readers_post(readers, &b->super); /* behind it on the only reader */
    hl_db_readers_stop(readers);
    ck_assert_int_eq(atomic_load(&endless), HL_DB_TIMEOUT);
    ck_assert_int_eq(atomic_load(&quick), 1);
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_multi_producer)
{
    static const hl_actor_callbacks_t cb = {.on_batch = multi_on_batch};
    multi_probe_t p = {.last_seq = {-1, -1, -1}};
    hl_actor_t actor;
    ck_assert_int_eq(hl_actor_init(&actor, "multi", &cb, &p), 0);
    ck_assert_int_eq(hl_actor_start(&actor), 0);
    pthread_t th[ACTOR_PRODUCERS];
    actor_producer_t args[ACTOR_PRODUCERS];
    for (int i = 0; i < ACTOR_PRODUCERS; ++i) {
        args[i] = (actor_producer_t){&actor, i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, actor_producer, &args[i]), 0);
    }
    for (int i = 0; i < ACTOR_PRODUCERS; ++i)
        pthread_join(th[i], NULL);
    hl_actor_stop(&actor);
    ck_assert_int_eq(p.handled, ACTOR_PRODUCERS * ACTOR_PER_PRODUCER);
    ck_assert_int_eq(p.out_of_order, 0);
    for (int i = 0; i < ACTOR_PRODUCERS; ++i)
        ck_assert_int_eq(p.last_seq[i], ACTOR_PER_PRODUCER - 1);
    hl_actor_dispose(&actor);
}
END_TEST

/* ---- token table: one writer, RCU readers ---- */

#define TT_KEYS 8
#define TT_STABLE 4 /* keys below this are only ever replaced, never removed: readers must always find them */
#define TT_READERS 3
#define TT_RUN_MS 1000
#define TT_NOW 1778241600000LL
#define TT_HOUR (60LL * 60 * 1000)

typedef struct st_tt_shared_t {
    hl_token_hash_t hash[TT_KEYS];
    atomic_bool stop;
    atomic_int warmed_up;
} tt_shared_t;

typedef struct st_tt_reader_t {
    tt_shared_t *s;
    long lookups, found, inconsistent, stable_missing, went_back, late_post_seen;
    long last_gen[TT_KEYS];
    char first_problem[256];
} tt_reader_t;

typedef struct st_tt_visit_t {
    int key;
    long gen;
    bool ok;
    char why[200];
} tt_visit_t;

/* Everything in an entry is derived from (key, generation): a reader can tell a torn or mixed-up entry. */
static void tt_device(int key, long gen, char *id, char *label, char *platform, char *model, size_t size, hl_auth_device_t *dev)
{
    snprintf(id, size, "dev-%d-%ld", key, gen);
    snprintf(label, size, "label %d/%ld", key, gen);
    snprintf(platform, size, "p%ld", gen);
    snprintf(model, size, "m%d.%ld", key, gen);
    *dev = (hl_auth_device_t){.id = id,
                              .label = label,
                              .platform = platform,
                              .model = gen % 2 == 0 ? model : NULL,
                              .app_instance_bound = gen % 3 == 0,
                              .access_expires_at = TT_NOW + TT_HOUR + gen};
}

static void tt_visit(const hl_auth_device_t *dev, void *data)
{
    tt_visit_t *v = data;
    int k1 = -1, k2 = -2, k3 = -3;
    long g1 = -1, g2 = -2, g3 = -3, g4 = -4;
    char quoted_id[80];
    v->ok = false;
    if (sscanf(dev->id, "dev-%d-%ld", &k1, &g1) != 2 || sscanf(dev->label, "label %d/%ld", &k2, &g2) != 2 ||
        sscanf(dev->platform, "p%ld", &g3) != 1) {
        snprintf(v->why, sizeof(v->why), "unparsable entry id=%s label=%s platform=%s", dev->id, dev->label, dev->platform);
        return;
    }
    v->key = k1;
    v->gen = g1;
    snprintf(quoted_id, sizeof(quoted_id), "\"%s\"", dev->id);
    bool model_ok = g1 % 2 == 0 ? dev->model != NULL && sscanf(dev->model, "m%d.%ld", &k3, &g4) == 2 && k3 == k1 && g4 == g1
                                : dev->model == NULL;
    if (k1 != k2 || g1 != g2 || g1 != g3 || !model_ok || dev->app_instance_bound != (g1 % 3 == 0) ||
        dev->access_expires_at != TT_NOW + TT_HOUR + g1 || dev->json == NULL || strstr(dev->json, quoted_id) == NULL) {
        snprintf(v->why, sizeof(v->why), "mixed entry id=%s label=%s platform=%s model=%s expires=%lld", dev->id, dev->label,
                 dev->platform, dev->model != NULL ? dev->model : "(null)", (long long)dev->access_expires_at);
        return;
    }
    v->ok = true;
}

static void tt_problem(tt_reader_t *r, int key, const char *what)
{
    if (r->first_problem[0] == '\0')
        snprintf(r->first_problem, sizeof(r->first_problem), "key %d: %s", key, what);
}

static void *tt_reader(void *arg)
{
    tt_reader_t *r = arg;
    tt_shared_t *s = r->s;
    rcu_register_thread();
    for (int k = 0; k < TT_KEYS; ++k)
        r->last_gen[k] = -1;
    for (int round = 0; !atomic_load(&s->stop); ++round) {
        for (int k = 0; k < TT_KEYS; ++k) {
            tt_visit_t v = {0};
            bool post = false;
            ++r->lookups;
            /* one hour between last-seen writes: after the first round every entry has asked once, and a replacement
             * keeps that state, so no later lookup may ask again */
            if (!hl_token_table_lookup(&s->hash[k], TT_NOW, TT_HOUR, &post, tt_visit, &v)) {
                if (k < TT_STABLE) {
                    ++r->stable_missing;
                    tt_problem(r, k, "not found though never removed");
                }
                continue;
            }
            ++r->found;
            if (!v.ok || v.key != k) {
                ++r->inconsistent;
                tt_problem(r, k, v.why);
                continue;
            }
            if (v.gen < r->last_gen[k]) {
                ++r->went_back;
                tt_problem(r, k, "an older generation after a newer one");
            }
            r->last_gen[k] = v.gen;
            if (post && round > 0 && k < TT_STABLE && atomic_load(&s->warmed_up) == TT_READERS)
                ++r->late_post_seen;
        }
        if (round == 0)
            atomic_fetch_add(&s->warmed_up, 1);
    }
    rcu_unregister_thread();
    return NULL;
}

static void tt_put(tt_shared_t *s, int key, long gen)
{
    char id[64], label[64], platform[64], model[64];
    hl_auth_device_t dev;
    tt_device(key, gen, id, label, platform, model, sizeof(id), &dev);
    hl_token_table_put(&s->hash[key], &dev);
}

/*
 * The auth actor replaces, removes and re-adds entries while workers look them up: a reader never sees a torn or
 * mixed entry, never misses an entry that is only being replaced, never goes back to an older generation, and (once
 * every entry has asked for its last-seen write) a replacement does not make anyone ask again.
 */
START_TEST(token_table_readers_and_writer)
{
    static tt_shared_t s;
    rcu_register_thread();
    hl_token_table_init();
    atomic_store(&s.stop, false);
    atomic_store(&s.warmed_up, 0);
    long gen = 0;
    bool present[TT_KEYS];
    for (int k = 0; k < TT_KEYS; ++k) {
        char tok[32];
        snprintf(tok, sizeof(tok), "hlat_concurrent_%d", k);
        hl_token_hash(tok, strlen(tok), &s.hash[k]);
        tt_put(&s, k, ++gen);
        present[k] = true;
    }
    tt_reader_t readers[TT_READERS];
    pthread_t th[TT_READERS];
    memset(readers, 0, sizeof(readers));
    for (int i = 0; i < TT_READERS; ++i) {
        readers[i].s = &s;
        ck_assert_int_eq(pthread_create(&th[i], NULL, tt_reader, &readers[i]), 0);
    }
    while (atomic_load(&s.warmed_up) < TT_READERS)
        sleep_ms(1);

    /* the writer (this thread, as the auth actor would be) */
    unsigned rng = 12345;
    long writes = 0, removes = 0;
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < TT_RUN_MS) {
        for (int i = 0; i < 64; ++i) {
            rng = rng * 1103515245u + 12345u;
            int k = (int)((rng >> 16) % TT_KEYS);
            if (k >= TT_STABLE && present[k] && (rng >> 8) % 2 == 0) {
                hl_token_table_remove(&s.hash[k]);
                present[k] = false;
                ++removes;
            } else {
                tt_put(&s, k, ++gen);
                present[k] = true;
            }
            ++writes;
        }
        ck_assert_uint_eq(hl_token_table_prune(TT_NOW), 0); /* nothing is expired; iterates alongside the readers */
    }
    atomic_store(&s.stop, true);
    for (int i = 0; i < TT_READERS; ++i)
        pthread_join(th[i], NULL);

    long lookups = 0;
    for (int i = 0; i < TT_READERS; ++i) {
        tt_reader_t *r = &readers[i];
        ck_assert_msg(r->inconsistent == 0 && r->stable_missing == 0 && r->went_back == 0,
                      "reader %d: %ld inconsistent, %ld stable misses, %ld went back; first: %s", i, r->inconsistent,
                      r->stable_missing, r->went_back, r->first_problem);
        ck_assert_int_gt(r->found, 0);
        lookups += r->lookups;
    }
    ck_assert_int_gt(writes, 1000);
    ck_assert_int_gt(removes, 0);
    ck_assert_int_gt(lookups, 1000);
    /* regression: hl_token_table_put (src/actors/token_table.c) publishes the new entry with seen_asked_at = 0 and
     * copies the old entry's debounce state only afterwards, so a lookup in between asks for a last-seen write again */
    long late = 0;
    for (int i = 0; i < TT_READERS; ++i)
        late += readers[i].late_post_seen;
    ck_assert_msg(late == 0, "%ld last-seen requests after replacements (writes %ld, lookups %ld)", late, writes, lookups);

    unsigned long expected = 0;
    for (int k = 0; k < TT_KEYS; ++k)
        expected += present[k];
    ck_assert_uint_eq(hl_token_table_count(), expected);
    hl_token_table_destroy();
    rcu_unregister_thread();
}
END_TEST

#define PS_THREADS 8
#define PS_ROUNDS 200
#define PS_INTERVAL 60000LL

typedef struct st_ps_shared_t {
    pthread_barrier_t go;
    hl_token_hash_t hash;
    atomic_int winners[PS_ROUNDS];
    atomic_int misses;
} ps_shared_t;

typedef struct st_ps_arg_t {
    ps_shared_t *s;
    int id;
} ps_arg_t;

static void ps_noop(const hl_auth_device_t *dev, void *data)
{
    (void)dev;
    (void)data;
}

static void *ps_thread(void *arg)
{
    ps_arg_t *a = arg;
    rcu_register_thread();
    for (int r = 0; r < PS_ROUNDS; ++r) {
        pthread_barrier_wait(&a->s->go);
        /* every thread's clock is a little different, all within the same interval */
        bool post = false;
        if (!hl_token_table_lookup(&a->s->hash, TT_NOW + 2 * r * PS_INTERVAL + a->id, PS_INTERVAL, &post, ps_noop, NULL))
            atomic_fetch_add(&a->s->misses, 1);
        if (post)
            atomic_fetch_add(&a->s->winners[r], 1);
    }
    rcu_unregister_thread();
    return NULL;
}

/* many workers use the same token at once: exactly one of them is told to write last-seen, every interval */
START_TEST(token_table_post_seen_once)
{
    static ps_shared_t s;
    rcu_register_thread();
    hl_token_table_init();
    hl_token_hash("hlat_shared", 11, &s.hash);
    hl_auth_device_t dev = {.id = "dev_shared", .label = "Shared", .platform = "android", .access_expires_at = INT64_MAX};
    hl_token_table_put(&s.hash, &dev);
    for (int r = 0; r < PS_ROUNDS; ++r)
        atomic_store(&s.winners[r], 0);
    atomic_store(&s.misses, 0);
    ck_assert_int_eq(pthread_barrier_init(&s.go, NULL, PS_THREADS), 0);
    pthread_t th[PS_THREADS];
    ps_arg_t args[PS_THREADS];
    for (int i = 0; i < PS_THREADS; ++i) {
        args[i] = (ps_arg_t){&s, i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, ps_thread, &args[i]), 0);
    }
    for (int i = 0; i < PS_THREADS; ++i)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&s.misses), 0);
    for (int r = 0; r < PS_ROUNDS; ++r)
        ck_assert_msg(atomic_load(&s.winners[r]) == 1, "round %d: %d winners", r, atomic_load(&s.winners[r]));
    pthread_barrier_destroy(&s.go);
    hl_token_table_destroy();
    rcu_unregister_thread();
}
END_TEST

/* ---- keyed counts (connection and stream caps) ---- */

enum { KC_ROUNDS = 20000 };

static void *kc_churn(void *arg)
{
    hl_keyed_counts_t *m = arg;
    for (int i = 0; i < KC_ROUNDS; ++i) {
        if (hl_keyed_counts_acquire(m, "shared", 6, 1000000))
            hl_keyed_counts_release(m, "shared", 6);
        ck_assert(hl_keyed_counts_acquire(m, "kept", 4, 1000000));
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i % 700); /* new keys: the table grows under both threads */
        ck_assert(hl_keyed_counts_add(m, key, (size_t)n, 1, 1u << 30));
    }
    return NULL;
}

START_TEST(keyed_counts_threads_never_lose_a_count)
{
    hl_keyed_counts_t m;
    hl_keyed_counts_init(&m);
    pthread_t t[2];
    for (int i = 0; i < 2; ++i)
        pthread_create(&t[i], NULL, kc_churn, &m);
    for (int i = 0; i < 2; ++i)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(hl_keyed_counts_get(&m, "kept", 4), 2 * KC_ROUNDS);
    ck_assert_uint_eq(hl_keyed_counts_get(&m, "shared", 6), 0);
    uint64_t total = 0;
    for (int i = 0; i < 700; ++i) {
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i);
        total += hl_keyed_counts_get(&m, key, (size_t)n);
    }
    ck_assert_uint_eq(total, 2 * KC_ROUNDS);
    hl_keyed_counts_dispose(&m);
}
END_TEST

/* ---- the Hermes profile list: published by the Hermes files actor through RCU, read by worker threads ---- */

typedef struct st_profile_reader_t {
    hl_hermes_t *h;
    atomic_bool *stop;
    long reads, bad;
} profile_reader_t;

static void *profile_reader(void *arg)
{
    profile_reader_t *r = arg;
    rcu_register_thread();
    static const char PREFIX[] = "{\"ok\":true,\"profiles\":[\"default\"";
    while (!atomic_load(r->stop)) {
        size_t len = 0;
        char *reply = hl_hermes_profiles_reply(r->h, &len);
        if (reply == NULL || len != strlen(reply) || strncmp(reply, PREFIX, strlen(PREFIX)) != 0)
            ++r->bad;
        free(reply);
        if (hl_hermes_profile_listed(r->h, "default") != 1 || hl_hermes_profile_count(r->h) < 0)
            ++r->bad;
        ++r->reads;
    }
    rcu_unregister_thread();
    return NULL;
}

/* Waits until the published list says `name` is (or is not) there. */
static bool wait_listed(hl_hermes_t *h, const char *name, int want)
{
    for (int i = 0; i < 400; ++i) {
        if (hl_hermes_profile_listed(h, name) == want)
            return true;
        sleep_ms(5);
    }
    return false;
}

/* Readers on three threads while the actor republishes the list 60 times (profiles made and removed on disk, seen by
 * inotify): every read sees a whole list, and each old one is freed only after its readers left (ASan, TSan). */
START_TEST(profile_list_readers_and_refreshes)
{
    rcu_register_thread();
    char *home = ut_mkdtemp();
    char *profiles = ut_path(home, "profiles");
    ck_assert_int_eq(mkdir(profiles, 0700), 0);
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    hl_link_t link = {.home = home, .hermes_home = home, .config = &cfg};
    hl_hermes_t *h = NULL;
    ck_assert_int_eq(hl_hermes_init(&h, &link), 0);
    ck_assert_int_eq(hl_actor_start(hl_hermes_actor(h)), 0);
    atomic_bool stop = false;
    profile_reader_t readers[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; ++i) {
        readers[i] = (profile_reader_t){.h = h, .stop = &stop};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, profile_reader, &readers[i]), 0);
    }
    char name[32], *dir;
    for (int i = 0; i < 30; ++i) {
        snprintf(name, sizeof(name), "p%02d", i);
        dir = ut_path(profiles, name);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        ck_assert_msg(wait_listed(h, name, 1), "%s never listed", name);
        if (i % 2 == 1) {
            ck_assert_int_eq(rmdir(dir), 0);
            ck_assert_msg(wait_listed(h, name, 0), "%s still listed", name);
        }
        free(dir);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; ++i) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(readers[i].bad, 0);
        ck_assert_int_gt(readers[i].reads, 0);
    }
    ck_assert_int_eq(hl_hermes_profile_count(h), 15);
    hl_actor_stop(hl_hermes_actor(h));
    hl_hermes_dispose(h);
    hl_config_dispose(&cfg);
    free(profiles);
    ut_rm_rf(home);
    rcu_unregister_thread();
}
END_TEST

/* ---- the updater actor: requests from many threads while an update's output is published ---- */

typedef struct st_count_reply_t {
    hl_reply_to_t super;
    atomic_int *count;
} count_reply_t;

static void count_deliver(hl_reply_to_t *self, hl_result_t *result)
{
    count_reply_t *r = (count_reply_t *)self;
    if (hl_result_is_ok(result))
        atomic_fetch_add(r->count, 1);
    hl_result_free(result);
    free(r);
}

static hl_reply_to_t *counting(atomic_int *count)
{
    count_reply_t *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    r->super.deliver = count_deliver;
    r->count = count;
    return &r->super;
}

static atomic_int upd_statuses, upd_answers;
static _Atomic(int64_t) upd_last_version;

static void on_upd_status(void *data, const char *topic, const char *json, size_t len, int64_t version)
{
    (void)data;
    (void)topic;
    (void)len;
    if (json != NULL && version > 0) {
        atomic_fetch_add(&upd_statuses, 1);
        atomic_store(&upd_last_version, version);
    }
}

typedef struct st_upd_req_t {
    hl_updater_t *u;
} upd_req_t;

static void *updater_requester(void *arg)
{
    upd_req_t *r = arg;
    for (int i = 0; i < 100; ++i) {
        if (i % 3 == 0)
            hl_updater_hermes_status(r->u, counting(&upd_answers));
        else if (i % 3 == 1)
            hl_updater_summary(r->u, counting(&upd_answers));
        else
            hl_updater_link_status(r->u, counting(&upd_answers));
    }
    return NULL;
}

START_TEST(updater_requests_and_publications)
{
    char *home = ut_mkdtemp();
    size_t blen = strlen(home) + 16;
    char *bin = malloc(blen);
    ck_assert_ptr_nonnull(bin);
    snprintf(bin, blen, "%s/hermes", home);
    FILE *f = fopen(bin, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\ni=0; while [ $i -lt 50 ]; do echo \"line $i\"; i=$((i+1)); done\n", f);
    fclose(f);
    ck_assert_int_eq(chmod(bin, 0700), 0);
    setenv("HERMES_BIN", bin, 1);
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    hl_link_t link = {.home = home, .hermes_home = home, .config = &cfg};
    hl_updater_t *u = NULL;
    ck_assert_int_eq(hl_updater_init(&u, &link), 0);
    hl_updater_observe(u, on_upd_status, NULL);
    ck_assert_int_eq(hl_actor_start(hl_updater_actor(u)), 0);
    pthread_t t[4];
    upd_req_t req = {.u = u};
    for (int i = 0; i < 4; ++i)
        ck_assert_int_eq(pthread_create(&t[i], NULL, updater_requester, &req), 0);
    atomic_int started = 0;
    hl_updater_hermes_start(u, counting(&started));
    for (int i = 0; i < 4; ++i)
        pthread_join(t[i], NULL);
    uint64_t deadline = now_ms() + 20000;
    while ((atomic_load(&upd_answers) < 400 || atomic_load(&started) < 1) && now_ms() < deadline)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&upd_answers), 400);
    ck_assert_int_eq(atomic_load(&started), 1);
    /* the update's end is published (running, lines, succeeded: at least two statuses) */
    while (atomic_load(&upd_statuses) < 2 && now_ms() < deadline)
        sleep_ms(10);
    hl_actor_stop(hl_updater_actor(u));
    ck_assert_int_ge(atomic_load(&upd_statuses), 2);
    ck_assert_int_ge(atomic_load(&upd_last_version), 3);
    hl_updater_dispose(u);
    hl_config_dispose(&cfg);
    unsetenv("HERMES_BIN");
    free(bin);
    ut_rm_rf(home);
}
END_TEST

/* ---- the stats actor: facts recorded from the store's commits while statistics are read from other threads ---- */

typedef struct st_sync_call_t {
    hl_reply_to_t super;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hl_result_t *result;
} sync_call_t;

static void sync_deliver(hl_reply_to_t *to, hl_result_t *result)
{
    sync_call_t *c = (sync_call_t *)to;
    pthread_mutex_lock(&c->mu);
    c->result = result;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void sync_init(sync_call_t *c)
{
    memset(c, 0, sizeof(*c));
    c->super.deliver = sync_deliver;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

/* Waits for the answer (at most 20 s) and tears the call down; the caller frees the result. */
static hl_result_t *sync_wait(sync_call_t *c)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&c->mu);
    while (c->result == NULL && pthread_cond_timedwait(&c->cv, &c->mu, &dl) == 0)
        ;
    hl_result_t *r = c->result;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    ck_assert_msg(r != NULL, "no answer within 20 s");
    return r;
}

typedef struct st_stats_reader_t {
    hl_stats_t *stats;
    atomic_bool stop;
    atomic_uint answers;
} stats_reader_t;

static void *stats_reader(void *arg)
{
    stats_reader_t *rd = arg;
    int64_t today = time(NULL) / 86400;
    while (!atomic_load(&rd->stop)) {
        sync_call_t c;
        sync_init(&c);
        if (atomic_load(&rd->answers) % 2 == 0) {
            hl_stats_usage_req_t req = {.range = {.from_day = today - 29, .to_day = today, .days = 30}};
            hl_stats_usage(rd->stats, &c.super, &req);
        } else {
            hl_stats_summary(rd->stats, &c.super, NULL, 1);
        }
        hl_result_t *r = sync_wait(&c);
        ck_assert_int_eq(r->kind, HL_RESULT_OK);
        hl_result_free(r);
        atomic_fetch_add(&rd->answers, 1);
    }
    return NULL;
}

static hl_result_t *store_call(void (*post)(sync_call_t *c, void *arg), void *arg)
{
    sync_call_t c;
    sync_init(&c);
    post(&c, arg);
    return sync_wait(&c);
}

static void post_create(sync_call_t *c, void *arg)
{
    hl_store_create(arg, &c->super, NULL, "stats", NULL);
}

typedef struct st_send_arg_t {
    hl_store_t *store;
    const char *conv;
} send_arg_t;

static void post_send(sync_call_t *c, void *arg)
{
    send_arg_t *a = arg;
    hl_send_req_t req = {.conversation_id = a->conv, .content = "hello"};
    hl_store_send(a->store, &c->super, NULL, &req);
}

typedef struct st_end_arg_t {
    hl_store_t *store;
    const char *run_id;
    json_t *usage;
} end_arg_t;

static void post_end(sync_call_t *c, void *arg)
{
    end_arg_t *a = arg;
    hl_run_event_t ev = {.kind = HL_RUN_EVENT_COMPLETED, .run_id = a->run_id, .usage = a->usage, .text = "done"};
    hl_store_run_event(a->store, &c->super, &ev);
}

START_TEST(stats_facts_while_queried)
{
    enum { RUNS = 40 };
    char *dir = ut_mkdtemp(), *db = ut_path(dir, "link.db"), *blobs = ut_path(dir, "blobs");
    ck_assert_int_eq(mkdir(blobs, 0700), 0);
    char err[256] = "";
    ck_assert_msg(hl_db_migrate(db, err, sizeof(err)) == 0, "migrate: %s", err);
    hl_store_t *store;
    hl_stats_t *stats;
    ck_assert_int_eq(hl_stats_init(&stats, db), 0);
    ck_assert_int_eq(hl_store_init(&store, db, blobs), 0);
    hl_stats_observe(stats, store);
    ck_assert_int_eq(hl_actor_start(hl_stats_actor(stats)), 0);
    ck_assert_int_eq(hl_store_start(store), 0);

    stats_reader_t rd = {.stats = stats};
    pthread_t readers[2];
    for (int i = 0; i < 2; ++i)
        ck_assert_int_eq(pthread_create(&readers[i], NULL, stats_reader, &rd), 0);
    hl_result_t *r = store_call(post_create, store);
    ck_assert_int_eq(r->kind, HL_RESULT_CREATED);
    char *conv = strdup(json_string_value(json_object_get(json_object_get(r->body, "conversation"), "id")));
    hl_result_free(r);
    for (int i = 0; i < RUNS; ++i) {
        send_arg_t sa = {store, conv};
        r = store_call(post_send, &sa);
        ck_assert_int_eq(r->kind, HL_RESULT_ACCEPTED);
        char *run = strdup(json_string_value(json_object_get(json_object_get(r->body, "run"), "id")));
        hl_result_free(r);
        end_arg_t ea = {store, run, json_pack("{s:i, s:i}", "input_tokens", 3, "output_tokens", 2)};
        r = store_call(post_end, &ea);
        ck_assert_int_eq(r->kind, HL_RESULT_OK);
        hl_result_free(r);
        json_decref(ea.usage);
        free(run);
    }
    /* every fact is in once the stats actor has handled what the store handed it: poll the usage answer */
    int64_t runs = -1;
    for (int tries = 0; tries < 400 && runs != RUNS; ++tries) {
        sync_call_t c;
        sync_init(&c);
        int64_t today = time(NULL) / 86400;
        hl_stats_usage_req_t req = {.range = {.from_day = today - 29, .to_day = today, .days = 30}};
        hl_stats_usage(stats, &c.super, &req);
        r = sync_wait(&c);
        json_t *totals = json_object_get(json_object_get(r->body, "usage"), "totals");
        runs = json_integer_value(json_object_get(totals, "run_count"));
        if (runs == RUNS)
            ck_assert_int_eq(json_integer_value(json_object_get(totals, "total_tokens")), RUNS * 5);
        hl_result_free(r);
        if (runs != RUNS)
            usleep(10000);
    }
    ck_assert_int_eq(runs, RUNS);
    atomic_store(&rd.stop, true);
    for (int i = 0; i < 2; ++i)
        pthread_join(readers[i], NULL);
    ck_assert_uint_gt(atomic_load(&rd.answers), 0);
    /* the order the daemon uses: the store first, then the actor it hands facts to */
    hl_store_stop(store);
    hl_actor_stop(hl_stats_actor(stats));
    hl_store_dispose(store);
    hl_stats_dispose(stats);
    free(conv);
    free(db);
    free(blobs);
    ut_rm_rf(dir);
}
END_TEST

/* ---- the write turn (include/hl/db_write_turn.h) ---- */

#define TURN_WAITERS 4

typedef struct st_turn_arg_t {
    int id;
    atomic_int *next_slot;
    int *order; /* written while holding the turn: the turn itself orders these writes */
} turn_arg_t;

static void *turn_waiter(void *p)
{
    turn_arg_t *a = p;
    ck_assert_int_eq(hl_db_write_turn_take(30000), 0);
    a->order[atomic_fetch_add(a->next_slot, 1)] = a->id;
    hl_db_write_turn_give();
    return NULL;
}

/* Waits (bounded) until `n` threads queue for the turn: lines the waiters up in a known order without sleeping on luck. */
static void await_turn_waiters(unsigned n)
{
    for (int i = 0; i < 30000 && hl_db_write_turn_waiters() < n; ++i)
        sleep_ms(1);
    ck_assert_uint_eq(hl_db_write_turn_waiters(), n);
}

START_TEST(write_turn_first_come_first_served)
{
    /* the holder gives the turn to the oldest waiter: threads queued 0, 1, 2, 3 get it in that order, and a thread that
     * asks while the queue is non-empty does not barge in */
    atomic_int next_slot = 0;
    int order[TURN_WAITERS + 1];
    turn_arg_t args[TURN_WAITERS + 1];
    pthread_t th[TURN_WAITERS + 1];
    ck_assert_int_eq(hl_db_write_turn_take(1000), 0);
    for (int i = 0; i < TURN_WAITERS; ++i) {
        args[i] = (turn_arg_t){.id = i, .next_slot = &next_slot, .order = order};
        ck_assert_int_eq(pthread_create(&th[i], NULL, turn_waiter, &args[i]), 0);
        await_turn_waiters((unsigned)i + 1);
    }
    hl_db_write_turn_give(); /* to waiter 0, while the others still queue */
    args[TURN_WAITERS] = (turn_arg_t){.id = TURN_WAITERS, .next_slot = &next_slot, .order = order};
    ck_assert_int_eq(pthread_create(&th[TURN_WAITERS], NULL, turn_waiter, &args[TURN_WAITERS]), 0);
    for (int i = 0; i <= TURN_WAITERS; ++i)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(atomic_load(&next_slot), TURN_WAITERS + 1);
    for (int i = 0; i < TURN_WAITERS; ++i)
        ck_assert_int_eq(order[i], i);
    ck_assert_int_eq(order[TURN_WAITERS], TURN_WAITERS);
    /* free again: taken at once */
    ck_assert_uint_eq(hl_db_write_turn_waiters(), 0);
    ck_assert_int_eq(hl_db_write_turn_take(0), 0);
    hl_db_write_turn_give();
}
END_TEST

typedef struct st_timeout_arg_t {
    int result;
} timeout_arg_t;

static void *turn_timeout_waiter(void *p)
{
    ((timeout_arg_t *)p)->result = hl_db_write_turn_take(50);
    return NULL;
}

START_TEST(write_turn_timeout_leaves_the_queue)
{
    /* a waiter that times out leaves the queue and never holds the turn; the turn is not lost to it */
    ck_assert_int_eq(hl_db_write_turn_take(1000), 0);
    timeout_arg_t t = {.result = 1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, turn_timeout_waiter, &t), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(t.result, -ETIMEDOUT);
    ck_assert_uint_eq(hl_db_write_turn_waiters(), 0);
    hl_db_write_turn_give();
    ck_assert_int_eq(hl_db_write_turn_take(0), 0); /* free, not handed to the departed waiter */
    hl_db_write_turn_give();
}
END_TEST

static Suite *suite_concurrency(void)
{
    Suite *s = suite_create("concurrency");

    TCase *mb = tcase_create("mailbox");
    tcase_add_test(mb, mailbox_fifo_single_producer);
    tcase_add_test(mb, mailbox_one_wakeup_per_batch);
    tcase_add_test(mb, mailbox_eventfd_written_once_per_burst);
    tcase_add_test(mb, mailbox_dispose_frees_queued);
    tcase_add_test(mb, batch_free_uses_callbacks);
    suite_add_tcase(s, mb);

    TCase *stress = tcase_create("mailbox_stress");
    tcase_set_timeout(stress, 60);
    tcase_add_test(stress, mailbox_stress_no_loss_fifo_per_producer);
    suite_add_tcase(s, stress);

    TCase *actor = tcase_create("actor");
    tcase_set_timeout(actor, 30);
    tcase_add_test(actor, actor_callbacks_run_on_actor_thread);
    tcase_add_test(actor, actor_stop_handles_everything_queued);
    tcase_add_test(actor, actor_runtime_frees_unpopped_messages);
    tcase_add_test(actor, actor_start_failure);
    tcase_add_test(actor, actor_never_started_dispose);
    tcase_add_test(actor, actor_ticks);
    tcase_add_test(actor, actor_wait_hook);
    tcase_add_test(actor, actor_slots_bound);
    tcase_add_test(actor, actor_slots_concurrent);
    tcase_add_test(actor, actor_multi_producer);
    tcase_add_test(actor, db_readers_many_producers);
    tcase_add_test(actor, db_readers_time_limit);
    suite_add_tcase(s, actor);

    TCase *tt = tcase_create("token_table");
    tcase_set_timeout(tt, 30);
    tcase_add_test(tt, token_table_readers_and_writer);
    tcase_add_test(tt, token_table_post_seen_once);
    suite_add_tcase(s, tt);

    TCase *hp = tcase_create("hermes_profiles");
    tcase_set_timeout(hp, 60);
    tcase_add_test(hp, profile_list_readers_and_refreshes);
    suite_add_tcase(s, hp);

    TCase *kc = tcase_create("keyed_counts");
    tcase_set_timeout(kc, 30);
    tcase_add_test(kc, keyed_counts_threads_never_lose_a_count);
    suite_add_tcase(s, kc);

    TCase *up = tcase_create("updater");
    tcase_set_timeout(up, 60);
    tcase_add_test(up, updater_requests_and_publications);
    suite_add_tcase(s, up);

    TCase *turn = tcase_create("write_turn");
    tcase_set_timeout(turn, 60);
    tcase_add_test(turn, write_turn_first_come_first_served);
    tcase_add_test(turn, write_turn_timeout_leaves_the_queue);
    suite_add_tcase(s, turn);

    TCase *st = tcase_create("stats");
    tcase_set_timeout(st, 60);
    tcase_add_test(st, stats_facts_while_queried);
    suite_add_tcase(s, st);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite_concurrency());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
