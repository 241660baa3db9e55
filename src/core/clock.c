#include "hl/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_llong clock_offset_ms;

int64_t hl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load_explicit(&clock_offset_ms, memory_order_relaxed);
}

uint64_t hl_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void hl_clock_advance(int64_t delta_ms)
{
    atomic_fetch_add(&clock_offset_ms, delta_ms);
}

/* the range the fixed-width format can express */
#define MIN_ISO_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define MAX_ISO_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

char *hl_format_iso(int64_t ms, char *buf)
{
    if (ms < MIN_ISO_MS)
        ms = MIN_ISO_MS;
    if (ms > MAX_ISO_MS)
        ms = MAX_ISO_MS;
    int64_t secs = ms / 1000;
    int millis = (int)(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, millis);
    memcpy(buf, tmp, HL_ISO_TIME_LEN - 1);
    buf[HL_ISO_TIME_LEN - 1] = '\0';
    return buf;
}

/* Reads exactly n ASCII digits. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int hl_parse_iso(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, millis = 0;
    if (s == NULL || strlen(s) < 20 || digits(s, 4, &y) != 0 || s[4] != '-' || digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
        digits(s + 8, 2, &d) != 0 || s[10] != 'T' || digits(s + 11, 2, &h) != 0 || s[13] != ':' || digits(s + 14, 2, &mi) != 0 ||
        s[16] != ':' || digits(s + 17, 2, &sec) != 0)
        return -EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        ++p;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                millis = millis * 10 + (*p - '0');
            ++n;
            ++p;
        }
        if (n == 0)
            return -EINVAL;
        for (; n < 3; ++n)
            millis *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *ms = (int64_t)timegm(&tm) * 1000 + millis;
    return 0;
}
