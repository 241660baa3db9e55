/*
 * Model configs (issue 10; spec/API.md §9, STORAGE §3.2, §3.3, §3.6; GAPS §A 14, 15, §B 12, 23):
 * GET|POST|DELETE /api/v1/model-configs, PATCH /api/v1/model-configs/defaults (the default profile) and the same four
 * under /api/v1/profiles/:name/model-configs.
 *
 * Each test gets a fresh Hermes home (harness_hermes.h, with the default profile's config.yaml and .env replaced by the
 * commented model fixture below) and its own daemon with a paired device, and runs over HTTP/1.1, h2c and h2 over TLS.
 * Covered, with exact answers and exact file texts (a whole-file comparison: only the touched lines may change):
 *  - the listing: exact JSON for default (merged default model, custom providers, credential states, reasoning
 *    support), work and art (model_default entries), a missing profile (empty, nothing created), no-store, 401;
 *  - POST: a new model with its key (stored in .env under a made-up HERMES_<PROVIDER>_API_KEY, or key_env), never in
 *    an answer or in config.yaml; an edit with original_model_id (rename); set_default (model.* rewritten, comment kept);
 *    reload_gateway false; the same save twice (nothing changed); the profile route (its .env, its restart hint);
 *    validation: required fields, reasoning_effort, context_length, key_env PATH / API_SERVER_KEY refused with
 *    nothing written;
 *  - PATCH defaults: task and compression models, `model "<id>" is not configured`, nothing asked;
 *  - DELETE: model_id_required, not configured, the last model refused, a model and the default removed;
 *  - config.yaml that is not valid YAML (or that the editor will not touch): 409 config_yaml_invalid on every route,
 *    config.yaml and .env untouched;
 *  - :name: traversal and bad names → 400 invalid_profile_name with nothing touched; a read-only folder name readable,
 *    not writable; a missing profile 404 on writes, its folder never created.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/common.h"

#include "harness_conv.h"
#include "harness_hermes.h"

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

static hlt_env_t env;
static hltc_ctx_t ctx;
static hlt_proto_t P;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

#define NAME65 "a2345678901234567890123456789012345678901234567890123456789012345"

/* ---- the fixture ---- */

static const char CONFIG[] = "# Hermes Agent configuration (model-configs test)\n"
                             "# comments and unknown keys must survive every change\n"
                             "\n"
                             "model:\n"
                             "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n"
                             "  provider: openrouter\n"
                             "  base_url: https://openrouter.ai/api/v1\n"
                             "  api_key: ${OPENROUTER_API_KEY}\n"
                             "\n"
                             "agent:\n"
                             "  max_turns: 60\n"
                             "  reasoning_effort: medium\n"
                             "\n"
                             "custom_providers:\n"
                             "# OpenRouter, shared key\n"
                             "- name: OpenRouter\n"
                             "  provider_key: openrouter\n"
                             "  base_url: https://openrouter.ai/api/v1\n"
                             "  key_env: OPENROUTER_API_KEY\n"
                             "  models:\n"
                             "  - anthropic/claude-sonnet-4\n"
                             "  - meta-llama/llama-3.3-70b   # cheap\n"
                             "# a box under the desk\n"
                             "- name: Local\n"
                             "  provider_key: lmstudio\n"
                             "  base_url: http://127.0.0.1:1234/v1\n"
                             "  api_key: lm-studio-literal\n"
                             "  model: qwen3-32b\n"
                             "  context_length: 32768\n"
                             "\n"
                             "x_unknown:\n"
                             "  keep: [1, 2]   # HermesLink does not know this block\n";

static const char ENV[] = "# secrets\nOPENROUTER_API_KEY=sk-or-fixture-default\n";

#define REASONING_ALL                                                                                                              \
    "\"reasoningSupport\":\"known\",\"supportedReasoningEfforts\":[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"
#define REASONING_NONE "\"reasoningSupport\":\"unsupported\",\"supportedReasoningEfforts\":[]"
#define REASONING_UNKNOWN "\"reasoningSupport\":\"unknown\",\"supportedReasoningEfforts\":null"

#define M_SONNET(is_default)                                                                                                       \
    "{\"id\":\"anthropic/claude-sonnet-4\",\"provider\":\"openrouter\",\"providerName\":\"OpenRouter\","                           \
    "\"source\":\"custom_provider\",\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\","                \
    "\"keyEnv\":\"OPENROUTER_API_KEY\",\"credentialConfigured\":true,\"credentialState\":\"configured\","                          \
    "\"isDefault\":" is_default "," REASONING_ALL "}"
#define M_SONNET_DEFAULT                                                                                                           \
    "{\"id\":\"anthropic/claude-sonnet-4\",\"provider\":\"openrouter\",\"providerName\":\"OpenRouter\","                           \
    "\"source\":\"custom_provider\",\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\","                \
    "\"keyEnv\":\"OPENROUTER_API_KEY\",\"credentialConfigured\":true,\"credentialState\":\"configured\","                          \
    "\"isDefault\":true,\"reasoningEffort\":\"medium\"," REASONING_ALL "}"
#define M_LLAMA                                                                                                                    \
    "{\"id\":\"meta-llama/llama-3.3-70b\",\"provider\":\"openrouter\",\"providerName\":\"OpenRouter\","                            \
    "\"source\":\"custom_provider\",\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\","                \
    "\"keyEnv\":\"OPENROUTER_API_KEY\",\"credentialConfigured\":true,\"credentialState\":\"configured\","                          \
    "\"isDefault\":false," REASONING_NONE "}"
#define M_QWEN                                                                                                                     \
    "{\"id\":\"qwen3-32b\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":\"custom_provider\","                   \
    "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":32768,"                           \
    "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false," REASONING_UNKNOWN "}"
