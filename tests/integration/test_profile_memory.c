/*
 * A Hermes profile's memory (issue 10; spec/API.md §10 "Memory", STORAGE.md §3.4, UPSTREAM-HERMES.md §2.4, GAPS §B 15 and
 * 23): GET …/memory, POST / PATCH / DELETE …/memory/entries, DELETE …/memory, PATCH …/memory/settings, …/memory/provider
 * and …/memory/providers/:provider/settings.
 *
 * Each test gets a fresh Hermes home (harness_hermes.h: default, work, art) and its own daemon with a paired device, and
 * runs once over HTTP/1.1, h2c (prior knowledge) and h2 over TLS (the concurrency test mixes HTTP/1.1 and h2 itself).
 * Requests are sent with CURLOPT_PATH_AS_IS, so that ".." reaches the daemon as written. Covered:
 *  - the view: exactly {ok, profileName, memoryDir, stores[user, memory], settings, notice}, each store exactly {target,
 *    label, description, fileName, path, exists, updatedAt (the file's mtime), entries [{id, content}], entryCount, usage
 *    {chars, limit, percent}}, ids "<target>_<index>_<hash>" with the UTF-16 hash computed here, paths relative to the
 *    Hermes root, limits from config.yaml, entries as in the file (trimmed, empty parts dropped, duplicates kept), a
 *    character outside the BMP (one character against the limit, as Hermes's len() counts; two UTF-16 units in the
 *    id's hash), missing files and folders (nothing created by a read);
 *  - add: the file exactly Hermes's format ("\n§\n", no trailing newline), content trimmed, an identical add a 200 no-op
 *    with the file untouched byte for byte (and its mtime), the file's mode kept, new files 0600 in a new memories/ 0700,
 *    the lock file made where Hermes makes it, every error code, the limit of config.yaml to the character, content over
 *    the limit and a body of about 1 MiB (limit error) and over 1 MiB (413), nothing written on an error (and for
 *    content or match that is empty, no memories/ folder or lock file made either);
 *  - replace and remove: substring match, every error code, ambiguity between distinct entries only, de-duplication;
 *  - clear: target user / memory / all / default all, an invalid target with nothing cleared;
 *  - traversal and missing profiles: 400 invalid_profile_name on every route for names leading elsewhere, with both trees
 *    unchanged; 404 profile_not_found with nothing created; a folder name Hermes would not give is read-only;
 *  - concurrency: 20 adds at once from two clients (10 HTTP/1.1 connections and 10 streams of one h2 connection), none
 *    lost; a process holding Hermes's flock on MEMORY.md.lock for a second delays an add, which then keeps that
 *    process's own entry too; while a change waits for the lock, a status, a memory read and another profile's change
 *    are answered (the actor is not blocked); held past the daemon's wait, 503 memory_busy with nothing written;
 *  - settings: PATCH with the built-in provider changes only the touched lines of config.yaml (diffed), keeps its mode,
 *    makes a backup (relative backupPath, old content), reports requiresGatewayReload true / gatewayReloaded false;
 *    values it already has: no write, no backup, requiresGatewayReload false; invalid values and empty bodies refused
 *    with config.yaml untouched; a quoted limit is shown as the limit it is; an external provider (honcho) is shown
 *    read-only with its key hidden and every settings write is 409 memory_provider_external; memory/provider back to
 *    built-in edits one line; an invalid config.yaml is 409 config_yaml_invalid, untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#define DELIM "\n\xc2\xa7\n"

/* the labels of API.md §10's Store */
#define LABEL_USER "\xe5\x85\xb3\xe4\xba\x8e\xe7\x94\xa8\xe6\x88\xb7" /* 关于用户 */
#define LABEL_MEMORY "Agent \xe7\xac\x94\xe8\xae\xb0"                 /* Agent 笔记 */

/* ---- the daemon of a test ---- */

static void prepare(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
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

/* `method path` over `proto` with the device's bearer and a JSON body (NULL: none), the path sent as is. */
static void request_over(hlt_proto_t proto, const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, proto, TOK, method, path, body, res);
}

static void request(const char *method, const char *path, const char *body, hlt_response_t *res)
{
    request_over(P, method, path, body, res);
}

/* Asserts a 200 {"ok":true,…} answer with JSON, CORS, no-store and no absolute path; returns the body (new reference). */
static json_t *ok_body(const char *method, const char *path, hlt_response_t *res)
{
    ck_assert_msg(res->status == 200, "%s %s over %s: expected 200, got %ld: %.600s", method, path, hlt_proto_name(P), res->status,
                  res->body);
    hlt_assert_json(res);
    hlt_assert_cors(res);
    hlt_assert_header(res, "cache-control", "no-store");
    ck_assert_msg(json_is_true(json_object_get(res->json, "ok")), "%s %s: %.400s", method, path, res->body);
    ck_assert_msg(strstr(res->body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res->body);
    return json_incref(res->json);
}

static json_t *call(const char *method, const char *path, const char *body)
{
    hlt_response_t res;
    request(method, path, body, &res);
    json_t *j = ok_body(method, path, &res);
    hlt_response_free(&res);
    return j;
}

static void call_error(const char *method, const char *path, const char *body, long status, const char *code)
{
    hlth_call_error(D, P, TOK, method, path, body, status, code);
}

#define FAIL(method, path, body, status, code) call_error(method, path, body, status, code)

static const char *memory_path(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/memory", profile);
}

static const char *entries_path(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/memory/entries", profile);
}

static const char *settings_path(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/memory/settings", profile);
}

static const char *provider_path(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/memory/provider", profile);
}

static const char *provider_settings_path(const char *profile, const char *provider)
{
    return hltc_fmt("/api/v1/profiles/%s/memory/providers/%s/settings", profile, provider);
}

/* {"target":…,"content":…} and the like, with JSON escaping (caller frees). */
static char *body2(const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *o = json_object();
    if (k1 != NULL)
        json_object_set_new(o, k1, json_string(v1));
    if (k2 != NULL)
        json_object_set_new(o, k2, json_string(v2));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* {"target":…,"content":…} (caller frees). */
static char *add_body(const char *target, const char *content)
{
    return body2("target", target, "content", content);
}

static char *body3(const char *target, const char *match, const char *content)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "target", target, "match", match, "content", content);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ---- the files ---- */

static const char *file_of(const char *target)
{
    return strcmp(target, "user") == 0 ? "memories/USER.md" : "memories/MEMORY.md";
}

/* The memory file's text, NULL when it does not exist (caller frees). */
static char *read_memory(const char *profile, const char *target)
{
    char *path = hlth_path(&env, profile, file_of(target));
    char *text = hlt_read_file(path, NULL);
    free(path);
    return text;
}

/* Entries joined as Hermes writes them (caller frees). */
static char *join(const char *const *entries)
{
    char *out = hl_strdup("");
    for (size_t i = 0; entries[i] != NULL; ++i) {
        char *next = hl_asprintf("%s%s%s", out, i > 0 ? DELIM : "", entries[i]);
        free(out);
        out = next;
    }
    return out;
}

static size_t count_entries(const char *const *entries)
{
    size_t n = 0;
    while (entries[n] != NULL)
        ++n;
    return n;
}

/* Asserts that the memory file holds exactly `entries` joined (NULL: the file does not exist). */
static void assert_file(const char *profile, const char *target, const char *const *entries)
{
    char *text = read_memory(profile, target);
    if (entries == NULL) {
        ck_assert_msg(text == NULL, "%s %s should not exist, holds: %s", profile, target, text);
        return;
    }
    char *want = join(entries);
    ck_assert_msg(text != NULL && strcmp(text, want) == 0, "%s's %s file:\n[%s]\nexpected:\n[%s]", profile, target,
                  text != NULL ? text : "(missing)", want);
    free(want);
    free(text);
}

static mode_t mode_of(const char *profile, const char *rel)
{
    char *path = hlth_path(&env, profile, rel);
    struct stat st;
    ck_assert_msg(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
    free(path);
    return st.st_mode & 07777;
}

static void set_mode(const char *profile, const char *rel, mode_t mode)
{
    char *path = hlth_path(&env, profile, rel);
    ck_assert(chmod(path, mode) == 0);
    free(path);
}

/* The fixture's entries of a profile's file plus `more` (NULL-terminated), in a static array. */
static const char *const *fixture_plus(const char *profile, const char *target, const char *const *more)
{
    static const char *out[64];
    const char *const *base;
    size_t n = hlth_memory(profile, target, &base), o = 0;
    for (size_t i = 0; i < n; ++i)
        out[o++] = base[i];
    for (size_t i = 0; more != NULL && more[i] != NULL; ++i)
        out[o++] = more[i];
    out[o] = NULL;
    return out;
}

/* ---- the expected view ---- */

/* STORAGE §3.4's hash: h = h*31 + unit over the UTF-16 code units, unsigned 32-bit, from 0. */
static uint32_t utf16_hash(const char *s)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        uint32_t cp;
        int extra = *p < 0x80 ? 0 : *p < 0xE0 ? 1 : *p < 0xF0 ? 2 : 3;
        cp = extra == 0 ? *p : extra == 1 ? (*p & 0x1Fu) : extra == 2 ? (*p & 0x0Fu) : (*p & 0x07u);
        ++p;
        for (int i = 0; i < extra; ++i)
            cp = cp << 6 | (*p++ & 0x3Fu);
        if (cp >= 0x10000) {
            h = h * 31 + (0xD800 + ((cp - 0x10000) >> 10));
            h = h * 31 + (0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            h = h * 31 + cp;
        }
    }
    return h;
}

/* Code points of UTF-8 text: how Hermes (Python's len()) measures a memory file against its limit. */
static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The file's mtime as the daemon shows it (ISO, ms), or JSON null when it does not exist. */
static json_t *mtime_of(const char *profile, const char *target)
{
    char *path = hlth_path(&env, profile, file_of(target));
    struct stat st;
    int ok = stat(path, &st) == 0;
    free(path);
    if (!ok)
        return json_null();
    char buf[40];
    return json_string(hlt_format_iso((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, buf));
}

/* One expected Store; `entries` NULL: the file does not exist. */
static json_t *expected_store(const char *profile, const char *target, const char *const *entries, size_t limit)
{
    int user = strcmp(target, "user") == 0;
    json_t *items = json_array();
    size_t n = entries != NULL ? count_entries(entries) : 0;
    for (size_t i = 0; i < n; ++i) {
        char id[128];
        snprintf(id, sizeof(id), "%s_%zu_%x", target, i, utf16_hash(entries[i]));
        json_array_append_new(items, json_pack("{s:s, s:s}", "id", id, "content", entries[i]));
    }
    char *text = entries != NULL ? join(entries) : hl_strdup("");
    size_t chars = code_points(text);
    free(text);
    size_t percent = chars >= limit ? 100 : chars * 100 / limit;
    const char *rel =
        strcmp(profile, "default") == 0 ? hltc_fmt("%s", file_of(target)) : hltc_fmt("profiles/%s/%s", profile, file_of(target));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:I, s:{s:I, s:I, s:I}}", "target", target, "label",
                     user ? LABEL_USER : LABEL_MEMORY, "description", "(checked apart)", "fileName", user ? "USER.md" : "MEMORY.md",
                     "path", rel, "exists", entries != NULL, "updatedAt", mtime_of(profile, target), "entries", items, "entryCount",
                     (json_int_t)n, "usage", "chars", (json_int_t)chars, "limit", (json_int_t)limit, "percent",
                     (json_int_t)percent);
}

