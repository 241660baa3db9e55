/*
 * The auth actor: device sessions, token rotation with reuse detection, logout; the shared device-row helpers.
 * Tokens are stored only as SHA-256 hex; the plaintext of a freshly rotated pair is kept in memory for a short grace
 * period (so that a client whose refresh response was lost gets the same pair again, as long as that pair is still the
 * device's current one) and never written to disk.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_internal.h"
#include "hl/json_util.h"
#include "hl/link.h"
#include "hl/clock.h"
#include "hl/ids.h"
#include "hl/log.h"

typedef struct st_grace_entry_t {
    char old_refresh_hash[65];
    char *device_id;
    char *access, *refresh;
    int64_t access_expires_at, refresh_expires_at, until;
} grace_entry_t;

/* The auth actor: its db actor, what it was given at init, and its memory-only state (actor thread only). */
struct st_hl_auth_t {
    hl_db_actor_t actor;
    const hl_link_t *svc;
    hl_device_counts_t *counts;
    grace_entry_t *grace;
    size_t num_grace;
};

hl_auth_t *auth_of(hl_db_t *db)
{
    return hl_db_data(db);
}

const hl_link_t *auth_svc(hl_db_t *db)
{
    return auth_of(db)->svc;
}

/* ---- device rows ---- */

#define DEVICE_COLUMNS                                                                                                             \
    "id, label, platform, model, scope, app_instance_hash, access_token_hash, access_expires_at, refresh_expires_at, "             \
    "created_at, updated_at, last_seen_at, revoked_at, app_hidden_at"

static void read_row(sqlite3_stmt *st, device_row_t *row)
{
    memset(row, 0, sizeof(*row));
    row->id = hl_db_text(st, 0);
    row->label = hl_db_text(st, 1);
    row->platform = hl_db_text(st, 2);
    row->model = hl_db_text(st, 3);
    row->scope = hl_db_text(st, 4);
    row->app_instance_hash = hl_db_text(st, 5);
    const unsigned char *ah = sqlite3_column_text(st, 6);
    snprintf(row->access_hash, sizeof(row->access_hash), "%s", ah != NULL ? (const char *)ah : "");
    row->access_expires_at = sqlite3_column_int64(st, 7);
    row->refresh_expires_at = sqlite3_column_int64(st, 8);
    row->created_at = sqlite3_column_int64(st, 9);
    row->updated_at = sqlite3_column_int64(st, 10);
    row->last_seen_at = sqlite3_column_int64(st, 11);
    row->revoked_at = sqlite3_column_int64(st, 12);
    row->app_hidden_at = sqlite3_column_int64(st, 13);
}

static void copy_row(device_row_t *dst, const device_row_t *src)
{
    *dst = *src;
    dst->id = hl_strdup(src->id);
    dst->label = hl_strdup(src->label);
    dst->platform = hl_strdup(src->platform);
    dst->model = hl_strdup(src->model);
    dst->scope = hl_strdup(src->scope);
    dst->app_instance_hash = hl_strdup(src->app_instance_hash);
}

void device_row_dispose(device_row_t *row)
{
    free(row->id);
    free(row->label);
    free(row->platform);
    free(row->model);
    free(row->scope);
    free(row->app_instance_hash);
    memset(row, 0, sizeof(*row));
}

int device_load(hl_db_t *db, const char *id, device_row_t *row)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " DEVICE_COLUMNS " FROM devices WHERE id = ?1");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found)
        read_row(st, row);
    sqlite3_reset(st);
    return found ? 0 : -ENOENT;
}

int device_load_by(hl_db_t *db, int by_app_instance, const char *value, device_row_t *row)
{
    sqlite3_stmt *st = by_app_instance ? hl_db_stmt(db, "SELECT " DEVICE_COLUMNS " FROM devices WHERE app_instance_hash = ?1")
                                       : hl_db_stmt(db, "SELECT " DEVICE_COLUMNS " FROM devices WHERE refresh_token_hash = ?1");
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    int found = hl_db_step(st) == SQLITE_ROW;
    if (found)
        read_row(st, row);
    sqlite3_reset(st);
    return found ? 0 : -ENOENT;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *device_json(const device_row_t *row)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", row->id, "device_id", row->id, "label", row->label, "platform",
                     row->platform, "model", str_or_null(row->model), "scope", row->scope);
}