#define M_DEEPSEEK                                                                                                                 \
    "{\"id\":\"deepseek-chat\",\"provider\":\"deepseek\",\"providerName\":\"DeepSeek\",\"source\":\"custom_provider\","            \
    "\"baseUrl\":\"https://api.deepseek.com/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":65536,"                        \
    "\"keyEnv\":\"HERMES_DEEPSEEK_API_KEY\",\"credentialConfigured\":true,\"credentialState\":\"configured\","                     \
    "\"isDefault\":false," REASONING_UNKNOWN "}"

/* The listing of the fixture's default profile. */
#define LISTING_DEFAULT                                                                                                            \
    "{\"ok\":true,\"configPath\":\"config.yaml\",\"defaultModel\":\"anthropic/claude-sonnet-4\","                                  \
    "\"defaultReasoningEffort\":\"medium\",\"compressionModelId\":null,\"compressionModel\":null,"                                 \
    "\"models\":[" M_SONNET_DEFAULT "," M_LLAMA "," M_QWEN "]}"

#define HINT_DEFAULT                                                                                                               \
    "Model configuration saved. HermesLink cannot reload Hermes's gateway (its API server has no reload route), so it did not: "   \
    "restart the gateway for the change to apply: hermes gateway restart"
#define HINT_WORK                                                                                                                  \
    "Model configuration saved. HermesLink cannot reload Hermes's gateway (its API server has no reload route), so it did not: "   \
    "restart the gateway for the change to apply: hermes -p work gateway restart"
#define HINT_AT_START "Model configuration saved. It applies when Hermes's gateway next starts; HermesLink did not restart it"
#define HINT_DEFAULTS                                                                                                              \
    "Default models saved. Hermes reads them for each new run, so its gateway needs no restart (HermesLink restarted nothing)"
#define HINT_NOTHING "Nothing changed: config.yaml and .env already held this model configuration"

/* Secrets of the fixture and of the tests: never in an answer. */
static const char *const SECRETS[] = {"sk-or-fixture-default", "lm-studio-literal", "sk-ds-SECRET-1",
                                      "sk-fixture-work",       "sk-work-SECRET-2",  "sk-ant-fixture-art"};

/* ---- the daemon of a test ---- */

static void prepare(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
    hlth_write(&env, "default", "config.yaml", CONFIG);
    hlth_write(&env, "default", ".env", ENV);
}

static void start(void)
{
    hltc_start(&ctx, 1, &env);
}

static void finish(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
    hlt_env_dispose(&env);
}

/* ---- requests ---- */

/* `method path` over the test's protocol with a bearer (NULL: none) and a body (NULL: none), the path sent as is. */
static void request(const char *bearer, const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, bearer, method, path, body, res);
}

/* No secret and no absolute path in an answer. */
static void assert_clean(const char *what, const char *body)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(SECRETS); ++i)
        ck_assert_msg(strstr(body, SECRETS[i]) == NULL, "%s shows a secret (%s): %.600s", what, SECRETS[i], body);
    ck_assert_msg(strstr(body, env.dir) == NULL, "%s shows an absolute path: %.600s", what, body);
}

