/*
 * The published access-token table (include/hl/token_table.h), single-threaded: put/lookup/replace/remove/prune/count,
 * expiry, what the visit callback sees, and the last-seen debounce. Concurrent readers are in test_concurrency.c.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <urcu.h>

#include "hl/token_table.h"
#include "hl/tokens.h"

/* a realistic clock (epoch ms): the debounce compares against the time of the last last-seen request, 0 for a new
 * entry */
#define T0 1778241600000LL
#define MIN_MS (60LL * 1000)

typedef struct st_seen_t {
    int calls;
    char id[64], label[160], platform[64], model[160];
    bool model_null, bound;
    int64_t expires;
    char *json;
    const void *ptr_id;
} seen_t;

static void visit(const hl_auth_device_t *dev, void *data)
{
    seen_t *s = data;
    ++s->calls;
    snprintf(s->id, sizeof(s->id), "%s", dev->id);
    snprintf(s->label, sizeof(s->label), "%s", dev->label);
    snprintf(s->platform, sizeof(s->platform), "%s", dev->platform);
    s->model_null = dev->model == NULL;
    snprintf(s->model, sizeof(s->model), "%s", dev->model != NULL ? dev->model : "");
    s->bound = dev->app_instance_bound;
    s->expires = dev->access_expires_at;
    free(s->json);
    s->json = dev->json != NULL ? strdup(dev->json) : NULL;
    s->ptr_id = dev->id;
}

static void setup(void)
{
    rcu_register_thread();
    hl_token_table_init();
}

static void teardown(void)
{
    hl_token_table_destroy();
    rcu_unregister_thread();
}

static hl_token_hash_t hash_of(const char *token)
{
    hl_token_hash_t h;
    hl_token_hash(token, strlen(token), &h);
    return h;
}

static hl_auth_device_t device(const char *id, const char *label, int64_t expires)
{
    return (hl_auth_device_t){.id = id,
                              .label = label,
                              .platform = "android",
                              .model = "Pixel 8",
                              .app_instance_bound = true,
                              .access_expires_at = expires};
}

/* Looks up `token` at `now` with a one-minute interval; returns found and fills *seen and *post. */
static bool lookup(const char *token, int64_t now, seen_t *seen, bool *post)
{
    hl_token_hash_t h = hash_of(token);
    return hl_token_table_lookup(&h, now, MIN_MS, post, visit, seen);
}

START_TEST(put_then_lookup)
{
    hl_token_hash_t h = hash_of("hlat_one");
    char id[] = "dev_1", label[] = "Kitchen tablet";
    hl_auth_device_t d = device(id, label, T0 + 1000);
    ck_assert_uint_eq(hl_token_table_count(), 0);
    hl_token_table_put(&h, &d);
    ck_assert_uint_eq(hl_token_table_count(), 1);
    /* the table copied the strings: changing the caller's buffers changes nothing */
    memset(id, 'x', sizeof(id) - 1);
    memset(label, 'y', sizeof(label) - 1);

    seen_t s = {0};
    bool post = false;
    ck_assert(lookup("hlat_one", T0, &s, &post));
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(s.id, "dev_1");
    ck_assert_str_eq(s.label, "Kitchen tablet");
    ck_assert_str_eq(s.platform, "android");
    ck_assert(!s.model_null);
    ck_assert_str_eq(s.model, "Pixel 8");
    ck_assert(s.bound);
    ck_assert_int_eq(s.expires, T0 + 1000);
    ck_assert_ptr_ne(s.ptr_id, id);

    /* an unknown hash */
    post = true;
    ck_assert(!lookup("hlat_two", T0, &s, &post));
    ck_assert(!post);
    ck_assert_int_eq(s.calls, 1); /* visit not called */
    free(s.json);
}
END_TEST

START_TEST(null_model_and_unbound)
{
    hl_token_hash_t h = hash_of("hlat_m");
    hl_auth_device_t d = {.id = "dev_m", .label = "L", .platform = "ios", .model = NULL, .access_expires_at = T0 + 1};
    hl_token_table_put(&h, &d);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_m", T0, &s, &post));
    ck_assert(s.model_null);
    ck_assert(!s.bound);
    ck_assert_str_eq(s.platform, "ios");
    free(s.json);
}
END_TEST

