/*
 * The permissions and tool-config routes' work (spec/API.md §10, STORAGE §3.3, §3.6) on the Hermes files actor: views
 * derived from config.yaml and .env (hermes_permissions.c, hermes_tool_configs.c), and changes written as planned —
 * config.yaml first, only the touched lines (one backup), then .env (one write, one backup). A config.yaml HermesLink
 * cannot read is 409 and stays untouched; so does everything when the body is refused.
 *
 * HermesLink cannot make Hermes reload: the v0.20 API server has no reload route, and Hermes reads these settings and its
 * .env when its gateway starts. So a change answers gatewayReloaded:false, requiresGatewayReload:true and says how to
 * restart (GAPS §B 12: the original claimed a reload that never happened); a change that changed nothing says so too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hermes_actor.h"
#include "hermes_env_file.h"
#include "hermes_internal.h"
#include "hermes_settings.h"
#include "hl/fsutil.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_read.h"
#include "hl/log.h"

enum { OP_PERMISSIONS_GET, OP_PERMISSIONS_PATCH, OP_TOOL_GET, OP_TOOL_PATCH };

/* What a view is derived from, read from the profile's files. */
typedef struct st_sources_t {
    json_t *config;
    hl_dotenv_t env;
    hermes_settings_src_t src;
} sources_t;

static void sources_dispose(sources_t *s)
{
    json_decref(s->config);
    hl_dotenv_dispose(&s->env);
    memset(s, 0, sizeof(*s));
}

/* True when the profile holds Hermes's auth.json (its OAuth logins) as a regular file; its content is never read here. */
static bool has_auth_json(hl_hermes_t *h, const char *name)
{
    char *dir = hl_hermes_profile_dir(h->link->hermes_home, name), *path = dir != NULL ? hl_path_join(dir, "auth.json") : NULL;
    struct stat st;
    bool yes = path != NULL && lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    free(dir);
    return yes;
}

/* config.yaml as JSON into *config: NULL, or the error to answer (409 config_yaml_invalid when it is not YAML we read). */
static hl_result_t *read_config(hl_hermes_t *h, const char *name, json_t **config)
{
    char *text = NULL, err[256] = "";
    size_t len = 0;
    hl_result_t *res = NULL;
    *config = NULL;
    if (hermes_config_read(h, name, &text, &len, &res) != 0)
        return res;
    int ret = hermes_yaml_json(text, len, config, err, sizeof(err));
    free(text);
    if (ret != 0) {
        char *msg = hl_asprintf("%s; HermesLink leaves the file as it is", err[0] != '\0' ? err : "config.yaml cannot be read");
        res = hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid", msg);
        free(msg);
        return res;
    }
    return NULL;
}

/* Reads config.yaml (when `with_config`; else {}), .env and the auth.json mark: NULL, or the error to answer. */
static hl_result_t *load(hl_hermes_t *h, const char *name, bool with_config, sources_t *s)
{
    memset(s, 0, sizeof(*s));
    hl_result_t *res = NULL;
    if (with_config) {
        if ((res = read_config(h, name, &s->config)) != NULL)
            return res;
    } else
        s->config = json_object();
    if (hermes_env_read(h, name, &s->env, &res) != 0) {
        json_decref(s->config);
        s->config = NULL;
        return res;
    }
    s->src = (hermes_settings_src_t){.config = s->config, .env = &s->env, .has_auth = has_auth_json(h, name)};
    return NULL;
}

/* How to make Hermes read the change: its own restart command for this profile. */
static json_t *restart_hint(const char *name)
{
    char *cmd =
        strcmp(name, "default") == 0 ? hl_strdup("hermes gateway restart") : hl_asprintf("hermes -p %s gateway restart", name);
    char *hint = hl_asprintf("设置已保存，但 HermesLink 无法让 Hermes 重新加载：Hermes 只在网关启动时读取这些设置。"
                             "请在运行 Hermes 的电脑上执行 `%s` 重启网关后生效。",
                             cmd);
    json_t *out = json_string(hint);
    free(hint);
    free(cmd);
    return out;
}

