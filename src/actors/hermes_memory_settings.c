/*
 * The memory settings of a profile (GAPS §B 15): config.yaml's memory block. With the built-in provider (memory.provider
 * empty) HermesLink shows and changes the limits and switches; an external provider (honcho, mem0…) is shown as such,
 * its config block read-only with secrets hidden, and changes only Hermes can make are refused with 409.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hermes_actor.h"
#include "hermes_internal.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_memory.h"
#include "hl/hermes_yaml_edit.h"
#include "hl/log.h"

/* largest limit accepted: Hermes puts the whole file into every prompt */
#define MAX_CHAR_LIMIT 100000

static const char RESTART_HINT[] = "Hermes reads memory settings when its gateway starts: restart it (hermes gateway restart, "
                                   "or hermes -p <profile> gateway restart) for the change to apply";

/* The provider named in the memory block: NULL for the built-in one ("" or absent). Borrowed. */
static const char *provider_of(const json_t *memory)
{
    const char *p = json_string_value(json_object_get(memory, "provider"));
    if (p == NULL || p[0] == '\0' || strcasecmp(p, "built-in") == 0 || strcasecmp(p, "builtin") == 0)
        return NULL;
    return p;
}

/* A copy of an external provider's config block with values under secret-looking keys replaced by "configured". */
static json_t *redacted(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            char lower[128];
            size_t n = strlen(k) < sizeof(lower) - 1 ? strlen(k) : sizeof(lower) - 1;
            for (size_t i = 0; i < n; ++i)
                lower[i] = (char)tolower((unsigned char)k[i]);
            lower[n] = '\0';
            bool secret = strstr(lower, "key") || strstr(lower, "token") || strstr(lower, "secret") || strstr(lower, "password");
            json_object_set_new(out, k, secret ? json_string("(configured)") : redacted(item));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(v); ++i)
            json_array_append_new(out, redacted(json_array_get(v, i)));
        return out;
    }
    return json_deep_copy(v);
}

