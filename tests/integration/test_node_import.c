/*
 * `hermeslink import DIR` against a running daemon, from the Node layout fixture tests/fixtures/node-home (copied to a
 * temp dir first): the counts it prints (progress as plain lines when piped), then over HTTP/1.1 and h2 the imported
 * identity, a Node-issued access and refresh token, conversations, messages, blobs and usage statistics; a second import
 * adds nothing; the source tree is byte-for-byte and mtime-for-mtime untouched; a corrupt file is refused by name and
 * nothing is imported; ids that could name a path are refused; no daemon, or an identity with paired devices, refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_util.h"
#include "harness.h"
#include "hl/common.h"

#define ACCESS1 "hlat_nodeFixtureAccessTokenDev1abcd"
#define REFRESH1 "hlrt_nodeFixtureRefreshTokenDev1abc"
#define ACCESS2 "hlat_nodeFixtureAccessTokenDev2abcd"
#define NODE_LINK "link_0123456789abcdef0123456789abcdef"
#define CONV(n) "conv_0123456789abcdef0123456789abcd0" #n
#define BLOB(n) "blob_0123456789abcdef0123456789abcd0" #n

static void sh(const char *cmd)
{
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* a copy of the fixture in the env's dir; caller frees the path */
static char *copy_fixture(hlt_env_t *env)
{
    char *dst = hlt_env_path(env, 0, "node");
    char *cmd = hl_asprintf("cp -a '%s/tests/fixtures/node-home' '%s'", HL_SOURCE_DIR, dst);
    sh(cmd);
    free(cmd);
    return dst;
}

/* a shell command's stdout (asserting it succeeded) */
static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    ck_assert_msg(pclose(p) == 0, "failed: %s", cmd);
    return out;
}

/* every entry's path, mode, size and mtime, and every file's SHA-256: what "untouched" means */
static char *tree_state(const char *dir)
{
    char *cmd = hl_asprintf("cd '%s' && find . -printf '%%p %%m %%s %%T@\\n' | LC_ALL=C sort && find . -type f -exec "
                            "sha256sum {} + | LC_ALL=C sort",
                            dir);
    char *out = run_capture(cmd);
    free(cmd);
    return out;
}

static void start(hlt_daemon_t *d, hlt_env_t *env)
{
    hlt_daemon_opts_t opts = {.env = env, .tls = 1};
    hlt_daemon_start(d, &opts);
}

static void import_ok(hlt_env_t *env, const char *dir, hlt_cli_result_t *r)
{
    hlt_cli(env, r, "import", dir, NULL);
    ck_assert_msg(r->exit_code == 0, "import failed (%d): %s %s", r->exit_code, r->out, r->err);
}

static void expect_line(const char *out, const char *line)
{
    ck_assert_msg(strstr(out, line) != NULL, "missing \"%s\" in:\n%s", line, out);
}

static json_t *api_json(const hlt_daemon_t *d, hlt_proto_t p, const char *method, const char *path, const char *bearer,
                        const char *body, long want)
{
    hlt_response_t res;
    hlt_api(d, p, method, path, bearer, body, &res);
    ck_assert_msg(res.status == want, "%s %s: %ld, want %ld: %s", method, path, res.status, want, res.body);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    return j;
}

