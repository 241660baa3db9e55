#include "conn_guard.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2_bodies.h"
#include "hl/keyed_counts.h"
#include "hl/log.h"

/* The head of h2o 2.2.5's private `struct st_h2o_http1_conn_t` (lib/http1.c): the connection, its socket, its place in
 * the context's list, and the request timeout entry linked into ctx->http1.req_timeout while a request is being read.
 * Every socket found through it is checked against the sockets this worker admitted before it is used, so a different
 * layout would only turn the body-timeout extension off (tests/integration test_edge_limits catches that). */
struct h1_conn_head {
    h2o_conn_t super;
    h2o_socket_t *sock;
    h2o_linklist_t conns;
    h2o_timeout_t *timeout;
    h2o_timeout_entry_t timeout_entry;
};

/* h2o 2.2.5 refuses a request head longer than this (H2O_MAX_REQLEN) */
#define MAX_HEAD_BYTES 8192
#define INITIAL_BUCKETS 1024

typedef struct st_conn_rec_t conn_rec_t;

typedef struct st_hl_conn_guard_t {
    hl_worker_t *worker;
    conn_rec_t **buckets;
    size_t num_buckets; /* a power of two */
    size_t num_recs;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
} conn_guard_t;

struct st_conn_rec_t {
    conn_rec_t *next;
    conn_guard_t *guard;
    h2o_socket_t *sock;
    bool counted_address;
    hl_addr_key_t key;
    size_t last_input;   /* request bytes held at the last tick */
    uint64_t held;       /* body bytes counted against the address */
    bool ending;         /* shut down past the body cap: h2o closes it once it notices */
    uint64_t body_since; /* when the body being read was first seen (loop ms), 0 when none */
};

static hl_conn_limits_t limits = {.max_connections = 1 << 30, .max_connections_per_address = 1 << 30};
static atomic_int total_connections;
static hl_keyed_counts_t per_address;
static hl_keyed_counts_t bytes_per_address;
static atomic_int_fast64_t refusal_logged_ms = -60000;

void hl_conn_guard_configure(const hl_conn_limits_t *l)
{
    limits = *l;
    if (per_address.buckets == NULL) {
        hl_keyed_counts_init(&per_address);
        hl_keyed_counts_init(&bytes_per_address);
    }
}

static size_t bucket_of(const conn_guard_t *g, const h2o_socket_t *sock)
{
    uintptr_t p = (uintptr_t)sock;
    return (size_t)((p >> 4) ^ (p >> 13)) & (g->num_buckets - 1);
}

static conn_rec_t *lookup(conn_guard_t *g, const h2o_socket_t *sock)
{
    for (conn_rec_t *r = g->buckets[bucket_of(g, sock)]; r != NULL; r = r->next)
        if (r->sock == sock)
            return r;
    return NULL;
}

static void grow(conn_guard_t *g)
{
    conn_rec_t **old = g->buckets;
    size_t n = g->num_buckets;
    g->num_buckets *= 2;
    g->buckets = hl_calloc(g->num_buckets, sizeof(*g->buckets));
    for (size_t i = 0; i < n; ++i) {
        while (old[i] != NULL) {
            conn_rec_t *r = old[i];
            old[i] = r->next;
            size_t b = bucket_of(g, r->sock);
            r->next = g->buckets[b];
            g->buckets[b] = r;
        }
    }
    free(old);
}

/* h2o closes the socket: the connection stops counting. */
static void on_socket_close(void *data)
{
    conn_rec_t *rec = data;
    conn_guard_t *g = rec->guard;
    for (conn_rec_t **p = &g->buckets[bucket_of(g, rec->sock)]; *p != NULL; p = &(*p)->next) {
        if (*p == rec) {
            *p = rec->next;
            break;
        }
    }
    --g->num_recs;
    if (rec->held > 0)
        hl_keyed_counts_add(&bytes_per_address, rec->key.b, sizeof(rec->key.b), -(int64_t)rec->held, 0);
    if (rec->counted_address)
        hl_keyed_counts_release(&per_address, rec->key.b, sizeof(rec->key.b));
    atomic_fetch_sub(&total_connections, 1);
    free(rec);
}

