/*
 * Permissions and tool configs derived from config.yaml and .env, and the edits a PATCH plans (src/actors/
 * hermes_permissions.c, hermes_tool_configs.c, hermes_config_edits.c): the enabled toolset rules, the no_mcp marker,
 * approvals as Hermes reads them, each tool's values and `configured` keys, the validation messages of API.md §10, and
 * the planned edits applied to a commented config.yaml.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/actors/hermes_internal.h"
#include "../../src/actors/hermes_settings.h"
#include "hl/hermes_yaml_edit.h"

static json_t *yaml(const char *text)
{
    json_t *out = NULL;
    char err[256];
    ck_assert_msg(hermes_yaml_json(text, strlen(text), &out, err, sizeof(err)) == 0, "%s", err);
    return out;
}

static json_t *body(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, e.text);
    return j;
}

static uint32_t bits(const char *const *keys, size_t n)
{
    uint32_t b = 0;
    for (size_t i = 0; i < n; ++i) {
        int k = hermes_toolset_index(keys[i]);
        ck_assert_msg(k >= 0, "%s", keys[i]);
        b |= 1u << k;
    }
    return b;
}

#define BITS(...) bits((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Hermes's default set for the API server, stt on */
static uint32_t default_bits(void)
{
    return BITS("web", "browser", "terminal", "file", "code_execution", "vision", "image_gen", "skills", "todo", "memory",
                "session_search", "delegation", "cronjob", "stt");
}

/* ---- toolsets ---- */

START_TEST(catalogue_has_19_toolsets_in_order)
{
    static const char *const KEYS[] = {
        "web",        "vision",   "image_gen", "browser",        "skills",  "memory",    "session_search", "todo",
        "delegation", "terminal", "file",      "code_execution", "cronjob", "messaging", "homeassistant",  "stt",
        "tts",        "moa",      "rl"};
    ck_assert_uint_eq(hermes_toolset_count, 19);
    for (size_t i = 0; i < 19; ++i) {
        ck_assert_str_eq(hermes_toolsets[i].key, KEYS[i]);
        ck_assert_msg(strlen(hermes_toolsets[i].label) > 0 && strlen(hermes_toolsets[i].description) > 0, "%s", KEYS[i]);
        const char *r = hermes_toolsets[i].risk;
        ck_assert(strcmp(r, "low") == 0 || strcmp(r, "medium") == 0 || strcmp(r, "high") == 0);
    }
    ck_assert_str_eq(hermes_toolsets[hermes_toolset_index("terminal")].risk, "high");
    ck_assert_str_eq(hermes_toolsets[hermes_toolset_index("web")].risk, "low");
    ck_assert_str_eq(hermes_toolsets[hermes_toolset_index("stt")].risk, "medium");
    ck_assert_int_eq(hermes_toolset_index("nope"), -1);
    ck_assert_int_eq(hermes_toolset_index(NULL), -1);
}
END_TEST

START_TEST(enabled_set_rules)
{
    json_t *c = yaml("");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), default_bits());
    ck_assert(hermes_mcp_enabled(c));
    json_decref(c);

    /* a list naming catalogue toolsets: exactly those (other entries ignored), stt from stt.enabled */
    c = yaml("platform_toolsets:\n  api_server: [web, terminal, hermes-api-server, my_plugin]\n");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), BITS("web", "terminal", "stt"));
    json_decref(c);

    /* stt in the list does not count as naming one: the default set */
    c = yaml("platform_toolsets:\n  api_server:\n    - stt\n    - hermes-api-server\nstt:\n  enabled: false\n");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), default_bits() & ~BITS("stt"));
    json_decref(c);

    /* only stt.enabled decides stt, also when the list names it */
    c = yaml("platform_toolsets: {api_server: [moa, rl, stt]}\nstt: {enabled: true}\n");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), BITS("moa", "rl", "stt"));
    json_decref(c);

    /* not a list, or a list of non-strings: the default set */
    c = yaml("platform_toolsets: {api_server: web}\n");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), default_bits());
    json_decref(c);
    c = yaml("platform_toolsets: {api_server: [1, {web: true}]}\n");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), default_bits());
    json_decref(c);

    /* the no_mcp marker */
    c = yaml("platform_toolsets: {api_server: [no_mcp]}\n");
    ck_assert(!hermes_mcp_enabled(c));
    ck_assert_uint_eq(hermes_toolsets_enabled(c), default_bits());
    json_decref(c);
    c = yaml("platform_toolsets: {api_server: [web, no_mcp_x]}\n");
    ck_assert(hermes_mcp_enabled(c));
    json_decref(c);
}
END_TEST

START_TEST(approvals_as_hermes_reads_them)
{
    static const struct {
        const char *yaml, *mode, *cron;
    } CASES[] = {
        {"", "manual", "deny"},
        {"approvals: {mode: manual, cron_mode: approve}\n", "manual", "approve"},
        {"approvals: {mode: SMART, cron_mode: Allow}\n", "smart", "approve"},
        {"approvals: {mode: off, cron_mode: off}\n", "off", "approve"},     /* plain off reads as false */
        {"approvals: {mode: 'off', cron_mode: 'off'}\n", "off", "approve"}, /* quoted: the string */
        {"approvals: {mode: on, cron_mode: on}\n", "manual", "deny"},        /* true: neither */
        {"approvals: {mode: strict, cron_mode: deny}\n", "manual", "deny"},
        {"approvals: {cron_mode: whatever}\n", "manual", "deny"},
        {"approvals: [manual]\n", "manual", "deny"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); ++i) {
        json_t *c = yaml(CASES[i].yaml);
        ck_assert_msg(strcmp(hermes_approval_mode(c), CASES[i].mode) == 0, "%s: mode %s", CASES[i].yaml, hermes_approval_mode(c));
        ck_assert_msg(strcmp(hermes_cron_mode(c), CASES[i].cron) == 0, "%s: cron %s", CASES[i].yaml, hermes_cron_mode(c));
        json_decref(c);
    }
}
END_TEST

