/*
 * Blobs (spec/API.md §7 "Blobs"): content-addressed files under <home>/blobs/<sha256>, written to a temp file, fsynced
 * and renamed; rows per upload with their conversation links. Ids are validated by the routes before anything reaches
 * the filesystem, and paths are built only from hex digests.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/app.h"
#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "store_internal.h"

char *blob_path(const char *sha256_hex)
{
    char *dir = hl_path_join(hl_app.home, "blobs"), *p = hl_path_join(dir, sha256_hex);
    free(dir);
    return p;
}

static json_t *blob_json(hl_db_t *db, const char *blob_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, size, mime, filename, created_at FROM blobs WHERE id = ?1");
    sqlite3_bind_text(st, 1, blob_id, -1, SQLITE_STATIC);
    json_t *b = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        b = json_pack("{s:s, s:I, s:s, s:s, s:o}", "id", (const char *)sqlite3_column_text(st, 0), "size",
                      (json_int_t)sqlite3_column_int64(st, 1), "mime", (const char *)sqlite3_column_text(st, 2), "filename",
                      (const char *)sqlite3_column_text(st, 3), "created_at", store_iso(sqlite3_column_int64(st, 4)));
    sqlite3_reset(st);
    if (b == NULL)
        return NULL;
    json_t *convs = json_array();
    st = hl_db_stmt(db, "SELECT conversation_id FROM blob_links WHERE blob_id = ?1 ORDER BY conversation_id");
    sqlite3_bind_text(st, 1, blob_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(convs, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    json_object_set_new(b, "conversation_ids", convs);
    return b;
}

/* The blob's content hash when it is linked to the conversation, else NULL. */
static char *linked_sha(hl_db_t *db, const char *blob_id, const char *conversation_id, char **mime, char **filename)
{
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT b.sha256, b.mime, b.filename FROM blobs b JOIN blob_links l ON l.blob_id = b.id WHERE "
                       "b.id = ?1 AND l.conversation_id = ?2");
    sqlite3_bind_text(st, 1, blob_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conversation_id, -1, SQLITE_STATIC);
    char *sha = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        sha = hl_db_text(st, 0);
        if (mime != NULL)
            *mime = hl_db_text(st, 1);
        if (filename != NULL)
            *filename = hl_db_text(st, 2);
    }
    sqlite3_reset(st);
    return sha;
}

static int blob_not_found(store_job_t *job)
{
    return hl_json_job_error(&job->super, 404, "blob_not_found", "Blob not found");
}

/* ---- get ---- */

/* The reply of a blob read is bytes, carried through the json job as {"path","mime","filename"} until delivery. */
int op_blob_get(store_job_t *job, hl_db_t *db)
{
    const char *conv = arg_str(job, "conversation_id"), *blob = arg_str(job, "blob_id");
    char *mime = NULL, *filename = NULL;
    char *sha = linked_sha(db, blob, conv, &mime, &filename);
    if (sha == NULL)
        return blob_not_found(job);
    char *path = blob_path(sha);
    int ret = hl_json_job_ok(&job->super, 200, json_pack("{s:s, s:s, s:s}", "path", path, "mime", mime, "filename", filename));
    free(path);
    free(sha);
    free(mime);
    free(filename);
    return ret;
}

/* ---- delete ---- */

int op_blob_delete(store_job_t *job, hl_db_t *db)
{
    const char *conv = arg_str(job, "conversation_id"), *blob = arg_str(job, "blob_id");
    char *sha = linked_sha(db, blob, conv, NULL, NULL);
    if (sha == NULL)
        return blob_not_found(job);
    int ret = -1;
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id WHERE a.blob_id = ?1 "
                       "AND m.conversation_id = ?2 LIMIT 1");
    sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv, -1, SQLITE_STATIC);
    int in_use = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (in_use) {
        ret = hl_json_job_error(&job->super, 409, "blob_in_use", "A message still refers to this blob");
        goto Exit;
    }
    st = hl_db_stmt(db, "DELETE FROM blob_links WHERE blob_id = ?1 AND conversation_id = ?2");
    sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv, -1, SQLITE_STATIC);
    if (hl_db_exec(st) != 0)
        goto Exit;
    /* the last link gone: the row goes, and the file when no other upload has the same content */
    st = hl_db_stmt(db, "DELETE FROM blobs WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM blob_links WHERE blob_id = ?1)");
    sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
    if (hl_db_exec(st) != 0)
        goto Exit;
    st = hl_db_stmt(db, "SELECT count(*) FROM blobs WHERE sha256 = ?1");
    sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
    int remaining = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
    sqlite3_reset(st);
    if (remaining == 0) {
        /* the file goes only after the batch committed, and only if no upload in the same batch reused the content */
        if (job->unlink_after_commit == NULL)
            job->unlink_after_commit = json_array();
        json_array_append_new(job->unlink_after_commit, json_string(sha));
    }
    ret = hl_json_job_ok(&job->super, 200, json_pack("{s:b, s:b, s:s}", "ok", 1, "deleted", 1, "blob_id", blob));
Exit:
    free(sha);
    return ret;
}

/* ---- upload ---- */

