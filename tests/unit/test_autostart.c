/*
 * Autostart (src/core/autostart*.c): the files' exact text and quoting, where they go and how they are shown, enable and
 * disable with and without a (fake) systemctl; helper commands with a deadline (src/core/subprocess.c).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hl/autostart.h"
#include "hl/sd_notify.h"
#include "hl/subprocess.h"
#include "unit_util.h"

START_TEST(unit_text_exact)
{
    char *t = hl_autostart_unit_text("/usr/bin/hermeslink", "/home/u/.hermeslink");
    ck_assert_str_eq(t, "[Unit]\n"
                        "Description=Hermes Link\n"
                        "After=network-online.target\n"
                        "\n"
                        "[Service]\n"
                        "Type=notify\n"
                        "ExecStart=\"/usr/bin/hermeslink\" run\n"
                        "Environment=\"HERMESLINK_HOME=/home/u/.hermeslink\"\n"
                        "Restart=on-failure\n"
                        "RestartSec=2\n"
                        "\n"
                        "[Install]\n"
                        "WantedBy=default.target\n");
    free(t);
    /* systemd's specifiers, variables and C escapes */
    t = hl_autostart_unit_text("/opt/a b/100%/$x\"q\\", "/h/%n");
    ck_assert_ptr_nonnull(strstr(t, "ExecStart=\"/opt/a b/100%%/$$x\\\"q\\\\\" run\n"));
    ck_assert_ptr_nonnull(strstr(t, "Environment=\"HERMESLINK_HOME=/h/%%n\"\n"));
    free(t);
    /* refused: relative paths, control characters (a newline would add a directive) */
    ck_assert_ptr_null(hl_autostart_unit_text("hermeslink", "/h"));
    ck_assert_ptr_null(hl_autostart_unit_text("/usr/bin/x", "/h\nExecStartPre=/bin/evil"));
    ck_assert_ptr_null(hl_autostart_unit_text(NULL, "/h"));
}
END_TEST

START_TEST(desktop_text_exact)
{
    char *t = hl_autostart_desktop_text("/usr/bin/hermeslink", "/home/u/.hermeslink");
    ck_assert_str_eq(t, "[Desktop Entry]\n"
                        "Type=Application\n"
                        "Name=Hermes Link\n"
                        "Comment=Local service for Hermes Agent\n"
                        "Exec=env \"HERMESLINK_HOME=/home/u/.hermeslink\" \"/usr/bin/hermeslink\" run\n"
                        "Terminal=false\n"
                        "X-GNOME-Autostart-enabled=true\n");
    free(t);
    /* quoted-argument escapes ("\$", "\\"), escaped again as a string value, and %% for field codes */
    t = hl_autostart_desktop_text("/a$b\\c%d\"e", "/h");
    ck_assert_ptr_nonnull(strstr(t, " \"/a\\\\$b\\\\\\\\c%%d\\\\\"e\" run\n"));
    free(t);
    ck_assert_ptr_null(hl_autostart_desktop_text("/x", "/h\t"));
}
END_TEST

START_TEST(plist_text)
{
    char *t = hl_autostart_plist_text("/Applications/A&B/<hermeslink>", "/Users/u/.hermeslink");
    ck_assert_ptr_nonnull(strstr(t, "<string>com.hermes.link</string>"));
    ck_assert_ptr_nonnull(strstr(t, "<string>/Applications/A&amp;B/&lt;hermeslink&gt;</string>\n    <string>run</string>"));
    ck_assert_ptr_nonnull(strstr(t, "<key>HERMESLINK_HOME</key>\n    <string>/Users/u/.hermeslink</string>"));
    ck_assert_ptr_nonnull(strstr(t, "<key>RunAtLoad</key>\n  <true/>"));
    free(t);
}
END_TEST

/* a temp HOME and XDG_CONFIG_HOME, and PATH holding only `bin` (where a fake systemctl may be put) */
static char *setup_env(const char *xdg_rel, char **bin_out)
{
    char *dir = ut_mkdtemp();
    char *bin = ut_path(dir, "bin");
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    setenv("HOME", dir, 1);
    if (xdg_rel != NULL) {
        char *xdg = xdg_rel[0] == '/' ? strdup(xdg_rel) : ut_path(dir, xdg_rel);
        setenv("XDG_CONFIG_HOME", xdg, 1);
        free(xdg);
    } else {
        unsetenv("XDG_CONFIG_HOME");
    }
    setenv("PATH", bin, 1);
    *bin_out = bin;
    return dir;
}

