/*
 * Reading logs back: HermesLink's JSON lines (link.log + rotations) and Hermes's gateway log.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/logread.h"
#include "unit_util.h"

/* Creates <dir>/logs and returns its path. */
static char *make_logs_dir(const char *dir)
{
    char *logs = ut_path(dir, "logs");
    ck_assert_int_eq(mkdir(logs, 0700), 0);
    return logs;
}

static void write_in(const char *dir, const char *name, const char *text)
{
    char *path = ut_path(dir, name);
    ut_write_str(path, text);
    free(path);
}

static void set_mtime(const char *dir, const char *name, time_t secs)
{
    char *path = ut_path(dir, name);
    struct timespec times[2] = {{.tv_sec = secs}, {.tv_sec = secs}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    free(path);
}

static const char *entry_str(json_t *arr, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

/* ---- link.log ---- */

#define LINK_LINE(n, level) "{\"ts\":\"2026-05-08T12:00:0" #n ".000Z\",\"level\":\"" level "\",\"message\":\"m" #n "\"}\n"

START_TEST(link_newest_first_across_rotations)
{
    char *home = ut_mkdtemp(), *logs = make_logs_dir(home);
    write_in(logs, "link.log.1",
             LINK_LINE(1, "info") "not json at all\n" LINK_LINE(
                 2, "debug") "[1,2,3]\n"
                             "\n" LINK_LINE(
                                 3, "warn") "{\"ts\":\"2026-05-08T12:00:03.500Z\",\"level\":\"verbose\","
                                            "\"message\":\"bad level\"}\n" LINK_LINE(
                                                4, "error") "{\"level\":\"info\",\"message\":\"no ts\"}\n" LINK_LINE(5, "info"));
    write_in(logs, "link.log",
             "{\"ts\":\"2026-05-08T12:00:06.000Z\",\"level\":\"info\",\"message\":\"m6\",\"fields\":{\"port\":18642,"
             "\"nested\":{\"a\":[1]}},\"extra\":true}\n"
             "{\"ts\":2,\"level\":\"info\",\"message\":\"numeric ts\"}\n"
             "{\"ts\":\"2026-05-08T12:00:06.500Z\",\"level\":\"info\",\"message\":5}\n"
             "{\"ts\":\"2026-05-08T12:00:07.000Z\",\"level\":\"warn\",\"message\":\"m7\",\"fields\":[1]}\n"
             "{\"ts\":\"2026-05-08T12:00:07.500Z\",\"level\":\"info\",\"mess\n"
             "{\"ts\":\"2026-05-08T12:00:08.000Z\",\"level\":\"error\",\"message\":\"m8\"}"); /* no final newline */

    json_t *all = hl_logs_read_link(home, 100);
    ck_assert_int_eq(json_array_size(all), 8);
    for (size_t i = 0; i < 8; ++i) {
        char want[8];
        snprintf(want, sizeof(want), "m%zu", i + 1);
        ck_assert_str_eq(entry_str(all, i, "message"), want);
        ck_assert_str_eq(entry_str(all, i, "timestampSource"), "structured");
    }
    ck_assert_str_eq(entry_str(all, 0, "ts"), "2026-05-08T12:00:01.000Z");
    ck_assert_str_eq(entry_str(all, 1, "level"), "debug");
    ck_assert_str_eq(entry_str(all, 3, "level"), "error");

    /* fields are kept as they were; other keys are not copied */
    json_t *m6 = json_array_get(all, 5);
    json_t *want_fields = json_loads("{\"port\":18642,\"nested\":{\"a\":[1]}}", 0, NULL);
    ck_assert(json_equal(json_object_get(m6, "fields"), want_fields));
    ck_assert_ptr_null(json_object_get(m6, "extra"));
    ck_assert_int_eq(json_object_size(m6), 5);
    json_decref(want_fields);
    /* non-object fields are dropped, the entry is kept */
    json_t *m7 = json_array_get(all, 6);
    ck_assert_ptr_null(json_object_get(m7, "fields"));
    ck_assert_int_eq(json_object_size(m7), 4);
    json_decref(all);

    /* the newest N, oldest first, crossing into link.log.1 */
    json_t *last4 = hl_logs_read_link(home, 4);
    ck_assert_int_eq(json_array_size(last4), 4);
    ck_assert_str_eq(entry_str(last4, 0, "message"), "m5");
    ck_assert_str_eq(entry_str(last4, 1, "message"), "m6");
    ck_assert_str_eq(entry_str(last4, 3, "message"), "m8");
    json_decref(last4);

    json_t *last1 = hl_logs_read_link(home, 1);
    ck_assert_int_eq(json_array_size(last1), 1);
    ck_assert_str_eq(entry_str(last1, 0, "message"), "m8");
    json_decref(last1);

    json_t *none = hl_logs_read_link(home, 0);
    ck_assert(json_is_array(none));
    ck_assert_int_eq(json_array_size(none), 0);
    json_decref(none);

    free(logs);
    ut_rm_rf(home);
}
END_TEST

START_TEST(link_missing_files)
{
    char *home = ut_mkdtemp();
    json_t *out = hl_logs_read_link(home, 50); /* no logs directory */
    ck_assert(json_is_array(out));
    ck_assert_int_eq(json_array_size(out), 0);
    json_decref(out);

    /* only older rotations present: still read */
    char *logs = make_logs_dir(home);
    write_in(logs, "link.log.2", LINK_LINE(1, "info"));
    write_in(logs, "link.log.1", LINK_LINE(2, "info"));
    out = hl_logs_read_link(home, 50);
    ck_assert_int_eq(json_array_size(out), 2);
    ck_assert_str_eq(entry_str(out, 0, "message"), "m1");
    ck_assert_str_eq(entry_str(out, 1, "message"), "m2");
    json_decref(out);

    /* a directory where the file should be is skipped */
    char *dir_in_the_way = ut_path(logs, "link.log");
    ck_assert_int_eq(mkdir(dir_in_the_way, 0700), 0);
    out = hl_logs_read_link(home, 50);
    ck_assert_int_eq(json_array_size(out), 2);
    json_decref(out);
    free(dir_in_the_way);
    free(logs);
    ut_rm_rf(home);
}
END_TEST

/* Writes `count` numbered JSON lines of about `width` bytes to path, numbers starting at `first`. */
static void write_numbered(const char *path, int first, int count, size_t width)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    char *pad = malloc(width + 1);
    memset(pad, 'x', width);
    pad[width] = '\0';
    for (int i = first; i < first + count; ++i)
        fprintf(f, "{\"ts\":\"2026-05-08T12:00:00.000Z\",\"level\":\"info\",\"message\":\"%d\",\"fields\":{\"pad\":\"%s\"}}\n", i,
                pad);
    fclose(f);
    free(pad);
}

START_TEST(link_large_file_tail)
{
    /* 1,000 lines of ~1 KiB: only the last HL_LOGREAD_TAIL_BYTES are read, and the cut first line is dropped */
    char *home = ut_mkdtemp(), *logs = make_logs_dir(home), *path = ut_path(logs, "link.log");
    write_numbered(path, 1, 1000, 1000);
    json_t *out = hl_logs_read_link(home, 100);
    ck_assert_int_eq(json_array_size(out), 100);
    for (size_t i = 0; i < 100; ++i)
        ck_assert_int_eq(atoi(entry_str(out, i, "message")), 901 + (int)i);
    json_decref(out);

    out = hl_logs_read_link(home, 100000);
    size_t n = json_array_size(out);
    ck_assert_int_gt(n, 400);
    ck_assert_int_le(n, HL_LOGREAD_TAIL_BYTES / 1000);
    for (size_t i = 0; i < n; ++i) /* every entry whole, newest last, no gap */
        ck_assert_int_eq(atoi(entry_str(out, i, "message")), 1000 - (int)n + 1 + (int)i);
    json_decref(out);
    free(path);
    free(logs);
    ut_rm_rf(home);
}
END_TEST

/* regression: read_rotated (src/core/logread.c) reads only the last HL_LOGREAD_TAIL_BYTES of link.log and then goes on
 * to link.log.1, so when link.log is larger than the tail the result is link.log.1's entries followed by link.log's tail,
 * with everything in between missing: not "the newest N". It should stop at a file whose tail was cut. */
START_TEST(link_no_gap_when_tail_is_cut)
{
    char *home = ut_mkdtemp(), *logs = make_logs_dir(home);
    char *older = ut_path(logs, "link.log.1"), *newest = ut_path(logs, "link.log");
    write_numbered(older, 1, 3, 10);
    write_numbered(newest, 4, 700, 1000); /* ~700 KiB > 512 KiB tail */
    json_t *out = hl_logs_read_link(home, 1000);
    size_t n = json_array_size(out);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(atoi(entry_str(out, n - 1, "message")), 703);
    for (size_t i = 1; i < n; ++i)
        ck_assert_msg(atoi(entry_str(out, i, "message")) == atoi(entry_str(out, i - 1, "message")) + 1,
                      "entries %s then %s: a gap in the newest entries", entry_str(out, i - 1, "message"),
                      entry_str(out, i, "message"));
    json_decref(out);
    free(older);
    free(newest);
    free(logs);
    ut_rm_rf(home);
}
END_TEST

/* ---- gateway lines ---- */

static json_t *gw(const char *line)
{
    return hl_logs_parse_gateway_line(line, strlen(line), 1778241600000LL);
}

static void expect_gw(const char *line, const char *ts, const char *level, const char *source, const char *message)
{
    json_t *e = gw(line);
    ck_assert_msg(e != NULL, "no entry for '%s'", line);
    ck_assert_str_eq(json_string_value(json_object_get(e, "ts")), ts);
    ck_assert_msg(strcmp(json_string_value(json_object_get(e, "level")), level) == 0, "'%s': level %s, expected %s", line,
                  json_string_value(json_object_get(e, "level")), level);
    ck_assert_str_eq(json_string_value(json_object_get(e, "timestampSource")), source);
    ck_assert_str_eq(json_string_value(json_object_get(e, "message")), message);
    ck_assert_int_eq(json_object_size(e), 4);
    json_decref(e);
}

static void expect_level(const char *line, const char *level)
{
    expect_gw(line, "2026-05-08T12:00:00.000Z", level, "file_mtime", line);
}

START_TEST(gateway_iso_utc_timestamps)
{
    expect_gw("2026-05-08T09:30:15.123Z ERROR upstream closed", "2026-05-08T09:30:15.123Z", "error", "embedded",
              "2026-05-08T09:30:15.123Z ERROR upstream closed");
    expect_gw("2026-05-08T09:30:15Z started", "2026-05-08T09:30:15.000Z", "info", "embedded", "2026-05-08T09:30:15Z started");
    /* anywhere in the line */
    expect_gw("gateway | 2026-01-02T03:04:05.6Z ready", "2026-01-02T03:04:05.600Z", "info", "embedded",
              "gateway | 2026-01-02T03:04:05.6Z ready");
    /* an offset form is not UTC: the file's mtime is used */
    expect_gw("2026-05-08T09:30:15+02:00 hello", "2026-05-08T12:00:00.000Z", "info", "file_mtime",
              "2026-05-08T09:30:15+02:00 hello");
}
END_TEST

START_TEST(gateway_local_timestamps)
{
    /* bracketed and python-logging forms are local time: UTC+8 here */
    setenv("TZ", "CST-8", 1);
    tzset();
    expect_gw("[2026-05-08 12:00:00] gateway started", "2026-05-08T04:00:00.000Z", "info", "embedded",
              "[2026-05-08 12:00:00] gateway started");
    expect_gw("2026-05-08 12:00:00,123 - gateway - WARNING - slow response", "2026-05-08T04:00:00.123Z", "warn", "embedded",
              "2026-05-08 12:00:00,123 - gateway - WARNING - slow response");
    expect_gw("2026-05-08 12:00:01.5 DEBUG poll", "2026-05-08T04:00:01.500Z", "debug", "embedded",
              "2026-05-08 12:00:01.5 DEBUG poll");
    expect_gw("2026-05-08 00:00:00,000 - x - ERROR - y", "2026-05-07T16:00:00.000Z", "error", "embedded",
              "2026-05-08 00:00:00,000 - x - ERROR - y");
    setenv("TZ", "UTC", 1);
    tzset();
    expect_gw("[2026-05-08 12:00:00] gateway started", "2026-05-08T12:00:00.000Z", "info", "embedded",
              "[2026-05-08 12:00:00] gateway started");
    unsetenv("TZ");
    tzset();
}
END_TEST

START_TEST(gateway_no_timestamp_uses_mtime)
{
    expect_gw("plain line", "2026-05-08T12:00:00.000Z", "info", "file_mtime", "plain line");
    json_t *e = hl_logs_parse_gateway_line("x", 1, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "ts")), "1970-01-01T00:00:00.000Z");
    json_decref(e);
    /* the length bounds the line: bytes past it are ignored */
    e = hl_logs_parse_gateway_line("abc ERROR", 3, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "message")), "abc");
    ck_assert_str_eq(json_string_value(json_object_get(e, "level")), "info");
    json_decref(e);
}
END_TEST

