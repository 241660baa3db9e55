/*
 * The profile catalog and a profile's statistics (issue 10; spec/API.md §10 rows for GET /api/v1/profiles/catalog and
 * GET /api/v1/profiles/:name/statistics, §8 for the statistics object; GAPS §B 10: the numbers come from real data).
 *
 * Each test gets a fresh Hermes home (harness_hermes.h: default, art, work) and its own daemon with a paired device, and
 * runs once over HTTP/1.1, h2c and h2 over TLS. Requests are sent with CURLOPT_PATH_AS_IS. Covered:
 *  - catalog: the exact envelope {ok, generatedAt (ISO-8601 UTC with ms, the time of the call), profiles}, the profiles
 *    in GET /api/v1/profiles's order (default first, then the names sorted; a folder without config.yaml included), each
 *    entry exactly {profile, capabilities, permissions, modelConfigs, errors}: profile equal to GET …/:name/status's,
 *    permissions to GET …/permissions's, modelConfigs to GET …/model-configs's answer (whole JSON values, compared
 *    after the calls), capabilities exactly {defaultModel, modelCount, skillCount, toolCount: 0} from that listing and
 *    from GET …/skills (every skill, disabled ones too: the fixture's count), errors []; no-store;
 *  - a profile whose config.yaml is not valid YAML, or is a link out of the Hermes home: its status still there,
 *    capabilities, permissions and modelConfigs null with exactly one error each ({field, message}: the messages of
 *    modelConfigs and permissions those the profile's own routes answer with their 409, capabilities the reason the
 *    models could not be read); the other profiles' entries intact; its statistics: capabilities null with exactly one
 *    error, models/skills/profiles totals 0, its conversations still counted; nothing on disk changed, the link's
 *    target never shown;
 *  - statistics: conversations of "work" (one active with two runs, one active without any, one archived, one deleted,
 *    each run against the fake upstream with known usage), of "art", of the default profile with no profile at all
 *    (profile NULL in link.db, with a run) and with "default" named: each profile's exact numbers (total = active +
 *    archived, deleted on its own; the tokens, messages and runs of its conversations only, deleted ones left out: GAPS
 *    §B 25), models.total and skills.total equal to the capabilities' counts, tools 0, profiles.total 1; the profile
 *    object equal to the status route's; a missing profile → 200 with exists false, capabilities null and zeros;
 *  - names: "..", ".", "%2E%2E%2F", encoded dots and slashes, a 65-character name, a link leading out of the Hermes
 *    home → 400 invalid_profile_name, nothing touched; a folder whose name Hermes would not give is readable;
 *  - 401 on both routes: auth_required without a bearer, device_access_token_invalid with a wrong one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/common.h"

#include "fake_hermes.h"
#include "harness_conv.h"
#include "harness_hermes.h"

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

static hlt_env_t env;
static hltc_ctx_t ctx;
static hlt_proto_t P;
static hlt_fake_t fake;
static int fake_up;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

#define NAME65 "a2345678901234567890123456789012345678901234567890123456789012345"
#define WRONG_TOKEN "hlat_0000000000000000000000000000000000000000000000000000000000000000"

/* ---- the daemon of a test ---- */

static void prepare(int i)
{
    P = PROTOS[i];
    fake_up = 0;
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
    if (fake_up) {
        const char *err = hlt_fake_stop(&fake);
        ck_assert_msg(err == NULL, "fake upstream: %s", err);
        fake_up = 0;
    }
    hlt_env_dispose(&env);
}

/* ---- requests ---- */

/* `method path` over the test's protocol with a bearer (NULL: none) and a body (NULL: none), the path sent as is. */
static void request(const char *bearer, const char *method, const char *path, const char *body, hlt_response_t *res)
{
    hlth_request(D, P, bearer, method, path, body, res);
}

/* An answer with `status` and "ok": true: the body (new reference); asserts JSON, CORS, no-store on the profile routes,
 * and no absolute path of the test's tree. */
