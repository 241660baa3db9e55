#include "hl/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urcu.h>

#include "hl/log.h"
#include "hl/sse.h"
#include "conn_guard.h"
#include "worker.h"

/* how long a worker waits for in-flight work and connections at shutdown before giving up on a clean dispose */
#define SHUTDOWN_DEADLINE_MS 10000
/* how long a worker stops accepting when it ran out of file descriptors */
#define ACCEPT_PAUSE_MS 250
/* idle HTTP/1.1 keep-alives are closed this fast once shutdown starts */
#define SHUTDOWN_REQ_TIMEOUT_MS 50

/* One listening socket per worker (SO_REUSEPORT), so the kernel spreads connections evenly; a single shared socket let
 * whichever worker woke first take a whole burst of connections. */
typedef struct st_listener_t {
    int *fds; /* one per worker; -1 once handed to that worker's loop */
    int tls;
    int port;
} listener_t;

struct st_hl_server_t {
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    listener_t listeners[HL_MAX_LISTENERS];
    size_t num_listeners;
    hl_worker_t *workers;
    size_t num_workers;
    int port;
    int tls_port;
};

/* the serving server, for broadcasts from actors (set before workers start, cleared after they stopped) */
static hl_server_t *running_server;

void hl_server_each_worker(void (*fn)(hl_worker_t *worker, void *data), void *data)
{
    hl_server_t *s = __atomic_load_n(&running_server, __ATOMIC_ACQUIRE);
    for (size_t i = 0; s != NULL && i < s->num_workers; ++i)
        if (s->workers[i].started)
            fn(&s->workers[i], data);
}

bool hl_worker_shutting_down(const hl_worker_t *worker)
{
    return worker->shutting_down;
}

void hl_worker_post(hl_worker_t *worker, hl_worker_msg_t *msg)
{
    hl_mailbox_post(&worker->mailbox, &msg->super);
}

void hl_worker_add_stream(hl_worker_t *worker, hl_stream_link_t *link)
{
    h2o_linklist_insert(&worker->streams, &link->_link);
}

void hl_worker_remove_stream(hl_stream_link_t *link)
{
    if (h2o_linklist_is_linked(&link->_link))
        h2o_linklist_unlink(&link->_link);
}

static int open_socket(const struct addrinfo *ai, int reuseport, char *err, size_t errlen)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int resolve(const char *host, int port, struct addrinfo **res, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, res) != 0) {
        snprintf(err, errlen, "invalid listen address %s", host);
        return -EINVAL;
    }
    return 0;
}

/* Opens `n` listening sockets on host:port sharing the port through SO_REUSEPORT. A fixed port is first probed with a plain
 * bind, so that another process (or a second HermesLink) already on it makes us fail instead of silently sharing it. */
static int bind_listeners(const char *host, int port, int *fds, size_t n, int *bound_port, char *err, size_t errlen)
{
    struct addrinfo *res = NULL;
    int ret = resolve(host, port, &res, err, errlen);
    if (ret != 0)
        return ret;
    for (size_t i = 0; i < n; ++i)
        fds[i] = -1;
    if (port != 0) {
        int probe = open_socket(res, 0, err, errlen);
        if (probe < 0) {
            ret = probe;
            goto Exit;
        }
        if (bind(probe, res->ai_addr, res->ai_addrlen) != 0) {
            ret = -errno;
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
            close(probe);
            goto Exit;
        }
        close(probe);
    }
    for (size_t i = 0; i < n; ++i) {
        int fd = open_socket(res, 1, err, errlen);
        if (fd < 0) {
            ret = fd;
            goto Exit;
        }
        fds[i] = fd;
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
            ret = -errno;
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
            goto Exit;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        if (i == 0) {
            /* with port 0 the first socket picks the port and the others join it */
            struct sockaddr_storage ss;
            socklen_t sslen = sizeof(ss);
            getsockname(fd, (struct sockaddr *)&ss, &sslen);
            *bound_port =
                ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
            freeaddrinfo(res);
            res = NULL;
            if ((ret = resolve(host, *bound_port, &res, err, errlen)) != 0)
                goto Exit;
        }
    }
    ret = 0;
Exit:
    if (res != NULL)
        freeaddrinfo(res);
    if (ret != 0)
        for (size_t i = 0; i < n; ++i)
            if (fds[i] >= 0) {
                close(fds[i]);
                fds[i] = -1;
            }
    return ret;
}

