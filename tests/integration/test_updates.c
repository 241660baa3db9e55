/*
 * Updates (issue 11; spec/API.md §13, §14, §16, FLOWS.md §8, GAPS §B 16): the updater actor's routes against the real
 * binary, over HTTP/1.1, h2c (prior knowledge) and h2 over TLS where the protocol matters.
 *  - Hermes (a fake `hermes` shell script named by HERMES_BIN): update-check from `hermes version` and
 *    `hermes update --check` (available, current, unsupported, no hermes at all); POST /api/v1/hermes/update 202 and
 *    one at a time, HERMES_NONINTERACTIVE=1, output lines streamed as `event: hermes.update.status` frames without
 *    `id:` lines, the status equal to the last event, the log file and the persisted state; a failure (exit 3) with
 *    its lines bounded (240 lines, 1200 characters + "..."); a daemon stopped during an update (failed, the update
 *    stopped) and a daemon killed during one (failed after the restart, the orphan's pid named);
 *  - system/updates and its dismissal (auth, link-state.json);
 *  - Link self-update (a release feed served by a thread of this test on 127.0.0.1, signed with a key pair made here):
 *    see the second half of this file.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hl/common.h"
#include "hl/ids.h"

#include "harness_conv.h"
#include "harness_hermes.h"

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

static hlt_env_t env;
static hltc_ctx_t ctx;
static hlt_proto_t P;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

/* ---- the daemon of a test ---- */

static void start_with(const char *const *extra_env)
{
    memset(&ctx, 0, sizeof(ctx));
    hlt_daemon_opts_t o = {.tls = 1, .env = &env, .extra_env = extra_env};
    hlt_daemon_start(&ctx.d, &o);
    ctx.started = 1;
    hlt_enroll(&ctx.d, HLT_H1, NULL, &ctx.dev);
}

/* Starts the same env's daemon again, keeping the paired device. */
static void restart_with(const char *const *extra_env)
{
    hlt_daemon_opts_t o = {.tls = 1, .env = &env, .extra_env = extra_env};
    hlt_daemon_start(&ctx.d, &o);
}

static void finish(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
    hlt_env_dispose(&env);
}

/* ---- requests ---- */

static void request(const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, TOK, method, path, body, res);
}

