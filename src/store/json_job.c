#include "hl/json_job.h"

#include "hl/log.h"

static int run(hl_db_job_t *base, hl_db_t *db)
{
    hl_json_job_t *job = (hl_json_job_t *)base;
    int r = job->exec(job, db);
    if (r != 0 && job->reply == NULL)
        hl_json_job_error(job, 500, "internal_error", "Internal error");
    return r;
}

static void complete(hl_db_job_t *base, int status)
{
    hl_json_job_t *job = (hl_json_job_t *)base;
    /* run() returns non-zero both for answered errors (reply set) and failures; a commit failure (-EIO with a success
     * reply prepared) must not be reported as success */
    if (status == 0 && job->after_commit != NULL)
        job->after_commit(job);
    if (status != 0 && job->status < 400) {
        json_decref(job->reply);
        job->reply = NULL;
        hl_log(HL_LOG_ERROR, "store commit failed", NULL);
    }
    if (job->deliver != NULL) {
        if (job->reply == NULL)
            hl_json_job_error(job, 500, "internal_error", "Internal error");
        job->deliver(job);
    } else if (job->pending != NULL) {
        if (job->reply != NULL)
            hl_pending_reply_json(job->pending, job->status, job->reply);
        else
            hl_pending_reply_error(job->pending, 500, "internal_error", "Internal error");
        job->reply = NULL;
    }
    json_decref(job->reply);
    if (job->dispose != NULL)
        job->dispose(job);
    free(job);
}

void *hl_json_job_new(size_t size, hl_pending_t *pending, int (*exec)(hl_json_job_t *, hl_db_t *))
{
    hl_json_job_t *job = hl_calloc(1, size);
    hl_db_job_init(&job->super, run, complete);
    job->pending = pending;
    job->exec = exec;
    return job;
}

int hl_json_job_ok(hl_json_job_t *job, int status, json_t *body)
{
    json_decref(job->reply);
    job->status = status;
    job->reply = body;
    return 0;
}

int hl_json_job_error(hl_json_job_t *job, int status, const char *code, const char *message)
{
    json_decref(job->reply);
    job->status = status;
    job->reply = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
    return -1;
}
