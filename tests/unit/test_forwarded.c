/*
 * The X-Forwarded-For walk (hl_xff_client, include/hl/forwarded.h): the header counts only when the TCP peer is a trusted
 * proxy; its entries are walked from the right past trusted proxies to the first other address (the leftmost when all
 * are trusted); garbage ends the walk at the last good address; several headers are one list in order.
 */
#include <check.h>
#include <string.h>

#include "hl/forwarded.h"

static hl_cidr_t ranges[4];
static size_t num_ranges;

static void trust(const char *const *specs)
{
    num_ranges = 0;
    for (; *specs != NULL; ++specs)
        ck_assert_msg(hl_cidr_parse(*specs, &ranges[num_ranges++]) == 0, "range %s", *specs);
}

/* The client for peer and the header values (NULL-terminated); "peer" when the peer itself is the client. */
static const char *client_of(const char *peer, const char *const *headers)
{
    static char out[HL_ADDR_TEXT_MAX];
    uint8_t p[16];
    ck_assert_msg(hl_addr_parse(peer, p), "peer %s", peer);
    hl_xff_value_t values[8];
    size_t n = 0;
    for (; headers != NULL && headers[n] != NULL; ++n)
        values[n] = (hl_xff_value_t){headers[n], strlen(headers[n])};
    memset(out, 'x', sizeof(out));
    if (!hl_xff_client(p, values, n, ranges, num_ranges, out))
        return "peer";
    ck_assert_msg(memchr(out, '\0', sizeof(out)) != NULL, "unterminated output");
    return out;
}

#define H(...) ((const char *const[]){__VA_ARGS__, NULL})
#define assert_client(peer, headers, want)                                                                                         \
    do {                                                                                                                           \
        const char *got_ = client_of(peer, headers);                                                                               \
        ck_assert_msg(strcmp(got_, want) == 0, "line %d: peer %s: got %s, want %s", __LINE__, peer, got_, want);                   \
    } while (0)

START_TEST(untrusted_peer_ignores_header)
{
    trust(H("10.0.0.1"));
    assert_client("203.0.113.5", H("198.51.100.7"), "peer");
    assert_client("10.0.0.2", H("198.51.100.7, 10.0.0.1"), "peer");
    /* no ranges at all */
    num_ranges = 0;
    assert_client("127.0.0.1", H("198.51.100.7"), "peer");
}
END_TEST

START_TEST(trusted_peer_without_header)
{
    trust(H("127.0.0.1"));
    assert_client("127.0.0.1", NULL, "peer");
}
END_TEST

START_TEST(first_untrusted_from_the_right)
{
    trust(H("127.0.0.1", "10.0.0.0/8"));
    assert_client("127.0.0.1", H("198.51.100.7"), "198.51.100.7");
    /* nginx's $proxy_add_x_forwarded_for: what the client sent, then the address nginx saw */
    assert_client("127.0.0.1", H("198.51.100.7, 127.0.0.1"), "198.51.100.7");
    /* a client's forged entries left of the first untrusted address are never reached */
    assert_client("127.0.0.1", H("1.2.3.4, 198.51.100.7, 10.1.2.3, 127.0.0.1"), "198.51.100.7");
    assert_client("10.9.9.9", H("192.0.2.1,192.0.2.2,10.0.0.5"), "192.0.2.2");
    /* spaces and tabs around entries */
    assert_client("127.0.0.1", H(" \t198.51.100.9\t ,  10.0.0.1 "), "198.51.100.9");
}
END_TEST

START_TEST(all_trusted_gives_leftmost)
{
    trust(H("127.0.0.1", "10.0.0.0/8"));
    assert_client("127.0.0.1", H("10.0.0.3, 10.0.0.2, 127.0.0.1"), "10.0.0.3");
    assert_client("127.0.0.1", H("127.0.0.1"), "127.0.0.1");
}
END_TEST