static hl_dotenv_t env_of(const char *text)
{
    hl_dotenv_t e;
    hl_dotenv_parse(&e, text, strlen(text));
    return e;
}

START_TEST(permissions_object)
{
    json_t *c = yaml("approvals:\n  mode: manual\n  timeout: 45\n  cron_mode: approve\n"
                     "terminal:\n  backend: docker\n  cwd: /srv/work\n  container_cpu: 2\n  container_memory: 4096\n"
                     "  container_persistent: false\n"
                     "platform_toolsets:\n  api_server: [web, messaging, no_mcp]\n"
                     "command_allowlist: [ls, 7, git status]\n");
    hl_dotenv_t e = env_of("TAVILY_API_KEY=sk-tavily-secret\nTELEGRAM_BOT_TOKEN=\n");
    hermes_settings_src_t src = {.config = c, .env = &e};
    json_t *p = hermes_permissions_json(&src, "work", "profiles/work/config.yaml");
    char *dump = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(strstr(dump, "sk-tavily") == NULL, "a secret in %s", dump);
    json_t *want = body("{\"profileName\":\"work\",\"configPath\":\"profiles/work/config.yaml\","
                        "\"approvals\":{\"mode\":\"manual\",\"timeout\":45,\"cronMode\":\"approve\"},"
                        "\"terminal\":{\"backend\":\"docker\",\"cwd\":\"/srv/work\",\"containerCpu\":2,\"containerMemory\":4096,"
                        "\"containerDisk\":null,\"containerPersistent\":false},"
                        "\"commandAllowlist\":[\"ls\",\"git status\"]}");
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        ck_assert_msg(json_equal(json_object_get(p, k), v), "%s differs in %s", k, dump);
    }
    ck_assert_uint_eq(json_object_size(p), 6);
    json_t *ts = json_object_get(p, "toolsets");
    ck_assert_uint_eq(json_object_size(ts), 2);
    ck_assert(json_is_false(json_object_get(ts, "mcpEnabled")));
    json_t *items = json_object_get(ts, "items");
    ck_assert_uint_eq(json_array_size(items), 19);
    for (size_t i = 0; i < 19; ++i) {
        json_t *it = json_array_get(items, i);
        ck_assert_uint_eq(json_object_size(it), 7);
        const char *key = json_string_value(json_object_get(it, "key"));
        ck_assert_str_eq(key, hermes_toolsets[i].key);
        ck_assert_str_eq(json_string_value(json_object_get(it, "label")), hermes_toolsets[i].label);
        ck_assert_str_eq(json_string_value(json_object_get(it, "description")), hermes_toolsets[i].description);
        ck_assert_str_eq(json_string_value(json_object_get(it, "risk")), hermes_toolsets[i].risk);
        bool enabled = strcmp(key, "web") == 0 || strcmp(key, "messaging") == 0 || strcmp(key, "stt") == 0;
        ck_assert_msg(json_is_true(json_object_get(it, "enabled")) == enabled, "%s enabled", key);
        bool needs = strcmp(key, "web") == 0 || strcmp(key, "image_gen") == 0 || strcmp(key, "stt") == 0 ||
                     strcmp(key, "tts") == 0 || strcmp(key, "messaging") == 0 || strcmp(key, "homeassistant") == 0 ||
                     strcmp(key, "rl") == 0;
        ck_assert_msg(json_is_true(json_object_get(it, "requiresConfig")) == needs, "%s requiresConfig", key);
        /* web: tavily's key; stt: local by default; tts: edge by default; messaging: the token is empty */
        bool configured = !needs || strcmp(key, "web") == 0 || strcmp(key, "stt") == 0 || strcmp(key, "tts") == 0;
        ck_assert_msg(json_is_true(json_object_get(it, "configured")) == configured, "%s configured", key);
    }
    free(dump);
    json_decref(want);
    json_decref(p);
    json_decref(c);
    hl_dotenv_dispose(&e);

    /* defaults: Hermes's own */
    c = yaml("# nothing\n");
    e = env_of("");
    src = (hermes_settings_src_t){.config = c, .env = &e};
    p = hermes_permissions_json(&src, "default", "config.yaml");
    want = body("{\"mode\":\"manual\",\"timeout\":60,\"cronMode\":\"deny\"}");
    ck_assert(json_equal(json_object_get(p, "approvals"), want));
    json_decref(want);
    want = body("{\"backend\":\"local\",\"cwd\":\".\",\"containerCpu\":null,\"containerMemory\":null,\"containerDisk\":null,"
                "\"containerPersistent\":true}");
    ck_assert(json_equal(json_object_get(p, "terminal"), want));
    ck_assert(json_is_true(json_object_get(json_object_get(p, "toolsets"), "mcpEnabled")));
    ck_assert_uint_eq(json_array_size(json_object_get(p, "commandAllowlist")), 0);
    json_decref(want);
    json_decref(p);
    json_decref(c);
    hl_dotenv_dispose(&e);
}
END_TEST

/* ---- PATCH permissions ---- */