static json_t *call_status(const char *method, const char *path, const char *body, long status)
{
    hlt_response_t res;
    request(TOK, method, path, body, &res);
    ck_assert_msg(res.status == status, "%s %s over %s: expected %ld, got %ld: %.600s", method, path, hlt_proto_name(P), status,
                  res.status, res.body);
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

static json_t *call(const char *method, const char *path, const char *body)
{
    return call_status(method, path, body, 200);
}

/* An error answer with its exact status and code; returns its message (a rotating buffer: copy it to keep it). */
static const char *call_error(const char *bearer, const char *method, const char *path, long status, const char *code)
{
    hlt_response_t res;
    request(bearer, method, path, NULL, &res);
    if (res.status != status)
        ck_abort_msg("%s %s over %s: expected %ld %s, got %ld: %.500s", method, path, hlt_proto_name(P), status, code, res.status,
                     res.body);
    hlt_assert_error(D, &res, status, code);
    ck_assert_msg(strstr(res.body, env.dir) == NULL, "%s %s shows an absolute path: %.400s", method, path, res.body);
    const char *message = hltc_fmt("%s", hlt_str(json_object_get(res.json, "error"), "message"));
    hlt_response_free(&res);
    return message;
}

#define FAIL(path, status, code) call_error(TOK, "GET", path, status, code)

#define CATALOG "/api/v1/profiles/catalog"

static const char *stats_path(const char *name)
{
    return hltc_fmt("/api/v1/profiles/%s/statistics", name);
}

/* ---- JSON ---- */

/* Asserts that two JSON values are equal (every member, at every depth). */
static void same_json(json_t *got, json_t *want, const char *what)
{
    if (json_equal(got, want))
        return;
    char *g = got != NULL ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    char *w = want != NULL ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    ck_abort_msg("%s over %s:\ngot  %s\nwant %s", what, hlt_proto_name(P), g != NULL ? g : "(missing)",
                 w != NULL ? w : "(missing)");
    free(g);
    free(w);
}

/* Asserts that `got` equals the JSON text `want`. */
static void json_is(json_t *got, const char *want, const char *what)
{
    json_error_t e;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &e);
    ck_assert_msg(w != NULL, "%s: the expected JSON does not parse: %s at %d", what, e.text, e.position);
    same_json(got, w, what);
    json_decref(w);
}

/* The member `key` of an answer (new reference), after asserting the answer's keys are exactly "ok" and `key`. */
static json_t *only_member(json_t *answer, const char *key, const char *what)
{
    hlt_assert_keys(answer, what, "ok", key, NULL);
    json_t *v = json_incref(json_object_get(answer, key));
    json_decref(answer);
    return v;
}

/* ---- what the profile's own routes say ---- */

typedef struct st_views_t {
    json_t *status;      /* GET …/:name/status's profile */
    json_t *permissions; /* GET …/:name/permissions's permissions */
    json_t *listing;     /* GET …/:name/model-configs without "ok" */
    json_t *skills;      /* GET …/:name/skills's skills */
} views_t;

static void views_get(const char *name, views_t *v)
{
    v->status = only_member(call("GET", hltc_fmt("/api/v1/profiles/%s/status", name), NULL), "profile", "status answer");
    v->permissions =
        only_member(call("GET", hltc_fmt("/api/v1/profiles/%s/permissions", name), NULL), "permissions", "permissions answer");
    v->listing = call("GET", hltc_fmt("/api/v1/profiles/%s/model-configs", name), NULL);
    json_object_del(v->listing, "ok");
    json_t *skills = call("GET", hltc_fmt("/api/v1/profiles/%s/skills", name), NULL);
    hlt_assert_keys(skills, "skills answer", "ok", "profile", "skills", "categories", NULL);
    v->skills = json_incref(json_object_get(skills, "skills"));
    json_decref(skills);
}

static void views_free(views_t *v)
{
    json_decref(v->status);
    json_decref(v->permissions);
    json_decref(v->listing);
    json_decref(v->skills);
}

