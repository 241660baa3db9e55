/*
 * autostart [on|enable|off|disable] (spec/CLI.md §2.9), and the state `status` shows. One implementation with the API's
 * (hl/autostart.h): a running daemon of this home is asked over control.sock (it does the work on its system actor and its
 * system/status follows at once); without one the CLI does it itself, for its own binary and home, and `enable` also starts
 * the service under systemd (`enable --now`).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hl/autostart.h"
#include "hl/control.h"
#include "hl/pidfile.h"

/* enable may wait on systemctl a few times (3 s each at most) */
#define CONTROL_TIMEOUT_MS 40000

static const char HELP[] = "Usage: hermeslink autostart [on|enable|off|disable]\n"
                           "\n"
                           "Without an argument, show whether Hermes Link starts at login. `on` installs a systemd user unit\n"
                           "(or, without a user systemd, an XDG autostart entry; on macOS a launchd agent) that runs this\n"
                           "binary with `run` for this HERMESLINK_HOME; `off` removes it.\n";

static const char *const METHODS[] = {"unsupported", "systemd-user", "xdg-autostart", "launchd"};

/* the daemon's answer into *out; -1 when it is not usable */
static int from_reply(json_t *reply, hl_autostart_status_t *out)
{
    memset(out, 0, sizeof(*out));
    if (reply == NULL || !json_is_true(json_object_get(reply, "ok")))
        return -1;
    const char *method = json_string_value(json_object_get(reply, "method"));
    const char *path = json_string_value(json_object_get(reply, "filePath"));
    out->method = HL_AUTOSTART_UNSUPPORTED;
    for (size_t i = 0; method != NULL && i < HL_ARRAY_SIZE(METHODS); ++i)
        if (strcmp(method, METHODS[i]) == 0)
            out->method = (hl_autostart_method_t)i;
    out->supported = json_is_true(json_object_get(reply, "supported"));
    out->enabled = json_is_true(json_object_get(reply, "enabled"));
    snprintf(out->file_path, sizeof(out->file_path), "%s", path != NULL ? path : "");
    return 0;
}

int hl_cli_autostart(const char *home, const char *action, hl_autostart_status_t *out)
{
    pid_t pid;
    int running = hl_pidfile_probe(home, &pid) == HL_PID_RUNNING;
    if (running) {
        json_t *req = json_pack("{s:s, s:s}", "cmd", "autostart", "action", action);
        json_t *reply = hl_control_call(home, req, CONTROL_TIMEOUT_MS);
        json_decref(req);
        int ret = from_reply(reply, out);
        json_decref(reply);
        if (ret == 0)
            return 0;
    }
    if (strcmp(action, "enable") == 0) {
        char exe[PATH_MAX];
        if (hl_autostart_self_exe(exe, sizeof(exe)) != 0) {
            hl_autostart_status(hl_autostart_detect(), out);
            return -1;
        }
        return hl_autostart_enable(exe, home, !running, out) == 0 ? 0 : -1;
    }
    if (strcmp(action, "disable") == 0)
        return hl_autostart_disable(out) == 0 ? 0 : -1;
    hl_autostart_status(hl_autostart_detect(), out);
    return 0;
}

int hl_cmd_autostart(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    const char *action = "show";
    for (int i = 1; i < argc; ++i) {
        if (argv[i][0] == '-')
            return hl_cli_reject(argv[i], HELP);
    }
    if (argc > 1 && (strcmp(argv[1], "on") == 0 || strcmp(argv[1], "enable") == 0))
        action = "enable";
    else if (argc > 1 && (strcmp(argv[1], "off") == 0 || strcmp(argv[1], "disable") == 0))
        action = "disable";
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    hl_autostart_status_t st;
    (void)hl_cli_autostart(home, action, &st);
    free(home);
    const char *method = hl_autostart_method_name(st.method);
    if (strcmp(action, "enable") == 0) {
        if (!st.enabled) {
            printf("Autostart could not be enabled (%s)\n", method);
            return 1;
        }
        printf("Autostart enabled (%s)\n", method);
    } else if (strcmp(action, "disable") == 0) {
        if (st.enabled) {
            printf("Autostart still enabled (%s)\n", method);
            return 1;
        }
        printf("Autostart disabled (%s)\n", method);
    } else {
        printf("Autostart: %s (%s)\n", st.enabled ? "enabled" : "disabled", method);
    }
    return 0;
}
