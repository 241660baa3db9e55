/*
 * Statistics (spec/API.md §8; GAPS §B 11, §B 25) against the real binary and the fake upstream, on one daemon whose
 * answers are read over HTTP/1.1, h2c and h2 over TLS alike. Covered:
 *  - usage facts from real runs: conversation runs of "work" (one with a model override, one archived, one deleted) and
 *    of the default profile (no profile stored), and direct runs (POST /api/v1/runs) of both profiles, each with the
 *    usage the fake sent;
 *  - GET /api/v1/statistics/usage exactly: totals, 30 zero-filled days with today's sums, models (grouped by model or
 *    "unknown", ordered by tokens) and profiles, updated_at; the deleted conversation's run left out; `model` and
 *    `profile` filters, a filter matching nothing (no updated_at);
 *  - the range rules: days=0 → 1, days=99 → 30, days=abc → 30, an impossible date ignored, a future `to` capped at today,
 *    from after to → from = to, a span over 30 days cut to 30, a past leap-day range;
 *  - GET /api/v1/statistics exactly: total = active + archived, deleted on its own, sums without the deleted
 *    conversation, models from the facts, profiles from HERMES_HOME; `profile` filters (work, default, a missing one);
 *  - each run recorded once: one fact per run in link.db, also after a restart, and a fact lost while the daemon was
 *    down (deleted by hand) caught up at the next start;
 *  - 401 auth_required without a bearer, 400 invalid_statistics_filter for a filter over 256 bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/common.h"

#include "auth_util.h"
#include "fake_hermes.h"
#include "harness_conv.h"
#include "harness_hermes.h"

#define KEY HLTH_WORK_API_KEY
#define DAY_S 86400

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

static hlt_env_t env;
static hltc_ctx_t ctx;
static hlt_fake_t fake;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

/* The fixture's profiles, default and work pointing at the fake upstream, then a daemon with TLS and a device. */
static void start(void)
{
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
    static const char *const ARGS[] = {"--key", KEY, "--time-scale", "0.5", NULL};
    hlt_fake_start(&fake, env.dir, ARGS);
    const char *work_env = hlth_text("work", ".env");
    char port_line[64];
    snprintf(port_line, sizeof(port_line), "API_SERVER_PORT=%d\n", HLTH_WORK_API_PORT);
    const char *at = strstr(work_env, port_line);
    ck_assert_msg(at != NULL, "the fixture's work .env has no %s", port_line);
    char *text = hl_asprintf("%.*sAPI_SERVER_PORT=%d\n%s", (int)(at - work_env), work_env, fake.port, at + strlen(port_line));
    hlth_write(&env, "work", ".env", text);
    free(text);
    text = hl_asprintf("%sAPI_SERVER_HOST=127.0.0.1\nAPI_SERVER_PORT=%d\nAPI_SERVER_KEY=%s\n", hlth_text("default", ".env"),
                       fake.port, KEY);
    hlth_write(&env, "default", ".env", text);
    free(text);
    hltc_start(&ctx, 1, &env);
}

static void restart(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
}

/* ---- helpers ---- */

