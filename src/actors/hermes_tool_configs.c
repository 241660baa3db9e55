/*
 * Tool configs (spec/API.md §10, STORAGE §3.6): what the web, image_gen, stt, tts, messaging, homeassistant and rl tools
 * read from config.yaml and the profile's .env. Each tool is a table of the fields a PATCH may give (a config.yaml key or
 * a .env key) and of the .env keys a GET reports as `configured`; the values a GET shows are derived per tool. A .env key
 * is only ever set, never removed, and only from a non-empty string: an empty field means "leave it". Fields a tool does
 * not know are ignored (apps send back what they read), so a body of unknown fields is an empty update.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hermes_settings.h"
#include "hl/common.h"

/* longest value a field takes: tokens, model names, URLs and channel lists are far shorter */
#define MAX_VALUE 4096
#define MAX_URL 2048

typedef enum en_vtype_t { V_STRING, V_URL, V_BOOL, V_ENUM } vtype_t;

/* A field of a PATCH: a config.yaml key (depth > 0) or a .env key (`env`). */
typedef struct st_field_t {
    const char *names[3]; /* the body's spellings; the first is the one messages use */
    vtype_t type;
    const char *path[3];
    size_t depth;
    const char *env;
    const char *const *choices; /* V_ENUM, NULL-terminated */
} field_t;

typedef struct st_tool_t {
    const char *key;
    bool uses_config;
    const field_t *fields;
    size_t nfields;
    const char *const *configured; /* NULL-terminated */
} tool_t;

#define CFG(t, p0, p1, p2, d, ...)                                                                                                 \
    {                                                                                                                              \
        .names = {__VA_ARGS__}, .type = t, .path = {p0, p1, p2}, .depth = d                                                        \
    }
#define ENV(t, key)                                                                                                                \
    {                                                                                                                              \
        .names = {key}, .type = t, .env = key                                                                                      \
    }
#define ENV_ALIAS(t, key, ...)                                                                                                     \
    {                                                                                                                              \
        .names = {__VA_ARGS__}, .type = t, .env = key                                                                              \
    }

/* ---- web ---- */
static const char *const WEB_BACKENDS[] = {"firecrawl", "firecrawl_self_hosted", "tavily", "exa", "parallel", NULL};
static const field_t WEB[] = {
    {.names = {"provider", "backend"}, .type = V_ENUM, .path = {"web", "backend"}, .depth = 2, .choices = WEB_BACKENDS},
    CFG(V_BOOL, "web", "use_gateway", NULL, 2, "useGateway", "use_gateway"),
    ENV(V_STRING, "FIRECRAWL_API_KEY"),
    ENV(V_URL, "FIRECRAWL_API_URL"),
    ENV(V_STRING, "TAVILY_API_KEY"),
    ENV(V_STRING, "EXA_API_KEY"),
    ENV(V_STRING, "PARALLEL_API_KEY"),
};
static const char *const WEB_CONFIGURED[] = {"FIRECRAWL_API_KEY", "TAVILY_API_KEY",    "EXA_API_KEY",
                                             "PARALLEL_API_KEY",  "FIRECRAWL_API_URL", NULL};

/* ---- image_gen ---- */
static const char *const IMAGE_PROVIDERS[] = {"fal", "openai", "xai", "openai-codex", NULL};
static const field_t IMAGE[] = {
    {.names = {"provider"}, .type = V_ENUM, .path = {"image_gen", "provider"}, .depth = 2, .choices = IMAGE_PROVIDERS},
    CFG(V_STRING, "image_gen", "model", NULL, 2, "model"),
    CFG(V_BOOL, "image_gen", "use_gateway", NULL, 2, "useGateway", "use_gateway"),
    ENV(V_STRING, "FAL_KEY"),
    ENV(V_STRING, "OPENAI_API_KEY"),
    ENV(V_STRING, "XAI_API_KEY"),
};
static const char *const IMAGE_CONFIGURED[] = {"FAL_KEY", "OPENAI_API_KEY", "XAI_API_KEY", NULL};