json_t *device_item_json(const device_row_t *row, const char *current_id)
{
    json_t *j = device_json(row);
    json_object_set_new(j, "status", json_string(row->revoked_at != 0 ? "revoked" : "active"));
    json_object_set_new(j, "paired_at", hl_json_iso(row->created_at));
    json_object_set_new(j, "created_at", hl_json_iso(row->created_at));
    json_object_set_new(j, "updated_at", hl_json_iso(row->updated_at));
    json_object_set_new(j, "access_expires_at", hl_json_iso(row->access_expires_at));
    json_object_set_new(j, "refresh_expires_at", hl_json_iso(row->refresh_expires_at));
    json_object_set_new(j, "last_seen_at", hl_json_iso(row->last_seen_at));
    json_object_set_new(j, "revoked_at", hl_json_iso(row->revoked_at));
    json_object_set_new(j, "app_hidden_at", hl_json_iso(row->app_hidden_at));
    json_object_set_new(j, "app_instance_bound", json_boolean(row->app_instance_hash != NULL));
    json_object_set_new(j, "current", json_boolean(current_id != NULL && strcmp(current_id, row->id) == 0));
    return j;
}

json_t *device_summary_json(hl_db_t *db, auth_effects_t *fx)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT count(*), count(*) FILTER (WHERE revoked_at IS NULL) FROM devices "
                                      "WHERE app_hidden_at IS NULL");
    unsigned total = 0, active = 0;
    if (hl_db_step(st) == SQLITE_ROW) {
        total = (unsigned)sqlite3_column_int64(st, 0);
        active = (unsigned)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (fx != NULL) {
        fx->counts_dirty = 1;
        fx->total = total;
        fx->active = active;
        fx->revoked = total - active;
    }
    return json_pack("{s:i, s:i, s:i}", "total", (json_int_t)total, "active", (json_int_t)active, "revoked",
                     (json_int_t)(total - active));
}

/* ---- effects ---- */

void fx_put(auth_effects_t *fx, const device_row_t *row)
{
    if (fx->num_ops == MAX_TABLE_OPS)
        hl_fatal("too many token table operations in one job");
    fx->ops[fx->num_ops].put = 1;
    if (hl_token_hash_from_hex(row->access_hash, &fx->ops[fx->num_ops].hash) != 0)
        hl_fatal("bad access hash");
    copy_row(&fx->ops[fx->num_ops].row, row);
    ++fx->num_ops;
}

void fx_remove(auth_effects_t *fx, const char *access_hash_hex)
{
    if (fx->num_ops == MAX_TABLE_OPS)
        hl_fatal("too many token table operations in one job");
    memset(&fx->ops[fx->num_ops], 0, sizeof(fx->ops[0]));
    if (hl_token_hash_from_hex(access_hash_hex, &fx->ops[fx->num_ops].hash) != 0)
        return;
    ++fx->num_ops;
}

static void publish_row(const hl_token_hash_t *hash, const device_row_t *row)
{
    hl_auth_device_t dev = {.id = row->id,
                            .label = row->label,
                            .platform = row->platform,
                            .model = row->model,
                            .app_instance_bound = row->app_instance_hash != NULL,
                            .access_expires_at = row->access_expires_at};
    hl_token_table_put(hash, &dev);
}

static void forget_grace_of(hl_auth_t *a, const char *device_id);

static void apply_effects(hl_json_job_t *base)
{
    hl_auth_t *a = ((auth_job_t *)base)->auth;
    auth_effects_t *fx = &((auth_job_t *)base)->fx;
    for (size_t i = 0; i < fx->num_ops; ++i) {
        if (fx->ops[i].put)
            publish_row(&fx->ops[i].hash, &fx->ops[i].row);
        else
            hl_token_table_remove(&fx->ops[i].hash);
    }
    if (fx->forget_grace_device != NULL)
        forget_grace_of(a, fx->forget_grace_device);
    if (fx->counts_dirty) {
        atomic_store(&a->counts->total, fx->total);
        atomic_store(&a->counts->active, fx->active);
        atomic_store(&a->counts->revoked, fx->revoked);
    }
}

