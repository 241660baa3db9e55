/*
 * Scenarios (FAKE-UPSTREAM.md §3): parsing "name;k=v;…" from a header, a [[fake:…]] token or the queued default, the
 * built-in scripts, and the runs they drive: status changes as upstream's, events framed as upstream's (data-only, the
 * JSON starting with event, run_id, timestamp with 6 decimals), buffered in a single-consumer queue until the one
 * subscriber arrives, stop, approval, drop_after.
 *
 * Stream faults beyond FAKE-UPSTREAM.md (HermesLink's upstream_faults suite), common options of any scenario, each
 * counted in events as drop_after is (never applied to the terminal event):
 *   reset_after=N    after N events the connection closes with a TCP reset (RST) instead of a FIN; the run fails
 *   stall_after=N    after N events nothing more is ever sent (the run stays running until stopped; keep-alive
 *                    comments still go out every --keepalive-ms: run the fake with a long one for a silent stall)
 *   garbage_after=N  after N events one block of bytes no event stream has (NUL, invalid UTF-8, a line that is no
 *                    field, a data line that is not JSON); the run then goes on
 *   cut_after=N      the event after N is cut in half: by default inside an HTTP chunk announced for all of it, then
 *                    the connection closes; with cut_end=chunk the half is a whole chunk and the answer ends well
 *   admit_garbage=1  POST /v1/runs is answered with bytes that are not HTTP, then the connection closes
 */
#include "fake.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fk_run_t *runs, *runs_tail;

/* ---- scenario specs ---- */

static const char *const KNOWN[] = {"stream", "tool",     "approval", "approval2", "fail",      "slow",
                                    "drip",   "subagent", "unicode",  "hang",      "reasoning", NULL};

int fk_scenario_known(const char *name)
{
    for (size_t i = 0; KNOWN[i] != NULL; ++i)
        if (strcmp(KNOWN[i], name) == 0)
            return 1;
    return 0;
}

static int hexv(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static char *trimmed_decoded(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    char *out = fk_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '%' && i + 2 < len + 0 && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0 &&
            (hexv(s[i + 1]) | hexv(s[i + 2])) != 0) {
            out[o++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

void fk_scenario_free(fk_scenario_t *s)
{
    free(s->name);
    json_decref(s->params);
    s->name = NULL;
    s->params = NULL;
}

int fk_scenario_parse(const char *spec, size_t len, fk_scenario_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char *end = spec + len, *p = spec;
    const char *semi = memchr(p, ';', len);
    const char *name_end = semi != NULL ? semi : end;
    s->name = trimmed_decoded(p, (size_t)(name_end - p));
    s->params = json_object();
    if (!fk_scenario_known(s->name)) {
        snprintf(err, errlen, "unknown fake scenario '%.100s'", s->name);
        fk_scenario_free(s);
        return -1;
    }
    p = name_end;
    while (p < end) {
        ++p; /* the ';' */
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *item_end = next != NULL ? next : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        char *k = trimmed_decoded(p, (size_t)((eq != NULL ? eq : item_end) - p));
        char *v = eq != NULL ? trimmed_decoded(eq + 1, (size_t)(item_end - eq - 1)) : fk_strdup("1");
        if (*k != '\0' && fk_utf8_valid(k, strlen(k)) && fk_utf8_valid(v, strlen(v)))
            json_object_set_new(s->params, k, json_string(v));
        free(k);
        free(v);
        p = item_end;
    }
    return 0;
}

int fk_scenario_token(const char *text, fk_scenario_t *s, char *err, size_t errlen)
{
    const char *start = strstr(text, "[[fake:");
    if (start == NULL)
        return 0;
    start += 7;
    const char *end = strstr(start, "]]");
    if (end == NULL) {
        snprintf(err, errlen, "unterminated [[fake:…]] token");
        return -1;
    }
    return fk_scenario_parse(start, (size_t)(end - start), s, err, errlen) == 0 ? 1 : -1;
}

const char *fk_param(const json_t *params, const char *key, const char *def)
{
    const char *v = json_string_value(json_object_get(params, key));
    return v != NULL ? v : def;
}

long fk_param_long(const json_t *params, const char *key, long def)
{
    const char *v = fk_param(params, key, NULL);
    if (v == NULL || *v == '\0')
        return def;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d > -1e12 && d < 1e12))
        return def;
    return (long)d;
}

/* ---- queued defaults ---- */

typedef struct st_queued_t {
    struct st_queued_t *next;
    fk_scenario_t s;
    long times;
} queued_t;

static queued_t *queued;

void fk_queue_scenario(const char *name, json_t *params, long times)
{
    queued_t *q = fk_calloc(1, sizeof(*q));
    q->s.name = fk_strdup(name);
    q->s.params = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        char buf[64];
        if (json_is_string(v))
            json_object_set(q->s.params, k, v);
        else if (json_is_integer(v))
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v)),
                json_object_set_new(q->s.params, k, json_string(buf));
        else if (json_is_real(v))
            snprintf(buf, sizeof(buf), "%.17g", json_real_value(v)), json_object_set_new(q->s.params, k, json_string(buf));
        else if (json_is_boolean(v))
            json_object_set_new(q->s.params, k, json_string(json_is_true(v) ? "1" : "0"));
    }
    q->times = times > 0 ? times : 1;
    queued_t **pp = &queued;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = q;
}

