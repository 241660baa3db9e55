#include "hl/json_job.h"

#include "hl/log.h"

static int run(hl_db_job_t *base, hl_db_t *db)
{
    hl_json_job_t *job = (hl_json_job_t *)base;
    int r = job->exec(job, db);
    if (r != 0 && (job->result == NULL || hl_result_is_ok(job->result)))
        hl_json_job_error(job, HL_RESULT_INTERNAL, "internal_error", "Internal error");
    return r;
}

static void complete(hl_db_job_t *base, int status)
{
    hl_json_job_t *job = (hl_json_job_t *)base;
    if ((status == HL_DB_FULL || status == HL_DB_FAILED) && job->reply_to == NULL && job->on_lost != NULL) {
        hl_result_free(job->result);
        job->result = NULL;
        job->on_lost(job); /* taken over: it runs again once the disk takes writes */
        return;
    }
    /* run() returns non-zero both for answered errors and failures. A failed statement or commit (HL_DB_FAILED) is an
     * internal error whatever exec made of it (a failed step must not read as "not found"); a commit failure with a
     * success prepared must not be reported as success */
    if (status == 0 && job->after_commit != NULL)
        job->after_commit(job);
    if (status == HL_DB_TIMEOUT) {
        /* a read that ran past its limit (a search over a huge history): the caller may narrow it and retry */
        hl_json_job_error(job, HL_RESULT_UNAVAILABLE, "query_timeout", "The query took too long; narrow it and retry");
    } else if (status == HL_DB_FULL) {
        hl_log(HL_LOG_ERROR, "a write failed: the disk is full", NULL);
        hl_json_job_set(job, hl_result_storage_full());
    } else if (status == HL_DB_FAILED || (status != 0 && job->result != NULL && hl_result_is_ok(job->result))) {
        hl_result_free(job->result);
        job->result = NULL;
        hl_log(HL_LOG_ERROR, status == HL_DB_FAILED ? "a statement or the commit failed" : "commit failed", NULL);
    }
    if (job->result == NULL)
        job->result = hl_result_error(HL_RESULT_INTERNAL, "internal_error", "Internal error");
    job->committed = status == 0;
    hl_reply(job->reply_to, job->result);
    job->result = NULL;
    if (job->dispose != NULL)
        job->dispose(job);
    free(job);
}

void *hl_json_job_new(size_t size, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *))
{
    hl_json_job_t *job = hl_calloc(1, size);
    hl_db_job_init(&job->super, run, complete);
    job->reply_to = reply_to;
    job->exec = exec;
    return job;
}

int hl_json_job_set(hl_json_job_t *job, hl_result_t *result)
{
    hl_result_free(job->result);
    job->result = result;
    return hl_result_is_ok(result) ? 0 : -1;
}

int hl_json_job_ok(hl_json_job_t *job, hl_result_kind_t kind, json_t *body)
{
    return hl_json_job_set(job, hl_result_ok(kind, body));
}

int hl_json_job_error(hl_json_job_t *job, hl_result_kind_t kind, const char *code, const char *message)
{
    return hl_json_job_set(job, hl_result_error(kind, code, message));
}
