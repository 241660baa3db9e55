/*
 * Hermes updates on the updater actor (spec/API.md §13, FLOWS.md §8.1, GAPS §B 16): the check runs `hermes version`
 * then `hermes update --check`, each bounded in time, and answers every request that waited for it; the update runs
 * `hermes update` with HERMES_NONINTERACTIVE=1, one at a time, its output lines becoming the job's status.
 */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/log.h"
#include "hl/hermes_read.h"
#include "updater_internal.h"

/* ---- interpreting `hermes update --check` ---- */

/* The first version-looking token of a line ("1.2", "v0.3.8", "2025.01.10"), malloc'd, or NULL. */
static char *version_token(const char *s)
{
    for (const char *p = s; *p != '\0'; ++p) {
        if (!isdigit((unsigned char)*p) || (p > s && (isalnum((unsigned char)p[-1]) && p[-1] != 'v')))
            continue;
        const char *e = p;
        int dots = 0;
        while (isdigit((unsigned char)*e) || (*e == '.' && isdigit((unsigned char)e[1])))
            dots += *e++ == '.';
        if (dots >= 1) {
            while (isalnum((unsigned char)*e) || *e == '-' || *e == '+' || (*e == '.' && isalnum((unsigned char)e[1])))
                ++e;
            return hl_strndup(p, (size_t)(e - p));
        }
        p = e - 1;
    }
    return NULL;
}

static bool has_word(const char *line, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; ++i)
        if (strcasestr(line, words[i]) != NULL)
            return true;
    return false;
}

char *upd_interpret_check(const json_t *lines, int exit_code, const char *local_version, json_t **remote, bool *available)
{
    static const char *const CURRENT[] = {
        "up to date", "up-to-date", "already on the latest", "already the latest", "latest version", "no update",
        "no updates", NULL};
    static const char *const NEWER[] = {"available", "newer", "new version", "update to", NULL};
    *remote = NULL;
    *available = false;
    size_t i;
    json_t *v;
    if (exit_code == 0 || exit_code == 1) {
        json_array_foreach(lines, i, v)
        {
            const char *line = json_string_value(v);
            if (has_word(line, NEWER) && !has_word(line, CURRENT)) {
                char *ver = version_token(line);
                if (ver != NULL) {
                    *available = local_version == NULL || upd_version_cmp(ver, local_version) > 0;
                    *remote = json_pack("{s:s, s:s}", "version", ver, "raw", line);
                    free(ver);
                    return NULL;
                }
            }
        }
        json_array_foreach(lines, i, v)
        {
            const char *line = json_string_value(v);
            if (has_word(line, CURRENT)) {
                char *ver = version_token(line);
                const char *use = ver != NULL ? ver : local_version;
                *remote = json_pack("{s:o, s:s}", "version", use != NULL ? json_string(use) : json_null(), "raw", line);
                free(ver);
                return NULL;
            }
        }
    }
    size_t n = json_array_size(lines);
    const char *last = n > 0 ? json_string_value(json_array_get(lines, n - 1)) : NULL;
    if (exit_code < 0)
        return hl_strdup("hermes update --check did not finish normally");
    return hl_asprintf("hermes update --check gave no answer HermesLink understands (exit %d)%s%s", exit_code,
                       last != NULL ? ": " : "", last != NULL ? last : "");
}

/* ---- the check ---- */

static json_t *local_json(const char *version, const char *raw)
{
    return json_pack("{s:o, s:o}", "version", version ? json_string(version) : json_null(), "raw",
                     raw ? json_string(raw) : json_null());
}

static void answer_waiters(hl_updater_t *u, json_t *answer)
{
    json_decref(u->hermes_check);
    u->hermes_check = answer;
    u->hermes_check_at = hl_monotonic_ms();
    for (size_t i = 0; i < u->num_hermes_waiters; ++i)
        hl_reply(u->hermes_waiters[i], hl_result_ok(HL_RESULT_OK, json_deep_copy(answer)));
    u->num_hermes_waiters = 0;
}

static json_t *check_answer(json_t *local, json_t *remote, bool available, const char *issue)
{
    return json_pack("{s:o, s:o, s:b, s:s, s:o}", "local", local, "remote", remote ? remote : json_null(), "update_available",
                     available, "check_state", issue == NULL ? "checked" : "unavailable", "issue",
                     issue ? json_string(issue) : json_null());
}

