/*
 * The model-config changes (STORAGE §3.3 "Saving a model", API.md §9) as a sequence of in-place edits of config.yaml
 * (hl_yaml_edit_*_at): each edit is made on the text the previous one produced, and the text is read again as JSON
 * after each, so that every decision looks at the file as it now is (the index of a custom_providers item, whether an
 * entry still holds models, whether the old default is already kept). Nothing is written here: the caller gets the
 * final text, and the .env assignment to make first.
 *
 * The original's behaviour is kept, with these corrections: an API key is never written into config.yaml (the key env
 * is, as ${NAME} for the default model and auxiliary.compression); a `model:` given as a plain string is turned into a
 * mapping rather than dropped; renaming a model renames it in default_model too; deleting a model leaves the other ids
 * of an entry alone; a key env taken from the file is written to only when it is a provider key name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_internal.h"
#include "hermes_models_internal.h"
#include "hl/hermes_models.h"
#include "hl/hermes_yaml_edit.h"

#define LAST_MODEL_MESSAGE "At least one model must stay configured, so that Hermes Agent keeps a default model"

/* config.yaml being changed: its text and that text read as JSON. */
typedef struct st_doc_t {
    char *text;
    size_t len;
    json_t *config;
    char *msg;
    size_t msglen;
} doc_t;

static int fail(doc_t *d, int code, const char *fmt, const char *arg)
{
    snprintf(d->msg, d->msglen, fmt, arg);
    return code;
}

static int doc_parse(doc_t *d)
{
    json_t *config = NULL;
    char err[256] = "";
    if (hermes_yaml_json(d->text, d->len, &config, err, sizeof(err)) != 0)
        return fail(d, HL_MODELS_YAML, "%s", err[0] != '\0' ? err : "config.yaml is not valid YAML");
    json_decref(d->config);
    d->config = config;
    return 0;
}

static int doc_init(doc_t *d, const char *text, size_t len, char *msg, size_t msglen)
{
    *d = (doc_t){.text = hl_malloc(len + 1), .len = len, .msg = msg, .msglen = msglen};
    memcpy(d->text, text, len);
    d->text[len] = '\0';
    msg[0] = '\0';
    return doc_parse(d);
}

static void doc_dispose(doc_t *d)
{
    free(d->text);
    json_decref(d->config);
}

/* The result of an edit: the new text, read again. */
static int doc_apply(doc_t *d, int ret, char *out, size_t out_len, const char *err)
{
    if (ret != 0)
        return fail(d, HL_MODELS_YAML, "%s", err[0] != '\0' ? err : "config.yaml: this file cannot be edited safely");
    if (out_len == d->len && memcmp(out, d->text, out_len) == 0) {
        free(out);
        return 0;
    }
    free(d->text);
    d->text = out;
    d->len = out_len;
    return doc_parse(d);
}

static int doc_set(doc_t *d, const hl_yaml_step_t *path, size_t depth, hl_yaml_scalar_t v)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_set_at(d->text, d->len, path, depth, &v, &out, &out_len, err, sizeof(err));
    return doc_apply(d, ret, out, out_len, err);
}

static int doc_delete(doc_t *d, const hl_yaml_step_t *path, size_t depth)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_delete_at(d->text, d->len, path, depth, &out, &out_len, err, sizeof(err));
    return doc_apply(d, ret, out, out_len, err);
}

static int doc_strings(doc_t *d, const hl_yaml_step_t *path, size_t depth, const char *const *items, size_t count)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_set_strings_at(d->text, d->len, path, depth, items, count, &out, &out_len, err, sizeof(err));
    return doc_apply(d, ret, out, out_len, err);
}

static int doc_rename(doc_t *d, const hl_yaml_step_t *path, size_t depth, const char *key)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hl_yaml_edit_rename_at(d->text, d->len, path, depth, key, &out, &out_len, err, sizeof(err));
    return doc_apply(d, ret, out, out_len, err);
}

/* A mapping being built for hl_yaml_edit_append_mapping. */
typedef struct st_item_t {
    const char *keys[10];
    hl_yaml_scalar_t values[10];
    size_t count;
} item_t;

