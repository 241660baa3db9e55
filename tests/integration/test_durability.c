/*
 * Durability and recovery (GAPS.md §B.8, §B.24, §C.2, issue 4): kill -9 in the middle of a stream of sends, then every
 * message whose POST was answered 202 is there with its message.created event, every run has ended, and link.db passes
 * PRAGMA integrity_check; a run a crash left running before it reached Hermes fails at start-up with run.failed
 * (link_restarted) and the runs queued behind it start (runs that reached Hermes are reconciled: suite agent_runs);
 * clear and archive plans survive a restart and expire after an hour on the test clock.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_conv.h"
#include "hl/common.h"

/* Stops (SIGTERM, clean) or kills (-9) the daemon and starts it again on the same home; the device's tokens stay valid. */
static void restart(hltc_ctx_t *c, hlt_env_t *env, int kill9)
{
    if (kill9) {
        hltc_kill9(&c->d);
        hlt_daemon_dispose(&c->d);
    } else {
        hlt_assert_stop_clean(&c->d);
    }
    hlt_daemon_opts_t o = {.env = env, .tls = 1};
    hlt_daemon_start(&c->d, &o);
}

/* Kills the daemon with SIGKILL once the sender has had `after_sends` sends answered 202 (counted, not timed: the kill
 * lands mid-stream however fast or loaded the machine is), or after give_up_ms whatever the count. */
typedef struct st_killer_t {
    pid_t pid;
    size_t after_sends;
    long give_up_ms;
    size_t sent; /* written by the sender (atomic) */
} killer_t;

static void *killer_main(void *arg)
{
    killer_t *k = arg;
    long deadline = hlt_now_ms() + k->give_up_ms;
    while (__atomic_load_n(&k->sent, __ATOMIC_ACQUIRE) < k->after_sends && hlt_now_ms() < deadline)
        hlt_sleep_ms(1);
    kill(k->pid, SIGKILL);
    return NULL;
}

typedef struct st_sent_t {
    int conv;
    char *user, *assistant, *run;
} sent_t;

START_TEST(test_kill9_mid_stream)
{
    enum { CONVS = 3, MAX_SENDS = 800 };
    hlt_env_t env;
    hlt_env_init(&env);
    hltc_ctx_t c;
    hltc_start(&c, 1, &env);
    const char *tok = c.dev.access;
    char *convs[CONVS];
    for (int i = 0; i < CONVS; ++i)
        convs[i] = hltc_create(&c.d, HLT_H1, tok, hltc_fmt("durable %d", i));

    static sent_t sent[MAX_SENDS];
    size_t n_sent = 0;
    int answered_other = 0;
    killer_t k = {.pid = c.d.pid, .after_sends = 150, .give_up_ms = 60000};
    pthread_t kt;
    ck_assert(pthread_create(&kt, NULL, killer_main, &k) == 0);
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
    for (int i = 0; i < MAX_SENDS; ++i) {
        int ci = i % CONVS;
        char path[200], body[100];
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", convs[ci]);
        snprintf(body, sizeof(body), "{\"content\":\"durable message %d\"}", i);
        hlt_request_t req = {.method = "POST",
                             .path = path,
                             .headers = (const char *[]){auth, "Content-Type: application/json", NULL},
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = 20000};
        hlt_response_t res;
        hlt_request(&c.d, i % 2 ? HLT_H2C : HLT_H1, &req, &res);
        if (res.rc != CURLE_OK) {
            hlt_response_free(&res);
            break; /* the daemon is gone */
        }
        if (res.status == 202) {
            sent_t *s = &sent[n_sent++];
            s->conv = ci;
            s->user = hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "user_message"), "id")));
            s->assistant = hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "assistant_message"), "id")));
            s->run = hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "run"), "id")));
            __atomic_store_n(&k.sent, n_sent, __ATOMIC_RELEASE);
        } else {
            ++answered_other;
        }
        hlt_response_free(&res);
    }
    pthread_join(kt, NULL);
    ck_assert_msg(answered_other == 0, "%d sends were answered with something else than 202", answered_other);
    ck_assert_msg(n_sent >= 150, "only %zu sends answered before the kill (the killer gave up waiting after 60 s)", n_sent);
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "kill -9 after %zu sends answered 202\n", n_sent);
    hltc_kill9(&c.d);
    hltc_assert_integrity(&env, "after kill -9");

    hlt_daemon_dispose(&c.d);
    hlt_daemon_opts_t o = {.env = &env, .tls = 1};
    hlt_daemon_start(&c.d, &o);

    /* every answered send is there, with its events; every run has ended */
    for (int ci = 0; ci < CONVS; ++ci) {
        hltc_events_t *e = hltc_wait_runs_done(&c.d, tok, convs[ci], 20000);
        json_t *ids = hltc_all_messages(&c.d, tok, convs[ci]);
        for (size_t i = 0; i < n_sent; ++i) {
            if (sent[i].conv != ci)
                continue;
            ck_assert_msg(json_object_get(ids, sent[i].user) != NULL, "user message %s (answered 202) is gone", sent[i].user);
            ck_assert_msg(json_object_get(ids, sent[i].assistant) != NULL, "assistant message %s is gone", sent[i].assistant);
            ck_assert_msg(hltc_find(e, "message.created", "message_id", sent[i].user) >= 0, "no message.created for %s",
                          sent[i].user);
            ck_assert_msg(hltc_find(e, "message.created", "message_id", sent[i].assistant) >= 0, "no message.created for %s",
                          sent[i].assistant);
            ck_assert_msg(hltc_find(e, "run.failed", "run_id", sent[i].run) >= 0, "run %s has no run.failed", sent[i].run);
        }
        const char *mid;
        json_t *st;
        json_object_foreach(ids, mid, st)
        {
            const char *s = json_string_value(st);
            ck_assert_msg(strcmp(s, "queued") != 0 && strcmp(s, "streaming") != 0, "message %s is still %s after the restart", mid,
                          s);
        }
        /* the replay is gap-free */
        for (size_t i = 0; i < e->n; ++i)
            ck_assert_int_eq(e->v[i].id, (int64_t)i + 1);
        json_decref(ids);
        hltc_events_free(e);
        free(e);
    }
    hlt_assert_stop_clean(&c.d);
    hltc_assert_integrity(&env, "after the restart");
    void *db = hltc_db_open(&env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL), 0);
    hltc_db_close(db);
    for (size_t i = 0; i < n_sent; ++i) {
        free(sent[i].user);
        free(sent[i].assistant);
        free(sent[i].run);
    }
    for (int i = 0; i < CONVS; ++i)
        free(convs[i]);
    hlt_device_free(&c.dev);
    hlt_env_dispose(&env);
}
END_TEST

