/*
 * The profile routes' work on the Hermes files actor (spec/API.md §10; GAPS §A 14, §B 21, 23): status, metadata,
 * rename and delete. Every name is checked before a path is built; a profile folder is renamed or removed only when it
 * is a real folder inside the Hermes root and its gateway is not running; errors are JSON with their own codes, never
 * errno text or paths.
 */
#include "hl/hermes_manage.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hl/json_util.h"
#include "hl/log.h"
#include "hl/logread.h"

#define MAX_DISPLAY_NAME 128
#define MAX_DESCRIPTION 2048
#define MAX_AVATAR_URL 2048

typedef hermes_manage_task_t manage_task_t;

static void free_manage_task(hl_msg_t *msg)
{
    manage_task_t *t = (manage_task_t *)msg;
    if (t->to != NULL) /* never run: the daemon is stopping */
        hl_reply(t->to, hl_result_error(HL_RESULT_UNAVAILABLE, "server_busy", "The service is stopping"));
    json_decref(t->body);
    free(t->name);
    free(t->arg);
    free(t);
}

hermes_manage_task_t *hermes_manage_post(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *arg, const json_t *body,
                                         int op, void (*run)(hl_task_t *))
{
    manage_task_t *t = hl_calloc(1, sizeof(*t));
    hl_msg_init(&t->super.super, 1, free_manage_task);
    t->super.run = run;
    t->h = h;
    t->to = to;
    t->name = hl_strdup(name != NULL ? name : "");
    t->arg = arg != NULL ? hl_strdup(arg) : NULL;
    t->body = body != NULL ? json_deep_copy(body) : NULL;
    t->op = op;
    hl_actor_post(&h->actor, &t->super.super);
    return t;
}

void hermes_manage_free(hermes_manage_task_t *t)
{
    free_manage_task(&t->super.super);
}

void hermes_manage_finish(manage_task_t *t, hl_result_t *res)
{
    hl_reply(t->to, res);
    t->to = NULL;
    free_manage_task(&t->super.super);
}

hl_result_t *hermes_invalid_name(void)
{
    return hl_result_error(HL_RESULT_INVALID, "invalid_profile_name", "Profile name is invalid");
}

static void post(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body, void (*run)(hl_task_t *))
{
    hermes_manage_post(h, to, name, NULL, body, 0, run);
}

/* A :name that may be read: a profile name (spec/API.md §10's pattern, or default) that does not lead out of the root. */
bool hermes_readable_name(const hl_hermes_t *h, const char *name)
{
    return hl_hermes_valid_profile_name(name) && !hermes_profile_escapes(h, name);
}

/*
 * A :name whose folder or metadata may be changed: readable, and default or a name Hermes itself would give
 * (^[a-z0-9][a-z0-9_-]{0,63}$). A folder named otherwise is listed and readable, but read-only (issue 10).
 */
bool hermes_writable_name(const hl_hermes_t *h, const char *name)
{
    if (!hermes_readable_name(h, name))
        return false;
    if (strcmp(name, "default") == 0)
        return true;
    for (const char *p = name; *p != '\0'; ++p) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == name || (*p != '_' && *p != '-')))
            return false;
    }
    return true;
}

static hl_result_t *status_result(hl_hermes_t *h, const char *name)
{
    return hl_result_ok(HL_RESULT_OK, json_pack("{s:o}", "profile", hermes_profile_status(h, name)));
}

void hl_hermes_set_store(hl_hermes_t *h, hl_store_t *store)
{
    h->store = store;
}

/* ---- status ---- */

static void run_status(hl_task_t *base)
{
    manage_task_t *t = (manage_task_t *)base;
    if (!hermes_readable_name(t->h, t->name)) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    if (hl_hermes_profile_listed(t->h, t->name) == 0 && hermes_profile_exists(t->h, t->name))
        hermes_snapshot_refresh(t->h); /* a miss: Hermes made it since */
    hermes_manage_finish(t, status_result(t->h, t->name));
}

void hl_hermes_profile_status_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    post(h, to, name, NULL, run_status);
}

/* ---- the gateway's log ---- */

static void run_gateway_logs(hl_task_t *base)
{
    manage_task_t *t = (manage_task_t *)base;
    json_t *logs = hl_logs_read_gateway(t->h->link->hermes_home, (size_t)t->op);
    hermes_manage_finish(t, hl_result_ok(HL_RESULT_OK, json_pack("{s:s, s:o}", "source", t->name, "logs", logs)));
}

void hl_hermes_gateway_logs(hl_hermes_t *h, hl_reply_to_t *to, const char *source, size_t limit)
{
    hermes_manage_post(h, to, source, NULL, NULL, (int)limit, run_gateway_logs);
}

/* ---- the gateway of a profile ---- */

/* True when <dir>/gateway.pid names a live process (Hermes's gateway runs in that profile). */
static bool gateway_running(const char *dir)
{
    char *path = hl_path_join(dir, "gateway.pid"), *text = NULL;
    size_t len = 0;
    bool alive = false;
    if (hl_read_file(path, 4096, &text, &len) == 0) {
        const char *p = text;
        while (*p != '\0' && !isdigit((unsigned char)*p))
            ++p;
        long pid = strtol(p, NULL, 10);
        alive = pid > 1 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    }
    free(text);
    free(path);
    return alive;
}

