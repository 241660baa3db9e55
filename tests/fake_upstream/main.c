/*
 * fake-hermes: options, the epoll loop with its timer list, signals (signalfd), the fake clock, ids and small utilities.
 * Usage: fake-hermes [--port N] [--key K] [--dialect v0.12|v0.15|v0.20|v0.21] [--model-name NAME] [--cors-origins LIST]
 *                    [--max-runs N] [--time-scale F] [--keepalive-ms N] [--seed N] [--state-dir DIR] [--log FILE]
 *                    [--simple-cron] [--backlog N] [--max-deltas N] [--keep-finished-s N]
 * --max-deltas N (1..10000000, default 100000): a scenario's script is cut at N deltas (it is built whole when the run
 * is admitted, so this bounds the fake's memory per run). --keep-finished-s N (0..31536000, default 3600, as upstream):
 * seconds of the fake clock a finished run stays pollable before the sweep drops it; a long bench at tens of runs a
 * second uses a shorter time so that the list of runs, scanned by every lookup, stays small.
 * Invalid option values are reported on stderr and end the fake with exit code 2.
 * Prints "READY <port>" once it listens on 127.0.0.1; SIGTERM, SIGINT or POST /__fake/shutdown end it with exit code 0.
 */
#include "fake.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

fk_opts_t fk_opt;
int fk_quit;

/* ---- memory and strings ---- */

static void oom(void)
{
    fputs("fake-hermes: out of memory\n", stderr);
    abort();
}

void *fk_malloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *fk_calloc(size_t n, size_t m)
{
    void *p = calloc(n > 0 ? n : 1, m > 0 ? m : 1);
    if (p == NULL)
        oom();
    return p;
}

void *fk_realloc(void *p, size_t n)
{
    void *q = realloc(p, n > 0 ? n : 1);
    if (q == NULL)
        oom();
    return q;
}

char *fk_strdup(const char *s)
{
    return fk_strndup(s, strlen(s));
}

char *fk_strndup(const char *s, size_t n)
{
    char *p = fk_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fk_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        oom();
    va_end(ap);
    return s;
}

void fk_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fake-hermes: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fk_buf_add(fk_buf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = fk_realloc(b->p, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void fk_buf_str(fk_buf_t *b, const char *s)
{
    fk_buf_add(b, s, strlen(s));
}

void fk_buf_printf(fk_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    fk_buf_add(b, s, (size_t)n);
    free(s);
}

void fk_buf_consume(fk_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p != NULL)
        b->p[b->len] = '\0';
}

void fk_buf_free(fk_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- timers: a list sorted by due time ---- */

static fk_timer_t *timers;

double fk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void fk_timer_disarm(fk_timer_t *t)
{
    if (!t->armed)
        return;
    for (fk_timer_t **p = &timers; *p != NULL; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    t->armed = 0;
    t->next = NULL;
}

void fk_timer_arm(fk_timer_t *t, double ms, fk_timer_cb cb)
{
    fk_timer_disarm(t);
    t->cb = cb;
    t->due = fk_mono_ms() + (ms > 0 ? ms : 0);
    fk_timer_t **p = &timers;
    while (*p != NULL && (*p)->due <= t->due)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    t->armed = 1;
}

/* Runs the timers that are due; returns the wait until the next one in ms (-1: none). */
static int run_timers(void)
{
    for (;;) {
        if (timers == NULL)
            return -1;
        double now = fk_mono_ms();
        if (timers->due > now) {
            double w = ceil(timers->due - now);
            return w > 60000 ? 60000 : (int)w;
        }
        fk_timer_t *t = timers;
        timers = t->next;
        t->next = NULL;
        t->armed = 0;
        t->cb(t);
        if (fk_quit)
            return 0;
    }
}

/* ---- the fake clock, ids, randomness ---- */

static double clock_offset; /* added to the real time */
static double clock_frozen_at;
static int clock_frozen;

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fk_now(void)
{
    if (clock_frozen)
        return clock_frozen_at;
    /* microsecond resolution, like time.time() in practice */
    return floor((real_now() + clock_offset) * 1e6) / 1e6;
}

void fk_clock_set(double now, int frozen)
{
    clock_frozen = frozen;
    clock_frozen_at = now;
    clock_offset = frozen ? 0 : now - real_now();
}

double fk_scaled(double ms)
{
    return ms * fk_opt.time_scale;
}

static int seeded;
static uint64_t seed_value, id_counter, rng_state = 0x9E3779B97F4A7C15ULL;

void fk_seed(uint64_t seed)
{
    seeded = 1;
    seed_value = seed;
    id_counter = 0;
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (rng_state == 0)
        rng_state = 1;
}

uint32_t fk_rand(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return (uint32_t)(x >> 32);
}

void fk_hex_id(char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    if (seeded) {
        /* the seed's digits, then a counter: run_<seed 16 hex><counter 16 hex>, jobs <seed 4 hex><counter 8 hex> */
        ++id_counter;
        char tmp[80];
        size_t half = digits / 2;
        snprintf(tmp, sizeof(tmp), "%016llx%016llx", (unsigned long long)seed_value, (unsigned long long)id_counter);
        memcpy(out, tmp + 16 - half, half);
        memcpy(out + half, tmp + 32 - (digits - half), digits - half);
    } else {
        unsigned char raw[64];
        if (getrandom(raw, digits, 0) != (ssize_t)digits)
            for (size_t i = 0; i < digits; ++i)
                raw[i] = (unsigned char)fk_rand();
        for (size_t i = 0; i < digits; ++i)
            out[i] = hex[raw[i] & 15];
    }
    out[digits] = '\0';
}

char *fk_json_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(16) | JSON_ENCODE_ANY);
    if (s == NULL)
        oom();
    return s;
}

void fk_iso(double t, char *out, size_t len)
{
    time_t secs = (time_t)floor(t);
    long usec = (long)llround((t - (double)secs) * 1e6);
    if (usec >= 1000000) {
        ++secs;
        usec -= 1000000;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[40];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (usec > 0)
        snprintf(out, len, "%s.%06ld+00:00", base, usec);
    else
        snprintf(out, len, "%s+00:00", base);
}

int fk_iso_parse(const char *s, double *t)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + n;
    double frac = 0;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &m) != 1 || m != 2)
                return -1;
            p += 1 + m;
            if (*p == '.') {
                char *end;
                frac = strtod(p, &end);
                if (end == p + 1)
                    return -1;
                p = end;
            }
        }
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        ++p;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5)
            return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 1 + m;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *t = (double)timegm(&tm) - (double)off + frac;
    return 0;
}

