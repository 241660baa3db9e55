/*
 * A db-actor job that answers an HTTP request with JSON: `exec` runs inside the batch transaction and sets the reply;
 * `after_commit` (optional) publishes in-memory state once the writes are durable; then the reply is sent. If the
 * commit fails the client gets 500 internal_error instead and after_commit is skipped.
 */
#ifndef HL_JSON_JOB_H
#define HL_JSON_JOB_H

#include <jansson.h>

#include "hl/db.h"
#include "hl/http.h"

typedef struct st_hl_json_job_t hl_json_job_t;

struct st_hl_json_job_t {
    hl_db_job_t super;
    /** the request to answer; NULL for fire-and-forget jobs */
    hl_pending_t *pending;
    int status;
    json_t *reply;
    /** sets status + reply; returns 0 to keep its writes, non-zero to roll them back (errors) */
    int (*exec)(hl_json_job_t *job, hl_db_t *db);
    /** optional, on the actor thread after a successful commit of a job whose exec returned 0 */
    void (*after_commit)(hl_json_job_t *job);
    /** optional: receives the outcome instead of `pending` (e.g. the control socket); may take job->reply */
    void (*deliver)(hl_json_job_t *job);
    /** optional, frees the job's own fields (the job itself is freed by the runtime) */
    void (*dispose)(hl_json_job_t *job);
};

/**
 * Allocates a zeroed job of `size` bytes (a struct that begins with hl_json_job_t) with its callbacks. Any thread.
 */
void *hl_json_job_new(size_t size, hl_pending_t *pending, int (*exec)(hl_json_job_t *, hl_db_t *));

/** Sets a success reply (body stolen); returns 0 for exec to return. */
int hl_json_job_ok(hl_json_job_t *job, int status, json_t *body);

/** Sets the error envelope as the reply; returns -1 for exec to return (its writes are rolled back). */
int hl_json_job_error(hl_json_job_t *job, int status, const char *code, const char *message);

#endif
