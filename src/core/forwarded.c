#include "hl/forwarded.h"

#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses one list entry (spaces around it allowed): a plain address, nothing else. */
static bool parse_entry(const char *s, size_t len, uint8_t addr[16])
{
    while (len > 0 && is_ows(s[0]))
        ++s, --len;
    while (len > 0 && is_ows(s[len - 1]))
        --len;
    char buf[HL_ADDR_TEXT_MAX];
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return hl_addr_parse(buf, addr); /* inet_pton: no ports, brackets, zones or names */
}

bool hl_xff_client(const uint8_t peer[16], const hl_xff_value_t *values, size_t num_values, const hl_cidr_t *ranges,
                   size_t num_ranges, char out[HL_ADDR_TEXT_MAX])
{
    if (num_values == 0 || !hl_cidr_any_contains(ranges, num_ranges, peer))
        return false;
    uint8_t addr[16], good[16];
    bool have_good = false;
    /* right to left over the values, and over each value's comma-separated entries */
    for (size_t v = num_values; v-- > 0;) {
        const char *base = values[v].base != NULL ? values[v].base : "";
        size_t end = values[v].base != NULL ? values[v].len : 0;
        for (;;) {
            size_t start = end;
            while (start > 0 && base[start - 1] != ',')
                --start;
            if (!parse_entry(base + start, end - start, addr))
                goto Done; /* garbage is never trusted, nor anything left of it */
            memcpy(good, addr, 16);
            have_good = true;
            if (!hl_cidr_any_contains(ranges, num_ranges, addr))
                goto Done; /* the first untrusted address from the right is the client */
            if (start == 0)
                break;
            end = start - 1;
        }
    }
Done:
    if (!have_good)
        return false;
    hl_addr_text(good, out);
    return true;
}