static void item_add(item_t *it, const char *key, hl_yaml_scalar_t v)
{
    if (it->count == HL_ARRAY_SIZE(it->keys))
        hl_fatal("model config: too many keys in a new entry");
    it->keys[it->count] = key;
    it->values[it->count++] = v;
}

static int doc_append_provider(doc_t *d, const item_t *it)
{
    static const hl_yaml_step_t PATH[] = {{.key = "custom_providers"}};
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret =
        hl_yaml_edit_append_mapping(d->text, d->len, PATH, 1, it->keys, it->values, it->count, &out, &out_len, err, sizeof(err));
    return doc_apply(d, ret, out, out_len, err);
}

/* Paths: a key of custom_providers[i], of model, of a mapping under a key. */
#define ENTRY(i, k) (const hl_yaml_step_t[]){hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key(k)}, 3
#define UNDER(a, k) (const hl_yaml_step_t[]){hl_yaml_key(a), hl_yaml_key(k)}, 2

#define TRY(x)                                                                                                                     \
    do {                                                                                                                           \
        if ((ret = (x)) != 0)                                                                                                      \
            goto Exit;                                                                                                             \
    } while (0)

static json_t *providers_of(const doc_t *d)
{
    return hm_get(d->config, "custom_providers");
}

static json_t *entry_of(const doc_t *d, size_t i)
{
    return json_array_get(providers_of(d), i);
}

