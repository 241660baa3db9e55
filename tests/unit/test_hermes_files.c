/*
 * The Hermes files actor (include/hl/hermes_files.h) and its pure pieces (include/hl/hermes_read.h): `.env` parsing,
 * config.yaml's api_server block, profile names and directories (spec STORAGE §3.1), URLs, the per-part precedence of
 * the upstream resolution on temporary Hermes homes, and the actor end to end.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hl/common.h"
#include "hl/config.h"
#include "hl/hermes_files.h"
#include "hl/hermes_read.h"
#include "unit_util.h"

/* ---- .env ---- */

static void parse(hl_dotenv_t *env, const char *text)
{
    hl_dotenv_parse(env, text, strlen(text));
}

START_TEST(dotenv_basic_forms)
{
    hl_dotenv_t env;
    parse(&env, "# a comment\n"
                "\n"
                "   \n"
                "PLAIN=value\n"
                "export EXPORTED=yes\n"
                "export\tTABBED=1\n"
                "  SPACED  =  padded value  \n"
                "EMPTY=\n"
                "EMPTY_QUOTED=\"\"\n"
                "COMMENTED=abc # trailing comment\n"
                "HASH=a#b\n"
                "LEADING_HASH= #not-a-comment\n"
                "    # indented comment\n"
                "export=named-export\n"
                "URL=http://x/?a=b=c\n");
    ck_assert_uint_eq(env.bad_lines, 0);
    ck_assert_str_eq(hl_dotenv_get(&env, "PLAIN"), "value");
    ck_assert_str_eq(hl_dotenv_get(&env, "EXPORTED"), "yes");
    ck_assert_str_eq(hl_dotenv_get(&env, "TABBED"), "1");
    ck_assert_str_eq(hl_dotenv_get(&env, "SPACED"), "padded value");
    ck_assert_str_eq(hl_dotenv_get(&env, "EMPTY"), "");
    ck_assert_str_eq(hl_dotenv_get(&env, "EMPTY_QUOTED"), "");
    ck_assert_str_eq(hl_dotenv_get(&env, "COMMENTED"), "abc");
    ck_assert_str_eq(hl_dotenv_get(&env, "HASH"), "a#b");
    ck_assert_str_eq(hl_dotenv_get(&env, "LEADING_HASH"), "#not-a-comment");
    ck_assert_str_eq(hl_dotenv_get(&env, "export"), "named-export");
    ck_assert_str_eq(hl_dotenv_get(&env, "URL"), "http://x/?a=b=c");
    ck_assert_ptr_null(hl_dotenv_get(&env, "MISSING"));
    ck_assert_ptr_null(hl_dotenv_get(&env, "plain"));
    hl_dotenv_dispose(&env);
}
END_TEST

START_TEST(dotenv_quotes_and_escapes)
{
    hl_dotenv_t env;
    parse(&env, "SINGLE='a\\nb # not a comment'\n"
                "DOUBLE=\"line1\\nline2\\ttab \\\"q\\\" back\\\\slash \\x kept\"\n"
                "DOUBLE_COMMENT=\"value\"   # comment\n"
                "SINGLE_COMMENT='value' #c\n"
                "SPACES_KEPT=\"  inner  \"\n"
                "MULTI=\"first\n"
                "second\"\n"
                "AFTER=ok\n");
    ck_assert_uint_eq(env.bad_lines, 0);
    ck_assert_str_eq(hl_dotenv_get(&env, "SINGLE"), "a\\nb # not a comment");
    ck_assert_str_eq(hl_dotenv_get(&env, "DOUBLE"), "line1\nline2\ttab \"q\" back\\slash \\x kept");
    ck_assert_str_eq(hl_dotenv_get(&env, "DOUBLE_COMMENT"), "value");
    ck_assert_str_eq(hl_dotenv_get(&env, "SINGLE_COMMENT"), "value");
    ck_assert_str_eq(hl_dotenv_get(&env, "SPACES_KEPT"), "  inner  ");
    ck_assert_str_eq(hl_dotenv_get(&env, "MULTI"), "first\nsecond");
    ck_assert_str_eq(hl_dotenv_get(&env, "AFTER"), "ok");
    hl_dotenv_dispose(&env);
}
END_TEST