static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384";

static SSL_CTX *create_ssl_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2: forward-secret AEAD suites only (no CBC, whose MAC-then-encrypt keeps giving padding oracles); TLS 1.3
     * suites are all AEAD and stay OpenSSL's defaults */
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        snprintf(err, errlen, "cannot set the TLS cipher suites");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "cannot load the TLS certificate or key");
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

/* Out of descriptors (across workers): said at most once a minute (an episode comes and goes as descriptors free up and
 * are taken again), and when accepting works again. */
static atomic_bool out_of_fds;
static atomic_int_fast64_t out_of_fds_logged_ms = -60000;

static void on_accept(h2o_socket_t *listener, const char *err);

/* Resumes accepting after a pause for want of descriptors (the next accept tells whether they are back). */
static void on_accept_resume(h2o_timeout_entry_t *entry)
{
    hl_worker_t *w = H2O_STRUCT_FROM_MEMBER(hl_worker_t, accept_resume, entry);
    if (!w->accept_paused || w->shutting_down)
        return;
    w->accept_paused = false;
    for (size_t i = 0; i < w->num_listeners; ++i)
        if (w->listeners[i] != NULL)
            h2o_socket_read_start(w->listeners[i], on_accept);
}

/* EMFILE/ENFILE: the listener stays readable while nothing can be accepted, so accepting again at once would spin. The
 * worker stops reading its listeners for ACCEPT_PAUSE_MS, serving the connections it has meanwhile. */
static void pause_accepting(hl_worker_t *w)
{
    atomic_store(&out_of_fds, true);
    int64_t now = (int64_t)h2o_now(w->loop), last = atomic_load(&out_of_fds_logged_ms);
    if (now - last >= 60000 && atomic_compare_exchange_strong(&out_of_fds_logged_ms, &last, now))
        hl_logf(HL_LOG_ERROR, "server: out of file descriptors; accepting paused (open connections are still served)");
    w->accept_paused = true;
    for (size_t i = 0; i < w->num_listeners; ++i)
        if (w->listeners[i] != NULL)
            h2o_socket_read_stop(w->listeners[i]);
    h2o_timeout_link(w->loop, &w->accept_pause_timeout, &w->accept_resume);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *accept_ctx = listener->data;
    hl_worker_t *w = (hl_worker_t *)accept_ctx->ctx; /* the context is the worker's first member */
    /* bounded so that one busy listener cannot starve the loop */
    for (int i = 0; i < 64; ++i) {
        errno = 0;
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (errno == EMFILE || errno == ENFILE)
                pause_accepting(w);
            break;
        }
        if (atomic_load_explicit(&out_of_fds, memory_order_relaxed) && atomic_exchange(&out_of_fds, false))
            hl_logf(HL_LOG_WARN, "server: file descriptors available again; accepting resumed");
        if (hl_conn_guard_admit(w, sock, accept_ctx->ssl_ctx != NULL))
            h2o_accept(accept_ctx, sock);
    }
}

static void close_listeners(hl_worker_t *w)
{
    if (h2o_timeout_is_linked(&w->accept_resume))
        h2o_timeout_unlink(&w->accept_resume);
    w->accept_paused = false;
    for (size_t i = 0; i < w->num_listeners; ++i) {
        if (w->listeners[i] != NULL) {
            h2o_socket_read_stop(w->listeners[i]);
            h2o_socket_close(w->listeners[i]);
            w->listeners[i] = NULL;
        }
    }
}