/* A `status` answer {"ok":true,…} with JSON and no absolute path: the body (new reference). */
static json_t *call_status(const char *method, const char *path, const char *body, long status)
{
    hlt_response_t res;
    request(method, path, body, &res);
    ck_assert_msg(res.status == status, "%s %s over %s: expected %ld, got %ld: %.600s", method, path, hlt_proto_name(P), status,
                  res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: %.400s", method, path, res.body);
    ck_assert_msg(strstr(res.body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

static json_t *call(const char *method, const char *path, const char *body)
{
    return call_status(method, path, body, 200);
}

static void call_error(const char *method, const char *path, const char *body, long status, const char *code)
{
    hlth_call_error(D, P, TOK, method, path, body, status, code);
}

static void assert_json_eq(json_t *got, json_t *want, const char *what)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        ck_abort_msg("%s over %s:\n got  %.1500s\n want %.1500s", what, hlt_proto_name(P), g, w);
    }
}

static json_t *without_ok(json_t *j)
{
    json_t *c = json_deep_copy(j);
    json_object_del(c, "ok");
    return c;
}

/* ---- the fake hermes ---- */

/* `hermes version`, `hermes update --check` (as <env>/check-mode says), `hermes update` (as <env>/update-mode says) */
static const char FAKE_HERMES[] =
    "#!/bin/sh\n"
    "# HermesLink test: a stand-in for hermes version / update\n"
    "dir=\"$HERMES_HOME/..\"\n"
    "printf '%s\\n' \"$*\" >> \"$dir/hermes-calls.log\"\n"
    "case \"$1\" in\n"
    "version) echo \"Hermes Agent v0.9.1\"; exit 0 ;;\n"
    "update)\n"
    "  if [ \"$2\" = \"--check\" ]; then\n"
    "    case \"$(cat \"$dir/check-mode\" 2>/dev/null)\" in\n"
    "    available) echo 'Checking for updates...'; echo 'Update available: 0.10.0 (you have 0.9.1)'; exit 0 ;;\n"
    "    current) echo 'Hermes is up to date (0.9.1)'; exit 0 ;;\n"
    "    *) echo 'error: unrecognized arguments: --check' >&2; exit 2 ;;\n"
    "    esac\n"
    "  fi\n"
    "  echo \"noninteractive=$HERMES_NONINTERACTIVE\"\n"
    "  case \"$(cat \"$dir/update-mode\" 2>/dev/null)\" in\n"
    "  slow) echo 'starting a slow update'; sleep 30; echo never; exit 0 ;;\n"
    "  fail)\n"
    "    i=1; while [ $i -le 250 ]; do echo \"line $i\"; i=$((i+1)); done\n"
    "    head -c 1300 /dev/zero | tr '\\0' x; echo\n"
    "    echo 'error: pip failed' >&2; exit 3 ;;\n"
    "  *) echo 'Updating Hermes...'; sleep 0.3; echo; echo 'step 2' >&2; sleep 0.3; printf 'Hermes updated to 0.10.0'; exit 0 ;;\n"
    "  esac ;;\n"
    "esac\n"
    "echo \"unknown command $*\" >&2; exit 64\n";

static char *hermes_var;

/* Prepares the env with the fake hermes and starts the daemon with HERMES_BIN naming it. */
static void start_hermes(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    char *bin = hlt_env_path(&env, 0, "bin");
    hlth_mkdirs(bin);
    char *path = hl_asprintf("%s/hermes", bin);
    hlt_write_file(path, FAKE_HERMES);
    ck_assert(chmod(path, 0700) == 0);
    free(hermes_var);
    hermes_var = hl_asprintf("HERMES_BIN=%s", path);
    free(path);
    free(bin);
    const char *const extra[] = {hermes_var, NULL};
    start_with(extra);
}

static void set_mode(const char *which, const char *mode)
{
    char *path = hlt_env_path(&env, 0, which);
    hlt_write_file(path, mode);
    free(path);
}

/* ---- Hermes update-check ---- */

START_TEST(test_hermes_check)
{
    start_hermes(_i);
    hlt_response_t res;
    request("GET", "/api/v1/hermes/update-check", NULL, &res);
    hlt_assert_header(&res, "cache-control", "no-store");
    hlt_response_free(&res);

    set_mode("check-mode", "available");
    json_t *j = call("GET", "/api/v1/hermes/update-check", NULL);
    json_t *want = json_pack("{s:b, s:{s:s, s:s}, s:{s:s, s:s}, s:b, s:s, s:n}", "ok", 1, "local", "version", "v0.9.1", "raw",
                             "Hermes Agent v0.9.1", "remote", "version", "0.10.0", "raw",
                             "Update available: 0.10.0 (you have 0.9.1)", "update_available", 1, "check_state", "checked", "issue");
    assert_json_eq(j, want, "update-check with an update available");
    json_decref(want);
    json_decref(j);

    /* system/updates shows Hermes's side; nothing of Link's without a feed */
    j = call("GET", "/api/v1/system/updates", NULL);
    request("GET", "/api/v1/system/version", NULL, &res);
    json_t *version = json_incref(res.json);
    hlt_response_free(&res);
    want = json_pack("{s:b, s:s, s:n, s:b, s:{s:s, s:s}}", "ok", 1, "currentVersion", hlt_str(version, "version"),
                     "availableVersion", "dismissed", 0, "hermes", "currentVersion", "v0.9.1", "availableVersion", "0.10.0");
    assert_json_eq(j, want, "system/updates");
    json_decref(version);
    json_decref(want);
    json_decref(j);
    /* dismissed until something newer turns up */
    j = call("POST", "/api/v1/system/updates/dismiss", NULL);
    want = json_pack("{s:b}", "ok", 1);
    assert_json_eq(j, want, "dismiss");
    json_decref(want);
    json_decref(j);
    j = call("GET", "/api/v1/system/updates", NULL);
    ck_assert(json_is_true(json_object_get(j, "dismissed")));
    json_decref(j);
    char *state_path = hlt_env_path(&env, 1, "link-state.json");
    char *text = hlt_read_file(state_path, NULL);
    ck_assert_msg(text != NULL && strstr(text, "\"updateDismissedAt\"") != NULL, "link-state.json: %s", text);
    free(text);
    free(state_path);

    set_mode("check-mode", "current");
    j = call("GET", "/api/v1/hermes/update-check", NULL);
    want = json_pack("{s:b, s:{s:s, s:s}, s:{s:s, s:s}, s:b, s:s, s:n}", "ok", 1, "local", "version", "v0.9.1", "raw",
                     "Hermes Agent v0.9.1", "remote", "version", "0.9.1", "raw", "Hermes is up to date (0.9.1)", "update_available",
                     0, "check_state", "checked", "issue");
    assert_json_eq(j, want, "update-check when current");
    json_decref(want);
    json_decref(j);
    /* nothing is available now: the dismissal of the earlier one no longer hides anything */
    j = call("GET", "/api/v1/system/updates", NULL);
    ck_assert(json_is_false(json_object_get(j, "dismissed")));
    json_decref(j);

    set_mode("check-mode", "unsupported");
    j = call("GET", "/api/v1/hermes/update-check", NULL);
    want =
        json_pack("{s:b, s:{s:s, s:s}, s:n, s:b, s:s, s:s}", "ok", 1, "local", "version", "v0.9.1", "raw", "Hermes Agent v0.9.1",
                  "remote", "update_available", 0, "check_state", "unavailable", "issue",
                  "hermes update --check gave no answer HermesLink understands (exit 2): error: unrecognized arguments: --check");
    assert_json_eq(j, want, "update-check when --check is unknown");
    json_decref(want);
    json_decref(j);
    /* the checks ran with no update */
    char *calls_path = hlt_env_path(&env, 0, "hermes-calls.log");
    text = hlt_read_file(calls_path, NULL);
    ck_assert_str_eq(text, "version\nupdate --check\nversion\nupdate --check\nversion\nupdate --check\nversion\nupdate --check\n");
    free(text);
    free(calls_path);

    /* bad bodies of the Link update */
    call_error("POST", "/api/v1/link/update", "[1]", 400, "invalid_target_version");
    call_error("POST", "/api/v1/link/update", "{\"target_version\":5}", 400, "invalid_target_version");
    call_error("POST", "/api/v1/link/update", "{\"targetVersion\":\"\"}", 400, "invalid_target_version");
    call_error("POST", "/api/v1/link/update", "{", 400, "invalid_json");

    /* auth on every route */
    static const char *const PATHS[][2] = {{"GET", "/api/v1/hermes/update-check"}, {"GET", "/api/v1/hermes/update/status"},
                                           {"POST", "/api/v1/hermes/update"},      {"GET", "/api/v1/link/update-check"},
                                           {"GET", "/api/v1/link/update/status"},  {"POST", "/api/v1/link/update"},
                                           {"GET", "/api/v1/system/updates"},      {"POST", "/api/v1/system/updates/dismiss"}};
    for (size_t k = 0; k < HL_ARRAY_SIZE(PATHS); ++k) {
        hlt_request_t req = {.method = PATHS[k][0], .path = PATHS[k][1]};
        hlt_fetch(D, P, &req, &res);
        hlt_assert_error(D, &res, 401, "auth_required");
        hlt_response_free(&res);
    }
    finish();
}
END_TEST

START_TEST(test_hermes_check_without_hermes)
{
    P = PROTOS[_i];
    hlt_env_init(&env);
    char *path = hl_asprintf("PATH=%s", env.dir);
    const char *const extra[] = {"HERMES_BIN", path, NULL};
    start_with(extra);
    json_t *j = call("GET", "/api/v1/hermes/update-check", NULL);
    json_t *want =
        json_pack("{s:b, s:{s:n, s:n}, s:n, s:b, s:s, s:s}", "ok", 1, "local", "version", "raw", "remote", "update_available", 0,
                  "check_state", "unavailable", "issue", "No hermes command found (set HERMES_BIN, or put hermes on PATH)");
    assert_json_eq(j, want, "update-check without hermes");
    json_decref(want);
    json_decref(j);
    j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    ck_assert_str_eq(hlt_str(j, "state"), "failed");
    ck_assert_str_eq(hlt_str(j, "error"), "No hermes command found (set HERMES_BIN, or put hermes on PATH)");
    json_decref(j);
    free(path);
    finish();
}
END_TEST

/* ---- Hermes update ---- */

#define STATUS_PATH "/api/v1/hermes/update/status"
#define EVENTS_PATH "/api/v1/hermes/update/events"

static json_t *idle_status(void)
{
    return json_pack("{s:s, s:n, s:n, s:n, s:n, s:n, s:n, s:s, s:[], s:n}", "state", "idle", "job_id", "pid", "started_at",
                     "finished_at", "exit_code", "signal", "log_path", "logs/hermes-update.log", "lines", "error");
}

/* Asserts a HermesUpdateStatus's fields and their types; the state. */
static void assert_status(json_t *st, const char *state)
{
    char *dump = json_dumps(st, JSON_COMPACT);
    json_t *keys = without_ok(st);
    hlt_assert_keys(keys, "hermes update status", "state", "job_id", "pid", "started_at", "finished_at", "exit_code", "signal",
                    "log_path", "lines", "error", NULL);
    json_decref(keys);
    ck_assert_msg(strcmp(hlt_str(st, "state"), state) == 0, "state in %s, expected %s", dump, state);
    ck_assert_msg(hlt_matches(hlt_str(st, "job_id"), "^hermes_update_[0-9a-z]+$"), "job_id in %s", dump);
    ck_assert_str_eq(hlt_str(st, "log_path"), "logs/hermes-update.log");
    int64_t started = hlt_iso(st, "started_at");
    if (strcmp(state, "running") == 0)
        ck_assert_msg(json_is_null(json_object_get(st, "finished_at")), "finished_at while running: %s", dump);
    else
        ck_assert_msg(hlt_iso(st, "finished_at") >= started, "finished before it started: %s", dump);
    free(dump);
}

static void assert_lines(json_t *st, const char *const *lines)
{
    json_t *want = json_array();
    for (size_t i = 0; lines[i] != NULL; ++i)
        json_array_append_new(want, json_string(lines[i]));
    assert_json_eq(json_object_get(st, "lines"), want, "the update's lines");
    json_decref(want);
}

/* Polls the status until its state is not running (15 s at most); the body (new reference). */
static json_t *wait_done(const char *path)
{
    long deadline = hlt_now_ms() + 15000;
    for (;;) {
        json_t *j = call("GET", path, NULL);
        if (strcmp(hlt_str(j, "state"), "running") != 0)
            return j;
        json_decref(j);
        ck_assert_msg(hlt_now_ms() < deadline, "%s still running after 15 s", path);
        hlt_sleep_ms(50);
    }
}

static size_t wait_event_state(hltc_sse_t *s, const char *state)
{
    long deadline = hlt_now_ms() + 15000;
    for (;;) {
        for (size_t i = 0; i < s->ev.n; ++i)
            if (s->ev.v[i].json != NULL && strcmp(hlt_str(s->ev.v[i].json, "state"), state) == 0)
                return i;
        ck_assert_msg(hlt_now_ms() < deadline, "no %s event within 15 s: %.2000s", state, s->res.body);
        hltc_sse_pump(s, 100);
    }
}

static void assert_frames(const hltc_sse_t *s, const char *type)
{
    for (size_t i = 0; i < s->ev.n; ++i) {
        const hltc_event_t *e = &s->ev.v[i];
        ck_assert_msg(e->type != NULL && strcmp(e->type, type) == 0, "event type %s", e->type);
        ck_assert_msg(e->json != NULL && json_object_get(e->json, "ok") == NULL, "event data %s", e->data);
        ck_assert_msg(e->id == -1, "a status event with an id: %lld", (long long)e->id);
    }
}

static char *home_file(const char *rel)
{
    char *path = hlt_env_path(&env, 1, rel);
    char *text = hlt_read_file(path, NULL);
    free(path);
    return text;
}

START_TEST(test_hermes_update)
{
    start_hermes(_i);
    json_t *j = call("GET", STATUS_PATH, NULL);
    json_t *idle = idle_status();
    json_t *jj = without_ok(j);
    assert_json_eq(jj, idle, "the idle status");
    json_decref(jj);
    json_decref(j);

    hltc_sse_t s;
    hltc_sse_open(&s, D, P, TOK, EVENTS_PATH, NULL, NULL);
    ck_assert_msg(hltc_sse_wait(&s, 1, 0, 10000), "no first event: %s", s.res.body);
    hltc_sse_assert_head(&s);
    assert_json_eq(s.ev.v[0].json, idle, "the stream's first event");

    json_t *started = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    assert_status(started, "running");
    ck_assert(json_integer_value(json_object_get(started, "pid")) > 0);
    /* one at a time: a second POST answers the running job, still 202 */
    j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    assert_status(j, "running");
    ck_assert_str_eq(hlt_str(j, "job_id"), hlt_str(started, "job_id"));
    json_decref(j);

    size_t last = wait_event_state(&s, "succeeded");
    hltc_sse_pump(&s, 300);
    ck_assert_uint_eq(s.ev.n, last + 1);
    assert_frames(&s, "hermes.update.status");
    static const char *const LINES[] = {"$ hermes update", "noninteractive=1",         "Updating Hermes...",
                                        "step 2",          "Hermes updated to 0.10.0", NULL};
    json_t *final = s.ev.v[last].json;
    assert_status(final, "succeeded");
    assert_lines(final, LINES);
    ck_assert_int_eq(json_integer_value(json_object_get(final, "exit_code")), 0);
    ck_assert(json_is_null(json_object_get(final, "signal")));
    ck_assert(json_is_null(json_object_get(final, "error")));
    ck_assert_str_eq(hlt_str(final, "job_id"), hlt_str(started, "job_id"));
    ck_assert_msg(last >= 2, "%zu events", last + 1);
    j = call("GET", STATUS_PATH, NULL);
    jj = without_ok(j);
    assert_json_eq(jj, final, "the status after the end");
    json_decref(jj);
    json_decref(j);
    /* a reconnect gets the current status first */
    hltc_sse_t r;
    hltc_sse_open(&r, D, P, TOK, EVENTS_PATH, NULL, NULL);
    ck_assert_msg(hltc_sse_wait(&r, 1, 0, 10000), "no status on a reconnect: %s", r.res.body);
    assert_frames(&r, "hermes.update.status");
    assert_json_eq(r.ev.v[0].json, final, "the status a reconnect gets");
    hltc_sse_close(&r);
    /* the log and the persisted state */
    char *log = home_file("logs/hermes-update.log");
    ck_assert_msg(log != NULL && strstr(log, "=== hermes update started ") != NULL && strstr(log, "\nstep 2\n") != NULL &&
                      strstr(log, "=== hermes update finished ") != NULL && strstr(log, "exit=0 signal=null ===") != NULL,
                  "the log: %s", log);
    free(log);
    char *state = home_file("run/hermes-update-state.json");
    ck_assert_msg(state != NULL && strstr(state, "\"state\": \"succeeded\"") != NULL, "the state file: %s", state);
    free(state);

    /* a failure: exit 3, its last 240 lines, a long one cut */
    set_mode("update-mode", "fail");
    j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    ck_assert_str_ne(hlt_str(j, "job_id"), hlt_str(started, "job_id"));
    json_decref(j);
    j = wait_done(STATUS_PATH);
    assert_status(j, "failed");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 3);
    ck_assert_str_eq(hlt_str(j, "error"), "hermes update exited with code 3");
    json_t *lines = json_object_get(j, "lines");
    ck_assert_uint_eq(json_array_size(lines), 240);
    /* 253 lines: the command, noninteractive, 250 numbered, the long one, the error: the first 14 dropped */
    ck_assert_str_eq(json_string_value(json_array_get(lines, 0)), "line 13");
    const char *longl = json_string_value(json_array_get(lines, 238));
    ck_assert_uint_eq(strlen(longl), 1203);
    ck_assert_msg(strncmp(longl + 1200, "...", 3) == 0 && longl[0] == 'x' && longl[1199] == 'x', "%.20s", longl);
    ck_assert_str_eq(json_string_value(json_array_get(lines, 239)), "error: pip failed");
    json_t *failed = without_ok(j);
    json_decref(j);
    /* the stream saw it */
    wait_event_state(&s, "failed");
    while (strcmp(hlt_str(s.ev.v[s.ev.n - 1].json, "state"), "failed") != 0)
        hltc_sse_pump(&s, 100);
    assert_frames(&s, "hermes.update.status");
    assert_json_eq(s.ev.v[s.ev.n - 1].json, failed, "the failure's last event");
    hltc_sse_close(&s);

    json_decref(failed);
    json_decref(started);
    json_decref(idle);
    finish();
}
END_TEST

/* A stop while an update runs: the update is stopped and failed; the restarted daemon says so, with its lines. */
START_TEST(test_hermes_update_restart)
{
    start_hermes(0);
    set_mode("update-mode", "slow");
    json_t *j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    json_int_t pid = json_integer_value(json_object_get(j, "pid"));
    char *job = hl_strdup(hlt_str(j, "job_id"));
    json_decref(j);
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        j = call("GET", STATUS_PATH, NULL);
        int seen = json_array_size(json_object_get(j, "lines")) >= 3;
        json_decref(j);
        if (seen)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "the slow update printed nothing");
        hlt_sleep_ms(50);
    }
    const char *msg = hlt_daemon_stop(D);
    ck_assert_msg(msg == NULL, "%s", msg);
    ck_assert_msg(kill((pid_t)pid, 0) != 0, "hermes update (pid %lld) outlived the daemon", (long long)pid);
    hlt_daemon_dispose(D);
    const char *const extra[] = {hermes_var, NULL};
    restart_with(extra);
    j = call("GET", STATUS_PATH, NULL);
    assert_status(j, "failed");
    ck_assert_str_eq(hlt_str(j, "job_id"), job);
    ck_assert_str_eq(hlt_str(j, "error"), "HermesLink stopped while hermes update was running, so the update was stopped before "
                                          "it finished. See logs/hermes-update.log, then run the update again.");
    ck_assert_str_eq(hlt_str(j, "signal"), "SIGTERM");
    static const char *const LINES[] = {"$ hermes update", "noninteractive=1", "starting a slow update", NULL};
    assert_lines(j, LINES);
    json_decref(j);

    /* a daemon killed outright: the update (in its own process group) goes on, the next daemon reports it lost */
    j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    pid = json_integer_value(json_object_get(j, "pid"));
    ck_assert_str_ne(hlt_str(j, "job_id"), job);
    json_decref(j);
    hltc_kill9(D);
    hlt_daemon_dispose(D);
    ck_assert_msg(kill((pid_t)pid, 0) == 0, "the orphaned update is gone");
    restart_with(extra);
    j = call("GET", STATUS_PATH, NULL);
    assert_status(j, "failed");
    char *want = hl_asprintf("HermesLink stopped before hermes update finished, so its outcome is unknown; the process (pid %lld) "
                             "may still be running. See logs/hermes-update.log.",
                             (long long)pid);
    ck_assert_str_eq(hlt_str(j, "error"), want);
    free(want);
    json_decref(j);
    kill(-(pid_t)pid, SIGKILL);
    /* a new update may start */
    set_mode("update-mode", "ok");
    j = call_status("POST", "/api/v1/hermes/update", NULL, 202);
    assert_status(j, "running");
    json_decref(j);
    j = wait_done(STATUS_PATH);
    assert_status(j, "succeeded");
    json_decref(j);
    free(job);
    finish();
}
END_TEST

