/*
 * The web-client pairing URL (hl_web_client_url, hl_web_client_base in include/hl/web_client_url.h): the claim in the
 * fragment, values percent-encoded, the base's trailing slash dropped, the same-origin form, and which base a session's
 * preferred URLs give (publicUrl first, else the first LAN URL, else the fallback).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hl/web_client_url.h"

static void assert_url(const char *base, const char *sid, const char *code, const char *want)
{
    char *url = hl_web_client_url(base, sid, code);
    ck_assert_msg(strcmp(url, want) == 0, "url of (%s, %s, %s): %s, want %s", base ? base : "NULL", sid ? sid : "NULL",
                  code ? code : "NULL", url, want);
    free(url);
}

START_TEST(plain_values)
{
    assert_url("http://192.168.1.10:18642", "ps_AbC-d_9", "Zx_-09azAZ",
               "http://192.168.1.10:18642/app#session=ps_AbC-d_9&code=Zx_-09azAZ");
    assert_url("https://link.example.com", "ps_x", "c", "https://link.example.com/app#session=ps_x&code=c");
    assert_url("http://[fd00::1]:18642", "ps_x", "c", "http://[fd00::1]:18642/app#session=ps_x&code=c");
}
END_TEST

START_TEST(percent_encoded)
{
    /* everything but the unreserved characters, so nothing in a value can end it or start another parameter */
    assert_url("http://h", "a&b=c#d", "x y+z/%~.", "http://h/app#session=a%26b%3Dc%23d&code=x%20y%2Bz%2F%25~.");
    assert_url("http://h", "\xc3\xa9", "?", "http://h/app#session=%C3%A9&code=%3F");
    assert_url("http://h", "", "", "http://h/app#session=&code=");
}
END_TEST

START_TEST(base_forms)
{
    /* publicUrl may end with one '/' */
    assert_url("https://link.example.com/", "ps_x", "c", "https://link.example.com/app#session=ps_x&code=c");
    /* no base: the same-origin path the pairing page's button goes to */
    assert_url("", "ps_x", "c", "/app#session=ps_x&code=c");
    assert_url(NULL, "ps_x", "c", "/app#session=ps_x&code=c");
}
END_TEST

START_TEST(base_choice)
{
    json_t *urls = json_pack("[s, s, s]", "https://link.example.com", "http://192.168.1.10:18642", "http://127.0.0.1:18642");
    ck_assert_str_eq(hl_web_client_base(urls, "http://127.0.0.1:1"), "https://link.example.com");
    json_decref(urls);
    urls = json_pack("[s, s]", "http://192.168.1.10:18642", "http://127.0.0.1:18642");
    ck_assert_str_eq(hl_web_client_base(urls, "http://127.0.0.1:1"), "http://192.168.1.10:18642");
    json_decref(urls);
    urls = json_array();
    ck_assert_str_eq(hl_web_client_base(urls, "http://127.0.0.1:1"), "http://127.0.0.1:1");
    json_decref(urls);
    urls = json_pack("[i]", 3);
    ck_assert_str_eq(hl_web_client_base(urls, "http://127.0.0.1:1"), "http://127.0.0.1:1");
    json_decref(urls);
    ck_assert_str_eq(hl_web_client_base(NULL, "http://127.0.0.1:1"), "http://127.0.0.1:1");
    ck_assert_ptr_null(hl_web_client_base(NULL, NULL));
}
END_TEST

Suite *suite_web_client_url(void)
{
    Suite *s = suite_create("web_client_url");
    TCase *tc = tcase_create("url");
    tcase_add_test(tc, plain_values);
    tcase_add_test(tc, percent_encoded);
    tcase_add_test(tc, base_forms);
    tcase_add_test(tc, base_choice);
    suite_add_tcase(s, tc);
    return s;
}