/* The settings of the built-in provider with these values. */
static json_t *builtin_settings(size_t mem_limit, size_t user_limit, int mem_on, int user_on)
{
    return json_pack("{s:s, s:b, s:b, s:I, s:I, s:b, s:b}", "provider", "built-in", "external", 0, "readOnly", 0, "memoryCharLimit",
                     (json_int_t)mem_limit, "userCharLimit", (json_int_t)user_limit, "memoryEnabled", mem_on, "userProfileEnabled",
                     user_on);
}

/*
 * Asserts a memory view exactly: the profile, its memoryDir, both stores (user first; entries NULL for a missing file)
 * with the limits, and `settings` (stolen; NULL: the built-in provider with the two limits, both switches on). The
 * stores' descriptions and the notice are free text: non-empty strings, the same in every view. `extra` (stolen, may be
 * NULL) holds further keys the answer must have with these values (a settings change's backupPath…).
 */
static void assert_view(json_t *view, const char *profile, const char *const *user, const char *const *memory, size_t user_limit,
                        size_t mem_limit, json_t *settings, json_t *extra)
{
    static char notice[1024], descriptions[2][1024];
    json_t *got = json_deep_copy(view);
    json_t *stores = json_object_get(got, "stores");
    ck_assert_msg(json_is_array(stores) && json_array_size(stores) == 2, "stores: %s", json_dumps(view, JSON_COMPACT));
    for (size_t i = 0; i < 2; ++i) {
        json_t *s = json_array_get(stores, i);
        const char *d = json_string_value(json_object_get(s, "description"));
        ck_assert_msg(d != NULL && *d != '\0', "a store's description: %s", json_dumps(s, JSON_COMPACT));
        if (descriptions[i][0] == '\0')
            snprintf(descriptions[i], sizeof(descriptions[i]), "%s", d);
        ck_assert_str_eq(d, descriptions[i]);
        json_object_set_new(s, "description", json_string("(checked apart)"));
    }
    const char *n = json_string_value(json_object_get(got, "notice"));
    ck_assert_msg(n != NULL && *n != '\0', "no notice: %s", json_dumps(view, JSON_COMPACT));
    if (notice[0] == '\0')
        snprintf(notice, sizeof(notice), "%s", n);
    ck_assert_str_eq(n, notice);
    json_object_set_new(got, "notice", json_string("(checked apart)"));

    const char *dir = strcmp(profile, "default") == 0 ? "memories" : hltc_fmt("profiles/%s/memories", profile);
    json_t *want = json_pack(
        "{s:b, s:s, s:s, s:[o, o], s:o, s:s}", "ok", 1, "profileName", profile, "memoryDir", dir, "stores",
        expected_store(profile, "user", user, user_limit), expected_store(profile, "memory", memory, mem_limit), "settings",
        settings != NULL ? settings : builtin_settings(mem_limit, user_limit, 1, 1), "notice", "(checked apart)");
    if (extra != NULL) {
        json_object_update(want, extra);
        json_decref(extra);
    }
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        ck_abort_msg("memory view of %s over %s:\n got  %s\n want %s", profile, hlt_proto_name(P), g, w);
    }
    json_decref(got);
    json_decref(want);
}

/* The fixture's entries of a file (static, NULL-terminated). */
static const char *const *fixture(const char *profile, const char *target)
{
    const char *const *e;
    hlth_memory(profile, target, &e);
    return e;
}

/* ---- view ---- */

