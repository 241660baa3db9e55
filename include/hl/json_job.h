/*
 * A db-actor job that answers a request with an hl_result_t: `exec` runs inside the batch transaction and sets the result;
 * `after_commit` (optional) publishes in-memory state once the writes are durable; then the result goes to the job's
 * reply address. If the commit fails the caller gets an internal error instead and after_commit is skipped.
 * Runtime layer: no HTTP here.
 */
#ifndef HL_JSON_JOB_H
#define HL_JSON_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "hl/db.h"
#include "hl/reply.h"

typedef struct st_hl_json_job_t hl_json_job_t;

struct st_hl_json_job_t {
    hl_db_job_t super;
    /** where the result goes; NULL for fire-and-forget jobs */
    hl_reply_to_t *reply_to;
    hl_result_t *result;
    /** set before dispose runs: exec returned 0 and the batch committed */
    bool committed;
    /** sets the result; returns 0 to keep its writes, non-zero to roll them back (errors) */
    int (*exec)(hl_json_job_t *job, hl_db_t *db);
    /** optional, on the actor thread after a successful commit of a job whose exec returned 0 */
    void (*after_commit)(hl_json_job_t *job);
    /** optional, frees the job's own fields (the job itself is freed by the runtime) */
    void (*dispose)(hl_json_job_t *job);
    /** optional, for a job without reply_to whose writes were lost (disk full, an I/O error): called on the actor thread
     * instead of the reply, it takes the job over (to run it again later) — nobody else would ever learn of the loss */
    void (*on_lost)(hl_json_job_t *job);
};

/** Allocates a zeroed job of `size` bytes (a struct that begins with hl_json_job_t) with its callbacks. Any thread. */
void *hl_json_job_new(size_t size, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *));

/** Sets a success result of `kind` (body stolen); returns 0 for exec to return. */
int hl_json_job_ok(hl_json_job_t *job, hl_result_kind_t kind, json_t *body);

/** Sets an error result; returns -1 for exec to return (its writes are rolled back). */
int hl_json_job_error(hl_json_job_t *job, hl_result_kind_t kind, const char *code, const char *message);

/** Sets `result` (stolen) as the job's result; returns 0 for a success, -1 for an error. */
int hl_json_job_set(hl_json_job_t *job, hl_result_t *result);

#endif