/* ---- stt ---- */
static const char *const STT_PROVIDERS[] = {"local", "local_command", "groq", "openai", "mistral", "xai", NULL};
static const field_t STT[] = {
    CFG(V_BOOL, "stt", "enabled", NULL, 2, "enabled"),
    {.names = {"provider"}, .type = V_ENUM, .path = {"stt", "provider"}, .depth = 2, .choices = STT_PROVIDERS},
    CFG(V_STRING, "stt", "local", "model", 3, "localModel", "local_model"),
    CFG(V_STRING, "stt", "local", "language", 3, "localLanguage", "local_language"),
    CFG(V_STRING, "stt", "openai", "model", 3, "openaiModel", "openai_model"),
    CFG(V_URL, "stt", "openai", "base_url", 3, "openaiBaseUrl", "openai_base_url"),
    CFG(V_STRING, "stt", "mistral", "model", 3, "mistralModel", "mistral_model"),
    CFG(V_STRING, "stt", "xai", "language", 3, "xaiLanguage", "xai_language"),
    CFG(V_URL, "stt", "xai", "base_url", 3, "xaiBaseUrl", "xai_base_url"),
    CFG(V_BOOL, "stt", "xai", "format", 3, "xaiFormat", "xai_format"),
    CFG(V_BOOL, "stt", "xai", "diarize", 3, "xaiDiarize", "xai_diarize"),
    ENV_ALIAS(V_STRING, "STT_GROQ_MODEL", "groqModel", "groq_model"),
    ENV_ALIAS(V_URL, "GROQ_BASE_URL", "groqBaseUrl", "groq_base_url"),
    ENV_ALIAS(V_STRING, "HERMES_LOCAL_STT_COMMAND", "localCommand", "local_command"),
    ENV(V_STRING, "GROQ_API_KEY"),
    ENV(V_STRING, "VOICE_TOOLS_OPENAI_KEY"),
    ENV(V_STRING, "OPENAI_API_KEY"),
    ENV(V_STRING, "MISTRAL_API_KEY"),
    ENV(V_STRING, "XAI_API_KEY"),
    ENV(V_STRING, "HERMES_LOCAL_STT_COMMAND"),
    ENV(V_STRING, "HERMES_LOCAL_STT_LANGUAGE"),
    ENV(V_STRING, "STT_GROQ_MODEL"),
    ENV(V_STRING, "STT_OPENAI_MODEL"),
    ENV(V_STRING, "STT_MISTRAL_MODEL"),
    ENV(V_URL, "STT_OPENAI_BASE_URL"),
    ENV(V_URL, "GROQ_BASE_URL"),
    ENV(V_URL, "XAI_STT_BASE_URL"),
};
static const char *const STT_CONFIGURED[] = {"GROQ_API_KEY",
                                             "MISTRAL_API_KEY",
                                             "XAI_API_KEY",
                                             "HERMES_LOCAL_STT_COMMAND",
                                             "HERMES_LOCAL_STT_LANGUAGE",
                                             "STT_GROQ_MODEL",
                                             "STT_OPENAI_MODEL",
                                             "STT_MISTRAL_MODEL",
                                             "STT_OPENAI_BASE_URL",
                                             "GROQ_BASE_URL",
                                             "XAI_STT_BASE_URL",
                                             "VOICE_TOOLS_OPENAI_KEY",
                                             "OPENAI_API_KEY",
                                             NULL};

/* ---- tts ---- */
static const char *const TTS_PROVIDERS[] = {"edge",   "openai", "elevenlabs", "minimax",   "mistral",
                                            "gemini", "xai",    "neutts",     "kittentts", NULL};
