/*
 * The updater actor's pure parts (src/actors/updater_internal.h): the bounded output lines of an update status, the
 * release manifest and its ed25519 signature (a key pair made here), version comparison, the refusal rules of the
 * self-update, and the interpretation of `hermes update --check`.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../../src/actors/updater_internal.h"
#include "hl/common.h"
#include "hl/config.h"

/* ---- lines ---- */

START_TEST(lines_bounded)
{
    json_t *lines = json_array();
    ck_assert(!upd_lines_add(lines, "", 0));
    ck_assert(!upd_lines_add(lines, " \t\r\n", 4)); /* blank: nothing */
    ck_assert(upd_lines_add(lines, "hello\r\n", 7));
    ck_assert_str_eq(json_string_value(json_array_get(lines, 0)), "hello");
    /* a long line: 1200 characters then "..." (counted in characters, not bytes) */
    char *big = hl_malloc(3000);
    for (size_t i = 0; i < 1500; ++i)
        memcpy(big + 2 * i, "\xc3\xa9", 2); /* é */
    ck_assert(upd_lines_add(lines, big, 3000));
    const char *cut = json_string_value(json_array_get(lines, 1));
    ck_assert_uint_eq(strlen(cut), 2400 + 3);
    ck_assert_uint_eq(hl_utf8_length(cut), 1203);
    ck_assert(strcmp(cut + 2400, "...") == 0);
    /* exactly 1200 characters: no "..." */
    memset(big, 'y', 1200);
    ck_assert(upd_lines_add(lines, big, 1200));
    ck_assert_uint_eq(strlen(json_string_value(json_array_get(lines, 2))), 1200);
    free(big);
    /* not UTF-8, control characters: '?' each */
    ck_assert(upd_lines_add(lines, "a\xff\x1b[0mb", 7));
    ck_assert_str_eq(json_string_value(json_array_get(lines, 3)), "a??[0mb");
    ck_assert(upd_lines_add(lines, "\xe2\x82", 2)); /* a cut sequence */
    ck_assert_str_eq(json_string_value(json_array_get(lines, 4)), "??");
    /* at most 240, the oldest dropped */
    for (int i = 0; i < 300; ++i) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "l%d", i);
        upd_lines_add(lines, buf, (size_t)n);
    }
    ck_assert_uint_eq(json_array_size(lines), UPD_MAX_LINES);
    ck_assert_str_eq(json_string_value(json_array_get(lines, 0)), "l60");
    ck_assert_str_eq(json_string_value(json_array_get(lines, 239)), "l299");
    json_array_clear(lines);
    upd_lines_add_text(lines, "one\n\ntwo\r\nthree", 15);
    ck_assert_uint_eq(json_array_size(lines), 3);
    ck_assert_str_eq(json_string_value(json_array_get(lines, 2)), "three");
    json_decref(lines);
}
END_TEST

/* ---- manifest and signature ---- */

static char *b64(const unsigned char *d, size_t n)
{
    char *out = hl_malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    return out;
}

static EVP_PKEY *keygen(char **pub_b64)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(k);
    unsigned char raw[32];
    size_t len = sizeof(raw);
    ck_assert(EVP_PKEY_get_raw_public_key(k, raw, &len) == 1);
    *pub_b64 = b64(raw, len);
    return k;
}

static char *sign(EVP_PKEY *k, const char *text)
{
    unsigned char sig[64];
    size_t len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ck_assert(EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1);
    ck_assert(EVP_DigestSign(md, sig, &len, (const unsigned char *)text, strlen(text)) == 1);
    EVP_MD_CTX_free(md);
    return b64(sig, len);
}

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *manifest(const char *version, const char *platform, const char *url, const char *sha, long long size, const char *sig)
{
    return hl_asprintf("{\"version\":\"%s\",\"release_url\":\"https://example.org/r\",\"platforms\":{\"%s\":{\"url\":\"%s\","
                       "\"sha256\":\"%s\",\"size\":%lld,\"signature\":\"%s\"}}}",
                       version, platform, url, sha, size, sig);
}

