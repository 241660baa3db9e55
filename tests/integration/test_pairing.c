/*
 * Pairing (spec/API.md §2 GET /pair and §4, spec/FLOWS.md §2, spec/CLI.md §2.5, as the issue amends them): session
 * queries (never the code), single-use claims whose claimed flag the very next query shows, expiry on the test clock,
 * claim errors, the lock-out of a session after 5 wrong codes, per-address rate limits (429 with Retry-After) that only
 * failures naming an existing session feed (made-up session ids never lock anyone out), the pairing page, app-instance
 * reuse (a revoked device never comes back), racing claims, and `hermeslink pair` in text and JSON, including starting
 * the daemon.
 *
 * The daemon counts failed pairing attempts per client address (each loopback address is one of its own), so tests that
 * share a daemon connect from loopback addresses of their own (hlt_api_set_source).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_util.h"
#include "hl/common.h"

static hlt_daemon_t daemon_;
#define D (&daemon_)
#define P ((hlt_proto_t)_i)

static void setup(void)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_start(&daemon_, &o);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "pairing daemon");
}

static char *session_path(const char *param, const char *id)
{
    return hl_asprintf("/api/v1/pairing/session?%s=%s", param, id);
}

/* GET /api/v1/pairing/session?session_id=id; returns the response (caller frees). */
static void get_session(const hlt_daemon_t *d, hlt_proto_t proto, const char *id, hlt_response_t *res)
{
    char *path = session_path("session_id", id);
    hlt_api(d, proto, "GET", path, NULL, NULL, res);
    free(path);
}

/* Asserts a 200 session answer for pairing p and returns its "claimed". */
static int assert_session(const hlt_response_t *res, const hlt_pairing_t *p)
{
    hlt_assert_ok(res);
    hlt_assert_header(res, "cache-control", "no-store");
    hlt_assert_keys(res->json, "session answer", "ok", "session", NULL);
    json_t *s = json_object_get(res->json, "session");
    hlt_assert_keys(s, "session", "session_id", "link_id", "display_name", "local_api_url", "preferred_urls", "created_at",
                    "expires_at", "claimed", NULL);
    ck_assert_str_eq(hlt_str(s, "session_id"), p->session_id);
    ck_assert_str_eq(hlt_str(s, "link_id"), p->link_id);
    ck_assert_str_eq(hlt_str(s, "display_name"), "Hermes Link");
    ck_assert_str_eq(hlt_str(s, "expires_at"), p->expires_at);
    ck_assert_msg(hlt_iso(s, "expires_at") - hlt_iso(s, "created_at") == HLT_CONNECT_TTL_MS, "a session lives 5 minutes: %s",
                  res->body);
    json_t *urls = json_object_get(s, "preferred_urls");
    ck_assert_msg(json_is_array(urls), "preferred_urls is not an array");
    ck_assert(json_equal(urls, json_object_get(json_object_get(p->json, "qr_payload"), "preferred_urls")));
    if (json_array_size(urls) > 0)
        ck_assert_str_eq(hlt_str(s, "local_api_url"), json_string_value(json_array_get(urls, 0)));
    ck_assert_msg(strncmp(hlt_str(s, "local_api_url"), "http://", 7) == 0, "local_api_url %s", hlt_str(s, "local_api_url"));
    ck_assert_msg(strstr(res->body, p->connect_token) == NULL, "the session answer reveals the code: %s", res->body);
    ck_assert_msg(json_object_get(s, "code") == NULL && json_object_get(s, "claim_token") == NULL, "code in %s", res->body);
    json_t *claimed = json_object_get(s, "claimed");
    ck_assert_msg(json_is_boolean(claimed), "claimed is not a boolean");
    return json_is_true(claimed);
}

static char *claim_body(const char *session_id, const char *token, const char *extra)
{
    return hl_asprintf("{\"session_id\":\"%s\",\"claim_token\":\"%s\"%s%s}", session_id, token, extra != NULL ? "," : "",
                       extra != NULL ? extra : "");
}

static void claim(const hlt_daemon_t *d, hlt_proto_t proto, const char *session_id, const char *token, const char *extra,
                  hlt_response_t *res)
{
    char *body = claim_body(session_id, token, extra);
    hlt_api(d, proto, "POST", "/api/v1/pairing/claim", NULL, body, res);
    free(body);
}

static void expect_claim_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *body, long status, const char *code)
{
    hlt_response_t res;
    hlt_api(d, proto, "POST", "/api/v1/pairing/claim", NULL, body, &res);
    ck_assert_msg(res.status == status, "claim %s over %s: expected %ld %s, got %ld %s", body, hlt_proto_name(proto), status, code,
                  res.status, res.body);
    hlt_assert_error(d, &res, status, code);
    hlt_response_free(&res);
}

static void expect_session_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *path, long status, const char *code)
{
    hlt_response_t res;
    hlt_api(d, proto, "GET", path, NULL, NULL, &res);
    ck_assert_msg(res.status == status, "GET %s over %s: expected %ld %s, got %ld %s", path, hlt_proto_name(proto), status, code,
                  res.status, res.body);
    hlt_assert_error(d, &res, status, code);
    hlt_response_free(&res);
}

/* ---- session query ---- */

START_TEST(test_session_query)
{
    hlt_api_set_source("127.0.1.%d", _i + 1);
    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    hlt_response_t res;
    get_session(D, P, p.session_id, &res);
    ck_assert_msg(!assert_session(&res, &p), "a new session is not claimed");
    hlt_response_free(&res);
    char *path = session_path("sessionId", p.session_id);
    hlt_api(D, P, "GET", path, NULL, NULL, &res);
    free(path);
    ck_assert(!assert_session(&res, &p));
    hlt_response_free(&res);

    expect_session_error(D, P, "/api/v1/pairing/session", 400, "pairing_session_required");
    expect_session_error(D, P, "/api/v1/pairing/session?session_id=", 400, "pairing_session_required");
    expect_session_error(D, P, "/api/v1/pairing/session?other=ps_x", 400, "pairing_session_required");
    expect_session_error(D, P, "/api/v1/pairing/session?session_id=ps_AAAAAAAAAAAAAAAA", 404, "pairing_session_not_found");
    expect_session_error(D, P, "/api/v1/pairing/session?sessionId=ps_nope", 404, "pairing_session_not_found");
    expect_session_error(D, P, "/api/v1/pairing/session?session_id=..%2F..%2Fidentity", 404, "pairing_session_not_found");
    /* the code is no session id */
    path = session_path("session_id", p.connect_token);
    expect_session_error(D, P, path, 404, "pairing_session_not_found");
    free(path);
    hlt_pairing_free(&p);
}
END_TEST

/* ---- claims ---- */

