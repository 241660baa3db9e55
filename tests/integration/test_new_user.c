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
#include <sys/stat.h>
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
    assert_full(&c.d, tok, "PATCH", settings, "{\"memoryCharLimit\":1234}");                   /* config.yaml replaced: ENOSPC */
    assert_full(&c.d, tok, "PATCH", "/api/v1/profiles/default", "{\"displayName\":\"Full\"}"); /* profiles.json */
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
    j = hltc_call(&c.d, HLT_H1, tok, "PATCH", "/api/v1/profiles/default", "{\"displayName\":\"Full\"}", 200);
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

/* ---- advertised addresses ---- */

#define LAN_HOST "192.0.2.77" /* lanHost in config.json: TEST-NET-1, nothing here listens on it */

typedef struct st_body_t {
    char *data;
    size_t len;
} body_t;

static size_t collect(void *p, size_t size, size_t n, void *u)
{
    body_t *b = u;
    b->data = hl_realloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* GET url (any host, IPv6 too); the body (caller frees) and the status. */
static char *fetch(const char *url, long *status)
{
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    body_t b = {hl_strdup(""), 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return b.data;
}

/* Everything handed out names `base` (e.g. http://[::1]:1234) and nothing else: bootstrap, pair's output and QR, /pair. */
static void assert_advertised(hlt_env_t *env, const char *base)
{
    long status = 0;
    char *url = hl_asprintf("%s/api/v1/bootstrap", base), *body = fetch(url, &status);
    ck_assert_int_eq(status, 200);
    json_t *boot = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(boot);
    json_t *pref = json_object_get(boot, "preferred_pairing_urls"), *routes = json_object_get(boot, "routes");
    ck_assert_msg(json_array_size(pref) == 1 && strcmp(json_string_value(json_array_get(pref, 0)), base) == 0, "bootstrap: %s",
                  body);
    ck_assert_int_eq(json_array_size(routes), 1);
    ck_assert_str_eq(hlt_str(json_array_get(routes, 0), "url"), base);
    json_decref(boot);
    free(body);
    free(url);

    hlt_cli_result_t r;
    hlt_cli(env, &r, "pair", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    char *page = hl_asprintf("Pairing page:    %s/pair?session_id=ps_", base);
    ck_assert_msg(strstr(r.out, page) != NULL, "pair output (wanted %s):\n%s", page, r.out);
    ck_assert_msg(hlt_count(r.out, "/pair?session_id=") == 1, "pair output:\n%s", r.out);
    ck_assert_msg(strstr(r.out, LAN_HOST) == NULL, "pair output:\n%s", r.out);
    free(page);
    /* the pairing page of that session, fetched at the advertised address */
    const char *sid = strstr(r.out, "/pair?session_id=") + strlen("/pair?session_id=");
    char id[80];
    size_t n = strcspn(sid, "\n \r");
    ck_assert_uint_lt(n, sizeof(id));
    memcpy(id, sid, n);
    id[n] = '\0';
    hlt_cli_free(&r);
    url = hl_asprintf("%s/pair?session_id=%s", base, id);
    body = fetch(url, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(strstr(body, base) != NULL, "the pairing page does not show %s", base);
    ck_assert_msg(strstr(body, LAN_HOST) == NULL, "the pairing page shows the LAN host");
    if (strstr(base, "127.0.0.1") == NULL)
        ck_assert_msg(strstr(body, "127.0.0.1") == NULL, "the pairing page shows 127.0.0.1");
    free(body);
    free(url);

    hlt_pairing_t p;
    hlt_pair_cli(env, &p);
    json_t *qr = json_object_get(p.json, "qr_payload");
    json_t *qr_pref = json_object_get(qr, "preferred_urls");
    char *qr_text = json_dumps(qr, JSON_COMPACT);
    ck_assert_msg(json_array_size(qr_pref) == 1 && strcmp(json_string_value(json_array_get(qr_pref, 0)), base) == 0, "QR: %s",
                  qr_text);
    ck_assert_msg(json_array_size(json_object_get(qr, "lan_ips")) == 0, "QR: %s", qr_text);
    free(qr_text);
    hlt_pairing_free(&p);
}

/* _i == 0: --listen ::1 → http://[::1]:port; _i == 1: --listen 127.0.0.1 with a lanHost → only the loopback URL */
START_TEST(test_advertised_addresses)
{
    const char *listen = _i == 0 ? "::1" : "127.0.0.1";
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"lanHost\": \"" LAN_HOST "\"}\n");
    hlt_daemon_opts_t o = {.env = &env, .listen = listen};
    hlt_daemon_t d;
    hlt_daemon_start(&d, &o);
    char *base = _i == 0 ? hl_asprintf("http://[::1]:%d", d.port) : hl_asprintf("http://127.0.0.1:%d", d.port);
    assert_advertised(&env, base);
    free(base);
    hlt_assert_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- the README's walk-through, run as written ---- */

#define WALK_BEGIN "<!-- walkthrough:begin -->"
#define WALK_END "<!-- walkthrough:end -->"

/* The shell lines of the README's marked blocks (inside ```sh fences), in order; "" when there is none. Caller frees. */
static char *walkthrough_script(const char *readme)
{
    size_t cap = strlen(readme) + 1, len = 0;
    char *out = hl_malloc(cap);
    out[0] = '\0';
    for (const char *p = strstr(readme, WALK_BEGIN); p != NULL; p = strstr(p, WALK_BEGIN)) {
        const char *end = strstr(p, WALK_END);
        ck_assert_msg(end != NULL, "README.md: %s without %s", WALK_BEGIN, WALK_END);
        const char *fence = strstr(p, "```sh\n");
        ck_assert_msg(fence != NULL && fence < end, "README.md: a walk-through block without a ```sh fence");
        const char *code = fence + strlen("```sh\n"), *close = strstr(code, "```");
        ck_assert_msg(close != NULL && close < end, "README.md: an unclosed ```sh fence in the walk-through");
        memcpy(out + len, code, (size_t)(close - code));
        len += (size_t)(close - code);
        out[len] = '\0';
        p = end + strlen(WALK_END);
    }
    return out;
}

/* text with every "18642" (the default port) replaced by port. Caller frees. */
static char *with_port(const char *text, int port)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", port);
    size_t n = hlt_count(text, "18642");
    char *out = hl_malloc(strlen(text) + n * strlen(num) + 1), *o = out;
    for (const char *p = text;;) {
        const char *hit = strstr(p, "18642");
        size_t keep = hit != NULL ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, keep);
        o += keep;
        if (hit == NULL)
            break;
        memcpy(o, num, strlen(num));
        o += strlen(num);
        p = hit + 5;
    }
    *o = '\0';
    return out;
}

START_TEST(test_readme_walkthrough)
{
    ck_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); /* the daemon `hermeslink start` detaches comes back here */
    char *readme = hlt_read_file(HL_SOURCE_DIR "/README.md", NULL);
    ck_assert_ptr_nonnull(readme);
    ck_assert_msg(strstr(readme, "../shared") == NULL, "README.md links outside the repository");
    char *blocks = walkthrough_script(readme);
    ck_assert_msg(strstr(blocks, "hermeslink start") != NULL && strstr(blocks, "hermeslink pair") != NULL &&
                      strstr(blocks, "/api/v1/pairing/claim") != NULL,
                  "README.md has no walk-through from start and pair to a claim:\n%s", blocks);

    hlt_env_t env;
    hlt_env_init(&env);
    int port = hlt_free_port();
    /* the port the README's 18642 becomes, and TLS off so that nothing else is bound */
    char *config = hl_asprintf("{\"port\": %d, \"tlsPort\": 0}\n", port);
    hlt_env_write_config(&env, config);
    free(config);
    char *bin = hlt_env_path(&env, 0, "bin"), *link = hlt_env_path(&env, 0, "bin/hermeslink");
    ck_assert_int_eq(mkdir(bin, 0700), 0);
    ck_assert_int_eq(symlink(hlt_binary(), link), 0);
    char *work = hlt_env_path(&env, 0, "work");
    ck_assert_int_eq(mkdir(work, 0700), 0);
    /* the README's lines with this test's port, run by bash -e in an empty directory with the binary first on PATH */
    char *body = with_port(blocks, port);
    char *script = hl_asprintf("set -e -o pipefail\ncd '%s'\nexport HERMESLINK_HOME='%s'\nexport PATH='%s':\"$PATH\"\n%s", work,
                               env.home, bin, body);
    char *script_path = hlt_env_path(&env, 0, "walkthrough.sh");
    hlt_write_file(script_path, script);
    char *out_path = hlt_env_path(&env, 0, "walkthrough.out"), *err_path = hlt_env_path(&env, 0, "walkthrough.err");
    char *argv[] = {"/bin/bash", script_path, NULL};
    pid_t pid = hlt_spawn(argv, out_path, err_path);
    int status = 0;
    int done = hlt_wait_exit(pid, &status, 60000);
    char *out = hlt_read_file(out_path, NULL), *err = hlt_read_file(err_path, NULL);

    /* stop the daemon whatever happened, then judge */
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "stop", NULL);
    hlt_cli_free(&r);
    ck_assert_msg(done && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the README's walk-through failed (status 0x%x):\n%s\n%s\n%s", status, script, out != NULL ? out : "",
                  err != NULL ? err : "");
    /* the last two lines: GET /auth/me and GET /conversations, 200 (curl -f) with the expected JSON */
    ck_assert_ptr_nonnull(out);
    char *me_line = NULL, *conv_line = NULL;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] != '{')
            continue;
        me_line = conv_line;
        conv_line = line;
    }
    ck_assert_msg(me_line != NULL && conv_line != NULL, "walk-through output: %s", out);
    json_t *me = json_loads(me_line, 0, NULL), *convs = json_loads(conv_line, 0, NULL);
    ck_assert_msg(me != NULL && json_is_true(json_object_get(me, "ok")), "/auth/me: %s", me_line);
    ck_assert_str_eq(hlt_str(json_object_get(me, "auth"), "kind"), "device");
    ck_assert_str_eq(hlt_str(json_object_get(me, "device"), "label"), "my laptop");
    ck_assert_msg(convs != NULL && json_is_true(json_object_get(convs, "ok")) &&
                      json_is_array(json_object_get(convs, "conversations")),
                  "/conversations: %s", conv_line);
    json_decref(me);
    json_decref(convs);
    char *log = hlt_env_path(&env, 1, "logs/daemon.log");
    const char *report = hlt_sanitizer_report(log);
    ck_assert_msg(report == NULL, "%s", report);
    free(log);
    free(out);
    free(err);
    free(out_path);
    free(err_path);
    free(script_path);
    free(script);
    free(body);
    free(work);
    free(link);
    free(bin);
    free(blocks);
    free(readme);
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
    TCase *addr = tcase_create("advertised");
    tcase_set_timeout(addr, 120);
    tcase_add_loop_test(addr, test_advertised_addresses, 0, 2);
    suite_add_tcase(s, addr);
    TCase *walk = tcase_create("readme");
    tcase_set_timeout(walk, 120);
    tcase_add_test(walk, test_readme_walkthrough);
    suite_add_tcase(s, walk);
    return s;
}
