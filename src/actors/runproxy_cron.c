/*
 * Cron jobs (spec/API.md §11, UPSTREAM-CALLS.md §2): each profile's /api/jobs… on its own Hermes API server. A call's job
 * id is checked first, then it is resolved to the profile's upstream on the Hermes files actor (400 invalid_profile_name,
 * 404 profile_not_found) and sent from the run proxy's curl loop; job objects pass through unchanged. The aggregate list
 * asks every profile at once and reports the ones that failed beside the jobs of the others.
 *
 * Upstream answers (flat {"error":"…"} bodies, UPSTREAM-HERMES.md §1.3) map to: unreachable → 503
 * hermes_api_server_unavailable; 400 → 400 invalid_cron_job (the upstream's message: a user error); 404 on a job → 404
 * cron_job_not_found (GAPS.md B22; the original said 502); any other non-2xx, or a body that is not a JSON object → 502
 * hermes_response_invalid with the upstream's message; no "job" object where one is due → 502 hermes_cron_job_invalid.
 */
#include <string.h>

#include "runproxy_internal.h"

typedef enum en_cron_op_t { OP_LIST, OP_CREATE, OP_GET, OP_UPDATE, OP_DELETE, OP_PAUSE, OP_RESUME, OP_RUN } cron_op_t;

typedef struct st_cron_all_t cron_all_t;

/* One call to one profile's /api/jobs…: a request of its own, or one part of the aggregate list. */
typedef struct st_cron_call_t {
    hl_runproxy_t *rp;
    hl_reply_to_t *to;
    cron_all_t *all; /* the aggregate list this call is part `index` of, else NULL */
    size_t index;
    cron_op_t op;
    char *profile, *job_id;
    json_t *body; /* create/update: what the client sent, forwarded verbatim */
    bool include_disabled;
    up_target_t target;
} cron_call_t;

/* GET /api/v1/cron-jobs: one list call per profile, all in flight together; run proxy thread once fanned out. */
struct st_cron_all_t {
    hl_runproxy_t *rp;
    hl_reply_to_t *to;
    bool include_disabled;
    json_t *names;         /* the profiles, "default" first */
    hl_result_t **results; /* per profile, as its list call ended */
    size_t pending;
};

static void all_part_done(cron_all_t *all, size_t index, hl_result_t *res);

static void call_free(cron_call_t *c)
{
    rp_target_dispose(&c->target);
    free(c->profile);
    free(c->job_id);
    json_decref(c->body);
    free(c);
}

/* A call's result goes to its client, or into its aggregate list; then the call is gone. */
static void finish(cron_call_t *c, hl_result_t *res)
{
    if (c->all != NULL)
        all_part_done(c->all, c->index, res);
    else
        hl_reply(c->to, res);
    call_free(c);
}

/* A task that never ran (the run proxy stopped first). */
static void call_drop(void *arg)
{
    finish(arg, hl_result_error(HL_RESULT_UNAVAILABLE, "shutting_down", "HermesLink is stopping"));
}

/* Job ids go into the upstream path: a strict pattern, checked before anything is sent. */
static bool valid_job_id(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; ++i) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* ---- the upstream's answer ---- */

static hl_result_t *answer_error(const cron_call_t *c, const up_answer_t *a)
{
    if (a->status == 404 && c->job_id != NULL)
        return hl_result_error(HL_RESULT_NOT_FOUND, "cron_job_not_found", "Cron job not found");
    if (a->status == 400) {
        char *m = rp_upstream_message(a);
        hl_result_t *res = hl_result_error(HL_RESULT_INVALID, "invalid_cron_job", m);
        free(m);
        return res;
    }
    return rp_upstream_error(a, "hermes_response_invalid");
}

