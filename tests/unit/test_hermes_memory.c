/*
 * Hermes's memory files (include/hl/hermes_memory.h): parsing and serialising exactly as Hermes's memory tool does,
 * its add / replace / remove rules and limits, stable ids, the limits in config.yaml, and the files themselves on
 * temporary Hermes homes — Hermes's flock on MEMORY.md.lock taken by another process (a forked child), links out of
 * the profile, modes kept, nothing created for a missing profile.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/hermes_memory.h"
#include "unit_util.h"

#define SECT "\xc2\xa7"
#define D "\n" SECT "\n"

static void parse(hl_memory_entries_t *e, const char *text)
{
    hl_memory_parse(e, text, strlen(text));
}

static void check_entries(const hl_memory_entries_t *e, size_t n, const char *const *want)
{
    ck_assert_uint_eq(e->count, n);
    for (size_t i = 0; i < n; ++i)
        ck_assert_str_eq(e->items[i], want[i]);
}

/* ---- parse and serialise ---- */

START_TEST(parse_splits_strips_and_drops_empty)
{
    hl_memory_entries_t e;
    parse(&e, "first" D "second");
    check_entries(&e, 2, (const char *[]){"first", "second"});
    hl_memory_entries_dispose(&e);

    /* blanks around entries, empty entries, a leading and a trailing delimiter */
    parse(&e, D "  one \t" D D "   " D "\ntwo\n" D);
    check_entries(&e, 2, (const char *[]){"one", "two"});
    hl_memory_entries_dispose(&e);

    /* multi-line entries; a section sign not between newlines is text */
    parse(&e, "line 1\nline 2\n\nline 4" D "x " SECT " y" D SECT "\nz");
    check_entries(&e, 3, (const char *[]){"line 1\nline 2\n\nline 4", "x " SECT " y", SECT "\nz"});
    hl_memory_entries_dispose(&e);

    /* Python's strip() also drops Unicode blanks: U+00A0, U+3000, U+2009, U+0085 */
    parse(&e, "\xc2\xa0"
              "a\xe3\x80\x80" D "\xe2\x80\x89"
              "b\xc2\x85");
    check_entries(&e, 2, (const char *[]){"a", "b"});
    hl_memory_entries_dispose(&e);

    /* blank or empty text: no entries */
    parse(&e, "");
    ck_assert_uint_eq(e.count, 0);
    hl_memory_entries_dispose(&e);
    parse(&e, " \n\t\r\n ");
    ck_assert_uint_eq(e.count, 0);
    hl_memory_entries_dispose(&e);
    parse(&e, D D);
    ck_assert_uint_eq(e.count, 0);
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(serialize_round_trip_is_byte_exact)
{
    /* what Hermes writes: ENTRY_DELIMITER.join(entries), no trailing newline */
    static const char *const hermes_files[] = {
        "",
        "only one",
        "User prefers metric units." D "Project uses tabs.\nAnd CRLF? No." D "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad",
    };
    for (size_t i = 0; i < HL_ARRAY_SIZE(hermes_files); ++i) {
        hl_memory_entries_t e;
        parse(&e, hermes_files[i]);
        size_t len;
        char *out = hl_memory_serialize(&e, &len);
        ck_assert_uint_eq(len, strlen(hermes_files[i]));
        ck_assert_mem_eq(out, hermes_files[i], len);
        free(out);
        hl_memory_entries_dispose(&e);
    }
    /* a hand-edited file comes back in Hermes's form (what Python's join of the parsed entries gives) */
    hl_memory_entries_t e;
    parse(&e, "\n a \n" SECT "\n\n b\n\n");
    char *out = hl_memory_serialize(&e, NULL);
    ck_assert_str_eq(out, "a" D "b");
    free(out);
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(chars_count_code_points)
{
    hl_memory_entries_t e;
    parse(&e, "abc");
    ck_assert_uint_eq(hl_memory_chars(&e), 3);
    hl_memory_entries_dispose(&e);
    /* é (2 bytes), 😀 (4 bytes, one code point as in Python), the delimiter is 3 */
    parse(&e, "caf\xc3\xa9" D "\xf0\x9f\x98\x80");
    ck_assert_uint_eq(hl_memory_chars(&e), 4 + 3 + 1);
    hl_memory_entries_dispose(&e);
    parse(&e, "");
    ck_assert_uint_eq(hl_memory_chars(&e), 0);
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(text_valid_refuses_bad_utf8_and_nul)
{
    ck_assert(hl_memory_text_valid("ok " SECT, 5));
    ck_assert(!hl_memory_text_valid("a\0b", 3));
    ck_assert(!hl_memory_text_valid("\xff", 1));
    ck_assert(!hl_memory_text_valid("\xc3", 1));             /* cut sequence */
    ck_assert(!hl_memory_text_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!hl_memory_text_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!hl_memory_text_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
}
END_TEST

/* ---- add / replace / remove ---- */

static hl_memory_status_t op(hl_memory_entries_t *e, hl_memory_op_kind_t kind, const char *match, const char *content, size_t limit)
{
    hl_memory_op_t o = {.kind = kind, .match = match, .content = content};
    return hl_memory_apply(e, &o, limit);
}

START_TEST(add_strips_and_duplicate_is_a_noop)
{
    hl_memory_entries_t e = {0};
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "  likes tea \n", 100), HL_MEMORY_OK);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "likes tea", 100), HL_MEMORY_UNCHANGED);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "\tlikes tea ", 100), HL_MEMORY_UNCHANGED);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "   ", 100), HL_MEMORY_CONTENT_EMPTY);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, NULL, 100), HL_MEMORY_CONTENT_EMPTY);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "bad \xff", 100), HL_MEMORY_CONTENT_INVALID);
    check_entries(&e, 1, (const char *[]){"likes tea"});
    ck_assert_str_eq(hl_memory_status_code(HL_MEMORY_UNCHANGED), "unchanged");
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(limits_apply_to_the_joined_text)
{
    hl_memory_entries_t e = {0};
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "12345", 10), HL_MEMORY_OK);
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "123", 10), HL_MEMORY_LIMIT_EXCEEDED); /* 5 + 3 + 3 = 11 */
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "12", 10), HL_MEMORY_OK);              /* 5 + 3 + 2 = 10: at the limit */
    ck_assert_uint_eq(hl_memory_chars(&e), 10);
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, "12345", "123456", 10), HL_MEMORY_LIMIT_EXCEEDED);
    check_entries(&e, 2, (const char *[]){"12345", "12"});
    ck_assert_str_eq(hl_memory_status_code(HL_MEMORY_LIMIT_EXCEEDED), "memory_limit_exceeded");
    /* multi-byte text counts in code points: 4 × é is 4, not 8 */
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, "12345", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10), HL_MEMORY_OK);
    ck_assert_uint_eq(hl_memory_chars(&e), 9);
    /* a file already over the limit can still shrink */
    ck_assert_int_eq(op(&e, HL_MEMORY_ADD, NULL, "x", 10), HL_MEMORY_LIMIT_EXCEEDED);
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, "12", NULL, 1), HL_MEMORY_OK);
    ck_assert_int_eq(op(&e, HL_MEMORY_CLEAR, NULL, NULL, 1), HL_MEMORY_OK);
    ck_assert_uint_eq(e.count, 0);
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(replace_and_remove_by_substring)
{
    hl_memory_entries_t e;
    parse(&e, "apple pie" D "apple tart" D "pear");
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, "  ", NULL, 100), HL_MEMORY_MATCH_EMPTY);
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, NULL, NULL, 100), HL_MEMORY_MATCH_EMPTY);
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, "plum", NULL, 100), HL_MEMORY_NOT_FOUND);
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, "apple", NULL, 100), HL_MEMORY_AMBIGUOUS);
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, "pear", "  ", 100), HL_MEMORY_CONTENT_EMPTY);
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, " pie ", "apple crumble", 100), HL_MEMORY_OK);
    check_entries(&e, 3, (const char *[]){"apple crumble", "apple tart", "pear"});
    ck_assert_int_eq(op(&e, HL_MEMORY_REMOVE, "tart", NULL, 100), HL_MEMORY_OK);
    check_entries(&e, 2, (const char *[]){"apple crumble", "pear"});
    /* a replacement equal to another entry leaves one copy (the first) */
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, "pear", "apple crumble", 100), HL_MEMORY_OK);
    check_entries(&e, 1, (const char *[]){"apple crumble"});
    hl_memory_entries_dispose(&e);

    /* identical duplicates (a hand-edited file) are one entry: not ambiguous, and the change de-duplicates */
    parse(&e, "dup" D "other" D "dup");
    ck_assert_int_eq(op(&e, HL_MEMORY_REPLACE, "du", "single", 100), HL_MEMORY_OK);
    check_entries(&e, 2, (const char *[]){"single", "other"});
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(dedupe_keeps_first_occurrences)
{
    hl_memory_entries_t e;
    parse(&e, "a" D "b" D "a" D "c" D "b" D "a");
    hl_memory_dedupe(&e);
    check_entries(&e, 3, (const char *[]){"a", "b", "c"});
    hl_memory_entries_dispose(&e);
}
END_TEST