START_TEST(test_claim)
{
    hlt_api_set_source("127.0.2.%d", _i + 1);
    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    int64_t now = hlt_daemon_now(D);
    hlt_response_t res;
    claim(D, P, p.session_id, p.connect_token,
          "\"device_label\":\"  Phone  \",\"device_platform\":\" IOS \",\"device_model\":\"iPhone 15\"", &res);
    hlt_device_t dev;
    hlt_assert_session(&res, 1, p.link_id, now, &dev);
    hlt_response_free(&res);
    json_t *device = json_object_get(dev.json, "device");
    ck_assert_str_eq(hlt_str(device, "label"), "Phone");
    ck_assert_str_eq(hlt_str(device, "platform"), "ios");
    ck_assert_str_eq(hlt_str(device, "model"), "iPhone 15");
    hlt_assert_accepted(D, P, dev.access, dev.id);

    /* the very next query shows it claimed */
    get_session(D, P, p.session_id, &res);
    ck_assert_msg(assert_session(&res, &p), "the session is not claimed right after the claim: %s", res.body);
    hlt_response_free(&res);

    /* single use: a second claim, and the connect token is used up too */
    char *body = claim_body(p.session_id, p.connect_token, NULL);
    expect_claim_error(D, P, body, 409, "pairing_session_already_claimed");
    free(body);
    body = hl_asprintf("{\"sessionId\":\"%s\",\"claimToken\":\"%s\"}", p.session_id, p.connect_token);
    expect_claim_error(D, P, body, 409, "pairing_session_already_claimed");
    free(body);
    body = claim_body(p.session_id, "wrong-code", NULL);
    expect_claim_error(D, P, body, 409, "pairing_session_already_claimed");
    free(body);
    hlt_api(D, P, "POST", "/api/v1/auth/device-session", p.connect_token, "{}", &res);
    hlt_assert_error(D, &res, 401, "auth_invalid");
    hlt_response_free(&res);
    hlt_assert_accepted(D, P, dev.access, dev.id);
    hlt_device_free(&dev);
    hlt_pairing_free(&p);

    /* camelCase fields claim too */
    hlt_pair(D->env, &p);
    body = hl_asprintf("{\"sessionId\":\"%s\",\"claimToken\":\"%s\",\"deviceLabel\":\"Tab\",\"devicePlatform\":\"Android\"}",
                       p.session_id, p.connect_token);
    hlt_api(D, P, "POST", "/api/v1/pairing/claim", NULL, body, &res);
    free(body);
    hlt_assert_session(&res, 1, p.link_id, -1, &dev);
    hlt_response_free(&res);
    ck_assert_str_eq(hlt_str(json_object_get(dev.json, "device"), "label"), "Tab");
    ck_assert_str_eq(hlt_str(json_object_get(dev.json, "device"), "platform"), "android");
    hlt_device_free(&dev);
    hlt_pairing_free(&p);

    /* a connect token used by device-session cannot claim its session any more */
    hlt_pair(D->env, &p);
    hlt_device_session(D, P, p.connect_token, NULL, &dev);
    body = claim_body(p.session_id, p.connect_token, NULL);
    hlt_api(D, P, "POST", "/api/v1/pairing/claim", NULL, body, &res);
    free(body);
    ck_assert_msg(res.status == 409, "claim with a connect token used by device-session: %ld %s", res.status, res.body);
    hlt_assert_error(D, &res, 409, "pairing_session_already_claimed");
    hlt_response_free(&res);
    hlt_device_free(&dev);
    hlt_pairing_free(&p);
}
END_TEST

START_TEST(test_claim_errors)
{
    hlt_api_set_source("127.0.3.%d", _i + 1);
    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    char *both_empty = hl_asprintf("{\"session_id\":\"\",\"claim_token\":\"%s\"}", p.connect_token);
    char *no_token = hl_asprintf("{\"session_id\":\"%s\"}", p.session_id);
    char *empty_token = hl_asprintf("{\"session_id\":\"%s\",\"claim_token\":\"\"}", p.session_id);
    char *numeric_token = hl_asprintf("{\"session_id\":\"%s\",\"claim_token\":12345}", p.session_id);
    char *no_session = hl_asprintf("{\"claim_token\":\"%s\"}", p.connect_token);
    const char *invalid[] = {"{}", "", "[]", "\"x\"", both_empty, no_token, empty_token, numeric_token, no_session};
    for (size_t i = 0; i < HL_ARRAY_SIZE(invalid); ++i)
        expect_claim_error(D, P, invalid[i], 400, "pairing_claim_invalid");
    free(both_empty);
    free(no_token);
    free(empty_token);
    free(numeric_token);
    free(no_session);

    char *body = claim_body("ps_AAAAAAAAAAAAAAAA", p.connect_token, NULL);
    expect_claim_error(D, P, body, 404, "pairing_session_not_found");
    free(body);
    body = claim_body("../../link.db", p.connect_token, NULL);
    expect_claim_error(D, P, body, 404, "pairing_session_not_found");
    free(body);

    /* a wrong code, and another session's code */
    hlt_pairing_t other;
    hlt_pair(D->env, &other);
    body = claim_body(p.session_id, other.connect_token, NULL);
    expect_claim_error(D, P, body, 409, "pairing_claim_mismatch");
    free(body);
    body = claim_body(p.session_id, "not-the-code", NULL);
    expect_claim_error(D, P, body, 409, "pairing_claim_mismatch");
    free(body);

    /* nothing of that claimed anything */
    hlt_response_t res;
    get_session(D, P, p.session_id, &res);
    ck_assert(!assert_session(&res, &p));
    hlt_response_free(&res);
    claim(D, P, p.session_id, p.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, p.link_id, -1, NULL);
    hlt_response_free(&res);
    hlt_pairing_free(&other);
    hlt_pairing_free(&p);
}
END_TEST

/* 5 wrong codes close a session, wherever they come from: from then on it answers like an expired one, even to the right
 * code. */