static hl_result_t *answer_result(const cron_call_t *c, const up_answer_t *a)
{
    if (a->status < 200 || a->status >= 300 || !json_is_object(a->json))
        return answer_error(c, a);
    if (c->op == OP_LIST) {
        /* non-objects dropped, no list → [] (UPSTREAM-CALLS.md §2) */
        json_t *jobs = json_array(), *job;
        size_t i;
        json_array_foreach(json_object_get(a->json, "jobs"), i, job)
        {
            if (json_is_object(job))
                json_array_append(jobs, job);
        }
        /* API.md §11 says a HermesProfileStatus; until the profile routes land it is {"name"} alone */
        return hl_result_ok(HL_RESULT_OK, json_pack("{s:{s:s}, s:o}", "profile", "name",
                                                    c->profile != NULL ? c->profile : "default", "jobs", jobs));
    }
    if (c->op == OP_DELETE)
        return hl_result_ok(HL_RESULT_OK, json_object());
    json_t *job = json_object_get(a->json, "job");
    if (!json_is_object(job))
        return hl_result_error(HL_RESULT_UPSTREAM, "hermes_cron_job_invalid", "Hermes API Server returned no cron job object");
    return hl_result_ok(c->op == OP_CREATE ? HL_RESULT_CREATED : HL_RESULT_OK, json_pack("{s:O}", "job", job));
}

static void on_answer(void *data, const up_answer_t *a)
{
    cron_call_t *c = data;
    finish(c, answer_result(c, a));
}

/* ---- sending ---- */

static void on_resolved(hl_runproxy_t *rp, void *arg, rp_resolved_t *res)
{
    cron_call_t *c = arg;
    if (res->error_code != NULL) {
        hl_result_kind_t kind = strcmp(res->error_code, "profile_not_found") == 0 ? HL_RESULT_NOT_FOUND : HL_RESULT_INVALID;
        finish(c, hl_result_error(kind, res->error_code, res->message != NULL ? res->message : "Unknown profile"));
        return;
    }
    c->target = res->target;
    res->target = (up_target_t){0};
    static const char *const METHOD[] = {[OP_LIST] = "GET",      [OP_CREATE] = "POST", [OP_GET] = "GET",     [OP_UPDATE] = "PATCH",
                                         [OP_DELETE] = "DELETE", [OP_PAUSE] = "POST",  [OP_RESUME] = "POST", [OP_RUN] = "POST"};
    static const char *const ACTION[] = {[OP_PAUSE] = "/pause", [OP_RESUME] = "/resume", [OP_RUN] = "/run"};
    char *path;
    if (c->op == OP_LIST || c->op == OP_CREATE) {
        path = hl_strdup(c->op == OP_LIST && c->include_disabled ? "/api/jobs?include_disabled=true" : "/api/jobs");
    } else {
        char *id = up_escape(c->job_id); /* checked by start_op */
        path = hl_asprintf("/api/jobs/%s%s", id, ACTION[c->op] != NULL ? ACTION[c->op] : "");
        free(id);
    }
    json_t *body = c->body;
    c->body = NULL;
    up_json(rp->up, &c->target, METHOD[c->op], path, body, on_answer, c);
    free(path);
}

static cron_call_t *call_new(hl_runproxy_t *rp, hl_reply_to_t *to, cron_op_t op, const char *profile, const char *job_id)
{
    cron_call_t *c = hl_calloc(1, sizeof(*c));
    c->rp = rp;
    c->to = to;
    c->op = op;
    c->profile = hl_strdup(profile != NULL && profile[0] != '\0' ? profile : "default");
    c->job_id = hl_strdup(job_id);
    return c;
}

static void start(cron_call_t *c)
{
    rp_resolve(c->rp, c->profile, on_resolved, c, call_drop);
}

/* A call on one profile; the job id (every op but create) is checked before the profile is resolved. */
static void start_op(hl_runproxy_t *rp, hl_reply_to_t *to, cron_op_t op, const char *profile, const char *job_id,
                     const json_t *body)
{
    if (op != OP_CREATE && !valid_job_id(job_id)) {
        hl_reply(to,
                 hl_result_error(HL_RESULT_INVALID, "invalid_cron_job_id", "A cron job id is 1 to 64 letters, digits, '_' or '-'"));
        return;
    }
    cron_call_t *c = call_new(rp, to, op, profile, job_id);
    c->body = body != NULL ? json_deep_copy(body) : NULL;
    start(c);
}

void hl_runproxy_cron_list(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, bool include_disabled)
{
    cron_call_t *c = call_new(rp, to, OP_LIST, profile, NULL);
    c->include_disabled = include_disabled;
    start(c);
}

