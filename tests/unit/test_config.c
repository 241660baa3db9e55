/*
 * config.json: defaults, loading with validation, `config set` keys and their messages, dump/save round trips.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hl/config.h"
#include "unit_util.h"

static void defaults(hl_config_t *cfg)
{
    unsetenv("HERMESLINK_LOG_LEVEL");
    hl_config_defaults(cfg);
}

/* Loads `text` as <tmp>/config.json into cfg (over the defaults); returns hl_config_load's result. */
static int load_text(hl_config_t *cfg, const char *text, char *err, size_t errlen)
{
    char *home = ut_mkdtemp(), *path = ut_path(home, "config.json");
    ut_write_str(path, text);
    defaults(cfg);
    err[0] = '\0';
    int r = hl_config_load(cfg, home, err, errlen);
    free(path);
    ut_rm_rf(home);
    return r;
}

/* hl_config_set expecting `ret` and exactly the line `want`. */
static void set_expect(hl_config_t *cfg, const char *key, const char *value, int ret, const char *want)
{
    char *msg = NULL;
    int r = hl_config_set(cfg, key, value, &msg);
    ck_assert_msg(r == ret, "config set %s '%s' returned %d, expected %d (%s)", key, value, r, ret, msg ? msg : "NULL");
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, want);
    free(msg);
}

