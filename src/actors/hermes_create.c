/*
 * Creating a Hermes profile on the Hermes files actor (hermes_create.h). `hermes profile create <name>` runs with its
 * stdout and stderr on non-blocking pipes that the actor's wait hook watches; each line becomes part of the status,
 * which is published to the profile-creation event stream on every change. Without a hermes binary the folders of a new
 * profile are laid out here (and the clone files copied), synchronously.
 */
#include "hermes_create.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/clock.h"
#include "hl/fsutil.h"
#include "hl/pipe_lines.h"
#include "hl/subprocess.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_read.h"
#include "hl/ids.h"
#include "hl/json_util.h"
#include "hl/log.h"

extern char **environ;

/* the folders Hermes gives a new profile (UPSTREAM-HERMES §2.1) */
static const char *const PROFILE_DIRS[] = {"memories", "sessions", "skills", "skins", "logs", "plans", "workspace", "cron", "home"};
/* what --clone copies from the source profile */
static const char *const COPIED_ON_CLONE[] = {"config.yaml", ".env", "SOUL.md", "memories/MEMORY.md", "memories/USER.md"};

void hermes_creation_init(hermes_creation_t *c)
{
    memset(c, 0, sizeof(*c));
    c->state = "idle";
    c->lines = json_array();
    c->err_tail = json_array();
    hl_pipe_lines_init(&c->out, -1, HERMES_CREATE_MAX_LINE);
    hl_pipe_lines_init(&c->err, -1, HERMES_CREATE_MAX_LINE);
    c->version = 1;
}

static void close_pipes(hermes_creation_t *c)
{
    hl_pipe_lines_close(&c->out);
    hl_pipe_lines_close(&c->err);
}

void hermes_creation_dispose(hermes_creation_t *c)
{
    if (c->pid > 0 && !c->reaped && strcmp(c->state, "running") == 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    close_pipes(c);
    json_decref(c->lines);
    json_decref(c->err_tail);
    free(c->profile_name);
    free(c->job_id);
    free(c->error);
    free(c->description);
    memset(c, 0, sizeof(*c));
}

json_t *hermes_creation_json(const hermes_creation_t *c)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:O, s:o}", "state", c->state, "profile_name",
                     c->profile_name ? json_string(c->profile_name) : json_null(), "started_at",
                     c->started_at ? hl_json_iso(c->started_at) : json_null(), "finished_at",
                     c->finished_at ? hl_json_iso(c->finished_at) : json_null(), "pid",
                     c->pid > 0 ? json_integer(c->pid) : json_null(), "job_id", c->job_id ? json_string(c->job_id) : json_null(),
                     "lines", c->lines, "error", c->error ? json_string(c->error) : json_null());
}

int hermes_creation_fds(const hermes_creation_t *c, int fds[2])
{
    int n = 0;
    if (c->out.fd >= 0)
        fds[n++] = c->out.fd;
    if (c->err.fd >= 0)
        fds[n++] = c->err.fd;
    return n;
}

static void add_line(hermes_creation_t *c, const char *s, size_t len, bool is_err)
{
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
        --len;
    if (len > HERMES_CREATE_MAX_LINE)
        len = HERMES_CREATE_MAX_LINE;
    json_t *line = json_stringn(s, len); /* NULL when not UTF-8 */
    if (line == NULL)
        line = json_string("(a line that is not UTF-8 text)");
    json_array_append(c->lines, line);
    if (json_array_size(c->lines) > HERMES_CREATE_MAX_LINES)
        json_array_remove(c->lines, 0);
    if (is_err) {
        json_array_append(c->err_tail, line);
        if (json_array_size(c->err_tail) > 5)
            json_array_remove(c->err_tail, 0);
    }
    json_decref(line);
}

static void out_line(void *data, const char *s, size_t len)
{
    add_line(data, s, len, false);
}

static void err_line(void *data, const char *s, size_t len)
{
    add_line(data, s, len, true);
}

static void finished(hl_hermes_t *h, hermes_creation_t *c, const char *state, char *error)
{
    c->state = state;
    c->finished_at = hl_now_ms();
    free(c->error);
    c->error = error;
    hermes_snapshot_refresh(h);
    if (strcmp(state, "succeeded") == 0) {
        if (c->description != NULL && hermes_profile_exists(h, c->profile_name)) {
            json_t *changes = json_pack("{s:s}", "description", c->description);
            if (hermes_registry_update(&h->registry, c->profile_name, changes) != 0)
                hl_logf(HL_LOG_WARN, "hermes: the new profile's description could not be saved");
            json_decref(changes);
        }
        hl_log(HL_LOG_INFO, "Hermes profile created", json_pack("{s:s}", "profile", c->profile_name));
    } else {
        hl_log(HL_LOG_WARN, "Hermes profile creation failed",
               json_pack("{s:s, s:s}", "profile", c->profile_name, "error", error != NULL ? error : ""));
    }
}

