/*
 * Logs and internal delivery (issue 11; spec/API.md §16 system logs, §17 POST /internal/deliver; spec/CLI.md §2.8).
 *
 * Over HTTP/1.1, h2c and h2 over TLS, each with a daemon of its own:
 *  - GET /api/v1/system/logs/gateway reads HERMES_HOME/logs/gateway.log (a 1205-line fixture): exactly {entries}, no "ok";
 *    `limit` with Number() semantics (absent, 0, "", "abc" → 200; 7 → the newest 7, oldest first; -3 and 0.5 → 1; 5000 →
 *    1000; " 1e1 " → 10; 0x10 → 16); entries parsed from plain text (embedded ISO timestamp, level from the words);
 *  - GET /api/v1/system/logs reads HermesLink's own JSON-lines log: three lines appended by the test come back as the
 *    newest three with timestampSource "structured" and their fields;
 *  - both answer 401 auth_required without a bearer;
 *  - POST /internal/deliver: two regular files (a symbolic link and a subdirectory beside them skipped) → staged_count 2;
 *    one "Deliveries" conversation with one assistant message whose attachments are the files, downloaded byte for byte;
 *    the message.created seen on the all-conversations stream; the staging directory unchanged; a second delivery
 *    (stagingDir alias) reuses the conversation; a missing directory stages 0; no body / a non-string → 400
 *    delivery_staging_required; bad JSON → 400 invalid_json; relative path, group- or other-writable directory, a
 *    directory owned by another user, a symbolic link as the directory → 400 delivery_staging_invalid; 101 files → 400
 *    delivery_too_many_files, a file over 50 MiB → 413 blob_too_large, nothing staged by either; X-Forwarded-For,
 *    Forwarded, X-Real-IP, Origin or Sec-Fetch-Site from a loopback peer → 403 internal_route_forbidden.
 * Once: the conversation is found again after a restart; a caller at a non-loopback address (a network namespace of the
 * test's own) and one at 127.0.0.2 → 403; the CLI: `logs -n 3`, `logs --gateway -n 2`, `logs -f` following appends
 * (a partial line once complete) across a rotation until SIGTERM (exit 0), `logs --gateway -f` across a truncation until
 * SIGINT (exit 0).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/common.h"

#include "harness_conv.h"

static const hlt_proto_t PROTOS[] = {HLT_H1, HLT_H2C, HLT_H2_TLS};

#define GATEWAY_LINES 1205
#define DELIVER "/internal/deliver"

/* ---- fixtures ---- */

static void write_gateway_log(const hlt_env_t *env)
{
    char *logs = hl_asprintf("%s/logs", env->hermes_home);
    ck_assert(mkdir(logs, 0700) == 0 || errno == EEXIST);
    char *path = hl_asprintf("%s/gateway.log", logs);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 1; i <= GATEWAY_LINES - 2; ++i)
        fprintf(f, "2026-05-08 12:00:00,000 INFO gateway: line %d\n", i);
    fputs("\n", f); /* a blank line is no entry */
    fputs("2026-05-08T12:00:01.500Z ERROR api_server: request failed\n", f);
    fputs("  WARNING: slow tool call  \n", f);
    fclose(f);
    free(path);
    free(logs);
}

/* Appends to HermesLink's own log (the daemon appends with O_APPEND too). */
static void append_link_log(const hlt_env_t *env, const char *text)
{
    char *path = hl_asprintf("%s/logs/link.log", env->home);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(path);
}

#define LINK_LINE(n, level)                                                                                                        \
    "{\"ts\":\"2026-05-08T12:00:0" #n ".000Z\",\"level\":\"" level "\",\"message\":\"probe " #n "\",\"fields\":{\"n\":" #n "}}\n"

/* A staging directory (0700) in the env with a.txt, b.bin, a symbolic link and a subdirectory. Caller frees. */
static char *make_staging(const hlt_env_t *env, const char *name)
{
    char *dir = hl_asprintf("%s/%s", env->dir, name);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    return dir;
}