/* ---- Link self-update ---- */

#define LINK_STATUS "/api/v1/link/update/status"
#define LINK_EVENTS "/api/v1/link/update/events"

/* The test's release key pair and the feed: <env>/feed served by python3 -m http.server on 127.0.0.1. */
static EVP_PKEY *release_key, *other_key;
static char *key_b64;
static pid_t feed_pid;
static int feed_port;
static char *feed_dir, *app_bin, *binary_sha;
static size_t binary_size;

static char *b64(const unsigned char *data, size_t len)
{
    char *out = hl_malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert(k != NULL);
    return k;
}

static char *sign_b64(EVP_PKEY *key, const char *text)
{
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ck_assert(EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1);
    ck_assert(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)text, strlen(text)) == 1);
    EVP_MD_CTX_free(md);
    return b64(sig, siglen);
}

static const char *platform(void)
{
    static char p[128];
    struct utsname u;
    ck_assert(uname(&u) == 0);
    snprintf(p, sizeof(p), "linux-%s", u.machine);
    return p;
}

/* Writes <feed>/manifest.json: `file` served as the binary of `version`, with `size` and `sha`, signed by `key`. */
static void write_manifest(const char *version, const char *file, size_t size, const char *sha, EVP_PKEY *key)
{
    char *text = hl_asprintf("hermeslink-release-v1\n%s\n%s\n%zu\n%s\n", version, platform(), size, sha);
    char *sig = sign_b64(key, text);
    json_t *m = json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:I, s:s}}}", "version", version, "published_at", "2026-12-01T00:00:00Z",
                          "platforms", platform(), "url", hltc_fmt("http://127.0.0.1:%d/%s", feed_port, file), "sha256", sha,
                          "size", (json_int_t)size, "signature", sig);
    char *dump = json_dumps(m, JSON_INDENT(2));
    char *path = hl_asprintf("%s/manifest.json", feed_dir);
    hlt_write_file(path, dump);
    free(path);
    free(dump);
    json_decref(m);
    free(sig);
    free(text);
}

