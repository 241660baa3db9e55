/*
 * Devices carried over from the Node HermesLink (`hermeslink import`): their rows with the token hashes the Node version
 * stored (SHA-256 hex of the whole token, as ours), so a phone paired there keeps working here without pairing again.
 * A device whose id, token hash or app-instance hash is already known is skipped, which makes the import idempotent and
 * never lets an imported row take over a token of a device paired here.
 */
#include <string.h>

#include "auth_internal.h"
#include "hl/clock.h"

typedef struct st_import_job_t {
    auth_job_t super;
    json_t *device;
} import_job_t;

static int exec_import(hl_json_job_t *base, hl_db_t *db)
{
    import_job_t *job = (import_job_t *)base;
    json_t *d = job->device;
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT 1 FROM devices WHERE id = ?1 OR access_token_hash = ?2 OR refresh_token_hash = "
                                      "?3 OR app_instance_hash = ?4 OR access_token_hash = ?3 OR refresh_token_hash = ?2");
    hl_db_bind_json_text(st, 1, d, "id");
    hl_db_bind_json_text(st, 2, d, "access_token_hash");
    hl_db_bind_json_text(st, 3, d, "refresh_token_hash");
    hl_db_bind_json_text(st, 4, d, "app_instance_hash");
    int known = hl_db_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (known)
        return hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:b}", "imported", 0));
    st = hl_db_stmt(db, "INSERT INTO devices(id, label, platform, model, scope, app_instance_hash, access_token_hash, "
                        "access_expires_at, refresh_token_hash, refresh_expires_at, created_at, updated_at, last_seen_at, "
                        "revoked_at, app_hidden_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
    static const char *const cols[] = {"id",
                                       "label",
                                       "platform",
                                       "model",
                                       "scope",
                                       "app_instance_hash",
                                       "access_token_hash",
                                       "access_expires_at",
                                       "refresh_token_hash",
                                       "refresh_expires_at",
                                       "created_at",
                                       "updated_at",
                                       "last_seen_at",
                                       "revoked_at",
                                       "app_hidden_at"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(cols); ++i) {
        if (json_is_integer(json_object_get(d, cols[i])))
            hl_db_bind_json_int(st, (int)i + 1, d, cols[i]);
        else
            hl_db_bind_json_text(st, (int)i + 1, d, cols[i]);
    }
    if (hl_db_exec(st) != 0)
        return -1;
    /* a live access token works from the next request on, like one minted here */
    device_row_t row;
    if (device_load(db, json_string_value(json_object_get(d, "id")), &row) == 0) {
        if (row.revoked_at == 0 && row.access_expires_at > hl_now_ms())
            fx_put(&job->super.fx, &row);
        device_row_dispose(&row);
    }
    json_decref(device_summary_json(db, &job->super.fx));
    return hl_json_job_ok(base, HL_RESULT_OK, json_pack("{s:b}", "imported", 1));
}

static void dispose_import(hl_json_job_t *base)
{
    import_job_t *job = (import_job_t *)base;
    auth_effects_dispose(&job->super.fx);
    json_decref(job->device);
}

void hl_auth_import_device(hl_auth_t *a, hl_reply_to_t *reply_to, json_t *device)
{
    import_job_t *job = auth_job_new(a, sizeof(*job), reply_to, exec_import);
    job->device = json_deep_copy(device);
    job->super.super.dispose = dispose_import;
    auth_post(&job->super);
}