/* A profile folder that may be renamed or removed: a real folder (not a link), inside the root, gateway stopped. The
 * error to answer otherwise, or NULL. */
static hl_result_t *check_mutable_dir(hl_hermes_t *h, const char *name, const char *dir)
{
    struct stat st;
    if (strcmp(name, "default") == 0)
        return hl_result_error(HL_RESULT_INVALID, "default_profile_not_mutable",
                               "The default profile cannot be renamed or deleted");
    if (!hermes_profile_exists(h, name) || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found");
    if (gateway_running(dir))
        return hl_result_error(HL_RESULT_CONFLICT, "profile_in_use",
                               "Hermes's gateway is running in this profile; stop it first (hermes -p <name> gateway stop)");
    return NULL;
}

/* ---- the sticky profile (<root>/active_profile) ---- */

/* True when the file at `path` (<root>/active_profile, a regular file) names `name` (its one line, blanks around it
 * ignored); *mode: the file's mode. */
static bool active_is(const char *path, const char *name, mode_t *mode)
{
    char *text = NULL;
    size_t len = 0;
    bool is = false;
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && hl_read_file(path, 4096, &text, &len) == 0) {
        size_t n = strlen(name);
        const char *s = text;
        while (isspace((unsigned char)*s))
            ++s;
        if (strncmp(s, name, n) == 0) {
            const char *rest = s + n;
            while (isspace((unsigned char)*rest))
                ++rest;
            is = *rest == '\0';
        }
        *mode = st.st_mode & 07777;
    }
    free(text);
    return is;
}

/* Removes <root>/active_profile when it names `name` (as `hermes profile delete` does). */
static void forget_active(hl_hermes_t *h, const char *name)
{
    char *path = hl_path_join(h->root, "active_profile");
    mode_t mode = 0600;
    if (active_is(path, name, &mode) && unlink(path) != 0)
        hl_logf(HL_LOG_WARN, "hermes: active_profile still names a deleted profile");
    free(path);
}

/* Points <root>/active_profile at `to` when it named `from` (as `hermes profile rename` does). */
static void follow_active(hl_hermes_t *h, const char *from, const char *to)
{
    char *path = hl_path_join(h->root, "active_profile");
    mode_t mode = 0600;
    if (active_is(path, from, &mode)) {
        char *line = hl_asprintf("%s\n", to);
        if (hl_write_file_atomic(path, line, strlen(line), mode) != 0)
            hl_logf(HL_LOG_WARN, "hermes: active_profile still names a renamed profile");
        free(line);
    }
    free(path);
}

/* ---- metadata and rename ---- */

/* The string or null under either spelling, into `changes` as `field`; false (and *res) when it has another type or is
 * too long. */
static bool take_text(const json_t *body, const char *a, const char *b, const char *field, size_t max, json_t *changes,
                      hl_result_t **res)
{
    json_t *v = json_object_get(body, a);
    if (v == NULL && b != NULL)
        v = json_object_get(body, b);
    if (v == NULL)
        return true;
    if (!json_is_null(v) && !(json_is_string(v) && json_string_length(v) <= max)) {
        char *msg = hl_asprintf("%s must be a string of at most %zu characters, or null", field, max);
        *res = hl_result_error(HL_RESULT_INVALID, "invalid_profile_metadata", msg);
        free(msg);
        return false;
    }
    json_object_set(changes, field, v);
    return true;
}

static bool http_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static hl_result_t *patch_metadata(hl_hermes_t *h, const char *name, const json_t *body)
{
    if (!hermes_profile_exists(h, name))
        return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found");
    json_t *changes = json_object();
    hl_result_t *res = NULL;
    if (!take_text(body, "displayName", "display_name", "displayName", MAX_DISPLAY_NAME, changes, &res) ||
        !take_text(body, "description", NULL, "description", MAX_DESCRIPTION, changes, &res) ||
        !take_text(body, "avatarUrl", "avatar_url", "avatarUrl", MAX_AVATAR_URL, changes, &res)) {
        json_decref(changes);
        return res;
    }
    /* the avatar type is always set: a body without it means "default" (spec/API.md §10) */
    json_t *type = json_object_get(body, "avatarType");
    if (type == NULL)
        type = json_object_get(body, "avatar_type");
    const char *t = type == NULL || json_is_null(type) ? "default" : json_string_value(type);
    if (t == NULL || (strcmp(t, "default") != 0 && strcmp(t, "url") != 0)) {
        json_decref(changes);
        return hl_result_error(HL_RESULT_INVALID, "invalid_profile_avatar_type", "avatarType must be default or url");
    }
    json_object_set_new(changes, "avatarType", json_string(t));
    if (strcmp(t, "default") == 0) {
        json_object_set_new(changes, "avatarUrl", json_null());
    } else {
        json_t *url = json_object_get(changes, "avatarUrl");
        if (url == NULL)
            url = json_object_get(hermes_registry_ensure(&h->registry, name), "avatarUrl");
        if (!json_is_string(url) || !http_url(json_string_value(url))) {
            json_decref(changes);
            return hl_result_error(HL_RESULT_INVALID, "invalid_profile_avatar_url",
                                   "avatarUrl must be an http or https URL when avatarType is url");
        }
    }
    int ret = hermes_registry_update(&h->registry, name, changes);
    json_decref(changes);
    if (ret != 0)
        return hl_errno_is_disk_full(ret)
                   ? hl_result_storage_full()
                   : hl_result_error(HL_RESULT_INTERNAL, "internal_error", "The profile's details could not be saved");
    return status_result(h, name);
}

