/*
 * The managed-model view (spec STORAGE §3.3, API.md §9) and the body of POST …/model-configs. Values are read as the
 * original reads them — strings trimmed and empty ones ignored, numbers from numeric strings — so that a config.yaml
 * written by the original, by Hermes or by hand gives the same list; the one correction is that only the model the
 * default is merged into (or the model_default entry) says isDefault, not every model that shares its id.
 */
#include "hl/hermes_models.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hermes_internal.h"
#include "hermes_models_internal.h"

static const char *const EFFORTS[] = {"none", "minimal", "low", "medium", "high", "xhigh"};

/* ---- reading values ---- */

void hm_scratch_init(hm_scratch_t *s)
{
    s->pool = json_array();
}

void hm_scratch_dispose(hm_scratch_t *s)
{
    json_decref(s->pool);
    s->pool = NULL;
}

/* A copy of n bytes at p kept in the pool. */
static const char *keep(hm_scratch_t *s, const char *p, size_t n)
{
    json_t *copy = json_stringn(p, n);
    if (copy == NULL)
        return NULL;
    json_array_append_new(s->pool, copy);
    return json_string_value(copy);
}

const char *hm_str(hm_scratch_t *s, const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *p = json_string_value(v);
    size_t start, n = hermes_strip(p, strlen(p), &start);
    if (n == 0)
        return NULL;
    return start == 0 && p[n] == '\0' ? p : keep(s, p + start, n);
}

const char *hm_env_ref(hm_scratch_t *s, const char *v)
{
    if (v == NULL)
        return NULL;
    size_t start, n = hermes_strip(v, strlen(v), &start);
    const char *p = v + start;
    if (n < 4 || p[0] != '$' || p[1] != '{' || p[n - 1] != '}' || !(isalpha((unsigned char)p[2]) || p[2] == '_'))
        return NULL;
    for (size_t i = 3; i < n - 1; ++i)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_'))
            return NULL;
    return keep(s, p + 2, n - 3);
}

int64_t hm_positive_int(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return isfinite(d) && d >= 1 && d < 9e18 ? (int64_t)floor(d) : 0;
    }
    if (!json_is_string(v))
        return 0;
    /* parseInt after dropping commas: blanks, a sign, then as many digits as there are */
    const char *p = json_string_value(v);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
        ++p;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        ++p;
    int64_t value = 0;
    bool digits = false;
    for (; *p != '\0'; ++p) {
        if (*p == ',')
            continue;
        if (!isdigit((unsigned char)*p))
            break;
        digits = true;
        if (value > (INT64_MAX - 9) / 10)
            return 0;
        value = value * 10 + (*p - '0');
    }
    return digits && !negative && value > 0 ? value : 0;
}

const char *hm_effort(const json_t *v)
{
    if (!json_is_string(v))
        return NULL;
    const char *p = json_string_value(v);
    size_t start, n = hermes_strip(p, strlen(p), &start);
    for (size_t i = 0; i < HL_ARRAY_SIZE(EFFORTS); ++i)
        if (strlen(EFFORTS[i]) == n && strncasecmp(p + start, EFFORTS[i], n) == 0)
            return EFFORTS[i];
    return NULL;
}

