/*
 * The command line (spec/CLI.md, as the issue adapts it): start/status/stop/restart of a daemonized server, one daemon per
 * home, status exit codes (0 running, 3 stopped, 1 stale pid file), config get/set, version, logs, and a bad config.json.
 *
 * Each test process makes itself a child subreaper, so a daemon that `hermeslink start` detached is re-parented to it:
 * the test can then reap it and check its exit status, and kill it (by its PID) if the test fails half-way.
 */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hl/common.h"

/* ---- daemons detached by `hermeslink start` ---- */

#define MAX_DETACHED 8
static pid_t detached[MAX_DETACHED];
static size_t num_detached;

static void kill_detached(void)
{
    for (size_t i = 0; i < num_detached; ++i) {
        int status;
        if (detached[i] > 0 && waitpid(detached[i], &status, WNOHANG) == 0) {
            kill(detached[i], SIGKILL);
            waitpid(detached[i], &status, 0);
        }
        detached[i] = 0;
    }
}

static void setup(void)
{
    /* checked fixture: runs in the forked test process */
    ck_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    num_detached = 0;
    atexit(kill_detached); /* a failed assertion exits the test process without running teardowns */
}

static void track(pid_t pid)
{
    ck_assert(num_detached < MAX_DETACHED);
    detached[num_detached++] = pid;
}

/* Waits until a detached daemon has exited and returns its wait status; asserts it did within timeout_ms. */
static int reap(pid_t pid, long timeout_ms)
{
    int status;
    ck_assert_msg(hlt_wait_exit(pid, &status, timeout_ms), "daemon %d still runs %ld ms after `stop` returned", (int)pid,
                  timeout_ms);
    for (size_t i = 0; i < num_detached; ++i)
        if (detached[i] == pid)
            detached[i] = 0;
    return status;
}

/* ---- output helpers ---- */

static int matches(const char *text, const char *pattern)
{
    regex_t re;
    ck_assert(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) == 0);
    int r = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return r;
}

#define assert_match(text, pattern) ck_assert_msg(matches(text, pattern), "output does not match /%s/:\n%s", pattern, text)

/* The integer after `prefix` on some line of text, or -1. */
static long number_after(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    return p != NULL ? strtol(p + strlen(prefix), NULL, 10) : -1;
}

static void assert_exit(const hlt_cli_result_t *r, int code, const char *what)
{
    ck_assert_msg(r->exit_code == code, "`hermeslink %s` exited %d, expected %d\nstdout: %s\nstderr: %s", what, r->exit_code, code,
                  r->out, r->err);
}

static void assert_daemon_log_clean(hlt_env_t *env)
{
    char *path = hlt_env_path(env, 1, "logs/daemon.log");
    const char *report = hlt_sanitizer_report(path);
    free(path);
    ck_assert_msg(report == NULL, "%s", report);
}

/* A daemon handle for the HTTP helpers, pointing at a daemon that the CLI started. */
static hlt_daemon_t remote(hlt_env_t *env, int port, int tls_port)
{
    hlt_daemon_t d = {.env = env, .port = port, .tls_port = tls_port};
    return d;
}

/* Starts a detached daemon with `hermeslink start`; returns its pid and ports. */
static pid_t cli_start(hlt_env_t *env, int *port, int *tls_port)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "start", "--port", "auto", "--tls-port", "auto", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 0, "start");
    pid_t pid = (pid_t)number_after(r.out, "Hermes Link started (PID ");
    ck_assert_msg(pid > 0, "no PID in: %s", r.out);
    track(pid);
    assert_match(r.out, "^Hermes Link started \\(PID [0-9]+\\)\\.$");
    assert_match(r.out, "^Local: +http://127\\.0\\.0\\.1:[0-9]+$");
    assert_match(r.out, "^TLS: +https://127\\.0\\.0\\.1:[0-9]+$");
    *port = (int)number_after(r.out, "http://127.0.0.1:");
    *tls_port = (int)number_after(r.out, "https://127.0.0.1:");
    ck_assert(*port > 0 && *tls_port > 0);
    hlt_cli_free(&r);
    return pid;
}

static void cli_stop(hlt_env_t *env, pid_t pid)
{
    hlt_cli_result_t r;
    /* how quickly it returns is measured with `time`, never asserted (a loaded machine makes that noise) */
    hlt_cli(env, &r, "stop", NULL);
    assert_exit(&r, 0, "stop");
    ck_assert_str_eq(r.out, "Hermes Link stopped.\n");
    hlt_cli_free(&r);
    /* `stop` waits for the daemon to exit (it watches the pid file lock, which goes just before the process does: allow
     * for the sanitizer's exit-time leak scan) */
    int status = reap(pid, 1000);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the stopped daemon ended with status 0x%x", status);
    assert_daemon_log_clean(env);
}

/* ---- tests ---- */