int fk_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            ++p;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= n)
            return 0;
        for (size_t i = 1; i <= n; ++i) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

const char *fk_dialect_version(void)
{
    switch (fk_opt.dialect) {
    case FK_V012:
        return "0.12.0";
    case FK_V015:
        return "0.15.0";
    case FK_V021:
        return "0.21.0";
    default:
        return "0.20.0";
    }
}

/* ---- options ---- */

static void usage(void)
{
    fputs("usage: fake-hermes [--port N] [--key K] [--dialect v0.12|v0.15|v0.20|v0.21] [--model-name NAME]\n"
          "                   [--cors-origins LIST] [--max-runs N] [--time-scale F] [--keepalive-ms N] [--seed N]\n"
          "                   [--state-dir DIR] [--log FILE] [--simple-cron] [--listen 127.0.0.1] [--backlog N]\n"
          "                   [--max-deltas N (1..10000000, default 100000)]\n"
          "                   [--keep-finished-s N (0..31536000, default 3600)]\n",
          stderr);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv)
{
    fk_opt.dialect = FK_V020;
    fk_opt.max_runs = 10;
    fk_opt.time_scale = 1.0;
    fk_opt.keepalive_ms = 30000;
    fk_opt.backlog = 128;
    fk_opt.max_deltas = FK_DEFAULT_MAX_DELTAS;
    fk_opt.keep_finished_s = FK_DEFAULT_KEEP_FINISHED_S;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--simple-cron") == 0) {
            fk_opt.simple_cron = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
        }
        if (i + 1 >= argc) {
            fk_log("option %s needs a value", a);
            return -1;
        }
        const char *v = argv[++i];
        long n;
        if (strcmp(a, "--port") == 0) {
            if (parse_long(v, 0, 65535, &n) != 0)
                return fk_log("bad --port %s", v), -1;
            fk_opt.port = (int)n;
        } else if (strcmp(a, "--key") == 0) {
            free(fk_opt.key);
            fk_opt.key = *v != '\0' ? fk_strdup(v) : NULL;
        } else if (strcmp(a, "--dialect") == 0) {
            if (strcmp(v, "v0.12") == 0)
                fk_opt.dialect = FK_V012;
            else if (strcmp(v, "v0.15") == 0)
                fk_opt.dialect = FK_V015;
            else if (strcmp(v, "v0.20") == 0)
                fk_opt.dialect = FK_V020;
            else if (strcmp(v, "v0.21") == 0)
                fk_opt.dialect = FK_V021;
            else
                return fk_log("bad --dialect %s", v), -1;
        } else if (strcmp(a, "--model-name") == 0) {
            free(fk_opt.model_name);
            fk_opt.model_name = fk_strdup(v);
        } else if (strcmp(a, "--cors-origins") == 0) {
            free(fk_opt.cors);
            fk_opt.cors = fk_strdup(v);
        } else if (strcmp(a, "--max-runs") == 0) {
            if (parse_long(v, 0, 1000000, &n) != 0)
                return fk_log("bad --max-runs %s", v), -1;
            fk_opt.max_runs = n;
        } else if (strcmp(a, "--time-scale") == 0) {
            char *end;
            double f = strtod(v, &end);
            if (end == v || *end != '\0' || !(f >= 0) || f > 1000)
                return fk_log("bad --time-scale %s", v), -1;
            fk_opt.time_scale = f;
        } else if (strcmp(a, "--backlog") == 0) {
            if (parse_long(v, 1, 65535, &n) != 0)
                return fk_log("bad --backlog %s", v), -1;
            fk_opt.backlog = n;
        } else if (strcmp(a, "--max-deltas") == 0) {
            if (parse_long(v, 1, 10000000, &n) != 0)
                return fk_log("bad --max-deltas %s (an integer from 1 to 10000000)", v), -1;
            fk_opt.max_deltas = n;
        } else if (strcmp(a, "--keep-finished-s") == 0) {
            if (parse_long(v, 0, 31536000, &n) != 0)
                return fk_log("bad --keep-finished-s %s (an integer from 0 to 31536000)", v), -1;
            fk_opt.keep_finished_s = n;
        } else if (strcmp(a, "--keepalive-ms") == 0) {
            if (parse_long(v, 1, 86400000, &n) != 0)
                return fk_log("bad --keepalive-ms %s", v), -1;
            fk_opt.keepalive_ms = n;
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0')
                return fk_log("bad --seed %s", v), -1;
            fk_seed(s);
        } else if (strcmp(a, "--state-dir") == 0) {
            free(fk_opt.state_dir);
            fk_opt.state_dir = fk_strdup(v);
        } else if (strcmp(a, "--log") == 0) {
            free(fk_opt.log_path);
            fk_opt.log_path = fk_strdup(v);
        } else if (strcmp(a, "--listen") == 0 || strcmp(a, "--host") == 0) {
            if (strcmp(v, "127.0.0.1") != 0 && strcmp(v, "localhost") != 0)
                return fk_log("refusing to bind %s: loopback (127.0.0.1) only", v), -1;
        } else {
            fk_log("unknown option %s", a);
            usage();
            return -1;
        }
    }
    if (fk_opt.model_name == NULL)
        fk_opt.model_name = fk_strdup("hermes-agent");
    return 0;
}

