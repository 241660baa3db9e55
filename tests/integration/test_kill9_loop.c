/*
 * kill -9 at many moments (issue 14): each round, three clients work at once — one sends messages, one renames a
 * conversation, one uploads blobs — and the daemon is killed with SIGKILL after a number of answered requests that
 * changes from round to round (a fixed seed, so a failing round can be replayed), then started again on the same home.
 * After every restart: link.db passes PRAGMA integrity_check; every send answered 202 in any round is there (user and
 * assistant message); the conversation's title is the last rename answered 200 or the one in flight at the kill; every
 * upload answered 201 reads back byte for byte; no message stays queued or streaming and no run stays queued or running
 * (each ends run.failed, as nothing reached Hermes); each conversation's event replay is gap-free from 1.
 * HLT_KILL_ROUNDS sets the rounds (default 10 in make test; `make soak` runs 50).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_conv.h"
#include "hl/common.h"
#include "hl/ids.h"

#define MAX_ACKED 4096

typedef struct st_client_t {
    const hlt_daemon_t *d;
    const char *tok, *conv;
    int round;
    volatile int stop;      /* set by the test once the daemon is gone */
    size_t answered;        /* requests answered as asked (atomic), read by the killer */
    char *acked[MAX_ACKED]; /* sends: user message ids; uploads: "<blob id> <sha256 hex>" */
    size_t n_acked;
    char last_title[96], inflight_title[96]; /* renames */
} client_t;