START_TEST(test_version_and_help)
{
    hlt_env_t env;
    hlt_env_init(&env);
    static const char *const forms[][3] = {
        {"version", NULL}, {"--version", NULL}, {"-v", NULL}, {"status", "--version"}, {"config", "-v"}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); ++i) {
        hlt_cli_result_t r;
        hlt_cli(&env, &r, forms[i][0], forms[i][1], NULL);
        assert_exit(&r, 0, forms[i][0]);
        ck_assert_str_eq(r.out, HL_VERSION "\n");
        hlt_cli_free(&r);
    }
    hlt_cli_result_t r;
    /* the git revision only on request (spec/CLI.md §2.10 keeps `version` to "<version>\n") */
    hlt_cli(&env, &r, "version", "--verbose", NULL);
    assert_exit(&r, 0, "version --verbose");
    assert_match(r.out, "^" HL_VERSION " \\(git [A-Za-z0-9._+-]+\\)$");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "--help", NULL);
    assert_exit(&r, 0, "--help");
    assert_match(r.out, "^Hermes Link " HL_VERSION " ");
    assert_match(r.out, "^Usage: hermeslink <command> \\[options\\]$");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, NULL);
    assert_exit(&r, 0, "(no command)");
    assert_match(r.out, "^Usage: hermeslink");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "frobnicate", NULL);
    assert_exit(&r, 1, "frobnicate");
    ck_assert_str_eq(r.err, "Unknown command: frobnicate\n");
    assert_match(r.out, "^Usage: hermeslink");
    hlt_cli_free(&r);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_lifecycle)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;

    hlt_cli(&env, &r, "status", NULL);
    assert_exit(&r, 3, "status (stopped)");
    assert_match(r.out, "^Hermes Link " HL_VERSION "$");
    assert_match(r.out, "^Revision: +git [A-Za-z0-9._+-]+$");
    assert_match(r.out, "^Daemon: +stopped$");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "stop", NULL);
    assert_exit(&r, 0, "stop (not running)");
    ck_assert_str_eq(r.out, "Hermes Link is not running.\n");
    hlt_cli_free(&r);

    int port, tls_port;
    pid_t pid = cli_start(&env, &port, &tls_port);
    /* the pid file names the serving process */
    char *pidfile = hlt_env_path(&env, 1, "hermeslink.pid");
    char *text = hlt_read_file(pidfile, NULL);
    ck_assert_msg(text != NULL && strtol(text, NULL, 10) == pid, "hermeslink.pid holds %s, expected %d", text, (int)pid);
    free(text);
    struct stat st;
    ck_assert(stat(env.home, &st) == 0);
    ck_assert_msg((st.st_mode & 0777) == 0700, "home mode %o", st.st_mode & 0777);

    /* it serves, over both listeners */
    hlt_daemon_t d = remote(&env, port, tls_port);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hlt_get(&d, HLT_H2_TLS, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "port")), port);
    const char *link_id = json_string_value(json_object_get(res.json, "linkId"));
    ck_assert(link_id != NULL);

    hlt_cli(&env, &r, "status", NULL);
    assert_exit(&r, 0, "status (running)");
    ck_assert_int_eq(number_after(r.out, "Daemon:    running (PID "), pid);
    ck_assert_int_eq(number_after(r.out, "HTTP:      reachable on port "), port);
    ck_assert_msg(strstr(r.out, link_id) != NULL, "status does not show link id %s:\n%s", link_id, r.out);
    assert_match(r.out, "^Link ID: +link_[0-9a-f]+$");
    hlt_cli_free(&r);
    hlt_response_free(&res);

    /* a second start is a no-op */
    hlt_cli(&env, &r, "start", "--port", "auto", "--tls-port", "auto", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 0, "start (running)");
    ck_assert_int_eq(number_after(r.out, "Hermes Link is already running (PID "), pid);
    hlt_cli_free(&r);

    /* restart: a new process that serves */
    hlt_cli(&env, &r, "restart", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 0, "restart");
    assert_match(r.out, "^Hermes Link stopped\\.$");
    pid_t pid2 = (pid_t)number_after(r.out, "Hermes Link started (PID ");
    int port2 = (int)number_after(r.out, "http://127.0.0.1:");
    ck_assert_msg(pid2 > 0 && pid2 != pid && port2 > 0, "restart output:\n%s", r.out);
    track(pid2);
    hlt_cli_free(&r);
    int status = reap(pid, 5000);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the restarted daemon ended with status 0x%x", status);
    d = remote(&env, port2, -1);
    hlt_get(&d, HLT_H2C, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);

    cli_stop(&env, pid2);
    ck_assert_msg(access(pidfile, F_OK) != 0, "hermeslink.pid left behind by a stopped daemon");
    hlt_cli(&env, &r, "status", NULL);
    assert_exit(&r, 3, "status (after stop)");
    assert_match(r.out, "^Daemon: +stopped$");
    hlt_cli_free(&r);
    free(pidfile);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_stale_pid_file)
{
    hlt_env_t env;
    hlt_env_init(&env);
    /* a pid that is certainly dead: a child we reaped ourselves */
    pid_t dead = fork();
    ck_assert(dead >= 0);
    if (dead == 0)
        _exit(0);
    int status;
    ck_assert(waitpid(dead, &status, 0) == dead);
    char *pidfile = hlt_env_path(&env, 1, "hermeslink.pid");
    char line[32];
    snprintf(line, sizeof(line), "%d\n", (int)dead);
    hlt_write_file(pidfile, line);

    hlt_cli_result_t r;
    hlt_cli(&env, &r, "status", NULL);
    assert_exit(&r, 1, "status (stale pid file)");
    assert_match(r.out, "^Daemon: +stopped.*stale");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "stop", NULL);
    assert_exit(&r, 0, "stop (stale pid file)");
    ck_assert_str_eq(r.out, "Hermes Link is not running.\n");
    hlt_cli_free(&r);

    /* a stale file does not block a start */
    int port, tls_port;
    pid_t pid = cli_start(&env, &port, &tls_port);
    hlt_cli(&env, &r, "status", NULL);
    assert_exit(&r, 0, "status (running after a stale file)");
    ck_assert_int_eq(number_after(r.out, "Daemon:    running (PID "), pid);
    hlt_cli_free(&r);
    cli_stop(&env, pid);
    free(pidfile);
    hlt_env_dispose(&env);
}
END_TEST