START_TEST(test_view)
{
    prepare(_i);
    /* a profile with its own limits and a file written by hand: blanks around entries, an empty part, a repeat, a
       character outside the BMP; no MEMORY.md */
    hlth_write(&env, "misc", "config.yaml", "memory:\n  memory_char_limit: 300\n  user_char_limit: '200'  # quoted\n");
    hlth_write(&env, "misc", "memories/USER.md",
               "  Likes tea  \n\xc2\xa7\n\n\xc2\xa7\nDraws \xf0\x9f\x8e\xa8 in the caf\xc3\xa9\n\n\xc2\xa7\nLikes tea");
    /* a profile without memories/ */
    hlth_write(&env, "bare", "config.yaml", "model: x\n");
    hlth_write(&env, "Legacy.Profile", "memories/MEMORY.md", "Old notes");
    start();
    char *before = hlth_tree(env.hermes_home);

    json_t *v = call("GET", memory_path("default"), NULL);
    assert_view(v, "default", fixture("default", "user"), fixture("default", "memory"), 1375, 2200, NULL, NULL);
    json_decref(v);
    v = call("GET", memory_path("work"), NULL); /* no memory block in its config.yaml: the defaults */
    assert_view(v, "work", fixture("work", "user"), fixture("work", "memory"), 1375, 2200, NULL, NULL);
    json_decref(v);
    v = call("GET", memory_path("art"), NULL); /* an entry spanning lines */
    assert_view(v, "art", fixture("art", "user"), fixture("art", "memory"), 1375, 2200, NULL, NULL);
    json_decref(v);

    static const char *const MISC_USER[] = {"Likes tea", "Draws \xf0\x9f\x8e\xa8 in the caf\xc3\xa9", "Likes tea", NULL};
    v = call("GET", memory_path("misc"), NULL);
    assert_view(v, "misc", MISC_USER, NULL, 200, 300, NULL, NULL);
    /* the emoji is one character (Hermes counts code points), two UTF-16 units in the id's hash */
    json_t *store = json_array_get(json_object_get(v, "stores"), 0);
    json_t *usage = json_object_get(store, "usage");
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "chars")), 9 + 3 + 19 + 3 + 9);
    ck_assert_int_eq(json_integer_value(json_object_get(usage, "percent")), 21);
    ck_assert_str_eq(hlt_str(json_array_get(json_object_get(store, "entries"), 1), "id"),
                     hltc_fmt("user_1_%x", utf16_hash(MISC_USER[1])));
    json_decref(v);

    v = call("GET", memory_path("bare"), NULL);
    assert_view(v, "bare", NULL, NULL, 1375, 2200, NULL, NULL);
    json_decref(v);
    /* ids are stable across reads */
    json_t *a = call("GET", memory_path("work"), NULL), *b = call("GET", memory_path("work"), NULL);
    ck_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    /* a folder name Hermes would not give: readable */
    v = call("GET", memory_path("Legacy.Profile"), NULL);
    static const char *const OLD[] = {"Old notes", NULL};
    assert_view(v, "Legacy.Profile", NULL, OLD, 1375, 2200, NULL, NULL);
    json_decref(v);

    /* a profile that does not exist */
    FAIL("GET", memory_path("missing"), NULL, 404, "profile_not_found");

    /* reads never create anything: no memories/, no lock file, no profile */
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    finish();
}
END_TEST

/* ---- add ---- */

