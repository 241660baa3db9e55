/*
 * hl_file_replace (include/hl/file_replace.h): atomic replacement keeping the mode, one backup per change under the
 * documented name, pruning to the 5 newest backups without touching other files, and the refusals.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hl/common.h"
#include "hl/file_replace.h"
#include "unit_util.h"

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    return st.st_ino;
}

static void assert_content(const char *path, const char *want)
{
    char *got = ut_read(path);
    ck_assert_str_eq(got, want);
    free(got);
}

/* True for "config.yaml.bak." + YYYYMMDDTHHMMSS.uuuuuuZ. */
static int is_backup_name(const char *n)
{
    static const char form[] = "ddddddddTdddddd.ddddddZ";
    if (strncmp(n, "config.yaml.bak.", 16) != 0 || strlen(n + 16) != sizeof(form) - 1)
        return 0;
    for (size_t i = 0; form[i] != '\0'; ++i)
        if (form[i] == 'd' ? n[16 + i] < '0' || n[16 + i] > '9' : n[16 + i] != form[i])
            return 0;
    return 1;
}

/* The backups of config.yaml in dir (names of the documented form), sorted; *count of them. Caller frees. */
static char **backups(const char *dir, size_t *count)
{
    char **names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!is_backup_name(n))
            continue;
        names = realloc(names, (*count + 1) * sizeof(*names));
        names[(*count)++] = hl_strdup(n);
    }
    closedir(d);
    for (size_t i = 1; i < *count; ++i) /* insertion sort: a handful of names */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; --j) {
            char *tmp = names[j];
            names[j] = names[j - 1];
            names[j - 1] = tmp;
        }
    return names;
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        free(names[i]);
    free(names);
}

