/*
 * A profile's permissions (spec/API.md §10, STORAGE §3.3): approvals, the terminal backend, the toolsets the API-server
 * platform may use and the command allowlist, from config.yaml; and the edits a PATCH makes. Values config.yaml leaves
 * out are shown as Hermes v0.20 fills them in (approvals smart with a 300 s timeout, spec UPSTREAM-HERMES §2.3), so
 * that the phone shows what Hermes will really do. The toolset list is rewritten only when what it enables changes, so a
 * PATCH that changes nothing leaves config.yaml alone.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hermes_settings.h"
#include "hl/common.h"

/* the largest integer a timeout or container size may be: what Hermes's int() and the container runtimes take safely */
#define MAX_SETTING 2147483647

const hermes_toolset_t hermes_toolsets[] = {
    {"web", "网页搜索", "搜索网页并抓取网页正文", "low", true},
    {"vision", "图像理解", "查看和分析图片内容", "low", false},
    {"image_gen", "图像生成", "根据文字描述生成图片", "low", true},
    {"browser", "浏览器", "打开网页、点击、填写表单并截图", "medium", false},
    {"skills", "技能", "查看、调用和管理技能", "medium", false},
    {"memory", "长期记忆", "读取和更新长期记忆（MEMORY.md、USER.md）", "medium", false},
    {"session_search", "会话搜索", "检索过去的会话记录", "medium", false},
    {"todo", "待办清单", "为当前任务规划和跟踪待办事项", "medium", false},
    {"delegation", "任务委派", "把子任务交给子代理并行处理", "medium", false},
    {"terminal", "终端", "在本机或容器中执行命令", "high", false},
    {"file", "文件操作", "读取、写入、修改和搜索文件", "high", false},
    {"code_execution", "代码执行", "运行 Python 脚本，并在脚本中调用其他工具", "high", false},
    {"cronjob", "定时任务", "创建、修改和删除定时任务", "high", false},
    {"messaging", "消息发送", "通过 Telegram、Discord、Slack 向外发送消息", "high", true},
    {"homeassistant", "Home Assistant", "查看和控制 Home Assistant 中的智能家居设备", "high", true},
    {"stt", "语音转文字", "把语音消息转写成文字", "medium", true},
    {"tts", "文字转语音", "把回复合成为语音", "medium", true},
    {"moa", "多模型协作", "让多个模型共同推理，回答复杂问题", "medium", false},
    {"rl", "强化学习训练", "启动和管理强化学习训练任务（Tinker、Weights & Biases）", "high", true},
};

const size_t hermes_toolset_count = HL_ARRAY_SIZE(hermes_toolsets);

/* Hermes's toolsets for the API server when platform_toolsets.api_server names none of the catalogue */
static const char *const DEFAULT_ENABLED[] = {"web",       "browser", "terminal", "file",   "code_execution", "vision",
                                              "image_gen", "skills",  "todo",     "memory", "session_search", "delegation",
                                              "cronjob"};

static const char *const BACKENDS[] = {"local", "ssh", "docker", "singularity", "modal", "daytona"};