/* The number of skills the fixture gave a profile (every one, disabled ones too). */
static size_t fixture_skills(const char *profile)
{
    size_t n = 0, count = 0;
    const hlth_skill_t *s = hlth_skills(&n);
    for (size_t i = 0; i < n; ++i)
        count += strcmp(s[i].profile, profile) == 0;
    return count;
}

/* The capabilities a profile's own routes imply: {defaultModel, modelCount, skillCount, toolCount: 0}. New reference. */
static json_t *capabilities_of(const views_t *v)
{
    json_t *def = json_object_get(v->listing, "defaultModel");
    ck_assert_msg(def != NULL, "the model-config listing has no defaultModel");
    ck_assert_msg(json_is_array(json_object_get(v->listing, "models")), "the model-config listing has no models array");
    ck_assert_msg(json_is_array(v->skills), "the skills listing has no skills array");
    return json_pack("{s:O, s:I, s:I, s:i}", "defaultModel", def, "modelCount",
                     (json_int_t)json_array_size(json_object_get(v->listing, "models")), "skillCount",
                     (json_int_t)json_array_size(v->skills), "toolCount", 0);
}

/* Asserts a healthy catalog entry against what the profile's routes answer now, and the fixture's skill count. */
static void assert_entry(json_t *e, const char *name, size_t skills)
{
    const char *what = hltc_fmt("catalog entry %s", name);
    hlt_assert_keys(e, what, "profile", "capabilities", "permissions", "modelConfigs", "errors", NULL);
    views_t v;
    views_get(name, &v);
    ck_assert_msg(json_array_size(v.skills) == skills, "%s: the skills route lists %zu skills, the fixture has %zu", name,
                  json_array_size(v.skills), skills);
    same_json(json_object_get(e, "profile"), v.status, hltc_fmt("%s: profile vs GET …/status", what));
    same_json(json_object_get(e, "permissions"), v.permissions, hltc_fmt("%s: permissions vs GET …/permissions", what));
    same_json(json_object_get(e, "modelConfigs"), v.listing, hltc_fmt("%s: modelConfigs vs GET …/model-configs", what));
    json_t *caps = capabilities_of(&v);
    same_json(json_object_get(e, "capabilities"), caps, hltc_fmt("%s: capabilities", what));
    json_decref(caps);
    json_is(json_object_get(e, "errors"), "[]", hltc_fmt("%s: errors", what));
    views_free(&v);
}

/* The names GET /api/v1/profiles lists (new reference). */
static json_t *listed_names(void)
{
    return only_member(call("GET", "/api/v1/profiles", NULL), "profiles", "profile list");
}

