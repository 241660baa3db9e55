/*
 * A Hermes profile's permissions and tool configs (issue 10; spec/API.md §10 "Permissions" and "Tool configs", STORAGE
 * §3.3 and §3.6, with GAPS §A 14, 15 and §B 12, 21 fixed): GET and PATCH /api/v1/profiles/:name/permissions, GET and PATCH
 * /api/v1/profiles/:name/tool-configs/:toolKey.
 *
 * Each test writes its own Hermes home (default with a commented config.yaml full of keys HermesLink does not know and a
 * .env with secrets; profiles work, bare (an empty folder), broken (config.yaml that is not YAML) and Legacy.Profile (a
 * name Hermes would not give: read-only)), starts a daemon with a paired device, and runs once over HTTP/1.1, h2c and h2
 * over TLS. Requests keep their path as written (CURLOPT_PATH_AS_IS). Covered:
 *  - GET shapes exactly: {"ok","permissions"} with every field and the 19 toolsets (labels, risks, enabled from
 *    platform_toolsets.api_server and stt.enabled, configured from .env), and each of the seven tool configs without
 *    "ok", values and configured booleans exactly; configPath relative to the Hermes root; no secret of any .env in any
 *    answer, no absolute path;
 *  - PATCH permissions: config.yaml changed only on the touched lines (the whole file compared with the expected text),
 *    comments, anchors and unknown keys byte for byte; the backup (relative backupPath, the file there, the old text in
 *    it); gatewayReloaded false, requiresGatewayReload true and a restart hint naming the profile's command, no
 *    reloadError; the same PATCH again changes nothing and says so; every validation message and code of API.md;
 *  - PATCH tool configs: config.yaml fields and .env keys of the tool only, other .env lines untouched, empty strings never
 *    clear a key, the .env mode kept (and 0600 for a new one), unknown fields ignored, the validation codes;
 *  - errors: an unknown toolKey → 400 profile_tool_config_invalid (not 500), a missing profile → 404, a config.yaml that is
 *    not YAML → 409 config_yaml_invalid with the files untouched, a .env that is a link out of the home → 409
 *    env_file_unsafe with its target untouched, traversal on :name (.., %2E%2E%2F, …) → 400
 *    invalid_profile_name with nothing on disk changed, a read-only profile readable but not writable, 401 without bearer.
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
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

/* ---- the Hermes home of a test ---- */

static const char DEFAULT_CONFIG[] = "# Hermes Agent configuration (fixture)\n"
                                     "model:\n"
                                     "  default: gpt-fixture      # the default model\n"
                                     "  provider: custom\n"
                                     "\n"
                                     "approvals:\n"
                                     "  mode: manual   # ask before dangerous commands\n"
                                     "  timeout: 60\n"
                                     "  cron_mode: deny\n"
                                     "\n"
                                     "terminal:\n"
                                     "  backend: local\n"
                                     "  cwd: \".\"\n"
                                     "  container_cpu: 1\n"
                                     "\n"
                                     "platform_toolsets:\n"
                                     "  cli: [hermes-cli]\n"
                                     "  api_server:\n"
                                     "    - hermes-api-server\n"
                                     "    - web\n"
                                     "    - terminal\n"
                                     "    - file\n"
                                     "    - my_plugin\n"
                                     "\n"
                                     "command_allowlist:\n"
                                     "  - ls\n"
                                     "  - git status\n"
                                     "\n"
                                     "web:\n"
                                     "  backend: firecrawl   # search backend\n"
                                     "stt:\n"
                                     "  enabled: true\n"
                                     "  provider: local\n"
                                     "# keys HermesLink does not know stay as they are\n"
                                     "future_feature:\n"
                                     "  nested: {a: 1, b: [x, y]}\n"
                                     "  shared: &shared {k: v}\n"
                                     "  again: *shared\n";

/* the secrets of the fixture: none may appear in any answer */
#define SECRET_OPENAI "sk-SECRET-openai-default-0001"
#define SECRET_TAVILY "tvly-SECRET-default-0002"
#define SECRET_API_SERVER "apikey-SECRET-default-0003"
#define SECRET_FAL "fal-SECRET-work-0004"
#define SECRET_ANTHROPIC "sk-ant-SECRET-work-0005"
#define SECRET_NEW_TAVILY "tvly-SECRET-new-0006"
#define SECRET_TELEGRAM "123456:SECRET-telegram-0007"
#define SECRET_HASS "eyJ-SECRET-hass-0008"
#define SECRET_GROQ "gsk-SECRET-groq-0009"
static const char *const SECRETS[] = {SECRET_OPENAI,     SECRET_TAVILY,   SECRET_API_SERVER, SECRET_FAL,  SECRET_ANTHROPIC,
                                      SECRET_NEW_TAVILY, SECRET_TELEGRAM, SECRET_HASS,       SECRET_GROQ, "SECRET"};

static const char DEFAULT_ENV[] = "# Hermes secrets (fixture)\n"
                                  "OPENAI_API_KEY=" SECRET_OPENAI "\n"
                                  "export TAVILY_API_KEY=\"" SECRET_TAVILY "\"\n"
                                  "API_SERVER_KEY='" SECRET_API_SERVER "'\n"
                                  "TELEGRAM_ALLOWED_USERS=111,222\n"
                                  "HASS_URL=http://homeassistant.local:8123\n"
                                  "\n"
                                  "# trailing comment\n";

static const char WORK_CONFIG[] = "# work profile\n"
                                  "model: gpt-work\n"
                                  "toolsets: [hermes-cli]\n";

static const char WORK_ENV[] = "ANTHROPIC_API_KEY=" SECRET_ANTHROPIC "\n"
                               "FAL_KEY=" SECRET_FAL "\n";

static const char BROKEN_CONFIG[] = "# not YAML any more\napprovals: [unclosed\n  mode: manual\n";

/* <hermes home>/<file> for default, <hermes home>/profiles/<profile>/<file> otherwise (file NULL: the folder). */
static char *fx_path(const char *profile, const char *file)
{
    const char *home = env.hermes_home;
    bool def = strcmp(profile, "default") == 0;
    if (file == NULL)
        return def ? hl_strdup(home) : hl_asprintf("%s/profiles/%s", home, profile);
    return def ? hl_asprintf("%s/%s", home, file) : hl_asprintf("%s/profiles/%s/%s", home, profile, file);
}

static void fx_mkdir(const char *profile)
{
    char *profiles = hl_asprintf("%s/profiles", env.hermes_home), *dir = fx_path(profile, NULL);
    ck_assert(mkdir(profiles, 0700) == 0 || errno == EEXIST);
    ck_assert(mkdir(dir, 0700) == 0 || errno == EEXIST);
    free(dir);
    free(profiles);
}

static void fx_write(const char *profile, const char *file, const char *text)
{
    if (strcmp(profile, "default") != 0)
        fx_mkdir(profile);
    char *path = fx_path(profile, file);
    hlt_write_file(path, text);
    free(path);
}

/* The text of a profile's file (caller frees), NULL when it does not exist. */
static char *fx_read(const char *profile, const char *file)
{
    char *path = fx_path(profile, file);
    char *text = hlt_read_file(path, NULL);
    free(path);
    return text;
}

static void assert_file(const char *profile, const char *file, const char *want)
{
    char *text = fx_read(profile, file);
    ck_assert_msg(text != NULL, "%s/%s is missing", profile, file);
    if (strcmp(text, want) != 0)
        ck_abort_msg("%s/%s over %s:\n--- got ---\n%s--- want ---\n%s---", profile, file, hlt_proto_name(P), text, want);
    free(text);
}

