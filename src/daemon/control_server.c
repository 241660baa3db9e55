/*
 * The control socket's server (daemon layer): one thread, because commands are rare (CLI invocations); each is answered
 * from the service facts, by the pairing actor, or by signalling the main thread.
 */
#include "hl/control_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hl/auth.h"
#include "hl/clock.h"
#include "hl/control.h"
#include "hl/fsutil.h"
#include "hl/http.h"
#include "hl/log.h"
#include "hl/memory.h"
#include "hl/node_import.h"
#include "hl/pairing.h"
#include "hl/runproxy.h"
#include "hl/sse.h"
#include "hl/system.h"
#include "hl/token_table.h"

#define IO_TIMEOUT_MS 2000

static struct {
    pthread_t thread;
    int listen_fd;
    int stop_fd;
    char *path;
    int running;
} control = {.listen_fd = -1, .stop_fd = -1};

/* what the answers come from, given at start: the service facts, the pairing actor */
static const hl_link_t *svc;
static hl_pairing_t *pairing;
static hl_system_t *sys_actor;
static hl_auth_t *auth_actor;
static hl_store_t *import_store;
static const hl_device_counts_t *import_counts;

static json_t *status_reply(void)
{
    json_t *flags = json_pack("{s:i, s:i, s:o}", "port", svc->start_flags.port, "tls_port", svc->start_flags.tls_port, "listen",
                              svc->start_flags.listen != NULL ? json_string(svc->start_flags.listen) : json_null());
    return json_pack("{s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:o, s:s, s:o}", "ok", 1, "pid", (int)getpid(), "port", svc->port,
                     "tls_port", svc->tls_port, "version", HL_VERSION, "listen_host", svc->listen_host, "plain_host",
                     svc->plain_host, "link_id", svc->identity->link_id ? json_string(svc->identity->link_id) : json_null(),
                     "tls_fingerprint", svc->tls_port >= 0 ? svc->tls->fingerprint : "", "start_flags", flags);
}

static json_t *error_reply(const char *code, const char *message)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
}

/* Waits for an actor's answer on the control thread. Shared with the actor through a refcount, so an answer that comes
 * after the timeout is still delivered into valid memory. */
typedef struct st_sync_reply_t {
    hl_reply_to_t super;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    json_t *result;
    int done;
    int refs;
} sync_reply_t;

static void sync_release(sync_reply_t *s)
{
    pthread_mutex_lock(&s->mutex);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mutex);
    if (last) {
        json_decref(s->result);
        pthread_mutex_destroy(&s->mutex);
        pthread_cond_destroy(&s->cond);
        free(s);
    }
}

static void sync_deliver(hl_reply_to_t *to, hl_result_t *res)
{
    sync_reply_t *s = (sync_reply_t *)to;
    json_t *result;
    if (hl_result_is_ok(res)) {
        result = json_pack("{s:b}", "ok", 1);
        if (res->body != NULL)
            json_object_update(result, res->body);
    } else {
        result =
            error_reply(res->code != NULL ? res->code : "internal_error", res->message != NULL ? res->message : "Internal error");
    }
    hl_result_free(res);
    pthread_mutex_lock(&s->mutex);
    s->result = result;
    s->done = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    sync_release(s);
}

/* Asks an actor (`ask` posts the request with the reply address) and waits up to `timeout_s` for its answer. */
static json_t *ask_actor(void (*ask)(hl_reply_to_t *to, void *arg), void *arg, int timeout_s, const char *what)
{
    sync_reply_t *s = hl_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->refs = 2;
    s->super.deliver = sync_deliver;
    ask(&s->super, arg);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&s->mutex);
    while (!s->done && pthread_cond_timedwait(&s->cond, &s->mutex, &deadline) == 0)
        ;
    /* the answer is taken, not shared: a JSON value's refcount must not be touched by two threads (jansson's last
     * decrement has no acquire barrier, so the thread that frees it could miss the other's reads; TSan reports it) */
    json_t *result = NULL;
    if (s->done) {
        result = s->result;
        s->result = NULL;
    }
    pthread_mutex_unlock(&s->mutex);
    sync_release(s);
    if (result == NULL)
        return error_reply("timeout", what);
    return result;
}

static void ask_pair(hl_reply_to_t *to, void *arg)
{
    (void)arg;
    hl_pairing_create(pairing, to);
}

static json_t *pair(void)
{
    return ask_actor(ask_pair, NULL, 10, "the pairing service did not answer");
}

static void ask_autostart(hl_reply_to_t *to, void *arg)
{
    hl_system_autostart(sys_actor, to, *(hl_system_autostart_t *)arg);
}

