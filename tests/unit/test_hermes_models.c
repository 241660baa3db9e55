/*
 * Managed models (include/hl/hermes_models.h; spec STORAGE §3.3, API.md §9): the listing derived from config.yaml and
 * .env (custom providers with model / default_model / models as a list or a map, the repeat key, api mode inference,
 * credential states, the default model merged or first as model_default, reasoning support), the body of POST, and the
 * three changes computed as config.yaml text — checked against whole expected texts, so that a line changed that should
 * not have been fails the test.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/actors/hermes_internal.h"
#include "hl/common.h"
#include "hl/hermes_models.h"
#include "hl/hermes_read.h"

/* config.yaml text as JSON (asserts it parses). */
static json_t *yaml(const char *text)
{
    json_t *config = NULL;
    char err[256] = "";
    int ret = hermes_yaml_json(text, strlen(text), &config, err, sizeof(err));
    ck_assert_msg(ret == 0, "fixture YAML: %s", err);
    return config;
}

/* Asserts that `got` equals the JSON text `want` (json_equal: every member, any order). */
static void json_is(json_t *got, const char *want)
{
    json_error_t e;
    json_t *w = json_loads(want, 0, &e);
    ck_assert_msg(w != NULL, "expected JSON does not parse: %s at %d", e.text, e.position);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, w), "got\n%s\nwant\n%s", g, ws);
    free(g);
    free(ws);
    json_decref(w);
}

static json_t *listing_of(const char *text, const char *env_text)
{
    hl_dotenv_t env;
    hl_dotenv_parse(&env, env_text, strlen(env_text));
    json_t *config = yaml(text);
    json_t *l = hl_models_listing(config, &env);
    json_decref(config);
    hl_dotenv_dispose(&env);
    return l;
}

#define UNKNOWN "\"reasoningSupport\":\"unknown\",\"supportedReasoningEfforts\":null"
#define ALL_EFFORTS                                                                                                                \
    "\"reasoningSupport\":\"known\",\"supportedReasoningEfforts\":[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"

/* ---- the listing ---- */

static const char PROVIDERS[] = "model:\n"
                                "  default: gpt-4o\n"
                                "  provider: openai\n"
                                "  base_url: https://api.openai.com/v1/\n"
                                "  api_key: ${OPENAI_API_KEY}\n"
                                "  context_length: 128000\n"
                                "agent:\n"
                                "  reasoning_effort: High\n"
                                "auxiliary:\n"
                                "  compression:\n"
                                "    model: qwen3\n"
                                "    provider: lmstudio\n"
                                "custom_providers:\n"
                                "  - name: OpenAI\n"
                                "    provider_key: openai\n"
                                "    base_url: https://api.openai.com/v1\n"
                                "    model: gpt-4o\n"
                                "    default_model: gpt-4o-mini\n"
                                "    models: [gpt-4o, o3, \" gpt-4o-mini \"]\n"
                                "    key_env: OPENAI_API_KEY\n"
                                "  - provider_name: Local\n"
                                "    provider: lmstudio\n"
                                "    url: http://127.0.0.1:1234/v1\n"
                                "    api_key: lm-literal\n"
                                "    context_length: 4096\n"
                                "    reasoning_effort: medium\n"
                                "    models:\n"
                                "      qwen3: {context_length: \"32,768\", reasoning_effort: LOW}\n"
                                "      llama-3: {contextLength: 8192}\n"
                                "      phi: ~\n"
                                "  - base_url: https://api.anthropic.com/\n"
                                "    model: claude-sonnet-4\n"
                                "    api_key: ${ANTHROPIC_API_KEY}\n"
                                "  - provider_key: openai\n"
                                "    base_url: https://API.openai.com/v1/\n"
                                "    model: GPT-4O\n"
                                "  - name: Codex\n"
                                "    provider_key: openai-codex\n"
                                "    base_url: https://chatgpt.com/backend-api/codex\n"
                                "    models: [gpt-5-codex]\n"
                                "  - not a mapping\n"
                                "  - name: Empty\n"
                                "    base_url: http://x\n";

#define QWEN3                                                                                                                      \
    "{\"id\":\"qwen3\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":\"custom_provider\","                       \
    "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":32768,"                           \
    "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false,\"reasoningEffort\":\"low\"," UNKNOWN    \
    "}"

START_TEST(listing_of_custom_providers)
{
    json_t *l = listing_of(PROVIDERS, "OPENAI_API_KEY=sk-x\nANTHROPIC_API_KEY=\"  \"\n");
    json_is(l, "{\"defaultModel\":\"gpt-4o\",\"defaultReasoningEffort\":\"high\",\"compressionModelId\":\"qwen3\","
               "\"compressionModel\":" QWEN3 ",\"models\":["
               /* the default, merged into the entry of its endpoint: its context length and the profile's effort */
               "{\"id\":\"gpt-4o\",\"provider\":\"openai\",\"providerName\":\"OpenAI\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://api.openai.com/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":128000,"
               "\"keyEnv\":\"OPENAI_API_KEY\",\"credentialConfigured\":true,\"credentialState\":\"configured\","
               "\"isDefault\":true,\"reasoningEffort\":\"high\"," UNKNOWN "},"
               /* model, default_model, then the list; repeats and blanks around ids dropped */
               "{\"id\":\"gpt-4o-mini\",\"provider\":\"openai\",\"providerName\":\"OpenAI\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://api.openai.com/v1\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"OPENAI_API_KEY\","
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false," UNKNOWN "},"
               "{\"id\":\"o3\",\"provider\":\"openai\",\"providerName\":\"OpenAI\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://api.openai.com/v1\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"OPENAI_API_KEY\","
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false," UNKNOWN "},"
            /* a map: its settings per model, the entry's otherwise; a literal key is configured */
            QWEN3 ","
               "{\"id\":\"llama-3\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":8192,"
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false,"
               "\"reasoningEffort\":\"medium\"," UNKNOWN "},"
               "{\"id\":\"phi\",\"provider\":\"lmstudio\",\"providerName\":\"Local\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"http://127.0.0.1:1234/v1\",\"apiMode\":\"chat_completions\",\"contextLength\":4096,"
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":false,"
               "\"reasoningEffort\":\"medium\"," UNKNOWN "},"
               /* no name: "Custom Provider", provider custom; anthropic inferred; a key env set blank is missing */
               "{\"id\":\"claude-sonnet-4\",\"provider\":\"custom\",\"providerName\":\"Custom Provider\","
               "\"source\":\"custom_provider\",\"baseUrl\":\"https://api.anthropic.com/\",\"apiMode\":\"anthropic_messages\","
               "\"keyEnv\":\"ANTHROPIC_API_KEY\",\"credentialConfigured\":false,\"credentialState\":\"missing\","
               "\"isDefault\":false," UNKNOWN "},"
               /* GPT-4O at https://API.openai.com/v1/ repeats gpt-4o: dropped; codex inferred, its efforts known; no key
                  information is unknown */
               "{\"id\":\"gpt-5-codex\",\"provider\":\"openai-codex\",\"providerName\":\"Codex\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://chatgpt.com/backend-api/codex\",\"apiMode\":\"codex_responses\","
               "\"credentialConfigured\":false,\"credentialState\":\"unknown\",\"isDefault\":false," ALL_EFFORTS "}]}");
    json_decref(l);
}
END_TEST