static void copy_file(const char *from, const char *to, size_t max, mode_t mode)
{
    size_t len = 0;
    char *data = hlt_read_file(from, &len);
    ck_assert_msg(data != NULL, "cannot read %s", from);
    if (len > max)
        len = max;
    FILE *f = fopen(to, "wb");
    ck_assert(f != NULL);
    ck_assert(fwrite(data, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
    ck_assert(chmod(to, mode) == 0);
    free(data);
}

/* A copy of the daemon's binary the daemon runs from (never the build output), the feed with the same bytes as the
 * release "99.0.0" (and a truncated copy), and the feed's server. */
static void prepare_feed(void)
{
    hlt_env_init(&env);
    release_key = new_key();
    other_key = new_key();
    unsigned char raw[32];
    size_t rawlen = sizeof(raw);
    ck_assert(EVP_PKEY_get_raw_public_key(release_key, raw, &rawlen) == 1 && rawlen == 32);
    key_b64 = b64(raw, 32);
    char *app = hlt_env_path(&env, 0, "app");
    hlth_mkdirs(app);
    app_bin = hl_asprintf("%s/hermeslink", app);
    copy_file(hlt_binary(), app_bin, SIZE_MAX, 0755);
    free(app);
    ck_assert(setenv("HL_BINARY", app_bin, 1) == 0);
    feed_dir = hlt_env_path(&env, 0, "feed");
    hlth_mkdirs(feed_dir);
    char *release = hl_asprintf("%s/hermeslink-99", feed_dir);
    copy_file(app_bin, release, SIZE_MAX, 0644);
    char *data = hlt_read_file(release, &binary_size);
    char hex[65];
    binary_sha = hl_strdup(hl_sha256_hex(data, binary_size, hex));
    free(data);
    char *shortf = hl_asprintf("%s/hermeslink-short", feed_dir);
    copy_file(app_bin, shortf, binary_size / 2, 0644);
    free(shortf);
    free(release);

    feed_port = hlt_free_port();
    char port[16];
    snprintf(port, sizeof(port), "%d", feed_port);
    char *python = hlt_which("python3");
    ck_assert_msg(python != NULL, "python3 is needed for the feed");
    char *out = hlt_env_path(&env, 0, "feed.out"), *err = hlt_env_path(&env, 0, "feed.err");
    char *argv[] = {python, "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", feed_dir, NULL};
    feed_pid = hlt_spawn(argv, out, err);
    free(out);
    free(err);
    free(python);
    write_manifest("99.0.0", "hermeslink-99", binary_size, binary_sha, release_key);
    /* wait until it serves */
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, hltc_fmt("http://127.0.0.1:%d/manifest.json", feed_port));
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        if (rc == CURLE_OK)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "the feed server did not start");
        hlt_sleep_ms(100);
    }
}