char *hm_model_key(const char *provider, const char *base_url, const char *id)
{
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        --n;
    char *key = provider != NULL ? hl_asprintf("%s\n%.*s\n%s", provider, (int)n, base_url, id)
                                 : hl_asprintf("%.*s\n%s", (int)n, base_url, id);
    for (char *p = key; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    return key;
}

json_t *hm_get(const json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

static const char *first_str(hm_scratch_t *s, const json_t *obj, const char *a, const char *b, const char *c)
{
    const char *v = hm_str(s, hm_get(obj, a));
    if (v == NULL && b != NULL)
        v = hm_str(s, hm_get(obj, b));
    if (v == NULL && c != NULL)
        v = hm_str(s, hm_get(obj, c));
    return v;
}

/* The first of two members that is present and not null (JavaScript's a ?? b). */
static const json_t *either(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = hm_get(obj, a);
    return v != NULL && !json_is_null(v) ? v : hm_get(obj, b);
}

void hm_read_default(hm_scratch_t *s, const json_t *model, hm_default_t *d)
{
    memset(d, 0, sizeof(*d));
    if (json_is_string(model)) {
        d->model = hm_str(s, model);
        return;
    }
    d->model = first_str(s, model, "default", "model", "name");
    d->provider = hm_str(s, hm_get(model, "provider"));
    d->base_url = hm_str(s, hm_get(model, "base_url"));
    d->api_key = first_str(s, model, "api_key", "apiKey", NULL);
    d->key_env = hm_str(s, hm_get(model, "key_env"));
    if (d->key_env == NULL)
        d->key_env = hm_env_ref(s, d->api_key);
    d->api_mode = hm_str(s, hm_get(model, "api_mode"));
    d->context_length = hm_positive_int(hm_get(model, "context_length"));
    d->effort = hm_effort(either(model, "reasoning_effort", "reasoningEffort"));
}

const char *hm_profile_effort(const json_t *config)
{
    return hm_effort(either(hm_get(config, "agent"), "reasoning_effort", "reasoningEffort"));
}

const char *hm_entry_provider(hm_scratch_t *s, const json_t *entry)
{
    const char *p = first_str(s, entry, "provider_key", "provider", NULL);
    return p != NULL ? p : "custom";
}

const char *hm_entry_base_url(hm_scratch_t *s, const json_t *entry)
{
    const char *u = first_str(s, entry, "base_url", "url", "api");
    return u != NULL ? u : "";
}

bool hm_ids_have(const json_t *ids, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), id) == 0) return true;
    return false;
}

static void add_id(json_t *ids, const char *p)
{
    size_t start, n = hermes_strip(p, strlen(p), &start);
    if (n == 0)
        return;
    json_t *id = json_stringn(p + start, n);
    if (id != NULL && !hm_ids_have(ids, json_string_value(id)))
        json_array_append(ids, id);
    json_decref(id);
}

json_t *hm_entry_ids(const json_t *entry)
{
    json_t *ids = json_array();
    static const char *const SINGLE[] = {"model", "default_model"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(SINGLE); ++i)
        if (json_is_string(hm_get(entry, SINGLE[i])))
            add_id(ids, json_string_value(hm_get(entry, SINGLE[i])));
    json_t *models = hm_get(entry, "models"), *v;
    size_t i;
    const char *k;
    if (json_is_array(models)) {
        json_array_foreach(models, i, v) if (json_is_string(v)) add_id(ids, json_string_value(v));
    } else if (json_is_object(models)) {
        json_object_foreach(models, k, v) add_id(ids, k);
    }
    return ids;
}

