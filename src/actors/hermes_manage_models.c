/*
 * The model-config routes' work (spec/API.md §9) on the Hermes files actor: the listing of a profile's models, and
 * saving, deleting and choosing the default models, which change only the lines of config.yaml they touch
 * (hermes_models_edit.c computes the new text; hermes_config_edit writes it with a backup) and, for an API key, one
 * line of the profile's .env. Keys never appear in an answer. The default profile is the Hermes home itself.
 *
 * HermesLink cannot reload Hermes's gateway (the v0.20 API server has no reload route), so no answer claims it did
 * (GAPS §B 12): a change the gateway reads at start says requiresGatewayReload with how to restart it. A profile that
 * does not exist lists no models; changes to it are 404, and never create its folder (GAPS §B 23).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hermes_env_file.h"
#include "hermes_internal.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_models.h"
#include "hl/hermes_read.h"
#include "hl/log.h"

enum { OP_GET, OP_SAVE, OP_DEFAULTS, OP_DELETE };

static const char APPLIES_AT_START[] =
    "Model configuration saved. It applies when Hermes's gateway next starts; HermesLink did not restart it";
static const char DEFAULTS_APPLIED[] =
    "Default models saved. Hermes reads them for each new run, so its gateway needs no restart (HermesLink restarted nothing)";
static const char NOTHING_CHANGED[] = "Nothing changed: config.yaml and .env already held this model configuration";

/* The profile's .env parsed into `env` (hl_dotenv_dispose it): empty when it is missing or cannot be read (no key then
 * counts as configured; a write would report why). */
static void env_load(hl_hermes_t *h, const char *name, hl_dotenv_t *env)
{
    hl_result_t *res = NULL;
    if (hermes_env_read(h, name, env, &res) != 0) {
        hl_result_free(res);
        hl_dotenv_parse(env, "", 0);
    }
}

/* Sets one key of the profile's .env (hermes_env_write); NULL or the error to answer. */
static hl_result_t *env_set(hl_hermes_t *h, const char *name, const char *key, const char *value, bool *changed)
{
    hermes_env_changes_t changes = {0};
    hermes_env_changes_add(&changes, key, value);
    char *backup = NULL;
    hl_result_t *res = hermes_env_write(h, name, &changes, &backup, changed);
    free(backup);
    hermes_env_changes_dispose(&changes);
    return res;
}

/* How to restart the profile's gateway, which HermesLink cannot reload itself. Caller frees. */
static char *restart_hint(const char *name)
{
    return strcmp(name, "default") == 0
               ? hl_strdup("Model configuration saved. HermesLink cannot reload Hermes's gateway (its API server has no reload "
                           "route), so it did not: restart the gateway for the change to apply: hermes gateway restart")
               : hl_asprintf("Model configuration saved. HermesLink cannot reload Hermes's gateway (its API server has no "
                             "reload route), so it did not: restart the gateway for the change to apply: hermes -p %s gateway "
                             "restart",
                             name);
}

static hl_result_t *invalid(const char *message)
{
    return hl_result_error(HL_RESULT_INVALID, "model_config_invalid", message);
}

static hl_result_t *not_found(void)
{
    return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found");
}

/* The listing of an existing profile, or of one that does not exist (no models): {configPath, …}. NULL and *res on
 * error. */
json_t *hermes_model_listing(hl_hermes_t *h, const char *name, hl_result_t **res)
{
    json_t *config = NULL;
    if (hermes_profile_exists(h, name)) {
        char *text = NULL, err[256] = "";
        size_t len = 0;
        if (hermes_config_read(h, name, &text, &len, res) != 0)
            return NULL;
        int ret = hermes_yaml_json(text, len, &config, err, sizeof(err));
        free(text);
        if (ret != 0) {
            *res = hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid", err);
            return NULL;
        }
    }
    hl_dotenv_t env;
    if (config != NULL)
        env_load(h, name, &env);
    else
        hl_dotenv_parse(&env, "", 0);
    json_t *models = hl_models_listing(config, &env);
    hl_dotenv_dispose(&env);
    json_decref(config);
    char *path = hermes_display_dir(h, name, "config.yaml");
    json_t *out = json_pack("{s:s}", "configPath", path);
    free(path);
    json_object_update(out, models);
    json_decref(models);
    return out;
}

