/*
 * Deliveries (POST /internal/deliver): a local Hermes hands files to the apps through a staging directory. Like an
 * upload, in two stages: on a reader thread the directory is checked and every regular file in it read, hashed and
 * stored as a blob file (fsynced and renamed); then one short write job links the blobs to the "Deliveries" conversation
 * and announces them with one message. Staging files are only read: the directory is left as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/fsutil.h"
#include "hl/ids.h"
#include "hl/mime.h"
#include "store_internal.h"

/* where link.db remembers the conversation deliveries go to */
#define META_KEY "deliveries_conversation_id"

typedef struct st_delivered_file_t {
    char *name; /* as in the directory */
    char *filename, *mime;
    char sha[65];
    uint64_t size;
    bool stored; /* stage 1 wrote its blob file */
} delivered_file_t;

typedef struct st_deliver_job_t {
    store_job_t super;
    char *dir;
    delivered_file_t *files;
    size_t num_files;
    /* stage 1's refusal, answered by stage 2 without touching link.db */
    hl_result_kind_t err_kind;
    const char *err_code, *err_message;
    hl_db_job_t stage1;
} deliver_job_t;

static void refuse(deliver_job_t *job, hl_result_kind_t kind, const char *code, const char *message)
{
    job->err_kind = kind;
    job->err_code = code;
    job->err_message = message;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const delivered_file_t *)a)->name, ((const delivered_file_t *)b)->name);
}

/* Lists the regular files of the directory (symbolic links and other entries skipped), sorted by name; refuses more than
 * HL_DELIVERY_MAX_FILES or one over the blob limit. 0, or -1 after refuse(). */
static int list_files(deliver_job_t *job, int dfd)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        refuse(job, HL_RESULT_INVALID, "delivery_staging_invalid", "The staging directory cannot be read");
        return -1;
    }
    size_t cap = 0;
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (job->num_files == HL_DELIVERY_MAX_FILES) {
            refuse(job, HL_RESULT_INVALID, "delivery_too_many_files", "The staging directory holds more than 100 files");
            ret = -1;
            break;
        }
        if ((uint64_t)st.st_size > HL_BLOB_MAX_BYTES) {
            refuse(job, HL_RESULT_TOO_LARGE, "blob_too_large", "A staged file is larger than 50 MiB");
            ret = -1;
            break;
        }
        if (job->num_files == cap) {
            cap = cap ? cap * 2 : 8;
            job->files = realloc(job->files, cap * sizeof(*job->files));
            if (job->files == NULL)
                hl_fatal("out of memory");
        }
        job->files[job->num_files++] = (delivered_file_t){.name = hl_strdup(de->d_name)};
    }
    closedir(d);
    if (ret == 0 && job->num_files > 1)
        qsort(job->files, job->num_files, sizeof(*job->files), by_name);
    return ret;
}

/* Reads a regular file (not through a symbolic link) whole, at most the blob limit. 0, 1 when it is no longer a regular
 * file (skipped), or -1 after refuse(). */
