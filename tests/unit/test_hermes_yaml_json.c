/*
 * config.yaml as JSON (src/actors/hermes_yaml_json.c): plain scalars typed as PyYAML types them, quoted ones kept as
 * strings, aliases bounded, the top level a mapping.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "../../src/actors/hermes_internal.h"

static json_t *load(const char *text)
{
    json_t *out = NULL;
    char err[256];
    ck_assert_msg(hermes_yaml_json(text, strlen(text), &out, err, sizeof(err)) == 0, "%s", err);
    return out;
}

START_TEST(scalars_are_typed_as_pyyaml_types_them)
{
    json_t *v = load("# c\n"
                     "a: yes\nb: Off\nc: 'yes'\nd: 8642\ne: \"8642\"\nf: 0x1F\ng: 010\nh: 1_000\ni: 1.5\nj: ~\nk:\n"
                     "l: text here\nm: [1, two, null]\nn: {x: 1}\no: 1.2.3\np: -7\nq: |\n  block\n");
    ck_assert(json_is_true(json_object_get(v, "a")));
    ck_assert(json_is_false(json_object_get(v, "b")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "c")), "yes");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "d")), 8642);
    ck_assert_str_eq(json_string_value(json_object_get(v, "e")), "8642");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "f")), 31);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "g")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(v, "h")), 1000);
    ck_assert(json_real_value(json_object_get(v, "i")) == 1.5);
    ck_assert(json_is_null(json_object_get(v, "j")));
    ck_assert(json_is_null(json_object_get(v, "k")));
    ck_assert_str_eq(json_string_value(json_object_get(v, "l")), "text here");
    json_t *m = json_object_get(v, "m");
    ck_assert_int_eq(json_array_size(m), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(m, 0)), 1);
    ck_assert_str_eq(json_string_value(json_array_get(m, 1)), "two");
    ck_assert(json_is_null(json_array_get(m, 2)));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "n"), "x")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(v, "o")), "1.2.3");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "p")), -7);
    ck_assert_str_eq(json_string_value(json_object_get(v, "q")), "block\n");
    json_decref(v);
}
END_TEST

START_TEST(empty_repeated_and_refused)
{
    json_t *v = load("");
    ck_assert(json_is_object(v) && json_object_size(v) == 0);
    json_decref(v);
    v = load("a: 1\na: 2\n");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 2); /* the last one, as PyYAML keeps it */
    json_decref(v);
    json_t *out = NULL;
    char err[256];
    ck_assert_int_eq(hermes_yaml_json("- a\n- b\n", 8, &out, err, sizeof(err)), -EINVAL);
    ck_assert(out == NULL && strstr(err, "mapping") != NULL);
    ck_assert_int_eq(hermes_yaml_json("a: [\n", 5, &out, err, sizeof(err)), -EINVAL);
    /* nested aliases that would expand to 10^6 values stay bounded */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    ck_assert_int_eq(hermes_yaml_json(laughs, strlen(laughs), &out, err, sizeof(err)), -EFBIG);
    ck_assert(out == NULL);
    /* found by fuzz/fuzz_config_read.c: an alias inside the node it names recursed until the stack overflowed */
    const char *const recursive[] = {"a: &x [*x]\n", "a: &x {b: *x}\n", "a: &x [1, [2, *x]]\n"};
    for (size_t i = 0; i < sizeof(recursive) / sizeof(recursive[0]); ++i) {
        ck_assert_int_eq(hermes_yaml_json(recursive[i], strlen(recursive[i]), &out, err, sizeof(err)), -EFBIG);
        ck_assert(out == NULL && strstr(err, "levels") != NULL);
    }
}
END_TEST

Suite *suite_hermes_yaml_json(void)
{
    Suite *s = suite_create("hermes_yaml_json");
    TCase *tc = tcase_create("convert");
    tcase_add_test(tc, scalars_are_typed_as_pyyaml_types_them);
    tcase_add_test(tc, empty_repeated_and_refused);
    suite_add_tcase(s, tc);
    return s;
}