START_TEST(test_import_everything)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *src = copy_fixture(&env), *before = tree_state(src);
    hlt_daemon_t d;
    start(&d, &env);

    hlt_cli_result_t r;
    import_ok(&env, src, &r);
    /* piped: plain progress lines, never a carriage return */
    ck_assert_msg(strchr(r.out, '\r') == NULL, "progress rewrote a line when piped: %s", r.out);
    expect_line(r.out, "Importing conversations: 3/3\n");
    expect_line(r.out, "Importing devices: 2/2\n");
    expect_line(r.out, "Identity:      " NODE_LINK " (taken over from the Node HermesLink)");
    expect_line(r.out, "Devices:       2 imported, 0 already there");
    expect_line(r.out, "Conversations: 3 imported, 0 already there");
    expect_line(r.out, "Messages:      6 imported, 0 already there");
    expect_line(r.out, "Events:        15 imported, 0 already there");
    expect_line(r.out, "Blobs:         2 imported, 0 already there");
    expect_line(r.out, "Usage facts:   3 imported, 0 already there");
    expect_line(r.out, "hermeslink restart");
    hlt_cli_free(&r);

    /* the Node-issued access token works at once (the phone stays paired); the revoked device stays revoked */
    hlt_assert_accepted(&d, HLT_H1, ACCESS1, "dev_0123456789abcdef0123456789abcd01");
    hlt_assert_accepted(&d, HLT_H2_TLS, ACCESS1, "dev_0123456789abcdef0123456789abcd01");
    hlt_assert_refused(&d, HLT_H1, ACCESS2, "device_access_token_invalid");

    /* the identity is the Node one after the restart the import asked for */
    hlt_assert_stop_clean(&d);
    start(&d, &env);
    hlt_cli(&env, &r, "status", NULL);
    expect_line(r.out, NODE_LINK);
    hlt_cli_free(&r);

    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2_TLS};
    for (size_t i = 0; i < HL_ARRAY_SIZE(protos); ++i) {
        hlt_proto_t p = protos[i];
        json_t *list = api_json(&d, p, "GET", "/api/v1/conversations", ACCESS1, NULL, 200);
        char *text = json_dumps(list, JSON_COMPACT);
        ck_assert_msg(strstr(text, CONV(1)) != NULL && strstr(text, CONV(3)) != NULL && strstr(text, CONV(2)) == NULL,
                      "active list: %s", text);
        ck_assert_msg(strstr(text, "Trip to Lisbon") != NULL, "title: %s", text);
        free(text);
        json_decref(list);

        json_t *msgs = api_json(&d, p, "GET", "/api/v1/conversations/" CONV(1) "/messages", ACCESS1, NULL, 200);
        text = json_dumps(msgs, JSON_COMPACT);
        ck_assert_msg(strstr(text, "Plan a weekend in Lisbon") != NULL && strstr(text, "Day 1: Alfama. Day 2: Belem.") != NULL,
                      "messages: %s", text);
        ck_assert_msg(strstr(text, BLOB(1)) != NULL, "the attachment is missing: %s", text);
        free(text);
        json_decref(msgs);

        /* the event stream replays the Node events (a stream: read for a moment, then hang up) */
        hlt_response_t res;
        const char *auth[] = {"Authorization: Bearer " ACCESS1, NULL};
        hlt_request_t req = {.path = "/api/v1/conversations/" CONV(3) "/events?after=0", .headers = auth, .timeout_ms = 1500};
        hlt_request(&d, p, &req, &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_msg(res.body != NULL && strstr(res.body, "run.completed") != NULL && strstr(res.body, "id: 5") != NULL,
                      "events: %s", res.body);
        hlt_response_free(&res);

        hlt_api(&d, p, "GET", "/api/v1/conversations/" CONV(1) "/blobs/" BLOB(1), ACCESS1, NULL, &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_str_eq(res.body, "Lisbon packing list\n- sunscreen\n");
        hlt_response_free(&res);
        hlt_api(&d, p, "GET", "/api/v1/conversations/" CONV(3) "/blobs/" BLOB(2), ACCESS1, NULL, &res);
        ck_assert_int_eq(res.status, 200);
        ck_assert_int_eq(res.body_len, 1024);
        hlt_response_free(&res);

        json_t *usage = api_json(&d, p, "GET", "/api/v1/statistics/usage?from=2025-02-01&to=2025-02-10", ACCESS1, NULL, 200);
        json_t *totals = json_object_get(json_object_get(usage, "usage"), "totals");
        ck_assert_int_eq(json_integer_value(json_object_get(totals, "total_tokens")), 715);
        ck_assert_int_eq(json_integer_value(json_object_get(totals, "run_count")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(totals, "conversation_count")), 3);
        json_decref(usage);

        json_t *stats = api_json(&d, p, "GET", "/api/v1/statistics", ACCESS1, NULL, 200);
        json_t *st = json_object_get(stats, "statistics");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "conversations"), "total")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "conversations"), "archived")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "messages"), "total")), 6);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "tokens"), "total_tokens")), 715);
        json_decref(stats);
    }

    /* the Node-issued refresh token rotates */
    hlt_response_t res;
    hlt_refresh(&d, HLT_H2_TLS, REFRESH1, &res);
    ck_assert_msg(res.status == 200, "refresh: %ld %s", res.status, res.body);
    hlt_response_free(&res);

    /* idempotent: nothing new the second time */
    import_ok(&env, src, &r);
    expect_line(r.out, "Identity:      " NODE_LINK " (already the same)");
    expect_line(r.out, "Devices:       0 imported, 2 already there");
    expect_line(r.out, "Conversations: 0 imported, 3 already there");
    expect_line(r.out, "Messages:      0 imported, 6 already there");
    expect_line(r.out, "Blobs:         0 imported, 2 already there");
    expect_line(r.out, "Usage facts:   0 imported, 3 already there");
    hlt_cli_free(&r);

    /* on a terminal: one line rewritten in place (script(1) gives the CLI a pty) */
    char *cmd = hl_asprintf("HERMESLINK_HOME='%s' HERMES_HOME='%s' script -qec \"'%s' import '%s'\" /dev/null", env.home,
                            env.hermes_home, hlt_binary(), src);
    char *tty_out = run_capture(cmd);
    free(cmd);
    ck_assert_msg(strstr(tty_out, "\r\033[KImporting conversations: 3/3") != NULL, "no updating line on a tty: %s", tty_out);
    ck_assert_msg(strstr(tty_out, "Importing conversations: 1/3\r\n") == NULL, "a plain progress line on a tty: %s", tty_out);
    expect_line(tty_out, "Conversations: 0 imported, 3 already there");
    free(tty_out);

    /* read-only on the source */
    char *after = tree_state(src);
    ck_assert_str_eq(before, after);
    free(after);
    free(before);
    free(src);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