static bool exempt(const uint8_t addr[16])
{
    return (hl_addr_is_loopback(addr) && !limits.count_loopback) ||
           hl_cidr_any_contains(limits.trusted_proxies, limits.num_trusted_proxies, addr);
}

/* Past a cap: a plain-HTTP client reads why (the answer goes out before its request is read, which HTTP/1.1 clients
 * accept); a TLS client cannot be told before a handshake that would cost more than the refusal saves. */
static void refuse(h2o_socket_t *sock, bool tls, int status, const char *code, const char *message, uint64_t now)
{
    if (!tls) {
        char body[256], resp[512];
        int blen = snprintf(body, sizeof(body), "{\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n"
                           "Retry-After: 5\r\n\r\n%s",
                           status, status == 429 ? "Too Many Requests" : "Service Unavailable", blen, body);
        ssize_t wr = write(h2o_socket_get_fd(sock), resp, (size_t)len); /* best effort: a fresh socket has room */
        (void)wr;
    }
    int64_t last = atomic_load(&refusal_logged_ms);
    if ((int64_t)now - last >= 60000 && atomic_compare_exchange_strong(&refusal_logged_ms, &last, (int64_t)now))
        hl_logf(HL_LOG_WARN, "server: connection refused: %s (logged at most once a minute)", message);
    h2o_socket_close(sock);
}

bool hl_conn_guard_admit(hl_worker_t *w, h2o_socket_t *sock, bool tls)
{
    conn_guard_t *g = w->guard;
    uint64_t now = h2o_now(w->loop);
    struct sockaddr_storage ss;
    uint8_t addr[16];
    bool counted_address = false;
    hl_addr_key_t key;
    memset(&key, 0, sizeof(key));
    if (atomic_fetch_add(&total_connections, 1) >= limits.max_connections) {
        atomic_fetch_sub(&total_connections, 1);
        refuse(sock, tls, 503, "server_busy", "The server has as many connections as it accepts; retry shortly", now);
        return false;
    }
    if (h2o_socket_getpeername(sock, (struct sockaddr *)&ss) > 0 && hl_sockaddr_to_v6((struct sockaddr *)&ss, addr) &&
        !exempt(addr)) {
        key = hl_addr_key(addr);
        if (!hl_keyed_counts_acquire(&per_address, key.b, sizeof(key.b), (uint64_t)limits.max_connections_per_address)) {
            atomic_fetch_sub(&total_connections, 1);
            refuse(sock, tls, 429, "too_many_connections", "Too many connections from this address; close some and retry", now);
            return false;
        }
        counted_address = true;
    }
    conn_rec_t *rec = hl_calloc(1, sizeof(*rec));
    rec->guard = g;
    rec->sock = sock;
    rec->counted_address = counted_address;
    rec->key = key;
    size_t b = bucket_of(g, sock);
    rec->next = g->buckets[b];
    g->buckets[b] = rec;
    if (++g->num_recs > g->num_buckets * 2)
        grow(g);
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = rec;
    return true;
}

h2o_socket_t *hl_conn_guard_h1_socket(hl_worker_t *w, h2o_req_t *req)
{
    if (req->version >= 0x200 || w->guard == NULL)
        return NULL;
    h2o_socket_t *candidate = ((struct h1_conn_head *)req->conn)->sock;
    /* compared by value first: nothing is read through the candidate unless this worker admitted it */
    return lookup(w->guard, candidate) != NULL ? candidate : NULL;
}

/* The length of the request head at the start of the buffer (up to the blank line), or 0 when it is not complete. */
static size_t head_length(const h2o_buffer_t *in)
{
    size_t n = in->size < MAX_HEAD_BYTES + 4 ? in->size : MAX_HEAD_BYTES + 4;
    const char *crlf = memmem(in->bytes, n, "\r\n\r\n", 4), *lf = memmem(in->bytes, n, "\n\n", 2);
    if (crlf != NULL && (lf == NULL || crlf < lf))
        return (size_t)(crlf - in->bytes) + 4;
    return lf != NULL ? (size_t)(lf - in->bytes) + 2 : 0;
}