START_TEST(json_is_built_by_the_table)
{
    hl_token_hash_t h = hash_of("hlat_json");
    hl_auth_device_t d = device("dev_j", "Ann's \"phone\"", T0 + 1000);
    d.json = "{\"not\":\"this\"}"; /* ignored and rebuilt */
    hl_token_table_put(&h, &d);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_json", T0, &s, &post));
    ck_assert_ptr_nonnull(s.json);
    json_error_t err;
    json_t *o = json_loads(s.json, 0, &err);
    ck_assert_msg(json_is_object(o), "not a JSON object: %s", s.json);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "dev_j");
    ck_assert_str_eq(json_string_value(json_object_get(o, "device_id")), "dev_j");
    ck_assert_str_eq(json_string_value(json_object_get(o, "label")), "Ann's \"phone\"");
    ck_assert_str_eq(json_string_value(json_object_get(o, "platform")), "android");
    ck_assert_str_eq(json_string_value(json_object_get(o, "model")), "Pixel 8");
    ck_assert_ptr_nonnull(json_object_get(o, "scope"));
    ck_assert_ptr_null(json_object_get(o, "not"));
    json_decref(o);

    /* no model: null (or absent), never a string */
    hl_auth_device_t d2 = {.id = "dev_k", .label = "K", .platform = "ios", .access_expires_at = T0 + 1000};
    hl_token_hash_t h2 = hash_of("hlat_json2");
    hl_token_table_put(&h2, &d2);
    ck_assert(lookup("hlat_json2", T0, &s, &post));
    o = json_loads(s.json, 0, &err);
    ck_assert_msg(json_is_object(o), "not a JSON object: %s", s.json);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "dev_k");
    ck_assert(json_object_get(o, "model") == NULL || json_is_null(json_object_get(o, "model")));
    json_decref(o);
    free(s.json);
}
END_TEST

START_TEST(expiry)
{
    hl_token_hash_t h = hash_of("hlat_exp");
    hl_auth_device_t d = device("dev_e", "E", T0 + 500);
    hl_token_table_put(&h, &d);
    seen_t s = {0};
    bool post = true;
    ck_assert(lookup("hlat_exp", T0 + 499, &s, &post));
    ck_assert(!lookup("hlat_exp", T0 + 500, &s, &post)); /* now >= expires_at: expired */
    ck_assert(!post);
    ck_assert(!lookup("hlat_exp", T0 + 100000, &s, &post));
    ck_assert_int_eq(s.calls, 1);
    /* still in the table until pruned or removed */
    ck_assert_uint_eq(hl_token_table_count(), 1);
    free(s.json);
}
END_TEST

START_TEST(replace)
{
    hl_token_hash_t h = hash_of("hlat_r");
    hl_auth_device_t d = device("dev_r", "Old name", T0 + 1000);
    hl_token_table_put(&h, &d);
    d.label = "New name";
    d.model = NULL;
    d.access_expires_at = T0 + 2000;
    hl_token_table_put(&h, &d);
    ck_assert_uint_eq(hl_token_table_count(), 1);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_r", T0 + 1500, &s, &post));
    ck_assert_str_eq(s.label, "New name");
    ck_assert(s.model_null);
    ck_assert_int_eq(s.expires, T0 + 2000);
    free(s.json);
}
END_TEST

START_TEST(remove_entry)
{
    hl_token_hash_t a = hash_of("hlat_a"), b = hash_of("hlat_b");
    hl_auth_device_t da = device("dev_a", "A", T0 + 1000), db = device("dev_b", "B", T0 + 1000);
    hl_token_table_put(&a, &da);
    hl_token_table_put(&b, &db);
    ck_assert_uint_eq(hl_token_table_count(), 2);
    hl_token_table_remove(&a);
    ck_assert_uint_eq(hl_token_table_count(), 1);
    seen_t s = {0};
    bool post;
    ck_assert(!lookup("hlat_a", T0, &s, &post));
    ck_assert(lookup("hlat_b", T0, &s, &post));
    ck_assert_str_eq(s.id, "dev_b");
    /* removing again, or something never added, is harmless */
    hl_token_table_remove(&a);
    hl_token_hash_t c = hash_of("hlat_c");
    hl_token_table_remove(&c);
    ck_assert_uint_eq(hl_token_table_count(), 1);
    /* and it can be added back */
    hl_token_table_put(&a, &da);
    ck_assert(lookup("hlat_a", T0, &s, &post));
    ck_assert_uint_eq(hl_token_table_count(), 2);
    free(s.json);
}
END_TEST