/* {"cmd":"autostart","action":"enable"|"disable"|"show"} → {"ok":true,"supported","enabled","method","filePath"} */
static json_t *autostart(json_t *req)
{
    const char *action = json_string_value(json_object_get(req, "action"));
    hl_system_autostart_t a;
    if (action == NULL || strcmp(action, "show") == 0)
        a = HL_SYSTEM_AUTOSTART_SHOW;
    else if (strcmp(action, "enable") == 0)
        a = HL_SYSTEM_AUTOSTART_ENABLE;
    else if (strcmp(action, "disable") == 0)
        a = HL_SYSTEM_AUTOSTART_DISABLE;
    else
        return error_reply("invalid_request", "action must be enable, disable or show");
    if (sys_actor == NULL)
        return error_reply("unavailable", "the system service is not running");
    /* systemctl enable --now is never run by the daemon; a few bounded calls of 3 s at most */
    return ask_actor(ask_autostart, &a, 30, "the system service did not answer");
}

static void send_line(int fd, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *out = hl_asprintf("%s\n", text);
    if (hl_control_write_all(fd, out, strlen(out)) != 0)
        hl_log(HL_LOG_DEBUG, "control: the client left before the reply", NULL);
    free(out);
    free(text);
}

static void import_progress(void *arg, json_t *p)
{
    json_t *line = json_pack("{s:O}", "progress", p);
    send_line(*(int *)arg, line);
    json_decref(line);
}

/* {"cmd":"import","dir":"/abs"} → {"progress":{phase, done, total}} lines, then the reply line (hl/node_import.h). The
 * import keeps the control thread busy meanwhile: other CLI commands wait (they are rare and retry-free). */
static json_t *node_import(json_t *req, int fd)
{
    const char *dir = json_string_value(json_object_get(req, "dir"));
    if (dir == NULL || dir[0] != '/')
        return error_reply("invalid_request", "dir must be an absolute path");
    if (auth_actor == NULL || import_store == NULL)
        return error_reply("unavailable", "the import is not available");
    hl_node_import_ctx_t ctx = {.svc = svc,
                                .auth = auth_actor,
                                .store = import_store,
                                .device_counts = import_counts,
                                .progress = import_progress,
                                .progress_arg = &fd};
    return hl_node_import_run(&ctx, dir);
}

static void ask_devices(hl_reply_to_t *to, void *arg)
{
    (void)arg;
    hl_auth_list_devices(auth_actor, to, NULL);
}

static void ask_revoke(hl_reply_to_t *to, void *arg)
{
    hl_auth_revoke_device(auth_actor, to, arg, NULL);
}

/* {"cmd":"devices"} → GET /api/v1/devices's answer (no current device); {"cmd":"devices_revoke","device_id":"dev_…"} →
 * DELETE /api/v1/devices/:id's (device_not_found for an unknown or malformed id): `hermeslink devices [revoke ID]` */
static json_t *devices(json_t *req, int revoke)
{
    if (auth_actor == NULL)
        return error_reply("unavailable", "the device service is not running");
    if (!revoke)
        return ask_actor(ask_devices, NULL, 10, "the device service did not answer");
    const char *id = json_string_value(json_object_get(req, "device_id"));
    if (id == NULL)
        return error_reply("invalid_request", "device_id is required");
    char *copy = hl_strdup(id);
    json_t *r = ask_actor(ask_revoke, copy, 10, "the device service did not answer");
    free(copy);
    return r;
}

