/*
 * Autostart (spec/API.md §16, spec/CLI.md §2.9 and §4) and systemd readiness: POST /api/v1/system/autostart/enable|disable,
 * system/status.autostart and `hermeslink autostart` / `status` against a temporary HOME and XDG_CONFIG_HOME, with a fake
 * `systemctl` on PATH that logs its calls (a user systemd), none (the XDG autostart fallback), or no home at all
 * (unsupported); the unit and desktop files' exact text. And `hermeslink run` speaking the notify protocol over
 * NOTIFY_SOCKET: READY=1 once it listens, STOPPING=1 on SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth_util.h"
#include "hl/common.h"

static hlt_env_t env_;
static hlt_daemon_t daemon_;
static hlt_device_t dev_;
#define D (&daemon_)

/* HOME is the env's directory, XDG_CONFIG_HOME its cfg/ (so files show as "~/cfg/…"), PATH only its bin/ (holding a fake
 * systemctl when `fake`), for the daemon and every CLI run alike (they inherit this process's environment). */
static void setup_env(int fake, const char *fail_on)
{
    hlt_env_init(&env_);
    char *bin = hlt_env_path(&env_, 0, "bin"), *cfg = hlt_env_path(&env_, 0, "cfg");
    ck_assert(mkdir(bin, 0700) == 0);
    if (fake) {
        char *path = hl_asprintf("%s/systemctl", bin);
        char *text = hl_asprintf("#!/bin/sh\necho \"$*\" >> '%s/systemctl.calls'\n"
                                 "case \" $* \" in *' %s '*) exit 1;; esac\nexit 0\n",
                                 env_.dir, fail_on != NULL ? fail_on : "never");
        hlt_write_file(path, text);
        ck_assert(chmod(path, 0700) == 0);
        free(text);
        free(path);
    }
    setenv("HOME", env_.dir, 1);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    setenv("PATH", bin, 1);
    free(cfg);
    free(bin);
}

static void start_daemon(void)
{
    hlt_daemon_opts_t o = {.env = &env_};
    hlt_daemon_start(D, &o);
    hlt_enroll(D, HLT_H1, NULL, &dev_);
}

static void finish(void)
{
    hlt_device_free(&dev_);
    if (D->pid != 0)
        hlt_assert_stop_clean(D);
    hlt_env_dispose(&env_);
}

/* the fake systemctl's calls so far, one line each ("" when none). Caller frees. */
static char *calls(void)
{
    char *path = hlt_env_path(&env_, 0, "systemctl.calls");
    char *text = hlt_read_file(path, NULL);
    free(path);
    return text != NULL ? text : hl_strdup("");
}

static void assert_calls(const char *want)
{
    char *got = calls();
    ck_assert_str_eq(got, want);
    free(got);
}

