/*
 * config.json keys of the HTTP edge (issue 9): lanPlainHttp, plainHttp2, the caps and trustedProxies, loaded with their
 * types and bounds, set by their CLI names, and dumped only when they differ from the default or are in the file; and
 * the pairing URLs lanPlainHttp chooses (hl_preferred_urls).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hl/config.h"
#include "hl/netinfo.h"
#include "unit_util.h"

/* Loads `text` as <tmp>/config.json over the defaults; returns hl_config_load's result. */
static int load_text(hl_config_t *cfg, const char *text, char *err, size_t errlen)
{
    unsetenv("HERMESLINK_LOG_LEVEL");
    char *home = ut_mkdtemp(), *path = ut_path(home, "config.json");
    ut_write_str(path, text);
    hl_config_defaults(cfg);
    err[0] = '\0';
    int r = hl_config_load(cfg, home, err, errlen);
    free(path);
    ut_rm_rf(home);
    return r;
}

START_TEST(defaults)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    ck_assert(cfg.lan_plain_http);
    ck_assert(cfg.plain_http2);
    ck_assert_int_eq(cfg.max_connections, HL_DEFAULT_MAX_CONNECTIONS);
    ck_assert_int_eq(cfg.max_connections_per_address, HL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
    ck_assert_int_eq(cfg.max_streams_per_device, HL_DEFAULT_MAX_STREAMS_PER_DEVICE);
    ck_assert_int_eq(cfg.max_body_mib_per_address, HL_DEFAULT_MAX_BODY_MIB_PER_ADDRESS);
    ck_assert_uint_eq(cfg.num_trusted_proxies, 0);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(load_edge_keys)
{
    hl_config_t cfg;
    char err[256];
    ck_assert_int_eq(load_text(&cfg,
                               "{\"lanPlainHttp\": false, \"plainHttp2\": false, \"maxConnections\": 100,"
                               " \"maxConnectionsPerAddress\": 10, \"maxStreamsPerDevice\": 4, \"maxBodyMiBPerAddress\": 64,"
                               " \"trustedProxies\": [\"10.0.0.0/8\", \"::1\", \"192.168.1.5\"]}",
                               err, sizeof(err)),
                     0);
    ck_assert(!cfg.lan_plain_http);
    ck_assert(!cfg.plain_http2);
    ck_assert_int_eq(cfg.max_connections, 100);
    ck_assert_int_eq(cfg.max_connections_per_address, 10);
    ck_assert_int_eq(cfg.max_streams_per_device, 4);
    ck_assert_int_eq(cfg.max_body_mib_per_address, 64);
    ck_assert_uint_eq(cfg.num_trusted_proxies, 3);
    ck_assert_int_eq(cfg.trusted_proxies[0].prefix, 96 + 8);
    ck_assert_int_eq(cfg.trusted_proxies[1].prefix, 128);
    ck_assert_int_eq(cfg.trusted_proxies[2].prefix, 128);
    hl_config_dispose(&cfg);

    /* bounds are inclusive; true works; null and [] mean no proxy */
    ck_assert_int_eq(load_text(&cfg,
                               "{\"lanPlainHttp\": true, \"plainHttp2\": true, \"maxConnections\": 16,"
                               " \"maxConnectionsPerAddress\": 1, \"maxStreamsPerDevice\": 100000,"
                               " \"maxBodyMiBPerAddress\": 1000000, \"trustedProxies\": null}",
                               err, sizeof(err)),
                     0);
    ck_assert(cfg.lan_plain_http && cfg.plain_http2);
    ck_assert_int_eq(cfg.max_connections, 16);
    ck_assert_int_eq(cfg.max_connections_per_address, 1);
    ck_assert_int_eq(cfg.max_streams_per_device, 100000);
    ck_assert_int_eq(cfg.max_body_mib_per_address, 1000000);
    ck_assert_uint_eq(cfg.num_trusted_proxies, 0);
    hl_config_dispose(&cfg);
    ck_assert_int_eq(load_text(&cfg, "{\"trustedProxies\": [], \"maxConnections\": 1000000}", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.num_trusted_proxies, 0);
    ck_assert_int_eq(cfg.max_connections, 1000000);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(load_rejects_bad_edge_values)
{
    static const struct {
        const char *key, *json;
    } cases[] = {
        {"lanPlainHttp", "{\"lanPlainHttp\": \"false\"}"},
        {"lanPlainHttp", "{\"lanPlainHttp\": 0}"},
        {"lanPlainHttp", "{\"lanPlainHttp\": null}"},
        {"plainHttp2", "{\"plainHttp2\": 1}"},
        {"plainHttp2", "{\"plainHttp2\": \"no\"}"},
        {"maxConnections", "{\"maxConnections\": 15}"},
        {"maxConnections", "{\"maxConnections\": 0}"},
        {"maxConnections", "{\"maxConnections\": 1000001}"},
        {"maxConnections", "{\"maxConnections\": \"100\"}"},
        {"maxConnections", "{\"maxConnections\": 100.5}"},
        {"maxConnectionsPerAddress", "{\"maxConnectionsPerAddress\": 0}"},
        {"maxConnectionsPerAddress", "{\"maxConnectionsPerAddress\": -1}"},
        {"maxStreamsPerDevice", "{\"maxStreamsPerDevice\": 0}"},
        {"maxStreamsPerDevice", "{\"maxStreamsPerDevice\": 100001}"},
        {"maxBodyMiBPerAddress", "{\"maxBodyMiBPerAddress\": 0}"},
        {"maxBodyMiBPerAddress", "{\"maxBodyMiBPerAddress\": true}"},
        {"trustedProxies", "{\"trustedProxies\": \"10.0.0.0/8\"}"},
        {"trustedProxies", "{\"trustedProxies\": [\"10.0.0.0/99\"]}"},
        {"trustedProxies", "{\"trustedProxies\": [\"10.0.0.0/8\", 5]}"},
        {"trustedProxies", "{\"trustedProxies\": [\"proxy.example.com\"]}"},
        {"trustedProxies", "{\"trustedProxies\": [\"::/129\"]}"},
        {"trustedProxies", "{\"trustedProxies\": [null]}"},
        {"trustedProxies", "{\"trustedProxies\": {\"a\": \"10.0.0.1\"}}"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(cases); ++i) {
        hl_config_t cfg;
        char err[256], quoted[64];
        ck_assert_msg(load_text(&cfg, cases[i].json, err, sizeof(err)) == -EINVAL, "%s was accepted", cases[i].json);
        snprintf(quoted, sizeof(quoted), "\"%s\"", cases[i].key);
        ck_assert_msg(strstr(err, quoted) != NULL, "message for %s does not name %s: %s", cases[i].json, quoted, err);
        hl_config_dispose(&cfg);
    }
}
END_TEST

START_TEST(load_too_many_trusted_proxies)
{
    json_t *list = json_array();
    for (int i = 0; i < HL_MAX_TRUSTED_PROXIES; ++i) {
        char a[32];
        snprintf(a, sizeof(a), "10.0.%d.0/24", i);
        json_array_append_new(list, json_string(a));
    }
    json_t *root = json_pack("{s:O}", "trustedProxies", list);
    char *text = json_dumps(root, 0), err[256];
    hl_config_t cfg;
    ck_assert_int_eq(load_text(&cfg, text, err, sizeof(err)), 0); /* the most there may be */
    ck_assert_uint_eq(cfg.num_trusted_proxies, HL_MAX_TRUSTED_PROXIES);
    hl_config_dispose(&cfg);
    free(text);
    json_array_append_new(list, json_string("10.1.0.0/16"));
    json_object_set(root, "trustedProxies", list);
    text = json_dumps(root, 0);
    ck_assert_int_eq(load_text(&cfg, text, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"trustedProxies\""));
    hl_config_dispose(&cfg);
    free(text);
    json_decref(list);
    json_decref(root);
}
END_TEST

static void set_expect(hl_config_t *cfg, const char *key, const char *value, int ret, const char *want)
{
    char *msg = NULL;
    int r = hl_config_set(cfg, key, value, &msg);
    ck_assert_msg(r == ret, "config set %s '%s' returned %d, expected %d (%s)", key, value, r, ret, msg ? msg : "NULL");
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, want);
    free(msg);
}

START_TEST(set_edge_keys)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    set_expect(&cfg, "lan-plain-http", "false", 0, "LAN plain HTTP set to false");
    ck_assert(!cfg.lan_plain_http);
    set_expect(&cfg, "lan-plain-http", "on", 0, "LAN plain HTTP set to true");
    ck_assert(cfg.lan_plain_http);
    set_expect(&cfg, "plain-http2", "no", 0, "Plain HTTP/2 set to false");
    ck_assert(!cfg.plain_http2);
    set_expect(&cfg, "lan-plain-http", "maybe", -EINVAL, "Invalid value (expected true or false)");
    set_expect(&cfg, "plain-http2", "", -EINVAL, "Invalid value (expected true or false)");
    ck_assert(cfg.lan_plain_http && !cfg.plain_http2);

    set_expect(&cfg, "max-connections", "100", 0, "Max connections set to 100");
    set_expect(&cfg, "max-connections", "0", -EINVAL, "Invalid Max connections (16-1000000)");
    set_expect(&cfg, "max-connections", "15", -EINVAL, "Invalid Max connections (16-1000000)");
    set_expect(&cfg, "max-connections-per-address", "10", 0, "Max connections per address set to 10");
    set_expect(&cfg, "max-connections-per-address", "1x", -EINVAL, "Invalid Max connections per address (1-1000000)");
    set_expect(&cfg, "max-streams-per-device", "4", 0, "Max streams per device set to 4");
    set_expect(&cfg, "max-streams-per-device", "100001", -EINVAL, "Invalid Max streams per device (1-100000)");
    set_expect(&cfg, "max-body-mib-per-address", "64", 0, "Max body MiB per address set to 64");
    ck_assert_int_eq(cfg.max_connections, 100);
    ck_assert_int_eq(cfg.max_connections_per_address, 10);
    ck_assert_int_eq(cfg.max_streams_per_device, 4);
    ck_assert_int_eq(cfg.max_body_mib_per_address, 64);

    set_expect(&cfg, "trusted-proxies", "10.0.0.0/8,::1", 0, "Trusted proxies set to [\"10.0.0.0/8\",\"::1\"]");
    ck_assert_uint_eq(cfg.num_trusted_proxies, 2);
    set_expect(&cfg, "trusted-proxies", "10.0.0.0/99", -EINVAL,
               "Invalid trusted proxies (comma-separated IP addresses or ranges such as 10.0.0.0/8, at most 32, or none)");
    ck_assert_uint_eq(cfg.num_trusted_proxies, 2); /* unchanged */
    set_expect(&cfg, "trusted-proxies", "none", 0, "Trusted proxies set to (none)");
    ck_assert_uint_eq(cfg.num_trusted_proxies, 0);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(dump_edge_keys_only_when_needed)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    char *dump = hl_config_dump(&cfg, 1);
    static const char *const keys[] = {"lanPlainHttp",        "plainHttp2",           "maxConnections", "maxConnectionsPerAddress",
                                       "maxStreamsPerDevice", "maxBodyMiBPerAddress", "trustedProxies"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(keys); ++i)
        ck_assert_msg(strstr(dump, keys[i]) == NULL, "a default config dumps %s:\n%s", keys[i], dump);
    free(dump);

    /* a value off its default is shown */
    cfg.lan_plain_http = false;
    cfg.max_streams_per_device = 4;
    dump = hl_config_dump(&cfg, 1);
    json_t *j = json_loads(dump, 0, NULL);
    ck_assert(json_is_false(json_object_get(j, "lanPlainHttp")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "maxStreamsPerDevice")), 4);
    ck_assert_ptr_null(json_object_get(j, "plainHttp2"));
    ck_assert_ptr_null(json_object_get(j, "maxConnections"));
    json_decref(j);
    free(dump);
    hl_config_dispose(&cfg);

    /* a key in the file stays even at its default; trustedProxies as written */
    char err[256];
    ck_assert_int_eq(
        load_text(&cfg, "{\"plainHttp2\": true, \"maxConnections\": 8192, \"trustedProxies\": [\"::1\"]}", err, sizeof(err)), 0);
    dump = hl_config_dump(&cfg, 1);
    j = json_loads(dump, 0, NULL);
    ck_assert(json_is_true(json_object_get(j, "plainHttp2")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "maxConnections")), 8192);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "trustedProxies"), 0)), "::1");
    ck_assert_ptr_null(json_object_get(j, "lanPlainHttp"));
    json_decref(j);
    free(dump);
    hl_config_dispose(&cfg);
}
END_TEST

