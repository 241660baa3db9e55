#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hl/sse_parser.h"

/* What the callback saw: one JSON object per event, {event, id, data, raw}. */
typedef struct st_seen_t {
    json_t *events;
    int stop_after; /* return non-zero from the n-th event (0: never) */
} seen_t;

static int on_event(void *data, const hl_sse_event_t *ev)
{
    seen_t *s = data;
    ck_assert_uint_eq(strlen(ev->data), ev->data_len);
    json_array_append_new(s->events, json_pack("{s:s, s:s?, s:s%, s:s%}", "event", ev->event, "id", ev->id, "data", ev->data,
                                               ev->data_len, "raw", ev->raw_data, ev->raw_data_len));
    if (s->stop_after != 0 && json_array_size(s->events) == (size_t)s->stop_after)
        return 7;
    return 0;
}

/* Feeds `text` in pieces of `step` bytes (0: whole) and returns the events seen. */
static json_t *parse(const char *text, size_t len, size_t step, size_t max_event, int *ret)
{
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, max_event);
    seen_t s = {.events = json_array()};
    int r = 0;
    if (step == 0)
        step = len;
    for (size_t off = 0; off < len && r == 0; off += step)
        r = hl_sse_parser_feed(&p, text + off, len - off < step ? len - off : step, on_event, &s);
    if (ret != NULL)
        *ret = r;
    hl_sse_parser_dispose(&p);
    return s.events;
}

static const char *data_of(json_t *events, size_t i)
{
    return json_string_value(json_object_get(json_array_get(events, i), "data"));
}

START_TEST(upstream_framing_every_split)
{
    /* the upstream's framing: data-only frames, comments, the closing comment */
    const char *text = ": keepalive\n\n"
                       "data: {\"event\":\"message.delta\",\"run_id\":\"run_1\",\"delta\":\"Hel\"}\n\n"
                       "data: {\"event\":\"run.completed\",\"run_id\":\"run_1\"}\n\n"
                       ": stream closed\n\n";
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; ++step) {
        json_t *ev = parse(text, len, step, 0, NULL);
        ck_assert_uint_eq(json_array_size(ev), 2);
        ck_assert_str_eq(data_of(ev, 0), "{\"event\":\"message.delta\",\"run_id\":\"run_1\",\"delta\":\"Hel\"}");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "raw")),
                         "data: {\"event\":\"run.completed\",\"run_id\":\"run_1\"}\n");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "event")), "");
        json_decref(ev);
    }
}
END_TEST

START_TEST(line_endings_fields_and_comments)
{
    /* CRLF, lone CR (also split between feeds), several data lines, event and id fields, no space after the colon */
    const char *text = "event: tool\r\nid: 5\r\ndata:a\r\ndata: b\r\n\r\n"
                       ":comment\rdata: c\r\rdata\n\nretry: 10\nunknown: x\ndata: d\n\n";
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; ++step) {
        json_t *ev = parse(text, len, step, 0, NULL);
        ck_assert_uint_eq(json_array_size(ev), 4);
        json_t *e0 = json_array_get(ev, 0);
        ck_assert_str_eq(json_string_value(json_object_get(e0, "event")), "tool");
        ck_assert_str_eq(json_string_value(json_object_get(e0, "id")), "5");
        ck_assert_str_eq(data_of(ev, 0), "a\nb");
        ck_assert_str_eq(json_string_value(json_object_get(e0, "raw")), "data:a\ndata: b\n");
        ck_assert_str_eq(data_of(ev, 1), "c");
        ck_assert_str_eq(data_of(ev, 2), ""); /* a bare "data" line is an empty data field */
        ck_assert_str_eq(data_of(ev, 3), "d");
        ck_assert(!json_is_string(json_object_get(json_array_get(ev, 3), "id"))); /* fields do not leak to the next event */
        json_decref(ev);
    }
}
END_TEST

