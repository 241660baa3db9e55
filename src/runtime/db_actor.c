/*
 * Connections and the db actor: group commit (one transaction per mailbox batch, a savepoint per job, completions only
 * after the COMMIT), statement caches, and errors that fail the job they happen in.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "hl/db.h"
#include "hl/db_write_turn.h"
#include "hl/fsutil.h"
#include "hl/log.h"

#define BUSY_TIMEOUT_MS 60000

struct st_hl_db_t {
    sqlite3 *conn;
    void *data;
    hl_db_actor_hooks_t hooks;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } * stmts;
    size_t num_stmts;
    /* a statement of the running job failed: the job is rolled back and fails */
    bool failed;
    /* ...and it failed because the disk (or the database's page limit) is full: the job completes with HL_DB_FULL */
    bool full;
    /* readers: a job running past this monotonic time (ms) is interrupted, and `interrupted` says so */
    uint64_t deadline_ms;
    bool interrupted;
};

/* The connection whose job this thread runs: hl_db_step and hl_db_exec mark its job failed. */
static __thread hl_db_t *current;

int hl_db_open(const char *path, bool readonly, sqlite3 **out)
{
    sqlite3 *db;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return -EIO;
    }
    /* writers wait for each other's short transactions rather than fail a whole batch */
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                                  "PRAGMA foreign_keys=ON;"
                                  "PRAGMA synchronous=FULL;"
                                  "PRAGMA temp_store=MEMORY;";
    static const char reader_pragmas[] = "PRAGMA foreign_keys=ON;"
                                         "PRAGMA temp_store=MEMORY;";
    if (sqlite3_exec(db, readonly ? reader_pragmas : pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -EIO;
    }
    *out = db;
    return 0;
}

static void mark_failed(sqlite3_stmt *st, int rc)
{
    sqlite3 *conn = sqlite3_db_handle(st);
    hl_logf(HL_LOG_ERROR, "sqlite: %s: %s", conn != NULL ? sqlite3_errmsg(conn) : sqlite3_errstr(rc),
            st != NULL && sqlite3_sql(st) != NULL ? sqlite3_sql(st) : "(no statement)");
    if (current != NULL) {
        current->failed = true;
        if ((rc & 0xff) == SQLITE_FULL)
            current->full = true;
    }
}

int hl_db_step(sqlite3_stmt *st)
{
    /* test mode's simulated full disk: a statement that would write fails as SQLite fails it when the disk is full */
    int rc = hl_storage_full_simulated() && st != NULL && !sqlite3_stmt_readonly(st) ? SQLITE_FULL : sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        mark_failed(st, rc);
    return rc;
}

void hl_db_job_init(hl_db_job_t *job, int (*run)(hl_db_job_t *, hl_db_t *), void (*complete)(hl_db_job_t *, int))
{
    hl_msg_init(&job->super, 1, NULL);
    job->run = run;
    job->complete = complete;
}

sqlite3 *hl_db_conn(hl_db_t *db)
{
    return db->conn;
}

void *hl_db_data(hl_db_t *db)
{
    return db->data;
}

sqlite3_stmt *hl_db_stmt(hl_db_t *db, const char *sql)
{
    for (size_t i = 0; i < db->num_stmts; ++i) {
        if (db->stmts[i].sql == sql) {
            sqlite3_reset(db->stmts[i].stmt);
            sqlite3_clear_bindings(db->stmts[i].stmt);
            return db->stmts[i].stmt;
        }
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        hl_logf(HL_LOG_ERROR, "sqlite: cannot prepare: %s: %s", sqlite3_errmsg(db->conn), sql);
        db->failed = true;
        return NULL;
    }
    db->stmts = hl_realloc(db->stmts, sizeof(*db->stmts) * (db->num_stmts + 1));
    db->stmts[db->num_stmts].sql = sql;
    db->stmts[db->num_stmts].stmt = st;
    ++db->num_stmts;
    return st;
}

void hl_db_bind_json_text(sqlite3_stmt *st, int i, const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v != NULL)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

void hl_db_bind_json_int(sqlite3_stmt *st, int i, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        sqlite3_bind_int64(st, i, json_integer_value(v));
}

int hl_db_exec(sqlite3_stmt *st)
{
    int rc = hl_db_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

char *hl_db_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t != NULL ? hl_strdup((const char *)t) : NULL;
}

