/*
 * Cron jobs (spec/API.md §11, issue: cron), proxied to each profile's Hermes API server, against the fake upstream's job
 * store (FAKE-UPSTREAM.md §4). One daemon for the suite; HERMES_HOME/.env points the default profile at fake A, the
 * profile "work" at fake B (each with its own key); "broken" (a closed port) and "badkey" (fake B, a wrong key) are added
 * by the tests that need them. Both fakes are reset before each test. Covered: the CRUD sequence (create → get → list →
 * patch → pause → list hides it → include_disabled shows it → resume → run → delete → delete again 404) over HTTP/1.1
 * and h2 over TLS, with the bodies forwarded verbatim and the key sent; validation (upstream 400 → invalid_cron_job,
 * non-object and invalid JSON bodies refused before anything is forwarded, upstream 500 → 502 with its message); bad job
 * ids and profile names; an upstream that is down (503 within about a second) or refuses the key (502); the aggregate
 * list across profiles with "_profile" and the failures of a broken one; answers without a job object (502
 * hermes_cron_job_invalid).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/common.h"

#include "fake_hermes.h"
#include "harness_conv.h"

#define KEY_A "fake-key-default-0123456789"
#define KEY_B "fake-key-work-9876543210"

static hlt_env_t env;
static hlt_fake_t fake_a, fake_b;
static hltc_ctx_t ctx;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

/* Writes HERMES_HOME[/profiles/<profile>]/.env pointing at 127.0.0.1:port with key. */
static void write_profile(const char *profile, int port, const char *key)
{
    char *dir;
    if (profile == NULL) {
        dir = hl_strdup(env.hermes_home);
    } else {
        char *root = hl_asprintf("%s/profiles", env.hermes_home);
        mkdir(root, 0700);
        free(root);
        dir = hl_asprintf("%s/profiles/%s", env.hermes_home, profile);
        mkdir(dir, 0700);
    }
    char *path = hl_asprintf("%s/.env", dir);
    char *text = hl_asprintf("API_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=%s\n", port, key);
    hlt_write_file(path, text);
    free(text);
    free(path);
    free(dir);
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void setup(void)
{
    hlt_env_init(&env);
    static const char *const ARGS_A[] = {"--key", KEY_A, NULL}, *const ARGS_B[] = {"--key", KEY_B, NULL};
    hlt_fake_start(&fake_a, env.dir, ARGS_A);
    hlt_fake_start(&fake_b, env.dir, ARGS_B);
    write_profile(NULL, fake_a.port, KEY_A);
    write_profile("work", fake_b.port, KEY_B);
    hltc_start(&ctx, 1, &env);
}

static void teardown(void)
{
    hltc_teardown_shared(&ctx, "cron daemon");
    const char *err = hlt_fake_stop(&fake_a);
    if (err != NULL)
        hlt_late_failure("cron fake A", err);
    err = hlt_fake_stop(&fake_b);
    if (err != NULL)
        hlt_late_failure("cron fake B", err);
    hlt_env_dispose(&env);
}

static void reset_fake(const hlt_fake_t *f)
{
    hlt_response_t res;
    hlt_fake_request(f, "POST", "/__fake/reset", "{}", NULL, &res);
    ck_assert_msg(res.status == 200, "fake reset: %ld %s", res.status, res.body);
    hlt_response_free(&res);
}

static void reset_fakes(void)
{
    reset_fake(&fake_a);
    reset_fake(&fake_b);
}

static size_t count_requests(const hlt_fake_t *f)
{
    json_t *r = hlt_fake_requests(f);
    size_t n = json_array_size(r);
    json_decref(r);
    return n;
}

static const char *PREFIX(const char *profile)
{
    return hltc_fmt("/api/v1/profiles/%s/cron-jobs", profile);
}

/* printf into a caller's buffer (paths that live through many calls: hltc_fmt's buffers rotate) */
#define PATH(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), (const char *)(buf))

/* The ids of a list answer's jobs, comma-separated, in order (into a rotating buffer). */
static const char *ids_of(json_t *list)
{
    char buf[1024] = "";
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(list, "jobs"), i, j)
    {
        if (i > 0)
            strcat(buf, ",");
        strncat(buf, hlt_str(j, "id"), 100);
    }
    return hltc_fmt("%s", buf);
}