/* Plans `b` against config text `cfg`; returns the error code (NULL when valid) and its message in msg. */
static const char *plan_perm(const char *cfg, const char *b, hermes_edits_t *edits, char *msg, size_t msglen)
{
    json_t *c = yaml(cfg), *j = body(b);
    hl_result_t *res = hermes_permissions_plan(j, c, edits);
    json_decref(c);
    json_decref(j);
    if (res == NULL)
        return NULL;
    snprintf(msg, msglen, "%s", res->message);
    const char *code = res->code;
    hl_result_free(res);
    return code;
}

START_TEST(permissions_validation)
{
    static const struct {
        const char *body, *code, *msg;
    } CASES[] = {
        {"{}", "profile_permissions_update_empty", NULL},
        {"{\"other\":1,\"approvals\":null}", "profile_permissions_update_empty", NULL},
        {"{\"approvals\":[]}", "profile_permissions_invalid", "approvals must be an object"},
        {"{\"terminal\":\"local\"}", "profile_permissions_invalid", "terminal must be an object"},
        {"{\"toolsets\":1}", "profile_permissions_invalid", "toolsets must be an object"},
        {"{\"approvals\":{\"mode\":\"auto\"}}", "profile_permissions_invalid", "approvals.mode must be manual, smart or off"},
        {"{\"approvals\":{\"approvalMode\":false}}", "profile_permissions_invalid", "approvals.mode must be manual, smart or off"},
        {"{\"approvals\":{\"cronMode\":\"allow\"}}", "profile_permissions_invalid", "approvals.cron_mode must be deny or approve"},
        {"{\"approvals\":{\"timeout\":0}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"approvals\":{\"timeout\":\"60\"}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"approvals\":{\"timeout\":1.5}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"approvals\":{\"timeout\":2147483648}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"terminal\":{\"backend\":\"kubernetes\"}}", "profile_permissions_invalid", "terminal.backend is not supported"},
        {"{\"terminal\":{\"cwd\":\"  \"}}", "profile_permissions_invalid", "terminal.cwd cannot be empty"},
        {"{\"terminal\":{\"cwd\":\"a\\nb\"}}", "profile_permissions_invalid",
         "terminal.cwd must be a single line without control characters"},
        {"{\"terminal\":{\"containerCpu\":-1}}", "profile_permissions_invalid",
         "terminal.container_cpu must be a positive integer"},
        {"{\"terminal\":{\"container_memory\":\"4g\"}}", "profile_permissions_invalid",
         "terminal.container_memory must be a positive integer"},
        {"{\"terminal\":{\"containerDisk\":0}}", "profile_permissions_invalid",
         "terminal.container_disk must be a positive integer"},
        {"{\"terminal\":{\"containerPersistent\":\"yes\"}}", "profile_permissions_invalid",
         "terminal.container_persistent must be true or false"},
        {"{\"toolsets\":{\"enabled\":[\"web\",\"x\"]}}", "profile_permissions_invalid", "unknown toolset: x"},
        {"{\"toolsets\":{\"enabledToolsets\":\"web\"}}", "profile_permissions_invalid",
         "toolsets.enabled_toolsets must be an array of toolset keys"},
        {"{\"toolsets\":{\"enabled_toolsets\":[\"web\",3]}}", "profile_permissions_invalid",
         "toolsets.enabled_toolsets must be an array of toolset keys"},
        {"{\"toolsets\":{\"mcpEnabled\":\"false\"}}", "profile_permissions_invalid", "toolsets.mcp_enabled must be true or false"},
        /* a valid part before an invalid one does not save it */
        {"{\"approvals\":{\"mode\":\"off\"},\"terminal\":{\"backend\":\"vm\"}}", "profile_permissions_invalid",
         "terminal.backend is not supported"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); ++i) {
        hermes_edits_t e = {0};
        char msg[512] = "";
        const char *code = plan_perm("", CASES[i].body, &e, msg, sizeof(msg));
        ck_assert_msg(code != NULL && strcmp(code, CASES[i].code) == 0, "%s: code %s", CASES[i].body, code ? code : "(none)");
        if (CASES[i].msg != NULL)
            ck_assert_msg(strcmp(msg, CASES[i].msg) == 0, "%s: message \"%s\"", CASES[i].body, msg);
        hermes_edits_dispose(&e);
    }
    /* only stt left enabled: refused, since Hermes would read the list back as its default set */
    hermes_edits_t e = {0};
    char msg[512];
    ck_assert_str_eq(plan_perm("", "{\"toolsets\":{\"enabled\":[\"stt\"]}}", &e, msg, sizeof(msg)), "profile_permissions_invalid");
    hermes_edits_dispose(&e);
}
END_TEST

/* Applies the edits to `text`; returns the new text (caller frees). */
static char *apply(hermes_edits_t *e, const char *text)
{
    char *out = NULL, err[256] = "";
    size_t out_len = 0;
    int ret = hermes_edits_apply(e, text, strlen(text), &out, &out_len, err, sizeof(err));
    ck_assert_msg(ret == 0, "apply: %d %s", ret, err);
    ck_assert_uint_eq(strlen(out), out_len);
    return out;
}

static const char CONFIG[] = "# Hermes config\n"
                             "model:\n"
                             "  default: gpt-x   # the model\n"
                             "approvals:\n"
                             "  mode: manual  # ask me\n"
                             "  timeout: 60\n"
                             "unknown_key: {keep: me}\n"
                             "platform_toolsets:\n"
                             "  cli: [hermes-cli]\n"
                             "  api_server:\n"
                             "    - hermes-api-server\n"
                             "    - my_plugin\n"
                             "    - web\n"
                             "    - terminal\n"
                             "# tail comment\n";

