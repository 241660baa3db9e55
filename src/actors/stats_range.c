/*
 * The date range of GET /api/v1/statistics/usage (spec/API.md §8): pure functions on UTC day numbers. Civil-date
 * conversions are Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, exact for every year here).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hl/stats.h"

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : DAYS[m - 1];
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool hl_stats_parse_date(const char *s, int64_t *day)
{
    unsigned y, m, d;
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return false;
    *day = days_from_civil(y, m, d);
    return true;
}

void hl_stats_format_date(int64_t day, char *buf)
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* outside what the API can name: clamped rather than printed wider */
    snprintf(buf, 11, "%04d-%02u-%02u", (int)y, m % 13, d % 32);
}

static int digit_value(char c, int base)
{
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 99;
    return v < base ? v : -1;
}

/* JavaScript's parseInt(s) without a radix, saturated to the int range: leading white space, a sign, "0x" for hex, then
 * as many digits as there are. False for NaN (no digit). */
static bool js_parse_int(const char *s, int *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
        ++s;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        ++s;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    long long v = 0;
    int n = 0;
    for (int dv; (dv = digit_value(*s, base)) >= 0; ++s, ++n)
        if (v < INT_MAX)
            v = v * base + dv;
    if (n == 0)
        return false;
    if (v > INT_MAX)
        v = INT_MAX;
    *out = neg ? -(int)v : (int)v;
    return true;
}

void hl_stats_range(const char *days_q, const char *from_q, const char *to_q, int64_t today, hl_stats_range_t *out)
{
    int days = HL_STATS_MAX_DAYS;
    if (days_q != NULL && !js_parse_int(days_q, &days))
        days = HL_STATS_MAX_DAYS;
    if (days < 1)
        days = 1;
    if (days > HL_STATS_MAX_DAYS)
        days = HL_STATS_MAX_DAYS;
    int64_t to, from;
    if (!hl_stats_parse_date(to_q, &to) || to > today)
        to = today;
    if (!hl_stats_parse_date(from_q, &from))
        from = to - (days - 1);
    if (to - from > HL_STATS_MAX_DAYS - 1)
        from = to - (HL_STATS_MAX_DAYS - 1);
    if (from > to)
        from = to;
    out->from_day = from;
    out->to_day = to;
    out->days = (int)(to - from + 1);
}
