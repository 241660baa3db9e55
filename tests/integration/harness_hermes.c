/*
 * The fixture Hermes home of harness_hermes.h: its content (the tables below are the only copy of it) and the file
 * helpers of the suites that use it.
 */
#include "harness_hermes.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/common.h"

const char *const HLTH_PROFILES[3] = {"default", "art", "work"};

/* ---- the content ---- */

static const char DEFAULT_CONFIG[] =
    "# Hermes Agent configuration: the default profile (HermesLink test fixture).\n"
    "# Hermes rewrites this file with ruamel and keeps its comments; HermesLink must keep them too.\n"
    "\n"
    "model:\n"
    "  default: \"anthropic/claude-sonnet-4\"  # the model id, quoted\n"
    "  provider: openrouter\n"
    "\n"
    "# Approvals: manual | smart | off\n"
    "approvals:\n"
    "  mode: smart\n"
    "  timeout: 300\n"
    "  cron_mode: deny\n"
    "\n"
    "command_allowlist:\n"
    "  - git status\n"
    "  - \"ls -la\"\n"
    "\n"
    "memory:\n"
    "  memory_enabled: true\n"
    "  user_profile_enabled: true\n"
    "  memory_char_limit: 2200   # MEMORY.md\n"
    "  user_char_limit: 1375     # USER.md\n"
    "  provider: \"\"\n"
    "\n"
    "skills:\n"
    "  # turned off on every platform\n"
    "  disabled:\n"
    "    - arxiv-search\n"
    "\n"
    "terminal:\n"
    "  backend: local\n"
    "  cwd: \".\"\n"
    "\n"
    "platform_toolsets:\n"
    "  api_server:\n"
    "    - hermes-api-server\n"
    "\n"
    "# a block HermesLink does not know: kept as it is\n"
    "x_custom_block:\n"
    "  answer: 42\n";

static const char DEFAULT_ENV[] = "# default profile secrets (HermesLink test fixture)\n"
                                  "OPENROUTER_API_KEY=sk-or-fixture-default\n";

static const char WORK_CONFIG[] = "# Work profile (HermesLink test fixture)\n"
                                  "model:\n"
                                  "  default: gpt-4.1\n"
                                  "  provider: openai\n"
                                  "  base_url: https://api.openai.com/v1\n"
                                  "\n"
                                  "approvals:\n"
                                  "  mode: manual   # ask before every risky command\n"
                                  "  timeout: 60\n"
                                  "  cron_mode: approve\n"
                                  "\n"
                                  "skills:\n"
                                  "  disabled:\n"
                                  "    - git-blame\n"
                                  "\n"
                                  "platforms:\n"
                                  "  api_server:\n"
                                  "    enabled: true\n";

#define STR_(x) #x
#define STR(x) STR_(x)

static const char WORK_ENV[] = "# work profile: its own API server\n"
                               "API_SERVER_ENABLED=true\n"
                               "API_SERVER_HOST=127.0.0.1\n"
                               "API_SERVER_PORT=" STR(HLTH_WORK_API_PORT) "\n"
                                                                          "API_SERVER_KEY=" HLTH_WORK_API_KEY "\n"
                                                                          "export OPENAI_API_KEY=\"sk-fixture-work\"\n";

static const char ART_CONFIG[] = "# Art profile (HermesLink test fixture): the model as a plain string\n"
                                 "model: claude-3-5-haiku\n"
                                 "\n"
                                 "approvals:\n"
                                 "  mode: \"off\"\n";

static const char ART_ENV[] = "ANTHROPIC_API_KEY='sk-ant-fixture-art'\n"
                              "API_SERVER_PORT=" STR(HLTH_ART_API_PORT) "\n";

typedef struct st_fixed_file_t {
    const char *profile, *rel, *text;
} fixed_file_t;

static const fixed_file_t FIXED[] = {
    {"default", "config.yaml", DEFAULT_CONFIG},
    {"default", ".env", DEFAULT_ENV},
    {"default", "SOUL.md", "You are Hermes, a helpful assistant.\n"},
    {"work", "config.yaml", WORK_CONFIG},
    {"work", ".env", WORK_ENV},
    {"work", "SOUL.md", "You are a careful senior engineer.\n"},
    {"work", "skills/.bundled_manifest", "code-review:5d41402abc4b2a76b9719d911017c592\n"},
    {"art", "config.yaml", ART_CONFIG},
    {"art", ".env", ART_ENV},
};

typedef struct st_memory_t {
    const char *profile, *target, *file;
    const char *const *entries;
} memory_t;

