/*
 * Devices (spec/API.md §6 and §1.10, as the issue amends them): the list (sort, hidden devices excluded, `current`,
 * `summary`), rename with its label rules, revoke (idempotent, `current_device_revoked`, tokens dead on the very next
 * request), hide from the app listing, and 404 device_not_found for unknown and malformed ids. Over HTTP/1.1, h2c (prior
 * knowledge and Upgrade) and h2 over TLS.
 */
#include <string.h>

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
    hlt_daemon_teardown_shared(&daemon_, "devices daemon");
}

static void assert_item(json_t *item, const char *current_id)
{
    hlt_assert_keys(item, "device item", "id", "device_id", "label", "platform", "model", "scope", "status", "paired_at",
                    "created_at", "updated_at", "access_expires_at", "refresh_expires_at", "last_seen_at", "revoked_at",
                    "app_hidden_at", "app_instance_bound", "current", NULL);
    const char *id = hlt_str(item, "id");
    ck_assert_msg(hlt_matches(id, "^dev_[0-9a-f]{32}$"), "id %s", id);
    ck_assert_str_eq(hlt_str(item, "device_id"), id);
    ck_assert_str_eq(hlt_str(item, "scope"), "admin");
    hlt_str(item, "label");
    hlt_str(item, "platform");
    json_t *model = json_object_get(item, "model");
    ck_assert(json_is_null(model) || json_is_string(model));
    const char *status = hlt_str(item, "status");
    ck_assert_msg(strcmp(status, "active") == 0 || strcmp(status, "revoked") == 0, "status %s", status);
    ck_assert_str_eq(hlt_str(item, "paired_at"), hlt_str(item, "created_at"));
    hlt_iso(item, "created_at");
    hlt_iso(item, "updated_at");
    hlt_iso(item, "access_expires_at");
    hlt_iso(item, "refresh_expires_at");
    hlt_iso(item, "last_seen_at");
    if (strcmp(status, "revoked") == 0)
        hlt_iso(item, "revoked_at");
    else
        ck_assert_msg(json_is_null(json_object_get(item, "revoked_at")), "an active device with revoked_at");
    ck_assert_msg(json_is_null(json_object_get(item, "app_hidden_at")), "a hidden device is listed");
    ck_assert(json_is_boolean(json_object_get(item, "app_instance_bound")));
    json_t *cur = json_object_get(item, "current");
    ck_assert(json_is_boolean(cur));
    ck_assert_msg(json_is_true(cur) == (current_id != NULL && strcmp(current_id, id) == 0), "device %s: current %s", id,
                  json_is_true(cur) ? "true" : "false");
}

/* Asserts the whole GET /devices answer: shape, items, sort order and summary. */
static void assert_list(json_t *list, const char *current_id)
{
    hlt_assert_keys(list, "device list", "ok", "current_device_id", "devices", "summary", NULL);
    if (current_id != NULL)
        ck_assert_str_eq(hlt_str(list, "current_device_id"), current_id);
    json_t *devices = json_object_get(list, "devices");
    ck_assert(json_is_array(devices));
    size_t active = 0, revoked = 0, i;
    int seen_revoked = 0;
    int64_t prev = INT64_MAX;
    json_t *item;
    json_array_foreach(devices, i, item)
    {
        assert_item(item, current_id);
        int is_revoked = strcmp(hlt_str(item, "status"), "revoked") == 0;
        ck_assert_msg(!seen_revoked || is_revoked, "an active device after a revoked one at %zu", i);
        if (is_revoked && !seen_revoked)
            prev = INT64_MAX; /* a new group */
        seen_revoked |= is_revoked;
        int64_t created = hlt_iso(item, "created_at");
        ck_assert_msg(created <= prev, "devices are not sorted by created_at descending at %zu", i);
        prev = created;
        active += !is_revoked;
        revoked += is_revoked;
    }
    json_t *want = json_pack("{s:i, s:i, s:i}", "total", (json_int_t)(active + revoked), "active", (json_int_t)active, "revoked",
                             (json_int_t)revoked);
    ck_assert_msg(json_equal(json_object_get(list, "summary"), want), "summary %s for %zu active and %zu revoked devices",
                  json_dumps(json_object_get(list, "summary"), JSON_COMPACT), active, revoked);
    json_decref(want);
}