static mode_t fx_mode(const char *profile, const char *file)
{
    char *path = fx_path(profile, file);
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "stat %s", path);
    free(path);
    return st.st_mode & 07777;
}

/* The files of the tree under `dir` with their modes and contents, one string (for "nothing changed" checks). */
static char *tree_buf;
static size_t tree_len;
static int tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    char *text = flag == FTW_F ? hlt_read_file(path, NULL) : NULL;
    char *line = hl_asprintf("%s %o %d %s\n", path, st->st_mode & 07777, flag, text != NULL ? text : "");
    size_t n = strlen(line);
    tree_buf = hl_realloc(tree_buf, tree_len + n + 1);
    memcpy(tree_buf + tree_len, line, n + 1);
    tree_len += n;
    free(line);
    free(text);
    return 0;
}

static char *tree(const char *dir)
{
    tree_buf = hl_strdup("");
    tree_len = 0;
    ck_assert(nftw(dir, tree_entry, 16, FTW_PHYS) == 0);
    char *out = tree_buf;
    tree_buf = NULL;
    return out;
}

/* The names in the profile's folder that start with `prefix` (e.g. "config.yaml.bak."), joined with ','. */
static char *fx_backups(const char *profile, const char *prefix)
{
    char *dir = fx_path(profile, NULL);
    char *cmd = hl_asprintf("ls -A '%s' | grep '^%s' | sort | paste -sd, -", dir, prefix);
    FILE *f = popen(cmd, "r");
    ck_assert(f != NULL);
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    pclose(f);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    free(cmd);
    free(dir);
    return hl_strdup(buf);
}

static void fill_home(void)
{
    fx_write("default", "config.yaml", DEFAULT_CONFIG);
    fx_write("default", ".env", DEFAULT_ENV);
    fx_write("work", "config.yaml", WORK_CONFIG);
    fx_write("work", ".env", WORK_ENV);
    fx_mkdir("bare");
    fx_write("broken", "config.yaml", BROKEN_CONFIG);
    fx_write("broken", ".env", "HASS_TOKEN=" SECRET_HASS "\n");
    fx_write("Legacy.Profile", "config.yaml", "approvals: {mode: off}\n");
}