START_TEST(listing_with_a_model_default_entry)
{
    /* `model:` as a string that no entry has at its endpoint: first, source model_default; the entry's model of the
     * same id is not the default */
    json_t *l = listing_of("model: \" claude-3-5-haiku \"\n"
                           "custom_providers:\n"
                           "- name: Router\n"
                           "  base_url: https://openrouter.ai/api/v1\n"
                           "  key_env: OPENROUTER_API_KEY\n"
                           "  models: [meta/llama-3, anthropic/claude-sonnet-4, claude-3-5-haiku]\n",
                           "");
    json_is(l, "{\"defaultModel\":\"claude-3-5-haiku\",\"defaultReasoningEffort\":null,\"compressionModelId\":null,"
               "\"compressionModel\":null,\"models\":["
               "{\"id\":\"claude-3-5-haiku\",\"provider\":\"default\",\"providerName\":\"default\",\"source\":\"model_default\","
               "\"baseUrl\":\"\",\"apiMode\":\"chat_completions\",\"credentialConfigured\":false,\"credentialState\":\"unknown\","
               "\"isDefault\":true," UNKNOWN "},"
               "{\"id\":\"meta/llama-3\",\"provider\":\"custom\",\"providerName\":\"Router\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"OPENROUTER_API_KEY\","
               "\"credentialConfigured\":false,\"credentialState\":\"missing\",\"isDefault\":false,"
               "\"reasoningSupport\":\"unsupported\",\"supportedReasoningEfforts\":[]},"
               "{\"id\":\"anthropic/claude-sonnet-4\",\"provider\":\"custom\",\"providerName\":\"Router\","
               "\"source\":\"custom_provider\",\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\","
               "\"keyEnv\":\"OPENROUTER_API_KEY\",\"credentialConfigured\":false,\"credentialState\":\"missing\","
               "\"isDefault\":false," ALL_EFFORTS "},"
               "{\"id\":\"claude-3-5-haiku\",\"provider\":\"custom\",\"providerName\":\"Router\",\"source\":\"custom_provider\","
               "\"baseUrl\":\"https://openrouter.ai/api/v1\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"OPENROUTER_API_KEY\","
               "\"credentialConfigured\":false,\"credentialState\":\"missing\",\"isDefault\":false,"
               "\"reasoningSupport\":\"unsupported\",\"supportedReasoningEfforts\":[]}]}");
    json_decref(l);

    /* model.name, a literal key (configured), an explicit api mode, the model's own effort before the profile's */
    l = listing_of("model:\n  name: local-model\n  provider: custom\n  base_url: http://localhost:8080/v1\n"
                   "  api_key: sk-literal\n  api_mode: codex_responses\n  reasoning_effort: minimal\n  context_length: '4,096'\n"
                   "agent: {reasoning_effort: high}\n",
                   "");
    json_is(l, "{\"defaultModel\":\"local-model\",\"defaultReasoningEffort\":\"high\",\"compressionModelId\":null,"
               "\"compressionModel\":null,\"models\":["
               "{\"id\":\"local-model\",\"provider\":\"custom\",\"providerName\":\"custom\",\"source\":\"model_default\","
               "\"baseUrl\":\"http://localhost:8080/v1\",\"apiMode\":\"codex_responses\",\"contextLength\":4096,"
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":true,"
               "\"reasoningEffort\":\"minimal\"," ALL_EFFORTS "}]}");
    json_decref(l);

    /* a key env and a literal: the key env decides; the compression model found by id when its provider differs */
    l = listing_of("model:\n  default: m1\n  api_key: literal\n  key_env: M_API_KEY\n"
                   "auxiliary:\n  compression: {model: m1, provider: elsewhere}\n",
                   "M_API_KEY=set\n");
    json_is(l, "{\"defaultModel\":\"m1\",\"defaultReasoningEffort\":null,\"compressionModelId\":\"m1\","
               "\"compressionModel\":{\"id\":\"m1\",\"provider\":\"default\",\"providerName\":\"default\","
               "\"source\":\"model_default\",\"baseUrl\":\"\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"M_API_KEY\","
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":true," UNKNOWN "},"
               "\"models\":[{\"id\":\"m1\",\"provider\":\"default\",\"providerName\":\"default\","
               "\"source\":\"model_default\",\"baseUrl\":\"\",\"apiMode\":\"chat_completions\",\"keyEnv\":\"M_API_KEY\","
               "\"credentialConfigured\":true,\"credentialState\":\"configured\",\"isDefault\":true," UNKNOWN "}]}");
    json_decref(l);

    /* nothing configured, and things that are not what they should be */
    static const char *const EMPTY[] = {"", "model: 42\ncustom_providers: {a: 1}\nagent: [x]\n", "model: {}\nauxiliary: text\n"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(EMPTY); ++i) {
        l = listing_of(EMPTY[i], "");
        json_is(l, "{\"defaultModel\":null,\"defaultReasoningEffort\":null,\"compressionModelId\":null,"
                   "\"compressionModel\":null,\"models\":[]}");
        json_decref(l);
    }
    json_t *arr = json_array();
    l = hl_models_listing(arr, NULL);
    json_is(l, "{\"defaultModel\":null,\"defaultReasoningEffort\":null,\"compressionModelId\":null,\"compressionModel\":null,"
               "\"models\":[]}");
    json_decref(l);
    json_decref(arr);
}
END_TEST

