/*
 * Reader threads (runtime layer): a few threads, each with its own read-only WAL connection, taking db jobs from one shared
 * queue. A job runs in its own read transaction (a consistent snapshot), never takes the write lock and never waits for
 * a writer, and completes on the reader's thread as soon as it ran. The queue is wait-free for producers (cds_wfcq); idle
 * readers sleep on a semaphore posted once per job.
 */
#ifndef HL_DB_READERS_H
#define HL_DB_READERS_H

#include <stddef.h>

#include "hl/db.h"

typedef struct st_hl_db_readers_t hl_db_readers_t;

/**
 * Starts `n` readers named `name` on `path`; `data` is reachable through hl_db_data. A job running longer than `max_job_ms`
 * (0 = no limit) is interrupted and completes with HL_DB_TIMEOUT. 0 or -errno. Main thread.
 */
int hl_db_readers_start(hl_db_readers_t **out, const char *name, const char *path, size_t n, unsigned max_job_ms,
                        void *data) HL_WARN_UNUSED;

/** Queues a job (ownership passes): job->run on a reader's connection in a read transaction, then job->complete. Any thread. */
void hl_db_readers_post(hl_db_readers_t *r, hl_db_job_t *job);

/** Runs every job already queued, stops the threads and frees everything. Main thread. NULL is fine. */
void hl_db_readers_stop(hl_db_readers_t *r);

#endif