START_TEST(test_bad_code_lockout)
{
    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    char *wrong = claim_body(p.session_id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
    hlt_response_t res;
    for (int k = 0; k < 4; ++k) {
        hlt_api_set_source("127.4.%d.%d", _i, k + 1);
        expect_claim_error(D, P, wrong, 409, "pairing_claim_mismatch");
    }
    hlt_api_set_source("127.4.%d.10", _i);
    get_session(D, P, p.session_id, &res);
    ck_assert(!assert_session(&res, &p));
    hlt_response_free(&res);
    expect_claim_error(D, P, wrong, 409, "pairing_claim_mismatch");
    free(wrong);

    hlt_api_set_source("127.4.%d.11", _i);
    char *right = claim_body(p.session_id, p.connect_token, NULL);
    expect_claim_error(D, P, right, 404, "pairing_session_expired");
    free(right);
    char *path = session_path("session_id", p.session_id);
    expect_session_error(D, P, path, 404, "pairing_session_expired");
    free(path);
    hlt_pairing_free(&p);
}
END_TEST

/* Expiry on the test clock: unclaimed sessions expire after 5 minutes, claimed ones stay visible and claimed. */
START_TEST(test_expiry)
{
    hlt_api_set_source("127.0.7.1");
    hlt_pairing_t claimed, waiting, late;
    hlt_pair(D->env, &claimed);
    hlt_pair(D->env, &waiting);
    hlt_pair(D->env, &late);
    hlt_response_t res;
    claim(D, HLT_H2C, claimed.session_id, claimed.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, NULL, -1, NULL);
    hlt_response_free(&res);

    hlt_clock_advance(D, HLT_CONNECT_TTL_MS - 20000);
    get_session(D, HLT_H1, late.session_id, &res);
    ck_assert(!assert_session(&res, &late));
    hlt_response_free(&res);
    hlt_clock_advance(D, 25000);

    char *path = session_path("session_id", waiting.session_id);
    expect_session_error(D, HLT_H1, path, 404, "pairing_session_expired");
    free(path);
    char *body = claim_body(waiting.session_id, waiting.connect_token, NULL);
    expect_claim_error(D, HLT_H2C, body, 404, "pairing_session_expired");
    free(body);
    hlt_api(D, HLT_H1, "POST", "/api/v1/auth/device-session", waiting.connect_token, NULL, &res);
    hlt_assert_error(D, &res, 401, "auth_invalid");
    hlt_response_free(&res);

    /* a claimed session is still there, claimed, and a second claim is still "already claimed" */
    get_session(D, HLT_H2C, claimed.session_id, &res);
    ck_assert_msg(assert_session(&res, &claimed), "an expired claimed session is not reported claimed");
    hlt_response_free(&res);
    body = claim_body(claimed.session_id, claimed.connect_token, NULL);
    expect_claim_error(D, HLT_H1, body, 409, "pairing_session_already_claimed");
    free(body);

    /* the pairing page still answers for both */
    path = hl_asprintf("/pair?session_id=%s", waiting.session_id);
    hlt_api(D, HLT_H1, "GET", path, NULL, NULL, &res);
    free(path);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    hlt_pairing_free(&late);
    hlt_pairing_free(&waiting);
    hlt_pairing_free(&claimed);
}
END_TEST

/* ---- GET /pair ---- */

/* url with '&' as the page's HTML writes it (&amp;). Caller frees. */
static char *html_amp(const char *url)
{
    const char *amp = strchr(url, '&');
    ck_assert_msg(amp != NULL, "no & in %s", url);
    return hl_asprintf("%.*s&amp;%s", (int)(amp - url), url, amp + 1);
}

/*
 * The page of a waiting session (body) holds two QR codes: the app's, then the one of the web client URL
 * `<base>/app#session=…&code=…`, which the page also shows as text; its "Pair on this device" button goes to the same
 * fragment on the page's own origin (a path, no host). The daemon's `pair` answer (p) carries the same web_client_url.
 */
static void assert_web_client(const char *body, const hlt_pairing_t *p, const char *base)
{
    ck_assert_msg(hlt_count(body, "<svg") == 2, "%zu QR codes in the page, expected 2", hlt_count(body, "<svg"));
    const char *app_qr = strstr(body, "id=\"qr\""), *web_qr = strstr(body, "id=\"web-qr\"");
    ck_assert_msg(app_qr != NULL && web_qr != NULL && app_qr < web_qr, "the app QR, then the web client QR");
    ck_assert_msg(strstr(web_qr, "<svg") != NULL && strstr(web_qr, "<svg") < strstr(web_qr, "</div>"), "no SVG in #web-qr");
    char *url = hl_asprintf("%s/app#session=%s&code=%s", base, p->session_id, p->connect_token);
    ck_assert_str_eq(hlt_str(p->json, "web_client_url"), url);
    char *html = html_amp(url);
    char *shown = hl_asprintf("<code id=\"web-url\">%s</code>", html);
    ck_assert_msg(strstr(body, shown) != NULL, "the page does not show %s", shown);
    char *here = hl_asprintf("/app#session=%s&code=%s", p->session_id, p->connect_token);
    char *here_html = html_amp(here);
    char *button = hl_asprintf("data-href=\"%s\">Pair on this device</button>", here_html);
    ck_assert_msg(strstr(body, button) != NULL, "the button does not go to %s", here);
    free(button);
    free(here_html);
    free(here);
    free(shown);
    free(html);
    free(url);
}

static void assert_text(const hlt_response_t *res, long status, const char *body)
{
    ck_assert_msg(res->status == status, "expected %ld, got %ld: %s", status, res->status, res->body);
    const char *ct = hlt_header(res, "content-type");
    ck_assert_msg(ct != NULL && strcmp(ct, "text/plain; charset=utf-8") == 0, "content-type %s", ct != NULL ? ct : "(absent)");
    ck_assert_str_eq(res->body, body);
    hlt_assert_cors(res);
}

START_TEST(test_pair_page)
{
    hlt_api_set_source("127.0.5.%d", _i + 1);
    hlt_response_t res;
    hlt_api(D, P, "GET", "/pair", NULL, NULL, &res);
    assert_text(&res, 400, "Missing session_id");
    hlt_response_free(&res);
    hlt_api(D, P, "GET", "/pair?session_id=", NULL, NULL, &res);
    assert_text(&res, 400, "Missing session_id");
    hlt_response_free(&res);
    hlt_api(D, P, "GET", "/pair?session_id=ps_AAAAAAAAAAAAAAAA", NULL, NULL, &res);
    assert_text(&res, 404, "Pairing session not found");
    hlt_response_free(&res);

    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    const char *url = json_string_value(json_array_get(json_object_get(p.json, "pairing_page_urls"), 0));
    ck_assert_msg(url != NULL && strstr(url, "/pair?session_id=") != NULL, "pairing page url %s", url);
    const char *path = strstr(url + strlen("http://"), "/pair?");
    hlt_api(D, P, "GET", path, NULL, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_assert_header(&res, "content-type", "text/html; charset=utf-8");
    hlt_assert_header(&res, "cache-control", "no-store");
    hlt_assert_cors(&res);
    ck_assert_msg(strstr(res.body, "Hermes Link Pairing") != NULL, "the page has no title");
    ck_assert_msg(strstr(res.body, p.session_id) != NULL, "the page does not show its session id");
    /* listening on loopback only, no publicUrl: the web client is offered at the first (the only) preferred URL */
    char *base = hl_asprintf("http://127.0.0.1:%d", D->port);
    json_t *preferred = json_object_get(json_object_get(p.json, "qr_payload"), "preferred_urls");
    ck_assert_str_eq(json_string_value(json_array_get(preferred, 0)), base);
    assert_web_client(res.body, &p, base);
    free(base);
    hlt_response_free(&res);
    hlt_pairing_free(&p);
}
END_TEST

/* Whether the file at path (absent: no) contains needle. */
static int file_has(const char *path, const char *needle)
{
    size_t len;
    char *text = hlt_read_file(path, &len);
    int found = text != NULL && hlt_count(text, needle) > 0;
    free(text);
    return found;
}

/* With publicUrl the web client is offered there (over HTTP/1.1 and h2c), a browser claiming from the fragment is signed
 * in, and the code never reaches a log: not the daemon's output, not its log files (at debug level). */
START_TEST(test_pair_page_public_url)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_env_write_config(&env, "{\"publicUrl\":\"https://link.example.com\"}\n");
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.env = &env, .log_level = "debug"};
    hlt_daemon_start(&d, &o);
    hlt_pairing_t p;
    hlt_pair(d.env, &p);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(p.json, "qr_payload"), "preferred_urls"), 0)),
                     "https://link.example.com");
    char *path = hl_asprintf("/pair?session_id=%s", p.session_id);
    for (hlt_proto_t proto = HLT_H1; proto <= HLT_H2C; ++proto) {
        hlt_response_t res;
        hlt_api(&d, proto, "GET", path, NULL, NULL, &res);
        ck_assert_msg(res.status == 200, "%s: GET /pair %ld", hlt_proto_name(proto), res.status);
        assert_web_client(res.body, &p, "https://link.example.com");
        hlt_response_free(&res);
    }
    free(path);
    /* what the web client does with the fragment: the claim, the code in the body */
    hlt_response_t res;
    claim(&d, HLT_H2C, p.session_id, p.connect_token, "\"device_platform\":\"web\"", &res);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    char *token = hl_strdup(p.connect_token);
    hlt_pairing_free(&p);
    const char *report = hlt_daemon_stop(&d);
    ck_assert_msg(report == NULL, "the daemon did not stop clean: %.1500s", report);
    ck_assert_msg(!file_has(d.out_path, token) && !file_has(d.err_path, token), "the code is in the daemon's output");
    char *logs = hlt_env_path(&env, 1, "logs");
    DIR *dir = opendir(logs);
    ck_assert_msg(dir != NULL, "no %s", logs);
    int files = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char *f = hl_asprintf("%s/%s", logs, e->d_name);
        ck_assert_msg(!file_has(f, token), "the code is in %s", f);
        ++files;
        free(f);
    }
    closedir(dir);
    ck_assert_msg(files > 0, "no log file in %s", logs);
    free(logs);
    free(token);
    hlt_daemon_dispose(&d);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- app instances ---- */