START_TEST(api_mode_inference)
{
    static const struct {
        const char *provider, *base_url, *explicit_mode, *want;
    } CASES[] = {
        {"openai-codex", "", NULL, "codex_responses"},
        {" OpenAI-Codex ", "https://x", "", "codex_responses"},
        {"anthropic", "", NULL, "anthropic_messages"},
        {"Anthropic", "https://x", NULL, "anthropic_messages"},
        {"custom", "https://proxy.example/anthropic/", NULL, "anthropic_messages"},
        {"custom", "https://API.ANTHROPIC.COM/v1", NULL, "anthropic_messages"},
        {"custom", "https://proxy.example/anthropic/v1", NULL, "chat_completions"},
        {"custom", "https://api.openai.com/v1", NULL, "chat_completions"},
        {"", "", NULL, "chat_completions"},
        {NULL, NULL, NULL, "chat_completions"},
        {"anthropic", "", "chat_completions", "chat_completions"},
        {"custom", "https://x", "bedrock_converse", "bedrock_converse"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(CASES); ++i)
        ck_assert_msg(strcmp(hl_models_api_mode(CASES[i].provider, CASES[i].base_url, CASES[i].explicit_mode), CASES[i].want) == 0,
                      "case %zu: %s", i, hl_models_api_mode(CASES[i].provider, CASES[i].base_url, CASES[i].explicit_mode));
}
END_TEST

START_TEST(reasoning_support_table)
{
    static const struct {
        const char *provider, *base_url, *id, *api_mode, *support, *efforts;
    } CASES[] = {
        /* GitHub / Copilot: o-series low..high, gpt-5 minimal..high, anything else none */
        {"copilot", "", "o3-mini", "chat_completions", "known", "[\"none\",\"low\",\"medium\",\"high\"]"},
        {"github", "", "openai/o1", "chat_completions", "known", "[\"none\",\"low\",\"medium\",\"high\"]"},
        {"custom", "https://api.githubcopilot.com", "O4-mini", NULL, "known", "[\"none\",\"low\",\"medium\",\"high\"]"},
        {"x", "https://models.github.ai/inference", "openai/gpt-5", "chat_completions", "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\"]"},
        {"github-copilot", "", "gpt-5-mini", "chat_completions", "known", "[\"none\",\"minimal\",\"low\",\"medium\",\"high\"]"},
        {"github-copilot", "", "gpt-4.1", "codex_responses", "unsupported", "[]"},
        /* Nous and Vercel's gateway: everything */
        {"custom", "https://inference-api.nousresearch.com/v1", "Hermes-4-405B", "chat_completions", "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"custom", "https://ai-gateway.vercel.sh/v1", "any", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        /* OpenRouter: by the model's prefix */
        {"openrouter", "https://openrouter.ai/api/v1", "deepseek/deepseek-r1", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"openrouter", "https://openrouter.ai/api/v1", "Anthropic/Claude-Sonnet-4", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"openrouter", "https://openrouter.ai/api/v1", "google/gemini-2.5-pro", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"openrouter", "https://openrouter.ai/api/v1", "qwen/qwen3-235b", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"openrouter", "https://openrouter.ai/api/v1", "x-ai/grok-4", NULL, "known",
         "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"openrouter", "https://openrouter.ai/api/v1", "google/gemma-3", "codex_responses", "unsupported", "[]"},
        {"openrouter", "https://openrouter.ai/api/v1", "qwen/qwen2.5", NULL, "unsupported", "[]"},
        /* by api mode otherwise */
        {"custom", "https://x", "m", "codex_responses", "known", "[\"none\",\"minimal\",\"low\",\"medium\",\"high\",\"xhigh\"]"},
        {"custom", "https://x", "m", "anthropic_messages", "unknown", "null"},
        {"custom", "https://api.openai.com/v1", "o3", "chat_completions", "unknown", "null"},
        {"", "", "", NULL, "unknown", "null"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(CASES); ++i) {
        const char *support = NULL;
        json_t *e = hl_models_reasoning(CASES[i].provider, CASES[i].base_url, CASES[i].id, CASES[i].api_mode, &support);
        char *got = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        ck_assert_msg(strcmp(support, CASES[i].support) == 0 && strcmp(got, CASES[i].efforts) == 0, "case %zu (%s): %s %s", i,
                      CASES[i].id, support, got);
        free(got);
        json_decref(e);
    }
}
END_TEST

START_TEST(key_env_names)
{
    static const struct {
        const char *name, *id, *want;
    } CASES[] = {
        {"OpenRouter", "x", "HERMES_OPENROUTER_API_KEY"},
        {"my provider (eu)", "x", "HERMES_MY_PROVIDER_EU_API_KEY"},
        {"  --deep--seek--  ", "x", "HERMES_DEEP_SEEK_API_KEY"},
        {"", "gpt-4o", "HERMES_GPT_4O_API_KEY"},
        {NULL, "openai/o3", "HERMES_OPENAI_O3_API_KEY"},
        {"--", "", "HERMES_MODEL_API_KEY"},
        {"\xc3\x9cn\xc3\xaf", "", "HERMES_N_API_KEY"},
        {"a123456789b123456789c123456789d123456789e123456789f123456789", "",
         "HERMES_A123456789B123456789C123456789D123456789E12345678_API_KEY"},
        {"a12345678 b12345678 c12345678 d12345678 e1234567 f", "",
         "HERMES_A12345678_B12345678_C12345678_D12345678_E1234567_API_KEY"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(CASES); ++i) {
        char *got = hl_models_key_env_name(CASES[i].name, CASES[i].id);
        ck_assert_msg(strcmp(got, CASES[i].want) == 0, "case %zu: %s", i, got);
        ck_assert_msg(hl_hermes_valid_key_env(got), "case %zu: %s is not a valid key env", i, got);
        ck_assert_uint_le(strlen(got), 64);
        free(got);
    }
}
END_TEST

/* ---- the body of POST ---- */

static int parse(const char *body, hl_model_input_t *in, const char **msg)
{
    json_t *b = json_loads(body, 0, NULL);
    ck_assert_msg(b != NULL, "test body: %s", body);
    *msg = NULL;
    int ret = hl_model_input_parse(in, b, msg);
    json_decref(b);
    return ret;
}

static void parse_refused(const char *body, const char *want)
{
    hl_model_input_t in;
    const char *msg;
    ck_assert_msg(parse(body, &in, &msg) == -EINVAL, "accepted: %s", body);
    ck_assert_msg(msg != NULL && strcmp(msg, want) == 0, "%s: message %s", body, msg);
    hl_model_input_dispose(&in);
}

START_TEST(input_aliases_and_validation)
{
    hl_model_input_t in;
    const char *msg;
    /* the first spellings, trimmed */
    ck_assert_int_eq(parse("{\"id\":\" gpt-4o \",\"provider\":\"openai\",\"base_url\":\"https://api.openai.com/v1\","
                           "\"original_model_id\":\"gpt-4\",\"provider_name\":\"OpenAI\",\"api_key\":\" sk-1 \","
                           "\"api_mode\":\"chat_completions\",\"context_length\":\"128000\",\"key_env\":\"OPENAI_API_KEY\","
                           "\"set_default\":\"true\",\"reasoning_effort\":\" High \",\"reload_gateway\":false}",
                           &in, &msg),
                     0);
    ck_assert_str_eq(in.id, "gpt-4o");
    ck_assert_str_eq(in.provider, "openai");
    ck_assert_str_eq(in.base_url, "https://api.openai.com/v1");
    ck_assert_str_eq(in.original_id, "gpt-4");
    ck_assert_str_eq(in.provider_name, "OpenAI");
    ck_assert_str_eq(in.api_key, "sk-1");
    ck_assert_str_eq(in.api_mode, "chat_completions");
    ck_assert_str_eq(in.key_env, "OPENAI_API_KEY");
    ck_assert_str_eq(in.reasoning_effort, "high");
    ck_assert_int_eq(in.context_length, 128000);
    ck_assert_int_eq(in.set_default, 1);
    ck_assert(!in.reload_gateway);
    hl_model_input_dispose(&in);
    /* the other spellings; "" counts as missing */
    ck_assert_int_eq(parse("{\"id\":\"\",\"model_id\":\"\",\"modelId\":\"m\",\"providerKey\":\"p\",\"baseUrl\":\"http://h\","
                           "\"originalModelId\":\"o\",\"providerName\":\"P\",\"apiKey\":\"k\",\"apiMode\":\"codex_responses\","
                           "\"contextLength\":8192,\"keyEnv\":\"P_API_KEY\",\"setDefault\":0,\"reasoningEffort\":\"xhigh\","
                           "\"skipGatewayReload\":true}",
                           &in, &msg),
                     0);
    ck_assert_str_eq(in.id, "m");
    ck_assert_str_eq(in.provider, "p");
    ck_assert_str_eq(in.base_url, "http://h");
    ck_assert_str_eq(in.original_id, "o");
    ck_assert_int_eq(in.context_length, 8192);
    ck_assert_int_eq(in.set_default, 0);
    ck_assert_str_eq(in.reasoning_effort, "xhigh");
    ck_assert(!in.reload_gateway);
    hl_model_input_dispose(&in);
    ck_assert_int_eq(parse("{\"model_id\":\"m\",\"provider_key\":\"p\",\"base_url\":\"https://h\",\"original_id\":\"o\","
                           "\"reasoning_effort\":\"\",\"context_length\":null,\"set_default\":null}",
                           &in, &msg),
                     0);
    ck_assert_str_eq(in.original_id, "o");
    ck_assert_ptr_null(in.reasoning_effort);
    ck_assert_ptr_null(in.api_mode);
    ck_assert_ptr_null(in.provider_name);
    ck_assert_int_eq(in.context_length, 0);
    ck_assert_int_eq(in.set_default, -1);
    ck_assert(in.reload_gateway);
    hl_model_input_dispose(&in);
    /* reload: reload_gateway wins over skip_gateway_reload */
    ck_assert_int_eq(
        parse("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"reloadGateway\":1,\"skip_gateway_reload\":true}", &in,
              &msg),
        0);
    ck_assert(in.reload_gateway);
    hl_model_input_dispose(&in);

    /* refusals, with API.md's messages where it gives them */
    parse_refused("{}", "id, provider and base_url are required");
    parse_refused("[]", "id, provider and base_url are required");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"  \"}", "id, provider and base_url are required");
    parse_refused("{\"id\":7,\"provider\":\"p\",\"base_url\":\"https://h\"}", "id, provider and base_url are required");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"reasoning_effort\":\"maximum\"}",
                  "reasoningEffort must be none, minimal, low, medium, high or xhigh");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"reasoningEffort\":3}",
                  "reasoningEffort must be none, minimal, low, medium, high or xhigh");
    static const char *const BAD_LENGTHS[] = {"0", "-5", "1.5", "\"12k\"", "\"-1\"", "\"0\"", "true", "[1]", "1000000001"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_LENGTHS); ++i) {
        char *body =
            hl_asprintf("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"context_length\":%s}", BAD_LENGTHS[i]);
        parse_refused(body, "contextLength must be a positive integer");
        free(body);
    }
    static const char *const BAD_ENVS[] = {"PATH",     "API_SERVER_KEY", "openai_api_key", "1_API_KEY",
                                           "_API_KEY", "X_API_KEY=1",    "LD_PRELOAD",     "HOME"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_ENVS); ++i) {
        char *body = hl_asprintf(
            "{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"api_key\":\"k\",\"key_env\":\"%s\"}", BAD_ENVS[i]);
        parse_refused(body,
                      "keyEnv must name a provider key variable: capitals, digits and _, ending in _API_KEY (e.g. OPENAI_API_KEY)");
        free(body);
    }
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"ftp://h\"}", "base_url must be an http:// or https:// URL");
    parse_refused("{\"id\":\"m\\nx\",\"provider\":\"p\",\"base_url\":\"https://h\"}",
                  "id, provider and provider_name must be one line of text (id at most 256 characters, the others 128)");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"api_key\":\"a\\nB=c\"}",
                  "api_key must be one line of text of at most 4096 characters");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"api_mode\":\"chat completions\"}",
                  "apiMode must be a word such as chat_completions, codex_responses or anthropic_messages");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"set_default\":\"yes\"}",
                  "setDefault must be true or false");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"reload_gateway\":2}",
                  "reloadGateway must be true or false");
    parse_refused("{\"id\":\"m\",\"provider\":\"p\",\"base_url\":\"https://h\",\"skipGatewayReload\":\"no\"}",
                  "skipGatewayReload must be true or false");
}
END_TEST