static long index_of(json_t *list, const char *id)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "devices"), i, item) if (strcmp(hlt_str(item, "id"), id) == 0) return (long)i;
    return -1;
}

static char *device_path(const char *id, const char *suffix)
{
    return hl_asprintf("/api/v1/devices/%s%s", id, suffix != NULL ? suffix : "");
}

/* DELETE /devices/:id as bearer; returns the answer (caller frees). */
static void revoke(hlt_proto_t proto, const char *bearer, const char *id, hlt_response_t *res)
{
    char *path = device_path(id, NULL);
    hlt_api(D, proto, "DELETE", path, bearer, NULL, res);
    free(path);
}

static void expect_error(hlt_proto_t proto, const char *method, const char *path, const char *bearer, const char *body, long status,
                         const char *code)
{
    hlt_response_t res;
    hlt_api(D, proto, method, path, bearer, body, &res);
    ck_assert_msg(res.status == status, "%s %s %s over %s: expected %ld %s, got %ld %s", method, path, body ? body : "",
                  hlt_proto_name(proto), status, code, res.status, res.body);
    hlt_assert_error(D, &res, status, code);
    hlt_response_free(&res);
}

/* ---- list ---- */

START_TEST(test_list)
{
    hlt_device_t a, b, c;
    hlt_enroll(D, P, "{\"device_label\":\"A\",\"device_platform\":\"ios\",\"device_model\":\"iPhone\"}", &a);
    hlt_clock_advance(D, 1000);
    hlt_enroll(D, P, "{\"device_label\":\"B\"}", &b);
    hlt_clock_advance(D, 1000);
    hlt_enroll(D, P, "{\"device_label\":\"C\"}", &c);

    json_t *list = hlt_list_devices(D, P, a.access);
    assert_list(list, a.id);
    ck_assert_msg(index_of(list, c.id) >= 0 && index_of(list, c.id) < index_of(list, b.id) &&
                      index_of(list, b.id) < index_of(list, a.id),
                  "newest first: C %ld, B %ld, A %ld", index_of(list, c.id), index_of(list, b.id), index_of(list, a.id));
    json_t *item = hlt_find_device(list, a.id);
    ck_assert(json_is_true(json_object_get(item, "current")));
    ck_assert_str_eq(hlt_str(item, "status"), "active");
    ck_assert_str_eq(hlt_str(item, "label"), "A");
    ck_assert_str_eq(hlt_str(item, "platform"), "ios");
    ck_assert_str_eq(hlt_str(item, "model"), "iPhone");
    ck_assert(json_is_false(json_object_get(item, "app_instance_bound")));
    ck_assert_str_eq(hlt_str(item, "access_expires_at"), hlt_str(json_object_get(a.json, "access_token"), "expires_at"));
    ck_assert_str_eq(hlt_str(item, "refresh_expires_at"), hlt_str(json_object_get(a.json, "refresh_token"), "expires_at"));
    ck_assert(json_is_null(json_object_get(hlt_find_device(list, b.id), "model")));
    json_int_t total = json_integer_value(json_object_get(json_object_get(list, "summary"), "total"));
    json_int_t revoked = json_integer_value(json_object_get(json_object_get(list, "summary"), "revoked"));
    json_decref(list);

    /* the list is the caller's: `current` follows the token */
    list = hlt_list_devices(D, P, c.access);
    assert_list(list, c.id);
    json_decref(list);

    /* a revoked device goes after every active one */
    hlt_response_t res;
    revoke(P, a.access, b.id, &res);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    list = hlt_list_devices(D, P, a.access);
    assert_list(list, a.id);
    item = hlt_find_device(list, b.id);
    ck_assert_str_eq(hlt_str(item, "status"), "revoked");
    ck_assert_msg(index_of(list, a.id) < index_of(list, b.id), "a revoked device before an active one");
    json_t *summary = json_object_get(list, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "total")), total);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "revoked")), revoked + 1);
    json_decref(list);

    hlt_device_free(&c);
    hlt_device_free(&b);
    hlt_device_free(&a);
}
END_TEST

