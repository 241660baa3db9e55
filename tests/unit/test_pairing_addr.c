/*
 * The key a client address is rate limited under by pairing (hl_pairing_addr_key, include/hl/pairing.h): IPv4 as is,
 * also when a dual-stack listener reports it mapped into IPv6; IPv6 by its /64, so a client rotating addresses within
 * its prefix stays one client; loopback addresses are not special.
 */
#include <check.h>
#include <string.h>

#include "hl/pairing.h"

static void assert_key(const char *peer, const char *want)
{
    char key[HL_PAIRING_ADDR_KEY_MAX];
    hl_pairing_addr_key(peer, key);
    ck_assert_msg(strcmp(key, want) == 0, "key of %s: %s, want %s", peer, key, want);
}

START_TEST(ipv4_as_is)
{
    assert_key("192.168.1.20", "192.168.1.20");
    assert_key("127.0.0.1", "127.0.0.1");
    assert_key("127.0.9.3", "127.0.9.3");
}
END_TEST

START_TEST(ipv4_mapped_is_ipv4)
{
    /* all of IPv4 maps into ::ffff:0:0/96, inside one /64: never group it */
    assert_key("::ffff:192.168.1.20", "192.168.1.20");
    assert_key("::ffff:127.0.0.2", "127.0.0.2");
}
END_TEST

START_TEST(ipv6_by_64)
{
    assert_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64");
    assert_key("2001:db8:1:2::1", "2001:db8:1:2::/64");
    assert_key("2001:DB8:1:2:0:0:0:FFFF", "2001:db8:1:2::/64");
    assert_key("2001:db8:1:3::1", "2001:db8:1:3::/64");
    assert_key("fe80::1234:5678", "fe80::/64");
    assert_key("::1", "::/64");
}
END_TEST

START_TEST(other_as_is)
{
    assert_key("unknown", "unknown");
    assert_key("", "");
}
END_TEST

Suite *suite_pairing_addr(void)
{
    Suite *s = suite_create("pairing_addr");
    TCase *tc = tcase_create("key");
    tcase_add_test(tc, ipv4_as_is);
    tcase_add_test(tc, ipv4_mapped_is_ipv4);
    tcase_add_test(tc, ipv6_by_64);
    tcase_add_test(tc, other_as_is);
    suite_add_tcase(s, tc);
    return s;
}
