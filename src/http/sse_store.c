/*
 * The store as the SSE hub's source: committed conversation events are published to every worker, and both conversation
 * topic kinds replay their history from the store's reader threads.
 */
#include "hl/sse.h"
#include "hl/store.h"

static void to_sse(const hl_event_record_t *in, size_t n, hl_sse_record_t *out)
{
    for (size_t i = 0; i < n; ++i)
        out[i] = (hl_sse_record_t){.event_id = in[i].event_id,
                                   .seq = in[i].seq,
                                   .key = in[i].conversation_id,
                                   .type = in[i].type,
                                   .notify = in[i].notify,
                                   .json = in[i].json,
                                   .json_len = in[i].json_len};
}

static void on_commit(void *data, const hl_store_commit_t *c)
{
    if (c->num_events == 0)
        return;
    hl_sse_record_t *recs = hl_malloc(sizeof(*recs) * c->num_events);
    to_sse(c->events, c->num_events, recs);
    hl_sse_publish(recs, c->num_events);
    free(recs);
}

static void on_page(void *page_ctx, const hl_event_record_t *records, size_t n, bool more, bool failed)
{
    hl_sse_record_t *recs = hl_malloc(sizeof(*recs) * (n ? n : 1));
    to_sse(records, n, recs);
    hl_sse_deliver_page(page_ctx, recs, n, more, failed);
    free(recs);
}

static void read_page(void *data, const char *key, int64_t after, bool notifications_only, size_t limit, void *page_ctx)
{
    hl_event_page_req_t req = {.conversation_id = key, .after = after, .notifications_only = notifications_only, .limit = limit};
    hl_store_read_events(data, &req, on_page, page_ctx);
}

void hl_sse_attach_store(hl_store_t *store)
{
    hl_sse_source_t src = {.read = read_page, .data = store};
    hl_sse_set_source(HL_SSE_TOPIC_ALL, &src);
    hl_sse_set_source(HL_SSE_TOPIC_CONVERSATION, &src);
    hl_store_observe(store, on_commit, NULL);
}