/* uploads whose bytes are held in memory at once (h2o hands a body over whole); past it 503 server_busy */
#define MAX_UPLOADS_IN_FLIGHT 4

static atomic_int uploads_in_flight;

bool hl_store_upload_begin(void)
{
    if (atomic_fetch_add(&uploads_in_flight, 1) >= MAX_UPLOADS_IN_FLIGHT) {
        atomic_fetch_sub(&uploads_in_flight, 1);
        return false;
    }
    return true;
}

void hl_store_upload_abort(void)
{
    atomic_fetch_sub(&uploads_in_flight, 1);
}

typedef struct st_put_job_t {
    store_job_t super;
    char *data;
    size_t len;
    char *mime, *filename;
} put_job_t;

static int write_blob_file(const char *path, const char *data, size_t len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        return 0; /* the same content is already stored */
    char *dir = hl_path_join(hl_app.home, "blobs");
    int ret = hl_mkdir_p(dir, 0700);
    free(dir);
    if (ret != 0)
        return ret;
    return hl_write_file_atomic(path, data, len, 0600);
}

static int exec_put(hl_json_job_t *base, hl_db_t *db)
{
    put_job_t *job = (put_job_t *)base;
    store_job_t *sj = &job->super;
    sj->now = hl_now_ms();
    conv_row_t conv;
    if (conv_require(sj, db, arg_str(sj, "conversation_id"), 0, &conv) != 0)
        return -1;
    char sha[65], *path = NULL, *id = store_new_id("blob_");
    int ret = -1;
    hl_sha256_hex(job->data, job->len, sha);
    path = blob_path(sha);
    if (write_blob_file(path, job->data, job->len) != 0) {
        ret = hl_json_job_error(base, 500, "internal_error", "The blob could not be stored");
        goto Exit;
    }
    const char *filename = job->filename != NULL && job->filename[0] != '\0' ? job->filename : id;
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO blobs(id, sha256, size, mime, filename, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)job->len);
    sqlite3_bind_text(st, 4, job->mime, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, filename, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, sj->now);
    if (hl_db_exec(st) != 0)
        goto Exit;
    st = hl_db_stmt(db, "INSERT INTO blob_links(blob_id, conversation_id) VALUES (?1, ?2)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv.id, -1, SQLITE_STATIC);
    if (hl_db_exec(st) != 0)
        goto Exit;
    json_t *blob = blob_json(db, id);
    if (blob != NULL)
        ret = hl_json_job_ok(base, 201, json_pack("{s:b, s:o}", "ok", 1, "blob", blob));
Exit:
    conv_row_dispose(&conv);
    free(path);
    free(id);
    return ret;
}

static void dispose_put(hl_json_job_t *base)
{
    put_job_t *job = (put_job_t *)base;
    hl_store_upload_abort(); /* the reservation ends with the job */
    json_decref(job->super.args);
    free(job->super.device_id);
    free(job->data);
    free(job->mime);
    free(job->filename);
}

void hl_store_put_blob(hl_pending_t *pending, const char *conversation_id, const char *data, size_t len, const char *mime,
                       const char *filename)
{
    put_job_t *job = hl_json_job_new(sizeof(*job), pending, exec_put);
    job->super.super.dispose = dispose_put;
    job->super.args = json_pack("{s:s}", "conversation_id", conversation_id);
    job->data = (char *)data;
    job->len = len;
    job->mime = hl_strdup(mime);
    job->filename = hl_strdup(filename);
    hl_db_actor_post(&hl_app.store, &job->super.super.super);
}

/* ---- read (bytes) ---- */

static void deliver_blob(hl_json_job_t *base)
{
    json_t *r = base->reply;
    const char *path = json_string_value(json_object_get(r, "path"));
    if (base->status != 200 || path == NULL) {
        hl_pending_reply_json(base->pending, base->status, r);
        base->reply = NULL;
        return;
    }
    char *data = NULL;
    size_t len = 0;
    if (hl_read_file(path, HL_MAX_BODY_LIMIT, &data, &len) != 0) {
        hl_pending_reply_error(base->pending, 404, "blob_not_found", "Blob not found");
        return;
    }
    const char *mime = json_string_value(json_object_get(r, "mime"));
    char *type = strncmp(mime, "text/", 5) == 0 && strstr(mime, "charset") == NULL ? hl_asprintf("%s; charset=utf-8", mime)
                                                                                   : hl_strdup(mime);
    char *disposition = hl_asprintf("inline; filename=\"%s\"", json_string_value(json_object_get(r, "filename")));
    hl_pending_set_header(base->pending, "content-disposition", disposition);
    hl_pending_reply_bytes(base->pending, 200, type, data, len);
    free(disposition);
    free(type);
    free(data);
}

void hl_store_get_blob(hl_pending_t *pending, const char *conversation_id, const char *blob_id)
{
    store_job_t *job = hl_json_job_new(sizeof(*job), pending, NULL);
    hl_store_init_job(job, HL_STORE_BLOB_GET, json_pack("{s:s, s:s}", "conversation_id", conversation_id, "blob_id", blob_id),
                      NULL);
    job->super.deliver = deliver_blob;
    hl_db_actor_post(&hl_app.store, &job->super.super);
}