/* A 200 answer: the body (new reference); asserts JSON, CORS, no-store, ok:true, no secret, no absolute path. */
static json_t *call(const char *method, const char *path, const char *body)
{
    hlt_response_t res;
    request(TOK, method, path, body, &res);
    ck_assert_msg(res.status == 200, "%s %s %s over %s: expected 200, got %ld: %.600s", method, path, body != NULL ? body : "",
                  hlt_proto_name(P), res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: %.400s", method, path, res.body);
    assert_clean(path, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

/* An error answer with its exact status, code and message (NULL: any message). */
static void call_error(const char *bearer, const char *method, const char *path, const char *body, long status, const char *code,
                       const char *message)
{
    hlt_response_t res;
    request(bearer, method, path, body, &res);
    if (res.status != status)
        ck_abort_msg("%s %s %s over %s: expected %ld %s, got %ld: %.500s", method, path, body != NULL ? body : "",
                     hlt_proto_name(P), status, code, res.status, res.body);
    hlt_assert_error(D, &res, status, code);
    if (message != NULL)
        ck_assert_msg(strcmp(hlt_str(json_object_get(res.json, "error"), "message"), message) == 0, "%s %s: message %s, want %s",
                      method, path, hlt_str(json_object_get(res.json, "error"), "message"), message);
    assert_clean(path, res.body);
    hlt_response_free(&res);
}

#define FAIL(method, path, body, status, code, message) call_error(TOK, method, path, body, status, code, message)

static const char *configs_path(const char *name)
{
    return name == NULL ? "/api/v1/model-configs" : hltc_fmt("/api/v1/profiles/%s/model-configs", name);
}

static const char *defaults_path(const char *name)
{
    return name == NULL ? "/api/v1/model-configs/defaults" : hltc_fmt("/api/v1/profiles/%s/model-configs/defaults", name);
}

/* Asserts that `got` equals the JSON text `want` exactly (every member, any order). */
static void json_is(json_t *got, const char *want, const char *what)
{
    json_error_t e;
    json_t *w = json_loads(want, 0, &e);
    ck_assert_msg(w != NULL, "%s: expected JSON does not parse: %s at %d", what, e.text, e.position);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, w), "%s over %s:\ngot  %s\nwant %s", what, hlt_proto_name(P), g, ws);
    free(g);
    free(ws);
    json_decref(w);
}

/* The text of a profile's file (rotating buffer; "(none)" when missing). */
static const char *file_text(const char *profile, const char *rel)
{
    char *path = hlth_path(&env, profile, rel), *text = hlt_read_file(path, NULL);
    free(path);
    const char *out = hltc_fmt("%s", text != NULL ? text : "(none)");
    free(text);
    return out;
}

/* `text` with `old` (exactly once) replaced by `new`. Caller frees. */
static char *replaced(const char *text, const char *old, const char *new)
{
    const char *at = strstr(text, old);
    ck_assert_msg(at != NULL, "not in the text: %s", old);
    ck_assert_msg(strstr(at + 1, old) == NULL, "more than once in the text: %s", old);
    return hl_asprintf("%.*s%s%s", (int)(at - text), text, new, at + strlen(old));
}

/* CONFIG with (old, new) pairs replaced in turn. Caller frees. */
static char *config_with(const char *base, const char *const *pairs, size_t n)
{
    char *text = hl_strdup(base);
    for (size_t i = 0; i + 1 < n; i += 2) {
        char *next = replaced(text, pairs[i], pairs[i + 1]);
        free(text);
        text = next;
    }
    return text;
}

#define WITH(base, ...) config_with(base, (const char *const[]){__VA_ARGS__}, HL_ARRAY_SIZE(((const char *const[]){__VA_ARGS__})))

/* Asserts a profile's config.yaml is exactly `want`. */
static void config_is(const char *profile, const char *want, const char *what)
{
    const char *got = file_text(profile, "config.yaml");
    ck_assert_msg(strcmp(got, want) == 0, "%s over %s: %s/config.yaml is\n%s\nwant\n%s", what, hlt_proto_name(P), profile, got,
                  want);
}

/* Asserts the change fields of an answer, and that the backup named holds `before`. */
static void assert_change(json_t *j, const char *profile, const char *before, int reload, const char *hint)
{
    char *dump = json_dumps(j, JSON_COMPACT);
    json_t *b = json_object_get(j, "backupPath");
    if (before == NULL) {
        ck_assert_msg(json_is_null(b), "backupPath should be null: %s", dump);
    } else {
        const char *prefix = strcmp(profile, "default") == 0 ? "" : hltc_fmt("profiles/%s/", profile);
        ck_assert_msg(
            json_is_string(b) && strncmp(json_string_value(b), prefix, strlen(prefix)) == 0 &&
                hlt_matches(json_string_value(b) + strlen(prefix), "^config\\.yaml\\.bak\\.[0-9]{8}T[0-9]{6}\\.[0-9]{6}Z$"),
            "backupPath: %s", dump);
        char *path = hl_asprintf("%s/%s", env.hermes_home, json_string_value(b)), *text = hlt_read_file(path, NULL);
        ck_assert_msg(text != NULL && strcmp(text, before) == 0, "the backup %s does not hold the old config.yaml", path);
        free(text);
        free(path);
    }
    ck_assert_msg(json_is_boolean(json_object_get(j, "requiresGatewayReload")) &&
                      json_is_true(json_object_get(j, "requiresGatewayReload")) == reload,
                  "requiresGatewayReload: %s", dump);
    ck_assert_msg(json_is_false(json_object_get(j, "gatewayReloaded")), "gatewayReloaded: %s", dump);
    ck_assert_msg(strcmp(hlt_str(j, "restartHint"), hint) == 0, "restartHint: %s", dump);
    free(dump);
}

/* The listing part of an answer: the answer without the change fields (and without "model"). New reference. */
static json_t *listing_part(json_t *j)
{
    json_t *l = json_deep_copy(j);
    static const char *const CHANGE[] = {"model", "backupPath", "requiresGatewayReload", "gatewayReloaded", "restartHint"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(CHANGE); ++i)
        json_object_del(l, CHANGE[i]);
    return l;
}

/* Keys of a change answer, exactly. */
static void assert_change_keys(json_t *j, int with_model)
{
    if (with_model)
        hlt_assert_keys(j, "POST answer", "ok", "configPath", "defaultModel", "defaultReasoningEffort", "compressionModelId",
                        "compressionModel", "models", "model", "backupPath", "requiresGatewayReload", "gatewayReloaded",
                        "restartHint", NULL);
    else
        hlt_assert_keys(j, "change answer", "ok", "configPath", "defaultModel", "defaultReasoningEffort", "compressionModelId",
                        "compressionModel", "models", "backupPath", "requiresGatewayReload", "gatewayReloaded", "restartHint",
                        NULL);
}

/* ---- the listing ---- */

START_TEST(test_listing)
{
    prepare(_i);
    start();
    json_t *j = call("GET", configs_path(NULL), NULL);
    json_is(j, LISTING_DEFAULT, "GET /api/v1/model-configs");
    json_decref(j);
    /* default by name: the same */
    j = call("GET", configs_path("default"), NULL);
    json_is(j, LISTING_DEFAULT, "GET /api/v1/profiles/default/model-configs");
    json_decref(j);
    /* work: a model mapping without custom providers; its .env holds OPENAI_API_KEY, but nothing names it */
    j = call("GET", configs_path("work"), NULL);
    json_is(j,
            "{\"ok\":true,\"configPath\":\"profiles/work/config.yaml\",\"defaultModel\":\"gpt-4.1\","
            "\"defaultReasoningEffort\":null,\"compressionModelId\":null,\"compressionModel\":null,\"models\":["
            "{\"id\":\"gpt-4.1\",\"provider\":\"openai\",\"providerName\":\"openai\",\"source\":\"model_default\","
            "\"baseUrl\":\"https://api.openai.com/v1\",\"apiMode\":\"chat_completions\",\"credentialConfigured\":false,"
            "\"credentialState\":\"unknown\",\"isDefault\":true," REASONING_UNKNOWN "}]}",
            "GET work");
    json_decref(j);
    /* art: `model:` as a plain string */
    j = call("GET", configs_path("art"), NULL);
    json_is(j,
            "{\"ok\":true,\"configPath\":\"profiles/art/config.yaml\",\"defaultModel\":\"claude-3-5-haiku\","
            "\"defaultReasoningEffort\":null,\"compressionModelId\":null,\"compressionModel\":null,\"models\":["
            "{\"id\":\"claude-3-5-haiku\",\"provider\":\"default\",\"providerName\":\"default\",\"source\":\"model_default\","
            "\"baseUrl\":\"\",\"apiMode\":\"chat_completions\",\"credentialConfigured\":false,\"credentialState\":\"unknown\","
            "\"isDefault\":true," REASONING_UNKNOWN "}]}",
            "GET art");
    json_decref(j);
    /* a profile that does not exist: not an error, nothing listed, nothing created */
    j = call("GET", configs_path("ghost"), NULL);
    json_is(j,
            "{\"ok\":true,\"configPath\":\"profiles/ghost/config.yaml\",\"defaultModel\":null,\"defaultReasoningEffort\":null,"
            "\"compressionModelId\":null,\"compressionModel\":null,\"models\":[]}",
            "GET ghost");
    json_decref(j);
    char *ghost = hlth_path(&env, "ghost", NULL);
    ck_assert(!hlth_exists(ghost));
    free(ghost);
    /* a key env set in .env becomes configured at once (no restart: the files are read per request) */
    hlth_write(&env, "work", ".env", "GPT_API_KEY=x\n");
    hlth_write(&env, "work", "config.yaml", "model: {default: gpt-4.1, key_env: GPT_API_KEY}\n");
    j = call("GET", configs_path("work"), NULL);
    json_t *m = json_array_get(json_object_get(j, "models"), 0);
    ck_assert_str_eq(hlt_str(m, "credentialState"), "configured");
    ck_assert(json_is_true(json_object_get(m, "credentialConfigured")));
    json_decref(j);
    /* a missing config.yaml lists nothing */
    char *cfg = hlth_path(&env, "art", "config.yaml");
    ck_assert_int_eq(unlink(cfg), 0);
    free(cfg);
    j = call("GET", configs_path("art"), NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "models")), 0);
    ck_assert(json_is_null(json_object_get(j, "defaultModel")));
    json_decref(j);
    /* authentication on every route */
    static const char *const METHODS[] = {"GET", "POST", "DELETE"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(METHODS); ++i) {
        call_error(NULL, METHODS[i], configs_path(NULL), NULL, 401, "auth_required", NULL);
        call_error(NULL, METHODS[i], configs_path("work"), NULL, 401, "auth_required", NULL);
    }
    call_error(NULL, "PATCH", defaults_path(NULL), "{}", 401, "auth_required", NULL);
    call_error("not-a-token", "PATCH", defaults_path("work"), "{\"taskModelId\":\"gpt-4.1\"}", 401, "auth_invalid", NULL);
    call_error("not-a-token", "POST", configs_path(NULL), "{}", 401, "auth_invalid", NULL);
    finish();
}
END_TEST

