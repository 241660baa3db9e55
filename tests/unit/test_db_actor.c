/*
 * link.db (include/hl/db.h): migrations on a temporary file, then a db actor running jobs in group commit — a savepoint
 * per job, completions only after the COMMIT, drain on stop, ticks — and JSON jobs (include/hl/json_job.h) delivered
 * through `deliver`.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "hl/common.h"
#include "hl/db.h"
#include "hl/db_readers.h"
#include "hl/db_schema.h"
#include "hl/json_job.h"
#include "hl/log.h"
#include "hl/memory.h"
#include "unit_util.h"

/* ---- helpers: a second, independent connection ---- */

static sqlite3 *open_plain(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err != NULL ? err : "?");
}

/* First column of the first row of `sql` as an integer (-1 when there is no row). */
static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row of `sql` as a malloc'd string (NULL when there is no row). */
static char *query_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

static bool table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* ---- migrations ---- */

static const char *const TABLES[] = {"meta", "devices", "retired_refresh_tokens", "pairing_sessions", "connect_tokens"};

START_TEST(migrate_fresh)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db"), err[256] = "";
    ck_assert_int_ge(hl_db_schema_version(), 2);
    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), 0);
    sqlite3 *db = open_plain(path);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), hl_db_schema_version());
    for (size_t i = 0; i < HL_ARRAY_SIZE(TABLES); ++i)
        ck_assert_msg(table_exists(db, TABLES[i]), "table %s missing", TABLES[i]);
    char *mode = query_text(db, "PRAGMA journal_mode"); /* WAL is persistent: a plain connection sees it */
    ck_assert_str_eq(mode, "wal");
    free(mode);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM meta WHERE key = 'created_at'"), 1);
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(migrate_twice_is_noop)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db"), err[256] = "";
    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), 0);
    sqlite3 *db = open_plain(path);
    exec_ok(db, "INSERT INTO meta(key, value) VALUES ('marker', 'kept')");
    char *schema1 = query_text(db, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)");
    sqlite3_close(db);

    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), 0);
    db = open_plain(path);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), hl_db_schema_version());
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM meta WHERE key = 'created_at'"), 1);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM meta WHERE key = 'marker'"), 1);
    char *schema2 = query_text(db, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)");
    ck_assert_str_eq(schema1, schema2);
    free(schema1);
    free(schema2);
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(migrate_refuses_newer)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db"), err[256] = "";
    sqlite3 *db = open_plain(path);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", hl_db_schema_version() + 1);
    exec_ok(db, sql);
    sqlite3_close(db);
    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "newer") != NULL, "message: %s", err);
    db = open_plain(path);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), hl_db_schema_version() + 1);
    ck_assert(!table_exists(db, "meta")); /* untouched */
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(migrate_upgrades_from_older_version)
{
    /* a database at schema version 1 (what migration 1 creates): only the later migrations run */
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db"), err[256] = "";
    sqlite3 *db = open_plain(path);
    exec_ok(db, "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
                "PRAGMA user_version = 1;");
    sqlite3_close(db);
    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), 0);
    db = open_plain(path);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), hl_db_schema_version());
    for (size_t i = 0; i < HL_ARRAY_SIZE(TABLES); ++i)
        ck_assert_msg(table_exists(db, TABLES[i]), "table %s missing", TABLES[i]);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM meta"), 0); /* migration 1 did not run again */
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(migrate_failure_rolls_back)
{
    /* version 1 with a conflicting `devices` table: migration 2 fails and leaves nothing of itself behind */
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db"), err[256] = "";
    sqlite3 *db = open_plain(path);
    exec_ok(db, "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
                "CREATE TABLE devices (x INTEGER);"
                "PRAGMA user_version = 1;");
    sqlite3_close(db);
    ck_assert_int_lt(hl_db_migrate(path, err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "migration 2") != NULL, "message: %s", err);
    db = open_plain(path);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), 1);
    ck_assert(!table_exists(db, "retired_refresh_tokens"));
    ck_assert(!table_exists(db, "pairing_sessions"));
    ck_assert(!table_exists(db, "connect_tokens"));
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(migrate_unopenable)
{
    char err[256] = "";
    ck_assert_int_lt(hl_db_migrate("/nonexistent-dir-hl-unit/sub/link.db", err, sizeof(err)), 0);
    ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(open_sets_pragmas)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "link.db");
    sqlite3 *db = NULL;
    ck_assert_int_eq(hl_db_open(path, false, &db), 0);
    ck_assert_ptr_nonnull(db);
    char *mode = query_text(db, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    ck_assert_int_eq(query_int(db, "PRAGMA foreign_keys"), 1);
    ck_assert_int_eq(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* ---- the db actor ---- */

#define MAX_JOBS 512

typedef struct st_probe_t {
    const char *path;
    int completed;
    int status[MAX_JOBS];
    int order[MAX_JOBS];
    /* what a second connection saw from inside each `complete` */
    long long visible_at_complete[MAX_JOBS];
    int opened, closed, ticks;
    int open_status;
    bool stmt_cached;
} probe_t;

typedef struct st_test_job_t {
    hl_db_job_t super;
    probe_t *probe;
    int n;
    int result; /* what run returns after its insert */
} test_job_t;

static int job_run(hl_db_job_t *base, hl_db_t *db)
{
    test_job_t *job = (test_job_t *)base;
    ck_assert_ptr_eq(hl_db_data(db), job->probe);
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO t(n) VALUES (?1)");
    /* the statement is cached by its literal's address */
    job->probe->stmt_cached = hl_db_stmt(db, "INSERT INTO t(n) VALUES (?1)") == st;
    sqlite3_bind_int(st, 1, job->n);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    return job->result;
}

static void job_complete(hl_db_job_t *base, int status)
{
    test_job_t *job = (test_job_t *)base;
    probe_t *p = job->probe;
    ck_assert_int_lt(p->completed, MAX_JOBS);
    p->status[job->n] = status;
    p->order[p->completed++] = job->n;
    /* another connection sees the committed rows: the reply goes out after COMMIT */
    sqlite3 *other = open_plain(p->path);
    p->visible_at_complete[job->n] = query_int(other, "SELECT count(*) FROM t");
    sqlite3_close(other);
    free(job);
}

static test_job_t *new_job(probe_t *p, int n, int result)
{
    test_job_t *job = calloc(1, sizeof(*job));
    ck_assert_ptr_nonnull(job);
    hl_db_job_init(&job->super, job_run, job_complete);
    job->probe = p;
    job->n = n;
    job->result = result;
    return job;
}

static int on_open(hl_db_t *db)
{
    probe_t *p = hl_db_data(db);
    ++p->opened;
    ck_assert_ptr_nonnull(hl_db_conn(db));
    return p->open_status;
}

static void on_close(hl_db_t *db)
{
    probe_t *p = hl_db_data(db);
    ++p->closed;
}

static void on_tick(hl_db_t *db)
{
    probe_t *p = hl_db_data(db);
    ++p->ticks;
    /* inside its own transaction: the write is committed after the hook */
    char sql[64];
    snprintf(sql, sizeof(sql), "INSERT INTO ticks(n) VALUES (%d)", p->ticks);
    ck_assert_int_eq(sqlite3_exec(hl_db_conn(db), sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert(!sqlite3_get_autocommit(hl_db_conn(db)));
}

/* A migrated database with a scratch table t(n) and ticks(n). */
static char *prepare_db(char *dir)
{
    char *path = ut_path(dir, "link.db"), err[256];
    ck_assert_int_eq(hl_db_migrate(path, err, sizeof(err)), 0);
    sqlite3 *db = open_plain(path);
    exec_ok(db, "CREATE TABLE t (n INTEGER PRIMARY KEY); CREATE TABLE ticks (n INTEGER)");
    sqlite3_close(db);
    return path;
}

static bool row_exists(sqlite3 *db, int n)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE n = %d", n);
    return query_int(db, sql) == 1;
}

START_TEST(batch_failed_job_rolled_back)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    probe_t p = {.path = path};
    hl_db_actor_hooks_t hooks = {.on_open = on_open, .on_close = on_close};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-test", path, &hooks, &p), 0);
    /* posted before the thread exists: the three jobs are one batch, one transaction */
    hl_db_actor_post(&a, &new_job(&p, 1, 0)->super);
    hl_db_actor_post(&a, &new_job(&p, 2, 7)->super);
    hl_db_actor_post(&a, &new_job(&p, 3, 0)->super);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);

    ck_assert_int_eq(p.opened, 1);
    ck_assert_int_eq(p.closed, 1);
    ck_assert_int_eq(p.completed, 3);
    for (int i = 0; i < 3; ++i)
        ck_assert_int_eq(p.order[i], i + 1); /* in posting order */
    ck_assert_int_eq(p.status[1], 0);
    ck_assert_int_eq(p.status[2], 7); /* run's result */
    ck_assert_int_eq(p.status[3], 0);
    /* every completion, the first included, already saw both surviving rows: they ran after the one COMMIT */
    for (int n = 1; n <= 3; ++n)
        ck_assert_msg(p.visible_at_complete[n] == 2, "job %d completed seeing %lld rows", n, p.visible_at_complete[n]);
    ck_assert(p.stmt_cached);

    sqlite3 *db = open_plain(path);
    ck_assert(row_exists(db, 1));
    ck_assert(!row_exists(db, 2));
    ck_assert(row_exists(db, 3));
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(several_failures_in_one_batch)
{
    /* two failing jobs side by side in one batch: each savepoint is rolled back on its own */
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    probe_t p = {.path = path};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-test", path, NULL, &p), 0);
    hl_db_actor_post(&a, &new_job(&p, 10, 0)->super);
    hl_db_actor_post(&a, &new_job(&p, 11, -1)->super);
    hl_db_actor_post(&a, &new_job(&p, 12, -EINVAL)->super);
    hl_db_actor_post(&a, &new_job(&p, 13, 0)->super);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);
    ck_assert_int_eq(p.completed, 4);
    ck_assert_int_eq(p.status[10], 0);
    ck_assert_int_eq(p.status[11], -1);
    ck_assert_int_eq(p.status[12], -EINVAL);
    ck_assert_int_eq(p.status[13], 0);
    sqlite3 *db = open_plain(path);
    ck_assert(row_exists(db, 10));
    ck_assert(!row_exists(db, 11));
    ck_assert(!row_exists(db, 12));
    ck_assert(row_exists(db, 13));
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 2);
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(stop_drains_posted_jobs)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    probe_t *p = calloc(1, sizeof(*p));
    ck_assert_ptr_nonnull(p);
    p->path = path;
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-drain", path, NULL, p), 0);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    for (int n = 0; n < 300; ++n)
        hl_db_actor_post(&a, &new_job(p, n, n % 10 == 5 ? 1 : 0)->super);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);
    ck_assert_int_eq(p->completed, 300);
    for (int i = 0; i < 300; ++i) {
        ck_assert_int_eq(p->order[i], i);
        ck_assert_int_eq(p->status[i], i % 10 == 5 ? 1 : 0);
    }
    sqlite3 *db = open_plain(path);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 270);
    ck_assert(!row_exists(db, 5));
    ck_assert(row_exists(db, 299));
    sqlite3_close(db);
    free(p);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