/* One daemon per home: a second `run` is refused while the first serves, and the CLI finds and stops a `run` daemon. */
START_TEST(test_second_daemon_refused)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_cli_result_t r;
    hlt_cli(d.env, &r, "run", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 1, "run (second daemon)");
    ck_assert_msg(strstr(r.err, "already running") != NULL, "stderr: %s", r.err);
    ck_assert_int_eq(number_after(r.err, "(PID "), d.pid);
    ck_assert_msg(strstr(r.out, "running on port") == NULL, "the second daemon claims to serve: %s", r.out);
    hlt_cli_free(&r);

    hlt_cli(d.env, &r, "start", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 0, "start (run daemon present)");
    ck_assert_int_eq(number_after(r.out, "Hermes Link is already running (PID "), d.pid);
    hlt_cli_free(&r);

    /* the first one was not disturbed, nor its pid file */
    ck_assert(hlt_daemon_alive(&d));
    char *pidfile = hlt_env_path(d.env, 1, "hermeslink.pid");
    char *text = hlt_read_file(pidfile, NULL);
    ck_assert_msg(text != NULL && strtol(text, NULL, 10) == d.pid, "hermeslink.pid holds %s, expected %d", text, (int)d.pid);
    free(text);
    free(pidfile);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);

    hlt_cli(d.env, &r, "status", NULL);
    assert_exit(&r, 0, "status (run daemon)");
    ck_assert_int_eq(number_after(r.out, "Daemon:    running (PID "), d.pid);
    ck_assert_int_eq(number_after(r.out, "HTTP:      reachable on port "), d.port);
    hlt_cli_free(&r);

    /* `stop` stops a foreground daemon too, which then exits 0 with a clean report */
    hlt_cli(d.env, &r, "stop", NULL);
    assert_exit(&r, 0, "stop (run daemon)");
    ck_assert_str_eq(r.out, "Hermes Link stopped.\n");
    hlt_cli_free(&r);
    int status;
    ck_assert_msg(hlt_wait_exit(d.pid, &status, 5000), "the daemon still runs after `stop`");
    d.pid = 0;
    d.status = status;
    hlt_daemon_stop_clean(&d);
}
END_TEST

/* Another home cannot serve on a port that a daemon already holds (the listeners use SO_REUSEPORT among themselves). */
START_TEST(test_port_in_use)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    hlt_env_t other;
    hlt_env_init(&other);
    char port[16], tls_port[16];
    snprintf(port, sizeof(port), "%d", d.port);
    snprintf(tls_port, sizeof(tls_port), "%d", d.tls_port);
    const char *const attempts[][2] = {{port, "0"}, {"auto", tls_port}};
    for (size_t i = 0; i < 2; ++i) {
        hlt_cli_result_t r;
        hlt_cli(&other, &r, "run", "--port", attempts[i][0], "--tls-port", attempts[i][1], "--listen", "127.0.0.1", NULL);
        assert_exit(&r, 1, "run (port in use)");
        ck_assert_msg(strstr(r.out, "running on port") == NULL, "a second daemon serves on a port in use: %s", r.out);
        ck_assert_msg(strstr(r.err, "in use") != NULL || strstr(r.err, "cannot listen") != NULL, "stderr: %s", r.err);
        hlt_cli_free(&r);
    }
    /* and every connection still reaches the first daemon */
    for (int i = 0; i < 8; ++i) {
        hlt_response_t res;
        hlt_get(&d, HLT_H1, "/api/v1/system/status", &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_int_eq(json_integer_value(json_object_get(res.json, "port")), d.port);
        hlt_response_free(&res);
    }
    hlt_env_dispose(&other);
    hlt_daemon_stop_clean(&d);
}
END_TEST

static json_t *config_get(hlt_env_t *env)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "config", "get", NULL);
    assert_exit(&r, 0, "config get");
    json_error_t err;
    json_t *j = json_loads(r.out, 0, &err);
    ck_assert_msg(json_is_object(j), "config get is not a JSON object: %s", r.out);
    assert_match(r.out, "^  \"port\": [0-9]+,?$"); /* pretty-printed, 2-space indent */
    ck_assert_msg(r.out[strlen(r.out) - 1] == '\n', "config get output ends without a newline");
    hlt_cli_free(&r);
    return j;
}

static void config_set(hlt_env_t *env, const char *key, const char *value, int code, const char *out, const char *err)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "config", "set", key, value, NULL);
    assert_exit(&r, code, key);
    if (out != NULL)
        ck_assert_str_eq(r.out, out);
    if (err != NULL)
        ck_assert_msg(strstr(r.err, err) != NULL, "config set %s %s: stderr %s, expected %s", key, value, r.err, err);
    hlt_cli_free(&r);
}