static int read_file(deliver_job_t *job, int dfd, const char *name, char **data, size_t *len)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP || errno == ENXIO)
            return 1; /* gone, or replaced by a link or a socket since it was listed */
        refuse(job, HL_RESULT_INVALID, "delivery_file_unreadable", "A staged file cannot be read");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (cap > HL_BLOB_MAX_BYTES + 1)
        cap = HL_BLOB_MAX_BYTES + 1;
    char *buf = hl_malloc(cap);
    for (;;) {
        if (n == cap) { /* it grew since fstat */
            if (cap > HL_BLOB_MAX_BYTES)
                break;
            cap = cap * 2 > HL_BLOB_MAX_BYTES + 1 ? HL_BLOB_MAX_BYTES + 1 : cap * 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                hl_fatal("out of memory");
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            close(fd);
            free(buf);
            refuse(job, HL_RESULT_INVALID, "delivery_file_unreadable", "A staged file cannot be read");
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > HL_BLOB_MAX_BYTES) {
        free(buf);
        refuse(job, HL_RESULT_TOO_LARGE, "blob_too_large", "A staged file is larger than 50 MiB");
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Stores each listed file as a blob file; files that stopped being regular files are dropped from the list, and so is
 * everything not yet stored after a refusal. */
static void store_files(deliver_job_t *job, int dfd)
{
    size_t kept = 0, i = 0;
    for (; i < job->num_files; ++i) {
        delivered_file_t *f = &job->files[i];
        char *data = NULL;
        size_t len = 0;
        int ret = read_file(job, dfd, f->name, &data, &len);
        if (ret < 0)
            break;
        if (ret > 0) {
            free(f->name);
            continue;
        }
        hl_sha256_hex(data, len, f->sha);
        char *path = blob_path(job->super.store, f->sha);
        int werr = blob_write_file(job->super.store, path, data, len);
        f->stored = werr == 0;
        free(path);
        free(data);
        if (!f->stored) {
            if (hl_errno_is_disk_full(werr))
                refuse(job, HL_RESULT_STORAGE_FULL, "insufficient_storage",
                       "The disk is full: nothing was saved. Free some space on the machine running Hermes Link and retry.");
            else
                refuse(job, HL_RESULT_INTERNAL, "internal_error", "The delivery could not be stored");
            break;
        }
        f->size = len;
        f->filename = hl_blob_filename(f->name);
        f->mime = hl_strdup(hl_mime_from_name(f->name));
        job->files[kept++] = *f;
    }
    for (; i < job->num_files; ++i)
        free(job->files[i].name);
    job->num_files = kept;
}

/* stage 1, on a reader thread: the directory's checks, then its files read and stored, outside any write transaction */
static int run_stage1(hl_db_job_t *base, hl_db_t *db)
{
    (void)db;
    deliver_job_t *job = HL_STRUCT_FROM_MEMBER(deliver_job_t, stage1, base);
    int dfd = open(job->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        if (errno != ENOENT)
            refuse(job, HL_RESULT_INVALID, "delivery_staging_invalid",
                   "The staging directory must be a directory (not a symbolic link) that HermesLink can read");
        return 0; /* a directory that does not exist stages nothing */
    }
    struct stat st;
    if (fstat(dfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        refuse(job, HL_RESULT_INVALID, "delivery_staging_invalid",
               "The staging directory must belong to HermesLink's user and not be writable by group or others");
    else if (list_files(job, dfd) == 0)
        store_files(job, dfd);
    close(dfd);
    return 0;
}

static void complete_stage1(hl_db_job_t *base, int status)
{
    (void)status;
    deliver_job_t *job = HL_STRUCT_FROM_MEMBER(deliver_job_t, stage1, base);
    store_post_write(&job->super);
}

/* ---- stage 2, on the writer ---- */

/* The conversation deliveries go to: the one link.db remembers, brought back when archived, or a new one. 0 or -1. */
static int deliveries_conversation(store_job_t *job, hl_db_t *db, conv_row_t *conv)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT value FROM meta WHERE key = ?1");
    sqlite3_bind_text(st, 1, META_KEY, -1, SQLITE_STATIC);
    char *id = hl_db_step(st) == SQLITE_ROW ? hl_db_text(st, 0) : NULL;
    sqlite3_reset(st);
    int found = id != NULL && conv_load(db, id, conv) == 0 && strcmp(conv->status, "deleted_soft") != 0;
    free(id);
    if (found && strcmp(conv->status, "archived") == 0) {
        /* as a message sent to an archived conversation does, a delivery brings it back and says so */
        st = hl_db_stmt(db, "UPDATE conversations SET status = 'active', archived_at = NULL WHERE id = ?1");
        sqlite3_bind_text(st, 1, conv->id, -1, SQLITE_STATIC);
        if (hl_db_exec(st) != 0 || conv_reload(db, conv) != 0 ||
            store_event(job, db, conv->id, "conversation.unarchived", NULL, NULL,
                        json_pack("{s:o}", "conversation", conv_summary(db, conv, job->device_id))) < 0)
            return -1;
    }
    if (found)
        return 0;
    conv_row_dispose(conv);
    id = store_new_id("conv_");
    int ret = -1;
    st = hl_db_stmt(db, "INSERT INTO conversations(id, title, status, created_at, updated_at) VALUES (?1, ?2, 'active', ?3, ?3)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, HL_DELIVERIES_TITLE, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, job->now);
    if (hl_db_exec(st) != 0 || conv_load(db, id, conv) != 0 || store_index_title(db, conv->rowid, conv->title) != 0 ||
        store_event(job, db, id, "conversation.created", NULL, NULL,
                    json_pack("{s:o}", "conversation", conv_summary(db, conv, job->device_id))) < 0 ||
        conv_reload(db, conv) != 0)
        goto Exit;
    st = hl_db_stmt(db, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
    sqlite3_bind_text(st, 1, META_KEY, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    ret = hl_db_exec(st);
Exit:
    free(id);
    return ret;
}

/* "Delivered 2 files: a.txt, b.png" */
static char *message_text(const deliver_job_t *job)
{
    size_t cap = 64;
    for (size_t i = 0; i < job->num_files; ++i)
        cap += strlen(job->files[i].filename != NULL ? job->files[i].filename : "") + 2;
    char *text = hl_malloc(cap);
    size_t n = (size_t)snprintf(text, cap, "Delivered %zu file%s: ", job->num_files, job->num_files == 1 ? "" : "s");
    for (size_t i = 0; i < job->num_files; ++i)
        n += (size_t)snprintf(text + n, cap - n, "%s%s", i > 0 ? ", " : "",
                              job->files[i].filename != NULL ? job->files[i].filename : "");
    return text;
}

/* One blob row linked to the conversation and attached to the message at `position`. 0 or -1. */
static int link_blob(store_job_t *sj, hl_db_t *db, const delivered_file_t *f, const char *conv_id, const char *message_id,
                     size_t position)
{
    char *id = store_new_id("blob_");
    sqlite3_stmt *st =
        hl_db_stmt(db, "INSERT INTO blobs(id, sha256, size, mime, filename, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)f->size);
    sqlite3_bind_text(st, 4, f->mime, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f->filename != NULL ? f->filename : id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, sj->now);
    int ret = hl_db_exec(st);
    if (ret == 0) {
        st = hl_db_stmt(db, "INSERT INTO blob_links(blob_id, conversation_id) VALUES (?1, ?2)");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, conv_id, -1, SQLITE_STATIC);
        ret = hl_db_exec(st);
    }
    if (ret == 0) {
        st = hl_db_stmt(db, "INSERT INTO message_attachments(message_id, position, blob_id) VALUES (?1, ?2, ?3)");
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)position);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        ret = hl_db_exec(st);
    }
    free(id);
    return ret;
}

static int exec_deliver(store_job_t *sj, hl_db_t *db)
{
    deliver_job_t *job = (deliver_job_t *)sj;
    if (job->err_code != NULL)
        return hl_json_job_error(&sj->super, job->err_kind, job->err_code, job->err_message);
    if (job->num_files == 0)
        return hl_json_job_ok(&sj->super, HL_RESULT_OK, json_pack("{s:i}", "staged_count", 0));
    for (size_t i = 0; i < job->num_files; ++i) {
        /* the delete of the last blob with the same content may have removed a file since stage 1 (rare) */
        char *path = blob_path(sj->store, job->files[i].sha);
        struct stat st;
        int present = stat(path, &st) == 0 && (uint64_t)st.st_size == job->files[i].size;
        free(path);
        if (!present)
            return hl_json_job_error(&sj->super, HL_RESULT_UNAVAILABLE, "server_busy", "The delivery was interrupted; retry it");
    }
    conv_row_t conv = {0};
    char *message_id = store_new_id("msg_"), *text = message_text(job);
    int ret = -1;
    if (deliveries_conversation(sj, db, &conv) != 0 ||
        store_insert_message(db, message_id, conv.id, "assistant", "completed", text, sj->now) != 0)
        goto Exit;
    for (size_t i = 0; i < job->num_files; ++i)
        if (link_blob(sj, db, &job->files[i], conv.id, message_id, i) != 0)
            goto Exit;
    if (conv_touch(db, &conv, sj->now) != 0 || store_message_event(sj, db, "message.created", message_id) != 0)
        goto Exit;
    ret = hl_json_job_ok(&sj->super, HL_RESULT_OK, json_pack("{s:I}", "staged_count", (json_int_t)job->num_files));
Exit:
    conv_row_dispose(&conv);
    free(message_id);
    free(text);
    return ret;
}

static void dispose_deliver(store_job_t *base)
{
    deliver_job_t *job = (deliver_job_t *)base;
    for (size_t i = 0; i < job->num_files; ++i) {
        delivered_file_t *f = &job->files[i];
        /* not linked (refused, or rolled back): the file goes after the batch, unless a row uses the same content */
        if (f->stored && !job->super.super.committed)
            json_array_append_new(job->super.store->unlink_candidates, json_string(f->sha));
        free(f->name);
        free(f->filename);
        free(f->mime);
    }
    free(job->files);
    free(job->dir);
    hl_store_upload_abort(job->super.store); /* the reservation ends with the job */
}

void hl_store_deliver(hl_store_t *s, hl_reply_to_t *to, const char *staging_dir)
{
    store_job_t *sj = store_job_new_sized(s, to, exec_deliver, NULL, sizeof(deliver_job_t));
    deliver_job_t *job = (deliver_job_t *)sj;
    sj->dispose_extra = dispose_deliver;
    job->dir = hl_strdup(staging_dir);
    hl_db_job_init(&job->stage1, run_stage1, complete_stage1);
    hl_db_readers_post(s->readers, &job->stage1);
}