static void begin_shutdown(hl_worker_t *w)
{
    if (w->shutting_down)
        return;
    w->shutting_down = true;
    close_listeners(w);
    /* end every long-lived stream: each callback sends FINAL and unlinks itself */
    while (!h2o_linklist_is_empty(&w->streams)) {
        hl_stream_link_t *link = H2O_STRUCT_FROM_MEMBER(hl_stream_link_t, _link, w->streams.next);
        h2o_linklist_unlink(&link->_link);
        link->on_shutdown(link);
    }
    h2o_context_request_shutdown(&w->ctx);
    w->ctx.http1.req_timeout.timeout = SHUTDOWN_REQ_TIMEOUT_MS;
}

static void on_shutdown_msg(hl_worker_t *w, hl_worker_msg_t *msg)
{
    free(msg);
    begin_shutdown(w);
}

/* The worker's mailbox wakes its loop: h2o has read the eventfd's 8 bytes into the socket buffer before calling this. */
static void on_mailbox(h2o_socket_t *sock, const char *err)
{
    hl_worker_t *w = sock->data;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err != NULL)
        return;
    hl_msg_batch_t batch;
    if (!hl_mailbox_take(&w->mailbox, &batch))
        return;
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(&batch)) != NULL) {
        hl_worker_msg_t *wm = (hl_worker_msg_t *)msg;
        wm->run(w, wm);
    }
}

static int timeout_idle(h2o_timeout_t *t)
{
    return h2o_linklist_is_empty(&t->_entries);
}

/* True when nothing is left that h2o_context_dispose would trip over. */
static int worker_drained(hl_worker_t *w)
{
    h2o_context_t *c = &w->ctx;
    return w->num_pending == 0 && h2o_linklist_is_empty(&c->http1._conns) && h2o_linklist_is_empty(&c->http2._conns) &&
           timeout_idle(&c->zero_timeout) && timeout_idle(&c->one_sec_timeout) && timeout_idle(&c->hundred_ms_timeout) &&
           timeout_idle(&c->handshake_timeout) && timeout_idle(&c->http1.req_timeout) && timeout_idle(&c->http2.idle_timeout) &&
           timeout_idle(&c->http2.graceful_shutdown_timeout) && timeout_idle(&c->proxy.io_timeout);
}

/* h2o's HTTP/2 graceful shutdown re-sends GOAWAY from one_sec_timeout a second after it began, to the HTTP/2 connections
 * still open; with none left there is nobody to send it to, but waiting for the timer made every stop take a second. */