START_TEST(permissions_edits_touch_only_their_lines)
{
    hermes_edits_t e = {0};
    char msg[512] = "";
    const char *code =
        plan_perm(CONFIG,
                  "{\"approvals\":{\"mode\":\"off\",\"timeout\":90,\"cron_mode\":\"approve\"},"
                  "\"terminal\":{\"backend\":\"docker\",\"cwd\":\" /srv \",\"containerCpu\":2,\"containerDisk\":null,"
                  "\"containerPersistent\":false},"
                  "\"toolsets\":{\"enabled\":[\"terminal\",\"web\",\"file\",\"stt\"],\"mcp_enabled\":false}}",
                  &e, msg, sizeof(msg));
    ck_assert_msg(code == NULL, "%s: %s", code, msg);
    char *out = apply(&e, CONFIG);
    ck_assert(e.changed);
    ck_assert_str_eq(out, "# Hermes config\n"
                          "model:\n"
                          "  default: gpt-x   # the model\n"
                          "approvals:\n"
                          "  mode: \"off\"  # ask me\n"
                          "  timeout: 90\n"
                          "  cron_mode: approve\n"
                          "unknown_key: {keep: me}\n"
                          "platform_toolsets:\n"
                          "  cli: [hermes-cli]\n"
                          "  api_server:\n"
                          "    - web\n"
                          "    - terminal\n"
                          "    - file\n"
                          "    - my_plugin\n"
                          "    - no_mcp\n"
                          "terminal:\n"
                          "  backend: docker\n"
                          "  cwd: /srv\n"
                          "  container_cpu: 2\n"
                          "  container_persistent: false\n"
                          "# tail comment\n");
    /* read back: what was asked */
    json_t *c = yaml(out);
    ck_assert_str_eq(hermes_approval_mode(c), "off");
    ck_assert_str_eq(hermes_cron_mode(c), "approve");
    ck_assert_uint_eq(hermes_toolsets_enabled(c), BITS("terminal", "web", "file", "stt"));
    ck_assert(!hermes_mcp_enabled(c));
    json_decref(c);
    free(out);
    hermes_edits_dispose(&e);

    /* the same enabled set and MCP switch: no toolset edit at all (hermes-api-server stays) */
    code =
        plan_perm(CONFIG, "{\"toolsets\":{\"enabled\":[\"terminal\",\"web\",\"stt\"],\"mcpEnabled\":true}}", &e, msg, sizeof(msg));
    ck_assert_msg(code == NULL, "%s", msg);
    ck_assert_uint_eq(e.count, 0);
    hermes_edits_dispose(&e);

    /* disabling stt only: stt.enabled, the list untouched */
    code = plan_perm(CONFIG, "{\"toolsets\":{\"enabled\":[\"terminal\",\"web\"]}}", &e, msg, sizeof(msg));
    ck_assert(code == NULL);
    out = apply(&e, CONFIG);
    /* new keys go at the end of the top-level block, before the file's closing comment */
    size_t n = strlen(CONFIG) - strlen("# tail comment\n");
    ck_assert(strncmp(out, CONFIG, n) == 0);
    ck_assert_str_eq(out + n, "stt:\n  enabled: false\n# tail comment\n");
    free(out);
    hermes_edits_dispose(&e);

    /* MCP off from Hermes's default set: the default set written out, with the marker */
    code = plan_perm("", "{\"toolsets\":{\"mcpEnabled\":false}}", &e, msg, sizeof(msg));
    ck_assert(code == NULL);
    out = apply(&e, "");
    ck_assert_str_eq(out, "platform_toolsets:\n  api_server:\n    - web\n    - vision\n    - image_gen\n    - browser\n"
                          "    - skills\n    - memory\n    - session_search\n    - todo\n    - delegation\n    - terminal\n"
                          "    - file\n    - code_execution\n    - cronjob\n    - no_mcp\n");
    free(out);
    hermes_edits_dispose(&e);

    /* approvals {} is present but asks nothing: valid, no edit */
    code = plan_perm(CONFIG, "{\"approvals\":{}}", &e, msg, sizeof(msg));
    ck_assert(code == NULL);
    ck_assert_uint_eq(e.count, 0);
    hermes_edits_dispose(&e);
}
END_TEST

/* ---- tool configs ---- */

static json_t *tool_view(const char *key, const char *cfg, const char *env_text)
{
    json_t *c = yaml(cfg);
    hl_dotenv_t e = env_of(env_text);
    hermes_settings_src_t src = {.config = c, .env = &e};
    json_t *v = hermes_tool_config_json(key, &src, "work", "profiles/work/config.yaml");
    hl_dotenv_dispose(&e);
    json_decref(c);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "toolKey")), key);
    ck_assert_str_eq(json_string_value(json_object_get(v, "profileName")), "work");
    ck_assert_str_eq(json_string_value(json_object_get(v, "configPath")), "profiles/work/config.yaml");
    ck_assert_uint_eq(json_object_size(v), 5);
    return v;
}

static void assert_json(json_t *got, const char *want_text, const char *what)
{
    json_t *want = body(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(got, want), "%s: got %s, want %s", what, g, w);
    free(g);
    free(w);
    json_decref(want);
}