/* ---- ids and JSON ---- */

static const char *id_of(json_t *arr, const char *content)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "content")), content) == 0)
            return json_string_value(json_object_get(v, "id"));
    }
    return NULL;
}

/* STORAGE §3.4: "<target>_<index>_<hash>", the hash over UTF-16 code units (values from Java's String.hashCode) */
START_TEST(ids_follow_the_spec)
{
    hl_memory_entries_t a;
    parse(&a, "alpha" D "beta" D "gamma" D "a\xF0\x9F\x98\x80" D "\xC3\xA9 ok");
    json_t *ja = hl_memory_entries_json(&a, HL_MEMORY_TARGET_MEMORY);
    ck_assert_str_eq(id_of(ja, "alpha"), "memory_0_589b15e");
    ck_assert_str_eq(id_of(ja, "beta"), "memory_1_2e15f0");
    ck_assert_str_eq(id_of(ja, "gamma"), "memory_2_5d933a7");
    ck_assert_str_eq(id_of(ja, "a\xF0\x9F\x98\x80"), "memory_3_1c7984"); /* a surrogate pair */
    ck_assert_str_eq(id_of(ja, "\xC3\xA9 ok"), "memory_4_6a7073");
    /* the same file reads to the same ids */
    json_t *again = hl_memory_entries_json(&a, HL_MEMORY_TARGET_MEMORY);
    ck_assert(json_equal(ja, again));
    json_decref(again);
    char *uid = hl_memory_entry_id(HL_MEMORY_TARGET_USER, 0, "alpha");
    ck_assert_str_eq(uid, "user_0_589b15e");
    free(uid);
    /* the array's objects are exactly {id, content} */
    ck_assert_uint_eq(json_object_size(json_array_get(ja, 0)), 2);
    json_decref(ja);
    hl_memory_entries_dispose(&a);
}
END_TEST