START_TEST(manifest_parse_and_verify)
{
    char *pub = NULL, *other_pub = NULL;
    EVP_PKEY *key = keygen(&pub), *other = keygen(&other_pub);
    char *text = hl_asprintf("hermeslink-release-v1\n1.2.3\nlinux-x86_64\n1000\n%s\n", SHA);
    char *sig = sign(key, text);
    char *m = manifest("1.2.3", "linux-x86_64", "https://example.org/hl", SHA, 1000, sig);
    upd_release_t r;
    const char *why = NULL;
    ck_assert_int_eq(upd_manifest_parse(m, strlen(m), "linux-x86_64", &r, &why), 0);
    ck_assert_str_eq(r.version, "1.2.3");
    ck_assert_str_eq(r.url, "https://example.org/hl");
    ck_assert_uint_eq(r.size, 1000);
    ck_assert_str_eq(r.release_url, "https://example.org/r");
    ck_assert_ptr_null(r.published_at);
    char *signed_text = upd_signed_text(&r);
    ck_assert_str_eq(signed_text, text);
    free(signed_text);
    ck_assert_int_eq(upd_release_verify(&r, pub), 0);
    ck_assert_int_eq(upd_release_verify(&r, other_pub), -EBADMSG); /* another key */
    ck_assert_int_eq(upd_release_verify(&r, "bm90IGEga2V5"), -EINVAL);
    ck_assert_int_eq(upd_release_verify(&r, NULL), -EINVAL);
    /* any signed field changed: the signature no longer holds */
    r.size = 1001;
    ck_assert_int_eq(upd_release_verify(&r, pub), -EBADMSG);
    r.size = 1000;
    r.sha256[0] = '1';
    ck_assert_int_eq(upd_release_verify(&r, pub), -EBADMSG);
    r.sha256[0] = '0';
    free(r.version);
    r.version = hl_strdup("1.2.4");
    ck_assert_int_eq(upd_release_verify(&r, pub), -EBADMSG);
    upd_release_dispose(&r);
    /* another platform's entry only */
    ck_assert_int_eq(upd_manifest_parse(m, strlen(m), "linux-aarch64", &r, &why), -EINVAL);
    ck_assert_str_eq(why, "The release manifest offers no binary for this platform");
    free(m);

    /* malformed manifests */
    static const struct {
        const char *version, *url, *sha;
        long long size;
        const char *sig, *why;
    } BAD[] = {
        {"", "https://e/x", SHA, 1, NULL, "The release manifest has no valid version"},
        {"1.0; rm", "https://e/x", SHA, 1, NULL, "The release manifest has no valid version"},
        {"1.0", "file:///etc/passwd", SHA, 1, NULL, "incomplete"},
        {"1.0", "https://e/x", "ABC", 1, NULL, "incomplete"},
        {"1.0", "https://e/x", SHA, 0, NULL, "incomplete"},
        {"1.0", "https://e/x", SHA, 1LL << 40, NULL, "The release's binary is larger than HermesLink accepts"},
        {"1.0", "https://e/x", SHA, 1, "c2hvcnQ=", "The release manifest's signature is not the base64 of 64 bytes"},
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(BAD); ++i) {
        m = manifest(BAD[i].version, "linux-x86_64", BAD[i].url, BAD[i].sha, BAD[i].size, BAD[i].sig ? BAD[i].sig : sig);
        why = NULL;
        ck_assert_msg(upd_manifest_parse(m, strlen(m), "linux-x86_64", &r, &why) == -EINVAL, "case %zu accepted", i);
        ck_assert_msg(why != NULL && strstr(why, BAD[i].why) != NULL, "case %zu: %s", i, why);
        free(m);
    }
    ck_assert_int_eq(upd_manifest_parse("[1]", 3, "linux-x86_64", &r, &why), -EINVAL);
    ck_assert_int_eq(upd_manifest_parse("{", 1, "linux-x86_64", &r, &why), -EINVAL);
    free(sig);
    free(text);
    free(pub);
    free(other_pub);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}
END_TEST

START_TEST(versions)
{
    ck_assert_int_lt(upd_version_cmp("0.9.1", "0.10.0"), 0);
    ck_assert_int_gt(upd_version_cmp("v1.0.0", "0.99.99"), 0);
    ck_assert_int_eq(upd_version_cmp("1.2", "1.2.0"), 0);
    ck_assert_int_eq(upd_version_cmp("v2.0.0", "2.0.0-rc1"), 0); /* only x.y.z counts */
    ck_assert_int_lt(upd_version_cmp("1.0.0", "99.0.0"), 0);
    ck_assert_str_ne(upd_platform(), "");
}
END_TEST

