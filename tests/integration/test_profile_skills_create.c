/*
 * A Hermes profile's skills and the creation of profiles (issue 10; spec/API.md §10, STORAGE.md §3.5,
 * UPSTREAM-HERMES.md §2.1 and §2.5, GAPS §B 9 and 21): GET …/skills, PATCH …/skills/:skillName, POST /api/v1/profiles,
 * GET /api/v1/profile-creation/status and the GET /api/v1/profile-creation/events stream.
 *
 * Each test gets a fresh Hermes home (harness_hermes.h: default, work, art) and its own daemon with a paired device, and
 * runs once over HTTP/1.1, h2c (prior knowledge) and h2 over TLS. Requests are sent with CURLOPT_PATH_AS_IS. Covered:
 *  - skills: the exact Skill and Category objects of every fixture profile (frontmatter or first body line as the
 *    description, categories from the folders, builtin provenance from .bundled_manifest, disabled from config.yaml),
 *    the profile's status beside them; include_disabled / includeDisabled false or 0 hide disabled skills (the category
 *    counts stay whole); 404 profile_not_found, 400 for names leading elsewhere, no-store;
 *  - toggling: enabled false / true / "false" / "true" / 0 / 1 edit only skills.disabled (sorted, comments and the
 *    rest of config.yaml byte for byte, diffed), a relative backupPath whose file holds the old text, no write and no
 *    backup when nothing changes, a profile without a skills block gets one; skill_enabled_required, skill_not_found,
 *    invalid_skill_name for control characters, invalid_profile_name, profile_not_found, read-only folder names, and
 *    an invalid config.yaml (409 config_yaml_invalid, untouched) — with config.yaml unchanged after each;
 *  - creation with a hermes command (a shell script named by HERMES_BIN in the daemon's environment): 202 running, the
 *    command's stdout and stderr lines in order as they come, running → succeeded, GET …/status equal to the last
 *    event, the event stream's `event: profile.creation.status` frames without `id:` lines (API.md §1.9), a
 *    reconnect getting the current status, 409 profile_creation_in_progress meanwhile, a clone passed on as
 *    --clone --clone-from <source>, no descriptor of the daemon's but 0-2 inherited by the command, the new profile
 *    listed with its description;
 *  - failures: exit 3 with the stderr tail in error, exit 0 without a folder, HERMES_BIN naming a file that cannot run;
 *  - without hermes (HERMES_BIN unset, PATH without it): the folders of UPSTREAM-HERMES §2.1 laid out, 0700, nothing
 *    else; clone copying config.yaml, .env, SOUL.md and the memory files byte for byte from default or another profile;
 *  - names: Hermes's rule, reserved names, taken names (a folder, a file, a dangling link), a missing clone source, a
 *    too-long description, bodies that are not objects — each refused with nothing made and the status still idle.
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

#define NAME64 "a234567890123456789012345678901234567890123456789012345678901234"
#define NAME65 NAME64 "5"
#define UNCATEGORISED "\xe6\x9c\xaa\xe5\x88\x86\xe7\xb1\xbb" /* 未分类 */

/* ---- the daemon of a test ---- */

static void prepare(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
}

/* Starts the daemon (TLS too) with changes to its environment (NULL-terminated, may be NULL) and pairs a device. */
static void start_with(const char *const *extra_env)
{
    memset(&ctx, 0, sizeof(ctx));
    hlt_daemon_opts_t o = {.tls = 1, .env = &env, .extra_env = extra_env};
    hlt_daemon_start(&ctx.d, &o);
    ctx.started = 1;
    hlt_enroll(&ctx.d, HLT_H1, NULL, &ctx.dev);
}

static void start(void)
{
    start_with(NULL);
}

static void finish(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
    hlt_env_dispose(&env);
}

/* ---- requests ---- */

static void request(const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, TOK, method, path, body, res);
}