/* A run left running by a crash before it reached Hermes fails at start-up with link_restarted; the one queued behind it
 * starts; nothing stays open. */
START_TEST(test_recover_runs)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hltc_ctx_t c;
    hltc_start(&c, 1, &env);
    const char *tok = c.dev.access;
    char *id = hltc_create(&c.d, HLT_H1, tok, "recover");
    json_t *r1 = hltc_send(&c.d, HLT_H1, tok, id, "first");
    hltc_events_t *e = hltc_wait_runs_done(&c.d, tok, id, 10000);
    hltc_events_free(e);
    free(e);
    json_t *r2 = hltc_send(&c.d, HLT_H1, tok, id, "second");
    e = hltc_wait_runs_done(&c.d, tok, id, 10000);
    hltc_events_free(e);
    free(e);
    const char *run1 = hlt_str(json_object_get(r1, "run"), "id"), *run2 = hlt_str(json_object_get(r2, "run"), "id");
    const char *asst1 = hlt_str(json_object_get(r1, "assistant_message"), "id"),
               *user2 = hlt_str(json_object_get(r2, "user_message"), "id"),
               *asst2 = hlt_str(json_object_get(r2, "assistant_message"), "id");
    hlt_assert_stop_clean(&c.d);

    /* what a crash between the commit of a send and the end of its run leaves: run 1 running, run 2 queued behind it */
    void *db = hltc_db_open(&env, 1);
    hltc_db_exec(db, hltc_fmt("UPDATE runs SET status = 'running', completed_at = NULL, error_code = NULL, error_message = NULL "
                              "WHERE id = '%s'",
                              run1));
    hltc_db_exec(db, hltc_fmt("UPDATE runs SET status = 'queued', completed_at = NULL, error_code = NULL, error_message = NULL "
                              "WHERE id = '%s'",
                              run2));
    hltc_db_exec(db, hltc_fmt("UPDATE messages SET status = 'streaming' WHERE id = '%s'", asst1));
    hltc_db_exec(db, hltc_fmt("UPDATE messages SET status = 'queued' WHERE id IN ('%s', '%s')", user2, asst2));
    int64_t last = hltc_db_int(db, "SELECT last_event_seq FROM conversations WHERE id = ?1", id);
    hltc_db_close(db);

    hlt_daemon_opts_t o = {.env = &env, .tls = 1};
    hlt_daemon_start(&c.d, &o);
    e = hltc_wait_runs_done(&c.d, tok, id, 10000);
    /* run 1 never reached Hermes (no upstream run id): it fails (link_restarted); run 2, queued behind it, is not lost:
     * it starts then, and fails only because no Hermes answers in this test */
    const char *runs[2] = {run1, run2};
    const char *codes[2] = {"link_restarted", "hermes_api_server_unavailable"};
    for (int i = 0; i < 2; ++i) {
        long f = -1;
        for (size_t k = 0; k < e->n; ++k)
            if (strcmp(e->v[k].type, "run.failed") == 0 && strcmp(hlt_str(e->v[k].json, "run_id"), runs[i]) == 0)
                f = (long)k;
        ck_assert_msg(f >= 0 && e->v[f].id > last, "no run.failed after the restart for %s", runs[i]);
        json_t *payload = json_object_get(e->v[f].json, "payload");
        ck_assert_str_eq(hlt_str(json_object_get(payload, "error"), "code"), codes[i]);
        ck_assert_str_eq(hlt_str(json_object_get(payload, "run"), "status"), "failed");
    }
    int restarted_run2 = 0;
    for (size_t k = 0; k < e->n; ++k)
        restarted_run2 |=
            e->v[k].id > last && strcmp(e->v[k].type, "run.started") == 0 && strcmp(hlt_str(e->v[k].json, "run_id"), run2) == 0;
    ck_assert_msg(restarted_run2, "the queued run did not start after the restart");
    hltc_events_free(e);
    free(e);
    json_t *msgs = hltc_messages(&c.d, HLT_H1, tok, id);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(msgs, "messages"), i, m)
    {
        const char *st = hlt_str(m, "status");
        ck_assert_msg(strcmp(st, "queued") != 0 && strcmp(st, "streaming") != 0, "message %s is %s after recovery",
                      hlt_str(m, "id"), st);
    }
    json_decref(msgs);
    /* the conversation works again: a new send runs (and fails with the stub's code) */
    json_t *r3 = hltc_send(&c.d, HLT_H1, tok, id, "third");
    ck_assert_str_eq(hlt_str(json_object_get(r3, "run"), "status"), "running");
    e = hltc_wait_runs_done(&c.d, tok, id, 10000);
    long f = hltc_find(e, "run.failed", "run_id", hlt_str(json_object_get(r3, "run"), "id"));
    ck_assert(f >= 0);
    ck_assert_str_eq(hlt_str(json_object_get(json_object_get(e->v[f].json, "payload"), "error"), "code"),
                     "hermes_api_server_unavailable");
    hltc_events_free(e);
    free(e);
    json_decref(r3);

    /* a real kill -9 right after a burst of sends: afterwards every run has ended, with the stub's code or link_restarted */
    char *ids[4];
    for (int k = 0; k < 4; ++k)
        ids[k] = hltc_create(&c.d, HLT_H1, tok, hltc_fmt("burst %d", k));
    const char *paths[8], *bearers[8], *bodies[8];
    for (int k = 0; k < 8; ++k) {
        paths[k] = hltc_fmt("/api/v1/conversations/%s/messages", ids[k % 4]);
        bearers[k] = tok;
        bodies[k] = "{\"content\":\"burst\"}";
    }
    hlt_response_t res[8];
    hlt_parallel(&c.d, HLT_H2_TLS, 8, "POST", paths, bearers, bodies, res);
    hltc_kill9(&c.d);
    for (int k = 0; k < 8; ++k) {
        ck_assert_int_eq(res[k].status, 202);
        hlt_response_free(&res[k]);
    }
    hlt_daemon_dispose(&c.d);
    hlt_daemon_start(&c.d, &o);
    int restarted = 0;
    for (int k = 0; k < 4; ++k) {
        e = hltc_wait_runs_done(&c.d, tok, ids[k], 10000);
        for (size_t q = 0; q < e->n; ++q) {
            if (strcmp(e->v[q].type, "run.failed") != 0)
                continue;
            const char *code = hlt_str(json_object_get(json_object_get(e->v[q].json, "payload"), "error"), "code");
            ck_assert_msg(strcmp(code, "hermes_api_server_unavailable") == 0 || strcmp(code, "link_restarted") == 0, "code %s",
                          code);
            restarted += strcmp(code, "link_restarted") == 0;
        }
        ck_assert_int_eq(hltc_count_type(e, "run.failed"), 2);
        hltc_events_free(e);
        free(e);
        free(ids[k]);
    }
    if (getenv("HLT_VERBOSE") != NULL)
        fprintf(stderr, "kill -9 after a burst: %d runs failed with link_restarted\n", restarted);
    hlt_assert_stop_clean(&c.d);
    db = hltc_db_open(&env, 0);
    ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL), 0);
    hltc_db_close(db);
    json_decref(r1);
    json_decref(r2);
    free(id);
    hlt_device_free(&c.dev);
    hlt_env_dispose(&env);
}
END_TEST