static void drop_idle_goaway_timer(h2o_context_t *c)
{
    if (h2o_linklist_is_empty(&c->http2._conns) && h2o_timeout_is_linked(&c->http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&c->http2._graceful_shutdown_timeout);
}

static void *worker_main(void *arg)
{
    hl_worker_t *w = arg;
    rcu_register_thread();
    while (!w->shutting_down)
        h2o_evloop_run(w->loop, INT32_MAX);
    uint64_t deadline = h2o_now(w->loop) + SHUTDOWN_DEADLINE_MS;
    for (;;) {
        drop_idle_goaway_timer(&w->ctx);
        if (worker_drained(w) || h2o_now(w->loop) >= deadline)
            break;
        h2o_evloop_run(w->loop, 50);
    }
    if (worker_drained(w)) {
        h2o_socket_read_stop(w->mailbox_sock);
        h2o_socket_close(w->mailbox_sock);
        w->mailbox_sock = NULL;
        hl_sse_worker_dispose(w);
        hl_reply_cache_dispose(w);
        hl_conn_guard_worker_dispose(w);
        h2o_timeout_dispose(w->loop, &w->accept_pause_timeout);
        h2o_context_dispose(&w->ctx);
        /* run once more so that sockets closed above are freed */
        h2o_evloop_run(w->loop, 0);
        h2o_evloop_destroy(w->loop);
        w->loop = NULL;
    } else {
        hl_logf(
            HL_LOG_WARN, "worker %zu: shutdown deadline reached with %zu replies still owed by actors%s", w->index, w->num_pending,
            h2o_linklist_is_empty(&w->ctx.http1._conns) && h2o_linklist_is_empty(&w->ctx.http2._conns) ? ""
                                                                                                       : " and connections open");
    }
    w->stopped = true;
    rcu_unregister_thread();
    return NULL;
}

static int init_worker(hl_server_t *s, hl_worker_t *w, size_t index)
{
    memset(w, 0, sizeof(*w));
    w->index = index;
    w->server = s;
    h2o_linklist_init_anchor(&w->streams);
    int ret = hl_mailbox_init(&w->mailbox);
    if (ret != 0)
        return ret;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &s->globalconf);
    hl_sse_worker_init(w);
    hl_conn_guard_worker_init(w);
    /* h2o closes the fd it wraps, so it gets a duplicate and the mailbox keeps its own for posting */
    int mfd = dup(hl_mailbox_fd(&w->mailbox));
    if (mfd < 0)
        hl_fatal("dup(eventfd) failed");
    w->mailbox_sock = h2o_evloop_socket_create(w->loop, mfd, H2O_SOCKET_FLAG_DONT_READ);
    w->mailbox_sock->data = w;
    h2o_socket_read_start(w->mailbox_sock, on_mailbox);
    for (size_t i = 0; i < s->num_listeners; ++i) {
        h2o_accept_ctx_t *ac = &w->accept_ctx[i];
        ac->ctx = &w->ctx;
        ac->hosts = s->globalconf.hosts;
        ac->ssl_ctx = s->listeners[i].tls ? s->ssl_ctx : NULL;
        int fd = s->listeners[i].fds[index];
        s->listeners[i].fds[index] = -1; /* the loop owns it now */
        h2o_socket_t *sock = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = ac;
        h2o_socket_read_start(sock, on_accept);
        w->listeners[i] = sock;
    }
    w->num_listeners = s->num_listeners;
    h2o_timeout_init(w->loop, &w->accept_pause_timeout, ACCEPT_PAUSE_MS);
    w->accept_resume.cb = on_accept_resume;
    return 0;
}

static void setup_globalconf(hl_server_t *s, bool plain_http2)
{
    h2o_config_init(&s->globalconf);
    /* gates both h2c paths in lib/http1.c (the PRI preface and Upgrade: h2c); ALPN on TLS does not look at it */
    s->globalconf.http1.upgrade_to_http2 = plain_http2;
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("hermeslink"));
    /* h2o's single limit sits just above our largest route limit; each route enforces its own (with our 413) */
    s->globalconf.max_request_entity_size = HL_H2O_BODY_LIMIT;
    s->globalconf.http2.graceful_shutdown_timeout = 2000;
    h2o_hostconf_t *host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = hl_dispatch;
}

static void close_listener_fds(hl_server_t *s)
{
    for (size_t i = 0; i < s->num_listeners; ++i) {
        for (size_t w = 0; s->listeners[i].fds != NULL && w < s->num_workers; ++w)
            if (s->listeners[i].fds[w] >= 0)
                close(s->listeners[i].fds[w]);
        free(s->listeners[i].fds);
        s->listeners[i].fds = NULL;
    }
}

static int add_listener(hl_server_t *s, const char *host, int port, int tls, char *err, size_t errlen)
{
    listener_t *l = &s->listeners[s->num_listeners++];
    l->fds = hl_malloc(sizeof(int) * s->num_workers);
    l->tls = tls;
    return bind_listeners(host, port, l->fds, s->num_workers, &l->port, err, errlen);
}

