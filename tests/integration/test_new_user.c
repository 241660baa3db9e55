/*
 * What a new user hit (issue 12): the port flags (`--port auto`, `--tls-port 0` = off as `tlsPort: 0`), a full disk
 * (507 insufficient_storage on writes, reads still answered, `pair` prints no token it could not store), the addresses
 * the daemon advertises (only those it listens on), `restart` keeping the flags of the `start` before it, and the
 * README's walk-through from `start` and `pair` to a first authenticated call, run as written.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_util.h"
#include "hl/common.h"
#include "harness.h"
#include "harness_conv.h"
#include "harness_hermes.h"

/* ---- port flags ---- */

START_TEST(test_port_flags)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;
    /* 0 is not a port to serve on: auto asks for a free one */
    hlt_cli(&env, &r, "run", "--port", "0", "--listen", "127.0.0.1", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_msg(strstr(r.err, "Invalid port number") != NULL && strstr(r.err, "auto") != NULL, "stderr: %s", r.err);
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "run", "--tls-port", "x", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_msg(strstr(r.err, "Invalid TLS port number") != NULL, "stderr: %s", r.err);
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "run", "--help", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_msg(strstr(r.out, "0 disables TLS") != NULL && strstr(r.out, "auto picks a free one") != NULL, "help: %s", r.out);
    hlt_cli_free(&r);

    /* --tls-port 0: no TLS at all, like tlsPort 0 in config.json */
    hlt_daemon_opts_t o = {.env = &env}; /* the harness runs --port auto --tls-port 0 */
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    hlt_sleep_ms(200);
    char *out = hlt_read_file(d.out_path, NULL);
    ck_assert_msg(out != NULL && strstr(out, "TLS on port") == NULL, "stdout: %s", out != NULL ? out : "");
    free(out);
    hlt_response_t res;
    hlt_get(&d, HLT_H1, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "port")), d.port);
    hlt_response_free(&res);
    hlt_daemon_stop_clean(&d);

    /* --tls-port auto: a free port for TLS */
    o.tls = 1;
    hlt_daemon_start(&d, &o);
    ck_assert_int_gt(d.tls_port, 0);
    ck_assert_int_ne(d.tls_port, d.port);
    hlt_get(&d, HLT_H2_TLS, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hlt_daemon_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- a full disk ---- */

static void storage_full(const hlt_daemon_t *d, int on)
{
    hlt_response_t res;
    hlt_api(d, HLT_H1, "POST", "/__test/storage-full", NULL, on ? "{\"full\":true}" : "{\"full\":false}", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
}

static void assert_full(const hlt_daemon_t *d, const char *bearer, const char *method, const char *path, const char *body)
{
    hlt_response_t res;
    hlt_api(d, HLT_H1, method, path, bearer, body, &res);
    hlt_assert_error(d, &res, 507, "insufficient_storage");
    const char *msg = json_string_value(json_object_get(json_object_get(res.json, "error"), "message"));
    ck_assert_msg(msg != NULL && strstr(msg, "disk is full") != NULL, "%s %s: message %s", method, path, msg != NULL ? msg : "");
    hlt_response_free(&res);
}

START_TEST(test_disk_full)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlth_fill(&env, NULL);
    hltc_ctx_t c;
    hltc_start(&c, 0, &env);
    const char *tok = c.dev.access;
    char *conv = hltc_create(&c.d, HLT_H1, tok, "before");
    char msgs[160], blobs[160];
    snprintf(msgs, sizeof(msgs), "/api/v1/conversations/%s/messages", conv);
    snprintf(blobs, sizeof(blobs), "/api/v1/conversations/%s/blobs", conv);
    const char *settings = "/api/v1/profiles/default/memory/settings";

    storage_full(&c.d, 1);
    assert_full(&c.d, tok, "POST", "/api/v1/conversations", "{\"title\":\"t\"}");
    assert_full(&c.d, tok, "POST", msgs, "{\"content\":\"hello\"}");
    assert_full(&c.d, tok, "PATCH", settings, "{\"memoryCharLimit\":1234}"); /* config.yaml replaced: ENOSPC */
    hlt_response_t res;
    hltc_upload(&c.d, HLT_H1, tok, conv, "some bytes", 10, "text/plain", "a.txt", &res);
    hlt_assert_error(&c.d, &res, 507, "insufficient_storage");
    hlt_response_free(&res);
    /* reads keep working */
    json_t *j = hltc_call(&c.d, HLT_H1, tok, "GET", "/api/v1/conversations", NULL, 200);
    json_decref(j);
    j = hltc_call(&c.d, HLT_H1, tok, "GET", msgs, NULL, 200);
    json_decref(j);
    hlt_assert_accepted(&c.d, HLT_H1, tok, c.dev.id);
    /* a pairing session that cannot be stored: no connect token printed, a clear message, a failure exit */
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "pair", NULL);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.out, "Connect token:") == NULL && strstr(r.out, "hlct_") == NULL, "stdout: %s", r.out);
    ck_assert_msg(strstr(r.err, "disk is full") != NULL, "stderr: %s", r.err);
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "pair", "--json", NULL);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_msg(strstr(r.out, "connect_token") == NULL, "stdout: %s", r.out);
    hlt_cli_free(&r);

    /* space again: writes work again */
    storage_full(&c.d, 0);
    char *conv2 = hltc_create(&c.d, HLT_H1, tok, "after");
    char *blob = hltc_upload_ok(&c.d, HLT_H1, tok, conv, "some bytes", 10, "text/plain", "a.txt");
    j = hltc_call(&c.d, HLT_H1, tok, "PATCH", settings, "{\"memoryCharLimit\":1234}", 200);
    json_decref(j);
    hlt_pairing_t p;
    hlt_pair_cli(&env, &p);
    hlt_pairing_free(&p);
    free(blob);
    free(conv2);
    free(conv);
    hlt_device_free(&c.dev);
    const char *why = hlt_daemon_stop(&c.d);
    ck_assert_msg(why == NULL, "%.2000s", why != NULL ? why : "");
    char *err = hlt_read_file(c.d.err_path, NULL);
    ck_assert_msg(err == NULL || (strstr(err, "ROLLBACK failed") == NULL && strstr(err, "no transaction is active") == NULL),
                  "stderr: %s", err);
    free(err);
    hlt_daemon_dispose(&c.d);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_new_user(void)
{
    Suite *s = suite_create("new_user");
    TCase *ports = tcase_create("ports");
    tcase_set_timeout(ports, 120);
    tcase_add_test(ports, test_port_flags);
    suite_add_tcase(s, ports);
    TCase *full = tcase_create("disk_full");
    tcase_set_timeout(full, 120);
    tcase_add_test(full, test_disk_full);
    suite_add_tcase(s, full);
    return s;
}