static const field_t TTS[] = {
    {.names = {"provider"}, .type = V_ENUM, .path = {"tts", "provider"}, .depth = 2, .choices = TTS_PROVIDERS},
    CFG(V_BOOL, "tts", "use_gateway", NULL, 2, "useGateway", "use_gateway"),
    CFG(V_URL, "tts", "openai", "base_url", 3, "baseUrl", "base_url"),
    CFG(V_STRING, "tts", "openai", "model", 3, "model"),
    CFG(V_STRING, "tts", "openai", "voice", 3, "voice"),
    ENV(V_STRING, "VOICE_TOOLS_OPENAI_KEY"),
    ENV(V_STRING, "OPENAI_API_KEY"),
    ENV(V_STRING, "ELEVENLABS_API_KEY"),
    ENV(V_STRING, "MINIMAX_API_KEY"),
    ENV(V_STRING, "MISTRAL_API_KEY"),
    ENV(V_STRING, "GEMINI_API_KEY"),
    ENV(V_STRING, "XAI_API_KEY"),
};
static const char *const TTS_CONFIGURED[] = {"VOICE_TOOLS_OPENAI_KEY", "OPENAI_API_KEY", "ELEVENLABS_API_KEY", "MINIMAX_API_KEY",
                                             "MISTRAL_API_KEY",        "GEMINI_API_KEY", "XAI_API_KEY",        NULL};

/* ---- messaging, homeassistant, rl: .env only ---- */
static const field_t MESSAGING[] = {
    ENV(V_STRING, "TELEGRAM_BOT_TOKEN"), ENV(V_STRING, "TELEGRAM_ALLOWED_USERS"), ENV(V_STRING, "TELEGRAM_HOME_CHANNEL"),
    ENV(V_STRING, "DISCORD_BOT_TOKEN"),  ENV(V_STRING, "DISCORD_ALLOWED_USERS"),  ENV(V_STRING, "DISCORD_HOME_CHANNEL"),
    ENV(V_STRING, "SLACK_BOT_TOKEN"),    ENV(V_STRING, "SLACK_APP_TOKEN"),        ENV(V_STRING, "SLACK_ALLOWED_USERS"),
    ENV(V_STRING, "SLACK_HOME_CHANNEL"),
};
static const char *const MESSAGING_VALUES[] = {"TELEGRAM_ALLOWED_USERS",
                                               "TELEGRAM_HOME_CHANNEL",
                                               "DISCORD_ALLOWED_USERS",
                                               "DISCORD_HOME_CHANNEL",
                                               "SLACK_ALLOWED_USERS",
                                               "SLACK_HOME_CHANNEL",
                                               NULL};
static const char *const MESSAGING_CONFIGURED[] = {"TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
                                                   NULL};

static const field_t HASS[] = {ENV(V_URL, "HASS_URL"), ENV(V_STRING, "HASS_TOKEN")};
static const char *const HASS_VALUES[] = {"HASS_URL", NULL};
static const char *const HASS_CONFIGURED[] = {"HASS_TOKEN", NULL};

static const field_t RL[] = {ENV(V_STRING, "TINKER_API_KEY"), ENV(V_STRING, "WANDB_API_KEY"), ENV(V_STRING, "WANDB_ENTITY")};
static const char *const RL_VALUES[] = {"WANDB_ENTITY", NULL};
static const char *const RL_CONFIGURED[] = {"TINKER_API_KEY", "WANDB_API_KEY", NULL};

static const tool_t TOOLS[] = {
    {"web", true, WEB, HL_ARRAY_SIZE(WEB), WEB_CONFIGURED},
    {"image_gen", true, IMAGE, HL_ARRAY_SIZE(IMAGE), IMAGE_CONFIGURED},
    {"stt", true, STT, HL_ARRAY_SIZE(STT), STT_CONFIGURED},
    {"tts", true, TTS, HL_ARRAY_SIZE(TTS), TTS_CONFIGURED},
    {"messaging", false, MESSAGING, HL_ARRAY_SIZE(MESSAGING), MESSAGING_CONFIGURED},
    {"homeassistant", false, HASS, HL_ARRAY_SIZE(HASS), HASS_CONFIGURED},
    {"rl", false, RL, HL_ARRAY_SIZE(RL), RL_CONFIGURED},
};