/* ---- changes ---- */

static const char CONFIG[] = "# Hermes config (test)\n"
                             "model:\n"
                             "  default: gpt-4o   # everyday\n"
                             "  provider: openai\n"
                             "  base_url: https://api.openai.com/v1\n"
                             "  api_key: ${OPENAI_API_KEY}\n"
                             "\n"
                             "custom_providers:\n"
                             "# a local server\n"
                             "- name: Local\n"
                             "  provider_key: lmstudio\n"
                             "  base_url: http://127.0.0.1:1234/v1\n"
                             "  model: qwen3\n"
                             "  models:\n"
                             "  - qwen3\n"
                             "  - llama-3   # small\n"
                             "\n"
                             "agent:\n"
                             "  max_turns: 90\n";

/* `text` with `old` (exactly once) replaced by `new`. Caller frees. */
static char *replaced(const char *text, const char *old, const char *new)
{
    const char *at = strstr(text, old);
    ck_assert_msg(at != NULL, "not in the text: %s", old);
    ck_assert_msg(strstr(at + 1, old) == NULL, "more than once in the text: %s", old);
    return hl_asprintf("%.*s%s%s", (int)(at - text), text, new, at + strlen(old));
}

/* CONFIG with a list of (old, new) replacements made in turn. Caller frees. */
static char *config_with(const char *const *pairs, size_t n)
{
    char *text = hl_strdup(CONFIG);
    for (size_t i = 0; i + 1 < n; i += 2) {
        char *next = replaced(text, pairs[i], pairs[i + 1]);
        free(text);
        text = next;
    }
    return text;
}