START_TEST(test_app_instance)
{
    hlt_api_set_source("127.0.6.1");
    const hlt_proto_t proto = HLT_H2_TLS;
    hlt_device_t watcher;
    hlt_enroll(D, proto, NULL, &watcher);
    static const char appi[] = "appi_Instance-0123456789_abc";
    char extra[128];
    snprintf(extra, sizeof(extra), "\"app_instance_id\":\"%s\",\"device_label\":\"First\"", appi);

    hlt_pairing_t p;
    hlt_response_t res;
    hlt_device_t first, again, fresh;
    hlt_pair(D->env, &p);
    claim(D, proto, p.session_id, p.connect_token, extra, &res);
    hlt_assert_session(&res, 1, NULL, -1, &first);
    hlt_response_free(&res);
    hlt_pairing_free(&p);
    json_t *list = hlt_list_devices(D, proto, watcher.access);
    size_t total = (size_t)json_integer_value(json_object_get(json_object_get(list, "summary"), "total"));
    ck_assert_msg(json_is_true(json_object_get(hlt_find_device(list, first.id), "app_instance_bound")), "claim did not bind");
    json_decref(list);

    /* while the bound device is active, the same app instance gets it back: same id, new tokens, new label */
    hlt_pair(D->env, &p);
    snprintf(extra, sizeof(extra), "\"appInstanceId\":\"%s\",\"deviceLabel\":\"Second\"", appi);
    claim(D, proto, p.session_id, p.connect_token, extra, &res);
    hlt_assert_session(&res, 1, NULL, -1, &again);
    hlt_response_free(&res);
    hlt_pairing_free(&p);
    ck_assert_str_eq(again.id, first.id);
    ck_assert_str_eq(hlt_str(json_object_get(again.json, "device"), "label"), "Second");
    ck_assert_str_ne(again.access, first.access);
    ck_assert_str_ne(again.refresh, first.refresh);
    hlt_assert_accepted(D, proto, again.access, first.id);
    hlt_assert_refused(D, proto, first.access, "device_access_token_invalid");
    list = hlt_list_devices(D, proto, watcher.access);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(list, "summary"), "total")), (json_int_t)total);
    json_decref(list);

    /* revoked: a later pairing with the same app instance makes a new device, the revoked one stays revoked */
    char *path = hl_asprintf("/api/v1/devices/%s", first.id);
    hlt_api(D, proto, "DELETE", path, watcher.access, NULL, &res);
    free(path);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    hlt_pair(D->env, &p);
    snprintf(extra, sizeof(extra), "\"app_instance_id\":\"%s\"", appi);
    claim(D, proto, p.session_id, p.connect_token, extra, &res);
    hlt_assert_session(&res, 1, NULL, -1, &fresh);
    hlt_response_free(&res);
    hlt_pairing_free(&p);
    ck_assert_msg(strcmp(fresh.id, first.id) != 0, "a revoked device came back through a pairing");
    hlt_assert_refused(D, proto, again.access, "device_access_token_invalid");
    hlt_assert_accepted(D, proto, fresh.access, fresh.id);
    list = hlt_list_devices(D, proto, watcher.access);
    ck_assert_str_eq(hlt_str(hlt_find_device(list, first.id), "status"), "revoked");
    json_t *item = hlt_find_device(list, fresh.id);
    ck_assert_str_eq(hlt_str(item, "status"), "active");
    ck_assert(json_is_true(json_object_get(item, "app_instance_bound")));
    json_decref(list);
    hlt_refresh(D, proto, again.refresh, &res);
    hlt_assert_error(D, &res, 401, "refresh_token_invalid");
    hlt_response_free(&res);
    hlt_device_free(&fresh);
    hlt_device_free(&again);
    hlt_device_free(&first);

    /* ids that are not appi_ + 16..96 of [A-Za-z0-9_-] bind nothing: each claim is a device of its own */
    char id97[128];
    memcpy(id97, "appi_", 5);
    memset(id97 + 5, 'x', 97);
    id97[102] = '\0';
    const char *invalid[] = {"appi_0123456789abcde", "appi_0123456789abcde!", "APPI_0123456789abcdef", id97};
    for (size_t i = 0; i < HL_ARRAY_SIZE(invalid); ++i) {
        char *ids[2];
        for (int k = 0; k < 2; ++k) {
            hlt_pair(D->env, &p);
            char *x = hl_asprintf("\"app_instance_id\":\"%s\"", invalid[i]);
            claim(D, proto, p.session_id, p.connect_token, x, &res);
            free(x);
            hlt_device_t dev;
            hlt_assert_session(&res, 1, NULL, -1, &dev);
            hlt_response_free(&res);
            hlt_pairing_free(&p);
            ids[k] = hl_strdup(dev.id);
            hlt_device_free(&dev);
        }
        ck_assert_msg(strcmp(ids[0], ids[1]) != 0, "the invalid app instance id %s was bound", invalid[i]);
        list = hlt_list_devices(D, proto, watcher.access);
        ck_assert(json_is_false(json_object_get(hlt_find_device(list, ids[0]), "app_instance_bound")));
        json_decref(list);
        free(ids[0]);
        free(ids[1]);
    }
    /* the bounds themselves are valid: 16 and 96 characters */
    char id96[128];
    memcpy(id96, "appi_", 5);
    memset(id96 + 5, 'y', 96);
    id96[101] = '\0';
    const char *valid[] = {"appi_0123456789abcdef", id96};
    for (size_t i = 0; i < HL_ARRAY_SIZE(valid); ++i) {
        char *ids[2];
        for (int k = 0; k < 2; ++k) {
            hlt_pair(D->env, &p);
            char *x = hl_asprintf("\"app_instance_id\":\"%s\"", valid[i]);
            claim(D, proto, p.session_id, p.connect_token, x, &res);
            free(x);
            hlt_device_t dev;
            hlt_assert_session(&res, 1, NULL, -1, &dev);
            hlt_response_free(&res);
            hlt_pairing_free(&p);
            ids[k] = hl_strdup(dev.id);
            hlt_device_free(&dev);
        }
        ck_assert_msg(strcmp(ids[0], ids[1]) == 0, "the valid app instance id %s was not reused", valid[i]);
        free(ids[0]);
        free(ids[1]);
    }
    hlt_device_free(&watcher);
}
END_TEST