/* a corrupt file refuses the import, names the file, and nothing was imported (a fixed source imports everything) */
START_TEST(test_import_corrupt_refused)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *src = copy_fixture(&env);
    char *snap = hl_asprintf("%s/conversations/%s/snapshot.json", src, CONV(2)), *saved = hl_asprintf("%s.saved", snap);
    char *cmd = hl_asprintf("mv '%s' '%s'", snap, saved);
    sh(cmd);
    free(cmd);
    hlt_write_file(snap, "{\"messages\":[{\"id\":");
    hlt_daemon_t d;
    start(&d, &env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "import", src, NULL);
    ck_assert_int_eq(r.exit_code, 1);
    expect_line(r.err, "conversations/" CONV(2) "/snapshot.json");
    hlt_cli_free(&r);
    hlt_assert_refused(&d, HLT_H1, ACCESS1, "device_access_token_invalid");

    /* the Node link.db (usage facts) is a source file like the others */
    char *db = hl_asprintf("%s/link.db", src), *db_saved = hl_asprintf("%s.saved", db);
    cmd = hl_asprintf("mv '%s' '%s' && mv '%s' '%s'", saved, snap, db, db_saved);
    sh(cmd);
    free(cmd);
    hlt_write_file(db, "this is not SQLite, whatever its name says");
    hlt_cli(&env, &r, "import", src, NULL);
    ck_assert_int_eq(r.exit_code, 1);
    expect_line(r.err, "link.db");
    hlt_cli_free(&r);
    hlt_assert_refused(&d, HLT_H1, ACCESS1, "device_access_token_invalid");
    cmd = hl_asprintf("mv '%s' '%s' && cp '%s' '%s'", db_saved, db, snap, saved);
    sh(cmd);
    free(cmd);
    free(db);
    free(db_saved);

    cmd = hl_asprintf("mv '%s' '%s'", saved, snap);
    sh(cmd);
    free(cmd);
    import_ok(&env, src, &r);
    expect_line(r.out, "Conversations: 3 imported, 0 already there");
    expect_line(r.out, "Devices:       2 imported, 0 already there");
    hlt_cli_free(&r);
    free(snap);
    free(saved);
    free(src);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

static void expect_refused(hlt_env_t *env, const char *src, const char *name)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "import", src, NULL);
    ck_assert_msg(r.exit_code == 1, "accepted: %s", r.out);
    expect_line(r.err, name);
    hlt_cli_free(&r);
}

/* ids that could name a path never reach one: a manifest's id, a folder's name, a blob manifest's id */
START_TEST(test_import_traversal_refused)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_daemon_t d;
    start(&d, &env);
    char *src = copy_fixture(&env);
    char *manifest = hl_asprintf("%s/conversations/%s/manifest.json", src, CONV(1));
    hlt_write_file(manifest, "{\"id\":\"../../../../tmp/evil\",\"kind\":\"chat\",\"title\":\"x\",\"status\":\"active\","
                             "\"last_event_seq\":0,\"created_at\":\"2025-02-01T09:00:00.000Z\",\"updated_at\":"
                             "\"2025-02-01T09:00:00.000Z\"}");
    expect_refused(&env, src, "conversations/" CONV(1) "/manifest.json");
    free(manifest);
    char *cmd = hl_asprintf("rm -rf '%s' && mkdir -p '%s/conversations/conv_..%%2f..%%2fetc'", src, src);
    sh(cmd);
    free(cmd);
    expect_refused(&env, src, "not a name the Node HermesLink writes");
    cmd = hl_asprintf(
        "rm -rf '%s' && cp -a '%s/tests/fixtures/node-home' '%s' && printf '%%s' '{\"id\":\"../../x\",\"size\":1,\"created_at\":"
        "\"2025-02-01T09:00:00.000Z\",\"conversation_ids\":[]}' > '%s/blobs/%s.json'",
        src, HL_SOURCE_DIR, src, src, BLOB(1));
    hlt_cli_result_t r;
    sh(cmd);
    free(cmd);
    expect_refused(&env, src, "blobs/" BLOB(1) ".json");
    /* nothing got in */
    hlt_cli(&env, &r, "status", NULL);
    ck_assert_msg(strstr(r.out, NODE_LINK) == NULL, "the identity changed: %s", r.out);
    hlt_cli_free(&r);
    free(src);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

