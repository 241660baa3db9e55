/*
 * The usage range of GET /api/v1/statistics/usage (include/hl/stats.h, spec/API.md §8), a pure function: dates that are
 * real calendar dates (leap years, month ends, the format exactly), day numbers both ways, `days` read as JavaScript's
 * parseInt and clamped to 1..30, `to` capped at today, a span over 30 days cut, from after to.
 */
#include <check.h>
#include <string.h>

#include "hl/stats.h"

static int64_t day(const char *s)
{
    int64_t d = 0;
    ck_assert_msg(hl_stats_parse_date(s, &d), "%s is a date", s);
    return d;
}

static void range_is(const char *days, const char *from, const char *to, const char *today, const char *want_from,
                     const char *want_to, int want_days)
{
    hl_stats_range_t r;
    hl_stats_range(days, from, to, day(today), &r);
    char f[11], t[11];
    hl_stats_format_date(r.from_day, f);
    hl_stats_format_date(r.to_day, t);
    ck_assert_msg(strcmp(f, want_from) == 0 && strcmp(t, want_to) == 0 && r.days == want_days,
                  "days=%s from=%s to=%s today=%s: got %s..%s (%d), want %s..%s (%d)", days ? days : "-", from ? from : "-",
                  to ? to : "-", today, f, t, r.days, want_from, want_to, want_days);
}

START_TEST(dates)
{
    ck_assert_int_eq(day("1970-01-01"), 0);
    ck_assert_int_eq(day("1970-01-02"), 1);
    ck_assert_int_eq(day("1969-12-31"), -1);
    ck_assert_int_eq(day("2000-03-01") - day("2000-02-28"), 2); /* 2000 is a leap year (divisible by 400) */
    ck_assert_int_eq(day("1900-03-01") - day("1900-02-28"), 1); /* 1900 is not (divisible by 100) */
    ck_assert_int_eq(day("2024-03-01") - day("2024-02-28"), 2);
    ck_assert_int_eq(day("2025-01-01") - day("2024-01-01"), 366);
    ck_assert_int_eq(day("2026-01-01") - day("2025-12-31"), 1);
    static const char *const VALID[] = {"2024-02-29", "2000-02-29", "2026-01-31", "2026-04-30",
                                        "2026-12-31", "0000-01-01", "9999-12-31"};
    for (size_t i = 0; i < sizeof(VALID) / sizeof(VALID[0]); ++i) {
        char back[11];
        hl_stats_format_date(day(VALID[i]), back);
        ck_assert_str_eq(back, VALID[i]);
    }
    static const char *const INVALID[] = {"2023-02-29", "1900-02-29", "2026-02-30", "2026-04-31",  "2026-06-31",  "2026-09-31",
                                          "2026-11-31", "2026-13-01", "2026-00-10", "2026-01-00",  "2026-01-32",  "2026-1-01",
                                          "2026-01-1",  "26-01-01",   "2026/01/01", "2026-01-01T", " 2026-01-01", "2026-01-01 ",
                                          "+026-01-01", "2026-0a-01", "",           "today"};
    for (size_t i = 0; i < sizeof(INVALID) / sizeof(INVALID[0]); ++i) {
        int64_t d = 42;
        ck_assert_msg(!hl_stats_parse_date(INVALID[i], &d), "\"%s\" is not a date", INVALID[i]);
        ck_assert_int_eq(d, 42);
    }
    int64_t d;
    ck_assert(!hl_stats_parse_date(NULL, &d));
}
END_TEST

