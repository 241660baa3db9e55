#include "upstream_client.h"

#include <string.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/log.h"

typedef enum en_call_kind_t { CALL_JSON, CALL_STREAM } call_kind_t;

struct st_up_call_t {
    up_client_t *client;
    CURL *easy;
    call_kind_t kind;
    struct curl_slist *headers;
    char *body_out; /* the request body (JSON calls) */
    char *buf;      /* the response body (JSON calls) */
    size_t len, cap;
    bool too_large;
    bool opened;    /* streams: on_open ran */
    bool cancelled; /* up_cancel ran while curl was inside perform: removed after it */
    bool added;
    bool pending_add;
    uint64_t last_byte_ms;
    up_done_fn done;
    up_stream_cb_t cb;
    void *data;
    up_call_t *next; /* the client's list */
};

struct st_up_client_t {
    CURLM *multi;
    up_call_t *calls;
    bool in_perform;
    char errbuf[CURL_ERROR_SIZE];
};

static uint64_t now_ms(void)
{
    return hl_monotonic_ms();
}

up_client_t *up_client_new(void)
{
    up_client_t *c = hl_calloc(1, sizeof(*c));
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        hl_fatal("curl_multi_init failed");
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 256L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
    return c;
}

static void unlink_call(up_call_t *call)
{
    up_call_t **p = &call->client->calls;
    while (*p != NULL && *p != call)
        p = &(*p)->next;
    if (*p == call)
        *p = call->next;
}

static void free_call(up_call_t *call)
{
    if (call->added) {
        curl_multi_remove_handle(call->client->multi, call->easy);
    }
    unlink_call(call);
    curl_easy_cleanup(call->easy);
    curl_slist_free_all(call->headers);
    free(call->body_out);
    free(call->buf);
    free(call);
}

/* Ends a call that will not complete (the client is closing): its callback runs with status 0 and `why`. */
static void abandon(up_call_t *call, const char *why)
{
    up_answer_t a = {.error = why, .body = ""};
    if (call->kind == CALL_JSON) {
        up_done_fn done = call->done;
        void *data = call->data;
        free_call(call);
        done(data, &a);
    } else {
        up_stream_cb_t cb = call->cb;
        void *data = call->data;
        free_call(call);
        cb.on_end(data, &a);
    }
}

void up_client_free(up_client_t *c)
{
    if (c == NULL)
        return;
    /* every call still in flight ends with its callback, so that its requester is answered; calls those callbacks start
     * get the same, a few rounds at most, then go without one */
    for (int round = 0; round < 4 && c->calls != NULL; ++round) {
        up_call_t *list = c->calls;
        c->calls = NULL;
        while (list != NULL) {
            up_call_t *call = list;
            list = call->next;
            call->next = c->calls; /* back on the client's list, so that free_call finds and unlinks it */
            c->calls = call;
            abandon(call, "HermesLink is stopping");
        }
    }
    while (c->calls != NULL)
        free_call(c->calls);
    curl_multi_cleanup(c->multi);
    free(c);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    up_call_t *call = userdata;
    size_t n = size * nmemb;
    call->last_byte_ms = now_ms();
    if (call->cancelled)
        return 0;
    if (call->kind == CALL_STREAM) {
        if (!call->opened) {
            long status = 0;
            curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
            call->opened = true;
            if (call->cb.on_open != NULL)
                call->cb.on_open(call->data, status);
            if (call->cancelled)
                return 0;
        }
        return call->cb.on_bytes(call->data, ptr, n) == 0 && !call->cancelled ? n : 0;
    }
    if (call->len + n > UP_MAX_JSON_BYTES) {
        call->too_large = true;
        return 0;
    }
    if (call->len + n + 1 > call->cap) {
        size_t cap = call->cap ? call->cap : 4096;
        while (cap < call->len + n + 1)
            cap *= 2;
        call->buf = hl_realloc(call->buf, cap);
        call->cap = cap;
    }
    memcpy(call->buf + call->len, ptr, n);
    call->len += n;
    call->buf[call->len] = '\0';
    return n;
}

/* Streams: a keep-alive comment or a header counts as life too. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    ((up_call_t *)userdata)->last_byte_ms = now_ms();
    return size * nmemb;
}

static up_call_t *call_new(up_client_t *c, call_kind_t kind, const up_target_t *to, const char *method, const char *path)
{
    up_call_t *call = hl_calloc(1, sizeof(*call));
    call->client = c;
    call->kind = kind;
    call->easy = curl_easy_init();
    if (call->easy == NULL)
        hl_fatal("curl_easy_init failed");
    char *url = hl_asprintf("%s%s", to->base_url, path);
    CURL *e = call->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)UP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L); /* a POST without a body still says Content-Length: 0 */
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, kind == CALL_STREAM ? "Accept: text/event-stream" : "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (to->api_key != NULL && to->api_key[0] != '\0') {
        char *auth = hl_asprintf("Authorization: Bearer %s", to->api_key);
        h = curl_slist_append(h, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    call->headers = h;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    call->last_byte_ms = now_ms();
    call->next = c->calls;
    c->calls = call;
    return call;
}

