/*
 * An update job's status, its log (HERMESLINK_HOME/logs/<kind>-update.log) and its persisted state
 * (HERMESLINK_HOME/run/<kind>-update-state.json, written atomically on every change of state, never per line): enough for
 * a restarted daemon to tell what happened to the run a previous process started.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/json_util.h"
#include "hl/log.h"
#include "hl/version.h"
#include "updater_internal.h"

void upd_job_init(upd_job_t *j, const char *kind)
{
    memset(j, 0, sizeof(*j));
    j->kind = kind;
    j->state = "idle";
    j->exit_code = -1;
    j->lines = json_array();
    j->version = 1;
    j->log_fd = -1;
}

static void clear_run(upd_job_t *j)
{
    free(j->job_id);
    free(j->signal);
    free(j->error);
    free(j->target_version);
    free(j->manual_command);
    j->job_id = j->signal = j->error = j->target_version = j->manual_command = NULL;
    j->pid = 0;
    j->started_at = j->finished_at = 0;
    j->exit_code = -1;
}

void upd_job_dispose(upd_job_t *j)
{
    if (j->log_fd >= 0)
        close(j->log_fd);
    clear_run(j);
    json_decref(j->lines);
    j->lines = NULL;
}

bool upd_job_running(const upd_job_t *j)
{
    return strcmp(j->state, "running") == 0;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *iso_or_null(int64_t ms)
{
    return ms != 0 ? hl_json_iso(ms) : json_null();
}

static bool is_link(const upd_job_t *j)
{
    return strcmp(j->kind, "link") == 0;
}

json_t *upd_job_json(const upd_job_t *j)
{
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(j->state));
    json_object_set_new(o, "job_id", str_or_null(j->job_id));
    json_object_set_new(o, "pid", j->pid > 0 ? json_integer(j->pid) : json_null());
    if (is_link(j))
        json_object_set_new(o, "target_version", str_or_null(j->target_version));
    json_object_set_new(o, "started_at", iso_or_null(j->started_at));
    json_object_set_new(o, "finished_at", iso_or_null(j->finished_at));
    json_object_set_new(o, "exit_code", j->exit_code >= 0 ? json_integer(j->exit_code) : json_null());
    json_object_set_new(o, "signal", str_or_null(j->signal));
    /* relative to HERMESLINK_HOME: no absolute path leaves the daemon (DESIGN §5) */
    json_object_set_new(o, "log_path", json_sprintf("logs/%s-update.log", j->kind));
    json_object_set_new(o, "lines", json_copy(j->lines));
    json_object_set_new(o, "error", str_or_null(j->error));
    if (is_link(j))
        json_object_set_new(o, "manual_command", str_or_null(j->manual_command));
    return o;
}

static char *file_path(const char *home, const char *dir, const char *kind, const char *suffix)
{
    char *sub = hl_path_join(home, dir);
    char *name = hl_asprintf("%s-update%s", kind, suffix);
    char *path = hl_path_join(sub, name);
    free(name);
    free(sub);
    return path;
}

static void log_write(upd_job_t *j, const char *s, size_t len)
{
    if (j->log_fd < 0 || j->log_bytes >= UPD_MAX_LOG_BYTES)
        return;
    if (j->log_bytes + len > UPD_MAX_LOG_BYTES) {
        static const char full[] = "\n(the log is full: later output is only in the status lines)\n";
        if (write(j->log_fd, full, sizeof(full) - 1) < 0)
            hl_logf(HL_LOG_WARN, "updater: cannot write the %s update log", j->kind);
        j->log_bytes = UPD_MAX_LOG_BYTES;
        return;
    }
    ssize_t n = write(j->log_fd, s, len);
    if (n < 0)
        hl_logf(HL_LOG_WARN, "updater: cannot write the %s update log", j->kind);
    else
        j->log_bytes += (size_t)n;
}

static char *base36(uint64_t v)
{
    char buf[32];
    size_t n = sizeof(buf);
    buf[--n] = '\0';
    do {
        buf[--n] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v != 0 && n > 0);
    return hl_strdup(buf + n);
}

void upd_job_begin(upd_job_t *j, const char *home)
{
    clear_run(j);
    json_array_clear(j->lines);
    j->started_at = hl_now_ms();
    char *b = base36((uint64_t)j->started_at);
    j->job_id = hl_asprintf("%s_update_%s", j->kind, b);
    free(b);
    j->state = "running";
    if (j->log_fd >= 0)
        close(j->log_fd);
    char *logs = hl_path_join(home, "logs");
    if (hl_mkdir_p(logs, 0700) != 0)
        hl_logf(HL_LOG_WARN, "updater: cannot create the logs folder");
    free(logs);
    char *path = file_path(home, "logs", j->kind, ".log");
    j->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    j->log_bytes = 0;
    char iso[HL_ISO_TIME_LEN];
    char *head = hl_asprintf("\n=== %s update started %s ===\n", j->kind, hl_format_iso(j->started_at, iso));
    log_write(j, head, strlen(head));
    free(head);
    upd_job_save(j, home);
}

bool upd_job_line(upd_job_t *j, const char *s, size_t len)
{
    log_write(j, s, len);
    log_write(j, "\n", 1);
    return upd_lines_add(j->lines, s, len);
}