/* Asserts an error answer and returns its message (rotating buffer). */
static const char *error_message(hlt_proto_t p, const char *method, const char *path, const char *body, long status,
                                 const char *code)
{
    hlt_response_t res;
    hlt_api(D, p, method, path, TOK, body, &res);
    hlt_assert_error(D, &res, status, code);
    const char *m = hltc_fmt("%s", hlt_str(json_object_get(res.json, "error"), "message"));
    hlt_response_free(&res);
    return m;
}

/* ---- the CRUD sequence ---- */

static const hlt_proto_t CRUD_PROTOS[] = {HLT_H1, HLT_H2_TLS};

START_TEST(test_crud)
{
    hlt_proto_t p = CRUD_PROTOS[_i];
    char base_buf[128], one_buf[256];
    const char *base = PATH(base_buf, "/api/v1/profiles/default/cron-jobs");
    /* create: forwarded verbatim (unknown keys and UTF-8 included), 201 although upstream says 200 */
    static const char CREATE[] =
        "{\"name\":\"n\xC3\xA4ightly\",\"schedule\":\"every 30m\",\"prompt\":\"sum up\",\"x_extra\":[1,\"two\"]}";
    json_t *r = hltc_call(D, p, TOK, "POST", base, CREATE, 201);
    hlt_assert_keys(r, "create", "ok", "job", NULL);
    json_t *job = json_object_get(r, "job");
    const char *id0 = hlt_str(job, "id");
    ck_assert_msg(hlt_matches(id0, "^[0-9a-f]{12}$"), "job id %s", id0);
    char *id = hl_strdup(id0);
    ck_assert_str_eq(hlt_str(job, "name"), "n\xC3\xA4ightly");
    ck_assert_str_eq(hlt_str(json_object_get(job, "schedule"), "kind"), "interval");
    ck_assert(json_is_true(json_object_get(job, "enabled")));
    ck_assert_str_eq(hlt_str(job, "deliver"), "local");
    json_decref(r);
    json_t *reqs = hlt_fake_requests(&fake_a);
    json_t *post = json_array_get(reqs, json_array_size(reqs) - 1);
    ck_assert_str_eq(hlt_str(post, "method"), "POST");
    ck_assert_str_eq(hlt_str(post, "path"), "/api/jobs");
    ck_assert_str_eq(hlt_str(post, "body"), CREATE);
    ck_assert_str_eq(hlt_str(json_object_get(post, "headers"), "authorization"), "matches-key");
    json_decref(reqs);

    const char *one = PATH(one_buf, "%s/%s", base, id);
    r = hltc_call(D, p, TOK, "GET", one, NULL, 200);
    hlt_assert_keys(r, "get", "ok", "job", NULL);
    ck_assert_str_eq(hlt_str(json_object_get(r, "job"), "id"), id);
    json_decref(r);

    hlt_response_t res;
    hlt_api(D, p, "GET", base, TOK, NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    hlt_assert_keys(res.json, "list", "ok", "profile", "jobs", NULL);
    ck_assert_str_eq(hlt_str(json_object_get(res.json, "profile"), "name"), "default");
    ck_assert_str_eq(ids_of(res.json), id);
    ck_assert(json_object_get(json_array_get(json_object_get(res.json, "jobs"), 0), "latest_execution") != NULL);
    hlt_response_free(&res);

    /* patch: body verbatim; the upstream's whitelist drops the unknown key */
    static const char PATCH[] = "{\"name\":\"renamed\",\"ignored\":true}";
    r = hltc_call(D, p, TOK, "PATCH", one, PATCH, 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "job"), "name"), "renamed");
    json_decref(r);
    reqs = hlt_fake_requests(&fake_a);
    post = json_array_get(reqs, json_array_size(reqs) - 1);
    ck_assert_str_eq(hlt_str(post, "method"), "PATCH");
    ck_assert_str_eq(hlt_str(post, "path"), hltc_fmt("/api/jobs/%s", id));
    ck_assert_str_eq(hlt_str(post, "body"), PATCH);
    json_decref(reqs);

    r = hltc_call(D, p, TOK, "POST", hltc_fmt("%s/pause", one), NULL, 200);
    ck_assert(json_is_false(json_object_get(json_object_get(r, "job"), "enabled")));
    ck_assert_str_eq(hlt_str(json_object_get(r, "job"), "state"), "paused");
    json_decref(r);
    r = hltc_call(D, p, TOK, "GET", base, NULL, 200);
    ck_assert_str_eq(ids_of(r), "");
    json_decref(r);
    static const char *const SHOW[] = {"?include_disabled=true", "?includeDisabled=TRUE", "?include_disabled=1"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(SHOW); ++i) {
        r = hltc_call(D, p, TOK, "GET", hltc_fmt("%s%s", base, SHOW[i]), NULL, 200);
        ck_assert_msg(strcmp(ids_of(r), id) == 0, "%s: %s", SHOW[i], ids_of(r));
        json_decref(r);
    }
    r = hltc_call(D, p, TOK, "GET", hltc_fmt("%s?include_disabled=yes", base), NULL, 200);
    ck_assert_str_eq(ids_of(r), "");
    json_decref(r);

    r = hltc_call(D, p, TOK, "POST", hltc_fmt("%s/resume", one), NULL, 200);
    ck_assert(json_is_true(json_object_get(json_object_get(r, "job"), "enabled")));
    ck_assert_str_eq(hlt_str(json_object_get(r, "job"), "state"), "scheduled");
    json_decref(r);
    r = hltc_call(D, p, TOK, "POST", hltc_fmt("%s/run", one), NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "job"), "id"), id);
    json_decref(r);

    hlt_api(D, p, "DELETE", one, TOK, NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_keys(res.json, "delete", "ok", NULL);
    hlt_response_free(&res);
    error_message(p, "DELETE", one, NULL, 404, "cron_job_not_found");
    error_message(p, "GET", one, NULL, 404, "cron_job_not_found");
    error_message(p, "POST", hltc_fmt("%s/pause", one), NULL, 404, "cron_job_not_found");
    free(id);
}
END_TEST