/* ---- rename ---- */

static char *repeat(const char *s, size_t n)
{
    size_t l = strlen(s);
    char *out = hl_malloc(l * n + 1);
    for (size_t i = 0; i < n; ++i)
        memcpy(out + i * l, s, l);
    out[l * n] = '\0';
    return out;
}

static json_t *rename_ok(hlt_proto_t proto, const hlt_device_t *caller, const char *id, const char *body, const char *want_label)
{
    char *path = device_path(id, NULL);
    hlt_response_t res;
    hlt_api(D, proto, "PATCH", path, caller->access, body, &res);
    free(path);
    ck_assert_msg(res.status == 200, "PATCH %s %.60s: %ld %s", id, body, res.status, res.body);
    hlt_assert_ok(&res);
    hlt_assert_keys(res.json, "rename answer", "ok", "device", NULL);
    json_t *device = json_incref(json_object_get(res.json, "device"));
    hlt_response_free(&res);
    assert_item(device, caller->id);
    ck_assert_str_eq(hlt_str(device, "id"), id);
    ck_assert_msg(strcmp(hlt_str(device, "label"), want_label) == 0, "label \"%s\", expected \"%s\"", hlt_str(device, "label"),
                  want_label);
    return device;
}

START_TEST(test_rename)
{
    hlt_device_t a, b;
    hlt_enroll(D, P, NULL, &a);
    hlt_enroll(D, P, NULL, &b);

    json_t *dev = rename_ok(P, &a, a.id, "{\"label\":\"  Kitchen iPad  \"}", "Kitchen iPad");
    ck_assert(json_is_true(json_object_get(dev, "current")));
    json_decref(dev);
    /* /auth/me and the list say so at once */
    hlt_response_t res;
    hlt_api(D, P, "GET", "/api/v1/auth/me", a.access, NULL, &res);
    hlt_assert_ok(&res);
    ck_assert_str_eq(hlt_str(json_object_get(res.json, "device"), "label"), "Kitchen iPad");
    hlt_response_free(&res);
    json_t *list = hlt_list_devices(D, P, b.access);
    ck_assert_str_eq(hlt_str(hlt_find_device(list, a.id), "label"), "Kitchen iPad");
    json_decref(list);

    /* another device's, with the device_label alias */
    dev = rename_ok(P, &a, b.id, "{\"device_label\":\"Bedroom\"}", "Bedroom");
    ck_assert(json_is_false(json_object_get(dev, "current")));
    json_decref(dev);

    /* 128 characters, not bytes, and blanks around do not count */
    char *l128 = repeat("\xc3\xa9", 128), *l129 = repeat("\xc3\xa9", 129), *a128 = repeat("a", 128), *a129 = repeat("a", 129);
    char *body = hl_asprintf("{\"label\":\"%s\"}", l128);
    json_decref(rename_ok(P, &a, a.id, body, l128));
    free(body);
    body = hl_asprintf("{\"label\":\"   %s   \"}", a128);
    json_decref(rename_ok(P, &a, a.id, body, a128));
    free(body);

    char *path = device_path(a.id, NULL);
    static const char *const required[] = {
        "{}", "{\"label\":\"\"}", "{\"device_label\":\"\"}", "{\"label\":5}", "{\"label\":null}", "[]", ""};
    for (size_t i = 0; i < HL_ARRAY_SIZE(required); ++i)
        expect_error(P, "PATCH", path, a.access, required[i], 400, "device_label_required");
    char *too_long = hl_asprintf("{\"label\":\"%s\"}", a129);
    char *too_long_utf8 = hl_asprintf("{\"label\":\"%s\"}", l129);
    const char *invalid[] = {"{\"label\":\"   \"}", "{\"label\":\"\\t\\n \"}", too_long, too_long_utf8};
    for (size_t i = 0; i < HL_ARRAY_SIZE(invalid); ++i)
        expect_error(P, "PATCH", path, a.access, invalid[i], 400, "device_label_invalid");
    free(too_long);
    free(too_long_utf8);
    free(path);
    list = hlt_list_devices(D, P, b.access);
    ck_assert_str_eq(hlt_str(hlt_find_device(list, a.id), "label"), a128);
    json_decref(list);

    /* a revoked device keeps its name */
    revoke(P, a.access, b.id, &res);
    hlt_assert_ok(&res);
    hlt_response_free(&res);
    path = device_path(b.id, NULL);
    expect_error(P, "PATCH", path, a.access, "{\"label\":\"Back\"}", 409, "device_revoked");
    free(path);

    free(l128);
    free(l129);
    free(a128);
    free(a129);
    hlt_device_free(&b);
    hlt_device_free(&a);
}
END_TEST