START_TEST(test_import_needs_daemon)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *src = copy_fixture(&env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "import", src, NULL);
    ck_assert_int_eq(r.exit_code, 1);
    expect_line(r.err, "not running");
    hlt_cli_free(&r);
    /* a directory without the Node layout */
    hlt_cli(&env, &r, "import", env.hermes_home, NULL);
    ck_assert_int_eq(r.exit_code, 1);
    expect_line(r.err, "no Node HermesLink files");
    hlt_cli_free(&r);
    hlt_cli(&env, &r, "import", "--bogus", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    hlt_cli_free(&r);
    free(src);
    hlt_env_dispose(&env);
}
END_TEST

/* an identity with paired devices is never replaced: refused, nothing imported */
START_TEST(test_import_identity_conflict)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_daemon_t d;
    start(&d, &env);
    hlt_device_t dev;
    hlt_enroll(&d, HLT_H1, NULL, &dev);
    char *src = copy_fixture(&env);
    expect_refused(&env, src, "Refusing to replace an identity that has paired devices");
    hlt_assert_refused(&d, HLT_H1, ACCESS1, "device_access_token_invalid");
    hlt_assert_accepted(&d, HLT_H1, dev.access, dev.id);
    hlt_device_free(&dev);
    free(src);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

/* the default DIR is the home itself, which the Node version may share with us: its link.db is set aside as
 * link.node.db at start (ours takes the name), its files are imported without clobbering ours, and its identity is ours */
START_TEST(test_import_shared_home)
{
    hlt_env_t env;
    hlt_env_init(&env);
    char *cmd = hl_asprintf("cp -a '%s/tests/fixtures/node-home/.' '%s/'", HL_SOURCE_DIR, env.home);
    sh(cmd);
    free(cmd);
    hlt_daemon_t d;
    start(&d, &env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "import", NULL);
    ck_assert_msg(r.exit_code == 0, "import failed: %s %s", r.out, r.err);
    expect_line(r.out, "Identity:      " NODE_LINK " (already the same)");
    expect_line(r.out, "Devices:       2 imported, 0 already there");
    expect_line(r.out, "Conversations: 3 imported, 0 already there");
    expect_line(r.out, "Blobs:         2 imported, 0 already there");
    expect_line(r.out, "Usage facts:   3 imported, 0 already there");
    hlt_cli_free(&r);
    hlt_assert_accepted(&d, HLT_H2_TLS, ACCESS1, "dev_0123456789abcdef0123456789abcd01");
    /* again: our own blobs next to the Node ones are not mistaken for a corrupt source */
    hlt_cli(&env, &r, "import", NULL);
    ck_assert_msg(r.exit_code == 0, "second import failed: %s %s", r.out, r.err);
    expect_line(r.out, "Conversations: 0 imported, 3 already there");
    expect_line(r.out, "Usage facts:   0 imported, 3 already there");
    hlt_cli_free(&r);
    char *aside = hlt_env_path(&env, 1, "link.node.db");
    ck_assert_msg(access(aside, F_OK) == 0, "link.node.db is missing");
    free(aside);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_node_import(void)
{
    Suite *s = suite_create("node_import");
    TCase *tc = tcase_create("node_import");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_import_everything);
    tcase_add_test(tc, test_import_corrupt_refused);
    tcase_add_test(tc, test_import_traversal_refused);
    tcase_add_test(tc, test_import_needs_daemon);
    tcase_add_test(tc, test_import_identity_conflict);
    tcase_add_test(tc, test_import_shared_home);
    suite_add_tcase(s, tc);
    return s;
}