START_TEST(prune)
{
    static const int64_t exp[] = {100, 200, 300, 400, 200};
    char tok[32], id[32];
    for (size_t i = 0; i < sizeof(exp) / sizeof(exp[0]); ++i) {
        snprintf(tok, sizeof(tok), "hlat_p%zu", i);
        snprintf(id, sizeof(id), "dev_p%zu", i);
        hl_token_hash_t h = hash_of(tok);
        hl_auth_device_t d = device(id, "P", T0 + exp[i]);
        hl_token_table_put(&h, &d);
    }
    ck_assert_uint_eq(hl_token_table_count(), 5);
    ck_assert_uint_eq(hl_token_table_prune(T0 + 99), 0);
    ck_assert_uint_eq(hl_token_table_count(), 5);
    /* at T0+200 the entries expiring at 100 and 200 are expired (lookup refuses them): pruned */
    ck_assert_uint_eq(hl_token_table_prune(T0 + 200), 3);
    ck_assert_uint_eq(hl_token_table_count(), 2);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_p2", T0 + 250, &s, &post));
    ck_assert(lookup("hlat_p3", T0 + 250, &s, &post));
    ck_assert(!lookup("hlat_p0", T0, &s, &post)); /* gone even when asked with an earlier clock */
    ck_assert(!lookup("hlat_p1", T0, &s, &post));
    ck_assert(!lookup("hlat_p4", T0, &s, &post));
    ck_assert_uint_eq(hl_token_table_prune(T0 + 1000), 2);
    ck_assert_uint_eq(hl_token_table_count(), 0);
    ck_assert_uint_eq(hl_token_table_prune(T0 + 1000), 0);
    free(s.json);
}
END_TEST

START_TEST(many_entries)
{
    char tok[32], id[32];
    for (int i = 0; i < 1000; ++i) {
        snprintf(tok, sizeof(tok), "hlat_many%d", i);
        snprintf(id, sizeof(id), "dev_%d", i);
        hl_token_hash_t h = hash_of(tok);
        hl_auth_device_t d = device(id, "M", T0 + 1000 + i);
        hl_token_table_put(&h, &d);
    }
    ck_assert_uint_eq(hl_token_table_count(), 1000);
    seen_t s = {0};
    bool post;
    for (int i = 0; i < 1000; i += 37) {
        snprintf(tok, sizeof(tok), "hlat_many%d", i);
        snprintf(id, sizeof(id), "dev_%d", i);
        ck_assert(lookup(tok, T0, &s, &post));
        ck_assert_str_eq(s.id, id);
        ck_assert_int_eq(s.expires, T0 + 1000 + i);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(tok, sizeof(tok), "hlat_many%d", i);
        hl_token_hash_t h = hash_of(tok);
        hl_token_table_remove(&h);
    }
    ck_assert_uint_eq(hl_token_table_count(), 500);
    ck_assert_uint_eq(hl_token_table_prune(T0 + 1500), 250); /* odd i < 500 */
    ck_assert_uint_eq(hl_token_table_count(), 250);
    free(s.json);
}
END_TEST

START_TEST(post_seen_debounce)
{
    hl_token_hash_t h = hash_of("hlat_s");
    hl_auth_device_t d = device("dev_s", "S", T0 + 24 * 60 * MIN_MS);
    hl_token_table_put(&h, &d);
    seen_t s = {0};
    bool post = false;
    ck_assert(lookup("hlat_s", T0, &s, &post));
    ck_assert(post); /* first use of a fresh entry */
    post = true;
    ck_assert(lookup("hlat_s", T0, &s, &post));
    ck_assert(!post); /* same instant */
    post = true;
    ck_assert(lookup("hlat_s", T0 + MIN_MS - 1, &s, &post));
    ck_assert(!post); /* within the interval */
    ck_assert(lookup("hlat_s", T0 + MIN_MS, &s, &post));
    ck_assert(post); /* a full interval later */
    ck_assert(lookup("hlat_s", T0 + MIN_MS + 1, &s, &post));
    ck_assert(!post);
    /* the interval counts from the last time post_seen was set, not from the last lookup */
    ck_assert(lookup("hlat_s", T0 + 2 * MIN_MS - 1, &s, &post));
    ck_assert(!post);
    ck_assert(lookup("hlat_s", T0 + 2 * MIN_MS, &s, &post));
    ck_assert(post);
    ck_assert(lookup("hlat_s", T0 + 10 * MIN_MS, &s, &post));
    ck_assert(post);
    /* an expired lookup never asks for a last-seen write */
    hl_token_hash_t h2 = hash_of("hlat_s2");
    hl_auth_device_t d2 = device("dev_s2", "S2", T0);
    hl_token_table_put(&h2, &d2);
    ck_assert(!lookup("hlat_s2", T0 + MIN_MS, &s, &post));
    ck_assert(!post);
    free(s.json);
}
END_TEST