START_TEST(tick_hook_runs_in_transaction)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    probe_t p = {.path = path};
    hl_db_actor_hooks_t hooks = {.on_tick = on_tick, .tick_ms = 10, .on_close = on_close};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-tick", path, &hooks, &p), 0);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    sleep_ms(120);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);
    ck_assert_int_ge(p.ticks, 3);
    ck_assert_int_eq(p.closed, 1);
    sqlite3 *db = open_plain(path);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM ticks"), p.ticks); /* every tick's write committed */
    sqlite3_close(db);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(open_hook_failure_fails_start)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    probe_t p = {.path = path, .open_status = -EPROTO};
    hl_db_actor_hooks_t hooks = {.on_open = on_open, .on_close = on_close};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-fail", path, &hooks, &p), 0);
    ck_assert_int_eq(hl_actor_start(&a.actor), -EPROTO);
    ck_assert_int_eq(p.opened, 1);
    ck_assert_int_eq(p.closed, 0);
    hl_actor_dispose(&a.actor);
    /* regression: src/store/db_actor.c on_start frees neither a->_db nor a->_path when the open hook (or hl_db_open)
     * fails, and on_stop never runs after a failed start, so LeakSanitizer reports both at exit */
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* ---- read-only jobs ---- */

typedef struct st_ro_probe_t {
    atomic_int completed;
    int order[8];
    long long seen[8]; /* the rows of t a read-only job saw */
} ro_probe_t;

