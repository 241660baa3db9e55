/*
 * The public system routes (spec/API.md §2 bootstrap, §16 system/version and system/status) over every protocol the
 * daemon speaks: HTTP/1.1, h2c with prior knowledge, h2c by Upgrade and h2 over TLS.
 */
#include <string.h>

#include "harness.h"

static hlt_daemon_t daemon_;

static void setup(void)
{
    hlt_daemon_opts_t o = {.tls = 1};
    hlt_daemon_start(&daemon_, &o);
}

static void teardown(void)
{
    hlt_daemon_teardown_shared(&daemon_, "routes daemon");
}

static const char *const CAPABILITIES[] = {"runs",
                                           "sse",
                                           "relay",
                                           "profiles",
                                           "logs",
                                           "statistics",
                                           "conversations",
                                           "conversation_events",
                                           "conversation_delete",
                                           "conversation_bulk_delete",
                                           "conversation_clear_plan",
                                           "conversation_cancel",
                                           "conversation_rename",
                                           "blobs",
                                           "devices",
                                           "device_delete",
                                           "device_revoke",
                                           "device_rename",
                                           "device_session_enroll",
                                           "cron_jobs",
                                           "profile_skills",
                                           "profile_memory",
                                           "hermes_updates",
                                           NULL};

static json_t *field(json_t *obj, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "missing field %s", key);
    ck_assert_msg(json_typeof(v) == type, "field %s has JSON type %d, expected %d", key, (int)json_typeof(v), type);
    return v;
}

static json_t *nullable_string(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "missing field %s", key);
    ck_assert_msg(json_is_null(v) || json_is_string(v), "field %s must be a string or null", key);
    return v;
}

static int is_bool(json_t *v)
{
    return json_is_true(v) || json_is_false(v);
}

static void assert_string_array(json_t *a, const char *what, const char *prefix)
{
    ck_assert_msg(json_is_array(a), "%s is not an array", what);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        ck_assert_msg(json_is_string(v), "%s[%zu] is not a string", what, i);
        if (prefix != NULL)
            ck_assert_msg(strncmp(json_string_value(v), prefix, strlen(prefix)) == 0, "%s[%zu] = %s does not start with %s", what,
                          i, json_string_value(v), prefix);
    }
}

