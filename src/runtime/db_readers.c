#include "hl/db_readers.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include <urcu.h>
#include <urcu/wfcqueue.h>

#include "hl/log.h"

struct st_hl_db_readers_t {
    const char *name;
    char *path;
    unsigned max_job_ms;
    void *data;
    struct cds_wfcq_head head;
    struct cds_wfcq_tail tail;
    sem_t ready; /* one post per queued message */
    pthread_t *threads;
    hl_db_t **dbs;
    size_t n;
};

static void *reader_main(void *arg)
{
    void **args = arg;
    hl_db_readers_t *r = args[0];
    hl_db_t *db = args[1];
    free(args);
    rcu_register_thread();
    for (;;) {
        while (sem_wait(&r->ready) != 0 && errno == EINTR)
            ;
        struct cds_wfcq_node *node = cds_wfcq_dequeue_blocking(&r->head, &r->tail);
        if (node == NULL)
            continue; /* cannot happen: one post per enqueued node */
        hl_msg_t *msg = caa_container_of(node, hl_msg_t, _node);
        if (msg->type == HL_MSG_ACTOR_STOP) {
            free(msg);
            break;
        }
        hl_db_run_one(db, (hl_db_job_t *)msg, r->max_job_ms);
    }
    rcu_unregister_thread();
    return NULL;
}

static void post(hl_db_readers_t *r, hl_msg_t *msg)
{
    cds_wfcq_node_init(&msg->_node);
    cds_wfcq_enqueue(&r->head, &r->tail, &msg->_node);
    sem_post(&r->ready);
}

void hl_db_readers_post(hl_db_readers_t *r, hl_db_job_t *job)
{
    post(r, &job->super);
}

int hl_db_readers_start(hl_db_readers_t **out, const char *name, const char *path, size_t n, unsigned max_job_ms, void *data)
{
    hl_db_readers_t *r = hl_calloc(1, sizeof(*r));
    r->name = name;
    r->path = hl_strdup(path);
    r->max_job_ms = max_job_ms;
    r->data = data;
    cds_wfcq_init(&r->head, &r->tail);
    sem_init(&r->ready, 0, 0);
    r->threads = hl_calloc(n, sizeof(*r->threads));
    r->dbs = hl_calloc(n, sizeof(*r->dbs));
    int ret = 0;
    for (; r->n < n; ++r->n) {
        if ((ret = hl_db_connect(path, true, data, &r->dbs[r->n])) != 0) {
            hl_logf(HL_LOG_ERROR, "%s: cannot open link.db for reading", name);
            break;
        }
        void **args = hl_malloc(2 * sizeof(*args));
        args[0] = r;
        args[1] = r->dbs[r->n];
        int e = pthread_create(&r->threads[r->n], NULL, reader_main, args);
        if (e != 0) {
            free(args);
            hl_db_disconnect(r->dbs[r->n]);
            ret = -e;
            break;
        }
    }
    if (ret != 0) {
        hl_db_readers_stop(r);
        return ret;
    }
    *out = r;
    return 0;
}

void hl_db_readers_stop(hl_db_readers_t *r)
{
    if (r == NULL)
        return;
    /* the stop markers queue behind every job already posted, so those still run */
    for (size_t i = 0; i < r->n; ++i) {
        hl_msg_t *stop = hl_malloc(sizeof(*stop));
        hl_msg_init(stop, HL_MSG_ACTOR_STOP, NULL);
        post(r, stop);
    }
    for (size_t i = 0; i < r->n; ++i) {
        pthread_join(r->threads[i], NULL);
        hl_db_disconnect(r->dbs[i]);
    }
    /* nothing can be left: every reader exits only at a stop marker, after the jobs queued before it */
    sem_destroy(&r->ready);
    cds_wfcq_destroy(&r->head, &r->tail);
    free(r->threads);
    free(r->dbs);
    free(r->path);
    free(r);
}