typedef struct st_ro_job_t {
    hl_db_job_t super;
    ro_probe_t *probe;
    int n;
} ro_job_t;

static int ro_run(hl_db_job_t *base, hl_db_t *db)
{
    ro_job_t *job = (ro_job_t *)base;
    if (base->readonly) {
        sqlite3_stmt *st = hl_db_stmt(db, "SELECT count(*) FROM t");
        ck_assert_int_eq(hl_db_step(st), SQLITE_ROW);
        job->probe->seen[job->n] = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO t(n) VALUES (?1)");
    sqlite3_bind_int(st, 1, job->n);
    return hl_db_exec(st);
}

static void ro_complete(hl_db_job_t *base, int status)
{
    ro_job_t *job = (ro_job_t *)base;
    ck_assert_int_eq(status, 0);
    int i = atomic_load(&job->probe->completed);
    job->probe->order[i] = job->n;
    atomic_store(&job->probe->completed, i + 1); /* after order[i]: the test thread reads order once it sees the count */
    free(job);
}

static hl_db_job_t *ro_job(ro_probe_t *p, int n, bool readonly)
{
    ro_job_t *job = calloc(1, sizeof(*job));
    ck_assert_ptr_nonnull(job);
    hl_db_job_init(&job->super, ro_run, ro_complete);
    job->super.readonly = readonly;
    job->probe = p;
    job->n = n;
    return &job->super;
}

/* Waits (bounded) for `n` completions; false if they did not come within `ms`. */
static bool await_completed(ro_probe_t *p, int n, unsigned ms)
{
    for (unsigned i = 0; i < ms && atomic_load(&p->completed) < n; ++i)
        sleep_ms(1);
    return atomic_load(&p->completed) >= n;
}

START_TEST(readonly_jobs_share_a_snapshot_in_order)
{
    /* one batch [write 1, read 2, read 3, write 4, read 5]: chunks by kind, in posting order; each read sees every
     * write posted before it (committed before its chunk began) and none posted after */
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    ro_probe_t p = {0};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-ro", path, NULL, &p), 0);
    hl_db_actor_post(&a, ro_job(&p, 1, false));
    hl_db_actor_post(&a, ro_job(&p, 2, true));
    hl_db_actor_post(&a, ro_job(&p, 3, true));
    hl_db_actor_post(&a, ro_job(&p, 4, false));
    hl_db_actor_post(&a, ro_job(&p, 5, true));
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);
    ck_assert_int_eq(atomic_load(&p.completed), 5);
    for (int i = 0; i < 5; ++i)
        ck_assert_int_eq(p.order[i], i + 1);
    ck_assert_int_eq(p.seen[2], 1);
    ck_assert_int_eq(p.seen[3], 1);
    ck_assert_int_eq(p.seen[5], 2);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(readonly_job_does_not_wait_for_the_write_lock)
{
    /* another connection holds SQLite's write lock with an uncommitted row: a read-only job still completes (seeing
     * the committed state only), a writing job waits until the lock is released */
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    sqlite3 *other = open_plain(path);
    exec_ok(other, "BEGIN IMMEDIATE; INSERT INTO t(n) VALUES (100)");
    ro_probe_t p = {0};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-ro", path, NULL, &p), 0);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_db_actor_post(&a, ro_job(&p, 1, true));
    ck_assert_msg(await_completed(&p, 1, 20000), "the read-only job waited for the write lock");
    ck_assert_int_eq(p.seen[1], 0);
    hl_db_actor_post(&a, ro_job(&p, 2, false));
    sleep_ms(200);
    /* the write cannot have committed: the lock is still held (SQLite's busy handler keeps it waiting) */
    ck_assert_int_eq(atomic_load(&p.completed), 1);
    exec_ok(other, "COMMIT");
    ck_assert_msg(await_completed(&p, 2, 20000), "the write did not complete after the lock was released");
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);
    ck_assert_int_eq(query_int(other, "SELECT count(*) FROM t"), 2);
    sqlite3_close(other);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* ---- JSON jobs ---- */

typedef struct st_json_probe_t {
    const char *path;
    int delivered, after_commits, disposed;
    int status[8];
    char *reply[8];
    bool after_commit_before_deliver[8];
} json_probe_t;

/* a job's reply address: records what the result says when it arrives */
typedef struct st_probe_to_t {
    hl_reply_to_t super;
    struct st_my_json_job_t *job;
} probe_to_t;

typedef struct st_my_json_job_t {
    hl_json_job_t super;
    json_probe_t *probe;
    int n;
    int mode; /* 0 ok, 1 answered error, 2 failure without a reply */
    bool committed;
    probe_to_t to;
} my_json_job_t;

static int my_exec(hl_json_job_t *base, hl_db_t *db)
{
    my_json_job_t *job = (my_json_job_t *)base;
    sqlite3_stmt *st = hl_db_stmt(db, "INSERT INTO t(n) VALUES (?1)");
    sqlite3_bind_int(st, 1, job->n);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    switch (job->mode) {
    case 0:
        return hl_json_job_ok(base, HL_RESULT_CREATED, json_pack("{s:i}", "n", job->n));
    case 1:
        return hl_json_job_error(base, HL_RESULT_CONFLICT, "conflict", "Already there");
    default:
        return -1;
    }
}

static void my_after_commit(hl_json_job_t *base)
{
    my_json_job_t *job = (my_json_job_t *)base;
    ++job->probe->after_commits;
    job->committed = true;
}

/* The result as text: the body for a success, "code: message" for an error. */
static char *result_text(const hl_result_t *r)
{
    if (hl_result_is_ok(r))
        return r->body != NULL ? json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    return hl_asprintf("%s: %s", r->code, r->message);
}

static void my_deliver(hl_reply_to_t *to, hl_result_t *result)
{
    my_json_job_t *job = ((probe_to_t *)to)->job;
    json_probe_t *p = job->probe;
    ck_assert_int_lt(job->n, 8);
    ++p->delivered;
    p->status[job->n] = (int)result->kind;
    p->reply[job->n] = result_text(result);
    p->after_commit_before_deliver[job->n] = job->committed;
    hl_result_free(result);
}

static void my_dispose(hl_json_job_t *base)
{
    ++((my_json_job_t *)base)->probe->disposed;
}

static my_json_job_t *new_json_job(json_probe_t *p, int n, int mode)
{
    my_json_job_t *job = hl_json_job_new(sizeof(*job), NULL, my_exec);
    ck_assert_ptr_nonnull(job);
    ck_assert_ptr_null(job->super.result);
    job->to.super.deliver = my_deliver;
    job->to.job = job;
    job->super.reply_to = &job->to.super;
    job->super.after_commit = my_after_commit;
    job->super.dispose = my_dispose;
    job->probe = p;
    job->n = n;
    job->mode = mode;
    return job;
}

START_TEST(json_job_outcomes)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    json_probe_t p = {.path = path};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-json", path, NULL, &p), 0);
    hl_db_actor_post(&a, &new_json_job(&p, 1, 0)->super.super);
    hl_db_actor_post(&a, &new_json_job(&p, 2, 1)->super.super);
    hl_db_actor_post(&a, &new_json_job(&p, 3, 2)->super.super);
    hl_db_actor_post(&a, &new_json_job(&p, 4, 0)->super.super);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_actor_dispose(&a.actor);

    ck_assert_int_eq(p.delivered, 4);
    ck_assert_int_eq(p.disposed, 4);
    ck_assert_int_eq(p.after_commits, 2); /* only the successful ones */

    ck_assert_int_eq(p.status[1], HL_RESULT_CREATED);
    ck_assert_str_eq(p.reply[1], "{\"n\":1}");
    ck_assert(p.after_commit_before_deliver[1]);
    ck_assert_int_eq(p.status[4], HL_RESULT_CREATED);
    ck_assert_str_eq(p.reply[4], "{\"n\":4}");

    ck_assert_int_eq(p.status[2], HL_RESULT_CONFLICT);
    ck_assert_str_eq(p.reply[2], "conflict: Already there");
    ck_assert(!p.after_commit_before_deliver[2]);

    ck_assert_int_eq(p.status[3], HL_RESULT_INTERNAL); /* failed without an answer: internal error */
    ck_assert_str_eq(p.reply[3], "internal_error: Internal error");
    ck_assert(!p.after_commit_before_deliver[3]);

    sqlite3 *db = open_plain(path);
    ck_assert(row_exists(db, 1));
    ck_assert(!row_exists(db, 2));
    ck_assert(!row_exists(db, 3));
    ck_assert(row_exists(db, 4));
    sqlite3_close(db);
    for (int i = 0; i < 8; ++i)
        free(p.reply[i]);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(json_job_ok_and_error_helpers)
{
    /* the helpers alone, without an actor: a later call replaces the earlier reply */
    hl_json_job_t *job = hl_json_job_new(sizeof(*job), NULL, NULL);
    ck_assert_int_eq(hl_json_job_ok(job, HL_RESULT_OK, json_pack("{s:i}", "a", 1)), 0);
    ck_assert_int_eq(job->result->kind, HL_RESULT_OK);
    ck_assert(hl_result_is_ok(job->result));
    ck_assert_int_eq(json_integer_value(json_object_get(job->result->body, "a")), 1);
    ck_assert_int_eq(hl_json_job_error(job, HL_RESULT_NOT_FOUND, "not_found", "No such device"), -1);
    ck_assert_int_eq(job->result->kind, HL_RESULT_NOT_FOUND);
    ck_assert(!hl_result_is_ok(job->result));
    ck_assert_str_eq(job->result->code, "not_found");
    ck_assert_str_eq(job->result->message, "No such device");
    ck_assert_ptr_null(job->result->body);
    hl_result_free(job->result);
    free(job);
}
END_TEST

/* What a failed statement and an interrupted read become for the caller, whatever exec made of them. */
typedef struct st_capture_to_t {
    hl_reply_to_t super;
    hl_result_t *result; /* read after the actor or readers stopped (joined) */
} capture_to_t;

static void capture(hl_reply_to_t *to, hl_result_t *result)
{
    ((capture_to_t *)to)->result = result;
}

/* a statement fails (no such table), and exec answers "not found" as if there were no rows */
static int exec_failed_step(hl_json_job_t *job, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "SELECT n FROM no_such_table");
    if (st == NULL || hl_db_step(st) != SQLITE_ROW)
        return hl_json_job_error(job, HL_RESULT_NOT_FOUND, "thing_not_found", "No such thing");
    return hl_json_job_ok(job, HL_RESULT_OK, json_object());
}