static void collect(void *data, const char *s, size_t len)
{
    hl_updater_t *u = data;
    upd_lines_add(u->check_out, s, len);
}

static int exit_code_of(const upd_proc_t *p)
{
    if (p->timed_out || p->status == -1 || !WIFEXITED(p->status))
        return -1;
    return WEXITSTATUS(p->status);
}

static int spawn_check(hl_updater_t *u, int step)
{
    char *version_argv[] = {u->check_bin, "version", NULL};
    char *check_argv[] = {u->check_bin, "update", "--check", NULL};
    json_array_clear(u->check_out);
    upd_proc_dispose(&u->check_proc);
    int ret =
        upd_proc_spawn(&u->check_proc, step == 1 ? version_argv : check_argv, "HERMES_NONINTERACTIVE=1", UPD_CHECK_TIMEOUT_MS);
    u->check_step = ret == 0 ? step : 0;
    return ret;
}

static void check_done(hl_updater_t *u, json_t *answer)
{
    upd_proc_dispose(&u->check_proc);
    free(u->check_bin);
    u->check_bin = NULL;
    u->check_step = 0;
    json_decref(u->check_local);
    u->check_local = NULL;
    answer_waiters(u, answer);
}

void upd_hermes_check(hl_updater_t *u, hl_reply_to_t *to)
{
    /* no cache: a check is an explicit request and costs two short commands; requests during one share its answer
       (the last answer is kept for system/updates) */
    u->hermes_waiters = hl_realloc(u->hermes_waiters, (u->num_hermes_waiters + 1) * sizeof(*u->hermes_waiters));
    u->hermes_waiters[u->num_hermes_waiters++] = to;
    if (u->check_step != 0)
        return; /* answered with the running check */
    u->check_bin = hl_hermes_binary(NULL);
    if (u->check_bin == NULL) {
        check_done(u, check_answer(local_json(NULL, NULL), NULL, false,
                                   "No hermes command found (set HERMES_BIN, or put hermes on PATH)"));
        return;
    }
    if (spawn_check(u, 1) != 0)
        check_done(u, check_answer(local_json(NULL, NULL), NULL, false, "hermes could not be started"));
}

/* Moves the running check on once its command ended. */
static void check_poll(hl_updater_t *u)
{
    if (u->check_step == 0 || !upd_proc_poll(&u->check_proc, collect, u))
        return;
    int code = exit_code_of(&u->check_proc);
    if (u->check_step == 1) {
        const char *raw = json_string_value(json_array_get(u->check_out, 0));
        char *version = NULL;
        if (code == 0 && raw != NULL) {
            const char *sp = strrchr(raw, ' ');
            version = hl_strdup(sp != NULL ? sp + 1 : raw); /* the version is the line's last token */
        }
        u->check_local = local_json(version, code == 0 ? raw : NULL);
        free(version);
        if (spawn_check(u, 2) != 0)
            check_done(u, check_answer(json_incref(u->check_local), NULL, false, "hermes could not be started"));
        return;
    }
    json_t *remote = NULL;
    bool available = false;
    char *issue;
    if (u->check_proc.timed_out)
        issue = hl_asprintf("hermes update --check did not answer within %d s", UPD_CHECK_TIMEOUT_MS / 1000);
    else
        issue = upd_interpret_check(u->check_out, code, json_string_value(json_object_get(u->check_local, "version")), &remote,
                                    &available);
    check_done(u, check_answer(json_incref(u->check_local), remote, available, issue));
    free(issue);
}

/* ---- the update ---- */

static void update_line(void *data, const char *s, size_t len)
{
    hl_updater_t *u = data;
    if (upd_job_line(&u->hermes, s, len))
        u->hermes.dirty = true;
}

static char *signal_name(int sig)
{
    const char *abbrev = sigabbrev_np(sig);
    return abbrev != NULL ? hl_asprintf("SIG%s", abbrev) : hl_asprintf("%d", sig);
}