static const char *const DEFAULT_MEMORY[] = {"The user's main machine is a Debian 12 laptop; the Hermes home is ~/.hermes.",
                                             "Prefer concise answers: code first, explanation after.", NULL};
static const char *const DEFAULT_USER[] = {"Name: Sam. Timezone: Europe/Paris.",
                                           "Speaks French and English; writes \xc2\xab guillemets \xc2\xbb.", NULL};
static const char *const WORK_MEMORY[] = {"Project Atlas ships on Fridays; the release branch is release/atlas.",
                                          "CI runs on the self-hosted runner ci-02; flaky test: test_upload_resume.",
                                          "The code review checklist lives in docs/REVIEW.md.", NULL};
static const char *const WORK_USER[] = {"Role: backend engineer on the Atlas team.", "Prefers British spelling in documents.",
                                        NULL};
static const char *const ART_MEMORY[] = {"Palette for the spring series:\n- ochre\n- teal\n- off-white",
                                         "Exports go to ~/Pictures/exports at 300 dpi.", NULL};
static const char *const ART_USER[] = {"Works mostly in Krita; tablet: Wacom Intuos.", NULL};

static const memory_t MEMORIES[] = {
    {"default", "memory", "memories/MEMORY.md", DEFAULT_MEMORY}, {"default", "user", "memories/USER.md", DEFAULT_USER},
    {"work", "memory", "memories/MEMORY.md", WORK_MEMORY},       {"work", "user", "memories/USER.md", WORK_USER},
    {"art", "memory", "memories/MEMORY.md", ART_MEMORY},         {"art", "user", "memories/USER.md", ART_USER},
};

/* description_in_body: the frontmatter has no description; the first body line is the description */
static const struct {
    hlth_skill_t s;
    int description_in_body;
} SKILLS[] = {
    {{"default", "arxiv-search", "research", "Search arXiv for papers on a topic and list the most relevant ones.",
      "research/arxiv-search", 0, 0},
     0},
    {{"default", "paper-summary", "research", "Summarise a paper section by section.", "research/paper-summary", 1, 0}, 0},
    {{"default", "quick-notes", NULL, "Keep short notes in a scratch file.", "quick-notes", 1, 0}, 0},
    {{"art", "image-prompt", "creative", "Write prompts for image generation models.", "creative/image-prompt", 1, 0}, 0},
    {{"art", "palette", "creative", "Suggest colour palettes: from a mood or a reference image.", "creative/palette", 1, 0}, 0},
    {{"art", "sketchbook", NULL, "Keep a dated log of sketches and ideas.", "sketchbook", 1, 0}, 0},
    {{"work", "meeting-notes", "productivity", "Turn a meeting transcript into decisions and action items.",
      "productivity/meeting-notes", 1, 0},
     0},
    {{"work", "code-review", "software-development", "Review a diff for bugs, style and missing tests.",
      "software-development/code-review", 1, 1},
     0},
    {{"work", "git-blame", "software-development", "Find who changed a line and why.", "software-development/git-blame", 0, 0}, 0},
    {{"work", "scratchpad", NULL, "A scratchpad the agent can write to between turns.", "scratchpad", 1, 0}, 1},
};

/* every file of the fixture, generated once: FIXED, the memory files and the SKILL.md files */
static fixed_file_t *all_files;
static size_t num_all_files;

static char *join_entries(const char *const *entries)
{
    char *out = hl_strdup("");
    for (size_t i = 0; entries[i] != NULL; ++i) {
        char *next = hl_asprintf("%s%s%s", out, i > 0 ? "\n\xc2\xa7\n" : "", entries[i]);
        free(out);
        out = next;
    }
    return out;
}

static char *skill_text(const hlth_skill_t *s, int description_in_body)
{
    /* a description holding ": " must be quoted in YAML */
    char *desc = description_in_body                    ? hl_strdup("")
                 : strstr(s->description, ": ") != NULL ? hl_asprintf("description: \"%s\"\n", s->description)
                                                        : hl_asprintf("description: %s\n", s->description);
    char *text = hl_asprintf("---\n"
                             "name: %s\n"
                             "%s"
                             "version: 1.0.0\n"
                             "metadata:\n"
                             "  hermes:\n"
                             "    tags: [%s, fixture]\n"
                             "---\n"
                             "# %s\n"
                             "\n"
                             "%s\n"
                             "\n"
                             "## Steps\n"
                             "1. Read the request.\n"
                             "2. Do the work.\n",
                             s->name, desc, s->category != NULL ? s->category : "general", s->name,
                             description_in_body ? s->description : "Follow the steps below.");
    free(desc);
    return text;
}