START_TEST(dotenv_crlf_duplicates_and_bad_lines)
{
    hl_dotenv_t env;
    parse(&env, "A=1\r\n"
                "B=\"two\"\r\n"
                "C='three'  # c\r\n"
                "A=last wins\r\n"
                "not an assignment\r\n"
                "1BAD=x\r\n"
                "UNCLOSED=\"never closed\r\n"
                "TRAILING=\"x\" junk\r\n"
                "D=4\r\n"
                "E=5");
    ck_assert_str_eq(hl_dotenv_get(&env, "A"), "last wins");
    ck_assert_str_eq(hl_dotenv_get(&env, "B"), "two");
    ck_assert_str_eq(hl_dotenv_get(&env, "C"), "three");
    ck_assert_str_eq(hl_dotenv_get(&env, "D"), "4");
    ck_assert_str_eq(hl_dotenv_get(&env, "E"), "5");
    ck_assert_ptr_null(hl_dotenv_get(&env, "UNCLOSED"));
    ck_assert_ptr_null(hl_dotenv_get(&env, "TRAILING"));
    ck_assert_uint_eq(env.count, 5);
    ck_assert_uint_eq(env.bad_lines, 4);
    ck_assert_uint_eq(env.first_bad_line, 5);
    hl_dotenv_dispose(&env);

    /* a NUL inside a statement skips it, not the rest of the file */
    static const char with_nul[] = "X=a\0b\nY=fine\n";
    hl_dotenv_parse(&env, with_nul, sizeof(with_nul) - 1);
    ck_assert_ptr_null(hl_dotenv_get(&env, "X"));
    ck_assert_str_eq(hl_dotenv_get(&env, "Y"), "fine");
    ck_assert_uint_eq(env.bad_lines, 1);
    hl_dotenv_dispose(&env);

    parse(&env, "");
    ck_assert_uint_eq(env.count, 0);
    hl_dotenv_dispose(&env);
    parse(&env, "export");
    ck_assert_uint_eq(env.count, 0);
    ck_assert_uint_eq(env.bad_lines, 1);
    hl_dotenv_dispose(&env);
}
END_TEST

/* ---- config.yaml ---- */

static int yaml(hl_api_server_yaml_t *y, const char *text, char *err, size_t errlen)
{
    return hl_api_server_yaml_read(y, text, strlen(text), err, errlen);
}

START_TEST(yaml_nested_keys)
{
    hl_api_server_yaml_t y;
    char err[256] = "";
    ck_assert_int_eq(yaml(&y,
                          "model:\n  default: x\n"
                          "platforms:\n"
                          "  telegram:\n    enabled: false\n"
                          "  api_server:\n"
                          "    enabled: true\n"
                          "    extra:\n"
                          "      host: 10.0.0.5\n"
                          "      port: 8643\n"
                          "      key: \"secret-key-0123456789\"\n",
                          err, sizeof(err)),
                     0);
    ck_assert_int_eq(y.enabled, 1);
    ck_assert_str_eq(y.host, "10.0.0.5");
    ck_assert_str_eq(y.port, "8643");
    ck_assert_str_eq(y.key, "secret-key-0123456789");
    ck_assert_ptr_null(y.warning);
    hl_api_server_yaml_dispose(&y);

    /* the port as a string, flow style, enabled as YAML 1.1 "no", a repeated key (the last wins) */
    ck_assert_int_eq(yaml(&y, "platforms: {api_server: {enabled: no, extra: {port: '9000', port: \"9001\"}}}\n", err, sizeof(err)),
                     0);
    ck_assert_int_eq(y.enabled, 0);
    ck_assert_str_eq(y.port, "9001");
    ck_assert_ptr_null(y.host);
    ck_assert_ptr_null(y.key);
    hl_api_server_yaml_dispose(&y);

    /* anchors and aliases are followed, not expanded */
    ck_assert_int_eq(yaml(&y, "base: &b {host: \"::1\", port: 8650}\nplatforms:\n  api_server:\n    extra: *b\n", err, sizeof(err)),
                     0);
    ck_assert_str_eq(y.host, "::1");
    ck_assert_str_eq(y.port, "8650");
    hl_api_server_yaml_dispose(&y);
}
END_TEST

