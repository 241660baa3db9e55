/*
 * Token helpers (include/hl/tokens.h): token formats, hashes and their hex form, the bearer header, app instance ids
 * and device descriptor normalisation.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "hl/tokens.h"

static bool url_alphabet(const char *s)
{
    for (; *s != '\0'; ++s)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Generates n tokens with gen and checks that they are pairwise distinct (then frees them). */
static void assert_unique(char *(*gen)(void), size_t n)
{
    char **all = calloc(n, sizeof(*all));
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < n; ++i)
        all[i] = gen();
    qsort(all, n, sizeof(*all), cmp_str);
    for (size_t i = 1; i < n; ++i)
        ck_assert_str_ne(all[i - 1], all[i]);
    for (size_t i = 0; i < n; ++i)
        free(all[i]);
    free(all);
}

static void sha256_hex(const char *s, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, len, d);
    for (size_t i = 0; i < sizeof(d); ++i)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- token formats ---- */

START_TEST(access_and_refresh_format)
{
    for (int i = 0; i < 200; ++i) {
        char *a = hl_token_new_access(), *r = hl_token_new_refresh();
        ck_assert_uint_eq(strlen(a), 5 + 32);
        ck_assert_uint_eq(strlen(r), 5 + 32);
        ck_assert(strncmp(a, "hlat_", 5) == 0);
        ck_assert(strncmp(r, "hlrt_", 5) == 0);
        ck_assert_msg(url_alphabet(a + 5), "not base64url: %s", a);
        ck_assert_msg(url_alphabet(r + 5), "not base64url: %s", r);
        free(a);
        free(r);
    }
}
END_TEST

START_TEST(connect_format)
{
    for (int i = 0; i < 200; ++i) {
        char *c = hl_token_new_connect();
        ck_assert_uint_eq(strlen(c), 43);
        ck_assert_msg(url_alphabet(c), "not base64url: %s", c);
        ck_assert(strncmp(c, "hlat_", 5) != 0 && strncmp(c, "hlrt_", 5) != 0);
        free(c);
    }
}
END_TEST

START_TEST(tokens_unique)
{
    assert_unique(hl_token_new_access, 2000);
    assert_unique(hl_token_new_refresh, 2000);
    assert_unique(hl_token_new_connect, 2000);
}
END_TEST

/* ---- hashes ---- */