START_TEST(duplicate_entries_get_distinct_ids)
{
    hl_memory_entries_t e;
    parse(&e, "same" D "other" D "same");
    json_t *arr = hl_memory_entries_json(&e, HL_MEMORY_TARGET_MEMORY);
    ck_assert_uint_eq(json_array_size(arr), 3);
    const char *first = json_string_value(json_object_get(json_array_get(arr, 0), "id"));
    const char *third = json_string_value(json_object_get(json_array_get(arr, 2), "id"));
    ck_assert_str_ne(first, third);
    ck_assert(strncmp(third, "memory_2_", 9) == 0);
    json_decref(arr);
    hl_memory_entries_dispose(&e);
}
END_TEST

START_TEST(usage_json)
{
    json_t *u = hl_memory_usage_json(1100, 2200);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "chars")), 1100);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "limit")), 2200);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "percent")), 50);
    json_decref(u);
    u = hl_memory_usage_json(1374, 1375); /* floor */
    ck_assert_int_eq(json_integer_value(json_object_get(u, "percent")), 99);
    json_decref(u);
    u = hl_memory_usage_json(3000, 2200); /* capped */
    ck_assert_int_eq(json_integer_value(json_object_get(u, "percent")), 100);
    json_decref(u);
}
END_TEST

START_TEST(targets)
{
    hl_memory_target_t t;
    ck_assert_int_eq(hl_memory_target_parse("user", &t), 0);
    ck_assert_int_eq(t, HL_MEMORY_TARGET_USER);
    ck_assert_int_eq(hl_memory_target_parse("memory", &t), 0);
    ck_assert_int_eq(t, HL_MEMORY_TARGET_MEMORY);
    ck_assert_int_eq(hl_memory_target_parse("all", &t), -EINVAL);
    ck_assert_int_eq(hl_memory_target_parse(NULL, &t), -EINVAL);
    ck_assert_str_eq(hl_memory_file_name(HL_MEMORY_TARGET_USER), "USER.md");
    ck_assert_str_eq(hl_memory_file_name(HL_MEMORY_TARGET_MEMORY), "MEMORY.md");
}
END_TEST

/* ---- limits from config.yaml ---- */

static void limits(const char *yaml, int want_ret, size_t mem, size_t user, const char *want_warning)
{
    hl_memory_limits_t l;
    char *warning = NULL;
    ck_assert_int_eq(hl_memory_limits_parse(&l, yaml, strlen(yaml), &warning), want_ret);
    ck_assert_uint_eq(l.memory, mem);
    ck_assert_uint_eq(l.user, user);
    if (want_warning == NULL)
        ck_assert_msg(warning == NULL, "unexpected warning %s", warning);
    else
        ck_assert_msg(warning != NULL && strstr(warning, want_warning) != NULL, "warning %s", warning);
    free(warning);
}