void auth_effects_dispose(auth_effects_t *fx)
{
    for (size_t i = 0; i < fx->num_ops; ++i)
        device_row_dispose(&fx->ops[i].row);
    free(fx->forget_grace_device);
    fx->forget_grace_device = NULL;
    fx->num_ops = 0;
}

static void dispose_effects(hl_json_job_t *base)
{
    auth_effects_dispose(&((auth_job_t *)base)->fx);
}

void *auth_job_new(hl_auth_t *a, size_t size, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *))
{
    auth_job_t *job = hl_json_job_new(size, reply_to, exec);
    job->auth = a;
    job->super.after_commit = apply_effects;
    job->super.dispose = dispose_effects;
    return job;
}

void auth_post(auth_job_t *job)
{
    hl_db_actor_post(&job->auth->actor, &job->super.super);
}

int device_revoke(hl_db_t *db, device_row_t *row, int64_t now, auth_effects_t *fx)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    row->revoked_at = now;
    row->updated_at = now;
    fx_remove(fx, row->access_hash);
    free(fx->forget_grace_device);
    fx->forget_grace_device = hl_strdup(row->id);
    return 0;
}

/* ---- grace cache (memory only) ---- */

static void grace_free(grace_entry_t *g)
{
    free(g->device_id);
    if (g->access != NULL)
        OPENSSL_cleanse(g->access, strlen(g->access));
    if (g->refresh != NULL)
        OPENSSL_cleanse(g->refresh, strlen(g->refresh));
    free(g->access);
    free(g->refresh);
}

static void grace_remove_at(hl_auth_t *a, size_t i)
{
    grace_free(&a->grace[i]);
    a->grace[i] = a->grace[--a->num_grace];
}

static void grace_prune(hl_auth_t *a, int64_t now)
{
    for (size_t i = 0; i < a->num_grace;)
        if (a->grace[i].until <= now)
            grace_remove_at(a, i);
        else
            ++i;
}

static void forget_grace_of(hl_auth_t *a, const char *device_id)
{
    for (size_t i = 0; i < a->num_grace;)
        if (strcmp(a->grace[i].device_id, device_id) == 0)
            grace_remove_at(a, i);
        else
            ++i;
}

static grace_entry_t *grace_find(hl_auth_t *a, const char *old_hash, int64_t now)
{
    grace_prune(a, now);
    for (size_t i = 0; i < a->num_grace; ++i)
        if (hl_consttime_equal(a->grace[i].old_refresh_hash, 64, old_hash, strlen(old_hash)))
            return &a->grace[i];
    return NULL;
}

/* ---- rotation ---- */

typedef struct st_token_pair_t {
    char *access, *refresh;
    int64_t access_expires_at, refresh_expires_at;
} token_pair_t;

static void pair_dispose(token_pair_t *p)
{
    free(p->access);
    free(p->refresh);
}

static char *hash_hex(const char *token, char out[65])
{
    hl_token_hash_t h;
    hl_token_hash(token, strlen(token), &h);
    return hl_token_hash_hex(&h, out);
}

/* Gives the device a new token pair, retiring its current refresh token (reuse detection). */
static int rotate(hl_db_t *db, device_row_t *row, int64_t now, token_pair_t *pair, auth_effects_t *fx, int retire_old)
{
    char ah[65], rh[65];
    pair->access = hl_token_new_access();
    pair->refresh = hl_token_new_refresh();
    pair->access_expires_at = now + HL_ACCESS_TTL_MS;
    pair->refresh_expires_at = now + HL_REFRESH_TTL_MS;
    hash_hex(pair->access, ah);
    hash_hex(pair->refresh, rh);
    if (retire_old) {
        sqlite3_stmt *st = hl_db_stmt(db, "INSERT OR IGNORE INTO retired_refresh_tokens(token_hash, device_id, retired_at, "
                                          "expires_at) SELECT refresh_token_hash, id, ?2, refresh_expires_at FROM devices "
                                          "WHERE id = ?1");
        sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        int rc = hl_db_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -EIO;
    }
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET access_token_hash = ?2, access_expires_at = ?3, refresh_token_hash = ?4, "
                                      "refresh_expires_at = ?5, last_seen_at = ?6, updated_at = ?6 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ah, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, pair->access_expires_at);
    sqlite3_bind_text(st, 4, rh, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, pair->refresh_expires_at);
    sqlite3_bind_int64(st, 6, now);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    if (row->access_hash[0] != '\0')
        fx_remove(fx, row->access_hash);
    memcpy(row->access_hash, ah, sizeof(ah));
    row->access_expires_at = pair->access_expires_at;
    row->refresh_expires_at = pair->refresh_expires_at;
    row->last_seen_at = row->updated_at = now;
    fx_put(fx, row);
    return 0;
}