/* A `status` answer {"ok":true,…} with JSON, CORS, no-store and no absolute path: the body (new reference). */
static json_t *call_status(const char *method, const char *path, const char *body, long status)
{
    hlt_response_t res;
    request(method, path, body, &res);
    ck_assert_msg(res.status == status, "%s %s over %s: expected %ld, got %ld: %.600s", method, path, hlt_proto_name(P), status,
                  res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: %.400s", method, path, res.body);
    ck_assert_msg(strstr(res.body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

static json_t *call(const char *method, const char *path, const char *body)
{
    return call_status(method, path, body, 200);
}

static void call_error(const char *method, const char *path, const char *body, long status, const char *code)
{
    hlth_call_error(D, P, TOK, method, path, body, status, code);
}

#define FAIL(method, path, body, status, code) call_error(method, path, body, status, code)

static void assert_json_eq(json_t *got, json_t *want, const char *what)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        ck_abort_msg("%s over %s:\n got  %s\n want %s", what, hlt_proto_name(P), g, w);
    }
}

static const char *skills_path(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/skills", profile);
}

static const char *skill_path(const char *profile, const char *skill)
{
    return hltc_fmt("/api/v1/profiles/%s/skills/%s", profile, skill);
}

/* The names GET /api/v1/profiles lists, comma-joined (rotating buffer). */
static const char *list_names(void)
{
    json_t *j = call("GET", "/api/v1/profiles", NULL);
    char buf[2048] = "";
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "profiles"), i, n)
    {
        if (i > 0)
            strcat(buf, ",");
        strncat(buf, json_string_value(n), 200);
    }
    json_decref(j);
    return hltc_fmt("%s", buf);
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

/* The fixture's config.yaml of a profile with `from` replaced by `to` (asserted present). Caller frees. */
static char *config_with(const char *profile, const char *from, const char *to)
{
    const char *text = hlth_text(profile, "config.yaml");
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "\"%s\" is not in %s's config.yaml", from, profile);
    return hl_asprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* ---- skills ---- */

/* The fixture's skills of a profile as API.md §10 shows them, with `disabled` (comma-separated, NULL: the fixture's). */
static json_t *expected_skills(const char *profile, const char *disabled, int include_disabled, json_t **categories)
{
    size_t n;
    const hlth_skill_t *all = hlth_skills(&n);
    json_t *skills = json_array(), *cats = json_array();
    json_t *cat = NULL;
    const char *cat_name = NULL;
    for (size_t i = 0; i < n; ++i) {
        const hlth_skill_t *s = &all[i];
        if (strcmp(s->profile, profile) != 0)
            continue;
        int enabled = s->enabled;
        if (disabled != NULL) {
            char *list = hl_asprintf(",%s,", disabled), *name = hl_asprintf(",%s,", s->name);
            enabled = strstr(list, name) == NULL;
            free(list);
            free(name);
        }
        if (enabled || include_disabled)
            json_array_append_new(skills, json_pack("{s:s, s:o, s:s, s:b, s:s, s:s, s:s}", "name", s->name, "category",
                                                    s->category != NULL ? json_string(s->category) : json_null(), "description",
                                                    s->description, "enabled", enabled, "source", s->builtin ? "builtin" : "local",
                                                    "trust", s->builtin ? "builtin" : "local", "relativePath", s->relative_path));
        int same = cat != NULL && ((cat_name == NULL && s->category == NULL) ||
                                   (cat_name != NULL && s->category != NULL && strcmp(cat_name, s->category) == 0));
        if (!same) {
            cat = json_pack("{s:o, s:s, s:i, s:i, s:i}", "name", s->category != NULL ? json_string(s->category) : json_null(),
                            "label", s->category != NULL ? s->category : UNCATEGORISED, "total", 0, "enabled", 0, "disabled", 0);
            json_array_append_new(cats, cat);
            cat_name = s->category;
        }
        const char *const KEYS[] = {"total", enabled ? "enabled" : "disabled"};
        for (size_t k = 0; k < 2; ++k)
            json_object_set_new(cat, KEYS[k], json_integer(json_integer_value(json_object_get(cat, KEYS[k])) + 1));
    }
    *categories = cats;
    return skills;
}

/* GET …/status's profile object (new reference). */
static json_t *profile_status(const char *profile)
{
    json_t *j = call("GET", hltc_fmt("/api/v1/profiles/%s/status", profile), NULL);
    json_t *st = json_incref(json_object_get(j, "profile"));
    json_decref(j);
    return st;
}

/* Asserts a skills listing exactly: {ok, profile (= GET …/status), skills, categories} and `extra` keys (stolen, may be NULL). */
static void assert_listing(json_t *got, const char *profile, const char *disabled, int include_disabled, json_t *extra)
{
    json_t *cats;
    json_t *skills = expected_skills(profile, disabled, include_disabled, &cats);
    json_t *want =
        json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "profile", profile_status(profile), "skills", skills, "categories", cats);
    if (extra != NULL) {
        json_object_update(want, extra);
        json_decref(extra);
    }
    assert_json_eq(got, want, hltc_fmt("the skills of %s", profile));
    json_decref(want);
}

START_TEST(test_skills_list)
{
    prepare(_i);
    hlth_write(&env, "Legacy.Profile", "skills/old-skill/SKILL.md", "---\nname: old-skill\ndescription: From before.\n---\nBody\n");
    start();
    for (size_t i = 0; i < HL_ARRAY_SIZE(HLTH_PROFILES); ++i) {
        const char *p = HLTH_PROFILES[i];
        json_t *v = call("GET", skills_path(p), NULL);
        assert_listing(v, p, NULL, 1, NULL);
        json_decref(v);
        static const char *const HIDE[] = {"include_disabled=false", "include_disabled=0", "includeDisabled=false",
                                           "include_disabled=FALSE"};
        for (size_t h = 0; h < HL_ARRAY_SIZE(HIDE); ++h) {
            v = call("GET", hltc_fmt("%s?%s", skills_path(p), HIDE[h]), NULL);
            assert_listing(v, p, NULL, 0, NULL);
            json_decref(v);
        }
        static const char *const SHOW[] = {"include_disabled=true", "include_disabled=1", "includeDisabled=true", "other=false"};
        for (size_t h = 0; h < HL_ARRAY_SIZE(SHOW); ++h) {
            v = call("GET", hltc_fmt("%s?%s", skills_path(p), SHOW[h]), NULL);
            assert_listing(v, p, NULL, 1, NULL);
            json_decref(v);
        }
    }
    /* a folder name Hermes would not give: readable */
    json_t *v = call("GET", skills_path("Legacy.Profile"), NULL);
    json_t *want = json_pack("[{s:s, s:n, s:s, s:b, s:s, s:s, s:s}]", "name", "old-skill", "category", "description",
                             "From before.", "enabled", 1, "source", "local", "trust", "local", "relativePath", "old-skill");
    assert_json_eq(json_object_get(v, "skills"), want, "Legacy.Profile's skills");
    json_decref(want);
    json_decref(v);

    char *before = hlth_tree(env.hermes_home);
    FAIL("GET", skills_path("missing"), NULL, 404, "profile_not_found");
    FAIL("GET", hltc_fmt("%s?include_disabled=false", skills_path("missing")), NULL, 404, "profile_not_found");
    static const char *const NAMES[] = {"..",        "%2E%2E", "%2E%2E%2Fwork", "a%2Fb", "%2Fetc",
                                        "work%2F..", ".",      NAME65,          "%2F",   "..%2F..%2Ftmp"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i)
        FAIL("GET", skills_path(NAMES[i]), NULL, 400, "invalid_profile_name");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    char *missing = hlth_path(&env, "missing", NULL);
    ck_assert(!hlth_exists(missing));
    free(missing);
    free(before);
    free(after);
    finish();
}
END_TEST

/* Asserts a toggle's answer: the listing with `disabled`, "skill" the skill as it is now, and the backup (NULL: none) holding
 * `old`. */