static void put_file(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = hl_asprintf("%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    free(path);
}

static char binary[3000];

static void fill_staging(const char *dir, const hlt_env_t *env)
{
    for (size_t i = 0; i < sizeof(binary); ++i)
        binary[i] = (char)(i * 7 % 256);
    put_file(dir, "a.txt", "hello delivery\n", 15);
    put_file(dir, "b.bin", binary, sizeof(binary));
    char *target = hl_asprintf("%s/home/link.db", env->dir), *link = hl_asprintf("%s/secret", dir);
    ck_assert_int_eq(symlink(target, link), 0);
    free(target);
    free(link);
    char *sub = hl_asprintf("%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    put_file(sub, "inner.txt", "x", 1);
    free(sub);
}

/* "name:size:mode;" for every entry of the directory, sorted (readdir order is not), to see it was left as it was. */
static char *dir_state(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        struct stat st;
        char *p = hl_asprintf("%s/%s", dir, de->d_name);
        ck_assert_int_eq(lstat(p, &st), 0);
        names[n++] = hl_asprintf("%s:%lld:%o:%lld;", de->d_name, (long long)st.st_size, (unsigned)st.st_mode, (long long)st.st_ino);
        free(p);
    }
    closedir(d);
    for (size_t i = 1; i < n; ++i)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; --j) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    size_t total = 1, used = 0;
    for (size_t i = 0; i < n; ++i)
        total += strlen(names[i]);
    char *out = calloc(1, total);
    for (size_t i = 0; i < n; ++i) {
        size_t len = strlen(names[i]);
        memcpy(out + used, names[i], len);
        used += len;
        free(names[i]);
    }
    return out;
}

/* ---- the daemon of a test ---- */

static hlt_env_t env;
static hltc_ctx_t ctx;
static hlt_proto_t P;
#define D (&ctx.d)
#define TOK (ctx.dev.access)

static void start(int i)
{
    P = PROTOS[i];
    hlt_env_init(&env);
    env.log_level = "warn";
    write_gateway_log(&env);
    hltc_start(&ctx, 1, &env);
}

static void finish(void)
{
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    ctx.started = 0;
    hlt_env_dispose(&env);
}

/* GET path with the bearer (or none); asserts the status; returns the JSON body (new reference). */
static json_t *get_json(const char *path, const char *bearer, long want)
{
    char *auth = bearer != NULL ? hl_asprintf("Authorization: Bearer %s", bearer) : NULL;
    const char *headers[] = {auth, NULL};
    hlt_request_t req = {.path = path, .headers = headers};
    hlt_response_t res;
    hlt_fetch(D, P, &req, &res);
    ck_assert_msg(res.status == want, "GET %s: %ld, want %ld: %s", path, res.status, want, res.body);
    hlt_assert_cors(&res);
    hlt_assert_json(&res);
    json_t *j = json_incref(res.json);
    hlt_response_free(&res);
    free(auth);
    return j;
}

/* The entries of a system logs answer, asserting its exact shape {entries} and each LogEntry's. */
static json_t *entries_of(const char *path)
{
    json_t *j = get_json(path, TOK, 200);
    hlt_assert_keys(j, path, "entries", NULL);
    json_t *entries = json_incref(json_object_get(j, "entries"));
    ck_assert(json_is_array(entries));
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        ck_assert(json_is_string(json_object_get(e, "ts")));
        ck_assert(json_is_string(json_object_get(e, "message")));
        const char *level = hlt_str(e, "level");
        ck_assert_msg(hlt_matches(level, "^(debug|info|warn|error)$"), "level %s", level);
    }
    json_decref(j);
    return entries;
}

static size_t count_at(const char *path)
{
    json_t *e = entries_of(path);
    size_t n = json_array_size(e);
    json_decref(e);
    return n;
}

/* ---- logs ---- */