/* The catalog (new reference): envelope exactly {ok, generatedAt, profiles}, generatedAt the time of the call. */
static json_t *get_catalog(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    json_t *j = call("GET", CATALOG, NULL);
    clock_gettime(CLOCK_REALTIME, &t1);
    hlt_assert_keys(j, "catalog", "ok", "generatedAt", "profiles", NULL);
    const char *at = hlt_str(j, "generatedAt");
    ck_assert_msg(hlt_matches(at, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"), "generatedAt %s", at);
    int64_t ms = hlt_iso(j, "generatedAt");
    int64_t lo = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000, hi = (int64_t)t1.tv_sec * 1000 + t1.tv_nsec / 1000000;
    ck_assert_msg(ms >= lo && ms <= hi, "generatedAt %s is not the time of the call (%lld..%lld)", at, (long long)lo,
                  (long long)hi);
    ck_assert_msg(json_is_array(json_object_get(j, "profiles")), "catalog profiles is not an array");
    return j;
}

/* Asserts the catalog's profile names, in order, are exactly `want` (comma-joined). */
static void assert_names(json_t *profiles, const char *want)
{
    char buf[1024] = "";
    size_t i;
    json_t *e;
    json_array_foreach(profiles, i, e)
    {
        if (i > 0)
            strcat(buf, ",");
        strncat(buf, hlt_str(json_object_get(e, "profile"), "name"), 200);
    }
    ck_assert_msg(strcmp(buf, want) == 0, "catalog names over %s: %s, want %s", hlt_proto_name(P), buf, want);
}

/* The catalog entry of `name`. Borrowed. */
static json_t *entry_of(json_t *catalog, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(catalog, "profiles"), i,
                       e) if (strcmp(hlt_str(json_object_get(e, "profile"), "name"), name) == 0) return e;
    ck_abort_msg("%s is not in the catalog", name);
    return NULL;
}

/* ---- catalog ---- */

START_TEST(test_catalog)
{
    prepare(_i);
    /* a profile folder Hermes made without a config.yaml yet: listed, its capabilities from an empty config */
    char *bare = hlth_path(&env, "beta", NULL);
    hlth_mkdirs(bare);
    free(bare);
    start();
    json_t *cat = get_catalog(), *profiles = json_object_get(cat, "profiles");
    assert_names(profiles, "default,art,beta,work");
    /* the same order as the list route */
    json_t *names = listed_names();
    ck_assert_int_eq(json_array_size(names), json_array_size(profiles));
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        ck_assert_str_eq(hlt_str(json_object_get(json_array_get(profiles, i), "profile"), "name"), json_string_value(n));
    }
    json_decref(names);
    /* each entry as the profile's own routes answer it, after the catalog */
    assert_entry(entry_of(cat, "default"), "default", fixture_skills("default"));
    assert_entry(entry_of(cat, "art"), "art", fixture_skills("art"));
    assert_entry(entry_of(cat, "beta"), "beta", 0);
    assert_entry(entry_of(cat, "work"), "work", fixture_skills("work"));
    /* not vacuous: the fixture's models and skills are there */
    json_t *def = json_object_get(entry_of(cat, "default"), "capabilities");
    ck_assert_int_eq(json_integer_value(json_object_get(def, "skillCount")), 3);
    ck_assert_msg(json_integer_value(json_object_get(def, "modelCount")) >= 1, "default has no model");
    json_t *work = json_object_get(entry_of(cat, "work"), "capabilities");
    ck_assert_str_eq(hlt_str(work, "defaultModel"), "gpt-4.1");
    ck_assert_int_eq(json_integer_value(json_object_get(work, "skillCount")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(work, "toolCount")), 0);
    json_t *art = json_object_get(entry_of(cat, "art"), "capabilities");
    ck_assert_str_eq(hlt_str(art, "defaultModel"), "claude-3-5-haiku");
    ck_assert_int_eq(json_integer_value(json_object_get(art, "skillCount")), 3);
    ck_assert_msg(json_is_object(json_object_get(entry_of(cat, "work"), "permissions")), "work has no permissions object");
    json_t *beta = json_object_get(entry_of(cat, "beta"), "capabilities");
    ck_assert_int_eq(json_integer_value(json_object_get(beta, "modelCount")), 0);
    /* a second catalog says the same (uids stable, nothing written by the first) */
    json_t *again = get_catalog();
    same_json(json_object_get(again, "profiles"), profiles, "a second catalog");
    json_decref(again);
    json_decref(cat);
    finish();
}
END_TEST

/* The expected statistics object as JSON text (rotating buffer). */
static const char *stats_json(int total, int active, int archived, int deleted, int in, int out, int messages, int runs,
                              size_t models, size_t skills, int profiles)
{
    return hltc_fmt("{\"conversations\":{\"total\":%d,\"active\":%d,\"archived\":%d,\"deleted\":%d},"
                    "\"tokens\":{\"input_tokens\":%d,\"output_tokens\":%d,\"total_tokens\":%d},\"messages\":{\"total\":%d},"
                    "\"runs\":{\"total\":%d},\"models\":{\"total\":%zu},\"skills\":{\"total\":%zu},\"tools\":{\"total\":0},"
                    "\"profiles\":{\"total\":%d}}",
                    total, active, archived, deleted, in, out, in + out, messages, runs, models, skills, profiles);
}

