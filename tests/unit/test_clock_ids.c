/*
 * Timestamps (hl_format_iso / hl_parse_iso, the test clock offset) and identifiers (random ids, base64url, SHA-256,
 * constant-time comparison).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/ids.h"

/* ---- clock ---- */

START_TEST(format_known_values)
{
    char buf[HL_ISO_TIME_LEN];
    ck_assert_str_eq(hl_format_iso(0, buf), "1970-01-01T00:00:00.000Z");
    ck_assert_str_eq(hl_format_iso(1778241600000LL, buf), "2026-05-08T12:00:00.000Z");
    ck_assert_str_eq(hl_format_iso(1778241600123LL, buf), "2026-05-08T12:00:00.123Z");
    ck_assert_str_eq(hl_format_iso(951782400007LL, buf), "2000-02-29T00:00:00.007Z"); /* leap day */
    ck_assert_str_eq(hl_format_iso(253402300799999LL, buf), "9999-12-31T23:59:59.999Z");
    ck_assert_str_eq(hl_format_iso(-62167219200000LL, buf), "0000-01-01T00:00:00.000Z");
    ck_assert_int_eq(strlen(buf), HL_ISO_TIME_LEN - 1);
    ck_assert_ptr_eq(hl_format_iso(0, buf), buf);
}
END_TEST

START_TEST(format_negative_ms)
{
    char buf[HL_ISO_TIME_LEN];
    ck_assert_str_eq(hl_format_iso(-1, buf), "1969-12-31T23:59:59.999Z");
    ck_assert_str_eq(hl_format_iso(-999, buf), "1969-12-31T23:59:59.001Z");
    ck_assert_str_eq(hl_format_iso(-1000, buf), "1969-12-31T23:59:59.000Z");
    ck_assert_str_eq(hl_format_iso(-1001, buf), "1969-12-31T23:59:58.999Z");
    ck_assert_str_eq(hl_format_iso(-86400000, buf), "1969-12-31T00:00:00.000Z");
}
END_TEST

/* regression: hl_format_iso clamps only the year field, so 10000-01-01 formats as "9999-01-01..." (earlier than
 * 9999-12-31) and year -1 as "0000-12-31..."; out-of-range times should clamp to the first/last representable instant */