#define CONFIG_WITH(...) config_with((const char *const[]){__VA_ARGS__}, HL_ARRAY_SIZE(((const char *const[]){__VA_ARGS__})))

static void save_is(const char *text, const char *env_text, const char *body, const char *want, const char *env_key,
                    const char *env_value)
{
    hl_model_input_t in;
    const char *msg;
    ck_assert_msg(parse(body, &in, &msg) == 0, "body refused: %s", msg);
    hl_dotenv_t env;
    hl_dotenv_parse(&env, env_text, strlen(env_text));
    hl_models_change_t c;
    char err[256] = "";
    int ret = hl_models_save(&c, text, strlen(text), &env, &in, err, sizeof(err));
    ck_assert_msg(ret == 0, "save %s: %d %s", body, ret, err);
    ck_assert_str_eq(c.text, want);
    ck_assert_uint_eq(c.len, strlen(want));
    if (env_key == NULL) {
        ck_assert_ptr_null(c.env_key);
        ck_assert_ptr_null(c.env_value);
    } else {
        ck_assert_str_eq(c.env_key, env_key);
        ck_assert_str_eq(c.env_value, env_value);
    }
    /* the key never reaches config.yaml */
    if (in.api_key != NULL)
        ck_assert_msg(strstr(c.text, in.api_key) == NULL, "the API key is in config.yaml:\n%s", c.text);
    hl_models_change_dispose(&c);
    hl_dotenv_dispose(&env);
    hl_model_input_dispose(&in);
}

static void save_refused(const char *text, const char *body, int code, const char *want)
{
    hl_model_input_t in;
    const char *msg;
    ck_assert_msg(parse(body, &in, &msg) == 0, "body refused: %s", msg);
    hl_models_change_t c;
    char err[256] = "";
    ck_assert_int_eq(hl_models_save(&c, text, strlen(text), NULL, &in, err, sizeof(err)), code);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(c.text);
    ck_assert_ptr_null(c.env_key);
    hl_model_input_dispose(&in);
}

