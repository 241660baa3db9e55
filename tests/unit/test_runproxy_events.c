/*
 * The run-event and approval mapping (src/actors/runproxy_events.c, rp_usage_of): regressions found by fuzz/fuzz_run_events
 * (inputs kept in fuzz/corpus/run_events/).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "../../src/actors/runproxy_events.h"
#include "../../src/actors/runproxy_internal.h"

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* choices that are not a non-empty array of strings are dropped: the store then shows the default four */
START_TEST(approval_choices_are_strings)
{
    const char *bad[] = {"[]", "[1]", "[\"once\", null]", "[\"\"]", "{\"a\":1}", "\"once\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        char text[200];
        snprintf(text, sizeof(text), "{\"event\":\"approval.request\",\"command\":\"ls\",\"choices\":%s}", bad[i]);
        json_t *ev = load(text);
        rp_event_map_t m;
        rp_event_map(ev, "", &m);
        ck_assert_int_eq(m.action, RP_EVENT_REPORT);
        ck_assert_int_eq(m.event.kind, HL_RUN_EVENT_APPROVAL);
        ck_assert_msg(m.event.approval.choices == NULL, "choices %s kept", bad[i]);
        rp_event_map_dispose(&m);
        json_decref(ev);
    }
    json_t *ev = load("{\"event\":\"approval.request\",\"command\":\"ls\",\"choices\":[\"once\",\"deny\"]}");
    rp_event_map_t m;
    rp_event_map(ev, "", &m);
    ck_assert_ptr_eq(m.event.approval.choices, json_object_get(ev, "choices"));
    ck_assert_str_eq(m.event.approval.kind, "terminal_command");
    ck_assert_str_eq(m.event.approval.command, "ls");
    rp_event_map_dispose(&m);
    json_decref(ev);
}
END_TEST

/* negative counts are 0, and a missing total is the sum without overflowing (UBSan reported the overflow) */
START_TEST(usage_never_negative_nor_overflowing)
{
    json_t *ev = load("{\"usage\":{\"input_tokens\":9223372036854775807,\"output_tokens\":1}}");
    json_t *u = rp_usage_of(ev);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "input_tokens")), LLONG_MAX);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "total_tokens")), LLONG_MAX);
    json_decref(u);
    json_decref(ev);
    ev = load("{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":7,\"total_tokens\":-1}}");
    u = rp_usage_of(ev);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "input_tokens")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "output_tokens")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "total_tokens")), 0);
    json_decref(u);
    json_decref(ev);
    ev = load("{\"usage\":{\"input_tokens\":22,\"output_tokens\":10}}");
    u = rp_usage_of(ev);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "total_tokens")), 32);
    json_decref(u);
    json_decref(ev);
}
END_TEST

/* run.failed with an empty error still fails the run with a message; the SSE name gives the type when the data has none */
START_TEST(failure_always_has_a_message)
{
    json_t *ev = load("{\"error\":\"\"}");
    rp_event_map_t m;
    rp_event_map(ev, "run.failed", &m);
    ck_assert_int_eq(m.action, RP_EVENT_FAILED);
    ck_assert(m.terminal);
    ck_assert_str_eq(m.message, "Hermes run failed");
    rp_event_map_dispose(&m);
    json_decref(ev);
    ev = load("{\"event\":\"run.failed\",\"error\":{\"message\":\"overloaded\"}}");
    rp_event_map(ev, "", &m);
    ck_assert_str_eq(m.message, "overloaded");
    rp_event_map_dispose(&m);
    json_decref(ev);
}
END_TEST

/** The suite. */
Suite *suite_runproxy_events(void)
{
    Suite *s = suite_create("runproxy_events");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, approval_choices_are_strings);
    tcase_add_test(tc, usage_never_negative_nor_overflowing);
    tcase_add_test(tc, failure_always_has_a_message);
    suite_add_tcase(s, tc);
    return s;
}
