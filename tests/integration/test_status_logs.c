/*
 * GET /api/v1/status and GET /api/v1/logs (spec/API.md §5, spec/FLOWS.md §10, as the issue amends them): the status
 * fields (device counts as the device list has them, profiles.total = the profile directories in HERMES_HOME/profiles),
 * the daemon's own log as the link source, HERMES_HOME/logs/gateway.log as the gateway source (timestamps, levels,
 * timestampSource), oldest first, `limit` and `source`. Over HTTP/1.1, h2c (prior knowledge and Upgrade) and h2 over TLS.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "auth_util.h"
#include "hl/common.h"
#include "hl/control.h"

#define FILLER_LINES 1200
/* the mtime given to gateway.log: lines without a timestamp of their own get it */
#define GATEWAY_MTIME_S 1746515289LL /* 2025-05-06T07:08:09Z */
#define GATEWAY_MTIME_NS 123000000L

static hlt_env_t env_;
static hlt_daemon_t daemon_;
#define D (&daemon_)
#define P ((hlt_proto_t)_i)

static void mkdir_in(const char *root, const char *name)
{
    char *p = hl_asprintf("%s/%s", root, name);
    ck_assert(mkdir(p, 0700) == 0);
    free(p);
}

static void write_gateway_log(void)
{
    mkdir_in(env_.hermes_home, "logs");
    char *path = hl_asprintf("%s/logs/gateway.log", env_.hermes_home);
    size_t cap = FILLER_LINES * 32 + 1024, len = 0;
    char *text = hl_malloc(cap);
    for (int i = 0; i < FILLER_LINES; ++i)
        len += (size_t)snprintf(text + len, cap - len, "filler line %04d\n", i);
    snprintf(text + len, cap - len,
             "2026-03-04T05:06:07.089Z INFO gateway listening\n"
             "\n"
             "[2026-01-02 03:04:05] ERROR failed\n"
             "   WARNING: no timestamp here   \n");
    hlt_write_file(path, text);
    free(text);
    struct timespec times[2] = {{GATEWAY_MTIME_S, GATEWAY_MTIME_NS}, {GATEWAY_MTIME_S, GATEWAY_MTIME_NS}};
    ck_assert(utimensat(AT_FDCWD, path, times, 0) == 0);
    free(path);
}

static void setup(void)
{
    hlt_env_init(&env_);
    env_.log_level = "info";
    /* two profiles, one file that is none */
    mkdir_in(env_.hermes_home, "profiles");
    mkdir_in(env_.hermes_home, "profiles/work");
    mkdir_in(env_.hermes_home, "profiles/play");
    char *file = hl_asprintf("%s/profiles/notes.txt", env_.hermes_home);
    hlt_write_file(file, "not a profile\n");
    free(file);
    write_gateway_log();
    hlt_daemon_opts_t o = {.env = &env_, .tls = 1};
    hlt_daemon_start(&daemon_, &o);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "status/logs daemon");
    hlt_env_dispose(&env_);
}