START_TEST(test_system_logs)
{
    start(_i);
    static const char G[] = "/api/v1/system/logs/gateway";
    ck_assert_int_eq(count_at(G), 200);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=0"), 200);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit="), 200);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=abc"), 200);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=12abc"), 200);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=-3"), 1);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=0.5"), 1);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=5000"), 1000);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=%201e1%20"), 10);
    ck_assert_int_eq(count_at("/api/v1/system/logs/gateway?limit=0x10"), 16);

    json_t *e = entries_of("/api/v1/system/logs/gateway?limit=7");
    ck_assert_int_eq(json_array_size(e), 7);
    ck_assert_str_eq(hlt_str(json_array_get(e, 0), "message"), "2026-05-08 12:00:00,000 INFO gateway: line 1199");
    ck_assert_str_eq(hlt_str(json_array_get(e, 0), "level"), "info");
    ck_assert_str_eq(hlt_str(json_array_get(e, 0), "timestampSource"), "embedded");
    json_t *err = json_array_get(e, 5), *warn = json_array_get(e, 6);
    ck_assert_str_eq(hlt_str(err, "ts"), "2026-05-08T12:00:01.500Z");
    ck_assert_str_eq(hlt_str(err, "level"), "error");
    ck_assert_str_eq(hlt_str(err, "message"), "2026-05-08T12:00:01.500Z ERROR api_server: request failed");
    ck_assert_str_eq(hlt_str(warn, "level"), "warn");
    ck_assert_str_eq(hlt_str(warn, "message"), "WARNING: slow tool call");
    ck_assert_str_eq(hlt_str(warn, "timestampSource"), "file_mtime");
    json_decref(e);

    /* HermesLink's own log: the newest three are the test's */
    append_link_log(&env, LINK_LINE(1, "info") "not json\n" LINK_LINE(2, "warn") LINK_LINE(3, "error"));
    e = entries_of("/api/v1/system/logs?limit=3");
    ck_assert_int_eq(json_array_size(e), 3);
    for (int i = 0; i < 3; ++i) {
        json_t *x = json_array_get(e, (size_t)i);
        ck_assert_str_eq(hlt_str(x, "message"), hltc_fmt("probe %d", i + 1));
        ck_assert_str_eq(hlt_str(x, "timestampSource"), "structured");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "fields"), "n")), i + 1);
    }
    ck_assert_str_eq(hlt_str(json_array_get(e, 2), "level"), "error");
    json_decref(e);
    ck_assert_int_le(count_at("/api/v1/system/logs"), 200);

    /* auth */
    hlt_response_t res;
    hlt_get(D, P, "/api/v1/system/logs", &res);
    hlt_assert_error(D, &res, 401, "auth_required");
    hlt_response_free(&res);
    hlt_get(D, P, G, &res);
    hlt_assert_error(D, &res, 401, "auth_required");
    hlt_response_free(&res);
    finish();
}
END_TEST

/* ---- deliver ---- */

static json_t *deliver_ok(const char *body)
{
    return hltc_call(D, P, NULL, "POST", DELIVER, body, 200);
}

static void deliver_error(const char *body, long status, const char *code)
{
    hltc_call_error(D, P, NULL, "POST", DELIVER, body, status, code);
}

static void assert_staged(const char *body, int n)
{
    json_t *j = deliver_ok(body);
    hlt_assert_keys(j, "deliver answer", "ok", "staged_count", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "staged_count")), n);
    json_decref(j);
}

/* The ids of the active conversations titled Deliveries. */
static json_t *deliveries_ids(void)
{
    json_t *list = hltc_call(D, P, TOK, "GET", "/api/v1/conversations?limit=100", NULL, 200), *ids = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(list, "conversations"), i, c) if (strcmp(hlt_str(c, "title"), "Deliveries") == 0)
        json_array_append_new(ids, json_string(hlt_str(c, "id")));
    json_decref(list);
    return ids;
}

static void download_eq(const char *conv, const char *blob, const char *data, size_t len)
{
    char *auth = hl_asprintf("Authorization: Bearer %s", TOK);
    const char *headers[] = {auth, NULL};
    hlt_request_t req = {.path = hltc_fmt("/api/v1/conversations/%s/blobs/%s", conv, blob), .headers = headers};
    hlt_response_t res;
    hlt_fetch(D, P, &req, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_uint_eq(res.body_len, len);
    ck_assert(memcmp(res.body, data, len) == 0);
    hlt_response_free(&res);
    free(auth);
}

static json_t *messages_of(const char *conv)
{
    json_t *m = hltc_messages(D, P, TOK, conv);
    json_t *out = json_incref(json_object_get(m, "messages"));
    json_decref(m);
    return out;
}

/* Asserts the delivery message: assistant, completed, the names in its text, attachments a.txt then b.bin. */
static void assert_delivery_message(json_t *m, const char *conv)
{
    ck_assert_str_eq(hlt_str(m, "role"), "assistant");
    ck_assert_str_eq(hlt_str(m, "status"), "completed");
    json_t *att = json_object_get(m, "attachments");
    ck_assert_int_eq(json_array_size(att), 2);
    ck_assert_str_eq(hlt_str(json_array_get(att, 0), "filename"), "a.txt");
    ck_assert_str_eq(hlt_str(json_array_get(att, 0), "mime"), "text/plain");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(att, 0), "size")), 15);
    ck_assert_str_eq(hlt_str(json_array_get(att, 1), "filename"), "b.bin");
    ck_assert_str_eq(hlt_str(json_array_get(att, 1), "mime"), "application/octet-stream");
    download_eq(conv, hlt_str(json_array_get(att, 0), "blob_id"), "hello delivery\n", 15);
    download_eq(conv, hlt_str(json_array_get(att, 1), "blob_id"), binary, sizeof(binary));
}