START_TEST(gateway_levels)
{
    expect_level("ERROR: connection refused", "error");
    expect_level("[error] boom", "error");
    expect_level("request failed with 502", "error");
    expect_level("Traceback (most recent call last):", "error");
    expect_level("FATAL out of memory", "error");
    expect_level("critical: disk full", "error");
    expect_level("Unhandled exception in task", "error");
    expect_level("error_code=5", "error"); /* '_' is not part of a word */
    expect_level("WARNING: slow", "warn");
    expect_level("warn: retrying", "warn");
    expect_level("DEBUG poll tick", "debug");
    expect_level("trace: enter", "debug");
    expect_level("gateway listening on 8642", "info");
    /* error words win over warn words */
    expect_level("warning: request failed", "error");
    /* whole words only: "errors", "warnings", "debugger" and "failedness" are not the keywords */
    expect_level("3 errors found", "info");
    expect_level("Errors: 0", "info");
    expect_level("0 warnings", "info");
    expect_level("attach a debugger", "info");
    expect_level("terror", "info");
}
END_TEST

START_TEST(gateway_blank_and_trimmed)
{
    ck_assert_ptr_null(gw(""));
    ck_assert_ptr_null(gw("   "));
    ck_assert_ptr_null(gw(" \t\r\n"));
    expect_gw("  padded line \r", "2026-05-08T12:00:00.000Z", "info", "file_mtime", "padded line");
}
END_TEST