/* ---- the URLs pairing hands out ---- */

static char *urls_text(const hl_config_t *cfg, int port, int tls_port)
{
    json_t *ips = json_pack("[s]", "192.168.1.10");
    json_t *urls = hl_preferred_urls(cfg, ips, "0.0.0.0", port, "0.0.0.0", tls_port);
    char *text = json_dumps(urls, JSON_COMPACT);
    json_decref(urls);
    json_decref(ips);
    return text;
}

static void expect_urls(const hl_config_t *cfg, int port, int tls_port, const char *want)
{
    char *got = urls_text(cfg, port, tls_port);
    ck_assert_msg(strcmp(got, want) == 0, "lanPlainHttp %d, TLS %d, publicUrl %s: %s, expected %s", cfg->lan_plain_http, tls_port,
                  cfg->public_url ? cfg->public_url : "none", got, want);
    free(got);
}

START_TEST(preferred_urls)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    /* the default: http on the LAN first, as the original */
    expect_urls(&cfg, 18642, 18643, "[\"http://192.168.1.10:18642\",\"http://127.0.0.1:18642\"]");
    expect_urls(&cfg, 18642, -1, "[\"http://192.168.1.10:18642\",\"http://127.0.0.1:18642\"]");
    /* no LAN plain HTTP: https only, on the TLS port */
    cfg.lan_plain_http = false;
    expect_urls(&cfg, 18642, 18643, "[\"https://192.168.1.10:18643\",\"https://127.0.0.1:18643\"]");
    /* nor TLS: loopback only */
    expect_urls(&cfg, 18642, -1, "[\"http://127.0.0.1:18642\"]");
    /* a public URL: kept first when https; an http one is dropped while TLS is there */
    cfg.public_url = hl_strdup("https://link.example.com");
    expect_urls(&cfg, 18642, 18643, "[\"https://link.example.com\",\"https://192.168.1.10:18643\",\"https://127.0.0.1:18643\"]");
    free(cfg.public_url);
    cfg.public_url = hl_strdup("http://link.example.com");
    expect_urls(&cfg, 18642, 18643, "[\"https://192.168.1.10:18643\",\"https://127.0.0.1:18643\"]");
    expect_urls(&cfg, 18642, -1, "[\"http://link.example.com\",\"http://127.0.0.1:18642\"]");
    hl_config_dispose(&cfg);
}
END_TEST