static void assert_toggle(json_t *v, const char *profile, const char *skill, const char *disabled, const char *old)
{
    json_t *bp = json_object_get(v, "backupPath");
    if (old == NULL) {
        ck_assert_msg(json_is_null(bp), "a backup for a change that changed nothing: %s", json_dumps(bp, JSON_ENCODE_ANY));
    } else {
        const char *backup = json_string_value(bp);
        const char *prefix = strcmp(profile, "default") == 0 ? "" : hltc_fmt("profiles/%s/", profile);
        ck_assert_msg(backup != NULL && strncmp(backup, prefix, strlen(prefix)) == 0 &&
                          hlt_matches(backup + strlen(prefix), "^config\\.yaml\\.bak\\.[0-9]{8}T[0-9]{6}\\.[0-9]{6}Z$"),
                      "backupPath %s", backup != NULL ? backup : "(not a string)");
        char *path = hl_asprintf("%s/%s", env.hermes_home, backup);
        char *text = hlt_read_file(path, NULL);
        ck_assert_msg(text != NULL && strcmp(text, old) == 0, "the backup %s holds:\n%s", backup,
                      text != NULL ? text : "(missing)");
        free(text);
        free(path);
    }
    json_t *cats, *skills = expected_skills(profile, disabled, 1, &cats);
    json_t *one = NULL;
    size_t i;
    json_t *s;
    json_array_foreach(skills, i, s)
    {
        if (strcmp(hlt_str(s, "name"), skill) == 0)
            one = s;
    }
    ck_assert(one != NULL);
    json_t *extra = json_pack("{s:O, s:O}", "skill", one, "backupPath", bp);
    json_decref(skills);
    json_decref(cats);
    assert_listing(v, profile, disabled, 1, extra);
}

START_TEST(test_skill_toggle)
{
    prepare(_i);
    start();
    const char *work_cfg = hlth_text("work", "config.yaml");
    char *dir = hlth_path(&env, "work", NULL);

    /* disable: the name joins skills.disabled, sorted; only those lines change */
    json_t *v = call("PATCH", skill_path("work", "meeting-notes"), "{\"enabled\":false}");
    char *want = config_with("work", "  disabled:\n    - git-blame\n", "  disabled:\n    - git-blame\n    - meeting-notes\n");
    assert_config("work", want);
    assert_toggle(v, "work", "meeting-notes", "git-blame,meeting-notes", work_cfg);
    json_decref(v);
    char *prev = want;
    v = call("PATCH", skill_path("work", "code-review"), "{\"enabled\":0}");
    want = config_with("work", "  disabled:\n    - git-blame\n",
                       "  disabled:\n    - code-review\n    - git-blame\n    - meeting-notes\n");
    assert_config("work", want);
    assert_toggle(v, "work", "code-review", "code-review,git-blame,meeting-notes", prev);
    json_decref(v);
    /* already disabled: nothing written, no backup */
    char *tree = hlth_tree(dir);
    v = call("PATCH", skill_path("work", "code-review"), "{\"enabled\":\"false\"}");
    assert_toggle(v, "work", "code-review", "code-review,git-blame,meeting-notes", NULL);
    json_decref(v);
    char *after = hlth_tree(dir);
    ck_assert_str_eq(after, tree);
    free(after);
    free(tree);
    /* enable again, with a string and a number */
    free(prev);
    prev = want;
    v = call("PATCH", skill_path("work", "meeting-notes"), "{\"enabled\":\"true\"}");
    want = config_with("work", "  disabled:\n    - git-blame\n", "  disabled:\n    - code-review\n    - git-blame\n");
    assert_config("work", want);
    assert_toggle(v, "work", "meeting-notes", "code-review,git-blame", prev);
    json_decref(v);
    free(prev);
    prev = want;
    v = call("PATCH", skill_path("work", "code-review"), "{\"enabled\":1}");
    assert_config("work", work_cfg);
    assert_toggle(v, "work", "code-review", "git-blame", prev);
    json_decref(v);
    free(prev);

    /* default: enabling its only disabled skill leaves an empty list; the comment above it stays */
    const char *def_cfg = hlth_text("default", "config.yaml");
    v = call("PATCH", skill_path("default", "arxiv-search"), "{\"enabled\":true}");
    want = config_with("default", "  disabled:\n    - arxiv-search\n", "  disabled: []\n");
    assert_config("default", want);
    assert_toggle(v, "default", "arxiv-search", "", def_cfg);
    json_decref(v);
    prev = want;
    v = call("PATCH", skill_path("default", "quick-notes"), "{\"enabled\":false}");
    /* the list is now a flow list ([]): it stays one */
    want = config_with("default", "  disabled:\n    - arxiv-search\n", "  disabled: [quick-notes]\n");
    assert_config("default", want);
    assert_toggle(v, "default", "quick-notes", "quick-notes", prev);
    json_decref(v);
    free(prev);
    free(want);

    /* art has no skills block: one is added at the end */
    const char *art_cfg = hlth_text("art", "config.yaml");
    v = call("PATCH", skill_path("art", "palette"), "{\"enabled\":false}");
    want = hl_asprintf("%sskills:\n  disabled:\n    - palette\n", art_cfg);
    assert_config("art", want);
    assert_toggle(v, "art", "palette", "palette", art_cfg);
    json_decref(v);

    /* refused, nothing written */
    char *home = hlth_tree(env.hermes_home);
    static const char *const NO_ENABLED[] = {
        "{}", "{\"enabled\":null}", "{\"enabled\":\"yes\"}", "{\"enabled\":2}", "{\"enabled\":[true]}", "{\"enable\":true}",
        "[]", "{\"enabled\":\"\"}"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NO_ENABLED); ++i)
        FAIL("PATCH", skill_path("work", "git-blame"), NO_ENABLED[i], 400, "skill_enabled_required");
    FAIL("PATCH", skill_path("work", "git-blame"), NULL, 400, "skill_enabled_required");
    FAIL("PATCH", skill_path("work", "no-such-skill"), "{\"enabled\":false}", 404, "skill_not_found");
    FAIL("PATCH", skill_path("work", "palette"), "{\"enabled\":false}", 404, "skill_not_found"); /* art's */
    FAIL("PATCH", skill_path("work", "software-development"), "{\"enabled\":false}", 404, "skill_not_found");
    FAIL("PATCH", skill_path("work", "..%2F..%2Fconfig.yaml"), "{\"enabled\":false}", 404, "skill_not_found");
    static const char *const CONTROL[] = {"git%01blame", "git-blame%0A", "%0D", "a%09b", "%7F", "%1B%5B2J"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(CONTROL); ++i)
        FAIL("PATCH", skill_path("work", CONTROL[i]), "{\"enabled\":false}", 400, "invalid_skill_name");
    FAIL("PATCH", skill_path("missing", "git-blame"), "{\"enabled\":false}", 404, "profile_not_found");
    static const char *const NAMES[] = {"..", "%2E%2E", "%2E%2E%2Fwork", "a%2Fb", "%2Fetc", NAME65, "Legacy.Profile"};
    hlth_write(&env, "Legacy.Profile", "skills/old/SKILL.md", "---\nname: old\n---\nOld.\n");
    free(home);
    home = hlth_tree(env.hermes_home);
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i)
        FAIL("PATCH", skill_path(NAMES[i], "git-blame"), "{\"enabled\":false}", 400, "invalid_profile_name");
    FAIL("PATCH", skill_path("Legacy.Profile", "old"), "{\"enabled\":false}", 400, "invalid_profile_name");
    after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, home);
    free(after);
    free(home);
    assert_config("art", want);
    free(want);
    assert_config("work", work_cfg);

    /* an invalid config.yaml: which skills are disabled is unknown; nothing is written */
    static const char BROKEN[] = "skills:\n  disabled: [git-blame\nmodel: {\n";
    hlth_write(&env, "work", "config.yaml", BROKEN);
    tree = hlth_tree(dir);
    FAIL("GET", skills_path("work"), NULL, 409, "config_yaml_invalid");
    FAIL("PATCH", skill_path("work", "meeting-notes"), "{\"enabled\":false}", 409, "config_yaml_invalid");
    after = hlth_tree(dir);
    ck_assert_str_eq(after, tree);
    assert_config("work", BROKEN);
    free(after);
    free(tree);
    free(dir);
    finish();
}
END_TEST

