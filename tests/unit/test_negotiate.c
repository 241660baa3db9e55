/*
 * Content negotiation of the web client's files (src/http/http_negotiate.c): If-None-Match and Accept-Encoding.
 */
#include <check.h>
#include <string.h>

#include "hl/http_negotiate.h"

#define S(lit) lit, strlen(lit)

START_TEST(etag_lists_and_weak_tags)
{
    const char *tag = "\"abc\"";
    ck_assert(hl_etag_matches(S("\"abc\""), tag));
    ck_assert(hl_etag_matches(S("W/\"abc\""), tag));
    ck_assert(hl_etag_matches(S("\"x\", \"abc\""), tag));
    ck_assert(hl_etag_matches(S(" \"x\" ,\t\"abc\" "), tag));
    ck_assert(hl_etag_matches(S("*"), tag));
    ck_assert(!hl_etag_matches(S("\"abcd\""), tag));
    ck_assert(!hl_etag_matches(S("abc"), tag));
    ck_assert(!hl_etag_matches(S(""), tag));
    ck_assert(!hl_etag_matches(S(",,,"), tag));
    ck_assert(!hl_etag_matches(S("\"abc\"-gz"), tag));
}
END_TEST

START_TEST(gzip_admitted_by_accept_encoding)
{
    ck_assert(!hl_accepts_gzip(NULL, 0));
    ck_assert(!hl_accepts_gzip(S("")));
    ck_assert(!hl_accepts_gzip(S("identity")));
    ck_assert(!hl_accepts_gzip(S("br, deflate")));
    ck_assert(hl_accepts_gzip(S("gzip")));
    ck_assert(hl_accepts_gzip(S("GZip")));
    ck_assert(hl_accepts_gzip(S("x-gzip")));
    ck_assert(hl_accepts_gzip(S("gzip, deflate, br")));
    ck_assert(hl_accepts_gzip(S("br;q=1.0, gzip;q=0.8")));
    ck_assert(hl_accepts_gzip(S("gzip;q=0.001")));
    ck_assert(hl_accepts_gzip(S("gzip ; q=1")));
    ck_assert(!hl_accepts_gzip(S("gzip;q=0")));
    ck_assert(!hl_accepts_gzip(S("gzip;q=0.000")));
    ck_assert(!hl_accepts_gzip(S("gzip; Q=0.0, br")));
    ck_assert(!hl_accepts_gzip(S("gzip;q=x")));
    ck_assert(hl_accepts_gzip(S("*")));
    ck_assert(hl_accepts_gzip(S("br, *;q=0.1")));
    ck_assert(!hl_accepts_gzip(S("*;q=0")));
    ck_assert(!hl_accepts_gzip(S("*, gzip;q=0")));
    ck_assert(!hl_accepts_gzip(S("gzipx, xgzip")));
}
END_TEST

Suite *suite_negotiate(void)
{
    Suite *s = suite_create("negotiate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, etag_lists_and_weak_tags);
    tcase_add_test(tc, gzip_admitted_by_accept_encoding);
    suite_add_tcase(s, tc);
    return s;
}