/* ---- saving ---- */

START_TEST(test_save)
{
    prepare(_i);
    start();

    /* a new model with its key: a new entry, the key under a made-up name in .env only */
    json_t *j = call("POST", configs_path(NULL),
                     "{\"id\":\"deepseek-chat\",\"provider\":\"deepseek\",\"provider_name\":\"DeepSeek\","
                     "\"base_url\":\"https://api.deepseek.com/v1\",\"api_key\":\"sk-ds-SECRET-1\",\"context_length\":65536}");
    assert_change_keys(j, 1);
    json_is(json_object_get(j, "model"), M_DEEPSEEK, "POST new: model");
    json_t *l = listing_part(j);
    json_is(l,
            "{\"ok\":true,\"configPath\":\"config.yaml\",\"defaultModel\":\"anthropic/claude-sonnet-4\","
            "\"defaultReasoningEffort\":\"medium\",\"compressionModelId\":null,\"compressionModel\":null,"
            "\"models\":[" M_SONNET_DEFAULT "," M_LLAMA "," M_QWEN "," M_DEEPSEEK "]}",
            "POST new: listing");
    json_decref(l);
    assert_change(j, "default", CONFIG, 1, HINT_DEFAULT);
    json_decref(j);
    char *after_new = WITH(CONFIG, "  context_length: 32768\n",
                           "  context_length: 32768\n"
                           "- name: DeepSeek\n"
                           "  provider_key: deepseek\n"
                           "  base_url: \"https://api.deepseek.com/v1\"\n"
                           "  model: deepseek-chat\n"
                           "  api_mode: chat_completions\n"
                           "  context_length: 65536\n"
                           "  key_env: HERMES_DEEPSEEK_API_KEY\n");
    config_is("default", after_new, "POST new");
    ck_assert_str_eq(file_text("default", ".env"),
                     "# secrets\nOPENROUTER_API_KEY=sk-or-fixture-default\nHERMES_DEEPSEEK_API_KEY=\"sk-ds-SECRET-1\"\n");
    /* .env keeps its mode (the fixture's 0600) */
    char *env_path = hlth_path(&env, "default", ".env");
    struct stat st;
    ck_assert_int_eq(stat(env_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    free(env_path);
    /* GET agrees */
    j = call("GET", configs_path(NULL), NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "models")), 4);
    json_is(json_array_get(json_object_get(j, "models"), 3), M_DEEPSEEK, "GET after POST");
    json_decref(j);

    /* an edit that renames the model; reload_gateway false: nothing to restart now, it applies at the next start */
    j = call(
        "POST", configs_path(NULL),
        "{\"original_model_id\":\"qwen3-32b\",\"modelId\":\"qwen3-32b-q8\",\"providerKey\":\"lmstudio\",\"providerName\":\"Local\","
        "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"reasoningEffort\":\"HIGH\",\"reloadGateway\":false}");
    assert_change_keys(j, 1);
    json_is(json_object_get(j, "model"),
            "{\"id\":\"qwen3-32b-q8\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":\"custom_provider\","
            "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"credentialConfigured\":true,"
            "\"credentialState\":\"configured\",\"isDefault\":false,\"reasoningEffort\":\"high\"," REASONING_UNKNOWN "}",
            "POST rename: model");
    assert_change(j, "default", after_new, 0, HINT_AT_START);
    json_decref(j);
    char *after_rename = WITH(after_new, "  model: qwen3-32b\n  context_length: 32768\n",
                              "  model: qwen3-32b-q8\n  api_mode: chat_completions\n  reasoning_effort: high\n");
    config_is("default", after_rename, "POST rename");

    /* the same again: nothing changed, nothing to restart, no backup */
    j = call(
        "POST", configs_path(NULL),
        "{\"original_model_id\":\"qwen3-32b-q8\",\"id\":\"qwen3-32b-q8\",\"provider\":\"lmstudio\",\"provider_name\":\"Local\","
        "\"base_url\":\"http://127.0.0.1:1234/v1\",\"reasoning_effort\":\"high\"}");
    assert_change(j, "default", NULL, 0, HINT_NOTHING);
    json_decref(j);
    config_is("default", after_rename, "POST same");

    /* set_default: model.* rewritten where it stands (its comment kept); the old default is already an entry */
    j = call("POST", configs_path(NULL),
             "{\"id\":\"meta-llama/llama-3.3-70b\",\"provider\":\"openrouter\",\"provider_name\":\"OpenRouter\","
             "\"base_url\":\"https://openrouter.ai/api/v1\",\"set_default\":\"true\"}");
    ck_assert_str_eq(hlt_str(j, "defaultModel"), "meta-llama/llama-3.3-70b");
    json_t *models = json_object_get(j, "models");
    ck_assert_str_eq(hlt_str(json_array_get(models, 0), "id"), "meta-llama/llama-3.3-70b");
    ck_assert(json_is_true(json_object_get(json_array_get(models, 0), "isDefault")));
    ck_assert(json_is_true(json_object_get(json_object_get(j, "model"), "isDefault")));
    json_is(json_array_get(models, 1), M_SONNET("false"), "POST set_default: the old default");
    assert_change(j, "default", after_rename, 1, HINT_DEFAULT);
    json_decref(j);
    char *after_default =
        WITH(after_rename, "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n",
             "  default: meta-llama/llama-3.3-70b   # the everyday model\n", "  api_key: ${OPENROUTER_API_KEY}\n",
             "  api_key: ${OPENROUTER_API_KEY}\n  api_mode: chat_completions\n", "  - meta-llama/llama-3.3-70b   # cheap\n",
             "  - meta-llama/llama-3.3-70b   # cheap\n  model: meta-llama/llama-3.3-70b\n"
             "  api_mode: chat_completions\n");
    config_is("default", after_default, "POST set_default");
    ck_assert_str_eq(file_text("default", ".env"),
                     "# secrets\nOPENROUTER_API_KEY=sk-or-fixture-default\nHERMES_DEEPSEEK_API_KEY=\"sk-ds-SECRET-1\"\n");

    /* the profile route: that profile's files and restart command; a key under the key_env asked for */
    const char *work_before = hlth_text("work", "config.yaml");
    j = call("POST", configs_path("work"),
             "{\"id\":\"o3\",\"provider\":\"openai\",\"base_url\":\"https://api.openai.com/v1\",\"api_key\":\"sk-work-SECRET-2\","
             "\"key_env\":\"OPENAI_API_KEY\",\"api_mode\":\"codex_responses\"}");
    ck_assert_str_eq(hlt_str(j, "configPath"), "profiles/work/config.yaml");
    json_is(json_object_get(j, "model"),
            "{\"id\":\"o3\",\"provider\":\"openai\",\"providerName\":\"openai\",\"source\":\"custom_provider\","
            "\"baseUrl\":\"https://api.openai.com/v1\",\"apiMode\":\"codex_responses\",\"keyEnv\":\"OPENAI_API_KEY\","
            "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false," REASONING_ALL "}",
            "POST work: model");
    assert_change(j, "work", work_before, 1, HINT_WORK);
    json_decref(j);
    char *work_after = hl_asprintf("%scustom_providers:\n  - name: openai\n    provider_key: openai\n"
                                   "    base_url: \"https://api.openai.com/v1\"\n    model: o3\n    api_mode: codex_responses\n"
                                   "    key_env: OPENAI_API_KEY\n",
                                   work_before);
    config_is("work", work_after, "POST work");
    /* the export line of the key becomes one quoted assignment, the rest of .env as it was */
    ck_assert_str_eq(file_text("work", ".env"),
                     "# work profile: its own API server\nAPI_SERVER_ENABLED=true\nAPI_SERVER_HOST=127.0.0.1\n"
                     "API_SERVER_PORT=18743\nAPI_SERVER_KEY=hlth-work-api-key-0123456789abcdef\n"
                     "OPENAI_API_KEY=\"sk-work-SECRET-2\"\n");
    /* default's files did not move */
    config_is("default", after_default, "POST work leaves default");
    free(work_after);
    free(after_default);
    free(after_rename);
    free(after_new);
    finish();
}
END_TEST