/* printf into one of 64 rotating buffers: the expectations of a whole check stay valid together. */
__attribute__((format(printf, 1, 2))) static const char *F(const char *fmt, ...)
{
    static char bufs[64][8192];
    static unsigned next;
    char *b = bufs[next++ % 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

#define ZERO_SUMS "\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0,\"message_count\":0,\"run_count\":0"

static char *date_of(long day)
{
    time_t t = (time_t)day * DAY_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[16];
    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
    return hl_strdup(buf);
}

static char *create(const char *body)
{
    json_t *j = hltc_call(D, HLT_H1, TOK, "POST", "/api/v1/conversations", body, 201);
    char *id = hl_strdup(hlt_str(json_object_get(j, "conversation"), "id"));
    json_decref(j);
    return id;
}

/* One message answered by the fake with this usage; waits for its run to end. */
static void exchange(const char *conv, int in, int out)
{
    json_decref(hltc_send(D, HLT_H1, TOK, conv, hltc_fmt("[[fake:stream;deltas=2;in=%d;out=%d]] hello", in, out)));
    hltc_events_t *e = hltc_wait_runs_done(D, TOK, conv, 20000);
    ck_assert_msg(hltc_find(e, "run.completed", NULL, NULL) >= 0, "conversation %s: no run.completed", conv);
    hltc_events_free(e);
    free(e);
}

/* POST /api/v1/runs of `profile` (NULL: none) with this usage; the upstream's run id (caller frees). */
static char *direct_run(const char *profile, int in, int out)
{
    json_t *b = json_pack("{s:s}", "input", hltc_fmt("[[fake:stream;deltas=2;in=%d;out=%d]] hi", in, out));
    if (profile != NULL)
        json_object_set_new(b, "profile", json_string(profile));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    hlt_response_t res;
    hlt_api(D, HLT_H1, "POST", "/api/v1/runs", TOK, body, &res);
    ck_assert_msg(res.status == 202, "POST /api/v1/runs: %ld %s", res.status, res.body);
    char *id = hl_strdup(hlt_str(res.json, "run_id"));
    hlt_response_free(&res);
    free(body);
    return id;
}

/* Asserts `got` equals the JSON text `want` (member order aside). */
static void json_is(json_t *got, const char *want, const char *what)
{
    json_error_t err;
    json_t *w = json_loads(want, 0, &err);
    ck_assert_msg(w != NULL, "%s: bad expectation: %s", what, err.text);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *e = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
        /* the first difference and what surrounds it (Check's messages are short) */
        size_t at = 0;
        while (g[at] != '\0' && g[at] == e[at])
            ++at;
        size_t from = at > 200 ? at - 200 : 0;
        ck_abort_msg("%s: differs at %zu:\n got  …%.400s\n want …%.400s", what, at, g + from, e + from);
    }
    json_decref(w);
}

/* GET path over `p`: the member `key` of the answer (new reference). */
static json_t *get(hlt_proto_t p, const char *path, const char *key)
{
    json_t *j = hltc_call(D, p, TOK, "GET", path, NULL, 200);
    json_t *v = json_incref(json_object_get(j, key));
    ck_assert_msg(v != NULL, "GET %s: no %s", path, key);
    json_decref(j);
    return v;
}

/* "input_tokens":in,… with the total computed. */
static const char *sums(long in, long out, long msgs, long runs)
{
    return F("\"input_tokens\":%ld,\"output_tokens\":%ld,\"total_tokens\":%ld,\"message_count\":%ld,\"run_count\":%ld", in, out,
             in + out, msgs, runs);
}

/* The expected usage answer: range, totals, `days` days ending at to_day with today's sums on `today` (when in range),
 * models and profiles as given. */
static char *usage_json(long from_day, long to_day, long today, const char *today_sums, const char *totals, const char *models,
                        const char *profiles)
{
    char *from = date_of(from_day), *to = date_of(to_day);
    long days = to_day - from_day + 1;
    size_t cap = 256 + (size_t)days * 160;
    char *daily = hl_malloc(cap);
    size_t n = 0;
    daily[0] = '\0';
    for (long d = from_day; d <= to_day; ++d) {
        char *date = date_of(d);
        n += (size_t)snprintf(daily + n, cap - n, "%s{\"date\":\"%s\",%s}", d == from_day ? "" : ",", date,
                              d == today ? today_sums : ZERO_SUMS);
        free(date);
    }
    char *out = hl_asprintf("{\"range\":{\"from\":\"%s\",\"to\":\"%s\",\"days\":%ld},\"totals\":{%s},\"daily\":[%s],\"models\":%s,"
                            "\"profiles\":%s}",
                            from, to, days, totals, daily, models, profiles);
    free(from);
    free(to);
    free(daily);
    return out;
}

/* GET /api/v1/statistics/usage?query over `p`, updated_at checked (present and an ISO time, or absent) and removed. */
static json_t *usage(hlt_proto_t p, const char *query, int has_rows)
{
    json_t *u = get(p, hltc_fmt("/api/v1/statistics/usage%s%s", query[0] ? "?" : "", query), "usage");
    json_t *at = json_object_get(u, "updated_at");
    if (has_rows)
        ck_assert_msg(json_is_string(at) && strlen(json_string_value(at)) == 24, "usage?%s: updated_at", query);
    else
        ck_assert_msg(at == NULL, "usage?%s: updated_at without rows", query);
    json_object_del(u, "updated_at");
    return u;
}

static void usage_is(hlt_proto_t p, const char *query, int has_rows, const char *want)
{
    json_t *u = usage(p, query, has_rows);
    json_is(u, want, hltc_fmt("usage?%s over %s", query, hlt_proto_name(p)));
    json_decref(u);
}

static const char *stats_json(int active, int archived, int deleted, long in, long out, int msgs, int runs, int models,
                              int profiles)
{
    return F("{\"conversations\":{\"total\":%d,\"active\":%d,\"archived\":%d,\"deleted\":%d},\"tokens\":{\"input_tokens\":%ld,"
             "\"output_tokens\":%ld,\"total_tokens\":%ld},\"messages\":{\"total\":%d},\"runs\":{\"total\":%d},"
             "\"models\":{\"total\":%d},\"skills\":{\"total\":0},\"tools\":{\"total\":0},\"profiles\":{\"total\":%d}}",
             active + archived, active, archived, deleted, in, out, in + out, msgs, runs, models, profiles);
}

/* Waits until the usage facts hold `n` runs (the direct runs' ends reach the store on their own time). */
static void wait_facts(long n)
{
    long deadline = hlt_now_ms() + 10000, got = -1;
    while (hlt_now_ms() < deadline) {
        void *db = hltc_db_open(&env, 0);
        got = hltc_db_int(db, "SELECT count(*) FROM run_usage_facts WHERE ?1 IS NOT NULL", "x");
        hltc_db_close(db);
        if (got == n)
            return;
        hlt_sleep_ms(50);
    }
    ck_abort_msg("usage facts: %ld, expected %ld", got, n);
}

/* ---- the test ---- */

/* Every answer over every protocol, for the data the test made. */
static void check_answers(long today)
{
    char *future = date_of(today + 5), *yesterday = date_of(today - 1), *long_ago = date_of(today - 40), *t = date_of(today);
    const char *all_sums = sums(145, 65, 8, 6);
    const char *totals = F("%s,\"conversation_count\":3,\"model_count\":1", all_sums);
    const char *models = F("[{\"model\":\"gpt-x\",%s},{\"model\":\"unknown\",%s}]", sums(107, 45, 4, 2), sums(38, 20, 4, 4));
    const char *profiles = F("[{\"profile\":\"work\",%s},{\"profile\":\"default\",%s}]", sums(120, 52, 6, 4), sums(25, 13, 2, 2));
    char *whole = usage_json(today - 29, today, today, all_sums, totals, models, profiles);
    char *one_day = usage_json(today, today, today, all_sums, totals, models, profiles);
    char *week = usage_json(today - 6, today, today, all_sums, totals, models, profiles);
    const char *zero_totals = F("%s,\"conversation_count\":0,\"model_count\":0", sums(0, 0, 0, 0));
    char *y_only = usage_json(today - 1, today - 1, today, ZERO_SUMS, zero_totals, "[]", "[]");
    char *leap = usage_json(19782, 19783, today, ZERO_SUMS, zero_totals, "[]", "[]"); /* 2024-02-29 .. 2024-03-01 */
    char *gpt = usage_json(
        today - 29, today, today, sums(107, 45, 4, 2), F("%s,\"conversation_count\":1,\"model_count\":1", sums(107, 45, 4, 2)),
        F("[{\"model\":\"gpt-x\",%s}]", sums(107, 45, 4, 2)), F("[{\"profile\":\"work\",%s}]", sums(107, 45, 4, 2)));
    char *def = usage_json(
        today - 29, today, today, sums(25, 13, 2, 2), F("%s,\"conversation_count\":1,\"model_count\":0", sums(25, 13, 2, 2)),
        F("[{\"model\":\"unknown\",%s}]", sums(25, 13, 2, 2)), F("[{\"profile\":\"default\",%s}]", sums(25, 13, 2, 2)));
    char *none = usage_json(today - 29, today, today, sums(0, 0, 0, 0), zero_totals, "[]", "[]");
    for (size_t i = 0; i < HL_ARRAY_SIZE(PROTOS); ++i) {
        hlt_proto_t p = PROTOS[i];
        usage_is(p, "", 1, whole);
        usage_is(p, "days=30", 1, whole);
        usage_is(p, "days=99", 1, whole);
        usage_is(p, "days=abc", 1, whole);
        usage_is(p, "days=0", 1, one_day);
        usage_is(p, "days=-3", 1, one_day);
        usage_is(p, "days=7", 1, week);
        usage_is(p, "days=7days", 1, week);
        usage_is(p, hltc_fmt("days=7&to=%s", future), 1, week);
        usage_is(p, "from=2026-02-30&days=7", 1, week);
        usage_is(p, "from=2026-13-01&to=2026-00-10&days=7", 1, week);
        usage_is(p, hltc_fmt("from=%s&to=%s", long_ago, t), 1, whole);
        usage_is(p, hltc_fmt("to=%s&days=1", yesterday), 0, y_only);
        usage_is(p, hltc_fmt("from=%s&to=%s", t, yesterday), 0, y_only);
        usage_is(p, "from=2024-02-29&to=2024-03-01", 0, leap);
        usage_is(p, "model=gpt-x", 1, gpt);
        usage_is(p, "profile=default", 1, def);
        usage_is(p, "model=gpt-x&profile=default", 0, none);
        usage_is(p, "model=unknown", 0, none);
        usage_is(p, "profile=", 1, whole);

        json_t *s = get(p, "/api/v1/statistics", "statistics");
        json_is(s, stats_json(2, 1, 1, 137, 59, 8, 4, 1, 3), hltc_fmt("statistics over %s", hlt_proto_name(p)));
        json_decref(s);
        s = get(p, "/api/v1/statistics?profile=work", "statistics");
        json_is(s, stats_json(1, 1, 1, 117, 50, 6, 3, 1, 1), "statistics of work");
        json_decref(s);
        s = get(p, "/api/v1/statistics?profile=default&profile_uid=whatever", "statistics");
        json_is(s, stats_json(1, 0, 0, 20, 9, 2, 1, 0, 1), "statistics of default");
        json_decref(s);
        s = get(p, "/api/v1/statistics?profile=ghost", "statistics");
        json_is(s, stats_json(0, 0, 0, 0, 0, 0, 0, 0, 0), "statistics of a missing profile");
        json_decref(s);

        char long_name[300];
        memset(long_name, 'a', 257);
        long_name[257] = '\0';
        hltc_call_error(D, p, TOK, "GET", hltc_fmt("/api/v1/statistics?profile=%s", long_name), NULL, 400,
                        "invalid_statistics_filter");
        hltc_call_error(D, p, TOK, "GET", hltc_fmt("/api/v1/statistics/usage?model=%s", long_name), NULL, 400,
                        "invalid_statistics_filter");
        hltc_call_error(D, p, NULL, "GET", "/api/v1/statistics", NULL, 401, "auth_required");
        hltc_call_error(D, p, NULL, "GET", "/api/v1/statistics/usage", NULL, 401, "auth_required");
    }
    free(future);
    free(yesterday);
    free(long_ago);
    free(t);
    free(whole);
    free(one_day);
    free(week);
    free(y_only);
    free(leap);
    free(gpt);
    free(def);
    free(none);
}

START_TEST(test_statistics)
{
    start();
    long today = (long)(time(NULL) / DAY_S);
    /* nothing yet */
    json_t *s = get(HLT_H1, "/api/v1/statistics", "statistics");
    json_is(s, stats_json(0, 0, 0, 0, 0, 0, 0, 0, 3), "statistics before anything");
    json_decref(s);
    char *empty = usage_json(today, today, today, ZERO_SUMS, ZERO_SUMS ",\"conversation_count\":0,\"model_count\":0", "[]", "[]");
    usage_is(HLT_H1, "days=1", 0, empty);
    free(empty);
    /* work: one conversation with a model override and two runs, one archived, one deleted; default: one without a profile */
    char *w_model = create("{\"title\":\"w model\",\"profile\":\"work\"}");
    json_decref(
        hltc_call(D, HLT_H1, TOK, "PATCH", hltc_fmt("/api/v1/conversations/%s/model", w_model), "{\"model_id\":\"gpt-x\"}", 200));
    char *w_archived = create("{\"title\":\"w archived\",\"profile\":\"work\"}");
    char *w_deleted = create("{\"title\":\"w deleted\",\"profile\":\"work\"}");
    char *d_none = create("{\"title\":\"no profile\"}");
    exchange(w_model, 100, 42);
    exchange(w_model, 7, 3);
    exchange(w_archived, 10, 5);
    exchange(w_deleted, 1, 2);
    exchange(d_none, 20, 9);
    json_decref(hltc_call(D, HLT_H1, TOK, "POST", hltc_fmt("/api/v1/conversations/%s/archive", w_archived), NULL, 200));
    json_decref(hltc_call(D, HLT_H1, TOK, "DELETE", hltc_fmt("/api/v1/conversations/%s", w_deleted), NULL, 200));
    /* direct runs (no conversation): one of the default profile, one of work */
    char *r1 = direct_run(NULL, 5, 4), *r2 = direct_run("work", 3, 2);
    wait_facts(7);
    check_answers(today);

    /* once per run: one row each; a restart changes nothing, and a fact lost while the daemon was down comes back */
    void *db = hltc_db_open(&env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(DISTINCT run_id) FROM run_usage_facts WHERE ?1 IS NOT NULL", "x"), 7);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM run_usage_facts WHERE direct = 1 AND run_id = ?1", r1), 1);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM run_usage_facts WHERE conversation_id = ?1", w_model), 2);
    hltc_db_close(db);
    restart();
    db = hltc_db_open(&env, 1);
    hltc_db_exec(db, hltc_fmt("DELETE FROM run_usage_facts WHERE direct = 1 AND run_id = '%s'", r2));
    hltc_db_close(db);
    hltc_start(&ctx, 1, &env);
    wait_facts(7);
    check_answers(today);
    free(w_model);
    free(w_archived);
    free(w_deleted);
    free(d_none);
    free(r1);
    free(r2);
    restart();
    const char *err = hlt_fake_stop(&fake);
    ck_assert_msg(err == NULL, "fake upstream: %s", err);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_statistics(void)
{
    Suite *s = suite_create("statistics");
    TCase *tc = tcase_create("statistics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_statistics);
    suite_add_tcase(s, tc);
    return s;
}