/* ---- creating profiles ---- */

#define CREATION_PATH "/api/v1/profile-creation/status"
#define EVENTS_PATH "/api/v1/profile-creation/events"

/* The stand-in for `hermes profile create <name> [--clone] [--clone-from X]`: its behaviour follows the name. */
static const char FAKE_HERMES[] = "#!/bin/sh\n"
                                  "# HermesLink test: a stand-in for `hermes profile create`\n"
                                  "printf '%s\\n' \"$*\" >> \"$HERMES_HOME/../hermes-calls.log\"\n"
                                  "name=\"$3\"\n"
                                  "case \"$name\" in\n"
                                  "fail*)\n"
                                  "  echo \"Creating profile $name\"\n"
                                  "  sleep 0.2\n"
                                  "  echo \"error: cannot create $name\" >&2\n"
                                  "  echo \"the disk is read-only\" >&2\n"
                                  "  exit 3 ;;\n"
                                  "nofolder*)\n"
                                  "  echo \"Nothing to do\"\n"
                                  "  exit 0 ;;\n"
                                  "esac\n"
                                  "leaked=$(ls -l /proc/$$/fd | grep -c -e 'socket:' -e 'anon_inode:')\n"
                                  "echo \"Creating profile $name... (descriptors inherited: $leaked)\"\n"
                                  "sleep 0.3\n"
                                  "echo \"warning: no bundled skills to sync\" >&2\n"
                                  "sleep 0.3\n"
                                  "mkdir -p \"$HERMES_HOME/profiles/$name/memories\"\n"
                                  "echo \"Profile '$name' created at profiles/$name\"\n"
                                  "sleep 0.3\n"
                                  "printf 'done'\n";

/* Writes the fake hermes into <env>/bin (mode `mode`) and returns its path (caller frees). */
static char *write_fake_hermes(const char *name, const char *text, mode_t mode)
{
    char *bin = hlt_env_path(&env, 0, "bin");
    hlth_mkdirs(bin);
    char *path = hl_asprintf("%s/%s", bin, name);
    hlt_write_file(path, text);
    ck_assert(chmod(path, mode) == 0);
    free(bin);
    return path;
}

/* What the fake hermes was called with, one line per call ("" when never). Caller frees. */
static char *hermes_calls(void)
{
    char *path = hlt_env_path(&env, 0, "hermes-calls.log");
    char *text = hlt_read_file(path, NULL);
    free(path);
    return text != NULL ? text : hl_strdup("");
}

static json_t *idle_status(void)
{
    return json_pack("{s:s, s:n, s:n, s:n, s:n, s:n, s:[], s:n}", "state", "idle", "profile_name", "started_at", "finished_at",
                     "pid", "job_id", "lines", "error");
}

/* A copy of a status without "ok". */
static json_t *without_ok(json_t *j)
{
    json_t *c = json_deep_copy(j);
    json_object_del(c, "ok");
    return c;
}

/*
 * Asserts a creation status: exactly its eight fields; `state`, `name` (NULL: null), the lines (NULL-terminated), the
 * error (NULL: null); started_at set (finished_at too unless running), a pjob_ id, and a pid when `pid` (else null).
 */
static void assert_creation(json_t *st, const char *state, const char *name, const char *const *lines, const char *error, int pid)
{
    char *dump = json_dumps(st, JSON_COMPACT);
    hlt_assert_keys(st, "creation status", "state", "profile_name", "started_at", "finished_at", "pid", "job_id", "lines", "error",
                    NULL);
    ck_assert_msg(strcmp(hlt_str(st, "state"), state) == 0, "state in %s, expected %s", dump, state);
    ck_assert_str_eq(hlt_str(st, "profile_name"), name);
    int64_t started = hlt_iso(st, "started_at");
    if (strcmp(state, "running") == 0)
        ck_assert_msg(json_is_null(json_object_get(st, "finished_at")), "finished_at while running: %s", dump);
    else
        ck_assert_msg(hlt_iso(st, "finished_at") >= started, "finished before it started: %s", dump);
    ck_assert_msg(hlt_matches(hlt_str(st, "job_id"), "^pjob_[0-9a-f]{32}$"), "job_id in %s", dump);
    json_t *p = json_object_get(st, "pid");
    ck_assert_msg(pid ? json_is_integer(p) && json_integer_value(p) > 0 : json_is_null(p), "pid in %s", dump);
    json_t *want_lines = json_array();
    for (size_t i = 0; lines[i] != NULL; ++i)
        json_array_append_new(want_lines, json_string(lines[i]));
    assert_json_eq(json_object_get(st, "lines"), want_lines, "the creation's lines");
    json_decref(want_lines);
    json_t *e = json_object_get(st, "error");
    if (error == NULL)
        ck_assert_msg(json_is_null(e), "error in %s", dump);
    else
        ck_assert_msg(json_is_string(e) && strcmp(json_string_value(e), error) == 0, "error in %s, expected %s", dump, error);
    free(dump);
}