void upd_job_end(upd_job_t *j, const char *home, const char *state, char *error)
{
    j->state = state;
    j->finished_at = hl_now_ms();
    free(j->error);
    j->error = error;
    char iso[HL_ISO_TIME_LEN];
    char code[16] = "null";
    if (j->exit_code >= 0)
        snprintf(code, sizeof(code), "%d", j->exit_code);
    char *foot = hl_asprintf("=== %s update finished %s exit=%s signal=%s ===\n", j->kind, hl_format_iso(j->finished_at, iso), code,
                             j->signal != NULL ? j->signal : "null");
    log_write(j, foot, strlen(foot));
    free(foot);
    if (j->log_fd >= 0) {
        close(j->log_fd);
        j->log_fd = -1;
    }
    upd_job_save(j, home);
}

void upd_job_save(const upd_job_t *j, const char *home)
{
    json_t *o = upd_job_json(j);
    json_object_del(o, "lines");
    json_object_del(o, "log_path");
    char *run = hl_path_join(home, "run");
    int ret = hl_mkdir_p(run, 0700);
    free(run);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *path = file_path(home, "run", j->kind, "-state.json");
    if (ret == 0) {
        char *with_nl = hl_asprintf("%s\n", text);
        ret = hl_write_file_atomic(path, with_nl, strlen(with_nl), 0600);
        free(with_nl);
    }
    if (ret != 0)
        hl_logf(HL_LOG_WARN, "updater: cannot save the %s update state (%s)", j->kind, strerror(-ret));
    free(path);
    free(text);
}

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? hl_strdup(s) : NULL;
}

static int64_t iso_ms(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    int64_t ms = 0;
    if (s == NULL || hl_parse_iso(s, &ms) != 0)
        return 0;
    return ms;
}

static const char *known_state(const char *s)
{
    static const char *const STATES[] = {"idle", "running", "succeeded", "failed", "restart_required"};
    for (size_t i = 0; s != NULL && i < HL_ARRAY_SIZE(STATES); ++i)
        if (strcmp(s, STATES[i]) == 0)
            return STATES[i];
    return NULL;
}

void upd_job_load(upd_job_t *j, const char *home)
{
    char *path = file_path(home, "run", j->kind, "-state.json"), *text = NULL;
    int ret = hl_read_file(path, 64 << 10, &text, NULL);
    free(path);
    json_t *o = ret == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const char *state = known_state(json_string_value(json_object_get(o, "state")));
    if (!json_is_object(o) || state == NULL || strcmp(state, "idle") == 0) {
        json_decref(o);
        return;
    }
    j->state = state;
    j->job_id = dup_str(o, "job_id");
    json_int_t pid = json_integer_value(json_object_get(o, "pid"));
    j->pid = pid > 0 && pid < INT32_MAX ? (pid_t)pid : 0;
    j->started_at = iso_ms(o, "started_at");
    j->finished_at = iso_ms(o, "finished_at");
    json_t *code = json_object_get(o, "exit_code");
    j->exit_code = json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) < 256
                       ? (int)json_integer_value(code)
                       : -1;
    j->signal = dup_str(o, "signal");
    j->error = dup_str(o, "error");
    j->target_version = dup_str(o, "target_version");
    j->manual_command = dup_str(o, "manual_command");
    json_decref(o);

    char *log = file_path(home, "logs", j->kind, ".log"), *content = NULL;
    size_t len = 0;
    if (hl_read_file(log, UPD_MAX_LOG_BYTES + 4096, &content, &len) == 0) {
        /* the command's lines, without our header and footer */
        size_t start = 0;
        for (size_t i = 0; i <= len; ++i) {
            if (i < len && content[i] != '\n')
                continue;
            size_t n = i - start;
            const char *line = content + start;
            bool ours = n >= 8 && memcmp(line, "=== ", 4) == 0 && memcmp(line + n - 4, " ===", 4) == 0;
            if (!ours)
                upd_lines_add(j->lines, line, n);
            start = i + 1;
        }
    }
    free(content);
    free(log);

    bool changed = false;
    if (strcmp(j->state, "running") == 0) {
        bool alive = j->pid > 0 && kill(j->pid, 0) == 0;
        char *err;
        if (is_link(j))
            err = hl_strdup("HermesLink stopped before the self-update finished; the installed binary is the old one or the "
                            "complete new one, never a partial file. Check for updates and try again.");
        else if (alive)
            err = hl_asprintf("HermesLink stopped before hermes update finished, so its outcome is unknown; the process (pid "
                              "%d) may still be running. See logs/hermes-update.log.",
                              (int)j->pid);
        else
            err = hl_strdup("HermesLink stopped before hermes update finished, so its outcome is unknown. See "
                            "logs/hermes-update.log, then run the update again.");
        j->state = "failed";
        free(j->error);
        j->error = err;
        if (j->finished_at == 0)
            j->finished_at = hl_now_ms();
        changed = true;
    } else if (strcmp(j->state, "restart_required") == 0 && j->target_version != NULL &&
               upd_version_cmp(j->target_version, HL_VERSION) <= 0) {
        j->state = "succeeded"; /* the restart happened: this build is the target (or newer) */
        changed = true;
    }
    if (changed)
        upd_job_save(j, home);
}
