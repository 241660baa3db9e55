/*
 * Autostart (core layer, src/core/autostart*.c; spec/CLI.md §4): the one implementation behind `hermeslink autostart`,
 * POST /api/v1/system/autostart/enable|disable and system/status.autostart.
 *
 * Methods: macOS a launchd agent (~/Library/LaunchAgents/com.hermes.link.plist); Linux a systemd user unit
 * ($XDG_CONFIG_HOME or ~/.config + /systemd/user/hermeslink.service) when a user systemd answers (`systemctl` on PATH and
 * `systemctl --user show-environment` exits 0 within 3 s), else an XDG autostart entry (…/autostart/hermeslink.desktop);
 * anything else is unsupported. Enabled = one of the candidate files exists (the detected method's first). Each runs
 * `<absolute binary> run` with HERMESLINK_HOME set to the home it was enabled for.
 *
 * Paths are shown as "~/…" under $HOME, "$XDG_CONFIG_HOME/…" for a config home elsewhere, never absolute. Blocking (files,
 * systemctl): the CLI or the system actor, never a worker thread.
 */
#ifndef HL_AUTOSTART_H
#define HL_AUTOSTART_H

#include <jansson.h>

#include "hl/common.h"

typedef enum en_hl_autostart_method_t {
    HL_AUTOSTART_UNSUPPORTED,
    HL_AUTOSTART_SYSTEMD_USER,
    HL_AUTOSTART_XDG,
    HL_AUTOSTART_LAUNCHD,
} hl_autostart_method_t;

/** Room for a shown file path. */
#define HL_AUTOSTART_SHOWN_MAX 1024

typedef struct st_hl_autostart_status_t {
    int supported;
    int enabled;
    hl_autostart_method_t method;
    char file_path[HL_AUTOSTART_SHOWN_MAX]; /* shown form ("" when unsupported) */
} hl_autostart_status_t;

/** "systemd-user", "xdg-autostart", "launchd" or "unsupported". */
const char *hl_autostart_method_name(hl_autostart_method_t m);

/** The method this machine offers now; may run `systemctl --user show-environment` (bounded, 3 s). */
hl_autostart_method_t hl_autostart_detect(void);

/** The state on disk for a machine whose detected method is `detected` (file checks only). */
void hl_autostart_status(hl_autostart_method_t detected, hl_autostart_status_t *out);

/**
 * Enables autostart of `exe run` for `home` (both absolute) with the detected method: writes the file (directories 0700,
 * file 0600, atomically); for systemd then `systemctl --user daemon-reload` and `systemctl --user enable --now
 * hermeslink.service` (`enable` without `--now` when `start_now` is 0: a daemon of this home already runs and a second
 * one would only fail on its pid lock). When systemctl fails, the unit is removed again and the XDG entry written instead.
 * Fills *out with the resulting state. 0, or -errno when no file could be written (*out then says disabled).
 */
int hl_autostart_enable(const char *exe, const char *home, int start_now, hl_autostart_status_t *out) HL_WARN_UNUSED;

/**
 * Disables autostart: `systemctl --user disable hermeslink.service` (errors ignored, when systemctl is on PATH) and
 * removes the unit, then `daemon-reload`; removes the XDG entry (and on macOS the plist). Nothing is stopped. Fills *out.
 * 0, or -errno when a file could not be removed (*out then still says enabled).
 */
int hl_autostart_disable(hl_autostart_status_t *out) HL_WARN_UNUSED;

/** {"supported","enabled","method"} and, with `with_path`, "filePath". New reference. */
json_t *hl_autostart_json(const hl_autostart_status_t *st, int with_path);

/** The running binary's absolute path (/proc/self/exe) into buf. 0 or -errno (-ENAMETOOLONG past `len`). */
int hl_autostart_self_exe(char *buf, size_t len) HL_WARN_UNUSED;

/* ---- file contents (autostart_render.c); NULL when a path holds a control character or is not absolute ---- */

/** The systemd user unit: Type=notify, ExecStart="<exe>" run, Environment="HERMESLINK_HOME=<home>", Restart=on-failure.
 * Caller frees. */
char *hl_autostart_unit_text(const char *exe, const char *home);

/** The XDG autostart entry: Exec=env "HERMESLINK_HOME=<home>" "<exe>" run. Caller frees. */
char *hl_autostart_desktop_text(const char *exe, const char *home);

/** The launchd agent: Label com.hermes.link, ProgramArguments [exe, run], EnvironmentVariables, RunAtLoad. Caller frees. */
char *hl_autostart_plist_text(const char *exe, const char *home);

#endif