START_TEST(test_add)
{
    prepare(_i);
    hlth_write(&env, "art", "config.yaml", "# art with small limits\nmemory:\n  memory_char_limit: 200\n  user_char_limit: 120\n");
    hlth_write(&env, "bare", "config.yaml", "model: x\n");
    start();
    set_mode("work", "memories/MEMORY.md", 0640);

    /* an add: 200 with the view, the file in Hermes's format, content trimmed */
    char *body = add_body("memory", "  Deploys need a green CI run.\n\n ");
    json_t *v = call("POST", entries_path("work"), body);
    static const char *const ADDED[] = {"Deploys need a green CI run.", NULL};
    const char *const *work_memory = fixture_plus("work", "memory", ADDED);
    assert_view(v, "work", fixture("work", "user"), work_memory, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "memory", work_memory);
    ck_assert_int_eq(mode_of("work", "memories/MEMORY.md"), 0640); /* the file's mode kept */
    ck_assert_int_eq(mode_of("work", "memories/MEMORY.md.lock"), 0600);
    assert_file("work", "user", fixture("work", "user"));

    /* the same entry again (after trimming): a no-op 200, the file untouched byte for byte (and its time) */
    char *dir = hlth_path(&env, "work", "memories");
    char *before = hlth_tree(dir);
    hlt_sleep_ms(20);
    v = call("POST", entries_path("work"), body);
    assert_view(v, "work", fixture("work", "user"), work_memory, 1375, 2200, NULL, NULL);
    json_decref(v);
    free(body);
    body = body2("content", "Deploys need a green CI run.", "target", "memory");
    json_decref(call("POST", entries_path("work"), body));
    free(body);
    char *after = hlth_tree(dir);
    ck_assert_str_eq(after, before);
    free(after);

    /* refused: nothing written */
    static const struct {
        const char *body, *code;
    } BAD[] = {
        {"{\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":\"users\",\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":\"MEMORY\",\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":\"all\",\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":5,\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":null,\"content\":\"x\"}", "memory_invalid_target"},
        {"[\"memory\",\"x\"]", "memory_invalid_target"},
        {"{}", "memory_invalid_target"},
        {"{\"target\":\"memory\"}", "memory_content_required"},
        {"{\"target\":\"memory\",\"content\":null}", "memory_content_required"},
        {"{\"target\":\"user\",\"content\":42}", "memory_content_required"},
        {"{\"target\":\"user\",\"content\":[\"x\"]}", "memory_content_required"},
        {"{\"target\":\"memory\",\"content\":\"\"}", "memory_content_empty"},
        {"{\"target\":\"user\",\"content\":\"  \\n\\t \\n\"}", "memory_content_empty"},
        {"{\"target\":\"memory\",\"content\":", "invalid_json"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i)
        FAIL("POST", entries_path("work"), BAD[i].body, 400, BAD[i].code);
    after = hlth_tree(dir);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    free(dir);

    /* the limit is config.yaml's memory.memory_char_limit (200 for art): exactly at it is fine, one more is refused */
    const char *const *art_memory = fixture("art", "memory");
    char *text = join(art_memory);
    size_t used = code_points(text), room = 200 - used - 3; /* the delimiter counts: 3 characters */
    free(text);
    char *fits = hl_calloc(1, room + 1), *over = hl_calloc(1, room + 2);
    memset(fits, 'f', room);
    memset(over, 'o', room + 1);
    body = add_body("memory", over);
    FAIL("POST", entries_path("art"), body, 400, "memory_limit_exceeded");
    free(body);
    assert_file("art", "memory", art_memory);
    body = add_body("memory", fits);
    v = call("POST", entries_path("art"), body);
    free(body);
    static const char *more[2];
    more[0] = fits;
    const char *const *am = fixture("art", "memory");
    const char *const art_full[] = {am[0], am[1], fits, NULL};
    assert_view(v, "art", fixture("art", "user"), art_full, 120, 200, builtin_settings(200, 120, 1, 1), NULL);
    json_decref(v);
    assert_file("art", "memory", art_full);
    /* full: a single character more does not fit */
    FAIL("POST", entries_path("art"), "{\"target\":\"memory\",\"content\":\"z\"}", 400, "memory_limit_exceeded");
    assert_file("art", "memory", art_full);

    /* the user limit (120), with characters of two bytes: counted as characters, not bytes */
    const char *const *art_user = fixture("art", "user");
    text = join(art_user);
    room = 120 - code_points(text) - 3;
    free(text);
    char *accents = hl_calloc(1, room * 2 + 3);
    for (size_t i = 0; i < room; ++i)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    body = add_body("user", accents);
    v = call("POST", entries_path("art"), body);
    free(body);
    more[0] = accents;
    const char *const *art_user_full = fixture_plus("art", "user", more);
    assert_view(v, "art", art_user_full, art_full, 120, 200, builtin_settings(200, 120, 1, 1), NULL);
    json_decref(v);
    assert_file("art", "user", art_user_full);
    assert_file("art", "memory", art_full);
    free(accents);
    free(fits);
    free(over);

    /* huge content: far over the limit, in a body just under 1 MiB → the limit error; a body over 1 MiB → 413 */
    size_t big = 1024 * 1024 - 64;
    char *huge = hl_malloc(big + 1);
    memset(huge, 'h', big);
    huge[big] = '\0';
    body = add_body("memory", huge);
    ck_assert_uint_lt(strlen(body), 1024 * 1024);
    FAIL("POST", entries_path("default"), body, 400, "memory_limit_exceeded");
    free(body);
    huge = hl_realloc(huge, big + 200);
    memset(huge + big, 'h', 199);
    huge[big + 199] = '\0';
    body = add_body("memory", huge);
    ck_assert_uint_gt(strlen(body), 1024 * 1024);
    FAIL("POST", entries_path("default"), body, 413, "payload_too_large");
    free(body);
    free(huge);
    assert_file("default", "memory", fixture("default", "memory"));

    /* a profile without memories/: a refused add leaves no trace; a good one makes it 0700 with the file 0600 */
    char *bare = hlth_path(&env, "bare", NULL);
    before = hlth_tree(bare);
    FAIL("POST", entries_path("bare"), "{\"target\":\"user\",\"content\":\" \"}", 400, "memory_content_empty");
    FAIL("PATCH", entries_path("bare"), "{\"target\":\"user\",\"match\":\"\",\"content\":\"x\"}", 400, "memory_match_empty");
    FAIL("DELETE", entries_path("bare"), "{\"target\":\"memory\",\"match\":\" \"}", 400, "memory_match_empty");
    after = hlth_tree(bare);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    free(bare);
    v = call("POST", entries_path("bare"), "{\"target\":\"user\",\"content\":\"First words\"}");
    static const char *const FIRST[] = {"First words", NULL};
    assert_view(v, "bare", FIRST, NULL, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("bare", "user", FIRST);
    assert_file("bare", "memory", NULL);
    ck_assert_int_eq(mode_of("bare", "memories"), 0700);
    ck_assert_int_eq(mode_of("bare", "memories/USER.md"), 0600);
    /* default's files are at the home's top */
    v = call("POST", entries_path("default"), "{\"target\":\"user\",\"content\":\"Has a cat named Io.\"}");
    static const char *const CAT[] = {"Has a cat named Io.", NULL};
    assert_view(v, "default", fixture_plus("default", "user", CAT), fixture("default", "memory"), 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("default", "user", fixture_plus("default", "user", CAT));
    finish();
}
END_TEST

/* ---- replace and remove ---- */

START_TEST(test_replace_remove)
{
    prepare(_i);
    /* a file with a repeated entry (Hermes de-duplicates on its next change; so do we) */
    hlth_write(&env, "art", "memories/MEMORY.md", "alpha one" DELIM "beta two" DELIM "alpha one" DELIM "gamma three");
    start();
    const char *const *wm = fixture("work", "memory");

    /* replace: the one entry containing match, at its place */
    char *body = body3("memory", "release branch", "  Project Atlas ships on Thursdays now.  ");
    json_t *v = call("PATCH", entries_path("work"), body);
    free(body);
    const char *const REPLACED[] = {"Project Atlas ships on Thursdays now.", wm[1], wm[2], NULL};
    assert_view(v, "work", fixture("work", "user"), REPLACED, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "memory", REPLACED);

    /* (a no-op add makes USER.md.lock as Hermes would have: refusals that read the file take the lock, which makes it) */
    json_decref(call("POST", entries_path("work"), "{\"target\":\"user\",\"content\":\"Prefers British spelling in documents.\"}"));
    char *dir = hlth_path(&env, "work", "memories");
    char *before = hlth_tree(dir);
    static const struct {
        const char *body, *code;
    } BAD[] = {
        {"{\"match\":\"CI\",\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":\"notes\",\"match\":\"CI\",\"content\":\"x\"}", "memory_invalid_target"},
        {"{\"target\":\"memory\",\"content\":\"x\"}", "memory_match_required"},
        {"{\"target\":\"memory\",\"match\":7,\"content\":\"x\"}", "memory_match_required"},
        {"{\"target\":\"memory\",\"match\":\"\",\"content\":\"x\"}", "memory_match_empty"},
        {"{\"target\":\"memory\",\"match\":\" \\n \",\"content\":\"x\"}", "memory_match_empty"},
        {"{\"target\":\"memory\",\"match\":\"CI\"}", "memory_content_required"},
        {"{\"target\":\"memory\",\"match\":\"CI\",\"content\":false}", "memory_content_required"},
        {"{\"target\":\"memory\",\"match\":\"CI\",\"content\":\"   \"}", "memory_content_empty"},
        {"{\"target\":\"memory\",\"match\":\"no such words\",\"content\":\"x\"}", "memory_entry_not_found"},
        {"{\"target\":\"user\",\"match\":\"ci-02\",\"content\":\"x\"}", "memory_entry_not_found"}, /* another file */
        {"{\"target\":\"memory\",\"match\":\"on \",\"content\":\"x\"}", "memory_entry_ambiguous"},
        {"{\"target\":\"memory\",\"match\":\"s\",\"content\":\"x\"}", "memory_entry_ambiguous"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i)
        FAIL("PATCH", entries_path("work"), BAD[i].body, 400, BAD[i].code);
    /* match is a substring, case-sensitive */
    FAIL("PATCH", entries_path("work"), "{\"target\":\"memory\",\"match\":\"ci runs\",\"content\":\"x\"}", 400,
         "memory_entry_not_found");
    /* a replacement over the limit */
    char *long_text = hl_calloc(1, 2201);
    memset(long_text, 'l', 2200);
    body = body3("memory", "ci-02", long_text);
    FAIL("PATCH", entries_path("work"), body, 400, "memory_limit_exceeded");
    free(body);
    free(long_text);
    char *after = hlth_tree(dir);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);

    /* a repeated entry is one entry: matching both copies is not ambiguous; the file comes out de-duplicated */
    body = body3("memory", "alpha", "alpha ONE");
    v = call("PATCH", entries_path("art"), body);
    free(body);
    static const char *const DEDUPED[] = {"alpha ONE", "beta two", "gamma three", NULL};
    assert_view(v, "art", fixture("art", "user"), DEDUPED, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("art", "memory", DEDUPED);
    /* a replacement equal to another entry leaves one copy */
    body = body3("memory", "gamma", "beta two");
    v = call("PATCH", entries_path("art"), body);
    free(body);
    static const char *const MERGED[] = {"alpha ONE", "beta two", NULL};
    assert_view(v, "art", fixture("art", "user"), MERGED, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("art", "memory", MERGED);

    /* remove */
    v = call("DELETE", entries_path("work"), "{\"target\":\"memory\",\"match\":\"docs/REVIEW.md\"}");
    const char *const REMOVED[] = {REPLACED[0], wm[1], NULL};
    assert_view(v, "work", fixture("work", "user"), REMOVED, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "memory", REMOVED);
    static const struct {
        const char *body, *code;
    } BAD_REMOVE[] = {
        {"{\"match\":\"CI\"}", "memory_invalid_target"},
        {"{\"target\":\"both\",\"match\":\"CI\"}", "memory_invalid_target"},
        {"{\"target\":\"memory\"}", "memory_match_required"},
        {"{\"target\":\"memory\",\"match\":null}", "memory_match_required"},
        {"{\"target\":\"memory\",\"match\":\"\\t\"}", "memory_match_empty"},
        {"{\"target\":\"memory\",\"match\":\"docs/REVIEW.md\"}", "memory_entry_not_found"},
        {"{\"target\":\"memory\",\"match\":\"o\"}", "memory_entry_ambiguous"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_REMOVE); ++i)
        FAIL("DELETE", entries_path("work"), BAD_REMOVE[i].body, 400, BAD_REMOVE[i].code);
    assert_file("work", "memory", REMOVED);
    /* the last entries: an empty file (it stays) */
    json_decref(call("DELETE", entries_path("work"), "{\"target\":\"user\",\"match\":\"Atlas team\"}"));
    v = call("DELETE", entries_path("work"), "{\"target\":\"user\",\"match\":\"British\"}");
    static const char *const NONE[] = {NULL};
    assert_view(v, "work", NONE, REMOVED, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "user", NONE);
    FAIL("DELETE", entries_path("work"), "{\"target\":\"user\",\"match\":\"British\"}", 400, "memory_entry_not_found");
    free(dir);
    finish();
}
END_TEST

/* ---- clear ---- */

START_TEST(test_clear)
{
    prepare(_i);
    start();
    static const char *const NONE[] = {NULL};
    char *tree = hlth_tree(env.hermes_home);
    FAIL("DELETE", memory_path("work"), "{\"target\":\"both\"}", 400, "memory_invalid_target");
    FAIL("DELETE", memory_path("work"), "{\"target\":\"USER\"}", 400, "memory_invalid_target");
    FAIL("DELETE", memory_path("work"), "{\"target\":null}", 400, "memory_invalid_target");
    FAIL("DELETE", memory_path("work"), "{\"target\":1}", 400, "memory_invalid_target");
    FAIL("DELETE", memory_path("work"), "{\"target\":", 400, "invalid_json");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, tree);
    free(after);
    free(tree);

    /* one file at a time */
    json_t *v = call("DELETE", memory_path("work"), "{\"target\":\"user\"}");
    assert_view(v, "work", NONE, fixture("work", "memory"), 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "user", NONE);
    assert_file("work", "memory", fixture("work", "memory"));
    v = call("DELETE", memory_path("work"), "{\"target\":\"memory\"}");
    assert_view(v, "work", NONE, NONE, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "memory", NONE);

    /* all, by name */
    v = call("DELETE", memory_path("art"), "{\"target\":\"all\"}");
    assert_view(v, "art", NONE, NONE, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("art", "user", NONE);
    assert_file("art", "memory", NONE);
    /* all by default: no body, and an empty object */
    v = call("DELETE", memory_path("default"), NULL);
    assert_view(v, "default", NONE, NONE, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("default", "user", NONE);
    assert_file("default", "memory", NONE);
    json_decref(call("POST", entries_path("default"), "{\"target\":\"memory\",\"content\":\"again\"}"));
    v = call("DELETE", memory_path("default"), "{}");
    assert_view(v, "default", NONE, NONE, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("default", "memory", NONE);
    /* clearing files that do not exist creates none */
    hlth_write(&env, "bare", "config.yaml", "model: x\n");
    v = call("DELETE", memory_path("bare"), NULL);
    assert_view(v, "bare", NULL, NULL, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("bare", "user", NULL);
    assert_file("bare", "memory", NULL);
    finish();
}
END_TEST

/* ---- names ---- */

START_TEST(test_names)
{
    prepare(_i);
    char *outside = hlth_outside(&env);
    char *link = hlth_path(&env, "escape", NULL);
    ck_assert(symlink(outside, link) == 0);
    free(link);
    hlth_write(&env, "Legacy.Profile", "memories/MEMORY.md", "Old notes");
    start();
    char *home_before = hlth_tree(env.hermes_home), *outside_before = hlth_tree(outside);

    static const char *const NAMES[] = {
        "..",     "%2E%2E",          "%2e%2e", ".",         "%2E",  "%2E%2E%2F", "%2E%2E%2Fwork", "a%2Fb",
        "%2Fetc", "%2Fetc%2Fpasswd", "%2F",    "work%5C..", NAME65, "escape",    "..%2Fwork",     "work%2F..%2F..%2Foutside"};
    static const char *const ADD = "{\"target\":\"memory\",\"content\":\"stolen\"}";
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i) {
        const char *n = NAMES[i];
        FAIL("GET", memory_path(n), NULL, 400, "invalid_profile_name");
        FAIL("POST", entries_path(n), ADD, 400, "invalid_profile_name");
        FAIL("PATCH", entries_path(n), "{\"target\":\"memory\",\"match\":\"e\",\"content\":\"x\"}", 400, "invalid_profile_name");
        FAIL("DELETE", entries_path(n), "{\"target\":\"memory\",\"match\":\"e\"}", 400, "invalid_profile_name");
        FAIL("DELETE", memory_path(n), NULL, 400, "invalid_profile_name");
        FAIL("PATCH", settings_path(n), "{\"memoryCharLimit\":100}", 400, "invalid_profile_name");
        FAIL("PATCH", provider_path(n), "{\"provider\":\"built-in\"}", 400, "invalid_profile_name");
        FAIL("PATCH", provider_settings_path(n, "built-in"), "{\"memoryCharLimit\":100}", 400, "invalid_profile_name");
    }
    /* a folder name Hermes would not give: read-only */
    FAIL("POST", entries_path("Legacy.Profile"), ADD, 400, "invalid_profile_name");
    FAIL("DELETE", memory_path("Legacy.Profile"), NULL, 400, "invalid_profile_name");
    FAIL("PATCH", settings_path("Legacy.Profile"), "{\"memoryCharLimit\":100}", 400, "invalid_profile_name");

    /* a profile that does not exist: 404 everywhere, and nothing made */
    FAIL("GET", memory_path("missing"), NULL, 404, "profile_not_found");
    FAIL("POST", entries_path("missing"), ADD, 404, "profile_not_found");
    FAIL("PATCH", entries_path("missing"), "{\"target\":\"memory\",\"match\":\"e\",\"content\":\"x\"}", 404, "profile_not_found");
    FAIL("DELETE", entries_path("missing"), "{\"target\":\"memory\",\"match\":\"e\"}", 404, "profile_not_found");
    FAIL("DELETE", memory_path("missing"), NULL, 404, "profile_not_found");
    FAIL("PATCH", settings_path("missing"), "{\"memoryCharLimit\":100}", 404, "profile_not_found");
    FAIL("PATCH", provider_path("missing"), "{\"provider\":\"built-in\"}", 404, "profile_not_found");
    FAIL("PATCH", provider_settings_path("missing", "built-in"), "{\"memoryCharLimit\":100}", 404, "profile_not_found");

    char *home_after = hlth_tree(env.hermes_home), *outside_after = hlth_tree(outside);
    ck_assert_str_eq(home_after, home_before);
    ck_assert_str_eq(outside_after, outside_before);
    char *missing = hlth_path(&env, "missing", NULL);
    ck_assert(!hlth_exists(missing));
    free(missing);
    free(home_before);
    free(home_after);
    free(outside_before);
    free(outside_after);
    free(outside);
    finish();
}
END_TEST

/* ---- concurrency ---- */

/* 20 adds at once: 10 over HTTP/1.1 (a connection each) and 10 streams of one h2 TLS connection, to both files. */
START_TEST(test_concurrent_adds)
{
    P = HLT_H1;
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
    start();
    enum { N = 20 };
    CURLM *multi = hlt_multi_new();
    hlt_response_t res[N];
    char *bodies[N], auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOK);
    const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
    const char *mem_added[N + 1] = {0}, *user_added[N + 1] = {0};
    size_t nm = 0, nu = 0;
    char texts[N][64];
    for (int i = 0; i < N; ++i) {
        hlt_proto_t proto = i % 2 == 0 ? HLT_H1 : HLT_H2_TLS;
        const char *target = i % 4 < 2 ? "memory" : "user";
        snprintf(texts[i], sizeof(texts[i]), "Parallel entry %02d over %s", i, proto == HLT_H1 ? "HTTP/1.1" : "h2");
        if (strcmp(target, "memory") == 0)
            mem_added[nm++] = texts[i];
        else
            user_added[nu++] = texts[i];
        bodies[i] = add_body(target, texts[i]);
        hlt_request_t req = {.method = "POST",
                             .path = entries_path("work"),
                             .headers = hdrs,
                             .body = bodies[i],
                             .body_len = strlen(bodies[i]),
                             .timeout_ms = 30000};
        CURL *c = hlt_easy_new(D, proto, &req, &res[i]);
        if (proto != HLT_H1)
            curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
        curl_multi_add_handle(multi, c);
    }
    int left = hlt_multi_drive(multi, 30000);
    curl_multi_cleanup(multi);
    ck_assert_int_eq(left, 0);
    long h2_connects = 0;
    for (int i = 0; i < N; ++i) {
        ck_assert_msg(res[i].rc == CURLE_OK, "add %d: %s", i, res[i].errbuf);
        ck_assert_msg(res[i].status == 200, "add %d: %ld %s", i, res[i].status, res[i].body);
        ck_assert_int_eq(res[i].http_version, i % 2 == 0 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0);
        if (i % 2 == 1)
            h2_connects += res[i].num_connects;
        ck_assert(json_is_true(json_object_get(res[i].json, "ok")));
        hlt_response_free(&res[i]);
        free(bodies[i]);
    }
    ck_assert_msg(h2_connects == 1, "the h2 adds used %ld connections, not one", h2_connects);

    /* every entry is there, each once; the files are still Hermes's format */
    json_t *v = call("GET", memory_path("work"), NULL);
    for (int s = 0; s < 2; ++s) {
        const char *target = s == 0 ? "user" : "memory";
        const char *const *base = fixture("work", target);
        const char **added = s == 0 ? user_added : mem_added;
        size_t nadded = s == 0 ? nu : nm, nbase = count_entries(base);
        json_t *entries = json_object_get(json_array_get(json_object_get(v, "stores"), (size_t)s), "entries");
        ck_assert_uint_eq(json_array_size(entries), nbase + nadded);
        for (size_t i = 0; i < nbase; ++i)
            ck_assert_str_eq(hlt_str(json_array_get(entries, i), "content"), base[i]);
        const char *all[N + 8];
        for (size_t i = 0; i < json_array_size(entries); ++i)
            all[i] = hlt_str(json_array_get(entries, i), "content");
        all[json_array_size(entries)] = NULL;
        for (size_t a = 0; a < nadded; ++a) {
            size_t found = 0;
            for (size_t i = nbase; all[i] != NULL; ++i)
                found += strcmp(all[i], added[a]) == 0;
            ck_assert_msg(found == 1, "\"%s\" is in %s %zu times", added[a], target, found);
        }
        assert_file("work", target, all);
    }
    json_decref(v);
    finish();
}
END_TEST

/*
 * A child that plays Hermes: it takes flock(LOCK_EX) on <profile>/memories/<file>.lock, writes one byte to `ready`, holds
 * the lock for hold_ms, then (when `new_text` is not NULL) replaces the memory file by new_text as Hermes does (temporary
 * file, rename) and exits 0, which releases the lock. Everything it needs is prepared before the fork.
 */
static pid_t hermes_holding_lock(const char *profile, const char *file, long hold_ms, const char *new_text, int *ready_fd)
{
    char *lock = hlth_path(&env, profile, hltc_fmt("memories/%s.lock", file));
    char *path = hlth_path(&env, profile, hltc_fmt("memories/%s", file));
    char *tmp = hlth_path(&env, profile, hltc_fmt("memories/.%s.hermes-tmp", file));
    int fds[2];
    ck_assert(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) != 0)
            _exit(2);
        if (write(fds[1], "L", 1) != 1)
            _exit(3);
        struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        if (new_text != NULL) {
            int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            size_t len = strlen(new_text);
            if (out < 0 || write(out, new_text, len) != (ssize_t)len || fsync(out) != 0 || close(out) != 0 ||
                rename(tmp, path) != 0)
                _exit(4);
        }
        _exit(0);
    }
    close(fds[1]);
    free(lock);
    free(path);
    free(tmp);
    *ready_fd = fds[0];
    return pid;
}

static void wait_ready(int fd)
{
    char c = 0;
    ck_assert_msg(read(fd, &c, 1) == 1 && c == 'L', "the child playing Hermes did not take the lock");
    close(fd);
}

static void reap(pid_t pid)
{
    int status = 0;
    ck_assert_msg(hlt_wait_exit(pid, &status, 10000), "the child playing Hermes did not end");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child playing Hermes failed: status 0x%x", status);
}

START_TEST(test_hermes_lock)
{
    prepare(_i);
    start();
    /* Hermes holds the lock for a second and adds its own entry meanwhile */
    static const char *const HERMES_ADD[] = {"Written by Hermes while it held the lock.", NULL};
    char *hermes_text = join(fixture_plus("work", "memory", HERMES_ADD));
    int ready;
    pid_t pid = hermes_holding_lock("work", "MEMORY.md", 1000, hermes_text, &ready);
    wait_ready(ready);
    long t0 = hlt_now_ms();
    json_t *v = call("POST", entries_path("work"), "{\"target\":\"memory\",\"content\":\"Written by HermesLink.\"}");
    long waited = hlt_now_ms() - t0;
    reap(pid);
    ck_assert_msg(waited >= 900, "the add did not wait for Hermes's lock (answered after %ld ms)", waited);
    static const char *const BOTH[] = {"Written by Hermes while it held the lock.", "Written by HermesLink.", NULL};
    const char *const *want = fixture_plus("work", "memory", BOTH);
    assert_view(v, "work", fixture("work", "user"), want, 1375, 2200, NULL, NULL);
    json_decref(v);
    assert_file("work", "memory", want);
    free(hermes_text);

    /* USER.md's lock is another lock: a user add does not wait for MEMORY.md's */
    pid = hermes_holding_lock("work", "MEMORY.md", 1500, NULL, &ready);
    wait_ready(ready);
    t0 = hlt_now_ms();
    json_decref(call("POST", entries_path("work"), "{\"target\":\"user\",\"content\":\"Not blocked.\"}"));
    waited = hlt_now_ms() - t0;
    ck_assert_msg(waited < 1400, "a USER.md add waited %ld ms for MEMORY.md's lock", waited);
    reap(pid);

    /* while a change waits for Hermes's lock, the Hermes files actor serves other requests: a status, a memory read
     * and a change of another profile are answered while the add is still unanswered and the lock still held */
    pid = hermes_holding_lock("work", "MEMORY.md", 2500, NULL, &ready);
    wait_ready(ready);
    CURLM *multi = hlt_multi_new();
    hlt_response_t parked;
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOK);
    const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
    static const char PARKED_BODY[] = "{\"target\":\"memory\",\"content\":\"Waited for the lock.\"}";
    hlt_request_t preq = {.method = "POST",
                          .path = entries_path("work"),
                          .headers = hdrs,
                          .body = PARKED_BODY,
                          .body_len = strlen(PARKED_BODY),
                          .timeout_ms = 20000};
    curl_multi_add_handle(multi, hlt_easy_new(D, P, &preq, &parked));
    ck_assert_int_eq(hlt_multi_drive(multi, 300), 1); /* sent, not answered: it waits for the lock */
    json_decref(call("GET", hltc_fmt("/api/v1/profiles/%s/status", "work"), NULL));
    json_decref(call("GET", memory_path("work"), NULL));
    json_decref(call("POST", entries_path("art"), "{\"target\":\"memory\",\"content\":\"Another profile.\"}"));
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "the lock was released before the other requests were answered");
    ck_assert_int_eq(hlt_multi_drive(multi, 0), 1);
    reap(pid);
    ck_assert_int_eq(hlt_multi_drive(multi, 10000), 0);
    curl_multi_cleanup(multi);
    ck_assert_msg(parked.status == 200, "the parked add: %ld %s", parked.status, parked.body);
    hlt_response_free(&parked);
    static const char *const PARKED[] = {"Written by Hermes while it held the lock.", "Written by HermesLink.",
                                         "Waited for the lock.", NULL};
    assert_file("work", "memory", fixture_plus("work", "memory", PARKED));

    /* held past the daemon's wait (3 s): 503 memory_busy, nothing written; then the add goes through */
    char *before = read_memory("work", "memory");
    pid = hermes_holding_lock("work", "MEMORY.md", 4500, NULL, &ready);
    wait_ready(ready);
    t0 = hlt_now_ms();
    FAIL("POST", entries_path("work"), "{\"target\":\"memory\",\"content\":\"Too late.\"}", 503, "memory_busy");
    waited = hlt_now_ms() - t0;
    ck_assert_msg(waited >= 2900 && waited < 4400, "memory_busy after %ld ms, expected about 3 s", waited);
    char *now = read_memory("work", "memory");
    ck_assert_str_eq(now, before);
    free(now);
    free(before);
    reap(pid);
    static const char *const LATE[] = {"Written by Hermes while it held the lock.", "Written by HermesLink.",
                                       "Waited for the lock.", "Too late.", NULL};
    v = call("POST", entries_path("work"), "{\"target\":\"memory\",\"content\":\"Too late.\"}");
    json_decref(v);
    assert_file("work", "memory", fixture_plus("work", "memory", LATE));
    finish();
}
END_TEST

/* ---- settings ---- */

/* The fixture's config.yaml of a profile with `from` replaced by `to` (once; asserted present). Caller frees. */
static char *config_with(const char *profile, const char *from, const char *to)
{
    const char *text = hlth_text(profile, "config.yaml");
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "\"%s\" is not in %s's config.yaml", from, profile);
    return hl_asprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

static char *read_config(const char *profile)
{
    char *path = hlth_path(&env, profile, "config.yaml");
    char *text = hlt_read_file(path, NULL);
    free(path);
    ck_assert(text != NULL);
    return text;
}

static void assert_config(const char *profile, const char *want)
{
    char *text = read_config(profile);
    ck_assert_msg(strcmp(text, want) == 0, "%s's config.yaml:\n%s\nexpected:\n%s", profile, text, want);
    free(text);
}

/* The files of a profile's folder named config.yaml.bak.* (a static, comma-joined list of names). */
static const char *backups(const char *profile)
{
    char *dir = hlth_path(&env, profile, NULL);
    char *tree = hlth_tree(dir);
    free(dir);
    static char out[2048];
    out[0] = '\0';
    for (char *line = strtok(tree, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "config.yaml.bak.", 16) == 0) {
            if (out[0] != '\0')
                strcat(out, ",");
            strncat(out, line, strcspn(line, "\t"));
        }
    }
    free(tree);
    return out;
}

/* Asserts the settings change facts of an answer and that its backup holds `old`; returns nothing. */
static void assert_backup(json_t *v, const char *profile, const char *old)
{
    const char *backup = hlt_str(v, "backupPath");
    const char *prefix = strcmp(profile, "default") == 0 ? "" : hltc_fmt("profiles/%s/", profile);
    ck_assert_msg(strncmp(backup, prefix, strlen(prefix)) == 0 &&
                      hlt_matches(backup + strlen(prefix), "^config\\.yaml\\.bak\\.[0-9]{8}T[0-9]{6}\\.[0-9]{6}Z$"),
                  "backupPath %s", backup);
    char *path = hl_asprintf("%s/%s", env.hermes_home, backup);
    char *text = hlt_read_file(path, NULL);
    ck_assert_msg(text != NULL && strcmp(text, old) == 0, "the backup %s holds:\n%s", backup, text != NULL ? text : "(missing)");
    free(text);
    free(path);
}

static json_t *reload_facts(int changed)
{
    return json_pack("{s:b, s:b}", "requiresGatewayReload", changed, "gatewayReloaded", 0);
}

/* The answer's backupPath and restartHint checked, then set to what `extra` of assert_view expects. */
static json_t *change_extra(json_t *v, int changed)
{
    json_t *extra = reload_facts(changed);
    json_object_set(extra, "backupPath", json_object_get(v, "backupPath"));
    json_t *hint = json_object_get(v, "restartHint");
    ck_assert_msg(changed ? json_is_string(hint) && json_string_length(hint) > 0 : json_is_null(hint), "restartHint: %s",
                  json_dumps(v, JSON_COMPACT));
    json_object_set(extra, "restartHint", hint);
    return extra;
}

START_TEST(test_settings_builtin)
{
    prepare(_i);
    start();
    const char *cfg = hlth_text("default", "config.yaml");
    set_mode("default", "config.yaml", 0640);

    /* one setting: only its line changes, its comment stays */
    json_t *v = call("PATCH", settings_path("default"), "{\"memoryCharLimit\":3000}");
    char *want = config_with("default", "  memory_char_limit: 2200   # MEMORY.md\n", "  memory_char_limit: 3000   # MEMORY.md\n");
    assert_config("default", want);
    assert_backup(v, "default", cfg);
    assert_view(v, "default", fixture("default", "user"), fixture("default", "memory"), 1375, 3000, NULL, change_extra(v, 1));
    json_decref(v);
    ck_assert_int_eq(mode_of("default", "config.yaml"), 0640);

    /* several, in snake_case under "settings" */
    v = call("PATCH", settings_path("default"),
             "{\"settings\":{\"user_char_limit\":500,\"memory_enabled\":false,\"userProfileEnabled\":false}}");
    char *want2 = config_with("default",
                              "  memory_enabled: true\n  user_profile_enabled: true\n  memory_char_limit: 2200   # MEMORY.md\n"
                              "  user_char_limit: 1375     # USER.md\n",
                              "  memory_enabled: false\n  user_profile_enabled: false\n  memory_char_limit: 3000   # MEMORY.md\n"
                              "  user_char_limit: 500     # USER.md\n");
    assert_config("default", want2);
    assert_backup(v, "default", want);
    assert_view(v, "default", fixture("default", "user"), fixture("default", "memory"), 500, 3000,
                builtin_settings(3000, 500, 0, 0), change_extra(v, 1));
    json_decref(v);
    free(want);
    free(want2);

    /* values it already has: nothing written, no backup, nothing for Hermes to reload */
    char *tree0 = hlth_tree(env.hermes_home);
    v = call("PATCH", settings_path("default"), "{\"memoryCharLimit\":3000,\"memory_enabled\":false}");
    assert_view(v, "default", fixture("default", "user"), fixture("default", "memory"), 500, 3000,
                builtin_settings(3000, 500, 0, 0),
                json_pack("{s:n, s:b, s:b, s:n}", "backupPath", "requiresGatewayReload", 0, "gatewayReloaded", 0, "restartHint"));
    json_decref(v);
    char *tree1 = hlth_tree(env.hermes_home);
    ck_assert_str_eq(tree1, tree0);
    free(tree0);
    free(tree1);

    /* refused values and empty changes: config.yaml untouched */
    char *tree = hlth_tree(env.hermes_home);
    static const char *const INVALID[] = {
        "{\"memoryCharLimit\":0}",
        "{\"memoryCharLimit\":-5}",
        "{\"memoryCharLimit\":\"3000\"}",
        "{\"memoryCharLimit\":1.5}",
        "{\"memoryCharLimit\":100001}",
        "{\"userCharLimit\":null}",
        "{\"memory_char_limit\":true}",
        "{\"memoryEnabled\":\"yes\"}",
        "{\"memoryEnabled\":1}",
        "{\"user_profile_enabled\":0}",
        "{\"settings\":{\"userCharLimit\":0}}",
        "{\"memoryCharLimit\":3000,\"userCharLimit\":0}",
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(INVALID); ++i)
        FAIL("PATCH", settings_path("default"), INVALID[i], 400, "memory_settings_invalid");
    static const char *const EMPTY[] = {"{}", "{\"settings\":{}}", "{\"provider\":\"built-in\"}", "{\"limit\":5}", "[]"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(EMPTY); ++i)
        FAIL("PATCH", settings_path("default"), EMPTY[i], 400, "memory_settings_update_empty");
    FAIL("PATCH", settings_path("default"), NULL, 400, "memory_settings_update_empty");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, tree);
    free(after);
    free(tree);

    /* the largest limit; through the built-in provider's own route too */
    v = call("PATCH", provider_settings_path("work", "built-in"), "{\"memoryCharLimit\":100000}");
    /* work has no memory block: one is added at the end */
    want = hl_asprintf("%smemory:\n  memory_char_limit: 100000\n", hlth_text("work", "config.yaml"));
    assert_config("work", want);
    free(want);
    assert_backup(v, "work", hlth_text("work", "config.yaml"));
    assert_view(v, "work", fixture("work", "user"), fixture("work", "memory"), 1375, 100000, NULL, change_extra(v, 1));
    json_decref(v);
    FAIL("PATCH", provider_settings_path("work", "honcho"), "{\"memoryCharLimit\":100}", 404, "memory_provider_not_configured");
    FAIL("PATCH", provider_settings_path("work", "mem0"), "{}", 404, "memory_provider_not_configured");

    /* memory/provider: built-in is already the provider; an external one is only Hermes's to set up */
    char *cfg_now = read_config("default");
    v = call("PATCH", provider_path("default"), "{\"provider\":\"built-in\"}");
    ck_assert(json_is_null(json_object_get(v, "backupPath")));
    assert_view(v, "default", fixture("default", "user"), fixture("default", "memory"), 500, 3000,
                builtin_settings(3000, 500, 0, 0),
                json_pack("{s:n, s:b, s:b, s:n}", "backupPath", "requiresGatewayReload", 0, "gatewayReloaded", 0, "restartHint"));
    json_decref(v);
    FAIL("PATCH", provider_path("default"), "{\"provider\":\"honcho\"}", 409, "memory_provider_external");
    FAIL("PATCH", provider_path("default"), "{\"provider\":\"mem0\"}", 409, "memory_provider_external");
    FAIL("PATCH", provider_path("default"), "{}", 400, "memory_provider_required");
    FAIL("PATCH", provider_path("default"), "{\"provider\":5}", 400, "memory_provider_required");
    assert_config("default", cfg_now);
    free(cfg_now);
    ck_assert_str_eq(backups("art"), "");
    finish();
}
END_TEST