START_TEST(test_config)
{
    hlt_env_t env;
    hlt_env_init(&env);
    json_t *c = config_get(&env);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "port")), 18642);
    ck_assert(json_is_null(json_object_get(c, "lanHost")));
    ck_assert_str_eq(json_string_value(json_object_get(c, "language")), "auto");
    ck_assert_str_eq(json_string_value(json_object_get(c, "logLevel")), "warn");
    json_decref(c);

    config_set(&env, "port", "19000", 0, "Port set to 19000\n", NULL);
    config_set(&env, "lan-host", "192.168.1.10", 0, "LAN host set to 192.168.1.10\n", NULL);
    config_set(&env, "language", "en", 0, "Language set to en\n", NULL);
    config_set(&env, "log-level", "info", 0, "Log level set to info\n", NULL);
    c = config_get(&env);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "port")), 19000);
    ck_assert_str_eq(json_string_value(json_object_get(c, "lanHost")), "192.168.1.10");
    ck_assert_str_eq(json_string_value(json_object_get(c, "language")), "en");
    ck_assert_str_eq(json_string_value(json_object_get(c, "logLevel")), "info");
    json_decref(c);
    config_set(&env, "lan-host", "auto", 0, "LAN host set to (auto)\n", NULL);
    c = config_get(&env);
    ck_assert(json_is_null(json_object_get(c, "lanHost")));
    json_decref(c);

    /* the file: written 0600, JSON, what get shows */
    char *path = hlt_env_path(&env, 1, "config.json");
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    ck_assert_msg((st.st_mode & 0777) == 0600, "config.json mode %o", st.st_mode & 0777);
    json_t *file = json_load_file(path, 0, NULL);
    ck_assert(file != NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(file, "port")), 19000);
    json_decref(file);

    /* refused values leave the file alone */
    config_set(&env, "port", "0", 1, "", "Invalid port number");
    config_set(&env, "port", "65536", 1, "", "Invalid port number");
    config_set(&env, "port", "abc", 1, "", "Invalid port number");
    config_set(&env, "nope", "1", 1, "", "Unknown config key: nope");
    c = config_get(&env);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "port")), 19000);
    json_decref(c);

    /* usage errors */
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "config", "set", "port", NULL);
    assert_exit(&r, 1, "config set port");
    ck_assert_str_eq(r.err, "Usage: hermeslink config set <key> <value>\n");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "config", NULL);
    assert_exit(&r, 1, "config");
    ck_assert_str_eq(r.err, "Usage: hermeslink config [get|set]\n");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "config", "frob", NULL);
    assert_exit(&r, 1, "config frob");
    ck_assert_str_eq(r.err, "Usage: hermeslink config [get|set]\n");
    hlt_cli_free(&r);

    /* keys the CLI does not know survive a set */
    hlt_write_file(path, "{\"port\": 18650, \"custom\": {\"x\": [1, 2]}}\n");
    c = config_get(&env);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "port")), 18650);
    ck_assert(json_is_object(json_object_get(c, "custom")));
    json_decref(c);
    config_set(&env, "language", "zh-CN", 0, "Language set to zh-CN\n", NULL);
    file = json_load_file(path, 0, NULL);
    ck_assert(file != NULL);
    ck_assert_msg(json_is_object(json_object_get(file, "custom")), "an unknown key was dropped by config set");
    ck_assert_str_eq(json_string_value(json_object_get(file, "language")), "zh-CN");
    json_decref(file);
    free(path);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_bad_config)
{
    hlt_env_t env;
    hlt_env_init(&env);
    static const struct {
        const char *text, *must_name;
    } cases[] = {{"{\"port\":\"x\"}", "port"},
                 {"{\"port\":70000}", "port"},
                 {"{\"logLevel\":5}", "logLevel"},
                 {"{\"port\":", "config.json"},
                 {"[1]", "config.json"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        hlt_env_write_config(&env, cases[i].text);
        hlt_cli_result_t r;
        hlt_cli(&env, &r, "run", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
        assert_exit(&r, 1, "run (bad config)");
        ck_assert_msg(strstr(r.err, cases[i].must_name) != NULL, "config %s: the error does not name %s: %s", cases[i].text,
                      cases[i].must_name, r.err);
        ck_assert_msg(strstr(r.out, "running on port") == NULL, "served with a bad config: %s", r.out);
        hlt_cli_free(&r);
    }
    /* `start` reports the failure instead of claiming success */
    hlt_env_write_config(&env, "{\"port\":\"x\"}");
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "start", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 1, "start (bad config)");
    ck_assert_msg(strstr(r.err, "port") != NULL, "start stderr: %s", r.err);
    ck_assert_msg(strstr(r.out, "started") == NULL, "start claims success: %s", r.out);
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "status", NULL);
    ck_assert_msg(r.exit_code == 3, "status after a failed start exited %d:\n%s", r.exit_code, r.out);
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "config", "get", NULL);
    assert_exit(&r, 1, "config get (bad config)");
    ck_assert_msg(strstr(r.err, "port") != NULL, "config get stderr: %s", r.err);
    hlt_cli_free(&r);
    assert_daemon_log_clean(&env);
    hlt_env_dispose(&env);
}
END_TEST

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += *s == '\n';
    return n;
}