START_TEST(days_parameter)
{
    const char *T = "2026-05-08";
    range_is(NULL, NULL, NULL, T, "2026-04-09", "2026-05-08", 30); /* default 30 */
    range_is("7", NULL, NULL, T, "2026-05-02", "2026-05-08", 7);
    range_is("1", NULL, NULL, T, "2026-05-08", "2026-05-08", 1);
    range_is("0", NULL, NULL, T, "2026-05-08", "2026-05-08", 1);  /* clamped up */
    range_is("-5", NULL, NULL, T, "2026-05-08", "2026-05-08", 1); /* clamped up */
    range_is("99", NULL, NULL, T, "2026-04-09", "2026-05-08", 30);
    range_is("99999999999999999999", NULL, NULL, T, "2026-04-09", "2026-05-08", 30); /* saturated, then clamped */
    range_is("abc", NULL, NULL, T, "2026-04-09", "2026-05-08", 30);                  /* NaN → default */
    range_is("", NULL, NULL, T, "2026-04-09", "2026-05-08", 30);
    range_is("7days", NULL, NULL, T, "2026-05-02", "2026-05-08", 7); /* parseInt stops at the first non-digit */
    range_is(" 7", NULL, NULL, T, "2026-05-02", "2026-05-08", 7);
    range_is("+7", NULL, NULL, T, "2026-05-02", "2026-05-08", 7);
    range_is("7.9", NULL, NULL, T, "2026-05-02", "2026-05-08", 7);
    range_is("0x0a", NULL, NULL, T, "2026-04-29", "2026-05-08", 10); /* parseInt reads hex */
    range_is("-", NULL, NULL, T, "2026-04-09", "2026-05-08", 30);
}
END_TEST

START_TEST(from_and_to)
{
    const char *T = "2026-05-08";
    /* to: a real date, capped at today; otherwise today */
    range_is("3", NULL, "2026-05-01", T, "2026-04-29", "2026-05-01", 3);
    range_is("3", NULL, "2026-06-01", T, "2026-05-06", "2026-05-08", 3);
    range_is("3", NULL, "2026-02-30", T, "2026-05-06", "2026-05-08", 3);
    /* from: a real date; a span over 30 days starts at to − 29 */
    range_is(NULL, "2026-05-01", NULL, T, "2026-05-01", "2026-05-08", 8);
    range_is("2", "2026-05-01", "2026-05-05", T, "2026-05-01", "2026-05-05", 5); /* days does not matter then */
    range_is(NULL, "2026-01-01", NULL, T, "2026-04-09", "2026-05-08", 30);
    range_is(NULL, "2026-04-08", "2026-05-08", T, "2026-04-09", "2026-05-08", 30); /* 31 days → 30 */
    range_is(NULL, "2026-04-09", "2026-05-08", T, "2026-04-09", "2026-05-08", 30);
    range_is("5", "2026-04-31", NULL, T, "2026-05-04", "2026-05-08", 5); /* not a date: ignored */
    /* from after to: from = to */
    range_is(NULL, "2026-05-08", "2026-05-07", T, "2026-05-07", "2026-05-07", 1);
    range_is(NULL, "2026-06-01", NULL, T, "2026-05-08", "2026-05-08", 1); /* a future from */
    /* month ends, leap years, the year's turn */
    range_is(NULL, "2024-02-27", "2024-03-01", T, "2024-02-27", "2024-03-01", 4);
    range_is(NULL, "2023-02-27", "2023-03-01", T, "2023-02-27", "2023-03-01", 3);
    range_is("3", NULL, "2024-03-01", T, "2024-02-28", "2024-03-01", 3);
    range_is("30", NULL, NULL, "2026-01-10", "2025-12-12", "2026-01-10", 30);
    range_is("30", NULL, NULL, "2024-03-15", "2024-02-15", "2024-03-15", 30);
    range_is("30", NULL, NULL, "2023-03-15", "2023-02-14", "2023-03-15", 30);
}
END_TEST

Suite *suite_stats_range(void)
{
    Suite *s = suite_create("stats_range");
    TCase *tc = tcase_create("range");
    tcase_add_test(tc, dates);
    tcase_add_test(tc, days_parameter);
    tcase_add_test(tc, from_and_to);
    suite_add_tcase(s, tc);
    return s;
}