static void expect_bound(const hl_config_t *cfg, const char *plain_host, const char *tls_host, int tls_port, const char *want)
{
    json_t *ips = json_pack("[s]", "192.168.1.10");
    json_t *urls = hl_preferred_urls(cfg, ips, plain_host, 18642, tls_host, tls_port);
    char *got = json_dumps(urls, JSON_COMPACT);
    ck_assert_msg(strcmp(got, want) == 0, "bound to %s / %s: %s, expected %s", plain_host, tls_host, got, want);
    free(got);
    json_decref(urls);
    json_decref(ips);
}

/* Only addresses the daemon listens on: a specific bind address alone (IPv6 in brackets), never a LAN address or lanHost */
START_TEST(preferred_urls_of_bound_host)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    expect_bound(&cfg, "::1", "::1", 18643, "[\"http://[::1]:18642\"]");
    expect_bound(&cfg, "127.0.0.1", "127.0.0.1", 18643, "[\"http://127.0.0.1:18642\"]");
    expect_bound(&cfg, "192.168.1.20", "192.168.1.20", -1, "[\"http://192.168.1.20:18642\"]");
    expect_bound(&cfg, "::", "::", -1, "[\"http://192.168.1.10:18642\",\"http://127.0.0.1:18642\"]");
    cfg.lan_plain_http = false;
    expect_bound(&cfg, "::1", "::1", 18643, "[\"https://[::1]:18643\"]");
    expect_bound(&cfg, "::1", "::1", -1, "[\"http://[::1]:18642\"]");
    expect_bound(&cfg, "127.0.0.1", "192.168.1.20", 18643, "[\"https://192.168.1.20:18643\"]");
    /* a public URL is the user's own statement of where the service is reachable: kept */
    cfg.public_url = hl_strdup("https://link.example.com");
    expect_bound(&cfg, "127.0.0.1", "127.0.0.1", 18643, "[\"https://link.example.com\",\"https://127.0.0.1:18643\"]");
    hl_config_dispose(&cfg);
    char *h = hl_url_host("fe80::1");
    ck_assert_str_eq(h, "[fe80::1]");
    free(h);
    h = hl_url_host("0.0.0.0");
    ck_assert_str_eq(h, "127.0.0.1");
    free(h);
}
END_TEST

Suite *suite_config_edge(void)
{
    Suite *s = suite_create("config_edge");
    TCase *tc = tcase_create("config_edge");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, load_edge_keys);
    tcase_add_test(tc, load_rejects_bad_edge_values);
    tcase_add_test(tc, load_too_many_trusted_proxies);
    tcase_add_test(tc, set_edge_keys);
    tcase_add_test(tc, dump_edge_keys_only_when_needed);
    tcase_add_test(tc, preferred_urls);
    tcase_add_test(tc, preferred_urls_of_bound_host);
    suite_add_tcase(s, tc);
    return s;
}