static hl_result_t *rename_profile(hl_hermes_t *h, const char *from, const char *to)
{
    if (strcmp(from, "default") == 0)
        return hl_result_error(HL_RESULT_INVALID, "default_profile_not_mutable",
                               "The default profile cannot be renamed or deleted");
    const char *problem = hl_hermes_new_profile_name_problem(to);
    if (problem != NULL)
        return hl_result_error(HL_RESULT_INVALID, "invalid_profile_name", problem);
    char *old_dir = hl_hermes_profile_dir(h->link->hermes_home, from), *new_dir = hl_hermes_profile_dir(h->link->hermes_home, to);
    hl_result_t *res = check_mutable_dir(h, from, old_dir);
    struct stat st;
    if (res == NULL && strcmp(from, to) != 0) {
        if (lstat(new_dir, &st) == 0)
            res = hl_result_error(HL_RESULT_CONFLICT, "profile_already_exists", "A profile with that name already exists");
        else if (rename(old_dir, new_dir) != 0)
            res = hl_result_error(HL_RESULT_INTERNAL, "internal_error", "The profile folder could not be renamed");
        else if (hermes_registry_rename(&h->registry, from, to) != 0)
            hl_logf(HL_LOG_WARN, "hermes: profile renamed, but its details could not be moved in profiles.json");
        if (res == NULL) {
            follow_active(h, from, to);
            hl_log(HL_LOG_INFO, "Hermes profile renamed", json_pack("{s:s, s:s}", "from", from, "to", to));
            hermes_snapshot_refresh(h);
        }
    }
    free(old_dir);
    free(new_dir);
    return res != NULL ? res : status_result(h, to);
}

static void run_patch(hl_task_t *base)
{
    manage_task_t *t = (manage_task_t *)base;
    if (!hermes_writable_name(t->h, t->name)) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    json_t *new_name = json_object_get(t->body, "name");
    if (!json_is_string(new_name)) {
        hermes_manage_finish(t, patch_metadata(t->h, t->name, t->body));
        return;
    }
    const char *to = json_string_value(new_name);
    hl_result_t *res = rename_profile(t->h, t->name, to);
    if (res->kind != HL_RESULT_OK || t->h->store == NULL || strcmp(t->name, to) == 0) {
        hermes_manage_finish(t, res);
        return;
    }
    /* the profile's conversations follow it; the store answers with the new status once they do */
    json_t *answer = res->body;
    res->body = NULL;
    hl_result_free(res);
    hl_store_rename_profile_conversations(t->h->store, t->to, t->name, to, answer);
    t->to = NULL;
    hermes_manage_free(t);
}

void hl_hermes_profile_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    post(h, to, name, body, run_patch);
}

/* ---- delete ---- */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int hermes_remove_tree(const char *dir)
{
    /* depth first, never following a link, never leaving the folder's file system */
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0 ? 0 : -1;
}

static void run_delete(hl_task_t *base)
{
    manage_task_t *t = (manage_task_t *)base;
    hl_hermes_t *h = t->h;
    if (!hermes_writable_name(h, t->name)) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    char *dir = hl_hermes_profile_dir(h->link->hermes_home, t->name);
    hl_result_t *res = check_mutable_dir(h, t->name, dir);
    if (res == NULL && hermes_remove_tree(dir) != 0)
        res = hl_result_error(HL_RESULT_INTERNAL, "internal_error", "The profile folder could not be removed completely");
    free(dir);
    if (res != NULL) {
        hermes_snapshot_refresh(h);
        hermes_manage_finish(t, res);
        return;
    }
    hl_log(HL_LOG_INFO, "Hermes profile deleted", json_pack("{s:s}", "profile", t->name));
    if (hermes_registry_remove(&h->registry, t->name) != 0)
        hl_logf(HL_LOG_WARN, "hermes: a deleted profile's details stay in profiles.json");
    forget_active(h, t->name);
    hermes_snapshot_refresh(h);
    if (h->store != NULL) {
        /* the store answers once the profile's conversations are deleted */
        hl_store_delete_profile_conversations(h->store, t->to, t->name);
        t->to = NULL;
        hermes_manage_free(t);
        return;
    }
    hermes_manage_finish(t, hl_result_ok(HL_RESULT_OK, json_object()));
}

void hl_hermes_profile_delete(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    post(h, to, name, NULL, run_delete);
}