/*
 * A profile whose config.yaml cannot be used: its catalog entry keeps its status, capabilities, permissions and
 * modelConfigs are null with one error each (the messages of modelConfigs and permissions those its own routes answer,
 * with `code`; capabilities says why the models could not be read), the other entries are intact; its statistics have
 * null capabilities with one error, zero models, skills and profiles, and its `convs` conversations (all active). Nothing
 * on disk changes. `outside`: also checked unchanged (NULL: none).
 */
static void assert_broken_profile(const char *name, const char *code, const char *outside, int convs)
{
    char *before = hlth_tree(env.hermes_home), *outside_before = outside != NULL ? hlth_tree(outside) : NULL;
    json_t *cat = get_catalog();
    assert_names(json_object_get(cat, "profiles"), "default,art,work");
    json_t *e = entry_of(cat, name);
    hlt_assert_keys(e, "broken entry", "profile", "capabilities", "permissions", "modelConfigs", "errors", NULL);
    json_t *status = only_member(call("GET", hltc_fmt("/api/v1/profiles/%s/status", name), NULL), "profile", "status answer");
    same_json(json_object_get(e, "profile"), status, "broken profile: profile vs GET …/status");
    ck_assert(json_is_true(json_object_get(status, "exists")));
    json_decref(status);
    ck_assert_msg(json_is_null(json_object_get(e, "capabilities")), "broken profile: capabilities not null");
    ck_assert_msg(json_is_null(json_object_get(e, "permissions")), "broken profile: permissions not null");
    ck_assert_msg(json_is_null(json_object_get(e, "modelConfigs")), "broken profile: modelConfigs not null");
    /* one error per part, the messages the profile's own routes answer */
    char *models_msg = hl_strdup(FAIL(hltc_fmt("/api/v1/profiles/%s/model-configs", name), 409, code));
    char *perm_msg = hl_strdup(FAIL(hltc_fmt("/api/v1/profiles/%s/permissions", name), 409, code));
    json_t *want = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "field", "modelConfigs", "message", models_msg, "field",
                             "permissions", "message", perm_msg, "field", "capabilities", "message", models_msg);
    same_json(json_object_get(e, "errors"), want, "broken profile: catalog errors");
    json_decref(want);
    /* the rest of the catalog intact */
    static const char *const NAMES[] = {"default", "art", "work"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i)
        if (strcmp(NAMES[i], name) != 0)
            assert_entry(entry_of(cat, NAMES[i]), NAMES[i], fixture_skills(NAMES[i]));
    json_decref(cat);
    /* its statistics: no capabilities, the reason given once, zero models and skills */
    json_t *st = call("GET", stats_path(name), NULL);
    hlt_assert_keys(st, "broken statistics", "ok", "profile", "capabilities", "statistics", "errors", NULL);
    ck_assert_msg(json_is_null(json_object_get(st, "capabilities")), "broken profile statistics: capabilities not null");
    want = json_pack("[{s:s, s:s}]", "field", "capabilities", "message", models_msg);
    same_json(json_object_get(st, "errors"), want, "broken profile: statistics errors");
    json_decref(want);
    free(models_msg);
    free(perm_msg);
    json_is(json_object_get(st, "statistics"), stats_json(convs, convs, 0, 0, 0, 0, 0, 0, 0, 0, 0), "broken profile statistics");
    json_decref(st);
    /* nothing written */
    char *after = hlth_tree(env.hermes_home);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    if (outside != NULL) {
        char *outside_after = hlth_tree(outside);
        ck_assert_str_eq(outside_after, outside_before);
        free(outside_after);
        free(outside_before);
    }
}

START_TEST(test_catalog_broken_yaml)
{
    prepare(_i);
    static const char BROKEN[] = "# art, broken by hand\nmodel: [claude-3-5-haiku\n  provider: {anthropic\n";
    hlth_write(&env, "art", "config.yaml", BROKEN);
    start();
    json_decref(call_status("POST", "/api/v1/conversations", "{\"title\":\"art\",\"profile\":\"art\"}", 201));
    assert_broken_profile("art", "config_yaml_invalid", NULL, 1);
    /* the skills route refuses too (with its own words) */
    FAIL("/api/v1/profiles/art/skills", 409, "config_yaml_invalid");
    finish();
}
END_TEST