START_TEST(yaml_missing_sections_and_wrong_types)
{
    static const char *const empty[] = {"",
                                        "# only a comment\n",
                                        "model: x\n",
                                        "platforms:\n",
                                        "platforms: ~\n",
                                        "platforms:\n  telegram: {}\n",
                                        "platforms:\n  api_server:\n",
                                        "platforms:\n  api_server:\n    enabled: maybe\n",
                                        "platforms:\n  api_server:\n    extra:\n",
                                        "platforms:\n  api_server:\n    extra:\n      host: null\n      port: ~\n      key: ''\n"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(empty); ++i) {
        hl_api_server_yaml_t y;
        char err[256] = "";
        ck_assert_msg(yaml(&y, empty[i], err, sizeof(err)) == 0, "%s: %s", empty[i], err);
        ck_assert_int_eq(y.enabled, -1);
        ck_assert_ptr_null(y.host);
        ck_assert_ptr_null(y.port);
        ck_assert_ptr_null(y.key);
        ck_assert_ptr_null(y.warning);
        hl_api_server_yaml_dispose(&y);
    }

    hl_api_server_yaml_t y;
    char err[256] = "";
    ck_assert_int_eq(
        yaml(&y, "platforms:\n  api_server:\n    extra:\n      port: [1, 2]\n      key: abcdefabcdefabcdef\n", err, sizeof(err)),
        0);
    ck_assert_ptr_null(y.port);
    ck_assert_str_eq(y.key, "abcdefabcdefabcdef");
    ck_assert_ptr_nonnull(strstr(y.warning, "platforms.api_server.extra.port is not a single value"));
    hl_api_server_yaml_dispose(&y);

    ck_assert_int_eq(yaml(&y, "platforms: [api_server]\n", err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(y.warning, "platforms is not a mapping"));
    hl_api_server_yaml_dispose(&y);

    ck_assert_int_eq(yaml(&y, "just a scalar\n", err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(y.warning);
    hl_api_server_yaml_dispose(&y);
}
END_TEST

START_TEST(yaml_malformed_is_an_error)
{
    static const char *const bad[] = {"platforms:\n  api_server:\n    extra: {port: 1\n",
                                      "a: b\n c: d\n  - e\n",
                                      "key: \"unterminated\n",
                                      "platforms:\n\tapi_server: 1\n",
                                      "*undefined_alias\n",
                                      "[1, 2\n"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        hl_api_server_yaml_t y;
        char err[256] = "";
        ck_assert_msg(yaml(&y, bad[i], err, sizeof(err)) == -EINVAL, "accepted: %s", bad[i]);
        ck_assert_msg(strstr(err, "config.yaml: malformed YAML at line ") != NULL, "%s", err);
        ck_assert_ptr_null(y.host);
        ck_assert_ptr_null(y.key);
        hl_api_server_yaml_dispose(&y);
    }

    /* binary garbage and deep nesting: an error or nothing, never a crash */
    char garbage[4096];
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof(garbage); ++i)
        garbage[i] = (char)(rand_r(&seed) & 0xff);
    hl_api_server_yaml_t y;
    char err[256];
    int ret = hl_api_server_yaml_read(&y, garbage, sizeof(garbage), err, sizeof(err));
    ck_assert(ret == 0 || ret == -EINVAL);
    hl_api_server_yaml_dispose(&y);

    /* deep nesting is refused at once (libyaml alone spends minutes on 1 MiB of '['), 64 levels are fine */
    size_t depth = HL_HERMES_MAX_FILE_BYTES / 2;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    ck_assert_int_eq(hl_api_server_yaml_read(&y, deep, 2 * depth, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "nested more than 64 levels deep") != NULL, "%s", err);
    hl_api_server_yaml_dispose(&y);
    ck_assert_int_eq(hl_api_server_yaml_read(&y, deep + depth - 64, 128, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(y.warning, "the document is not a mapping"));
    hl_api_server_yaml_dispose(&y);
    memset(deep, '{', depth);
    ck_assert_int_eq(hl_api_server_yaml_read(&y, deep, depth, err, sizeof(err)), -EINVAL);
    hl_api_server_yaml_dispose(&y);
    free(deep);
}
END_TEST

/* ---- profiles and URLs ---- */

static void check_root(const char *home, const char *want)
{
    char *root = hl_hermes_profiles_root(home);
    ck_assert_msg(strcmp(root, want) == 0, "%s → %s, want %s", home, root, want);
    free(root);
}

START_TEST(profile_root_rule)
{
    check_root("/home/u/.hermes", "/home/u/.hermes");
    check_root("/home/u/.hermes/", "/home/u/.hermes");
    check_root("/home/u/.hermes/profiles/work", "/home/u/.hermes");
    check_root("/home/u/.hermes/profiles/work/", "/home/u/.hermes");
    check_root("/home/u/.hermes//profiles/work", "/home/u/.hermes");
    check_root("/profiles/work", "/");
    check_root("/home/u/profiles", "/home/u/profiles");
    check_root("/home/u/my-profiles/work", "/home/u/my-profiles/work");
    check_root("/opt/data", "/opt/data");

    char *dir = hl_hermes_profile_dir("/h/.hermes", NULL);
    ck_assert_str_eq(dir, "/h/.hermes");
    free(dir);
    dir = hl_hermes_profile_dir("/h/.hermes/", "");
    ck_assert_str_eq(dir, "/h/.hermes");
    free(dir);
    dir = hl_hermes_profile_dir("/h/.hermes", "default");
    ck_assert_str_eq(dir, "/h/.hermes");
    free(dir);
    dir = hl_hermes_profile_dir("/h/.hermes", "work");
    ck_assert_str_eq(dir, "/h/.hermes/profiles/work");
    free(dir);
    /* HERMES_HOME pointing at a profile: the default profile is that directory, siblings are its neighbours */
    dir = hl_hermes_profile_dir("/h/.hermes/profiles/work", NULL);
    ck_assert_str_eq(dir, "/h/.hermes/profiles/work");
    free(dir);
    dir = hl_hermes_profile_dir("/h/.hermes/profiles/work", "home");
    ck_assert_str_eq(dir, "/h/.hermes/profiles/home");
    free(dir);
    dir = hl_hermes_profile_dir("/profiles/work", "home");
    ck_assert_str_eq(dir, "/profiles/home");
    free(dir);
    ck_assert_ptr_null(hl_hermes_profile_dir("/h/.hermes", "../x"));
}
END_TEST

START_TEST(profile_names)
{
    char name65[66], name64[65];
    memset(name65, 'a', 65);
    name65[65] = '\0';
    memset(name64, 'b', 64);
    name64[64] = '\0';
    static const char *const bad[] = {"", ".", "..", "../x", "a/b", "/abs", "a b", "a\\b", "é", "a\nb", "a:b"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i)
        ck_assert_msg(!hl_hermes_valid_profile_name(bad[i]), "accepted '%s'", bad[i]);
    ck_assert(!hl_hermes_valid_profile_name(name65));
    ck_assert(hl_hermes_valid_profile_name(name64));
    ck_assert(hl_hermes_valid_profile_name("Work.2_test-x"));
    ck_assert(hl_hermes_valid_profile_name("..."));
    ck_assert(hl_hermes_valid_profile_name("a"));
}
END_TEST

static void check_url(const char *host, int port, const char *want)
{
    char *url = hl_hermes_base_url(host, port);
    if (want == NULL) {
        ck_assert_msg(url == NULL, "%s:%d → %s, want NULL", host, port, url);
        return;
    }
    ck_assert_msg(url != NULL && strcmp(url, want) == 0, "%s:%d → %s, want %s", host, port, url ? url : "NULL", want);
    free(url);
}

START_TEST(base_urls)
{
    check_url("127.0.0.1", 8642, "http://127.0.0.1:8642");
    check_url("localhost", 1, "http://localhost:1");
    check_url("gpu-box.lan", 65535, "http://gpu-box.lan:65535");
    check_url("0.0.0.0", 8642, "http://0.0.0.0:8642");
    check_url("::1", 8642, "http://[::1]:8642");
    check_url("[::1]", 8642, "http://[::1]:8642");
    check_url("::", 9000, "http://[::]:9000");
    check_url("2001:db8::7", 80, "http://[2001:db8::7]:80");
    check_url("::ffff:127.0.0.1", 8642, "http://[::ffff:127.0.0.1]:8642");
    check_url("fe80::1%eth0", 8642, "http://[fe80::1%25eth0]:8642");
    check_url("[fe80::1%eth0]", 8642, "http://[fe80::1%25eth0]:8642");
    static const char *const bad_hosts[] = {"",    "a/b", "a b",      "host:80",     "[::1",  "::1]",  "[]",   "user@host",  "h?x",
                                            "h#x", ":::", "fe80::1%", "fe80::1%e/0", "-lead", ".lead", "a\nb", "[127.0.0.1]"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad_hosts); ++i) {
        ck_assert_msg(!hl_hermes_valid_host(bad_hosts[i]), "accepted host '%s'", bad_hosts[i]);
        check_url(bad_hosts[i], 8642, NULL);
    }
    check_url("127.0.0.1", 0, NULL);
    check_url("127.0.0.1", 65536, NULL);
    check_url("127.0.0.1", -1, NULL);
}
END_TEST

/* ---- resolution on temporary Hermes homes ---- */

static void mkdirs(const char *base, const char *rel)
{
    char *p = ut_path(base, rel);
    for (char *s = p + strlen(base) + 1; *s; ++s) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    }
    mkdir(p, 0700);
    free(p);
}

static void put(const char *base, const char *rel, const char *text)
{
    char *p = ut_path(base, rel);
    ut_write_str(p, text);
    free(p);
}

typedef struct st_resolved_t {
    hl_upstream_t up;
    int ret;
    const char *code;
    char *message;
} resolved_t;

static void resolve(resolved_t *r, const char *home, const hl_config_t *cfg, const char *profile)
{
    memset(r, 0, sizeof(*r));
    r->ret = hl_hermes_resolve(&r->up, home, cfg, profile, &r->code, &r->message);
}

static void resolved_dispose(resolved_t *r)
{
    hl_upstream_dispose(&r->up);
    free(r->message);
}

static void expect(const resolved_t *r, const char *url, const char *url_source, const char *key, const char *key_source)
{
    ck_assert_msg(r->ret == 0, "resolution failed: %s", r->message ? r->message : "?");
    ck_assert_str_eq(r->up.base_url, url);
    ck_assert_str_eq(r->up.url_source, url_source);
    if (key == NULL)
        ck_assert_ptr_null(r->up.api_key);
    else
        ck_assert_str_eq(r->up.api_key, key);
    ck_assert_str_eq(r->up.key_source, key_source);
}

#define KEY_ENV "env-key-0123456789abcdef"
#define KEY_YAML "yaml-key-0123456789abcdef"
#define KEY_CFG "config-key-0123456789abcdef"
#define YAML_FULL                                                                                                                  \
    "platforms:\n  api_server:\n    enabled: true\n    extra:\n      host: 10.1.1.1\n      port: 9100\n      key: " KEY_YAML "\n"

START_TEST(resolve_defaults)
{
    char *home = ut_mkdtemp();
    resolved_t r;
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://127.0.0.1:8642", "default", NULL, "default");
    ck_assert_str_eq(r.up.profile, "default");
    ck_assert_int_eq(r.up.enabled, -1);
    ck_assert_ptr_null(r.up.warning);
    resolved_dispose(&r);

    /* a HERMES_HOME that does not exist yet: the defaults too */
    char *missing = ut_path(home, "not-there");
    resolve(&r, missing, NULL, "");
    expect(&r, "http://127.0.0.1:8642", "default", NULL, "default");
    resolved_dispose(&r);
    free(missing);
    ut_rm_rf(home);
}
END_TEST

START_TEST(resolve_precedence_per_part)
{
    char *home = ut_mkdtemp();
    resolved_t r;

    put(home, "config.yaml", YAML_FULL);
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9100", "config.yaml", KEY_YAML, "config.yaml");
    ck_assert_int_eq(r.up.enabled, 1);
    resolved_dispose(&r);

    /* .env beats config.yaml part by part: the key only */
    put(home, ".env", "API_SERVER_KEY=" KEY_ENV "\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9100", "config.yaml", KEY_ENV, "env-file");
    resolved_dispose(&r);

    /* the port from .env, the host still from config.yaml: the URL's source is the stronger one */
    put(home, ".env", "API_SERVER_KEY=" KEY_ENV "\nAPI_SERVER_PORT=9200\nAPI_SERVER_ENABLED=false\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9200", "env-file", KEY_ENV, "env-file");
    ck_assert_int_eq(r.up.enabled, 0);
    resolved_dispose(&r);

    put(home, ".env", "API_SERVER_HOST=::1\nAPI_SERVER_PORT=\"9300\"\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://[::1]:9300", "env-file", KEY_YAML, "config.yaml");
    resolved_dispose(&r);

    /* an empty assignment says nothing */
    put(home, ".env", "API_SERVER_KEY=\nAPI_SERVER_HOST=''\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9100", "config.yaml", KEY_YAML, "config.yaml");
    resolved_dispose(&r);

    /* HermesLink's config beats both, for the default profile */
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    cfg.hermes_api_key = strdup(KEY_CFG);
    put(home, ".env", "API_SERVER_KEY=" KEY_ENV "\nAPI_SERVER_PORT=9200\n");
    resolve(&r, home, &cfg, NULL);
    expect(&r, "http://10.1.1.1:9200", "env-file", KEY_CFG, "hermeslink-config");
    resolved_dispose(&r);
    cfg.hermes_api_url = strdup("https://hermes.example:8443/p/work//");
    resolve(&r, home, &cfg, "default");
    expect(&r, "https://hermes.example:8443/p/work", "hermeslink-config", KEY_CFG, "hermeslink-config");
    resolved_dispose(&r);
    free(cfg.hermes_api_key);
    cfg.hermes_api_key = NULL;
    resolve(&r, home, &cfg, NULL);
    expect(&r, "https://hermes.example:8443/p/work", "hermeslink-config", KEY_ENV, "env-file");
    resolved_dispose(&r);

    /* … and is ignored for a named profile, which reads only its own files */
    cfg.hermes_api_key = strdup(KEY_CFG);
    mkdirs(home, "profiles/work");
    resolve(&r, home, &cfg, "work");
    expect(&r, "http://127.0.0.1:8642", "default", NULL, "default");
    ck_assert_str_eq(r.up.profile, "work");
    resolved_dispose(&r);
    put(home, "profiles/work/.env", "API_SERVER_PORT=8700\nAPI_SERVER_KEY=work-key-0123456789ab\n");
    resolve(&r, home, &cfg, "work");
    expect(&r, "http://127.0.0.1:8700", "env-file", "work-key-0123456789ab", "env-file");
    resolved_dispose(&r);
    hl_config_dispose(&cfg);
    ut_rm_rf(home);
}
END_TEST

START_TEST(resolve_bad_values_fall_back_with_warnings)
{
    char *home = ut_mkdtemp();
    resolved_t r;
    put(home, "config.yaml", YAML_FULL);
    put(home, ".env", "API_SERVER_PORT=http\nAPI_SERVER_HOST=evil/host\nAPI_SERVER_KEY=\"a\\r\\nX-Injected: 1\"\nBROKEN LINE\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9100", "config.yaml", KEY_YAML, "config.yaml");
    ck_assert_ptr_nonnull(strstr(r.up.warning, "API_SERVER_PORT is not a port number"));
    ck_assert_ptr_nonnull(strstr(r.up.warning, "API_SERVER_HOST is not a host name"));
    ck_assert_ptr_nonnull(strstr(r.up.warning, "API_SERVER_KEY contains control characters"));
    ck_assert_ptr_nonnull(strstr(r.up.warning, ".env: 1 line(s) could not be parsed"));
    ck_assert_ptr_null(strstr(r.up.warning, "Injected"));
    resolved_dispose(&r);

    /* a bad port in config.yaml too: the default port, the host still from config.yaml */
    put(home, "config.yaml", "platforms:\n  api_server:\n    extra: {host: 10.1.1.1, port: 99999, key: " KEY_YAML "}\n");
    put(home, ".env", "\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:8642", "config.yaml", KEY_YAML, "config.yaml");
    ck_assert_ptr_nonnull(strstr(r.up.warning, "platforms.api_server.extra.port is not a port number"));
    resolved_dispose(&r);

    /* malformed YAML: reported (no secret in it), the .env still applies, the rest falls to the defaults */
    put(home, "config.yaml", "platforms:\n  api_server:\n    extra: {key: " KEY_YAML ", port: [\n");
    put(home, ".env", "API_SERVER_KEY=" KEY_ENV "\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://127.0.0.1:8642", "default", KEY_ENV, "env-file");
    ck_assert_ptr_nonnull(strstr(r.up.warning, "config.yaml: malformed YAML at line"));
    ck_assert_ptr_null(strstr(r.up.warning, KEY_YAML));
    resolved_dispose(&r);

    /* a .env over 1 MiB is refused (naming the file); config.yaml takes over */
    put(home, "config.yaml", YAML_FULL);
    size_t big = HL_HERMES_MAX_FILE_BYTES + 1;
    char *text = malloc(big + 1);
    memset(text, '#', big);
    memcpy(text, "API_SERVER_KEY=" KEY_ENV "\n", strlen("API_SERVER_KEY=" KEY_ENV "\n"));
    text[big] = '\0';
    put(home, ".env", text);
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://10.1.1.1:9100", "config.yaml", KEY_YAML, "config.yaml");
    ck_assert_ptr_nonnull(strstr(r.up.warning, ".env is larger than 1 MiB"));
    resolved_dispose(&r);
    /* and a config.yaml over 1 MiB likewise */
    memcpy(text, "platforms:\n", strlen("platforms:\n"));
    put(home, "config.yaml", text);
    put(home, ".env", "API_SERVER_PORT=9500\n");
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://127.0.0.1:9500", "env-file", NULL, "default");
    ck_assert_ptr_nonnull(strstr(r.up.warning, "config.yaml is larger than 1 MiB"));
    resolved_dispose(&r);
    free(text);

    /* a directory where a file should be */
    char *p = ut_path(home, "config.yaml");
    unlink(p);
    mkdir(p, 0700);
    free(p);
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://127.0.0.1:9500", "env-file", NULL, "default");
    ck_assert_ptr_nonnull(strstr(r.up.warning, "config.yaml is not a regular file"));
    resolved_dispose(&r);
    ut_rm_rf(home);
}
END_TEST

START_TEST(resolve_profiles_and_errors)
{
    char *home = ut_mkdtemp();
    resolved_t r;
    char name65[66];
    memset(name65, 'a', 65);
    name65[65] = '\0';
    const char *bad[] = {"../x", ".", "..", "a/b", "x y", name65};
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        resolve(&r, home, NULL, bad[i]);
        ck_assert_int_eq(r.ret, -EINVAL);
        ck_assert_str_eq(r.code, "invalid_profile_name");
        ck_assert_ptr_nonnull(r.message);
        ck_assert_ptr_null(r.up.base_url);
        resolved_dispose(&r);
    }
    resolve(&r, home, NULL, "ghost");
    ck_assert_int_eq(r.ret, -ENOENT);
    ck_assert_str_eq(r.code, "profile_not_found");
    ck_assert_ptr_null(strstr(r.message, home)); /* no paths in messages */
    resolved_dispose(&r);

    /* a file named like a profile is not a profile */
    mkdirs(home, "profiles");
    put(home, "profiles/file", "x");
    resolve(&r, home, NULL, "file");
    ck_assert_str_eq(r.code, "profile_not_found");
    resolved_dispose(&r);

    /* HERMES_HOME set to a profile's directory: default is that directory, named profiles its siblings */
    mkdirs(home, "profiles/work");
    mkdirs(home, "profiles/play");
    put(home, ".env", "API_SERVER_PORT=8001\n");
    put(home, "profiles/work/.env", "API_SERVER_PORT=8002\n");
    put(home, "profiles/play/.env", "API_SERVER_PORT=8003\n");
    char *work = ut_path(home, "profiles/work");
    resolve(&r, work, NULL, NULL);
    expect(&r, "http://127.0.0.1:8002", "env-file", NULL, "default");
    resolved_dispose(&r);
    resolve(&r, work, NULL, "play");
    expect(&r, "http://127.0.0.1:8003", "env-file", NULL, "default");
    resolved_dispose(&r);
    resolve(&r, home, NULL, "play");
    expect(&r, "http://127.0.0.1:8003", "env-file", NULL, "default");
    resolved_dispose(&r);
    free(work);
    ut_rm_rf(home);
}
END_TEST

