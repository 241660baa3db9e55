#include "hl/http_negotiate.h"

#include <string.h>
#include <strings.h>

/* The next comma-separated element of h[*i..hlen) with surrounding blanks trimmed: *start, returns its length. */
static size_t next_element(const char *h, size_t hlen, size_t *i, const char **start)
{
    while (*i < hlen && (h[*i] == ' ' || h[*i] == '\t' || h[*i] == ','))
        ++*i;
    size_t s = *i;
    while (*i < hlen && h[*i] != ',')
        ++*i;
    size_t e = *i;
    while (e > s && (h[e - 1] == ' ' || h[e - 1] == '\t'))
        --e;
    *start = h + s;
    return e - s;
}

bool hl_etag_matches(const char *h, size_t hlen, const char *etag)
{
    size_t elen = strlen(etag);
    size_t i = 0;
    while (i < hlen) {
        const char *tag;
        size_t tlen = next_element(h, hlen, &i, &tag);
        if (tlen == 1 && tag[0] == '*')
            return true;
        if (tlen > 2 && tag[0] == 'W' && tag[1] == '/') {
            tag += 2;
            tlen -= 2;
        }
        if (tlen == elen && memcmp(tag, etag, elen) == 0)
            return true;
    }
    return false;
}

/* The q-value of an Accept-Encoding element's parameters (p, plen bytes after the coding), in thousandths: 1000 when
 * absent, 0 for q=0 / q=0.0…, and 0 too for a malformed q (a value we cannot read admits nothing). */
static int qvalue(const char *p, size_t plen)
{
    size_t i = 0;
    while (i < plen) {
        while (i < plen && (p[i] == ';' || p[i] == ' ' || p[i] == '\t'))
            ++i;
        if (i + 1 < plen && (p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=') {
            i += 2;
            if (i >= plen || (p[i] != '0' && p[i] != '1'))
                return 0;
            int q = (p[i] - '0') * 1000;
            ++i;
            if (i < plen && p[i] == '.') {
                ++i;
                int scale = 100;
                for (int d = 0; d < 3 && i < plen && p[i] >= '0' && p[i] <= '9'; ++d, ++i, scale /= 10)
                    q += (p[i] - '0') * scale;
            }
            return q > 1000 ? 1000 : q;
        }
        while (i < plen && p[i] != ';')
            ++i;
    }
    return 1000;
}

bool hl_accepts_gzip(const char *h, size_t hlen)
{
    if (h == NULL)
        return false;
    int gzip_q = -1, star_q = -1;
    size_t i = 0;
    while (i < hlen) {
        const char *el;
        size_t len = next_element(h, hlen, &i, &el);
        size_t name_len = 0;
        while (name_len < len && el[name_len] != ';' && el[name_len] != ' ' && el[name_len] != '\t')
            ++name_len;
        int q = qvalue(el + name_len, len - name_len);
        if ((name_len == 4 && strncasecmp(el, "gzip", 4) == 0) || (name_len == 6 && strncasecmp(el, "x-gzip", 6) == 0))
            gzip_q = q > gzip_q ? q : gzip_q;
        else if (name_len == 1 && el[0] == '*')
            star_q = q;
    }
    if (gzip_q >= 0)
        return gzip_q > 0;
    return star_q > 0;
}
