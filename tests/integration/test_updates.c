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
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/common.h"

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
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOK);
    const char *hdrs[] = {auth, body != NULL ? "Content-Type: application/json" : NULL, NULL};
    hlt_request_t req = {.method = method,
                         .path = path,
                         .headers = hdrs,
                         .body = body,
                         .body_len = body != NULL ? strlen(body) : 0,
                         .timeout_ms = 30000};
    CURL *c = hlt_easy_new(D, P, &req, res);
    hlt_easy_finish(c, curl_easy_perform(c), res);
    ck_assert_msg(res->rc == CURLE_OK, "%s %s over %s: %s (%s)", method, path, hlt_proto_name(P), curl_easy_strerror(res->rc),
                  res->errbuf);
    ck_assert_msg(res->http_version == hlt_proto_version(P), "%s %s over %s: curl HTTP version %ld", method, path,
                  hlt_proto_name(P), res->http_version);
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
    hlt_response_t res;
    request(method, path, body, &res);
    if (res.status != status)
        ck_abort_msg("%s %s over %s: expected %ld %s, got %ld: %.500s", method, path, hlt_proto_name(P), status, code, res.status,
                     res.body);
    hlt_assert_error(D, &res, status, code);
    hlt_response_free(&res);
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
    return s;
}