static const tool_t *tool_of(const char *key)
{
    for (size_t i = 0; key != NULL && i < HL_ARRAY_SIZE(TOOLS); ++i)
        if (strcmp(TOOLS[i].key, key) == 0)
            return &TOOLS[i];
    return NULL;
}

bool hermes_tool_key_valid(const char *key)
{
    return tool_of(key) != NULL;
}

bool hermes_tool_uses_config(const char *key)
{
    const tool_t *t = tool_of(key);
    return t != NULL && t->uses_config;
}

/* ---- reading ---- */

static const json_t *at(const json_t *config, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(json_object_get(config, a), b);
    return c != NULL ? json_object_get(v, c) : v;
}

/* A non-empty string at the path, or NULL. */
static const char *cfg_str(const json_t *config, const char *a, const char *b, const char *c)
{
    const char *s = json_string_value(at(config, a, b, c));
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static bool cfg_bool(const json_t *config, const char *a, const char *b, const char *c, bool def)
{
    const json_t *v = at(config, a, b, c);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* A .env value that is set and not empty, or NULL. */
static const char *env_str(const hl_dotenv_t *env, const char *key)
{
    const char *s = hl_dotenv_get(env, key);
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static bool has(const hl_dotenv_t *env, const char *key)
{
    return env_str(env, key) != NULL;
}

/* A value to show, or null. A URL's user information (scheme://user:password@host) is a credential: shown as "***". */
static json_t *str_or_null(const char *s)
{
    if (s == NULL)
        return json_null();
    const char *scheme = strstr(s, "://");
    if (scheme != NULL) {
        const char *host = scheme + 3, *end = host + strcspn(host, "/?#"), *at = NULL;
        for (const char *p = host; p < end; ++p)
            if (*p == '@')
                at = p;
        if (at != NULL) {
            char *shown = hl_asprintf("%.*s***%s", (int)(host - s), s, at);
            json_t *out = json_string(shown);
            free(shown);
            return out;
        }
    }
    return json_string(s);
}

/* web.backend, or the first backend whose key the .env holds; NULL when nothing says. */
static const char *web_backend(const hermes_settings_src_t *src)
{
    const char *b = cfg_str(src->config, "web", "backend", NULL);
    if (b != NULL)
        return b;
    if (has(src->env, "FIRECRAWL_API_KEY") || has(src->env, "FIRECRAWL_API_URL"))
        return "firecrawl";
    static const char *const ORDER[][2] = {{"tavily", "TAVILY_API_KEY"}, {"exa", "EXA_API_KEY"}, {"parallel", "PARALLEL_API_KEY"}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(ORDER); ++i)
        if (has(src->env, ORDER[i][1]))
            return ORDER[i][0];
    return NULL;
}

static json_t *web_values(const hermes_settings_src_t *src)
{
    bool gateway = cfg_bool(src->config, "web", "use_gateway", NULL, false);
    const char *provider = web_backend(src);
    if (provider != NULL && strcmp(provider, "firecrawl") == 0 && !gateway && !has(src->env, "FIRECRAWL_API_KEY") &&
        has(src->env, "FIRECRAWL_API_URL"))
        provider = "firecrawl_self_hosted";
    return json_pack("{s:o, s:b, s:o}", "provider", str_or_null(provider), "useGateway", gateway, "FIRECRAWL_API_URL",
                     str_or_null(env_str(src->env, "FIRECRAWL_API_URL")));
}

static const char *or_default(const char *s, const char *def)
{
    return s != NULL ? s : def;
}

static json_t *image_values(const hermes_settings_src_t *src)
{
    const json_t *c = src->config;
    return json_pack("{s:s, s:o, s:b}", "provider", or_default(cfg_str(c, "image_gen", "provider", NULL), "fal"), "model",
                     str_or_null(cfg_str(c, "image_gen", "model", NULL)), "useGateway",
                     cfg_bool(c, "image_gen", "use_gateway", NULL, false));
}

/* A setting of stt: config.yaml's key, else the .env variable Hermes also reads for it. */
static json_t *stt_value(const hermes_settings_src_t *src, const char *b, const char *c, const char *env)
{
    const char *s = b != NULL ? cfg_str(src->config, "stt", b, c) : NULL;
    return str_or_null(s != NULL ? s : env != NULL ? env_str(src->env, env) : NULL);
}

static json_t *stt_values(const hermes_settings_src_t *src)
{
    const json_t *c = src->config;
    json_t *v = json_object();
    json_object_set_new(v, "enabled", json_boolean(cfg_bool(c, "stt", "enabled", NULL, true)));
    json_object_set_new(v, "provider", json_string(or_default(cfg_str(c, "stt", "provider", NULL), "local")));
    json_object_set_new(v, "localModel", stt_value(src, "local", "model", NULL));
    json_object_set_new(v, "localLanguage", stt_value(src, "local", "language", "HERMES_LOCAL_STT_LANGUAGE"));
    json_object_set_new(v, "openaiModel", stt_value(src, "openai", "model", "STT_OPENAI_MODEL"));
    json_object_set_new(v, "openaiBaseUrl", stt_value(src, "openai", "base_url", "STT_OPENAI_BASE_URL"));
    json_object_set_new(v, "groqModel", stt_value(src, NULL, NULL, "STT_GROQ_MODEL"));
    json_object_set_new(v, "groqBaseUrl", stt_value(src, NULL, NULL, "GROQ_BASE_URL"));
    json_object_set_new(v, "mistralModel", stt_value(src, "mistral", "model", "STT_MISTRAL_MODEL"));
    json_object_set_new(v, "xaiLanguage", stt_value(src, "xai", "language", NULL));
    json_object_set_new(v, "xaiBaseUrl", stt_value(src, "xai", "base_url", "XAI_STT_BASE_URL"));
    json_object_set_new(v, "xaiFormat", json_boolean(cfg_bool(c, "stt", "xai", "format", true)));
    json_object_set_new(v, "xaiDiarize", json_boolean(cfg_bool(c, "stt", "xai", "diarize", false)));
    return v;
}

static json_t *tts_values(const hermes_settings_src_t *src)
{
    const json_t *c = src->config;
    return json_pack("{s:s, s:b, s:o, s:o, s:o}", "provider", or_default(cfg_str(c, "tts", "provider", NULL), "edge"), "useGateway",
                     cfg_bool(c, "tts", "use_gateway", NULL, false), "baseUrl",
                     str_or_null(cfg_str(c, "tts", "openai", "base_url")), "model",
                     str_or_null(cfg_str(c, "tts", "openai", "model")), "voice", str_or_null(cfg_str(c, "tts", "openai", "voice")));
}

/* The .env values a tool shows (not secrets: user lists, channels, URLs, an entity name). */
static json_t *env_values(const hermes_settings_src_t *src, const char *const *keys)
{
    json_t *v = json_object();
    for (; *keys != NULL; ++keys)
        json_object_set_new(v, *keys, str_or_null(env_str(src->env, *keys)));
    return v;
}

bool hermes_tool_ready(const char *key, const hermes_settings_src_t *src)
{
    const json_t *c = src->config;
    const hl_dotenv_t *e = src->env;
    if (strcmp(key, "web") == 0) {
        if (cfg_bool(c, "web", "use_gateway", NULL, false))
            return true;
        const char *b = web_backend(src);
        if (b == NULL)
            return false;
        if (strcmp(b, "firecrawl") == 0 || strcmp(b, "firecrawl_self_hosted") == 0)
            return has(e, "FIRECRAWL_API_KEY") || has(e, "FIRECRAWL_API_URL");
        return (strcmp(b, "tavily") == 0 && has(e, "TAVILY_API_KEY")) || (strcmp(b, "exa") == 0 && has(e, "EXA_API_KEY")) ||
               (strcmp(b, "parallel") == 0 && has(e, "PARALLEL_API_KEY"));
    }
    if (strcmp(key, "image_gen") == 0) {
        if (cfg_bool(c, "image_gen", "use_gateway", NULL, false))
            return true;
        const char *p = or_default(cfg_str(c, "image_gen", "provider", NULL), "fal");
        return (strcmp(p, "fal") == 0 && has(e, "FAL_KEY")) || (strcmp(p, "openai") == 0 && has(e, "OPENAI_API_KEY")) ||
               (strcmp(p, "xai") == 0 && has(e, "XAI_API_KEY")) || (strcmp(p, "openai-codex") == 0 && src->has_auth);
    }
    if (strcmp(key, "stt") == 0) {
        const char *p = or_default(cfg_str(c, "stt", "provider", NULL), "local");
        return strcmp(p, "local") == 0 || (strcmp(p, "local_command") == 0 && has(e, "HERMES_LOCAL_STT_COMMAND")) ||
               (strcmp(p, "groq") == 0 && has(e, "GROQ_API_KEY")) ||
               (strcmp(p, "openai") == 0 && (has(e, "VOICE_TOOLS_OPENAI_KEY") || has(e, "OPENAI_API_KEY"))) ||
               (strcmp(p, "mistral") == 0 && has(e, "MISTRAL_API_KEY")) || (strcmp(p, "xai") == 0 && has(e, "XAI_API_KEY"));
    }
    if (strcmp(key, "tts") == 0) {
        if (cfg_bool(c, "tts", "use_gateway", NULL, false))
            return true;
        const char *p = or_default(cfg_str(c, "tts", "provider", NULL), "edge");
        static const char *const KEYS[][2] = {{"elevenlabs", "ELEVENLABS_API_KEY"},
                                              {"minimax", "MINIMAX_API_KEY"},
                                              {"mistral", "MISTRAL_API_KEY"},
                                              {"gemini", "GEMINI_API_KEY"},
                                              {"xai", "XAI_API_KEY"}};
        if (strcmp(p, "edge") == 0 || strcmp(p, "neutts") == 0 || strcmp(p, "kittentts") == 0)
            return true; /* free or local voices: nothing to set up */
        if (strcmp(p, "openai") == 0)
            return has(e, "VOICE_TOOLS_OPENAI_KEY") || has(e, "OPENAI_API_KEY");
        for (size_t i = 0; i < HL_ARRAY_SIZE(KEYS); ++i)
            if (strcmp(p, KEYS[i][0]) == 0)
                return has(e, KEYS[i][1]);
        return false;
    }
    if (strcmp(key, "messaging") == 0)
        return has(e, "TELEGRAM_BOT_TOKEN") || has(e, "DISCORD_BOT_TOKEN") ||
               (has(e, "SLACK_BOT_TOKEN") && has(e, "SLACK_APP_TOKEN"));
    if (strcmp(key, "homeassistant") == 0)
        return has(e, "HASS_TOKEN");
    if (strcmp(key, "rl") == 0)
        return has(e, "TINKER_API_KEY") && has(e, "WANDB_API_KEY");
    return true;
}

json_t *hermes_tool_config_json(const char *key, const hermes_settings_src_t *src, const char *profile, const char *config_path)
{
    const tool_t *t = tool_of(key);
    if (t == NULL)
        return NULL;
    json_t *values;
    if (strcmp(key, "web") == 0)
        values = web_values(src);
    else if (strcmp(key, "image_gen") == 0)
        values = image_values(src);
    else if (strcmp(key, "stt") == 0)
        values = stt_values(src);
    else if (strcmp(key, "tts") == 0)
        values = tts_values(src);
    else
        values = env_values(src, strcmp(key, "messaging") == 0       ? MESSAGING_VALUES
                                 : strcmp(key, "homeassistant") == 0 ? HASS_VALUES
                                                                     : RL_VALUES);
    json_t *configured = json_object();
    for (const char *const *k = t->configured; *k != NULL; ++k)
        json_object_set_new(configured, *k, json_boolean(has(src->env, *k)));
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "profileName", profile, "configPath", config_path, "toolKey", key, "values",
                     values, "configured", configured);
}

/* ---- PATCH ---- */

int hermes_bool_input(const json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    const char *s = json_string_value(v);
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        ++s;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        --n;
    static const char *const WORDS[][2] = {{"1", "0"}, {"true", "false"}, {"yes", "no"}, {"on", "off"}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(WORDS); ++i)
        for (int b = 0; b < 2; ++b)
            if (strlen(WORDS[i][b]) == n && strncasecmp(s, WORDS[i][b], n) == 0)
                return b == 0;
    return -1;
}

bool hermes_http_url(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0, scheme;
    if (n == 0 || n > MAX_URL)
        return false;
    if (strncasecmp(s, "http://", 7) == 0)
        scheme = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        scheme = 8;
    else
        return false;
    for (size_t i = 0; i < n; ++i)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    /* a host: something before the path, query or fragment */
    size_t host = strcspn(s + scheme, "/?#");
    return host > 0 && s[scheme] != ':' && s[scheme] != '@';
}

static hl_result_t *invalid(const char *fmt, const char *name)
{
    char *msg = hl_asprintf(fmt, name);
    hl_result_t *res = hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid", msg);
    free(msg);
    return res;
}

/* The first spelling of the field present in `values`, or NULL. */
static const json_t *given(const json_t *values, const field_t *f, const char **name)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(f->names) && f->names[i] != NULL; ++i) {
        const json_t *v = json_object_get(values, f->names[i]);
        if (v != NULL) {
            *name = f->names[i];
            return v;
        }
    }
    return NULL;
}

