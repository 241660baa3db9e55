/*
 * The cron job store behind /api/jobs (FAKE-UPSTREAM.md §4, UPSTREAM-HERMES.md §2.6): flat {"error":…} bodies, 200 on
 * create, schedule parsing (Nm/Nh/Nd, every Nm/Nh, 5-field cron with a minimal evaluator, ISO timestamps), the PATCH
 * whitelist, pause/resume/run, a simulated execution (cron_exec=1), forced failures, and jobs.json under --state-dir.
 */
#include "fake.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct st_job_t {
    struct st_job_t *next;
    json_t *j;      /* the job record as upstream stores it */
    json_t *latest; /* the last simulated execution, NULL if none */
    fk_timer_t exec_timer;
} job_t;

typedef struct st_fault_t {
    struct st_fault_t *next;
    char *op;
    int status;
    char *error;
} fault_t;

static job_t *jobs;
static fault_t *faults;

/* ---- persistence ---- */

static void save(void)
{
    if (fk_opt.state_dir == NULL)
        return;
    char *dir = fk_asprintf("%s/cron", fk_opt.state_dir);
    mkdir(fk_opt.state_dir, 0700);
    mkdir(dir, 0700);
    char *path = fk_asprintf("%s/jobs.json", dir), *tmp = fk_asprintf("%s/.jobs.json.tmp", dir);
    json_t *arr = json_array();
    for (job_t *j = jobs; j != NULL; j = j->next)
        json_array_append(arr, j->j);
    char iso[64];
    fk_iso(fk_now(), iso, sizeof(iso));
    json_t *doc = json_pack("{s:o,s:s}", "jobs", arr, "updated_at", iso);
    FILE *f = fopen(tmp, "w");
    if (f != NULL) {
        fchmod(fileno(f), 0600);
        int ok = json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(16)) == 0;
        ok &= fputc('\n', f) != EOF;
        ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok &= fclose(f) == 0;
        if (!ok || rename(tmp, path) != 0) {
            fk_log("cannot write %s: %s", path, strerror(errno));
            unlink(tmp);
        }
    } else {
        fk_log("cannot write %s: %s", tmp, strerror(errno));
    }
    json_decref(doc);
    free(dir);
    free(path);
    free(tmp);
}

static job_t *job_add(json_t *record)
{
    job_t *j = fk_calloc(1, sizeof(*j));
    j->j = record;
    job_t **pp = &jobs;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = j;
    return j;
}

void fk_jobs_load(void)
{
    if (fk_opt.state_dir == NULL)
        return;
    char *path = fk_asprintf("%s/cron/jobs.json", fk_opt.state_dir);
    json_t *doc = json_load_file(path, 0, NULL);
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(doc, "jobs"), i, rec) if (json_is_object(rec) && json_is_string(json_object_get(rec, "id")))
        job_add(json_incref(rec));
    json_decref(doc);
    free(path);
}

static void job_free(job_t *j)
{
    fk_timer_disarm(&j->exec_timer);
    json_decref(j->j);
    json_decref(j->latest);
    free(j);
}

void fk_jobs_clear(void)
{
    while (jobs != NULL) {
        job_t *j = jobs;
        jobs = j->next;
        job_free(j);
    }
    while (faults != NULL) {
        fault_t *f = faults;
        faults = f->next;
        free(f->op);
        free(f->error);
        free(f);
    }
}

void fk_jobs_reset(void)
{
    fk_jobs_clear();
    save();
}

void fk_jobs_fail(const char *op, int status, const char *error)
{
    fault_t *f = fk_calloc(1, sizeof(*f));
    f->op = fk_strdup(op);
    f->status = status;
    f->error = fk_strdup(error != NULL ? error : "Internal error (fake)");
    fault_t **pp = &faults;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = f;
}

/* ---- cron expressions ---- */

typedef struct st_cron_t {
    uint64_t min, hour, dom, mon, dow;
    int dom_star, dow_star;
} cron_t;

