#include "hl/reply.h"

#include <string.h>

hl_result_t *hl_result_ok(hl_result_kind_t kind, json_t *body)
{
    hl_result_t *r = hl_calloc(1, sizeof(*r));
    r->kind = kind;
    r->body = body;
    return r;
}

hl_result_t *hl_result_bytes(char *bytes, size_t len, const char *content_type)
{
    hl_result_t *r = hl_calloc(1, sizeof(*r));
    r->kind = HL_RESULT_OK;
    r->bytes = bytes;
    r->len = len;
    r->content_type = hl_strdup(content_type);
    return r;
}

hl_result_t *hl_result_stream(hl_byte_source_t *source, uint64_t len, const char *content_type)
{
    hl_result_t *r = hl_calloc(1, sizeof(*r));
    r->kind = HL_RESULT_OK;
    r->source = source;
    r->source_len = len;
    r->content_type = hl_strdup(content_type);
    return r;
}

hl_result_t *hl_result_storage_full(void)
{
    return hl_result_error(HL_RESULT_STORAGE_FULL, "insufficient_storage",
                           "The disk is full: nothing was saved. Free some space on the machine running Hermes Link and retry.");
}

hl_result_t *hl_result_error(hl_result_kind_t kind, const char *code, const char *message)
{
    hl_result_t *r = hl_calloc(1, sizeof(*r));
    r->kind = kind;
    r->code = code;
    r->message = hl_strdup(message);
    return r;
}

void hl_result_free(hl_result_t *r)
{
    if (r == NULL)
        return;
    free(r->message);
    json_decref(r->body);
    free(r->bytes);
    free(r->content_type);
    free(r->filename);
    if (r->source != NULL)
        r->source->close(r->source);
    free(r);
}

void hl_reply(hl_reply_to_t *to, hl_result_t *result)
{
    if (to == NULL) {
        hl_result_free(result);
        return;
    }
    to->deliver(to, result);
}