int hermes_toolset_index(const char *key)
{
    for (size_t i = 0; key != NULL && i < hermes_toolset_count; ++i)
        if (strcmp(hermes_toolsets[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int stt_index(void)
{
    return hermes_toolset_index("stt");
}

static const json_t *get2(const json_t *config, const char *a, const char *b)
{
    return json_object_get(json_object_get(config, a), b);
}

/* platform_toolsets.api_server when it is a list, else NULL */
static const json_t *api_server_list(const json_t *config)
{
    const json_t *l = get2(config, "platform_toolsets", "api_server");
    return json_is_array(l) ? l : NULL;
}

static bool list_has(const json_t *list, const char *s)
{
    for (size_t i = 0; i < json_array_size(list); ++i) {
        const char *v = json_string_value(json_array_get(list, i));
        if (v != NULL && strcmp(v, s) == 0)
            return true;
    }
    return false;
}

static bool stt_enabled(const json_t *config)
{
    const json_t *v = get2(config, "stt", "enabled");
    return json_is_boolean(v) ? json_is_true(v) : true;
}

uint32_t hermes_toolsets_enabled(const json_t *config)
{
    const json_t *list = api_server_list(config);
    uint32_t bits = 0;
    int stt = stt_index();
    for (size_t i = 0; i < json_array_size(list); ++i) {
        int k = hermes_toolset_index(json_string_value(json_array_get(list, i)));
        if (k >= 0 && k != stt)
            bits |= 1u << k;
    }
    if (bits == 0)
        for (size_t i = 0; i < HL_ARRAY_SIZE(DEFAULT_ENABLED); ++i)
            bits |= 1u << hermes_toolset_index(DEFAULT_ENABLED[i]);
    if (stt_enabled(config))
        bits |= 1u << stt;
    return bits;
}

bool hermes_mcp_enabled(const json_t *config)
{
    return !list_has(api_server_list(config), "no_mcp");
}

const char *hermes_approval_mode(const json_t *config)
{
    const json_t *v = get2(config, "approvals", "mode");
    if (json_is_false(v))
        return "off";
    static const char *const MODES[] = {"manual", "smart", "off"};
    const char *s = json_string_value(v);
    for (size_t i = 0; s != NULL && i < HL_ARRAY_SIZE(MODES); ++i)
        if (strcasecmp(s, MODES[i]) == 0)
            return MODES[i];
    return HERMES_APPROVAL_MODE_DEFAULT;
}

const char *hermes_cron_mode(const json_t *config)
{
    const json_t *v = get2(config, "approvals", "cron_mode");
    if (json_is_false(v))
        return "approve";
    const char *s = json_string_value(v);
    if (s != NULL && (strcasecmp(s, "approve") == 0 || strcasecmp(s, "allow") == 0 || strcasecmp(s, "off") == 0))
        return "approve";
    return "deny";
}

/* a positive number as written, else null */
static json_t *positive_or_null(const json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return json_integer(json_integer_value(v));
    if (json_is_real(v) && json_real_value(v) > 0)
        return json_real(json_real_value(v));
    return json_null();
}

static json_t *string_or(const json_t *v, const char *def)
{
    const char *s = json_string_value(v);
    return json_string(s != NULL && s[0] != '\0' ? s : def);
}

json_t *hermes_permissions_json(const hermes_settings_src_t *src, const char *profile, const char *config_path)
{
    const json_t *config = src->config, *approvals = json_object_get(config, "approvals"),
                 *terminal = json_object_get(config, "terminal");
    const json_t *timeout = json_object_get(approvals, "timeout"), *persistent = json_object_get(terminal, "container_persistent");
    json_int_t t =
        json_is_integer(timeout) && json_integer_value(timeout) > 0 ? json_integer_value(timeout) : HERMES_APPROVAL_TIMEOUT_DEFAULT;
    uint32_t enabled = hermes_toolsets_enabled(config);
    json_t *items = json_array();
    for (size_t i = 0; i < hermes_toolset_count; ++i) {
        const hermes_toolset_t *ts = &hermes_toolsets[i];
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "key", ts->key, "label", ts->label,
                                               "description", ts->description, "risk", ts->risk, "enabled", (enabled >> i) & 1u,
                                               "requiresConfig", ts->requires_config, "configured",
                                               !ts->requires_config || hermes_tool_ready(ts->key, src)));
    }
    json_t *allow = json_array(), *list = json_object_get(config, "command_allowlist");
    for (size_t i = 0; i < json_array_size(list); ++i)
        if (json_is_string(json_array_get(list, i)))
            json_array_append(allow, json_array_get(list, i));
    return json_pack("{s:s, s:s, s:{s:s, s:I, s:s}, s:{s:o, s:o, s:o, s:o, s:o, s:b}, s:{s:o, s:b}, s:o}", "profileName", profile,
                     "configPath", config_path, "approvals", "mode", hermes_approval_mode(config), "timeout", t, "cronMode",
                     hermes_cron_mode(config), "terminal", "backend", string_or(json_object_get(terminal, "backend"), "local"),
                     "cwd", string_or(json_object_get(terminal, "cwd"), "."), "containerCpu",
                     positive_or_null(json_object_get(terminal, "container_cpu")), "containerMemory",
                     positive_or_null(json_object_get(terminal, "container_memory")), "containerDisk",
                     positive_or_null(json_object_get(terminal, "container_disk")), "containerPersistent",
                     json_is_boolean(persistent) ? json_is_true(persistent) : 1, "toolsets", "items", items, "mcpEnabled",
                     hermes_mcp_enabled(config), "commandAllowlist", allow);
}

/* ---- PATCH ---- */

static hl_result_t *invalid(const char *msg)
{
    return hl_result_error(HL_RESULT_INVALID, "profile_permissions_invalid", msg);
}

static hl_result_t *invalidf(const char *fmt, const char *arg)
{
    char *msg = hl_asprintf(fmt, arg);
    hl_result_t *res = invalid(msg);
    free(msg);
    return res;
}

/* The first of `names` present in `obj` (JSON null counts as absent), or NULL. */
static const json_t *field(const json_t *obj, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        const json_t *v = json_object_get(obj, names[i]);
        if (v != NULL && !json_is_null(v))
            return v;
    }
    return NULL;
}

#define FIELD(obj, ...) field(obj, (const char *const[]){__VA_ARGS__}, HL_ARRAY_SIZE(((const char *const[]){__VA_ARGS__})))

/* A JSON number that is a whole number from 1 to MAX_SETTING: 1 and *out, else 0. */
static bool positive_int(const json_t *v, json_int_t *out)
{
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return false;
    if (!(d >= 1 && d <= MAX_SETTING) || d != (double)(json_int_t)d)
        return false;
    *out = (json_int_t)d;
    return true;
}

/* The value of a one-of field: the matching choice (static), or NULL. */
static const char *choice(const json_t *v, const char *const *choices, size_t n)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s != NULL && i < n; ++i)
        if (strcasecmp(s, choices[i]) == 0)
            return choices[i];
    return NULL;
}