START_TEST(limits_from_config_yaml)
{
    limits("", 0, 2200, 1375, NULL);
    limits("model: x\n", 0, 2200, 1375, NULL);
    limits("memory:\n  memory_char_limit: 3000\n  user_char_limit: \"1_500\"\n", 0, 3000, 1500, NULL);
    limits("# comment\nmemory: {user_char_limit: 900}\n", 0, 2200, 900, NULL);
    limits("memory:\n  memory_char_limit: -5\n  user_char_limit: abc\n", 0, 2200, 1375, "memory_char_limit");
    limits("memory:\n  memory_char_limit: 0\n", 0, 2200, 1375, "not a positive integer");
    limits("memory:\n  memory_char_limit: [1]\n", 0, 2200, 1375, "memory_char_limit");
    limits("memory: 5\n", 0, 2200, 1375, "not a mapping");
    limits("memory:\n  memory_char_limit: ~\n", 0, 2200, 1375, NULL);
    limits("memory: [unclosed\n", -EINVAL, 2200, 1375, "malformed YAML");
    hl_memory_limits_t l = {.memory = 7, .user = 9};
    ck_assert_uint_eq(hl_memory_limit_of(&l, HL_MEMORY_TARGET_MEMORY), 7);
    ck_assert_uint_eq(hl_memory_limit_of(&l, HL_MEMORY_TARGET_USER), 9);
}
END_TEST

/* ---- the files ---- */

/* A temporary dir holding home/ (the Hermes home, with profiles/work) and outside/. */
typedef struct st_fixture_t {
    char *tmp, *home, *outside, *memdir, *work_memdir;
} fixture_t;

static void fixture(fixture_t *f)
{
    f->tmp = ut_mkdtemp();
    f->home = ut_path(f->tmp, "home");
    f->outside = ut_path(f->tmp, "outside");
    f->memdir = ut_path(f->home, "memories");
    f->work_memdir = ut_path(f->home, "profiles/work/memories");
    ck_assert_int_eq(hl_mkdir_p(f->memdir, 0700), 0);
    ck_assert_int_eq(hl_mkdir_p(f->work_memdir, 0700), 0);
    ck_assert_int_eq(hl_mkdir_p(f->outside, 0700), 0);
}

static void fixture_done(fixture_t *f)
{
    free(f->home);
    free(f->outside);
    free(f->memdir);
    free(f->work_memdir);
    ut_rm_rf(f->tmp);
}

static char *file_in(const char *dir, const char *name)
{
    return ut_path(dir, name);
}

static void write_in(const char *dir, const char *name, const char *text)
{
    char *p = file_in(dir, name);
    ut_write_str(p, text);
    free(p);
}

static char *read_in(const char *dir, const char *name)
{
    char *p = file_in(dir, name), *text = ut_read(p);
    free(p);
    return text;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char *p = file_in(dir, name);
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    free(p);
    return st.st_mode;
}

static hl_memory_status_t update(const fixture_t *f, const char *profile, hl_memory_target_t t, hl_memory_op_kind_t kind,
                                 const char *match, const char *content, size_t limit)
{
    hl_memory_op_t o = {.kind = kind, .match = match, .content = content};
    hl_memory_file_t out;
    int err = 0;
    hl_memory_status_t st = hl_memory_update(f->home, profile, t, limit, &o, &out, &err);
    hl_memory_file_dispose(&out);
    return st;
}

