/*
 * Client addresses (include/hl/netaddr.h): ranges for trustedProxies (IPv4 and IPv6, prefix bounds, host bits), range
 * membership, the counting key (IPv6 /64, IPv4 as mapped) and loopback.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "hl/netaddr.h"

/* The IPv6 form of a textual address (asserting it parses). */
static void addr(const char *s, uint8_t out[16])
{
    ck_assert_msg(hl_addr_parse(s, out), "%s does not parse as an address", s);
}

static bool contains(const char *range, const char *a)
{
    hl_cidr_t r;
    ck_assert_msg(hl_cidr_parse(range, &r) == 0, "%s does not parse as a range", range);
    uint8_t a16[16];
    addr(a, a16);
    return hl_cidr_contains(&r, a16);
}

START_TEST(cidr_parse_valid)
{
    static const struct {
        const char *text;
        const char *addr; /* the range's address once host bits are cleared */
        int prefix;       /* in IPv6 bits */
    } cases[] = {
        {"10.0.0.1", "10.0.0.1", 128},
        {"10.0.0.0/8", "10.0.0.0", 96 + 8},
        {"10.1.2.3/8", "10.0.0.0", 96 + 8}, /* host bits ignored */
        {"192.168.1.77/24", "192.168.1.0", 96 + 24},
        {"0.0.0.0/0", "0.0.0.0", 96},
        {"1.2.3.4/32", "1.2.3.4", 128},
        {"::1", "::1", 128},
        {"fd00::/8", "fd00::", 8},
        {"2001:db8:1:2:3:4:5:6/64", "2001:db8:1:2::", 64},
        {"::/0", "::", 0},
        {"2001:db8::1/128", "2001:db8::1", 128},
        {"2001:db8::ff/127", "2001:db8::fe", 127},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        hl_cidr_t r;
        ck_assert_msg(hl_cidr_parse(cases[i].text, &r) == 0, "%s refused", cases[i].text);
        ck_assert_msg(r.prefix == cases[i].prefix, "%s: prefix %d, expected %d", cases[i].text, r.prefix, cases[i].prefix);
        uint8_t want[16];
        addr(cases[i].addr, want);
        ck_assert_msg(memcmp(r.addr, want, 16) == 0, "%s: not stored as %s", cases[i].text, cases[i].addr);
    }
}
END_TEST

START_TEST(cidr_parse_invalid)
{
    static const char *const bad[] = {
        "",
        "10.0.0.0/33",
        "10.0.0.0/-1",
        "10.0.0.0/",
        "10.0.0.0/8x",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        "::/129",
        "fd00::/-0",
        "10.0.0",
        "10.0.0.256",
        "example.com",
        "[::1]",
        "::1/64/1",
        "10.0.0.0/08a",
        "1.2.3.4:80",
        "fe80::1%lo",
        " 10.0.0.1",
        "10.0.0.1 ",
        "/8",
        "10.0.0.0/999",
        "::g",
        "1111:2222:3333:4444:5555:6666:7777:8888:9999/64",                /* nine groups */
        "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/64", /* longer than any address */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        hl_cidr_t r;
        ck_assert_msg(hl_cidr_parse(bad[i], &r) == -EINVAL, "'%s' accepted", bad[i]);
    }
}
END_TEST