/* ---- racing claims ---- */

static json_int_t device_total(hlt_proto_t proto, const char *bearer)
{
    json_t *list = hlt_list_devices(D, proto, bearer);
    json_int_t n = json_integer_value(json_object_get(json_object_get(list, "summary"), "total"));
    ck_assert_int_eq(n, (json_int_t)json_array_size(json_object_get(list, "devices")));
    json_decref(list);
    return n;
}

START_TEST(test_concurrent_claims)
{
    static const hlt_proto_t protos[] = {HLT_H1, HLT_H2C_UPGRADE, HLT_H2_TLS};
    hlt_proto_t proto = protos[_i];
    hlt_api_set_source("127.0.8.%d", _i + 1);
    hlt_device_t watcher;
    hlt_enroll(D, proto, NULL, &watcher);
    json_int_t before = device_total(proto, watcher.access);

    hlt_pairing_t p;
    hlt_pair(D->env, &p);
    enum { N = 8 };
    const char *paths[N], *bodies[N];
    char *body = claim_body(p.session_id, p.connect_token, NULL);
    for (int i = 0; i < N; ++i) {
        paths[i] = "/api/v1/pairing/claim";
        bodies[i] = body;
    }
    hlt_response_t res[N];
    hlt_parallel(D, proto, N, "POST", paths, NULL, bodies, res);
    free(body);
    int won = -1;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 200) {
            ck_assert_msg(won < 0, "claims %d and %d both succeeded", won, i);
            won = i;
            hlt_assert_session(&res[i], 1, p.link_id, -1, NULL);
        } else {
            hlt_assert_error(D, &res[i], 409, "pairing_session_already_claimed");
        }
    }
    ck_assert_msg(won >= 0, "no claim succeeded");
    ck_assert_int_eq(device_total(proto, watcher.access), before + 1);
    for (int i = 0; i < N; ++i)
        hlt_response_free(&res[i]);
    hlt_pairing_free(&p);

    /* claims and device-sessions racing for one pair: one wins */
    hlt_pair(D->env, &p);
    const char *bearers[N];
    body = claim_body(p.session_id, p.connect_token, NULL);
    for (int i = 0; i < N; ++i) {
        paths[i] = i % 2 == 0 ? "/api/v1/pairing/claim" : "/api/v1/auth/device-session";
        bearers[i] = i % 2 == 0 ? NULL : p.connect_token;
        bodies[i] = i % 2 == 0 ? body : "{}";
    }
    hlt_parallel(D, proto, N, "POST", paths, bearers, bodies, res);
    free(body);
    int wins = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 200)
            ++wins;
        else if (i % 2 == 0)
            hlt_assert_error(D, &res[i], 409, "pairing_session_already_claimed");
        else
            hlt_assert_error(D, &res[i], 401, "auth_invalid");
        hlt_response_free(&res[i]);
    }
    ck_assert_int_eq(wins, 1);
    ck_assert_int_eq(device_total(proto, watcher.access), before + 2);
    hlt_pairing_free(&p);
    hlt_device_free(&watcher);
}
END_TEST

/* ---- rate limits (a daemon per test) ---- */

static void expect_limited(const hlt_daemon_t *d, hlt_proto_t proto, const char *method, const char *path, const char *body)
{
    hlt_response_t res;
    hlt_api(d, proto, method, path, NULL, body, &res);
    ck_assert_msg(res.status == 429, "%s %s from a limited address: %ld %s", method, path, res.status, res.body);
    hlt_assert_error(d, &res, 429, "rate_limited");
    const char *ra = hlt_header(&res, "retry-after");
    ck_assert_msg(ra != NULL, "429 without Retry-After");
    char *end;
    long v = strtol(ra, &end, 10);
    ck_assert_msg(*end == '\0' && v >= 1 && v <= 60, "Retry-After: %s", ra);
    hlt_response_free(&res);
}

START_TEST(test_rate_limit)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_pairing_t target, taken;
    hlt_pair(d.env, &target);
    hlt_pair(d.env, &taken);
    hlt_response_t res;
    /* another address claims one session (so that "already claimed" is a failure of ours below) */
    hlt_api_set_source("127.0.9.2");
    claim(&d, HLT_H1, taken.session_id, taken.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, NULL, -1, NULL);
    hlt_response_free(&res);

    /* 30 failures a minute that name an existing session (a claimed one, a wrong code) are answered as such; unknown
     * session ids (issue 9: anyone behind the same NAT can make them up) and successes in between do not count */
    hlt_api_set_source("127.0.9.1");
    char *wrong = claim_body(target.session_id, "wrong-code", NULL);
    char *again = claim_body(taken.session_id, taken.connect_token, NULL);
    char *unknown_claim = claim_body("ps_AAAAAAAAAAAAAAAA", "x", NULL);
    char *target_path = session_path("session_id", target.session_id);
    int failures = 0;
    for (int k = 0; k < 26; ++k, ++failures) {
        expect_claim_error(&d, k % 2 ? HLT_H1 : HLT_H2C, again, 409, "pairing_session_already_claimed");
        if (k < 20) {
            expect_session_error(&d, k % 2 ? HLT_H1 : HLT_H2C, "/api/v1/pairing/session?session_id=ps_nope", 404,
                                 "pairing_session_not_found");
            expect_claim_error(&d, HLT_H1, unknown_claim, 404, "pairing_session_not_found");
        }
    }
    for (int k = 0; k < 4; ++k, ++failures) {
        get_session(&d, HLT_H1, target.session_id, &res);
        ck_assert_msg(res.status == 200, "a good lookup after %d failures: %ld %s", failures, res.status, res.body);
        hlt_response_free(&res);
        expect_claim_error(&d, HLT_H1, wrong, 409, "pairing_claim_mismatch");
    }
    ck_assert_int_eq(failures, 30);

    /* the 31st attempt of any kind is refused, also a good one, over any protocol */
    expect_limited(&d, HLT_H1, "GET", target_path, NULL);
    expect_limited(&d, HLT_H2C, "GET", "/api/v1/pairing/session?session_id=ps_nope", NULL);
    char *right = claim_body(target.session_id, target.connect_token, NULL);
    expect_limited(&d, HLT_H1, "POST", "/api/v1/pairing/claim", right);
    expect_limited(&d, HLT_H2C, "POST", "/api/v1/pairing/claim", wrong);

    /* per address: another one is not limited */
    hlt_api_set_source("127.0.9.3");
    get_session(&d, HLT_H1, target.session_id, &res);
    ck_assert(!assert_session(&res, &target));
    hlt_response_free(&res);

    /* after the minute it works again, and the refused attempts did not count as wrong codes */
    hlt_api_set_source("127.0.9.1");
    hlt_clock_advance(&d, 61000);
    get_session(&d, HLT_H2C, target.session_id, &res);
    ck_assert_msg(res.status == 200, "still limited after the window: %ld %s", res.status, res.body);
    ck_assert(!assert_session(&res, &target));
    hlt_response_free(&res);
    claim(&d, HLT_H1, target.session_id, target.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, NULL, -1, NULL);
    hlt_response_free(&res);

    free(right);
    free(target_path);
    free(unknown_claim);
    free(again);
    free(wrong);
    hlt_pairing_free(&taken);
    hlt_pairing_free(&target);
    hlt_assert_stop_clean(&d);
}
END_TEST

