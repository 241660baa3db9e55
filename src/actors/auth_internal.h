/*
 * Private to the auth actor (auth.c, auth_devices.c): device rows, token rotation, publication to the token table.
 * Everything here runs on the auth actor's thread.
 */
#ifndef HL_AUTH_INTERNAL_H
#define HL_AUTH_INTERNAL_H

#include "hl/auth.h"
#include "hl/json_job.h"
#include "hl/json_util.h"
#include "hl/token_table.h"

typedef struct st_device_row_t {
    char *id, *label, *platform, *model, *scope, *app_instance_hash;
    char access_hash[65];
    int64_t access_expires_at, refresh_expires_at, created_at, updated_at;
    int64_t last_seen_at, revoked_at, app_hidden_at; /* 0 = null */
} device_row_t;

/* Changes to the token table and the device counts, applied after the commit. */
#define MAX_TABLE_OPS 4
typedef struct st_auth_effects_t {
    struct {
        int put; /* 1 put, 0 remove */
        hl_token_hash_t hash;
        device_row_t row; /* for puts (owned copy) */
    } ops[MAX_TABLE_OPS];
    size_t num_ops;
    int counts_dirty;
    unsigned total, active, revoked;
    /* drop grace entries of this device (revocation) */
    char *forget_grace_device;
} auth_effects_t;

/* A json job of the auth actor with effects. */
typedef struct st_auth_job_t {
    hl_json_job_t super;
    hl_auth_t *auth;
    auth_effects_t fx;
} auth_job_t;

/** Allocates an auth job (a struct starting with auth_job_t) for `a`, whose after_commit applies its effects. */
void *auth_job_new(hl_auth_t *a, size_t size, hl_reply_to_t *reply_to, int (*exec)(hl_json_job_t *, hl_db_t *));

/** Frees what queued effects own. */
void auth_effects_dispose(auth_effects_t *fx);

/** Posts a job to the auth actor. */
void auth_post(auth_job_t *job);

/** The auth actor whose connection `db` is. The actor's thread. */
hl_auth_t *auth_of(hl_db_t *db);

/** The service facts the auth actor of `db` was given at init. */
const hl_link_t *auth_svc(hl_db_t *db);

/** Loads a device by id (0) or -ENOENT. */
int device_load(hl_db_t *db, const char *id, device_row_t *row);
/** Loads the device whose column `by` ("refresh_token_hash" or "app_instance_hash") equals `value`. */
int device_load_by(hl_db_t *db, int by_app_instance, const char *value, device_row_t *row);
void device_row_dispose(device_row_t *row);

/** {id, device_id, label, platform, model, scope} */
json_t *device_json(const device_row_t *row);
/** DeviceListItem + current */
json_t *device_item_json(const device_row_t *row, const char *current_id);
/** {total, active, revoked} of devices not hidden; also recorded in fx for publication. */
json_t *device_summary_json(hl_db_t *db, auth_effects_t *fx);

/** Revokes a device (tokens die at once after the commit). 0 or -EIO. */
int device_revoke(hl_db_t *db, device_row_t *row, int64_t now, auth_effects_t *fx);

/** Queues "publish this device's access token" (a copy of row is taken). */
void fx_put(auth_effects_t *fx, const device_row_t *row);
/** Queues "remove this access hash". */
void fx_remove(auth_effects_t *fx, const char *access_hash_hex);

#endif