/* The facts of a change, added to its answer object. */
static void add_change_facts(json_t *obj, const char *name, const char *backup, bool changed)
{
    json_object_set_new(obj, "backupPath", backup != NULL ? json_string(backup) : json_null());
    json_object_set_new(obj, "requiresGatewayReload", json_boolean(changed));
    json_object_set_new(obj, "restartHint", changed ? restart_hint(name) : json_null());
    json_object_set_new(obj, "gatewayReloaded", json_false());
}

/* ---- permissions ---- */

static json_t *permissions_view(hl_hermes_t *h, const char *name, const sources_t *s)
{
    char *config_path = hermes_display_dir(h, name, "config.yaml");
    json_t *p = hermes_permissions_json(&s->src, name, config_path);
    free(config_path);
    return p;
}

json_t *hermes_permissions_of(hl_hermes_t *h, const char *name, hl_result_t **res)
{
    sources_t s;
    if ((*res = load(h, name, true, &s)) != NULL)
        return NULL;
    json_t *p = permissions_view(h, name, &s);
    sources_dispose(&s);
    return p;
}

static hl_result_t *permissions_get(hl_hermes_t *h, const char *name)
{
    hl_result_t *res = NULL;
    json_t *p = hermes_permissions_of(h, name, &res);
    return p != NULL ? hl_result_ok(HL_RESULT_OK, json_pack("{s:o}", "permissions", p)) : res;
}

static hl_result_t *permissions_patch(hl_hermes_t *h, const char *name, const json_t *body)
{
    if (!json_is_object(body))
        return hl_result_error(HL_RESULT_INVALID, "profile_permissions_invalid", "The body must be a JSON object");
    json_t *config = NULL;
    hl_result_t *res = read_config(h, name, &config);
    if (res != NULL)
        return res;
    hermes_edits_t edits = {0};
    res = hermes_permissions_plan(body, config, &edits);
    json_decref(config);
    char *backup = NULL;
    if (res == NULL && edits.count > 0)
        res = hermes_config_edit(h, name, hermes_edits_apply, &edits, &backup);
    bool changed = edits.changed;
    hermes_edits_dispose(&edits);
    if (res != NULL)
        return res;
    sources_t s;
    if ((res = load(h, name, true, &s)) != NULL) {
        free(backup);
        return res;
    }
    json_t *p = permissions_view(h, name, &s);
    sources_dispose(&s);
    add_change_facts(p, name, backup, changed);
    if (changed)
        hl_log(HL_LOG_INFO, "Hermes permissions changed", json_pack("{s:s}", "profile", name));
    free(backup);
    return hl_result_ok(HL_RESULT_OK, json_pack("{s:o}", "permissions", p));
}

/* ---- tool configs ---- */

static hl_result_t *bad_tool(const char *key)
{
    /* echo the key only when it is short and plain: it goes back to the client as is */
    bool plain = strlen(key) <= 32;
    for (const char *p = key; plain && *p != '\0'; ++p)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
    char *msg = plain
                    ? hl_asprintf("unsupported tool config \"%s\" (web, image_gen, stt, tts, messaging, homeassistant or rl)", key)
                    : hl_strdup("unsupported tool config (web, image_gen, stt, tts, messaging, homeassistant or rl)");
    hl_result_t *res = hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid", msg);
    free(msg);
    return res;
}

static json_t *tool_view(hl_hermes_t *h, const char *name, const char *key, const sources_t *s)
{
    char *config_path = hermes_display_dir(h, name, "config.yaml");
    json_t *v = hermes_tool_config_json(key, &s->src, name, config_path);
    free(config_path);
    return v;
}

static hl_result_t *tool_get(hl_hermes_t *h, const char *name, const char *key)
{
    sources_t s;
    hl_result_t *res = load(h, name, hermes_tool_uses_config(key), &s);
    if (res != NULL)
        return res;
    json_t *v = tool_view(h, name, key, &s);
    sources_dispose(&s);
    return hl_result_ok(HL_RESULT_OK, v);
}

/* The keys a change set, for the log (names only: the values are secrets). */
static json_t *env_names(const hermes_env_changes_t *env)
{
    json_t *a = json_array();
    for (size_t i = 0; i < env->count; ++i)
        json_array_append_new(a, json_string(env->keys[i]));
    return a;
}