START_TEST(test_save_refused)
{
    prepare(_i);
    start();
    const char *p = configs_path(NULL);
    static const char *const MISSING[] = {"{}",
                                          "",
                                          "[1]",
                                          "{\"id\":\"m\",\"provider\":\"p\"}",
                                          "{\"id\":\"  \",\"provider\":\"p\",\"base_url\":\"https://x\"}",
                                          "{\"model_id\":\"m\",\"provider_key\":\"p\",\"base_url\":7}"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(MISSING); ++i)
        FAIL("POST", p, MISSING[i], 400, "model_config_invalid", "id, provider and base_url are required");
    FAIL("POST", p, "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"reasoning_effort\":\"extreme\"}", 400,
         "model_config_invalid", "reasoningEffort must be none, minimal, low, medium, high or xhigh");
    static const char *const LENGTHS[] = {"0", "-1", "\"abc\"", "1.5", "\"12k\""};
    for (size_t i = 0; i < HL_ARRAY_SIZE(LENGTHS); ++i)
        FAIL("POST", p, hltc_fmt("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"contextLength\":%s}", LENGTHS[i]),
             400, "model_config_invalid", "contextLength must be a positive integer");
    /* key_env must be a provider key's name: PATH or API_SERVER_KEY would let a device rewrite what Hermes runs with */
    static const char *const ENVS[] = {"PATH", "API_SERVER_KEY", "LD_PRELOAD", "HOME", "openai_api_key"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(ENVS); ++i) {
        FAIL("POST", p,
             hltc_fmt("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"api_key\":\"sk-ds-SECRET-1\","
                      "\"key_env\":\"%s\"}",
                      ENVS[i]),
             400, "model_config_invalid",
             "keyEnv must name a provider key variable: capitals, digits and _, ending in _API_KEY (e.g. OPENAI_API_KEY)");
        FAIL("POST", configs_path("work"),
             hltc_fmt("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"api_key\":\"x\",\"keyEnv\":\"%s\"}", ENVS[i]),
             400, "model_config_invalid", NULL);
    }
    FAIL("POST", p, "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"set_default\":\"maybe\"}", 400,
         "model_config_invalid", "setDefault must be true or false");
    FAIL("POST", p, "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"file:///etc/passwd\"}", 400, "model_config_invalid",
         "base_url must be an http:// or https:// URL");
    FAIL("POST", p, "{not json", 400, "invalid_json", NULL);
    /* a key env already in config.yaml that is not a provider key's name is not written to either */
    hlth_write(&env, "art", "config.yaml", "custom_providers:\n- {name: X, base_url: 'https://x', model: m, key_env: PATH}\n");
    char *art_before = hlth_tree(env.hermes_home);
    FAIL("POST", configs_path("art"), "{\"id\":\"m\",\"provider\":\"custom\",\"base_url\":\"https://x\",\"api_key\":\"evil\"}", 400,
         "model_config_invalid",
         "this model's key env \"PATH\" is not a provider key name (capitals, digits and _, ending in _API_KEY); send key_env "
         "with the api_key");
    char *art_after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(art_after, art_before);
    /* nothing was written by any of these */
    hlth_write(&env, "art", "config.yaml", hlth_text("art", "config.yaml"));
    config_is("default", CONFIG, "refused POSTs");
    ck_assert_str_eq(file_text("default", ".env"), ENV);
    ck_assert_str_eq(file_text("work", ".env"), hlth_text("work", ".env"));
    free(art_before);
    free(art_after);
    finish();
}
END_TEST