START_TEST(garbage_ends_the_walk)
{
    trust(H("127.0.0.1", "10.0.0.0/8"));
    /* garbage right away: the peer is the client */
    assert_client("127.0.0.1", H("unknown"), "peer");
    assert_client("127.0.0.1", H(""), "peer");
    assert_client("127.0.0.1", H("198.51.100.7, "), "peer");
    assert_client("127.0.0.1", H("198.51.100.7:1234"), "peer");
    /* garbage after trusted entries: the last good one (a trusted proxy), never what lies left of the garbage */
    assert_client("127.0.0.1", H("198.51.100.7, _hidden, 10.0.0.4"), "10.0.0.4");
    assert_client("127.0.0.1", H("198.51.100.7,,10.0.0.4"), "10.0.0.4");
    assert_client("127.0.0.1", H("198.51.100.7, [2001:db8::1], 10.0.0.4"), "10.0.0.4");
    assert_client("127.0.0.1", H("198.51.100.7, example.com, 10.0.0.4"), "10.0.0.4");
    assert_client("127.0.0.1", H("198.51.100.7, 300.1.1.1, 10.0.0.4"), "10.0.0.4");
    assert_client("127.0.0.1", H("198.51.100.7, 2001:db8::1%eth0, 10.0.0.4"), "10.0.0.4");
    /* garbage left of the client is never looked at */
    assert_client("127.0.0.1", H("garbage, 198.51.100.7, 10.0.0.4"), "198.51.100.7");
    /* an entry too long for an address */
    assert_client("127.0.0.1", H("1111:2222:3333:4444:5555:6666:7777:8888:9999:0000, 10.0.0.4"), "10.0.0.4");
}
END_TEST

START_TEST(embedded_nul_is_garbage)
{
    trust(H("127.0.0.1"));
    uint8_t p[16];
    ck_assert(hl_addr_parse("127.0.0.1", p));
    static const char v[] = "198.51.100.7\0x, 127.0.0.1";
    hl_xff_value_t value = {v, sizeof(v) - 1};
    char out[HL_ADDR_TEXT_MAX];
    ck_assert(hl_xff_client(p, &value, 1, ranges, num_ranges, out));
    ck_assert_str_eq(out, "127.0.0.1");
}
END_TEST

START_TEST(several_headers_are_one_list)
{
    trust(H("127.0.0.1", "10.0.0.0/8"));
    assert_client("127.0.0.1", H("198.51.100.7", "10.0.0.1", "127.0.0.1"), "198.51.100.7");
    assert_client("127.0.0.1", H("192.0.2.1, 198.51.100.7", "10.0.0.1, 127.0.0.1"), "198.51.100.7");
    assert_client("127.0.0.1", H("192.0.2.1", "198.51.100.8"), "198.51.100.8");
    assert_client("127.0.0.1", H("10.0.0.2", "10.0.0.1"), "10.0.0.2");
    /* an empty header is an empty entry: garbage */
    assert_client("127.0.0.1", H("198.51.100.7", "", "10.0.0.1"), "10.0.0.1");
    assert_client("127.0.0.1", H("198.51.100.7", ""), "peer");
}
END_TEST

START_TEST(ipv6)
{
    trust(H("::1", "fd00::/8", "127.0.0.1"));
    assert_client("::1", H("2001:DB8::0:1, fd00::5"), "2001:db8::1");
    /* an IPv4-mapped peer (dual-stack listener) is its IPv4 address */
    assert_client("::ffff:127.0.0.1", H("198.51.100.7"), "198.51.100.7");
    /* a mapped entry is written as IPv4 */
    assert_client("::1", H("::ffff:198.51.100.7"), "198.51.100.7");
    assert_client("fd12::1", H("192.0.2.4, fd00::1"), "192.0.2.4");
    assert_client("2001:db8::9", H("192.0.2.4"), "peer");
}
END_TEST

Suite *suite_forwarded(void)
{
    Suite *s = suite_create("forwarded");
    TCase *tc = tcase_create("xff");
    tcase_add_test(tc, untrusted_peer_ignores_header);
    tcase_add_test(tc, trusted_peer_without_header);
    tcase_add_test(tc, first_untrusted_from_the_right);
    tcase_add_test(tc, all_trusted_gives_leftmost);
    tcase_add_test(tc, garbage_ends_the_walk);
    tcase_add_test(tc, embedded_nul_is_garbage);
    tcase_add_test(tc, several_headers_are_one_list);
    tcase_add_test(tc, ipv6);
    suite_add_tcase(s, tc);
    return s;
}