/* ---- inference ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* `s` trimmed and lowercased, trailing '/' dropped when `strip_slash`. Caller frees. */
static char *lowered(const char *s, bool strip_slash)
{
    size_t start, n = hermes_strip(s, strlen(s), &start);
    char *out = hl_asprintf("%.*s", (int)n, s + start);
    for (char *p = out; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    if (strip_slash)
        for (n = strlen(out); n > 0 && out[n - 1] == '/';)
            out[--n] = '\0';
    return out;
}

const char *hl_models_api_mode(const char *provider, const char *base_url, const char *explicit_mode)
{
    if (explicit_mode != NULL && explicit_mode[0] != '\0')
        return explicit_mode;
    char *p = lowered(provider != NULL ? provider : "", false), *u = lowered(base_url != NULL ? base_url : "", true);
    const char *mode = "chat_completions";
    if (strcmp(p, "openai-codex") == 0)
        mode = "codex_responses";
    else if (strcmp(p, "anthropic") == 0 || ends_with(u, strlen(u), "/anthropic") || strstr(u, "api.anthropic.com") != NULL)
        mode = "anthropic_messages";
    free(p);
    free(u);
    return mode;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The efforts after "none" (a count into EFFORTS from `from`), -1 when unknown. */
static int supported_efforts(const char *provider, const char *base_url, const char *model_id, const char *api_mode, int *from)
{
    char *p = lowered(provider, false), *u = lowered(base_url, false), *m = lowered(model_id, false);
    int n = -1;
    *from = 1;
    if (strstr(p, "github") || strstr(p, "copilot") || strstr(u, "api.githubcopilot.com") || strstr(u, "models.github.ai")) {
        const char *last = strrchr(m, '/');
        last = last != NULL ? last + 1 : m;
        if (starts(m, "openai/o1") || starts(m, "openai/o3") || starts(m, "openai/o4") || starts(m, "o1") || starts(m, "o3") ||
            starts(m, "o4"))
            *from = 2, n = 3; /* low, medium, high */
        else if (starts(last, "gpt-5"))
            n = 4; /* minimal … high */
        else
            n = 0;
    } else if (strstr(u, "nousresearch.com") || strstr(u, "ai-gateway.vercel.sh")) {
        n = 5;
    } else if (strstr(u, "openrouter")) {
        static const char *const PREFIXES[] = {"deepseek/", "anthropic/", "openai/", "x-ai/", "google/gemini-2", "qwen/qwen3"};
        n = 0;
        for (size_t i = 0; i < HL_ARRAY_SIZE(PREFIXES); ++i)
            if (starts(m, PREFIXES[i]))
                n = 5;
    } else if (api_mode != NULL && strcmp(api_mode, "codex_responses") == 0) {
        n = 5;
    }
    free(p);
    free(u);
    free(m);
    return n;
}

json_t *hl_models_reasoning(const char *provider, const char *base_url, const char *model_id, const char *api_mode,
                            const char **support)
{
    int from, n = supported_efforts(provider != NULL ? provider : "", base_url != NULL ? base_url : "",
                                    model_id != NULL ? model_id : "", api_mode, &from);
    if (n < 0) {
        *support = "unknown";
        return json_null();
    }
    json_t *a = json_array();
    if (n == 0) {
        *support = "unsupported";
        return a;
    }
    *support = "known";
    json_array_append_new(a, json_string("none"));
    for (int i = 0; i < n; ++i)
        json_array_append_new(a, json_string(EFFORTS[from + i]));
    return a;
}

char *hl_models_key_env_name(const char *provider_name, const char *model_id)
{
    static const char PREFIX[] = "HERMES_", SUFFIX[] = "_API_KEY";
    const size_t room = 64 - (sizeof(PREFIX) - 1) - (sizeof(SUFFIX) - 1);
    const char *src = provider_name;
    size_t start, n = src != NULL ? hermes_strip(src, strlen(src), &start) : 0;
    if (n == 0) {
        src = model_id != NULL ? model_id : "";
        n = hermes_strip(src, strlen(src), &start);
    }
    char base[64];
    size_t len = 0;
    bool gap = false;
    for (size_t i = start; i < start + n && len < room; ++i) {
        char ch = (char)toupper((unsigned char)src[i]);
        if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
            if (gap && len > 0 && len + 1 < room)
                base[len++] = '_';
            else if (gap && len > 0)
                break;
            base[len++] = ch;
            gap = false;
        } else {
            gap = true;
        }
    }
    base[len] = '\0';
    return hl_asprintf("%s%s%s", PREFIX, len > 0 ? base : "MODEL", SUFFIX);
}

/* ---- the view ---- */

/* A managed model before it becomes JSON. Strings borrowed (config, scratch or static). */
typedef struct st_mm_t {
    const char *id, *provider, *provider_name, *source, *base_url, *api_mode, *key_env, *credential, *effort;
    int64_t context_length;
    bool is_default;
    char *endpoint; /* hm_model_key(NULL, …): owned */
} mm_t;

typedef struct st_mm_list_t {
    mm_t *v;
    size_t count, cap;
} mm_list_t;

static mm_t *mm_add(mm_list_t *l)
{
    if (l->count == l->cap) {
        l->cap = l->cap != 0 ? l->cap * 2 : 8;
        l->v = hl_realloc(l->v, l->cap * sizeof(*l->v));
    }
    mm_t *m = &l->v[l->count++];
    memset(m, 0, sizeof(*m));
    return m;
}

static void mm_free(mm_list_t *l)
{
    for (size_t i = 0; i < l->count; ++i)
        free(l->v[i].endpoint);
    free(l->v);
}

/* A key env's value in .env is set (not blank). */
static bool env_set(const hl_dotenv_t *env, const char *key)
{
    const char *v = env != NULL ? hl_dotenv_get(env, key) : NULL;
    size_t start;
    return v != NULL && hermes_strip(v, strlen(v), &start) > 0;
}

/* credentialState of an entry or of the default: a literal key is configured; a key env is configured when .env sets
 * it, else missing; nothing is unknown. */
static const char *credential(const char *api_key, const char *key_env, bool literal, const hl_dotenv_t *env)
{
    if (api_key != NULL && literal)
        return "configured";
    if (key_env == NULL)
        return "unknown";
    return env_set(env, key_env) ? "configured" : "missing";
}

static json_t *model_json(const mm_t *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "provider", json_string(m->provider));
    json_object_set_new(o, "providerName", json_string(m->provider_name));
    json_object_set_new(o, "source", json_string(m->source));
    json_object_set_new(o, "baseUrl", json_string(m->base_url));
    json_object_set_new(o, "apiMode", json_string(m->api_mode));
    if (m->context_length > 0)
        json_object_set_new(o, "contextLength", json_integer(m->context_length));
    if (m->key_env != NULL)
        json_object_set_new(o, "keyEnv", json_string(m->key_env));
    json_object_set_new(o, "credentialConfigured", json_boolean(strcmp(m->credential, "configured") == 0));
    json_object_set_new(o, "credentialState", json_string(m->credential));
    json_object_set_new(o, "isDefault", json_boolean(m->is_default));
    if (m->effort != NULL)
        json_object_set_new(o, "reasoningEffort", json_string(m->effort));
    const char *support;
    json_t *efforts = hl_models_reasoning(m->provider, m->base_url, m->id, m->api_mode, &support);
    json_object_set_new(o, "reasoningSupport", json_string(support));
    json_object_set_new(o, "supportedReasoningEfforts", efforts);
    return o;
}