START_TEST(read_files_of_profiles)
{
    fixture_t f;
    fixture(&f);
    write_in(f.memdir, "MEMORY.md", "one" D "two");
    hl_memory_file_t m;
    int err = 0;
    ck_assert_int_eq(hl_memory_read(f.home, NULL, HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_OK);
    ck_assert(m.exists);
    ck_assert_int_gt(m.mtime_ms, 0);
    ck_assert_uint_eq(m.entries.count, 2);
    ck_assert_uint_eq(m.chars, 3 + 3 + 3);
    ck_assert_str_eq(m.rel_path, "memories/MEMORY.md");
    hl_memory_file_dispose(&m);

    /* a named profile without USER.md: empty, not existing, path relative to the home */
    ck_assert_int_eq(hl_memory_read(f.home, "work", HL_MEMORY_TARGET_USER, &m, &err), HL_MEMORY_OK);
    ck_assert(!m.exists);
    ck_assert_int_eq(m.mtime_ms, -1);
    ck_assert_uint_eq(m.entries.count, 0);
    ck_assert_str_eq(m.rel_path, "profiles/work/memories/USER.md");
    hl_memory_file_dispose(&m);

    /* a profile without memories/: empty too, and nothing is created by a read */
    char *other = ut_path(f.home, "profiles/bare");
    ck_assert_int_eq(mkdir(other, 0700), 0);
    ck_assert_int_eq(hl_memory_read(f.home, "bare", HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_OK);
    ck_assert(!m.exists);
    hl_memory_file_dispose(&m);
    ck_assert_int_eq(ut_count_entries(other), 0);
    free(other);

    /* unknown and invalid profiles */
    ck_assert_int_eq(hl_memory_read(f.home, "ghost", HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_PROFILE_NOT_FOUND);
    hl_memory_file_dispose(&m);
    ck_assert_int_eq(hl_memory_read(f.home, "../outside", HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_INVALID_PROFILE);
    hl_memory_file_dispose(&m);

    /* not UTF-8: refused, not guessed at */
    write_in(f.memdir, "USER.md", "ok" D "\xff\xfe");
    ck_assert_int_eq(hl_memory_read(f.home, "default", HL_MEMORY_TARGET_USER, &m, &err), HL_MEMORY_FILE_INVALID);
    hl_memory_file_dispose(&m);
    fixture_done(&f);
}
END_TEST

START_TEST(update_writes_hermes_format_under_the_lock_file)
{
    fixture_t f;
    fixture(&f);
    /* memories/ missing: created (0700), the file and its lock created 0600 */
    char *prof = ut_path(f.home, "profiles/fresh");
    ck_assert_int_eq(mkdir(prof, 0700), 0);
    char *fresh = ut_path(prof, "memories");
    ck_assert_int_eq(update(&f, "fresh", HL_MEMORY_TARGET_USER, HL_MEMORY_ADD, NULL, " Name is Ada. ", 1375), HL_MEMORY_OK);
    ck_assert_int_eq(update(&f, "fresh", HL_MEMORY_TARGET_USER, HL_MEMORY_ADD, NULL, "Likes\nmaths", 1375), HL_MEMORY_OK);
    char *text = read_in(fresh, "USER.md");
    ck_assert_str_eq(text, "Name is Ada." D "Likes\nmaths");
    free(text);
    ck_assert_int_eq(mode_of(prof, "memories") & 07777, 0700);
    ck_assert_int_eq(mode_of(fresh, "USER.md") & 07777, 0600);
    ck_assert(S_ISREG(mode_of(fresh, "USER.md.lock")));
    ck_assert_int_eq(mode_of(fresh, "USER.md.lock") & 07777, 0600);
    ck_assert_int_eq(ut_count_entries(fresh), 2); /* no temp file left */

    /* the file's mode is kept */
    write_in(f.memdir, "MEMORY.md", "kept");
    char *mem = file_in(f.memdir, "MEMORY.md");
    ck_assert_int_eq(chmod(mem, 0640), 0);
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "more", 2200), HL_MEMORY_OK);
    ck_assert_int_eq(mode_of(f.memdir, "MEMORY.md") & 07777, 0640);

    /* adding an identical entry: no-op, the file is not even rewritten */
    struct stat before, after;
    ck_assert_int_eq(stat(mem, &before), 0);
    hl_memory_op_t o = {.kind = HL_MEMORY_ADD, .content = "kept"};
    hl_memory_file_t out;
    ck_assert_int_eq(hl_memory_update(f.home, NULL, HL_MEMORY_TARGET_MEMORY, 2200, &o, &out, NULL), HL_MEMORY_UNCHANGED);
    ck_assert_uint_eq(out.entries.count, 2);
    ck_assert(out.exists);
    hl_memory_file_dispose(&out);
    ck_assert_int_eq(stat(mem, &after), 0);
    ck_assert_uint_eq(before.st_ino, after.st_ino);

    /* a refused change leaves the file as it was, and *out shows it */
    o = (hl_memory_op_t){.kind = HL_MEMORY_ADD, .content = "far too long for the limit"};
    ck_assert_int_eq(hl_memory_update(f.home, NULL, HL_MEMORY_TARGET_MEMORY, 12, &o, &out, NULL), HL_MEMORY_LIMIT_EXCEEDED);
    ck_assert_uint_eq(out.chars, 4 + 3 + 4);
    hl_memory_file_dispose(&out);
    text = read_in(f.memdir, "MEMORY.md");
    ck_assert_str_eq(text, "kept" D "more");
    free(text);

    /* clearing writes an empty file; clearing a file that does not exist creates nothing */
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_MEMORY, HL_MEMORY_CLEAR, NULL, NULL, 2200), HL_MEMORY_OK);
    text = read_in(f.memdir, "MEMORY.md");
    ck_assert_str_eq(text, "");
    free(text);
    ck_assert_int_eq(update(&f, "work", HL_MEMORY_TARGET_MEMORY, HL_MEMORY_CLEAR, NULL, NULL, 2200), HL_MEMORY_OK);
    char *work_mem = file_in(f.work_memdir, "MEMORY.md");
    ck_assert_int_eq(access(work_mem, F_OK), -1);
    free(work_mem);
    free(mem);
    free(fresh);
    free(prof);
    fixture_done(&f);
}
END_TEST