static size_t count_messages(void)
{
    json_t *ids = deliveries_ids();
    size_t n = 0;
    if (json_array_size(ids) == 1) {
        json_t *m = messages_of(json_string_value(json_array_get(ids, 0)));
        n = json_array_size(m);
        json_decref(m);
    }
    json_decref(ids);
    return n;
}

START_TEST(test_deliver)
{
    start(_i);
    hltc_sse_t sse;
    hltc_sse_open(&sse, D, P == HLT_H2C ? HLT_H1 : P, TOK, "/api/v1/conversations/events", NULL, NULL);
    hltc_sse_pump(&sse, 200);

    char *dir = make_staging(&env, "staging");
    fill_staging(dir, &env);
    char *before = dir_state(dir);
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 2);
    char *after = dir_state(dir);
    ck_assert_str_eq(after, before);
    free(after);

    json_t *ids = deliveries_ids();
    ck_assert_int_eq(json_array_size(ids), 1);
    char *conv = hl_strdup(json_string_value(json_array_get(ids, 0)));
    json_decref(ids);
    json_t *msgs = messages_of(conv);
    ck_assert_int_eq(json_array_size(msgs), 1);
    json_t *m = json_array_get(msgs, 0);
    assert_delivery_message(m, conv);
    ck_assert_str_eq(hlt_str(json_array_get(json_object_get(m, "parts"), 0), "text"), "Delivered 2 files: a.txt, b.bin");
    char *msg_id = hl_strdup(hlt_str(m, "id"));
    json_decref(msgs);

    /* one message.created on the all-conversations stream, carrying the attachments */
    long deadline = hlt_now_ms() + 10000;
    long at = -1;
    while ((at = hltc_find(&sse.ev, "message.created", "message_id", msg_id)) < 0 && hlt_now_ms() < deadline)
        hltc_sse_pump(&sse, 100);
    ck_assert_msg(at >= 0, "no message.created for %s on the stream", msg_id);
    json_t *em = json_object_get(json_object_get(sse.ev.v[at].json, "payload"), "message");
    if (em == NULL)
        em = json_object_get(sse.ev.v[at].json, "message");
    ck_assert_msg(em != NULL, "event without its message: %s", sse.ev.v[at].data);
    ck_assert_int_eq(json_array_size(json_object_get(em, "attachments")), 2);
    ck_assert_int_eq(hltc_count_type(&sse.ev, "message.created"), 1);
    hltc_sse_close(&sse);

    /* a second delivery (the camelCase alias) goes to the same conversation */
    assert_staged(hltc_fmt("{\"stagingDir\":\"%s\"}", dir), 2);
    ids = deliveries_ids();
    ck_assert_int_eq(json_array_size(ids), 1);
    ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), conv);
    json_decref(ids);
    msgs = messages_of(conv);
    ck_assert_int_eq(json_array_size(msgs), 2);
    assert_delivery_message(json_array_get(msgs, 1), conv);
    json_decref(msgs);
    after = dir_state(dir);
    ck_assert_str_eq(after, before);
    free(after);

    /* nothing to stage */
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s/missing\"}", env.dir), 0);
    char *empty = make_staging(&env, "empty");
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s\"}", empty), 0);

    /* refusals */
    deliver_error(NULL, 400, "delivery_staging_required");
    deliver_error("{}", 400, "delivery_staging_required");
    deliver_error("{\"staging_dir\":5}", 400, "delivery_staging_required");
    deliver_error("{\"staging_dir\":\"\"}", 400, "delivery_staging_required");
    deliver_error("{\"staging_dir\":", 400, "invalid_json");
    deliver_error("{\"staging_dir\":\"staging\"}", 400, "delivery_staging_invalid");
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s/a.txt\"}", dir), 400, "delivery_staging_invalid");
    char *link = hl_asprintf("%s/staging-link", env.dir);
    ck_assert_int_eq(symlink(dir, link), 0);
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", link), 400, "delivery_staging_invalid");
    ck_assert_int_eq(chmod(dir, 0770), 0);
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 400, "delivery_staging_invalid");
    ck_assert_int_eq(chmod(dir, 0702), 0);
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 400, "delivery_staging_invalid");
    ck_assert_int_eq(chmod(dir, 0700), 0);
    if (geteuid() == 0) { /* only root can give a directory to another user */
        ck_assert_int_eq(chown(dir, 65534, 65534), 0);
        deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 400, "delivery_staging_invalid");
        ck_assert_int_eq(chown(dir, 0, 0), 0);
    }
    /* from loopback, but forwarded for another client, or sent by a browser */
    static const char *const foreign[] = {"X-Forwarded-For: 203.0.113.5", "Forwarded: for=203.0.113.5", "X-Real-IP: 203.0.113.5",
                                          "Origin: https://evil.example", "Sec-Fetch-Site: cross-site"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(foreign); ++i) {
        const char *headers[] = {foreign[i], NULL};
        hlt_request_t req = {
            .method = "POST", .path = DELIVER, .headers = headers, .body = hltc_fmt("{\"staging_dir\":\"%s\"}", dir)};
        req.body_len = strlen(req.body);
        hlt_response_t res;
        hlt_fetch(D, P, &req, &res);
        hlt_assert_error(D, &res, 403, "internal_route_forbidden");
        hlt_response_free(&res);
    }

    /* too many files, a file too large: refused whole */
    char *many = make_staging(&env, "many");
    for (int i = 0; i < 101; ++i)
        put_file(many, hltc_fmt("f%03d.txt", i), "x", 1);
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", many), 400, "delivery_too_many_files");
    char *victim = hl_asprintf("%s/f000.txt", many);
    ck_assert_int_eq(unlink(victim), 0);
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s\"}", many), 100);
    char *big = make_staging(&env, "big");
    put_file(big, "small.txt", "s", 1);
    char *big_file = hl_asprintf("%s/huge.bin", big);
    int fd = open(big_file, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 50 * 1024 * 1024 + 1), 0); /* sparse: cheap */
    close(fd);
    deliver_error(hltc_fmt("{\"staging_dir\":\"%s\"}", big), 413, "blob_too_large");
    ck_assert_int_eq(count_messages(), 3); /* the two deliveries and the 100 files, nothing of the refusals */

    free(big_file);
    free(big);
    free(victim);
    free(many);
    free(link);
    free(empty);
    free(msg_id);
    free(conv);
    free(before);
    free(dir);
    finish();
}
END_TEST