/* The models of one custom_providers entry, repeats (`seen`) skipped. */
static void add_entry(hm_scratch_t *s, mm_list_t *l, json_t *seen, const json_t *entry, const hl_dotenv_t *env)
{
    const char *name = first_str(s, entry, "name", "provider_name", "provider_key");
    const char *provider = hm_entry_provider(s, entry), *base_url = hm_entry_base_url(s, entry);
    const char *api_mode = hl_models_api_mode(provider, base_url, hm_str(s, hm_get(entry, "api_mode")));
    const char *api_key = hm_str(s, hm_get(entry, "api_key")), *key_env = hm_str(s, hm_get(entry, "key_env"));
    if (key_env == NULL)
        key_env = hm_env_ref(s, api_key);
    const char *cred = credential(api_key, key_env, api_key != NULL && hm_env_ref(s, api_key) == NULL, env);
    int64_t context_length = hm_positive_int(hm_get(entry, "context_length"));
    const char *entry_effort = hm_effort(either(entry, "reasoning_effort", "reasoningEffort"));
    json_t *models = hm_get(entry, "models"), *ids = hm_entry_ids(entry), *v;
    size_t i;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        char *key = hm_model_key(provider, base_url, id);
        bool repeated = json_object_get(seen, key) != NULL;
        if (!repeated)
            json_object_set_new(seen, key, json_true());
        free(key);
        if (repeated)
            continue;
        const json_t *settings = json_is_object(models) ? json_object_get(models, id) : NULL;
        mm_t *m = mm_add(l);
        m->id = keep(s, id, strlen(id));
        m->provider = provider;
        m->provider_name = name != NULL ? name : "Custom Provider";
        m->source = "custom_provider";
        m->base_url = base_url;
        m->api_mode = api_mode;
        m->context_length = hm_positive_int(either(settings, "context_length", "contextLength"));
        if (m->context_length == 0)
            m->context_length = context_length;
        m->key_env = key_env;
        m->credential = cred;
        m->effort = hm_effort(either(settings, "reasoning_effort", "reasoningEffort"));
        if (m->effort == NULL)
            m->effort = entry_effort;
        m->endpoint = hm_model_key(NULL, base_url, id);
    }
    json_decref(ids);
}

