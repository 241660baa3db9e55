/*
 * The mapping of one upstream run event to the runproxy's action (runproxy_events.h): message.delta text, tool,
 * reasoning and approval events for the store, approval.responded, and the three terminal events.
 */
#include "runproxy_events.h"

#include <string.h>

#include "runproxy_internal.h"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* An approval's choices as the client is shown them: a non-empty array of non-empty strings, else NULL (the upstream's
 * default choices, which the store shows instead): anything else would give a client buttons it cannot show or answers
 * the upstream refuses (400 invalid_approval_choice). */
static json_t *approval_choices(json_t *choices)
{
    if (!json_is_array(choices) || json_array_size(choices) == 0)
        return NULL;
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c)
    {
        if (!json_is_string(c) || json_string_length(c) == 0)
            return NULL;
    }
    return choices;
}

void rp_event_map(json_t *ev, const char *sse_name, rp_event_map_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *type = rp_event_type(ev);
    if (type == NULL)
        type = sse_name != NULL && sse_name[0] != '\0' ? sse_name : "message";
    out->type = type;
    if (strcmp(type, "message.delta") == 0) {
        const char *d = str(ev, "delta");
        if (d == NULL)
            d = str(ev, "text");
        if (d == NULL)
            d = str(ev, "content");
        out->action = RP_EVENT_TEXT;
        out->text = d;
        return;
    }
    out->action = RP_EVENT_REPORT;
    if (strcmp(type, "tool.started") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_TOOL_STARTED, .tool = str(ev, "tool"), .preview = str(ev, "preview")};
    } else if (strcmp(type, "tool.completed") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_TOOL_COMPLETED,
                                      .tool = str(ev, "tool"),
                                      .duration = json_number_value(json_object_get(ev, "duration")),
                                      .tool_error = json_is_true(json_object_get(ev, "error"))};
    } else if (strcmp(type, "reasoning.available") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_REASONING, .text = str(ev, "text")};
    } else if (strcmp(type, "approval.request") == 0 || strcmp(type, "approval.requested") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_APPROVAL,
                                      .approval = {.kind = "terminal_command",
                                                   .command = str(ev, "command"),
                                                   .description = str(ev, "description"),
                                                   .choices = approval_choices(json_object_get(ev, "choices"))}};
    } else if (strcmp(type, "approval.responded") == 0) {
        out->action = RP_EVENT_APPROVAL_RESPONDED;
    } else if (strcmp(type, "run.completed") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_COMPLETED, .usage = rp_usage_of(ev), .text = str(ev, "output")};
        out->terminal = true;
    } else if (strcmp(type, "run.failed") == 0) {
        json_t *err = json_object_get(ev, "error");
        const char *m = json_string_value(err);
        if (m == NULL)
            m = str(err, "message");
        out->action = RP_EVENT_FAILED;
        out->message = m != NULL && m[0] != '\0' ? m : "Hermes run failed"; /* an error always says something */
        out->terminal = true;
    } else if (strcmp(type, "run.cancelled") == 0) {
        out->event = (hl_run_event_t){.kind = HL_RUN_EVENT_CANCELLED};
        out->terminal = true;
    } else {
        out->action = RP_EVENT_IGNORE;
    }
}

void rp_event_map_dispose(rp_event_map_t *m)
{
    json_decref(m->event.usage);
    m->event.usage = NULL;
}