START_TEST(save_new_and_edited_models)
{
    /* a new model with a key: a new entry, the key's name made up, the key for .env only; the default untouched */
    char *want = CONFIG_WITH("  - llama-3   # small\n", "  - llama-3   # small\n"
                                                        "- name: DeepSeek\n"
                                                        "  provider_key: deepseek\n"
                                                        "  base_url: \"https://api.deepseek.com/v1\"\n"
                                                        "  model: deepseek-chat\n"
                                                        "  api_mode: chat_completions\n"
                                                        "  context_length: 65536\n"
                                                        "  key_env: HERMES_DEEPSEEK_API_KEY\n");
    save_is(CONFIG, "",
            "{\"id\":\"deepseek-chat\",\"provider\":\"deepseek\",\"provider_name\":\"DeepSeek\",\"base_url\":\"https://"
            "api.deepseek.com/v1\","
            "\"api_key\":\"sk-ds-secret\",\"context_length\":65536}",
            want, "HERMES_DEEPSEEK_API_KEY", "sk-ds-secret");
    free(want);

    /* set_default: the old default kept as an entry, model.* rewritten (its comment stays), the key env as ${…} */
    want = CONFIG_WITH("  default: gpt-4o   # everyday\n  provider: openai\n  base_url: https://api.openai.com/v1\n"
                       "  api_key: ${OPENAI_API_KEY}\n",
                       "  default: claude-sonnet-4   # everyday\n  provider: anthropic\n"
                       "  base_url: \"https://api.anthropic.com\"\n  api_key: \"${ANTHROPIC_API_KEY}\"\n"
                       "  api_mode: anthropic_messages\n",
                       "  - llama-3   # small\n",
                       "  - llama-3   # small\n"
                       "- name: anthropic\n"
                       "  provider_key: anthropic\n"
                       "  base_url: \"https://api.anthropic.com\"\n"
                       "  model: claude-sonnet-4\n"
                       "  api_mode: anthropic_messages\n"
                       "  key_env: ANTHROPIC_API_KEY\n"
                       "  reasoning_effort: high\n"
                       "- name: openai\n"
                       "  provider_key: openai\n"
                       "  base_url: \"https://api.openai.com/v1\"\n"
                       "  api_mode: chat_completions\n"
                       "  model: gpt-4o\n"
                       "  key_env: OPENAI_API_KEY\n",
                       "  max_turns: 90\n", "  max_turns: 90\n  reasoning_effort: high\n");
    save_is(CONFIG, "",
            "{\"id\":\"claude-sonnet-4\",\"provider\":\"anthropic\",\"base_url\":\"https://api.anthropic.com\","
            "\"key_env\":\"ANTHROPIC_API_KEY\",\"set_default\":true,\"reasoning_effort\":\"high\"}",
            want, NULL, NULL);
    free(want);

    /* an edit with a rename: the entry's settings, the id renamed in its list (model follows the edited id, as the
     * original does); the display name defaults to the provider */
    want = CONFIG_WITH("- name: Local\n", "- name: lmstudio\n", "  model: qwen3\n", "  model: llama-3.1\n",
                       "  - llama-3   # small\n", "  - llama-3.1\n  api_mode: chat_completions\n  context_length: 8192\n");
    save_is(CONFIG, "",
            "{\"original_model_id\":\"llama-3\",\"id\":\"llama-3.1\",\"provider\":\"lmstudio\",\"base_url\":\"http://"
            "127.0.0.1:1234/v1\","
            "\"context_length\":8192}",
            want, NULL, NULL);
    free(want);

    /* the same settings again: only what the original always writes (name, api_mode) changes */
    want = CONFIG_WITH("  - llama-3   # small\n", "  - llama-3   # small\n  api_mode: chat_completions\n");
    save_is(CONFIG, "",
            "{\"id\":\"qwen3\",\"provider\":\"lmstudio\",\"provider_name\":\"Local\",\"base_url\":\"http://127.0.0.1:1234/v1\"}",
            want, NULL, NULL);
    /* … and once more: nothing */
    save_is(want, "",
            "{\"id\":\"qwen3\",\"provider\":\"lmstudio\",\"provider_name\":\"Local\",\"base_url\":\"http://127.0.0.1:1234/v1\"}",
            want, NULL, NULL);
    free(want);

    /* editing the default model: model.* follows, its key env kept */
    want = CONFIG_WITH("  default: gpt-4o   # everyday\n", "  default: gpt-4.1   # everyday\n", "  api_key: ${OPENAI_API_KEY}\n",
                       "  api_key: ${OPENAI_API_KEY}\n  api_mode: chat_completions\n", "  - llama-3   # small\n",
                       "  - llama-3   # small\n"
                       "- name: openai\n"
                       "  provider_key: openai\n"
                       "  base_url: \"https://api.openai.com/v1\"\n"
                       "  model: gpt-4.1\n"
                       "  api_mode: chat_completions\n");
    save_is(
        CONFIG, "",
        "{\"original_model_id\":\"gpt-4o\",\"id\":\"gpt-4.1\",\"provider\":\"openai\",\"base_url\":\"https://api.openai.com/v1\"}",
        want, NULL, NULL);
    free(want);
}
END_TEST

START_TEST(save_keys_maps_and_odd_shapes)
{
    /* an entry's key env is where a new key goes; a literal api_key in the entry leaves for the key env */
    const char *with_key = "custom_providers:\n"
                           "- name: Groq\n"
                           "  provider_key: groq\n"
                           "  base_url: https://api.groq.com/openai/v1\n"
                           "  api_key: gsk-literal\n"
                           "  models:\n"
                           "    llama-3.3: {context_length: 131072}\n"
                           "    mixtral: ~\n"
                           "model: llama-3.3\n";
    save_is(with_key, "",
            "{\"id\":\"mixtral\",\"provider\":\"groq\",\"provider_name\":\"Groq\",\"base_url\":\"https://api.groq.com/openai/v1\","
            "\"api_key\":\"gsk-new\",\"reasoning_effort\":\"low\"}",
            "custom_providers:\n"
            "- name: Groq\n"
            "  provider_key: groq\n"
            "  base_url: https://api.groq.com/openai/v1\n"
            "  models:\n"
            "    llama-3.3: {context_length: 131072}\n"
            "    mixtral:\n"
            "      reasoning_effort: low\n"
            "  model: mixtral\n"
            "  api_mode: chat_completions\n"
            "  key_env: HERMES_GROQ_API_KEY\n"
            "model: llama-3.3\n",
            "HERMES_GROQ_API_KEY", "gsk-new");
    /* renaming a model of a map: the key renamed, its settings kept; `model:` as a string becomes a mapping */
    save_is(with_key, "",
            "{\"original_id\":\"llama-3.3\",\"id\":\"llama-3.3-70b\",\"provider\":\"groq\",\"provider_name\":\"Groq\","
            "\"base_url\":\"https://api.groq.com/openai/v1\"}",
            "custom_providers:\n"
            "- name: Groq\n"
            "  provider_key: groq\n"
            "  base_url: https://api.groq.com/openai/v1\n"
            "  api_key: gsk-literal\n"
            "  models:\n"
            "    llama-3.3-70b: {context_length: 131072}\n"
            "    mixtral: ~\n"
            "  model: llama-3.3-70b\n"
            "  api_mode: chat_completions\n"
            "model:\n"
            "  default: llama-3.3-70b\n"
            "  provider: groq\n"
            "  base_url: \"https://api.groq.com/openai/v1\"\n"
            "  api_mode: chat_completions\n",
            NULL, NULL);
    /* an existing key env of the entry (a ${…} reference) is used */
    save_is("custom_providers:\n- name: X\n  provider_key: x\n  base_url: https://x\n  model: m\n  api_key: ${X_API_KEY}\n", "",
            "{\"id\":\"m\",\"provider\":\"x\",\"provider_name\":\"X\",\"base_url\":\"https://x\",\"api_key\":\"new\"}",
            "custom_providers:\n- name: X\n  provider_key: x\n  base_url: https://x\n  model: m\n"
            "  api_mode: chat_completions\n  key_env: X_API_KEY\nmodel:\n  default: m\n  provider: x\n"
            "  base_url: \"https://x\"\n  api_key: \"${X_API_KEY}\"\n  api_mode: chat_completions\n",
            "X_API_KEY", "new");
    /* … but not one that is not a provider key name */
    save_refused("custom_providers:\n- {name: X, provider_key: x, base_url: 'https://x', model: m, key_env: PATH}\n",
                 "{\"id\":\"m\",\"provider\":\"x\",\"base_url\":\"https://x\",\"api_key\":\"new\"}", HL_MODELS_INVALID,
                 "this model's key env \"PATH\" is not a provider key name (capitals, digits and _, ending in _API_KEY); send "
                 "key_env with the api_key");
    /* a file with no providers and no default: the first model is both */
    save_is("# empty\n", "", "{\"id\":\"m\",\"provider\":\"custom\",\"base_url\":\"http://localhost:8000/v1\"}",
            "# empty\ncustom_providers:\n  - name: custom\n    provider_key: custom\n    base_url: \"http://localhost:8000/v1\"\n"
            "    model: m\n    api_mode: chat_completions\nmodel:\n  default: m\n  provider: custom\n"
            "  base_url: \"http://localhost:8000/v1\"\n  api_mode: chat_completions\n",
            NULL, NULL);
    /* config.yaml that cannot be used */
    save_refused("custom_providers: {a: 1}\n", "{\"id\":\"m\",\"provider\":\"x\",\"base_url\":\"https://x\"}", HL_MODELS_YAML,
                 "config.yaml: custom_providers is not a list; edit it by hand");
    save_refused("model: [unclosed\n", "{\"id\":\"m\",\"provider\":\"x\",\"base_url\":\"https://x\"}", HL_MODELS_YAML,
                 "config.yaml: malformed YAML at line 2: did not find expected ',' or ']'");
    save_refused("base: &b {default: x}\nmodel: *b\n",
                 "{\"id\":\"m\",\"provider\":\"x\",\"base_url\":\"https://x\",\"set_default\":true}", HL_MODELS_YAML,
                 "config.yaml: model: the value is an alias; edit it by hand");
}
END_TEST