static int exists(const char *dir, const char *name)
{
    char *p = ut_path(dir, name);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

START_TEST(missing_file_is_created_0600)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "config.yaml"), *backup = (char *)"unset";
    mode_t old = umask(0); /* the mode must come from the call, not from the umask */
    ck_assert_int_eq(hl_file_replace(path, "a: 1\n", 5, &backup), 0);
    umask(old);
    ck_assert_ptr_null(backup);
    assert_content(path, "a: 1\n");
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert_int_eq(ut_count_entries(dir), 1);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(replacement_keeps_mode_and_backs_up_once)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "config.yaml"), *backup = NULL;
    ut_write_str(path, "old: 1\n");
    ck_assert_int_eq(chmod(path, 0640), 0);
    ino_t old_inode = inode_of(path);
    time_t before = time(NULL);
    ck_assert_int_eq(hl_file_replace(path, "new: 2\n", 7, &backup), 0);
    time_t after = time(NULL);
    assert_content(path, "new: 2\n");
    ck_assert_int_eq(mode_of(path), 0640);
    ck_assert_int_ne(inode_of(path), old_inode);

    /* one backup, named <path>.bak.<UTC stamp>, holding the old file itself */
    ck_assert_ptr_nonnull(backup);
    ck_assert_int_eq(strncmp(backup, path, strlen(path)), 0);
    const char *stamp = backup + strlen(path);
    ck_assert_int_eq(strncmp(stamp, ".bak.", 5), 0);
    stamp += 5;
    ck_assert_uint_eq(strlen(stamp), HL_FILE_BACKUP_STAMP_LEN);
    struct tm tm = {0};
    int us;
    char z;
    ck_assert_int_eq(sscanf(stamp, "%4d%2d%2dT%2d%2d%2d.%6d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                            &tm.tm_sec, &us, &z),
                     8);
    ck_assert_int_eq(z, 'Z');
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t when = timegm(&tm);
    ck_assert(when >= before && when <= after);
    assert_content(backup, "old: 1\n");
    ck_assert_int_eq(mode_of(backup), 0640);
    ck_assert_int_eq(inode_of(backup), old_inode);
    ck_assert_int_eq(ut_count_entries(dir), 2);
    free(backup);

    /* the same content again: nothing written, no backup */
    ino_t inode = inode_of(path);
    backup = (char *)"unset";
    ck_assert_int_eq(hl_file_replace(path, "new: 2\n", 7, &backup), 0);
    ck_assert_ptr_null(backup);
    ck_assert_int_eq(inode_of(path), inode);
    ck_assert_int_eq(ut_count_entries(dir), 2);

    /* the same length, another content: a change; no backup_path wanted */
    ck_assert_int_eq(hl_file_replace(path, "new: 3\n", 7, NULL), 0);
    assert_content(path, "new: 3\n");
    ck_assert_int_eq(ut_count_entries(dir), 3);

    /* an empty file and an empty content */
    ck_assert_int_eq(hl_file_replace(path, "", 0, NULL), 0);
    assert_content(path, "");
    ck_assert_int_eq(mode_of(path), 0640);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(old_backups_are_pruned_to_five)
{
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "config.yaml");
    ut_write_str(path, "v0\n");
    /* seven older backups, and files that only look like backups */
    static const char *const others[] = {"config.yaml.bak.manual",
                                         "config.yaml.bak.1700000000000",
                                         "config.yaml.bak.20200101T000000.000000Z.tmp",
                                         "config.yaml.bak.2020010lT000000.000000Z",
                                         "other.yaml.bak.20200101T000000.000000Z",
                                         "config.yml.bak.20200101T000000.000000Z"};
    for (int i = 0; i < 7; ++i) {
        char *name = hl_asprintf("%s/config.yaml.bak.20200101T000000.00000%dZ", dir, i);
        ut_write_str(name, "older\n");
        free(name);
    }
    for (size_t i = 0; i < HL_ARRAY_SIZE(others); ++i) {
        char *name = ut_path(dir, others[i]);
        ut_write_str(name, "other\n");
        free(name);
    }
    char *backup = NULL;
    ck_assert_int_eq(hl_file_replace(path, "v1\n", 3, &backup), 0);
    size_t count;
    char **names = backups(dir, &count);
    ck_assert_uint_eq(count, HL_FILE_BACKUP_KEEP);
    /* the four newest older ones and the new one remain */
    for (int i = 0; i < 4; ++i) {
        char *want = hl_asprintf("config.yaml.bak.20200101T000000.00000%dZ", i + 3);
        ck_assert_str_eq(names[i], want);
        free(want);
    }
    ck_assert_str_eq(names[4], strrchr(backup, '/') + 1);
    free_names(names, count);
    free(backup);
    for (size_t i = 0; i < HL_ARRAY_SIZE(others); ++i)
        ck_assert_msg(exists(dir, others[i]), "%s was removed", others[i]);

    /* seven quick edits: five backups remain, the previous five contents in order (names sort by time even within the
     * same microsecond) */
    for (int i = 2; i <= 8; ++i) {
        char content[8];
        snprintf(content, sizeof(content), "v%d\n", i);
        ck_assert_int_eq(hl_file_replace(path, content, strlen(content), NULL), 0);
    }
    assert_content(path, "v8\n");
    names = backups(dir, &count);
    ck_assert_uint_eq(count, HL_FILE_BACKUP_KEEP);
    for (size_t i = 0; i < count; ++i) {
        char *p = ut_path(dir, names[i]), want[8];
        snprintf(want, sizeof(want), "v%zu\n", i + 3);
        assert_content(p, want);
        free(p);
    }
    free_names(names, count);
    for (size_t i = 0; i < HL_ARRAY_SIZE(others); ++i)
        ck_assert(exists(dir, others[i]));
    ck_assert_int_eq(ut_count_entries(dir), 1 + HL_FILE_BACKUP_KEEP + (int)HL_ARRAY_SIZE(others));
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(newest_backup_survives_a_clock_gone_back)
{
    /* five backups stamped in the future: the one just made sorts first, yet it stays and an old one goes */
    char *dir = ut_mkdtemp(), *path = ut_path(dir, "config.yaml"), *backup = NULL;
    ut_write_str(path, "before\n");
    for (int i = 0; i < 5; ++i) {
        char *name = hl_asprintf("%s/config.yaml.bak.29990101T000000.00000%dZ", dir, i);
        ut_write_str(name, "future\n");
        free(name);
    }
    ck_assert_int_eq(hl_file_replace(path, "after\n", 6, &backup), 0);
    assert_content(backup, "before\n");
    size_t count;
    char **names = backups(dir, &count);
    ck_assert_uint_eq(count, HL_FILE_BACKUP_KEEP);
    ck_assert_str_eq(names[0], strrchr(backup, '/') + 1);
    ck_assert_str_eq(names[1], "config.yaml.bak.29990101T000000.000001Z");
    free_names(names, count);
    free(backup);
    free(path);
    ut_rm_rf(dir);
}
END_TEST

START_TEST(links_and_non_files_are_refused)
{
    char *dir = ut_mkdtemp(), *target = ut_path(dir, "real.yaml"), *link = ut_path(dir, "config.yaml"),
         *sub = ut_path(dir, "sub.yaml"), *backup = (char *)"unset";
    ut_write_str(target, "real\n");
    ck_assert_int_eq(symlink("real.yaml", link), 0);
    ck_assert_int_eq(hl_file_replace(link, "x\n", 2, &backup), -ELOOP);
    ck_assert_ptr_null(backup);
    assert_content(target, "real\n");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(hl_file_replace(sub, "x\n", 2, NULL), -EINVAL);
    ck_assert_int_eq(ut_count_entries(dir), 3);
    /* a missing directory */
    char *nowhere = ut_path(dir, "missing/config.yaml");
    ck_assert_int_eq(hl_file_replace(nowhere, "x\n", 2, NULL), -ENOENT);
    free(nowhere);
    free(sub);
    free(link);
    free(target);
    ut_rm_rf(dir);
}
END_TEST

Suite *suite_file_replace(void)
{
    Suite *s = suite_create("file_replace");
    TCase *c = tcase_create("replace");
    tcase_add_test(c, missing_file_is_created_0600);
    tcase_add_test(c, replacement_keeps_mode_and_backs_up_once);
    tcase_add_test(c, old_backups_are_pruned_to_five);
    tcase_add_test(c, newest_backup_survives_a_clock_gone_back);
    tcase_add_test(c, links_and_non_files_are_refused);
    suite_add_tcase(s, c);
    return s;
}
