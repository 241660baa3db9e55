/*
 * bench_util.h: small helpers shared by the C benchmark clients in bench/ (soak.c, fanout.c, proxy.c), so that each of
 * them no longer carries its own copy: fatal errors, allocation that cannot fail, monotonic and wall clocks, a growable
 * byte buffer, and readers of /proc for a process's memory, descriptors and CPU time and for the machine's CPU time.
 *
 * Header only: every function is plain `static` (as the copies it replaces were, so the compiler inlines as it did
 * before; `static inline` made GCC 12 -O2 inline buf_add into proxy.c's bc_request and warn -Wstringop-overflow there)
 * and marked unused, so a client that calls few of them gets no unused-function warning. The bench scripts compile each client
 * alone with plain `cc -std=c17 -D_GNU_SOURCE`, and a client includes this file as "bench_util.h", found next to the client's
 * source. Before including it, a client defines BENCH_NAME, the prefix of its fatal messages ("soak", "fanout", "proxy"). Linux
 * only (/proc). Not part of the daemon.
 */
#ifndef HL_BENCH_UTIL_H
#define HL_BENCH_UTIL_H

#ifndef BENCH_NAME
#error "define BENCH_NAME (the client's name, the prefix of its fatal messages) before including bench_util.h"
#endif

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- errors and allocation ---- */

/* Prints "BENCH_NAME: <message>\n" to stderr and exits with status 2 (a broken setup, not a failed check). */
__attribute__((unused, format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* malloc that dies on failure; a size of 0 allocates 1 byte, so the result is never NULL. */
__attribute__((unused)) static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* calloc that dies on failure; zero counts or sizes allocate 1 byte, so the result is never NULL. */
__attribute__((unused)) static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* realloc that dies on failure; a size of 0 keeps 1 byte (never frees p, never returns NULL). */
__attribute__((unused)) static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* ---- clocks ---- */

/* CLOCK_MONOTONIC in nanoseconds: for intervals and deadlines inside one process. */
__attribute__((unused)) static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in microseconds (truncated). */
__attribute__((unused)) static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* CLOCK_MONOTONIC in milliseconds (truncated). */
__attribute__((unused)) static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CLOCK_REALTIME in microseconds since the epoch: to compare with timestamps another process wrote. */
__attribute__((unused)) static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- growable buffer ---- */

/* Bytes p[0..len), always followed by a '\0' once anything was added (p is NULL before). {0} is an empty buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

/* Appends n bytes (growing to twice what is needed), keeping the buffer '\0'-terminated; dies when out of memory. */
__attribute__((unused)) static void buf_add(buf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Drops the first n bytes (all of them when n >= len), keeping the rest and the terminating '\0'. */
__attribute__((unused)) static void buf_consume(buf_t *b, size_t n)
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

/* Frees the bytes and leaves an empty buffer, ready to be used again. */
__attribute__((unused)) static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- /proc readings (-1 when the process is gone or the value unknown) ---- */

/* A "Key:   N kB" (or plain count) line of /proc/<pid>/status, e.g. "VmRSS", "VmHWM", "RssAnon", "Threads". */
__attribute__((unused)) static long proc_status_kib(int pid, const char *key)
{
    if (pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Number of open descriptors of a process (entries of /proc/<pid>/fd). */
__attribute__((unused)) static long count_fds(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            ++n;
    closedir(d);
    return n;
}

/* utime + stime of a process (all its threads), in clock ticks, from /proc/<pid>/stat. */
__attribute__((unused)) static long long proc_ticks(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the comm may hold spaces and parentheses: the fields start after the last ')' */
    unsigned long long ut, st;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* proc_ticks in seconds. */
__attribute__((unused)) static double proc_cpu_s(int pid)
{
    long long t = proc_ticks(pid);
    return t < 0 ? -1.0 : (double)t / (double)sysconf(_SC_CLK_TCK);
}

/* Busy ticks of the whole machine from the "cpu" line of /proc/stat: user nice system irq softirq steal (everything but
 * idle and iowait). */
__attribute__((unused)) static long long machine_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

#endif
