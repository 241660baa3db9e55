#include "h2_bodies.h"

#include <h2o/http2.h>
/* after http2.h, which it needs; its khash.h comes from src/http/h2o_private (see there) */
#include <h2o/http2_internal.h>

/* h2o keeps at most 100 open streams and a few closing ones per connection; a table far larger is not one of its own */
#define MAX_BUCKETS (1u << 16)

/* The body bytes held by the streams of one connection, or -1 when an entry does not belong to it. */
static int64_t held_by(h2o_http2_conn_t *conn)
{
    khash_t(h2o_http2_stream_t) *streams = conn->streams;
    if (streams == NULL)
        return 0;
    if (streams->n_buckets > MAX_BUCKETS || streams->size > streams->n_buckets)
        return -1;
    uint64_t held = 0;
    for (khiter_t i = 0; i != kh_end(streams); ++i) {
        if (!kh_exist(streams, i))
            continue;
        h2o_http2_stream_t *stream = kh_val(streams, i);
        if (stream == NULL || stream->req.conn != &conn->super || stream->stream_id != (uint32_t)kh_key(streams, i))
            return -1;
        if (stream->_req_body != NULL)
            held += stream->_req_body->size;
    }
    return (int64_t)held;
}

bool hl_h2_bodies_each(h2o_context_t *ctx, hl_h2_bodies_want_fn want, hl_h2_bodies_fn each, void *data)
{
    bool layout_ok = true;
    for (h2o_linklist_t *l = ctx->http2._conns.next; l != &ctx->http2._conns; l = l->next) {
        h2o_http2_conn_t *conn = H2O_STRUCT_FROM_MEMBER(h2o_http2_conn_t, _conns, l);
        if (conn->sock == NULL)
            continue; /* an upgrade not yet complete */
        if (want != NULL && !want(data, conn->sock))
            continue;
        int64_t held = held_by(conn);
        if (held < 0) {
            layout_ok = false;
            continue;
        }
        each(data, conn->sock, (uint64_t)held);
    }
    return layout_ok;
}