/* POST …/autostart/<what> with the device's token: 200, the exact shape, no "ok"; the body (new reference) */
static json_t *post_autostart(const char *what)
{
    char *path = hl_asprintf("/api/v1/system/autostart/%s", what);
    hlt_response_t res;
    hlt_api(D, HLT_H1, "POST", path, dev_.access, NULL, &res);
    ck_assert_msg(res.status == 200, "%s: %ld %s", path, res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_keys(res.json, path, "supported", "enabled", "method", "filePath", NULL);
    json_t *body = json_incref(res.json);
    hlt_response_free(&res);
    free(path);
    return body;
}

static void assert_state(json_t *o, int supported, int enabled, const char *method, const char *file)
{
    char *s = json_dumps(o, JSON_COMPACT);
    ck_assert_msg(json_is_true(json_object_get(o, "supported")) == supported, "%s", s);
    ck_assert_msg(json_is_true(json_object_get(o, "enabled")) == enabled, "%s", s);
    ck_assert_str_eq(hlt_str(o, "method"), method);
    if (file != NULL)
        ck_assert_str_eq(hlt_str(o, "filePath"), file);
    else if (json_object_get(o, "filePath") != NULL)
        ck_assert_msg(json_is_null(json_object_get(o, "filePath")), "%s", s);
    free(s);
}

/* GET /api/v1/system/status (public): its autostart object has exactly supported, enabled, method */
static void assert_status(int supported, int enabled, const char *method)
{
    hlt_response_t res;
    hlt_get(D, HLT_H1, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    json_t *as = json_object_get(res.json, "autostart");
    hlt_assert_keys(as, "autostart", "supported", "enabled", "method", NULL);
    assert_state(as, supported, enabled, method, NULL);
    hlt_response_free(&res);
}

static void assert_cli(const char *arg, int code, const char *out)
{
    hlt_cli_result_t r;
    hlt_cli(&env_, &r, "autostart", arg, NULL);
    ck_assert_msg(r.exit_code == code, "autostart %s: exit %d, %s%s", arg ? arg : "", r.exit_code, r.out, r.err);
    ck_assert_str_eq(r.out, out);
    hlt_cli_free(&r);
}

static char *self_binary(void)
{
    char buf[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(hlt_binary(), buf));
    return hl_strdup(buf);
}

static void assert_file(const char *rel, const char *want)
{
    char *path = hlt_env_path(&env_, 0, rel);
    char *text = hlt_read_file(path, NULL);
    ck_assert_msg(text != NULL, "%s is missing", rel);
    ck_assert_str_eq(text, want);
    struct stat st;
    ck_assert(stat(path, &st) == 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    free(text);
    free(path);
}

static int file_exists(const char *rel)
{
    char *path = hlt_env_path(&env_, 0, rel);
    int r = access(path, F_OK) == 0;
    free(path);
    return r;
}

#define UNIT "cfg/systemd/user/hermeslink.service"
#define DESKTOP "cfg/autostart/hermeslink.desktop"

START_TEST(systemd_user_unit)
{
    setup_env(1, NULL);
    start_daemon();
    /* detected once at start */
    assert_calls("--user show-environment\n");
    assert_status(1, 0, "systemd-user");

    hlt_response_t res;
    hlt_api(D, HLT_H1, "POST", "/api/v1/system/autostart/enable", NULL, NULL, &res);
    hlt_assert_error(D, &res, 401, "auth_required");
    hlt_response_free(&res);

    json_t *o = post_autostart("enable");
    assert_state(o, 1, 1, "systemd-user", "~/" UNIT);
    json_decref(o);
    char *exe = self_binary();
    char *unit = hl_asprintf("[Unit]\n"
                             "Description=Hermes Link\n"
                             "After=network-online.target\n"
                             "\n"
                             "[Service]\n"
                             "Type=notify\n"
                             "ExecStart=\"%s\" run\n"
                             "Environment=\"HERMESLINK_HOME=%s\"\n"
                             "Restart=on-failure\n"
                             "RestartSec=2\n"
                             "\n"
                             "[Install]\n"
                             "WantedBy=default.target\n",
                             exe, env_.home);
    assert_file(UNIT, unit);
    /* the daemon runs already: enabled, not started (a second daemon would only fail on the pid lock) */
    assert_calls("--user show-environment\n--user show-environment\n--user daemon-reload\n--user enable hermeslink.service\n");
    assert_status(1, 1, "systemd-user");

    /* the CLI asks the running daemon: same state, and its change shows in system/status at once */
    assert_cli(NULL, 0, "Autostart: enabled (systemd-user)\n");
    hlt_cli_result_t r;
    hlt_cli(&env_, &r, "status", NULL);
    ck_assert_msg(strstr(r.out, "\nAutostart: enabled (systemd-user)\n") != NULL, "%s", r.out);
    hlt_cli_free(&r);
    assert_cli("off", 0, "Autostart disabled (systemd-user)\n");
    ck_assert(!file_exists(UNIT));
    assert_status(1, 0, "systemd-user");
    assert_calls("--user show-environment\n--user show-environment\n--user daemon-reload\n--user enable hermeslink.service\n"
                 "--user show-environment\n--user disable hermeslink.service\n--user daemon-reload\n");
    o = post_autostart("disable");
    assert_state(o, 1, 0, "systemd-user", "~/" UNIT);
    json_decref(o);
    hlt_assert_stop_clean(D);

    /* no daemon: the CLI does it itself, and starts the service now */
    char *path = hlt_env_path(&env_, 0, "systemctl.calls");
    ck_assert(unlink(path) == 0);
    free(path);
    assert_cli("on", 0, "Autostart enabled (systemd-user)\n");
    assert_file(UNIT, unit);
    assert_calls("--user show-environment\n--user daemon-reload\n--user enable --now hermeslink.service\n");
    assert_cli("enable", 0, "Autostart enabled (systemd-user)\n");
    assert_cli("disable", 0, "Autostart disabled (systemd-user)\n");
    assert_cli("whatever", 0, "Autostart: disabled (systemd-user)\n");
    free(unit);
    free(exe);
    finish();
}
END_TEST

START_TEST(systemd_refusal_falls_back_to_xdg)
{
    setup_env(1, "enable");
    start_daemon();
    json_t *o = post_autostart("enable");
    assert_state(o, 1, 1, "xdg-autostart", "~/" DESKTOP);
    json_decref(o);
    ck_assert(!file_exists(UNIT));
    ck_assert(file_exists(DESKTOP));
    assert_calls("--user show-environment\n--user show-environment\n--user daemon-reload\n--user enable hermeslink.service\n"
                 "--user daemon-reload\n");
    assert_status(1, 1, "xdg-autostart");
    finish();
}
END_TEST

START_TEST(xdg_without_systemctl)
{
    setup_env(0, NULL);
    start_daemon();
    assert_status(1, 0, "xdg-autostart");
    assert_cli(NULL, 0, "Autostart: disabled (xdg-autostart)\n");
    json_t *o = post_autostart("enable");
    assert_state(o, 1, 1, "xdg-autostart", "~/" DESKTOP);
    json_decref(o);
    char *exe = self_binary();
    char *desktop = hl_asprintf("[Desktop Entry]\n"
                                "Type=Application\n"
                                "Name=Hermes Link\n"
                                "Comment=Local service for Hermes Agent\n"
                                "Exec=env \"HERMESLINK_HOME=%s\" \"%s\" run\n"
                                "Terminal=false\n"
                                "X-GNOME-Autostart-enabled=true\n",
                                env_.home, exe);
    assert_file(DESKTOP, desktop);
    assert_status(1, 1, "xdg-autostart");
    assert_cli(NULL, 0, "Autostart: enabled (xdg-autostart)\n");
    o = post_autostart("disable");
    assert_state(o, 1, 0, "xdg-autostart", "~/" DESKTOP);
    json_decref(o);
    ck_assert(!file_exists(DESKTOP));
    assert_status(1, 0, "xdg-autostart");
    /* through the daemon: system/status follows the CLI at once */
    assert_cli("on", 0, "Autostart enabled (xdg-autostart)\n");
    assert_status(1, 1, "xdg-autostart");
    /* a file removed behind the daemon's back still reads as disabled from the CLI and the API's answer */
    char *path = hlt_env_path(&env_, 0, DESKTOP);
    ck_assert(unlink(path) == 0);
    free(path);
    assert_cli(NULL, 0, "Autostart: disabled (xdg-autostart)\n");
    free(desktop);
    free(exe);
    finish();
}
END_TEST

START_TEST(unsupported_without_a_home)
{
    setup_env(0, NULL);
    unsetenv("HOME");
    unsetenv("XDG_CONFIG_HOME");
    start_daemon();
    assert_status(0, 0, "unsupported");
    json_t *o = post_autostart("enable");
    assert_state(o, 0, 0, "unsupported", NULL);
    json_decref(o);
    assert_cli("on", 1, "Autostart could not be enabled (unsupported)\n");
    assert_cli(NULL, 0, "Autostart: disabled (unsupported)\n");
    finish();
}
END_TEST

/* ---- NOTIFY_SOCKET ---- */

/* a datagram socket bound to `name` (a path, or "@abstract") */
static int bind_dgram(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    ck_assert(len < sizeof(a.sun_path));
    memcpy(a.sun_path, name, len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, alen), 0);
    return fd;
}

/* the next datagram within timeout_ms (caller frees), NULL when none came */
static char *recv_dgram(int fd, long timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)timeout_ms) != 1)
        return NULL;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    return hl_strdup(buf);
}