/* ---- validation ---- */

START_TEST(test_validation)
{
    char base_buf[128], one_buf[256];
    const char *base = PATH(base_buf, "/api/v1/profiles/default/cron-jobs");
    /* the upstream's 400s: a user error in our envelope, with its message */
    ck_assert_str_eq(error_message(HLT_H1, "POST", base, "{\"schedule\":\"every 5m\"}", 400, "invalid_cron_job"),
                     "Name is required");
    ck_assert_str_eq(error_message(HLT_H1, "POST", base, "", 400, "invalid_cron_job"), "Name is required");
    ck_assert_str_eq(error_message(HLT_H1, "POST", base, "{\"name\":\"x\"}", 400, "invalid_cron_job"), "Schedule is required");
    json_t *r = hltc_call(D, HLT_H1, TOK, "POST", base, "{\"name\":\"x\",\"schedule\":\"every 5m\"}", 201);
    char *id = hl_strdup(hlt_str(json_object_get(r, "job"), "id"));
    json_decref(r);
    const char *one = PATH(one_buf, "%s/%s", base, id);
    ck_assert_str_eq(error_message(HLT_H1, "PATCH", one, "{\"bogus\":1}", 400, "invalid_cron_job"), "No valid fields to update");

    /* anything but a JSON object is refused before it reaches the upstream */
    hlt_response_t res;
    hlt_fake_request(&fake_a, "DELETE", "/__fake/requests", NULL, NULL, &res);
    hlt_response_free(&res);
    static const char *const NOT_OBJECTS[] = {"[1,2]", "\"job\"", "42", "null"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(NOT_OBJECTS); ++i) {
        error_message(HLT_H1, "POST", base, NOT_OBJECTS[i], 400, "invalid_cron_job");
        error_message(HLT_H1, "PATCH", one, NOT_OBJECTS[i], 400, "invalid_cron_job");
    }
    error_message(HLT_H1, "POST", base, "{\"name\":", 400, "invalid_json");
    error_message(HLT_H1, "PATCH", one, "{nope}", 400, "invalid_json");
    ck_assert_uint_eq(count_requests(&fake_a), 0);

    /* other upstream errors: 502 with the upstream's message */
    const char *m =
        error_message(HLT_H1, "POST", base, "{\"name\":\"x\",\"schedule\":\"whenever\"}", 502, "hermes_response_invalid");
    ck_assert_msg(strstr(m, "HTTP 500") != NULL && strstr(m, "Invalid schedule") != NULL, "message: %s", m);
    hlt_fake_request(&fake_a, "POST", "/__fake/jobs/fail", "{\"op\":\"get\",\"status\":500,\"error\":\"disk full\"}", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    m = error_message(HLT_H1, "GET", one, NULL, 502, "hermes_response_invalid");
    ck_assert_str_eq(m, "Hermes API Server returned HTTP 500: disk full");
    hlt_fake_request(&fake_a, "POST", "/__fake/jobs/fail", "{\"op\":\"list\",\"status\":501}", NULL, &res);
    hlt_response_free(&res);
    m = error_message(HLT_H1, "GET", base, NULL, 502, "hermes_response_invalid");
    ck_assert_str_eq(m, "Hermes API Server returned HTTP 501: Cron module not available");
    /* a well-formed id the upstream does not know */
    error_message(HLT_H1, "GET", hltc_fmt("%s/0123456789ab", base), NULL, 404, "cron_job_not_found");
    error_message(HLT_H1, "PATCH", hltc_fmt("%s/0123456789ab", base), "{\"name\":\"y\"}", 404, "cron_job_not_found");
    free(id);
}
END_TEST

START_TEST(test_bad_ids)
{
    hlt_response_t res;
    hlt_fake_request(&fake_a, "DELETE", "/__fake/requests", NULL, NULL, &res);
    hlt_response_free(&res);
    char *long_id = hl_malloc(66);
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    const char *bad_ids[] = {"a.b", "a%20b", "a%2Fb", "%C3%A4", "a~b", long_id};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad_ids); ++i) {
        char one_buf[256];
        const char *one = PATH(one_buf, "/api/v1/profiles/default/cron-jobs/%s", bad_ids[i]);
        error_message(HLT_H1, "GET", one, NULL, 400, "invalid_cron_job_id");
        error_message(HLT_H1, "PATCH", one, "{\"name\":\"y\"}", 400, "invalid_cron_job_id");
        error_message(HLT_H1, "DELETE", one, NULL, 400, "invalid_cron_job_id");
        error_message(HLT_H1, "POST", hltc_fmt("%s/run", one), NULL, 400, "invalid_cron_job_id");
    }
    free(long_id);
    /* the longest id allowed goes through (and is not found) */
    char id64[65];
    memset(id64, 'b', 64);
    id64[64] = '\0';
    error_message(HLT_H1, "GET", hltc_fmt("%s/%s", PREFIX("default"), id64), NULL, 404, "cron_job_not_found");
    json_t *reqs = hlt_fake_requests(&fake_a);
    ck_assert_uint_eq(json_array_size(reqs), 1);
    ck_assert_str_eq(hlt_str(json_array_get(reqs, 0), "path"), hltc_fmt("/api/jobs/%s", id64));
    json_decref(reqs);

    /* profile names: checked by the Hermes files actor */
    static const char *const BAD_NAMES[] = {"a*b", "a%20b", "%2E%2E"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD_NAMES); ++i) {
        error_message(HLT_H1, "GET", PREFIX(BAD_NAMES[i]), NULL, 400, "invalid_profile_name");
        error_message(HLT_H1, "POST", PREFIX(BAD_NAMES[i]), "{\"name\":\"x\",\"schedule\":\"every 5m\"}", 400,
                      "invalid_profile_name");
        error_message(HLT_H1, "GET", hltc_fmt("%s/0123456789ab", PREFIX(BAD_NAMES[i])), NULL, 400, "invalid_profile_name");
    }
    error_message(HLT_H1, "GET", PREFIX("nosuch"), NULL, 404, "profile_not_found");
    error_message(HLT_H1, "POST", hltc_fmt("%s/0123456789ab/resume", PREFIX("nosuch")), NULL, 404, "profile_not_found");
    /* a bad job id is refused before the profile is looked up */
    error_message(HLT_H1, "GET", hltc_fmt("%s/a.b", PREFIX("nosuch")), NULL, 400, "invalid_cron_job_id");
    error_message(HLT_H1, "DELETE", hltc_fmt("%s/a~b", PREFIX("a*b")), NULL, 400, "invalid_cron_job_id");
    ck_assert_uint_eq(count_requests(&fake_a) + count_requests(&fake_b), 1);

    /* no bearer, no service */
    hlt_api(D, HLT_H1, "GET", "/api/v1/cron-jobs", NULL, NULL, &res);
    hlt_assert_error(D, &res, 401, "auth_required");
    hlt_response_free(&res);
    hlt_api(D, HLT_H1, "POST", PREFIX("default"), NULL, "{}", &res);
    hlt_assert_error(D, &res, 401, "auth_required");
    hlt_response_free(&res);
}
END_TEST