static void delete_is(const char *text, const char *id, const char *want)
{
    hl_models_change_t c;
    char err[256] = "";
    int ret = hl_models_delete(&c, text, strlen(text), NULL, id, err, sizeof(err));
    ck_assert_msg(ret == 0, "delete %s: %d %s", id, ret, err);
    ck_assert_str_eq(c.text, want);
    ck_assert_ptr_null(c.env_key);
    hl_models_change_dispose(&c);
}

static void delete_refused(const char *text, const char *id, int code, const char *want)
{
    hl_models_change_t c;
    char err[256] = "";
    ck_assert_int_eq(hl_models_delete(&c, text, strlen(text), NULL, id, err, sizeof(err)), code);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(c.text);
}

START_TEST(delete_models)
{
    /* out of the entry's model key and list: model becomes the next id */
    char *want = CONFIG_WITH("  model: qwen3\n  models:\n  - qwen3\n  - llama-3   # small\n",
                             "  models:\n  - llama-3   # small\n  model: llama-3\n");
    delete_is(CONFIG, "qwen3", want);
    free(want);
    want = CONFIG_WITH("  - llama-3   # small\n", "");
    delete_is(CONFIG, "llama-3", want);
    /* the entry's last model: the entry goes, the list is [] */
    char *none = CONFIG_WITH("custom_providers:\n# a local server\n- name: Local\n  provider_key: lmstudio\n"
                             "  base_url: http://127.0.0.1:1234/v1\n  model: qwen3\n  models:\n  - qwen3\n  - llama-3   # small\n",
                             "custom_providers: []\n# a local server\n");
    delete_is(want, "qwen3", none);
    free(want);
    free(none);
    /* the default: the first model left takes its place */
    want = CONFIG_WITH("  default: gpt-4o   # everyday\n  provider: openai\n  base_url: https://api.openai.com/v1\n"
                       "  api_key: ${OPENAI_API_KEY}\n",
                       "  default: qwen3   # everyday\n  provider: lmstudio\n  base_url: \"http://127.0.0.1:1234/v1\"\n"
                       "  api_mode: chat_completions\n");
    delete_is(CONFIG, "gpt-4o", want);
    free(want);
    /* a map and default_model; other entries keep the id's neighbours */
    delete_is("custom_providers:\n"
              "- name: A\n  base_url: https://a\n  default_model: x\n  models: {x: {context_length: 1}, y: ~}\n"
              "- {name: B, base_url: 'https://b', model: x, models: [x, z]}\n"
              "model: {default: y, base_url: 'https://a', provider: custom}\n",
              "x",
              "custom_providers:\n"
              "- name: A\n  base_url: https://a\n  models: {y: ~}\n  model: \"y\"\n"
              "- {name: B, base_url: 'https://b', models: [z], model: z}\n"
              "model: {default: y, base_url: 'https://a', provider: custom}\n");
    /* refusals */
    delete_refused(CONFIG, "gpt-5", HL_MODELS_INVALID, "model \"gpt-5\" is not configured");
    delete_refused("model: only-one\n", "only-one", HL_MODELS_INVALID,
                   "At least one model must stay configured, so that Hermes Agent keeps a default model");
    delete_refused("model: [x\n", "x", HL_MODELS_YAML, "config.yaml: malformed YAML at line 2: did not find expected ',' or ']'");
}
END_TEST

static void defaults_are(const char *text, const char *env_text, const char *task, const char *compression, const char *want)
{
    hl_dotenv_t env;
    hl_dotenv_parse(&env, env_text, strlen(env_text));
    hl_models_change_t c;
    char err[256] = "";
    int ret = hl_models_set_defaults(&c, text, strlen(text), &env, task, compression, err, sizeof(err));
    ck_assert_msg(ret == 0, "defaults: %d %s", ret, err);
    ck_assert_str_eq(c.text, want);
    hl_models_change_dispose(&c);
    hl_dotenv_dispose(&env);
}

static void defaults_refused(const char *text, const char *task, const char *compression, const char *want)
{
    hl_models_change_t c;
    char err[256] = "";
    ck_assert_int_eq(hl_models_set_defaults(&c, text, strlen(text), NULL, task, compression, err, sizeof(err)), HL_MODELS_INVALID);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(c.text);
}