static void start(up_call_t *call)
{
    if (call->client->in_perform) {
        call->pending_add = true; /* not from inside a curl callback: added once perform returns */
        return;
    }
    CURLMcode mc = curl_multi_add_handle(call->client->multi, call->easy);
    if (mc != CURLM_OK)
        hl_fatal("curl_multi_add_handle: %s", curl_multi_strerror(mc));
    call->added = true;
}

up_call_t *up_json(up_client_t *c, const up_target_t *to, const char *method, const char *path, json_t *body, up_done_fn done,
                   void *data)
{
    up_call_t *call = call_new(c, CALL_JSON, to, method, path);
    call->done = done;
    call->data = data;
    curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, (long)UP_JSON_TIMEOUT_MS);
    if (body != NULL) {
        call->body_out = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (call->body_out == NULL)
            hl_fatal("json_dumps failed");
        call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
        curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers);
        curl_easy_setopt(call->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(call->body_out));
        curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->body_out);
    }
    start(call);
    return call;
}

up_call_t *up_stream(up_client_t *c, const up_target_t *to, const char *path, const up_stream_cb_t *cb, void *data)
{
    up_call_t *call = call_new(c, CALL_STREAM, to, "GET", path);
    call->cb = *cb;
    call->data = data;
    start(call);
    return call;
}

void up_cancel(up_call_t *call)
{
    if (call == NULL)
        return;
    if (call->client->in_perform) {
        call->cancelled = true; /* curl may be inside this transfer: removed once perform returns */
        return;
    }
    free_call(call);
}

int64_t up_idle_ms(const up_call_t *call)
{
    return (int64_t)(now_ms() - call->last_byte_ms);
}

static bool is_connect_failure(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static void finish(up_call_t *call, CURLcode rc)
{
    up_answer_t a = {0};
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &a.status);
    if (rc != CURLE_OK) {
        long connected = 0;
        curl_easy_getinfo(call->easy, CURLINFO_NUM_CONNECTS, &connected);
        a.connect_failed = a.status == 0 && is_connect_failure(rc) && (rc != CURLE_OPERATION_TIMEDOUT || connected == 0);
        a.error = call->too_large ? "the answer is too large" : curl_easy_strerror(rc);
    }
    if (call->kind == CALL_JSON) {
        json_error_t err;
        a.body_len = call->len;
        a.json = rc == CURLE_OK && call->len > 0 ? json_loadb(call->buf, call->len, JSON_DECODE_ANY, &err) : NULL;
        up_done_fn done = call->done;
        void *data = call->data;
        json_t *j = a.json;
        /* the call is unlinked first, so that the callback may start new calls freely; the body lives until it returns */
        char *buf = call->buf;
        call->buf = NULL;
        a.body = buf != NULL ? buf : "";
        free_call(call);
        done(data, &a);
        json_decref(j);
        free(buf);
    } else {
        up_stream_cb_t cb = call->cb;
        void *data = call->data;
        bool opened = call->opened;
        free_call(call);
        if (!opened && cb.on_open != NULL && a.status != 0)
            cb.on_open(data, a.status);
        cb.on_end(data, &a);
    }
}

void up_client_wait(up_client_t *c, int extra_fd, int timeout_ms)
{
    struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
    long curl_timeout = -1;
    curl_multi_timeout(c->multi, &curl_timeout);
    int t = timeout_ms;
    if (curl_timeout >= 0 && (t < 0 || curl_timeout < t))
        t = (int)curl_timeout;
    if (t < 0)
        t = 1000;
    int numfds = 0;
    curl_multi_poll(c->multi, &wfd, 1, t, &numfds);
    int running = 0;
    c->in_perform = true;
    curl_multi_perform(c->multi, &running);
    c->in_perform = false;
    /* calls cancelled inside perform (from a write callback) go now; calls started there are added */
    for (up_call_t **p = &c->calls; *p != NULL;) {
        up_call_t *call = *p;
        if (call->cancelled) {
            free_call(call); /* unlinks it: *p is now the next one */
            continue;
        }
        if (call->pending_add) {
            call->pending_add = false;
            start(call);
        }
        p = &call->next;
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        up_call_t *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        if (call != NULL)
            finish(call, msg->data.result);
    }
}

char *up_escape(const char *segment)
{
    char *e = curl_easy_escape(NULL, segment, 0);
    if (e == NULL)
        hl_fatal("curl_easy_escape failed");
    char *out = hl_strdup(e);
    curl_free(e);
    return out;
}