static hl_result_t *tool_patch(hl_hermes_t *h, const char *name, const char *key, const json_t *body)
{
    if (!json_is_object(body))
        return hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid", "The body must be a JSON object");
    const json_t *values = json_object_get(body, "values");
    if (!json_is_object(values))
        values = body;
    json_t *config = NULL;
    hl_result_t *res = NULL;
    if (hermes_tool_uses_config(key) && (res = read_config(h, name, &config)) != NULL)
        return res;
    hermes_edits_t edits = {0};
    hermes_env_changes_t env = {0};
    res = hermes_tool_config_plan(key, values, config, &edits, &env);
    json_decref(config);
    char *backup = NULL, *env_backup = NULL;
    bool env_changed = false;
    if (res == NULL && edits.count > 0)
        res = hermes_config_edit(h, name, hermes_edits_apply, &edits, &backup);
    if (res == NULL && env.count > 0) {
        res = hermes_env_write(h, name, &env, &env_backup, &env_changed);
        if (res != NULL && edits.changed)
            hl_log(HL_LOG_WARN, "Hermes tool config half written: config.yaml changed, .env not",
                   json_pack("{s:s, s:s}", "profile", name, "tool", key));
    }
    bool changed = edits.changed || env_changed;
    json_t *keys = env_names(&env);
    hermes_edits_dispose(&edits);
    hermes_env_changes_dispose(&env);
    sources_t s;
    if (res == NULL)
        res = load(h, name, hermes_tool_uses_config(key), &s);
    if (res != NULL) {
        json_decref(keys);
        free(backup);
        free(env_backup);
        return res;
    }
    json_t *v = tool_view(h, name, key, &s);
    sources_dispose(&s);
    add_change_facts(v, name, backup, changed);
    json_object_set_new(v, "envBackupPath", env_backup != NULL ? json_string(env_backup) : json_null());
    if (changed)
        hl_log(HL_LOG_INFO, "Hermes tool config changed",
               json_pack("{s:s, s:s, s:o}", "profile", name, "tool", key, "envKeys", keys));
    else
        json_decref(keys);
    free(backup);
    free(env_backup);
    return hl_result_ok(HL_RESULT_OK, json_pack("{s:o}", "config", v));
}

/* ---- the task ---- */

static void run_settings(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    bool write = t->op == OP_PERMISSIONS_PATCH || t->op == OP_TOOL_PATCH;
    if (!(write ? hermes_writable_name(t->h, t->name) : hermes_readable_name(t->h, t->name))) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    bool tool = t->op == OP_TOOL_GET || t->op == OP_TOOL_PATCH;
    if (tool && !hermes_tool_key_valid(t->arg)) {
        hermes_manage_finish(t, bad_tool(t->arg));
        return;
    }
    if (!hermes_profile_exists(t->h, t->name)) {
        hermes_manage_finish(t, hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found"));
        return;
    }
    hl_result_t *res;
    switch (t->op) {
    case OP_PERMISSIONS_GET:
        res = permissions_get(t->h, t->name);
        break;
    case OP_PERMISSIONS_PATCH:
        res = permissions_patch(t->h, t->name, t->body);
        break;
    case OP_TOOL_GET:
        res = tool_get(t->h, t->name, t->arg);
        break;
    default:
        res = tool_patch(t->h, t->name, t->arg, t->body);
    }
    hermes_manage_finish(t, res);
}

void hl_hermes_permissions_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    hermes_manage_post(h, to, name, NULL, NULL, OP_PERMISSIONS_GET, run_settings);
}

void hl_hermes_permissions_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_PERMISSIONS_PATCH, run_settings);
}

void hl_hermes_tool_config_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *tool)
{
    hermes_manage_post(h, to, name, tool != NULL ? tool : "", NULL, OP_TOOL_GET, run_settings);
}

void hl_hermes_tool_config_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *tool, const json_t *body)
{
    hermes_manage_post(h, to, name, tool != NULL ? tool : "", body, OP_TOOL_PATCH, run_settings);
}