static int cron_field(const char *f, int lo, int hi, uint64_t *bits, int *star)
{
    *bits = 0;
    *star = strcmp(f, "*") == 0;
    const char *p = f;
    while (*p != '\0') {
        int a, b, step = 1;
        char *end;
        if (*p == '*') {
            a = lo, b = hi;
            ++p;
        } else {
            if (!isdigit((unsigned char)*p))
                return -1;
            a = (int)strtol(p, &end, 10);
            p = end;
            b = a;
            if (*p == '-') {
                ++p;
                if (!isdigit((unsigned char)*p))
                    return -1;
                b = (int)strtol(p, &end, 10);
                p = end;
            }
        }
        if (*p == '/') {
            ++p;
            if (!isdigit((unsigned char)*p))
                return -1;
            step = (int)strtol(p, &end, 10);
            p = end;
            if (b == a && f[0] != '*')
                b = hi; /* "5/15" means from 5 on */
        }
        if (a < lo || b > hi || a > b || step < 1)
            return -1;
        for (int v = a; v <= b; v += step)
            *bits |= 1ULL << v;
        if (*p == ',')
            ++p;
        else if (*p != '\0')
            return -1;
    }
    return *bits != 0 ? 0 : -1;
}

static int cron_parse(const char *expr, cron_t *c)
{
    char buf[256];
    if (strlen(expr) >= sizeof(buf))
        return -1;
    snprintf(buf, sizeof(buf), "%s", expr);
    char *fields[6], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(buf, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
        if (n == 5)
            return -1;
        fields[n++] = t;
    }
    if (n != 5)
        return -1;
    for (int i = 0; i < 5; ++i)
        for (const char *p = fields[i]; *p; ++p)
            if (!isdigit((unsigned char)*p) && strchr("*-,/", *p) == NULL)
                return -1;
    int s1, s2, s3;
    if (cron_field(fields[0], 0, 59, &c->min, &s1) || cron_field(fields[1], 0, 23, &c->hour, &s2) ||
        cron_field(fields[2], 1, 31, &c->dom, &c->dom_star) || cron_field(fields[3], 1, 12, &c->mon, &s3) ||
        cron_field(fields[4], 0, 7, &c->dow, &c->dow_star))
        return -1;
    if (c->dow & (1ULL << 7))
        c->dow |= 1;
    return 0;
}