START_TEST(update_never_creates_a_missing_profile)
{
    fixture_t f;
    fixture(&f);
    char *ghost = ut_path(f.home, "profiles/ghost");
    ck_assert_int_eq(update(&f, "ghost", HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_PROFILE_NOT_FOUND);
    ck_assert_int_eq(access(ghost, F_OK), -1);
    ck_assert_int_eq(update(&f, "a/b", HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_INVALID_PROFILE);
    ck_assert_int_eq(update(&f, "..", HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_INVALID_PROFILE);
    /* a file that is not UTF-8 is never rewritten */
    write_in(f.memdir, "USER.md", "\xc3(");
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_USER, HL_MEMORY_CLEAR, NULL, NULL, 2200), HL_MEMORY_FILE_INVALID);
    char *text = read_in(f.memdir, "USER.md");
    ck_assert_str_eq(text, "\xc3(");
    free(text);
    free(ghost);
    fixture_done(&f);
}
END_TEST

START_TEST(links_out_of_the_profile_are_refused)
{
    fixture_t f;
    fixture(&f);
    write_in(f.outside, "secret.md", "outside text");
    char *target = file_in(f.outside, "secret.md"), *link = file_in(f.memdir, "MEMORY.md");
    ck_assert_int_eq(symlink(target, link), 0);
    hl_memory_file_t m;
    int err = 0;
    ck_assert_int_eq(hl_memory_read(f.home, NULL, HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_UNSAFE_PATH);
    ck_assert_uint_eq(m.entries.count, 0);
    hl_memory_file_dispose(&m);
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_UNSAFE_PATH);
    char *text = read_in(f.outside, "secret.md");
    ck_assert_str_eq(text, "outside text");
    free(text);
    ck_assert(S_ISLNK(mode_of(f.memdir, "MEMORY.md")));
    ck_assert_str_eq(hl_memory_status_code(HL_MEMORY_UNSAFE_PATH), "memory_path_unsafe");

    /* a dangling link is not written through or over */
    char *nowhere = file_in(f.outside, "nowhere.md"), *ulink = file_in(f.memdir, "USER.md");
    ck_assert_int_eq(symlink(nowhere, ulink), 0);
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_USER, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_UNSAFE_PATH);
    ck_assert_int_eq(access(nowhere, F_OK), -1);

    /* memories/ itself leading out of a profile */
    char *work_mem = ut_path(f.home, "profiles/work/memories");
    ck_assert_int_eq(rmdir(work_mem), 0);
    ck_assert_int_eq(symlink(f.outside, work_mem), 0);
    ck_assert_int_eq(update(&f, "work", HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_UNSAFE_PATH);
    ck_assert_int_eq(hl_memory_read(f.home, "work", HL_MEMORY_TARGET_MEMORY, &m, &err), HL_MEMORY_UNSAFE_PATH);
    hl_memory_file_dispose(&m);
    ck_assert_int_eq(ut_count_entries(f.outside), 1); /* no lock file or memory file made there */

    /* a lock file that is a link */
    ck_assert_int_eq(unlink(link), 0);
    char *lock = file_in(f.memdir, "MEMORY.md.lock");
    ck_assert_int_eq(unlink(lock), 0); /* made by the refused update above: the lock is taken before the file is read */
    char *lock_target = file_in(f.outside, "lock");
    ck_assert_int_eq(symlink(lock_target, lock), 0);
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "x", 2200), HL_MEMORY_UNSAFE_PATH);
    ck_assert_int_eq(access(lock_target, F_OK), -1);
    free(lock);
    free(lock_target);
    free(work_mem);
    free(nowhere);
    free(ulink);
    free(target);
    free(link);
    fixture_done(&f);
}
END_TEST