START_TEST(hash_known_value)
{
    hl_token_hash_t h;
    char hex[65];
    hl_token_hash("abc", 3, &h);
    ck_assert_str_eq(hl_token_hash_hex(&h, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_ptr_eq(hl_token_hash_hex(&h, hex), hex);
    /* only `len` bytes are hashed */
    hl_token_hash("abcdef", 3, &h);
    ck_assert_str_eq(hl_token_hash_hex(&h, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* and it is plain SHA-256 of the token */
    char *t = hl_token_new_access(), expect[65];
    hl_token_hash(t, strlen(t), &h);
    sha256_hex(t, strlen(t), expect);
    ck_assert_str_eq(hl_token_hash_hex(&h, hex), expect);
    free(t);
}
END_TEST

START_TEST(hash_hex_round_trip)
{
    for (int i = 0; i < 100; ++i) {
        char *t = hl_token_new_refresh(), hex[65];
        hl_token_hash_t h, back;
        hl_token_hash(t, strlen(t), &h);
        hl_token_hash_hex(&h, hex);
        ck_assert_uint_eq(strlen(hex), 64);
        for (const char *p = hex; *p; ++p)
            ck_assert((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
        memset(&back, 0xaa, sizeof(back));
        ck_assert_int_eq(hl_token_hash_from_hex(hex, &back), 0);
        ck_assert_mem_eq(back.bytes, h.bytes, sizeof(h.bytes));
        free(t);
    }
    /* upper-case hex digits are hex digits too */
    hl_token_hash_t h;
    ck_assert_int_eq(hl_token_hash_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &h), 0);
    char hex[65];
    ck_assert_str_eq(hl_token_hash_hex(&h, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(hash_bad_hex_rejected)
{
    static const char *const bad[] = {
        "",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
        "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  /* g */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015aZ",  /* Z at the end */
        "ba7816bf8f01cfea414140de5dae2223 00361a396177a9cb410ff61f20015ad",  /* space */
        " ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",  /* leading space, 64 chars */
        "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015",  /* 0x prefix */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015-d",  /* sign */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        hl_token_hash_t h;
        ck_assert_msg(hl_token_hash_from_hex(bad[i], &h) == -1, "accepted \"%s\"", bad[i]);
    }
    hl_token_hash_t h;
    ck_assert_int_eq(hl_token_hash_from_hex(NULL, &h), -1);
}
END_TEST

/* ---- bearer header ---- */

/* Parses a NUL-terminated header value; returns the token as a malloc'd string, or NULL when rejected. */
static char *bearer(const char *value)
{
    const char *tok = NULL;
    size_t len = 0;
    if (!hl_bearer_from_header(value, strlen(value), &tok, &len))
        return NULL;
    ck_assert_ptr_nonnull(tok);
    ck_assert(tok >= value && tok + len <= value + strlen(value)); /* points into the header */
    return strndup(tok, len);
}

static void assert_bearer(const char *value, const char *expect)
{
    char *got = bearer(value);
    if (expect == NULL) {
        ck_assert_msg(got == NULL, "\"%s\" accepted as \"%s\"", value, got);
        return;
    }
    ck_assert_msg(got != NULL, "\"%s\" rejected", value);
    ck_assert_str_eq(got, expect);
    free(got);
}

START_TEST(bearer_accepted)
{
    assert_bearer("Bearer x", "x");
    assert_bearer("bearer x", "x");
    assert_bearer("BEARER   x  ", "x");
    assert_bearer("BeArEr hlat_abc", "hlat_abc");
    assert_bearer("Bearer\tx", "x");
    assert_bearer("Bearer \t x\t", "x");
    assert_bearer("Bearer hlat_AbC-_09", "hlat_AbC-_09");
}
END_TEST

START_TEST(bearer_rejected)
{
    assert_bearer("Bearerx", NULL);
    assert_bearer("Basic x", NULL);
    assert_bearer("Basic Bearer x", NULL);
    assert_bearer("Bearer", NULL);
    assert_bearer("Bearer   ", NULL);
    assert_bearer("Bearer\t\t", NULL);
    assert_bearer("Beare x", NULL);
    assert_bearer("", NULL);
    assert_bearer("   ", NULL);
    assert_bearer("x", NULL);
}
END_TEST

START_TEST(bearer_respects_length)
{
    /* the value is not NUL-terminated where len says it ends */
    const char *hdr = "Bearer abcdef";
    const char *tok = NULL;
    size_t len = 0;
    ck_assert(hl_bearer_from_header(hdr, 10, &tok, &len));
    ck_assert_uint_eq(len, 3);
    ck_assert(strncmp(tok, "abc", 3) == 0);
    /* cut inside the scheme or right after it: no token */
    ck_assert(!hl_bearer_from_header(hdr, 6, &tok, &len));
    ck_assert(!hl_bearer_from_header(hdr, 7, &tok, &len));
    ck_assert(!hl_bearer_from_header(hdr, 3, &tok, &len));
    ck_assert(!hl_bearer_from_header(hdr, 0, &tok, &len));
}
END_TEST

/* ---- app instance ids ---- */

static char *app_id(size_t nchars, char fill)
{
    char *s = malloc(5 + nchars + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "appi_", 5);
    memset(s + 5, fill, nchars);
    s[5 + nchars] = '\0';
    return s;
}

static bool valid(const char *s)
{
    return hl_app_instance_valid(s, strlen(s));
}

START_TEST(app_instance_lengths)
{
    for (size_t n = 10; n <= 110; ++n) {
        char *s = app_id(n, 'a');
        ck_assert_msg(valid(s) == (n >= 16 && n <= 96), "%zu chars after the prefix", n);
        free(s);
    }
    char *s15 = app_id(15, 'Z'), *s16 = app_id(16, 'Z'), *s96 = app_id(96, '9'), *s97 = app_id(97, '9');
    ck_assert(!valid(s15));
    ck_assert(valid(s16));
    ck_assert(valid(s96));
    ck_assert(!valid(s97));
    free(s15);
    free(s16);
    free(s96);
    free(s97);
    ck_assert(!valid("appi_"));
    ck_assert(!valid(""));
}
END_TEST

START_TEST(app_instance_alphabet_and_prefix)
{
    ck_assert(valid("appi_AZaz09_-AZaz09_-"));
    ck_assert(valid("appi_________________"));
    ck_assert(valid("appi_----------------"));
    static const char *const bad[] = {
        "appi_0123456789abcde.",    "appi_0123456789abcde+", "appi_0123456789abcde/",    "appi_0123456789abcde=",
        "appi_01234567 89abcdef",   "appi_0123456789abcdé",  "appi_0123456789abcde\x01", "APPI_0123456789abcdef",
        "app_0123456789abcdefg",    "appi0123456789abcdefg", "xappi_0123456789abcdef",   "appi_0123456789abcdef\"",
        "appi_0123456789\tabcdef0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(!valid(bad[i]), "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(app_instance_trimmed)
{
    ck_assert(valid("  appi_0123456789abcdef  "));
    ck_assert(valid("\tappi_0123456789abcdef\n"));
    /* 15 characters plus whitespace is still too short; 96 plus whitespace is still fine */
    char *s = app_id(15, 'q');
    char buf[160];
    snprintf(buf, sizeof(buf), "   %s   ", s);
    ck_assert(!valid(buf));
    free(s);
    s = app_id(96, 'q');
    snprintf(buf, sizeof(buf), " %s ", s);
    ck_assert(valid(buf));
    free(s);
    /* length is honoured: the invalid tail beyond len is not looked at */
    const char *v = "appi_0123456789abcdef!!!";
    ck_assert(hl_app_instance_valid(v, 21));
    ck_assert(!hl_app_instance_valid(v, 22));
    ck_assert(!hl_app_instance_valid(v, 20));
}
END_TEST

START_TEST(app_instance_hash_value)
{
    const char *id = "appi_0123456789abcdefXYZ-_";
    char got[65], expect[65];
    char *salted = NULL;
    ck_assert_int_ge(asprintf(&salted, "hermespilot-app-instance:%s", id), 0);
    sha256_hex(salted, strlen(salted), expect);
    free(salted);
    ck_assert_ptr_eq(hl_app_instance_hash(id, strlen(id), got), got);
    ck_assert_str_eq(got, expect);
    /* the id is trimmed first */
    const char *padded = " \t appi_0123456789abcdefXYZ-_ \r\n";
    memset(got, 0, sizeof(got));
    hl_app_instance_hash(padded, strlen(padded), got);
    ck_assert_str_eq(got, expect);
    /* and only len bytes count */
    const char *longer = "appi_0123456789abcdefXYZ-_TAIL";
    hl_app_instance_hash(longer, strlen(id), got);
    ck_assert_str_eq(got, expect);
    /* a different id hashes differently */
    hl_app_instance_hash("appi_0123456789abcdefXYZ-a", strlen(id), got);
    ck_assert_str_ne(got, expect);
}
END_TEST

/* ---- descriptor normalisation ---- */

static void assert_norm(const char *in, size_t max, bool lower, const char *fallback, const char *expect)
{
    char *got = hl_normalize_descriptor(in, max, lower, fallback);
    if (expect == NULL) {
        ck_assert_msg(got == NULL, "\"%s\" → \"%s\", expected NULL", in != NULL ? in : "(null)", got);
        return;
    }
    ck_assert_msg(got != NULL, "\"%s\" → NULL, expected \"%s\"", in != NULL ? in : "(null)", expect);
    ck_assert_str_eq(got, expect);
    ck_assert_ptr_ne(got, fallback); /* a copy the caller frees */
    free(got);
}

START_TEST(normalize_trim_and_lower)
{
    assert_norm("  Pixel 8 Pro  ", HL_MODEL_MAX, false, NULL, "Pixel 8 Pro");
    assert_norm("\t\nPixel\n", HL_MODEL_MAX, false, NULL, "Pixel");
    assert_norm("  Android ", HL_PLATFORM_MAX, true, NULL, "android");
    assert_norm("iOS", HL_PLATFORM_MAX, true, NULL, "ios");
    assert_norm("iOS", HL_PLATFORM_MAX, false, NULL, "iOS");
    /* only ASCII is lower-cased: the UTF-8 bytes of É stay as they are */
    assert_norm("ÉCOLE", 10, true, NULL, "École");
    assert_norm("ÄÖÜ", 10, true, NULL, "ÄÖÜ");
    /* inner whitespace is kept */
    assert_norm("My  Phone", HL_LABEL_MAX, false, NULL, "My  Phone");
}
END_TEST

START_TEST(normalize_cut_code_points)
{
    assert_norm("abcdef", 3, false, NULL, "abc");
    assert_norm("abc", 3, false, NULL, "abc");
    assert_norm("héllo", 2, false, NULL, "hé");
    assert_norm("ééééé", 3, false, NULL, "ééé");
    assert_norm("€€€", 2, false, NULL, "€€"); /* 3-byte sequences */
    assert_norm("😀😀😀", 2, false, NULL, "😀😀"); /* 4-byte sequences */
    assert_norm("a😀b", 2, false, NULL, "a😀");
    assert_norm("😀x", 1, false, NULL, "😀");
    assert_norm("x😀", 1, false, NULL, "x");
    assert_norm("  ééé  ", 2, false, NULL, "éé");         /* trimmed before cutting */
    assert_norm("ab cd", 3, false, NULL, "ab");           /* and after: no trailing space */
    assert_norm("ÉCOLE NORMALE", 6, true, NULL, "École"); /* cut, trimmed, lower-cased */

    /* a long label: 128 code points of a 2-byte character are 256 bytes */
    char in[301];
    for (int i = 0; i < 150; ++i)
        memcpy(in + 2 * i, "é", 2);
    in[300] = '\0';
    char *got = hl_normalize_descriptor(in, HL_LABEL_MAX, false, NULL);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(strlen(got), 2 * HL_LABEL_MAX);
    ck_assert(strncmp(got, in, 2 * HL_LABEL_MAX) == 0);
    free(got);
}
END_TEST

START_TEST(normalize_fallback)
{
    assert_norm("", HL_LABEL_MAX, false, HL_DEFAULT_DEVICE_LABEL, HL_DEFAULT_DEVICE_LABEL);
    assert_norm("   \t\n ", HL_LABEL_MAX, false, HL_DEFAULT_DEVICE_LABEL, HL_DEFAULT_DEVICE_LABEL);
    assert_norm(NULL, HL_LABEL_MAX, false, HL_DEFAULT_DEVICE_LABEL, HL_DEFAULT_DEVICE_LABEL);
    assert_norm("x", 0, false, "unknown", "unknown"); /* nothing survives a cut to 0 */
    assert_norm("", HL_PLATFORM_MAX, true, "unknown", "unknown");
    assert_norm("", HL_MODEL_MAX, false, NULL, NULL);
    assert_norm("   ", HL_MODEL_MAX, false, NULL, NULL);
    assert_norm(NULL, HL_MODEL_MAX, false, NULL, NULL);
}
END_TEST

Suite *suite_tokens(void)
{
    Suite *s = suite_create("tokens");
    TCase *fmt = tcase_create("formats");
    tcase_add_test(fmt, access_and_refresh_format);
    tcase_add_test(fmt, connect_format);
    tcase_add_test(fmt, tokens_unique);
    suite_add_tcase(s, fmt);

    TCase *hash = tcase_create("hash");
    tcase_add_test(hash, hash_known_value);
    tcase_add_test(hash, hash_hex_round_trip);
    tcase_add_test(hash, hash_bad_hex_rejected);
    suite_add_tcase(s, hash);

    TCase *bearer_tc = tcase_create("bearer");
    tcase_add_test(bearer_tc, bearer_accepted);
    tcase_add_test(bearer_tc, bearer_rejected);
    tcase_add_test(bearer_tc, bearer_respects_length);
    suite_add_tcase(s, bearer_tc);

    TCase *app = tcase_create("app_instance");
    tcase_add_test(app, app_instance_lengths);
    tcase_add_test(app, app_instance_alphabet_and_prefix);
    tcase_add_test(app, app_instance_trimmed);
    tcase_add_test(app, app_instance_hash_value);
    suite_add_tcase(s, app);

    TCase *norm = tcase_create("normalize");
    tcase_add_test(norm, normalize_trim_and_lower);
    tcase_add_test(norm, normalize_cut_code_points);
    tcase_add_test(norm, normalize_fallback);
    suite_add_tcase(s, norm);
    return s;
}
