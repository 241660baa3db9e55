/*
 * The run-event and approval mapping: an upstream run event stream (Hermes's GET /v1/runs/{id}/events) as the runproxy
 * reads it for a conversation run (runproxy_conv.c): the bytes go through the SSE parser in two pieces (byte 0 picks the
 * cut), each event's data is parsed as JSON as on_sse does (not an object: ignored when empty or "[DONE]", else the run
 * fails and the stream stops), and each object goes through rp_event_map, the mapping on_event acts on, until a terminal
 * event ends the run.
 * Checks (spec/UPSTREAM-HERMES.md §1.4, spec/API.md §7): the type is the event's "event"/"type" string, else the SSE
 * name, else "message"; each type maps to its action and store event kind, and only run.completed/failed/cancelled end
 * the run; message.delta text is delta|text|content; strings handed to the store are the event's strings; an approval
 * is a terminal_command with choices absent (the default once/session/always/deny) or a non-empty array of strings;
 * usage absent or {input_tokens, output_tokens, total_tokens}, all integers ≥ 0; a failure has a non-empty message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hl/sse_parser.h"
#include "runproxy_events.h"
#include "runproxy_internal.h"

#define CHECK(c)                                                                                                                   \
    do {                                                                                                                           \
        if (!(c))                                                                                                                  \
            abort();                                                                                                               \
    } while (0)

typedef struct {
    bool ended;
} run_t;

/* v is NULL or the string member `key` of ev itself (borrowed, not a copy) */
static void check_member(json_t *ev, const char *key, const char *v)
{
    if (v != NULL)
        CHECK(v == json_string_value(json_object_get(ev, key)));
}

static bool is_type(const char *type, const char *name)
{
    return strcmp(type, name) == 0;
}

static void check_usage(json_t *u)
{
    if (u == NULL)
        return;
    CHECK(json_is_object(u) && json_object_size(u) == 3);
    const char *keys[] = {"input_tokens", "output_tokens", "total_tokens"};
    for (size_t i = 0; i < 3; ++i) {
        json_t *n = json_object_get(u, keys[i]);
        CHECK(json_is_integer(n) && json_integer_value(n) >= 0);
    }
}

static void check_choices(json_t *choices)
{
    if (choices == NULL)
        return;
    CHECK(json_is_array(choices) && json_array_size(choices) > 0);
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
        CHECK(json_is_string(c) && json_string_length(c) > 0);
    }
}

static void check(json_t *ev, const char *sse_name, const rp_event_map_t *m)
{
    /* the type */
    const char *own = json_string_value(json_object_get(ev, "event"));
    if (own == NULL)
        own = json_string_value(json_object_get(ev, "type"));
    const char *want = own != NULL ? own : sse_name[0] != '\0' ? sse_name : "message";
    CHECK(m->type != NULL && strcmp(m->type, want) == 0);
    const char *t = m->type;
    bool terminal = is_type(t, "run.completed") || is_type(t, "run.failed") || is_type(t, "run.cancelled");
    CHECK(m->terminal == terminal);
    CHECK(m->terminal == rp_event_terminal(t));
    switch (m->action) {
    case RP_EVENT_TEXT:
        CHECK(is_type(t, "message.delta"));
        if (m->text != NULL)
            CHECK(m->text == json_string_value(json_object_get(ev, "delta")) ||
                  m->text == json_string_value(json_object_get(ev, "text")) ||
                  m->text == json_string_value(json_object_get(ev, "content")));
        else
            CHECK(!json_is_string(json_object_get(ev, "delta")) && !json_is_string(json_object_get(ev, "text")) &&
                  !json_is_string(json_object_get(ev, "content")));
        break;
    case RP_EVENT_APPROVAL_RESPONDED:
        CHECK(is_type(t, "approval.responded"));
        break;
    case RP_EVENT_FAILED:
        CHECK(is_type(t, "run.failed"));
        CHECK(m->message != NULL && m->message[0] != '\0');
        break;
    case RP_EVENT_IGNORE:
        CHECK(!terminal && !is_type(t, "message.delta") && !is_type(t, "tool.started") && !is_type(t, "tool.completed") &&
              !is_type(t, "reasoning.available") && !is_type(t, "approval.request") && !is_type(t, "approval.requested") &&
              !is_type(t, "approval.responded"));
        break;
    case RP_EVENT_REPORT: {
        const hl_run_event_t *e = &m->event;
        if (e->kind != HL_RUN_EVENT_COMPLETED)
            CHECK(e->usage == NULL);
        switch (e->kind) {
        case HL_RUN_EVENT_TOOL_STARTED:
            CHECK(is_type(t, "tool.started"));
            check_member(ev, "tool", e->tool);
            check_member(ev, "preview", e->preview);
            break;
        case HL_RUN_EVENT_TOOL_COMPLETED:
            CHECK(is_type(t, "tool.completed"));
            check_member(ev, "tool", e->tool);
            CHECK(e->tool_error == json_is_true(json_object_get(ev, "error")));
            break;
        case HL_RUN_EVENT_REASONING:
            CHECK(is_type(t, "reasoning.available"));
            check_member(ev, "text", e->text);
            break;
        case HL_RUN_EVENT_APPROVAL:
            CHECK(is_type(t, "approval.request") || is_type(t, "approval.requested"));
            CHECK(e->approval.kind != NULL && strcmp(e->approval.kind, "terminal_command") == 0);
            check_member(ev, "command", e->approval.command);
            check_member(ev, "description", e->approval.description);
            check_choices(e->approval.choices);
            if (e->approval.choices != NULL)
                CHECK(e->approval.choices == json_object_get(ev, "choices"));
            break;
        case HL_RUN_EVENT_COMPLETED:
            CHECK(is_type(t, "run.completed"));
            check_member(ev, "output", e->text);
            check_usage(e->usage);
            break;
        case HL_RUN_EVENT_CANCELLED:
            CHECK(is_type(t, "run.cancelled"));
            break;
        default:
            abort(); /* delta, upstream and failed events are not made from upstream events */
        }
        break;
    }
    default:
        abort();
    }
}

static int on_sse(void *data, const hl_sse_event_t *sse)
{
    run_t *run = data;
    CHECK(!run->ended); /* nothing is read after the run ended */
    CHECK(sse->data[sse->data_len] == '\0');
    json_t *ev = json_loadb(sse->data, sse->data_len, 0, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        if (sse->data_len == 0 || strcmp(sse->data, "[DONE]") == 0)
            return 0;
        run->ended = true; /* hermes_stream_invalid */
        return 1;
    }
    rp_event_map_t m;
    rp_event_map(ev, sse->event, &m);
    check(ev, sse->event, &m);
    rp_event_map_dispose(&m);
    json_decref(ev);
    if (m.terminal)
        run->ended = true;
    return m.terminal;
}

/** libFuzzer's entry: byte 0 places the cut between the two pieces, the rest is the event stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1, cut = n == 0 ? 0 : (size_t)data[0] * n / 255;
    hl_sse_parser_t p;
    hl_sse_parser_init(&p, 64 * 1024); /* RP_MAX_EVENT_BYTES is 4 MiB: a smaller limit lets inputs reach it */
    run_t run = {0};
    int ret = hl_sse_parser_feed(&p, s, cut, on_sse, &run);
    if (ret == 0 && !run.ended)
        ret = hl_sse_parser_feed(&p, s + cut, n - cut, on_sse, &run);
    CHECK(ret >= 0 || !run.ended);
    hl_sse_parser_dispose(&p);
    return 0;
}