static json_t *session_json(const hl_link_t *svc, const device_row_t *row, const token_pair_t *pair, int with_link)
{
    json_t *j = json_object();
    if (with_link)
        json_object_set_new(j, "link",
                            json_pack("{s:s?, s:s}", "link_id", svc->identity->link_id, "display_name", HL_DISPLAY_NAME));
    json_object_set_new(j, "device", device_json(row));
    json_object_set_new(j, "access_token",
                        json_pack("{s:s, s:o}", "token", pair->access, "expires_at", hl_json_iso(pair->access_expires_at)));
    json_object_set_new(j, "refresh_token",
                        json_pack("{s:s, s:o}", "token", pair->refresh, "expires_at", hl_json_iso(pair->refresh_expires_at)));
    return j;
}

/* ---- create session ---- */

typedef struct st_session_job_t {
    auth_job_t super;
    hl_device_descriptor_t desc;
    bool bind_app_instance;
} session_job_t;

static int unbind_app_instance(hl_db_t *db, const char *device_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET app_instance_hash = NULL WHERE id = ?1");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int update_descriptor(hl_db_t *db, device_row_t *row, const char *label, const char *platform, const char *model,
                             int64_t now)
{
    if (label != NULL) {
        free(row->label);
        row->label = hl_strdup(label);
    }
    if (platform != NULL) {
        free(row->platform);
        row->platform = hl_strdup(platform);
    }
    if (model != NULL) {
        free(row->model);
        row->model = hl_strdup(model);
    }
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET label = ?2, platform = ?3, model = ?4, updated_at = ?5 WHERE id = ?1");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->platform, -1, SQLITE_STATIC);
    if (row->model != NULL)
        sqlite3_bind_text(st, 4, row->model, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    row->updated_at = now;
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int insert_device(hl_db_t *db, device_row_t *row)
{
    /* placeholders until rotate() sets the real hashes: unique, random, never a valid token's hash */
    char *pa = hl_random_hex_id("pending-access-", 16), *pr = hl_random_hex_id("pending-refresh-", 16);
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO devices(id, label, platform, model, scope, app_instance_hash, access_token_hash, "
                       "access_expires_at, refresh_token_hash, refresh_expires_at, created_at, updated_at, "
                       "last_seen_at) VALUES (?1, ?2, ?3, ?4, 'admin', ?5, ?6, 0, ?7, 0, ?8, ?8, ?8)");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, row->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, row->platform, -1, SQLITE_STATIC);
    if (row->model != NULL)
        sqlite3_bind_text(st, 4, row->model, -1, SQLITE_STATIC);
    if (row->app_instance_hash != NULL)
        sqlite3_bind_text(st, 5, row->app_instance_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, pa, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, pr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, row->created_at);
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    free(pa);
    free(pr);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int exec_create_session(hl_json_job_t *base, hl_db_t *db)
{
    session_job_t *job = (session_job_t *)base;
    auth_effects_t *fx = &job->super.fx;
    int64_t now = hl_now_ms();
    char *label = hl_normalize_descriptor(job->desc.label, HL_LABEL_MAX, false, HL_DEFAULT_DEVICE_LABEL);
    char *platform = hl_normalize_descriptor(job->desc.platform, HL_PLATFORM_MAX, true, "unknown");
    char *model = hl_normalize_descriptor(job->desc.model, HL_MODEL_MAX, false, NULL);
    char app_hash[65];
    const char *app = job->desc.app_instance_id;
    int have_app = job->bind_app_instance && app != NULL && hl_app_instance_valid(app, strlen(app));
    if (have_app)
        hl_app_instance_hash(app, strlen(app), app_hash);
    device_row_t row = {0};
    token_pair_t pair = {0};
    int ret = -1;

    if (have_app && device_load_by(db, 1, app_hash, &row) == 0) {
        if (row.revoked_at == 0) {
            /* the same app instance pairs again: keep its device, refresh its descriptor and tokens */
            if (update_descriptor(db, &row, label, platform, model, now) != 0 || rotate(db, &row, now, &pair, fx, 1) != 0)
                goto Exit;
            if (row.app_hidden_at != 0) {
                sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET app_hidden_at = NULL WHERE id = ?1");
                sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
                hl_db_step(st);
                sqlite3_reset(st);
                row.app_hidden_at = 0;
            }
            goto Reply;
        }
        /* a revoked device never comes back: the binding moves to a brand-new device */
        if (unbind_app_instance(db, row.id) != 0)
            goto Exit;
        device_row_dispose(&row);
    }
    row.id = hl_random_hex_id("dev_", 16);
    row.label = label;
    row.platform = platform;
    row.model = model;
    label = platform = model = NULL;
    row.scope = hl_strdup("admin");
    row.app_instance_hash = have_app ? hl_strdup(app_hash) : NULL;
    row.created_at = row.updated_at = row.last_seen_at = now;
    if (insert_device(db, &row) != 0 || rotate(db, &row, now, &pair, fx, 0) != 0)
        goto Exit;
    hl_log(HL_LOG_INFO, "device_session_enrolled", json_pack("{s:s, s:s}", "device_id", row.id, "platform", row.platform));
Reply:
    json_decref(device_summary_json(db, fx));
    ret = hl_json_job_ok(base, HL_RESULT_OK, session_json(auth_of(db)->svc, &row, &pair, 1));
Exit:
    free(label);
    free(platform);
    free(model);
    device_row_dispose(&row);
    pair_dispose(&pair);
    return ret;
}

static void dispose_session_job(hl_json_job_t *base)
{
    dispose_effects(base);
    hl_device_descriptor_dispose(&((session_job_t *)base)->desc);
}

void hl_auth_create_session(hl_auth_t *a, hl_reply_to_t *reply_to, hl_device_descriptor_t *desc, bool bind_app_instance)
{
    session_job_t *job = auth_job_new(a, sizeof(*job), reply_to, exec_create_session);
    job->super.super.dispose = dispose_session_job;
    job->desc = *desc;
    memset(desc, 0, sizeof(*desc));
    job->bind_app_instance = bind_app_instance;
    auth_post(&job->super);
}

/* ---- refresh ---- */

typedef struct st_refresh_job_t {
    auth_job_t super;
    char *token;
    hl_device_descriptor_t desc;
} refresh_job_t;

static int refresh_invalid(hl_json_job_t *job)
{
    return hl_json_job_error(job, HL_RESULT_UNAUTHENTICATED, "refresh_token_invalid", "Refresh token is invalid or expired");
}

/* Binds an app instance to the device when it has none and no other device holds it. */
static int maybe_bind_app_instance(hl_db_t *db, device_row_t *row, const char *app)
{
    if (app == NULL || row->app_instance_hash != NULL || !hl_app_instance_valid(app, strlen(app)))
        return 0;
    char h[65];
    hl_app_instance_hash(app, strlen(app), h);
    sqlite3_stmt *st = hl_db_stmt(db, "UPDATE devices SET app_instance_hash = ?2 WHERE id = ?1 AND NOT EXISTS "
                                      "(SELECT 1 FROM devices WHERE app_instance_hash = ?2)");
    sqlite3_bind_text(st, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
    int rc = hl_db_step(st);
    int changed = sqlite3_changes(hl_db_conn(db)) > 0;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    if (changed)
        row->app_instance_hash = hl_strdup(h);
    return changed;
}

/* A retired refresh token came back from someone other than the client that lost an answer: whoever else holds a copy
 * of it is a thief, so the device is revoked (the reply is 401 either way). */
static int revoke_for_reuse(hl_json_job_t *base, hl_db_t *db, device_row_t *row, int64_t now, auth_effects_t *fx)
{
    if (device_revoke(db, row, now, fx) != 0)
        return -1;
    json_decref(device_summary_json(db, fx));
    hl_log(HL_LOG_WARN, "refresh_token_reuse_detected", json_pack("{s:s}", "device_id", row->id));
    refresh_invalid(base);
    return 0; /* keep the revocation */
}

static int exec_refresh(hl_json_job_t *base, hl_db_t *db)
{
    refresh_job_t *job = (refresh_job_t *)base;
    auth_effects_t *fx = &job->super.fx;
    int64_t now = hl_now_ms();
    char h[65];
    hash_hex(job->token, h);
    device_row_t row = {0};
    token_pair_t pair = {0};
    int ret = -1;

    grace_entry_t *g = grace_find(auth_of(db), h, now);
    if (g != NULL) {
        /* a retry of a refresh whose answer was lost: the same new pair, not a reuse */
        if (device_load(db, g->device_id, &row) != 0 || row.revoked_at != 0) {
            ret = refresh_invalid(base);
            goto Exit;
        }
        /* ...but only while that pair is still the device's current one: once it was rotated again, the client that lost
         * the answer has had it since, so the old token is a stolen copy chaining grace entries (issue 9, finding 6) */
        char saved[65];
        hash_hex(g->access, saved);
        if (!hl_consttime_equal(saved, 64, row.access_hash, strlen(row.access_hash))) {
            ret = revoke_for_reuse(base, db, &row, now, fx);
            goto Exit;
        }
        token_pair_t same = {g->access, g->refresh, g->access_expires_at, g->refresh_expires_at};
        json_t *reply = session_json(auth_of(db)->svc, &row, &same, 0);
        ret = hl_json_job_ok(base, HL_RESULT_OK, reply);
        goto Exit;
    }
    if (device_load_by(db, 0, h, &row) == 0) {
        if (row.revoked_at != 0 || row.refresh_expires_at <= now) {
            ret = refresh_invalid(base);
            goto Exit;
        }
        char *label = hl_normalize_descriptor(job->desc.label, HL_LABEL_MAX, false, NULL);
        char *platform = hl_normalize_descriptor(job->desc.platform, HL_PLATFORM_MAX, true, NULL);
        char *model = hl_normalize_descriptor(job->desc.model, HL_MODEL_MAX, false, NULL);
        int r = 0;
        if (label != NULL || platform != NULL || model != NULL)
            r = update_descriptor(db, &row, label, platform, model, now);
        free(label);
        free(platform);
        free(model);
        if (r != 0 || maybe_bind_app_instance(db, &row, job->desc.app_instance_id) < 0 || rotate(db, &row, now, &pair, fx, 1) != 0)
            goto Exit;
        hl_auth_t *a = auth_of(db);
        a->grace = hl_realloc(a->grace, sizeof(*a->grace) * (a->num_grace + 1));
        grace_entry_t *ng = &a->grace[a->num_grace++];
        memcpy(ng->old_refresh_hash, h, sizeof(h));
        ng->device_id = hl_strdup(row.id);
        ng->access = hl_strdup(pair.access);
        ng->refresh = hl_strdup(pair.refresh);
        ng->access_expires_at = pair.access_expires_at;
        ng->refresh_expires_at = pair.refresh_expires_at;
        ng->until = now + HL_REFRESH_GRACE_MS;
        ret = hl_json_job_ok(base, HL_RESULT_OK, session_json(auth_of(db)->svc, &row, &pair, 0));
        goto Exit;
    }
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT device_id FROM retired_refresh_tokens WHERE token_hash = ?1");
    sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
    char *reused_by = hl_db_step(st) == SQLITE_ROW ? hl_db_text(st, 0) : NULL;
    sqlite3_reset(st);
    if (reused_by != NULL && device_load(db, reused_by, &row) == 0 && row.revoked_at == 0) {
        /* an old refresh token came back after its grace: someone holds a stolen copy, so the device is revoked */
        ret = revoke_for_reuse(base, db, &row, now, fx);
        free(reused_by);
        goto Exit;
    }
    free(reused_by);
    ret = refresh_invalid(base);
Exit:
    device_row_dispose(&row);
    pair_dispose(&pair);
    return ret;
}

static void dispose_refresh_job(hl_json_job_t *base)
{
    refresh_job_t *job = (refresh_job_t *)base;
    dispose_effects(base);
    hl_device_descriptor_dispose(&job->desc);
    free(job->token);
}

void hl_auth_refresh(hl_auth_t *a, hl_reply_to_t *reply_to, char *token, hl_device_descriptor_t *desc)
{
    refresh_job_t *job = auth_job_new(a, sizeof(*job), reply_to, exec_refresh);
    job->super.super.dispose = dispose_refresh_job;
    job->token = token;
    job->desc = *desc;
    memset(desc, 0, sizeof(*desc));
    auth_post(&job->super);
}

/* ---- logout ---- */

typedef struct st_logout_job_t {
    auth_job_t super;
    char *token;
} logout_job_t;

static int exec_logout(hl_json_job_t *base, hl_db_t *db)
{
    logout_job_t *job = (logout_job_t *)base;
    if (job->token != NULL) {
        char h[65];
        device_row_t row = {0};
        hash_hex(job->token, h);
        int r = 0;
        if (device_load_by(db, 0, h, &row) == 0 && row.revoked_at == 0) {
            r = device_revoke(db, &row, hl_now_ms(), &job->super.fx);
            if (r == 0)
                json_decref(device_summary_json(db, &job->super.fx));
        }
        device_row_dispose(&row); /* also when already revoked */
        if (r != 0)
            return -1;
    }
    return hl_json_job_ok(base, HL_RESULT_OK, json_object());
}

static void dispose_logout_job(hl_json_job_t *base)
{
    dispose_effects(base);
    free(((logout_job_t *)base)->token);
}

void hl_auth_logout(hl_auth_t *a, hl_reply_to_t *reply_to, char *token)
{
    logout_job_t *job = auth_job_new(a, sizeof(*job), reply_to, exec_logout);
    job->super.super.dispose = dispose_logout_job;
    job->token = token;
    auth_post(&job->super);
}

/* ---- actor ---- */

static int on_open(hl_db_t *db)
{
    /* publish every live access token, and the counts */
    int64_t now = hl_now_ms();
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT " DEVICE_COLUMNS " FROM devices WHERE revoked_at IS NULL AND access_expires_at > ?1");
    sqlite3_bind_int64(st, 1, now);
    size_t n = 0;
    while (hl_db_step(st) == SQLITE_ROW) {
        device_row_t row;
        read_row(st, &row);
        hl_token_hash_t h;
        if (hl_token_hash_from_hex(row.access_hash, &h) == 0) {
            publish_row(&h, &row);
            ++n;
        }
        device_row_dispose(&row);
    }
    sqlite3_reset(st);
    auth_effects_t fx = {0};
    json_decref(device_summary_json(db, &fx));
    hl_auth_t *a = auth_of(db);
    atomic_store(&a->counts->total, fx.total);
    atomic_store(&a->counts->active, fx.active);
    atomic_store(&a->counts->revoked, fx.revoked);
    hl_logf(HL_LOG_INFO, "auth: %zu live access tokens published", n);
    return 0;
}

static void on_tick(hl_db_t *db)
{
    int64_t now = hl_now_ms();
    grace_prune(auth_of(db), now);
    hl_token_table_prune(now);
    sqlite3_stmt *st = hl_db_stmt(db, "DELETE FROM retired_refresh_tokens WHERE expires_at <= ?1");
    sqlite3_bind_int64(st, 1, now);
    hl_db_step(st);
    sqlite3_reset(st);
}

static void on_close(hl_db_t *db)
{
    (void)db;
    hl_auth_t *a = auth_of(db);
    while (a->num_grace > 0)
        grace_remove_at(a, 0);
    free(a->grace);
    a->grace = NULL;
}

int hl_auth_init(hl_auth_t **out, const hl_link_t *link, hl_device_counts_t *counts)
{
    static const hl_db_actor_hooks_t hooks = {.on_open = on_open, .on_tick = on_tick, .tick_ms = 60000, .on_close = on_close};
    hl_auth_t *a = hl_calloc(1, sizeof(*a));
    a->svc = link;
    a->counts = counts;
    int ret = hl_db_actor_init(&a->actor, "auth", link->db_path, &hooks, a);
    if (ret != 0) {
        free(a);
        return ret;
    }
    *out = a;
    return 0;
}

hl_actor_t *hl_auth_actor(hl_auth_t *a)
{
    return &a->actor.actor;
}

void hl_auth_dispose(hl_auth_t *a)
{
    if (a == NULL)
        return;
    hl_db_actor_dispose(&a->actor);
    free(a);
}
