/*
 * The store's typed requests: each copies its arguments into a job and posts it to the writer (mutations) or to the
 * readers (reads, which never take the write lock).
 */
#include <string.h>

#include "store_internal.h"

static char **copy_strv(const char *const *v, size_t n)
{
    char **out = hl_malloc(sizeof(*out) * (n ? n : 1));
    for (size_t i = 0; i < n; ++i)
        out[i] = hl_strdup(v[i]);
    return out;
}

static store_job_t *conv_job(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id, const char *conversation_id)
{
    store_job_t *job = store_job_new(s, to, op, device_id);
    job->a.conversation_id = hl_strdup(conversation_id);
    return job;
}

void hl_store_list(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const hl_conv_list_req_t *req)
{
    store_job_t *job = store_job_new(s, to, op_list, device_id);
    job->a.archived = req->archived;
    job->a.limit = req->limit;
    job->a.cursor = hl_strdup(req->cursor);
    bool search = req->query != NULL && req->query[0] != '\0';
    job->a.query = search ? hl_strdup(req->query) : NULL;
    store_post_read(job, search);
}

void hl_store_create(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *title, const char *profile)
{
    store_job_t *job = store_job_new(s, to, op_create, device_id);
    job->a.has_title = title != NULL;
    job->a.title = hl_strdup(title);
    job->a.profile = hl_strdup(profile);
    store_post_write(job);
}

void hl_store_delete(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id)
{
    store_post_write(conv_job(s, to, op_delete, device_id, conversation_id));
}

void hl_store_bulk_delete(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *const *ids, size_t n)
{
    store_job_t *job = store_job_new(s, to, op_bulk_delete, device_id);
    job->a.ids = copy_strv(ids, n);
    job->a.num_ids = n;
    store_post_write(job);
}

void hl_store_delete_profile_conversations(hl_store_t *s, hl_reply_to_t *to, const char *profile)
{
    store_job_t *job = store_job_new(s, to, op_delete_profile, NULL);
    job->a.profile = hl_strdup(profile);
    store_post_write(job);
}

void hl_store_rename_profile_conversations(hl_store_t *s, hl_reply_to_t *to, const char *from, const char *to_name, json_t *answer)
{
    store_job_t *job = store_job_new(s, to, op_rename_profile, NULL);
    job->a.profile = hl_strdup(from);
    job->a.new_profile = hl_strdup(to_name);
    job->a.answer = answer;
    store_post_write(job);
}

void hl_store_profile_statistics(hl_store_t *s, hl_reply_to_t *to, const char *profile, json_t *answer)
{
    store_job_t *job = store_job_new(s, to, op_profile_statistics, NULL);
    job->a.profile = hl_strdup(profile);
    job->a.answer = answer;
    store_post_read(job, false);
}

void hl_store_messages(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, int limit,
                       const char *before)
{
    store_job_t *job = conv_job(s, to, op_messages, device_id, conversation_id);
    job->a.limit = limit;
    job->a.before = hl_strdup(before);
    store_post_read(job, false);
}

void hl_store_send(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const hl_send_req_t *req)
{
    store_job_t *job = conv_job(s, to, op_send, device_id, req->conversation_id);
    job->a.content = hl_strdup(req->content);
    job->a.ids = copy_strv(req->blob_ids, req->num_blob_ids);
    job->a.num_ids = req->num_blob_ids;
    job->a.client_message_id = hl_strdup(req->client_message_id);
    job->a.profile = hl_strdup(req->profile);
    store_post_write(job);
}

void hl_store_rename(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *title)
{
    store_job_t *job = conv_job(s, to, op_rename, device_id, conversation_id);
    job->a.has_title = true;
    job->a.title = hl_strdup(title);
    store_post_write(job);
}

void hl_store_set_model(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *model_id)
{
    store_job_t *job = conv_job(s, to, op_set_model, device_id, conversation_id);
    job->a.model_id = hl_strdup(model_id);
    store_post_write(job);
}

void hl_store_set_profile(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *profile)
{
    store_job_t *job = conv_job(s, to, op_set_profile, device_id, conversation_id);
    job->a.profile = hl_strdup(profile);
    store_post_write(job);
}

void hl_store_archive(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, bool archive)
{
    store_post_write(conv_job(s, to, archive ? op_archive : op_unarchive, device_id, conversation_id));
}

void hl_store_ack(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, int64_t last_event_seq)
{
    store_job_t *job = conv_job(s, to, op_ack, device_id, conversation_id);
    job->a.seq = last_event_seq;
    store_post_write(job);
}