START_TEST(resolve_symlinks_stay_inside)
{
    char *home = ut_mkdtemp(), *outside = ut_mkdtemp();
    put(outside, ".env", "API_SERVER_PORT=6666\n");
    put(outside, "secret", "API_SERVER_PORT=7777\n");
    mkdirs(home, "profiles/inside");
    put(home, "profiles/inside/.env", "API_SERVER_PORT=8100\n");
    char *link_out = ut_path(home, "profiles/escape"), *link_in = ut_path(home, "profiles/alias"),
         *env_link = ut_path(home, ".env"), *target = ut_path(outside, "secret"), *inside_dir = ut_path(home, "profiles/inside");
    ck_assert_int_eq(symlink(outside, link_out), 0);
    ck_assert_int_eq(symlink(inside_dir, link_in), 0);
    ck_assert_int_eq(symlink(target, env_link), 0);

    resolved_t r;
    resolve(&r, home, NULL, "escape");
    ck_assert_str_eq(r.code, "profile_not_found");
    resolved_dispose(&r);
    resolve(&r, home, NULL, "alias");
    expect(&r, "http://127.0.0.1:8100", "env-file", NULL, "default");
    resolved_dispose(&r);
    resolve(&r, home, NULL, NULL);
    expect(&r, "http://127.0.0.1:8642", "default", NULL, "default");
    ck_assert_ptr_nonnull(strstr(r.up.warning, ".env is a symbolic link out of the Hermes home"));
    resolved_dispose(&r);

    json_t *names = hl_hermes_profile_names(home);
    char *dump = json_dumps(names, JSON_COMPACT);
    ck_assert_str_eq(dump, "[\"default\",\"alias\",\"inside\"]");
    free(dump);
    json_decref(names);
    free(link_out);
    free(link_in);
    free(env_link);
    free(target);
    free(inside_dir);
    ut_rm_rf(outside);
    ut_rm_rf(home);
}
END_TEST