/* A header line's value with surrounding blanks removed, when the line's name is `name` (any case). */
static bool header_value(const char *line, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t nlen = strlen(name);
    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return false;
    const char *v = line + nlen + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        ++v;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        --end;
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}

bool hl_conn_guard_ambiguous_framing(hl_worker_t *w, h2o_req_t *req)
{
    if (req->entity.base == NULL)
        return false; /* no body: neither header was given */
    h2o_socket_t *sock = hl_conn_guard_h1_socket(w, req);
    size_t head = sock != NULL ? head_length(sock->input) : 0;
    if (head == 0)
        return false;
    const char *p = sock->input->bytes, *end = p + head, *cl = NULL, *v;
    size_t cl_len = 0, v_len;
    bool te = false;
    for (const char *line = memchr(p, '\n', head); line != NULL && line + 1 < end;) {
        ++line; /* past the previous line's end: headers follow the request line */
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t len = eol != NULL ? (size_t)(eol - line) : (size_t)(end - line);
        if (header_value(line, len, "content-length", &v, &v_len)) {
            if (cl != NULL && (v_len != cl_len || memcmp(v, cl, v_len) != 0))
                return true;
            cl = v, cl_len = v_len;
        } else if (header_value(line, len, "transfer-encoding", &v, &v_len)) {
            te = true;
        }
        line = eol;
    }
    return cl != NULL && te;
}

static bool head_complete(const h2o_buffer_t *in)
{
    size_t n = in->size < MAX_HEAD_BYTES + 4 ? in->size : MAX_HEAD_BYTES + 4;
    return memmem(in->bytes, n, "\r\n\r\n", 4) != NULL || memmem(in->bytes, n, "\n\n", 2) != NULL;
}

/* Counts `bytes` of request held by the connection against its address's cap; false when that would pass the cap. */
static bool hold(conn_rec_t *rec, uint64_t bytes)
{
    if (!rec->counted_address || limits.max_body_bytes_per_address == 0 || bytes == rec->held)
        return true;
    int64_t delta = (int64_t)bytes - (int64_t)rec->held;
    if (!hl_keyed_counts_add(&bytes_per_address, rec->key.b, sizeof(rec->key.b), delta, limits.max_body_bytes_per_address))
        return false;
    rec->held = bytes;
    return true;
}

/* The connection whose body takes its address past the cap ends: shut down under h2o, which reads the end of stream and
 * closes it (the close hook gives the bytes back). */
static void over_budget(conn_rec_t *rec)
{
    if (rec->ending)
        return;
    rec->ending = true;
    shutdown(h2o_socket_get_fd(rec->sock), SHUT_RDWR);
    int64_t now = (int64_t)h2o_now(rec->guard->worker->loop), last = atomic_load(&refusal_logged_ms);
    if (now - last >= 60000 && atomic_compare_exchange_strong(&refusal_logged_ms, &last, now))
        hl_logf(HL_LOG_WARN, "server: a request body took its client address past maxBodyMiBPerAddress; connection closed "
                             "(logged at most once a minute)");
}

/* Once a tick over the HTTP/1.1 connections reading a request (h2o's req_timeout list): bodies are counted against
 * their address's cap (the connection that passes it ends), and the request timeout entries of those reading a body
 * that grew since the last tick move to the end of h2o's timeout list (a fresh 10 s), until the ceiling. A head that is
 * not complete, an idle keep-alive, or a body that stopped arriving keep their deadline and h2o closes them. */