/* The default model merged into the entry of the same endpoint, or first as a model_default entry. */
static void merge_default(hm_scratch_t *s, mm_list_t *l, const json_t *config, const hl_dotenv_t *env)
{
    hm_default_t d;
    hm_read_default(s, hm_get(config, "model"), &d);
    if (d.model == NULL)
        return;
    const char *provider = d.provider != NULL ? d.provider : "default", *base_url = d.base_url != NULL ? d.base_url : "";
    const char *effort = hm_profile_effort(config);
    char *endpoint = hm_model_key(NULL, base_url, d.model);
    mm_t *match = NULL;
    for (size_t i = 0; i < l->count; ++i)
        if (strcmp(l->v[i].endpoint, endpoint) == 0)
            match = &l->v[i]; /* the last one seen, as the original's map keeps it */
    free(endpoint);
    if (match != NULL) {
        if (d.api_mode != NULL)
            match->api_mode = d.api_mode;
        if (match->context_length == 0)
            match->context_length = d.context_length;
        if (match->key_env == NULL)
            match->key_env = d.key_env;
        if (match->effort == NULL)
            match->effort = effort;
        match->is_default = true;
        return;
    }
    mm_t *m = mm_add(l);
    memmove(l->v + 1, l->v, (l->count - 1) * sizeof(*l->v));
    m = &l->v[0];
    memset(m, 0, sizeof(*m));
    m->id = d.model;
    m->provider = provider;
    m->provider_name = provider;
    m->source = "model_default";
    m->base_url = base_url;
    m->api_mode = hl_models_api_mode(provider, base_url, d.api_mode);
    m->context_length = d.context_length;
    m->key_env = d.key_env;
    m->credential = credential(d.api_key, d.key_env, d.key_env == NULL, env);
    m->is_default = true;
    m->effort = d.effort != NULL ? d.effort : effort;
    m->endpoint = hl_strdup("");
}

json_t *hm_models(const json_t *config, const hl_dotenv_t *env, bool with_default)
{
    hm_scratch_t s;
    hm_scratch_init(&s);
    mm_list_t l = {0};
    json_t *seen = json_object(), *providers = hm_get(config, "custom_providers"), *entry;
    size_t i;
    if (json_is_array(providers))
        json_array_foreach(providers, i, entry) add_entry(&s, &l, seen, entry, env);
    if (with_default)
        merge_default(&s, &l, config, env);
    json_t *out = json_array();
    for (int pass = 0; pass < 2; ++pass) /* the default first, the others in order */
        for (i = 0; i < l.count; ++i)
            if (l.v[i].is_default == (pass == 0))
                json_array_append_new(out, model_json(&l.v[i]));
    mm_free(&l);
    json_decref(seen);
    hm_scratch_dispose(&s);
    return out;
}

json_t *hm_models_by_id(const json_t *models, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) if (strcmp(hm_field(m, "id"), id) == 0) return m;
    return NULL;
}

json_t *hl_models_find(const json_t *models, const char *provider, const char *base_url, const char *id)
{
    char *want = hm_model_key(provider, base_url, id);
    json_t *found = NULL, *m;
    size_t i;
    json_array_foreach(models, i, m)
    {
        char *key = hm_model_key(hm_field(m, "provider"), hm_field(m, "baseUrl"), hm_field(m, "id"));
        bool same = strcmp(key, want) == 0;
        free(key);
        if (same) {
            found = m;
            break;
        }
    }
    free(want);
    return found != NULL ? found : hm_models_by_id(models, id);
}

/* The compression model: the model with its id whose provider, base URL and api mode agree with what
 * auxiliary.compression sets, else the first with its id. */