int hl_server_bind(hl_server_t **out, const hl_server_config_t *cfg, char *err, size_t errlen)
{
    hl_server_t *s = hl_calloc(1, sizeof(*s));
    s->tls_port = -1;
    s->num_workers = (size_t)(cfg->workers > 0 ? cfg->workers : 1);
    int ret;
    hl_conn_limits_t limits = {.max_connections = cfg->max_connections > 0 ? cfg->max_connections : 1 << 30,
                               .max_connections_per_address =
                                   cfg->max_connections_per_address > 0 ? cfg->max_connections_per_address : 1 << 30,
                               .trusted_proxies = cfg->trusted_proxies,
                               .num_trusted_proxies = cfg->num_trusted_proxies,
                               .max_body_bytes_per_address = cfg->max_body_bytes_per_address,
                               .count_loopback = cfg->count_loopback};
    hl_conn_guard_configure(&limits);
    setup_globalconf(s, !cfg->no_plain_http2);
    if ((ret = add_listener(s, cfg->plain_host != NULL ? cfg->plain_host : cfg->listen_host, cfg->port, 0, err, errlen)) != 0)
        goto Error;
    s->port = s->listeners[0].port;
    if (cfg->tls_port >= 0) {
        if ((s->ssl_ctx = create_ssl_ctx(cfg->tls_cert_path, cfg->tls_key_path, err, errlen)) == NULL) {
            ret = -EINVAL;
            goto Error;
        }
        if ((ret = add_listener(s, cfg->listen_host, cfg->tls_port, 1, err, errlen)) != 0)
            goto Error;
        s->tls_port = s->listeners[1].port;
    }
    *out = s;
    return 0;
Error:
    close_listener_fds(s);
    if (s->ssl_ctx != NULL)
        SSL_CTX_free(s->ssl_ctx);
    h2o_config_dispose(&s->globalconf);
    free(s);
    return ret;
}

int hl_server_run(hl_server_t *s, char *err, size_t errlen)
{
    int ret;
    s->workers = hl_calloc(s->num_workers, sizeof(hl_worker_t));
    for (size_t i = 0; i < s->num_workers; ++i) {
        if ((ret = init_worker(s, &s->workers[i], i)) != 0) {
            snprintf(err, errlen, "cannot set up worker %zu: %s", i, strerror(-ret));
            return ret;
        }
    }
    for (size_t i = 0; i < s->num_workers; ++i)
        s->workers[i].started = true; /* before any thread runs, so broadcasts see a fixed set */
    __atomic_store_n(&running_server, s, __ATOMIC_RELEASE);
    for (size_t i = 0; i < s->num_workers; ++i) {
        if ((ret = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i])) != 0) {
            snprintf(err, errlen, "cannot start worker threads");
            hl_fatal("pthread_create failed"); /* workers already marked started cannot be joined cleanly */
        }
    }
    return 0;
}

int hl_server_port(const hl_server_t *server)
{
    return server->port;
}

int hl_server_tls_port(const hl_server_t *server)
{
    return server->tls_port;
}

void hl_server_shutdown(hl_server_t *s)
{
    if (s->workers == NULL) {
        close_listener_fds(s);
        return;
    }
    for (size_t i = 0; i < s->num_workers; ++i) {
        if (!s->workers[i].started)
            continue;
        hl_worker_msg_t *msg = hl_malloc(sizeof(*msg));
        hl_msg_init(&msg->super, 1, NULL);
        msg->run = on_shutdown_msg;
        hl_worker_post(&s->workers[i], msg);
    }
    for (size_t i = 0; i < s->num_workers; ++i)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
    close_listener_fds(s); /* those of workers that never started */
}

void hl_server_free(hl_server_t *s)
{
    __atomic_store_n(&running_server, NULL, __ATOMIC_RELEASE);
    int clean = 1;
    for (size_t i = 0; s->workers != NULL && i < s->num_workers; ++i) {
        if (s->workers[i].loop != NULL)
            clean = 0;
        else
            hl_mailbox_dispose(&s->workers[i].mailbox);
    }
    if (!clean)
        return; /* a worker still holds connections into these structures; the process is exiting anyway */
    free(s->workers);
    if (s->ssl_ctx != NULL)
        SSL_CTX_free(s->ssl_ctx);
    h2o_config_dispose(&s->globalconf);
    free(s);
}