/*
 * A text value, blanks around dropped, into *out (malloc'd; NULL for ""): NULL, or the error for a value that is not a
 * string, holds a control character (a .env line or a YAML scalar of one line) or is too long.
 */
static hl_result_t *text_of(const json_t *v, const char *name, bool url, char **out)
{
    *out = NULL;
    if (!json_is_string(v))
        return invalid("%s must be a string", name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n)
        return invalid("%s must be a single line without control characters", name);
    while (n > 0 && isspace((unsigned char)*s)) {
        ++s;
        --n;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        --n;
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < n; ++i)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return invalid("%s must be a single line without control characters", name);
    if (n > MAX_VALUE)
        return invalid("%s is longer than 4096 bytes", name);
    char *t = hl_strndup(s, n);
    if (url && !hermes_http_url(t)) {
        explicit_bzero(t, n);
        free(t);
        return invalid("%s must be an http(s) URL", name);
    }
    *out = t;
    return NULL;
}

/* One field of the body into the plan. */
static hl_result_t *plan_field(const tool_t *t, const field_t *f, const json_t *v, const char *name, hermes_edits_t *edits,
                               hermes_env_changes_t *env)
{
    if (f->env != NULL) {
        if (json_is_null(v))
            return NULL; /* a .env key is never cleared from here */
        char *s = NULL;
        hl_result_t *res = text_of(v, name, f->type == V_URL, &s);
        if (res == NULL && s != NULL) {
            hermes_env_changes_add(env, f->env, s);
            explicit_bzero(s, strlen(s));
        }
        free(s);
        return res;
    }
    if (json_is_null(v)) {
        hermes_edits_delete(edits, f->path, f->depth); /* back to Hermes's default */
        return NULL;
    }
    if (f->type == V_BOOL) {
        int b = hermes_bool_input(v);
        if (b < 0)
            return invalid("%s must be true or false", name);
        hermes_edits_set(edits, f->path, f->depth, hl_yaml_bool(b == 1));
        return NULL;
    }
    char *s = NULL;
    hl_result_t *res = text_of(v, name, f->type == V_URL, &s);
    if (res != NULL || s == NULL)
        return res;
    if (f->type == V_ENUM) {
        const char *c = NULL;
        for (const char *const *p = f->choices; *p != NULL && c == NULL; ++p)
            if (strcasecmp(*p, s) == 0)
                c = *p;
        free(s);
        if (c == NULL) {
            char list[256] = "";
            for (const char *const *p = f->choices; *p != NULL; ++p) {
                if (p != f->choices)
                    strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, *p, sizeof(list) - strlen(list) - 1);
            }
            char *msg = hl_asprintf("%s must be one of: %s", name, list);
            res = hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid", msg);
            free(msg);
            return res;
        }
        /* web: a self-hosted Firecrawl is Hermes's firecrawl backend with FIRECRAWL_API_URL */
        if (strcmp(t->key, "web") == 0 && strcmp(c, "firecrawl_self_hosted") == 0)
            c = "firecrawl";
        hermes_edits_set(edits, f->path, f->depth, hl_yaml_string(c));
        return NULL;
    }
    hermes_edits_set(edits, f->path, f->depth, hl_yaml_string(s));
    free(s);
    return NULL;
}