hl_result_t *upd_hermes_start(hl_updater_t *u)
{
    if (upd_job_running(&u->hermes))
        return hl_result_ok(HL_RESULT_ACCEPTED, upd_job_json(&u->hermes));
    upd_job_begin(&u->hermes, u->link->home);
    char *bin = hl_hermes_binary(NULL);
    if (bin == NULL) {
        upd_job_end(&u->hermes, u->link->home, "failed",
                    hl_strdup("No hermes command found (set HERMES_BIN, or put hermes on PATH)"));
    } else {
        static const char cmd[] = "$ hermes update";
        upd_job_line(&u->hermes, cmd, sizeof(cmd) - 1);
        upd_proc_dispose(&u->hermes_proc);
        char *argv[] = {bin, "update", NULL};
        int ret = upd_proc_spawn(&u->hermes_proc, argv, "HERMES_NONINTERACTIVE=1", UPD_HERMES_UPDATE_TIMEOUT_MS);
        if (ret != 0) {
            upd_job_end(&u->hermes, u->link->home, "failed", hl_asprintf("hermes could not be started (%s)", strerror(-ret)));
        } else {
            u->hermes.pid = u->hermes_proc.pid;
            upd_job_save(&u->hermes, u->link->home);
            hl_log(HL_LOG_INFO, "hermes update started", json_pack("{s:s, s:i}", "job_id", u->hermes.job_id, "pid", u->hermes.pid));
        }
        free(bin);
    }
    upd_publish(u, &u->hermes);
    return hl_result_ok(HL_RESULT_ACCEPTED, upd_job_json(&u->hermes));
}

static void update_finished(hl_updater_t *u)
{
    upd_proc_t *p = &u->hermes_proc;
    upd_job_t *j = &u->hermes;
    int status = p->status;
    char *error = NULL;
    const char *state = "failed";
    if (p->timed_out) {
        error = hl_asprintf("hermes update did not finish within %d minutes and was stopped", UPD_HERMES_UPDATE_TIMEOUT_MS / 60000);
    } else if (status != -1 && WIFEXITED(status)) {
        j->exit_code = WEXITSTATUS(status);
        if (j->exit_code == 0)
            state = "succeeded";
        else
            error = hl_asprintf("hermes update exited with code %d", j->exit_code);
    } else if (status != -1 && WIFSIGNALED(status)) {
        j->signal = signal_name(WTERMSIG(status));
        error = hl_asprintf("hermes update was ended by %s", j->signal);
    } else {
        error = hl_strdup("hermes update ended, but how is unknown");
    }
    if (p->timed_out && status != -1 && WIFSIGNALED(status))
        j->signal = signal_name(WTERMSIG(status));
    upd_job_end(j, u->link->home, state, error);
    upd_proc_dispose(p);
    hl_log(strcmp(state, "succeeded") == 0 ? HL_LOG_INFO : HL_LOG_WARN, "hermes update finished",
           json_pack("{s:s, s:s, s:s?}", "job_id", j->job_id, "state", state, "error", j->error));
    upd_publish(u, j);
}

void upd_hermes_poll(hl_updater_t *u)
{
    check_poll(u);
    if (upd_job_running(&u->hermes) && u->hermes_proc.pid > 0 && upd_proc_poll(&u->hermes_proc, update_line, u))
        update_finished(u);
}

void upd_hermes_stop(hl_updater_t *u)
{
    if (u->check_step != 0) {
        upd_proc_stop(&u->check_proc);
        check_done(u, check_answer(u->check_local != NULL ? json_incref(u->check_local) : local_json(NULL, NULL), NULL, false,
                                   "HermesLink is stopping"));
    }
    if (upd_job_running(&u->hermes) && u->hermes_proc.pid > 0) {
        upd_proc_poll(&u->hermes_proc, update_line, u); /* what it printed so far */
        upd_proc_stop(&u->hermes_proc);
        upd_job_t *j = &u->hermes;
        if (u->hermes_proc.status != -1 && WIFSIGNALED(u->hermes_proc.status))
            j->signal = signal_name(WTERMSIG(u->hermes_proc.status));
        upd_job_end(j, u->link->home, "failed",
                    hl_strdup("HermesLink stopped while hermes update was running, so the update was stopped before it "
                              "finished. See logs/hermes-update.log, then run the update again."));
        upd_proc_dispose(&u->hermes_proc);
        upd_publish(u, j);
    }
}