static json_t *get_ok(hlt_proto_t proto, const char *path, const char *bearer)
{
    hlt_response_t res;
    hlt_api(D, proto, "GET", path, bearer, NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_header(&res, "cache-control", "no-store");
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

/* ---- status ---- */

static void assert_counts(hlt_proto_t proto, const char *bearer)
{
    json_t *status = get_ok(proto, "/api/v1/status", bearer);
    json_t *list = hlt_list_devices(D, proto, bearer);
    ck_assert_msg(json_equal(json_object_get(status, "devices"), json_object_get(list, "summary")),
                  "status devices %s, device list summary %s", json_dumps(json_object_get(status, "devices"), JSON_COMPACT),
                  json_dumps(json_object_get(list, "summary"), JSON_COMPACT));
    json_decref(list);
    json_decref(status);
}

START_TEST(test_status)
{
    hlt_device_t a, b;
    hlt_enroll(D, P, NULL, &a);
    hlt_enroll(D, P, NULL, &b);
    json_t *st = get_ok(P, "/api/v1/status", a.access);
    hlt_assert_keys(st, "status", "ok", "version", "paired", "link_id", "port", "link", "hermes", "gateway", "api_server",
                    "devices", "profiles", NULL);
    ck_assert_str_eq(hlt_str(st, "version"), HL_VERSION);
    ck_assert(json_is_true(json_object_get(st, "paired")));
    hlt_response_t boot;
    hlt_api(D, P, "GET", "/api/v1/bootstrap", NULL, NULL, &boot);
    ck_assert_int_eq(boot.status, 200);
    ck_assert_str_eq(hlt_str(st, "link_id"), hlt_str(boot.json, "link_id"));
    hlt_response_free(&boot);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "port")), D->port);
    json_t *want = json_pack("{s:s, s:s, s:b}", "state", "online", "version", HL_VERSION, "update_available", 0);
    ck_assert_msg(json_equal(json_object_get(st, "link"), want), "link %s", json_dumps(json_object_get(st, "link"), JSON_COMPACT));
    json_decref(want);
    want = json_pack("{s:n, s:b}", "local_version", "update_available", 0);
    ck_assert(json_equal(json_object_get(st, "hermes"), want));
    json_decref(want);
    want = json_pack("{s:s, s:n}", "state", "unknown", "issue");
    ck_assert(json_equal(json_object_get(st, "gateway"), want));
    ck_assert(json_equal(json_object_get(st, "api_server"), want));
    json_decref(want);
    want = json_pack("{s:i}", "total", 2);
    ck_assert_msg(json_equal(json_object_get(st, "profiles"), want), "profiles %s (two directories and a file)",
                  json_dumps(json_object_get(st, "profiles"), JSON_COMPACT));
    json_decref(want);
    json_t *devices = json_object_get(st, "devices");
    hlt_assert_keys(devices, "devices", "total", "active", "revoked", NULL);
    ck_assert_int_ge(json_integer_value(json_object_get(devices, "active")), 2);
    json_decref(st);
    assert_counts(P, a.access);

    /* the counts follow revocations and hiding at once */
    char *path = hl_asprintf("/api/v1/devices/%s", b.id);
    hlt_response_t res;
    hlt_api(D, P, "DELETE", path, a.access, NULL, &res);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    assert_counts(P, a.access);
    free(path);
    path = hl_asprintf("/api/v1/devices/%s/app-listing", b.id);
    hlt_api(D, P, "DELETE", path, a.access, NULL, &res);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    free(path);
    assert_counts(P, a.access);
    hlt_device_free(&b);
    hlt_device_free(&a);
}
END_TEST

/* ---- logs ---- */

static json_t *logs(hlt_proto_t proto, const char *query, const char *bearer, const char *source)
{
    char *path = hl_asprintf("/api/v1/logs%s", query);
    json_t *j = get_ok(proto, path, bearer);
    free(path);
    hlt_assert_keys(j, "logs answer", "ok", "source", "logs", NULL);
    ck_assert_str_eq(hlt_str(j, "source"), source);
    ck_assert(json_is_array(json_object_get(j, "logs")));
    return j;
}

static void assert_entries(json_t *entries, int gateway)
{
    size_t i;
    json_t *e;
    int64_t prev = 0;
    json_array_foreach(entries, i, e)
    {
        if (gateway || json_object_get(e, "fields") == NULL)
            hlt_assert_keys(e, "log entry", "ts", "level", "message", "timestampSource", NULL);
        else
            hlt_assert_keys(e, "log entry", "ts", "level", "message", "timestampSource", "fields", NULL);
        const char *level = hlt_str(e, "level");
        ck_assert_msg(strcmp(level, "debug") == 0 || strcmp(level, "info") == 0 || strcmp(level, "warn") == 0 ||
                          strcmp(level, "error") == 0,
                      "level %s", level);
        hlt_str(e, "message");
        int64_t ts = hlt_iso(e, "ts");
        if (!gateway) {
            ck_assert_str_eq(hlt_str(e, "timestampSource"), "structured");
            ck_assert_msg(ts >= prev, "link log entries are not oldest first at %zu", i);
            if (json_object_get(e, "fields") != NULL)
                ck_assert(json_is_object(json_object_get(e, "fields")));
        }
        prev = ts;
    }
}

