/*
 * Hermes profile management (issue 10; spec/API.md §10 and HermesProfileStatus in §1.10, as corrected by GAPS §A 14,
 * §B 21, 23, 26): GET /api/v1/profiles, GET /api/v1/profiles/:name/status, PATCH and DELETE /api/v1/profiles/:name.
 *
 * Each test gets a fresh Hermes home (harness_hermes.h: default, work, art) and its own daemon with a paired device, and
 * runs once over HTTP/1.1, h2c (prior knowledge) and h2 over TLS. Requests are sent with CURLOPT_PATH_AS_IS, so that
 * ".." reaches the daemon as written. Covered:
 *  - list: exactly {"ok":true,"profiles":["default", then the folders sorted bytewise]}, no-store; folders whose names
 *    are not profile names, plain files, a second "default", links leading out of the root or nowhere are not listed;
 *    401 without or with a wrong bearer on every route (and nothing deleted);
 *  - inotify: a folder made, removed or renamed on disk by another process, and profiles/ itself removed and made again,
 *    show in the list within 2 s, without a restart;
 *  - status: the exact fields and types of default, work, art and a missing profile (paths relative to the Hermes root,
 *    apiKeyConfigured from the profile's .env, uid prof_<32 hex> stable across calls and across a restart, null and no
 *    registry entry for a missing profile, `active` from <root>/active_profile);
 *  - traversal: "..", ".", encoded dots and slashes, absolute paths, a 65-character name and a link leading out of the
 *    root, on every :name route and method → 400 invalid_profile_name with nothing touched on disk (both trees listed
 *    before and after); a folder whose name Hermes would not accept is readable but not writable;
 *  - metadata: displayName / description set and cleared (both spellings), avatarType url needs an http(s) avatarUrl
 *    (kept when already stored), default clears it, a body without avatarType resets it (API.md), wrong types and sizes
 *    → 400 codes with nothing changed, missing profile 404, default allowed, persisted in profiles.json;
 *  - rename: folder moved with its files, uid, metadata and active_profile follow, its conversations follow (announced as
 *    conversation.updated, updated_at kept; default's untouched), the old name is gone (404); taken → 409
 *    profile_already_exists, reserved or invalid names → 400, default → 400 default_profile_not_mutable, a live
 *    gateway.pid → 409 profile_in_use with nothing renamed, a stale one does not block;
 *  - delete: 204 with an empty body, the folder gone, links inside it removed without touching their targets outside
 *    the home, its registry entry and active_profile gone, its conversations gone from GET /api/v1/conversations (the
 *    others kept); default 400, missing 404, a running gateway 409 with nothing removed.
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

/* ---- the daemon of a test ---- */

/* A fresh env with the fixture Hermes home (`active`: its active_profile, NULL for none). */
static void prepare(int i, const char *active)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    hlth_fill(&env, active);
}

/* Starts the daemon (TLS too) on the prepared env and pairs a device. */
static void start(void)
{
    hltc_start(&ctx, 1, &env);
}

static void restart(void)
{
    hlt_assert_stop_clean(D);
    hlt_daemon_opts_t o = {.tls = 1, .env = &env};
    hlt_daemon_start(D, &o);
}

static void finish(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
    hlt_env_dispose(&env);
}

/* ---- requests ---- */

/* `method path` over the test's protocol with a bearer (NULL: none) and a JSON body (NULL: none), the path sent as is. */
static void request(const char *bearer, const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, bearer, method, path, body, res);
}