/* ---- gateway.log files ---- */

START_TEST(gateway_file_rotation_and_mtime)
{
    char *hermes = ut_mkdtemp(), *logs = make_logs_dir(hermes);
    write_in(logs, "gateway.log.1", "old one\n\n2026-05-08T10:00:00Z old two\n");
    write_in(logs, "gateway.log", "new one\n   \nnew two ERROR\n[2026-05-08 11:00:00] new three\n");
    set_mtime(logs, "gateway.log.1", 1778230000); /* 2026-05-08T08:46:40Z */
    set_mtime(logs, "gateway.log", 1778241600);   /* 2026-05-08T12:00:00Z */
    setenv("TZ", "UTC", 1);
    tzset();

    json_t *out = hl_logs_read_gateway(hermes, 100);
    ck_assert_int_eq(json_array_size(out), 5);
    ck_assert_str_eq(entry_str(out, 0, "message"), "old one");
    ck_assert_str_eq(entry_str(out, 0, "ts"), "2026-05-08T08:46:40.000Z");
    ck_assert_str_eq(entry_str(out, 0, "timestampSource"), "file_mtime");
    ck_assert_str_eq(entry_str(out, 1, "message"), "2026-05-08T10:00:00Z old two");
    ck_assert_str_eq(entry_str(out, 1, "ts"), "2026-05-08T10:00:00.000Z");
    ck_assert_str_eq(entry_str(out, 1, "timestampSource"), "embedded");
    ck_assert_str_eq(entry_str(out, 2, "message"), "new one");
    ck_assert_str_eq(entry_str(out, 2, "ts"), "2026-05-08T12:00:00.000Z");
    ck_assert_str_eq(entry_str(out, 3, "level"), "error");
    ck_assert_str_eq(entry_str(out, 4, "ts"), "2026-05-08T11:00:00.000Z");
    json_decref(out);

    out = hl_logs_read_gateway(hermes, 2);
    ck_assert_int_eq(json_array_size(out), 2);
    ck_assert_str_eq(entry_str(out, 0, "message"), "new two ERROR");
    ck_assert_str_eq(entry_str(out, 1, "message"), "[2026-05-08 11:00:00] new three");
    json_decref(out);

    out = hl_logs_read_gateway(logs, 10); /* no logs/ under this one */
    ck_assert_int_eq(json_array_size(out), 0);
    json_decref(out);
    free(logs);
    ut_rm_rf(hermes);
}
END_TEST