START_TEST(test_logs)
{
    hlt_env_t env;
    hlt_env_init(&env);
    env.log_level = "info";
    hlt_daemon_opts_t o = {.env = &env};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/version", &res);
    hlt_response_free(&res);

    /* the logger writes from its own thread: give it a moment */
    hlt_cli_result_t r = {0};
    long deadline = hlt_now_ms() + 5000;
    for (;;) {
        hlt_cli(&env, &r, "logs", "-n", "1000", NULL);
        assert_exit(&r, 0, "logs -n 1000");
        if (strstr(r.out, "Hermes Link started") != NULL || hlt_now_ms() > deadline)
            break;
        hlt_cli_free(&r);
        hlt_sleep_ms(100);
    }
    /* each entry's fields follow its message as compact JSON */
    assert_match(r.out, "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\] INFO Hermes Link started "
                        "\\{\"version\":\"[^\"]+\",\"port\":[0-9]+,.*\\}$");
    size_t total = count_lines(r.out);
    hlt_cli_free(&r);

    hlt_cli(&env, &r, "logs", "-n", "5", NULL);
    assert_exit(&r, 0, "logs -n 5");
    size_t lines = count_lines(r.out);
    ck_assert_msg(lines >= 1 && lines <= 5 && (lines == 5 || lines == total), "logs -n 5 printed %zu of %zu lines:\n%s", lines,
                  total, r.out);
    for (const char *line = r.out; *line; line = strchr(line, '\n') + 1) {
        char one[512];
        size_t len = (size_t)(strchr(line, '\n') - line);
        snprintf(one, sizeof(one), "%.*s", (int)len, line);
        assert_match(one, "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\] (DEBUG|INFO|WARN|ERROR) .+$");
    }
    hlt_cli_free(&r);

    hlt_daemon_stop_clean(&d);
    hlt_cli(&env, &r, "logs", "-n", "1000", NULL);
    assert_exit(&r, 0, "logs -n 1000");
    assert_match(r.out, "\\] INFO Hermes Link started \\{.*\\}$");
    assert_match(r.out, "\\] INFO Hermes Link stopping \\{\"signal\":\"SIGTERM\"\\}$");
    assert_match(r.out, "\\] INFO Hermes Link stopped$");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "logs", "-n", "1", NULL);
    assert_exit(&r, 0, "logs -n 1");
    ck_assert_int_eq(count_lines(r.out), 1);
    hlt_cli_free(&r);
    hlt_env_dispose(&env);
}
END_TEST

/* The address (as /proc/net/tcp or tcp6 prints it) a listening TCP socket of port is bound to, "" when none. */
static void bound_address(int port, char *out, size_t len)
{
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    out[0] = '\0';
    for (size_t f = 0; f < 2 && out[0] == '\0'; ++f) {
        char *text = hlt_read_file(files[f], NULL);
        char want[16];
        snprintf(want, sizeof(want), ":%04X", port);
        for (char *line = text; line != NULL && *line != '\0' && out[0] == '\0';) {
            char addr[40];
            unsigned st = 0;
            char local[64];
            if (sscanf(line, "%*d: %63s %*s %X", local, &st) == 2 && st == 0x0A && strchr(local, ':') != NULL &&
                strcmp(strchr(local, ':'), want) == 0) {
                snprintf(addr, sizeof(addr), "%.*s", (int)(strchr(local, ':') - local), local);
                snprintf(out, len, "%s", addr);
            }
            char *nl = strchr(line, '\n');
            line = nl != NULL ? nl + 1 : NULL;
        }
        free(text);
    }
}

/* restart without flags keeps the --port/--tls-port/--listen of the start before it, and says so; a flag given wins */
START_TEST(test_restart_keeps_flags)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "start", "--port", "auto", "--tls-port", "0", "--listen", "127.0.0.1", NULL);
    assert_exit(&r, 0, "start");
    pid_t pid = (pid_t)number_after(r.out, "Hermes Link started (PID ");
    ck_assert_msg(pid > 0, "no PID in: %s", r.out);
    track(pid);
    hlt_cli_free(&r);

    hlt_cli(&env, &r, "restart", NULL);
    assert_exit(&r, 0, "restart");
    ck_assert_msg(strstr(r.out, "Keeping the flags it was started with: --port auto --tls-port 0 --listen 127.0.0.1\n") != NULL,
                  "restart output:\n%s", r.out);
    pid_t pid2 = (pid_t)number_after(r.out, "Hermes Link started (PID ");
    ck_assert_msg(pid2 > 0 && pid2 != pid, "restart output:\n%s", r.out);
    track(pid2);
    int port = (int)number_after(r.out, "Local:     http://127.0.0.1:");
    ck_assert_msg(port > 0 && strstr(r.out, "TLS:") == NULL, "restart output:\n%s", r.out);
    char addr[40];
    bound_address(port, addr, sizeof(addr));
    ck_assert_msg(strcmp(addr, "0100007F") == 0, "port %d is bound to '%s', not 127.0.0.1", port, addr);
    hlt_cli_free(&r);
    reap(pid, 5000);

    /* a flag given to restart replaces that one only */
    hlt_cli(&env, &r, "restart", "--listen", "::1", NULL);
    assert_exit(&r, 0, "restart --listen ::1");
    ck_assert_msg(strstr(r.out, "Keeping the flags it was started with: --port auto --tls-port 0\n") != NULL, "restart output:\n%s",
                  r.out);
    pid_t pid3 = (pid_t)number_after(r.out, "Hermes Link started (PID ");
    ck_assert_msg(pid3 > 0, "restart output:\n%s", r.out);
    track(pid3);
    port = (int)number_after(r.out, "Local:     http://[::1]:");
    ck_assert_msg(port > 0 && strstr(r.out, "TLS:") == NULL, "restart output:\n%s", r.out);
    bound_address(port, addr, sizeof(addr));
    ck_assert_msg(strcmp(addr, "00000000000000000000000001000000") == 0, "port %d is bound to '%s', not ::1", port, addr);
    hlt_cli_free(&r);
    reap(pid2, 5000);
    cli_stop(&env, pid3);
    assert_daemon_log_clean(&env);
    hlt_env_dispose(&env);
}
END_TEST

