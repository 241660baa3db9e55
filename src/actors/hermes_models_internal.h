/*
 * Private to the model-config sources (hermes_models.c: the view and the bodies; hermes_models_edit.c: the changes):
 * how config.yaml's values are read, as the original reads them (STORAGE §3.3). Pure code, any thread.
 */
#ifndef HL_HERMES_MODELS_INTERNAL_H
#define HL_HERMES_MODELS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "hl/hermes_models.h"
#include "hl/hermes_read.h"

/** Where trimmed copies of strings live until hm_scratch_dispose. */
typedef struct st_hm_scratch_t {
    json_t *pool;
} hm_scratch_t;

void hm_scratch_init(hm_scratch_t *s);
void hm_scratch_dispose(hm_scratch_t *s);

/** A JSON string that is not blank, trimmed (Python's strip), or NULL. Borrowed from `v` or `s`. */
const char *hm_str(hm_scratch_t *s, const json_t *v);

/** NAME when `v` (trimmed) is exactly ${NAME} with NAME [A-Za-z_][A-Za-z0-9_]*, else NULL. Borrowed from `s`. */
const char *hm_env_ref(hm_scratch_t *s, const char *v);

/** A positive integer as the original reads one: a number > 0 (floored), or a string whose leading digits (commas
 * dropped, an optional sign) make one; 0 otherwise. */
int64_t hm_positive_int(const json_t *v);

/** A reasoning effort (none, minimal, low, medium, high, xhigh; any case, trimmed) as a static string, or NULL. */
const char *hm_effort(const json_t *v);

/** "provider\nbase_url\nid" lowercased, base URL without trailing '/' (the view's repeat key); provider NULL:
 * "base_url\nid" (the endpoint key the default model is merged by). Caller frees. */
char *hm_model_key(const char *provider, const char *base_url, const char *id);

/** An object member, NULL when `obj` is not an object (as the original's toRecord makes it {}). */
json_t *hm_get(const json_t *obj, const char *key);

/** The default model's settings (`model` as a string, or model.default|model|name and the endpoint keys). */
typedef struct st_hm_default_t {
    const char *model, *provider, *base_url, *api_key, *key_env, *api_mode, *effort;
    int64_t context_length;
} hm_default_t;

void hm_read_default(hm_scratch_t *s, const json_t *model, hm_default_t *d);

/** agent.reasoning_effort (or reasoningEffort), or NULL. */
const char *hm_profile_effort(const json_t *config);

/** A custom_providers entry's provider (provider_key, provider, "custom") and base URL (base_url, url, api, ""). */
const char *hm_entry_provider(hm_scratch_t *s, const json_t *entry);
const char *hm_entry_base_url(hm_scratch_t *s, const json_t *entry);

/** The model ids of an entry: model, default_model, then models (a list of strings or a map's keys), trimmed, not
 * blank, without repeats. New reference (an array of strings). */
json_t *hm_entry_ids(const json_t *entry);

/** True when `ids` (hm_entry_ids) holds `id`. */
bool hm_ids_have(const json_t *ids, const char *id);

/** The ManagedModel list of `config` (hl_models_listing's "models"); without the default model's merge when
 * `with_default` is false (every isDefault false). New reference. */
json_t *hm_models(const json_t *config, const hl_dotenv_t *env, bool with_default);

/** The first model of `models` with this id, or NULL. Borrowed. */
json_t *hm_models_by_id(const json_t *models, const char *id);

/** A string member of a JSON object, or NULL. */
static inline const char *hm_field(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

#endif