START_TEST(link_inside_the_profile_is_written_through)
{
    fixture_t f;
    fixture(&f);
    char *notes = ut_path(f.home, "notes");
    ck_assert_int_eq(mkdir(notes, 0700), 0);
    write_in(notes, "mem.md", "linked");
    char *link = file_in(f.memdir, "MEMORY.md");
    ck_assert_int_eq(symlink("../notes/mem.md", link), 0);
    ck_assert_int_eq(update(&f, NULL, HL_MEMORY_TARGET_MEMORY, HL_MEMORY_ADD, NULL, "added", 2200), HL_MEMORY_OK);
    ck_assert(S_ISLNK(mode_of(f.memdir, "MEMORY.md")));
    char *text = read_in(notes, "mem.md");
    ck_assert_str_eq(text, "linked" D "added");
    free(text);
    free(link);
    free(notes);
    fixture_done(&f);
}
END_TEST

/* ---- Hermes's lock held by another process ---- */

/*
 * A child that behaves like Hermes's memory tool: takes flock(LOCK_EX) on memories/MEMORY.md.lock, tells the parent,
 * then (after `hold_ms`, or when the parent writes to `release`) adds its own entry with a temp file + rename, and
 * unlocks by exiting.
 */
static pid_t hermes_child(const char *memdir, int ready_fd, int release_fd, unsigned hold_ms, const char *entry)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid != 0)
        return pid;
    char lock[4096], path[4096], tmp[4096];
    snprintf(lock, sizeof(lock), "%s/MEMORY.md.lock", memdir);
    snprintf(path, sizeof(path), "%s/MEMORY.md", memdir);
    snprintf(tmp, sizeof(tmp), "%s/.mem_child.tmp", memdir);
    int fd = open(lock, O_RDWR | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0)
        _exit(2);
    if (write(ready_fd, "L", 1) != 1)
        _exit(3);
    if (release_fd >= 0) {
        char c;
        if (read(release_fd, &c, 1) != 1)
            _exit(4);
    } else {
        usleep(hold_ms * 1000);
    }
    if (entry != NULL) {
        char buf[8192] = "";
        int in = open(path, O_RDONLY);
        ssize_t n = in >= 0 ? read(in, buf, sizeof(buf) - 1) : 0;
        if (in >= 0)
            close(in);
        buf[n > 0 ? n : 0] = '\0';
        char out[8192 + 4096];
        int len = snprintf(out, sizeof(out), "%s%s%s", buf, buf[0] != '\0' ? D : "", entry);
        int t = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (t < 0 || write(t, out, (size_t)len) != len || fsync(t) != 0 || close(t) != 0 || rename(tmp, path) != 0)
            _exit(5);
    }
    _exit(0); /* closing the descriptor releases the lock */
}

static void wait_child(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(update_waits_for_hermes_lock_and_loses_nothing)
{
    fixture_t f;
    fixture(&f);
    write_in(f.memdir, "MEMORY.md", "existing");
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t pid = hermes_child(f.memdir, ready[1], -1, 500, "from hermes");
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1); /* the child holds the lock now */
    uint64_t t0 = hl_monotonic_ms();
    hl_memory_op_t o = {.kind = HL_MEMORY_ADD, .content = "from link"};
    hl_memory_file_t out;
    ck_assert_int_eq(hl_memory_update(f.home, NULL, HL_MEMORY_TARGET_MEMORY, 2200, &o, &out, NULL), HL_MEMORY_OK);
    uint64_t waited = hl_monotonic_ms() - t0;
    ck_assert_msg(waited >= 200, "the update did not wait for the lock (%llu ms)", (unsigned long long)waited);
    ck_assert_uint_eq(out.entries.count, 3);
    hl_memory_file_dispose(&out);
    wait_child(pid);
    /* the child's entry, written under the lock while we waited, is kept: read after locking */
    char *text = read_in(f.memdir, "MEMORY.md");
    ck_assert_str_eq(text, "existing" D "from hermes" D "from link");
    free(text);
    close(ready[0]);
    close(ready[1]);
    fixture_done(&f);
}
END_TEST