/* Every command refuses an option it does not know, with its usage line, and exit 1; each has --help. */
START_TEST(test_unknown_flags_and_help)
{
    hlt_env_t env;
    hlt_env_init(&env);
    static const char *const cmds[][2] = {{"run", NULL},       {"start", NULL},   {"stop", NULL}, {"restart", NULL},
                                          {"status", NULL},    {"config", "get"}, {"logs", NULL}, {"pair", NULL},
                                          {"autostart", NULL}, {"version", NULL}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); ++i) {
        hlt_cli_result_t r;
        const char *cmd = cmds[i][0], *sub = cmds[i][1];
        if (sub != NULL)
            hlt_cli(&env, &r, cmd, sub, "--bogus", NULL);
        else
            hlt_cli(&env, &r, cmd, "--bogus", NULL);
        assert_exit(&r, 1, cmd);
        ck_assert_str_eq(r.out, "");
        char *want = hl_asprintf("Unknown option: --bogus\nUsage: hermeslink %s", cmd);
        ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0 && count_lines(r.err) == 2, "%s --bogus: %s", cmd, r.err);
        free(want);
        hlt_cli_free(&r);
        hlt_cli(&env, &r, cmd, "--help", NULL);
        assert_exit(&r, 0, cmd);
        want = hl_asprintf("Usage: hermeslink %s", cmd);
        ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s --help: %s", cmd, r.out);
        free(want);
        hlt_cli_free(&r);
    }
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "status", "extra", NULL);
    assert_exit(&r, 1, "status extra");
    ck_assert_str_eq(r.err, "Unexpected argument: extra\nUsage: hermeslink status\n");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "run", "--port", NULL);
    assert_exit(&r, 1, "run --port");
    ck_assert_str_eq(r.err,
                     "Missing value for --port\nUsage: hermeslink run [--port N|auto] [--tls-port N|auto] [--listen HOST]\n");
    hlt_cli_free(&r);
    hlt_env_dispose(&env);
}
END_TEST

/* logs says when there is nothing to show; the gateway's log that does not exist is named */
START_TEST(test_logs_empty_and_fields)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "logs", NULL);
    assert_exit(&r, 0, "logs (nothing)");
    ck_assert_str_eq(r.out, "No log entries yet.\n");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "logs", "--gateway", NULL);
    assert_exit(&r, 0, "logs --gateway (no file)");
    char *want = hl_asprintf("No gateway log: %s/logs/gateway.log does not exist (Hermes writes it while its gateway runs).\n",
                             env.hermes_home);
    ck_assert_str_eq(r.out, want);
    free(want);
    hlt_cli_free(&r);
    char *dir = hl_asprintf("%s/logs", env.hermes_home), *file = hl_asprintf("%s/logs/gateway.log", env.hermes_home);
    ck_assert(mkdir(dir, 0700) == 0);
    hlt_write_file(file, "");
    hlt_cli(&env, &r, "logs", "--gateway", NULL);
    assert_exit(&r, 0, "logs --gateway (empty)");
    ck_assert_str_eq(r.out, "No gateway log entries yet.\n");
    hlt_cli_free(&r);
    free(file);
    free(dir);
    /* fields, compact, after the message; an entry without any has none */
    dir = hlt_env_path(&env, 1, "logs");
    ck_assert(mkdir(dir, 0700) == 0);
    file = hl_asprintf("%s/link.log", dir);
    hlt_write_file(file, "{\"ts\":\"2026-01-02T03:04:05.000Z\",\"level\":\"warn\",\"message\":\"disk slow\","
                         "\"fields\":{\"path\":\"link.db\",\"ms\":1234,\"nested\":{\"a\":[1,2]}}}\n"
                         "{\"ts\":\"2026-01-02T03:04:06.000Z\",\"level\":\"info\",\"message\":\"plain\",\"fields\":{}}\n");
    hlt_cli(&env, &r, "logs", NULL);
    assert_exit(&r, 0, "logs (fields)");
    assert_match(r.out, "^\\[[0-9 :-]+\\] WARN disk slow \\{\"path\":\"link.db\",\"ms\":1234,\"nested\":\\{\"a\":\\[1,2\\]\\}\\}$");
    assert_match(r.out, "^\\[[0-9 :-]+\\] INFO plain$");
    ck_assert_int_eq(count_lines(r.out), 2);
    hlt_cli_free(&r);
    free(file);
    free(dir);
    hlt_env_dispose(&env);
}
END_TEST