/* A string of entry i (trimmed, not blank), copied; NULL when absent. */
static char *entry_string(const doc_t *d, size_t i, const char *key)
{
    hm_scratch_t s;
    hm_scratch_init(&s);
    const char *v = hm_str(&s, hm_get(entry_of(d, i), key));
    char *copy = v != NULL ? hl_strdup(v) : NULL;
    hm_scratch_dispose(&s);
    return copy;
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* ---- the default model ---- */

/* The default model as written (copies of hm_default_t's strings). */
typedef struct st_current_t {
    char *model, *provider, *base_url, *api_key, *key_env, *api_mode, *effort;
    int64_t context_length;
} current_t;

static char *dup_or_null(const char *s)
{
    return s != NULL ? hl_strdup(s) : NULL;
}

static void current_read(const doc_t *d, current_t *c)
{
    hm_scratch_t s;
    hm_scratch_init(&s);
    hm_default_t m;
    hm_read_default(&s, hm_get(d->config, "model"), &m);
    *c = (current_t){.model = dup_or_null(m.model),
                     .provider = dup_or_null(m.provider),
                     .base_url = dup_or_null(m.base_url),
                     .api_key = dup_or_null(m.api_key),
                     .key_env = dup_or_null(m.key_env),
                     .api_mode = dup_or_null(m.api_mode),
                     .effort = dup_or_null(m.effort),
                     .context_length = m.context_length};
    hm_scratch_dispose(&s);
}

static void current_dispose(current_t *c)
{
    if (c->api_key != NULL)
        explicit_bzero(c->api_key, strlen(c->api_key));
    free(c->model);
    free(c->provider);
    free(c->base_url);
    free(c->api_key);
    free(c->key_env);
    free(c->api_mode);
    free(c->effort);
}

/* What model.* is set to. */
typedef struct st_default_t {
    const char *id, *provider, *base_url, *api_key, *key_env, *api_mode;
    int64_t context_length;
} default_t;

static int write_default(doc_t *d, const default_t *m)
{
    int ret = 0;
    const json_t *model = hm_get(d->config, "model");
    if (model != NULL && !json_is_object(model) && !json_is_null(model))
        /* `model: <id>` (or "") becomes a mapping where it stands */
        TRY(doc_set(d, (const hl_yaml_step_t[]){hl_yaml_key("model")}, 1, hl_yaml_null()));
    TRY(doc_set(d, UNDER("model", "default"), hl_yaml_string(m->id)));
    if (m->provider != NULL)
        TRY(doc_set(d, UNDER("model", "provider"), hl_yaml_string(m->provider)));
    else
        TRY(doc_delete(d, UNDER("model", "provider")));
    if (m->base_url != NULL && m->base_url[0] != '\0')
        TRY(doc_set(d, UNDER("model", "base_url"), hl_yaml_string(m->base_url)));
    else
        TRY(doc_delete(d, UNDER("model", "base_url")));
    if (m->key_env != NULL) {
        char *ref = hl_asprintf("${%s}", m->key_env);
        ret = doc_set(d, UNDER("model", "api_key"), hl_yaml_string(ref));
        free(ref);
        if (ret != 0)
            goto Exit;
    } else if (m->api_key != NULL) {
        TRY(doc_set(d, UNDER("model", "api_key"), hl_yaml_string(m->api_key)));
    } else {
        TRY(doc_delete(d, UNDER("model", "api_key")));
    }
    TRY(doc_delete(d, UNDER("model", "key_env")));
    const char *mode = hl_models_api_mode(m->provider, m->base_url, m->api_mode);
    TRY(doc_set(d, UNDER("model", "api_mode"), hl_yaml_string(mode)));
    if (m->context_length > 0)
        TRY(doc_set(d, UNDER("model", "context_length"), hl_yaml_int(m->context_length)));
    else
        TRY(doc_delete(d, UNDER("model", "context_length")));
Exit:
    return ret;
}

/* The default before it is replaced, kept as a custom_providers entry unless one already holds it. */
static int retain_default(doc_t *d)
{
    current_t cur;
    current_read(d, &cur);
    int ret = 0;
    if (cur.model == NULL)
        goto Exit;
    const char *provider = cur.provider != NULL ? cur.provider : "default", *base_url = cur.base_url != NULL ? cur.base_url : "";
    hm_scratch_t s;
    hm_scratch_init(&s);
    char *key = hm_model_key(provider, base_url, cur.model);
    bool kept = false;
    size_t i, j;
    json_t *entry, *id, *providers = providers_of(d);
    json_array_foreach(json_is_array(providers) ? providers : NULL, i, entry)
    {
        json_t *ids = hm_entry_ids(entry);
        json_array_foreach(ids, j, id)
        {
            char *k = hm_model_key(hm_entry_provider(&s, entry), hm_entry_base_url(&s, entry), json_string_value(id));
            kept = kept || strcmp(k, key) == 0;
            free(k);
        }
        json_decref(ids);
    }
    free(key);
    hm_scratch_dispose(&s);
    if (kept)
        goto Exit;
    char *effort = dup_or_null(hm_profile_effort(d->config));
    item_t it = {0};
    item_add(&it, "name", hl_yaml_string(provider));
    item_add(&it, "provider_key", hl_yaml_string(provider));
    item_add(&it, "base_url", hl_yaml_string(base_url));
    item_add(&it, "api_mode", hl_yaml_string(hl_models_api_mode(provider, base_url, cur.api_mode)));
    item_add(&it, "model", hl_yaml_string(cur.model));
    if (cur.context_length > 0)
        item_add(&it, "context_length", hl_yaml_int(cur.context_length));
    if (effort != NULL || cur.effort != NULL)
        item_add(&it, "reasoning_effort", hl_yaml_string(effort != NULL ? effort : cur.effort));
    if (cur.key_env != NULL)
        item_add(&it, "key_env", hl_yaml_string(cur.key_env));
    else if (cur.api_key != NULL)
        item_add(&it, "api_key", hl_yaml_string(cur.api_key)); /* a literal already in config.yaml */
    ret = doc_append_provider(d, &it);
    free(effort);
Exit:
    current_dispose(&cur);
    return ret;
}

static int set_profile_effort(doc_t *d, const char *effort)
{
    return doc_set(d, UNDER("agent", "reasoning_effort"), hl_yaml_string(effort));
}

/* A managed model's fields, copied out of a listing (which the next edit invalidates). */
typedef struct st_picked_t {
    char *id, *provider, *base_url, *api_mode, *key_env, *effort, *literal_key;
    int64_t context_length;
} picked_t;

/* The literal API key (not a ${…} reference) config.yaml holds for a listed model: model.api_key when it is the default
 * model's endpoint, else its custom_providers entry's api_key. Copied, or NULL. */
static char *literal_key(const doc_t *d, const json_t *m)
{
    hm_scratch_t s;
    hm_scratch_init(&s);
    const char *id = hm_field(m, "id"), *provider = hm_field(m, "provider"), *base_url = hm_field(m, "baseUrl");
    const char *found = NULL;
    hm_default_t def;
    hm_read_default(&s, hm_get(d->config, "model"), &def);
    if (same(def.model, id) && strcmp(def.provider != NULL ? def.provider : "default", provider) == 0 &&
        strcmp(def.base_url != NULL ? def.base_url : "", base_url) == 0)
        found = def.api_key;
    size_t i;
    json_t *entry, *providers = providers_of(d);
    json_array_foreach(json_is_array(providers) ? providers : NULL, i, entry)
    {
        if (found != NULL)
            break;
        json_t *ids = hm_entry_ids(entry);
        if (strcmp(hm_entry_provider(&s, entry), provider) == 0 && strcmp(hm_entry_base_url(&s, entry), base_url) == 0 &&
            hm_ids_have(ids, id))
            found = hm_str(&s, hm_get(entry, "api_key"));
        json_decref(ids);
    }
    char *copy = found != NULL && hm_env_ref(&s, found) == NULL ? hl_strdup(found) : NULL;
    hm_scratch_dispose(&s);
    return copy;
}

static void pick(const doc_t *d, const json_t *m, picked_t *p)
{
    *p = (picked_t){.id = hl_strdup(hm_field(m, "id")),
                    .provider = hl_strdup(hm_field(m, "provider")),
                    .base_url = hl_strdup(hm_field(m, "baseUrl")),
                    .api_mode = hl_strdup(hm_field(m, "apiMode")),
                    .key_env = dup_or_null(hm_field(m, "keyEnv")),
                    .effort = dup_or_null(hm_field(m, "reasoningEffort")),
                    .literal_key = literal_key(d, m),
                    .context_length = json_integer_value(json_object_get(m, "contextLength"))};
}

static void picked_dispose(picked_t *p)
{
    if (p->literal_key != NULL)
        explicit_bzero(p->literal_key, strlen(p->literal_key));
    free(p->id);
    free(p->provider);
    free(p->base_url);
    free(p->api_mode);
    free(p->key_env);
    free(p->effort);
    free(p->literal_key);
}

/* The picked model becomes model.* (and its reasoning effort the profile's). */
static int make_default(doc_t *d, const picked_t *p)
{
    default_t m = {.id = p->id,
                   .provider = p->provider,
                   .base_url = p->base_url,
                   .api_key = p->key_env == NULL ? p->literal_key : NULL,
                   .key_env = p->key_env,
                   .api_mode = p->api_mode,
                   .context_length = p->context_length};
    int ret = write_default(d, &m);
    if (ret == 0 && p->effort != NULL)
        ret = set_profile_effort(d, p->effort);
    return ret;
}

/* The listed model `id`, picked; HL_MODELS_INVALID when it is not configured. */
static int pick_by_id(doc_t *d, const hl_dotenv_t *env, const char *id, picked_t *p)
{
    json_t *models = hm_models(d->config, env, true), *m = hm_models_by_id(models, id);
    if (m != NULL)
        pick(d, m, p);
    json_decref(models);
    if (m == NULL) {
        memset(p, 0, sizeof(*p));
        return fail(d, HL_MODELS_INVALID, "model \"%s\" is not configured", id);
    }
    return 0;
}

static void finish(hl_models_change_t *out, doc_t *d)
{
    out->text = d->text;
    out->len = d->len;
    d->text = NULL;
}

/* ---- saving a model ---- */

/* The index of the first custom_providers entry holding `id`, or -1. */
static long entry_holding(const doc_t *d, const char *id)
{
    size_t i;
    json_t *entry, *providers = providers_of(d);
    json_array_foreach(json_is_array(providers) ? providers : NULL, i, entry)
    {
        json_t *ids = hm_entry_ids(entry);
        bool has = hm_ids_have(ids, id);
        json_decref(ids);
        if (has)
            return (long)i;
    }
    return -1;
}

/* The entry's models list with `from` renamed `to` (first when missing), strings only, without repeats; or the map's key
 * renamed. */
static int rename_in_models(doc_t *d, size_t i, const char *from, const char *to)
{
    json_t *models = hm_get(entry_of(d, i), "models");
    int ret = 0;
    if (json_is_array(models)) {
        size_t n = json_array_size(models), count = 0, k;
        char **items = hl_calloc(n + 1, sizeof(*items));
        json_t *v;
        json_array_foreach(models, k, v)
        {
            const char *s = json_string_value(v);
            size_t start, len = s != NULL ? hermes_strip(s, strlen(s), &start) : 0;
            if (len == 0)
                continue;
            char *item = hl_asprintf("%.*s", (int)len, s + start);
            if (strcmp(item, from) == 0) {
                free(item);
                item = hl_strdup(to);
            }
            bool repeated = false;
            for (size_t j = 0; j < count; ++j)
                repeated = repeated || strcmp(items[j], item) == 0;
            if (repeated)
                free(item);
            else
                items[count++] = item;
        }
        bool present = false;
        for (size_t j = 0; j < count; ++j)
            present = present || strcmp(items[j], to) == 0;
        if (!present) {
            memmove(items + 1, items, count * sizeof(*items));
            items[0] = hl_strdup(to);
            ++count;
        }
        ret = doc_strings(d, ENTRY(i, "models"), (const char *const *)items, count);
        for (size_t j = 0; j < count; ++j)
            free(items[j]);
        free(items);
        return ret;
    }
    if (json_is_object(models) && strcmp(from, to) != 0 && json_object_get(models, from) != NULL) {
        const hl_yaml_step_t target[] = {hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key("models"), hl_yaml_key(to)};
        if (json_object_get(models, to) != NULL && (ret = doc_delete(d, target, 4)) != 0)
            return ret;
        const hl_yaml_step_t source[] = {hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key("models"),
                                         hl_yaml_key(from)};
        ret = doc_rename(d, source, 4, to);
    }
    return ret;
}

/* The existing entry i takes the model's settings. */
static int update_entry(doc_t *d, size_t i, const hl_model_input_t *in, const char *original, const char *key_env,
                        const char *api_mode)
{
    int ret = 0;
    TRY(doc_set(d, ENTRY(i, "name"), hl_yaml_string(in->provider_name != NULL ? in->provider_name : in->provider)));
    TRY(doc_set(d, ENTRY(i, "provider_key"), hl_yaml_string(in->provider)));
    TRY(doc_set(d, ENTRY(i, "base_url"), hl_yaml_string(in->base_url)));
    TRY(doc_set(d, ENTRY(i, "model"), hl_yaml_string(in->id)));
    TRY(doc_set(d, ENTRY(i, "api_mode"), hl_yaml_string(api_mode)));
    if (in->context_length > 0)
        TRY(doc_set(d, ENTRY(i, "context_length"), hl_yaml_int(in->context_length)));
    else
        TRY(doc_delete(d, ENTRY(i, "context_length")));
    if (key_env != NULL) {
        TRY(doc_set(d, ENTRY(i, "key_env"), hl_yaml_string(key_env)));
        TRY(doc_delete(d, ENTRY(i, "api_key")));
    } else {
        TRY(doc_delete(d, ENTRY(i, "key_env")));
    }
    char *default_model = entry_string(d, i, "default_model");
    bool renamed = same(default_model, original) && strcmp(original, in->id) != 0;
    free(default_model);
    if (renamed)
        TRY(doc_set(d, ENTRY(i, "default_model"), hl_yaml_string(in->id)));
    TRY(rename_in_models(d, i, original, in->id));
    if (in->reasoning_effort != NULL) {
        if (json_is_object(hm_get(entry_of(d, i), "models"))) {
            const hl_yaml_step_t path[] = {hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key("models"),
                                           hl_yaml_key(in->id), hl_yaml_key("reasoning_effort")};
            TRY(doc_set(d, path, 5, hl_yaml_string(in->reasoning_effort)));
        } else {
            TRY(doc_set(d, ENTRY(i, "reasoning_effort"), hl_yaml_string(in->reasoning_effort)));
        }
    }
Exit:
    return ret;
}

static int append_entry(doc_t *d, const hl_model_input_t *in, const char *key_env, const char *api_mode)
{
    item_t it = {0};
    item_add(&it, "name", hl_yaml_string(in->provider_name != NULL ? in->provider_name : in->provider));
    item_add(&it, "provider_key", hl_yaml_string(in->provider));
    item_add(&it, "base_url", hl_yaml_string(in->base_url));
    item_add(&it, "model", hl_yaml_string(in->id));
    item_add(&it, "api_mode", hl_yaml_string(api_mode));
    if (in->context_length > 0)
        item_add(&it, "context_length", hl_yaml_int(in->context_length));
    if (key_env != NULL)
        item_add(&it, "key_env", hl_yaml_string(key_env));
    if (in->reasoning_effort != NULL)
        item_add(&it, "reasoning_effort", hl_yaml_string(in->reasoning_effort));
    return doc_append_provider(d, &it);
}

int hl_models_save(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const hl_model_input_t *in,
                   char *message, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    doc_t d;
    char *key_env = NULL;
    current_t cur = {0};
    int ret = doc_init(&d, text, len, message, msglen);
    if (ret != 0)
        goto Exit;
    const char *original = in->original_id != NULL ? in->original_id : in->id;
    json_t *providers = providers_of(&d);
    if (providers != NULL && !json_is_array(providers) && !json_is_null(providers)) {
        ret = fail(&d, HL_MODELS_YAML, "%s", "config.yaml: custom_providers is not a list; edit it by hand");
        goto Exit;
    }
    long index = entry_holding(&d, original);

    /* the key env: asked for, else the entry's, else a new name when there is a key to store */
    if (in->key_env != NULL) {
        key_env = hl_strdup(in->key_env);
    } else if (index >= 0) {
        hm_scratch_t s;
        hm_scratch_init(&s);
        const json_t *entry = entry_of(&d, (size_t)index);
        const char *k = hm_str(&s, hm_get(entry, "key_env"));
        if (k == NULL)
            k = hm_env_ref(&s, hm_str(&s, hm_get(entry, "api_key")));
        key_env = dup_or_null(k);
        hm_scratch_dispose(&s);
    }
    if (key_env == NULL && in->api_key != NULL)
        key_env = hl_models_key_env_name(in->provider_name != NULL ? in->provider_name : in->provider, in->id);
    if (in->api_key != NULL && !hl_hermes_valid_key_env(key_env)) {
        ret = fail(&d, HL_MODELS_INVALID,
                   "this model's key env \"%s\" is not a provider key name (capitals, digits and _, ending in _API_KEY); "
                   "send key_env with the api_key",
                   key_env);
        goto Exit;
    }
    const char *api_mode = hl_models_api_mode(in->provider, in->base_url, in->api_mode);

    if (index >= 0)
        TRY(update_entry(&d, (size_t)index, in, original, key_env, api_mode));
    else
        TRY(append_entry(&d, in, key_env, api_mode));

    /* the default: asked for, or none yet, or this model was it */
    current_read(&d, &cur);
    if (in->set_default == 1 || cur.model == NULL || strcmp(cur.model, original) == 0) {
        bool was_default = same(cur.model, original);
        if (in->set_default == 1 && cur.model != NULL && strcmp(cur.model, in->id) != 0 && !was_default)
            TRY(retain_default(&d));
        default_t m = {.id = in->id,
                       .provider = in->provider,
                       .base_url = in->base_url,
                       .key_env = key_env != NULL ? key_env
                                  : was_default   ? cur.key_env
                                                  : NULL,
                       .api_mode = api_mode,
                       .context_length = in->context_length};
        if (m.key_env == NULL && was_default)
            m.api_key = cur.api_key; /* a literal key already in config.yaml stays */
        TRY(write_default(&d, &m));
        if (in->reasoning_effort != NULL)
            TRY(set_profile_effort(&d, in->reasoning_effort));
    }

    json_t *models = hm_models(d.config, env, true);
    bool saved = hl_models_find(models, in->provider, in->base_url, in->id) != NULL;
    json_decref(models);
    if (!saved) {
        ret = fail(&d, HL_MODELS_INVALID, "%s", "saved model is missing from config");
        goto Exit;
    }
    finish(out, &d);
    if (in->api_key != NULL) {
        out->env_key = key_env;
        out->env_value = hl_strdup(in->api_key);
        key_env = NULL;
    }
Exit:
    current_dispose(&cur);
    free(key_env);
    doc_dispose(&d);
    return ret;
}

/* ---- deleting a model ---- */

/* `id` out of entry i: its model and default_model keys when they name it, its items in a models list or keys in a map;
 * the entry goes when no model is left, else keeps a `model`. */
static int remove_from_entry(doc_t *d, size_t i, const char *id)
{
    int ret = 0;
    static const char *const SINGLE[] = {"model", "default_model"};
    for (size_t k = 0; k < HL_ARRAY_SIZE(SINGLE); ++k) {
        char *v = entry_string(d, i, SINGLE[k]);
        bool named = same(v, id);
        free(v);
        if (named)
            TRY(doc_delete(d, ENTRY(i, SINGLE[k])));
    }
    json_t *models = hm_get(entry_of(d, i), "models");
    if (json_is_array(models)) {
        for (size_t j = json_array_size(models); j-- > 0;) {
            const char *s = json_string_value(json_array_get(hm_get(entry_of(d, i), "models"), j));
            size_t start, len = s != NULL ? hermes_strip(s, strlen(s), &start) : 0;
            if (len != strlen(id) || memcmp(s + start, id, len) != 0)
                continue;
            const hl_yaml_step_t path[] = {hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key("models"),
                                           hl_yaml_item(j)};
            TRY(doc_delete(d, path, 4));
        }
    } else if (json_is_object(models)) {
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(models, k, v)
        {
            size_t start, len = hermes_strip(k, strlen(k), &start);
            if (len == strlen(id) && memcmp(k + start, id, len) == 0)
                json_array_append_new(keys, json_string(k));
        }
        size_t j;
        json_array_foreach(keys, j, v)
        {
            const hl_yaml_step_t path[] = {hl_yaml_key("custom_providers"), hl_yaml_item(i), hl_yaml_key("models"),
                                           hl_yaml_key(json_string_value(v))};
            if ((ret = doc_delete(d, path, 4)) != 0)
                break;
        }
        json_decref(keys);
        if (ret != 0)
            goto Exit;
    }
    json_t *ids = hm_entry_ids(entry_of(d, i));
    char *model = entry_string(d, i, "model");
    char *first = json_array_size(ids) > 0 ? hl_strdup(json_string_value(json_array_get(ids, 0))) : NULL;
    json_decref(ids);
    if (first == NULL)
        ret = doc_delete(d, (const hl_yaml_step_t[]){hl_yaml_key("custom_providers"), hl_yaml_item(i)}, 2);
    else if (model == NULL)
        ret = doc_set(d, ENTRY(i, "model"), hl_yaml_string(first));
    free(first);
    free(model);
Exit:
    return ret;
}

/* No model left to be the default: model.* emptied (a plain `model:` string becomes ""). */
static int clear_default(doc_t *d)
{
    int ret = 0;
    if (!json_is_object(hm_get(d->config, "model")))
        return doc_set(d, (const hl_yaml_step_t[]){hl_yaml_key("model")}, 1, hl_yaml_string(""));
    static const char *const KEYS[] = {"default", "model",   "name",     "provider",      "base_url",
                                       "api_key", "key_env", "api_mode", "context_length"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(KEYS) && ret == 0; ++i)
        ret = doc_delete(d, UNDER("model", KEYS[i]));
    return ret;
}

int hl_models_delete(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const char *id, char *message,
                     size_t msglen)
{
    memset(out, 0, sizeof(*out));
    doc_t d;
    current_t cur = {0};
    int ret = doc_init(&d, text, len, message, msglen);
    if (ret != 0)
        goto Exit;
    json_t *models = hm_models(d.config, env, true);
    bool known = hm_models_by_id(models, id) != NULL;
    size_t count = json_array_size(models);
    json_decref(models);
    if (!known) {
        ret = fail(&d, HL_MODELS_INVALID, "model \"%s\" is not configured", id);
        goto Exit;
    }
    if (count <= 1) {
        ret = fail(&d, HL_MODELS_INVALID, "%s", LAST_MODEL_MESSAGE);
        goto Exit;
    }
    /* from the last entry to the first, so that removing one leaves the indexes still to visit unchanged */
    json_t *providers = providers_of(&d);
    for (size_t i = json_is_array(providers) ? json_array_size(providers) : 0; i-- > 0;) {
        json_t *ids = hm_entry_ids(entry_of(&d, i));
        bool has = hm_ids_have(ids, id);
        json_decref(ids);
        if (has)
            TRY(remove_from_entry(&d, i, id));
    }
    current_read(&d, &cur);
    if (same(cur.model, id)) {
        json_t *rest = hm_models(d.config, env, false);
        picked_t next;
        bool any = json_array_size(rest) > 0;
        if (any)
            pick(&d, json_array_get(rest, 0), &next);
        json_decref(rest);
        if (any) {
            ret = make_default(&d, &next);
            picked_dispose(&next);
        } else {
            ret = clear_default(&d);
        }
        if (ret != 0)
            goto Exit;
    }
    finish(out, &d);
Exit:
    current_dispose(&cur);
    doc_dispose(&d);
    return ret;
}

/* ---- the default models ---- */

/* auxiliary.compression takes the picked model. */
static int write_compression(doc_t *d, const picked_t *p, const hl_dotenv_t *env)
{
    int ret = 0;
    const hl_yaml_step_t base[] = {hl_yaml_key("auxiliary"), hl_yaml_key("compression"), hl_yaml_key("")};
    hl_yaml_step_t path[3];
    memcpy(path, base, sizeof(path));
#define AT(k) (path[2] = hl_yaml_key(k), path), 3
    TRY(doc_set(d, AT("provider"), hl_yaml_string(p->provider[0] != '\0' ? p->provider : "auto")));
    TRY(doc_set(d, AT("model"), hl_yaml_string(p->id)));
    TRY(doc_set(d, AT("api_mode"), hl_yaml_string(p->api_mode)));
    if (p->context_length > 0)
        TRY(doc_set(d, AT("context_length"), hl_yaml_int(p->context_length)));
    else
        TRY(doc_delete(d, AT("context_length")));
    if (strcmp(p->provider, "custom") == 0) {
        TRY(doc_set(d, AT("base_url"), hl_yaml_string(p->base_url)));
        const char *v = p->key_env != NULL && env != NULL ? hl_dotenv_get(env, p->key_env) : NULL;
        size_t start;
        if (p->literal_key != NULL) {
            TRY(doc_set(d, AT("api_key"), hl_yaml_string(p->literal_key)));
        } else if (v != NULL && hermes_strip(v, strlen(v), &start) > 0) {
            char *ref = hl_asprintf("${%s}", p->key_env);
            ret = doc_set(d, AT("api_key"), hl_yaml_string(ref));
            free(ref);
            if (ret != 0)
                goto Exit;
        } else {
            TRY(doc_delete(d, AT("api_key")));
        }
    } else {
        TRY(doc_delete(d, AT("base_url")));
        TRY(doc_delete(d, AT("api_key")));
    }
#undef AT
Exit:
    return ret;
}

int hl_models_set_defaults(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const char *task_id,
                           const char *compression_id, char *message, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    doc_t d;
    picked_t p = {0};
    current_t cur = {0};
    int ret;
    if (task_id == NULL && compression_id == NULL) {
        snprintf(message, msglen, "taskModelId or compressionModelId is required");
        return HL_MODELS_INVALID;
    }
    if ((ret = doc_init(&d, text, len, message, msglen)) != 0)
        goto Exit;
    if (task_id != NULL) {
        TRY(pick_by_id(&d, env, task_id, &p));
        current_read(&d, &cur);
        if (cur.model != NULL && strcmp(cur.model, p.id) != 0)
            TRY(retain_default(&d));
        TRY(make_default(&d, &p));
        picked_dispose(&p);
        memset(&p, 0, sizeof(p));
    }
    if (compression_id != NULL) {
        TRY(pick_by_id(&d, env, compression_id, &p));
        TRY(write_compression(&d, &p, env));
    }
    finish(out, &d);
Exit:
    picked_dispose(&p);
    current_dispose(&cur);
    doc_dispose(&d);
    return ret;
}

void hl_models_change_dispose(hl_models_change_t *c)
{
    if (c->env_value != NULL)
        explicit_bzero(c->env_value, strlen(c->env_value));
    free(c->text);
    free(c->env_key);
    free(c->env_value);
    memset(c, 0, sizeof(*c));
}