START_TEST(default_models)
{
    /* the task model: the old default kept as an entry */
    char *want = CONFIG_WITH("  default: gpt-4o   # everyday\n  provider: openai\n  base_url: https://api.openai.com/v1\n"
                             "  api_key: ${OPENAI_API_KEY}\n",
                             "  default: llama-3   # everyday\n  provider: lmstudio\n  base_url: \"http://127.0.0.1:1234/v1\"\n"
                             "  api_mode: chat_completions\n",
                             "  - llama-3   # small\n",
                             "  - llama-3   # small\n- name: openai\n  provider_key: openai\n"
                             "  base_url: \"https://api.openai.com/v1\"\n  api_mode: chat_completions\n  model: gpt-4o\n"
                             "  key_env: OPENAI_API_KEY\n");
    defaults_are(CONFIG, "", "llama-3", NULL, want);
    free(want);
    /* the compression model */
    want = CONFIG_WITH("  max_turns: 90\n", "  max_turns: 90\nauxiliary:\n  compression:\n    provider: lmstudio\n"
                                            "    model: qwen3\n    api_mode: chat_completions\n");
    defaults_are(CONFIG, "", NULL, "qwen3", want);
    free(want);
    /* the current default as task model: nothing changes but what model.* always gets */
    want = CONFIG_WITH("  api_key: ${OPENAI_API_KEY}\n", "  api_key: ${OPENAI_API_KEY}\n  api_mode: chat_completions\n");
    defaults_are(CONFIG, "", "gpt-4o", NULL, want);
    free(want);
    /* a custom provider's compression: base_url, and the key as ${NAME} when .env has it (never the secret) */
    const char *custom = "custom_providers:\n"
                         "- {name: Mine, provider_key: custom, base_url: 'http://gpu:8000/v1', model: big, key_env: MINE_API_KEY}\n"
                         "- {name: Lit, provider_key: custom, base_url: 'http://cpu:8000/v1', model: small, api_key: lit-key}\n"
                         "auxiliary:\n"
                         "  compression:\n"
                         "    provider: auto\n"
                         "    model: old\n"
                         "    context_length: 1000\n"
                         "model:\n"
                         "  default: big\n"
                         "  provider: custom\n"
                         "  base_url: http://gpu:8000/v1\n";
    defaults_are(custom, "MINE_API_KEY=secret-value\n", NULL, "big",
                 "custom_providers:\n"
                 "- {name: Mine, provider_key: custom, base_url: 'http://gpu:8000/v1', model: big, key_env: MINE_API_KEY}\n"
                 "- {name: Lit, provider_key: custom, base_url: 'http://cpu:8000/v1', model: small, api_key: lit-key}\n"
                 "auxiliary:\n"
                 "  compression:\n"
                 "    provider: custom\n"
                 "    model: big\n"
                 "    api_mode: chat_completions\n"
                 "    base_url: \"http://gpu:8000/v1\"\n"
                 "    api_key: \"${MINE_API_KEY}\"\n"
                 "model:\n"
                 "  default: big\n"
                 "  provider: custom\n"
                 "  base_url: http://gpu:8000/v1\n");
    defaults_are(custom, "", NULL, "small",
                 "custom_providers:\n"
                 "- {name: Mine, provider_key: custom, base_url: 'http://gpu:8000/v1', model: big, key_env: MINE_API_KEY}\n"
                 "- {name: Lit, provider_key: custom, base_url: 'http://cpu:8000/v1', model: small, api_key: lit-key}\n"
                 "auxiliary:\n"
                 "  compression:\n"
                 "    provider: custom\n"
                 "    model: small\n"
                 "    api_mode: chat_completions\n"
                 "    base_url: \"http://cpu:8000/v1\"\n"
                 "    api_key: lit-key\n"
                 "model:\n"
                 "  default: big\n"
                 "  provider: custom\n"
                 "  base_url: http://gpu:8000/v1\n");
    /* both at once, the task model a literal-key model: its key stays literal in model.* (it already was in the file) */
    defaults_are(custom, "", "small", "small",
                 "custom_providers:\n"
                 "- {name: Mine, provider_key: custom, base_url: 'http://gpu:8000/v1', model: big, key_env: MINE_API_KEY}\n"
                 "- {name: Lit, provider_key: custom, base_url: 'http://cpu:8000/v1', model: small, api_key: lit-key}\n"
                 "auxiliary:\n"
                 "  compression:\n"
                 "    provider: custom\n"
                 "    model: small\n"
                 "    api_mode: chat_completions\n"
                 "    base_url: \"http://cpu:8000/v1\"\n"
                 "    api_key: lit-key\n"
                 "model:\n"
                 "  default: small\n"
                 "  provider: custom\n"
                 "  base_url: \"http://cpu:8000/v1\"\n"
                 "  api_key: lit-key\n"
                 "  api_mode: chat_completions\n");
    defaults_refused(CONFIG, NULL, NULL, "taskModelId or compressionModelId is required");
    defaults_refused(CONFIG, "nope", NULL, "model \"nope\" is not configured");
    defaults_refused(CONFIG, "qwen3", "nope", "model \"nope\" is not configured");
}
END_TEST

Suite *suite_hermes_models(void)
{
    Suite *s = suite_create("hermes_models");
    TCase *view = tcase_create("view");
    tcase_add_test(view, listing_of_custom_providers);
    tcase_add_test(view, listing_with_a_model_default_entry);
    tcase_add_test(view, api_mode_inference);
    tcase_add_test(view, reasoning_support_table);
    tcase_add_test(view, key_env_names);
    suite_add_tcase(s, view);
    TCase *input = tcase_create("input");
    tcase_add_test(input, input_aliases_and_validation);
    suite_add_tcase(s, input);
    TCase *changes = tcase_create("changes");
    tcase_add_test(changes, save_new_and_edited_models);
    tcase_add_test(changes, save_keys_maps_and_odd_shapes);
    tcase_add_test(changes, delete_models);
    tcase_add_test(changes, default_models);
    suite_add_tcase(s, changes);
    return s;
}
