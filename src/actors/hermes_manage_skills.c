/*
 * The skills routes' work (spec/API.md §10, STORAGE §3.5) on the Hermes files actor: the list of a profile's skills and
 * their categories, and enabling or disabling one by editing only config.yaml's skills.disabled (sorted, without
 * repeats; the skill's folder is never touched). An unknown profile is 404 (GAPS §B 21).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hermes_actor.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_read.h"
#include "hl/hermes_skills.h"
#include "hl/hermes_yaml_edit.h"
#include "hl/log.h"

enum { OP_LIST, OP_SET };

/* The listing: {"profile","skills","categories"} (disabled skills left out unless `include_disabled`). */
static json_t *listing(hl_hermes_t *h, const char *name, const hl_skills_t *skills, bool include_disabled)
{
    json_t *items = json_array();
    for (size_t i = 0; i < skills->count; ++i)
        if (include_disabled || skills->items[i].enabled)
            json_array_append_new(items, hl_skill_json(&skills->items[i]));
    return json_pack("{s:o, s:o, s:o}", "profile", hermes_profile_status(h, name), "skills", items, "categories",
                     hl_skills_categories_json(skills));
}

/* Scans the profile's skills with their disabled marks; NULL, or the error to answer. */
static hl_result_t *scan(hl_hermes_t *h, const char *name, hl_skills_t *skills)
{
    json_t *disabled = NULL;
    char *warning = NULL;
    int ret = hl_skills_disabled_load(h->link->hermes_home, name, &disabled, &warning);
    free(warning);
    if (ret == -EINVAL) {
        json_decref(disabled);
        memset(skills, 0, sizeof(*skills));
        return hl_result_error(HL_RESULT_CONFLICT, "config_yaml_invalid",
                               "config.yaml is not valid YAML, so which skills are disabled is unknown");
    }
    ret = hl_skills_scan(skills, h->link->hermes_home, name, disabled);
    json_decref(disabled);
    if (ret == -ENOENT)
        return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found");
    if (ret != 0)
        return hermes_invalid_name();
    if (skills->warning != NULL)
        hl_log(HL_LOG_DEBUG, "Hermes skills partly unreadable",
               json_pack("{s:s, s:s}", "profile", name, "problem", skills->warning));
    return NULL;
}

/* enabled as the spec accepts it: true/false, "true"/"false", 1/0; -1 otherwise. */
static int enabled_value(const json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
            return 1;
        if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
            return 0;
    }
    return -1;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct st_disabled_edit_t {
    const char *skill;
    bool disable;
} disabled_edit_t;

/* skills.disabled with the skill added or removed, sorted, without repeats. */
static int edit_disabled(void *ctx, const char *text, size_t len, char **out, size_t *out_len, char *err, size_t errlen)
{
    disabled_edit_t *e = ctx;
    json_t *names = NULL;
    char *warning = NULL;
    int ret = hl_skills_disabled_parse(text, len, &names, &warning);
    if (ret != 0) {
        snprintf(err, errlen, "config.yaml: %s", warning != NULL ? warning : "malformed YAML");
        free(warning);
        json_decref(names);
        return ret;
    }
    free(warning);
    size_t n = json_array_size(names), count = 0;
    const char **items = hl_calloc(n + 1, sizeof(*items));
    for (size_t i = 0; i < n; ++i) {
        const char *s = json_string_value(json_array_get(names, i));
        if (s != NULL && strcmp(s, e->skill) != 0)
            items[count++] = s;
    }
    if (e->disable)
        items[count++] = e->skill;
    qsort(items, count, sizeof(*items), by_string);
    static const char *const PATH[] = {"skills", "disabled"};
    ret = hl_yaml_edit_set_strings(text, len, PATH, 2, items, count, out, out_len, err, errlen);
    free(items);
    json_decref(names);
    return ret;
}

static hl_result_t *set_enabled(hl_hermes_t *h, const char *name, const char *skill_name, const json_t *body)
{
    int enabled = enabled_value(json_object_get(body, "enabled"));
    if (enabled < 0)
        return hl_result_error(HL_RESULT_INVALID, "skill_enabled_required", "enabled is required: true or false");
    hl_skills_t skills;
    hl_result_t *res = scan(h, name, &skills);
    if (res != NULL) {
        hl_skills_dispose(&skills);
        return res;
    }
    if (hl_skills_find(&skills, skill_name) == NULL) {
        hl_skills_dispose(&skills);
        return hl_result_error(HL_RESULT_NOT_FOUND, "skill_not_found", "Skill not found");
    }
    hl_skills_dispose(&skills);
    disabled_edit_t edit = {.skill = skill_name, .disable = !enabled};
    char *backup = NULL;
    if ((res = hermes_config_edit(h, name, edit_disabled, &edit, &backup)) != NULL)
        return res;
    if ((res = scan(h, name, &skills)) != NULL) {
        free(backup);
        hl_skills_dispose(&skills);
        return res;
    }
    const hl_skill_t *skill = hl_skills_find(&skills, skill_name);
    json_t *body_out = listing(h, name, &skills, true);
    json_object_set_new(body_out, "skill", skill != NULL ? hl_skill_json(skill) : json_null());
    json_object_set_new(body_out, "backupPath", backup != NULL ? json_string(backup) : json_null());
    hl_log(HL_LOG_INFO, enabled ? "Hermes skill enabled" : "Hermes skill disabled",
           json_pack("{s:s, s:s}", "profile", name, "skill", skill_name));
    free(backup);
    hl_skills_dispose(&skills);
    return hl_result_ok(HL_RESULT_OK, body_out);
}

static void run_skills(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    if (!(t->op == OP_LIST ? hermes_readable_name(t->h, t->name) : hermes_writable_name(t->h, t->name))) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    if (t->op == OP_SET) {
        hermes_manage_finish(t, set_enabled(t->h, t->name, t->arg, t->body));
        return;
    }
    hl_skills_t skills;
    hl_result_t *res = scan(t->h, t->name, &skills);
    if (res == NULL)
        res = hl_result_ok(HL_RESULT_OK, listing(t->h, t->name, &skills, json_is_true(t->body)));
    hl_skills_dispose(&skills);
    hermes_manage_finish(t, res);
}

void hl_hermes_skills_list(hl_hermes_t *h, hl_reply_to_t *to, const char *name, bool include_disabled)
{
    json_t *flag = json_boolean(include_disabled);
    hermes_manage_post(h, to, name, NULL, flag, OP_LIST, run_skills);
    json_decref(flag);
}

void hl_hermes_skill_set(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *skill, const json_t *body)
{
    hermes_manage_post(h, to, name, skill, body, OP_SET, run_skills);
}
