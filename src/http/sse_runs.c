/*
 * The run proxy as the SSE hub's source of run topics: relayed upstream run frames are published to every worker, and
 * a run stream replays the frames the run proxy keeps.
 */
#include "hl/runproxy.h"
#include "hl/sse.h"

static void to_sse(const hl_run_frame_t *in, size_t n, hl_sse_record_t *out)
{
    for (size_t i = 0; i < n; ++i)
        out[i] = (hl_sse_record_t){
            .seq = in[i].seq, .key = in[i].run_id, .json = in[i].lines, .json_len = in[i].len, .run = true, .final = in[i].final};
}

static void on_frames(void *data, const hl_run_frame_t *frames, size_t n)
{
    (void)data;
    /* usually a frame or a few per run and loop turn: no allocation for them (zeroed: gcc -O2 cannot tell that to_sse
       fills the n it publishes) */
    hl_sse_record_t stack[16] = {0};
    hl_sse_record_t *recs = n <= HL_ARRAY_SIZE(stack) ? stack : hl_malloc(sizeof(*recs) * n);
    to_sse(frames, n, recs);
    hl_sse_publish(recs, n);
    if (recs != stack)
        free(recs);
}

static void on_page(void *page_ctx, const hl_run_frame_t *frames, size_t n, bool more, bool failed)
{
    hl_sse_record_t *recs = hl_malloc(sizeof(*recs) * (n ? n : 1));
    to_sse(frames, n, recs);
    hl_sse_deliver_page(page_ctx, recs, n, more, failed);
    free(recs);
}

static void read_page(void *data, const char *key, int64_t after, bool notifications_only, size_t limit, void *page_ctx)
{
    (void)notifications_only;
    hl_runproxy_read_frames(data, key, after, limit, on_page, page_ctx);
}

void hl_sse_attach_runproxy(hl_runproxy_t *runproxy)
{
    hl_sse_source_t src = {.read = read_page, .data = runproxy};
    hl_sse_set_source(HL_SSE_TOPIC_RUN, &src);
    hl_runproxy_observe_frames(runproxy, on_frames, NULL);
}