/* work's config.yaml a link out of the Hermes home: never read, and reported like a broken file. */
START_TEST(test_catalog_unsafe_config)
{
    prepare(_i);
    char *outside = hlth_outside(&env), *target = hl_asprintf("%s/secret.txt", outside);
    char *config = hlth_path(&env, "work", "config.yaml");
    ck_assert_int_eq(unlink(config), 0);
    ck_assert_msg(symlink(target, config) == 0, "symlink %s: %s", config, strerror(errno));
    start();
    assert_broken_profile("work", "config_yaml_unsafe", outside, 0);
    json_t *cat = get_catalog();
    char *dump = json_dumps(cat, JSON_COMPACT);
    ck_assert_msg(strstr(dump, "outside the Hermes home: never read") == NULL, "the catalog shows the link's target: %s", dump);
    free(dump);
    json_decref(cat);
    free(config);
    free(target);
    free(outside);
    finish();
}
END_TEST

/* ---- statistics ---- */

#define KEY_OF_FAKE HLTH_WORK_API_KEY
#define STR_(x) #x
#define STR(x) STR_(x)

/* A fake upstream for both the default and the work profile (their .env point at it with the work key). */
static void start_with_fake(void)
{
    static const char *const ARGS[] = {"--key", KEY_OF_FAKE, "--time-scale", "0.5", NULL};
    hlt_fake_start(&fake, env.dir, ARGS);
    fake_up = 1;
    const char *work_env = hlth_text("work", ".env");
    const char *port_line = "API_SERVER_PORT=" STR(HLTH_WORK_API_PORT) "\n";
    const char *at = strstr(work_env, port_line);
    ck_assert_msg(at != NULL, "the fixture's work .env has no %s", port_line);
    char *text = hl_asprintf("%.*sAPI_SERVER_PORT=%d\n%s", (int)(at - work_env), work_env, fake.port, at + strlen(port_line));
    hlth_write(&env, "work", ".env", text);
    free(text);
    text = hl_asprintf("%sAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=%s\n", hlth_text("default", ".env"),
                       fake.port, KEY_OF_FAKE);
    hlth_write(&env, "default", ".env", text);
    free(text);
    start();
}

/* POST /api/v1/conversations with this body: the new id (caller frees). */
static char *create(const char *body)
{
    json_t *j = call_status("POST", "/api/v1/conversations", body, 201);
    char *id = hl_strdup(hlt_str(json_object_get(j, "conversation"), "id"));
    json_decref(j);
    return id;
}

/* One message to the conversation, answered by the fake with this usage; waits for the run to end. */
static void exchange(const char *conv, int in, int out)
{
    json_t *sent = hltc_send(D, P, TOK, conv, hltc_fmt("[[fake:stream;deltas=2;in=%d;out=%d]] hello", in, out));
    json_decref(sent);
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 20000);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "conversation %s: no run.completed", conv);
    hltc_events_free(e);
    free(e);
}

/* The statistics answer of a healthy profile, asserted against its other routes; returns "statistics" (new reference). */
static json_t *stats_of(const char *name)
{
    json_t *j = call("GET", stats_path(name), NULL);
    hlt_assert_keys(j, hltc_fmt("statistics of %s", name), "ok", "profile", "capabilities", "statistics", NULL);
    views_t v;
    views_get(name, &v);
    same_json(json_object_get(j, "profile"), v.status, hltc_fmt("statistics of %s: profile vs GET …/status", name));
    json_t *caps = capabilities_of(&v);
    same_json(json_object_get(j, "capabilities"), caps, hltc_fmt("statistics of %s: capabilities", name));
    json_t *s = json_incref(json_object_get(j, "statistics"));
    json_is(json_object_get(s, "models"),
            hltc_fmt("{\"total\":%lld}", (long long)json_array_size(json_object_get(v.listing, "models"))),
            hltc_fmt("statistics of %s: models", name));
    json_is(json_object_get(s, "skills"), hltc_fmt("{\"total\":%lld}", (long long)json_array_size(v.skills)),
            hltc_fmt("statistics of %s: skills", name));
    json_decref(caps);
    views_free(&v);
    json_decref(j);
    return s;
}