START_TEST(test_logs_link)
{
    hlt_device_t a;
    hlt_enroll(D, P, NULL, &a);
    /* the logger writes from its own thread: allow it a moment */
    json_t *j = NULL;
    long deadline = hlt_now_ms() + 5000;
    for (;;) {
        j = logs(P, "", a.access, "link");
        char *text = json_dumps(j, JSON_COMPACT);
        int found = strstr(text, "Hermes Link started") != NULL;
        free(text);
        if (found || hlt_now_ms() > deadline)
            break;
        json_decref(j);
        hlt_sleep_ms(100);
    }
    json_t *entries = json_object_get(j, "logs");
    assert_entries(entries, 0);
    ck_assert_msg(json_array_size(entries) >= 1 && json_array_size(entries) <= 50, "%zu entries without a limit",
                  json_array_size(entries));
    int started = 0;
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) if (strcmp(hlt_str(e, "message"), "Hermes Link started") == 0)
    {
        started = 1;
        ck_assert_str_eq(hlt_str(e, "level"), "info");
    }
    ck_assert_msg(started, "no \"Hermes Link started\" entry in the link logs");
    json_decref(j);

    j = logs(P, "?source=link&limit=2", a.access, "link");
    ck_assert_int_eq(json_array_size(json_object_get(j, "logs")), 2);
    assert_entries(json_object_get(j, "logs"), 0);
    json_decref(j);
    /* any other source is the link log, echoed as given */
    j = logs(P, "?source=whatever&limit=1", a.access, "whatever");
    ck_assert_int_eq(json_array_size(json_object_get(j, "logs")), 1);
    assert_entries(json_object_get(j, "logs"), 0);
    json_decref(j);
    hlt_device_free(&a);
}
END_TEST

static const char *iso_of(int64_t ms, char *buf)
{
    return hlt_format_iso(ms, buf);
}