/* ---- the default models ---- */

START_TEST(test_defaults)
{
    prepare(_i);
    start();
    const char *p = defaults_path(NULL);
    FAIL("PATCH", p, "{}", 400, "model_config_invalid", "taskModelId or compressionModelId is required");
    FAIL("PATCH", p, "{\"taskModelId\":\"  \",\"compression_model_id\":\"\"}", 400, "model_config_invalid",
         "taskModelId or compressionModelId is required");
    FAIL("PATCH", p, "{\"taskModelId\":\"gpt-9\"}", 400, "model_config_invalid", "model \"gpt-9\" is not configured");
    FAIL("PATCH", p, "{\"default_model_id\":\"qwen3-32b\",\"compressionModelId\":\"nope\"}", 400, "model_config_invalid",
         "model \"nope\" is not configured");
    config_is("default", CONFIG, "refused PATCHes");

    /* both at once: model.* from the Local entry (its literal key was already in the file), compression from OpenRouter */
    json_t *j = call("PATCH", p, "{\"task_model_id\":\"qwen3-32b\",\"compressionModelId\":\"anthropic/claude-sonnet-4\"}");
    assert_change_keys(j, 0);
    json_t *l = listing_part(j);
    json_is(l,
            "{\"ok\":true,\"configPath\":\"config.yaml\",\"defaultModel\":\"qwen3-32b\",\"defaultReasoningEffort\":\"medium\","
            "\"compressionModelId\":\"anthropic/claude-sonnet-4\",\"compressionModel\":" M_SONNET(
                "false") ","
                         "\"models\":[{\"id\":\"qwen3-32b\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":"
                         "\"custom_provider\","
                         "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":32768,"
                         "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":true,\"reasoningEffort\":"
                         "\"medium\"," REASONING_UNKNOWN "}," M_SONNET("false") "," M_LLAMA "]}",
            "PATCH both");
    json_decref(l);
    assert_change(j, "default", CONFIG, 0, HINT_DEFAULTS);
    json_decref(j);
    char *after = WITH(CONFIG,
                       "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n  provider: openrouter\n"
                       "  base_url: https://openrouter.ai/api/v1\n  api_key: ${OPENROUTER_API_KEY}\n",
                       "  default: qwen3-32b   # the everyday model\n  provider: lmstudio\n"
                       "  base_url: \"http://127.0.0.1:1234/v1\"\n  api_key: lm-studio-literal\n  api_mode: chat_completions\n"
                       "  context_length: 32768\n",
                       "  keep: [1, 2]   # HermesLink does not know this block\n",
                       "  keep: [1, 2]   # HermesLink does not know this block\nauxiliary:\n  compression:\n"
                       "    provider: openrouter\n    model: anthropic/claude-sonnet-4\n    api_mode: chat_completions\n");
    config_is("default", after, "PATCH both");

    /* the same again: nothing changes */
    j = call("PATCH", p, "{\"taskModelId\":\"qwen3-32b\",\"compression_model_id\":\"anthropic/claude-sonnet-4\"}");
    assert_change(j, "default", NULL, 0, HINT_NOTHING);
    json_decref(j);
    config_is("default", after, "PATCH same");

    /* a profile's default: art's plain `model:` string becomes a mapping, the old default kept as an entry */
    json_decref(call("POST", configs_path("art"),
                     "{\"id\":\"claude-sonnet-4\",\"provider\":\"anthropic\",\"base_url\":\"https://api.anthropic.com\"}"));
    json_decref(call("PATCH", defaults_path("art"), "{\"defaultModelId\":\"claude-sonnet-4\"}"));
    config_is("art",
              "# Art profile (HermesLink test fixture): the model as a plain string\n"
              "model:\n"
              "  default: claude-sonnet-4\n"
              "  provider: anthropic\n"
              "  base_url: \"https://api.anthropic.com\"\n"
              "  api_mode: anthropic_messages\n"
              "\n"
              "approvals:\n"
              "  mode: \"off\"\n"
              "custom_providers:\n"
              "  - name: anthropic\n"
              "    provider_key: anthropic\n"
              "    base_url: \"https://api.anthropic.com\"\n"
              "    model: claude-sonnet-4\n"
              "    api_mode: anthropic_messages\n"
              "  - name: default\n"
              "    provider_key: default\n"
              "    base_url: \"\"\n"
              "    api_mode: chat_completions\n"
              "    model: claude-3-5-haiku\n",
              "PATCH art");
    free(after);
    finish();
}
END_TEST