/* A 200 answer {"ok":true, …}: the body (new reference); asserts JSON, CORS and no-store. */
static json_t *call(const char *method, const char *path, const char *body)
{
    hlt_response_t res;
    request(TOK, method, path, body, &res);
    ck_assert_msg(res.status == 200, "%s %s over %s: expected 200, got %ld: %.500s", method, path, hlt_proto_name(P), res.status,
                  res.body);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    if (strncmp(path, "/api/v1/profiles", 16) == 0)
        hlt_assert_header(&res, "cache-control", "no-store");
    ck_assert_msg(json_is_true(json_object_get(res.json, "ok")), "%s %s: %.400s", method, path, res.body);
    ck_assert_msg(strstr(res.body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

/* An error answer with its exact status and code (hlt_assert_error: envelope, CORS, no path or errno text). */
static void call_error(const char *bearer, const char *method, const char *path, const char *body, long status, const char *code)
{
    hlth_call_error(D, P, bearer, method, path, body, status, code);
}

#define FAIL(method, path, body, status, code) call_error(TOK, method, path, body, status, code)

static const char *status_path(const char *name)
{
    return hltc_fmt("/api/v1/profiles/%s/status", name);
}

static const char *profile_path(const char *name)
{
    return hltc_fmt("/api/v1/profiles/%s", name);
}

/* The names GET /api/v1/profiles lists, joined with ',' (rotating buffer); asserts the exact envelope. */
static const char *list_names(void)
{
    json_t *j = call("GET", "/api/v1/profiles", NULL);
    hlt_assert_keys(j, "profile list", "ok", "profiles", NULL);
    json_t *names = json_object_get(j, "profiles");
    ck_assert_msg(json_is_array(names), "profiles is not an array");
    char buf[2048] = "";
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        ck_assert_msg(json_is_string(n), "a listed name is not a string");
        if (i > 0)
            strcat(buf, ",");
        strncat(buf, json_string_value(n), 200);
    }
    json_decref(j);
    return hltc_fmt("%s", buf);
}

/* Polls the list until it is `want`, for up to ms; returns how long it took, or -1. */
static long wait_list(const char *want, long ms)
{
    long start = hlt_now_ms();
    for (;;) {
        if (strcmp(list_names(), want) == 0)
            return hlt_now_ms() - start;
        if (hlt_now_ms() - start > ms)
            return -1;
        hlt_sleep_ms(20);
    }
}

/* ---- status objects ---- */

/*
 * Asserts a HermesProfileStatus: exactly its eleven fields with their types, the name, paths relative to the Hermes
 * root, exists / active / apiKeyConfigured, and a uid prof_<32 hex> for a profile that exists, null for one that does not.
 */
static void assert_status(json_t *st, const char *name, int exists, int active, int key)
{
    char *dump = json_dumps(st, JSON_COMPACT);
    hlt_assert_keys(st, "HermesProfileStatus", "uid", "name", "active", "path", "configPath", "displayName", "description",
                    "avatarType", "avatarUrl", "exists", "apiKeyConfigured", NULL);
    ck_assert_str_eq(hlt_str(st, "name"), name);
    json_t *uid = json_object_get(st, "uid");
    if (exists)
        ck_assert_msg(json_is_string(uid) && hlt_matches(json_string_value(uid), "^prof_[0-9a-f]{32}$"), "%s: uid in %s", name,
                      dump);
    else
        ck_assert_msg(json_is_null(uid), "%s does not exist: uid must be null in %s", name, dump);
    int home = strcmp(name, "default") == 0;
    ck_assert_str_eq(hlt_str(st, "path"), home ? "." : hltc_fmt("profiles/%s", name));
    ck_assert_str_eq(hlt_str(st, "configPath"), home ? "config.yaml" : hltc_fmt("profiles/%s/config.yaml", name));
    ck_assert_msg(json_is_boolean(json_object_get(st, "exists")) && json_is_true(json_object_get(st, "exists")) == exists,
                  "%s: exists in %s", name, dump);
    ck_assert_msg(json_is_boolean(json_object_get(st, "active")) && json_is_true(json_object_get(st, "active")) == active,
                  "%s: active in %s", name, dump);
    ck_assert_msg(json_is_boolean(json_object_get(st, "apiKeyConfigured")) &&
                      json_is_true(json_object_get(st, "apiKeyConfigured")) == key,
                  "%s: apiKeyConfigured in %s", name, dump);
    static const char *const TEXTS[] = {"displayName", "description", "avatarUrl"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(TEXTS); ++i) {
        json_t *v = json_object_get(st, TEXTS[i]);
        ck_assert_msg(json_is_null(v) || json_is_string(v), "%s: %s in %s", name, TEXTS[i], dump);
    }
    const char *type = hlt_str(st, "avatarType");
    ck_assert_msg(strcmp(type, "default") == 0 || strcmp(type, "url") == 0, "%s: avatarType in %s", name, dump);
    free(dump);
}

/* Asserts the four metadata fields (NULL: JSON null). */
static void assert_meta(json_t *st, const char *display, const char *description, const char *avatar_type, const char *avatar_url)
{
    static const char *const KEYS[] = {"displayName", "description", "avatarType", "avatarUrl"};
    const char *want[] = {display, description, avatar_type, avatar_url};
    char *dump = json_dumps(st, JSON_COMPACT);
    for (size_t i = 0; i < HL_ARRAY_SIZE(KEYS); ++i) {
        json_t *v = json_object_get(st, KEYS[i]);
        if (want[i] == NULL)
            ck_assert_msg(json_is_null(v), "%s should be null in %s", KEYS[i], dump);
        else
            ck_assert_msg(json_is_string(v) && strcmp(json_string_value(v), want[i]) == 0, "%s should be \"%s\" in %s", KEYS[i],
                          want[i], dump);
    }
    free(dump);
}

/* GET …/:name/status: the profile object (new reference), asserting the envelope {"ok","profile"}. */
static json_t *get_status(const char *name)
{
    json_t *j = call("GET", status_path(name), NULL);
    hlt_assert_keys(j, "status answer", "ok", "profile", NULL);
    json_t *st = json_incref(json_object_get(j, "profile"));
    json_decref(j);
    return st;
}

/* PATCH …/:name with body: the profile object of the 200 answer (new reference). */
static json_t *patch(const char *name, const char *body)
{
    json_t *j = call("PATCH", profile_path(name), body);
    hlt_assert_keys(j, "PATCH answer", "ok", "profile", NULL);
    json_t *st = json_incref(json_object_get(j, "profile"));
    json_decref(j);
    return st;
}

/* The uid of a status object (rotating buffer). */
static const char *uid_of(json_t *st)
{
    return hltc_fmt("%s", hlt_str(st, "uid"));
}

/* HermesLink's profile registry (HERMESLINK_HOME/profiles.json): its "profiles" object (new reference), NULL if absent. */
static json_t *registry(void)
{
    char *path = hlt_env_path(&env, 1, "profiles.json");
    size_t len = 0;
    char *text = hlt_read_file(path, &len);
    free(path);
    if (text == NULL)
        return NULL;
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    ck_assert_msg(json_is_object(json_object_get(root, "profiles")), "profiles.json has no profiles object");
    json_t *p = json_incref(json_object_get(root, "profiles"));
    json_decref(root);
    return p;
}

/* True when profile `name`'s folder (or link) is there. */
static int profile_on_disk(const char *name)
{
    char *dir = hlth_path(&env, name, NULL);
    int on = hlth_exists(dir);
    free(dir);
    return on;
}

static void make_link(const char *target, const char *profile, const char *rel)
{
    char *path = hlth_path(&env, profile, rel);
    ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path, strerror(errno));
    free(path);
}

static void make_dir(const char *profile, const char *rel)
{
    char *path = hlth_path(&env, profile, rel);
    hlth_mkdirs(path);
    free(path);
}

/* ---- list ---- */

START_TEST(test_list)
{
    prepare(_i, NULL);
    char *outside = hlth_outside(&env);
    make_dir("bad name", NULL);       /* not a profile name: a blank */
    make_dir(NAME65, NULL);           /* too long */
    make_dir("caf\xc3\xa9", NULL);    /* not ASCII */
    make_dir("default", NULL);        /* default is the home, listed once */
    make_dir("Legacy.Profile", NULL); /* Hermes would not make it, but it is a profile name: listed (read-only) */
    hlth_write(&env, "default", "profiles/notes.txt", "a file, not a profile\n");
    make_link(outside, "escape", NULL);                         /* a link leading out of the root */
    make_link("/nonexistent/hermes-profile", "dangling", NULL); /* a link leading nowhere */
    free(outside);
    start();

    hlt_response_t res;
    request(TOK, "GET", "/api/v1/profiles", NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    json_t *want = json_loads("{\"ok\":true,\"profiles\":[\"default\",\"Legacy.Profile\",\"art\",\"work\"]}", 0, NULL);
    ck_assert_msg(json_equal(res.json, want), "GET /api/v1/profiles over %s: %s", hlt_proto_name(P), res.body);
    json_decref(want);
    hlt_response_free(&res);

    /* authentication is required on every route; a refused DELETE deletes nothing */
    call_error(NULL, "GET", "/api/v1/profiles", NULL, 401, "auth_required");
    call_error("hlat_0000000000000000000000000000000000000000000000000000000000000000", "GET", "/api/v1/profiles", NULL, 401,
               "device_access_token_invalid");
    call_error(NULL, "GET", status_path("work"), NULL, 401, "auth_required");
    call_error(NULL, "PATCH", profile_path("work"), "{\"displayName\":\"x\"}", 401, "auth_required");
    call_error(NULL, "PATCH", profile_path("work"), "{\"name\":\"job\"}", 401, "auth_required");
    call_error(NULL, "DELETE", profile_path("art"), NULL, 401, "auth_required");
    call_error("not-a-token", "DELETE", profile_path("art"), NULL, 401, "auth_invalid");
    ck_assert(profile_on_disk("art") && profile_on_disk("work") && !profile_on_disk("job"));
    ck_assert_str_eq(list_names(), "default,Legacy.Profile,art,work");
    finish();
}
END_TEST

/* ---- the list follows the disk ---- */

START_TEST(test_list_follows_disk)
{
    prepare(_i, NULL);
    start();
    ck_assert_str_eq(list_names(), "default,art,work");

    /* another process makes a profile folder */
    hlth_write(&env, "fresh", "config.yaml", "model: fresh-model\n");
    long ms = wait_list("default,art,fresh,work", 2000);
    ck_assert_msg(ms >= 0, "a profile made on disk was not listed within 2 s: %s", list_names());
    json_t *st = get_status("fresh");
    assert_status(st, "fresh", 1, 0, 0);
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", uid_of(st));
    json_decref(st);
    json_decref(patch("fresh", "{\"displayName\":\"Fresh\",\"description\":\"made outside\"}"));

    /* … and removes it (rm -rf): its details in profiles.json go with it */
    char *dir = hlth_path(&env, "fresh", NULL);
    hlth_rm_rf(dir);
    free(dir);
    ck_assert_msg(wait_list("default,art,work", 2000) >= 0, "a removed profile is still listed after 2 s: %s", list_names());
    json_t *reg = registry();
    ck_assert_msg(json_object_get(reg, "fresh") == NULL, "profiles.json keeps a removed profile: %s", json_dumps(reg, 0));
    json_decref(reg);
    /* a new profile of that name is a new profile: a new uid, no old details */
    hlth_write(&env, "fresh", "config.yaml", "model: fresh-again\n");
    ck_assert_msg(wait_list("default,art,fresh,work", 2000) >= 0, "a profile made again was not listed: %s", list_names());
    st = get_status("fresh");
    assert_status(st, "fresh", 1, 0, 0);
    ck_assert_str_ne(uid_of(st), uid);
    assert_meta(st, NULL, NULL, "default", NULL);
    json_decref(st);
    dir = hlth_path(&env, "fresh", NULL);
    hlth_rm_rf(dir);
    free(dir);
    ck_assert_msg(wait_list("default,art,work", 2000) >= 0, "a removed profile is still listed after 2 s: %s", list_names());

    /* renamed on disk (hermes profile rename) */
    char *from = hlth_path(&env, "art", NULL), *to = hlth_path(&env, "drawing", NULL);
    ck_assert(rename(from, to) == 0);
    free(from);
    free(to);
    ck_assert_msg(wait_list("default,drawing,work", 2000) >= 0, "a renamed profile was not followed: %s", list_names());

    /* profiles/ itself removed, then made again with a profile in it: watched again */
    char *profiles = hl_asprintf("%s/profiles", env.hermes_home);
    hlth_rm_rf(profiles);
    ck_assert_msg(wait_list("default", 2000) >= 0, "profiles/ removed, still listed: %s", list_names());
    hlth_write(&env, "again", "config.yaml", "model: again\n");
    ck_assert_msg(wait_list("default,again", 2000) >= 0, "profiles/ made again, not followed: %s", list_names());
    hlth_write(&env, "second", "config.yaml", "model: second\n");
    ck_assert_msg(wait_list("default,again,second", 2000) >= 0, "the new profiles/ is not watched: %s", list_names());
    free(profiles);
    finish();
}
END_TEST

/* ---- status ---- */

START_TEST(test_status)
{
    prepare(_i, NULL);
    start();

    json_t *def = get_status("default"), *work = get_status("work"), *art = get_status("art");
    assert_status(def, "default", 1, 1, 0); /* no active_profile: default is active */
    assert_status(work, "work", 1, 0, 1);   /* API_SERVER_KEY in profiles/work/.env */
    assert_status(art, "art", 1, 0, 0);
    assert_meta(def, NULL, NULL, "default", NULL);
    assert_meta(work, NULL, NULL, "default", NULL);
    char uid_def[64], uid_work[64], uid_art[64];
    snprintf(uid_def, sizeof(uid_def), "%s", uid_of(def));
    snprintf(uid_work, sizeof(uid_work), "%s", uid_of(work));
    snprintf(uid_art, sizeof(uid_art), "%s", uid_of(art));
    ck_assert_str_ne(uid_def, uid_work);
    ck_assert_str_ne(uid_work, uid_art);
    ck_assert_str_ne(uid_def, uid_art);
    json_decref(def);
    json_decref(work);
    json_decref(art);

    /* a profile that does not exist: 200, exists false, no uid, no registry entry, nothing made on disk */
    json_t *missing = get_status("missing");
    assert_status(missing, "missing", 0, 0, 0);
    assert_meta(missing, NULL, NULL, "default", NULL);
    json_decref(missing);
    ck_assert(!profile_on_disk("missing"));
    /* the longest name is a name */
    missing = get_status(NAME64);
    assert_status(missing, NAME64, 0, 0, 0);
    json_decref(missing);

    /* the uid is the same on every call, and is what profiles.json holds */
    work = get_status("work");
    ck_assert_str_eq(uid_of(work), uid_work);
    json_decref(work);
    json_t *reg = registry();
    ck_assert_msg(reg != NULL, "no profiles.json after the profiles were seen");
    ck_assert_str_eq(hlt_str(json_object_get(reg, "default"), "uid"), uid_def);
    ck_assert_str_eq(hlt_str(json_object_get(reg, "work"), "uid"), uid_work);
    ck_assert_str_eq(hlt_str(json_object_get(reg, "art"), "uid"), uid_art);
    ck_assert_msg(json_object_size(reg) == 3, "profiles.json holds more than the three profiles: %s", json_dumps(reg, 0));
    json_decref(reg);

    /* active follows <root>/active_profile (read on each request) */
    hlth_set_active(&env, "work");
    def = get_status("default");
    work = get_status("work");
    assert_status(def, "default", 1, 0, 0);
    assert_status(work, "work", 1, 1, 1);
    json_decref(def);
    json_decref(work);
    hlth_write(&env, "default", "active_profile", "  art \n\n");
    art = get_status("art");
    assert_status(art, "art", 1, 1, 0);
    json_decref(art);
    hlth_write(&env, "default", "active_profile", ""); /* empty: default */
    def = get_status("default");
    assert_status(def, "default", 1, 1, 0);
    json_decref(def);
    hlth_set_active(&env, "art");

    /* uids survive a restart */
    restart();
    def = get_status("default");
    work = get_status("work");
    art = get_status("art");
    assert_status(def, "default", 1, 0, 0);
    assert_status(work, "work", 1, 0, 1);
    assert_status(art, "art", 1, 1, 0);
    ck_assert_str_eq(uid_of(def), uid_def);
    ck_assert_str_eq(uid_of(work), uid_work);
    ck_assert_str_eq(uid_of(art), uid_art);
    json_decref(def);
    json_decref(work);
    json_decref(art);
    finish();
}
END_TEST

/* ---- names that lead elsewhere ---- */

START_TEST(test_traversal)
{
    prepare(_i, NULL);
    char *outside = hlth_outside(&env);
    make_link(outside, "escape", NULL);
    hlth_write(&env, "Legacy.Profile", "config.yaml", "model: legacy\n");
    start();

    char *home_before = hlth_tree(env.hermes_home), *outside_before = hlth_tree(outside);
    json_t *reg_before = registry();

    static const char *const NAMES[] = {
        "..",        "%2E%2E", "%2e%2e",          ".",   "%2E",       "%2E%2E%2F", "%2E%2E%2Fwork", "..%2F..%2Foutside", "a%2Fb",
        "work%2F..", "%2Fetc", "%2Fetc%2Fpasswd", "%2F", "work%5C..", NAME65,      "escape"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i) {
        const char *n = NAMES[i];
        FAIL("GET", status_path(n), NULL, 400, "invalid_profile_name");
        FAIL("PATCH", profile_path(n), "{\"displayName\":\"x\"}", 400, "invalid_profile_name");
        FAIL("PATCH", profile_path(n), "{\"name\":\"stolen\"}", 400, "invalid_profile_name");
        FAIL("DELETE", profile_path(n), NULL, 400, "invalid_profile_name");
    }

    /* nothing was made, moved, written or removed, in the Hermes home or outside it, nor registered */
    char *home_after = hlth_tree(env.hermes_home), *outside_after = hlth_tree(outside);
    ck_assert_str_eq(home_after, home_before);
    ck_assert_str_eq(outside_after, outside_before);
    json_t *reg_after = registry();
    ck_assert_msg((reg_before == NULL && reg_after == NULL) || json_equal(reg_before, reg_after), "profiles.json changed");
    json_decref(reg_before);
    json_decref(reg_after);
    free(home_before);
    free(home_after);
    free(outside_before);
    free(outside_after);

    /* a folder Hermes would not have made (its name breaks Hermes's rule) is listed and readable, but not writable */
    json_t *st = get_status("Legacy.Profile");
    assert_status(st, "Legacy.Profile", 1, 0, 0);
    json_decref(st);
    FAIL("PATCH", profile_path("Legacy.Profile"), "{\"name\":\"legacy\"}", 400, "invalid_profile_name");
    FAIL("PATCH", profile_path("Legacy.Profile"), "{\"displayName\":\"Old\"}", 400, "invalid_profile_name");
    FAIL("DELETE", profile_path("Legacy.Profile"), NULL, 400, "invalid_profile_name");
    ck_assert(profile_on_disk("Legacy.Profile") && !profile_on_disk("legacy"));
    char *secret = hl_asprintf("%s/secret.txt", outside);
    char *text = hlt_read_file(secret, NULL);
    ck_assert_str_eq(text != NULL ? text : "(gone)", HLTH_SECRET);
    free(text);
    free(secret);
    free(outside);
    finish();
}
END_TEST

/* ---- metadata ---- */

START_TEST(test_metadata)
{
    prepare(_i, NULL);
    start();
    json_t *st = get_status("work");
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", uid_of(st));
    json_decref(st);

    /* set, with either spelling; the answer is the new status */
    st = patch("work", "{\"displayName\":\"Work\",\"description\":\"Job stuff\",\"avatarType\":\"url\","
                       "\"avatarUrl\":\"https://example.com/work.png\"}");
    assert_status(st, "work", 1, 0, 1);
    assert_meta(st, "Work", "Job stuff", "url", "https://example.com/work.png");
    ck_assert_str_eq(uid_of(st), uid);
    json_decref(st);
    st = get_status("work");
    assert_meta(st, "Work", "Job stuff", "url", "https://example.com/work.png");
    json_decref(st);
    st = patch("work", "{\"display_name\":\"Office\",\"avatar_type\":\"url\",\"avatar_url\":\"http://example.com/o.png\"}");
    assert_meta(st, "Office", "Job stuff", "url", "http://example.com/o.png");
    json_decref(st);
    /* avatarType url without a URL keeps the stored one */
    st = patch("work", "{\"avatarType\":\"url\"}");
    assert_meta(st, "Office", "Job stuff", "url", "http://example.com/o.png");
    json_decref(st);

    /* refused: nothing changes */
    static const struct {
        const char *body, *code;
    } BAD[] = {
        {"{\"avatarType\":\"url\",\"avatarUrl\":\"ftp://example.com/a.png\"}", "invalid_profile_avatar_url"},
        {"{\"avatarType\":\"url\",\"avatarUrl\":\"javascript:alert(1)\"}", "invalid_profile_avatar_url"},
        {"{\"avatarType\":\"url\",\"avatarUrl\":\"/etc/passwd\"}", "invalid_profile_avatar_url"},
        {"{\"avatarType\":\"url\",\"avatarUrl\":null}", "invalid_profile_avatar_url"},
        {"{\"avatarType\":\"url\",\"avatarUrl\":\"\"}", "invalid_profile_avatar_url"},
        {"{\"avatarType\":\"gravatar\"}", "invalid_profile_avatar_type"},
        {"{\"avatarType\":5}", "invalid_profile_avatar_type"},
        {"{\"avatar_type\":true}", "invalid_profile_avatar_type"},
        {"{\"avatarType\":\"URL\"}", "invalid_profile_avatar_type"},
        {"{\"displayName\":5}", "invalid_profile_metadata"},
        {"{\"display_name\":[\"a\"]}", "invalid_profile_metadata"},
        {"{\"description\":true}", "invalid_profile_metadata"},
        {"{\"description\":{}}", "invalid_profile_metadata"},
        {"{\"avatarUrl\":3}", "invalid_profile_metadata"},
        {"[]", "invalid_profile_metadata"},
        {"\"work\"", "invalid_profile_metadata"},
        {"null", "invalid_profile_metadata"},
        {"{not json", "invalid_json"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i)
        FAIL("PATCH", profile_path("work"), BAD[i].body, 400, BAD[i].code);
    /* sizes: a display name of 128 bytes is fine, 129 is not; a description of 2048, not 2049 */
    char name[130], desc[2050];
    memset(name, 'd', 129);
    name[129] = '\0';
    memset(desc, 'e', 2049);
    desc[2049] = '\0';
    FAIL("PATCH", profile_path("work"), hltc_fmt("{\"displayName\":\"%s\"}", name), 400, "invalid_profile_metadata");
    FAIL("PATCH", profile_path("work"), hltc_fmt("{\"description\":\"%s\"}", desc), 400, "invalid_profile_metadata");
    st = get_status("work");
    assert_meta(st, "Office", "Job stuff", "url", "http://example.com/o.png");
    json_decref(st);
    name[128] = '\0';
    desc[2048] = '\0';
    st = patch("work", hltc_fmt("{\"avatarType\":\"url\",\"displayName\":\"%s\",\"description\":\"%s\"}", name, desc));
    assert_meta(st, name, desc, "url", "http://example.com/o.png");
    json_decref(st);

    /* avatarType default clears the URL (even one given with it) */
    st = patch("work", "{\"avatarType\":\"default\",\"avatarUrl\":\"https://example.com/ignored.png\"}");
    assert_meta(st, name, desc, "default", NULL);
    json_decref(st);
    /* cleared with null */
    st = patch("work", "{\"displayName\":null,\"description\":null}");
    assert_meta(st, NULL, NULL, "default", NULL);
    json_decref(st);
    /* a body without avatarType means avatarType default (spec/API.md §10): the stored URL goes */
    st = patch("work", "{\"displayName\":\"Work\",\"avatarType\":\"url\",\"avatarUrl\":\"https://example.com/w.png\"}");
    assert_meta(st, "Work", NULL, "url", "https://example.com/w.png");
    json_decref(st);
    st = patch("work", "{\"description\":\"Only this\"}");
    assert_meta(st, "Work", "Only this", "default", NULL);
    ck_assert_str_eq(uid_of(st), uid);
    json_decref(st);
    st = patch("work", "{}");
    assert_meta(st, "Work", "Only this", "default", NULL);
    json_decref(st);
    /* url without a URL given or stored */
    FAIL("PATCH", profile_path("art"), "{\"avatarType\":\"url\"}", 400, "invalid_profile_avatar_url");

    /* allowed on default */
    st = patch("default", "{\"displayName\":\"Main\",\"description\":\"Everyday\"}");
    assert_status(st, "default", 1, 1, 0);
    assert_meta(st, "Main", "Everyday", "default", NULL);
    json_decref(st);

    /* a profile that does not exist: 404, nothing registered or made */
    FAIL("PATCH", profile_path("missing"), "{\"displayName\":\"x\"}", 404, "profile_not_found");
    FAIL("PATCH", profile_path("missing"), "{}", 404, "profile_not_found");
    ck_assert(!profile_on_disk("missing"));

    /* kept in profiles.json */
    json_t *reg = registry();
    ck_assert_msg(reg != NULL && json_object_get(reg, "missing") == NULL, "profiles.json: %s", json_dumps(reg, 0));
    json_t *w = json_object_get(reg, "work"), *d = json_object_get(reg, "default");
    ck_assert_str_eq(hlt_str(w, "uid"), uid);
    ck_assert_str_eq(hlt_str(w, "displayName"), "Work");
    ck_assert_str_eq(hlt_str(w, "description"), "Only this");
    ck_assert_str_eq(hlt_str(w, "avatarType"), "default");
    ck_assert(json_is_null(json_object_get(w, "avatarUrl")));
    ck_assert_str_eq(hlt_str(d, "displayName"), "Main");
    json_decref(reg);
    /* and served again after a restart */
    restart();
    st = get_status("work");
    assert_meta(st, "Work", "Only this", "default", NULL);
    json_decref(st);
    finish();
}
END_TEST

/* ---- rename ---- */

/* The ids of the conversations GET /api/v1/conversations lists, sorted and joined (rotating buffer). */
static const char *conversation_ids(void)
{
    json_t *j = call("GET", "/api/v1/conversations?limit=100", NULL);
    json_t *items = json_object_get(j, "conversations");
    ck_assert(json_is_array(items));
    char *ids[16];
    size_t n = 0, i;
    json_t *c;
    json_array_foreach(items, i, c)
    {
        ck_assert(n < HL_ARRAY_SIZE(ids));
        ids[n++] = hl_strdup(hlt_str(c, "id"));
    }
    json_decref(j);
    for (size_t a = 0; a < n; ++a)
        for (size_t b = a + 1; b < n; ++b)
            if (strcmp(ids[a], ids[b]) > 0) {
                char *t = ids[a];
                ids[a] = ids[b];
                ids[b] = t;
            }
    char buf[1024] = "";
    for (size_t a = 0; a < n; ++a) {
        if (a > 0)
            strcat(buf, ",");
        strcat(buf, ids[a]);
        free(ids[a]);
    }
    return hltc_fmt("%s", buf);
}

static char *create_conversation(const char *profile)
{
    hlt_response_t res;
    char *body = hl_asprintf("{\"title\":\"chat with %s\",\"profile\":\"%s\"}", profile, profile);
    request(TOK, "POST", "/api/v1/conversations", body, &res);
    free(body);
    ck_assert_msg(res.status == 201, "create: %ld %s", res.status, res.body);
    json_t *conv = json_object_get(res.json, "conversation");
    ck_assert_str_eq(hlt_str(json_object_get(conv, "profile"), "name"), profile);
    char *id = hl_strdup(hlt_str(conv, "id"));
    hlt_response_free(&res);
    return id;
}

/* The conversation `id` as GET /api/v1/conversations lists it (NULL when not listed). Caller decrefs. */
static json_t *listed_conversation(const char *id)
{
    json_t *j = call("GET", "/api/v1/conversations?limit=100", NULL);
    json_t *items = json_object_get(j, "conversations"), *c, *found = NULL;
    size_t i;
    json_array_foreach(items, i, c)
    {
        if (strcmp(hlt_str(c, "id"), id) == 0)
            found = json_incref(c);
    }
    json_decref(j);
    return found;
}

START_TEST(test_rename)
{
    prepare(_i, "work"); /* the sticky profile follows a rename */
    start();
    json_t *st = get_status("work");
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", uid_of(st));
    json_decref(st);
    st = patch("work", "{\"displayName\":\"Work\",\"description\":\"Job stuff\",\"avatarType\":\"url\","
                       "\"avatarUrl\":\"https://example.com/w.png\"}");
    json_decref(st);

    /* refused renames: nothing moves */
    FAIL("PATCH", profile_path("work"), "{\"name\":\"art\"}", 409, "profile_already_exists");
    static const char *const BAD_NAMES[] = {/* reserved by Hermes, and its CLI subcommands */
                                            "hermes", "default", "test", "tmp", "root", "sudo", "gateway", "profile", "chat",
                                            "config", "version",
                                            /* not Hermes's rule ^[a-z0-9][a-z0-9_-]{0,63}$ */
                                            "", "Job", "JOB", "-job", "_job", "job.x", "job x", "job/x", "../job", "..", ".",
                                            "j\xc3\xb6"
                                            "b",
                                            NAME65};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_NAMES); ++i) {
        char *body = hl_asprintf("{\"name\":\"%s\"}", BAD_NAMES[i]);
        FAIL("PATCH", profile_path("work"), body, 400, "invalid_profile_name");
        free(body);
    }
    FAIL("PATCH", profile_path("default"), "{\"name\":\"main\"}", 400, "default_profile_not_mutable");
    FAIL("PATCH", profile_path("missing"), "{\"name\":\"other\"}", 404, "profile_not_found");
    ck_assert(!profile_on_disk("other"));

    /* Hermes's gateway runs in the profile (its pid file names a live process: this test) */
    hlth_set_gateway_pid(&env, "work", getpid(), 0);
    FAIL("PATCH", profile_path("work"), "{\"name\":\"job\"}", 409, "profile_in_use");
    hlth_set_gateway_pid(&env, "work", getpid(), 1);
    FAIL("PATCH", profile_path("work"), "{\"name\":\"job\"}", 409, "profile_in_use");
    ck_assert(profile_on_disk("work") && !profile_on_disk("job"));
    ck_assert_str_eq(list_names(), "default,art,work");
    st = get_status("work");
    assert_status(st, "work", 1, 1, 1);
    ck_assert_str_eq(uid_of(st), uid);
    assert_meta(st, "Work", "Job stuff", "url", "https://example.com/w.png");
    json_decref(st);
    /* a stale pid file (the gateway crashed) does not block */
    hlth_set_gateway_pid(&env, "work", hlth_dead_pid(), 0);

    /* conversations of work and of default, and their updated_at before the rename */
    char *conv_work = create_conversation("work"), *conv_def = create_conversation("default");
    json_t *work_before = listed_conversation(conv_work), *def_before = listed_conversation(conv_def);
    ck_assert(work_before != NULL && def_before != NULL);
    hltc_sse_t events;
    hltc_sse_open(&events, D, P, TOK, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_drive(events.multi, 300);
    hltc_sse_assert_head(&events);

    /* work → job: the folder with its files, the uid and the metadata */
    st = patch("work", "{\"name\":\"job\"}");
    assert_status(st, "job", 1, 1, 1); /* job's .env is work's: the key came along; active_profile now names job */
    ck_assert_str_eq(uid_of(st), uid);
    assert_meta(st, "Work", "Job stuff", "url", "https://example.com/w.png");
    json_decref(st);
    ck_assert(!profile_on_disk("work") && profile_on_disk("job"));
    char *config = hlth_path(&env, "job", "config.yaml");
    char *text = hlt_read_file(config, NULL);
    ck_assert_str_eq(text != NULL ? text : "(none)", hlth_text("work", "config.yaml"));
    free(text);
    free(config);
    ck_assert_str_eq(list_names(), "default,art,job");
    char *active = hl_asprintf("%s/active_profile", env.hermes_home);
    text = hlt_read_file(active, NULL);
    ck_assert_str_eq(text != NULL ? text : "(none)", "job\n");
    free(text);
    free(active);
    st = get_status("job");
    assert_status(st, "job", 1, 1, 1);
    ck_assert_str_eq(uid_of(st), uid);
    assert_meta(st, "Work", "Job stuff", "url", "https://example.com/w.png");
    json_decref(st);
    json_t *reg = registry();
    ck_assert_msg(json_object_get(reg, "work") == NULL, "profiles.json still has work: %s", json_dumps(reg, 0));
    ck_assert_str_eq(hlt_str(json_object_get(reg, "job"), "uid"), uid);
    ck_assert_str_eq(hlt_str(json_object_get(reg, "job"), "displayName"), "Work");
    json_decref(reg);

    /* work's conversation follows it (announced, its place in the list kept); default's is untouched */
    json_t *c = listed_conversation(conv_work);
    ck_assert_msg(c != NULL, "the renamed profile's conversation is gone");
    ck_assert_str_eq(hlt_str(json_object_get(c, "profile"), "name"), "job");
    ck_assert_str_eq(hlt_str(c, "updated_at"), hlt_str(work_before, "updated_at"));
    json_decref(c);
    c = listed_conversation(conv_def);
    ck_assert_str_eq(hlt_str(json_object_get(c, "profile"), "name"), "default");
    ck_assert_str_eq(hlt_str(c, "updated_at"), hlt_str(def_before, "updated_at"));
    json_decref(c);
    ck_assert_msg(hltc_sse_wait(&events, 1, 0, 20000), "no conversation.updated after the rename: %s", events.res.body);
    ck_assert_str_eq(events.ev.v[0].type, "conversation.updated");
    json_t *announced = json_object_get(json_object_get(events.ev.v[0].json, "payload"), "conversation");
    ck_assert_str_eq(hlt_str(announced, "id"), conv_work);
    ck_assert_str_eq(hlt_str(json_object_get(announced, "profile"), "name"), "job");
    hltc_sse_pump(&events, 300);
    ck_assert_uint_eq(events.ev.n, 1);
    hltc_sse_close(&events);
    json_decref(work_before);
    json_decref(def_before);
    free(conv_work);
    free(conv_def);

    /* the old name is gone */
    st = get_status("work");
    assert_status(st, "work", 0, 0, 0);
    json_decref(st);
    FAIL("PATCH", profile_path("work"), "{\"displayName\":\"x\"}", 404, "profile_not_found");
    FAIL("PATCH", profile_path("work"), "{\"name\":\"work2\"}", 404, "profile_not_found");
    FAIL("DELETE", profile_path("work"), NULL, 404, "profile_not_found");
    ck_assert(!profile_on_disk("work") && !profile_on_disk("work2"));

    /* to its own name: nothing to do; the longest name, and back */
    st = patch("job", "{\"name\":\"job\"}");
    assert_status(st, "job", 1, 1, 1);
    json_decref(st);
    st = patch("art", "{\"name\":\"" NAME64 "\"}");
    assert_status(st, NAME64, 1, 0, 0);
    json_decref(st);
    ck_assert_str_eq(list_names(), "default," NAME64 ",job");
    st = patch(NAME64, "{\"name\":\"art_2-b\"}");
    assert_status(st, "art_2-b", 1, 0, 0);
    json_decref(st);
    ck_assert_str_eq(list_names(), "default,art_2-b,job");
    finish();
}
END_TEST

/* ---- delete ---- */

static const char *sorted_pair(const char *a, const char *b)
{
    return strcmp(a, b) < 0 ? hltc_fmt("%s,%s", a, b) : hltc_fmt("%s,%s", b, a);
}

START_TEST(test_delete)
{
    prepare(_i, "art");
    char *outside = hlth_outside(&env);
    char *secret = hl_asprintf("%s/secret.txt", outside);
    make_link(secret, "art", "linked-secret.txt");   /* a link to a file outside the home */
    make_link(outside, "art", "skills/outside-dir"); /* a link to a folder outside the home */
    start();
    char *outside_before = hlth_tree(outside);

    char *conv_art = create_conversation("art"), *conv_work = create_conversation("work");
    char *conv_def = create_conversation("default");
    char *all = hl_strdup(conversation_ids());
    json_t *st = get_status("art");
    assert_status(st, "art", 1, 1, 0);
    json_decref(st);

    /* refused: nothing removed */
    FAIL("DELETE", profile_path("default"), NULL, 400, "default_profile_not_mutable");
    FAIL("DELETE", profile_path("missing"), NULL, 404, "profile_not_found");
    hlth_set_gateway_pid(&env, "art", getpid(), 1);
    FAIL("DELETE", profile_path("art"), NULL, 409, "profile_in_use");
    ck_assert(profile_on_disk("art"));
    ck_assert_str_eq(list_names(), "default,art,work");
    ck_assert_str_eq(conversation_ids(), all);
    hlth_set_gateway_pid(&env, "art", 0, 0);

    /* deleted: 204 and no body */
    hlt_response_t res;
    request(TOK, "DELETE", profile_path("art"), NULL, &res);
    ck_assert_msg(res.status == 204, "DELETE art over %s: %ld %s", hlt_proto_name(P), res.status, res.body);
    ck_assert_msg(res.body_len == 0, "a 204 with a body: %s", res.body);
    hlt_assert_cors(&res);
    hlt_response_free(&res);

    /* the folder is gone; the links went, not what they pointed at */
    ck_assert(!profile_on_disk("art"));
    char *outside_after = hlth_tree(outside);
    ck_assert_str_eq(outside_after, outside_before);
    char *text = hlt_read_file(secret, NULL);
    ck_assert_str_eq(text != NULL ? text : "(gone)", HLTH_SECRET);
    free(text);
    ck_assert(profile_on_disk("work"));
    ck_assert_str_eq(list_names(), "default,work");

    /* its conversations went with it, the others stayed */
    ck_assert_str_eq(conversation_ids(), sorted_pair(conv_work, conv_def));
    FAIL("GET", hltc_fmt("/api/v1/conversations/%s/messages", conv_art), NULL, 404, "conversation_not_found");

    /* its registry entry and the active_profile naming it (hermes profile delete does the same) */
    json_t *reg = registry();
    ck_assert_msg(json_object_get(reg, "art") == NULL, "profiles.json still has art: %s", json_dumps(reg, 0));
    json_decref(reg);
    char *active = hl_asprintf("%s/active_profile", env.hermes_home);
    ck_assert(!hlth_exists(active));
    free(active);
    st = get_status("art");
    assert_status(st, "art", 0, 0, 0);
    json_decref(st);
    st = get_status("default");
    assert_status(st, "default", 1, 1, 0);
    json_decref(st);

    /* a second time: not found */
    FAIL("DELETE", profile_path("art"), NULL, 404, "profile_not_found");
    /* a running gateway (plain pid file) also keeps work */
    hlth_set_gateway_pid(&env, "work", getpid(), 0);
    FAIL("DELETE", profile_path("work"), NULL, 409, "profile_in_use");
    ck_assert(profile_on_disk("work"));

    free(all);
    free(conv_art);
    free(conv_work);
    free(conv_def);
    free(outside_after);
    free(outside_before);
    free(secret);
    free(outside);
    finish();
}
END_TEST

Suite *suite_profiles(void)
{
    Suite *s = suite_create("profiles");
    TCase *tc = tcase_create("profiles");
    tcase_set_timeout(tc, 120);
    size_t n = HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_list, 0, (int)n);
    tcase_add_loop_test(tc, test_list_follows_disk, 0, (int)n);
    tcase_add_loop_test(tc, test_status, 0, (int)n);
    tcase_add_loop_test(tc, test_traversal, 0, (int)n);
    tcase_add_loop_test(tc, test_metadata, 0, (int)n);
    tcase_add_loop_test(tc, test_rename, 0, (int)n);
    tcase_add_loop_test(tc, test_delete, 0, (int)n);
    suite_add_tcase(s, tc);
    return s;
}