/* config set says when the running daemon needs a restart; run says it is stopping */
START_TEST(test_config_restart_notice_and_run_stopping)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_daemon_opts_t o = {.env = &env};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    char *want = hl_asprintf("Port set to 19001\nHermes Link (PID %d) is running with the previous value: restart it to apply "
                             "this (hermeslink restart).\n",
                             (int)d.pid);
    config_set(&env, "port", "19001", 0, want, NULL);
    free(want);
    want = hl_asprintf("Log level set to info\nHermes Link (PID %d) is running with the previous value: restart it to apply "
                       "this (hermeslink restart).\n",
                       (int)d.pid);
    config_set(&env, "log-level", "info", 0, want, NULL);
    free(want);
    /* stored for the apps, read by nothing at run time */
    config_set(&env, "language", "en", 0, "Language set to en\n", NULL);
    config_set(&env, "port", "70000", 1, "", "Invalid port number");

    ck_assert(kill(d.pid, SIGINT) == 0);
    char *out = NULL;
    for (long end = hlt_now_ms() + 10000; hlt_now_ms() < end; hlt_sleep_ms(20)) {
        free(out);
        out = hlt_read_file(d.out_path, NULL);
        if (out != NULL && strstr(out, "Hermes Link stopping") != NULL)
            break;
    }
    ck_assert_msg(out != NULL && strstr(out, "\nHermes Link stopping (SIGINT)\n") != NULL, "run's stdout: %s", out);
    free(out);
    const char *msg = hlt_daemon_stop(&d);
    ck_assert_msg(msg == NULL, "%s", msg);
    hlt_daemon_dispose(&d);
    /* no daemon: nothing to restart */
    config_set(&env, "port", "19002", 0, "Port set to 19002\n", NULL);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- pair on a narrow terminal, hermes-api-key, public-url (issue 12, "What a new user hit") ---- */

/* The widest line of the QR code in `text` (the lines holding block characters), in characters: a half block is one
 * column. 0 when there is none. */
static int widest_qr_line(const char *text)
{
    int widest = 0;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (memmem(line, len, "\u2588", 3) != NULL || memmem(line, len, "\u2580", 3) != NULL ||
            memmem(line, len, "\u2584", 3) != NULL) {
            int col = 0;
            for (size_t i = 0; i < len; ++i)
                col += ((unsigned char)line[i] & 0xc0) != 0x80;
            if (col > widest)
                widest = col;
        }
        line += len + (end != NULL);
    }
    return widest;
}

START_TEST(test_pair_terminal_width)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_cli_result_t r;
    /* not a TTY: $COLUMNS is the width; 80 columns take the whole code (the real payload was 85 wide at level M) */
    setenv("COLUMNS", "80", 1);
    hlt_cli(d.env, &r, "pair", NULL);
    assert_exit(&r, 0, "pair (COLUMNS=80)");
    int width = widest_qr_line(r.out);
    ck_assert_msg(width > 20 && width <= 80, "a QR code %d columns wide with COLUMNS=80:\n%.2000s", width, r.out);
    hlt_cli_free(&r);
    /* too narrow: one line saying so instead of a code that wraps, and the pairing lines all the same */
    setenv("COLUMNS", "40", 1);
    hlt_cli(d.env, &r, "pair", NULL);
    assert_exit(&r, 0, "pair (COLUMNS=40)");
    ck_assert_msg(strstr(r.out, "\u2588") == NULL && strstr(r.out, "\u2580") == NULL, "a QR code with COLUMNS=40:\n%.2000s", r.out);
    assert_match(r.out, "^The QR code needs a terminal [0-9]+ columns wide \\(this one has 40\\): widen it");
    assert_match(r.out, "^Pairing page: +http://");
    assert_match(r.out, "^Connect token: +[A-Za-z0-9_-]{43}$");
    hlt_cli_free(&r);
    unsetenv("COLUMNS");
    hlt_daemon_stop_clean(&d);
}
END_TEST

/* `hermeslink config set hermes-api-key` with `key_file` on stdin (hlt_cli's stdin is /dev/null) */
static void set_api_key_stdin(hlt_env_t *env, const char *key_file, hlt_cli_result_t *r)
{
    char *out_path = hlt_env_path(env, 0, "key.out"), *err_path = hlt_env_path(env, 0, "key.err");
    char *argv[] = {"/bin/sh",        "-c", "exec \"$0\" config set hermes-api-key < \"$1\"", (char *)hlt_binary(),
                    (char *)key_file, NULL};
    setenv("HERMESLINK_HOME", env->home, 1);
    pid_t pid = hlt_spawn(argv, out_path, err_path);
    int status = 0;
    ck_assert_msg(hlt_wait_exit(pid, &status, 60000), "config set hermes-api-key did not finish");
    unsetenv("HERMESLINK_HOME");
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->out = hlt_read_file(out_path, NULL);
    r->err = hlt_read_file(err_path, NULL);
    ck_assert(r->out != NULL && r->err != NULL);
    free(out_path);
    free(err_path);
}

/* config.json's hermesApiKey, or NULL (caller frees) */
static char *stored_api_key(hlt_env_t *env)
{
    char *path = hlt_env_path(env, 1, "config.json");
    json_t *file = json_load_file(path, 0, NULL);
    free(path);
    const char *v = json_string_value(json_object_get(file, "hermesApiKey"));
    char *out = v != NULL ? strdup(v) : NULL;
    json_decref(file);
    return out;
}