/* ---- the aggregate list ---- */

static char *create_in(const char *profile, const char *name)
{
    json_t *r =
        hltc_call(D, HLT_H1, TOK, "POST", PREFIX(profile), hltc_fmt("{\"name\":\"%s\",\"schedule\":\"every 1h\"}", name), 201);
    char *id = hl_strdup(hlt_str(json_object_get(r, "job"), "id"));
    json_decref(r);
    return id;
}

/* GET /api/v1/cron-jobs<query>: asserts 200 and the keys; returns the body. */
static json_t *list_all(const char *query)
{
    hlt_response_t res;
    hlt_api(D, HLT_H1, "GET", hltc_fmt("/api/v1/cron-jobs%s", query), TOK, NULL, &res);
    ck_assert_msg(res.status == 200, "list all: %ld %s", res.status, res.body);
    hlt_assert_json(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    hlt_assert_keys(res.json, "list all", "ok", "jobs", "failures", NULL);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

/* "<_profile>:<name>" of each job, comma-separated (rotating buffer). */
static const char *profiles_of(json_t *list)
{
    char buf[1024] = "";
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(list, "jobs"), i, j)
    {
        if (i > 0)
            strcat(buf, ",");
        strncat(buf, hltc_fmt("%s:%s", hlt_str(j, "_profile"), hlt_str(j, "name")), 200);
    }
    return hltc_fmt("%s", buf);
}

START_TEST(test_list_all)
{
    free(create_in("work", "w1"));
    char *w2 = create_in("work", "w2");
    free(create_in("default", "d1"));
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", hltc_fmt("%s/%s/pause", PREFIX("work"), w2), NULL, 200));
    free(w2);

    /* default first, then the profiles; every one answered */
    json_t *r = list_all("");
    ck_assert(json_is_true(json_object_get(r, "ok")));
    ck_assert_str_eq(profiles_of(r), "default:d1,work:w1");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "failures")), 0);
    json_decref(r);
    r = list_all("?includeDisabled=true");
    ck_assert_str_eq(profiles_of(r), "default:d1,work:w1,work:w2");
    json_decref(r);
    json_t *reqs = hlt_fake_requests(&fake_b);
    json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
    ck_assert_str_eq(hlt_str(last, "path"), "/api/jobs");
    ck_assert_str_eq(hlt_str(last, "query"), "include_disabled=true");
    ck_assert_str_eq(hlt_str(json_object_get(last, "headers"), "authorization"), "matches-key");
    json_decref(reqs);

    /* the per-profile list of "work" names it */
    r = hltc_call(D, HLT_H1, TOK, "GET", PREFIX("work"), NULL, 200);
    ck_assert_str_eq(hlt_str(json_object_get(r, "profile"), "name"), "work");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "jobs")), 1);
    json_decref(r);

    /* a profile whose API server is down: still 200, "ok": false, its failure listed, the others' jobs kept */
    write_profile("broken", closed_port(), "k");
    long t0 = hlt_now_ms();
    r = list_all("");
    long took = hlt_now_ms() - t0;
    ck_assert_msg(took < 5000, "the aggregate list took %ld ms", took);
    ck_assert(json_is_false(json_object_get(r, "ok")));
    ck_assert_str_eq(profiles_of(r), "default:d1,work:w1");
    json_t *failures = json_object_get(r, "failures");
    ck_assert_uint_eq(json_array_size(failures), 1);
    hlt_assert_keys(json_array_get(failures, 0), "failure", "profile", "message", NULL);
    ck_assert_str_eq(hlt_str(json_array_get(failures, 0), "profile"), "broken");
    ck_assert_str_eq(hlt_str(json_array_get(failures, 0), "message"), "Hermes API Server is unavailable");
    json_decref(r);

    /* an upstream error is reported with its message */
    hlt_response_t res;
    hlt_fake_request(&fake_a, "POST", "/__fake/jobs/fail", "{\"op\":\"list\",\"status\":500,\"error\":\"disk full\"}", NULL, &res);
    hlt_response_free(&res);
    r = list_all("");
    ck_assert_str_eq(profiles_of(r), "work:w1");
    failures = json_object_get(r, "failures");
    ck_assert_uint_eq(json_array_size(failures), 2);
    ck_assert_str_eq(hlt_str(json_array_get(failures, 0), "profile"), "default");
    ck_assert_str_eq(hlt_str(json_array_get(failures, 0), "message"), "Hermes API Server returned HTTP 500: disk full");
    ck_assert_str_eq(hlt_str(json_array_get(failures, 1), "profile"), "broken");
    json_decref(r);
}
END_TEST