/* starts the daemon with NOTIFY_SOCKET=name: READY=1 (with its STATUS) once its ports are out, nothing before, then
 * STOPPING=1 on SIGTERM, and a clean exit */
static void notify_run(const char *name, int fd)
{
    char *var = hl_asprintf("NOTIFY_SOCKET=%s", name);
    const char *extra[] = {var, NULL};
    hlt_daemon_opts_t o = {.env = &env_, .extra_env = extra};
    hlt_daemon_start(D, &o);
    /* hlt_daemon_start returns once the ports are printed: READY=1 follows them at once */
    char *msg = recv_dgram(fd, 10000);
    ck_assert_msg(msg != NULL, "no READY=1");
    char *want = hl_asprintf("READY=1\nSTATUS=Serving on port %d", D->port);
    ck_assert_str_eq(msg, want);
    free(want);
    free(msg);
    ck_assert_ptr_null(msg = recv_dgram(fd, 300));
    ck_assert_int_eq(kill(D->pid, SIGTERM), 0);
    msg = recv_dgram(fd, 10000);
    ck_assert_msg(msg != NULL, "no STOPPING=1");
    ck_assert_str_eq(msg, "STOPPING=1\nSTATUS=Stopping");
    free(msg);
    /* and says so on its stdout */
    char *out = NULL;
    for (long end = hlt_now_ms() + 5000; hlt_now_ms() < end; hlt_sleep_ms(20)) {
        free(out);
        out = hlt_read_file(D->out_path, NULL);
        if (out != NULL && strstr(out, "\nHermes Link stopping (SIGTERM)\n") != NULL)
            break;
    }
    ck_assert_msg(out != NULL && strstr(out, "\nHermes Link stopping (SIGTERM)\n") != NULL, "stdout: %s", out);
    free(out);
    hlt_assert_stop_clean(D);
    free(var);
}

START_TEST(notify_socket_path)
{
    hlt_env_init(&env_);
    char *path = hlt_env_path(&env_, 0, "notify.sock");
    int fd = bind_dgram(path);
    notify_run(path, fd);
    close(fd);
    free(path);
    hlt_env_dispose(&env_);
}
END_TEST

START_TEST(notify_socket_abstract)
{
    hlt_env_init(&env_);
    char *name = hl_asprintf("@hlt-notify-%d", (int)getpid());
    int fd = bind_dgram(name);
    notify_run(name, fd);
    close(fd);
    free(name);
    hlt_env_dispose(&env_);
}
END_TEST

Suite *suite_autostart(void)
{
    Suite *s = suite_create("autostart");
    TCase *tc = tcase_create("autostart");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, systemd_user_unit);
    tcase_add_test(tc, systemd_refusal_falls_back_to_xdg);
    tcase_add_test(tc, xdg_without_systemctl);
    tcase_add_test(tc, unsupported_without_a_home);
    tcase_add_test(tc, notify_socket_path);
    tcase_add_test(tc, notify_socket_abstract);
    suite_add_tcase(s, tc);
    return s;
}