static void *sender(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !cl->stop && cl->n_acked < MAX_ACKED; ++i) {
        hlt_response_t res;
        char body[120];
        snprintf(body, sizeof(body), "{\"content\":\"round %d message %d\"}", cl->round, i);
        char auth[512], path[200];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->tok);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", cl->conv);
        hlt_request_t req = {.method = "POST",
                             .path = path,
                             .headers = (const char *[]){auth, "Content-Type: application/json", NULL},
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = 20000};
        hlt_request(cl->d, i % 2 ? HLT_H2C : HLT_H1, &req, &res);
        int ok = res.rc == CURLE_OK && res.status == 202;
        if (ok)
            cl->acked[cl->n_acked++] =
                hl_strdup(json_string_value(json_object_get(json_object_get(res.json, "user_message"), "id")));
        hlt_response_free(&res);
        if (!ok)
            break; /* the daemon is gone */
        __atomic_add_fetch(&cl->answered, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *renamer(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !cl->stop; ++i) {
        snprintf(cl->inflight_title, sizeof(cl->inflight_title), "round %d title %d", cl->round, i);
        char body[140];
        snprintf(body, sizeof(body), "{\"title\":\"%s\"}", cl->inflight_title);
        char auth[512], path[200];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->tok);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/title", cl->conv);
        hlt_request_t req = {.method = "PATCH",
                             .path = path,
                             .headers = (const char *[]){auth, "Content-Type: application/json", NULL},
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = 20000};
        hlt_response_t res;
        hlt_request(cl->d, HLT_H1, &req, &res);
        int ok = res.rc == CURLE_OK && res.status == 200;
        hlt_response_free(&res);
        if (!ok)
            break;
        memcpy(cl->last_title, cl->inflight_title, sizeof(cl->last_title));
        __atomic_add_fetch(&cl->answered, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *uploader(void *arg)
{
    client_t *cl = arg;
    for (int i = 0; !cl->stop && cl->n_acked < MAX_ACKED; ++i) {
        char data[3000];
        int n = snprintf(data, sizeof(data), "round %d blob %d ", cl->round, i);
        for (size_t k = (size_t)n; k < sizeof(data); ++k)
            data[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
        char auth[512], path[200];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->tok);
        snprintf(path, sizeof(path), "/api/v1/conversations/%s/blobs", cl->conv);
        const char *hdrs[] = {auth, "Content-Type: text/plain", "Content-Disposition: attachment; filename=\"part.txt\"", NULL};
        hlt_request_t req = {.method = "POST",
                             .path = path,
                             .headers = hdrs,
                             .body = data,
                             .body_len = sizeof(data),
                             .has_body = 1,
                             .timeout_ms = 20000};
        hlt_response_t res; /* (hlt_request: no assertion off the test's thread) */
        hlt_request(cl->d, HLT_H1, &req, &res);
        int ok = res.rc == CURLE_OK && res.status == 201;
        if (ok) {
            char hex[65];
            hl_sha256_hex(data, sizeof(data), hex);
            const char *id = json_string_value(json_object_get(json_object_get(res.json, "blob"), "id"));
            cl->acked[cl->n_acked++] = hl_asprintf("%s %s", id != NULL ? id : "?", hex);
        }
        hlt_response_free(&res);
        if (!ok)
            break;
        __atomic_add_fetch(&cl->answered, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

START_TEST(kill9_rounds)
{
    const char *env_rounds = getenv("HLT_KILL_ROUNDS");
    int rounds = env_rounds != NULL ? atoi(env_rounds) : 10;
    ck_assert_int_gt(rounds, 0);
    hlt_env_t env;
    hlt_env_init(&env);
    hltc_ctx_t c;
    hltc_start(&c, 0, &env);
    const char *tok = c.dev.access;
    char *talk = hltc_create(&c.d, HLT_H1, tok, "kill loop messages");
    char *named = hltc_create(&c.d, HLT_H1, tok, "kill loop title");
    char *files = hltc_create(&c.d, HLT_H1, tok, "kill loop blobs");
    client_t send_cl = {.conv = talk}, name_cl = {.conv = named}, blob_cl = {.conv = files};
    unsigned seed = 20261204;
    for (int round = 0; round < rounds; ++round) {
        client_t *cls[] = {&send_cl, &name_cl, &blob_cl};
        void *(*fns[])(void *) = {sender, renamer, uploader};
        pthread_t th[3];
        for (int k = 0; k < 3; ++k) {
            cls[k]->d = &c.d;
            cls[k]->tok = tok;
            cls[k]->round = round;
            cls[k]->stop = 0;
            __atomic_store_n(&cls[k]->answered, 0, __ATOMIC_RELEASE);
            ck_assert(pthread_create(&th[k], NULL, fns[k], cls[k]) == 0);
        }
        /* the moment: after 5 to 84 answered requests of all three clients (counted, not timed) */
        size_t after = 5 + (size_t)(rand_r(&seed) % 80);
        long deadline = hlt_now_ms() + 60000;
        while (__atomic_load_n(&send_cl.answered, __ATOMIC_ACQUIRE) + __atomic_load_n(&name_cl.answered, __ATOMIC_ACQUIRE) +
                       __atomic_load_n(&blob_cl.answered, __ATOMIC_ACQUIRE) <
                   after &&
               hlt_now_ms() < deadline)
            hlt_sleep_ms(1);
        hltc_kill9(&c.d);
        for (int k = 0; k < 3; ++k) {
            cls[k]->stop = 1;
            pthread_join(th[k], NULL);
        }
        hltc_assert_integrity(&env, hltc_fmt("after the kill of round %d", round));
        hlt_daemon_dispose(&c.d);
        hlt_daemon_opts_t o = {.env = &env};
        hlt_daemon_start(&c.d, &o);

        /* every answered send of every round is there; nothing stays queued or streaming; the replay is gap-free */
        hltc_events_t *e = hltc_wait_runs_done(&c.d, tok, talk, 30000);
        json_t *ids = hltc_all_messages(&c.d, tok, talk);
        for (size_t i = 0; i < send_cl.n_acked; ++i)
            ck_assert_msg(json_object_get(ids, send_cl.acked[i]) != NULL, "round %d: message %s (answered 202) is gone", round,
                          send_cl.acked[i]);
        const char *mid;
        json_t *st;
        json_object_foreach(ids, mid, st)
        {
            const char *s = json_string_value(st);
            ck_assert_msg(strcmp(s, "queued") != 0 && strcmp(s, "streaming") != 0, "round %d: message %s is still %s", round, mid,
                          s);
        }
        for (size_t i = 0; i < e->n; ++i)
            ck_assert_msg(e->v[i].id == (int64_t)i + 1, "round %d: event %zu has id %lld", round, i, (long long)e->v[i].id);
        json_decref(ids);
        hltc_events_free(e);
        free(e);

        /* the title: the last rename answered, or the one the kill interrupted (committed or not) */
        json_t *j = hltc_call(&c.d, HLT_H1, tok, "GET", "/api/v1/conversations?limit=100", NULL, 200);
        const char *title = NULL;
        size_t i;
        json_t *conv;
        json_array_foreach(json_object_get(j, "conversations"), i, conv) if (strcmp(hlt_str(conv, "id"), named) == 0) title =
            hlt_str(conv, "title");
        ck_assert_msg(title != NULL, "round %d: the renamed conversation is gone", round);
        if (name_cl.last_title[0] != '\0')
            ck_assert_msg(strcmp(title, name_cl.last_title) == 0 || strcmp(title, name_cl.inflight_title) == 0,
                          "round %d: title \"%s\", last answered \"%s\", in flight \"%s\"", round, title, name_cl.last_title,
                          name_cl.inflight_title);
        snprintf(name_cl.last_title, sizeof(name_cl.last_title), "%s", title); /* what the next round starts from */
        json_decref(j);

        /* every answered upload reads back byte for byte */
        for (size_t b = 0; b < blob_cl.n_acked; ++b) {
            char id[80], want[65];
            ck_assert_int_eq(sscanf(blob_cl.acked[b], "%79s %64s", id, want), 2);
            hlt_response_t res;
            hlt_api(&c.d, HLT_H1, "GET", hltc_fmt("/api/v1/conversations/%s/blobs/%s", files, id), tok, NULL, &res);
            ck_assert_msg(res.status == 200, "round %d: blob %s (answered 201): %ld", round, id, res.status);
            char got[65];
            hl_sha256_hex(res.body, res.body_len, got);
            ck_assert_msg(strcmp(got, want) == 0, "round %d: blob %s reads back different bytes", round, id);
            hlt_response_free(&res);
        }
        void *db = hltc_db_open(&env, 0);
        ck_assert_int_eq(hltc_db_int(db, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')", NULL), 0);
        hltc_db_close(db);
        if (getenv("HLT_VERBOSE") != NULL)
            fprintf(stderr, "kill9 round %d: killed after %zu answers; %zu sends, %zu uploads kept so far\n", round, after,
                    send_cl.n_acked, blob_cl.n_acked);
    }
    hlt_assert_stop_clean(&c.d);
    hltc_assert_integrity(&env, "after the last clean stop");
    client_t *all[] = {&send_cl, &blob_cl};
    for (int k = 0; k < 2; ++k)
        for (size_t i = 0; i < all[k]->n_acked; ++i)
            free(all[k]->acked[i]);
    free(talk);
    free(named);
    free(files);
    hlt_device_free(&c.dev);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_kill9_loop(void)
{
    Suite *s = suite_create("kill9_loop");
    TCase *tc = tcase_create("kill9_loop");
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, kill9_rounds);
    suite_add_tcase(s, tc);
    return s;
}