START_TEST(list_profiles_sync)
{
    char *home = ut_mkdtemp();
    json_t *names = hl_hermes_profile_names(home);
    char *dump = json_dumps(names, JSON_COMPACT);
    ck_assert_str_eq(dump, "[\"default\"]");
    free(dump);
    json_decref(names);

    mkdirs(home, "profiles/zeta");
    mkdirs(home, "profiles/Alpha");
    mkdirs(home, "profiles/alpha");
    mkdirs(home, "profiles/b.2");
    mkdirs(home, "profiles/default");
    mkdirs(home, "profiles/bad name");
    put(home, "profiles/notadir", "x");
    names = hl_hermes_profile_names(home);
    dump = json_dumps(names, JSON_COMPACT);
    ck_assert_str_eq(dump, "[\"default\",\"Alpha\",\"alpha\",\"b.2\",\"zeta\"]");
    free(dump);
    json_decref(names);

    /* from a profile's directory, the same list */
    char *zeta = ut_path(home, "profiles/zeta");
    names = hl_hermes_profile_names(zeta);
    ck_assert_uint_eq(json_array_size(names), 5);
    json_decref(names);
    free(zeta);
    ut_rm_rf(home);
}
END_TEST

/* ---- the actor end to end ---- */

typedef struct st_waiter_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int done;
    pthread_t thread;
    char *url, *key, *code, *warning;
    const char *key_source;
    json_t *names;
} waiter_t;

