/*
 * The control and inspection API (FAKE-UPSTREAM.md §5), loopback only and without auth, never part of upstream; and the
 * request log it exposes (Authorization reported as absent/present/matches-key, never its value).
 */
#include "fake.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

fk_ctl_t fk_ctl;

static char **log_lines; /* a ring of FK_LOG_MAX dumped entries */
static size_t log_start, log_count, log_bytes;

/* ---- the request log ---- */

static const char *auth_report(const fk_req_t *r)
{
    const char *h = fk_req_header(r, "Authorization");
    if (h == NULL)
        return "absent";
    if (fk_opt.key == NULL || strncmp(h, "Bearer ", 7) != 0)
        return "present";
    const char *t = h + 7;
    while (*t == ' ' || *t == '\t')
        ++t;
    size_t tl = strlen(t);
    while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
        --tl;
    return tl == strlen(fk_opt.key) && memcmp(t, fk_opt.key, tl) == 0 ? "matches-key" : "present";
}

void fk_reqlog_add(const fk_req_t *r)
{
    json_t *hdrs = json_object();
    for (size_t i = 0; i < r->nhdrs; ++i) {
        char name[128];
        size_t n = 0;
        for (const char *p = r->hdrs[i].name; *p && n + 1 < sizeof(name); ++p)
            name[n++] = (char)tolower((unsigned char)*p);
        name[n] = '\0';
        if (strcmp(name, "authorization") == 0 || !fk_utf8_valid(name, n) ||
            !fk_utf8_valid(r->hdrs[i].value, strlen(r->hdrs[i].value)))
            continue;
        json_t *prev = json_object_get(hdrs, name);
        if (prev != NULL) {
            char *joined = fk_asprintf("%s, %s", json_string_value(prev), r->hdrs[i].value);
            json_object_set_new(hdrs, name, json_string(joined));
            free(joined);
        } else {
            json_object_set_new(hdrs, name, json_string(r->hdrs[i].value));
        }
    }
    json_object_set_new(hdrs, "authorization", json_string(auth_report(r)));
    json_t *body = json_null();
    int truncated = 0;
    if (r->body != NULL) {
        size_t keep = r->body_len;
        if (keep > FK_LOG_BODY_MAX) {
            keep = FK_LOG_BODY_MAX;
            while (keep > 0 && ((unsigned char)r->body[keep] & 0xC0) == 0x80)
                --keep; /* not in the middle of a character */
            truncated = 1;
        }
        if (fk_utf8_valid(r->body, keep))
            body = json_stringn(r->body, keep);
    }
    const char *q = fk_utf8_valid(r->query, strlen(r->query)) ? r->query : "";
    const char *path = fk_utf8_valid(r->path, strlen(r->path)) ? r->path : "";
    json_t *e = json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:b,s:f}", "method", r->method, "path", path, "query", q, "headers", hdrs,
                          "body", body, "body_len", (json_int_t)r->body_len, "body_truncated", truncated, "time", fk_now());
    char *line = fk_json_dump(e);
    json_decref(e);
    if (fk_opt.log_path != NULL) {
        FILE *f = fopen(fk_opt.log_path, "a");
        if (f != NULL) {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
    if (log_lines == NULL)
        log_lines = fk_calloc(FK_LOG_MAX, sizeof(*log_lines));
    size_t len = strlen(line);
    while (log_count > 0 && (log_count == FK_LOG_MAX || log_bytes + len > (size_t)FK_LOG_BYTES_MAX)) {
        log_bytes -= strlen(log_lines[log_start]); /* the oldest go first */
        free(log_lines[log_start]);
        log_lines[log_start] = NULL;
        log_start = (log_start + 1) % FK_LOG_MAX;
        --log_count;
    }
    log_lines[(log_start + log_count++) % FK_LOG_MAX] = line;
    log_bytes += len;
}

/* ---- canned answers (POST /__fake/respond) ---- */

typedef struct st_canned_t {
    struct st_canned_t *next;
    char *method, *path, *ctype, *body;
    int status;
    long times;
} canned_t;

static canned_t *canned;

static void canned_free(canned_t *k)
{
    free(k->method);
    free(k->path);
    free(k->ctype);
    free(k->body);
    free(k);
}

static void canned_clear(void)
{
    while (canned != NULL) {
        canned_t *k = canned;
        canned = k->next;
        canned_free(k);
    }
}

int fk_canned_take(fk_conn_t *c)
{
    for (canned_t **pp = &canned; *pp != NULL; pp = &(*pp)->next) {
        canned_t *k = *pp;
        if (strcmp(k->method, c->req.method) != 0 || strcmp(k->path, c->req.path) != 0)
            continue;
        fk_respond(c, k->status, k->ctype, k->body, strlen(k->body), NULL);
        if (--k->times <= 0) {
            *pp = k->next;
            canned_free(k);
        }
        return 1;
    }
    return 0;
}

static void log_clear(void)
{
    for (size_t i = 0; i < log_count; ++i)
        free(log_lines[(log_start + i) % FK_LOG_MAX]);
    log_start = log_count = log_bytes = 0;
}

void fk_control_free(void)
{
    log_clear();
    free(log_lines);
    log_lines = NULL;
    json_decref(fk_ctl.models);
    memset(&fk_ctl, 0, sizeof(fk_ctl));
    canned_clear();
}

/* ---- routes ---- */

static void ok(fk_conn_t *c)
{
    fk_respond_json(c, 200, json_pack("{s:b}", "ok", 1), NULL);
}

static void bad(fk_conn_t *c, int status, const char *msg)
{
    fk_respond_json(c, status, json_pack("{s:s}", "error", msg), NULL);
}

static json_t *body(fk_conn_t *c)
{
    json_t *j = c->req.body != NULL && c->req.body_len > 0 ? json_loadb(c->req.body, c->req.body_len, 0, NULL) : json_object();
    if (j == NULL)
        bad(c, 400, "Invalid JSON");
    return j;
}

static void set_models(fk_conn_t *c, json_t *b)
{
    json_t *list = json_is_array(b) ? b : json_object_get(b, "models");
    if (list == NULL)
        list = json_object_get(b, "data");
    if (json_is_null(list) || (json_is_object(b) && list == NULL)) {
        json_decref(fk_ctl.models);
        fk_ctl.models = NULL;
        ok(c);
        return;
    }
    if (!json_is_array(list)) {
        bad(c, 400, "expected a list of model ids");
        return;
    }
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *id = json_is_string(m) ? json_string_value(m) : json_string_value(json_object_get(m, "id"));
        if (id == NULL) {
            json_decref(ids);
            bad(c, 400, "each model is an id or an object with an id");
            return;
        }
        json_array_append_new(ids, json_string(id));
    }
    json_decref(fk_ctl.models);
    fk_ctl.models = ids;
    ok(c);
}