/* Made-up session ids, however many, are answered 404 and never counted: a client guessing them (or a broken app) does
 * not lock the real pairing of everyone behind the same address out (issue 9, finding 5). */
START_TEST(test_made_up_ids_never_lock_out)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_pairing_t p;
    hlt_pair(d.env, &p);
    hlt_api_set_source("127.0.10.1");
    hlt_response_t res;
    for (int k = 0; k < 40; ++k) {
        hlt_proto_t proto = k % 2 ? HLT_H1 : HLT_H2C;
        char *id = hl_asprintf("ps_guess%dAAAAAAAAAA", k);
        char *path = session_path(k % 3 ? "session_id" : "sessionId", id);
        expect_session_error(&d, proto, path, 404, "pairing_session_not_found");
        free(path);
        char *body = claim_body(id, p.connect_token, NULL);
        expect_claim_error(&d, proto, body, 404, "pairing_session_not_found");
        free(body);
        path = hl_asprintf("/pair?session_id=%s", id);
        hlt_api(&d, proto, "GET", path, NULL, NULL, &res);
        assert_text(&res, 404, "Pairing session not found");
        hlt_response_free(&res);
        free(path);
        free(id);
    }
    /* the same address pairs for real: the page, the session, the claim */
    char *page = hl_asprintf("/pair?session_id=%s", p.session_id);
    hlt_api(&d, HLT_H1, "GET", page, NULL, NULL, &res);
    ck_assert_msg(res.status == 200, "the pairing page after 120 made-up ids: %ld %s", res.status, res.body);
    hlt_response_free(&res);
    free(page);
    get_session(&d, HLT_H1, p.session_id, &res);
    ck_assert_msg(res.status == 200, "the session after 120 made-up ids: %ld %s", res.status, res.body);
    ck_assert(!assert_session(&res, &p));
    hlt_response_free(&res);
    claim(&d, HLT_H2C, p.session_id, p.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, p.link_id, -1, NULL);
    hlt_response_free(&res);
    hlt_pairing_free(&p);
    hlt_assert_stop_clean(&d);
}
END_TEST

/* Wrong codes lock the session they name (5 close it, from any address) and count for their address, not against other
 * sessions; made-up ids around them count for nothing. */
START_TEST(test_lockout_per_session)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_pairing_t guessed, other;
    hlt_pair(d.env, &guessed);
    hlt_pair(d.env, &other);
    hlt_api_set_source("127.0.11.1");
    char *unknown_claim = claim_body("ps_AAAAAAAAAAAAAAAA", guessed.connect_token, NULL);
    for (int k = 0; k < 30; ++k)
        expect_claim_error(&d, HLT_H1, unknown_claim, 404, "pairing_session_not_found");
    free(unknown_claim);
    char *wrong = claim_body(guessed.session_id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
    for (int k = 0; k < 5; ++k)
        expect_claim_error(&d, k % 2 ? HLT_H1 : HLT_H2C, wrong, 409, "pairing_claim_mismatch");
    free(wrong);

    /* the guessed session is closed for everyone, even to its right code */
    char *right = claim_body(guessed.session_id, guessed.connect_token, NULL);
    expect_claim_error(&d, HLT_H1, right, 404, "pairing_session_expired");
    hlt_api_set_source("127.0.11.2");
    expect_claim_error(&d, HLT_H2C, right, 404, "pairing_session_expired");
    free(right);

    /* the other session pairs, also from the address that guessed */
    hlt_api_set_source("127.0.11.1");
    hlt_response_t res;
    get_session(&d, HLT_H1, other.session_id, &res);
    ck_assert(!assert_session(&res, &other));
    hlt_response_free(&res);
    claim(&d, HLT_H1, other.session_id, other.connect_token, NULL, &res);
    hlt_assert_session(&res, 1, other.link_id, -1, NULL);
    hlt_response_free(&res);
    hlt_pairing_free(&other);
    hlt_pairing_free(&guessed);
    hlt_assert_stop_clean(&d);
}
END_TEST

/* ---- hermeslink pair ---- */

#define MAX_DETACHED 4
static pid_t detached[MAX_DETACHED];
static size_t num_detached;

static void kill_detached(void)
{
    for (size_t i = 0; i < num_detached; ++i) {
        int status;
        if (detached[i] > 0 && waitpid(detached[i], &status, WNOHANG) == 0) {
            kill(detached[i], SIGKILL);
            waitpid(detached[i], &status, 0);
        }
        detached[i] = 0;
    }
}

static void cli_setup(void)
{
    /* checked fixture: a daemon that `pair` detaches is re-parented to this test process, which can reap it */
    ck_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    num_detached = 0;
    atexit(kill_detached);
}

static const char *line_with(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (p == NULL)
        return NULL;
    while (p > text && p[-1] != '\n')
        --p;
    return p;
}

static char *line_at(const char *p)
{
    const char *nl = strchr(p, '\n');
    return hl_strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
}

/* The last whitespace-separated field of the line (what `awk '{print $NF}'` prints). */
static char *last_field(const char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        --len;
    size_t start = len;
    while (start > 0 && line[start - 1] != ' ' && line[start - 1] != '\t')
        --start;
    return hl_strndup(line + start, len - start);
}

/* Checks the text output of `pair` for a daemon on port; returns the connect token and session id (caller frees). */
static void check_pair_text(const char *out, int port, char **token, char **session_id)
{
    /* a QR block first: rows of block characters */
    const char *qr = strstr(out, "\xe2\x96\x88");
    ck_assert_msg(qr != NULL, "no QR code in:\n%s", out);
    size_t qr_rows = 0;
    for (const char *l = line_with(out, "\xe2\x96\x88"); l != NULL && *l != '\0' && *l != '\n';) {
        ++qr_rows;
        const char *nl = strchr(l, '\n');
        l = nl != NULL ? nl + 1 : NULL;
    }
    ck_assert_msg(qr_rows >= 10, "a QR code of %zu rows", qr_rows);

    const char *page = line_with(out, "Pairing page:");
    const char *sid = line_with(out, "Session ID:");
    const char *tok = line_with(out, "Connect token:");
    const char *claim_line = strstr(out, "/api/v1/pairing/claim");
    ck_assert_msg(page != NULL && sid != NULL && tok != NULL && claim_line != NULL, "pair output lacks lines:\n%s", out);
    ck_assert_msg(qr < page && page < sid && sid < tok && tok < claim_line, "pair output out of order:\n%s", out);

    char *sid_line = line_at(sid), *tok_line = line_at(tok), *page_line = line_at(page);
    ck_assert_msg(hlt_matches(sid_line, "^Session ID: {6}ps_[A-Za-z0-9_-]+$"), "session line: %s", sid_line);
    *session_id = last_field(sid_line);
    *token = last_field(tok_line);
    ck_assert_msg(hlt_matches(tok_line, "^Connect token: {3}[A-Za-z0-9_-]{43}$"), "token line: %s", tok_line);
    char *want_page = hl_asprintf("Pairing page:    http://127.0.0.1:%d/pair?session_id=%s", port, *session_id);
    ck_assert_msg(strcmp(page_line, want_page) == 0, "pairing page line \"%s\", expected \"%s\"", page_line, want_page);
    /* the instructions name the session */
    ck_assert_msg(strstr(claim_line, *session_id) != NULL, "the claim instructions do not name %s:\n%s", *session_id, out);
    char *post = hl_asprintf("POST http://127.0.0.1:%d/api/v1/pairing/claim", port);
    ck_assert_msg(strstr(out, post) != NULL, "no \"%s\" in:\n%s", post, out);
    free(post);
    free(want_page);
    free(page_line);
    free(tok_line);
    free(sid_line);
}