START_TEST(update_is_busy_when_the_lock_stays_taken)
{
    fixture_t f;
    fixture(&f);
    write_in(f.memdir, "MEMORY.md", "existing");
    hl_memory_test_set_lock_wait(200);
    int ready[2], release[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(release), 0);
    pid_t pid = hermes_child(f.memdir, ready[1], release[0], 0, NULL);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    uint64_t t0 = hl_monotonic_ms();
    hl_memory_op_t o = {.kind = HL_MEMORY_ADD, .content = "from link"};
    hl_memory_file_t out;
    int err = 0;
    ck_assert_int_eq(hl_memory_update(f.home, NULL, HL_MEMORY_TARGET_MEMORY, 2200, &o, &out, &err), HL_MEMORY_BUSY);
    uint64_t waited = hl_monotonic_ms() - t0;
    ck_assert_msg(waited >= 190 && waited < 3000, "waited %llu ms", (unsigned long long)waited);
    ck_assert_uint_eq(out.entries.count, 0);
    hl_memory_file_dispose(&out);
    ck_assert_str_eq(hl_memory_status_code(HL_MEMORY_BUSY), "memory_busy");
    char *text = read_in(f.memdir, "MEMORY.md");
    ck_assert_str_eq(text, "existing");
    free(text);
    /* released: the next update goes through */
    ck_assert_int_eq(write(release[1], "R", 1), 1);
    wait_child(pid);
    ck_assert_int_eq(hl_memory_update(f.home, NULL, HL_MEMORY_TARGET_MEMORY, 2200, &o, &out, &err), HL_MEMORY_OK);
    hl_memory_file_dispose(&out);
    text = read_in(f.memdir, "MEMORY.md");
    ck_assert_str_eq(text, "existing" D "from link");
    free(text);
    hl_memory_test_set_lock_wait(0);
    close(ready[0]);
    close(ready[1]);
    close(release[0]);
    close(release[1]);
    fixture_done(&f);
}
END_TEST

START_TEST(limits_load_from_a_profile)
{
    fixture_t f;
    fixture(&f);
    hl_memory_limits_t l;
    char *warning = NULL;
    hl_memory_limits_load(&l, f.home, "work", &warning);
    ck_assert_uint_eq(l.memory, 2200); /* no config.yaml */
    ck_assert_ptr_null(warning);
    char *work = ut_path(f.home, "profiles/work");
    write_in(work, "config.yaml", "memory:\n  memory_char_limit: 4000 # more room\n");
    hl_memory_limits_load(&l, f.home, "work", &warning);
    ck_assert_uint_eq(l.memory, 4000);
    ck_assert_uint_eq(l.user, 1375);
    ck_assert_ptr_null(warning);
    /* config.yaml leading out of the Hermes home is not read */
    write_in(f.outside, "config.yaml", "memory:\n  memory_char_limit: 9\n");
    char *cfg = ut_path(f.home, "config.yaml"), *out_cfg = ut_path(f.outside, "config.yaml");
    ck_assert_int_eq(symlink(out_cfg, cfg), 0);
    hl_memory_limits_load(&l, f.home, NULL, &warning);
    ck_assert_uint_eq(l.memory, 2200);
    ck_assert_ptr_nonnull(warning);
    ck_assert_ptr_null(strstr(warning, f.outside));
    free(warning);
    free(cfg);
    free(out_cfg);
    free(work);
    fixture_done(&f);
}
END_TEST

Suite *suite_hermes_memory(void)
{
    Suite *s = suite_create("hermes_memory");
    TCase *pure = tcase_create("entries");
    tcase_add_test(pure, parse_splits_strips_and_drops_empty);
    tcase_add_test(pure, serialize_round_trip_is_byte_exact);
    tcase_add_test(pure, chars_count_code_points);
    tcase_add_test(pure, text_valid_refuses_bad_utf8_and_nul);
    tcase_add_test(pure, add_strips_and_duplicate_is_a_noop);
    tcase_add_test(pure, limits_apply_to_the_joined_text);
    tcase_add_test(pure, replace_and_remove_by_substring);
    tcase_add_test(pure, dedupe_keeps_first_occurrences);
    tcase_add_test(pure, ids_follow_the_spec);
    tcase_add_test(pure, duplicate_entries_get_distinct_ids);
    tcase_add_test(pure, usage_json);
    tcase_add_test(pure, targets);
    tcase_add_test(pure, limits_from_config_yaml);
    suite_add_tcase(s, pure);
    TCase *files = tcase_create("files");
    tcase_set_timeout(files, 30);
    tcase_add_test(files, read_files_of_profiles);
    tcase_add_test(files, update_writes_hermes_format_under_the_lock_file);
    tcase_add_test(files, update_never_creates_a_missing_profile);
    tcase_add_test(files, links_out_of_the_profile_are_refused);
    tcase_add_test(files, link_inside_the_profile_is_written_through);
    tcase_add_test(files, update_waits_for_hermes_lock_and_loses_nothing);
    tcase_add_test(files, update_is_busy_when_the_lock_stays_taken);
    tcase_add_test(files, limits_load_from_a_profile);
    suite_add_tcase(s, files);
    return s;
}
