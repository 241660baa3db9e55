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

char *hl_format_iso(int64_t ms, char *buf)
{
    time_t secs = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* years past 9999 cannot be written in this format: clamp rather than truncate */
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999;
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, millis);
    memcpy(buf, tmp, HL_ISO_TIME_LEN - 1);
    buf[HL_ISO_TIME_LEN - 1] = '\0';
    return buf;
}

int hl_parse_iso(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, millis = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -EINVAL;
    const char *p = s + n;
    if (*p == '.') {
        int digits = 0;
        ++p;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                millis = millis * 10 + (*p - '0');
            ++digits;
            ++p;
        }
        if (digits == 0)
            return -EINVAL;
        for (; digits < 3; ++digits)
            millis *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms = (int64_t)t * 1000 + millis;
    return 0;
}
