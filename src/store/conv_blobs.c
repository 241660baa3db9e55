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

#include "hl/clock.h"
#include "hl/json_util.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "store_internal.h"

char *blob_path(const hl_store_t *s, const char *sha256_hex)
{
    return hl_path_join(s->blobs_dir, sha256_hex);
}

static json_t *blob_json(hl_db_t *db, const char *blob_id)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT id, size, mime, filename, created_at FROM blobs WHERE id = ?1");
    sqlite3_bind_text(st, 1, blob_id, -1, SQLITE_STATIC);
    json_t *b = NULL;
    if (hl_db_step(st) == SQLITE_ROW)
        b = json_pack("{s:s, s:I, s:s, s:s, s:o}", "id", (const char *)sqlite3_column_text(st, 0), "size",
                      (json_int_t)sqlite3_column_int64(st, 1), "mime", (const char *)sqlite3_column_text(st, 2), "filename",
                      (const char *)sqlite3_column_text(st, 3), "created_at", hl_json_iso(sqlite3_column_int64(st, 4)));
    sqlite3_reset(st);
    if (b == NULL)
        return NULL;
    json_t *convs = json_array();
    st = hl_db_stmt(db, "SELECT conversation_id FROM blob_links WHERE blob_id = ?1 ORDER BY conversation_id");
    sqlite3_bind_text(st, 1, blob_id, -1, SQLITE_STATIC);
    while (hl_db_step(st) == SQLITE_ROW)
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
    if (hl_db_step(st) == SQLITE_ROW) {
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
    return hl_json_job_error(&job->super, HL_RESULT_NOT_FOUND, "blob_not_found", "Blob not found");
}

/* ---- get ---- */

/* ---- read: the file streamed in chunks read on the reader threads, so workers never touch it ---- */

#define CHUNK_MAX (256 * 1024)

typedef struct st_blob_source_t {
    hl_byte_source_t super;
    hl_store_t *store;
    int fd;
    uint64_t offset;
    char *buf;
    /* the outstanding read, as a reader job */
    hl_db_job_t job;
    size_t want;
    ssize_t got;
    int err;
    void (*done)(void *ctx, const char *data, size_t len, int err);
    void *ctx;
} blob_source_t;

static int run_chunk(hl_db_job_t *base, hl_db_t *db)
{
    blob_source_t *b = HL_STRUCT_FROM_MEMBER(blob_source_t, job, base);
    do
        b->got = pread(b->fd, b->buf, b->want, (off_t)b->offset);
    while (b->got < 0 && errno == EINTR);
    b->err = b->got < 0 ? errno : 0;
    if (b->got > 0)
        b->offset += (uint64_t)b->got;
    return 0;
}

static void complete_chunk(hl_db_job_t *base, int status)
{
    blob_source_t *b = HL_STRUCT_FROM_MEMBER(blob_source_t, job, base);
    b->done(b->ctx, b->buf, b->got > 0 ? (size_t)b->got : 0, b->err != 0 ? b->err : status != 0 ? EIO : 0);
}

static void source_read(hl_byte_source_t *src, size_t max, void (*done)(void *ctx, const char *data, size_t len, int err),
                        void *ctx)
{
    blob_source_t *b = (blob_source_t *)src;
    b->want = max < CHUNK_MAX ? max : CHUNK_MAX;
    b->done = done;
    b->ctx = ctx;
    hl_db_job_init(&b->job, run_chunk, complete_chunk);
    hl_db_readers_post(b->store->readers, &b->job);
}

/* Closing a regular file's descriptor does not wait for the disk, so it happens on the caller's thread: the source can
 * be closed at any time, even after the store's readers stopped. */
static void source_close(hl_byte_source_t *src)
{
    blob_source_t *b = (blob_source_t *)src;
    close(b->fd);
    free(b->buf);
    free(b);
}

/* The answer of a blob read: its bytes as a stream, with its MIME type and file name. */
int op_blob_get(store_job_t *job, hl_db_t *db)
{
    const char *conv = job->a.conversation_id, *blob = job->a.blob_id;
    char *mime = NULL, *filename = NULL;
    char *sha = linked_sha(db, blob, conv, &mime, &filename);
    if (sha == NULL)
        return blob_not_found(job);
    char *path = blob_path(job->store, sha);
    int ret, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        ret = blob_not_found(job);
    } else {
        blob_source_t *b = hl_calloc(1, sizeof(*b));
        b->super.read = source_read;
        b->super.close = source_close;
        b->store = job->store;
        b->fd = fd;
        b->buf = hl_malloc(CHUNK_MAX);
        char *type = strncmp(mime, "text/", 5) == 0 && strstr(mime, "charset") == NULL ? hl_asprintf("%s; charset=utf-8", mime)
                                                                                       : hl_strdup(mime);
        hl_result_t *res = hl_result_stream(&b->super, (uint64_t)st.st_size, type);
        res->filename = filename;
        filename = NULL;
        free(type);
        ret = hl_json_job_set(&job->super, res);
    }
    free(path);
    free(sha);
    free(mime);
    free(filename);
    return ret;
}

/* ---- delete ---- */