START_TEST(utf8_split_and_bom)
{
    /* a BOM first, a 3-byte character and a 4-byte emoji split at every position, an escaped "\n\ndata:" in the JSON */
    const char *text = "\xEF\xBB\xBF"
                       "data: {\"delta\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \\n\\ndata: not-an-event\"}\n\n";
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; ++step) {
        json_t *ev = parse(text, len, step, 0, NULL);
        ck_assert_uint_eq(json_array_size(ev), 1);
        json_error_t err;
        json_t *j = json_loads(data_of(ev, 0), 0, &err);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(json_string_value(json_object_get(j, "delta")),
                         "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \n\ndata: not-an-event");
        json_decref(j);
        json_decref(ev);
    }
}
END_TEST

START_TEST(no_dispatch_without_blank_line)
{
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, 0);
    seen_t s = {.events = json_array()};
    ck_assert_int_eq(hl_sse_parser_feed(&p, "data: x\n", 8, on_event, &s), 0);
    ck_assert_uint_eq(json_array_size(s.events), 0);
    ck_assert(hl_sse_parser_pending(&p)); /* a stream that ends here ended inside an event */
    ck_assert_int_eq(hl_sse_parser_feed(&p, "\n", 1, on_event, &s), 0);
    ck_assert_uint_eq(json_array_size(s.events), 1);
    ck_assert(!hl_sse_parser_pending(&p));
    /* an event name without data dispatches nothing */
    ck_assert_int_eq(hl_sse_parser_feed(&p, "event: x\n\n", 10, on_event, &s), 0);
    ck_assert_uint_eq(json_array_size(s.events), 1);
    json_decref(s.events);
    hl_sse_parser_dispose(&p);
}
END_TEST

START_TEST(bounded_event_size)
{
    /* 100-byte limit: a long line fails even before its end arrives, and the parser stays failed */
    char big[300];
    memset(big, 'x', sizeof(big));
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, 100);
    seen_t s = {.events = json_array()};
    ck_assert_int_eq(hl_sse_parser_feed(&p, "data: ", 6, on_event, &s), 0);
    ck_assert_int_eq(hl_sse_parser_feed(&p, big, sizeof(big), on_event, &s), -1);
    ck_assert_int_eq(hl_sse_parser_feed(&p, "\n\ndata: y\n\n", 11, on_event, &s), -1);
    ck_assert_uint_eq(json_array_size(s.events), 0);
    hl_sse_parser_dispose(&p);
    /* many short data lines that add up past the limit fail as well */
    int ret;
    char many[400] = "";
    for (int i = 0; i < 30; ++i)
        strcat(many, "data: 12345\n");
    json_t *ev = parse(many, strlen(many), 7, 100, &ret);
    ck_assert_int_eq(ret, -1);
    ck_assert_uint_eq(json_array_size(ev), 0);
    json_decref(ev);
    json_decref(s.events);
}
END_TEST

START_TEST(callback_stops_the_feed)
{
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, 0);
    seen_t s = {.events = json_array(), .stop_after = 1};
    const char *text = "data: 1\n\ndata: 2\n\n";
    ck_assert_int_eq(hl_sse_parser_feed(&p, text, strlen(text), on_event, &s), 7);
    ck_assert_uint_eq(json_array_size(s.events), 1);
    json_decref(s.events);
    hl_sse_parser_dispose(&p);
}
END_TEST

Suite *suite_sse_parser(void)
{
    Suite *s = suite_create("sse_parser");
    TCase *tc = tcase_create("feed");
    tcase_add_test(tc, upstream_framing_every_split);
    tcase_add_test(tc, line_endings_fields_and_comments);
    tcase_add_test(tc, utf8_split_and_bom);
    tcase_add_test(tc, no_dispatch_without_blank_line);
    tcase_add_test(tc, bounded_event_size);
    tcase_add_test(tc, callback_stops_the_feed);
    suite_add_tcase(s, tc);
    return s;
}