static int valid_json_string_entry(json_t *e)
{
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (msg == NULL)
        return 0;
    /* jansson refuses invalid UTF-8 when building strings: the message must survive a dump/load round trip */
    char *text = json_dumps(e, 0);
    json_t *back = text != NULL ? json_loads(text, 0, NULL) : NULL;
    int ok = back != NULL && json_equal(back, e);
    json_decref(back);
    free(text);
    return ok;
}

START_TEST(gateway_invalid_utf8_replaced)
{
    char *hermes = ut_mkdtemp(), *logs = make_logs_dir(hermes), *path = ut_path(logs, "gateway.log");
    static const char text[] = "caf\xc3\xa9 ok\n"
                               "bad \xff\xfe bytes\n"
                               "lone \x80 continuation\n"
                               "nul \0 inside\n"
                               "cut \xe2\x82";
    ut_write(path, text, sizeof(text) - 1);
    json_t *out = hl_logs_read_gateway(hermes, 100);
    ck_assert_int_eq(json_array_size(out), 5);
    for (size_t i = 0; i < 5; ++i)
        ck_assert_msg(valid_json_string_entry(json_array_get(out, i)), "entry %zu is not a valid JSON string", i);
    ck_assert_str_eq(entry_str(out, 0, "message"), "caf\xc3\xa9 ok");
    ck_assert_str_eq(entry_str(out, 1, "message"), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
    ck_assert_str_eq(entry_str(out, 2, "message"), "lone \xef\xbf\xbd continuation");
    ck_assert_str_eq(entry_str(out, 3, "message"), "nul \xef\xbf\xbd inside");
    ck_assert_ptr_nonnull(strstr(entry_str(out, 4, "message"), "cut \xef\xbf\xbd"));
    json_decref(out);
    free(path);
    free(logs);
    ut_rm_rf(hermes);
}
END_TEST

/* regression: parse_gateway (src/core/logread.c) only checks UTF-8 lead/continuation bit patterns, so overlong forms
 * (C0 AF), UTF-16 surrogates (ED A0 80) and code points past U+10FFFF (F4 90 80 80) pass its cleaner, then json_stringn
 * rejects them and hl_logs_parse_gateway_line returns NULL: the whole line disappears from the log instead of being
 * shown with U+FFFD replacements. */
START_TEST(gateway_invalid_utf8_sequences_not_dropped)
{
    char *hermes = ut_mkdtemp(), *logs = make_logs_dir(hermes), *path = ut_path(logs, "gateway.log");
    ut_write_str(path, "first\n"
                       "overlong \xc0\xaf slash\n"
                       "surrogate \xed\xa0\x80 half\n"
                       "too big \xf4\x90\x80\x80 cp\n"
                       "last\n");
    json_t *out = hl_logs_read_gateway(hermes, 100);
    ck_assert_int_eq(json_array_size(out), 5);
    for (size_t i = 0; i < json_array_size(out); ++i) {
        ck_assert(valid_json_string_entry(json_array_get(out, i)));
        if (i > 0 && i < 4)
            ck_assert_ptr_nonnull(strstr(entry_str(out, i, "message"), "\xef\xbf\xbd"));
    }
    json_decref(out);
    free(path);
    free(logs);
    ut_rm_rf(hermes);
}
END_TEST

/* ---- the limit query of the system routes (JavaScript Number()) ---- */

START_TEST(limit_number_default)
{
    ck_assert_uint_eq(hl_logs_limit_number(NULL), 200);
    ck_assert_uint_eq(hl_logs_limit_number(""), 200);
    ck_assert_uint_eq(hl_logs_limit_number("   "), 200);
    ck_assert_uint_eq(hl_logs_limit_number("0"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("-0"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("0.0"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("abc"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("12abc"), 200); /* parseInt would say 12; Number() says NaN */
    ck_assert_uint_eq(hl_logs_limit_number("1 2"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("."), 200);
    ck_assert_uint_eq(hl_logs_limit_number("1e"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("-0x10"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("0x"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("0b2"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("NaN"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("infinity"), 200); /* only "Infinity" is a number */
}
END_TEST

START_TEST(limit_number_values)
{
    ck_assert_uint_eq(hl_logs_limit_number("7"), 7);
    ck_assert_uint_eq(hl_logs_limit_number(" 7\t\n"), 7);
    ck_assert_uint_eq(hl_logs_limit_number("+7"), 7);
    ck_assert_uint_eq(hl_logs_limit_number("7.9"), 7);
    ck_assert_uint_eq(hl_logs_limit_number(".5"), 1);
    ck_assert_uint_eq(hl_logs_limit_number("5."), 5);
    ck_assert_uint_eq(hl_logs_limit_number("1e1"), 10);
    ck_assert_uint_eq(hl_logs_limit_number("2E+2"), 200);
    ck_assert_uint_eq(hl_logs_limit_number("0x10"), 16);
    ck_assert_uint_eq(hl_logs_limit_number("0o17"), 15);
    ck_assert_uint_eq(hl_logs_limit_number("0B101"), 5);
    ck_assert_uint_eq(hl_logs_limit_number("-3"), 1);
    ck_assert_uint_eq(hl_logs_limit_number("0.5"), 1);
    ck_assert_uint_eq(hl_logs_limit_number("-Infinity"), 1);
    ck_assert_uint_eq(hl_logs_limit_number("1000"), 1000);
    ck_assert_uint_eq(hl_logs_limit_number("1001"), 1000);
    ck_assert_uint_eq(hl_logs_limit_number("1e400"), 1000);
    ck_assert_uint_eq(hl_logs_limit_number("Infinity"), 1000);
    ck_assert_uint_eq(hl_logs_limit_number("0xffffffffffffffffffffffff"), 1000);
    ck_assert_uint_eq(hl_logs_limit_number("00000000000000000000000000000000000000000000000000000000000000000000000012"), 12);
}
END_TEST

/* ---- one line, as `logs -f` parses it ---- */

START_TEST(parse_line_both_sources)
{
    static const char link[] = "{\"ts\":\"2026-05-08T12:00:00.000Z\",\"level\":\"warn\",\"message\":\"m\",\"fields\":{\"k\":1}}";
    json_t *e = hl_logs_parse_line(false, link, sizeof(link) - 1, 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(e, "timestampSource")), "structured");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "fields"), "k")), 1);
    json_decref(e);
    ck_assert_ptr_null(hl_logs_parse_line(false, "plain text", 10, 0));
    static const char loud[] = "{\"ts\":\"x\",\"level\":\"loud\",\"message\":\"m\"}";
    ck_assert_ptr_null(hl_logs_parse_line(false, loud, sizeof(loud) - 1, 0));

    static const char gw[] = "2026-05-08T12:00:01Z Traceback (most recent call last): \xff";
    e = hl_logs_parse_line(true, gw, sizeof(gw) - 1, 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "level")), "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "ts")), "2026-05-08T12:00:01.000Z");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "message")), "\xef\xbf\xbd"));
    json_decref(e);
    e = hl_logs_parse_line(true, "started", 7, 1778241600000LL);
    ck_assert_str_eq(json_string_value(json_object_get(e, "ts")), "2026-05-08T12:00:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(e, "timestampSource")), "file_mtime");
    ck_assert_str_eq(json_string_value(json_object_get(e, "level")), "info");
    json_decref(e);
    ck_assert_ptr_null(hl_logs_parse_line(true, "  \t ", 4, 0));
}
END_TEST

START_TEST(log_paths)
{
    char *p = hl_logs_path("/h", false);
    ck_assert_str_eq(p, "/h/logs/link.log");
    free(p);
    p = hl_logs_path("/hh", true);
    ck_assert_str_eq(p, "/hh/logs/gateway.log");
    free(p);
}
END_TEST

Suite *suite_logread(void)
{
    Suite *s = suite_create("logread");
    TCase *link = tcase_create("link");
    tcase_add_test(link, link_newest_first_across_rotations);
    tcase_add_test(link, link_missing_files);
    tcase_add_test(link, link_large_file_tail);
    tcase_add_test(link, link_no_gap_when_tail_is_cut);
    suite_add_tcase(s, link);

    TCase *line = tcase_create("gateway_line");
    tcase_add_test(line, gateway_iso_utc_timestamps);
    tcase_add_test(line, gateway_local_timestamps);
    tcase_add_test(line, gateway_no_timestamp_uses_mtime);
    tcase_add_test(line, gateway_levels);
    tcase_add_test(line, gateway_blank_and_trimmed);
    suite_add_tcase(s, line);

    TCase *file = tcase_create("gateway_file");
    tcase_add_test(file, gateway_file_rotation_and_mtime);
    tcase_add_test(file, gateway_invalid_utf8_replaced);
    tcase_add_test(file, gateway_invalid_utf8_sequences_not_dropped);
    suite_add_tcase(s, file);

    TCase *limit = tcase_create("limit");
    tcase_add_test(limit, limit_number_default);
    tcase_add_test(limit, limit_number_values);
    tcase_add_test(limit, parse_line_both_sources);
    tcase_add_test(limit, log_paths);
    suite_add_tcase(s, limit);
    return s;
}