static int exec(hl_db_t *db, const char *sql)
{
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        hl_logf(HL_LOG_ERROR, "sqlite: %s failed: %s", sql, sqlite3_errmsg(db->conn));
    if ((rc & 0xff) == SQLITE_FULL)
        db->full = true;
    return rc == SQLITE_OK ? 0 : -EIO;
}

/* Ends a transaction that failed: SQLite itself rolls the whole transaction back after some errors (SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_NOMEM…), and a ROLLBACK then would only fail with "no transaction is active". */
static void rollback(hl_db_t *db)
{
    if (!sqlite3_get_autocommit(db->conn))
        exec(db, "ROLLBACK");
}

/* The status of a job whose writes were lost: the disk was full, or another failure. */
static int lost_status(const hl_db_t *db)
{
    return db->full ? HL_DB_FULL : HL_DB_FAILED;
}

#define MAX_BATCH 256

static void on_batch(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    hl_db_actor_t *a = (hl_db_actor_t *)actor;
    hl_db_t *db = a->_db;
    hl_db_job_t *jobs[MAX_BATCH];
    int status[MAX_BATCH];
    hl_msg_t *msg = hl_msg_batch_pop(batch);
    while (msg != NULL) {
        /* one transaction per chunk of the batch: group commit, bounded so that replies are not held back forever; a run
         * of read-only jobs is a chunk of its own that reads a snapshot and waits for no writer */
        const bool readonly = ((hl_db_job_t *)msg)->readonly;
        size_t n = 0;
        db->full = false;
        const bool turn = !readonly && hl_db_write_turn_take(BUSY_TIMEOUT_MS) == 0;
        int in_tx = exec(db, readonly ? "BEGIN" : "BEGIN IMMEDIATE") == 0, lost = 0;
        while (msg != NULL && n < MAX_BATCH && ((hl_db_job_t *)msg)->readonly == readonly) {
            hl_db_job_t *job = (hl_db_job_t *)msg;
            msg = hl_msg_batch_pop(batch);
            jobs[n] = job;
            if (!in_tx) {
                status[n++] = lost_status(db);
                continue;
            }
            if (exec(db, "SAVEPOINT job") != 0) {
                status[n++] = lost_status(db);
                continue;
            }
            current = db;
            db->failed = false;
            status[n] = job->run(job, db);
            if (db->failed)
                status[n] = lost_status(db);
            current = NULL;
            ++n;
            if (sqlite3_get_autocommit(db->conn)) {
                /* SQLite rolled the whole transaction back (a full disk): the jobs before this one lost their writes
                 * too, and the rest of the batch gets a transaction of its own */
                for (size_t i = 0; i < n; ++i)
                    status[i] = lost_status(db);
                lost = 1;
                break;
            }
            if (status[n - 1] != 0)
                exec(db, "ROLLBACK TO job");
            exec(db, "RELEASE job");
        }
        if (readonly && in_tx && !lost && sqlite3_txn_state(db->conn, NULL) == SQLITE_TXN_WRITE)
            hl_logf(HL_LOG_ERROR, "%s: a job marked read-only wrote to link.db", actor->name);
        if (in_tx && !lost && exec(db, "COMMIT") != 0) {
            rollback(db);
            for (size_t i = 0; i < n; ++i)
                status[i] = lost_status(db);
        } else if (!readonly && in_tx && !lost && db->hooks.on_committed != NULL) {
            db->hooks.on_committed(db);
        }
        if (turn) /* before the completions: the next writer need not wait for our replies */
            hl_db_write_turn_give();
        for (size_t i = 0; i < n; ++i)
            jobs[i]->complete(jobs[i], status[i]);
        if (db->hooks.on_batch_done != NULL)
            db->hooks.on_batch_done(db);
    }
}

/* Frees the db actor's own state (connection already closed). */
static void free_db(hl_db_actor_t *a)
{
    free(a->_db);
    a->_db = NULL;
    free(a->_path);
    a->_path = NULL;
}

static int on_start(hl_actor_t *actor)
{
    hl_db_actor_t *a = (hl_db_actor_t *)actor;
    int ret = hl_db_open(a->_path, false, &a->_db->conn);
    if (ret != 0) {
        hl_logf(HL_LOG_ERROR, "%s: cannot open link.db", actor->name);
        free_db(a);
        return ret;
    }
    if (a->_db->hooks.on_open != NULL && (ret = a->_db->hooks.on_open(a->_db)) != 0) {
        for (size_t i = 0; i < a->_db->num_stmts; ++i)
            sqlite3_finalize(a->_db->stmts[i].stmt);
        free(a->_db->stmts);
        sqlite3_close(a->_db->conn);
        free_db(a);
    }
    return ret;
}