static void assert_token_works(const hlt_daemon_t *d, const char *session_id, const char *token)
{
    hlt_response_t res;
    char *path = session_path("session_id", session_id);
    hlt_api(d, HLT_H1, "GET", path, NULL, NULL, &res);
    free(path);
    hlt_assert_ok(&res);
    ck_assert(json_is_false(json_object_get(json_object_get(res.json, "session"), "claimed")));
    hlt_response_free(&res);
    hlt_device_t dev;
    hlt_device_session(d, HLT_H1, token, NULL, &dev);
    hlt_assert_accepted(d, HLT_H1, dev.access, dev.id);
    hlt_device_free(&dev);
}

START_TEST(test_pair_output)
{
    hlt_daemon_t d;
    hlt_daemon_start(&d, NULL);
    hlt_cli_result_t r;
    hlt_cli(d.env, &r, "pair", NULL);
    ck_assert_msg(r.exit_code == 0, "pair exited %d: %s %s", r.exit_code, r.out, r.err);
    ck_assert_msg(strstr(r.out, "not running") == NULL, "pair with a running daemon: %s", r.out);
    char *token, *sid;
    check_pair_text(r.out, d.port, &token, &sid);
    hlt_cli_free(&r);
    assert_token_works(&d, sid, token);
    free(token);
    free(sid);

    /* --json */
    int64_t now = hlt_daemon_now(&d);
    hlt_pairing_t p;
    hlt_pair_cli(d.env, &p);
    hlt_assert_keys(p.json, "pair --json", "qr_payload", "pairing_page_urls", "web_client_url", "session_id", "connect_token",
                    "expires_at", NULL);
    json_t *qr = json_object_get(p.json, "qr_payload");
    ck_assert_str_eq(hlt_str(qr, "kind"), "hermes_link_pairing");
    ck_assert_int_eq(json_integer_value(json_object_get(qr, "version")), 1);
    ck_assert_str_eq(hlt_str(qr, "display_name"), "Hermes Link");
    ck_assert_str_eq(hlt_str(qr, "session_id"), p.session_id);
    ck_assert_str_eq(hlt_str(qr, "code"), p.connect_token);
    hlt_response_t res;
    hlt_api(&d, HLT_H1, "GET", "/api/v1/bootstrap", NULL, NULL, &res);
    ck_assert_str_eq(hlt_str(res.json, "link_id"), p.link_id);
    hlt_response_free(&res);
    json_t *preferred = json_object_get(qr, "preferred_urls");
    ck_assert_msg(json_is_array(preferred) && json_array_size(preferred) > 0, "preferred_urls");
    char *want = hl_asprintf("%s/pair?session_id=%s", json_string_value(json_array_get(preferred, 0)), p.session_id);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p.json, "pairing_page_urls"), 0)), want);
    free(want);
    want = hl_asprintf("http://127.0.0.1:%d/app#session=%s&code=%s", d.port, p.session_id, p.connect_token);
    ck_assert_str_eq(hlt_str(p.json, "web_client_url"), want);
    free(want);
    int64_t exp = hlt_parse_iso(p.expires_at);
    ck_assert_msg(exp >= now + HLT_CONNECT_TTL_MS - 5000 && exp <= now + HLT_CONNECT_TTL_MS + 5000, "expires_at %s", p.expires_at);
    assert_token_works(&d, p.session_id, p.connect_token);
    hlt_pairing_free(&p);

    /* --web: the same lines, then a second QR code and the web client's URL */
    hlt_cli(d.env, &r, "pair", "--web", NULL);
    ck_assert_msg(r.exit_code == 0, "pair --web exited %d: %s %s", r.exit_code, r.out, r.err);
    check_pair_text(r.out, d.port, &token, &sid);
    const char *web = line_with(r.out, "Web client:");
    ck_assert_msg(web != NULL && web > strstr(r.out, "/api/v1/pairing/claim"), "no Web client line after the others:\n%s", r.out);
    ck_assert_msg(strstr(web, "\xe2\x96\x88") == NULL, "the web client line comes after its QR code:\n%s", r.out);
    const char *second_qr = strstr(strstr(r.out, "/api/v1/pairing/claim"), "\xe2\x96\x88");
    ck_assert_msg(second_qr != NULL && second_qr < web, "no second QR code before the web client line:\n%s", r.out);
    char *web_line = line_at(web);
    want = hl_asprintf("Web client:      http://127.0.0.1:%d/app#session=%s&code=%s", d.port, sid, token);
    ck_assert_str_eq(web_line, want);
    free(want);
    free(web_line);
    free(token);
    free(sid);
    hlt_cli_free(&r);
    /* without it, neither */
    hlt_cli(d.env, &r, "pair", NULL);
    ck_assert_msg(strstr(r.out, "Web client:") == NULL && strstr(strstr(r.out, "/api/v1/pairing/claim"), "\xe2\x96\x88") == NULL,
                  "pair without --web:\n%s", r.out);
    hlt_cli_free(&r);

    hlt_cli(d.env, &r, "pair", "--frob", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    hlt_cli_free(&r);
    hlt_assert_stop_clean(&d);
}
END_TEST

static pid_t started_pid(const char *text)
{
    const char *p = strstr(text, "Hermes Link started (PID ");
    ck_assert_msg(p != NULL, "no \"Hermes Link started (PID\" in:\n%s", text);
    pid_t pid = (pid_t)strtol(p + strlen("Hermes Link started (PID "), NULL, 10);
    ck_assert(pid > 0);
    ck_assert(num_detached < MAX_DETACHED);
    detached[num_detached++] = pid;
    return pid;
}