START_TEST(test_logs_gateway)
{
    hlt_device_t a;
    hlt_enroll(D, P, NULL, &a);
    json_t *j = logs(P, "?source=gateway&limit=3", a.access, "gateway");
    json_t *entries = json_object_get(j, "logs");
    assert_entries(entries, 1);
    ck_assert_msg(json_array_size(entries) == 3, "limit=3 gave %zu entries", json_array_size(entries));

    char buf[32];
    json_t *e = json_array_get(entries, 0);
    ck_assert_str_eq(hlt_str(e, "message"), "2026-03-04T05:06:07.089Z INFO gateway listening");
    ck_assert_str_eq(hlt_str(e, "ts"), "2026-03-04T05:06:07.089Z");
    ck_assert_str_eq(hlt_str(e, "level"), "info");
    ck_assert_str_eq(hlt_str(e, "timestampSource"), "embedded");

    e = json_array_get(entries, 1);
    ck_assert_str_eq(hlt_str(e, "message"), "[2026-01-02 03:04:05] ERROR failed");
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 0, .tm_mday = 2, .tm_hour = 3, .tm_min = 4, .tm_sec = 5, .tm_isdst = -1};
    ck_assert_str_eq(hlt_str(e, "ts"), iso_of((int64_t)mktime(&tm) * 1000, buf)); /* local time, as the daemon's */
    ck_assert_str_eq(hlt_str(e, "level"), "error");
    ck_assert_str_eq(hlt_str(e, "timestampSource"), "embedded");

    e = json_array_get(entries, 2);
    ck_assert_str_eq(hlt_str(e, "message"), "WARNING: no timestamp here");
    ck_assert_str_eq(hlt_str(e, "ts"), iso_of(GATEWAY_MTIME_S * 1000 + GATEWAY_MTIME_NS / 1000000, buf));
    ck_assert_str_eq(hlt_str(e, "level"), "warn");
    ck_assert_str_eq(hlt_str(e, "timestampSource"), "file_mtime");
    json_decref(j);

    /* limit: absent 50, unparsable 200, clamped to 1..1000; always the newest, oldest first */
    static const struct {
        const char *query;
        size_t count;
    } limits[] = {{"?source=gateway", 50},         {"?source=gateway&limit=abc", 200},   {"?source=gateway&limit=0", 1},
                  {"?source=gateway&limit=-4", 1}, {"?source=gateway&limit=5000", 1000}, {"?source=gateway&limit=1000", 1000},
                  {"?source=gateway&limit=7", 7}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(limits); ++i) {
        j = logs(P, limits[i].query, a.access, "gateway");
        entries = json_object_get(j, "logs");
        size_t n = json_array_size(entries);
        ck_assert_msg(n == limits[i].count, "%s: %zu entries, expected %zu", limits[i].query, n, limits[i].count);
        ck_assert_str_eq(hlt_str(json_array_get(entries, n - 1), "message"), "WARNING: no timestamp here");
        if (n > 3) {
            /* filler lines, in file order, before the three last ones */
            char want[32];
            snprintf(want, sizeof(want), "filler line %04zu", (size_t)FILLER_LINES - (n - 3));
            ck_assert_str_eq(hlt_str(json_array_get(entries, 0), "message"), want);
            e = json_array_get(entries, n - 4);
            ck_assert_str_eq(hlt_str(e, "message"), "filler line 1199");
            ck_assert_str_eq(hlt_str(e, "timestampSource"), "file_mtime");
            ck_assert_str_eq(hlt_str(e, "level"), "info");
        }
        json_decref(j);
    }
    hlt_device_free(&a);
}
END_TEST

/* control.sock's "memory" command, what bench/soak samples: the allocator's and SQLite's figures, and a release on demand
 * (the main thread also releases every 30 s, so the count only ever grows) */
/* obj[key], asserting an integer */
static json_int_t int_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static json_t *memory_command_at(const char *home, bool release)
{
    json_t *req = json_pack("{s:s, s:b}", "cmd", "memory", "release", release);
    json_t *r = hl_control_call(home, req, 15000);
    json_decref(req);
    ck_assert_msg(r != NULL && json_is_true(json_object_get(r, "ok")), "the memory command failed");
    return r;
}

static json_t *memory_command(bool release)
{
    return memory_command_at(env_.home, release);
}

/* the bytes the reply caches hold, from the memory report */
static json_int_t reply_cache_bytes(const char *home)
{
    json_t *m = memory_command_at(home, false);
    json_int_t n = int_at(json_object_get(m, "caches"), "reply_cache_bytes");
    json_decref(m);
    return n;
}

/* GET `path` (200 asserted); returns the length of its body */
static size_t get_len(const hlt_daemon_t *d, const char *path, const char *bearer)
{
    hlt_response_t res;
    hlt_api(d, HLT_H1, "GET", path, bearer, NULL, &res);
    hlt_assert_ok(&res);
    size_t n = res.body_len;
    hlt_response_free(&res);
    return n;
}