void hl_runproxy_cron_create(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const json_t *body)
{
    start_op(rp, to, OP_CREATE, profile, NULL, body);
}

void hl_runproxy_cron_get(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id)
{
    start_op(rp, to, OP_GET, profile, job_id != NULL ? job_id : "", NULL);
}

void hl_runproxy_cron_update(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id, const json_t *body)
{
    start_op(rp, to, OP_UPDATE, profile, job_id != NULL ? job_id : "", body);
}

void hl_runproxy_cron_delete(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id)
{
    start_op(rp, to, OP_DELETE, profile, job_id != NULL ? job_id : "", NULL);
}

void hl_runproxy_cron_action(hl_runproxy_t *rp, hl_reply_to_t *to, const char *profile, const char *job_id, hl_cron_action_t action)
{
    cron_op_t op = action == HL_CRON_PAUSE ? OP_PAUSE : action == HL_CRON_RESUME ? OP_RESUME : OP_RUN;
    start_op(rp, to, op, profile, job_id != NULL ? job_id : "", NULL);
}

/* ---- the aggregate list ---- */

static void all_free(cron_all_t *all)
{
    for (size_t i = 0; all->results != NULL && i < json_array_size(all->names); ++i)
        hl_result_free(all->results[i]);
    free(all->results);
    json_decref(all->names);
    free(all);
}

/* Every profile answered: their jobs in profile order (each with "_profile"), and the ones that failed. */
static void all_reply(cron_all_t *all)
{
    json_t *jobs = json_array(), *failures = json_array();
    for (size_t i = 0; i < json_array_size(all->names); ++i) {
        const char *name = json_string_value(json_array_get(all->names, i));
        hl_result_t *res = all->results[i];
        if (!hl_result_is_ok(res)) {
            json_array_append_new(failures, json_pack("{s:s, s:s}", "profile", name, "message",
                                                      res->message != NULL ? res->message : "Unknown error"));
            continue;
        }
        size_t j;
        json_t *job;
        json_array_foreach(json_object_get(res->body, "jobs"), j, job)
        {
            json_object_set_new(job, "_profile", json_string(name));
            json_array_append(jobs, job);
        }
    }
    /* HTTP 200 even when profiles failed; "ok" says whether none did */
    bool none_failed = json_array_size(failures) == 0;
    hl_reply(all->to,
             hl_result_ok(HL_RESULT_OK, json_pack("{s:b, s:o, s:o}", "ok", none_failed, "jobs", jobs, "failures", failures)));
    all->to = NULL;
    all_free(all);
}

static void all_part_done(cron_all_t *all, size_t index, hl_result_t *res)
{
    all->results[index] = res;
    if (--all->pending == 0)
        all_reply(all);
}

static void task_fan_out(hl_runproxy_t *rp, void *arg)
{
    cron_all_t *all = arg;
    size_t n = json_array_size(all->names);
    all->results = hl_calloc(n > 0 ? n : 1, sizeof(*all->results));
    all->pending = n;
    if (n == 0) {
        all_reply(all);
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        cron_call_t *c = call_new(rp, NULL, OP_LIST, json_string_value(json_array_get(all->names, i)), NULL);
        c->all = all;
        c->index = i;
        c->include_disabled = all->include_disabled;
        start(c);
    }
}

static void all_drop(void *arg)
{
    cron_all_t *all = arg;
    hl_reply(all->to, hl_result_error(HL_RESULT_UNAVAILABLE, "shutting_down", "HermesLink is stopping"));
    all->to = NULL;
    all_free(all);
}

/* On the Hermes files actor's thread. */
static void on_listed(void *data, json_t *names)
{
    cron_all_t *all = data;
    all->names = names;
    rp_post(all->rp, task_fan_out, all, all_drop);
}

void hl_runproxy_cron_list_all(hl_runproxy_t *rp, hl_reply_to_t *to, bool include_disabled)
{
    cron_all_t *all = hl_calloc(1, sizeof(*all));
    all->rp = rp;
    all->to = to;
    all->include_disabled = include_disabled;
    hl_hermes_list_profiles(rp->hermes, on_listed, all);
}