static void start_link(int i, const char *url)
{
    P = PROTOS[i];
    char *config = hl_asprintf("{\"updateUrl\":\"%s\",\"updatePublicKey\":\"%s\"}", url, key_b64);
    hlt_env_write_config(&env, config);
    free(config);
    start_with(NULL);
}

static void finish_link(void)
{
    if (feed_pid > 0) {
        kill(feed_pid, SIGTERM);
        int status;
        if (!hlt_wait_exit(feed_pid, &status, 5000))
            kill(feed_pid, SIGKILL), hlt_wait_exit(feed_pid, &status, 5000);
        feed_pid = 0;
    }
    finish();
    EVP_PKEY_free(release_key);
    EVP_PKEY_free(other_key);
    free(key_b64);
    free(feed_dir);
    free(app_bin);
    free(binary_sha);
    unsetenv("HL_BINARY");
}

static const char *manifest_url(void)
{
    return hltc_fmt("http://127.0.0.1:%d/manifest.json", feed_port);
}

START_TEST(test_link_check)
{
    prepare_feed();
    start_link(_i, manifest_url());
    /* the daemon reads the feed as it starts: system/status learns of the update */
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        hlt_response_t res;
        hlt_get(D, P, "/api/v1/system/status", &res);
        const char *v = json_string_value(json_object_get(res.json, "updateAvailable"));
        int seen = v != NULL && strcmp(v, "99.0.0") == 0;
        hlt_response_free(&res);
        if (seen)
            break;
        ck_assert_msg(hlt_now_ms() < deadline, "system/status never showed updateAvailable 99.0.0");
        hlt_sleep_ms(100);
    }
    hlt_response_t res;
    request("GET", "/api/v1/system/version", NULL, &res);
    const char *version = hl_strdup(hlt_str(res.json, "version"));
    hlt_response_free(&res);
    json_t *j = call("GET", "/api/v1/link/update-check", NULL);
    json_t *manual = json_object_get(j, "manual");
    const char *cmd = hlt_str(manual, "command");
    ck_assert_msg(strstr(cmd, hltc_fmt("curl -fL -o hermeslink.new 'http://127.0.0.1:%d/hermeslink-99'", feed_port)) != NULL &&
                      strstr(cmd, binary_sha) != NULL && strstr(cmd, "sha256sum -c") != NULL,
                  "manual command %s", cmd);
    json_t *want = json_pack("{s:b, s:{s:s, s:s}, s:{s:s, s:n, s:s, s:n, s:s}, s:s, s:b, s:b, s:b, s:s, s:n, s:{s:s, s:s, s:s}}",
                             "ok", 1, "local", "version", version, "raw", version, "remote", "current_version", version,
                             "min_safe_version", "target_version", "99.0.0", "release_url", "published_at", "2026-12-01T00:00:00Z",
                             "state", "update_available", "update_available", 1, "unsafe", 0, "blocked", 0, "check_state", "cached",
                             "issue", "manual", "command", cmd, "package", "hermeslink", "version", "99.0.0");
    assert_json_eq(j, want, "link update-check");
    json_decref(want);
    json_decref(j);
    j = call("GET", "/api/v1/system/updates", NULL);
    ck_assert_str_eq(hlt_str(j, "availableVersion"), "99.0.0");
    ck_assert_str_eq(hlt_str(j, "currentVersion"), version);
    ck_assert(json_is_false(json_object_get(j, "dismissed")));
    json_decref(j);
    char *state = home_file("link-state.json");
    ck_assert_msg(state != NULL && strstr(state, "\"updateAvailable\": \"99.0.0\"") != NULL, "link-state.json: %s", state);
    free(state);
    free((char *)version);
    finish_link();
}
END_TEST