static void add_file(const char *profile, const char *rel, const char *text)
{
    all_files = hl_realloc(all_files, (num_all_files + 1) * sizeof(*all_files));
    all_files[num_all_files++] = (fixed_file_t){profile, rel, text};
}

static void build_files(void)
{
    if (all_files != NULL)
        return;
    for (size_t i = 0; i < HL_ARRAY_SIZE(FIXED); ++i)
        add_file(FIXED[i].profile, FIXED[i].rel, FIXED[i].text);
    for (size_t i = 0; i < HL_ARRAY_SIZE(MEMORIES); ++i)
        add_file(MEMORIES[i].profile, MEMORIES[i].file, join_entries(MEMORIES[i].entries));
    for (size_t i = 0; i < HL_ARRAY_SIZE(SKILLS); ++i) {
        const hlth_skill_t *s = &SKILLS[i].s;
        add_file(s->profile, hl_asprintf("skills/%s/SKILL.md", s->relative_path), skill_text(s, SKILLS[i].description_in_body));
    }
}

const char *hlth_text(const char *profile, const char *rel)
{
    build_files();
    for (size_t i = 0; i < num_all_files; ++i)
        if (strcmp(all_files[i].profile, profile) == 0 && strcmp(all_files[i].rel, rel) == 0)
            return all_files[i].text;
    return NULL;
}

size_t hlth_memory(const char *profile, const char *target, const char *const **entries)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(MEMORIES); ++i) {
        if (strcmp(MEMORIES[i].profile, profile) == 0 && strcmp(MEMORIES[i].target, target) == 0) {
            size_t n = 0;
            while (MEMORIES[i].entries[n] != NULL)
                ++n;
            *entries = MEMORIES[i].entries;
            return n;
        }
    }
    *entries = NULL;
    return 0;
}

const hlth_skill_t *hlth_skills(size_t *n)
{
    static hlth_skill_t out[HL_ARRAY_SIZE(SKILLS)];
    for (size_t i = 0; i < HL_ARRAY_SIZE(SKILLS); ++i)
        out[i] = SKILLS[i].s;
    *n = HL_ARRAY_SIZE(SKILLS);
    return out;
}

/* ---- paths and files ---- */

char *hlth_path(const hlt_env_t *env, const char *profile, const char *rel)
{
    char *dir =
        strcmp(profile, "default") == 0 ? hl_strdup(env->hermes_home) : hl_asprintf("%s/profiles/%s", env->hermes_home, profile);
    if (rel == NULL || *rel == '\0')
        return dir;
    char *path = hl_asprintf("%s/%s", dir, rel);
    free(dir);
    return path;
}

void hlth_mkdirs(const char *path)
{
    char *p = hl_strdup(path);
    for (char *s = p + 1;; ++s) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            ck_assert_msg(mkdir(p, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
}

static void write_path(const char *path, const char *text)
{
    char *dir = hl_strdup(path);
    char *slash = strrchr(dir, '/');
    ck_assert(slash != NULL && slash != dir);
    *slash = '\0';
    hlth_mkdirs(dir);
    free(dir);
    hlt_write_file(path, text);
}

void hlth_write(const hlt_env_t *env, const char *profile, const char *rel, const char *text)
{
    char *path = hlth_path(env, profile, rel);
    write_path(path, text);
    free(path);
}

void hlth_fill(const hlt_env_t *env, const char *active)
{
    build_files();
    for (size_t i = 0; i < HL_ARRAY_SIZE(HLTH_PROFILES); ++i) {
        char *dir = hlth_path(env, HLTH_PROFILES[i], NULL);
        hlth_mkdirs(dir);
        free(dir);
    }
    for (size_t i = 0; i < num_all_files; ++i)
        hlth_write(env, all_files[i].profile, all_files[i].rel, all_files[i].text);
    hlth_set_active(env, active);
}

void hlth_set_active(const hlt_env_t *env, const char *name)
{
    char *path = hl_asprintf("%s/active_profile", env->hermes_home);
    if (name != NULL) {
        char *text = hl_asprintf("%s\n", name);
        hlt_write_file(path, text);
        free(text);
    } else {
        ck_assert_msg(unlink(path) == 0 || errno == ENOENT, "unlink %s: %s", path, strerror(errno));
    }
    free(path);
}

void hlth_set_gateway_pid(const hlt_env_t *env, const char *profile, pid_t pid, int json)
{
    char *path = hlth_path(env, profile, "gateway.pid");
    if (pid == 0) {
        ck_assert_msg(unlink(path) == 0 || errno == ENOENT, "unlink %s: %s", path, strerror(errno));
    } else {
        char *text = json ? hl_asprintf("{\"pid\": %d, \"kind\": \"hermes-gateway\"}\n", (int)pid) : hl_asprintf("%d\n", (int)pid);
        hlt_write_file(path, text);
        free(text);
    }
    free(path);
}

pid_t hlth_dead_pid(void)
{
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0)
        _exit(0);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    return pid;
}

char *hlth_outside(const hlt_env_t *env)
{
    char *dir = hl_asprintf("%s/outside", env->dir);
    hlth_mkdirs(dir);
    char *secret = hl_asprintf("%s/secret.txt", dir);
    hlt_write_file(secret, HLTH_SECRET);
    free(secret);
    return dir;
}

int hlth_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int ret = type == FTW_DP ? rmdir(path) : unlink(path);
    ck_assert_msg(ret == 0 || errno == ENOENT, "removing %s: %s", path, strerror(errno));
    return 0;
}