static json_t *compression_model(hm_scratch_t *s, const json_t *config, const json_t *models)
{
    const json_t *c = hm_get(hm_get(config, "auxiliary"), "compression");
    const char *id = hm_str(s, hm_get(c, "model"));
    if (id == NULL)
        return NULL;
    const char *provider = hm_str(s, hm_get(c, "provider")), *base_url = hm_str(s, hm_get(c, "base_url"));
    const char *api_mode = hm_str(s, hm_get(c, "api_mode"));
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        if (strcmp(hm_field(m, "id"), id) == 0 && (provider == NULL || strcmp(hm_field(m, "provider"), provider) == 0) &&
            (base_url == NULL || strcmp(hm_field(m, "baseUrl"), base_url) == 0) &&
            (api_mode == NULL || strcmp(hm_field(m, "apiMode"), api_mode) == 0))
            return m;
    }
    return hm_models_by_id(models, id);
}

json_t *hl_models_listing(const json_t *config, const hl_dotenv_t *env)
{
    hm_scratch_t s;
    hm_scratch_init(&s);
    if (!json_is_object(config))
        config = NULL;
    hm_default_t d;
    hm_read_default(&s, hm_get(config, "model"), &d);
    const char *effort = hm_profile_effort(config);
    const char *compression = hm_str(&s, hm_get(hm_get(hm_get(config, "auxiliary"), "compression"), "model"));
    json_t *models = hm_models(config, env, true);
    json_t *cm = compression_model(&s, config, models);
    json_t *out = json_pack("{s:s?, s:s?, s:s?, s:O?, s:o}", "defaultModel", d.model, "defaultReasoningEffort", effort,
                            "compressionModelId", compression, "compressionModel", cm, "models", models);
    hm_scratch_dispose(&s);
    return out;
}

/* ---- the body of POST ---- */

char *hl_models_body_string(const json_t *body, const char *const *names)
{
    for (; *names != NULL; ++names) {
        json_t *v = hm_get(body, *names);
        if (!json_is_string(v))
            continue;
        const char *p = json_string_value(v);
        size_t start, n = hermes_strip(p, strlen(p), &start);
        if (n > 0)
            return hl_asprintf("%.*s", (int)n, p + start);
    }
    return NULL;
}

static char *body_string(const json_t *body, const char *a, const char *b, const char *c)
{
    const char *names[] = {a, b, c, NULL};
    return hl_models_body_string(body, names);
}

/* true/false, "true"/"false", 1/0 as API.md reads them: 1, 0, or -1 (anything else). */
static int body_bool(const json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
        return 1;
    if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
        return 0;
    return -1;
}

/* The first of two members that is present and not null. */
static const json_t *body_value(const json_t *body, const char *a, const char *b)
{
    return either(body, a, b);
}

/* One line of text without control characters, of at most max bytes. */
static bool one_line(const char *s, size_t max)
{
    if (s == NULL)
        return true;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; ++i)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= max;
}

/* A string of blanks ("" counts as missing). */
static bool blank(const json_t *v)
{
    size_t start;
    return json_is_string(v) && hermes_strip(json_string_value(v), strlen(json_string_value(v)), &start) == 0;
}

#define MAX_CONTEXT_LENGTH 1000000000

/* context_length: a positive integer, as a number or a string of digits. 0 when absent, -1 when invalid. */
static int64_t body_context_length(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v))
        return json_integer_value(v) > 0 && json_integer_value(v) <= MAX_CONTEXT_LENGTH ? json_integer_value(v) : -1;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d >= 1 && d <= MAX_CONTEXT_LENGTH && d == floor(d) ? (int64_t)d : -1;
    }
    if (!json_is_string(v))
        return -1;
    const char *p = json_string_value(v);
    size_t start, n = hermes_strip(p, strlen(p), &start);
    if (n == 0)
        return 0; /* "" is missing */
    int64_t value = 0;
    for (size_t i = start; i < start + n; ++i) {
        if (!isdigit((unsigned char)p[i]) || value > MAX_CONTEXT_LENGTH)
            return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value > 0 && value <= MAX_CONTEXT_LENGTH ? value : -1;
}

static bool word(const char *s)
{
    if (s == NULL)
        return true;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; ++i)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return false;
    return n <= 64;
}