static hl_result_t *plan_approvals(const json_t *a, hermes_edits_t *edits)
{
    static const char *const MODES[] = {"manual", "smart", "off"}, *const CRON[] = {"deny", "approve"};
    const json_t *mode = FIELD(a, "mode", "approval_mode", "approvalMode"), *timeout = FIELD(a, "timeout"),
                 *cron = FIELD(a, "cron_mode", "cronMode");
    if (mode != NULL) {
        const char *m = choice(mode, MODES, HL_ARRAY_SIZE(MODES));
        if (m == NULL)
            return invalid("approvals.mode must be manual, smart or off");
        hermes_edits_set(edits, (const char *const[]){"approvals", "mode"}, 2, hl_yaml_string(m));
    }
    if (timeout != NULL) {
        json_int_t t;
        if (!positive_int(timeout, &t))
            return invalid("approvals.timeout must be a positive integer");
        hermes_edits_set(edits, (const char *const[]){"approvals", "timeout"}, 2, hl_yaml_int(t));
    }
    if (cron != NULL) {
        const char *c = choice(cron, CRON, HL_ARRAY_SIZE(CRON));
        if (c == NULL)
            return invalid("approvals.cron_mode must be deny or approve");
        hermes_edits_set(edits, (const char *const[]){"approvals", "cron_mode"}, 2, hl_yaml_string(c));
    }
    return NULL;
}

