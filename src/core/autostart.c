/*
 * Autostart: detection, state on disk, enable and disable (hl/autostart.h). The state is the files themselves, so the CLI
 * and the daemon agree without sharing memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

#include "hl/autostart.h"
#include "hl/fsutil.h"
#include "hl/subprocess.h"

#define UNIT_NAME "hermeslink.service"
#define SYSTEMCTL_TIMEOUT_MS 3000
/* enable --now waits for the unit's READY=1 (Type=notify): the daemon's start-up, bounded */
#define SYSTEMCTL_START_TIMEOUT_MS 30000

/* a candidate file: where it is, and how it is shown */
typedef struct st_place_t {
    char path[PATH_MAX];
    char shown[HL_AUTOSTART_SHOWN_MAX];
} place_t;

const char *hl_autostart_method_name(hl_autostart_method_t m)
{
    switch (m) {
    case HL_AUTOSTART_SYSTEMD_USER:
        return "systemd-user";
    case HL_AUTOSTART_XDG:
        return "xdg-autostart";
    case HL_AUTOSTART_LAUNCHD:
        return "launchd";
    default:
        return "unsupported";
    }
}

static const char *abs_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] == '/' ? v : NULL;
}

/* `rel` under a base directory: shown "~/…" when the base lies in $HOME, else "$<var>/…". 0, or -1 when there is no base or
 * the path does not fit. */
static int place_under(place_t *p, const char *base, const char *base_var, const char *rel)
{
    const char *home = abs_env("HOME");
    if (base == NULL || (size_t)snprintf(p->path, sizeof(p->path), "%s/%s", base, rel) >= sizeof(p->path))
        return -1;
    size_t hl = home != NULL ? strlen(home) : 0;
    while (hl > 1 && home[hl - 1] == '/')
        --hl;
    int n;
    if (home != NULL && strncmp(base, home, hl) == 0 && (base[hl] == '/' || base[hl] == '\0'))
        n = snprintf(p->shown, sizeof(p->shown), "~%s/%s", base + hl, rel);
    else
        n = snprintf(p->shown, sizeof(p->shown), "$%s/%s", base_var, rel);
    return n >= 0 && (size_t)n < sizeof(p->shown) ? 0 : -1;
}

/* $XDG_CONFIG_HOME (absolute, as the XDG spec requires) or ~/.config */
static int place_config(place_t *p, const char *rel)
{
    const char *xdg = abs_env("XDG_CONFIG_HOME");
    if (xdg != NULL)
        return place_under(p, xdg, "XDG_CONFIG_HOME", rel);
    const char *home = abs_env("HOME");
    if (home == NULL)
        return -1;
    char base[PATH_MAX];
    if ((size_t)snprintf(base, sizeof(base), "%s/.config", home) >= sizeof(base))
        return -1;
    return place_under(p, base, "HOME", rel);
}

static int place_of(hl_autostart_method_t m, place_t *p)
{
    switch (m) {
    case HL_AUTOSTART_SYSTEMD_USER:
        return place_config(p, "systemd/user/" UNIT_NAME);
    case HL_AUTOSTART_XDG:
        return place_config(p, "autostart/hermeslink.desktop");
    case HL_AUTOSTART_LAUNCHD:
        return place_under(p, abs_env("HOME"), "HOME", "Library/LaunchAgents/com.hermes.link.plist");
    default:
        return -1;
    }
}

static int exists(const place_t *p)
{
    struct stat st;
    return lstat(p->path, &st) == 0;
}

/* systemctl --user <args…>: its exit status, or a negative value when it could not run */
static int systemctl(const char *a1, const char *a2, const char *a3, int timeout_ms)
{
    char *bin = hl_find_executable("systemctl");
    if (bin == NULL)
        return -ENOENT;
    char *argv[] = {bin, "--user", (char *)a1, (char *)a2, (char *)a3, NULL};
    int r = hl_run_quiet(argv, timeout_ms);
    free(bin);
    return r;
}

hl_autostart_method_t hl_autostart_detect(void)
{
#ifdef __APPLE__
    return abs_env("HOME") != NULL ? HL_AUTOSTART_LAUNCHD : HL_AUTOSTART_UNSUPPORTED;
#elif defined(__linux__)
    place_t p;
    if (place_config(&p, "autostart") != 0)
        return HL_AUTOSTART_UNSUPPORTED;
    char *bin = hl_find_executable("systemctl");
    if (bin == NULL)
        return HL_AUTOSTART_XDG;
    /* show-environment answers only when a user manager runs and is reachable (its private socket or the user bus): the
       same test the original makes, and cheap */
    char *argv[] = {bin, "--user", "show-environment", NULL};
    int r = hl_run_quiet(argv, SYSTEMCTL_TIMEOUT_MS);
    free(bin);
    return r == 0 ? HL_AUTOSTART_SYSTEMD_USER : HL_AUTOSTART_XDG;
#else
    return HL_AUTOSTART_UNSUPPORTED;
#endif
}