START_TEST(test_hermes_api_key)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;
    /* never from the command line, and the refusal does not repeat it */
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", "sk-argv-secret", NULL);
    assert_exit(&r, 1, "config set hermes-api-key <value>");
    ck_assert_msg(strstr(r.out, "sk-argv-secret") == NULL && strstr(r.err, "sk-argv-secret") == NULL, "echoed: %s%s", r.out, r.err);
    assert_match(r.err, "--file PATH");
    hlt_cli_free(&r);
    /* nothing on stdin */
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", NULL);
    assert_exit(&r, 1, "config set hermes-api-key < /dev/null");
    assert_match(r.err, "^No Hermes API key on stdin");
    hlt_cli_free(&r);

    /* from a file */
    char *file = hlt_env_path(&env, 0, "api.key");
    hlt_write_file(file, "sk-file-secret-0123\n");
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", "--file", file, NULL);
    assert_exit(&r, 0, "config set hermes-api-key --file");
    ck_assert_str_eq(r.out, "Hermes API key set\n");
    ck_assert_msg(strstr(r.err, "sk-file") == NULL, "echoed on stderr: %s", r.err);
    hlt_cli_free(&r);
    char *stored = stored_api_key(&env);
    ck_assert_str_eq(stored, "sk-file-secret-0123");
    free(stored);
    /* config get says configured, never the key */
    hlt_cli(&env, &r, "config", "get", NULL);
    assert_exit(&r, 0, "config get");
    ck_assert_msg(strstr(r.out, "sk-file") == NULL, "config get shows the key:\n%s", r.out);
    assert_match(r.out, "^  \"hermesApiKey\": \"\\(configured\\)\",?$");
    hlt_cli_free(&r);

    /* from stdin */
    hlt_write_file(file, "sk-stdin-secret-4567\r\n");
    set_api_key_stdin(&env, file, &r);
    assert_exit(&r, 0, "config set hermes-api-key < file");
    ck_assert_str_eq(r.out, "Hermes API key set\n");
    ck_assert_msg(strstr(r.err, "sk-stdin") == NULL, "echoed on stderr: %s", r.err);
    hlt_cli_free(&r);
    stored = stored_api_key(&env);
    ck_assert_str_eq(stored, "sk-stdin-secret-4567");
    free(stored);

    /* a key that cannot go into a header is refused without being repeated; the stored one stays */
    hlt_write_file(file, "sk bad secret\n");
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", "--file", file, NULL);
    assert_exit(&r, 1, "config set hermes-api-key --file (a space)");
    ck_assert_msg(strstr(r.err, "bad secret") == NULL, "echoed: %s", r.err);
    hlt_cli_free(&r);
    stored = stored_api_key(&env);
    ck_assert_str_eq(stored, "sk-stdin-secret-4567");
    free(stored);
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", "--file", "/nonexistent/api.key", NULL);
    assert_exit(&r, 1, "config set hermes-api-key --file (missing)");
    hlt_cli_free(&r);

    /* --clear */
    hlt_cli(&env, &r, "config", "set", "hermes-api-key", "--clear", NULL);
    assert_exit(&r, 0, "config set hermes-api-key --clear");
    ck_assert_str_eq(r.out, "Hermes API key removed\n");
    hlt_cli_free(&r);
    ck_assert_ptr_null(stored_api_key(&env));
    free(file);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_public_url_validation)
{
    hlt_env_t env;
    hlt_env_init(&env);
    static const char rule[] =
        "publicUrl must be an http:// or https:// URL without a path, user, query or fragment, e.g. https://link.example.com";
    config_set(&env, "public-url", "https://user:pw@link.example.com", 1, "", "Invalid public URL: it has a user name; ");
    config_set(&env, "public-url", "https://link.example.com/?a=1", 1, "", "Invalid public URL: it has a query; ");
    config_set(&env, "public-url", "https://link.example.com/#x", 1, "", "Invalid public URL: it has a fragment; ");
    config_set(&env, "public-url", "https://link.example.com/hermes", 1, "", "Invalid public URL: it has a path; ");
    config_set(&env, "public-url", "ftp://link.example.com", 1, "", rule);
    config_set(&env, "public-url", "https://link.example.com/", 0, "Public URL set to https://link.example.com\n", NULL);
    config_set(&env, "public-url", "http://[2001:db8::1]:18642", 0, "Public URL set to http://[2001:db8::1]:18642\n", NULL);
    /* a path written into config.json by hand stops nothing silently: the daemon and the CLI name the key */
    char *path = hlt_env_path(&env, 1, "config.json");
    hlt_write_file(path, "{\"publicUrl\": \"https://link.example.com/prefix\"}\n");
    free(path);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "config", "get", NULL);
    assert_exit(&r, 1, "config get (publicUrl with a path)");
    ck_assert_msg(strstr(r.err, "\"publicUrl\"") != NULL, "the message does not name publicUrl: %s", r.err);
    hlt_cli_free(&r);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_version_and_help);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_stale_pid_file);
    tcase_add_test(tc, test_second_daemon_refused);
    tcase_add_test(tc, test_port_in_use);
    tcase_add_test(tc, test_restart_keeps_flags);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_logs);
    tcase_add_test(tc, test_unknown_flags_and_help);
    tcase_add_test(tc, test_logs_empty_and_fields);
    tcase_add_test(tc, test_config_restart_notice_and_run_stopping);
    tcase_add_test(tc, test_pair_terminal_width);
    tcase_add_test(tc, test_hermes_api_key);
    tcase_add_test(tc, test_public_url_validation);
    suite_add_tcase(s, tc);
    return s;
}
