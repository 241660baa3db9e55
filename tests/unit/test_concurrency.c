/*
 * Mailbox and actor runtime under real threads (own binary, also built with ThreadSanitizer).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/actor.h"
#include "hl/mailbox.h"

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
#endif

/*
 * regression (TSan build only): src/actors/mailbox.c hands messages between threads through liburcu's cds_wfcq, whose
 * atomics live in the uninstrumented liburcu-cds.so, so ThreadSanitizer sees no happens-before from a producer's writes
 * to a message to the consumer's reads and reports a data race for every message that crosses threads (eventfd
 * read/write only covers the first post of a burst). hl_mailbox_post should __tsan_release(&mb->_head) before the
 * enqueue and hl_mailbox_take __tsan_acquire(&mb->_head) after a non-empty splice (under __SANITIZE_THREAD__). Every
 * test below that posts from one thread and handles on another fails under TSan until then.
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

static const hl_actor_callbacks_t PROBE_CB = {probe_on_start, probe_on_batch, probe_on_tick, probe_on_stop};

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

/* regression, TSan-only: mailbox hand-off not annotated for ThreadSanitizer (see the top of this file) */
START_TEST(actor_multi_producer)
{
    static const hl_actor_callbacks_t cb = {NULL, multi_on_batch, NULL, NULL};
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
    tcase_add_test(actor, actor_slots_bound);
    tcase_add_test(actor, actor_slots_concurrent);
    tcase_add_test(actor, actor_multi_producer);
    suite_add_tcase(s, actor);
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
