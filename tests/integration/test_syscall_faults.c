/*
 * Faults at the syscall edge (issue 14), injected by the preloaded shim (tests/fault_shim: LD_PRELOAD, switched on and
 * off through a file while the daemon runs): fsync/fdatasync failing with EIO and writes to files failing with ENOSPC.
 * While a fault is on, a write route answers a clear JSON error (5xx, never a crash or a hang) and reads keep working;
 * once it is off, writes work again, link.db passes PRAGMA integrity_check, and nothing half-done is visible: a message
 * or blob refused during the fault is not there, every one accepted is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_util.h"
#include "harness_conv.h"
#include "hl/common.h"

static void set_fault(const char *path, const char *what)
{
    hlt_write_file(path, what);
}

/* a send: its status (the response is checked to be a JSON error when it is no 202); the user message id when 202 */
static long send_text(hltc_ctx_t *c, const char *conv, const char *text, char **id)
{
    char body[200];
    snprintf(body, sizeof(body), "{\"content\":\"%s\"}", text);
    hlt_response_t res;
    hlt_api(&c->d, HLT_H1, "POST", hltc_fmt("/api/v1/conversations/%s/messages", conv), c->dev.access, body, &res);
    long status = res.status;
    *id = NULL;
    if (status == 202) {
        *id = hl_strdup(hlt_str(json_object_get(res.json, "user_message"), "id"));
    } else {
        ck_assert_msg(status >= 500 && res.json != NULL && json_is_false(json_object_get(res.json, "ok")) &&
                          json_is_string(json_object_get(json_object_get(res.json, "error"), "code")),
                      "a send during the fault: %ld %s", status, res.body);
    }
    hlt_response_free(&res);
    return status;
}

static void run_fault(const char *fault)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *file = hlt_env_path(&env, 0, "faults");
    set_fault(file, "");
    char *pre = hl_asprintf("LD_PRELOAD=%s", HL_FAULT_SHIM), *ff = hl_asprintf("HLT_FAULT_FILE=%s", file);
    const char *extra[] = {pre, ff, NULL};
    hltc_ctx_t c;
    memset(&c, 0, sizeof(c));
    hlt_daemon_opts_t o = {.env = &env, .extra_env = extra};
    hlt_daemon_start(&c.d, &o);
    hlt_enroll(&c.d, HLT_H1, NULL, &c.dev);
    char *conv = hltc_create(&c.d, HLT_H1, c.dev.access, "faults");
    char *before;
    ck_assert_int_eq(send_text(&c, conv, "before the fault", &before), 202);

    set_fault(file, fault);
    /* writes fail cleanly (a few tries: the first may still commit if the disk had nothing to flush) */
    int refused = 0;
    char *kept[8] = {0};
    for (int i = 0; i < 8; ++i) {
        long st = send_text(&c, conv, hltc_fmt("during the fault %d", i), &kept[i]);
        refused += st != 202;
    }
    ck_assert_msg(refused > 0, "%s: no write was refused while the fault was on", fault);
    hlt_response_t up;
    hltc_upload(&c.d, HLT_H1, c.dev.access, conv, "blob during the fault", 21, "text/plain", "f.txt", &up);
    ck_assert_msg(up.status >= 500 || up.status == 201, "%s: upload %ld %s", fault, up.status, up.body);
    char *blob_during = up.status == 201 ? hl_strdup(hlt_str(json_object_get(up.json, "blob"), "id")) : NULL;
    hlt_response_free(&up);
    /* reads and the status route keep working */
    json_decref(hltc_call(&c.d, HLT_H1, c.dev.access, "GET", "/api/v1/conversations?limit=5", NULL, 200));
    hlt_response_t res;
    hlt_get(&c.d, HLT_H2C, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);

    set_fault(file, "");
    /* writes work again (the store may need its next batch to recover: a few tries) */
    char *after = NULL;
    long st = 0;
    for (int i = 0; i < 20 && st != 202; ++i) {
        free(after);
        st = send_text(&c, conv, "after the fault", &after);
        if (st != 202)
            hlt_sleep_ms(100);
    }
    ck_assert_msg(st == 202, "%s: writes do not work again after the fault", fault);
    char *blob_after = hltc_upload_ok(&c.d, HLT_H1, c.dev.access, conv, "blob after the fault", 20, "text/plain", "g.txt");

    /* what was accepted is there, what was refused is not */
    hltc_events_t *done = hltc_wait_runs_done(&c.d, c.dev.access, conv, 20000);
    hltc_events_free(done);
    free(done);
    json_t *msgs = hltc_messages(&c.d, HLT_H1, c.dev.access, conv);
    json_t *arr = json_object_get(msgs, "messages");
    size_t users = 0, i;
    json_t *m;
    json_array_foreach(arr, i, m) users += strcmp(hlt_str(m, "role"), "user") == 0;
    size_t accepted = 2; /* before, after */
    for (int k = 0; k < 8; ++k)
        accepted += kept[k] != NULL;
    ck_assert_msg(users == accepted, "%s: %zu user messages kept, %zu were accepted", fault, users, accepted);
    json_decref(msgs);
    hlt_api(&c.d, HLT_H1, "GET", hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, blob_after), c.dev.access, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_uint_eq(res.body_len, 20);
    hlt_response_free(&res);
    if (blob_during != NULL) {
        hlt_api(&c.d, HLT_H1, "GET", hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, blob_during), c.dev.access, NULL, &res);
        ck_assert_int_eq(res.status, 200);
        hlt_response_free(&res);
    }
    hlt_assert_stop_clean(&c.d);
    hltc_assert_integrity(&env, hltc_fmt("after the %s fault", fault));
    for (int k = 0; k < 8; ++k)
        free(kept[k]);
    free(before);
    free(after);
    free(blob_during);
    free(blob_after);
    free(conv);
    free(pre);
    free(ff);
    free(file);
    hlt_device_free(&c.dev);
    hlt_env_dispose(&env);
}

START_TEST(fsync_fails)
{
    run_fault("fsync");
}
END_TEST

START_TEST(disk_full)
{
    run_fault("enospc");
}
END_TEST

Suite *suite_syscall_faults(void)
{
    Suite *s = suite_create("syscall_faults");
    TCase *tc = tcase_create("syscall_faults");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fsync_fails);
    tcase_add_test(tc, disk_full);
    suite_add_tcase(s, tc);
    return s;
}