/* The conversation is remembered in link.db: found again after a restart. */
START_TEST(test_deliver_restart)
{
    start(0);
    char *dir = make_staging(&env, "staging");
    fill_staging(dir, &env);
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 2);
    json_t *ids = deliveries_ids();
    char *conv = hl_strdup(json_string_value(json_array_get(ids, 0)));
    json_decref(ids);
    hlt_device_free(&ctx.dev);
    hlt_assert_stop_clean(D);
    hltc_start(&ctx, 0, &env);
    assert_staged(hltc_fmt("{\"staging_dir\":\"%s\"}", dir), 2);
    ids = deliveries_ids();
    ck_assert_int_eq(json_array_size(ids), 1);
    ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), conv);
    json_decref(ids);
    json_t *msgs = messages_of(conv);
    ck_assert_int_eq(json_array_size(msgs), 2);
    json_decref(msgs);
    free(conv);
    free(dir);
    finish();
}
END_TEST

/* A caller at another address than 127.0.0.1 / ::1 is refused, even one on this machine. */
START_TEST(test_deliver_not_loopback)
{
    hlt_private_network();
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"lanHost\": \"" HLT_PRIVATE_LAN_ADDR "\"}\n");
    hlt_daemon_opts_t o = {.env = &env, .listen = "0.0.0.0"};
    hlt_daemon_start(&ctx.d, &o);
    char *dir = make_staging(&env, "staging");
    fill_staging(dir, &env);
    const char *body = hltc_fmt("{\"staging_dir\":\"%s\"}", dir);
    static const char *const sources[] = {HLT_PRIVATE_LAN_ADDR, "127.0.0.2"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(sources); ++i) {
        /* a stranger learns only 403, whatever the body */
        static const char *const bodies[] = {NULL, "{", "{}"};
        for (size_t b = 0; b < HL_ARRAY_SIZE(bodies) + 1; ++b) {
            const char *text = b < HL_ARRAY_SIZE(bodies) ? bodies[b] : body;
            hlt_request_t req = {
                .method = "POST", .path = DELIVER, .body = text, .body_len = text ? strlen(text) : 0, .source_addr = sources[i]};
            hlt_response_t res;
            hlt_fetch(&ctx.d, HLT_H1, &req, &res);
            hlt_assert_error(&ctx.d, &res, 403, "internal_route_forbidden");
            hlt_response_free(&res);
        }
    }
    hlt_request_t req = {.method = "POST", .path = DELIVER, .body = body, .body_len = strlen(body)};
    hlt_response_t res;
    hlt_fetch(&ctx.d, HLT_H1, &req, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    free(dir);
    hlt_assert_stop_clean(&ctx.d);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- CLI ---- */

static char **cli_lines(const char *out, size_t *n)
{
    char **v = calloc(64, sizeof(*v));
    *n = 0;
    for (const char *p = out; *p != '\0' && *n < 64;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        v[(*n)++] = hl_strndup(p, len);
        p += len + (nl != NULL);
    }
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        free(v[i]);
    free(v);
}

START_TEST(test_cli_logs)
{
    hlt_env_init(&env);
    write_gateway_log(&env);
    char *logs = hl_asprintf("%s/logs", env.home);
    ck_assert_int_eq(mkdir(logs, 0700), 0);
    append_link_log(&env, LINK_LINE(1, "info") LINK_LINE(2, "warn") LINK_LINE(3, "error") LINK_LINE(4, "debug"));

    hlt_cli_result_t r;
    hlt_cli(&env, &r, "logs", "-n", "3", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    size_t n;
    char **lines = cli_lines(r.out, &n);
    ck_assert_int_eq(n, 3);
    /* each entry's fields follow its message, compact */
    ck_assert_msg(hlt_matches(lines[0], "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\\] WARN probe 2 \\{\"n\":2\\}$"), "%s", lines[0]);
    ck_assert_msg(hlt_matches(lines[2], "^\\[.*\\] DEBUG probe 4 \\{\"n\":4\\}$"), "%s", lines[2]);
    free_lines(lines, n);
    hlt_cli_free(&r);

    /* as the original: a limit that is not a number is 200 (all four here), 0 too; 2.9 is 2 */
    static const char *const NOT_NUMBERS[] = {"abc", "0", "--limit=x"};
    for (size_t k = 0; k < HL_ARRAY_SIZE(NOT_NUMBERS); ++k) {
        if (k < 2)
            hlt_cli(&env, &r, "logs", "-n", NOT_NUMBERS[k], NULL);
        else
            hlt_cli(&env, &r, "logs", NOT_NUMBERS[k], NULL);
        ck_assert_msg(r.exit_code == 0, "logs %s: exit %d, %s", NOT_NUMBERS[k], r.exit_code, r.err);
        lines = cli_lines(r.out, &n);
        ck_assert_int_eq(n, 4);
        free_lines(lines, n);
        hlt_cli_free(&r);
    }
    hlt_cli(&env, &r, "logs", "--limit", "2.9", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    lines = cli_lines(r.out, &n);
    ck_assert_int_eq(n, 2);
    free_lines(lines, n);
    hlt_cli_free(&r);

    hlt_cli(&env, &r, "logs", "--gateway", "-n", "2", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    lines = cli_lines(r.out, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_msg(hlt_matches(lines[0], "^\\[.*\\] ERROR 2026-05-08T12:00:01.500Z ERROR api_server: request failed$"), "%s",
                  lines[0]);
    ck_assert_msg(hlt_matches(lines[1], "^\\[.*\\] WARN WARNING: slow tool call$"), "%s", lines[1]);
    free_lines(lines, n);
    hlt_cli_free(&r);

    /* -f: the last entry, then each appended one, across a rotation, until SIGTERM */
    setenv("HERMESLINK_HOME", env.home, 1);
    setenv("HERMES_HOME", env.hermes_home, 1);
    setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0", 1);
    char *out = hl_asprintf("%s/follow.out", env.dir), *err = hl_asprintf("%s/follow.err", env.dir);
    char *argv[] = {(char *)hlt_binary(), "logs", "-n", "1", "-f", NULL};
    pid_t pid = hlt_spawn(argv, out, err);
    ck_assert_int_gt(pid, 0);
    long deadline = hlt_now_ms() + 10000;
    char *text = NULL;
    /* waits until the output holds `want` */
#define WAIT_FOR(want)                                                                                                             \
    do {                                                                                                                           \
        for (;;) {                                                                                                                 \
            free(text);                                                                                                            \
            text = hlt_read_file(out, NULL);                                                                                       \
            if ((text != NULL && strstr(text, want) != NULL) || hlt_now_ms() > deadline)                                           \
                break;                                                                                                             \
            hlt_sleep_ms(50);                                                                                                      \
        }                                                                                                                          \
        ck_assert_msg(text != NULL && strstr(text, want) != NULL, "`logs -f` did not print %s: %s", want, text ? text : "");       \
    } while (0)
    WAIT_FOR("DEBUG probe 4");
    hlt_sleep_ms(300); /* the follower is past the tail: what comes now is new */
    append_link_log(&env, LINK_LINE(5, "info"));
    WAIT_FOR("INFO probe 5");
    /* a partial line is printed once it is complete */
    append_link_log(&env, "{\"ts\":\"2026-05-08T12:00:06.000Z\",\"level\":\"warn\",");
    hlt_sleep_ms(400);
    append_link_log(&env, "\"message\":\"probe 6\"}\n");
    WAIT_FOR("WARN probe 6");
    /* rotation: the file moves to link.log.1 and a new one starts */
    char *cur = hl_asprintf("%s/link.log", logs), *old = hl_asprintf("%s/link.log.1", logs);
    ck_assert_int_eq(rename(cur, old), 0);
    append_link_log(&env, LINK_LINE(7, "error"));
    WAIT_FOR("ERROR probe 7");
    append_link_log(&env, LINK_LINE(8, "info"));
    WAIT_FOR("INFO probe 8");
    ck_assert_int_eq(hlt_count(text, "probe 5"), 1);
    ck_assert_int_eq(hlt_count(text, "probe 4"), 1);
    ck_assert_int_eq(hlt_count(text, "probe 3"), 0);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status = 0;
    ck_assert_msg(hlt_wait_exit(pid, &status, 5000), "`logs -f` still runs after SIGTERM");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "`logs -f` ended with status 0x%x", status);
    const char *report = hlt_sanitizer_report(err);
    ck_assert_msg(report == NULL, "sanitizer: %s", report);

    /* --gateway -f: plain-text lines; a truncated file is read again from its start; SIGINT ends it too */
    char *gw = hl_asprintf("%s/logs/gateway.log", env.hermes_home);
    char *argv_gw[] = {(char *)hlt_binary(), "logs", "--gateway", "-n", "1", "-f", NULL};
    pid = hlt_spawn(argv_gw, out, err);
    ck_assert_int_gt(pid, 0);
    deadline = hlt_now_ms() + 10000;
    WAIT_FOR("WARN WARNING: slow tool call");
    hlt_sleep_ms(300);
    FILE *f = fopen(gw, "a");
    ck_assert_ptr_nonnull(f);
    fputs("2026-05-08T12:00:09.000Z gateway failed to bind\n", f);
    fclose(f);
    WAIT_FOR("ERROR 2026-05-08T12:00:09.000Z gateway failed to bind");
    f = fopen(gw, "w");
    ck_assert_ptr_nonnull(f);
    fputs("after truncation\n", f);
    fclose(f);
    WAIT_FOR("INFO after truncation");
#undef WAIT_FOR
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    ck_assert_msg(hlt_wait_exit(pid, &status, 5000), "`logs --gateway -f` still runs after SIGINT");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "`logs --gateway -f` ended with status 0x%x", status);
    report = hlt_sanitizer_report(err);
    ck_assert_msg(report == NULL, "sanitizer: %s", report);
    free(gw);
    free(text);
    free(cur);
    free(old);
    free(out);
    free(err);
    free(logs);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_logs_deliver(void)
{
    Suite *s = suite_create("logs_deliver");
    TCase *tc = tcase_create("logs_deliver");
    tcase_set_timeout(tc, 120);
    size_t n = HL_ARRAY_SIZE(PROTOS);
    tcase_add_loop_test(tc, test_system_logs, 0, (int)n);
    tcase_add_loop_test(tc, test_deliver, 0, (int)n);
    tcase_add_test(tc, test_deliver_restart);
    tcase_add_test(tc, test_deliver_not_loopback);
    tcase_add_test(tc, test_cli_logs);
    suite_add_tcase(s, tc);
    return s;
}
