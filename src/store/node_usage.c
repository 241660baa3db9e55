/*
 * The Node version's usage facts (spec/STORAGE.md §2, run_usage_facts in its link.db). SQLite would take locks on the
 * source and may create -wal/-shm files next to it even read-only, so the file (and its WAL) is copied byte for byte
 * into a scratch directory and only the copy is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "hl/log.h"
#include "hl/node_home.h"
#include "hl/store_import.h"

#define NODE_DB_MAX (512u * 1024 * 1024)

/* copies src to dst (0600): 0, -ENOENT when src is absent, or -errno */
static int copy_file(const char *src, const char *dst)
{
    char *data = NULL;
    size_t len = 0;
    char *dir = hl_strdup(src), *slash = strrchr(dir, '/');
    *slash = '\0';
    int ret = hl_node_read(dir, slash + 1, NODE_DB_MAX, &data, &len);
    free(dir);
    if (ret != 0)
        return ret;
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = -errno;
    } else {
        for (size_t off = 0; off < len && ret == 0;) {
            ssize_t n = write(fd, data + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                ret = -EIO;
            else
                off += (size_t)n;
        }
        close(fd);
    }
    free(data);
    return ret;
}

static int has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* the Node version's database: conversation_stats, and its own run_usage_facts (with profile_name_snapshot; ours has
 * none). Also true for one an older binary of ours half-migrated (its tables added, the Node ones intact). */
static int is_node_db(sqlite3 *db)
{
    if (!has_table(db, "conversation_stats"))
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('run_usage_facts') WHERE name = 'profile_name_snapshot'", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t != NULL && t[0] != '\0' ? json_string((const char *)t) : json_null();
}

static int read_facts(sqlite3 *db, json_t *facts, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT run_id, conversation_id, coalesce(profile_name_snapshot, profile), model, provider, "
                           "input_tokens, output_tokens, total_tokens, message_count, started_at, completed_at, updated_at "
                           "FROM run_usage_facts ORDER BY completed_at, run_id",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "link.db: run_usage_facts cannot be read (%s)", sqlite3_errmsg(db));
        return -EINVAL;
    }
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *run = (const char *)sqlite3_column_text(st, 0), *conv = (const char *)sqlite3_column_text(st, 1);
        int64_t t[3];
        bool ok = hl_node_id_valid("run_", run) && hl_node_id_valid("conv_", conv);
        for (int k = 0; k < 3 && ok; ++k) {
            const char *iso = (const char *)sqlite3_column_text(st, 9 + k);
            ok = iso != NULL && hl_parse_iso(iso, &t[k]) == 0;
        }
        for (int k = 5; k < 9 && ok; ++k)
            ok = sqlite3_column_type(st, k) == SQLITE_INTEGER && sqlite3_column_int64(st, k) >= 0;
        if (!ok) {
            snprintf(err, errlen, "link.db: run_usage_facts row %.40s is corrupt (ids, times or token counts)",
                     run != NULL ? run : "(no run id)");
            ret = -EINVAL;
            break;
        }
        json_t *f = json_object();
        json_object_set_new(f, "run_id", json_string(run));
        json_object_set_new(f, "conversation_id", json_string(conv));
        json_object_set_new(f, "profile", text_or_null(st, 2));
        json_object_set_new(f, "model", text_or_null(st, 3));
        json_object_set_new(f, "provider", text_or_null(st, 4));
        json_object_set_new(f, "input_tokens", json_integer(sqlite3_column_int64(st, 5)));
        json_object_set_new(f, "output_tokens", json_integer(sqlite3_column_int64(st, 6)));
        json_object_set_new(f, "total_tokens", json_integer(sqlite3_column_int64(st, 7)));
        json_object_set_new(f, "message_count", json_integer(sqlite3_column_int64(st, 8)));
        json_object_set_new(f, "started_at", json_integer(t[0]));
        json_object_set_new(f, "completed_at", json_integer(t[1]));
        json_object_set_new(f, "updated_at", json_integer(t[2]));
        json_array_append_new(facts, f);
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        snprintf(err, errlen, "link.db: run_usage_facts cannot be read (%s)", sqlite3_errmsg(db));
        ret = -EINVAL;
    }
    sqlite3_finalize(st);
    return ret;
}

int hl_node_usage_read(const char *node_db, const char *scratch_dir, json_t **facts, char *err, size_t errlen)
{
    *facts = json_array();
    char *copy = hl_path_join(scratch_dir, "node-link.db"), *copy_wal = hl_asprintf("%s-wal", copy);
    char *src_wal = hl_asprintf("%s-wal", node_db), *copy_shm = hl_asprintf("%s-shm", copy);
    sqlite3 *db = NULL;
    int ret = copy_file(node_db, copy);
    if (ret == -ENOENT) {
        ret = 0;
        goto Exit;
    }
    if (ret == 0) {
        ret = copy_file(src_wal, copy_wal);
        if (ret == -ENOENT)
            ret = 0;
    }
    if (ret != 0) {
        snprintf(err, errlen, "link.db: cannot be read (%s)", ret == -EFBIG ? "over 512 MiB" : "not a regular file");
        ret = -EINVAL;
        goto Exit;
    }
    if (sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA quick_check", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "link.db: not a readable SQLite database");
        ret = -EINVAL;
        goto Exit;
    }
    if (!is_node_db(db))
        goto Exit;
    ret = read_facts(db, *facts, err, errlen);
Exit:
    if (db != NULL)
        sqlite3_close(db);
    unlink(copy);
    unlink(copy_wal);
    unlink(copy_shm);
    if (ret != 0) {
        json_decref(*facts);
        *facts = NULL;
    }
    free(copy);
    free(copy_wal);
    free(copy_shm);
    free(src_wal);
    return ret;
}

int hl_node_db_set_aside(const char *home, char *err, size_t errlen)
{
    char *path = hl_path_join(home, "link.db"), *aside = hl_path_join(home, HL_NODE_DB_ASIDE);
    char *uri = hl_asprintf("file:%s?mode=ro", path);
    sqlite3 *db = NULL;
    int ret = 0, node = 0;
    if (access(path, F_OK) != 0)
        goto Exit;
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK)
        node = is_node_db(db);
    sqlite3_close(db);
    if (!node)
        goto Exit;
    if (access(aside, F_OK) == 0) {
        snprintf(err, errlen, "link.db is the Node HermesLink's database and %s exists already: move one of them away",
                 HL_NODE_DB_ASIDE);
        ret = -EEXIST;
        goto Exit;
    }
    static const char *const suffixes[] = {"-wal", "-shm", ""};
    for (size_t i = 0; i < HL_ARRAY_SIZE(suffixes) && ret == 0; ++i) {
        char *from = hl_asprintf("%s%s", path, suffixes[i]), *to = hl_asprintf("%s%s", aside, suffixes[i]);
        if (rename(from, to) != 0 && errno != ENOENT) {
            ret = -errno;
            snprintf(err, errlen, "cannot move the Node HermesLink's link.db%s aside: %s", suffixes[i], strerror(errno));
        }
        free(from);
        free(to);
    }
    if (ret == 0)
        hl_logf(HL_LOG_WARN, "link.db was the Node HermesLink's database: moved to %s for `hermeslink import`", HL_NODE_DB_ASIDE);
Exit:
    free(uri);
    free(path);
    free(aside);
    return ret;
}