/* The new config.yaml computed from the text read before; the file must still hold that text. */
typedef struct st_planned_t {
    const char *before, *after;
    size_t before_len, after_len;
} planned_t;

static int write_planned(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err, size_t errlen)
{
    const planned_t *p = ctx;
    if (len != p->before_len || memcmp(text, p->before, len) != 0) {
        snprintf(err, errlen, "config.yaml changed while HermesLink was editing it; try again");
        return -ESTALE;
    }
    *out = hl_malloc(p->after_len + 1);
    memcpy(*out, p->after, p->after_len);
    (*out)[p->after_len] = '\0';
    *out_len = p->after_len;
    return 0;
}

/* What a change needs: config.yaml's text and the profile's .env. NULL, or the error to answer. */
static hl_result_t *read_sources(hl_hermes_t *h, const char *name, char **text, size_t *len, hl_dotenv_t *env)
{
    hl_result_t *res = NULL;
    if (hermes_config_read(h, name, text, len, &res) != 0)
        return res;
    env_load(h, name, env);
    return NULL;
}

/* The answer of a change computed as `c` (HL_MODELS_* in ret): .env first, then config.yaml, then the listing with
 * backupPath and what the gateway needs. `model` (POST) adds the saved model. */
static hl_result_t *apply(hl_hermes_t *h, const char *name, int ret, const char *message, hl_models_change_t *c, const char *text,
                          size_t len, bool reload, const hl_model_input_t *model)
{
    if (ret == HL_MODELS_INVALID)
        return invalid(message);
    if (ret != 0)
        return hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid", message);
    hl_result_t *res;
    bool env_changed = false;
    if (c->env_key != NULL && (res = env_set(h, name, c->env_key, c->env_value, &env_changed)) != NULL)
        return res;
    planned_t plan = {.before = text, .before_len = len, .after = c->text, .after_len = c->len};
    char *backup = NULL;
    if ((res = hermes_config_edit(h, name, write_planned, &plan, &backup)) != NULL)
        return res;
    bool changed = env_changed || c->len != len || memcmp(c->text, text, len) != 0;
    json_t *body = hermes_model_listing(h, name, &res);
    if (body == NULL) {
        free(backup);
        return res;
    }
    if (model != NULL) {
        json_t *m = hl_models_find(json_object_get(body, "models"), model->provider, model->base_url, model->id);
        json_object_set(body, "model", m != NULL ? m : json_null());
    }
    json_object_set_new(body, "backupPath", backup != NULL ? json_string(backup) : json_null());
    bool needs_restart = changed && reload;
    json_object_set_new(body, "requiresGatewayReload", json_boolean(needs_restart));
    json_object_set_new(body, "gatewayReloaded", json_false());
    char *hint = needs_restart ? restart_hint(name) : NULL;
    json_object_set_new(body, "restartHint", json_string(hint != NULL ? hint : !changed ? NOTHING_CHANGED : APPLIES_AT_START));
    free(hint);
    free(backup);
    return hl_result_ok(HL_RESULT_OK, body);
}

static hl_result_t *save(hl_hermes_t *h, const char *name, const json_t *body)
{
    hl_model_input_t in;
    const char *message = NULL;
    if (hl_model_input_parse(&in, body, &message) != 0) {
        hl_model_input_dispose(&in);
        return invalid(message);
    }
    char *text = NULL, msg[512] = "";
    size_t len = 0;
    hl_dotenv_t env;
    hl_result_t *res = read_sources(h, name, &text, &len, &env);
    if (res != NULL) {
        hl_model_input_dispose(&in);
        return res;
    }
    hl_models_change_t c;
    int ret = hl_models_save(&c, text, len, &env, &in, msg, sizeof(msg));
    hl_dotenv_dispose(&env);
    res = apply(h, name, ret, msg, &c, text, len, in.reload_gateway, &in);
    if (hl_result_is_ok(res))
        hl_log(HL_LOG_INFO, "Hermes model config saved",
               json_pack("{s:s, s:s, s:b}", "profile", name, "model", in.id, "api_key_stored", c.env_key != NULL));
    hl_models_change_dispose(&c);
    hl_model_input_dispose(&in);
    free(text);
    return res;
}