/* ---- answers without a job ---- */

/* A 2xx whose JSON has no "job" object where one is due: 502 hermes_cron_job_invalid (the canned answers of the fake's
 * POST /__fake/respond: its job store always sends one); a 2xx that is not a JSON object: 502 hermes_response_invalid. */
START_TEST(test_job_invalid)
{
    static const struct {
        const char *method, *upstream, *path, *body;
    } calls[] = {
        {"POST", "/api/jobs", "/api/v1/profiles/default/cron-jobs", "{\"name\":\"x\",\"schedule\":\"every 5m\"}"},
        {"GET", "/api/jobs/0123456789ab", "/api/v1/profiles/default/cron-jobs/0123456789ab", NULL},
        {"PATCH", "/api/jobs/0123456789ab", "/api/v1/profiles/default/cron-jobs/0123456789ab", "{\"name\":\"y\"}"},
        {"POST", "/api/jobs/0123456789ab/pause", "/api/v1/profiles/default/cron-jobs/0123456789ab/pause", NULL},
        {"POST", "/api/jobs/0123456789ab/run", "/api/v1/profiles/default/cron-jobs/0123456789ab/run", NULL},
    };
    static const char *const NO_JOB[] = {"{\"ok\":true}", "{\"job\":\"0123456789ab\"}", "{\"job\":[{\"id\":\"x\"}]}"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(calls); ++i) {
        for (size_t k = 0; k < HL_ARRAY_SIZE(NO_JOB); ++k) {
            hlt_fake_respond(&fake_a, calls[i].method, calls[i].upstream, 200, NO_JOB[k], 1);
            const char *m = error_message(HLT_H1, calls[i].method, calls[i].path, calls[i].body, 502, "hermes_cron_job_invalid");
            ck_assert_str_eq(m, "Hermes API Server returned no cron job object");
        }
        hlt_fake_respond(&fake_a, calls[i].method, calls[i].upstream, 200, "[{\"job\":{}}]", 1);
        error_message(HLT_H1, calls[i].method, calls[i].path, calls[i].body, 502, "hermes_response_invalid");
    }
    /* a job object is passed through as it came */
    hlt_fake_respond(&fake_a, "GET", "/api/jobs/0123456789ab", 200, "{\"job\":{\"id\":\"0123456789ab\",\"odd\":[1]}}", 1);
    json_t *r = hltc_call(D, HLT_H1, TOK, "GET", "/api/v1/profiles/default/cron-jobs/0123456789ab", NULL, 200);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(json_object_get(r, "job"), "odd"), 0)), 1);
    json_decref(r);
}
END_TEST