/* The first minute after now that matches (UTC), -1 if none within 5 years. */
static double cron_next(const cron_t *c, double now)
{
    time_t t = ((time_t)floor(now) / 60 + 1) * 60;
    time_t limit = t + 5L * 366 * 86400;
    while (t < limit) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (!(c->mon & (1ULL << (tm.tm_mon + 1)))) {
            tm.tm_mon += 1, tm.tm_mday = 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        int dom_ok = (c->dom >> tm.tm_mday) & 1, dow_ok = (c->dow >> tm.tm_wday) & 1;
        int day_ok = c->dom_star || c->dow_star ? dom_ok && dow_ok : dom_ok || dow_ok;
        if (!day_ok) {
            tm.tm_mday += 1, tm.tm_hour = 0, tm.tm_min = 0, tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if (!(c->hour & (1ULL << tm.tm_hour))) {
            tm.tm_hour += 1, tm.tm_min = 0, tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if (!(c->min & (1ULL << tm.tm_min))) {
            t += 60;
            continue;
        }
        return (double)t;
    }
    return -1;
}

/* ---- schedules ---- */

static json_t *iso_or_null(double t)
{
    if (t < 0)
        return json_null();
    char iso[64];
    fk_iso(t, iso, sizeof(iso));
    return json_string(iso);
}

/* Parses a schedule string: the schedule object and the next run (-1: none), or NULL. */
static json_t *parse_schedule(const char *in, double now, double *next)
{
    char s[512];
    size_t len = strlen(in);
    while (len > 0 && isspace((unsigned char)in[len - 1]))
        --len;
    while (len > 0 && isspace((unsigned char)*in))
        ++in, --len;
    if (len == 0 || len >= sizeof(s))
        return NULL;
    memcpy(s, in, len);
    s[len] = '\0';
    char lower[512];
    for (size_t i = 0; i <= len; ++i)
        lower[i] = (char)tolower((unsigned char)s[i]);
    long n;
    char unit, tail;
    int used = 0;
    if (sscanf(lower, "%ld%c%n%c", &n, &unit, &used, &tail) == 2 && (size_t)used == len && isdigit((unsigned char)lower[0]) &&
        strchr("mhd", unit) != NULL && n > 0 && n < 10000000) {
        double secs = (double)n * (unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400);
        *next = now + secs;
        char *display = fk_asprintf("once in %s", s);
        char iso[64];
        fk_iso(*next, iso, sizeof(iso));
        json_t *j = json_pack("{s:s,s:s,s:s}", "kind", "once", "run_at", iso, "display", display);
        free(display);
        return j;
    }
    if (strncmp(lower, "every", 5) == 0 && isspace((unsigned char)lower[5])) {
        const char *p = lower + 5;
        while (isspace((unsigned char)*p))
            ++p;
        if (sscanf(p, "%ld%c%n%c", &n, &unit, &used, &tail) == 2 && (size_t)used == strlen(p) && isdigit((unsigned char)*p) &&
            strchr("mhd", unit) != NULL && n > 0 && n < 10000000) {
            long minutes = n * (unit == 'm' ? 1 : unit == 'h' ? 60 : 1440);
            *next = now + (double)minutes * 60;
            char *display = fk_asprintf("every %ldm", minutes);
            json_t *j = json_pack("{s:s,s:I,s:s}", "kind", "interval", "minutes", (json_int_t)minutes, "display", display);
            free(display);
            return j;
        }
        return NULL;
    }
    cron_t c;
    if (cron_parse(s, &c) == 0) {
        *next = fk_opt.simple_cron ? now + 3600 : cron_next(&c, now);
        return json_pack("{s:s,s:s,s:s}", "kind", "cron", "expr", s, "display", s);
    }
    double t;
    if (fk_iso_parse(s, &t) == 0) {
        *next = t;
        char iso[64];
        fk_iso(t, iso, sizeof(iso));
        char *display = fk_asprintf("once at %s", iso);
        json_t *j = json_pack("{s:s,s:s,s:s}", "kind", "once", "run_at", iso, "display", display);
        free(display);
        return j;
    }
    return NULL;
}

static void schedule_error(fk_conn_t *c, const char *s)
{
    char *msg = fk_asprintf("Invalid schedule '%s'. Use:\n"
                            "  - Duration: '30m', '2h', '1d' (one-shot)\n"
                            "  - Interval: 'every 30m', 'every 2h' (recurring)\n"
                            "  - Cron: '0 9 * * *' (cron expression)\n"
                            "  - Timestamp: '2026-02-03T14:00:00' (one-shot at time)",
                            s);
    fk_respond_json(c, 500, json_pack("{s:s}", "error", msg), NULL);
    free(msg);
}

/* ---- the routes ---- */

static void error(fk_conn_t *c, int status, const char *msg)
{
    fk_respond_json(c, status, json_pack("{s:s}", "error", msg), NULL);
}

static int valid_id(const char *id)
{
    size_t n = 0;
    for (; id[n]; ++n)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return 0;
    return n == 12;
}

int fk_jobs_route(const char *method, const char *rest, int *allowed)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0, post = strcmp(method, "POST") == 0;
    if (*rest == '\0') {
        *allowed = get || post;
        return 1;
    }
    if (*rest != '/' || rest[1] == '\0' || rest[1] == '/')
        return 0;
    const char *slash = strchr(rest + 1, '/');
    if (slash == NULL) {
        *allowed = get || strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
        return 1;
    }
    const char *action = slash + 1;
    if (strcmp(action, "pause") != 0 && strcmp(action, "resume") != 0 && strcmp(action, "run") != 0)
        return 0;
    *allowed = post;
    return 1;
}

static job_t *find_job(const char *id)
{
    for (job_t *j = jobs; j != NULL; j = j->next)
        if (strcmp(json_string_value(json_object_get(j->j, "id")), id) == 0)
            return j;
    return NULL;
}

static int take_fault(fk_conn_t *c, const char *op)
{
    for (fault_t **pp = &faults; *pp != NULL; pp = &(*pp)->next) {
        fault_t *f = *pp;
        if (strcmp(f->op, op) != 0 && strcmp(f->op, "*") != 0)
            continue;
        *pp = f->next;
        error(c, f->status, f->status == 501 ? "Cron module not available" : f->error);
        free(f->op);
        free(f->error);
        free(f);
        return 1;
    }
    return 0;
}

static json_t *job_body(fk_conn_t *c)
{
    json_t *j = c->req.body != NULL && c->req.body_len > 0 ? json_loadb(c->req.body, c->req.body_len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        error(c, 400, "Invalid JSON");
        return NULL;
    }
    return j;
}

static int blank(const char *s)
{
    for (; *s; ++s)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

static size_t cps(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Validates name/prompt/repeat of a create or update; answers 400 and returns -1 on a bad one. */
static int check_fields(fk_conn_t *c, json_t *b, int create)
{
    json_t *name = json_object_get(b, "name");
    if (create || name != NULL) {
        if (!json_is_string(name) || blank(json_string_value(name))) {
            error(c, 400, "Name is required");
            return -1;
        }
        if (cps(json_string_value(name)) > 200) {
            error(c, 400, "Name must be \xE2\x89\xA4 200 characters");
            return -1;
        }
    }
    json_t *sched = json_object_get(b, "schedule");
    if (create && (!json_is_string(sched) || blank(json_string_value(sched)))) {
        error(c, 400, "Schedule is required");
        return -1;
    }
    if (!create && sched != NULL && !json_is_string(sched)) {
        error(c, 400, "Schedule is required");
        return -1;
    }
    json_t *prompt = json_object_get(b, "prompt");
    if (prompt != NULL && !json_is_null(prompt) && (!json_is_string(prompt) || cps(json_string_value(prompt)) > 5000)) {
        error(c, 400, "Prompt must be \xE2\x89\xA4 5000 characters");
        return -1;
    }
    json_t *repeat = json_object_get(b, "repeat");
    if (repeat != NULL && !json_is_null(repeat) && (!json_is_integer(repeat) || json_integer_value(repeat) < 1)) {
        error(c, 400, "Repeat must be a positive integer");
        return -1;
    }
    return 0;
}

static json_t *skills_list(json_t *b, json_t **first)
{
    json_t *skills = json_array();
    json_t *given = json_object_get(b, "skills");
    size_t i;
    json_t *s;
    json_array_foreach(given, i, s) if (json_is_string(s)) json_array_append(skills, s);
    if (json_is_string(given))
        json_array_append(skills, given);
    if (json_array_size(skills) == 0 && json_is_string(json_object_get(b, "skill")))
        json_array_append(skills, json_object_get(b, "skill"));
    *first = json_array_size(skills) > 0 ? json_incref(json_array_get(skills, 0)) : json_null();
    return skills;
}

static void respond_job(fk_conn_t *c, job_t *j)
{
    fk_respond_json(c, 200, json_pack("{s:O}", "job", j->j), NULL);
}

static void h_create(fk_conn_t *c)
{
    json_t *b = job_body(c);
    if (b == NULL)
        return;
    if (check_fields(c, b, 1) != 0) {
        json_decref(b);
        return;
    }
    double now = fk_now(), next = -1;
    const char *sched_s = json_string_value(json_object_get(b, "schedule"));
    json_t *sched = parse_schedule(sched_s, now, &next);
    if (sched == NULL) {
        schedule_error(c, sched_s);
        json_decref(b);
        return;
    }
    char id[16];
    fk_hex_id(id, 12);
    json_t *repeat_in = json_object_get(b, "repeat");
    int once = strcmp(json_string_value(json_object_get(sched, "kind")), "once") == 0;
    json_t *times = json_is_integer(repeat_in) ? json_incref(repeat_in) : once ? json_integer(1) : json_null();
    json_t *skill;
    json_t *skills = skills_list(b, &skill);
    const char *deliver = json_string_value(json_object_get(b, "deliver"));
    const char *prompt = json_string_value(json_object_get(b, "prompt"));
    const char *ua = fk_req_header(&c->req, "User-Agent");
    char created[64];
    fk_iso(now, created, sizeof(created));
    json_t *rec = json_object();
    json_object_set_new(rec, "id", json_string(id));
    json_object_set_new(rec, "name", json_string(json_string_value(json_object_get(b, "name"))));
    json_object_set_new(rec, "prompt", json_string(prompt != NULL ? prompt : ""));
    json_object_set_new(rec, "skills", skills);
    json_object_set_new(rec, "skill", skill);
    static const char *const STR_OR_NULL[] = {"model", "provider", NULL};
    for (size_t i = 0; STR_OR_NULL[i] != NULL; ++i) {
        const char *v = json_string_value(json_object_get(b, STR_OR_NULL[i]));
        json_object_set_new(rec, STR_OR_NULL[i], v != NULL ? json_string(v) : json_null());
    }
    json_object_set_new(rec, "provider_snapshot", json_null());
    json_object_set_new(rec, "model_snapshot", json_null());
    json_object_set_new(rec, "base_url", json_null());
    json_object_set_new(rec, "script", json_null());
    json_object_set_new(rec, "no_agent", json_false());
    json_object_set_new(rec, "context_from", json_null());
    json_object_set_new(rec, "schedule_display", json_incref(json_object_get(sched, "display")));
    json_object_set_new(rec, "schedule", sched);
    json_object_set_new(rec, "repeat", json_pack("{s:o,s:i}", "times", times, "completed", 0));
    json_object_set_new(rec, "enabled", json_true());
    json_object_set_new(rec, "state", json_string("scheduled"));
    json_object_set_new(rec, "paused_at", json_null());
    json_object_set_new(rec, "paused_reason", json_null());
    json_object_set_new(rec, "created_at", json_string(created));
    json_object_set_new(rec, "next_run_at", iso_or_null(next));
    json_object_set_new(rec, "last_run_at", json_null());
    json_object_set_new(rec, "last_status", json_null());
    json_object_set_new(rec, "last_error", json_null());
    json_object_set_new(rec, "last_delivery_error", json_null());
    json_object_set_new(rec, "deliver", json_string(deliver != NULL && *deliver != '\0' ? deliver : "local"));
    json_object_set_new(rec, "origin",
                        json_pack("{s:s,s:s,s:s,s:s,s:o}", "platform", "api_server", "chat_id", "api", "source_ip", "127.0.0.1",
                                  "peer_ip", "127.0.0.1", "user_agent",
                                  ua != NULL && fk_utf8_valid(ua, strlen(ua)) ? json_string(ua) : json_null()));
    json_object_set_new(rec, "enabled_toolsets", json_null());
    json_object_set_new(rec, "workdir", json_null());
    json_decref(b);
    job_t *j = job_add(rec);
    save();
    respond_job(c, j);
}

static void h_list(fk_conn_t *c)
{
    const char *inc = fk_req_query(&c->req, "include_disabled");
    int all = inc != NULL && (strcasecmp(inc, "true") == 0 || strcmp(inc, "1") == 0);
    json_t *arr = json_array();
    for (job_t *j = jobs; j != NULL; j = j->next) {
        if (!all && !json_is_true(json_object_get(j->j, "enabled")))
            continue;
        json_t *copy = json_copy(j->j);
        json_object_set(copy, "latest_execution", j->latest != NULL ? j->latest : json_null());
        json_array_append_new(arr, copy);
    }
    fk_respond_json(c, 200, json_pack("{s:o}", "jobs", arr), NULL);
}

static void recompute_next(job_t *j, double now)
{
    json_t *sched = json_object_get(j->j, "schedule");
    const char *kind = json_string_value(json_object_get(sched, "kind"));
    double next = -1;
    if (kind != NULL && strcmp(kind, "interval") == 0) {
        next = now + (double)json_integer_value(json_object_get(sched, "minutes")) * 60;
    } else if (kind != NULL && strcmp(kind, "cron") == 0) {
        cron_t c;
        if (cron_parse(json_string_value(json_object_get(sched, "expr")), &c) == 0)
            next = fk_opt.simple_cron ? now + 3600 : cron_next(&c, now);
    } else {
        double t;
        const char *run_at = json_string_value(json_object_get(sched, "run_at"));
        if (run_at != NULL && fk_iso_parse(run_at, &t) == 0)
            next = t;
    }
    json_object_set_new(j->j, "next_run_at", iso_or_null(next));
}

static void h_update(fk_conn_t *c, job_t *j)
{
    json_t *b = job_body(c);
    if (b == NULL)
        return;
    static const char *const ALLOWED[] = {"name", "schedule", "prompt", "deliver", "skills", "skill", "repeat", "enabled", NULL};
    json_t *u = json_object();
    for (size_t i = 0; ALLOWED[i] != NULL; ++i)
        if (json_object_get(b, ALLOWED[i]) != NULL)
            json_object_set(u, ALLOWED[i], json_object_get(b, ALLOWED[i]));
    json_decref(b);
    if (json_object_size(u) == 0) {
        json_decref(u);
        error(c, 400, "No valid fields to update");
        return;
    }
    if (check_fields(c, u, 0) != 0) {
        json_decref(u);
        return;
    }
    double now = fk_now(), next = -1;
    json_t *sched = NULL;
    const char *sched_s = json_string_value(json_object_get(u, "schedule"));
    if (sched_s != NULL && (sched = parse_schedule(sched_s, now, &next)) == NULL) {
        schedule_error(c, sched_s);
        json_decref(u);
        return;
    }
    json_t *v;
    if ((v = json_object_get(u, "name")) != NULL)
        json_object_set(j->j, "name", v);
    if ((v = json_object_get(u, "prompt")) != NULL)
        json_object_set_new(j->j, "prompt", json_string(json_is_string(v) ? json_string_value(v) : ""));
    if ((v = json_object_get(u, "deliver")) != NULL && json_is_string(v))
        json_object_set(j->j, "deliver", v);
    if (json_object_get(u, "skills") != NULL || json_object_get(u, "skill") != NULL) {
        json_t *skill;
        json_t *skills = skills_list(u, &skill);
        json_object_set_new(j->j, "skills", skills);
        json_object_set_new(j->j, "skill", skill);
    }
    if ((v = json_object_get(u, "repeat")) != NULL)
        json_object_set(json_object_get(j->j, "repeat"), "times", v);
    if ((v = json_object_get(u, "enabled")) != NULL && json_is_boolean(v))
        json_object_set(j->j, "enabled", v);
    if (sched != NULL) {
        json_object_set(j->j, "schedule_display", json_object_get(sched, "display"));
        json_object_set_new(j->j, "schedule", sched);
        json_object_set_new(j->j, "next_run_at", iso_or_null(next));
    }
    json_decref(u);
    save();
    respond_job(c, j);
}

static void exec_done(fk_timer_t *t)
{
    job_t *j = FK_CONTAINER_OF(t, job_t, exec_timer);
    double now = fk_now();
    char iso[64];
    fk_iso(now, iso, sizeof(iso));
    json_object_set_new(j->j, "last_run_at", json_string(iso));
    json_object_set_new(j->j, "last_status", json_string("ok"));
    json_object_set_new(j->j, "last_error", json_null());
    json_t *repeat = json_object_get(j->j, "repeat");
    json_int_t done = json_integer_value(json_object_get(repeat, "completed")) + 1;
    json_object_set_new(repeat, "completed", json_integer(done));
    json_t *times = json_object_get(repeat, "times");
    const char *kind = json_string_value(json_object_get(json_object_get(j->j, "schedule"), "kind"));
    if ((json_is_integer(times) && done >= json_integer_value(times)) || (kind != NULL && strcmp(kind, "once") == 0)) {
        json_object_set_new(j->j, "enabled", json_false());
        json_object_set_new(j->j, "state", json_string("completed"));
        json_object_set_new(j->j, "next_run_at", json_null());
    } else {
        recompute_next(j, now);
    }
    json_decref(j->latest);
    j->latest = json_pack("{s:s,s:s,s:s,s:s,s:n}", "job_id", json_string_value(json_object_get(j->j, "id")), "status", "ok",
                          "started_at", iso, "finished_at", iso, "error");
    save();
}

/* cron_exec=1 from an X-Fake-Scenario header on the /run call or a [[fake:…]] token in the job's prompt. */
static int wants_exec(fk_conn_t *c, job_t *j)
{
    fk_scenario_t s = {0};
    char err[200];
    int found = 0;
    const char *hdr = fk_req_header(&c->req, "X-Fake-Scenario");
    if (hdr != NULL && fk_scenario_parse(hdr, strlen(hdr), &s, err, sizeof(err)) == 0) {
        found = fk_param_long(s.params, "cron_exec", 0) != 0;
        fk_scenario_free(&s);
    }
    const char *prompt = json_string_value(json_object_get(j->j, "prompt"));
    if (!found && prompt != NULL && fk_scenario_token(prompt, &s, err, sizeof(err)) == 1) {
        found = fk_param_long(s.params, "cron_exec", 0) != 0;
        fk_scenario_free(&s);
    }
    return found;
}

void fk_jobs_handle(fk_conn_t *c, const char *rest)
{
    const char *m = c->req.method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (*rest == '\0') {
        if (take_fault(c, get ? "list" : "create"))
            return;
        if (get)
            h_list(c);
        else
            h_create(c);
        return;
    }
    char id[64];
    const char *p = rest + 1, *slash = strchr(p, '/');
    size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
    snprintf(id, sizeof(id), "%.*s", (int)(len < 63 ? len : 63), p);
    const char *action = slash != NULL ? slash + 1 : NULL;
    const char *op = action != NULL ? action : get ? "get" : strcmp(m, "PATCH") == 0 ? "update" : "delete";
    if (take_fault(c, op))
        return;
    if (len > 63 || !valid_id(id)) {
        if (fk_opt.dialect < FK_V020)
            error(c, 400, "Invalid job ID format");
        else
            error(c, 404, "Job not found");
        return;
    }
    job_t *j = find_job(id);
    if (j == NULL) {
        error(c, 404, "Job not found");
        return;
    }
    double now = fk_now();
    char iso[64];
    fk_iso(now, iso, sizeof(iso));
    if (strcmp(op, "get") == 0) {
        respond_job(c, j);
    } else if (strcmp(op, "update") == 0) {
        h_update(c, j);
    } else if (strcmp(op, "delete") == 0) {
        for (job_t **pp = &jobs; *pp != NULL; pp = &(*pp)->next)
            if (*pp == j) {
                *pp = j->next;
                break;
            }
        job_free(j);
        save();
        fk_respond_json(c, 200, json_pack("{s:b}", "ok", 1), NULL);
    } else if (strcmp(op, "pause") == 0) {
        json_t *b = c->req.body != NULL ? json_loadb(c->req.body, c->req.body_len, 0, NULL) : NULL;
        const char *reason = json_string_value(json_object_get(b, "reason"));
        json_object_set_new(j->j, "enabled", json_false());
        json_object_set_new(j->j, "state", json_string("paused"));
        json_object_set_new(j->j, "paused_at", json_string(iso));
        json_object_set_new(j->j, "paused_reason", reason != NULL ? json_string(reason) : json_null());
        json_decref(b);
        save();
        respond_job(c, j);
    } else if (strcmp(op, "resume") == 0) {
        json_object_set_new(j->j, "enabled", json_true());
        json_object_set_new(j->j, "state", json_string("scheduled"));
        json_object_set_new(j->j, "paused_at", json_null());
        json_object_set_new(j->j, "paused_reason", json_null());
        recompute_next(j, now);
        save();
        respond_job(c, j);
    } else { /* run */
        json_object_set_new(j->j, "enabled", json_true());
        json_object_set_new(j->j, "state", json_string("scheduled"));
        json_object_set_new(j->j, "next_run_at", json_string(iso));
        if (wants_exec(c, j))
            fk_timer_arm(&j->exec_timer, fk_scaled(100), exec_done);
        save();
        respond_job(c, j);
    }
}