static void check_h1_requests(conn_guard_t *g, uint64_t now)
{
    h2o_timeout_t *rt = &g->worker->ctx.http1.req_timeout;
    h2o_timeout_entry_t **moved = NULL;
    size_t n = 0, cap = 0;
    for (h2o_linklist_t *l = rt->_entries.next; l != &rt->_entries; l = l->next) {
        h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, l);
        h2o_socket_t *sock = H2O_STRUCT_FROM_MEMBER(struct h1_conn_head, timeout_entry, e)->sock;
        conn_rec_t *rec = lookup(g, sock);
        if (rec == NULL)
            continue;
        size_t size = sock->input->size;
        if (size == 0 || !head_complete(sock->input)) {
            rec->last_input = size;
            rec->body_since = 0;
            hold(rec, 0);
            continue;
        }
        if (!hold(rec, size)) {
            over_budget(rec);
            continue;
        }
        if (rec->body_since == 0 || size < rec->last_input)
            rec->body_since = now;
        bool grew = size > rec->last_input;
        rec->last_input = size;
        if (grew && now - rec->body_since < HL_HTTP1_BODY_CEILING_MS) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                moved = hl_realloc(moved, cap * sizeof(*moved));
            }
            moved[n++] = e;
        }
    }
    /* relinked after the walk, which would otherwise meet them again at the end of the list */
    for (size_t i = 0; i < n; ++i) {
        h2o_timeout_unlink(moved[i]);
        h2o_timeout_link(g->worker->loop, rt, moved[i]);
    }
    free(moved);
}

/* Only connections counted against an address cap have bodies to count (hold() ignores the others): loopback clients
 * and trusted proxies are skipped before their streams are walked, four times a second. */
static bool counts_h2_connection(void *data, h2o_socket_t *sock)
{
    conn_rec_t *rec = lookup(data, sock);
    return rec != NULL && rec->counted_address;
}

/* One HTTP/2 connection's held bodies, counted against its address's cap like an HTTP/1.1 body. */
static void check_h2_connection(void *data, h2o_socket_t *sock, uint64_t held)
{
    conn_rec_t *rec = lookup(data, sock);
    if (rec != NULL && !hold(rec, held))
        over_budget(rec);
}

/* Once a tick over the HTTP/2 connections: the bodies their streams hold (arriving, or whole and not yet released) count
 * against their address's cap, and the connection that takes it past the cap ends. */
static void check_h2_bodies(conn_guard_t *g)
{
    static atomic_bool layout_logged;
    if (limits.max_body_bytes_per_address == 0)
        return;
    if (!hl_h2_bodies_each(&g->worker->ctx, counts_h2_connection, check_h2_connection, g) && !atomic_exchange(&layout_logged, true))
        hl_logf(HL_LOG_ERROR, "server: h2o's HTTP/2 streams do not match the header HermesLink was built against; "
                              "HTTP/2 bodies of the connections concerned are not counted against maxBodyMiBPerAddress");
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    conn_guard_t *g = H2O_STRUCT_FROM_MEMBER(conn_guard_t, tick, entry);
    if (hl_worker_shutting_down(g->worker))
        return;
    check_h1_requests(g, h2o_now(g->worker->loop));
    check_h2_bodies(g);
    h2o_timeout_link(g->worker->loop, &g->tick_timeout, &g->tick);
}

void hl_conn_guard_worker_init(hl_worker_t *w)
{
    conn_guard_t *g = hl_calloc(1, sizeof(*g));
    g->worker = w;
    g->num_buckets = INITIAL_BUCKETS;
    g->buckets = hl_calloc(g->num_buckets, sizeof(*g->buckets));
    h2o_timeout_init(w->loop, &g->tick_timeout, HL_CONN_GUARD_TICK_MS);
    g->tick.cb = on_tick;
    h2o_timeout_link(w->loop, &g->tick_timeout, &g->tick);
    w->guard = g;
    if (per_address.buckets == NULL) {
        /* servers started without configure (tests) */
        hl_keyed_counts_init(&per_address);
        hl_keyed_counts_init(&bytes_per_address);
    }
}

void hl_conn_guard_worker_dispose(hl_worker_t *w)
{
    conn_guard_t *g = w->guard;
    if (g == NULL)
        return;
    if (h2o_timeout_is_linked(&g->tick))
        h2o_timeout_unlink(&g->tick);
    h2o_timeout_dispose(w->loop, &g->tick_timeout);
    /* sockets still open (a shutdown past its deadline) keep their records: their close hook still points at them */
    if (g->num_recs == 0) {
        free(g->buckets);
        free(g);
        w->guard = NULL;
    }
}