int fk_take_queued(fk_scenario_t *s)
{
    if (queued == NULL) {
        s->name = fk_strdup("stream");
        s->params = json_object();
        return 0;
    }
    s->name = fk_strdup(queued->s.name);
    s->params = json_deep_copy(queued->s.params);
    if (--queued->times <= 0) {
        queued_t *q = queued;
        queued = q->next;
        fk_scenario_free(&q->s);
        free(q);
    }
    return 1;
}

void fk_queued_clear(void)
{
    while (queued != NULL) {
        queued_t *q = queued;
        queued = q->next;
        fk_scenario_free(&q->s);
        free(q);
    }
}

/* ---- runs: lookup ---- */

fk_run_t *fk_run_find_any(const char *id)
{
    for (fk_run_t *r = runs; r != NULL; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

fk_run_t *fk_run_find(const char *id)
{
    fk_run_t *r = fk_run_find_any(id);
    return r != NULL && r->kind == FK_KIND_RUN ? r : NULL;
}

fk_run_t *fk_runs_first(void)
{
    return runs;
}

int fk_run_terminal(const fk_run_t *r)
{
    return r->status == FK_COMPLETED || r->status == FK_FAILED || r->status == FK_CANCELLED;
}

size_t fk_runs_live(void)
{
    size_t n = 0;
    for (fk_run_t *r = runs; r != NULL; r = r->next) /* from v0.20 the cap covers chat completions too */
        n += !fk_run_terminal(r) && (r->kind == FK_KIND_RUN || fk_opt.dialect >= FK_V020);
    return n;
}

const char *fk_status_name(fk_status_t s)
{
    static const char *const NAMES[] = {"queued", "running",  "waiting_for_approval", "stopping", "completed",
                                        "failed", "cancelled"};
    return NAMES[s];
}

/* ---- the event queue ---- */

static void queue_free(fk_run_t *r)
{
    while (r->qhead != NULL) {
        fk_ev_t *e = r->qhead;
        r->qhead = e->next;
        free(e->data);
        free(e);
    }
    r->qtail = NULL;
    r->qlen = 0;
}

/* The stream ends: the subscriber gets ": stream closed" (or the drop), the queue is gone. */
static void stream_end(fk_run_t *r)
{
    fk_conn_t *c = r->sub;
    r->sub = NULL;
    r->qstate = FK_Q_GONE;
    queue_free(r);
    if (c != NULL) {
        c->run = NULL;
        if (r->qend == 4)
            fk_sse_cut(c, r->cut_frame, r->cut_len, r->cut_len / 2, r->cut_clean);
        else
            fk_sse_end(c, r->qend == 2 ? FK_END_DROP : r->qend == 3 ? FK_END_RESET : FK_END_CLOSED);
    }
}

static void queue_push(fk_run_t *r, char *frame, size_t len)
{
    if (r->qstate == FK_Q_ATTACHED && r->sub != NULL) {
        fk_sse_send(r->sub, frame, len);
        free(frame);
        return;
    }
    if (r->qstate != FK_Q_BUFFER || r->qlen >= 100000) {
        free(frame);
        return;
    }
    fk_ev_t *e = fk_calloc(1, sizeof(*e));
    e->data = frame;
    e->len = len;
    if (r->qtail != NULL)
        r->qtail->next = e;
    else
        r->qhead = e;
    r->qtail = e;
    ++r->qlen;
}

static void queue_end(fk_run_t *r, int drop)
{
    r->qend = drop == 0 ? 1 : drop == 1 ? 2 : drop; /* 0: close, 1: drop, 3: reset, 4: cut */
    if (r->kind == FK_KIND_CHAT) {
        if (drop)
            fk_chat_drop(r);
        return;
    }
    if (r->qstate == FK_Q_ATTACHED)
        stream_end(r);
}

void fk_run_attach(fk_run_t *r, fk_conn_t *c)
{
    r->sub = c;
    c->run = r;
    r->qstate = FK_Q_ATTACHED;
    while (r->qhead != NULL && r->sub == c) {
        fk_ev_t *e = r->qhead;
        r->qhead = e->next;
        if (r->qhead == NULL)
            r->qtail = NULL;
        --r->qlen;
        fk_sse_send(c, e->data, e->len);
        free(e->data);
        free(e);
    }
    if (r->sub == c && r->qend != 0)
        stream_end(r);
}

void fk_run_detach(fk_run_t *r, fk_conn_t *c)
{
    if (r->sub != c)
        return;
    r->sub = NULL;
    if (r->kind == FK_KIND_CHAT) { /* a chat client that goes away interrupts its agent */
        r->qstate = FK_Q_GONE;
        fk_run_stop(r);
        return;
    }
    r->qstate = FK_Q_GONE; /* upstream drops the queue with its consumer: a later subscriber gets 404 */
    queue_free(r);
}

/* ---- emitting ---- */

static void set_status(fk_run_t *r, fk_status_t s)
{
    r->status = s;
    r->updated_at = fk_now();
}

static void disarm_all(fk_run_t *r)
{
    fk_timer_disarm(&r->step_timer);
    fk_timer_disarm(&r->cancel_timer);
    fk_timer_disarm(&r->approval_timer);
}

static void drop_now(fk_run_t *r)
{
    disarm_all(r);
    r->approvals_pending = 0;
    free(r->error);
    r->error = fk_strdup("upstream connection lost (fake)");
    set_status(r, FK_FAILED);
    queue_end(r, 1);
}

/* The stream fault due before the next event, if any: reset, stall or cut end the run's stream (returns 1; a cut takes
 * `frame`, the event it leaves unfinished); garbage is sent once and the run goes on (returns 0). Terminal events (the
 * run's status is already final) are never faulted. */
static int stream_fault(fk_run_t *r, char *frame, size_t len)
{
    if (r->kind == FK_KIND_CHAT || fk_run_terminal(r))
        return 0;
    if (r->garbage_after >= 0 && r->emitted >= r->garbage_after) {
        /* bytes no event stream has: NUL, invalid UTF-8, a line without a field, then a data line that is not JSON */
        static const char GARBAGE[] = "\x00\x01\xfe\xff<html><body>502 Bad Gateway</body></html>\r\n"
                                      "data: \xfe\xff{\"event\":garbage\n\n";
        r->garbage_after = -1;
        queue_push(r, fk_strndup(GARBAGE, sizeof(GARBAGE) - 1), sizeof(GARBAGE) - 1);
    }
    if (r->stall_after >= 0 && r->emitted >= r->stall_after) {
        disarm_all(r); /* still running, never another byte (the suite runs the fake with long keep-alives) */
        return 1;
    }
    int end = r->reset_after >= 0 && r->emitted >= r->reset_after ? 3 : r->cut_after >= 0 && r->emitted >= r->cut_after ? 4 : 0;
    if (end == 0)
        return 0;
    disarm_all(r);
    r->approvals_pending = 0;
    free(r->error);
    r->error = fk_strdup("upstream connection lost (fake)");
    set_status(r, FK_FAILED);
    if (end == 4) {
        r->cut_frame = frame;
        r->cut_len = len;
    }
    queue_end(r, end);
    return 1;
}

/* Emits an event (fields: extra members, borrowed). Returns 0, or -1 when the run dropped its connection instead. */
static int emit(fk_run_t *r, const char *event, json_t *fields)
{
    if (r->drop_after >= 0 && r->emitted >= r->drop_after) {
        drop_now(r);
        return -1;
    }
    double now = fk_now();
    if (r->kind == FK_KIND_CHAT) {
        free(r->last_event);
        r->last_event = fk_strdup(event);
        r->updated_at = now;
        ++r->emitted;
        fk_chat_event(r, event, fields);
        if (r->drop_after >= 0 && r->emitted >= r->drop_after && !fk_run_terminal(r)) {
            drop_now(r);
            return -1;
        }
        return 0;
    }
    fk_buf_t b = {0};
    fk_buf_printf(&b, "data: {\"event\":\"%s\",\"run_id\":\"%s\",\"timestamp\":%.6f", event, r->id, now);
    if (fields != NULL && json_object_size(fields) > 0) {
        char *s = fk_json_dump(fields);
        fk_buf_str(&b, ",");
        fk_buf_str(&b, s + 1); /* without its '{' */
        free(s);
    } else {
        fk_buf_str(&b, "}");
    }
    fk_buf_str(&b, "\n\n");
    if (stream_fault(r, b.p, b.len) != 0) {
        if (r->cut_frame != b.p)
            free(b.p);
        return -1;
    }
    free(r->last_event);
    r->last_event = fk_strdup(event);
    r->updated_at = now;
    ++r->emitted;
    size_t len = b.len;
    queue_push(r, b.p, len);
    if (r->drop_after >= 0 && r->emitted >= r->drop_after && !fk_run_terminal(r)) {
        drop_now(r);
        return -1;
    }
    return 0;
}

/* ---- the script ---- */

static void add_step(fk_run_t *r, fk_step_kind_t kind, const char *event, json_t *fields, double ms)
{
    if (r->nsteps == r->steps_cap) {
        r->steps_cap = r->steps_cap > 0 ? r->steps_cap * 2 : 32;
        r->steps = fk_realloc(r->steps, sizeof(*r->steps) * r->steps_cap);
    }
    fk_step_t *s = &r->steps[r->nsteps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->event = event != NULL ? fk_strdup(event) : NULL;
    s->fields = fields;
    s->ms = ms;
}

static void advance(fk_run_t *r);

static void step_cb(fk_timer_t *t)
{
    advance(FK_CONTAINER_OF(t, fk_run_t, step_timer));
}

static void approval_timeout_cb(fk_timer_t *t)
{
    fk_run_t *r = FK_CONTAINER_OF(t, fk_run_t, approval_timer);
    if (r->approvals_pending == 0 || fk_run_terminal(r))
        return;
    r->approvals_pending = 0;
    r->approval_denied = 1; /* a timeout counts as a deny */
    set_status(r, FK_RUNNING);
    advance(r);
}

static void advance(fk_run_t *r)
{
    if (r->status == FK_QUEUED)
        set_status(r, FK_RUNNING);
    while (r->pc < r->nsteps && !fk_run_terminal(r) && r->status != FK_STOPPING && r->status != FK_WAITING) {
        fk_step_t *s = &r->steps[r->pc];
        switch (s->kind) {
        case FK_S_EMIT:
            ++r->pc;
            if (emit(r, s->event, s->fields) != 0)
                return;
            break;
        case FK_S_WAIT:
            ++r->pc;
            fk_timer_arm(&r->step_timer, s->ms, step_cb);
            return;
        case FK_S_TOOL_START:
            ++r->pc;
            r->tool_started = fk_mono_ms();
            if (emit(r, "tool.started", s->fields) != 0)
                return;
            break;
        case FK_S_APPROVAL:
            ++r->pc;
            for (int i = 0; i < s->count; ++i)
                if (emit(r, "approval.request", s->fields) != 0)
                    return;
            r->approvals_pending = s->count;
            set_status(r, FK_WAITING);
            fk_timer_arm(&r->approval_timer, s->ms, approval_timeout_cb);
            return;
        case FK_S_TOOL_DONE: {
            ++r->pc;
            double secs = s->ms >= 0 ? s->ms / 1000.0 : (fk_mono_ms() - r->tool_started) / 1000.0;
            json_t *f = json_deep_copy(s->fields);
            int err = json_is_true(json_object_get(f, "error")) || r->approval_denied;
            json_object_set_new(f, "duration", json_real(round(secs * 1000.0) / 1000.0));
            json_object_set_new(f, "error", json_boolean(err));
            int rc = emit(r, "tool.completed", f);
            json_decref(f);
            if (rc != 0)
                return;
            break;
        }
        case FK_S_COMPLETE: {
            ++r->pc;
            free(r->output);
            r->output = fk_strdup(r->full_text != NULL ? r->full_text : "");
            set_status(r, FK_COMPLETED);
            json_t *f =
                json_pack("{s:s,s:{s:I,s:I,s:I}}", "output", r->output, "usage", "input_tokens", (json_int_t)r->usage_in,
                          "output_tokens", (json_int_t)r->usage_out, "total_tokens", (json_int_t)(r->usage_in + r->usage_out));
            r->drop_after = -1; /* the terminal event always goes out once due */
            emit(r, "run.completed", f);
            json_decref(f);
            queue_end(r, 0);
            return;
        }
        case FK_S_FAIL: {
            ++r->pc;
            free(r->error);
            r->error = fk_strdup(json_string_value(json_object_get(s->fields, "error")));
            set_status(r, FK_FAILED);
            r->drop_after = -1;
            emit(r, "run.failed", s->fields);
            queue_end(r, 0);
            return;
        }
        case FK_S_HANG:
            return; /* until stopped */
        }
    }
}

static void cancel_cb(fk_timer_t *t)
{
    fk_run_t *r = FK_CONTAINER_OF(t, fk_run_t, cancel_timer);
    if (fk_run_terminal(r))
        return;
    set_status(r, FK_CANCELLED);
    r->drop_after = -1;
    emit(r, "run.cancelled", NULL);
    queue_end(r, 0);
}

int fk_run_stop(fk_run_t *r)
{
    if (fk_run_terminal(r))
        return -1;
    ++r->stop_calls;
    if (r->status == FK_STOPPING)
        return 0;
    fk_timer_disarm(&r->step_timer);
    fk_timer_disarm(&r->approval_timer);
    r->approvals_pending = 0;
    set_status(r, FK_STOPPING);
    fk_timer_arm(&r->cancel_timer, r->cancel_latency, cancel_cb);
    return 0;
}

int fk_run_approve(fk_run_t *r, const char *choice, int all)
{
    if (r->approvals_pending <= 0)
        return 0;
    int n = all ? r->approvals_pending : 1;
    r->approvals_pending -= n;
    json_array_append_new(r->choices, json_string(choice));
    if (strcmp(choice, "deny") == 0)
        r->approval_denied = 1;
    json_t *f = json_pack("{s:s,s:i}", "choice", choice, "resolved", n);
    int rc = emit(r, "approval.responded", f);
    json_decref(f);
    if (rc == 0 && r->approvals_pending == 0) {
        fk_timer_disarm(&r->approval_timer);
        set_status(r, FK_RUNNING);
        fk_timer_arm(&r->step_timer, 0, step_cb);
    }
    return n;
}

/* ---- building scripts ---- */

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static const char DEFAULT_TEXT[] = "Hello from the fake LLM.";

/* Splits text into n pieces: at word starts when it has exactly n words, else in equal runs of code points. */
static json_t *split_text(const char *text, long n)
{
    json_t *out = json_array();
    size_t len = strlen(text), words = 1;
    for (size_t i = 1; i < len; ++i)
        words += text[i] == ' ' && text[i - 1] != ' ';
    if (n < 1)
        n = 1;
    if ((long)words == n && len > 0) {
        size_t start = 0;
        for (size_t i = 1; i <= len; ++i)
            if (i == len || (text[i] == ' ' && text[i - 1] != ' ')) {
                json_array_append_new(out, json_stringn(text + start, i - start));
                start = i;
            }
        return out;
    }
    size_t cps = utf8_len(text);
    if (cps == 0) {
        json_array_append_new(out, json_string(""));
        return out;
    }
    if ((size_t)n > cps)
        n = (long)cps;
    size_t *starts = fk_malloc(sizeof(*starts) * (cps + 1)); /* byte offset of each code point, and the end */
    size_t k = 0;
    for (size_t i = 0; i < len; ++i)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            starts[k++] = i;
    starts[cps] = len;
    size_t per = cps / (size_t)n, extra = cps % (size_t)n, cp = 0;
    for (long i = 0; i < n; ++i) {
        size_t take = per + ((size_t)i < extra);
        json_array_append_new(out, json_stringn(text + starts[cp], starts[cp + take] - starts[cp]));
        cp += take;
    }
    free(starts);
    return out;
}

static char *default_text(long n)
{
    fk_buf_t b = {0}; /* the text is ASCII: its length counts its code points */
    fk_buf_str(&b, DEFAULT_TEXT);
    while ((long)b.len < n) {
        fk_buf_str(&b, " ");
        fk_buf_str(&b, DEFAULT_TEXT);
    }
    return b.p;
}

/* message.delta × n (gap before each), reasoning.available, run.completed. prefix goes before the first delta. */
static void add_stream(fk_run_t *r, const json_t *p, long deltas, const char *prefix, int usage_mult)
{
    double gap = fk_scaled((double)fk_param_long(p, "gap_ms", 50));
    const char *given = fk_param(p, "text", NULL);
    char *text = given != NULL ? fk_strdup(given) : default_text(deltas);
    json_t *pieces = split_text(text, deltas);
    size_t i;
    json_t *piece;
    json_array_foreach(pieces, i, piece)
    {
        add_step(r, FK_S_WAIT, NULL, NULL, gap);
        const char *d = json_string_value(piece);
        char *full = i == 0 && prefix != NULL ? fk_asprintf("%s%s", prefix, d) : fk_strdup(d);
        add_step(r, FK_S_EMIT, "message.delta", json_pack("{s:s}", "delta", full), 0);
        free(full);
    }
    json_decref(pieces);
    if (fk_param_long(p, "reasoning", 1) != 0)
        add_step(r, FK_S_EMIT, "reasoning.available", json_pack("{s:s}", "text", text), 0);
    add_step(r, FK_S_COMPLETE, NULL, NULL, 0);
    free(r->full_text);
    r->full_text = text;
    r->usage_in = fk_param_long(p, "in", 11) * usage_mult;
    r->usage_out = fk_param_long(p, "out", 5) * usage_mult;
}

static json_t *choices_list(const char *spec)
{
    json_t *a = json_array();
    const char *p = spec;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len > 0)
            json_array_append_new(a, json_stringn(p, len));
        p += len + (comma != NULL);
    }
    return a;
}

static void build_script(fk_run_t *r)
{
    const json_t *p = r->params;
    const char *name = r->scenario;
    long deltas = fk_param_long(p, "deltas", 5);
    if (deltas > fk_opt.max_deltas)
        deltas = fk_opt.max_deltas;
    if (strcmp(name, "stream") == 0) {
        add_stream(r, p, deltas, NULL, 1);
    } else if (strcmp(name, "drip") == 0) {
        json_t *q = json_deep_copy(p);
        if (json_object_get(q, "gap_ms") == NULL)
            json_object_set_new(q, "gap_ms", json_string("20"));
        long n = fk_param_long(p, "deltas", 200);
        add_stream(r, q, n < fk_opt.max_deltas ? n : fk_opt.max_deltas, NULL, 1);
        json_decref(q);
    } else if (strcmp(name, "slow") == 0) {
        add_step(r, FK_S_WAIT, NULL, NULL, fk_scaled((double)fk_param_long(p, "first_delay_ms", 10000)));
        add_stream(r, p, deltas, NULL, 1);
    } else if (strcmp(name, "tool") == 0) {
        const char *tool = fk_param(p, "tool", "terminal");
        long dur = fk_param_long(p, "duration_ms", 120);
        add_step(r, FK_S_TOOL_START, NULL, json_pack("{s:s,s:s}", "tool", tool, "preview", fk_param(p, "preview", "ls -la")), 0);
        add_step(r, FK_S_WAIT, NULL, NULL, fk_scaled((double)dur));
        add_step(r, FK_S_TOOL_DONE, NULL, json_pack("{s:s,s:b}", "tool", tool, "error", fk_param_long(p, "error", 0) != 0),
                 (double)dur);
        add_stream(r, p, deltas, "\n\n", 1);
    } else if (strcmp(name, "approval") == 0 || strcmp(name, "approval2") == 0) {
        const char *tool = fk_param(p, "tool", "terminal");
        const char *command = fk_param(p, "command", "rm -rf scratch-dir");
        const char *desc = fk_param(p, "description", "delete in root path");
        int perm = fk_param_long(p, "allow_permanent", 1) != 0, sess = fk_param_long(p, "allow_session", 1) != 0;
        const char *choices = fk_param(p, "choices", perm ? "once,session,always,deny" : "once,session,deny");
        long count = fk_param_long(p, "count", strcmp(name, "approval2") == 0 ? 2 : 1);
        if (count < 1)
            count = 1;
        if (count > 100)
            count = 100;
        add_step(r, FK_S_TOOL_START, NULL, json_pack("{s:s,s:s}", "tool", tool, "preview", command), 0);
        add_step(r, FK_S_APPROVAL, NULL,
                 json_pack("{s:s,s:s,s:s,s:[s],s:b,s:b,s:o}", "command", command, "description", desc, "pattern_key", desc,
                           "pattern_keys", desc, "allow_permanent", perm, "allow_session", sess, "choices", choices_list(choices)),
                 fk_scaled((double)fk_param_long(p, "timeout_ms", 300000)));
        r->steps[r->nsteps - 1].count = (int)count;
        add_step(r, FK_S_TOOL_DONE, NULL, json_pack("{s:s}", "tool", tool), -1);
        add_stream(r, p, deltas, "\n\n", 2);
    } else if (strcmp(name, "fail") == 0) {
        long after = fk_param_long(p, "after_deltas", 0);
        if (after > fk_opt.max_deltas)
            after = fk_opt.max_deltas;
        const char *given = fk_param(p, "text", NULL);
        char *text = given != NULL ? fk_strdup(given) : default_text(after);
        json_t *pieces = split_text(text, after > deltas ? after : deltas);
        double gap = fk_scaled((double)fk_param_long(p, "gap_ms", 50));
        for (long i = 0; i < after && (size_t)i < json_array_size(pieces); ++i) {
            add_step(r, FK_S_WAIT, NULL, NULL, gap);
            add_step(r, FK_S_EMIT, "message.delta", json_pack("{s:O}", "delta", json_array_get(pieces, (size_t)i)), 0);
        }
        json_decref(pieces);
        free(text);
        add_step(r, FK_S_WAIT, NULL, NULL, gap);
        add_step(r, FK_S_FAIL, NULL, json_pack("{s:s}", "error", fk_param(p, "error", "Error code: 401 - invalid api key")), 0);
    } else if (strcmp(name, "subagent") == 0) {
        long children = fk_param_long(p, "children", 1);
        if (children < 0)
            children = 0;
        if (children > 100)
            children = 100;
        double gap = fk_scaled((double)fk_param_long(p, "gap_ms", 50));
        for (long i = 0; i < children; ++i) {
            char sid[20] = "sa_", child[20];
            fk_hex_id(sid + 3, 12);
            fk_hex_id(child, 16);
            char *goal = fk_asprintf("Fake subtask %ld", i + 1);
            add_step(r, FK_S_WAIT, NULL, NULL, gap);
            add_step(r, FK_S_EMIT, "subagent.start",
                     json_pack("{s:s,s:I,s:I,s:s,s:s,s:i,s:s}", "goal", goal, "task_count", (json_int_t)children, "task_index",
                               (json_int_t)i, "subagent_id", sid, "child_session_id", child, "depth", 1, "model", r->model),
                     0);
            add_step(r, FK_S_WAIT, NULL, NULL, gap);
            add_step(r, FK_S_EMIT, "subagent.complete",
                     json_pack("{s:s,s:I,s:s,s:s,s:s,s:f,s:i,s:i,s:i,s:f}", "subagent_id", sid, "task_index", (json_int_t)i,
                               "status", "completed", "goal", goal, "summary", "Fake subtask done.", "duration_seconds", 0.5,
                               "input_tokens", 10, "output_tokens", 5, "api_calls", 1, "cost_usd", 0.0),
                     0);
            free(goal);
        }
        add_stream(r, p, deltas, NULL, 1);
    } else if (strcmp(name, "unicode") == 0) {
        /* a decomposed é and a skin-toned thumbs-up split between deltas, multi-byte characters everywhere (split
         * between writes with chunking=bytes), and a delta that looks like an SSE frame once unescaped */
        static const char *const PIECES[] = {"Caf",
                                             "e\xCC\x81 na\xC3\xAFve ",
                                             "\xF0\x9F\x91\x8D",
                                             "\xF0\x9F\x8F\xBD ",
                                             "\xE6\x97\xA5\xE6\x9C\xAC",
                                             "\xE8\xAA\x9E\n\ndata: not-an-event",
                                             " \xF0\x9F\x8E\x89 done",
                                             NULL};
        double gap = fk_scaled((double)fk_param_long(p, "gap_ms", 20));
        fk_buf_t all = {0};
        for (size_t i = 0; PIECES[i] != NULL; ++i) {
            add_step(r, FK_S_WAIT, NULL, NULL, gap);
            add_step(r, FK_S_EMIT, "message.delta", json_pack("{s:s}", "delta", PIECES[i]), 0);
            fk_buf_str(&all, PIECES[i]);
        }
        add_step(r, FK_S_EMIT, "reasoning.available", json_pack("{s:s}", "text", all.p), 0);
        add_step(r, FK_S_COMPLETE, NULL, NULL, 0);
        r->full_text = all.p;
        r->usage_in = fk_param_long(p, "in", 11);
        r->usage_out = fk_param_long(p, "out", 5);
    } else if (strcmp(name, "reasoning") == 0) {
        long n = fk_param_long(p, "deltas", 3);
        double gap = fk_scaled((double)fk_param_long(p, "gap_ms", 50));
        for (long i = 0; i < n && i < fk_opt.max_deltas; ++i) {
            char *d = fk_asprintf("Thinking step %ld. ", i + 1);
            add_step(r, FK_S_WAIT, NULL, NULL, gap);
            add_step(r, FK_S_EMIT, "reasoning.delta", json_pack("{s:s}", "delta", d), 0);
            free(d);
        }
        long m = fk_param_long(p, "message_deltas", 5);
        add_stream(r, p, m < fk_opt.max_deltas ? m : fk_opt.max_deltas, NULL, 1);
    } else { /* hang */
        add_step(r, FK_S_HANG, NULL, NULL, 0);
    }
}

static void run_free(fk_run_t *r)
{
    disarm_all(r);
    if (r->sub != NULL) {
        fk_conn_t *c = r->sub;
        r->sub = NULL;
        c->run = NULL;
        fk_conn_close(c);
    }
    queue_free(r);
    for (size_t i = 0; i < r->nsteps; ++i) {
        free(r->steps[i].event);
        json_decref(r->steps[i].fields);
    }
    free(r->steps);
    free(r->session_id);
    free(r->model);
    free(r->scenario);
    json_decref(r->params);
    free(r->last_event);
    free(r->output);
    free(r->error);
    json_decref(r->choices);
    json_decref(r->steers);
    free(r->full_text);
    free(r->cut_frame);
    free(r->idem_key);
    free(r->idem_body);
    fk_buf_free(&r->chat_text);
    free(r);
}

fk_run_t *fk_run_create(fk_scenario_t *s, const char *session_id, const char *model, char *err, size_t errlen)
{
    const char *chunking = fk_param(s->params, "chunking", "whole");
    fk_chunking_t ch;
    if (strcmp(chunking, "whole") == 0)
        ch = FK_WHOLE;
    else if (strcmp(chunking, "bytes") == 0)
        ch = FK_BYTES;
    else if (strcmp(chunking, "coalesce") == 0)
        ch = FK_COALESCE;
    else {
        snprintf(err, errlen, "unknown chunking '%.50s' (whole, bytes or coalesce)", chunking);
        return NULL;
    }
    fk_run_t *r = fk_calloc(1, sizeof(*r));
    memcpy(r->id, "run_", 4);
    fk_hex_id(r->id + 4, 32);
    r->scenario = s->name;
    r->params = s->params;
    s->name = NULL;
    s->params = NULL;
    const char *sid = fk_param(r->params, "session_id", NULL);
    r->session_id = fk_strdup(sid != NULL ? sid : session_id != NULL ? session_id : r->id);
    r->model = fk_strdup(model != NULL ? model : fk_opt.model_name);
    r->status = FK_QUEUED;
    r->created_at = r->updated_at = fk_now();
    r->choices = json_array();
    r->steers = json_array();
    r->chunking = ch;
    r->drop_after = fk_param_long(r->params, "drop_after", -1);
    r->reset_after = fk_param_long(r->params, "reset_after", -1);
    r->stall_after = fk_param_long(r->params, "stall_after", -1);
    r->garbage_after = fk_param_long(r->params, "garbage_after", -1);
    r->cut_after = fk_param_long(r->params, "cut_after", -1);
    r->cut_clean = strcmp(fk_param(r->params, "cut_end", "close"), "chunk") == 0;
    r->cancel_latency = fk_scaled((double)fk_param_long(r->params, "cancel_latency_ms", 200));
    r->qstate = FK_Q_BUFFER;
    build_script(r);
    if (runs_tail != NULL)
        runs_tail->next = r;
    else
        runs = r;
    runs_tail = r;
    fk_timer_arm(&r->step_timer, 0, step_cb); /* starts at once, in the background */
    return r;
}

static void unlink_run(fk_run_t *r)
{
    fk_run_t *prev = NULL;
    for (fk_run_t *x = runs; x != NULL; prev = x, x = x->next)
        if (x == r) {
            if (prev != NULL)
                prev->next = r->next;
            else
                runs = r->next;
            if (runs_tail == r)
                runs_tail = prev;
            return;
        }
}

void fk_runs_sweep(int force)
{
    static double last; /* monotonic ms: at most one sweep a second */
    double mono = fk_mono_ms();
    if (!force && last != 0 && mono - last < 1000)
        return;
    last = mono;
    double now = fk_now();
    fk_run_t *r = runs;
    while (r != NULL) {
        fk_run_t *next = r->next;
        if (fk_run_terminal(r) && now - r->updated_at > (double)fk_opt.keep_finished_s && r->sub == NULL) {
            unlink_run(r);
            run_free(r);
        } else if (r->qstate == FK_Q_BUFFER && r->sub == NULL && now - r->created_at > 300.0) {
            r->qstate = FK_Q_GONE;
            queue_free(r);
        }
        r = next;
    }
}

void fk_runs_clear(void)
{
    while (runs != NULL) {
        fk_run_t *r = runs;
        runs = r->next;
        run_free(r);
    }
    runs_tail = NULL;
}

/* ---- JSON views ---- */

json_t *fk_run_status_json(const fk_run_t *r)
{
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:f,s:f,s:s,s:s,s:o}", "object", "hermes.run", "run_id", r->id, "status", fk_status_name(r->status),
                  "created_at", r->created_at, "updated_at", r->updated_at, "session_id", r->session_id, "model", r->model,
                  "last_event", r->last_event != NULL ? json_string(r->last_event) : json_null());
    if (r->status == FK_COMPLETED) {
        json_object_set_new(j, "output", json_string(r->output != NULL ? r->output : ""));
        json_object_set_new(j, "usage",
                            json_pack("{s:I,s:I,s:I}", "input_tokens", (json_int_t)r->usage_in, "output_tokens",
                                      (json_int_t)r->usage_out, "total_tokens", (json_int_t)(r->usage_in + r->usage_out)));
    }
    if (r->status == FK_FAILED && r->error != NULL)
        json_object_set_new(j, "error", json_string(r->error));
    return j;
}

json_t *fk_run_debug_json(const fk_run_t *r)
{
    static const char *const Q[] = {"buffer", "attached", "gone"};
    static const char *const CH[] = {"whole", "bytes", "coalesce"};
    return json_pack("{s:s,s:s,s:O,s:s,s:I,s:I,s:b,s:s,s:I,s:I,s:i,s:O,s:i,s:O,s:s,s:I,s:s,s:o}", "run_id", r->id, "scenario",
                     r->scenario, "params", r->params, "status", fk_status_name(r->status), "step", (json_int_t)r->pc, "steps",
                     (json_int_t)r->nsteps, "subscriber", r->sub != NULL, "queue", Q[r->qstate], "buffered_events",
                     (json_int_t)r->qlen, "events_emitted", (json_int_t)r->emitted, "approvals_pending", r->approvals_pending,
                     "approval_choices", r->choices, "stop_calls", r->stop_calls, "steers", r->steers, "chunking", CH[r->chunking],
                     "drop_after", (json_int_t)r->drop_after, "session_id", r->session_id, "last_event",
                     r->last_event != NULL ? json_string(r->last_event) : json_null());
}
