/*
 * The auth actor's device management: list, rename, revoke, hide from the app listing, last-seen records.
 */
#include <ctype.h>
#include <string.h>

#include "auth_internal.h"
#include "hl/link.h"
#include "hl/clock.h"

bool hl_device_id_valid(const char *id)
{
    if (id == NULL || strlen(id) != 36 || strncmp(id, "dev_", 4) != 0)
        return false;
    for (const char *p = id + 4; *p; ++p)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return false;
    return true;
}

static char *string_alias(json_t *body, const char *a, const char *b)
{
    return hl_strdup(hl_json_alias(body, a, b));
}

void hl_device_descriptor_from_json(hl_device_descriptor_t *d, json_t *body)
{
    d->label = string_alias(body, "device_label", "deviceLabel");
    d->platform = string_alias(body, "device_platform", "devicePlatform");
    d->model = string_alias(body, "device_model", "deviceModel");
    d->app_instance_id = string_alias(body, "app_instance_id", "appInstanceId");
}

void hl_device_descriptor_dispose(hl_device_descriptor_t *d)
{
    free(d->label);
    free(d->platform);
    free(d->model);
    free(d->app_instance_id);
    memset(d, 0, sizeof(*d));
}

typedef struct st_device_job_t {
    auth_job_t super;
    char *device_id;
    char *current_id;
    char *label;
    char *app_instance_id;
    char *model;
} device_job_t;

static void dispose_device_job(hl_json_job_t *base)
{
    device_job_t *job = (device_job_t *)base;
    auth_effects_dispose(&job->super.fx);
    free(job->device_id);
    free(job->current_id);
    free(job->label);
    free(job->app_instance_id);
    free(job->model);
}

static device_job_t *device_job(hl_auth_t *a, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *),
                                const char *device_id, const char *current_id)
{
    device_job_t *job = auth_job_new(a, sizeof(*job), reply_to, exec);
    job->super.super.dispose = dispose_device_job;
    job->device_id = hl_strdup(device_id);
    job->current_id = hl_strdup(current_id);
    return job;
}

static int not_found(hl_json_job_t *job)
{
    return hl_json_job_error(job, HL_RESULT_NOT_FOUND, "device_not_found", "Device not found");
}

/* ---- list ---- */

static int exec_list(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id FROM devices WHERE app_hidden_at IS NULL "
                                      "ORDER BY (revoked_at IS NOT NULL), created_at DESC, id");
    json_t *devices = json_array();
    while (hl_db_step(st) == SQLITE_ROW) {
        /* ids first, rows after: hl_db_stmt statements are shared, so no nesting of the same statement */
        json_array_append_new(devices, json_string((const char *)sqlite3_column_text(st, 0)));
    }
    sqlite3_reset(st);
    json_t *items = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(devices, i, id)
    {
        device_row_t row;
        if (device_load(db, json_string_value(id), &row) == 0) {
            json_array_append_new(items, device_item_json(&row, job->current_id));
            device_row_dispose(&row);
        }
    }
    json_decref(devices);
    return hl_json_job_ok(base, HL_RESULT_OK,
                          json_pack("{s:o, s:o, s:o}", "current_device_id",
                                    job->current_id ? json_string(job->current_id) : json_null(), "devices", items, "summary",
                                    device_summary_json(db, NULL)));
}

void hl_auth_list_devices(hl_auth_t *a, hl_reply_to_t *reply_to, const char *current_id)
{
    device_job_t *job = device_job(a, reply_to, exec_list, NULL, current_id);
    job->super.super.super.readonly = true;
    auth_post(&job->super);
}

/* ---- rename ---- */

static int exec_rename(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    device_row_t row;
    if (!hl_device_id_valid(job->device_id) || device_load(db, job->device_id, &row) != 0)
        return not_found(base);
    int ret;
    if (row.revoked_at != 0) {
        ret = hl_json_job_error(base, HL_RESULT_CONFLICT, "device_revoked", "Device has been revoked");
        goto Exit;
    }
    int64_t now = hl_now_ms();
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET label = ?2, updated_at = ?3 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        ret = -1;
        goto Exit;
    }
    free(row.label);
    row.label = hl_strdup(job->label);
    row.updated_at = now;
    if (row.access_expires_at > now)
        fx_put(&job->super.fx, &row); /* the new label is what /auth/me reports from now on */
    ret = hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:o}", "device", device_item_json(&row, job->current_id)));
Exit:
    device_row_dispose(&row);
    return ret;
}

void hl_auth_rename_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *label, const char *current_id)
{
    device_job_t *job = device_job(a, reply_to, exec_rename, device_id, current_id);
    job->label = hl_strdup(label);
    auth_post(&job->super);
}

/* ---- revoke ---- */

static int exec_revoke(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    device_row_t row;
    if (!hl_device_id_valid(job->device_id) || device_load(db, job->device_id, &row) != 0)
        return not_found(base);
    int is_current = job->current_id != NULL && strcmp(job->current_id, row.id) == 0;
    if (row.revoked_at == 0 && device_revoke(db, &row, hl_now_ms(), &job->super.fx) != 0) {
        device_row_dispose(&row);
        return -1;
    }
    json_t *reply = json_pack("{s:b, s:o, s:o}", "current_device_revoked", is_current, "device",
                              device_item_json(&row, job->current_id), "summary", device_summary_json(db, &job->super.fx));
    device_row_dispose(&row);
    return hl_json_job_ok(base, HL_RESULT_OK, reply);
}