/* a read that never ends */
static int exec_endless(hl_json_job_t *job, hl_db_t *db)
{
    sqlite3_stmt *st = hl_db_stmt(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c");
    while (hl_db_step(st) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return hl_json_job_ok(job, HL_RESULT_OK, json_object());
}

START_TEST(json_job_failed_statement_is_internal)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-fail", path, NULL, NULL), 0);
    capture_to_t to = {.super.deliver = capture};
    hl_db_actor_post(&a, &((hl_json_job_t *)hl_json_job_new(sizeof(hl_json_job_t), &to.super, exec_failed_step))->super);
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_db_actor_dispose(&a);
    ck_assert_ptr_nonnull(to.result);
    ck_assert_int_eq(to.result->kind, HL_RESULT_INTERNAL);
    ck_assert_str_eq(to.result->code, "internal_error");
    hl_result_free(to.result);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(json_job_read_past_its_limit_is_unavailable)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir);
    hl_db_readers_t *readers;
    ck_assert_int_eq(hl_db_readers_start(&readers, "slow", path, 1, 100, NULL), 0);
    capture_to_t to = {.super.deliver = capture};
    hl_db_readers_post(readers, &((hl_json_job_t *)hl_json_job_new(sizeof(hl_json_job_t), &to.super, exec_endless))->super);
    hl_db_readers_stop(readers);
    ck_assert_ptr_nonnull(to.result);
    ck_assert_int_eq(to.result->kind, HL_RESULT_UNAVAILABLE);
    ck_assert_str_eq(to.result->code, "query_timeout");
    hl_result_free(to.result);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* ---- a full disk: SQLITE_FULL for real, from a page limit on the actor's connection ---- */

/* the writer may not grow link.db: any write that needs a new page fails with SQLITE_FULL, as on a full disk */
static int cap_pages(hl_db_t *db)
{
    sqlite3 *c = hl_db_conn(db);
    long long pages = query_int(c, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", pages);
    exec_ok(c, sql);
    return 0;
}

/* mode 0: one small row into t (fits the table's page); 1: 1 MiB into big (needs new pages) */
typedef struct st_full_job_t {
    hl_json_job_t super;
    int n, big;
} full_job_t;

static int exec_full(hl_json_job_t *base, hl_db_t *db)
{
    full_job_t *job = (full_job_t *)base;
    sqlite3_stmt *st =
        hl_db_stmt(db, job->big ? "INSERT INTO big(n, b) VALUES (?1, zeroblob(1048576))" : "INSERT INTO t(n) VALUES (?1)");
    sqlite3_bind_int(st, 1, job->n);
    if (hl_db_exec(st) != 0)
        return -1;
    return hl_json_job_ok(base, HL_RESULT_CREATED, json_pack("{s:i}", "n", job->n));
}

START_TEST(full_disk_is_insufficient_storage)
{
    char *dir = ut_mkdtemp(), *path = prepare_db(dir), *logs = ut_path(dir, "logs");
    sqlite3 *setup = open_plain(path);
    exec_ok(setup, "CREATE TABLE big (n INTEGER PRIMARY KEY, b BLOB)");
    sqlite3_close(setup);
    ck_assert_int_eq(hl_log_open(logs, HL_LOG_DEBUG, 0), 0);
    hl_db_actor_hooks_t hooks = {.on_open = cap_pages};
    hl_db_actor_t a;
    ck_assert_int_eq(hl_db_actor_init(&a, "db-full", path, &hooks, NULL), 0);
    /* one batch: a small write, one that needs pages, a small one after it */
    capture_to_t to[3] = {{.super.deliver = capture}, {.super.deliver = capture}, {.super.deliver = capture}};
    for (int i = 0; i < 3; ++i) {
        full_job_t *job = hl_json_job_new(sizeof(full_job_t), &to[i].super, exec_full);
        job->n = i + 1;
        job->big = i == 1;
        hl_db_actor_post(&a, &job->super.super);
    }
    ck_assert_int_eq(hl_actor_start(&a.actor), 0);
    hl_actor_stop(&a.actor);
    hl_db_actor_dispose(&a);
    hl_log_close();

    ck_assert_int_eq(to[1].result->kind, HL_RESULT_STORAGE_FULL);
    ck_assert_str_eq(to[1].result->code, "insufficient_storage");
    ck_assert_msg(strstr(to[1].result->message, "disk is full") != NULL, "message: %s", to[1].result->message);
    /* every answer tells the truth: a success only for a row that is there */
    sqlite3 *db = open_plain(path);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM big"), 0);
    for (int i = 0; i < 3; i += 2) {
        bool there = row_exists(db, i + 1);
        ck_assert_msg(hl_result_is_ok(to[i].result) == there, "job %d answered %s, row %s", i + 1,
                      hl_result_is_ok(to[i].result) ? "ok" : to[i].result->code, there ? "present" : "absent");
        if (!there)
            ck_assert_int_eq(to[i].result->kind, HL_RESULT_STORAGE_FULL);
    }
    ck_assert(row_exists(db, 3)); /* the batch after the failure goes on */
    sqlite3_close(db);
    for (int i = 0; i < 3; ++i)
        hl_result_free(to[i].result);
    char *lp = ut_path(logs, "link.log"), *log = ut_read(lp);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "no transaction is active") == NULL && strstr(log, "ROLLBACK failed") == NULL, "log: %s", log);
    ck_assert_msg(strstr(log, "full") != NULL, "the failure is not logged: %s", log);
    free(log);
    free(lp);
    free(logs);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

/* ---- the cap on SQLite's heap (hl/memory.h) ---- */

/* SQLite's heap after reading every row of `path`'s table t through a new connection allowed a 64 MB page cache, with
 * SQLite's heap capped at `cap` bytes meanwhile (0: no cap). */
static long long heap_after_scan(const char *path, long long cap, long long rows)
{
    long long before = hl_memory_limit_sqlite(cap);
    sqlite3 *db = open_plain(path);
    exec_ok(db, "PRAGMA cache_size=-65536");
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t WHERE length(b) = 1000"), rows);
    long long used = sqlite3_memory_used();
    sqlite3_close(db);
    ck_assert_int_eq(hl_memory_limit_sqlite(before), cap);
    return used;
}

START_TEST(sqlite_heap_cap_bounds_the_page_cache)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "big.db");
    const long long rows = 16000; /* ~16 MB of table pages */
    sqlite3 *db = open_plain(path);
    exec_ok(db, "CREATE TABLE t(b BLOB);"
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 16000) "
                "INSERT INTO t SELECT randomblob(1000) FROM c;");
    sqlite3_close(db);
    long long base = sqlite3_memory_used();
    long long uncapped = heap_after_scan(path, 0, rows) - base, capped = heap_after_scan(path, 2LL << 20, rows) - base;
    /* without the cap the cache keeps what it read; with it, about the cap (one connection's schema and lookaside on top) */
    ck_assert_msg(uncapped > 12LL << 20, "uncapped: %lld bytes", uncapped);
    ck_assert_msg(capped < 3LL << 20, "capped at 2 MiB: %lld bytes", capped);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