/* The binary: same inode and no other file in its folder (nothing replaced, nothing left behind). */
static void assert_untouched(ino_t ino)
{
    struct stat st;
    ck_assert(stat(app_bin, &st) == 0);
    ck_assert_msg(st.st_ino == ino, "the binary was replaced");
    char *dir = hlt_env_path(&env, 0, "app");
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "hermeslink") == 0,
                      "left in the binary's folder: %s", e->d_name);
    closedir(d);
    free(dir);
}

static json_t *link_update(const char *body, const char *state)
{
    json_t *j = call_status("POST", "/api/v1/link/update", body, 202);
    json_t *keys = without_ok(j);
    hlt_assert_keys(keys, "link update status", "state", "job_id", "pid", "target_version", "started_at", "finished_at",
                    "exit_code", "signal", "log_path", "lines", "error", "manual_command", NULL);
    json_decref(keys);
    ck_assert_msg(hlt_matches(hlt_str(j, "job_id"), "^link_update_[0-9a-z]+$"), "job_id %s", hlt_str(j, "job_id"));
    ck_assert_str_eq(hlt_str(j, "log_path"), "logs/link-update.log");
    json_decref(j);
    j = wait_done(LINK_STATUS);
    ck_assert_msg(strcmp(hlt_str(j, "state"), state) == 0, "state %s, expected %s: %s", hlt_str(j, "state"), state,
                  json_dumps(j, JSON_COMPACT));
    return j;
}

static void assert_failed(json_t *j, const char *error)
{
    ck_assert_str_eq(hlt_str(j, "error"), error);
    ck_assert_msg(json_is_string(json_object_get(j, "manual_command")), "no manual command");
    json_t *lines = json_object_get(j, "lines");
    ck_assert_str_eq(json_string_value(json_array_get(lines, json_array_size(lines) - 1)), error);
}

/* Polls the Link update status through a restart of the daemon (requests may fail meanwhile) until `state` (30 s). */
static json_t *wait_restarted(const char *state)
{
    long deadline = hlt_now_ms() + 30000;
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOK);
    const char *hdrs[] = {auth, NULL};
    for (;;) {
        hlt_response_t res;
        hlt_request_t req = {.path = LINK_STATUS, .headers = hdrs, .timeout_ms = 2000};
        hlt_request(D, P, &req, &res);
        if (res.rc == CURLE_OK && res.status == 200 && res.json != NULL && strcmp(hlt_str(res.json, "state"), state) == 0) {
            json_t *j = json_incref(res.json);
            hlt_response_free(&res);
            return j;
        }
        char last[300];
        snprintf(last, sizeof(last), "%ld %.200s", res.status, res.body != NULL ? res.body : "");
        hlt_response_free(&res);
        ck_assert_msg(hlt_now_ms() < deadline, "the update never reached %s: %s", state, last);
        hlt_sleep_ms(200);
    }
}