/* Polls GET …/profile-creation/status until its state is not running (10 s at most); the body (new reference). */
static json_t *wait_creation(void)
{
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        json_t *j = call("GET", CREATION_PATH, NULL);
        if (strcmp(hlt_str(j, "state"), "running") != 0)
            return j;
        json_decref(j);
        ck_assert_msg(hlt_now_ms() < deadline, "the creation still runs after 10 s");
        hlt_sleep_ms(50);
    }
}

/* Asserts that a profile's folder exists (or not). */
static void assert_profile_dir(const char *name, int exists)
{
    char *dir = hlth_path(&env, name, NULL);
    struct stat st;
    int there = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    ck_assert_msg(there == exists, "profiles/%s %s", name, exists ? "was not made" : "exists");
    free(dir);
}

/* Drives the stream until an event of state `state` arrived (10 s at most); its index. */
static size_t wait_event_state(hltc_sse_t *s, const char *state)
{
    long deadline = hlt_now_ms() + 10000;
    for (;;) {
        for (size_t i = 0; i < s->ev.n; ++i)
            if (s->ev.v[i].json != NULL && strcmp(hlt_str(s->ev.v[i].json, "state"), state) == 0)
                return i;
        ck_assert_msg(hlt_now_ms() < deadline, "no %s event within 10 s: %.2000s", state, s->res.body);
        hltc_sse_pump(s, 100);
    }
}

/* Asserts that every event of the stream is a profile.creation.status frame without an `id:` line (API.md §1.9). */
static void assert_frames(const hltc_sse_t *s)
{
    for (size_t i = 0; i < s->ev.n; ++i) {
        const hltc_event_t *e = &s->ev.v[i];
        ck_assert_msg(e->type != NULL && strcmp(e->type, "profile.creation.status") == 0, "event type %s", e->type);
        ck_assert_msg(e->json != NULL && json_object_get(e->json, "ok") == NULL, "event data %s", e->data);
        ck_assert_msg(e->id == -1, "a status event with an id: %lld", (long long)e->id);
    }
}

START_TEST(test_create_with_hermes)
{
    prepare(_i);
    char *bin = write_fake_hermes("hermes", FAKE_HERMES, 0700);
    char *var = hl_asprintf("HERMES_BIN=%s", bin);
    const char *const extra[] = {var, NULL};
    start_with(extra);

    /* nothing yet: idle */
    json_t *j = call("GET", CREATION_PATH, NULL);
    json_t *idle = idle_status();
    json_object_set_new(idle, "ok", json_true());
    assert_json_eq(j, idle, "the idle status");
    json_object_del(idle, "ok");
    json_decref(j);

    /* the stream opens with the current status */
    hltc_sse_t s;
    hltc_sse_open(&s, D, P, TOK, EVENTS_PATH, NULL, NULL);
    ck_assert_msg(hltc_sse_wait(&s, 1, 0, 10000), "no first event: %s", s.res.body);
    hltc_sse_assert_head(&s);
    assert_json_eq(s.ev.v[0].json, idle, "the stream's first event");
    ck_assert_int_eq(s.ev.v[0].id, -1);

    /* started: 202 running, the command line first */
    json_t *st = call_status("POST", "/api/v1/profiles", "{\"name\":\"newp\",\"description\":\"Fresh one\"}", 202);
    static const char *const FIRST[] = {"$ hermes profile create newp", NULL};
    json_t *started = without_ok(st);
    json_decref(st);
    assert_creation(started, "running", "newp", FIRST, NULL, 1);
    /* one at a time */
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"other\"}", 409, "profile_creation_in_progress");
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 409, "profile_creation_in_progress");
    j = call("GET", CREATION_PATH, NULL);
    ck_assert_str_eq(hlt_str(j, "state"), "running");
    ck_assert_str_eq(hlt_str(j, "job_id"), hlt_str(started, "job_id"));
    json_decref(j);

    /* to its end, as events */
    size_t last = wait_event_state(&s, "succeeded");
    hltc_sse_pump(&s, 300); /* nothing follows the end */
    ck_assert_uint_eq(s.ev.n, last + 1);
    assert_frames(&s);
    static const char *const LINES[] = {"$ hermes profile create newp",
                                        "Creating profile newp... (descriptors inherited: 0)",
                                        "warning: no bundled skills to sync",
                                        "Profile 'newp' created at profiles/newp",
                                        "done",
                                        NULL};
    json_t *final = s.ev.v[last].json;
    assert_creation(final, "succeeded", "newp", LINES, NULL, 1);
    ck_assert_str_eq(hlt_str(final, "job_id"), hlt_str(started, "job_id"));
    ck_assert_int_eq(json_integer_value(json_object_get(final, "pid")), json_integer_value(json_object_get(started, "pid")));
    ck_assert_str_eq(hlt_str(final, "started_at"), hlt_str(started, "started_at"));
    /* the events in between: running, their lines growing one at a time from the command line */
    ck_assert_msg(last >= 2, "%zu events", last + 1);
    for (size_t i = 1; i < last; ++i) {
        json_t *e = s.ev.v[i].json;
        ck_assert_str_eq(hlt_str(e, "state"), "running");
        json_t *lines = json_object_get(e, "lines");
        ck_assert_msg(json_array_size(lines) >= 1 && json_array_size(lines) <= 5, "lines %zu", json_array_size(lines));
        for (size_t l = 0; l < json_array_size(lines); ++l)
            ck_assert_str_eq(json_string_value(json_array_get(lines, l)), LINES[l]);
        if (i > 1)
            ck_assert_uint_ge(json_array_size(lines), json_array_size(json_object_get(s.ev.v[i - 1].json, "lines")));
    }
    assert_json_eq(s.ev.v[1].json, started, "the running event");
    /* the status route says the same */
    j = call("GET", CREATION_PATH, NULL);
    json_t *jj = without_ok(j);
    assert_json_eq(jj, final, "GET …/profile-creation/status after the end");
    json_decref(jj);
    json_decref(j);
    /* a reconnect gets the current status, and nothing more while nothing changes */
    hltc_sse_t r;
    hltc_sse_open(&r, D, P, TOK, EVENTS_PATH, NULL, NULL);
    ck_assert_msg(hltc_sse_wait(&r, 1, 0, 10000), "no status on a reconnect: %s", r.res.body);
    hltc_sse_pump(&r, 300);
    ck_assert_uint_eq(r.ev.n, 1);
    assert_frames(&r);
    assert_json_eq(r.ev.v[0].json, final, "the status a reconnect gets");
    hltc_sse_close(&r);

    /* the profile: made by the command, listed, with its description */
    assert_profile_dir("newp", 1);
    ck_assert_str_eq(list_names(), "default,art,newp,work");
    json_t *prof = call("GET", "/api/v1/profiles/newp/status", NULL);
    json_t *pst = json_object_get(prof, "profile");
    ck_assert(json_is_true(json_object_get(pst, "exists")));
    ck_assert_str_eq(hlt_str(pst, "description"), "Fresh one");
    json_decref(prof);
    char *calls = hermes_calls();
    ck_assert_str_eq(calls, "profile create newp\n");
    free(calls);

    /* clones: from default and from another profile; the same stream goes on */
    st = call_status("POST", "/api/v1/profiles", "{\"name\":\"copy-one\",\"clone\":true}", 202);
    json_decref(st);
    size_t at = s.ev.n;
    json_decref(wait_creation());
    long deadline = hlt_now_ms() + 10000;
    while (strcmp(hlt_str(s.ev.v[s.ev.n - 1].json, "state"), "succeeded") != 0 || s.ev.n == at) {
        ck_assert_msg(hlt_now_ms() < deadline, "the clone's end was not streamed");
        hltc_sse_pump(&s, 100);
    }
    assert_frames(&s);
    ck_assert_str_eq(hlt_str(s.ev.v[s.ev.n - 1].json, "profile_name"), "copy-one");
    st = call_status("POST", "/api/v1/profiles", "{\"profileName\":\"copy-two\",\"clone_from\":\"work\"}", 202);
    json_decref(st);
    j = wait_creation();
    static const char *const CLONE_LINES[] = {"$ hermes profile create copy-two --clone --clone-from work",
                                              "Creating profile copy-two... (descriptors inherited: 0)",
                                              "warning: no bundled skills to sync",
                                              "Profile 'copy-two' created at profiles/copy-two",
                                              "done",
                                              NULL};
    jj = without_ok(j);
    assert_creation(jj, "succeeded", "copy-two", CLONE_LINES, NULL, 1);
    json_decref(jj);
    json_decref(j);
    calls = hermes_calls();
    ck_assert_str_eq(calls, "profile create newp\n"
                            "profile create copy-one --clone --clone-from default\n"
                            "profile create copy-two --clone --clone-from work\n");
    free(calls);
    ck_assert_str_eq(list_names(), "default,art,copy-one,copy-two,newp,work");
    /* an existing name is refused once nothing runs */
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 409, "profile_already_exists");

    hltc_sse_close(&s);
    json_decref(started);
    json_decref(idle);
    free(var);
    free(bin);
    finish();
}
END_TEST