int op_blob_delete(store_job_t *job, hl_db_t *db)
{
    const char *conv = job->a.conversation_id, *blob = job->a.blob_id;
    char *sha = linked_sha(db, blob, conv, NULL, NULL);
    if (sha == NULL)
        return blob_not_found(job);
    int ret = -1;
    sqlite3_stmt *st =
        hl_db_stmt(db, "SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id WHERE a.blob_id = ?1 "
                       "AND m.conversation_id = ?2 LIMIT 1");
    sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, conv, -1, SQLITE_STATIC);
    int in_use = hl_db_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (in_use) {
        ret = hl_json_job_error(&job->super, HL_RESULT_CONFLICT, "blob_in_use", "A message still refers to this blob");
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
    int remaining = hl_db_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 1;
    sqlite3_reset(st);
    if (remaining == 0) {
        /* the file goes only after the batch committed, and only if no upload in the same batch reused the content */
        if (job->unlink_after_commit == NULL)
            job->unlink_after_commit = json_array();
        json_array_append_new(job->unlink_after_commit, json_string(sha));
    }
    ret = hl_json_job_ok(&job->super, HL_RESULT_OK, json_pack("{s:b, s:s}", "deleted", 1, "blob_id", blob));
Exit:
    free(sha);
    return ret;
}

/* ---- upload ---- */

/* uploads whose bytes are held in memory at once (h2o hands a body over whole); past it 503 server_busy */
#define MAX_UPLOADS_IN_FLIGHT 4

bool hl_store_upload_begin(hl_store_t *s)
{
    if (atomic_fetch_add(&s->uploads, 1) >= MAX_UPLOADS_IN_FLIGHT) {
        atomic_fetch_sub(&s->uploads, 1);
        return false;
    }
    return true;
}

void hl_store_upload_abort(hl_store_t *s)
{
    atomic_fetch_sub(&s->uploads, 1);
}

/* An upload in two stages: the file is written and fsynced on a reader thread, then a short write job links it. */
typedef struct st_put_job_t {
    store_job_t super;
    char *data;
    size_t len;
    char *mime, *filename;
    char sha[65];
    bool file_ok; /* stage 1 stored the file */
    int file_err; /* else why not (-errno) */
    hl_db_job_t stage1;
} put_job_t;

int blob_write_file(const hl_store_t *s, const char *path, const char *data, size_t len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        return 0; /* the same content is already stored */
    int ret = hl_mkdir_p(s->blobs_dir, 0700);
    if (ret != 0)
        return ret;
    return hl_write_file_atomic(path, data, len, 0600);
}

static int exec_put(store_job_t *sj, hl_db_t *db)
{
    put_job_t *job = (put_job_t *)sj;
    conv_row_t conv;
    if (conv_require(sj, db, sj->a.conversation_id, 0, &conv) != 0)
        return -1;
    char *path = blob_path(sj->store, job->sha), *id = store_new_id("blob_");
    int ret = -1;
    /* a delete of the last blob with the same content may have removed the file since stage 1 (rare): store it again */
    int werr = job->file_ok ? blob_write_file(sj->store, path, job->data, job->len) : job->file_err;
    if (werr != 0) {
        ret = hl_errno_is_disk_full(werr)
                  ? hl_json_job_set(&sj->super, hl_result_storage_full())
                  : hl_json_job_error(&sj->super, HL_RESULT_INTERNAL, "internal_error", "The blob could not be stored");
        goto Exit;
    }
    const char *filename = job->filename != NULL && job->filename[0] != '\0' ? job->filename : id;
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO blobs(id, sha256, size, mime, filename, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job->sha, -1, SQLITE_STATIC);
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
        ret = hl_json_job_ok(&sj->super, HL_RESULT_CREATED, json_pack("{s:o}", "blob", blob));
Exit:
    conv_row_dispose(&conv);
    free(path);
    free(id);
    return ret;
}

static void dispose_put(store_job_t *base)
{
    put_job_t *job = (put_job_t *)base;
    /* not linked (the conversation went away, or the write failed): the file stage 1 stored goes after the batch, unless
     * a row uses the same content */
    if (job->file_ok && !job->super.super.committed)
        json_array_append_new(job->super.store->unlink_candidates, json_string(job->sha));
    hl_store_upload_abort(job->super.store); /* the reservation ends with the job */
    free(job->data);
    free(job->mime);
    free(job->filename);
}

/* stage 1, on a reader thread: hash, write, fsync and rename, outside any write transaction */
static int run_stage1(hl_db_job_t *base, hl_db_t *db)
{
    put_job_t *job = HL_STRUCT_FROM_MEMBER(put_job_t, stage1, base);
    hl_sha256_hex(job->data, job->len, job->sha);
    char *path = blob_path(job->super.store, job->sha);
    job->file_err = blob_write_file(job->super.store, path, job->data, job->len);
    job->file_ok = job->file_err == 0;
    free(path);
    return 0;
}

static void complete_stage1(hl_db_job_t *base, int status)
{
    put_job_t *job = HL_STRUCT_FROM_MEMBER(put_job_t, stage1, base);
    store_post_write(&job->super);
}

void hl_store_put_blob(hl_store_t *s, hl_reply_to_t *to, const char *conversation_id, char *data, size_t len, const char *mime,
                       const char *filename)
{
    store_job_t *sj = store_job_new_sized(s, to, exec_put, NULL, sizeof(put_job_t));
    put_job_t *job = (put_job_t *)sj;
    sj->a.conversation_id = hl_strdup(conversation_id);
    sj->dispose_extra = dispose_put;
    job->data = data;
    job->len = len;
    job->mime = hl_strdup(mime);
    job->filename = hl_strdup(filename);
    hl_db_job_init(&job->stage1, run_stage1, complete_stage1);
    hl_db_readers_post(s->readers, &job->stage1);
}