/* A directory for the terminal: a non-empty single line (blanks around dropped) of at most 4096 bytes. */
static hl_result_t *plan_cwd(const json_t *v, hermes_edits_t *edits)
{
    if (!json_is_string(v))
        return invalid("terminal.cwd must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        ++s;
        --n;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        --n;
    if (n == 0)
        return invalid("terminal.cwd cannot be empty");
    for (size_t i = 0; i < n; ++i)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return invalid("terminal.cwd must be a single line without control characters");
    if (n > 4096)
        return invalid("terminal.cwd is longer than 4096 bytes");
    char *cwd = hl_strndup(s, n);
    hermes_edits_set(edits, (const char *const[]){"terminal", "cwd"}, 2, hl_yaml_string(cwd));
    free(cwd);
    return NULL;
}

static hl_result_t *plan_terminal(const json_t *t, hermes_edits_t *edits)
{
    const json_t *backend = FIELD(t, "backend"), *cwd = FIELD(t, "cwd"),
                 *persistent = FIELD(t, "container_persistent", "containerPersistent");
    if (backend != NULL) {
        const char *b = choice(backend, BACKENDS, HL_ARRAY_SIZE(BACKENDS));
        if (b == NULL)
            return invalid("terminal.backend is not supported");
        hermes_edits_set(edits, (const char *const[]){"terminal", "backend"}, 2, hl_yaml_string(b));
    }
    hl_result_t *res;
    if (cwd != NULL && (res = plan_cwd(cwd, edits)) != NULL)
        return res;
    static const struct {
        const char *key, *camel;
    } SIZES[] = {{"container_cpu", "containerCpu"}, {"container_memory", "containerMemory"}, {"container_disk", "containerDisk"}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(SIZES); ++i) {
        const char *const path[] = {"terminal", SIZES[i].key};
        const json_t *v = json_object_get(t, SIZES[i].key);
        if (v == NULL)
            v = json_object_get(t, SIZES[i].camel);
        if (v == NULL)
            continue;
        json_int_t n;
        if (json_is_null(v))
            hermes_edits_delete(edits, path, 2); /* back to Hermes's default */
        else if (positive_int(v, &n))
            hermes_edits_set(edits, path, 2, hl_yaml_int(n));
        else
            return invalidf("terminal.%s must be a positive integer", SIZES[i].key);
    }
    if (persistent != NULL) {
        if (!json_is_boolean(persistent))
            return invalid("terminal.container_persistent must be true or false");
        hermes_edits_set(edits, (const char *const[]){"terminal", "container_persistent"}, 2,
                         hl_yaml_bool(json_is_true(persistent)));
    }
    return NULL;
}

/*
 * platform_toolsets.api_server for `enabled`: the catalogue toolsets but stt in catalogue order, the entries already there
 * that are neither catalogue toolsets, platform toolsets (hermes-*) nor the marker, then no_mcp when MCP is off.
 */
static void write_toolsets(const json_t *config, uint32_t enabled, bool mcp, hermes_edits_t *edits)
{
    const json_t *list = api_server_list(config);
    size_t n = 0, cap = hermes_toolset_count + json_array_size(list) + 1;
    const char **items = hl_calloc(cap, sizeof(*items));
    int stt = stt_index();
    for (size_t i = 0; i < hermes_toolset_count; ++i)
        if ((int)i != stt && ((enabled >> i) & 1u))
            items[n++] = hermes_toolsets[i].key;
    for (size_t i = 0; i < json_array_size(list); ++i) {
        const char *s = json_string_value(json_array_get(list, i));
        if (s == NULL || hermes_toolset_index(s) >= 0 || strncmp(s, "hermes-", 7) == 0 || strcmp(s, "no_mcp") == 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; ++k)
            seen = strcmp(items[k], s) == 0;
        if (!seen)
            items[n++] = s;
    }
    if (!mcp)
        items[n++] = "no_mcp";
    hermes_edits_strings(edits, (const char *const[]){"platform_toolsets", "api_server"}, 2, items, n);
    free(items);
}

static hl_result_t *plan_toolsets(const json_t *t, const json_t *config, hermes_edits_t *edits)
{
    const json_t *list = FIELD(t, "enabled_toolsets", "enabledToolsets", "enabled"), *mcp = FIELD(t, "mcp_enabled", "mcpEnabled");
    uint32_t now = hermes_toolsets_enabled(config), want = now;
    bool mcp_now = hermes_mcp_enabled(config), mcp_want = mcp_now;
    int stt = stt_index();
    if (list != NULL) {
        if (!json_is_array(list))
            return invalid("toolsets.enabled_toolsets must be an array of toolset keys");
        want = 0;
        for (size_t i = 0; i < json_array_size(list); ++i) {
            const json_t *item = json_array_get(list, i);
            if (!json_is_string(item))
                return invalid("toolsets.enabled_toolsets must be an array of toolset keys");
            int k = hermes_toolset_index(json_string_value(item));
            if (k < 0) {
                /* echo the key only when it is short and printable: it goes back to the client as is */
                const char *s = json_string_value(item);
                bool plain = json_string_length(item) <= 64;
                for (const char *p = s; plain && *p != '\0'; ++p)
                    plain = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
                return plain ? invalidf("unknown toolset: %s", s) : invalid("unknown toolset");
            }
            want |= 1u << k;
        }
        if ((want & ~(1u << stt)) == 0)
            return invalid("at least one toolset other than stt must stay enabled (Hermes falls back to its default set "
                           "when platform_toolsets.api_server names none)");
    }
    if (mcp != NULL) {
        if (!json_is_boolean(mcp))
            return invalid("toolsets.mcp_enabled must be true or false");
        mcp_want = json_is_true(mcp);
    }
    uint32_t others = ~(1u << stt);
    if ((want & others) != (now & others) || mcp_want != mcp_now)
        write_toolsets(config, want & others, mcp_want, edits);
    if (((want ^ now) >> stt) & 1u)
        hermes_edits_set(edits, (const char *const[]){"stt", "enabled"}, 2, hl_yaml_bool((want >> stt) & 1u));
    return NULL;
}

hl_result_t *hermes_permissions_plan(const json_t *body, const json_t *config, hermes_edits_t *edits)
{
    static const char *const PARTS[] = {"approvals", "terminal", "toolsets"};
    const json_t *parts[3];
    bool any = false;
    for (size_t i = 0; i < HL_ARRAY_SIZE(PARTS); ++i) {
        parts[i] = json_object_get(body, PARTS[i]);
        if (parts[i] != NULL && json_is_null(parts[i]))
            parts[i] = NULL;
        if (parts[i] != NULL && !json_is_object(parts[i]))
            return invalidf("%s must be an object", PARTS[i]);
        any |= parts[i] != NULL;
    }
    if (!any)
        return hl_result_error(HL_RESULT_INVALID, "profile_permissions_update_empty",
                               "Nothing to change: give approvals, terminal or toolsets");
    hl_result_t *res = NULL;
    if (parts[0] != NULL && (res = plan_approvals(parts[0], edits)) != NULL)
        return res;
    if (parts[1] != NULL && (res = plan_terminal(parts[1], edits)) != NULL)
        return res;
    if (parts[2] != NULL && (res = plan_toolsets(parts[2], config, edits)) != NULL)
        return res;
    return NULL;
}