void hl_autostart_status(hl_autostart_method_t detected, hl_autostart_status_t *out)
{
    memset(out, 0, sizeof(*out));
    out->method = HL_AUTOSTART_UNSUPPORTED;
    if (detected == HL_AUTOSTART_UNSUPPORTED)
        return;
    /* the detected method's file first; on Linux the other one too (written while systemd was away, or the reverse) */
    hl_autostart_method_t cands[2] = {detected, HL_AUTOSTART_UNSUPPORTED};
    if (detected == HL_AUTOSTART_SYSTEMD_USER)
        cands[1] = HL_AUTOSTART_XDG;
    else if (detected == HL_AUTOSTART_XDG)
        cands[1] = HL_AUTOSTART_SYSTEMD_USER;
    for (size_t i = 0; i < HL_ARRAY_SIZE(cands); ++i) {
        place_t p;
        if (cands[i] == HL_AUTOSTART_UNSUPPORTED || place_of(cands[i], &p) != 0)
            continue;
        if (!out->supported || exists(&p)) {
            out->supported = 1;
            out->method = cands[i];
            memcpy(out->file_path, p.shown, sizeof(out->file_path));
            out->enabled = exists(&p);
            if (out->enabled)
                return;
        }
    }
}

/* Writes the file of method m (its directories 0700, the file 0600). 0 or -errno. */
static int write_file(hl_autostart_method_t m, const char *exe, const char *home)
{
    place_t p;
    if (place_of(m, &p) != 0)
        return -ENAMETOOLONG;
    char *text = m == HL_AUTOSTART_SYSTEMD_USER ? hl_autostart_unit_text(exe, home)
                 : m == HL_AUTOSTART_XDG        ? hl_autostart_desktop_text(exe, home)
                                                : hl_autostart_plist_text(exe, home);
    if (text == NULL)
        return -EINVAL;
    char *dir = hl_strdup(p.path);
    *strrchr(dir, '/') = '\0';
    int ret = hl_mkdir_p(dir, 0700);
    if (ret == 0)
        ret = hl_write_file_atomic(p.path, text, strlen(text), 0600);
    free(dir);
    free(text);
    return ret;
}

static int remove_file(hl_autostart_method_t m)
{
    place_t p;
    if (place_of(m, &p) != 0)
        return 0;
    return unlink(p.path) == 0 || errno == ENOENT ? 0 : -errno;
}

int hl_autostart_enable(const char *exe, const char *home, int start_now, hl_autostart_status_t *out)
{
    hl_autostart_method_t m = hl_autostart_detect();
    int ret = -ENOTSUP;
    if (m == HL_AUTOSTART_SYSTEMD_USER) {
        if ((ret = write_file(m, exe, home)) == 0) {
            if (systemctl("daemon-reload", NULL, NULL, SYSTEMCTL_TIMEOUT_MS) != 0 ||
                systemctl("enable", start_now ? "--now" : UNIT_NAME, start_now ? UNIT_NAME : NULL,
                          start_now ? SYSTEMCTL_START_TIMEOUT_MS : SYSTEMCTL_TIMEOUT_MS) != 0) {
                /* a unit systemd will not enable starts nothing: the desktop session's autostart instead, as the original */
                if (remove_file(m) == 0)
                    (void)systemctl("daemon-reload", NULL, NULL, SYSTEMCTL_TIMEOUT_MS);
                m = HL_AUTOSTART_XDG;
            }
        }
        if (m == HL_AUTOSTART_XDG || ret != 0)
            ret = write_file(m = HL_AUTOSTART_XDG, exe, home);
    } else if (m != HL_AUTOSTART_UNSUPPORTED) {
        ret = write_file(m, exe, home);
    }
    hl_autostart_status(m, out);
    return m == HL_AUTOSTART_UNSUPPORTED ? -ENOTSUP : ret;
}

int hl_autostart_disable(hl_autostart_status_t *out)
{
    hl_autostart_method_t m = hl_autostart_detect();
    int ret = 0;
#ifdef __APPLE__
    ret = remove_file(HL_AUTOSTART_LAUNCHD);
#else
    int r;
    place_t unit;
    if (place_of(HL_AUTOSTART_SYSTEMD_USER, &unit) == 0 && exists(&unit)) {
        int have_systemctl = m == HL_AUTOSTART_SYSTEMD_USER;
        if (have_systemctl)
            (void)systemctl("disable", UNIT_NAME, NULL, SYSTEMCTL_TIMEOUT_MS);
        ret = remove_file(HL_AUTOSTART_SYSTEMD_USER);
        if (have_systemctl && ret == 0)
            (void)systemctl("daemon-reload", NULL, NULL, SYSTEMCTL_TIMEOUT_MS);
    }
    if ((r = remove_file(HL_AUTOSTART_XDG)) != 0 && ret == 0)
        ret = r;
#endif
    hl_autostart_status(m, out);
    return ret;
}

json_t *hl_autostart_json(const hl_autostart_status_t *st, int with_path)
{
    json_t *o = json_pack("{s:b, s:b, s:s}", "supported", st->supported, "enabled", st->enabled, "method",
                          hl_autostart_method_name(st->method));
    if (with_path)
        json_object_set_new(o, "filePath", st->file_path[0] != '\0' ? json_string(st->file_path) : json_null());
    return o;
}

int hl_autostart_self_exe(char *buf, size_t len)
{
#ifdef __APPLE__
    uint32_t size = (uint32_t)len;
    char raw[PATH_MAX];
    if (_NSGetExecutablePath(buf, &size) != 0)
        return -ENAMETOOLONG;
    if (realpath(buf, raw) == NULL)
        return -errno;
    if ((size_t)snprintf(buf, len, "%s", raw) >= len)
        return -ENAMETOOLONG;
    return 0;
#endif
    ssize_t n = readlink("/proc/self/exe", buf, len);
    if (n < 0)
        return -errno;
    if ((size_t)n >= len)
        return -ENAMETOOLONG;
    buf[n] = '\0';
    return 0;
}