void hlth_rm_rf(const char *path)
{
    if (hlth_exists(path))
        ck_assert_msg(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "rm -rf %s: %s", path, strerror(errno));
}

/* the listing nftw builds (nftw's callback takes no user pointer) */
static char **tree_lines;
static size_t tree_count;
static size_t tree_prefix;

static uint64_t file_hash(const char *path)
{
    size_t len = 0;
    char *text = hlt_read_file(path, &len);
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < len; ++i)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    free(text);
    return h;
}

static int tree_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    const char *rel = strlen(path) > tree_prefix ? path + tree_prefix + 1 : ".";
    char extra[4200] = "";
    if (type == FTW_SL || type == FTW_SLN) {
        char target[4096];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        snprintf(extra, sizeof(extra), "-> %s", target);
    } else if (S_ISREG(st->st_mode)) {
        snprintf(extra, sizeof(extra), "%016llx", (unsigned long long)file_hash(path));
    }
    char *line = hl_asprintf("%s\t%o\t%lld\t%lld.%09ld\t%s", rel, (unsigned)st->st_mode, (long long)st->st_size,
                             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, extra);
    tree_lines = hl_realloc(tree_lines, (tree_count + 1) * sizeof(*tree_lines));
    tree_lines[tree_count++] = line;
    return 0;
}

static int by_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *hlth_tree(const char *dir)
{
    tree_lines = NULL;
    tree_count = 0;
    tree_prefix = strlen(dir);
    ck_assert_msg(nftw(dir, tree_entry, 16, FTW_PHYS) == 0, "listing %s: %s", dir, strerror(errno));
    qsort(tree_lines, tree_count, sizeof(*tree_lines), by_line);
    char *out = hl_strdup("");
    for (size_t i = 0; i < tree_count; ++i) {
        char *next = hl_asprintf("%s%s\n", out, tree_lines[i]);
        free(out);
        free(tree_lines[i]);
        out = next;
    }
    free(tree_lines);
    tree_lines = NULL;
    tree_count = 0;
    return out;
}

void hlth_request(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                  const char *body, hlt_response_t *res)
{
    const char *hdrs[3];
    size_t n = 0;
    char auth[512];
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        hdrs[n++] = auth;
    }
    if (body != NULL)
        hdrs[n++] = "Content-Type: application/json";
    hdrs[n] = NULL;
    hlt_request_t req = {.method = method,
                         .path = path,
                         .headers = hdrs,
                         .body = body,
                         .body_len = body != NULL ? strlen(body) : 0,
                         .timeout_ms = 20000};
    CURL *c = hlt_easy_new(d, proto, &req, res);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    hlt_easy_finish(c, curl_easy_perform(c), res);
    ck_assert_msg(res->rc == CURLE_OK, "%s %s over %s: %s (%s)", method, path, hlt_proto_name(proto), curl_easy_strerror(res->rc),
                  res->errbuf);
    ck_assert_msg(res->http_version == hlt_proto_version(proto), "%s %s over %s: curl HTTP version %ld", method, path,
                  hlt_proto_name(proto), res->http_version);
}

void hlth_call_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                     const char *body, long status, const char *code)
{
    hlt_response_t res;
    hlth_request(d, proto, bearer, method, path, body, &res);
    if (res.status != status)
        ck_abort_msg("%s %s %.200s over %s: expected %ld %s, got %ld: %.500s", method, path, body != NULL ? body : "",
                     hlt_proto_name(proto), status, code, res.status, res.body);
    hlt_assert_error(d, &res, status, code);
    hlt_response_free(&res);
}