START_TEST(test_settings_external)
{
    prepare(_i);
    static const char CONFIG[] = "# memory kept by Honcho\n"
                                 "memory:\n"
                                 "  memory_enabled: true\n"
                                 "  provider: honcho   # set by hermes memory setup\n"
                                 "\n"
                                 "honcho:\n"
                                 "  api_key: hc-secret-0123456789\n"
                                 "  workspace: hermes\n"
                                 "  peers:\n"
                                 "    - name: sam\n"
                                 "      token: peer-secret-42\n"
                                 "  environment: production\n";
    hlth_write(&env, "art", "config.yaml", CONFIG);
    start();

    json_t *settings = json_pack("{s:s, s:b, s:b, s:{s:s, s:s, s:[{s:s, s:s}], s:s}}", "provider", "honcho", "external", 1,
                                 "readOnly", 1, "providerSettings", "api_key", "(configured)", "workspace", "hermes", "peers",
                                 "name", "sam", "token", "(configured)", "environment", "production");
    hlt_response_t res;
    request("GET", memory_path("art"), NULL, &res);
    ck_assert_msg(strstr(res.body, "hc-secret") == NULL && strstr(res.body, "peer-secret") == NULL, "a secret is shown: %s",
                  res.body);
    json_t *v = ok_body("GET", memory_path("art"), &res);
    hlt_response_free(&res);
    assert_view(v, "art", fixture("art", "user"), fixture("art", "memory"), 1375, 2200, json_incref(settings), NULL);
    json_decref(v);

    /* settings are Hermes's to change */
    char *tree = hlth_tree(env.hermes_home);
    FAIL("PATCH", settings_path("art"), "{\"memoryCharLimit\":3000}", 409, "memory_provider_external");
    FAIL("PATCH", settings_path("art"), "{}", 409, "memory_provider_external");
    FAIL("PATCH", provider_settings_path("art", "honcho"), "{\"workspace\":\"x\"}", 409, "memory_provider_external");
    FAIL("PATCH", provider_settings_path("art", "built-in"), "{\"memoryCharLimit\":3000}", 409, "memory_provider_external");
    FAIL("PATCH", provider_path("art"), "{\"provider\":\"mem0\"}", 409, "memory_provider_external");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, tree);
    free(after);
    free(tree);
    /* the provider it already has: nothing to do */
    v = call("PATCH", provider_path("art"), "{\"provider\":\"honcho\"}");
    assert_view(v, "art", fixture("art", "user"), fixture("art", "memory"), 1375, 2200, json_incref(settings),
                json_pack("{s:n, s:b, s:b, s:n}", "backupPath", "requiresGatewayReload", 0, "gatewayReloaded", 0, "restartHint"));
    json_decref(v);
    assert_config("art", CONFIG);

    /* back to the built-in memory: only the provider line changes */
    v = call("PATCH", provider_path("art"), "{\"provider\":\"built-in\"}");
    char *want = hl_strdup(CONFIG);
    char *at = strstr(want, "  provider: honcho   #");
    memcpy(at, "  provider: \"\"", 14);
    memmove(at + 14, at + 18, strlen(at + 18) + 1);
    assert_config("art", want);
    free(want);
    assert_backup(v, "art", CONFIG);
    assert_view(v, "art", fixture("art", "user"), fixture("art", "memory"), 1375, 2200, builtin_settings(2200, 1375, 1, 1),
                change_extra(v, 1));
    json_decref(v);
    /* and its settings are ours again */
    json_decref(call("PATCH", settings_path("art"), "{\"userCharLimit\":1000}"));
    json_decref(settings);
    finish();
}
END_TEST