bool hermes_creation_poll(hl_hermes_t *h, hermes_creation_t *c)
{
    if (strcmp(c->state, "running") != 0)
        return false;
    bool changed = false;
    changed |= hl_pipe_lines_drain(&c->out, out_line, c);
    changed |= hl_pipe_lines_drain(&c->err, err_line, c);
    if (!c->reaped) {
        int status = 0;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            c->reaped = true;
            c->exit_status = r == c->pid ? status : -1;
        }
    }
    if (!c->reaped && hl_monotonic_ms() >= c->deadline) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->reaped = true;
        close_pipes(c);
        finished(h, c, "failed",
                 hl_asprintf("hermes profile create did not finish within %d minutes and was stopped",
                             HERMES_CREATE_TIMEOUT_MS / 60000));
        return true;
    }
    if (!c->reaped || c->out.fd >= 0 || c->err.fd >= 0)
        return changed; /* still running, or its last output not yet read */
    int status = c->exit_status;
    bool known = status != -1;
    if (known && WIFEXITED(status) && WEXITSTATUS(status) == 0 && hermes_profile_exists(h, c->profile_name)) {
        finished(h, c, "succeeded", NULL);
        return true;
    }
    char *tail = NULL;
    for (size_t i = 0; i < json_array_size(c->err_tail); ++i) {
        char *next = hl_asprintf("%s%s%s", tail ? tail : "", tail ? "\n" : "", json_string_value(json_array_get(c->err_tail, i)));
        free(tail);
        tail = next;
    }
    char *err;
    if (known && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        err = hl_strdup("hermes profile create succeeded, but the profile's folder is not there");
    else if (known && WIFEXITED(status))
        err =
            hl_asprintf("hermes profile create exited with status %d%s%s", WEXITSTATUS(status), tail ? ": " : "", tail ? tail : "");
    else
        err = hl_asprintf("hermes profile create ended abnormally%s%s", tail ? ": " : "", tail ? tail : "");
    free(tail);
    finished(h, c, "failed", err);
    return true;
}

/* ---- starting ---- */