START_TEST(test_link_update)
{
    prepare_feed();
    start_link(_i, manifest_url());
    hlt_response_t vres;
    request("GET", "/api/v1/system/version", NULL, &vres);
    char *version = hl_strdup(hlt_str(vres.json, "version"));
    hlt_response_free(&vres);
    char *dump;
    struct stat st0;
    ck_assert(stat(app_bin, &st0) == 0);

    /* a manifest signed by another key */
    write_manifest("99.0.0", "hermeslink-99", binary_size, binary_sha, other_key);
    json_t *j = link_update(NULL, "failed");
    assert_failed(j, "The release manifest's signature does not verify with the release key");
    json_decref(j);
    assert_untouched(st0.st_ino);
    /* signed, but the hash is not the binary's */
    char wrong[65];
    memset(wrong, 'a', 64);
    wrong[64] = '\0';
    write_manifest("99.0.0", "hermeslink-99", binary_size, wrong, release_key);
    j = link_update("{\"target_version\":\"99.0.0\"}", "failed");
    assert_failed(j, "The download's SHA-256 does not match the signed release manifest; nothing was replaced");
    ck_assert_str_eq(hlt_str(j, "target_version"), "99.0.0");
    json_decref(j);
    assert_untouched(st0.st_ino);
    /* a truncated download */
    write_manifest("99.0.0", "hermeslink-short", binary_size, binary_sha, release_key);
    j = link_update(NULL, "failed");
    char *e = hl_asprintf("The download is %zu bytes, not the %zu the release manifest says (truncated?); nothing was replaced",
                          binary_size / 2, binary_size);
    assert_failed(j, e);
    free(e);
    json_decref(j);
    assert_untouched(st0.st_ino);
    /* another version than asked for */
    write_manifest("99.0.0", "hermeslink-99", binary_size, binary_sha, release_key);
    j = link_update("{\"targetVersion\":\"98.0.0\"}", "failed");
    assert_failed(j, "The release feed offers 99.0.0, not 98.0.0");
    json_decref(j);
    assert_untouched(st0.st_ino);

    /* the good one, followed on the stream until the daemon restarts itself */
    hltc_sse_t s;
    hltc_sse_open(&s, D, P, TOK, LINK_EVENTS, NULL, NULL);
    ck_assert_msg(hltc_sse_wait(&s, 1, 0, 10000), "no first event: %s", s.res.body);
    ck_assert_str_eq(hlt_str(s.ev.v[0].json, "state"), "failed");
    pid_t pid = D->pid;
    json_decref(call_status("POST", "/api/v1/link/update", "{\"target_version\":\"99.0.0\"}", 202));
    size_t last = wait_event_state(&s, "restart_required");
    assert_frames(&s, "link.update.status");
    dump = json_dumps(json_object_get(s.ev.v[last].json, "lines"), JSON_COMPACT);
    ck_assert_msg(strstr(dump, "\"Restarting HermesLink with the new binary\"") != NULL, "lines %s", dump);
    free(dump);
    hltc_sse_close(&s);
    /* the same process (exec keeps the pid) answers again on the same port, from the new file */
    j = wait_restarted("succeeded");
    ck_assert_int_eq(D->pid, pid);
    ck_assert(hlt_daemon_alive(D));
    ck_assert(json_is_null(json_object_get(j, "error")));
    ck_assert_str_eq(hlt_str(j, "target_version"), "99.0.0");
    json_t *lines = json_object_get(j, "lines");
    dump = json_dumps(lines, JSON_COMPACT);
    const char *self = hltc_fmt("\"HermesLink restarted from the new binary (it reports version %s)\"", version);
    ck_assert_msg(strstr(dump, self) != NULL, "lines %s", dump);
    ck_assert_msg(strstr(dump, hltc_fmt("\"Downloading hermeslink 99.0.0 for %s (%zu bytes)\"", platform(), binary_size)) != NULL &&
                      strstr(dump, "\"Size, SHA-256 and signature verified\"") != NULL &&
                      strstr(dump, "\"Installed hermeslink 99.0.0; the previous binary is kept as hermeslink.previous\"") != NULL &&
                      strstr(dump, "(10%)") != NULL,
                  "lines %s", dump);
    free(dump);
    json_decref(j);
    /* swapped: a new file with the old mode, the old one kept beside it */
    struct stat st1, stp;
    ck_assert(stat(app_bin, &st1) == 0);
    ck_assert_msg(st1.st_ino != st0.st_ino, "the binary was not replaced");
    ck_assert_int_eq(st1.st_mode & 07777, 0755);
    ck_assert_int_eq((long long)st1.st_size, (long long)binary_size);
    char *previous = hl_asprintf("%s.previous", app_bin);
    ck_assert(stat(previous, &stp) == 0);
    ck_assert_msg(stp.st_ino == st0.st_ino, "the previous binary is not the old one");
    free(previous);
    char *state = home_file("run/link-update-state.json");
    ck_assert_msg(state != NULL && strstr(state, "\"state\": \"succeeded\"") != NULL, "state file %s", state);
    free(state);
    char *pending = hlt_env_path(&env, 1, "run/link-update-pending.json");
    ck_assert_msg(access(pending, F_OK) != 0, "the pending marker is left");
    free(pending);
    free(version);
    finish_link();
}
END_TEST