/* modelCount of a profile's model-config listing. */
static size_t model_count(const char *name)
{
    json_t *l = call("GET", hltc_fmt("/api/v1/profiles/%s/model-configs", name), NULL);
    size_t n = json_array_size(json_object_get(l, "models"));
    json_decref(l);
    return n;
}

START_TEST(test_statistics)
{
    prepare(_i);
    start_with_fake();
    const size_t def_models = model_count("default"), work_models = model_count("work"), art_models = model_count("art");
    ck_assert_msg(def_models >= 1 && work_models >= 1 && art_models >= 1, "the fixture's profiles have models");
    /* nothing yet: zeros, with the capabilities */
    json_t *s = stats_of("work");
    json_is(s, stats_json(0, 0, 0, 0, 0, 0, 0, 0, work_models, 4, 1), "work before any conversation");
    json_decref(s);
    /* work: an active conversation with two runs, one without any, one archived and one deleted (a run each) */
    char *w_active = create("{\"title\":\"w active\",\"profile\":\"work\"}");
    char *w_idle = create("{\"title\":\"w idle\",\"profile\":\"work\"}");
    char *w_archived = create("{\"title\":\"w archived\",\"profile\":\"work\"}");
    char *w_deleted = create("{\"title\":\"w deleted\",\"profile\":\"work\"}");
    exchange(w_active, 100, 42);
    exchange(w_active, 7, 3);
    exchange(w_archived, 10, 5);
    exchange(w_deleted, 1, 2);
    json_decref(call("POST", hltc_fmt("/api/v1/conversations/%s/archive", w_archived), NULL));
    json_decref(call("DELETE", hltc_fmt("/api/v1/conversations/%s", w_deleted), NULL));
    /* default: one with no profile at all (a run), one naming "default" (archived); art: one */
    char *d_none = create("{\"title\":\"no profile\"}");
    char *d_named = create("{\"title\":\"named default\",\"profile\":\"default\"}");
    char *a_one = create("{\"title\":\"art\",\"profile\":\"art\"}");
    exchange(d_none, 20, 9);
    json_decref(call("POST", hltc_fmt("/api/v1/conversations/%s/archive", d_named), NULL));
    /* the case this test is about: a conversation stored without a profile */
    void *db = hltc_db_open(&env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT profile IS NULL OR profile = '' FROM conversations WHERE id = ?1", d_none), 1);
    ck_assert_int_eq(hltc_db_int(db, "SELECT status = 'deleted_soft' FROM conversations WHERE id = ?1", w_deleted), 1);
    hltc_db_close(db);
    /* work: 3 conversations (active + archived; the deleted one only in "deleted"), the 3 runs of 2 messages each and the
     * tokens of those not deleted (GAPS §B 25) */
    s = stats_of("work");
    json_is(s, stats_json(3, 2, 1, 1, 117, 50, 6, 3, work_models, 4, 1), "work statistics");
    json_decref(s);
    /* default: the conversation without a profile and the one naming default */
    s = stats_of("default");
    json_is(s, stats_json(2, 1, 1, 0, 20, 9, 2, 1, def_models, 3, 1), "default statistics");
    json_decref(s);
    s = stats_of("art");
    json_is(s, stats_json(1, 1, 0, 0, 0, 0, 0, 0, art_models, 3, 1), "art statistics");
    json_decref(s);
    /* a profile that does not exist: its status, no capabilities, zeros */
    json_t *j = call("GET", stats_path("ghost"), NULL);
    hlt_assert_keys(j, "ghost statistics", "ok", "profile", "capabilities", "statistics", NULL);
    json_t *status = only_member(call("GET", "/api/v1/profiles/ghost/status", NULL), "profile", "status answer");
    same_json(json_object_get(j, "profile"), status, "ghost: profile vs GET …/status");
    ck_assert(json_is_false(json_object_get(status, "exists")));
    json_decref(status);
    ck_assert_msg(json_is_null(json_object_get(j, "capabilities")), "ghost: capabilities not null");
    json_is(json_object_get(j, "statistics"), stats_json(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), "ghost statistics");
    json_decref(j);
    char *ghost = hlth_path(&env, "ghost", NULL);
    ck_assert_msg(!hlth_exists(ghost), "the statistics of a missing profile made its folder");
    free(ghost);
    /* the catalog agrees with the statistics on the capabilities */
    json_t *cat = get_catalog();
    static const char *const NAMES[] = {"default", "art", "work"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NAMES); ++i) {
        json_t *st = call("GET", stats_path(NAMES[i]), NULL);
        same_json(json_object_get(st, "capabilities"), json_object_get(entry_of(cat, NAMES[i]), "capabilities"),
                  hltc_fmt("%s: statistics vs catalog capabilities", NAMES[i]));
        json_decref(st);
    }
    json_decref(cat);
    free(w_active);
    free(w_idle);
    free(w_archived);
    free(w_deleted);
    free(d_none);
    free(d_named);
    free(a_one);
    finish();
}
END_TEST