static void on_tick(hl_actor_t *actor)
{
    hl_db_actor_t *a = (hl_db_actor_t *)actor;
    if (a->_db->hooks.on_tick == NULL)
        return;
    const bool turn = hl_db_write_turn_take(BUSY_TIMEOUT_MS) == 0;
    if (exec(a->_db, "BEGIN IMMEDIATE") == 0) {
        current = a->_db;
        a->_db->failed = false;
        a->_db->hooks.on_tick(a->_db);
        current = NULL;
        if (a->_db->failed || exec(a->_db, "COMMIT") != 0)
            rollback(a->_db);
    }
    if (turn)
        hl_db_write_turn_give();
}

static void on_stop(hl_actor_t *actor)
{
    hl_db_actor_t *a = (hl_db_actor_t *)actor;
    hl_db_t *db = a->_db;
    if (db->hooks.on_close != NULL)
        db->hooks.on_close(db);
    for (size_t i = 0; i < db->num_stmts; ++i)
        sqlite3_finalize(db->stmts[i].stmt);
    free(db->stmts);
    db->stmts = NULL;
    db->num_stmts = 0;
    sqlite3_close(db->conn);
    db->conn = NULL;
    free_db(a);
}

int hl_db_actor_init(hl_db_actor_t *a, const char *name, const char *path, const hl_db_actor_hooks_t *hooks, void *data)
{
    static const hl_actor_callbacks_t cb = {.on_start = on_start, .on_batch = on_batch, .on_tick = on_tick, .on_stop = on_stop};
    int ret = hl_actor_init(&a->actor, name, &cb, data);
    if (ret != 0)
        return ret;
    a->_db = hl_calloc(1, sizeof(*a->_db));
    a->_db->data = data;
    if (hooks != NULL)
        a->_db->hooks = *hooks;
    a->actor.tick_ms = a->_db->hooks.tick_ms;
    a->_path = hl_strdup(path);
    return 0;
}

void hl_db_actor_post(hl_db_actor_t *a, hl_db_job_t *job)
{
    hl_actor_post(&a->actor, &job->super);
}

void hl_db_actor_dispose(hl_db_actor_t *a)
{
    hl_actor_dispose(&a->actor);
    if (a->_db != NULL) /* initialised but never started */
        free_db(a);
}

/* ---- connections of other threads (readers) ---- */

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* SQLite calls this every few thousand VM steps: a job past its deadline is interrupted */
static int on_progress(void *arg)
{
    hl_db_t *db = arg;
    if (db->deadline_ms != 0 && monotonic_ms() > db->deadline_ms)
        db->interrupted = true;
    return db->interrupted;
}

int hl_db_connect(const char *path, bool readonly, void *data, hl_db_t **out)
{
    hl_db_t *db = hl_calloc(1, sizeof(*db));
    int ret = hl_db_open(path, readonly, &db->conn);
    if (ret != 0) {
        free(db);
        return ret;
    }
    db->data = data;
    sqlite3_progress_handler(db->conn, 4096, on_progress, db);
    *out = db;
    return 0;
}

void hl_db_run_one(hl_db_t *db, hl_db_job_t *job, unsigned max_ms)
{
    int status = HL_DB_FAILED;
    if (exec(db, "BEGIN") == 0) {
        current = db;
        db->failed = false;
        db->full = false;
        db->deadline_ms = max_ms != 0 ? monotonic_ms() + max_ms : 0;
        db->interrupted = false;
        status = job->run(job, db);
        db->deadline_ms = 0;
        if (db->interrupted)
            status = HL_DB_TIMEOUT;
        else if (db->failed)
            status = lost_status(db);
        current = NULL;
        if (status == 0 && exec(db, "COMMIT") != 0)
            status = lost_status(db);
        if (status != 0)
            rollback(db);
    }
    job->complete(job, status);
}

void hl_db_disconnect(hl_db_t *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->num_stmts; ++i)
        sqlite3_finalize(db->stmts[i].stmt);
    free(db->stmts);
    sqlite3_close(db->conn);
    free(db);
}