Suite *suite_db_actor(void)
{
    Suite *s = suite_create("db_actor");
    TCase *mig = tcase_create("migrate");
    tcase_add_test(mig, migrate_fresh);
    tcase_add_test(mig, migrate_twice_is_noop);
    tcase_add_test(mig, migrate_refuses_newer);
    tcase_add_test(mig, migrate_upgrades_from_older_version);
    tcase_add_test(mig, migrate_failure_rolls_back);
    tcase_add_test(mig, migrate_unopenable);
    tcase_add_test(mig, open_sets_pragmas);
    tcase_add_test(mig, sqlite_heap_cap_bounds_the_page_cache);
    suite_add_tcase(s, mig);

    TCase *actor = tcase_create("actor");
    tcase_set_timeout(actor, 30);
    tcase_add_test(actor, batch_failed_job_rolled_back);
    tcase_add_test(actor, several_failures_in_one_batch);
    tcase_add_test(actor, stop_drains_posted_jobs);
    tcase_add_test(actor, tick_hook_runs_in_transaction);
    tcase_add_test(actor, open_hook_failure_fails_start);
    tcase_add_test(actor, readonly_jobs_share_a_snapshot_in_order);
    tcase_add_test(actor, readonly_job_does_not_wait_for_the_write_lock);
    suite_add_tcase(s, actor);

    TCase *json = tcase_create("json_job");
    tcase_add_test(json, json_job_outcomes);
    tcase_add_test(json, json_job_ok_and_error_helpers);
    tcase_add_test(json, json_job_failed_statement_is_internal);
    tcase_add_test(json, json_job_read_past_its_limit_is_unavailable);
    tcase_add_test(json, full_disk_is_insufficient_storage);
    suite_add_tcase(s, json);
    return s;
}