START_TEST(test_bootstrap)
{
    hlt_response_t res;
    hlt_get(&daemon_, (hlt_proto_t)_i, "/api/v1/bootstrap", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    const char *cc = hlt_header(&res, "cache-control");
    ck_assert_msg(cc != NULL && strcmp(cc, "no-store") == 0, "bootstrap Cache-Control: %s", cc != NULL ? cc : "(absent)");
    ck_assert_msg(json_object_get(res.json, "ok") == NULL, "bootstrap is [no ok] in the spec");

    json_t *j = res.json;
    json_t *link_id = nullable_string(j, "link_id");
    const char *display = json_string_value(field(j, "display_name", JSON_STRING));
    if (json_is_string(link_id)) {
        ck_assert_msg(strncmp(json_string_value(link_id), "link_", 5) == 0, "link_id %s", json_string_value(link_id));
        ck_assert_str_eq(display, "Hermes Link");
    } else {
        ck_assert_str_eq(display, "Unpaired Hermes Link");
    }
    ck_assert_msg(json_is_string(link_id), "the daemon creates a link_id at start");
    ck_assert_str_eq(json_string_value(field(j, "version", JSON_STRING)), HL_VERSION);
    ck_assert_int_eq(json_integer_value(field(j, "api_version", JSON_INTEGER)), 1);
    ck_assert_msg(is_bool(json_object_get(j, "paired")), "paired must be a boolean");
    ck_assert_msg(is_bool(json_object_get(j, "pairing_supported")), "pairing_supported must be a boolean");
    assert_string_array(json_object_get(j, "preferred_pairing_urls"), "preferred_pairing_urls", "http");

    json_t *routes = field(j, "routes", JSON_ARRAY);
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r)
    {
        ck_assert_msg(json_is_object(r), "routes[%zu] is not an object", i);
        ck_assert_msg(strncmp(json_string_value(field(r, "url", JSON_STRING)), "http", 4) == 0, "routes[%zu].url", i);
        ck_assert_str_eq(json_string_value(field(r, "kind", JSON_STRING)), "lan");
    }

    json_t *caps = field(j, "capabilities", JSON_OBJECT);
    size_t n = 0;
    for (; CAPABILITIES[n] != NULL; ++n)
        ck_assert_msg(is_bool(json_object_get(caps, CAPABILITIES[n])), "capabilities.%s must be a boolean", CAPABILITIES[n]);
    ck_assert_msg(json_object_size(caps) == n, "capabilities has %zu keys, expected exactly the %zu of the spec",
                  json_object_size(caps), n);
    ck_assert_msg(json_is_false(json_object_get(caps, "relay")), "relay is never supported");
    /* agent runs and cron jobs go through Hermes's API server (issue 8) */
    ck_assert_msg(json_is_true(json_object_get(caps, "runs")), "runs must be true");
    ck_assert_msg(json_is_true(json_object_get(caps, "cron_jobs")), "cron_jobs must be true");
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_version)
{
    hlt_response_t res;
    hlt_get(&daemon_, (hlt_proto_t)_i, "/api/v1/system/version", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    json_t *want = json_pack("{s:s}", "version", HL_VERSION);
    ck_assert_msg(json_equal(res.json, want), "version body %s", res.body);
    json_decref(want);
    ck_assert_msg(hlt_header(&res, "cache-control") == NULL, "system/version sends no Cache-Control");
    ck_assert_str_eq(res.body, "{\"version\":\"" HL_VERSION "\"}"); /* compact JSON */
    hlt_response_free(&res);
}
END_TEST

START_TEST(test_system_status)
{
    hlt_response_t res, boot;
    hlt_get(&daemon_, (hlt_proto_t)_i, "/api/v1/system/status", &res);
    ck_assert_int_eq(res.status, 200);
    hlt_assert_json(&res);
    hlt_assert_cors(&res);
    ck_assert_msg(hlt_header(&res, "cache-control") == NULL, "system/status sends no Cache-Control");
    json_t *j = res.json;
    ck_assert_msg(json_object_get(j, "ok") == NULL, "system/status is [no ok] in the spec");
    ck_assert_str_eq(json_string_value(field(j, "version", JSON_STRING)), HL_VERSION);
    const char *link_id = json_string_value(field(j, "linkId", JSON_STRING));
    ck_assert_msg(strncmp(link_id, "link_", 5) == 0, "linkId %s", link_id);
    ck_assert_msg(strlen(json_string_value(field(j, "installId", JSON_STRING))) > 0, "installId empty");
    ck_assert_int_eq(json_integer_value(field(j, "port", JSON_INTEGER)), daemon_.port);

    /* the machine's real state (test_autostart.c checks the values with a temporary home) */
    json_t *autostart = field(j, "autostart", JSON_OBJECT);
    ck_assert_msg(json_object_size(autostart) == 3 && json_is_boolean(json_object_get(autostart, "supported")) &&
                      json_is_boolean(json_object_get(autostart, "enabled")),
                  "autostart %s", res.body);
    const char *method = json_string_value(field(autostart, "method", JSON_STRING));
    ck_assert_msg(strcmp(method, "systemd-user") == 0 || strcmp(method, "xdg-autostart") == 0 || strcmp(method, "launchd") == 0 ||
                      strcmp(method, "unsupported") == 0,
                  "method %s", method);

    json_t *env = field(j, "environment", JSON_OBJECT);
    const char *kind = json_string_value(field(env, "kind", JSON_STRING));
    ck_assert_msg(strcmp(kind, "native") == 0 || strcmp(kind, "wsl") == 0 || strcmp(kind, "container") == 0, "kind %s", kind);
    nullable_string(env, "warning");

    json_t *nr = field(j, "networkReport", JSON_OBJECT);
    nullable_string(nr, "lastReportedAt");
    assert_string_array(json_object_get(nr, "preferredUrls"), "preferredUrls", "http");
    assert_string_array(json_object_get(nr, "lanIps"), "lanIps", NULL);
    assert_string_array(json_object_get(nr, "publicIpv4s"), "publicIpv4s", NULL);
    assert_string_array(json_object_get(nr, "publicIpv6s"), "publicIpv6s", NULL);
    nullable_string(j, "updateAvailable");

    /* one identity behind both routes, and it is the one on disk */
    hlt_get(&daemon_, (hlt_proto_t)_i, "/api/v1/bootstrap", &boot);
    ck_assert_str_eq(json_string_value(json_object_get(boot.json, "link_id")), link_id);
    char *path = hlt_env_path(daemon_.env, 1, "identity.json");
    char *text = hlt_read_file(path, NULL);
    ck_assert_msg(text != NULL && strstr(text, link_id) != NULL, "identity.json does not hold %s", link_id);
    free(text);
    free(path);
    hlt_response_free(&boot);
    hlt_response_free(&res);
}
END_TEST

/* HEAD answers like GET, without a body, with the same length and type */
START_TEST(test_head)
{
    static const char *const paths[] = {"/api/v1/bootstrap", "/api/v1/system/version", "/api/v1/system/status", NULL};
    for (size_t i = 0; paths[i] != NULL; ++i) {
        hlt_response_t get, head;
        hlt_get(&daemon_, (hlt_proto_t)_i, paths[i], &get);
        hlt_request_t req = {.method = "HEAD", .path = paths[i]};
        hlt_fetch(&daemon_, (hlt_proto_t)_i, &req, &head);
        ck_assert_int_eq(head.status, 200);
        ck_assert_msg(head.body_len == 0, "HEAD %s has a body", paths[i]);
        const char *cl = hlt_header(&head, "content-length");
        ck_assert_msg(cl != NULL, "HEAD %s without content-length", paths[i]);
        ck_assert_msg(strtoul(cl, NULL, 10) == get.body_len, "HEAD %s content-length %s, GET body %zu bytes", paths[i], cl,
                      get.body_len);
        ck_assert_str_eq(hlt_header(&head, "content-type"), hlt_header(&get, "content-type"));
        hlt_assert_cors(&head);
        hlt_response_free(&get);
        hlt_response_free(&head);
    }
}
END_TEST

Suite *suite_routes(void)
{
    Suite *s = suite_create("routes");
    TCase *tc = tcase_create("system");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_bootstrap, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_version, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_system_status, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_head, 0, HLT_NUM_PROTOS);
    suite_add_tcase(s, tc);
    return s;
}