/* ---- revoke ---- */

START_TEST(test_revoke)
{
    hlt_device_t a, b;
    hlt_enroll(D, P, NULL, &a);
    hlt_enroll(D, P, NULL, &b);
    json_t *list = hlt_list_devices(D, P, a.access);
    json_t *before = json_deep_copy(json_object_get(list, "summary"));
    json_decref(list);

    hlt_response_t res;
    revoke(P, a.access, b.id, &res);
    hlt_assert_ok(&res);
    hlt_assert_keys(res.json, "revoke answer", "ok", "current_device_revoked", "device", "summary", NULL);
    ck_assert(json_is_false(json_object_get(res.json, "current_device_revoked")));
    json_t *item = json_object_get(res.json, "device");
    assert_item(item, a.id);
    ck_assert_str_eq(hlt_str(item, "id"), b.id);
    ck_assert_str_eq(hlt_str(item, "status"), "revoked");
    char *revoked_at = hl_strdup(hlt_str(item, "revoked_at"));
    char *updated_at = hl_strdup(hlt_str(item, "updated_at"));
    json_t *summary = json_object_get(res.json, "summary");
    hlt_assert_keys(summary, "summary", "total", "active", "revoked", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "total")), json_integer_value(json_object_get(before, "total")));
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "active")),
                     json_integer_value(json_object_get(before, "active")) - 1);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "revoked")),
                     json_integer_value(json_object_get(before, "revoked")) + 1);
    json_t *after = json_incref(summary);
    hlt_response_free(&res);

    /* dead on the very next request, both tokens */
    hlt_assert_refused(D, P, b.access, "device_access_token_invalid");
    hlt_refresh(D, P, b.refresh, &res);
    hlt_assert_error(D, &res, 401, "refresh_token_invalid");
    hlt_response_free(&res);

    /* idempotent: nothing changes, timestamps included */
    hlt_clock_advance(D, 2000);
    revoke(P, a.access, b.id, &res);
    hlt_assert_ok(&res);
    ck_assert(json_is_false(json_object_get(res.json, "current_device_revoked")));
    ck_assert_str_eq(hlt_str(json_object_get(res.json, "device"), "revoked_at"), revoked_at);
    ck_assert_str_eq(hlt_str(json_object_get(res.json, "device"), "updated_at"), updated_at);
    ck_assert(json_equal(json_object_get(res.json, "summary"), after));
    hlt_response_free(&res);

    /* revoking oneself */
    revoke(P, a.access, a.id, &res);
    hlt_assert_ok(&res);
    ck_assert(json_is_true(json_object_get(res.json, "current_device_revoked")));
    item = json_object_get(res.json, "device");
    ck_assert_str_eq(hlt_str(item, "status"), "revoked");
    ck_assert(json_is_true(json_object_get(item, "current")));
    hlt_response_free(&res);
    hlt_assert_refused(D, P, a.access, "device_access_token_invalid");
    hlt_api(D, P, "GET", "/api/v1/devices", a.access, NULL, &res);
    hlt_assert_error(D, &res, 401, "device_access_token_invalid");
    hlt_response_free(&res);

    json_decref(after);
    json_decref(before);
    free(revoked_at);
    free(updated_at);
    hlt_device_free(&b);
    hlt_device_free(&a);
}
END_TEST