static void free_opts(void)
{
    free(fk_opt.key);
    free(fk_opt.model_name);
    free(fk_opt.cors);
    free(fk_opt.state_dir);
    free(fk_opt.log_path);
    memset(&fk_opt, 0, sizeof(fk_opt));
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (!seeded) {
        uint64_t s;
        if (getrandom(&s, sizeof(s), 0) == (ssize_t)sizeof(s) && s != 0)
            rng_state = s;
    }
    if (parse_opts(argc, argv) != 0) {
        free_opts();
        return 2;
    }
    json_set_alloc_funcs(fk_malloc, free);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        fk_log("socket: %s", strerror(errno));
        free_opts();
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fk_opt.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, (int)fk_opt.backlog) != 0) {
        fk_log("cannot listen on 127.0.0.1:%d: %s", fk_opt.port, strerror(errno));
        close(lfd);
        free_opts();
        return 1;
    }
    socklen_t sl = sizeof(sa);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    int port = ntohs(sa.sin_port);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || epfd < 0) {
        fk_log("signalfd/epoll: %s", strerror(errno));
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    static int sig_marker;
    ev.data.ptr = &sig_marker;
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
    fk_http_init(lfd, epfd);
    fk_jobs_load();

    printf("READY %d\n", port);
    fflush(stdout);

    while (!fk_quit) {
        int wait = run_timers();
        fk_conns_reap();
        if (fk_quit)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(epfd, evs, 64, wait);
        if (n < 0 && errno != EINTR) {
            fk_log("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !fk_quit; ++i) {
            if (evs[i].data.ptr == NULL) {
                fk_http_accept();
            } else if (evs[i].data.ptr == &sig_marker) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                    fk_quit = 1;
            } else {
                fk_conn_event(evs[i].data.ptr, evs[i].events);
            }
        }
        fk_conns_reap();
    }

    fk_conns_close_all();
    fk_runs_clear();
    fk_conns_reap();
    fk_jobs_clear();
    fk_queued_clear();
    fk_control_free();
    while (timers != NULL) /* owners are gone: nothing should be left, but never leave a dangling list */
        fk_timer_disarm(timers);
    close(lfd);
    close(sfd);
    close(epfd);
    free_opts();
    return 0;
}