static hl_result_t *set_defaults(hl_hermes_t *h, const char *name, const json_t *body)
{
    static const char *const TASK[] = {"task_model_id", "taskModelId", "default_model_id", "defaultModelId", NULL};
    static const char *const COMPRESSION[] = {"compression_model_id", "compressionModelId", NULL};
    char *task = hl_models_body_string(body, TASK), *compression = hl_models_body_string(body, COMPRESSION);
    char *text = NULL, msg[512] = "";
    size_t len = 0;
    hl_dotenv_t env;
    hl_result_t *res = NULL;
    if (task == NULL && compression == NULL)
        res = invalid("taskModelId or compressionModelId is required");
    else if ((res = read_sources(h, name, &text, &len, &env)) == NULL) {
        hl_models_change_t c;
        int ret = hl_models_set_defaults(&c, text, len, &env, task, compression, msg, sizeof(msg));
        hl_dotenv_dispose(&env);
        res = apply(h, name, ret, msg, &c, text, len, false, NULL);
        if (hl_result_is_ok(res)) {
            json_t *b = res->body;
            json_object_set_new(b, "restartHint",
                                json_string(c.len == len && memcmp(c.text, text, len) == 0 ? NOTHING_CHANGED : DEFAULTS_APPLIED));
            hl_log(HL_LOG_INFO, "Hermes default models set",
                   json_pack("{s:s, s:s?, s:s?}", "profile", name, "task", task, "compression", compression));
        }
        hl_models_change_dispose(&c);
    }
    free(task);
    free(compression);
    free(text);
    return res;
}

static hl_result_t *delete_model(hl_hermes_t *h, const char *name, const json_t *body)
{
    static const char *const ID[] = {"model_id", "modelId", NULL};
    char *id = hl_models_body_string(body, ID);
    if (id == NULL)
        return hl_result_error(HL_RESULT_INVALID, "model_id_required", "model_id is required");
    char *text = NULL, msg[512] = "";
    size_t len = 0;
    hl_dotenv_t env;
    hl_result_t *res = read_sources(h, name, &text, &len, &env);
    if (res == NULL) {
        hl_models_change_t c;
        int ret = hl_models_delete(&c, text, len, &env, id, msg, sizeof(msg));
        hl_dotenv_dispose(&env);
        res = apply(h, name, ret, msg, &c, text, len, true, NULL);
        if (hl_result_is_ok(res))
            hl_log(HL_LOG_INFO, "Hermes model config deleted", json_pack("{s:s, s:s}", "profile", name, "model", id));
        hl_models_change_dispose(&c);
    }
    free(id);
    free(text);
    return res;
}

static void run_models(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    hl_hermes_t *h = t->h;
    if (!(t->op == OP_GET ? hermes_readable_name(h, t->name) : hermes_writable_name(h, t->name))) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    hl_result_t *res = NULL;
    if (t->op == OP_GET) {
        json_t *body = hermes_model_listing(h, t->name, &res);
        hermes_manage_finish(t, body != NULL ? hl_result_ok(HL_RESULT_OK, body) : res);
        return;
    }
    if (!hermes_profile_exists(h, t->name)) {
        hermes_manage_finish(t, not_found());
        return;
    }
    const json_t *body = json_is_object(t->body) ? t->body : NULL;
    switch (t->op) {
    case OP_SAVE:
        res = save(h, t->name, body);
        break;
    case OP_DEFAULTS:
        res = set_defaults(h, t->name, body);
        break;
    default:
        res = delete_model(h, t->name, body);
        break;
    }
    hermes_manage_finish(t, res);
}

void hl_hermes_model_configs_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    hermes_manage_post(h, to, name, NULL, NULL, OP_GET, run_models);
}

void hl_hermes_model_config_save(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_SAVE, run_models);
}

void hl_hermes_model_defaults(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_DEFAULTS, run_models);
}

void hl_hermes_model_config_delete(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_DELETE, run_models);
}