/* ---- hide ---- */

START_TEST(test_hide)
{
    hlt_device_t a, b;
    hlt_enroll(D, P, NULL, &a);
    hlt_enroll(D, P, NULL, &b);
    char *hide = device_path(b.id, "/app-listing");
    expect_error(P, "DELETE", hide, a.access, NULL, 409, "device_still_active");
    hlt_response_t res;
    revoke(P, a.access, b.id, &res);
    hlt_assert_ok(&res);
    json_t *before = json_incref(json_object_get(res.json, "summary"));
    hlt_response_free(&res);

    hlt_api(D, P, "DELETE", hide, a.access, NULL, &res);
    hlt_assert_ok(&res);
    hlt_assert_keys(res.json, "hide answer", "ok", "device", "summary", NULL);
    json_t *item = json_object_get(res.json, "device");
    ck_assert_str_eq(hlt_str(item, "id"), b.id);
    ck_assert_str_eq(hlt_str(item, "status"), "revoked");
    ck_assert(json_is_false(json_object_get(item, "current")));
    char *hidden_at = hl_strdup(hlt_str(item, "app_hidden_at"));
    ck_assert_msg(hlt_parse_iso(hidden_at) > 0, "app_hidden_at %s", hidden_at);
    json_t *summary = json_object_get(res.json, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "total")),
                     json_integer_value(json_object_get(before, "total")) - 1);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "revoked")),
                     json_integer_value(json_object_get(before, "revoked")) - 1);
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "active")), json_integer_value(json_object_get(before, "active")));
    json_t *after = json_incref(summary);
    hlt_response_free(&res);

    json_t *list = hlt_list_devices(D, P, a.access);
    assert_list(list, a.id);
    ck_assert_msg(hlt_find_device(list, b.id) == NULL, "a hidden device is listed");
    ck_assert(json_equal(json_object_get(list, "summary"), after));
    json_decref(list);

    /* idempotent */
    hlt_clock_advance(D, 2000);
    hlt_api(D, P, "DELETE", hide, a.access, NULL, &res);
    hlt_assert_ok(&res);
    ck_assert_str_eq(hlt_str(json_object_get(res.json, "device"), "app_hidden_at"), hidden_at);
    ck_assert(json_equal(json_object_get(res.json, "summary"), after));
    hlt_response_free(&res);

    json_decref(after);
    json_decref(before);
    free(hidden_at);
    free(hide);
    hlt_device_free(&b);
    hlt_device_free(&a);
}
END_TEST

/* ---- unknown and malformed ids ---- */

START_TEST(test_not_found)
{
    hlt_device_t a;
    hlt_enroll(D, P, NULL, &a);
    char upper[64];
    snprintf(upper, sizeof(upper), "%s", a.id);
    for (char *c = upper + 4; *c; ++c)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 32);
    char *longer = hl_asprintf("%s0", a.id);
    const char *ids[] = {"dev_00000000000000000000000000000000",
                         "nope",
                         "%2E%2E%2Fcredentials.json",
                         "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                         "%2E%2E",
                         "dev_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                         "%20",
                         longer,
                         upper[4] != a.id[4] || strcmp(upper, a.id) != 0 ? upper : "DEV_X"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(ids); ++i) {
        char *path = device_path(ids[i], NULL);
        expect_error(P, "PATCH", path, a.access, "{\"label\":\"x\"}", 404, "device_not_found");
        expect_error(P, "DELETE", path, a.access, NULL, 404, "device_not_found");
        free(path);
        path = device_path(ids[i], "/app-listing");
        expect_error(P, "DELETE", path, a.access, NULL, 404, "device_not_found");
        free(path);
    }
    free(longer);
    /* nothing happened to the caller */
    hlt_assert_accepted(D, P, a.access, a.id);
    hlt_device_free(&a);
}
END_TEST

/* `hermeslink devices` lists the running daemon's devices (table and --json) and `devices revoke ID` revokes one: its
 * token is refused at once; an unknown id and a stopped daemon are errors on stderr with exit 1. */