/* ---- the upstream down or refusing ---- */

START_TEST(test_upstream_down)
{
    write_profile("broken", closed_port(), "k");
#define BROKEN "/api/v1/profiles/broken/cron-jobs"
    static const struct {
        const char *method, *path, *body;
    } calls[] = {
        {"GET", BROKEN, NULL},
        {"POST", BROKEN, "{\"name\":\"x\",\"schedule\":\"every 5m\"}"},
        {"GET", BROKEN "/0123456789ab", NULL},
        {"PATCH", BROKEN "/0123456789ab", "{\"name\":\"y\"}"},
        {"DELETE", BROKEN "/0123456789ab", NULL},
        {"POST", BROKEN "/0123456789ab/run", NULL},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(calls); ++i) {
        long t0 = hlt_now_ms();
        const char *m = error_message(HLT_H1, calls[i].method, calls[i].path, calls[i].body, 503, "hermes_api_server_unavailable");
        long took = hlt_now_ms() - t0;
        ck_assert_str_eq(m, "Hermes API Server is unavailable");
        ck_assert_msg(took < 2500, "%s %s took %ld ms", calls[i].method, calls[i].path, took);
    }

    /* a wrong key: the upstream's 401 is a gateway error, with its message */
    write_profile("badkey", fake_b.port, "not-the-key");
    const char *m = error_message(HLT_H1, "GET", PREFIX("badkey"), NULL, 502, "hermes_response_invalid");
    ck_assert_msg(strncmp(m, "Hermes API Server returned HTTP 401: ", 37) == 0, "message: %s", m);
}
END_TEST

Suite *suite_cron(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("cron");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_checked_fixture(tc, reset_fakes, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_crud, 0, HL_ARRAY_SIZE(CRUD_PROTOS));
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_bad_ids);
    tcase_add_test(tc, test_list_all);
    tcase_add_test(tc, test_job_invalid);
    tcase_add_test(tc, test_upstream_down);
    suite_add_tcase(s, tc);
    return s;
}