START_TEST(cidr_contains)
{
    ck_assert(contains("10.0.0.0/8", "10.255.1.2"));
    ck_assert(!contains("10.0.0.0/8", "11.0.0.1"));
    ck_assert(contains("192.168.1.0/24", "192.168.1.255"));
    ck_assert(!contains("192.168.1.0/24", "192.168.2.1"));
    ck_assert(contains("172.16.0.0/12", "172.31.255.255"));
    ck_assert(!contains("172.16.0.0/12", "172.32.0.0"));
    ck_assert(contains("10.0.0.5", "10.0.0.5"));
    ck_assert(!contains("10.0.0.5", "10.0.0.6"));
    ck_assert(contains("0.0.0.0/0", "203.0.113.9"));
    ck_assert(!contains("0.0.0.0/0", "2001:db8::1")); /* an IPv4 range holds IPv4 addresses only */
    ck_assert(contains("::/0", "2001:db8::1"));
    ck_assert(contains("::/0", "10.0.0.1")); /* ::/0 holds the mapped IPv4 addresses too */
    ck_assert(contains("::1", "::1"));
    ck_assert(!contains("::1", "127.0.0.1"));
    ck_assert(contains("fd00::/8", "fdab:1::2"));
    ck_assert(!contains("fd00::/8", "fe80::1"));
    ck_assert(contains("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!contains("2001:db8::/32", "2001:db9::1"));
    ck_assert(contains("2001:db8::fe/127", "2001:db8::ff"));
    ck_assert(!contains("2001:db8::fe/127", "2001:db8::100"));
    /* a v4-mapped IPv6 range is the same as its IPv4 one */
    ck_assert(contains("::ffff:10.0.0.0/104", "10.1.2.3"));
    ck_assert(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
}
END_TEST

START_TEST(sockaddr_to_v6)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.7", &in4.sin_addr);
    uint8_t got[16], want[16];
    ck_assert(hl_sockaddr_to_v6((struct sockaddr *)&in4, got));
    addr("::ffff:192.0.2.7", want);
    ck_assert(memcmp(got, want, 16) == 0);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::9", &in6.sin6_addr);
    ck_assert(hl_sockaddr_to_v6((struct sockaddr *)&in6, got));
    addr("2001:db8::9", want);
    ck_assert(memcmp(got, want, 16) == 0);
    struct sockaddr other = {.sa_family = AF_UNIX};
    ck_assert(!hl_sockaddr_to_v6(&other, got));
    ck_assert(!hl_addr_parse("10.0.0.1/8", got));
    ck_assert(!hl_addr_parse("localhost", got));
}
END_TEST

static bool same_key(const char *a, const char *b)
{
    uint8_t a16[16], b16[16];
    addr(a, a16);
    addr(b, b16);
    hl_addr_key_t ka = hl_addr_key(a16), kb = hl_addr_key(b16);
    return memcmp(ka.b, kb.b, 16) == 0;
}

START_TEST(addr_key)
{
    /* IPv6: one key per /64 */
    ck_assert(same_key("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
    ck_assert(!same_key("2001:db8:1:2::1", "2001:db8:1:3::1"));
    uint8_t a16[16], want[16];
    addr("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a16);
    addr("2001:db8:1:2::", want);
    hl_addr_key_t k = hl_addr_key(a16);
    ck_assert_msg(memcmp(k.b, want, 16) == 0, "the /64 key keeps host bits");
    /* IPv4 (mapped): every address its own key, although they share the mapped /64 */
    ck_assert(!same_key("10.0.0.1", "10.0.0.2"));
    ck_assert(same_key("10.0.0.1", "::ffff:10.0.0.1"));
    addr("10.0.0.1", a16);
    k = hl_addr_key(a16);
    ck_assert(memcmp(k.b, a16, 16) == 0);
    /* an IPv4 address and an IPv6 one never share a key */
    ck_assert(!same_key("0.0.0.1", "::1"));
}
END_TEST

static bool loopback(const char *s)
{
    uint8_t a16[16];
    addr(s, a16);
    return hl_addr_is_loopback(a16);
}

START_TEST(addr_is_loopback)
{
    ck_assert(loopback("127.0.0.1"));
    ck_assert(loopback("127.1.2.3"));
    ck_assert(loopback("127.255.255.255"));
    ck_assert(loopback("::1"));
    ck_assert(loopback("::ffff:127.0.0.1"));
    ck_assert(!loopback("128.0.0.1"));
    ck_assert(!loopback("126.255.255.255"));
    ck_assert(!loopback("10.0.0.1"));
    ck_assert(!loopback("0.0.0.0"));
    ck_assert(!loopback("::"));
    ck_assert(!loopback("::2"));
    ck_assert(!loopback("::127.0.0.1")); /* IPv4-compatible, not mapped */
    ck_assert(!loopback("fe80::1"));
    /* the textual form --listen gets */
    ck_assert(hl_host_is_loopback("127.0.0.1"));
    ck_assert(hl_host_is_loopback("::1"));
    ck_assert(!hl_host_is_loopback("0.0.0.0"));
    ck_assert(!hl_host_is_loopback("::"));
    ck_assert(!hl_host_is_loopback("192.168.1.10"));
    ck_assert(!hl_host_is_loopback("localhost")); /* not an address */
    ck_assert(!hl_host_is_loopback("[::1]"));
    ck_assert(!hl_host_is_loopback(""));
    ck_assert(!hl_host_is_loopback(NULL));
}
END_TEST

Suite *suite_netaddr(void)
{
    Suite *s = suite_create("netaddr");
    TCase *tc = tcase_create("netaddr");
    tcase_add_test(tc, cidr_parse_valid);
    tcase_add_test(tc, cidr_parse_invalid);
    tcase_add_test(tc, cidr_contains);
    tcase_add_test(tc, sockaddr_to_v6);
    tcase_add_test(tc, addr_key);
    tcase_add_test(tc, addr_is_loopback);
    suite_add_tcase(s, tc);
    return s;
}