START_TEST(test_reply_cache_drops_dead_answers)
{
    /* one worker, so every request meets the same reply cache; the cache holds exactly the bodies it answered with, and
     * a write (the store's generation moves) makes the next kept answer drop every older one */
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"workers\":1}");
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.env = &env};
    hlt_daemon_start(&d, &o);
    hlt_device_t a;
    hlt_enroll(&d, HLT_H1, NULL, &a);
    for (int i = 0; i < 3; ++i) {
        hlt_response_t res;
        hlt_api(&d, HLT_H1, "POST", "/api/v1/conversations", a.access, "{\"title\":\"cache\"}", &res);
        ck_assert_int_eq(res.status, 201);
        hlt_response_free(&res);
    }
    ck_assert_int_eq(reply_cache_bytes(env.home), 0); /* nothing read yet */
    size_t all = get_len(&d, "/api/v1/conversations", a.access);
    ck_assert_int_eq(reply_cache_bytes(env.home), (json_int_t)all);
    size_t one = get_len(&d, "/api/v1/conversations?limit=1", a.access);
    ck_assert_int_eq(reply_cache_bytes(env.home), (json_int_t)(all + one)); /* two live answers */
    ck_assert_int_eq(get_len(&d, "/api/v1/conversations", a.access), all);  /* served from the cache: nothing added */
    ck_assert_int_eq(reply_cache_bytes(env.home), (json_int_t)(all + one));
    hlt_response_t res;
    hlt_api(&d, HLT_H1, "POST", "/api/v1/conversations", a.access, "{\"title\":\"write\"}", &res);
    ck_assert_int_eq(res.status, 201);
    hlt_response_free(&res);
    size_t after = get_len(&d, "/api/v1/conversations?limit=1", a.access);
    /* the answer read after the write replaced both older ones, which could never be served again */
    ck_assert_int_eq(reply_cache_bytes(env.home), (json_int_t)after);
    hlt_device_free(&a);
    hlt_daemon_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_memory_command)
{
    hlt_device_t a;
    hlt_enroll(D, HLT_H1, NULL, &a); /* a device: its access token is live */
    json_t *before = memory_command(false);
    json_t *mal = json_object_get(before, "malloc"), *sq = json_object_get(before, "sqlite");
    json_int_t rss = int_at(before, "rss_bytes"), anon = int_at(before, "rss_anon_bytes");
    json_int_t heap = int_at(mal, "heap_bytes"), in_use = int_at(mal, "in_use_bytes"), freed = int_at(mal, "free_bytes");
    ck_assert_msg(rss > 0 && anon > 0 && anon <= rss, "rss %lld, anon %lld", (long long)rss, (long long)anon);
    ck_assert_msg(heap > 0 && in_use > 0 && freed >= 0 && in_use + freed == heap, "heap %lld = in use %lld + free %lld",
                  (long long)heap, (long long)in_use, (long long)freed);
    ck_assert_int_ge(int_at(mal, "mmap_bytes"), 0);
    /* the daemon's connections (store, readers, auth, pairing, stats) hold SQLite memory */
    ck_assert_int_gt(int_at(sq, "used_bytes"), 0);
    ck_assert_int_ge(int_at(sq, "highwater_bytes"), int_at(sq, "used_bytes"));
    ck_assert_int_eq(int_at(sq, "soft_limit_bytes"), 8 * 1024 * 1024); /* the daemon's cap on SQLite's heap */
    json_t *caches = json_object_get(before, "caches");
    ck_assert_int_ge(int_at(caches, "sse_ring_bytes"), 0);
    ck_assert_int_ge(int_at(caches, "reply_cache_bytes"), 0);
    ck_assert_int_eq(int_at(caches, "relays"), 0); /* no run yet (agent_runs checks a relay's bytes) */
    ck_assert_int_eq(int_at(caches, "relay_bytes"), 0);
    ck_assert_int_ge(int_at(caches, "live_tokens"), 1);
    json_int_t releases = int_at(before, "releases");
    ck_assert_int_ge(releases, 0);
    json_t *after = memory_command(true);
    ck_assert_int_ge(int_at(after, "releases"), releases + 1);
    ck_assert_int_ge(int_at(after, "released_bytes"), int_at(before, "released_bytes"));
    json_decref(after);
    json_decref(before);
    hlt_device_free(&a);
}
END_TEST

Suite *suite_status_logs(void)
{
    Suite *s = suite_create("status_logs");
    TCase *tc = tcase_create("status_logs");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_status, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_logs_link, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_logs_gateway, 0, HLT_NUM_PROTOS);
    tcase_add_test(tc, test_memory_command);
    tcase_add_test(tc, test_reply_cache_drops_dead_answers);
    suite_add_tcase(s, tc);
    return s;
}