static json_t *handle(json_t *req, int fd)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (cmd == NULL)
        return error_reply("invalid_request", "cmd is required");
    if (strcmp(cmd, "status") == 0)
        return status_reply();
    if (strcmp(cmd, "pair") == 0)
        return pair();
    if (strcmp(cmd, "autostart") == 0)
        return autostart(req);
    if (strcmp(cmd, "import") == 0)
        return node_import(req, fd);
    if (strcmp(cmd, "devices") == 0 || strcmp(cmd, "devices_revoke") == 0)
        return devices(req, strcmp(cmd, "devices_revoke") == 0);
    if (strcmp(cmd, "memory") == 0) {
        /* {"cmd":"memory"[, "release":true]}: the daemon's memory (hl/memory.h), after giving freed pages back if asked */
        if (json_is_true(json_object_get(req, "release")))
            (void)hl_memory_release();
        json_t *r = hl_memory_report();
        /* what the daemon's own bounded caches hold: the SSE rings, the run relays, the reply caches, the live tokens */
        size_t relays = 0, relay_bytes = hl_runproxy_relay_bytes(&relays);
        json_object_set_new(r, "caches",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "sse_ring_bytes", (json_int_t)hl_sse_ring_bytes(), "relay_bytes",
                                      (json_int_t)relay_bytes, "relays", (json_int_t)relays, "reply_cache_bytes",
                                      (json_int_t)hl_reply_cache_bytes(), "live_tokens", (json_int_t)hl_token_table_count()));
        json_object_set_new(r, "ok", json_true());
        return r;
    }
    if (strcmp(cmd, "stop") == 0) {
        kill(getpid(), SIGTERM);
        return json_pack("{s:b}", "ok", 1);
    }
    if (strcmp(cmd, "clock_advance") == 0 && svc->test_mode) {
        json_t *ms = json_object_get(req, "ms");
        if (!json_is_integer(ms))
            return error_reply("invalid_request", "ms must be an integer");
        hl_clock_advance(json_integer_value(ms));
        return json_pack("{s:b, s:I}", "ok", 1, "now_ms", (json_int_t)hl_now_ms());
    }
    return error_reply("unknown_command", "unknown command");
}

static void serve_one(int fd)
{
    hl_control_set_timeouts(fd, IO_TIMEOUT_MS);
    char *line = hl_control_read_line(fd);
    json_t *req = line != NULL ? json_loads(line, 0, NULL) : NULL, *reply;
    reply = json_is_object(req) ? handle(req, fd) : error_reply("invalid_request", "expected one JSON object line");
    send_line(fd, reply);
    json_decref(reply);
    json_decref(req);
    free(line);
}

/* The socket is 0600 in a 0700 home, but a home or socket whose mode was loosened (a chmod, a copied tree) must not let
 * another local user mint pairing codes or stop the daemon: the peer's uid, as the kernel saw it at connect(), decides. */
static int peer_allowed(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
        hl_logf(HL_LOG_WARN, "control: refused a connection whose peer credentials cannot be read");
        return 0;
    }
    if (cred.uid != geteuid()) {
        hl_logf(HL_LOG_WARN, "control: refused a connection from uid %u (pid %d), not the daemon's user", (unsigned)cred.uid,
                (int)cred.pid);
        return 0;
    }
    return 1;
}

static void *control_main(void *arg)
{
    (void)arg;
    struct pollfd pfd[2] = {{.fd = control.listen_fd, .events = POLLIN}, {.fd = control.stop_fd, .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents != 0)
            break;
        if (pfd[0].revents & POLLIN) {
            int fd = accept4(control.listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                if (peer_allowed(fd))
                    serve_one(fd);
                close(fd);
            }
        }
    }
    return NULL;
}

void hl_control_set_system(hl_system_t *system)
{
    sys_actor = system;
}

void hl_control_set_import(hl_auth_t *auth, hl_store_t *store, const hl_device_counts_t *counts)
{
    auth_actor = auth;
    import_store = store;
    import_counts = counts;
}

int hl_control_start(const hl_link_t *l, hl_pairing_t *pr)
{
    pairing = pr;
    const char *home = l->home;
    svc = l;
    struct sockaddr_un sa;
    int ret = hl_control_addr(home, &sa, &control.path);
    if (ret != 0)
        return ret;
    unlink(control.path); /* a stale socket of a dead daemon: the pid lock already proved we are the only one */
    control.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (control.listen_fd < 0)
        return -errno;
    mode_t old = umask(0177);
    int r = bind(control.listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r != 0 || chmod(control.path, 0600) != 0 || listen(control.listen_fd, 16) != 0) {
        ret = -errno;
        close(control.listen_fd);
        control.listen_fd = -1;
        return ret;
    }
    control.stop_fd = eventfd(0, EFD_CLOEXEC);
    if ((ret = pthread_create(&control.thread, NULL, control_main, NULL)) != 0)
        return -ret;
    control.running = 1;
    return 0;
}

void hl_control_stop(void)
{
    if (control.running) {
        uint64_t one = 1;
        if (write(control.stop_fd, &one, sizeof(one)) < 0)
            hl_logf(HL_LOG_WARN, "control: cannot signal the control thread");
        pthread_join(control.thread, NULL);
        control.running = 0;
    }
    if (control.listen_fd >= 0)
        close(control.listen_fd);
    if (control.stop_fd >= 0)
        close(control.stop_fd);
    control.listen_fd = control.stop_fd = -1;
    if (control.path != NULL) {
        unlink(control.path);
        free(control.path);
        control.path = NULL;
    }
}
