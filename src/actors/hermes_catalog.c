/*
 * The profile catalog and a profile's statistics (spec/API.md §10) on the Hermes files actor, from real data (GAPS
 * §B 10): each profile's status, its capabilities (default model, models, skills), permissions and model configs; the
 * statistics add the profile's conversations, counted by the store. A part that cannot be read (a broken config.yaml)
 * is null with an entry in "errors", not a failure of the whole answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hl/clock.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_read.h"
#include "hl/hermes_skills.h"
#include "hl/json_util.h"

enum { OP_CATALOG, OP_STATISTICS };

/* Adds {"field","message"} for a part that could not be read. */
static void add_message(json_t *errors, const char *field, const char *message)
{
    json_array_append_new(errors,
                          json_pack("{s:s, s:s}", "field", field, "message", message != NULL ? message : "could not be read"));
}

/* add_message with the message of the result that says why, and frees it. */
static void add_error(json_t *errors, const char *field, hl_result_t *res)
{
    add_message(errors, field, res != NULL ? res->message : NULL);
    hl_result_free(res);
}

/* The number of skills of an existing profile, or -1 (and an error) when they cannot be listed. */
static json_int_t skill_count(hl_hermes_t *h, const char *name, json_t *errors)
{
    json_t *disabled = NULL;
    char *warning = NULL;
    int ret = hl_skills_disabled_load(h->link->hermes_home, name, &disabled, &warning);
    free(warning);
    hl_skills_t skills;
    if (ret != -EINVAL)
        ret = hl_skills_scan(&skills, h->link->hermes_home, name, disabled);
    else
        memset(&skills, 0, sizeof(skills));
    json_decref(disabled);
    json_int_t n = ret == 0 ? (json_int_t)skills.count : -1;
    hl_skills_dispose(&skills);
    if (n < 0)
        add_message(errors, "capabilities", "The profile's skills could not be listed (is config.yaml valid YAML?)");
    return n;
}

/*
 * {defaultModel, modelCount, skillCount, toolCount} of an existing profile from its model configs `listing`; null with
 * exactly one "capabilities" error when they cannot be known: the listing could not be read (`why` says why), or the
 * skills cannot be listed.
 */
static json_t *capabilities(hl_hermes_t *h, const char *name, const json_t *listing, const char *why, json_t *errors)
{
    if (listing == NULL) {
        add_message(errors, "capabilities", why);
        return json_null();
    }
    json_int_t skills = skill_count(h, name, errors);
    if (skills < 0)
        return json_null();
    json_t *def = json_object_get(listing, "defaultModel");
    return json_pack("{s:O, s:I, s:I, s:i}", "defaultModel", def != NULL ? def : json_null(), "modelCount",
                     (json_int_t)json_array_size(json_object_get(listing, "models")), "skillCount", skills, "toolCount", 0);
}

/* One catalog entry: {profile, capabilities, permissions, modelConfigs, errors}. */
static json_t *entry(hl_hermes_t *h, const char *name)
{
    json_t *errors = json_array(), *status = hermes_profile_status(h, name);
    bool exists = json_is_true(json_object_get(status, "exists"));
    hl_result_t *res = NULL;
    json_t *listing = exists ? hermes_model_listing(h, name, &res) : NULL;
    hl_result_t *listing_res = res; /* why the listing could not be read, for modelConfigs and capabilities */
    res = NULL;
    json_t *permissions = exists ? hermes_permissions_of(h, name, &res) : NULL;
    if (exists && listing == NULL)
        add_message(errors, "modelConfigs", listing_res != NULL ? listing_res->message : NULL);
    if (exists && permissions == NULL)
        add_error(errors, "permissions", res);
    json_t *caps = exists ? capabilities(h, name, listing, listing_res != NULL ? listing_res->message : NULL, errors) : json_null();
    hl_result_free(listing_res);
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "profile", status, "capabilities", caps, "permissions",
                     permissions != NULL ? permissions : json_null(), "modelConfigs", listing != NULL ? listing : json_null(),
                     "errors", errors);
}

static hl_result_t *catalog(hl_hermes_t *h)
{
    json_t *names = hl_hermes_profile_names(h->link->hermes_home), *profiles = json_array();
    hermes_snapshot_refresh(h); /* what the list shows and the catalog agree */
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) json_array_append_new(profiles, entry(h, json_string_value(n)));
    json_decref(names);
    return hl_result_ok(HL_RESULT_OK, json_pack("{s:o, s:o}", "generatedAt", hl_json_iso(hl_now_ms()), "profiles", profiles));
}

static void run_catalog(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    if (t->op == OP_CATALOG) {
        hermes_manage_finish(t, catalog(t->h));
        return;
    }
    if (!hermes_readable_name(t->h, t->name)) {
        hermes_manage_finish(t, hermes_invalid_name());
        return;
    }
    json_t *errors = json_array(), *status = hermes_profile_status(t->h, t->name), *caps = json_null();
    if (json_is_true(json_object_get(status, "exists"))) {
        hl_result_t *res = NULL;
        json_t *listing = hermes_model_listing(t->h, t->name, &res);
        json_decref(caps);
        caps = capabilities(t->h, t->name, listing, res != NULL ? res->message : NULL, errors);
        hl_result_free(res);
        json_decref(listing);
    }
    json_t *answer = json_pack("{s:o, s:o}", "profile", status, "capabilities", caps);
    if (json_array_size(errors) > 0)
        json_object_set(answer, "errors", errors);
    json_decref(errors);
    if (t->h->store == NULL) {
        hermes_manage_finish(t, hl_result_ok(HL_RESULT_OK, answer));
        return;
    }
    /* the store adds the conversations' numbers and answers */
    hl_store_profile_statistics(t->h->store, t->to, t->name, answer);
    t->to = NULL;
    hermes_manage_free(t);
}

void hl_hermes_profiles_catalog(hl_hermes_t *h, hl_reply_to_t *to)
{
    hermes_manage_post(h, to, NULL, NULL, NULL, OP_CATALOG, run_catalog);
}

void hl_hermes_profile_statistics(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    hermes_manage_post(h, to, name, NULL, NULL, OP_STATISTICS, run_catalog);
}