static int spawn(hermes_creation_t *c, char *bin, const char *name, const char *clone_from)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(err, O_CLOEXEC) != 0) {
        int e = -errno;
        close(out[0]), close(out[1]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    /* nothing else of ours: the libraries' descriptors without FD_CLOEXEC (event fds, socket pairs) stay here */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *argv[8];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "profile";
    argv[n++] = "create";
    argv[n++] = (char *)name;
    /* `--clone` alone copies Hermes's *active* profile (active_profile), not default; and `--clone-from` alone only
       names a source in some versions: both, always, so that the copy is of the profile the request named */
    if (clone_from != NULL) {
        argv[n++] = "--clone";
        argv[n++] = "--clone-from";
        argv[n++] = (char *)clone_from;
    }
    argv[n] = NULL;
    /* the daemon's threads block the signals its main thread waits for: the command gets a clean slate */
    posix_spawnattr_t attr;
    hl_spawnattr_clean(&attr, false);
    pid_t pid;
    int ret = posix_spawn(&pid, bin, &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (ret != 0) {
        close(out[0]), close(err[0]);
        return -ret;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    hl_pipe_lines_init(&c->out, out[0], HERMES_CREATE_MAX_LINE);
    hl_pipe_lines_init(&c->err, err[0], HERMES_CREATE_MAX_LINE);
    c->pid = pid;
    return 0;
}

/* Copies `rel` of profile `from` into `to_dir` when it is a regular file inside the root (a missing one is skipped). */
static int copy_clone_file(hl_hermes_t *h, const char *from, const char *to_dir, const char *rel)
{
    char *real = hermes_root_real(h->link->hermes_home), *from_dir = hl_hermes_profile_dir(h->link->hermes_home, from);
    char *text = NULL;
    size_t len = 0;
    int ret = hermes_read_file(real, from_dir, rel, &text, &len);
    free(real);
    free(from_dir);
    if (ret == -ENOENT)
        return 0;
    if (ret == 0) {
        char *path = hl_path_join(to_dir, rel);
        ret = hl_write_file_atomic(path, text, len, 0600);
        free(path);
    }
    if (text != NULL)
        explicit_bzero(text, len); /* .env holds secrets */
    free(text);
    return ret;
}

/* Lays out a new profile's folders (and the clone files); 0 or -errno (what was made is removed again). */
static int lay_out(hl_hermes_t *h, hermes_creation_t *c, const char *name, const char *clone_from)
{
    char *profiles = hl_path_join(h->root, "profiles"), *dir = hl_path_join(profiles, name);
    int ret = hl_mkdir_p(profiles, 0755);
    bool made = false;
    if (ret == 0)
        ret = mkdir(dir, 0700) == 0 ? (made = true, 0) : -errno;
    for (size_t i = 0; ret == 0 && i < HL_ARRAY_SIZE(PROFILE_DIRS); ++i) {
        char *sub = hl_path_join(dir, PROFILE_DIRS[i]);
        if (mkdir(sub, 0700) != 0)
            ret = -errno;
        free(sub);
    }
    for (size_t i = 0; ret == 0 && clone_from != NULL && i < HL_ARRAY_SIZE(COPIED_ON_CLONE); ++i)
        ret = copy_clone_file(h, clone_from, dir, COPIED_ON_CLONE[i]);
    if (ret == 0) {
        char *line = hl_asprintf("No hermes command found: HermesLink laid out profiles/%s itself%s%s", name,
                                 clone_from ? ", cloned from " : "", clone_from ? clone_from : "");
        add_line(c, line, strlen(line), false);
        free(line);
    } else if (made && hermes_remove_tree(dir) != 0) {
        hl_logf(HL_LOG_WARN, "hermes: a half-made profile folder could not be removed");
    }
    free(dir);
    free(profiles);
    return ret;
}

/* The body's first string under any of three spellings, or NULL. */
static const char *field(const json_t *body, const char *a, const char *b, const char *c)
{
    const char *names[] = {a, b, c};
    for (size_t i = 0; i < 3; ++i) {
        json_t *v = names[i] != NULL ? json_object_get(body, names[i]) : NULL;
        if (json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

/* POST /api/v1/profiles: the result to answer (202 with the status, or an error). */
hl_result_t *hermes_creation_start(hl_hermes_t *h, hermes_creation_t *c, const json_t *body)
{
    if (strcmp(c->state, "running") == 0)
        return hl_result_error(HL_RESULT_CONFLICT, "profile_creation_in_progress",
                               "A profile is being created; wait until it finishes");
    const char *name = field(body, "name", "profile_name", "profileName");
    if (name == NULL)
        return hl_result_error(HL_RESULT_INVALID, "invalid_profile_name", "name is required (a string)");
    const char *problem = hl_hermes_new_profile_name_problem(name);
    if (problem != NULL)
        return hl_result_error(HL_RESULT_INVALID, "invalid_profile_name", problem);
    char *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
    struct stat st;
    bool taken = dir != NULL && lstat(dir, &st) == 0;
    free(dir);
    if (taken)
        return hl_result_error(HL_RESULT_CONFLICT, "profile_already_exists", "A profile with that name already exists");
    const char *clone_from = field(body, "clone_from", "cloneFrom", NULL);
    json_t *clone = json_object_get(body, "clone");
    if (clone_from == NULL && json_is_true(clone))
        clone_from = "default";
    if (clone_from != NULL && (!hl_hermes_valid_profile_name(clone_from) || !hermes_profile_exists(h, clone_from)))
        return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "The profile to clone from does not exist");
    const char *description = field(body, "description", NULL, NULL);
    if (description != NULL && strlen(description) > 2048)
        return hl_result_error(HL_RESULT_INVALID, "invalid_profile_metadata", "description is longer than 2048 characters");

    int64_t version = c->version;
    hermes_creation_dispose(c);
    hermes_creation_init(c);
    c->version = version; /* the stream's ids go on increasing */
    c->profile_name = hl_strdup(name);
    c->job_id = hl_random_hex_id("pjob_", 16);
    c->description = description != NULL ? hl_strdup(description) : NULL;
    c->started_at = hl_now_ms();
    c->state = "running";
    bool broken = false;
    char *bin = hl_hermes_binary(&broken);
    if (broken) {
        finished(h, c, "failed", hl_strdup("HERMES_BIN does not name a program HermesLink can run"));
    } else if (bin == NULL) {
        int ret = lay_out(h, c, name, clone_from);
        if (ret == 0)
            finished(h, c, "succeeded", NULL);
        else
            finished(h, c, "failed", hl_asprintf("The profile's folders could not be made (%s)", strerror(-ret)));
    } else {
        char *line = hl_asprintf("$ hermes profile create %s%s%s", name, clone_from != NULL ? " --clone --clone-from " : "",
                                 clone_from != NULL ? clone_from : "");
        add_line(c, line, strlen(line), false);
        free(line);
        int ret = spawn(c, bin, name, clone_from);
        if (ret != 0)
            finished(h, c, "failed", hl_asprintf("hermes could not be started (%s)", strerror(-ret)));
        else
            c->deadline = hl_monotonic_ms() + HERMES_CREATE_TIMEOUT_MS;
        free(bin);
    }
    return hl_result_ok(HL_RESULT_ACCEPTED, hermes_creation_json(c));
}