START_TEST(post_seen_per_entry)
{
    hl_token_hash_t a = hash_of("hlat_pa"), b = hash_of("hlat_pb");
    hl_auth_device_t da = device("dev_pa", "A", T0 + 10 * MIN_MS), db = device("dev_pb", "B", T0 + 10 * MIN_MS);
    hl_token_table_put(&a, &da);
    hl_token_table_put(&b, &db);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_pa", T0, &s, &post));
    ck_assert(post);
    ck_assert(lookup("hlat_pb", T0 + 1, &s, &post));
    ck_assert(post); /* b has its own debounce */
    ck_assert(lookup("hlat_pa", T0 + 2, &s, &post));
    ck_assert(!post);
    ck_assert(lookup("hlat_pb", T0 + 3, &s, &post));
    ck_assert(!post);
    free(s.json);
}
END_TEST

START_TEST(replace_keeps_debounce)
{
    hl_token_hash_t h = hash_of("hlat_k");
    hl_auth_device_t d = device("dev_k", "Before", T0 + 10 * MIN_MS);
    hl_token_table_put(&h, &d);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_k", T0, &s, &post));
    ck_assert(post);
    d.label = "After"; /* a rename republishes the entry */
    hl_token_table_put(&h, &d);
    ck_assert(lookup("hlat_k", T0 + 1000, &s, &post));
    ck_assert_str_eq(s.label, "After");
    ck_assert(!post); /* no new last-seen write because of the rename */
    ck_assert(lookup("hlat_k", T0 + MIN_MS, &s, &post));
    ck_assert(post);
    /* a removed and re-added entry starts afresh */
    hl_token_table_remove(&h);
    hl_token_table_put(&h, &d);
    ck_assert(lookup("hlat_k", T0 + MIN_MS + 1, &s, &post));
    ck_assert(post);
    free(s.json);
}
END_TEST

/* The generation moves with every change that can end a token's validity (event streams re-check their tokens only
 * then), and not when nothing changed. */
START_TEST(generation_moves_on_changes)
{
    hl_token_hash_t h = hash_of("hlat_g");
    hl_auth_device_t d = device("dev_g", "G", T0 + 100);
    uint64_t g0 = hl_token_table_generation();
    hl_token_table_put(&h, &d);
    uint64_t g1 = hl_token_table_generation();
    ck_assert(g1 != g0);
    hl_token_table_put(&h, &d); /* a replacement */
    uint64_t g2 = hl_token_table_generation();
    ck_assert(g2 != g1);
    seen_t s = {0};
    bool post;
    ck_assert(lookup("hlat_g", T0, &s, &post)); /* reads do not move it */
    hl_token_hash_t absent = hash_of("hlat_absent");
    hl_token_table_remove(&absent);
    ck_assert_uint_eq(hl_token_table_prune(T0), 0);
    ck_assert(hl_token_table_generation() == g2);
    hl_token_table_remove(&h);
    uint64_t g3 = hl_token_table_generation();
    ck_assert(g3 != g2);
    hl_token_table_put(&h, &d);
    uint64_t g4 = hl_token_table_generation();
    ck_assert_uint_eq(hl_token_table_prune(T0 + 100), 1);
    ck_assert(hl_token_table_generation() != g4);
    free(s.json);
}
END_TEST

Suite *suite_token_table(void)
{
    Suite *s = suite_create("token_table");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, put_then_lookup);
    tcase_add_test(tc, null_model_and_unbound);
    tcase_add_test(tc, json_is_built_by_the_table);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, replace);
    tcase_add_test(tc, remove_entry);
    tcase_add_test(tc, prune);
    tcase_add_test(tc, many_entries);
    tcase_add_test(tc, generation_moves_on_changes);
    suite_add_tcase(s, tc);

    TCase *seen = tcase_create("post_seen");
    tcase_add_checked_fixture(seen, setup, teardown);
    tcase_add_test(seen, post_seen_debounce);
    tcase_add_test(seen, post_seen_per_entry);
    tcase_add_test(seen, replace_keeps_debounce);
    suite_add_tcase(s, seen);
    return s;
}