static void start(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    fill_home();
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

static void request(const char *bearer, const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, bearer, method, path, body, res);
    /* never a secret of a .env, never an absolute path of the user's disk */
    for (size_t i = 0; i < HL_ARRAY_SIZE(SECRETS); ++i)
        ck_assert_msg(strstr(res->body, SECRETS[i]) == NULL, "%s %s answers a secret (%s): %.500s", method, path, SECRETS[i],
                      res->body);
    ck_assert_msg(strstr(res->body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res->body);
}

/* A 200 JSON answer (no-store, CORS); with_ok: "ok": true in it, else no "ok" at all. The body (new reference). */
static json_t *call_as(const char *method, const char *path, const char *body, int with_ok)
{
    hlt_response_t res;
    request(TOK, method, path, body, &res);
    ck_assert_msg(res.status == 200, "%s %s %s over %s: expected 200, got %ld: %.600s", method, path, body != NULL ? body : "",
                  hlt_proto_name(P), res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    if (with_ok)
        ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: %.400s", method, path, res.body);
    else
        ck_assert_msg(json_object_get(res.json, "ok") == NULL, "%s %s must answer without \"ok\": %.400s", method, path, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

static json_t *call(const char *method, const char *path, const char *body)
{
    return call_as(method, path, body, 1);
}

/* An error answer with its exact status and code, and its message when `message` is not NULL. */
static void call_error_msg(const char *bearer, const char *method, const char *path, const char *body, long status,
                           const char *code, const char *message)
{
    hlt_response_t res;
    request(bearer, method, path, body, &res);
    if (res.status != status)
        ck_abort_msg("%s %s %s over %s: expected %ld %s, got %ld: %.500s", method, path, body != NULL ? body : "",
                     hlt_proto_name(P), status, code, res.status, res.body);
    hlt_assert_error(D, &res, status, code);
    if (message != NULL) {
        const char *got = json_string_value(json_object_get(json_object_get(res.json, "error"), "message"));
        ck_assert_msg(got != NULL && strcmp(got, message) == 0, "%s %s %s: message \"%s\", want \"%s\"", method, path,
                      body != NULL ? body : "", got != NULL ? got : "(none)", message);
    }
    hlt_response_free(&res);
}

#define FAIL(method, path, body, status, code) call_error_msg(TOK, method, path, body, status, code, NULL)
#define FAIL_MSG(method, path, body, status, code, msg) call_error_msg(TOK, method, path, body, status, code, msg)

static const char *perm_path(const char *name)
{
    return hltc_fmt("/api/v1/profiles/%s/permissions", name);
}

static const char *tool_path(const char *name, const char *key)
{
    return hltc_fmt("/api/v1/profiles/%s/tool-configs/%s", name, key);
}

/* Asserts that `got` equals the JSON text `want`, both shown on failure. */
static void assert_json(json_t *got, const char *want_text, const char *what)
{
    json_error_t e;
    json_t *want = json_loads(want_text, 0, &e);
    ck_assert_msg(want != NULL, "bad expected JSON for %s: %s", what, e.text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        ck_abort_msg("%s over %s:\n got %s\nwant %s", what, hlt_proto_name(P), g, w);
    }
    json_decref(want);
}

/* ---- the expected permissions ---- */

static const struct {
    const char *key, *label, *risk;
    int requires_config;
} CATALOGUE[] = {
    {"web", "网页搜索", "low", 1},
    {"vision", "图像理解", "low", 0},
    {"image_gen", "图像生成", "low", 1},
    {"browser", "浏览器", "medium", 0},
    {"skills", "技能", "medium", 0},
    {"memory", "长期记忆", "medium", 0},
    {"session_search", "会话搜索", "medium", 0},
    {"todo", "待办清单", "medium", 0},
    {"delegation", "任务委派", "medium", 0},
    {"terminal", "终端", "high", 0},
    {"file", "文件操作", "high", 0},
    {"code_execution", "代码执行", "high", 0},
    {"cronjob", "定时任务", "high", 0},
    {"messaging", "消息发送", "high", 1},
    {"homeassistant", "Home Assistant", "high", 1},
    {"stt", "语音转文字", "medium", 1},
    {"tts", "文字转语音", "medium", 1},
    {"moa", "多模型协作", "medium", 0},
    {"rl", "强化学习训练", "high", 1},
};

static const char *const DEFAULT_SET[] = {"web",       "browser", "terminal", "file",   "code_execution", "vision",
                                          "image_gen", "skills",  "todo",     "memory", "session_search", "delegation",
                                          "cronjob",   "stt"};

static int in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (strcmp(list[i], key) == 0)
            return 1;
    return 0;
}

/*
 * Asserts a Permissions object: exactly its seven fields; approvals, terminal and the allowlist equal to the JSON texts;
 * the 19 toolsets in catalogue order with exactly their seven fields, label, a Chinese description, risk,
 * requiresConfig, enabled = in `enabled` (comma-separated), configured = not requiring config or in `configured`.
 */
static void assert_permissions(json_t *p, const char *profile, const char *approvals, const char *terminal, const char *enabled,
                               int mcp, const char *configured, const char *allowlist)
{
    hlt_assert_keys(p, "Permissions", "profileName", "configPath", "approvals", "terminal", "toolsets", "commandAllowlist", NULL);
    ck_assert_str_eq(hlt_str(p, "profileName"), profile);
    ck_assert_str_eq(hlt_str(p, "configPath"),
                     strcmp(profile, "default") == 0 ? "config.yaml" : hltc_fmt("profiles/%s/config.yaml", profile));
    assert_json(json_object_get(p, "approvals"), approvals, "approvals");
    assert_json(json_object_get(p, "terminal"), terminal, "terminal");
    assert_json(json_object_get(p, "commandAllowlist"), allowlist, "commandAllowlist");
    json_t *ts = json_object_get(p, "toolsets");
    hlt_assert_keys(ts, "toolsets", "items", "mcpEnabled", NULL);
    ck_assert_msg(json_is_boolean(json_object_get(ts, "mcpEnabled")) && json_is_true(json_object_get(ts, "mcpEnabled")) == mcp,
                  "mcpEnabled");
    json_t *items = json_object_get(ts, "items");
    ck_assert_uint_eq(json_array_size(items), 19);
    char en[512], co[512];
    snprintf(en, sizeof(en), ",%s,", enabled);
    snprintf(co, sizeof(co), ",%s,", configured);
    for (size_t i = 0; i < 19; ++i) {
        json_t *it = json_array_get(items, i);
        hlt_assert_keys(it, "toolset", "key", "label", "description", "risk", "enabled", "requiresConfig", "configured", NULL);
        const char *key = CATALOGUE[i].key;
        ck_assert_str_eq(hlt_str(it, "key"), key);
        ck_assert_str_eq(hlt_str(it, "label"), CATALOGUE[i].label);
        ck_assert_str_eq(hlt_str(it, "risk"), CATALOGUE[i].risk);
        const char *desc = hlt_str(it, "description");
        ck_assert_msg(strlen(desc) >= 6 && (unsigned char)desc[0] >= 0x80, "%s: description \"%s\" is not Chinese text", key, desc);
        char needle[64];
        snprintf(needle, sizeof(needle), ",%s,", key);
        int want_enabled = strstr(en, needle) != NULL,
            want_configured = !CATALOGUE[i].requires_config || strstr(co, needle) != NULL;
        ck_assert_msg(json_is_boolean(json_object_get(it, "enabled")) &&
                          json_is_true(json_object_get(it, "enabled")) == want_enabled,
                      "%s: enabled should be %d", key, want_enabled);
        ck_assert_msg(json_is_true(json_object_get(it, "requiresConfig")) == CATALOGUE[i].requires_config &&
                          json_is_boolean(json_object_get(it, "requiresConfig")),
                      "%s: requiresConfig", key);
        ck_assert_msg(json_is_boolean(json_object_get(it, "configured")) &&
                          json_is_true(json_object_get(it, "configured")) == want_configured,
                      "%s: configured should be %d", key, want_configured);
    }
}

static char *default_set_csv(void)
{
    char buf[512] = "";
    for (size_t i = 0; i < HL_ARRAY_SIZE(DEFAULT_SET); ++i) {
        if (i > 0)
            strcat(buf, ",");
        strcat(buf, DEFAULT_SET[i]);
    }
    (void)in_list;
    return hl_strdup(buf);
}

/* GET …/permissions: the Permissions object (new reference), asserting the envelope {"ok","permissions"}. */
static json_t *get_permissions(const char *name)
{
    json_t *j = call("GET", perm_path(name), NULL);
    hlt_assert_keys(j, "permissions answer", "ok", "permissions", NULL);
    json_t *p = json_incref(json_object_get(j, "permissions"));
    json_decref(j);
    return p;
}

/*
 * Asserts the facts of a change and removes them from `obj`, leaving the view: backupPath (a relative path
 * "<dir>config.yaml.bak.<stamp>" naming a file that holds `old_text`, or null), requiresGatewayReload = changed, a restart
 * hint with the profile's command when changed (else null), gatewayReloaded false, no reloadError.
 */
static void take_change_facts(json_t *obj, const char *profile, const char *file, int changed, const char *old_text)
{
    json_t *backup = json_object_get(obj, "backupPath");
    const char *key = strcmp(file, "config.yaml") == 0 ? "backupPath" : "envBackupPath";
    backup = json_object_get(obj, key);
    ck_assert_msg(backup != NULL, "%s missing", key);
    if (old_text == NULL)
        ck_assert_msg(json_is_null(backup), "%s should be null", key);
    else {
        ck_assert_msg(json_is_string(backup), "%s should be a path", key);
        const char *b = json_string_value(backup);
        const char *dir = strcmp(profile, "default") == 0 ? "" : hltc_fmt("profiles/%s/", profile);
        const char *re =
            hltc_fmt("^%s%s\\.bak\\.[0-9]{8}T[0-9]{6}\\.[0-9]{6}Z$", dir, strcmp(file, ".env") == 0 ? "\\.env" : "config\\.yaml");
        ck_assert_msg(hlt_matches(b, re), "%s \"%s\" is not relative to the Hermes root (%s)", key, b, re);
        char *path = hl_asprintf("%s/%s", env.hermes_home, b), *text = hlt_read_file(path, NULL);
        ck_assert_msg(text != NULL && strcmp(text, old_text) == 0, "the backup %s does not hold the old text", b);
        free(text);
        free(path);
    }
    json_object_del(obj, key);
    if (strcmp(key, "envBackupPath") == 0)
        return;
    json_t *req = json_object_get(obj, "requiresGatewayReload"), *gw = json_object_get(obj, "gatewayReloaded"),
           *hint = json_object_get(obj, "restartHint");
    ck_assert_msg(json_is_boolean(req) && json_is_true(req) == changed, "requiresGatewayReload should be %d", changed);
    ck_assert_msg(json_is_false(gw), "gatewayReloaded must be false: HermesLink cannot reload Hermes");
    ck_assert_msg(json_object_get(obj, "reloadError") == NULL, "no reloadError: no reload was tried");
    if (changed) {
        ck_assert_msg(json_is_string(hint), "restartHint should be a string");
        const char *cmd =
            strcmp(profile, "default") == 0 ? "`hermes gateway restart`" : hltc_fmt("`hermes -p %s gateway restart`", profile);
        ck_assert_msg(strstr(json_string_value(hint), cmd) != NULL, "restartHint \"%s\" does not say %s", json_string_value(hint),
                      cmd);
    } else
        ck_assert_msg(json_is_null(hint), "restartHint should be null when nothing changed");
    json_object_del(obj, "requiresGatewayReload");
    json_object_del(obj, "gatewayReloaded");
    json_object_del(obj, "restartHint");
}

/* PATCH …/permissions: the permissions object of the answer (new reference), envelope {"ok","permissions"} asserted. */
static json_t *patch_permissions(const char *name, const char *body)
{
    json_t *j = call("PATCH", perm_path(name), body);
    hlt_assert_keys(j, "PATCH permissions answer", "ok", "permissions", NULL);
    json_t *p = json_incref(json_object_get(j, "permissions"));
    json_decref(j);
    return p;
}

/* ---- permissions ---- */

START_TEST(test_permissions_get)
{
    start(_i);
    char *defaults = default_set_csv();

    json_t *p = get_permissions("default");
    assert_permissions(p, "default", "{\"mode\":\"manual\",\"timeout\":60,\"cronMode\":\"deny\"}",
                       "{\"backend\":\"local\",\"cwd\":\".\",\"containerCpu\":1,\"containerMemory\":null,\"containerDisk\":null,"
                       "\"containerPersistent\":true}",
                       "web,terminal,file,stt", 1, "stt,tts", "[\"ls\",\"git status\"]");
    json_decref(p);

    /* work: nothing about permissions in its config.yaml: the defaults of STORAGE §3.2; FAL_KEY configures image_gen */
    p = get_permissions("work");
    assert_permissions(p, "work", "{\"mode\":\"manual\",\"timeout\":60,\"cronMode\":\"deny\"}",
                       "{\"backend\":\"local\",\"cwd\":\".\",\"containerCpu\":null,\"containerMemory\":null,\"containerDisk\":null,"
                       "\"containerPersistent\":true}",
                       defaults, 1, "image_gen,stt,tts", "[]");
    json_decref(p);

    /* bare: no config.yaml, no .env */
    p = get_permissions("bare");
    assert_permissions(p, "bare", "{\"mode\":\"manual\",\"timeout\":60,\"cronMode\":\"deny\"}",
                       "{\"backend\":\"local\",\"cwd\":\".\",\"containerCpu\":null,\"containerMemory\":null,\"containerDisk\":null,"
                       "\"containerPersistent\":true}",
                       defaults, 1, "stt,tts", "[]");
    json_decref(p);

    /* a folder Hermes would not have named is readable (mode: off is YAML's false, read as off) */
    p = get_permissions("Legacy.Profile");
    assert_json(json_object_get(p, "approvals"), "{\"mode\":\"off\",\"timeout\":60,\"cronMode\":\"deny\"}", "legacy approvals");
    json_decref(p);
    free(defaults);

    /* no bearer, a wrong one */
    call_error_msg(NULL, "GET", perm_path("default"), NULL, 401, "auth_required", NULL);
    call_error_msg("hlat_0000000000000000000000000000000000000000000000000000000000000000", "GET", perm_path("default"), NULL, 401,
                   "device_access_token_invalid", NULL);
    finish();
}
END_TEST

static const char DEFAULT_CONFIG_PATCHED[] = "# Hermes Agent configuration (fixture)\n"
                                             "model:\n"
                                             "  default: gpt-fixture      # the default model\n"
                                             "  provider: custom\n"
                                             "\n"
                                             "approvals:\n"
                                             "  mode: smart   # ask before dangerous commands\n"
                                             "  timeout: 120\n"
                                             "  cron_mode: approve\n"
                                             "\n"
                                             "terminal:\n"
                                             "  backend: docker\n"
                                             "  cwd: /srv/agent\n"
                                             "  container_cpu: 1\n"
                                             "  container_memory: 4096\n"
                                             "  container_persistent: false\n"
                                             "\n"
                                             "platform_toolsets:\n"
                                             "  cli: [hermes-cli]\n"
                                             "  api_server:\n"
                                             "    - web\n"
                                             "    - browser\n"
                                             "    - terminal\n"
                                             "    - my_plugin\n"
                                             "    - no_mcp\n"
                                             "\n"
                                             "command_allowlist:\n"
                                             "  - ls\n"
                                             "  - git status\n"
                                             "\n"
                                             "web:\n"
                                             "  backend: firecrawl   # search backend\n"
                                             "stt:\n"
                                             "  enabled: false\n"
                                             "  provider: local\n"
                                             "# keys HermesLink does not know stay as they are\n"
                                             "future_feature:\n"
                                             "  nested: {a: 1, b: [x, y]}\n"
                                             "  shared: &shared {k: v}\n"
                                             "  again: *shared\n";

static const char PATCH_ALL[] = "{\"approvals\":{\"mode\":\"smart\",\"timeout\":120,\"cronMode\":\"approve\"},"
                                "\"terminal\":{\"backend\":\"docker\",\"cwd\":\"/srv/agent\",\"containerMemory\":4096,"
                                "\"containerPersistent\":false},"
                                "\"toolsets\":{\"enabledToolsets\":[\"browser\",\"web\",\"terminal\"],\"mcpEnabled\":false}}";

START_TEST(test_permissions_patch)
{
    start(_i);
    char *env_before = fx_read("default", ".env");

    json_t *p = patch_permissions("default", PATCH_ALL);
    take_change_facts(p, "default", "config.yaml", 1, DEFAULT_CONFIG);
    assert_permissions(p, "default", "{\"mode\":\"smart\",\"timeout\":120,\"cronMode\":\"approve\"}",
                       "{\"backend\":\"docker\",\"cwd\":\"/srv/agent\",\"containerCpu\":1,\"containerMemory\":4096,"
                       "\"containerDisk\":null,\"containerPersistent\":false}",
                       "web,browser,terminal", 0, "stt,tts", "[\"ls\",\"git status\"]");
    /* only the touched lines changed: the whole file as expected, one backup, .env untouched */
    assert_file("default", "config.yaml", DEFAULT_CONFIG_PATCHED);
    assert_file("default", ".env", env_before);
    char *backups = fx_backups("default", "config.yaml.bak.");
    ck_assert_msg(hlt_count(backups, ",") == 0 && strlen(backups) > 0, "one backup: %s", backups);
    free(backups);

    /* a GET shows the same */
    json_t *g = get_permissions("default");
    ck_assert_msg(json_equal(g, p), "GET after PATCH differs from the PATCH answer");
    json_decref(g);
    json_decref(p);

    /* the same again: nothing changes, nothing to restart, no backup */
    p = patch_permissions("default", PATCH_ALL);
    take_change_facts(p, "default", "config.yaml", 0, NULL);
    json_decref(p);
    assert_file("default", "config.yaml", DEFAULT_CONFIG_PATCHED);
    backups = fx_backups("default", "config.yaml.bak.");
    ck_assert_msg(hlt_count(backups, ",") == 0, "still one backup: %s", backups);
    free(backups);

    /* the other spellings; a container size back to Hermes's default with null; stt back on, MCP back on */
    p = patch_permissions("default", "{\"approvals\":{\"approval_mode\":\"off\",\"cron_mode\":\"deny\"},"
                                     "\"terminal\":{\"container_cpu\":null,\"container_disk\":20480,\"container_persistent\":true},"
                                     "\"toolsets\":{\"enabled_toolsets\":[\"web\",\"browser\",\"terminal\",\"stt\"],"
                                     "\"mcp_enabled\":true}}");
    take_change_facts(p, "default", "config.yaml", 1, DEFAULT_CONFIG_PATCHED);
    assert_permissions(p, "default", "{\"mode\":\"off\",\"timeout\":120,\"cronMode\":\"deny\"}",
                       "{\"backend\":\"docker\",\"cwd\":\"/srv/agent\",\"containerCpu\":null,\"containerMemory\":4096,"
                       "\"containerDisk\":20480,\"containerPersistent\":true}",
                       "web,browser,terminal,stt", 1, "stt,tts", "[\"ls\",\"git status\"]");
    json_decref(p);
    char *text = fx_read("default", "config.yaml");
    ck_assert_msg(strstr(text, "  mode: \"off\"   # ask before dangerous commands\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "container_cpu") == NULL && strstr(text, "  container_disk: 20480\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "    - my_plugin\n\n") != NULL && strstr(text, "no_mcp") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "# keys HermesLink does not know stay as they are\nfuture_feature:\n  nested: {a: 1, b: [x, y]}\n"
                               "  shared: &shared {k: v}\n  again: *shared\n") != NULL,
                  "%s", text);
    free(text);

    /* work: a new approvals block; the hint names the profile; its backup lies in its folder */
    p = patch_permissions("work", "{\"approvals\":{\"approvalMode\":\"manual\"}}");
    take_change_facts(p, "work", "config.yaml", 1, WORK_CONFIG);
    json_decref(p);
    assert_file("work", "config.yaml", "# work profile\nmodel: gpt-work\ntoolsets: [hermes-cli]\napprovals:\n  mode: manual\n");

    /* bare: config.yaml made (0600), no backup */
    p = patch_permissions("bare", "{\"terminal\":{\"cwd\":\"~/projects\"}}");
    take_change_facts(p, "bare", "config.yaml", 1, NULL);
    json_decref(p);
    assert_file("bare", "config.yaml", "terminal:\n  cwd: ~/projects\n");
    ck_assert_uint_eq(fx_mode("bare", "config.yaml"), 0600);

    /* the mode of config.yaml is kept */
    char *path = fx_path("work", "config.yaml");
    ck_assert(chmod(path, 0640) == 0);
    free(path);
    p = patch_permissions("work", "{\"approvals\":{\"timeout\":30}}");
    json_decref(p);
    ck_assert_uint_eq(fx_mode("work", "config.yaml"), 0640);
    free(env_before);
    finish();
}
END_TEST

START_TEST(test_permissions_errors)
{
    start(_i);
    static const struct {
        const char *body, *code, *msg;
    } CASES[] = {
        {"{}", "profile_permissions_update_empty", NULL},
        {"", "profile_permissions_update_empty", NULL},
        {"{\"approval\":{\"mode\":\"off\"}}", "profile_permissions_update_empty", NULL},
        {"[1]", "profile_permissions_invalid", NULL},
        {"{\"approvals\":\"off\"}", "profile_permissions_invalid", "approvals must be an object"},
        {"{\"terminal\":[]}", "profile_permissions_invalid", "terminal must be an object"},
        {"{\"toolsets\":true}", "profile_permissions_invalid", "toolsets must be an object"},
        {"{\"approvals\":{\"mode\":\"always\"}}", "profile_permissions_invalid", "approvals.mode must be manual, smart or off"},
        {"{\"approvals\":{\"cronMode\":\"yes\"}}", "profile_permissions_invalid", "approvals.cron_mode must be deny or approve"},
        {"{\"approvals\":{\"timeout\":\"60\"}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"approvals\":{\"timeout\":-5}}", "profile_permissions_invalid", "approvals.timeout must be a positive integer"},
        {"{\"terminal\":{\"backend\":\"podman\"}}", "profile_permissions_invalid", "terminal.backend is not supported"},
        {"{\"terminal\":{\"cwd\":\"\"}}", "profile_permissions_invalid", "terminal.cwd cannot be empty"},
        {"{\"terminal\":{\"containerCpu\":0.5}}", "profile_permissions_invalid",
         "terminal.container_cpu must be a positive integer"},
        {"{\"terminal\":{\"containerMemory\":\"1g\"}}", "profile_permissions_invalid",
         "terminal.container_memory must be a positive integer"},
        {"{\"terminal\":{\"container_disk\":0}}", "profile_permissions_invalid",
         "terminal.container_disk must be a positive integer"},
        {"{\"toolsets\":{\"enabledToolsets\":[\"web\",\"shell\"]}}", "profile_permissions_invalid", "unknown toolset: shell"},
        {"{\"toolsets\":{\"mcpEnabled\":1}}", "profile_permissions_invalid", "toolsets.mcp_enabled must be true or false"},
        /* valid approvals and an invalid terminal: nothing written */
        {"{\"approvals\":{\"mode\":\"off\"},\"terminal\":{\"backend\":\"vm\"}}", "profile_permissions_invalid",
         "terminal.backend is not supported"},
    };
    char *before = tree(env.hermes_home);
    for (size_t i = 0; i < HL_ARRAY_SIZE(CASES); ++i)
        FAIL_MSG("PATCH", perm_path("default"), CASES[i].body[0] != '\0' ? CASES[i].body : NULL, 400, CASES[i].code, CASES[i].msg);
    FAIL("PATCH", perm_path("default"), "{not json", 400, "invalid_json");

    /* a missing profile, a read-only one */
    FAIL("GET", perm_path("ghost"), NULL, 404, "profile_not_found");
    FAIL("PATCH", perm_path("ghost"), "{\"approvals\":{\"mode\":\"off\"}}", 404, "profile_not_found");
    FAIL("PATCH", perm_path("Legacy.Profile"), "{\"approvals\":{\"mode\":\"manual\"}}", 400, "invalid_profile_name");

    /* config.yaml that is not YAML: 409, on a read and on a write, the file untouched */
    FAIL("GET", perm_path("broken"), NULL, 409, "config_yaml_invalid");
    FAIL("PATCH", perm_path("broken"), "{\"approvals\":{\"mode\":\"off\"}}", 409, "config_yaml_invalid");
    char *after = tree(env.hermes_home);
    ck_assert_msg(strcmp(before, after) == 0, "the Hermes home changed:\n%s\n---\n%s", before, after);
    free(after);
    free(before);
    assert_file("broken", "config.yaml", BROKEN_CONFIG);
    ck_assert_msg(access(hltc_fmt("%s/profiles/ghost", env.hermes_home), F_OK) != 0, "a missing profile's folder was made");
    finish();
}
END_TEST

/* ---- tool configs ---- */

/* GET …/tool-configs/:key: the config object (no "ok"), with exactly its five fields, name, path and key checked. */
static json_t *get_tool(const char *name, const char *key)
{
    json_t *v = call_as("GET", tool_path(name, key), NULL, 0);
    hlt_assert_keys(v, "tool config", "profileName", "configPath", "toolKey", "values", "configured", NULL);
    ck_assert_str_eq(hlt_str(v, "profileName"), name);
    ck_assert_str_eq(hlt_str(v, "configPath"),
                     strcmp(name, "default") == 0 ? "config.yaml" : hltc_fmt("profiles/%s/config.yaml", name));
    ck_assert_str_eq(hlt_str(v, "toolKey"), key);
    return v;
}

static void assert_tool(const char *name, const char *key, const char *values, const char *configured)
{
    json_t *v = get_tool(name, key);
    assert_json(json_object_get(v, "values"), values, hltc_fmt("%s values of %s", key, name));
    assert_json(json_object_get(v, "configured"), configured, hltc_fmt("%s configured of %s", key, name));
    json_decref(v);
}

START_TEST(test_tool_configs_get)
{
    start(_i);
    assert_tool("default", "web", "{\"provider\":\"firecrawl\",\"useGateway\":false,\"FIRECRAWL_API_URL\":null}",
                "{\"FIRECRAWL_API_KEY\":false,\"TAVILY_API_KEY\":true,\"EXA_API_KEY\":false,\"PARALLEL_API_KEY\":false,"
                "\"FIRECRAWL_API_URL\":false}");
    assert_tool("default", "image_gen", "{\"provider\":\"fal\",\"model\":null,\"useGateway\":false}",
                "{\"FAL_KEY\":false,\"OPENAI_API_KEY\":true,\"XAI_API_KEY\":false}");
    assert_tool(
        "default", "stt",
        "{\"enabled\":true,\"provider\":\"local\",\"localModel\":null,\"localLanguage\":null,\"openaiModel\":null,"
        "\"openaiBaseUrl\":null,\"groqModel\":null,\"groqBaseUrl\":null,\"mistralModel\":null,\"xaiLanguage\":null,"
        "\"xaiBaseUrl\":null,\"xaiFormat\":true,\"xaiDiarize\":false}",
        "{\"GROQ_API_KEY\":false,\"MISTRAL_API_KEY\":false,\"XAI_API_KEY\":false,\"HERMES_LOCAL_STT_COMMAND\":false,"
        "\"HERMES_LOCAL_STT_LANGUAGE\":false,\"STT_GROQ_MODEL\":false,\"STT_OPENAI_MODEL\":false,\"STT_MISTRAL_MODEL\":false,"
        "\"STT_OPENAI_BASE_URL\":false,\"GROQ_BASE_URL\":false,\"XAI_STT_BASE_URL\":false,\"VOICE_TOOLS_OPENAI_KEY\":false,"
        "\"OPENAI_API_KEY\":true}");
    assert_tool("default", "tts", "{\"provider\":\"edge\",\"useGateway\":false,\"baseUrl\":null,\"model\":null,\"voice\":null}",
                "{\"VOICE_TOOLS_OPENAI_KEY\":false,\"OPENAI_API_KEY\":true,\"ELEVENLABS_API_KEY\":false,\"MINIMAX_API_KEY\":false,"
                "\"MISTRAL_API_KEY\":false,\"GEMINI_API_KEY\":false,\"XAI_API_KEY\":false}");
    assert_tool("default", "messaging",
                "{\"TELEGRAM_ALLOWED_USERS\":\"111,222\",\"TELEGRAM_HOME_CHANNEL\":null,\"DISCORD_ALLOWED_USERS\":null,"
                "\"DISCORD_HOME_CHANNEL\":null,\"SLACK_ALLOWED_USERS\":null,\"SLACK_HOME_CHANNEL\":null}",
                "{\"TELEGRAM_BOT_TOKEN\":false,\"DISCORD_BOT_TOKEN\":false,\"SLACK_BOT_TOKEN\":false,\"SLACK_APP_TOKEN\":false}");
    assert_tool("default", "homeassistant", "{\"HASS_URL\":\"http://homeassistant.local:8123\"}", "{\"HASS_TOKEN\":false}");
    assert_tool("default", "rl", "{\"WANDB_ENTITY\":null}", "{\"TINKER_API_KEY\":false,\"WANDB_API_KEY\":false}");
    assert_tool("work", "image_gen", "{\"provider\":\"fal\",\"model\":null,\"useGateway\":false}",
                "{\"FAL_KEY\":true,\"OPENAI_API_KEY\":false,\"XAI_API_KEY\":false}");
    assert_tool("bare", "web", "{\"provider\":null,\"useGateway\":false,\"FIRECRAWL_API_URL\":null}",
                "{\"FIRECRAWL_API_KEY\":false,\"TAVILY_API_KEY\":false,\"EXA_API_KEY\":false,\"PARALLEL_API_KEY\":false,"
                "\"FIRECRAWL_API_URL\":false}");
    /* .env-only tools do not need config.yaml; the others do */
    assert_tool("broken", "homeassistant", "{\"HASS_URL\":null}", "{\"HASS_TOKEN\":true}");
    FAIL("GET", tool_path("broken", "web"), NULL, 409, "config_yaml_invalid");
    assert_tool("Legacy.Profile", "rl", "{\"WANDB_ENTITY\":null}", "{\"TINKER_API_KEY\":false,\"WANDB_API_KEY\":false}");

    /* an unknown key is 400 (not 500), before the profile is looked at; a missing profile 404 */
    static const char *const BAD_KEYS[] = {"vision", "WEB", "web_", "image-gen", "..", "%2E%2E", "..%2F..%2Fconfig.yaml", "a%2Fb"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_KEYS); ++i) {
        FAIL("GET", tool_path("default", BAD_KEYS[i]), NULL, 400, "profile_tool_config_invalid");
        FAIL("PATCH", tool_path("default", BAD_KEYS[i]), "{\"values\":{\"HASS_TOKEN\":\"x\"}}", 400, "profile_tool_config_invalid");
        FAIL("GET", tool_path("ghost", BAD_KEYS[i]), NULL, 400, "profile_tool_config_invalid");
    }
    /* a NUL in a path parameter is refused by the router itself */
    FAIL("GET", tool_path("default", "web%00"), NULL, 400, "invalid_path");
    FAIL_MSG("GET", tool_path("default", "vision"), NULL, 400, "profile_tool_config_invalid",
             "unsupported tool config \"vision\" (web, image_gen, stt, tts, messaging, homeassistant or rl)");
    FAIL("GET", tool_path("ghost", "web"), NULL, 404, "profile_not_found");
    FAIL("PATCH", tool_path("ghost", "rl"), "{\"WANDB_ENTITY\":\"me\"}", 404, "profile_not_found");
    call_error_msg(NULL, "GET", tool_path("default", "web"), NULL, 401, "auth_required", NULL);
    finish();
}
END_TEST

/* PATCH …/tool-configs/:key: the "config" object of the answer (new reference), envelope {"ok","config"} asserted. */
static json_t *patch_tool(const char *name, const char *key, const char *body)
{
    json_t *j = call("PATCH", tool_path(name, key), body);
    hlt_assert_keys(j, "PATCH tool config answer", "ok", "config", NULL);
    json_t *v = json_incref(json_object_get(j, "config"));
    json_decref(j);
    hlt_assert_keys(v, "changed tool config", "profileName", "configPath", "toolKey", "values", "configured", "backupPath",
                    "envBackupPath", "requiresGatewayReload", "restartHint", "gatewayReloaded", NULL);
    return v;
}

START_TEST(test_tool_configs_patch)
{
    start(_i);
    char *env_path = fx_path("default", ".env");
    ck_assert(chmod(env_path, 0640) == 0);

    /* web: config.yaml's web block and three .env keys; an empty key is left alone, unknown fields ignored */
    json_t *v = patch_tool("default", "web",
                           "{\"values\":{\"provider\":\"tavily\",\"useGateway\":\"no\",\"TAVILY_API_KEY\":\" " SECRET_NEW_TAVILY
                           " \",\"EXA_API_KEY\":\"\",\"PARALLEL_API_KEY\":null,\"FIRECRAWL_API_URL\":\"https://fc.example/v1\","
                           "\"OPENAI_API_KEY\":\"stolen\",\"PATH\":\"/tmp\",\"configured\":{\"EXA_API_KEY\":true}}}");
    take_change_facts(v, "default", "config.yaml", 1, DEFAULT_CONFIG);
    take_change_facts(v, "default", ".env", 1, DEFAULT_ENV);
    assert_json(json_object_get(v, "values"),
                "{\"provider\":\"tavily\",\"useGateway\":false,\"FIRECRAWL_API_URL\":\"https://fc.example/v1\"}", "web values");
    assert_json(json_object_get(v, "configured"),
                "{\"FIRECRAWL_API_KEY\":false,\"TAVILY_API_KEY\":true,\"EXA_API_KEY\":false,\"PARALLEL_API_KEY\":false,"
                "\"FIRECRAWL_API_URL\":true}",
                "web configured");
    json_decref(v);
    char *want_config = hl_strdup(DEFAULT_CONFIG);
    char *at = strstr(want_config, "  backend: firecrawl   # search backend\n");
    ck_assert_ptr_nonnull(at);
    char *tail = hl_strdup(at + strlen("  backend: firecrawl   # search backend\n"));
    *at = '\0';
    char *expected = hl_asprintf("%s  backend: tavily   # search backend\n  use_gateway: false\n%s", want_config, tail);
    assert_file("default", "config.yaml", expected);
    free(expected);
    free(tail);
    free(want_config);
    assert_file("default", ".env",
                "# Hermes secrets (fixture)\n"
                "OPENAI_API_KEY=" SECRET_OPENAI "\n"
                "TAVILY_API_KEY=\"" SECRET_NEW_TAVILY "\"\n"
                "API_SERVER_KEY='" SECRET_API_SERVER "'\n"
                "TELEGRAM_ALLOWED_USERS=111,222\n"
                "HASS_URL=http://homeassistant.local:8123\n"
                "\n"
                "# trailing comment\n"
                "FIRECRAWL_API_URL=\"https://fc.example/v1\"\n");
    ck_assert_uint_eq(fx_mode("default", ".env"), 0640);

    /* messaging: the body itself as the values; .env only, config.yaml untouched and no new backup of it */
    char *config_before = fx_read("default", "config.yaml"), *env_before = fx_read("default", ".env");
    char *backups_before = fx_backups("default", "config.yaml.bak.");
    v = patch_tool("default", "messaging",
                   "{\"TELEGRAM_BOT_TOKEN\":\"" SECRET_TELEGRAM "\",\"TELEGRAM_HOME_CHANNEL\":\"-100123\","
                   "\"TELEGRAM_ALLOWED_USERS\":\"\",\"API_SERVER_KEY\":\"stolen\"}");
    take_change_facts(v, "default", "config.yaml", 1, NULL);
    take_change_facts(v, "default", ".env", 1, env_before);
    assert_json(json_object_get(v, "values"),
                "{\"TELEGRAM_ALLOWED_USERS\":\"111,222\",\"TELEGRAM_HOME_CHANNEL\":\"-100123\",\"DISCORD_ALLOWED_USERS\":null,"
                "\"DISCORD_HOME_CHANNEL\":null,\"SLACK_ALLOWED_USERS\":null,\"SLACK_HOME_CHANNEL\":null}",
                "messaging values");
    assert_json(json_object_get(v, "configured"),
                "{\"TELEGRAM_BOT_TOKEN\":true,\"DISCORD_BOT_TOKEN\":false,\"SLACK_BOT_TOKEN\":false,\"SLACK_APP_TOKEN\":false}",
                "messaging configured");
    json_decref(v);
    assert_file("default", "config.yaml", config_before);
    char *backups_after = fx_backups("default", "config.yaml.bak.");
    ck_assert_str_eq(backups_after, backups_before);
    free(backups_after);
    free(backups_before);
    char *want_env = hl_asprintf("%sTELEGRAM_BOT_TOKEN=\"%s\"\nTELEGRAM_HOME_CHANNEL=\"-100123\"\n", env_before, SECRET_TELEGRAM);
    assert_file("default", ".env", want_env);
    free(want_env);
    free(env_before);
    free(config_before);

    /* stt: the aliases of .env keys, config fields nested three deep */
    v = patch_tool("default", "stt",
                   "{\"values\":{\"provider\":\"groq\",\"groqModel\":\"whisper-large-v3\",\"GROQ_API_KEY\":\"" SECRET_GROQ "\","
                   "\"localLanguage\":\"zh\",\"xaiDiarize\":\"on\"}}");
    assert_json(json_object_get(v, "values"),
                "{\"enabled\":true,\"provider\":\"groq\",\"localModel\":null,\"localLanguage\":\"zh\",\"openaiModel\":null,"
                "\"openaiBaseUrl\":null,\"groqModel\":\"whisper-large-v3\",\"groqBaseUrl\":null,\"mistralModel\":null,"
                "\"xaiLanguage\":null,\"xaiBaseUrl\":null,\"xaiFormat\":true,\"xaiDiarize\":true}",
                "stt values");
    json_decref(v);
    char *text = fx_read("default", "config.yaml");
    ck_assert_msg(strstr(text, "stt:\n  enabled: true\n  provider: groq\n  local:\n    language: zh\n  xai:\n    diarize: true\n"
                               "# keys HermesLink does not know") != NULL,
                  "%s", text);
    free(text);
    text = fx_read("default", ".env");
    ck_assert_msg(strstr(text, "\nSTT_GROQ_MODEL=\"whisper-large-v3\"\nGROQ_API_KEY=\"" SECRET_GROQ "\"\n") != NULL, "%s", text);
    free(text);

    /* the permissions view sees the new keys: web (tavily), messaging (telegram) and stt (groq) configured */
    json_t *p = get_permissions("default");
    json_t *items = json_object_get(json_object_get(p, "toolsets"), "items");
    for (size_t i = 0; i < json_array_size(items); ++i) {
        json_t *it = json_array_get(items, i);
        const char *key = hlt_str(it, "key");
        if (strcmp(key, "web") == 0 || strcmp(key, "messaging") == 0 || strcmp(key, "stt") == 0)
            ck_assert_msg(json_is_true(json_object_get(it, "configured")), "%s should be configured", key);
    }
    json_decref(p);

    /* bare: a new .env (0600), no backup; homeassistant */
    v = patch_tool("bare", "homeassistant", "{\"HASS_URL\":\"http://ha.lan:8123\",\"HASS_TOKEN\":\"" SECRET_HASS "\"}");
    take_change_facts(v, "bare", ".env", 1, NULL);
    take_change_facts(v, "bare", "config.yaml", 1, NULL);
    json_decref(v);
    assert_file("bare", ".env", "HASS_URL=\"http://ha.lan:8123\"\nHASS_TOKEN=\"" SECRET_HASS "\"\n");
    ck_assert_uint_eq(fx_mode("bare", ".env"), 0600);
    ck_assert_msg(fx_read("bare", "config.yaml") == NULL, "config.yaml made for a .env-only tool");

    /* the same values again: nothing changes */
    v = patch_tool("bare", "homeassistant", "{\"HASS_URL\":\"http://ha.lan:8123\"}");
    take_change_facts(v, "bare", ".env", 0, NULL);
    take_change_facts(v, "bare", "config.yaml", 0, NULL);
    json_decref(v);

    /* work: image_gen and tts in config.yaml (made keys appended), the backup in its folder */
    v = patch_tool("work", "image_gen", "{\"provider\":\"openai\",\"model\":\"gpt-image-1\",\"useGateway\":true}");
    take_change_facts(v, "work", "config.yaml", 1, WORK_CONFIG);
    take_change_facts(v, "work", ".env", 1, NULL);
    assert_json(json_object_get(v, "values"), "{\"provider\":\"openai\",\"model\":\"gpt-image-1\",\"useGateway\":true}", "image");
    json_decref(v);
    v = patch_tool("work", "tts",
                   "{\"values\":{\"provider\":\"openai\",\"baseUrl\":\"https://tts.example/v1\",\"voice\":\"alloy\"}}");
    json_decref(v);
    assert_file(
        "work", "config.yaml",
        "# work profile\nmodel: gpt-work\ntoolsets: [hermes-cli]\nimage_gen:\n  provider: openai\n  model: gpt-image-1\n"
        "  use_gateway: true\ntts:\n  provider: openai\n  openai:\n    base_url: \"https://tts.example/v1\"\n    voice: alloy\n");
    assert_file("work", ".env", WORK_ENV);

    /* .env-only tools change .env even when config.yaml is not YAML, which stays untouched */
    v = patch_tool("broken", "rl", "{\"WANDB_ENTITY\":\"team\"}");
    json_decref(v);
    assert_file("broken", "config.yaml", BROKEN_CONFIG);
    assert_file("broken", ".env", "HASS_TOKEN=" SECRET_HASS "\nWANDB_ENTITY=\"team\"\n");
    free(env_path);
    finish();
}
END_TEST

START_TEST(test_tool_configs_errors)
{
    start(_i);
    static const struct {
        const char *key, *body, *code, *msg;
    } CASES[] = {
        {"web", "{}", "profile_tool_config_update_empty", NULL},
        {"web", NULL, "profile_tool_config_update_empty", NULL},
        {"web", "{\"values\":{}}", "profile_tool_config_update_empty", NULL},
        {"web", "{\"values\":{\"TAVILY_API_KEY\":\"\",\"EXA_API_KEY\":\"  \"}}", "profile_tool_config_update_empty", NULL},
        {"rl", "{\"OPENAI_API_KEY\":\"x\",\"PATH\":\"/tmp\",\"LD_PRELOAD\":\"/x.so\"}", "profile_tool_config_update_empty", NULL},
        {"web", "[\"TAVILY_API_KEY\"]", "profile_tool_config_invalid", NULL},
        {"web", "{\"provider\":\"bing\"}", "profile_tool_config_invalid",
         "provider must be one of: firecrawl, firecrawl_self_hosted, tavily, exa, parallel"},
        {"web", "{\"useGateway\":\"perhaps\"}", "profile_tool_config_invalid", "useGateway must be true or false"},
        {"web", "{\"FIRECRAWL_API_URL\":\"file:///etc/passwd\"}", "profile_tool_config_invalid",
         "FIRECRAWL_API_URL must be an http(s) URL"},
        {"web", "{\"TAVILY_API_KEY\":\"abc\\nAPI_SERVER_KEY=evil\"}", "profile_tool_config_invalid",
         "TAVILY_API_KEY must be a single line without control characters"},
        {"web", "{\"TAVILY_API_KEY\":12345}", "profile_tool_config_invalid", "TAVILY_API_KEY must be a string"},
        {"image_gen", "{\"provider\":\"dalle\"}", "profile_tool_config_invalid",
         "provider must be one of: fal, openai, xai, openai-codex"},
        {"stt", "{\"values\":{\"provider\":\"whisper\"}}", "profile_tool_config_invalid",
         "provider must be one of: local, local_command, groq, openai, mistral, xai"},
        {"stt", "{\"xaiFormat\":2}", "profile_tool_config_invalid", "xaiFormat must be true or false"},
        {"tts", "{\"provider\":\"say\"}", "profile_tool_config_invalid",
         "provider must be one of: edge, openai, elevenlabs, minimax, mistral, gemini, xai, neutts, kittentts"},
        {"tts", "{\"useGateway\":true,\"baseUrl\":\"https://x.example\"}", "profile_tool_config_invalid",
         "baseUrl cannot be set while useGateway is true"},
        {"homeassistant", "{\"HASS_URL\":\"ha.local\"}", "profile_tool_config_invalid", "HASS_URL must be an http(s) URL"},
        /* a valid field before an invalid one: nothing written */
        {"web", "{\"TAVILY_API_KEY\":\"fine\",\"provider\":\"bing\"}", "profile_tool_config_invalid", NULL},
    };
    char *before = tree(env.hermes_home);
    for (size_t i = 0; i < HL_ARRAY_SIZE(CASES); ++i)
        FAIL_MSG("PATCH", tool_path("default", CASES[i].key), CASES[i].body, 400, CASES[i].code, CASES[i].msg);
    FAIL("PATCH", tool_path("Legacy.Profile", "rl"), "{\"WANDB_ENTITY\":\"x\"}", 400, "invalid_profile_name");
    FAIL("PATCH", tool_path("broken", "web"), "{\"TAVILY_API_KEY\":\"x\"}", 409, "config_yaml_invalid");
    FAIL("PATCH", tool_path("broken", "stt"), "{\"enabled\":false}", 409, "config_yaml_invalid");
    char *after = tree(env.hermes_home);
    ck_assert_msg(strcmp(before, after) == 0, "the Hermes home changed:\n%s\n---\n%s", before, after);
    free(after);
    free(before);

    /* a .env that is a link out of the Hermes home is neither read nor written through */
    char *outside = hl_asprintf("%s/outside.env", env.dir), *link = fx_path("work", ".env");
    hlt_write_file(outside, "WANDB_ENTITY=outside\n");
    ck_assert(unlink(link) == 0 && symlink(outside, link) == 0);
    FAIL("GET", tool_path("work", "rl"), NULL, 409, "env_file_unsafe");
    FAIL("PATCH", tool_path("work", "rl"), "{\"WANDB_ENTITY\":\"inside\"}", 409, "env_file_unsafe");
    FAIL("GET", perm_path("work"), NULL, 409, "env_file_unsafe");
    char *text = hlt_read_file(outside, NULL);
    ck_assert_str_eq(text, "WANDB_ENTITY=outside\n");
    free(text);
    free(link);
    free(outside);
    finish();
}
END_TEST

/* ---- names that lead elsewhere ---- */

START_TEST(test_traversal)
{
    start(_i);
    /* a profile folder that is a link out of the home, and a secret beside the home */
    char *outside = hl_asprintf("%s/outside", env.dir);
    ck_assert(mkdir(outside, 0700) == 0);
    char *secret = hl_asprintf("%s/.env", outside);
    hlt_write_file(secret, "OPENAI_API_KEY=" SECRET_OPENAI "\n");
    char *link = hl_asprintf("%s/profiles/escape", env.hermes_home);
    ck_assert(symlink(outside, link) == 0);
    char *home_before = tree(env.hermes_home), *outside_before = tree(outside);

    static const char *const NAMES[] = {
        "..",     "%2E%2E", "%2e%2e%2f",       ".",      "%2E%2E%2F", "..%2F..%2Foutside", "%2E%2E%2Fwork", "work%2F..",
        "%2Fetc", "%2F",    "profiles%2Fwork", "escape", "-rf%20x"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i) {
        const char *n = NAMES[i];
        FAIL("GET", perm_path(n), NULL, 400, "invalid_profile_name");
        FAIL("PATCH", perm_path(n), "{\"approvals\":{\"mode\":\"off\"}}", 400, "invalid_profile_name");
        FAIL("GET", tool_path(n, "web"), NULL, 400, "invalid_profile_name");
        FAIL("PATCH", tool_path(n, "messaging"), "{\"TELEGRAM_BOT_TOKEN\":\"x\"}", 400, "invalid_profile_name");
    }
    FAIL("GET", perm_path("a%00b"), NULL, 400, "invalid_path");
    FAIL("PATCH", tool_path("work%00", "rl"), "{\"WANDB_ENTITY\":\"x\"}", 400, "invalid_path");
    char *home_after = tree(env.hermes_home), *outside_after = tree(outside);
    ck_assert_msg(strcmp(home_before, home_after) == 0, "the Hermes home changed");
    ck_assert_msg(strcmp(outside_before, outside_after) == 0, "a file outside the home changed");
    free(home_before);
    free(home_after);
    free(outside_before);
    free(outside_after);
    free(link);
    free(secret);
    free(outside);
    finish();
}
END_TEST

Suite *suite_profile_settings(void)
{
    Suite *s = suite_create("profile_settings");
    TCase *tc = tcase_create("profile_settings");
    tcase_set_timeout(tc, 120);
    size_t n = HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_permissions_get, 0, (int)n);
    tcase_add_loop_test(tc, test_permissions_patch, 0, (int)n);
    tcase_add_loop_test(tc, test_permissions_errors, 0, (int)n);
    tcase_add_loop_test(tc, test_tool_configs_get, 0, (int)n);
    tcase_add_loop_test(tc, test_tool_configs_patch, 0, (int)n);
    tcase_add_loop_test(tc, test_tool_configs_errors, 0, (int)n);
    tcase_add_loop_test(tc, test_traversal, 0, (int)n);
    suite_add_tcase(s, tc);
    return s;
}