void hl_auth_revoke_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *current_id)
{
    auth_post(&device_job(a, reply_to, exec_revoke, device_id, current_id)->super);
}

/* ---- hide ---- */

static int exec_hide(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    device_row_t row;
    if (!hl_device_id_valid(job->device_id) || device_load(db, job->device_id, &row) != 0)
        return not_found(base);
    int ret;
    if (row.revoked_at == 0) {
        ret =
            hl_json_job_error(base, HL_RESULT_CONFLICT, "device_still_active", "Only revoked devices can be removed from the list");
        goto Exit;
    }
    if (row.app_hidden_at == 0) {
        int64_t now = hl_now_ms();
        sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET app_hidden_at = ?2 WHERE id = ?1");
        sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        int rc = hl_db_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            ret = -1;
            goto Exit;
        }
        row.app_hidden_at = now;
    }
    ret = hl_json_job_ok(base, HL_RESULT_OK,
                         json_pack("{s:o, s:o}", "device", device_item_json(&row, job->current_id), "summary",
                                   device_summary_json(db, &job->super.fx)));
Exit:
    device_row_dispose(&row);
    return ret;
}

void hl_auth_hide_device(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *current_id)
{
    auth_post(&device_job(a, reply_to, exec_hide, device_id, current_id)->super);
}

/* ---- last seen ---- */

static int exec_seen(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    device_row_t row = {0};
    if (device_load(db, job->device_id, &row) != 0 || row.revoked_at != 0) {
        device_row_dispose(&row);
        return 0;
    }
    int64_t now = hl_now_ms();
    int changed = 0;
    if (job->model != NULL && (row.model == NULL || strcmp(row.model, job->model) != 0)) {
        free(row.model);
        row.model = hl_strdup(job->model);
        changed = 1;
    }
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET last_seen_at = ?2, model = ?3 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (row.model != NULL)
        sqlite3_bind_text(st, 3, row.model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        device_row_dispose(&row);
        return -1;
    }
    if (job->app_instance_id != NULL && row.app_instance_hash == NULL) {
        char h[65];
        hl_app_instance_hash(job->app_instance_id, strlen(job->app_instance_id), h);
        st = hl_db_stmt(db, "UPDATE devices SET app_instance_hash = ?2 WHERE id = ?1 AND NOT EXISTS "
                            "(SELECT 1 FROM devices WHERE app_instance_hash = ?2)");
        sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
        if (hl_db_step(st) == SQLITE_DONE && sqlite3_changes(hl_db_conn(db)) > 0) {
            row.app_instance_hash = hl_strdup(h);
            changed = 1;
        }
        sqlite3_reset(st);
    }
    if (changed && row.access_expires_at > now)
        fx_put(&job->super.fx, &row);
    device_row_dispose(&row);
    return 0;
}

/* /auth/me after the client headers changed the device: answered once the new state is published, so that the next
 * request (answered from the token table) already sees it */
static int exec_me_update(hl_json_job_t *base, hl_db_t *db)
{
    device_job_t *job = (device_job_t *)base;
    if (exec_seen(base, db) != 0)
        return -1;
    device_row_t row = {0};
    if (device_load(db, job->device_id, &row) != 0 || row.revoked_at != 0) {
        device_row_dispose(&row);
        return hl_json_job_error(base, HL_RESULT_UNAUTHENTICATED, "device_access_token_invalid",
                                 "Device access token is invalid or expired");
    }
    json_t *body = json_pack("{s:{s:s, s:n}, s:{s:s, s:s}, s:o}", "auth", "kind", "device", "account_id", "link", "link_id",
                             auth_svc(db)->identity->link_id, "display_name", HL_DISPLAY_NAME, "device", device_json(&row));
    device_row_dispose(&row);
    return hl_json_job_ok(base, HL_RESULT_OK, body);
}

static device_job_t *seen_job(hl_auth_t *a, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *), const char *device_id,
                              const char *app_instance_id, const char *model)
{
    device_job_t *job = device_job(a, reply_to, exec, device_id, NULL);
    job->app_instance_id = app_instance_id != NULL && hl_app_instance_valid(app_instance_id, strlen(app_instance_id))
                               ? hl_strdup(app_instance_id)
                               : NULL;
    job->model = hl_normalize_descriptor(model, HL_MODEL_MAX, false, NULL);
    return job;
}

void hl_auth_me_update(hl_auth_t *a, hl_reply_to_t *reply_to, const char *device_id, const char *app_instance_id, const char *model)
{
    auth_post(&seen_job(a, reply_to, exec_me_update, device_id, app_instance_id, model)->super);
}

void hl_auth_record_seen(hl_auth_t *a, const char *device_id, const char *app_instance_id, const char *model)
{
    auth_post(&seen_job(a, NULL, exec_seen, device_id, app_instance_id, model)->super);
}