/* Clear and archive plans are in link.db: they survive a restart, and expire an hour after their creation. */
START_TEST(test_plans_persist_and_expire)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hltc_ctx_t c;
    hltc_start(&c, 1, &env);
    const char *tok = c.dev.access;
    char *a = hltc_create(&c.d, HLT_H1, tok, "plan a"), *b = hltc_create(&c.d, HLT_H1, tok, "plan b");
    json_t *cp = hltc_call(&c.d, HLT_H1, tok, "POST", "/api/v1/conversations/clear-plans", NULL, 201);
    json_t *ap = hltc_call(&c.d, HLT_H1, tok, "POST", "/api/v1/conversations/archive-plans",
                           hltc_fmt("{\"exclude_conversation_ids\":[\"%s\"]}", b), 201);
    char *cid = hl_strdup(hlt_str(json_object_get(cp, "plan"), "id")), *aid = hl_strdup(hlt_str(json_object_get(ap, "plan"), "id"));
    char cget[200], aget[200], cexec[220], aexec[220];
    snprintf(cget, sizeof(cget), "/api/v1/conversations/clear-plans/%s", cid);
    snprintf(aget, sizeof(aget), "/api/v1/conversations/archive-plans/%s", aid);
    snprintf(cexec, sizeof(cexec), "%s/execute", cget);
    snprintf(aexec, sizeof(aexec), "%s/execute", aget);

    restart(&c, &env, 0);
    json_t *j = hltc_call(&c.d, HLT_H1, tok, "GET", cget, NULL, 200);
    ck_assert_msg(json_equal(json_object_get(j, "plan"), json_object_get(cp, "plan")), "clear plan after restart: %s",
                  json_dumps(j, JSON_COMPACT));
    json_decref(j);
    j = hltc_call(&c.d, HLT_H2_TLS, tok, "GET", aget, NULL, 200);
    ck_assert(json_equal(json_object_get(j, "plan"), json_object_get(ap, "plan")));
    json_decref(j);

    /* still there just before the hour */
    hlt_clock_advance(&c.d, 3600000 - 60000);
    json_decref(hltc_call(&c.d, HLT_H1, tok, "GET", cget, NULL, 200));
    json_decref(hltc_call(&c.d, HLT_H1, tok, "GET", aget, NULL, 200));
    /* gone after it, for GET and execute; nothing was touched */
    hlt_clock_advance(&c.d, 60001);
    hltc_call_error(&c.d, HLT_H1, tok, "GET", cget, NULL, 404, "plan_not_found");
    hltc_call_error(&c.d, HLT_H1, tok, "GET", aget, NULL, 404, "plan_not_found");
    hltc_call_error(&c.d, HLT_H1, tok, "POST", cexec, NULL, 404, "plan_not_found");
    hltc_call_error(&c.d, HLT_H2C, tok, "POST", aexec, NULL, 404, "plan_not_found");
    json_t *l = hltc_call(&c.d, HLT_H1, tok, "GET", "/api/v1/conversations?limit=100", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "conversations")), 2);
    json_decref(l);
    /* and after another restart too */
    restart(&c, &env, 1);
    hlt_clock_advance(&c.d, 3600001); /* the test clock starts at zero again in a new process */
    hltc_call_error(&c.d, HLT_H1, tok, "GET", cget, NULL, 404, "plan_not_found");
    /* a new plan works and executes */
    j = hltc_call(&c.d, HLT_H1, tok, "POST", "/api/v1/conversations/clear-plans", NULL, 201);
    const char *nid = hlt_str(json_object_get(j, "plan"), "id");
    json_t *x = hltc_call(&c.d, HLT_H1, tok, "POST", hltc_fmt("/api/v1/conversations/clear-plans/%s/execute", nid), NULL, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "plan"), "deleted_count")), 2);
    json_decref(x);
    json_decref(j);
    hlt_assert_stop_clean(&c.d);
    json_decref(cp);
    json_decref(ap);
    free(cid);
    free(aid);
    free(a);
    free(b);
    hlt_device_free(&c.dev);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_durability(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("durability");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kill9_mid_stream);
    tcase_add_test(tc, test_recover_runs);
    tcase_add_test(tc, test_plans_persist_and_expire);
    suite_add_tcase(s, tc);
    return s;
}