START_TEST(test_cli_list_and_revoke)
{
    hlt_device_t a, b;
    hlt_enroll(D, HLT_H1, "{\"device_label\":\"CLI phone\",\"device_platform\":\"ios\"}", &a);
    hlt_enroll(D, HLT_H1, "{\"device_label\":\"CLI laptop\",\"device_platform\":\"web\"}", &b);
    hlt_cli_result_t r;
    hlt_cli(D->env, &r, "devices", NULL);
    ck_assert_msg(r.exit_code == 0, "devices: %d %s", r.exit_code, r.err);
    ck_assert_msg(strstr(r.out, "ID ") == r.out, "a header line first: %s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, a.id));
    ck_assert_ptr_nonnull(strstr(r.out, b.id));
    ck_assert_ptr_nonnull(strstr(r.out, "CLI phone"));
    ck_assert_ptr_nonnull(strstr(r.out, " active, "));
    hlt_cli_free(&r);

    hlt_cli(D->env, &r, "devices", "--json", NULL);
    ck_assert_int_eq(r.exit_code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_msg(j != NULL, "devices --json: %s", r.out);
    ck_assert_ptr_nonnull(hlt_find_device(j, a.id));
    ck_assert(json_is_object(json_object_get(j, "summary")));
    json_decref(j);
    hlt_cli_free(&r);

    hlt_cli(D->env, &r, "devices", "revoke", b.id, NULL);
    ck_assert_msg(r.exit_code == 0, "devices revoke: %d %s", r.exit_code, r.err);
    char *want = hl_asprintf("Device %s (CLI laptop) revoked\n", b.id);
    ck_assert_str_eq(r.out, want);
    free(want);
    hlt_cli_free(&r);
    hlt_response_t res;
    hlt_api(D, HLT_H1, "GET", "/api/v1/auth/me", b.access, NULL, &res);
    ck_assert_int_eq(res.status, 401);
    hlt_response_free(&res);
    hlt_api(D, HLT_H1, "GET", "/api/v1/auth/me", a.access, NULL, &res);
    ck_assert_int_eq(res.status, 200);
    hlt_response_free(&res);
    json_t *list = hlt_list_devices(D, HLT_H1, a.access);
    ck_assert_str_eq(hlt_str(hlt_find_device(list, b.id), "status"), "revoked");
    json_decref(list);

    const char *bad[] = {"dev_00000000000000000000000000000000", "../x", "dev_' OR 1=1"};
    for (size_t i = 0; i < 3; ++i) {
        hlt_cli(D->env, &r, "devices", "revoke", bad[i], NULL);
        ck_assert_int_eq(r.exit_code, 1);
        ck_assert_msg(strstr(r.err, "device_not_found") != NULL, "revoke %s: %s", bad[i], r.err);
        hlt_cli_free(&r);
    }
    hlt_cli(D->env, &r, "devices", "revoke", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    hlt_cli_free(&r);
    hlt_device_free(&a);
    hlt_device_free(&b);
}
END_TEST

START_TEST(test_cli_without_daemon)
{
    hlt_env_t env;
    hlt_env_init(&env);
    hlt_cli_result_t r;
    hlt_cli(&env, &r, "devices", NULL);
    ck_assert_int_eq(r.exit_code, 1);
    ck_assert_str_eq(r.err, "Hermes Link is not running (start it with: hermeslink start)\n");
    hlt_cli_free(&r);
    hlt_env_dispose(&env);
}
END_TEST

Suite *suite_devices(void)
{
    Suite *s = suite_create("devices");
    TCase *tc = tcase_create("devices");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_list, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_rename, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_revoke, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_hide, 0, HLT_NUM_PROTOS);
    tcase_add_loop_test(tc, test_not_found, 0, HLT_NUM_PROTOS);
    tcase_add_test(tc, test_cli_list_and_revoke);
    tcase_add_test(tc, test_cli_without_daemon);
    suite_add_tcase(s, tc);
    return s;
}