void fk_control_handle(fk_conn_t *c)
{
    const char *m = c->req.method, *p = c->req.path + 7; /* after "/__fake" */
    int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, del = strcmp(m, "DELETE") == 0;
    if (strcmp(p, "/requests") == 0 && get) {
        fk_buf_t b = {0};
        for (size_t i = 0; i < log_count; ++i) {
            fk_buf_str(&b, log_lines[(log_start + i) % FK_LOG_MAX]);
            fk_buf_str(&b, "\n");
        }
        fk_respond(c, 200, "application/x-ndjson", b.p != NULL ? b.p : "", b.len, NULL);
        fk_buf_free(&b);
        return;
    }
    if (strcmp(p, "/requests") == 0 && del) {
        log_clear();
        ok(c);
        return;
    }
    if (strcmp(p, "/runs") == 0 && get) {
        json_t *arr = json_array();
        for (fk_run_t *r = fk_runs_first(); r != NULL; r = r->next)
            json_array_append_new(arr, fk_run_debug_json(r));
        fk_respond_json(c, 200, json_pack("{s:o}", "runs", arr), NULL);
        return;
    }
    if (strncmp(p, "/runs/", 6) == 0 && get) {
        fk_run_t *r = fk_run_find_any(p + 6);
        if (r == NULL)
            bad(c, 404, "run not found");
        else
            fk_respond_json(c, 200, fk_run_debug_json(r), NULL);
        return;
    }
    if (strcmp(p, "/respond") == 0 && del) {
        canned_clear();
        ok(c);
        return;
    }
    if (strcmp(p, "/scenario") == 0 && del) {
        fk_queued_clear();
        ok(c);
        return;
    }
    if (!post) {
        bad(c, 404, "unknown control route (see FAKE-UPSTREAM.md §5)");
        return;
    }
    json_t *b = body(c);
    if (b == NULL)
        return;
    if (strcmp(p, "/scenario") == 0) {
        const char *name = json_string_value(json_object_get(b, "name"));
        json_t *params = json_object_get(b, "params");
        json_int_t times = json_integer_value(json_object_get(b, "times"));
        if (name == NULL || !fk_scenario_known(name) || (params != NULL && !json_is_object(params)))
            bad(c, 400, "expected {\"name\": a known scenario, \"params\": {…}, \"times\": N}");
        else {
            json_t *none = json_object();
            fk_queue_scenario(name, params != NULL ? params : none, times > 0 ? (long)times : 1);
            json_decref(none);
            ok(c);
        }
    } else if (strcmp(p, "/respond") == 0) {
        /* {"method":"GET","path":"/v1/models","status":200,"body":"[1]","content_type":"…","times":N}: the next N requests
         * with that method and exact path (no query) get this answer instead of the route's (after the request log, before
         * auth), to test a client's handling of answers no scenario gives: 2xx without the fields due, non-object bodies,
         * statuses a route never returns. */
        const char *method = json_string_value(json_object_get(b, "method"));
        const char *path = json_string_value(json_object_get(b, "path"));
        json_int_t status = json_integer_value(json_object_get(b, "status"));
        json_t *text = json_object_get(b, "body");
        const char *ctype = json_string_value(json_object_get(b, "content_type"));
        json_int_t times = json_integer_value(json_object_get(b, "times"));
        if (method == NULL || path == NULL || path[0] != '/' || status < 100 || status > 599 ||
            (text != NULL && !json_is_string(text))) {
            bad(c, 400, "expected {\"method\", \"path\", \"status\": 100-599, \"body\": text, \"content_type\", \"times\": N}");
        } else {
            canned_t *k = fk_calloc(1, sizeof(*k));
            k->method = fk_strdup(method);
            k->path = fk_strdup(path);
            k->ctype = fk_strdup(ctype != NULL ? ctype : "application/json");
            k->body = fk_strdup(text != NULL ? json_string_value(text) : "");
            k->status = (int)status;
            k->times = times > 0 ? (long)times : 1;
            canned_t **pp = &canned;
            while (*pp != NULL)
                pp = &(*pp)->next;
            *pp = k;
            ok(c);
        }
    } else if (strcmp(p, "/models") == 0) {
        set_models(c, b);
    } else if (strcmp(p, "/health") == 0) {
        json_t *v;
        if ((v = json_object_get(b, "status")) != NULL)
            fk_ctl.health_status =
                json_is_integer(v) && json_integer_value(v) >= 100 && json_integer_value(v) < 600 ? (int)json_integer_value(v) : 0;
        if ((v = json_object_get(b, "hang_ms")) != NULL)
            fk_ctl.health_hang_ms = json_is_integer(v) && json_integer_value(v) > 0 ? (long)json_integer_value(v) : 0;
        if ((v = json_object_get(b, "down")) != NULL)
            fk_ctl.down = json_is_true(v);
        ok(c);
    } else if (strcmp(p, "/auth") == 0) {
        json_t *key = json_object_get(b, "key");
        if (json_is_false(json_object_get(b, "enabled")) || json_is_null(key)) {
            free(fk_opt.key);
            fk_opt.key = NULL;
        } else if (json_is_string(key) && json_string_length(key) > 0) {
            free(fk_opt.key);
            fk_opt.key = fk_strdup(json_string_value(key));
        } else if (key != NULL) {
            bad(c, 400, "key must be a non-empty string or null");
            json_decref(b);
            return;
        }
        fk_respond_json(c, 200, json_pack("{s:b,s:b}", "ok", 1, "auth_required", fk_opt.key != NULL), NULL);
    } else if (strcmp(p, "/clock") == 0) {
        json_t *now = json_object_get(b, "now"), *adv = json_object_get(b, "advance");
        int frozen = json_is_true(json_object_get(b, "frozen"));
        if (json_is_number(now))
            fk_clock_set(json_number_value(now), frozen);
        else if (json_is_number(adv))
            fk_clock_set(fk_now() + json_number_value(adv), frozen);
        else if (json_object_get(b, "frozen") != NULL)
            fk_clock_set(fk_now(), frozen);
        fk_runs_sweep(1);
        fk_respond_json(c, 200, json_pack("{s:b,s:f}", "ok", 1, "now", fk_now()), NULL);
    } else if (strcmp(p, "/seed") == 0) {
        json_t *s = json_object_get(b, "seed");
        if (!json_is_integer(s))
            bad(c, 400, "expected {\"seed\": N}");
        else {
            fk_seed((uint64_t)json_integer_value(s));
            ok(c);
        }
    } else if (strcmp(p, "/reset") == 0) {
        fk_runs_clear();
        fk_jobs_reset();
        log_clear();
        fk_queued_clear();
        canned_clear();
        fk_ctl.health_status = 0;
        fk_ctl.health_hang_ms = 0;
        fk_ctl.down = 0;
        json_decref(fk_ctl.models);
        fk_ctl.models = NULL;
        fk_ctl.stop_status = 0;
        free(fk_ctl.stop_error);
        fk_ctl.stop_error = NULL;
        ok(c);
    } else if (strcmp(p, "/shutdown") == 0) {
        ok(c);
        fk_quit = 1;
    } else if (strcmp(p, "/stop") == 0) {
        /* {"status": 4xx/5xx, "error": text}: run stops answer that (an older or restricted server); {"status": 0}: normal */
        json_t *st = json_object_get(b, "status");
        json_int_t status = json_integer_value(st);
        if (!json_is_integer(st) || (status != 0 && (status < 400 || status > 599)))
            bad(c, 400, "expected {\"status\": 0 or 4xx/5xx, \"error\": text}");
        else {
            fk_ctl.stop_status = (int)status;
            free(fk_ctl.stop_error);
            const char *e = json_string_value(json_object_get(b, "error"));
            fk_ctl.stop_error = e != NULL ? fk_strdup(e) : NULL;
            ok(c);
        }
    } else if (strcmp(p, "/jobs/fail") == 0) {
        const char *op = json_string_value(json_object_get(b, "op"));
        json_int_t status = json_integer_value(json_object_get(b, "status"));
        static const char *const OPS[] = {"create", "list", "get", "update", "delete", "pause", "resume", "run", "*", NULL};
        int known = 0;
        for (size_t i = 0; op != NULL && OPS[i] != NULL; ++i)
            known |= strcmp(op, OPS[i]) == 0;
        if (!known || status < 400 || status > 599)
            bad(c, 400, "expected {\"op\": create|list|get|update|delete|pause|resume|run, \"status\": 4xx/5xx, \"error\": text}");
        else {
            fk_jobs_fail(op, (int)status, json_string_value(json_object_get(b, "error")));
            ok(c);
        }
    } else {
        bad(c, 404, "unknown control route (see FAKE-UPSTREAM.md §5)");
    }
    json_decref(b);
}