void hl_store_cancel_run(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id, const char *run_id)
{
    store_job_t *job = conv_job(s, to, op_cancel_run, device_id, conversation_id);
    job->a.run_id = hl_strdup(run_id);
    store_post_write(job);
}

void hl_store_resolve_approval(hl_store_t *s, hl_reply_to_t *to, const char *device_id, const char *conversation_id,
                               const char *approval_id, bool approve, const char *scope)
{
    store_job_t *job = conv_job(s, to, op_resolve_approval, device_id, conversation_id);
    job->a.approval_id = hl_strdup(approval_id);
    job->a.approve = approve;
    job->a.scope = hl_strdup(scope);
    store_post_write(job);
}

void hl_store_stream_check(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id)
{
    store_post_read(conv_job(s, to, op_stream_check, NULL, conversation_id), false);
}

void hl_store_plan_create(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind,
                          const char *const *exclude_ids, size_t num_exclude)
{
    store_job_t *job = store_job_new(s, to, op_plan_create, device_id);
    job->a.plan_kind = kind;
    job->a.ids = copy_strv(exclude_ids, num_exclude);
    job->a.num_ids = num_exclude;
    store_post_write(job);
}

static store_job_t *plan_job(hl_store_t *s, hl_reply_to_t *to, store_op_fn op, const char *device_id, hl_plan_kind_t kind,
                             const char *plan_id)
{
    store_job_t *job = store_job_new(s, to, op, device_id);
    job->a.plan_kind = kind;
    job->a.plan_id = hl_strdup(plan_id);
    return job;
}

void hl_store_plan_get(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind, const char *plan_id)
{
    store_post_read(plan_job(s, to, op_plan_get, device_id, kind, plan_id), false);
}

void hl_store_plan_execute(hl_store_t *s, hl_reply_to_t *to, const char *device_id, hl_plan_kind_t kind, const char *plan_id)
{
    store_post_write(plan_job(s, to, op_plan_execute, device_id, kind, plan_id));
}

void hl_store_get_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, const char *blob_id)
{
    store_job_t *job = conv_job(s, to, op_blob_get, NULL, conversation_id);
    job->a.blob_id = hl_strdup(blob_id);
    store_post_read(job, false);
}

void hl_store_delete_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, const char *blob_id)
{
    store_job_t *job = conv_job(s, to, op_blob_delete, NULL, conversation_id);
    job->a.blob_id = hl_strdup(blob_id);
    store_post_write(job);
}

void hl_store_run_event(hl_store_t *s, hl_reply_to_t *to, const hl_run_event_t *ev)
{
    store_job_t *job = store_job_new(s, to, op_run_event, NULL);
    store_args_t *a = &job->a;
    a->event_kind = ev->kind;
    a->run_id = hl_strdup(ev->run_id);
    a->upstream_run_id = hl_strdup(ev->upstream_run_id);
    a->session_id = hl_strdup(ev->session_id);
    a->delta = hl_strdup(ev->delta);
    a->tool = hl_strdup(ev->tool);
    a->preview = hl_strdup(ev->preview);
    a->duration = ev->duration;
    a->tool_error = ev->tool_error;
    a->text = hl_strdup(ev->text);
    a->approval_kind = hl_strdup(ev->approval.kind);
    a->approval_command = hl_strdup(ev->approval.command);
    a->approval_description = hl_strdup(ev->approval.description);
    a->approval_choices = ev->approval.choices != NULL ? json_deep_copy(ev->approval.choices) : NULL;
    a->error_code = hl_strdup(ev->error_code);
    a->error_message = hl_strdup(ev->error_message);
    a->usage = ev->usage != NULL ? json_deep_copy(ev->usage) : NULL;
    a->approval_id = hl_strdup(ev->approval_id);
    store_post_write(job);
}

void hl_store_record_direct_run(hl_store_t *s, const hl_direct_usage_t *u)
{
    store_job_t *job = store_job_new(s, NULL, op_direct_run, NULL);
    job->a.upstream_run_id = hl_strdup(u->upstream_run_id);
    job->a.profile = hl_strdup(u->profile);
    job->a.text = hl_strdup(u->status);
    job->a.usage = json_pack("{s:I, s:I, s:I}", "input_tokens", (json_int_t)u->input_tokens, "output_tokens",
                             (json_int_t)u->output_tokens, "total_tokens", (json_int_t)u->total_tokens);
    store_post_write(job);
}

void hl_store_ping(hl_store_t *s, hl_reply_to_t *to, int delay_ms)
{
    store_job_t *job = store_job_new(s, to, op_ping, NULL);
    job->a.limit = delay_ms;
    store_post_write(job);
}