/* ---- deleting ---- */

START_TEST(test_delete)
{
    prepare(_i);
    start();
    const char *p = configs_path(NULL);
    FAIL("DELETE", p, NULL, 400, "model_id_required", "model_id is required");
    FAIL("DELETE", p, "{\"model_id\":\"  \"}", 400, "model_id_required", "model_id is required");
    FAIL("DELETE", p, "{\"id\":\"qwen3-32b\"}", 400, "model_id_required", "model_id is required");
    FAIL("DELETE", p, "{\"model_id\":\"gpt-9\"}", 400, "model_config_invalid", "model \"gpt-9\" is not configured");
    FAIL("DELETE", configs_path("art"), "{\"modelId\":\"claude-3-5-haiku\"}", 400, "model_config_invalid",
         "At least one model must stay configured, so that Hermes Agent keeps a default model");
    config_is("art", hlth_text("art", "config.yaml"), "refused DELETE");
    config_is("default", CONFIG, "refused DELETEs");

    /* a model out of its entry's list: the entry keeps a model */
    json_t *j = call("DELETE", p, "{\"model_id\":\"meta-llama/llama-3.3-70b\"}");
    assert_change_keys(j, 0);
    json_t *l = listing_part(j);
    json_is(l,
            "{\"ok\":true,\"configPath\":\"config.yaml\",\"defaultModel\":\"anthropic/claude-sonnet-4\","
            "\"defaultReasoningEffort\":\"medium\",\"compressionModelId\":null,\"compressionModel\":null,"
            "\"models\":[" M_SONNET_DEFAULT "," M_QWEN "]}",
            "DELETE llama");
    json_decref(l);
    assert_change(j, "default", CONFIG, 1, HINT_DEFAULT);
    json_decref(j);
    char *after = WITH(CONFIG, "  - meta-llama/llama-3.3-70b   # cheap\n", "  model: anthropic/claude-sonnet-4\n");
    config_is("default", after, "DELETE llama");

    /* the default: the OpenRouter entry goes with its last model, and the next model becomes the default */
    j = call("DELETE", p, "{\"modelId\":\"anthropic/claude-sonnet-4\"}");
    ck_assert_str_eq(hlt_str(j, "defaultModel"), "qwen3-32b");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "models")), 1);
    assert_change(j, "default", after, 1, HINT_DEFAULT);
    json_decref(j);
    char *after2 = WITH(after,
                        "  default: \"anthropic/claude-sonnet-4\"   # the everyday model\n  provider: openrouter\n"
                        "  base_url: https://openrouter.ai/api/v1\n  api_key: ${OPENROUTER_API_KEY}\n",
                        "  default: qwen3-32b   # the everyday model\n  provider: lmstudio\n"
                        "  base_url: \"http://127.0.0.1:1234/v1\"\n  api_key: lm-studio-literal\n  api_mode: chat_completions\n"
                        "  context_length: 32768\n",
                        "- name: OpenRouter\n  provider_key: openrouter\n  base_url: https://openrouter.ai/api/v1\n"
                        "  key_env: OPENROUTER_API_KEY\n  models:\n  - anthropic/claude-sonnet-4\n"
                        "  model: anthropic/claude-sonnet-4\n",
                        "");
    config_is("default", after2, "DELETE default");
    /* now the last one */
    FAIL("DELETE", p, "{\"model_id\":\"qwen3-32b\"}", 400, "model_config_invalid",
         "At least one model must stay configured, so that Hermes Agent keeps a default model");
    config_is("default", after2, "DELETE last");
    /* the profile route */
    json_decref(
        call("POST", configs_path("work"), "{\"id\":\"o3\",\"provider\":\"openai\",\"base_url\":\"https://api.openai.com/v1\"}"));
    j = call("DELETE", configs_path("work"), "{\"model_id\":\"o3\"}");
    ck_assert_str_eq(hlt_str(j, "restartHint"), HINT_WORK);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "models")), 1);
    json_decref(j);
    char *work = hl_asprintf("%scustom_providers: []\n", hlth_text("work", "config.yaml"));
    config_is("work", work, "DELETE work");
    free(work);
    free(after);
    free(after2);
    finish();
}
END_TEST

/* ---- config.yaml that cannot be used ---- */