hl_result_t *hermes_tool_config_plan(const char *key, const json_t *values, const json_t *config, hermes_edits_t *edits,
                                     hermes_env_changes_t *env)
{
    const tool_t *t = tool_of(key);
    if (t == NULL)
        return invalid("unsupported tool config \"%s\"", "?");
    if (!json_is_object(values))
        return hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid", "values must be an object");
    /* .env fields after config fields: a key given by its .env name wins over its alias */
    for (int pass = 0; pass < 2; ++pass)
        for (size_t i = 0; i < t->nfields; ++i) {
            const field_t *f = &t->fields[i];
            if ((f->env != NULL) != (pass == 1))
                continue;
            const char *name = NULL;
            const json_t *v = given(values, f, &name);
            hl_result_t *res;
            if (v != NULL && (res = plan_field(t, f, v, name, edits, env)) != NULL)
                return res;
        }
    if (strcmp(key, "tts") == 0) {
        /* Hermes's gateway serves OpenAI voices itself: a base URL of one's own does not go with it */
        static const char *const GW[] = {"tts", "use_gateway"}, *const URL[] = {"tts", "openai", "base_url"};
        bool gateway = cfg_bool(config, "tts", "use_gateway", NULL, false);
        bool url_set = false;
        for (size_t i = 0; i < edits->count; ++i) {
            const hermes_edit_t *e = &edits->items[i];
            if (e->depth == 2 && strcmp(e->path[0], GW[0]) == 0 && strcmp(e->path[1], GW[1]) == 0)
                gateway = e->kind == HERMES_EDIT_SET && e->value.boolean;
            if (e->depth == 3 && strcmp(e->path[2], URL[2]) == 0 && strcmp(e->path[1], URL[1]) == 0)
                url_set = e->kind == HERMES_EDIT_SET;
        }
        if (gateway && url_set)
            return hl_result_error(HL_RESULT_INVALID, "profile_tool_config_invalid",
                                   "baseUrl cannot be set while useGateway is true");
    }
    if (edits->count == 0 && env->count == 0)
        return hl_result_error(HL_RESULT_INVALID, "profile_tool_config_update_empty",
                               "Nothing to change: give at least one of this tool's settings or keys (empty strings are "
                               "ignored and never clear a key)");
    return NULL;
}