START_TEST(refusals)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_mode = S_IFREG | 0755;
    st.st_uid = 1000;
    bool package = false;
    ck_assert_ptr_null(upd_refusal("/home/me/.local/bin/hermeslink", &st, 1000, true, &package));
    ck_assert_ptr_null(upd_refusal("/usr/local/bin/hermeslink", &st, 1000, true, &package));
    ck_assert_ptr_nonnull(upd_refusal("/usr/bin/hermeslink", &st, 1000, true, &package));
    ck_assert(package);
    ck_assert_ptr_nonnull(upd_refusal("/opt/hermeslink/hermeslink", &st, 0, true, &package));
    ck_assert(package);
    ck_assert_ptr_nonnull(upd_refusal("/home/me/bin/hermeslink", &st, 1001, true, &package)); /* someone else's */
    ck_assert(!package);
    ck_assert_ptr_nonnull(upd_refusal("/home/me/bin/hermeslink", &st, 1000, false, &package)); /* not writable */
    ck_assert_ptr_nonnull(upd_refusal("/home/me/bin/hermeslink (deleted)", &st, 1000, true, &package));
    st.st_mode = S_IFLNK | 0777;
    ck_assert_ptr_nonnull(upd_refusal("/home/me/bin/hermeslink", &st, 1000, true, &package));
}
END_TEST

/* ---- hermes update --check ---- */

static char *interpret(const char *text, int code, const char *local, json_t **remote, bool *available)
{
    json_t *lines = json_array();
    upd_lines_add_text(lines, text, strlen(text));
    char *issue = upd_interpret_check(lines, code, local, remote, available);
    json_decref(lines);
    return issue;
}

START_TEST(hermes_check_output)
{
    json_t *remote;
    bool available;
    char *issue = interpret("Checking...\nUpdate available: v0.10.0\n", 0, "0.9.1", &remote, &available);
    ck_assert_ptr_null(issue);
    ck_assert(available);
    ck_assert_str_eq(json_string_value(json_object_get(remote, "version")), "0.10.0"); /* the number, without its "v" */
    json_decref(remote);
    issue = interpret("A newer version 0.9.0 is available\n", 0, "0.9.1", &remote, &available);
    ck_assert_ptr_null(issue);
    ck_assert(!available); /* not newer than what runs */
    json_decref(remote);
    issue = interpret("Already on the latest version.\n", 0, "0.9.1", &remote, &available);
    ck_assert_ptr_null(issue);
    ck_assert(!available);
    ck_assert_str_eq(json_string_value(json_object_get(remote, "version")), "0.9.1");
    json_decref(remote);
    issue = interpret("usage: hermes update\nerror: unrecognized arguments: --check\n", 2, "0.9.1", &remote, &available);
    ck_assert_str_eq(issue, "hermes update --check gave no answer HermesLink understands (exit 2): error: unrecognized arguments: "
                            "--check");
    ck_assert_ptr_null(remote);
    free(issue);
    issue = interpret("", -1, NULL, &remote, &available);
    ck_assert_str_eq(issue, "hermes update --check did not finish normally");
    free(issue);
}
END_TEST

/* ---- config keys ---- */

START_TEST(config_keys)
{
    hl_config_t cfg;
    hl_config_defaults(&cfg);
    char *msg = NULL;
    ck_assert_int_eq(hl_config_set(&cfg, "update-url", "https://releases.example.org/hermeslink/manifest.json", &msg), 0);
    ck_assert_str_eq(msg, "Update URL set to https://releases.example.org/hermeslink/manifest.json");
    free(msg);
    ck_assert_int_eq(hl_config_set(&cfg, "update-url", "ftp://x/y", &msg), -EINVAL);
    free(msg);
    ck_assert_int_eq(hl_config_set(&cfg, "update-public-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &msg), 0);
    free(msg);
    ck_assert_int_eq(hl_config_set(&cfg, "update-public-key", "AAAA", &msg), -EINVAL);
    free(msg);
    char *dump = hl_config_dump(&cfg, 1);
    ck_assert_msg(strstr(dump, "\"updateUrl\": \"https://releases.example.org/hermeslink/manifest.json\"") != NULL, "%s", dump);
    ck_assert_msg(strstr(dump, "\"updatePublicKey\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"") != NULL, "%s", dump);
    free(dump);
    ck_assert_int_eq(hl_config_set(&cfg, "update-url", "none", &msg), 0);
    ck_assert_str_eq(msg, "Update URL set to (none)");
    free(msg);
    ck_assert_ptr_null(cfg.update_url);
    hl_config_dispose(&cfg);
    /* a default config does not list them */
    hl_config_defaults(&cfg);
    dump = hl_config_dump(&cfg, 1);
    ck_assert_ptr_null(strstr(dump, "update"));
    free(dump);
    hl_config_dispose(&cfg);
}
END_TEST

Suite *suite_updater(void)
{
    Suite *s = suite_create("updater");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, lines_bounded);
    tcase_add_test(tc, manifest_parse_and_verify);
    tcase_add_test(tc, versions);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, hermes_check_output);
    tcase_add_test(tc, config_keys);
    suite_add_tcase(s, tc);
    return s;
}
