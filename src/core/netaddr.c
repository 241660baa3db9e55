#include "hl/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void map_v4(const void *v4, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

static bool is_v4_mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

bool hl_addr_parse(const char *s, uint8_t addr16[16])
{
    struct in_addr a4;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        map_v4(&a4, addr16);
        return true;
    }
    return inet_pton(AF_INET6, s, addr16) == 1;
}

int hl_cidr_parse(const char *s, hl_cidr_t *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash != NULL) {
        *slash = '\0';
        if (slash[1] == '-' || hl_parse_long(slash + 1, 0, 128, &prefix) != 0) /* "/-0" is no prefix */
            return -EINVAL;
    }
    struct in_addr a4;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (prefix > 32)
            return -EINVAL;
        map_v4(&a4, out->addr);
        out->prefix = prefix < 0 ? 128 : 96 + (int)prefix;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->prefix = prefix < 0 ? 128 : (int)prefix;
    } else {
        return -EINVAL;
    }
    /* host bits set in the range are ignored, as routers do */
    for (int bit = out->prefix; bit < 128; ++bit)
        out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    return 0;
}

bool hl_cidr_contains(const hl_cidr_t *range, const uint8_t addr[16])
{
    int full = range->prefix / 8, rest = range->prefix % 8;
    if (memcmp(range->addr, addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (range->addr[full] & mask) == (addr[full] & mask);
}

bool hl_cidr_any_contains(const hl_cidr_t *ranges, size_t num_ranges, const uint8_t addr[16])
{
    for (size_t i = 0; i < num_ranges; ++i)
        if (hl_cidr_contains(&ranges[i], addr))
            return true;
    return false;
}

void hl_addr_text(const uint8_t addr[16], char out[HL_ADDR_TEXT_MAX])
{
    const char *s = is_v4_mapped(addr) ? inet_ntop(AF_INET, addr + 12, out, HL_ADDR_TEXT_MAX)
                                       : inet_ntop(AF_INET6, addr, out, HL_ADDR_TEXT_MAX);
    if (s == NULL)
        out[0] = '\0'; /* cannot happen with a 46-byte buffer */
}

bool hl_sockaddr_to_v6(const struct sockaddr *sa, uint8_t addr16[16])
{
    if (sa->sa_family == AF_INET) {
        map_v4(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr16);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(addr16, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

hl_addr_key_t hl_addr_key(const uint8_t addr16[16])
{
    hl_addr_key_t k;
    memcpy(k.b, addr16, 16);
    if (!is_v4_mapped(addr16))
        memset(k.b + 8, 0, 8); /* one IPv6 client owns its /64 */
    return k;
}

bool hl_addr_is_loopback(const uint8_t addr16[16])
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return memcmp(addr16, v6_loopback, 16) == 0 || (is_v4_mapped(addr16) && addr16[12] == 127);
}

bool hl_host_is_loopback(const char *host)
{
    uint8_t a[16];
    return host != NULL && hl_addr_parse(host, a) && hl_addr_is_loopback(a);
}