START_TEST(tool_values_and_configured)
{
    ck_assert(hermes_tool_key_valid("web") && hermes_tool_key_valid("rl") && !hermes_tool_key_valid("vision") &&
              !hermes_tool_key_valid("") && !hermes_tool_key_valid(NULL) && !hermes_tool_key_valid("WEB"));
    ck_assert(hermes_tool_uses_config("stt") && !hermes_tool_uses_config("messaging"));

    /* web: a self-hosted Firecrawl (URL, no key, no gateway) */
    json_t *v = tool_view("web", "web:\n  backend: firecrawl\n", "FIRECRAWL_API_URL=http://fc.local:3002\n");
    assert_json(json_object_get(v, "values"),
                "{\"provider\":\"firecrawl_self_hosted\",\"useGateway\":false,\"FIRECRAWL_API_URL\":\"http://fc.local:3002\"}",
                "web values");
    assert_json(json_object_get(v, "configured"),
                "{\"FIRECRAWL_API_KEY\":false,\"TAVILY_API_KEY\":false,\"EXA_API_KEY\":false,\"PARALLEL_API_KEY\":false,"
                "\"FIRECRAWL_API_URL\":true}",
                "web configured");
    json_decref(v);
    v = tool_view("web", "web: {backend: firecrawl, use_gateway: true}\n", "FIRECRAWL_API_URL=http://x\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "values"), "provider")), "firecrawl");
    json_decref(v);
    v = tool_view("web", "", "");
    assert_json(json_object_get(v, "values"), "{\"provider\":null,\"useGateway\":false,\"FIRECRAWL_API_URL\":null}", "web empty");
    json_decref(v);
    v = tool_view("web", "", "EXA_API_KEY=exa-secret-1\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "values"), "provider")), "exa");
    char *dump = json_dumps(v, 0);
    ck_assert_msg(strstr(dump, "exa-secret-1") == NULL, "%s", dump);
    free(dump);
    json_decref(v);

    /* image_gen */
    v = tool_view("image_gen", "", "FAL_KEY=fal-1\n");
    assert_json(json_object_get(v, "values"), "{\"provider\":\"fal\",\"model\":null,\"useGateway\":false}", "image defaults");
    assert_json(json_object_get(v, "configured"), "{\"FAL_KEY\":true,\"OPENAI_API_KEY\":false,\"XAI_API_KEY\":false}",
                "image configured");
    json_decref(v);
    v = tool_view("image_gen", "image_gen: {provider: openai, model: gpt-image-1, use_gateway: yes}\n", "");
    assert_json(json_object_get(v, "values"), "{\"provider\":\"openai\",\"model\":\"gpt-image-1\",\"useGateway\":true}",
                "image set");
    json_decref(v);

    /* stt: defaults, config first, .env as Hermes's fallback */
    v = tool_view("stt", "", "");
    assert_json(json_object_get(v, "values"),
                "{\"enabled\":true,\"provider\":\"local\",\"localModel\":null,\"localLanguage\":null,\"openaiModel\":null,"
                "\"openaiBaseUrl\":null,\"groqModel\":null,\"groqBaseUrl\":null,\"mistralModel\":null,\"xaiLanguage\":null,"
                "\"xaiBaseUrl\":null,\"xaiFormat\":true,\"xaiDiarize\":false}",
                "stt defaults");
    ck_assert_uint_eq(json_object_size(json_object_get(v, "configured")), 13);
    json_decref(v);
    v = tool_view("stt",
                  "stt:\n  enabled: false\n  provider: groq\n  local: {model: base, language: de}\n"
                  "  openai: {model: whisper-1}\n  xai: {format: false, diarize: true, language: fr}\n",
                  "STT_GROQ_MODEL=whisper-large-v3\nGROQ_BASE_URL=https://groq.example/v1\nSTT_OPENAI_MODEL=ignored\n"
                  "STT_OPENAI_BASE_URL=https://oa.example/v1\nHERMES_LOCAL_STT_COMMAND=whisper --x\nGROQ_API_KEY=gsk-1\n");
    assert_json(json_object_get(v, "values"),
                "{\"enabled\":false,\"provider\":\"groq\",\"localModel\":\"base\",\"localLanguage\":\"de\",\"openaiModel\":"
                "\"whisper-1\",\"openaiBaseUrl\":\"https://oa.example/v1\",\"groqModel\":\"whisper-large-v3\",\"groqBaseUrl\":"
                "\"https://groq.example/v1\",\"mistralModel\":null,\"xaiLanguage\":\"fr\",\"xaiBaseUrl\":null,\"xaiFormat\":false,"
                "\"xaiDiarize\":true}",
                "stt set");
    json_t *conf = json_object_get(v, "configured");
    ck_assert(json_is_true(json_object_get(conf, "GROQ_API_KEY")) &&
              json_is_true(json_object_get(conf, "HERMES_LOCAL_STT_COMMAND")) &&
              json_is_false(json_object_get(conf, "MISTRAL_API_KEY")));
    dump = json_dumps(v, 0);
    ck_assert_msg(strstr(dump, "gsk-1") == NULL && strstr(dump, "whisper --x") == NULL, "%s", dump);
    free(dump);
    json_decref(v);

    /* tts */
    v = tool_view("tts", "tts:\n  provider: openai\n  openai: {base_url: 'https://tts.example', model: tts-1, voice: alloy}\n",
                  "OPENAI_API_KEY=sk-o\n");
    assert_json(json_object_get(v, "values"),
                "{\"provider\":\"openai\",\"useGateway\":false,\"baseUrl\":\"https://tts.example\",\"model\":\"tts-1\","
                "\"voice\":\"alloy\"}",
                "tts");
    assert_json(json_object_get(v, "configured"),
                "{\"VOICE_TOOLS_OPENAI_KEY\":false,\"OPENAI_API_KEY\":true,\"ELEVENLABS_API_KEY\":false,\"MINIMAX_API_KEY\":false,"
                "\"MISTRAL_API_KEY\":false,\"GEMINI_API_KEY\":false,\"XAI_API_KEY\":false}",
                "tts configured");
    json_decref(v);

    /* messaging, homeassistant, rl: .env only */
    v = tool_view("messaging", "", "TELEGRAM_BOT_TOKEN=123:abc\nTELEGRAM_ALLOWED_USERS=1,2\nSLACK_HOME_CHANNEL=C1\n");
    assert_json(json_object_get(v, "values"),
                "{\"TELEGRAM_ALLOWED_USERS\":\"1,2\",\"TELEGRAM_HOME_CHANNEL\":null,\"DISCORD_ALLOWED_USERS\":null,"
                "\"DISCORD_HOME_CHANNEL\":null,\"SLACK_ALLOWED_USERS\":null,\"SLACK_HOME_CHANNEL\":\"C1\"}",
                "messaging");
    assert_json(json_object_get(v, "configured"),
                "{\"TELEGRAM_BOT_TOKEN\":true,\"DISCORD_BOT_TOKEN\":false,\"SLACK_BOT_TOKEN\":false,\"SLACK_APP_TOKEN\":false}",
                "messaging configured");
    json_decref(v);
    v = tool_view("homeassistant", "", "HASS_URL=http://ha.local:8123\nHASS_TOKEN=eyJ\n");
    assert_json(json_object_get(v, "values"), "{\"HASS_URL\":\"http://ha.local:8123\"}", "hass");
    assert_json(json_object_get(v, "configured"), "{\"HASS_TOKEN\":true}", "hass configured");
    json_decref(v);
    /* the user information of a URL is a credential */
    v = tool_view("homeassistant", "", "HASS_URL=https://admin:hunter2@ha.local:8123/x@y?u=a@b\n");
    assert_json(json_object_get(v, "values"), "{\"HASS_URL\":\"https://***@ha.local:8123/x@y?u=a@b\"}", "hass userinfo");
    json_decref(v);
    v = tool_view("rl", "", "WANDB_ENTITY=me\nWANDB_API_KEY=\n");
    assert_json(json_object_get(v, "values"), "{\"WANDB_ENTITY\":\"me\"}", "rl");
    assert_json(json_object_get(v, "configured"), "{\"TINKER_API_KEY\":false,\"WANDB_API_KEY\":false}", "rl configured");
    json_decref(v);
}
END_TEST

START_TEST(tool_readiness)
{
    static const struct {
        const char *key, *yaml, *env;
        bool auth, ready;
    } CASES[] = {
        {"web", "", "", false, false},
        {"web", "web: {use_gateway: true}\n", "", false, true},
        {"web", "web: {backend: tavily}\n", "EXA_API_KEY=x\n", false, false},
        {"web", "web: {backend: tavily}\n", "TAVILY_API_KEY=x\n", false, true},
        {"image_gen", "", "OPENAI_API_KEY=x\n", false, false},
        {"image_gen", "image_gen: {provider: openai-codex}\n", "", true, true},
        {"image_gen", "image_gen: {provider: openai-codex}\n", "", false, false},
        {"stt", "", "", false, true},
        {"stt", "stt: {provider: openai}\n", "VOICE_TOOLS_OPENAI_KEY=x\n", false, true},
        {"stt", "stt: {provider: local_command}\n", "", false, false},
        {"tts", "tts: {provider: elevenlabs}\n", "", false, false},
        {"tts", "tts: {provider: kittentts}\n", "", false, true},
        {"messaging", "", "SLACK_BOT_TOKEN=x\n", false, false},
        {"messaging", "", "SLACK_BOT_TOKEN=x\nSLACK_APP_TOKEN=y\n", false, true},
        {"homeassistant", "", "HASS_URL=http://h\n", false, false},
        {"rl", "", "TINKER_API_KEY=x\nWANDB_API_KEY=y\n", false, true},
        {"terminal", "", "", false, true},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); ++i) {
        json_t *c = yaml(CASES[i].yaml);
        hl_dotenv_t e = env_of(CASES[i].env);
        hermes_settings_src_t src = {.config = c, .env = &e, .has_auth = CASES[i].auth};
        ck_assert_msg(hermes_tool_ready(CASES[i].key, &src) == CASES[i].ready, "case %zu (%s)", i, CASES[i].key);
        hl_dotenv_dispose(&e);
        json_decref(c);
    }
}
END_TEST

/* Plans `values` for tool `key` against config text `cfg`: the error code or NULL, its message in msg. */
static const char *plan_tool(const char *key, const char *cfg, const char *values, hermes_edits_t *edits, hermes_env_changes_t *env,
                             char *msg, size_t msglen)
{
    json_t *c = yaml(cfg), *j = body(values);
    hl_result_t *res = hermes_tool_config_plan(key, j, c, edits, env);
    json_decref(c);
    json_decref(j);
    if (res == NULL)
        return NULL;
    snprintf(msg, msglen, "%s", res->message);
    const char *code = res->code;
    hl_result_free(res);
    return code;
}

START_TEST(tool_plan_validation)
{
    static const struct {
        const char *key, *values, *code, *msg;
    } CASES[] = {
        {"web", "{}", "profile_tool_config_update_empty", NULL},
        {"web", "{\"TAVILY_API_KEY\":\"\",\"EXA_API_KEY\":\"   \",\"PARALLEL_API_KEY\":null,\"PATH\":\"/x\"}",
         "profile_tool_config_update_empty", NULL},
        {"messaging", "{\"OPENAI_API_KEY\":\"sk\"}", "profile_tool_config_update_empty", NULL},
        {"web", "{\"provider\":\"google\"}", "profile_tool_config_invalid",
         "provider must be one of: firecrawl, firecrawl_self_hosted, tavily, exa, parallel"},
        {"web", "{\"backend\":7}", "profile_tool_config_invalid", "backend must be a string"},
        {"web", "{\"useGateway\":\"maybe\"}", "profile_tool_config_invalid", "useGateway must be true or false"},
        {"web", "{\"FIRECRAWL_API_URL\":\"ftp://x\"}", "profile_tool_config_invalid", "FIRECRAWL_API_URL must be an http(s) URL"},
        {"web", "{\"FIRECRAWL_API_URL\":\"http://\"}", "profile_tool_config_invalid", "FIRECRAWL_API_URL must be an http(s) URL"},
        {"web", "{\"TAVILY_API_KEY\":\"a\\nEVIL=1\"}", "profile_tool_config_invalid",
         "TAVILY_API_KEY must be a single line without control characters"},
        {"web", "{\"TAVILY_API_KEY\":true}", "profile_tool_config_invalid", "TAVILY_API_KEY must be a string"},
        {"image_gen", "{\"provider\":\"midjourney\"}", "profile_tool_config_invalid",
         "provider must be one of: fal, openai, xai, openai-codex"},
        {"stt", "{\"enabled\":\"sometimes\"}", "profile_tool_config_invalid", "enabled must be true or false"},
        {"stt", "{\"groq_base_url\":\"groq.com\"}", "profile_tool_config_invalid", "groq_base_url must be an http(s) URL"},
        {"stt", "{\"openaiBaseUrl\":\"https://a b\"}", "profile_tool_config_invalid", "openaiBaseUrl must be an http(s) URL"},
        {"tts", "{\"useGateway\":true,\"baseUrl\":\"https://tts.example\"}", "profile_tool_config_invalid",
         "baseUrl cannot be set while useGateway is true"},
        {"homeassistant", "{\"HASS_URL\":\"homeassistant.local\"}", "profile_tool_config_invalid",
         "HASS_URL must be an http(s) URL"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); ++i) {
        hermes_edits_t e = {0};
        hermes_env_changes_t env = {0};
        char msg[512] = "";
        const char *code = plan_tool(CASES[i].key, "", CASES[i].values, &e, &env, msg, sizeof(msg));
        ck_assert_msg(code != NULL && strcmp(code, CASES[i].code) == 0, "%s %s: code %s", CASES[i].key, CASES[i].values,
                      code ? code : "(none)");
        if (CASES[i].msg != NULL)
            ck_assert_msg(strcmp(msg, CASES[i].msg) == 0, "%s %s: message \"%s\"", CASES[i].key, CASES[i].values, msg);
        hermes_edits_dispose(&e);
        hermes_env_changes_dispose(&env);
    }
    /* the gateway already on in config.yaml: a base URL is refused too */
    hermes_edits_t e = {0};
    hermes_env_changes_t env = {0};
    char msg[512];
    ck_assert_str_eq(plan_tool("tts", "tts: {use_gateway: true}\n", "{\"baseUrl\":\"https://x\"}", &e, &env, msg, sizeof(msg)),
                     "profile_tool_config_invalid");
    hermes_edits_dispose(&e);
    hermes_env_changes_dispose(&env);
}
END_TEST

START_TEST(tool_plan_edits_and_env)
{
    hermes_edits_t e = {0};
    hermes_env_changes_t env = {0};
    char msg[512] = "";
    /* web: firecrawl_self_hosted is written as firecrawl; strings trimmed; unknown fields ignored */
    const char *code = plan_tool("web", "",
                                 "{\"values\":{}, \"provider\":\"Firecrawl_Self_Hosted\",\"use_gateway\":\"off\","
                                 "\"FIRECRAWL_API_URL\":\" http://fc:3002 \",\"TAVILY_API_KEY\":\"\",\"configured\":{}}",
                                 &e, &env, msg, sizeof(msg));
    ck_assert_msg(code == NULL, "%s", msg);
    char *out = apply(&e, "web:\n  backend: tavily # chosen\n");
    ck_assert_str_eq(out, "web:\n  backend: firecrawl # chosen\n  use_gateway: false\n");
    free(out);
    ck_assert_uint_eq(env.count, 1);
    ck_assert_str_eq(hermes_env_changes_get(&env, "FIRECRAWL_API_URL"), "http://fc:3002");
    hermes_edits_dispose(&e);
    hermes_env_changes_dispose(&env);

    /* stt: config fields, .env aliases, the .env name winning over its alias, null deletes a config key */
    code = plan_tool("stt", "",
                     "{\"enabled\":\"yes\",\"provider\":\"groq\",\"localModel\":\"small\",\"xaiFormat\":0,\"xaiDiarize\":\"1\","
                     "\"groqModel\":\"from-alias\",\"STT_GROQ_MODEL\":\"from-env-name\",\"localCommand\":\"whisper {in}\","
                     "\"GROQ_API_KEY\":\"gsk-2\",\"mistralModel\":null}",
                     &e, &env, msg, sizeof(msg));
    ck_assert_msg(code != NULL, "xaiFormat 0 is a number, not a boolean input");
    hermes_edits_dispose(&e);
    hermes_env_changes_dispose(&env);
    code = plan_tool("stt", "",
                     "{\"enabled\":\"yes\",\"provider\":\"groq\",\"localModel\":\"small\",\"xaiFormat\":\"0\",\"xaiDiarize\":\"1\","
                     "\"groqModel\":\"from-alias\",\"STT_GROQ_MODEL\":\"from-env-name\",\"localCommand\":\"whisper {in}\","
                     "\"GROQ_API_KEY\":\"gsk-2\",\"mistralModel\":null}",
                     &e, &env, msg, sizeof(msg));
    ck_assert_msg(code == NULL, "%s", msg);
    out = apply(&e, "stt:\n  mistral:\n    model: m1\n  enabled: false\n");
    ck_assert_str_eq(out, "stt:\n  mistral: {}\n  enabled: true\n  provider: groq\n  local:\n    model: small\n  xai:\n"
                          "    format: false\n    diarize: true\n");
    free(out);
    ck_assert_uint_eq(env.count, 3);
    ck_assert_str_eq(hermes_env_changes_get(&env, "STT_GROQ_MODEL"), "from-env-name");
    ck_assert_str_eq(hermes_env_changes_get(&env, "HERMES_LOCAL_STT_COMMAND"), "whisper {in}");
    ck_assert_str_eq(hermes_env_changes_get(&env, "GROQ_API_KEY"), "gsk-2");
    hermes_edits_dispose(&e);
    hermes_env_changes_dispose(&env);

    /* messaging: only its keys reach the .env */
    code = plan_tool("messaging", "", "{\"TELEGRAM_BOT_TOKEN\":\"1:x\",\"SLACK_ALLOWED_USERS\":\"U1,U2\",\"PATH\":\"/tmp\"}", &e,
                     &env, msg, sizeof(msg));
    ck_assert(code == NULL);
    ck_assert_uint_eq(e.count, 0);
    ck_assert_uint_eq(env.count, 2);
    ck_assert_ptr_null(hermes_env_changes_get(&env, "PATH"));
    hermes_edits_dispose(&e);
    hermes_env_changes_dispose(&env);
}
END_TEST

START_TEST(inputs)
{
    static const struct {
        const char *json;
        int want;
    } BOOLS[] = {{"true", 1},   {"false", 0},  {"\"1\"", 1}, {"\"0\"", 0}, {"\"Yes\"", 1}, {"\" off \"", 0},
                 {"\"ON\"", 1}, {"\"no\"", 0}, {"1", -1},    {"\"\"", -1}, {"null", -1},   {"\"truthy\"", -1}};
    for (size_t i = 0; i < sizeof(BOOLS) / sizeof(BOOLS[0]); ++i) {
        json_t *v = json_loads(BOOLS[i].json, JSON_DECODE_ANY, NULL);
        ck_assert_msg(hermes_bool_input(v) == BOOLS[i].want, "%s", BOOLS[i].json);
        json_decref(v);
    }
    ck_assert(hermes_http_url("http://a"));
    ck_assert(hermes_http_url("HTTPS://host:8443/v1?x=1"));
    ck_assert(!hermes_http_url("http://"));
    ck_assert(!hermes_http_url("http:///path"));
    ck_assert(!hermes_http_url("https://:80"));
    ck_assert(!hermes_http_url("ftp://a"));
    ck_assert(!hermes_http_url("http://a b"));
    ck_assert(!hermes_http_url("javascript:alert(1)"));
    ck_assert(!hermes_http_url(""));
    ck_assert(!hermes_http_url(NULL));
}
END_TEST

START_TEST(env_changes_replace_and_wipe)
{
    hermes_env_changes_t c = {0};
    for (int i = 0; i < 20; ++i) {
        char k[16];
        snprintf(k, sizeof(k), "K%d", i);
        hermes_env_changes_add(&c, k, "v");
    }
    hermes_env_changes_add(&c, "K3", "new");
    ck_assert_uint_eq(c.count, 20);
    ck_assert_str_eq(hermes_env_changes_get(&c, "K3"), "new");
    ck_assert_ptr_null(hermes_env_changes_get(&c, "K20"));
    hermes_env_changes_dispose(&c);
    ck_assert_uint_eq(c.count, 0);
    ck_assert_ptr_null(c.keys);
}
END_TEST

START_TEST(edits_report_errors_and_no_change)
{
    hermes_edits_t e = {0};
    static const char *const P[] = {"approvals", "mode"};
    hermes_edits_set(&e, P, 2, hl_yaml_string("manual"));
    char *out = apply(&e, "approvals:\n  mode: manual # same\n");
    ck_assert(!e.changed);
    ck_assert_str_eq(out, "approvals:\n  mode: manual # same\n");
    free(out);
    char err[256] = "";
    size_t len = 0;
    out = NULL;
    const char *bad = "approvals: [unclosed\n";
    ck_assert_int_eq(hermes_edits_apply(&e, bad, strlen(bad), &out, &len, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_null(out);
    hermes_edits_dispose(&e);
}
END_TEST

Suite *suite_hermes_settings(void)
{
    Suite *s = suite_create("hermes_settings");
    TCase *tc = tcase_create("hermes_settings");
    tcase_add_test(tc, catalogue_has_19_toolsets_in_order);
    tcase_add_test(tc, enabled_set_rules);
    tcase_add_test(tc, approvals_as_hermes_reads_them);
    tcase_add_test(tc, permissions_object);
    tcase_add_test(tc, permissions_validation);
    tcase_add_test(tc, permissions_edits_touch_only_their_lines);
    tcase_add_test(tc, tool_values_and_configured);
    tcase_add_test(tc, tool_readiness);
    tcase_add_test(tc, tool_plan_validation);
    tcase_add_test(tc, tool_plan_edits_and_env);
    tcase_add_test(tc, inputs);
    tcase_add_test(tc, env_changes_replace_and_wipe);
    tcase_add_test(tc, edits_report_errors_and_no_change);
    suite_add_tcase(s, tc);
    return s;
}