/* A signed release that does not start: the watchdog (the previous binary) puts the old file back and starts it again. */
START_TEST(test_link_rollback)
{
    prepare_feed();
    char *bad = hl_asprintf("%s/hermeslink-bad", feed_dir);
    static const char BAD[] = "#!/bin/sh\necho 'this build does not start' >&2\nexit 1\n";
    hlt_write_file(bad, BAD);
    char hex[65];
    write_manifest("99.0.0", "hermeslink-bad", sizeof(BAD) - 1, hl_sha256_hex(BAD, sizeof(BAD) - 1, hex), release_key);
    free(bad);
    start_link(_i, manifest_url());
    struct stat st0;
    ck_assert(stat(app_bin, &st0) == 0);
    json_decref(call_status("POST", "/api/v1/link/update", NULL, 202));
    /* the daemon re-executes the bad file, which exits at once */
    int status = 0;
    ck_assert_msg(hlt_wait_exit(D->pid, &status, 20000), "the daemon did not end");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    D->pid = 0;
    /* the old binary answers again on the same port, in a process of its own */
    json_t *j = wait_restarted("failed");
    ck_assert_str_eq(hlt_str(j, "error"), "The new version ended after the restart without answering; the previous binary was "
                                          "put back and started again");
    ck_assert_str_eq(hlt_str(j, "target_version"), "99.0.0");
    json_decref(j);
    struct stat st1;
    ck_assert(stat(app_bin, &st1) == 0);
    ck_assert_msg(st1.st_ino == st0.st_ino, "the old binary was not put back");
    char *previous = hl_asprintf("%s.previous", app_bin);
    ck_assert_msg(access(previous, F_OK) != 0, "hermeslink.previous is left");
    free(previous);
    /* stop the restarted daemon (not our child): by its pid file */
    char *pidtext = home_file("hermeslink.pid");
    ck_assert_msg(pidtext != NULL, "no pid file");
    long restarted = strtol(pidtext, NULL, 10);
    free(pidtext);
    ck_assert(restarted > 0);
    ck_assert(kill((pid_t)restarted, SIGTERM) == 0);
    long deadline = hlt_now_ms() + 15000;
    while (kill((pid_t)restarted, 0) == 0) {
        ck_assert_msg(hlt_now_ms() < deadline, "the restarted daemon did not stop");
        hlt_sleep_ms(50);
    }
    char *log = home_file("logs/daemon.log");
    ck_assert_msg(log == NULL || strstr(log, "ERROR: AddressSanitizer") == NULL, "daemon.log: %.2000s", log);
    free(log);
    hlt_daemon_dispose(D);
    ctx.started = 0;
    hlt_device_free(&ctx.dev);
    if (feed_pid > 0) {
        kill(feed_pid, SIGTERM);
        hlt_wait_exit(feed_pid, &status, 5000);
        feed_pid = 0;
    }
    EVP_PKEY_free(release_key);
    EVP_PKEY_free(other_key);
    free(key_b64);
    free(feed_dir);
    free(app_bin);
    free(binary_sha);
    unsetenv("HL_BINARY");
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_link_feed_offline)
{
    P = HLT_H1;
    hlt_env_init(&env);
    start_with(NULL);
    /* no feed configured */
    json_t *j = call("GET", "/api/v1/link/update-check", NULL);
    ck_assert_str_eq(hlt_str(j, "check_state"), "unavailable");
    ck_assert_str_eq(hlt_str(j, "issue"), "No release feed is configured (hermeslink config set update-url <url>)");
    ck_assert(json_is_null(json_object_get(j, "remote")));
    ck_assert_str_eq(hlt_str(j, "state"), "current");
    json_decref(j);
    j = call_status("POST", "/api/v1/link/update", NULL, 202);
    ck_assert_str_eq(hlt_str(j, "state"), "failed");
    ck_assert_str_eq(hlt_str(j, "error"), "No release feed is configured (hermeslink config set update-url <url>)");
    json_decref(j);
    hlt_assert_stop_clean(D);
    /* a feed nobody serves */
    hlt_cli_result_t cli;
    char *url = hl_asprintf("http://127.0.0.1:%d/manifest.json", hlt_free_port());
    hlt_cli(&env, &cli, "config", "set", "update-url", url, NULL);
    ck_assert_int_eq(cli.exit_code, 0);
    ck_assert_msg(strstr(cli.out, "Update URL set to ") != NULL, "%s", cli.out);
    hlt_cli_free(&cli);
    hlt_cli(&env, &cli, "config", "set", "update-public-key", "not a key", NULL);
    ck_assert_int_eq(cli.exit_code, 1);
    hlt_cli_free(&cli);
    free(url);
    restart_with(NULL);
    j = call("GET", "/api/v1/link/update-check", NULL);
    ck_assert_str_eq(hlt_str(j, "check_state"), "unavailable");
    ck_assert_str_eq(hlt_str(j, "issue"), "The release feed could not be reached (Couldn't connect to server)");
    json_decref(j);
    j = call_status("POST", "/api/v1/link/update", NULL, 202);
    json_decref(j);
    j = wait_done(LINK_STATUS);
    ck_assert_str_eq(hlt_str(j, "state"), "failed");
    ck_assert_str_eq(hlt_str(j, "error"),
                     "No release key is configured: this build has none, and config updatePublicKey is not set");
    json_decref(j);
    finish();
}
END_TEST

Suite *suite_updates(void)
{
    Suite *s = suite_create("updates");
    TCase *tc = tcase_create("hermes");
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, test_hermes_check, 0, 3);
    tcase_add_loop_test(tc, test_hermes_check_without_hermes, 0, 1);
    tcase_add_loop_test(tc, test_hermes_update, 0, 3);
    tcase_add_test(tc, test_hermes_update_restart);
    suite_add_tcase(s, tc);
    tc = tcase_create("link");
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(tc, test_link_check, 0, 3);
    tcase_add_loop_test(tc, test_link_update, 2, 3);
    tcase_add_test(tc, test_link_feed_offline);
    tcase_add_loop_test(tc, test_link_rollback, 0, 1);
    suite_add_tcase(s, tc);
    return s;
}