START_TEST(defaults_without_env)
{
    hl_config_t cfg;
    defaults(&cfg);
    ck_assert_int_eq(cfg.port, 18642);
    ck_assert_int_eq(cfg.tls_port, 18643);
    ck_assert_int_eq(cfg.workers, 0);
    ck_assert_str_eq(cfg.language, "auto");
    ck_assert_str_eq(cfg.log_level, "warn");
    ck_assert_ptr_null(cfg.lan_host);
    ck_assert_ptr_null(cfg.public_url);
    ck_assert_ptr_null(cfg.hermes_api_url);
    ck_assert_ptr_null(cfg.hermes_api_key);
    ck_assert(json_is_object(cfg.raw));
    /* the original's four keys first, in its order; no hermesApiKey when none is set */
    char *dump = hl_config_dump(&cfg, 1);
    ck_assert_str_eq(dump, "{\n"
                           "  \"port\": 18642,\n"
                           "  \"lanHost\": null,\n"
                           "  \"language\": \"auto\",\n"
                           "  \"logLevel\": \"warn\",\n"
                           "  \"tlsPort\": 18643,\n"
                           "  \"workers\": 0,\n"
                           "  \"publicUrl\": null,\n"
                           "  \"hermesApiUrl\": null\n"
                           "}\n");
    free(dump);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(defaults_log_level_from_env)
{
    hl_config_t cfg;
    setenv("HERMESLINK_LOG_LEVEL", "debug", 1);
    hl_config_defaults(&cfg);
    ck_assert_str_eq(cfg.log_level, "debug");
    hl_config_dispose(&cfg);

    setenv("HERMESLINK_LOG_LEVEL", "error", 1);
    hl_config_defaults(&cfg);
    ck_assert_str_eq(cfg.log_level, "error");
    hl_config_dispose(&cfg);

    /* invalid values are ignored */
    setenv("HERMESLINK_LOG_LEVEL", "verbose", 1);
    hl_config_defaults(&cfg);
    ck_assert_str_eq(cfg.log_level, "warn");
    hl_config_dispose(&cfg);
    setenv("HERMESLINK_LOG_LEVEL", "", 1);
    hl_config_defaults(&cfg);
    ck_assert_str_eq(cfg.log_level, "warn");
    hl_config_dispose(&cfg);

    /* the file wins over the environment */
    char *home = ut_mkdtemp(), *path = ut_path(home, "config.json"), err[256];
    ut_write_str(path, "{\"logLevel\": \"info\"}");
    setenv("HERMESLINK_LOG_LEVEL", "debug", 1);
    hl_config_defaults(&cfg);
    ck_assert_int_eq(hl_config_load(&cfg, home, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.log_level, "info");
    hl_config_dispose(&cfg);
    unsetenv("HERMESLINK_LOG_LEVEL");
    free(path);
    ut_rm_rf(home);
}
END_TEST

START_TEST(load_missing_file_is_ok)
{
    hl_config_t cfg;
    char *home = ut_mkdtemp(), err[256] = "";
    defaults(&cfg);
    ck_assert_int_eq(hl_config_load(&cfg, home, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.port, HL_DEFAULT_PORT);
    ck_assert_int_eq(cfg.tls_port, HL_DEFAULT_TLS_PORT);
    ck_assert_str_eq(err, "");
    hl_config_dispose(&cfg);

    /* a home that does not exist at all */
    char *missing = ut_path(home, "nope");
    defaults(&cfg);
    ck_assert_int_eq(hl_config_load(&cfg, missing, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.port, HL_DEFAULT_PORT);
    hl_config_dispose(&cfg);
    free(missing);
    ut_rm_rf(home);
}
END_TEST

START_TEST(load_all_keys)
{
    hl_config_t cfg;
    char err[256];
    ck_assert_int_eq(load_text(&cfg,
                               "{\"port\": 9000, \"tlsPort\": 9443, \"workers\": 3, \"lanHost\": \"192.168.1.20\","
                               " \"language\": \"zh-CN\", \"logLevel\": \"debug\", \"publicUrl\": \"https://link.example.com\","
                               " \"hermesApiUrl\": \"http://127.0.0.1:8642\", \"hermesApiKey\": \"sk-abc\"}",
                               err, sizeof(err)),
                     0);
    ck_assert_int_eq(cfg.port, 9000);
    ck_assert_int_eq(cfg.tls_port, 9443);
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_str_eq(cfg.lan_host, "192.168.1.20");
    ck_assert_str_eq(cfg.language, "zh-CN");
    ck_assert_str_eq(cfg.log_level, "debug");
    ck_assert_str_eq(cfg.public_url, "https://link.example.com");
    ck_assert_str_eq(cfg.hermes_api_url, "http://127.0.0.1:8642");
    ck_assert_str_eq(cfg.hermes_api_key, "sk-abc");
    hl_config_dispose(&cfg);

    /* nullable keys accept null; bounds are inclusive; TLS can be disabled */
    ck_assert_int_eq(load_text(&cfg,
                               "{\"port\": 65535, \"tlsPort\": 0, \"workers\": 256, \"lanHost\": null, \"publicUrl\": null,"
                               " \"hermesApiUrl\": null, \"hermesApiKey\": null}",
                               err, sizeof(err)),
                     0);
    ck_assert_int_eq(cfg.port, 65535);
    ck_assert_int_eq(cfg.tls_port, 0);
    ck_assert_int_eq(cfg.workers, 256);
    ck_assert_ptr_null(cfg.lan_host);
    ck_assert_ptr_null(cfg.public_url);
    ck_assert_ptr_null(cfg.hermes_api_key);
    hl_config_dispose(&cfg);

    ck_assert_int_eq(load_text(&cfg, "{\"port\": 1, \"workers\": 0}", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.port, 1);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(load_bad_json)
{
    static const char *const bad[] = {"{\"port\": 18642,", "not json", "[1, 2]", "\"string\"", "42", ""};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        hl_config_t cfg;
        char err[256];
        ck_assert_int_eq(load_text(&cfg, bad[i], err, sizeof(err)), -EINVAL);
        ck_assert_msg(strstr(err, "config.json") != NULL, "message for '%s' does not name the file: %s", bad[i], err);
        hl_config_dispose(&cfg);
    }
}
END_TEST

START_TEST(load_rejects_bad_values_naming_the_key)
{
    static const struct {
        const char *key, *json;
    } cases[] = {
        {"port", "{\"port\": \"18642\"}"},
        {"port", "{\"port\": 0}"},
        {"port", "{\"port\": 65536}"},
        {"port", "{\"port\": -1}"},
        {"port", "{\"port\": 8080.5}"},
        {"port", "{\"port\": null}"},
        {"port", "{\"port\": true}"},
        {"tlsPort", "{\"tlsPort\": -1}"},
        {"tlsPort", "{\"tlsPort\": 65536}"},
        {"tlsPort", "{\"tlsPort\": \"443\"}"},
        {"workers", "{\"workers\": 257}"},
        {"workers", "{\"workers\": -1}"},
        {"workers", "{\"workers\": \"4\"}"},
        {"lanHost", "{\"lanHost\": 192}"},
        {"lanHost", "{\"lanHost\": \"192.168.1.0\"}"},
        {"lanHost", "{\"lanHost\": \"192.168.1.255\"}"},
        {"lanHost", "{\"lanHost\": \"example.com\"}"},
        {"lanHost", "{\"lanHost\": \"fe80::1\"}"},
        {"lanHost", "{\"lanHost\": \"192.168.1\"}"},
        {"language", "{\"language\": \"fr\"}"},
        {"language", "{\"language\": null}"},
        {"language", "{\"language\": 1}"},
        {"logLevel", "{\"logLevel\": \"verbose\"}"},
        {"logLevel", "{\"logLevel\": \"WARN\"}"},
        {"logLevel", "{\"logLevel\": null}"},
        {"publicUrl", "{\"publicUrl\": \"ftp://example.com\"}"},
        {"publicUrl", "{\"publicUrl\": \"example.com\"}"},
        {"publicUrl", "{\"publicUrl\": \"http://\"}"},
        {"publicUrl", "{\"publicUrl\": \"http://a b\"}"},
        {"publicUrl", "{\"publicUrl\": 1}"},
        {"publicUrl", "{\"publicUrl\": \"https://link.example.com/prefix\"}"},
        {"publicUrl", "{\"publicUrl\": \"https://u@link.example.com\"}"},
        {"hermesApiUrl", "{\"hermesApiUrl\": \"localhost:8642\"}"},
        {"hermesApiUrl", "{\"hermesApiUrl\": []}"},
        {"hermesApiKey", "{\"hermesApiKey\": 12345}"},
        {"hermesApiKey", "{\"hermesApiKey\": {}}"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(cases); ++i) {
        hl_config_t cfg;
        char err[256], quoted[64];
        ck_assert_msg(load_text(&cfg, cases[i].json, err, sizeof(err)) == -EINVAL, "%s was accepted", cases[i].json);
        snprintf(quoted, sizeof(quoted), "\"%s\"", cases[i].key);
        ck_assert_msg(strstr(err, quoted) != NULL, "message for %s does not name %s: %s", cases[i].json, quoted, err);
        ck_assert_msg(strstr(err, "config.json") != NULL, "message for %s does not name the file: %s", cases[i].json, err);
        hl_config_dispose(&cfg);
    }
}
END_TEST

START_TEST(load_tls_port_must_differ)
{
    hl_config_t cfg;
    char err[256];
    ck_assert_int_eq(load_text(&cfg, "{\"port\": 9000, \"tlsPort\": 9000}", err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"tlsPort\""));
    hl_config_dispose(&cfg);
    /* with TLS off, any port is fine */
    ck_assert_int_eq(load_text(&cfg, "{\"port\": 18643, \"tlsPort\": 0}", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.port, 18643);
    hl_config_dispose(&cfg);
    /* an original config (no tlsPort) on our default TLS port: TLS moves aside instead of refusing to start */
    ck_assert_int_eq(load_text(&cfg, "{\"port\": 18643}", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.port, 18643);
    ck_assert_int_eq(cfg.tls_port, 18644);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(unknown_keys_preserved)
{
    hl_config_t cfg;
    char err[256];
    ck_assert_int_eq(
        load_text(&cfg, "{\"port\": 9000, \"custom\": {\"a\": [1, 2, {\"b\": null}]}, \"zz\": \"keep me\"}", err, sizeof(err)), 0);
    char *msg = NULL;
    ck_assert_int_eq(hl_config_set(&cfg, "language", "en", &msg), 0);
    free(msg);
    char *dump = hl_config_dump(&cfg, 0);
    json_t *out = json_loads(dump, 0, NULL);
    ck_assert_ptr_nonnull(out);
    json_t *want = json_loads("{\"a\": [1, 2, {\"b\": null}]}", 0, NULL);
    ck_assert(json_equal(json_object_get(out, "custom"), want));
    ck_assert_str_eq(json_string_value(json_object_get(out, "zz")), "keep me");
    ck_assert_int_eq(json_integer_value(json_object_get(out, "port")), 9000);
    ck_assert_str_eq(json_string_value(json_object_get(out, "language")), "en");
    /* the file's key order is kept: port, custom, zz, then the keys it lacked */
    ck_assert_ptr_nonnull(strstr(dump, "{\n  \"port\": 9000,\n  \"custom\": "));
    ck_assert(strstr(dump, "\"zz\"") < strstr(dump, "\"lanHost\""));
    json_decref(want);
    json_decref(out);
    free(dump);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_port)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "port", "8080", 0, "Port set to 8080");
    ck_assert_int_eq(cfg.port, 8080);
    set_expect(&cfg, "port", "1", 0, "Port set to 1");
    set_expect(&cfg, "port", "65535", 0, "Port set to 65535");
    ck_assert_int_eq(cfg.port, 65535);
    static const char *const bad[] = {"0", "65536", "-1", "80abc", "", "abc", "8080.0", "99999999999999999999"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        set_expect(&cfg, "port", bad[i], -EINVAL, "Invalid port number");
        ck_assert_int_eq(cfg.port, 65535); /* unchanged */
    }
    /* taking the TLS port moves TLS next to it rather than refusing */
    set_expect(&cfg, "port", "18643", 0, "Port set to 18643 (TLS port moved to 18644)");
    ck_assert_int_eq(cfg.tls_port, 18644);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_tls_port)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "tls-port", "8443", 0, "TLS port set to 8443");
    ck_assert_int_eq(cfg.tls_port, 8443);
    static const char *const bad[] = {"-1", "65536", "x", "", "443x"};
    const char *line = "Invalid TLS port number (1-65535, different from port, or 0 to disable TLS)";
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i)
        set_expect(&cfg, "tls-port", bad[i], -EINVAL, line);
    set_expect(&cfg, "tls-port", "18642", -EINVAL, line); /* equal to port */
    ck_assert_int_eq(cfg.tls_port, 8443);
    set_expect(&cfg, "tls-port", "0", 0, "TLS port set to 0 (TLS disabled)");
    ck_assert_int_eq(cfg.tls_port, 0);
    /* with TLS off, port may take the old TLS port */
    set_expect(&cfg, "port", "18643", 0, "Port set to 18643");
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_workers)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "workers", "4", 0, "Workers set to 4");
    ck_assert_int_eq(cfg.workers, 4);
    set_expect(&cfg, "workers", "0", 0, "Workers set to 0");
    set_expect(&cfg, "workers", "256", 0, "Workers set to 256");
    set_expect(&cfg, "workers", "257", -EINVAL, "Invalid worker count (0-256, 0 = one per CPU)");
    set_expect(&cfg, "workers", "-1", -EINVAL, "Invalid worker count (0-256, 0 = one per CPU)");
    set_expect(&cfg, "workers", "two", -EINVAL, "Invalid worker count (0-256, 0 = one per CPU)");
    ck_assert_int_eq(cfg.workers, 256);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_lan_host)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "lan-host", "192.168.1.5", 0, "LAN host set to 192.168.1.5");
    ck_assert_str_eq(cfg.lan_host, "192.168.1.5");
    set_expect(&cfg, "lan-host", "[192.168.1.6]", 0, "LAN host set to 192.168.1.6");
    ck_assert_str_eq(cfg.lan_host, "192.168.1.6");
    set_expect(&cfg, "lan-host", "auto", 0, "LAN host set to (auto)");
    ck_assert_ptr_null(cfg.lan_host);
    static const char *const resets[] = {"", "null", "none"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(resets); ++i) {
        set_expect(&cfg, "lan-host", "10.0.0.2", 0, "LAN host set to 10.0.0.2");
        set_expect(&cfg, "lan-host", resets[i], 0, "LAN host set to (auto)");
        ck_assert_ptr_null(cfg.lan_host);
    }
    set_expect(&cfg, "lan-host", "10.0.0.2", 0, "LAN host set to 10.0.0.2");
    static const char *const bad[] = {"192.168.1.0", "192.168.1.255", "[192.168.1.5", "192.168.1.5]", "[]",   "[[192.168.1.5]]",
                                      "fe80::1",     "[::1]",         "host.local",   "256.1.1.1",    "1.2.3"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i)
        set_expect(&cfg, "lan-host", bad[i], -EINVAL, "Invalid LAN host (expected an IPv4 address such as 192.168.1.10, or auto)");
    ck_assert_str_eq(cfg.lan_host, "10.0.0.2"); /* unchanged by the failures */
    hl_config_dispose(&cfg);

    ck_assert(hl_config_valid_lan_host("192.168.1.10"));
    ck_assert(!hl_config_valid_lan_host("[192.168.1.10]"));
    ck_assert(!hl_config_valid_lan_host(NULL));
}
END_TEST