START_TEST(xdg_fallback_without_systemctl)
{
    char *bin, *dir = setup_env(NULL, &bin);
    ck_assert_int_eq(hl_autostart_detect(), HL_AUTOSTART_XDG);
    hl_autostart_status_t st;
    hl_autostart_status(HL_AUTOSTART_XDG, &st);
    ck_assert(st.supported && !st.enabled);
    ck_assert_str_eq(st.file_path, "~/.config/autostart/hermeslink.desktop");
    ck_assert_int_eq(hl_autostart_enable("/usr/bin/hermeslink", "/h", 1, &st), 0);
    ck_assert(st.enabled);
    ck_assert_int_eq(st.method, HL_AUTOSTART_XDG);
    char *file = ut_path(dir, ".config/autostart/hermeslink.desktop");
    struct stat sb;
    ck_assert_int_eq(stat(file, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    char *cfg = ut_path(dir, ".config/autostart");
    ck_assert_int_eq(stat(cfg, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    json_t *j = hl_autostart_json(&st, 1);
    char *s = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(s, "{\"supported\":true,\"enabled\":true,\"method\":\"xdg-autostart\",\"filePath\":\"~/.config/autostart/"
                        "hermeslink.desktop\"}");
    free(s);
    json_decref(j);
    ck_assert_int_eq(hl_autostart_disable(&st), 0);
    ck_assert(!st.enabled);
    ck_assert_int_ne(access(file, F_OK), 0);
    free(cfg);
    free(file);
    free(bin);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(shown_paths_never_absolute)
{
    char *bin, *dir = setup_env("/nonexistent-xdg-cfg", &bin);
    hl_autostart_status_t st;
    hl_autostart_status(HL_AUTOSTART_SYSTEMD_USER, &st);
    ck_assert_str_eq(st.file_path, "$XDG_CONFIG_HOME/systemd/user/hermeslink.service");
    free(bin);
    ut_rm_rf(dir);
    dir = setup_env("cfg", &bin);
    hl_autostart_status(HL_AUTOSTART_SYSTEMD_USER, &st);
    ck_assert_str_eq(st.file_path, "~/cfg/systemd/user/hermeslink.service");
    /* no HOME, no XDG_CONFIG_HOME: nowhere to put it */
    unsetenv("HOME");
    unsetenv("XDG_CONFIG_HOME");
    ck_assert_int_eq(hl_autostart_detect(), HL_AUTOSTART_UNSUPPORTED);
    hl_autostart_status(HL_AUTOSTART_UNSUPPORTED, &st);
    ck_assert(!st.supported && !st.enabled);
    ck_assert_str_eq(hl_autostart_method_name(st.method), "unsupported");
    ck_assert_int_eq(hl_autostart_enable("/x", "/h", 0, &st), -ENOTSUP);
    free(bin);
    ut_rm_rf(dir);
}
END_TEST

/* a fake systemctl logging its arguments; `fail_on` (a word of its arguments) makes it exit 1 */
static void write_fake_systemctl(const char *bin, const char *dir, const char *fail_on)
{
    char *path = ut_path(bin, "systemctl");
    char *text = NULL;
    ck_assert_int_ne(
        asprintf(&text, "#!/bin/sh\necho \"$*\" >> '%s/calls'\ncase \" $* \" in *' %s '*) exit 1;; esac\nexit 0\n", dir, fail_on),
        -1);
    ut_write_str(path, text);
    ck_assert_int_eq(chmod(path, 0700), 0);
    free(text);
    free(path);
}

START_TEST(systemd_enable_disable)
{
    char *bin, *dir = setup_env("cfg", &bin);
    write_fake_systemctl(bin, dir, "none");
    ck_assert_int_eq(hl_autostart_detect(), HL_AUTOSTART_SYSTEMD_USER);
    hl_autostart_status_t st;
    ck_assert_int_eq(hl_autostart_enable("/usr/bin/hermeslink", "/h", 0, &st), 0);
    ck_assert(st.enabled);
    ck_assert_int_eq(st.method, HL_AUTOSTART_SYSTEMD_USER);
    char *unit = ut_path(dir, "cfg/systemd/user/hermeslink.service"), *calls = ut_path(dir, "calls");
    char *text = ut_read(unit), *want = hl_autostart_unit_text("/usr/bin/hermeslink", "/h");
    ck_assert_str_eq(text, want);
    free(text);
    free(want);
    text = ut_read(calls);
    /* the test's own detect, then enable's */
    ck_assert_str_eq(text,
                     "--user show-environment\n--user show-environment\n--user daemon-reload\n--user enable hermeslink.service\n");
    free(text);
    ck_assert_int_eq(hl_autostart_disable(&st), 0);
    ck_assert(!st.enabled);
    ck_assert_int_eq(st.method, HL_AUTOSTART_SYSTEMD_USER);
    ck_assert_int_ne(access(unit, F_OK), 0);
    text = ut_read(calls);
    ck_assert_str_eq(text,
                     "--user show-environment\n--user show-environment\n--user daemon-reload\n--user enable hermeslink.service\n"
                     "--user show-environment\n--user disable hermeslink.service\n--user daemon-reload\n");
    free(text);
    free(calls);
    free(unit);
    free(bin);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(systemd_enable_refused_falls_back)
{
    char *bin, *dir = setup_env("cfg", &bin);
    write_fake_systemctl(bin, dir, "enable");
    hl_autostart_status_t st;
    ck_assert_int_eq(hl_autostart_enable("/usr/bin/hermeslink", "/h", 1, &st), 0);
    ck_assert(st.enabled);
    ck_assert_int_eq(st.method, HL_AUTOSTART_XDG);
    ck_assert_str_eq(st.file_path, "~/cfg/autostart/hermeslink.desktop");
    char *unit = ut_path(dir, "cfg/systemd/user/hermeslink.service"), *calls = ut_path(dir, "calls");
    ck_assert_int_ne(access(unit, F_OK), 0);
    char *text = ut_read(calls);
    ck_assert_str_eq(text, "--user show-environment\n--user daemon-reload\n--user enable --now hermeslink.service\n"
                           "--user daemon-reload\n");
    free(text);
    free(calls);
    free(unit);
    free(bin);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(no_user_manager_means_xdg)
{
    char *bin, *dir = setup_env("cfg", &bin);
    write_fake_systemctl(bin, dir, "show-environment");
    ck_assert_int_eq(hl_autostart_detect(), HL_AUTOSTART_XDG);
    free(bin);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(run_quiet_statuses)
{
    char *sh = "/bin/sh";
    char *ok[] = {sh, "-c", "exit 0", NULL}, *three[] = {sh, "-c", "echo noise; echo noise >&2; exit 3", NULL};
    char *slow[] = {sh, "-c", "sleep 5", NULL}, *fds[] = {sh, "-c", "test -e /proc/self/fd/3 && exit 9; exit 0", NULL};
    char *missing[] = {"/nonexistent/bin", NULL};
    ck_assert_int_eq(hl_run_quiet(ok, 1000), 0);
    ck_assert_int_eq(hl_run_quiet(three, 1000), 3);
    ck_assert_int_eq(hl_run_quiet(fds, 1000), 0);
    ck_assert_int_eq(hl_run_quiet(missing, 1000), -ENOENT);
    ck_assert_int_eq(hl_run_quiet(slow, 100), HL_RUN_TIMED_OUT);
    setenv("PATH", "relative:/nonexistent:/bin", 1);
    char *p = hl_find_executable("sh");
    ck_assert_str_eq(p, "/bin/sh");
    free(p);
    ck_assert_ptr_null(hl_find_executable("a/b"));
    ck_assert_ptr_null(hl_find_executable("no-such-command-hl"));
}
END_TEST

/* a datagram socket bound to `name` (a path, or "@abstract"); the receiving end */
static int bind_dgram(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(a.sun_path, name, len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, alen), 0);
    return fd;
}

static void assert_received(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    ck_assert_int_eq(n, (ssize_t)strlen(want));
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(notify_path_and_abstract)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "notify");
    int fd = bind_dgram(path);
    ck_assert_int_eq(hl_sd_notify_to(path, "READY=1\nSTATUS=Serving"), 0);
    assert_received(fd, "READY=1\nSTATUS=Serving");
    close(fd);
    char abstract[64];
    snprintf(abstract, sizeof(abstract), "@hl-unit-notify-%d", (int)getpid());
    fd = bind_dgram(abstract);
    ck_assert_int_eq(hl_sd_notify_to(abstract, "STOPPING=1"), 0);
    assert_received(fd, "STOPPING=1");
    close(fd);
    /* forms systemd never hands out, and names that do not fit */
    ck_assert_int_eq(hl_sd_notify_to("relative/notify", "READY=1"), -EINVAL);
    ck_assert_int_eq(hl_sd_notify_to(NULL, "READY=1"), -EINVAL);
    ck_assert_int_eq(hl_sd_notify_to("@", "READY=1"), -ENAMETOOLONG);
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    ck_assert_int_eq(hl_sd_notify_to(longp, "READY=1"), -ENAMETOOLONG);
    /* nobody listening: an error, never a crash or a block */
    ck_assert_int_lt(hl_sd_notify_to(path, "READY=1"), 0);
    /* from the environment, which is cleared for the commands the daemon runs */
    ck_assert_int_eq(unlink(path), 0);
    fd = bind_dgram(path);
    ck_assert_int_eq(hl_sd_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    hl_sd_notify_init();
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_int_eq(hl_sd_notify("READY=1"), 1);
    assert_received(fd, "READY=1");
    close(fd);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

Suite *suite_autostart(void)
{
    Suite *s = suite_create("autostart");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, unit_text_exact);
    tcase_add_test(tc, desktop_text_exact);
    tcase_add_test(tc, plist_text);
    tcase_add_test(tc, xdg_fallback_without_systemctl);
    tcase_add_test(tc, shown_paths_never_absolute);
    tcase_add_test(tc, systemd_enable_disable);
    tcase_add_test(tc, systemd_enable_refused_falls_back);
    tcase_add_test(tc, no_user_manager_means_xdg);
    tcase_add_test(tc, run_quiet_statuses);
    tcase_add_test(tc, notify_path_and_abstract);
    suite_add_tcase(s, tc);
    return s;
}
