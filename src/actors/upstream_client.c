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
    CURLcode setup_failed; /* a libcurl allocation failed while the call was set up: it ends with this, unsent */
    bool fail_due;         /* setup_failed, and its end is reported in this turn of up_client_wait */
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

/* Appends a header line; on an allocation failure the list is kept as it was and the call marked failed. */
static void add_header(up_call_t *call, const char *line)
{
    struct curl_slist *h = curl_slist_append(call->headers, line);
    if (h == NULL)
        call->setup_failed = CURLE_OUT_OF_MEMORY;
    else
        call->headers = h;
}

/* Setting an option that copies a string may fail for want of memory; the call then ends unsent. */
static void set_str(up_call_t *call, CURLoption opt, const char *value)
{
    CURLcode rc = curl_easy_setopt(call->easy, opt, value);
    if (rc != CURLE_OK && call->setup_failed == CURLE_OK)
        call->setup_failed = rc;
}

static up_call_t *call_new(up_client_t *c, call_kind_t kind, const up_target_t *to, const char *method, const char *path)
{
    up_call_t *call = hl_calloc(1, sizeof(*call));
    call->client = c;
    call->kind = kind;
    call->last_byte_ms = now_ms();
    call->next = c->calls;
    c->calls = call;
    /* libcurl reports an allocation failure to its caller: the call then ends with CURLE_OUT_OF_MEMORY from the next
     * up_client_wait, as a transfer that failed would, never inside the caller's own call */
    call->easy = curl_easy_init();
    if (call->easy == NULL) {
        call->setup_failed = CURLE_OUT_OF_MEMORY;
        return call;
    }
    char *url = hl_asprintf("%s%s", to->base_url, path);
    CURL *e = call->easy;
    set_str(call, CURLOPT_URL, url);
    free(url);
    set_str(call, CURLOPT_PROTOCOLS_STR, "http,https");
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
    set_str(call, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L); /* a POST without a body still says Content-Length: 0 */
    add_header(call, kind == CALL_STREAM ? "Accept: text/event-stream" : "Accept: application/json");
    add_header(call, "Expect:");
    if (to->api_key != NULL && to->api_key[0] != '\0') {
        char *auth = hl_asprintf("Authorization: Bearer %s", to->api_key);
        add_header(call, auth);
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
    return call;
}

static void start(up_call_t *call)
{
    if (call->setup_failed != CURLE_OK)
        return; /* ended by the next up_client_wait */
    if (call->client->in_perform) {
        call->pending_add = true; /* not from inside a curl callback: added once perform returns */
        return;
    }
    CURLMcode mc = curl_multi_add_handle(call->client->multi, call->easy);
    if (mc != CURLM_OK) { /* out of memory (nothing else can fail for a new handle on our multi) */
        hl_logf(HL_LOG_WARN, "upstream: curl_multi_add_handle: %s", curl_multi_strerror(mc));
        call->setup_failed = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
        return;
    }
    call->added = true;
}

up_call_t *up_json(up_client_t *c, const up_target_t *to, const char *method, const char *path, json_t *body, up_done_fn done,
                   void *data)
{
    up_call_t *call = call_new(c, CALL_JSON, to, method, path);
    call->done = done;
    call->data = data;
    if (body != NULL) {
        call->body_out = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (call->body_out == NULL)
            hl_fatal("json_dumps failed"); /* jansson allocates through hl_malloc (daemon.c): only a broken value gets here */
    }
    if (call->setup_failed != CURLE_OK) {
        start(call);
        return call;
    }
    curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, (long)UP_JSON_TIMEOUT_MS);
    if (call->body_out != NULL) {
        add_header(call, "Content-Type: application/json");
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
    if (call->added)
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &a.status);
    if (rc != CURLE_OK) {
        long connected = 0;
        if (call->added)
            curl_easy_getinfo(call->easy, CURLINFO_NUM_CONNECTS, &connected);
        a.connect_failed = a.status == 0 && is_connect_failure(rc) && (rc != CURLE_OPERATION_TIMEDOUT || connected == 0);
        a.error = call->too_large ? "the answer is too large" : curl_easy_strerror(rc);
        a.out_of_memory = rc == CURLE_OUT_OF_MEMORY;
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

/* Ends the calls whose setup failed before this turn (those their callbacks start wait for the next one). */
static void end_failed_setups(up_client_t *c)
{
    bool any = false;
    for (up_call_t *call = c->calls; call != NULL; call = call->next)
        any |= call->fail_due = call->setup_failed != CURLE_OK && !call->cancelled;
    while (any) {
        any = false;
        for (up_call_t *call = c->calls; call != NULL; call = call->next) {
            if (call->fail_due) {
                call->fail_due = false;
                finish(call, call->setup_failed); /* frees it, and its callback may change the list: walk again */
                any = true;
                break;
            }
        }
    }
}

void up_client_wait(up_client_t *c, int extra_fd, int timeout_ms)
{
    struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
    long curl_timeout = -1;
    curl_multi_timeout(c->multi, &curl_timeout);
    int t = timeout_ms;
    for (up_call_t *call = c->calls; call != NULL; call = call->next)
        if (call->setup_failed != CURLE_OK)
            t = 0; /* a call to end now */
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
    end_failed_setups(c);
}

char *up_escape(const char *segment)
{
    /* as curl_easy_escape does (RFC 3986 unreserved characters kept), without an allocation that could fail */
    static const char HEX[] = "0123456789ABCDEF";
    size_t n = strlen(segment);
    char *out = hl_malloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)segment; *p != '\0'; ++p) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
            *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = HEX[*p >> 4];
            *o++ = HEX[*p & 15];
        }
    }
    *o = '\0';
    return out;
}