int hl_model_input_parse(hl_model_input_t *in, const json_t *body, const char **message)
{
    memset(in, 0, sizeof(*in));
    in->set_default = -1;
    in->reload_gateway = true;
    if (!json_is_object(body))
        body = NULL;
    in->id = body_string(body, "id", "model_id", "modelId");
    in->provider = body_string(body, "provider", "provider_key", "providerKey");
    in->base_url = body_string(body, "base_url", "baseUrl", NULL);
    in->original_id = body_string(body, "original_model_id", "originalModelId", "original_id");
    in->provider_name = body_string(body, "provider_name", "providerName", NULL);
    in->api_key = body_string(body, "api_key", "apiKey", NULL);
    in->api_mode = body_string(body, "api_mode", "apiMode", NULL);
    in->key_env = body_string(body, "key_env", "keyEnv", NULL);
    if (in->id == NULL || in->provider == NULL || in->base_url == NULL) {
        *message = "id, provider and base_url are required";
        return -EINVAL;
    }
    if (!one_line(in->id, 256) || !one_line(in->original_id, 256) || !one_line(in->provider, 128) ||
        !one_line(in->provider_name, 128)) {
        *message = "id, provider and provider_name must be one line of text (id at most 256 characters, the others 128)";
        return -EINVAL;
    }
    if (!one_line(in->base_url, 2048) || !(strncmp(in->base_url, "http://", 7) == 0 || strncmp(in->base_url, "https://", 8) == 0)) {
        *message = "base_url must be an http:// or https:// URL";
        return -EINVAL;
    }
    if (!one_line(in->api_key, 4096)) {
        *message = "api_key must be one line of text of at most 4096 characters";
        return -EINVAL;
    }
    if (!word(in->api_mode)) {
        *message = "apiMode must be a word such as chat_completions, codex_responses or anthropic_messages";
        return -EINVAL;
    }
    if (in->key_env != NULL && !hl_hermes_valid_key_env(in->key_env)) {
        *message = "keyEnv must name a provider key variable: capitals, digits and _, ending in _API_KEY (e.g. OPENAI_API_KEY)";
        return -EINVAL;
    }
    const json_t *effort = body_value(body, "reasoning_effort", "reasoningEffort");
    if (effort != NULL && !json_is_null(effort) && !blank(effort)) {
        const char *e = hm_effort(effort);
        if (e == NULL) {
            *message = "reasoningEffort must be none, minimal, low, medium, high or xhigh";
            return -EINVAL;
        }
        in->reasoning_effort = hl_strdup(e);
    }
    in->context_length = body_context_length(body_value(body, "context_length", "contextLength"));
    if (in->context_length < 0) {
        *message = "contextLength must be a positive integer";
        return -EINVAL;
    }
    const json_t *v = body_value(body, "set_default", "setDefault");
    if (v != NULL && !json_is_null(v) && (in->set_default = body_bool(v)) < 0) {
        *message = "setDefault must be true or false";
        return -EINVAL;
    }
    int reload = -1, skip = -1;
    if ((v = body_value(body, "reload_gateway", "reloadGateway")) != NULL && !json_is_null(v) && (reload = body_bool(v)) < 0) {
        *message = "reloadGateway must be true or false";
        return -EINVAL;
    }
    if ((v = body_value(body, "skip_gateway_reload", "skipGatewayReload")) != NULL && !json_is_null(v) &&
        (skip = body_bool(v)) < 0) {
        *message = "skipGatewayReload must be true or false";
        return -EINVAL;
    }
    in->reload_gateway = reload >= 0 ? reload == 1 : skip != 1;
    return 0;
}

void hl_model_input_dispose(hl_model_input_t *in)
{
    if (in->api_key != NULL)
        explicit_bzero(in->api_key, strlen(in->api_key));
    char **fields[] = {&in->id,      &in->provider, &in->base_url, &in->original_id,     &in->provider_name,
                       &in->api_key, &in->api_mode, &in->key_env,  &in->reasoning_effort};
    for (size_t i = 0; i < HL_ARRAY_SIZE(fields); ++i) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}