START_TEST(test_create_failures)
{
    prepare(_i);
    char *bin = write_fake_hermes("hermes", FAKE_HERMES, 0700);
    char *var = hl_asprintf("HERMES_BIN=%s", bin);
    const char *const extra[] = {var, NULL};
    start_with(extra);
    char *before = hlth_tree(env.hermes_home);

    /* exit 3: failed, with the tail of its stderr */
    json_decref(call_status("POST", "/api/v1/profiles", "{\"name\":\"fail-one\"}", 202));
    json_t *j = wait_creation(), *st = without_ok(j);
    static const char *const FAIL_LINES[] = {"$ hermes profile create fail-one", "Creating profile fail-one",
                                             "error: cannot create fail-one", "the disk is read-only", NULL};
    assert_creation(st, "failed", "fail-one", FAIL_LINES,
                    "hermes profile create exited with status 3: error: cannot create "
                    "fail-one\nthe disk is read-only",
                    1);
    json_decref(st);
    json_decref(j);
    assert_profile_dir("fail-one", 0);

    /* exit 0 without the folder: failed too */
    json_decref(call_status("POST", "/api/v1/profiles", "{\"name\":\"nofolder\"}", 202));
    j = wait_creation();
    st = without_ok(j);
    static const char *const NOFOLDER_LINES[] = {"$ hermes profile create nofolder", "Nothing to do", NULL};
    assert_creation(st, "failed", "nofolder", NOFOLDER_LINES,
                    "hermes profile create succeeded, but the profile's folder is not there", 1);
    json_decref(st);
    json_decref(j);
    ck_assert_str_eq(list_names(), "default,art,work");
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    hlt_assert_stop_clean(D);
    hlt_device_free(&ctx.dev);
    free(var);
    free(bin);

    /* HERMES_BIN names a file that cannot run: failed at once, nothing made */
    bin = write_fake_hermes("not-executable", FAKE_HERMES, 0600);
    var = hl_asprintf("HERMES_BIN=%s", bin);
    const char *const extra2[] = {var, NULL};
    start_with(extra2);
    static const char *const NONE[] = {NULL};
    st = call_status("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 202);
    j = without_ok(st);
    assert_creation(j, "failed", "newp", NONE, "HERMES_BIN does not name a program HermesLink can run", 0);
    json_decref(j);
    json_decref(st);
    j = call("GET", CREATION_PATH, NULL);
    st = without_ok(j);
    assert_creation(st, "failed", "newp", NONE, "HERMES_BIN does not name a program HermesLink can run", 0);
    json_decref(st);
    json_decref(j);
    assert_profile_dir("newp", 0);
    /* nor one that does not exist */
    free(var);
    var = hl_asprintf("HERMES_BIN=%s/bin/nowhere", env.dir);
    hlt_assert_stop_clean(D);
    hlt_device_free(&ctx.dev);
    const char *const extra3[] = {var, NULL};
    start_with(extra3);
    st = call_status("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 202);
    j = without_ok(st);
    assert_creation(j, "failed", "newp", NONE, "HERMES_BIN does not name a program HermesLink can run", 0);
    json_decref(j);
    json_decref(st);
    assert_profile_dir("newp", 0);
    char *calls = hermes_calls();
    ck_assert_str_eq(calls, "profile create fail-one\nprofile create nofolder\n");
    free(calls);
    free(var);
    free(bin);

    /* a bare HERMES_BIN is looked up on PATH, as a shell would: one that PATH lacks fails at once, one it has runs */
    hlt_assert_stop_clean(D);
    hlt_device_free(&ctx.dev);
    bin = write_fake_hermes("my-hermes", FAKE_HERMES, 0700);
    char *bindir = hlt_env_path(&env, 0, "bin");
    char *path = hl_asprintf("PATH=%s:%s", bindir, getenv("PATH") != NULL ? getenv("PATH") : "/usr/bin:/bin");
    const char *const extra4[] = {"HERMES_BIN=no-such-hermes", path, NULL};
    start_with(extra4);
    st = call_status("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 202);
    j = without_ok(st);
    assert_creation(j, "failed", "newp", NONE, "HERMES_BIN does not name a program HermesLink can run", 0);
    json_decref(j);
    json_decref(st);
    hlt_assert_stop_clean(D);
    hlt_device_free(&ctx.dev);
    const char *const extra5[] = {"HERMES_BIN=my-hermes", path, NULL};
    start_with(extra5);
    json_decref(call_status("POST", "/api/v1/profiles", "{\"name\":\"newp\"}", 202));
    j = wait_creation();
    ck_assert_str_eq(hlt_str(j, "state"), "succeeded");
    json_decref(j);
    assert_profile_dir("newp", 1);
    calls = hermes_calls();
    ck_assert_str_eq(calls, "profile create fail-one\nprofile create nofolder\nprofile create newp\n");
    free(calls);
    free(path);
    free(bindir);
    free(bin);
    finish();
}
END_TEST

/* The daemon's environment without any hermes: HERMES_BIN removed, PATH an empty folder. */
static void start_without_hermes(void)
{
    char *nobin = hlt_env_path(&env, 0, "nobin");
    hlth_mkdirs(nobin);
    char *path = hl_asprintf("PATH=%s", nobin);
    const char *const extra[] = {"HERMES_BIN", path, NULL};
    start_with(extra);
    free(path);
    free(nobin);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The listing of a new profile's folder: exactly the folders of UPSTREAM-HERMES §2.1 (0700) and the given files (0600). */
static void assert_laid_out(const char *name, const char *const *files)
{
    static const char *const DIRS[] = {"cron", "home", "logs", "memories", "plans", "sessions", "skills", "skins", "workspace"};
    char *dir = hlth_path(&env, name, NULL);
    char *tree = hlth_tree(dir);
    char *got[64], *want[64];
    size_t ng = 0, nw = 0;
    for (char *line = strtok(tree, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char path[512];
        unsigned mode = 0;
        ck_assert(sscanf(line, "%511[^\t]\t%o", path, &mode) == 2);
        int is_dir = S_ISDIR(mode);
        ck_assert_msg((mode & 07777) == (is_dir ? 0700u : 0600u), "profiles/%s/%s is %o", name, path, mode & 07777);
        if (strcmp(path, ".") != 0 && ng < HL_ARRAY_SIZE(got))
            got[ng++] = hl_asprintf("%s%s", path, is_dir ? "/" : "");
    }
    for (size_t i = 0; i < HL_ARRAY_SIZE(DIRS); ++i)
        want[nw++] = hl_asprintf("%s/", DIRS[i]);
    for (size_t i = 0; files != NULL && files[i] != NULL; ++i)
        want[nw++] = hl_strdup(files[i]);
    qsort(got, ng, sizeof(*got), by_string);
    qsort(want, nw, sizeof(*want), by_string);
    char *g = hl_strdup(""), *w = hl_strdup("");
    for (size_t i = 0; i < ng; ++i) {
        char *next = hl_asprintf("%s%s,", g, got[i]);
        free(g);
        free(got[i]);
        g = next;
    }
    for (size_t i = 0; i < nw; ++i) {
        char *next = hl_asprintf("%s%s,", w, want[i]);
        free(w);
        free(want[i]);
        w = next;
    }
    ck_assert_msg(strcmp(g, w) == 0, "profiles/%s holds %s, expected %s", name, g, w);
    free(g);
    free(w);
    free(tree);
    free(dir);
}

/* Asserts that profile `to` has `rel` exactly as the fixture's `from` has it. */
static void assert_copied(const char *from, const char *to, const char *rel)
{
    char *path = hlth_path(&env, to, rel);
    char *text = hlt_read_file(path, NULL);
    free(path);
    const char *want = hlth_text(from, rel);
    ck_assert_msg(text != NULL && want != NULL && strcmp(text, want) == 0, "profiles/%s/%s is not %s's", to, rel, from);
    free(text);
}

START_TEST(test_create_without_hermes)
{
    prepare(_i);
    start_without_hermes();
    hltc_sse_t s;
    hltc_sse_open(&s, D, P, TOK, EVENTS_PATH, NULL, NULL);
    ck_assert(hltc_sse_wait(&s, 1, 0, 10000));

    /* laid out at once: 202 with the finished status */
    json_t *j = call_status("POST", "/api/v1/profiles", "{\"name\":\"plain\",\"description\":\"Made by HermesLink\"}", 202);
    json_t *st = without_ok(j);
    static const char *const PLAIN[] = {"No hermes command found: HermesLink laid out profiles/plain itself", NULL};
    assert_creation(st, "succeeded", "plain", PLAIN, NULL, 0);
    json_decref(j);
    j = call("GET", CREATION_PATH, NULL);
    json_t *again = without_ok(j);
    assert_json_eq(again, st, "GET …/profile-creation/status");
    json_decref(again);
    json_decref(j);
    /* streamed: one event, the finished status */
    ck_assert(hltc_sse_wait(&s, 2, 0, 10000));
    hltc_sse_pump(&s, 300);
    ck_assert_uint_eq(s.ev.n, 2);
    assert_frames(&s);
    assert_json_eq(s.ev.v[1].json, st, "the streamed status");
    json_decref(st);
    assert_laid_out("plain", NULL);
    ck_assert_str_eq(list_names(), "default,art,plain,work");
    json_t *prof = call("GET", "/api/v1/profiles/plain/status", NULL);
    ck_assert_str_eq(hlt_str(json_object_get(prof, "profile"), "description"), "Made by HermesLink");
    json_decref(prof);

    /* clone: default's config.yaml, .env, SOUL.md and memory files, byte for byte */
    j = call_status("POST", "/api/v1/profiles", "{\"name\":\"copy\",\"clone\":true}", 202);
    st = without_ok(j);
    static const char *const COPY[] = {"No hermes command found: HermesLink laid out profiles/copy itself, cloned from default",
                                       NULL};
    assert_creation(st, "succeeded", "copy", COPY, NULL, 0);
    json_decref(st);
    json_decref(j);
    static const char *const CLONED[] = {".env", "SOUL.md", "config.yaml", "memories/MEMORY.md", "memories/USER.md", NULL};
    assert_laid_out("copy", CLONED);
    for (size_t i = 0; CLONED[i] != NULL; ++i)
        assert_copied("default", "copy", CLONED[i]);
    /* from another profile (art has no SOUL.md: nothing to copy) */
    j = call_status("POST", "/api/v1/profiles", "{\"name\":\"art-2\",\"cloneFrom\":\"art\"}", 202);
    json_decref(j);
    static const char *const ART_CLONED[] = {".env", "config.yaml", "memories/MEMORY.md", "memories/USER.md", NULL};
    assert_laid_out("art-2", ART_CLONED);
    for (size_t i = 0; ART_CLONED[i] != NULL; ++i)
        assert_copied("art", "art-2", ART_CLONED[i]);
    /* clone false: a plain profile */
    json_decref(call_status("POST", "/api/v1/profiles", "{\"name\":\"not-a-copy\",\"clone\":false}", 202));
    assert_laid_out("not-a-copy", NULL);
    ck_assert_str_eq(list_names(), "default,art,art-2,copy,not-a-copy,plain,work");
    /* the new profiles are writable profiles like the others */
    json_decref(call("POST", "/api/v1/profiles/plain/memory/entries", "{\"target\":\"user\",\"content\":\"New here.\"}"));
    hltc_sse_close(&s);
    finish();
}
END_TEST

START_TEST(test_create_names)
{
    prepare(_i);
    char *ghost = hlth_path(&env, "ghost", NULL);
    ck_assert(symlink("/nonexistent/hermes-profile", ghost) == 0);
    free(ghost);
    hlth_write(&env, "default", "profiles/taken", "a file, not a folder\n");
    start_without_hermes();
    char *before = hlth_tree(env.hermes_home);

    static const char *const INVALID[] = {"",       "Upper", "WORK", "-dash",      "_under",  "dot.ted", "sp ace",
                                          "sl/ash", "..",    ".",    "caf\\u00e9", "tab\\tx", NAME65};
    for (size_t i = 0; i < HL_ARRAY_SIZE(INVALID); ++i)
        FAIL("POST", "/api/v1/profiles", hltc_fmt("{\"name\":\"%s\"}", INVALID[i]), 400, "invalid_profile_name");
    static const char *const RESERVED[] = {"hermes", "default", "test", "tmp",    "root",    "sudo",   "chat",   "gateway",
                                           "config", "profile", "cron", "update", "version", "skills", "memory", "logs"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(RESERVED); ++i)
        FAIL("POST", "/api/v1/profiles", hltc_fmt("{\"name\":\"%s\"}", RESERVED[i]), 400, "invalid_profile_name");
    static const char *const NOT_A_NAME[] = {"{}",      "{\"name\":null}", "{\"name\":5}", "{\"name\":[\"x\"]}",
                                             "[\"x\"]", "\"x\"",           "null"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NOT_A_NAME); ++i)
        FAIL("POST", "/api/v1/profiles", NOT_A_NAME[i], 400, "invalid_profile_name");
    FAIL("POST", "/api/v1/profiles", NULL, 400, "invalid_profile_name");
    FAIL("POST", "/api/v1/profiles", "{\"name\":", 400, "invalid_json");
    /* taken: a profile, a file, a dangling link */
    static const char *const TAKEN[] = {"work", "art", "taken", "ghost"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(TAKEN); ++i)
        FAIL("POST", "/api/v1/profiles", hltc_fmt("{\"name\":\"%s\"}", TAKEN[i]), 409, "profile_already_exists");
    /* a clone of nothing */
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"fresh\",\"clone_from\":\"missing\"}", 404, "profile_not_found");
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"fresh\",\"clone_from\":\"..\"}", 404, "profile_not_found");
    FAIL("POST", "/api/v1/profiles", "{\"name\":\"fresh\",\"cloneFrom\":\"ghost\"}", 404, "profile_not_found");
    /* a description too long to keep */
    char desc[2050];
    memset(desc, 'd', 2049);
    desc[2049] = '\0';
    FAIL("POST", "/api/v1/profiles", hltc_fmt("{\"name\":\"fresh\",\"description\":\"%s\"}", desc), 400,
         "invalid_profile_metadata");

    /* nothing was made, and no creation started */
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    json_t *j = call("GET", CREATION_PATH, NULL), *idle = idle_status();
    json_object_set_new(idle, "ok", json_true());
    assert_json_eq(j, idle, "the status after refused creations");
    json_decref(idle);
    json_decref(j);

    /* the longest name, and the other spellings of the field */
    desc[2048] = '\0';
    json_decref(call_status("POST", "/api/v1/profiles", hltc_fmt("{\"name\":\"" NAME64 "\",\"description\":\"%s\"}", desc), 202));
    json_decref(call_status("POST", "/api/v1/profiles", "{\"profile_name\":\"0-a_b\"}", 202));
    ck_assert_str_eq(list_names(), "default,0-a_b," NAME64 ",art,work");
    finish();
}
END_TEST

Suite *suite_profile_skills_create(void)
{
    Suite *s = suite_create("profile_skills_create");
    TCase *tc = tcase_create("profile_skills_create");
    tcase_set_timeout(tc, 120);
    int n = (int)HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_skills_list, 0, n);
    tcase_add_loop_test(tc, test_skill_toggle, 0, n);
    tcase_add_loop_test(tc, test_create_with_hermes, 0, n);
    tcase_add_loop_test(tc, test_create_failures, 0, n);
    tcase_add_loop_test(tc, test_create_without_hermes, 0, n);
    tcase_add_loop_test(tc, test_create_names, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