/* ---- names and auth ---- */

START_TEST(test_names_auth)
{
    prepare(_i);
    char *outside = hlth_outside(&env);
    char *link = hlth_path(&env, "escape", NULL);
    ck_assert_int_eq(symlink(outside, link), 0);
    free(link);
    hlth_write(&env, "Legacy.Profile", "config.yaml", "model: legacy-model\n");
    start();
    char *home_before = hlth_tree(env.hermes_home), *outside_before = hlth_tree(outside);
    static const char *const BAD[] = {"..",    ".",      "%2E%2E", "%2E%2E%2F", "%2E%2E%2Fwork", "..%2F..%2Fetc",
                                      "a%2Fb", "%2Fetc", NAME65,   "escape",    "caf%C3%A9",     "with%20space"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i)
        FAIL(stats_path(BAD[i]), 400, "invalid_profile_name");
    /* a folder Hermes would not name: readable */
    json_t *s = stats_of("Legacy.Profile");
    json_is(s, stats_json(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1), "Legacy.Profile statistics");
    json_decref(s);
    /* the catalog leaves the link out and lists the folder, the others intact */
    json_t *cat = get_catalog();
    assert_names(json_object_get(cat, "profiles"), "default,Legacy.Profile,art,work");
    assert_entry(entry_of(cat, "Legacy.Profile"), "Legacy.Profile", 0);
    json_decref(cat);
    /* auth */
    call_error(NULL, "GET", CATALOG, 401, "auth_required");
    call_error(WRONG_TOKEN, "GET", CATALOG, 401, "device_access_token_invalid");
    call_error(NULL, "GET", stats_path("work"), 401, "auth_required");
    call_error(WRONG_TOKEN, "GET", stats_path("work"), 401, "device_access_token_invalid");
    call_error(NULL, "GET", stats_path(".."), 401, "auth_required");
    char *home_after = hlth_tree(env.hermes_home), *outside_after = hlth_tree(outside);
    ck_assert_str_eq(home_after, home_before);
    ck_assert_str_eq(outside_after, outside_before);
    free(home_after);
    free(outside_after);
    free(home_before);
    free(outside_before);
    free(outside);
    finish();
}
END_TEST

Suite *suite_profile_catalog(void)
{
    Suite *s = suite_create("profile_catalog");
    TCase *tc = tcase_create("profile_catalog");
    tcase_set_timeout(tc, 120);
    size_t n = HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_catalog, 0, (int)n);
    tcase_add_loop_test(tc, test_catalog_broken_yaml, 0, (int)n);
    tcase_add_loop_test(tc, test_catalog_unsafe_config, 0, (int)n);
    tcase_add_loop_test(tc, test_statistics, 0, (int)n);
    tcase_add_loop_test(tc, test_names_auth, 0, (int)n);
    suite_add_tcase(s, tc);
    return s;
}