static void cli_stop(hlt_env_t *env, pid_t pid)
{
    hlt_cli_result_t r;
    hlt_cli(env, &r, "stop", NULL);
    ck_assert_msg(r.exit_code == 0 && strcmp(r.out, "Hermes Link stopped.\n") == 0, "stop: %d %s %s", r.exit_code, r.out, r.err);
    hlt_cli_free(&r);
    int status;
    ck_assert_msg(hlt_wait_exit(pid, &status, 5000), "the daemon %d still runs after stop", (int)pid);
    for (size_t i = 0; i < num_detached; ++i)
        if (detached[i] == pid)
            detached[i] = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon ended with status 0x%x", status);
    char *log = hlt_env_path(env, 1, "logs/daemon.log");
    const char *report = hlt_sanitizer_report(log);
    free(log);
    ck_assert_msg(report == NULL, "%.1500s", report);
}

/* `pair` starts the daemon (with the configured ports) when it is not running, and says so. */
START_TEST(test_pair_starts_daemon)
{
    hlt_env_t env;
    hlt_env_init(&env);
    env.listen_host = "127.0.0.1";
    int port = hlt_free_port();
    char text[96];
    snprintf(text, sizeof(text), "{\"port\":%d,\"tlsPort\":0}\n", port);
    hlt_env_write_config(&env, text);
    hlt_daemon_t d = {.env = &env, .port = port, .tls_port = -1};

    hlt_cli_result_t r;
    hlt_cli(&env, &r, "pair", NULL);
    ck_assert_msg(r.exit_code == 0, "pair exited %d: %s %s", r.exit_code, r.out, r.err);
    pid_t pid = started_pid(r.out);
    const char *notice = strstr(r.out, "Hermes Link is not running; starting it first.\n");
    ck_assert_msg(notice == r.out, "pair does not say first that it starts the daemon:\n%s", r.out);
    ck_assert_msg(notice < strstr(r.out, "Hermes Link started (PID ") &&
                      strstr(r.out, "Hermes Link started (PID ") < strstr(r.out, "Pairing page:"),
                  "pair output order:\n%s", r.out);
    char *local = hl_asprintf("Local:     http://127.0.0.1:%d\n", port);
    ck_assert_msg(strstr(r.out, local) != NULL, "no \"%s\" in:\n%s", local, r.out);
    free(local);
    char *token, *sid;
    check_pair_text(r.out, port, &token, &sid);
    hlt_cli_free(&r);
    assert_token_works(&d, sid, token);
    free(token);
    free(sid);

    /* running now: no notice */
    hlt_cli(&env, &r, "pair", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_msg(strstr(r.out, "not running") == NULL && strstr(r.out, "started") == NULL, "pair output:\n%s", r.out);
    hlt_cli_free(&r);
    cli_stop(&env, pid);

    /* --json keeps stdout pure JSON; the notice goes to stderr */
    hlt_cli(&env, &r, "pair", "--json", NULL);
    ck_assert_msg(r.exit_code == 0, "pair --json exited %d: %s %s", r.exit_code, r.out, r.err);
    ck_assert_msg(strstr(r.err, "Hermes Link is not running; starting it first.") != NULL, "stderr: %s", r.err);
    pid = started_pid(r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_msg(json_is_object(j), "pair --json stdout is not only JSON:\n%s", r.out);
    hlt_pairing_t p = {0};
    hlt_cli_free(&r);
    json_t *urls = json_object_get(j, "pairing_page_urls");
    char *prefix = hl_asprintf("http://127.0.0.1:%d/pair?session_id=", port);
    ck_assert_msg(strncmp(json_string_value(json_array_get(urls, 0)), prefix, strlen(prefix)) == 0, "pairing page %s",
                  json_string_value(json_array_get(urls, 0)));
    free(prefix);
    p.json = j;
    assert_token_works(&d, hlt_str(j, "session_id"), hlt_str(j, "connect_token"));
    hlt_pairing_free(&p);
    cli_stop(&env, pid);
    hlt_env_dispose(&env);
}
END_TEST

/* ---- a Link without a link_id ---- */

/* identity.json without link_id (an install whose pairing identity is gone): a claim is 409 link_not_paired once its
 * fields are there (API.md §4, order 2: before the session is looked up), and so is /auth/me for a device that still has
 * valid tokens (§3). */
START_TEST(test_link_not_paired)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_daemon_t d;
    hlt_daemon_opts_t o = {.env = &env};
    hlt_daemon_start(&d, &o);
    hlt_device_t dev;
    hlt_enroll(&d, HLT_H1, NULL, &dev);
    ck_assert_msg(hlt_daemon_stop(&d) == NULL, "the daemon did not stop clean");
    hlt_daemon_dispose(&d);
    char *path = hlt_env_path(&env, 1, "identity.json");
    json_t *id = json_load_file(path, 0, NULL);
    ck_assert_msg(json_is_object(id) && json_object_get(id, "link_id") != NULL, "identity.json without link_id to begin with");
    json_object_del(id, "link_id");
    char *text = json_dumps(id, JSON_INDENT(2));
    hlt_write_file(path, text);
    free(text);
    json_decref(id);
    free(path);
    hlt_daemon_start(&d, &o);
    for (hlt_proto_t p = HLT_H1; p < HLT_NUM_PROTOS; ++p) {
        if (p == HLT_H2_TLS)
            continue; /* no TLS port here */
        expect_claim_error(&d, p, "{\"session_id\":\"ps_0123456789abcdef0123456789abcdef\",\"claim_token\":\"x\"}", 409,
                           "link_not_paired");
        expect_claim_error(&d, p, "{\"session_id\":\"ps_x\"}", 400, "pairing_claim_invalid"); /* order 1 still first */
        hlt_response_t res;
        hlt_api(&d, p, "GET", "/api/v1/auth/me", dev.access, NULL, &res);
        hlt_assert_error(&d, &res, 409, "link_not_paired");
        hlt_response_free(&res);
    }
    hlt_device_free(&dev);
    hlt_daemon_stop_clean(&d);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_pairing(void)
{
    Suite *s = suite_create("pairing");
    TCase *tc = tcase_create("pairing");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_session_query, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_claim, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_claim_errors, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_bad_code_lockout, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_pair_page, 0, HLT_NUM_PROTOS);
    tcase_add_test(tc, test_app_instance);
    tcase_add_loop_test(tc, test_concurrent_claims, 0, 3);
    tcase_add_test(tc, test_expiry);
    suite_add_tcase(s, tc);

    TCase *rl = tcase_create("rate_limit");
    tcase_set_timeout(rl, 60);
    tcase_add_test(rl, test_rate_limit);
    tcase_add_test(rl, test_made_up_ids_never_lock_out);
    tcase_add_test(rl, test_lockout_per_session);
    suite_add_tcase(s, rl);

    TCase *unpaired = tcase_create("unpaired");
    tcase_set_timeout(unpaired, 60);
    tcase_add_test(unpaired, test_link_not_paired);
    suite_add_tcase(s, unpaired);

    TCase *public_url = tcase_create("public_url");
    tcase_set_timeout(public_url, 60);
    tcase_add_test(public_url, test_pair_page_public_url);
    suite_add_tcase(s, public_url);

    TCase *cli = tcase_create("pair_cli");
    tcase_add_checked_fixture(cli, cli_setup, NULL);
    tcase_set_timeout(cli, 90);
    tcase_add_test(cli, test_pair_output);
    tcase_add_test(cli, test_pair_starts_daemon);
    suite_add_tcase(s, cli);
    return s;
}