START_TEST(format_clamps_out_of_range)
{
    char buf[HL_ISO_TIME_LEN];
    ck_assert_str_eq(hl_format_iso(253402300800000LL, buf), "9999-12-31T23:59:59.999Z");
    ck_assert_str_eq(hl_format_iso(INT64_MAX, buf), "9999-12-31T23:59:59.999Z");
    ck_assert_str_eq(hl_format_iso(-62167219200001LL, buf), "0000-01-01T00:00:00.000Z");
    ck_assert_str_eq(hl_format_iso(INT64_MIN, buf), "0000-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(parse_round_trips)
{
    static const int64_t values[] = {0,
                                     1,
                                     999,
                                     1000,
                                     -1,
                                     -999,
                                     -1000,
                                     -1001,
                                     1778241600000LL,
                                     1778241600123LL,
                                     951782400007LL,
                                     4102444799999LL,
                                     -86400000LL,
                                     253402300799999LL,
                                     -62167219200000LL};
    for (size_t i = 0; i < HL_ARRAY_SIZE(values); ++i) {
        char buf[HL_ISO_TIME_LEN];
        int64_t back = 42;
        hl_format_iso(values[i], buf);
        ck_assert_msg(hl_parse_iso(buf, &back) == 0, "%s did not parse", buf);
        ck_assert_msg(back == values[i], "%s parsed as %lld, expected %lld", buf, (long long)back, (long long)values[i]);
    }
}
END_TEST

START_TEST(parse_accepted_forms)
{
    int64_t ms = 0;
    ck_assert_int_eq(hl_parse_iso("1970-01-01T00:00:00.000Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(hl_parse_iso("1970-01-01T00:00:00Z", &ms), 0); /* no milliseconds */
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(hl_parse_iso("2026-05-08T12:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 1778241600000LL);
    ck_assert_int_eq(hl_parse_iso("2026-05-08T12:00:00.5Z", &ms), 0); /* fraction digits are scaled */
    ck_assert_int_eq(ms, 1778241600500LL);
    ck_assert_int_eq(hl_parse_iso("2026-05-08T12:00:00.12Z", &ms), 0);
    ck_assert_int_eq(ms, 1778241600120LL);
    ck_assert_int_eq(hl_parse_iso("2026-05-08T12:00:00.123456Z", &ms), 0); /* beyond ms: truncated */
    ck_assert_int_eq(ms, 1778241600123LL);
    ck_assert_int_eq(hl_parse_iso("1969-12-31T23:59:59.999Z", &ms), 0);
    ck_assert_int_eq(ms, -1);
}
END_TEST

START_TEST(parse_rejects_bad_input)
{
    static const char *const bad[] = {
        "",
        "2026-05-08",
        "2026-05-08T12:00",
        "2026-05-08T12:00:00",     /* no Z */
        "2026-05-08T12:00:00.000", /* no Z */
        "2026-05-08T12:00:00.Z",   /* empty fraction */
        "2026-05-08T12:00:00.000ZZ",
        "2026-05-08T12:00:00Z ",
        " 2026-05-08T12:00:00Z",
        "2026-05-08 12:00:00Z",
        "2026-05-08t12:00:00Z",
        "2026-05-08T12:00:00+00:00",
        "2026-05-08T12:00:00.000+01:00",
        "2026-5-08T12:00:00Z",
        "26-05-08T12:00:00Z",
        "20260508T120000Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-05-00T00:00:00Z",
        "2026-05-32T00:00:00Z",
        "2026-05-08T24:00:00Z",
        "2026-05-08T12:60:00Z",
        "2026-05-08T12:00:61Z",
        "2026-05-08T12:00:00.1a3Z",
        "abcd-ef-ghTij:kl:mnZ",
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        int64_t ms = 7;
        ck_assert_msg(hl_parse_iso(bad[i], &ms) == -EINVAL, "'%s' was accepted", bad[i]);
    }
    int64_t ms = 7;
    ck_assert_int_eq(hl_parse_iso(NULL, &ms), -EINVAL); /* a JSON field that is missing or not a string */
}
END_TEST

/* regression: hl_parse_iso reads fields with sscanf("%2d"), which takes signs and leading spaces, and only bounds the
 * fields from above: "2026-05-08T-1:00:00Z" parses as 2026-05-07T23:00:00Z, "2026- 5-08T12:00:00Z" and
 * "2026-+5-08T12:00:00Z" as May 8th, "+026-05-08T12:00:00Z" as year 26, and "2026-02-30T00:00:00Z" is normalised to
 * March 2nd by timegm. None of these are the format hl_format_iso produces; all should be -EINVAL. */
START_TEST(parse_rejects_non_canonical_fields)
{
    static const char *const bad[] = {
        "2026-05-08T-1:00:00Z", "2026-05-08T12:-1:00Z", "2026-05-08T12:00:-1Z", "2026- 5-08T12:00:00Z", "2026-+5-08T12:00:00Z",
        "+026-05-08T12:00:00Z", "-001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(bad); ++i) {
        int64_t ms = 7;
        ck_assert_msg(hl_parse_iso(bad[i], &ms) == -EINVAL, "'%s' was accepted", bad[i]);
    }
}
END_TEST

START_TEST(clock_advance_shifts_now)
{
    int64_t before = hl_now_ms();
    uint64_t mono_before = hl_monotonic_ms();
    /* the wall clock is close to the system's */
    ck_assert_int_gt(before, 1700000000000LL);
    hl_clock_advance(3600 * 1000);
    int64_t after = hl_now_ms();
    ck_assert_int_ge(after - before, 3600 * 1000);
    ck_assert_int_lt(after - before, 3600 * 1000 + 5000);
    /* monotonic time is never shifted */
    ck_assert_uint_lt(hl_monotonic_ms() - mono_before, 5000);
    hl_clock_advance(-2 * 3600 * 1000);
    int64_t back = hl_now_ms();
    ck_assert_int_le(back - before, -3600 * 1000 + 5000);
    ck_assert_int_ge(back - before, -3600 * 1000);
    hl_clock_advance(3600 * 1000);
    ck_assert_int_lt(hl_now_ms() - before, 5000);
}
END_TEST

/* ---- ids ---- */

static int is_lower_hex(const char *s)
{
    for (; *s; ++s)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(random_hex_id_shape_and_uniqueness)
{
    enum { N = 2000 };
    char **ids = malloc(sizeof(*ids) * N);
    ck_assert_ptr_nonnull(ids);
    for (int i = 0; i < N; ++i) {
        ids[i] = hl_random_hex_id("link_", 16);
        ck_assert_int_eq(strlen(ids[i]), 5 + 32);
        ck_assert(strncmp(ids[i], "link_", 5) == 0);
        ck_assert_msg(is_lower_hex(ids[i] + 5), "not lowercase hex: %s", ids[i]);
    }
    qsort(ids, N, sizeof(*ids), cmp_str);
    for (int i = 1; i < N; ++i)
        ck_assert_str_ne(ids[i - 1], ids[i]);
    for (int i = 0; i < N; ++i)
        free(ids[i]);
    free(ids);

    char *id = hl_random_hex_id("ps_", 8);
    ck_assert_int_eq(strlen(id), 3 + 16);
    ck_assert(is_lower_hex(id + 3));
    free(id);
    id = hl_random_hex_id("", 4);
    ck_assert_int_eq(strlen(id), 8);
    ck_assert(is_lower_hex(id));
    free(id);
    id = hl_random_hex_id("x_", 0);
    ck_assert_str_eq(id, "x_");
    free(id);
}
END_TEST

START_TEST(random_bytes_differ)
{
    unsigned char a[32], b[32], zero[32] = {0};
    hl_random_bytes(a, sizeof(a));
    hl_random_bytes(b, sizeof(b));
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert(memcmp(a, zero, sizeof(a)) != 0);
}
END_TEST

START_TEST(hex_encoding)
{
    static const unsigned char data[] = {0x00, 0xff, 0x1a, 0xb0, 0x09};
    char out[2 * sizeof(data) + 1];
    ck_assert_str_eq(hl_hex(data, sizeof(data), out), "00ff1ab009");
    ck_assert_str_eq(hl_hex(data, 0, out), "");
}
END_TEST

START_TEST(base64url_rfc4648_vectors)
{
    /* RFC 4648 §10, without the padding */
    static const char *const vectors[][2] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
                                             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < HL_ARRAY_SIZE(vectors); ++i) {
        char *enc = hl_base64url(vectors[i][0], strlen(vectors[i][0]));
        ck_assert_str_eq(enc, vectors[i][1]);
        free(enc);
    }
}
END_TEST

START_TEST(base64url_alphabet)
{
    /* the bytes that standard base64 writes as '+' and '/' */
    static const unsigned char plus_slash[] = {0xfb, 0xff, 0xbf};
    char *enc = hl_base64url(plus_slash, sizeof(plus_slash));
    ck_assert_str_eq(enc, "-_-_");
    free(enc);
    static const unsigned char two[] = {0xfb, 0xff};
    enc = hl_base64url(two, sizeof(two));
    ck_assert_str_eq(enc, "-_8");
    free(enc);
    static const unsigned char all_ones[] = {0xff, 0xff, 0xff, 0xff};
    enc = hl_base64url(all_ones, sizeof(all_ones));
    ck_assert_str_eq(enc, "_____w");
    free(enc);

    /* 32 random bytes (a token) → 43 characters of the URL alphabet, no padding */
    for (int round = 0; round < 100; ++round) {
        unsigned char raw[32];
        hl_random_bytes(raw, sizeof(raw));
        enc = hl_base64url(raw, sizeof(raw));
        ck_assert_int_eq(strlen(enc), 43);
        for (const char *p = enc; *p; ++p)
            ck_assert_msg((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                              *p == '_',
                          "bad character in %s", enc);
        free(enc);
    }
}
END_TEST

START_TEST(sha256_hex_vectors)
{
    char out[65];
    ck_assert_str_eq(hl_sha256_hex("abc", 3, out), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_str_eq(hl_sha256_hex("", 0, out), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_assert_str_eq(hl_sha256_hex(two_blocks, strlen(two_blocks), out),
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    ck_assert_int_eq(strlen(out), 64);
}
END_TEST

START_TEST(consttime_equal)
{
    ck_assert(hl_consttime_equal("secret-token", 12, "secret-token", 12));
    ck_assert(!hl_consttime_equal("secret-token", 12, "secret-tokeN", 12));
    ck_assert(!hl_consttime_equal("Secret-token", 12, "secret-token", 12));
    ck_assert(!hl_consttime_equal("secret-token", 12, "secret-toke", 11));
    ck_assert(!hl_consttime_equal("abc", 3, "abcd", 4));
    ck_assert(hl_consttime_equal("", 0, "", 0));
    static const unsigned char a[] = {0, 1, 2, 0}, b[] = {0, 1, 2, 1};
    ck_assert(!hl_consttime_equal(a, 4, b, 4)); /* binary, NUL bytes included */
    ck_assert(hl_consttime_equal(a, 3, b, 3));
}
END_TEST

Suite *suite_clock_ids(void)
{
    Suite *s = suite_create("clock_ids");
    TCase *clock = tcase_create("clock");
    tcase_add_test(clock, format_known_values);
    tcase_add_test(clock, format_negative_ms);
    tcase_add_test(clock, format_clamps_out_of_range);
    tcase_add_test(clock, parse_round_trips);
    tcase_add_test(clock, parse_accepted_forms);
    tcase_add_test(clock, parse_rejects_bad_input);
    tcase_add_test(clock, parse_rejects_non_canonical_fields);
    tcase_add_test(clock, clock_advance_shifts_now);
    suite_add_tcase(s, clock);

    TCase *ids = tcase_create("ids");
    tcase_add_test(ids, random_hex_id_shape_and_uniqueness);
    tcase_add_test(ids, random_bytes_differ);
    tcase_add_test(ids, hex_encoding);
    tcase_add_test(ids, base64url_rfc4648_vectors);
    tcase_add_test(ids, base64url_alphabet);
    tcase_add_test(ids, sha256_hex_vectors);
    tcase_add_test(ids, consttime_equal);
    suite_add_tcase(s, ids);
    return s;
}