static bool flag_of(const json_t *memory, const char *key, bool def)
{
    json_t *v = json_object_get(memory, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *hermes_memory_settings(hl_hermes_t *h, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    hl_result_t *res = NULL;
    json_t *config = NULL;
    char err[256];
    if (hermes_config_read(h, name, &text, &len, &res) != 0 || hermes_yaml_json(text, len, &config, err, sizeof(err)) != 0) {
        hl_result_free(res);
        free(text);
        return json_pack("{s:s, s:b}", "provider", "built-in", "configReadable", 0);
    }
    /* the limits as the memory files are checked against them (quoted numbers too), so that the view agrees with itself */
    hl_memory_limits_t limits;
    (void)hl_memory_limits_parse(&limits, text, len, NULL);
    free(text);
    json_t *memory = json_object_get(config, "memory"), *out;
    const char *provider = provider_of(memory);
    if (provider != NULL) {
        out = json_pack("{s:s, s:b, s:b, s:o}", "provider", provider, "external", 1, "readOnly", 1, "providerSettings",
                        redacted(json_object_get(config, provider)));
    } else {
        out =
            json_pack("{s:s, s:b, s:b, s:I, s:I, s:b, s:b}", "provider", "built-in", "external", 0, "readOnly", 0,
                      "memoryCharLimit", (json_int_t)limits.memory, "userCharLimit", (json_int_t)limits.user, "memoryEnabled",
                      flag_of(memory, "memory_enabled", true), "userProfileEnabled", flag_of(memory, "user_profile_enabled", true));
    }
    json_decref(config);
    return out;
}

/* ---- changes ---- */

typedef struct st_setting_t {
    const char *camel, *snake; /* the body's two spellings; snake is also the config.yaml key under memory */
    bool is_flag;
} setting_t;

static const setting_t SETTINGS[] = {
    {"memoryCharLimit", "memory_char_limit", false},
    {"userCharLimit", "user_char_limit", false},
    {"memoryEnabled", "memory_enabled", true},
    {"userProfileEnabled", "user_profile_enabled", true},
};

typedef struct st_edits_t {
    const char *keys[HL_ARRAY_SIZE(SETTINGS) + 1];
    hl_yaml_scalar_t values[HL_ARRAY_SIZE(SETTINGS) + 1];
    size_t n;
    bool changed; /* set by apply_edits: the text is not what it was (config.yaml has something new for Hermes) */
} edits_t;

static int apply_edits(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err, size_t errlen)
{
    edits_t *e = ctx;
    char *cur = hl_strndup(text, len);
    size_t cur_len = len;
    for (size_t i = 0; i < e->n; ++i) {
        const char *path[] = {"memory", e->keys[i]};
        char *next = NULL;
        size_t next_len = 0;
        int ret = hl_yaml_edit_set(cur, cur_len, path, 2, &e->values[i], &next, &next_len, err, errlen);
        free(cur);
        if (ret != 0)
            return ret;
        cur = next;
        cur_len = next_len;
    }
    e->changed = cur_len != len || memcmp(cur, text, len) != 0;
    *out = cur;
    *out_len = cur_len;
    return 0;
}

/* The memory block and whether its provider is external; NULL with *res when config.yaml cannot be read. */
static json_t *read_memory_block(hl_hermes_t *h, const char *name, hl_result_t **res)
{
    char *text = NULL, err[256];
    size_t len = 0;
    json_t *config = NULL;
    if (hermes_config_read(h, name, &text, &len, res) != 0)
        return NULL;
    int ret = hermes_yaml_json(text, len, &config, err, sizeof(err));
    free(text);
    if (ret != 0) {
        *res = hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid", err);
        return NULL;
    }
    json_t *memory = json_incref(json_object_get(config, "memory"));
    json_decref(config);
    return memory != NULL ? memory : json_object();
}

static hl_result_t *external_refusal(const char *provider)
{
    char *msg =
        hl_asprintf("Memory is kept by the external provider \"%s\"; Hermes manages its settings (hermes memory setup)", provider);
    hl_result_t *res = hl_result_error(HL_RESULT_CONFLICT, "memory_provider_external", msg);
    free(msg);
    return res;
}

/* The result of a change: the memory view (from hermes_manage_memory.c) with backupPath and the reload facts. */
static hl_result_t *changed(hl_hermes_t *h, const char *name, char *backup, bool touched)
{
    hl_result_t *res = hermes_memory_view(h, name);
    if (hl_result_is_ok(res) && res->body != NULL) {
        json_object_set_new(res->body, "backupPath", backup != NULL ? json_string(backup) : json_null());
        json_object_set_new(res->body, "requiresGatewayReload", json_boolean(touched));
        json_object_set_new(res->body, "gatewayReloaded", json_false());
        json_object_set_new(res->body, "restartHint", touched ? json_string(RESTART_HINT) : json_null());
    }
    free(backup);
    return res;
}

hl_result_t *hermes_memory_settings_patch(hl_hermes_t *h, const char *name, const char *provider_route, const json_t *body)
{
    hl_result_t *res = NULL;
    json_t *memory = read_memory_block(h, name, &res);
    if (memory == NULL)
        return res;
    const char *provider = provider_of(memory);
    const char *asked = provider_route;
    if (provider != NULL) {
        res = external_refusal(provider);
        json_decref(memory);
        return res;
    }
    json_decref(memory);
    if (asked != NULL && !(strcasecmp(asked, "built-in") == 0 || strcasecmp(asked, "builtin") == 0))
        return hl_result_error(HL_RESULT_NOT_FOUND, "memory_provider_not_configured",
                               "That memory provider is not the one configured; only the built-in provider's settings are here");
    json_t *values = json_object_get(body, "settings");
    if (!json_is_object(values))
        values = (json_t *)body;
    edits_t e = {.n = 0};
    for (size_t i = 0; i < HL_ARRAY_SIZE(SETTINGS); ++i) {
        json_t *v = json_object_get(values, SETTINGS[i].camel);
        if (v == NULL)
            v = json_object_get(values, SETTINGS[i].snake);
        if (v == NULL)
            continue;
        if (SETTINGS[i].is_flag ? !json_is_boolean(v)
                                : !(json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= MAX_CHAR_LIMIT)) {
            char *msg = SETTINGS[i].is_flag ? hl_asprintf("%s must be true or false", SETTINGS[i].camel)
                                            : hl_asprintf("%s must be an integer from 1 to %d", SETTINGS[i].camel, MAX_CHAR_LIMIT);
            res = hl_result_error(HL_RESULT_INVALID, "memory_settings_invalid", msg);
            free(msg);
            return res;
        }
        e.keys[e.n] = SETTINGS[i].snake;
        e.values[e.n++] = SETTINGS[i].is_flag ? hl_yaml_bool(json_is_true(v)) : hl_yaml_int(json_integer_value(v));
    }
    if (e.n == 0)
        return hl_result_error(HL_RESULT_INVALID, "memory_settings_update_empty",
                               "Nothing to change: give memoryCharLimit, userCharLimit, memoryEnabled or userProfileEnabled");
    char *backup = NULL;
    if ((res = hermes_config_edit(h, name, apply_edits, &e, &backup)) != NULL)
        return res;
    return changed(h, name, backup, e.changed); /* values it already had: nothing for Hermes to reload */
}

hl_result_t *hermes_memory_provider_patch(hl_hermes_t *h, const char *name, const json_t *body)
{
    json_t *p = json_object_get(body, "provider");
    if (!json_is_string(p))
        return hl_result_error(HL_RESULT_INVALID, "memory_provider_required", "provider is required (a string)");
    const char *asked = json_string_value(p);
    bool builtin = asked[0] == '\0' || strcasecmp(asked, "built-in") == 0 || strcasecmp(asked, "builtin") == 0;
    hl_result_t *res = NULL;
    json_t *memory = read_memory_block(h, name, &res);
    if (memory == NULL)
        return res;
    const char *current = provider_of(memory);
    if (!builtin && (current == NULL || strcmp(current, asked) != 0)) {
        json_decref(memory);
        return hl_result_error(HL_RESULT_CONFLICT, "memory_provider_external",
                               "An external memory provider is set up by Hermes (hermes memory setup), not by HermesLink");
    }
    json_decref(memory);
    if (!builtin || current == NULL)
        return changed(h, name, NULL, false); /* already so */
    /* back to the built-in memory: memory.provider becomes "" (what Hermes writes for it) */
    edits_t e = {.keys = {"provider"}, .values = {hl_yaml_string("")}, .n = 1};
    char *backup = NULL;
    if ((res = hermes_config_edit(h, name, apply_edits, &e, &backup)) != NULL)
        return res;
    return changed(h, name, backup, e.changed);
}