START_TEST(set_language_and_log_level)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "language", "en", 0, "Language set to en");
    set_expect(&cfg, "language", "zh-CN", 0, "Language set to zh-CN");
    ck_assert_str_eq(cfg.language, "zh-CN");
    set_expect(&cfg, "language", "auto", 0, "Language set to auto");
    ck_assert_str_eq(cfg.language, "auto");
    set_expect(&cfg, "language", "fr", -EINVAL, "Invalid language (expected auto, en or zh-CN)");
    set_expect(&cfg, "language", "zh-cn", -EINVAL, "Invalid language (expected auto, en or zh-CN)");
    ck_assert_str_eq(cfg.language, "auto");

    static const char *const levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(levels); ++i) {
        char want[64];
        snprintf(want, sizeof(want), "Log level set to %s", levels[i]);
        set_expect(&cfg, "log-level", levels[i], 0, want);
        ck_assert_str_eq(cfg.log_level, levels[i]);
        ck_assert(hl_config_valid_log_level(levels[i]));
    }
    set_expect(&cfg, "log-level", "verbose", -EINVAL, "Invalid log level (expected debug, info, warn or error)");
    set_expect(&cfg, "log-level", "", -EINVAL, "Invalid log level (expected debug, info, warn or error)");
    ck_assert_str_eq(cfg.log_level, "error");
    ck_assert(!hl_config_valid_log_level(NULL));
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_urls)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "public-url", "https://link.example.com/", 0, "Public URL set to https://link.example.com");
    ck_assert_str_eq(cfg.public_url, "https://link.example.com");
    set_expect(&cfg, "public-url", "http://203.0.113.7:18642///", 0, "Public URL set to http://203.0.113.7:18642");
    ck_assert_str_eq(cfg.public_url, "http://203.0.113.7:18642");
    static const struct {
        const char *url, *reason;
    } bad[] = {
        {"ftp://example.com", "it is not http:// or https://"},
        {"example.com", "it is not http:// or https://"},
        {"http://", "it has no host"},
        {"https:///", "it has no host"},
        {"http://a b", "it contains spaces, quotes or other characters a URL cannot hold"},
        {"http://a\"b", "it contains spaces, quotes or other characters a URL cannot hold"},
        {"https://user:pw@link.example.com", "it has a user name"},
        {"https://link.example.com/?x=1", "it has a query"},
        {"https://link.example.com#top", "it has a fragment"},
        {"https://link.example.com/hermes", "it has a path"},
        {"https://link.example.com:0", "its port is not a number from 1 to 65535"},
        {"https://link.example.com:70000", "its port is not a number from 1 to 65535"},
        {"https://link.example.com:", "its port is not a number from 1 to 65535"},
        {"https://[zz::1]", "its host is not a valid IPv6 address"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        char *want = hl_asprintf("Invalid public URL: %s; publicUrl must be an http:// or https:// URL without a path, user, "
                                 "query or fragment, e.g. https://link.example.com",
                                 bad[i].reason);
        set_expect(&cfg, "public-url", bad[i].url, -EINVAL, want);
        free(want);
    }
    set_expect(&cfg, "public-url", "https://[2001:db8::1]:8443/", 0, "Public URL set to https://[2001:db8::1]:8443");
    set_expect(&cfg, "public-url", "http://203.0.113.7:18642///", 0, "Public URL set to http://203.0.113.7:18642");
    ck_assert_str_eq(cfg.public_url, "http://203.0.113.7:18642");
    set_expect(&cfg, "public-url", "auto", 0, "Public URL set to (auto)");
    ck_assert_ptr_null(cfg.public_url);

    set_expect(&cfg, "hermes-api-url", "http://127.0.0.1:8642", 0, "Hermes API URL set to http://127.0.0.1:8642");
    ck_assert_str_eq(cfg.hermes_api_url, "http://127.0.0.1:8642");
    set_expect(&cfg, "hermes-api-url", "https://hermes.internal:8642/", 0, "Hermes API URL set to https://hermes.internal:8642");
    set_expect(&cfg, "hermes-api-url", "localhost:8642", -EINVAL,
               "Invalid Hermes API URL (expected http://host[:port] or https://host[:port])");
    ck_assert_str_eq(cfg.hermes_api_url, "https://hermes.internal:8642");
    /* found by fuzz_config_json: a byte that is not ASCII was accepted, then silently left out of the saved file */
    set_expect(&cfg, "hermes-api-url", "https://\x94\x94up", -EINVAL,
               "Invalid Hermes API URL (expected http://host[:port] or https://host[:port])");
    set_expect(&cfg, "hermes-api-url", "https://h\xc3\xa9rmes.example", -EINVAL,
               "Invalid Hermes API URL (expected http://host[:port] or https://host[:port])");
    set_expect(&cfg, "update-url", "https://example.com/\xff", -EINVAL, "Invalid update URL (expected an http:// or https:// URL)");
    ck_assert_str_eq(cfg.hermes_api_url, "https://hermes.internal:8642");
    set_expect(&cfg, "hermes-api-url", "none", 0, "Hermes API URL set to (auto)");
    ck_assert_ptr_null(cfg.hermes_api_url);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(set_unknown_key)
{
    hl_config_t cfg;
    defaults(&cfg);
    set_expect(&cfg, "x", "1", -ENOENT, "Unknown config key: x");
    set_expect(&cfg, "lanHost", "192.168.1.5", -ENOENT, "Unknown config key: lanHost"); /* CLI names only */
    /* the API key never comes from argv (config_cmd.c reads it from stdin or a file) */
    set_expect(&cfg, "hermes-api-key", "sk", -EINVAL,
               "The Hermes API key is read from stdin or a file, not the command line: "
               "hermeslink config set hermes-api-key [--file PATH]");
    ck_assert_ptr_null(cfg.hermes_api_key);
    ck_assert_ptr_null(cfg.lan_host);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(save_load_round_trip)
{
    char *home = ut_mkdtemp(), err[256];
    hl_config_t a, b;
    defaults(&a);
    json_object_set_new(a.raw, "futureKey", json_string("x"));
    char *msg;
    static const char *const sets[][2] = {{"port", "9100"},
                                          {"tls-port", "9443"},
                                          {"workers", "2"},
                                          {"lan-host", "[10.1.2.3]"},
                                          {"language", "en"},
                                          {"log-level", "info"},
                                          {"public-url", "https://x.example.com/"},
                                          {"hermes-api-url", "http://127.0.0.1:8642"}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(sets); ++i) {
        ck_assert_int_eq(hl_config_set(&a, sets[i][0], sets[i][1], &msg), 0);
        free(msg);
    }
    a.hermes_api_key = strdup("sk-secret");
    ck_assert_int_eq(hl_config_save(&a, home), 0);

    char *path = ut_path(home, "config.json");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    char *text = ut_read(path), *dump = hl_config_dump(&a, 0);
    ck_assert_str_eq(text, dump); /* the file is the unredacted dump: 2-space indent, trailing newline */
    ck_assert(text[strlen(text) - 1] == '\n');
    ck_assert_ptr_nonnull(strstr(text, "\n  \"port\": 9100,\n"));
    ck_assert_int_eq(ut_count_entries(home), 1); /* no temp file left */

    defaults(&b);
    ck_assert_int_eq(hl_config_load(&b, home, err, sizeof(err)), 0);
    ck_assert_int_eq(b.port, 9100);
    ck_assert_int_eq(b.tls_port, 9443);
    ck_assert_int_eq(b.workers, 2);
    ck_assert_str_eq(b.lan_host, "10.1.2.3");
    ck_assert_str_eq(b.language, "en");
    ck_assert_str_eq(b.log_level, "info");
    ck_assert_str_eq(b.public_url, "https://x.example.com");
    ck_assert_str_eq(b.hermes_api_url, "http://127.0.0.1:8642");
    ck_assert_str_eq(b.hermes_api_key, "sk-secret");
    char *dump2 = hl_config_dump(&b, 0);
    ck_assert_str_eq(dump2, dump);
    ck_assert_ptr_nonnull(strstr(dump2, "\"futureKey\": \"x\""));

    /* saving again replaces the file and keeps it 0600 */
    chmod(path, 0644);
    ck_assert_int_eq(hl_config_save(&b, home), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(ut_count_entries(home), 1);

    free(dump2);
    free(dump);
    free(text);
    free(path);
    hl_config_dispose(&a);
    hl_config_dispose(&b);
    ut_rm_rf(home);
}
END_TEST

START_TEST(save_to_missing_home_fails)
{
    char *home = ut_mkdtemp(), *missing = ut_path(home, "not-there");
    hl_config_t cfg;
    defaults(&cfg);
    ck_assert_int_eq(hl_config_save(&cfg, missing), -ENOENT);
    ck_assert_int_eq(ut_count_entries(home), 0);
    hl_config_dispose(&cfg);
    free(missing);
    ut_rm_rf(home);
}
END_TEST

START_TEST(api_key_set_never_echoed)
{
    hl_config_t cfg;
    defaults(&cfg);
    char *msg = NULL;
    ck_assert_int_eq(hl_config_set_api_key(&cfg, "sk-very-secret-1234", &msg), 0);
    ck_assert_str_eq(cfg.hermes_api_key, "sk-very-secret-1234");
    ck_assert_str_eq(msg, "Hermes API key set");
    free(msg);
    static const char *const bad[] = {"", "sk with space", "sk\nx", "sk\x01", "sk\xc3\xa9"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        ck_assert_int_eq(hl_config_set_api_key(&cfg, bad[i], &msg), -EINVAL);
        ck_assert_msg(bad[i][0] == '\0' || strstr(msg, bad[i]) == NULL, "the message echoes the key: %s", msg);
        free(msg);
    }
    ck_assert_str_eq(cfg.hermes_api_key, "sk-very-secret-1234");
    char *shown = hl_config_dump(&cfg, 1);
    ck_assert_ptr_null(strstr(shown, "sk-very-secret"));
    free(shown);
    ck_assert_int_eq(hl_config_set_api_key(&cfg, NULL, &msg), 0);
    ck_assert_ptr_null(cfg.hermes_api_key);
    free(msg);
    shown = hl_config_dump(&cfg, 1);
    ck_assert_ptr_null(strstr(shown, "hermesApiKey"));
    free(shown);
    hl_config_dispose(&cfg);
}
END_TEST

START_TEST(api_key_redacted_only_when_asked)
{
    hl_config_t cfg;
    defaults(&cfg);
    cfg.hermes_api_key = strdup("sk-very-secret");
    char *shown = hl_config_dump(&cfg, 1), *full = hl_config_dump(&cfg, 0);
    ck_assert_ptr_null(strstr(shown, "sk-very-secret"));
    ck_assert_ptr_nonnull(strstr(shown, "\"hermesApiKey\": \"(configured)\""));
    ck_assert_ptr_nonnull(strstr(full, "\"hermesApiKey\": \"sk-very-secret\""));
    free(shown);
    free(full);
    hl_config_dispose(&cfg);

    /* a null key in the file stays null (nothing to redact) */
    char err[256];
    ck_assert_int_eq(load_text(&cfg, "{\"hermesApiKey\": null}", err, sizeof(err)), 0);
    shown = hl_config_dump(&cfg, 1);
    ck_assert_ptr_nonnull(strstr(shown, "\"hermesApiKey\": null"));
    free(shown);
    hl_config_dispose(&cfg);
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, defaults_without_env);
    tcase_add_test(tc, defaults_log_level_from_env);
    tcase_add_test(tc, load_missing_file_is_ok);
    tcase_add_test(tc, load_all_keys);
    tcase_add_test(tc, load_bad_json);
    tcase_add_test(tc, load_rejects_bad_values_naming_the_key);
    tcase_add_test(tc, load_tls_port_must_differ);
    tcase_add_test(tc, unknown_keys_preserved);
    suite_add_tcase(s, tc);

    TCase *set = tcase_create("set");
    tcase_add_test(set, set_port);
    tcase_add_test(set, set_tls_port);
    tcase_add_test(set, set_workers);
    tcase_add_test(set, set_lan_host);
    tcase_add_test(set, set_language_and_log_level);
    tcase_add_test(set, set_urls);
    tcase_add_test(set, set_unknown_key);
    suite_add_tcase(s, set);

    TCase *save = tcase_create("save");
    tcase_add_test(save, save_load_round_trip);
    tcase_add_test(save, save_to_missing_home_fails);
    tcase_add_test(save, api_key_redacted_only_when_asked);
    tcase_add_test(save, api_key_set_never_echoed);
    suite_add_tcase(s, save);
    return s;
}