static void waiter_reset(waiter_t *w)
{
    free(w->url);
    free(w->key);
    free(w->code);
    free(w->warning);
    json_decref(w->names);
    w->url = w->key = w->code = w->warning = NULL;
    w->names = NULL;
    w->key_source = NULL;
    w->done = 0;
}

static void waiter_wait(waiter_t *w)
{
    pthread_mutex_lock(&w->mutex);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->mutex);
    pthread_mutex_unlock(&w->mutex);
}

static void on_resolved(void *data, const hl_upstream_t *up, const char *code, const char *message)
{
    waiter_t *w = data;
    pthread_mutex_lock(&w->mutex);
    w->thread = pthread_self();
    if (up != NULL) {
        w->url = strdup(up->base_url);
        w->key = up->api_key != NULL ? strdup(up->api_key) : NULL;
        w->key_source = up->key_source;
        w->warning = up->warning != NULL ? strdup(up->warning) : NULL;
    } else {
        ck_assert_ptr_nonnull(message);
        w->code = strdup(code);
    }
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

static void on_listed(void *data, json_t *names)
{
    waiter_t *w = data;
    pthread_mutex_lock(&w->mutex);
    w->thread = pthread_self();
    w->names = names;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

static void actor_resolve(hl_hermes_t *h, waiter_t *w, const char *profile)
{
    waiter_reset(w);
    hl_hermes_resolve_upstream(h, profile, on_resolved, w);
    waiter_wait(w);
    ck_assert(!pthread_equal(w->thread, pthread_self()));
}

START_TEST(actor_end_to_end)
{
    char *home = ut_mkdtemp();
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    cfg.hermes_api_key = strdup(KEY_CFG);
    hl_link_t link = {.home = home, .hermes_home = home, .config = &cfg};
    put(home, ".env", "API_SERVER_PORT=8800\n");
    put(home, "config.yaml", YAML_FULL);
    mkdirs(home, "profiles/work");
    mkdirs(home, "profiles/art");
    put(home, "profiles/work/.env", "export API_SERVER_KEY='work-key-0123456789ab'\n");

    hl_hermes_t *h = NULL;
    ck_assert_int_eq(hl_hermes_init(&h, &link), 0);
    ck_assert_int_eq(hl_actor_start(hl_hermes_actor(h)), 0);
    waiter_t w = {.mutex = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

    actor_resolve(h, &w, NULL);
    ck_assert_str_eq(w.url, "http://10.1.1.1:8800");
    ck_assert_str_eq(w.key, KEY_CFG);
    ck_assert_str_eq(w.key_source, "hermeslink-config");

    /* an edited .env is seen by the next request, without a restart */
    put(home, ".env", "API_SERVER_PORT=8801\nAPI_SERVER_HOST=127.0.0.2\n");
    actor_resolve(h, &w, "default");
    ck_assert_str_eq(w.url, "http://127.0.0.2:8801");

    actor_resolve(h, &w, "work");
    ck_assert_str_eq(w.url, "http://127.0.0.1:8642");
    ck_assert_str_eq(w.key, "work-key-0123456789ab");
    ck_assert_str_eq(w.key_source, "env-file");

    /* a broken file: a warning (logged once per change), the rest still resolves */
    put(home, "profiles/work/config.yaml", "platforms: [\n");
    actor_resolve(h, &w, "work");
    ck_assert_str_eq(w.key, "work-key-0123456789ab");
    ck_assert_ptr_nonnull(strstr(w.warning, "malformed YAML"));
    actor_resolve(h, &w, "work");
    ck_assert_ptr_nonnull(w.warning);

    actor_resolve(h, &w, "ghost");
    ck_assert_ptr_null(w.url);
    ck_assert_str_eq(w.code, "profile_not_found");
    actor_resolve(h, &w, "../etc");
    ck_assert_str_eq(w.code, "invalid_profile_name");

    waiter_reset(&w);
    hl_hermes_list_profiles(h, on_listed, &w);
    waiter_wait(&w);
    ck_assert(!pthread_equal(w.thread, pthread_self()));
    char *dump = json_dumps(w.names, JSON_COMPACT);
    ck_assert_str_eq(dump, "[\"default\",\"art\",\"work\"]");
    free(dump);

    /* requests queued before stop are answered before it returns */
    waiter_t many[8];
    for (size_t i = 0; i < HL_ARRAY_SIZE(many); ++i) {
        many[i] = (waiter_t){.mutex = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        hl_hermes_resolve_upstream(h, i % 2 ? "work" : NULL, on_resolved, &many[i]);
    }
    hl_actor_stop(hl_hermes_actor(h));
    for (size_t i = 0; i < HL_ARRAY_SIZE(many); ++i) {
        ck_assert_int_eq(many[i].done, 1);
        ck_assert_ptr_nonnull(many[i].url);
        waiter_reset(&many[i]);
    }
    hl_hermes_dispose(h);
    waiter_reset(&w);
    hl_config_dispose(&cfg);
    ut_rm_rf(home);
}
END_TEST

START_TEST(actor_dispose_unstarted)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    hl_link_t link = {.home = "/nonexistent", .hermes_home = "/nonexistent", .config = &cfg};
    hl_hermes_t *h = NULL;
    ck_assert_int_eq(hl_hermes_init(&h, &link), 0);
    /* a request posted to an actor that never ran is freed with it, its callback not called */
    waiter_t w = {.mutex = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    hl_hermes_resolve_upstream(h, "work", on_resolved, &w);
    hl_hermes_list_profiles(h, on_listed, &w);
    hl_hermes_dispose(h);
    ck_assert_int_eq(w.done, 0);
    hl_hermes_dispose(NULL);
    hl_upstream_dispose(NULL);
    hl_config_dispose(&cfg);
}
END_TEST

Suite *suite_hermes_files(void)
{
    Suite *s = suite_create("hermes_files");
    TCase *parse_case = tcase_create("parse");
    tcase_add_test(parse_case, dotenv_basic_forms);
    tcase_add_test(parse_case, dotenv_quotes_and_escapes);
    tcase_add_test(parse_case, dotenv_crlf_duplicates_and_bad_lines);
    tcase_add_test(parse_case, yaml_nested_keys);
    tcase_add_test(parse_case, yaml_missing_sections_and_wrong_types);
    tcase_add_test(parse_case, yaml_malformed_is_an_error);
    tcase_add_test(parse_case, profile_root_rule);
    tcase_add_test(parse_case, profile_names);
    tcase_add_test(parse_case, base_urls);
    suite_add_tcase(s, parse_case);

    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 30);
    tcase_add_test(files, resolve_defaults);
    tcase_add_test(files, resolve_precedence_per_part);
    tcase_add_test(files, resolve_bad_values_fall_back_with_warnings);
    tcase_add_test(files, resolve_profiles_and_errors);
    tcase_add_test(files, resolve_symlinks_stay_inside);
    tcase_add_test(files, list_profiles_sync);
    suite_add_tcase(s, files);

    TCase *actor = tcase_create("actor");
    tcase_set_timeout(actor, 30);
    tcase_add_test(actor, actor_end_to_end);
    tcase_add_test(actor, actor_dispose_unstarted);
    suite_add_tcase(s, actor);
    return s;
}