START_TEST(test_invalid_yaml)
{
    prepare(_i);
    static const char BROKEN[] = "# broken by hand\nmodel: [unclosed\ncustom_providers:\n- name: X\n";
    hlth_write(&env, "default", "config.yaml", BROKEN);
    /* valid YAML the editor leaves alone: the model mapping is an alias */
    static const char ALIASED[] =
        "base: &b {default: m1, provider: custom}\nmodel: *b\ncustom_providers:\n- {name: X, model: m2}\n";
    hlth_write(&env, "work", "config.yaml", ALIASED);
    start();
    char *before = hlth_tree(env.hermes_home);
    const char *save =
        "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"api_key\":\"sk-ds-SECRET-1\",\"set_default\":true}";
    FAIL("GET", configs_path(NULL), NULL, 409, "config_yaml_invalid",
         "config.yaml: malformed YAML at line 3: did not find expected ',' or ']'");
    FAIL("POST", configs_path(NULL), save, 409, "config_yaml_invalid",
         "config.yaml: malformed YAML at line 3: did not find expected ',' or ']'");
    FAIL("PATCH", defaults_path(NULL), "{\"taskModelId\":\"m\"}", 409, "config_yaml_invalid", NULL);
    FAIL("DELETE", configs_path(NULL), "{\"model_id\":\"m\"}", 409, "config_yaml_invalid", NULL);
    FAIL("POST", configs_path("work"), save, 409, "config_yaml_invalid",
         "config.yaml: model: the value is an alias; edit it by hand");
    FAIL("PATCH", defaults_path("work"), "{\"taskModelId\":\"m2\"}", 409, "config_yaml_invalid",
         "config.yaml: model: the value is an alias; edit it by hand");
    /* the aliased file still lists */
    json_t *j = call("GET", configs_path("work"), NULL);
    ck_assert_str_eq(hlt_str(j, "defaultModel"), "m1");
    json_decref(j);
    /* nothing written anywhere: neither config.yaml nor .env (the key is not stored when the config cannot be) */
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    ck_assert_str_eq(file_text("default", "config.yaml"), BROKEN);
    ck_assert_str_eq(file_text("default", ".env"), ENV);
    free(after);
    free(before);
    finish();
}
END_TEST

/* ---- names ---- */

START_TEST(test_names)
{
    prepare(_i);
    char *outside = hlth_outside(&env);
    char *link = hlth_path(&env, "escape", NULL);
    ck_assert_int_eq(symlink(outside, link), 0);
    free(link);
    char *legacy = hlth_path(&env, "Legacy.Profile", NULL);
    hlth_mkdirs(legacy);
    free(legacy);
    hlth_write(&env, "Legacy.Profile", "config.yaml", "model: legacy-model\n");
    start();
    char *home_before = hlth_tree(env.hermes_home), *outside_before = hlth_tree(outside);
    static const char *const BAD[] = {"..",     ".",    "%2E%2E", "%2E%2E%2Fetc", "..%2F..%2Fetc", "a%2Fb",
                                      "%2Fetc", NAME65, "escape", "caf%C3%A9",    "with%20space"};
    const char *body = "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://x\",\"api_key\":\"sk-ds-SECRET-1\"}";
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i) {
        FAIL("GET", configs_path(BAD[i]), NULL, 400, "invalid_profile_name", NULL);
        FAIL("POST", configs_path(BAD[i]), body, 400, "invalid_profile_name", NULL);
        FAIL("PATCH", defaults_path(BAD[i]), "{\"taskModelId\":\"m\"}", 400, "invalid_profile_name", NULL);
        FAIL("DELETE", configs_path(BAD[i]), "{\"model_id\":\"m\"}", 400, "invalid_profile_name", NULL);
    }
    /* a NUL never reaches a route: the router refuses the path itself */
    FAIL("POST", configs_path("%00abc"), body, 400, "invalid_path", NULL);
    /* a folder Hermes would not name: readable, not writable */
    json_t *j = call("GET", configs_path("Legacy.Profile"), NULL);
    ck_assert_str_eq(hlt_str(j, "configPath"), "profiles/Legacy.Profile/config.yaml");
    ck_assert_str_eq(hlt_str(j, "defaultModel"), "legacy-model");
    json_decref(j);
    FAIL("POST", configs_path("Legacy.Profile"), body, 400, "invalid_profile_name", NULL);
    FAIL("PATCH", defaults_path("Legacy.Profile"), "{\"taskModelId\":\"legacy-model\"}", 400, "invalid_profile_name", NULL);
    FAIL("DELETE", configs_path("Legacy.Profile"), "{\"model_id\":\"legacy-model\"}", 400, "invalid_profile_name", NULL);
    /* a profile that does not exist: 404 on changes, and its folder is never made */
    FAIL("POST", configs_path("ghost"), body, 404, "profile_not_found", "Profile not found");
    FAIL("PATCH", defaults_path("ghost"), "{\"taskModelId\":\"m\"}", 404, "profile_not_found", "Profile not found");
    FAIL("DELETE", configs_path("ghost"), "{\"model_id\":\"m\"}", 404, "profile_not_found", "Profile not found");
    /* checked before the body: a bad body on a missing profile is still 404 */
    FAIL("POST", configs_path("ghost"), "{}", 404, "profile_not_found", NULL);
    char *home_after = hlth_tree(env.hermes_home), *outside_after = hlth_tree(outside);
    ck_assert_str_eq(home_after, home_before);
    ck_assert_str_eq(outside_after, outside_before);
    char *ghost = hlth_path(&env, "ghost", NULL);
    ck_assert(!hlth_exists(ghost));
    free(ghost);
    free(home_after);
    free(outside_after);
    free(home_before);
    free(outside_before);
    free(outside);
    finish();
}
END_TEST

Suite *suite_model_configs(void)
{
    Suite *s = suite_create("model_configs");
    TCase *tc = tcase_create("model_configs");
    tcase_set_timeout(tc, 120);
    size_t n = HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_listing, 0, (int)n);
    tcase_add_loop_test(tc, test_save, 0, (int)n);
    tcase_add_loop_test(tc, test_save_refused, 0, (int)n);
    tcase_add_loop_test(tc, test_defaults, 0, (int)n);
    tcase_add_loop_test(tc, test_delete, 0, (int)n);
    tcase_add_loop_test(tc, test_invalid_yaml, 0, (int)n);
    tcase_add_loop_test(tc, test_names, 0, (int)n);
    suite_add_tcase(s, tc);
    return s;
}
