/*
 * Counts per key with a ceiling (include/hl/keyed_counts.h), as the connection caps and the per-device stream cap use
 * them: acquire up to the ceiling, release gives a place back, byte amounts added and taken away, keys that reach zero
 * disappear, many keys (the table grows) stay apart. Threads sharing a map: tests/unit/test_concurrency.c (also under
 * ThreadSanitizer).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "hl/keyed_counts.h"

START_TEST(acquire_to_ceiling_and_release)
{
    hl_keyed_counts_t m;
    hl_keyed_counts_init(&m);
    for (int i = 0; i < 3; ++i)
        ck_assert(hl_keyed_counts_acquire(&m, "dev_a", 5, 3));
    ck_assert(!hl_keyed_counts_acquire(&m, "dev_a", 5, 3));
    ck_assert(hl_keyed_counts_acquire(&m, "dev_b", 5, 3)); /* another key has its own count */
    ck_assert_uint_eq(hl_keyed_counts_get(&m, "dev_a", 5), 3);
    hl_keyed_counts_release(&m, "dev_a", 5);
    ck_assert(hl_keyed_counts_acquire(&m, "dev_a", 5, 3));
    ck_assert(!hl_keyed_counts_acquire(&m, "dev_c", 5, 0)); /* a ceiling of 0 admits nothing */
    ck_assert_uint_eq(m.num_keys, 2);
    for (int i = 0; i < 3; ++i)
        hl_keyed_counts_release(&m, "dev_a", 5);
    hl_keyed_counts_release(&m, "dev_b", 5);
    ck_assert_uint_eq(m.num_keys, 0);        /* keys at zero are gone */
    hl_keyed_counts_release(&m, "dev_a", 5); /* releasing an absent key changes nothing */
    ck_assert_uint_eq(hl_keyed_counts_get(&m, "dev_a", 5), 0);
    hl_keyed_counts_dispose(&m);
}
END_TEST

START_TEST(amounts)
{
    hl_keyed_counts_t m;
    hl_keyed_counts_init(&m);
    const unsigned char key[16] = {1, 2, 3};
    ck_assert(hl_keyed_counts_add(&m, key, sizeof(key), 600, 1000));
    ck_assert(!hl_keyed_counts_add(&m, key, sizeof(key), 401, 1000)); /* past the ceiling: not applied */
    ck_assert_uint_eq(hl_keyed_counts_get(&m, key, sizeof(key)), 600);
    ck_assert(hl_keyed_counts_add(&m, key, sizeof(key), 400, 1000));
    ck_assert(hl_keyed_counts_add(&m, key, sizeof(key), -1000, 0)); /* taking away always applies */
    ck_assert_uint_eq(m.num_keys, 0);
    ck_assert(hl_keyed_counts_add(&m, key, sizeof(key), -5, 0)); /* never below zero */
    ck_assert_uint_eq(hl_keyed_counts_get(&m, key, sizeof(key)), 0);
    hl_keyed_counts_dispose(&m);
}
END_TEST

START_TEST(many_keys)
{
    hl_keyed_counts_t m;
    hl_keyed_counts_init(&m);
    char key[32];
    for (int i = 0; i < 5000; ++i) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert(hl_keyed_counts_add(&m, key, (size_t)n, i + 1, 1u << 30));
    }
    ck_assert_uint_gt(m.num_buckets, 256); /* it grew */
    for (int i = 0; i < 5000; ++i) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_uint_eq(hl_keyed_counts_get(&m, key, (size_t)n), (uint64_t)i + 1);
    }
    hl_keyed_counts_dispose(&m);
}
END_TEST

Suite *suite_keyed_counts(void)
{
    Suite *s = suite_create("keyed_counts");
    TCase *tc = tcase_create("counts");
    tcase_add_test(tc, acquire_to_ceiling_and_release);
    tcase_add_test(tc, amounts);
    tcase_add_test(tc, many_keys);
    suite_add_tcase(s, tc);
    return s;
}