START_TEST(test_settings_invalid_yaml)
{
    prepare(_i);
    static const char BROKEN[] = "memory:\n  memory_char_limit: [2200\n  provider: \"\n";
    hlth_write(&env, "work", "config.yaml", BROKEN);
    start();
    char *tree = hlth_tree(env.hermes_home);
    FAIL("PATCH", settings_path("work"), "{\"memoryCharLimit\":3000}", 409, "config_yaml_invalid");
    FAIL("PATCH", provider_settings_path("work", "built-in"), "{\"memoryCharLimit\":3000}", 409, "config_yaml_invalid");
    FAIL("PATCH", provider_path("work"), "{\"provider\":\"built-in\"}", 409, "config_yaml_invalid");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, tree);
    free(after);
    free(tree);
    assert_config("work", BROKEN);
    ck_assert_str_eq(backups("work"), "");
    /* the files themselves stay readable and writable, with Hermes's default limits */
    json_t *v = call("GET", memory_path("work"), NULL);
    json_t *settings = json_object_get(v, "settings");
    ck_assert_str_eq(hlt_str(settings, "provider"), "built-in");
    ck_assert(json_is_false(json_object_get(settings, "configReadable")));
    json_decref(v);
    json_decref(call("POST", entries_path("work"), "{\"target\":\"user\",\"content\":\"Still works.\"}"));
    assert_config("work", BROKEN);
    finish();
}
END_TEST

Suite *suite_profile_memory(void)
{
    Suite *s = suite_create("profile_memory");
    TCase *tc = tcase_create("profile_memory");
    tcase_set_timeout(tc, 120);
    int n = (int)HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_view, 0, n);
    tcase_add_loop_test(tc, test_add, 0, n);
    tcase_add_loop_test(tc, test_replace_remove, 0, n);
    tcase_add_loop_test(tc, test_clear, 0, n);
    tcase_add_loop_test(tc, test_names, 0, n);
    tcase_add_test(tc, test_concurrent_adds);
    tcase_add_loop_test(tc, test_hermes_lock, 0, n);
    tcase_add_loop_test(tc, test_settings_builtin, 0, n);
    tcase_add_loop_test(tc, test_settings_external, 0, n);
    tcase_add_loop_test(tc, test_settings_invalid_yaml, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
