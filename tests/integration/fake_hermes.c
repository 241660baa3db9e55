#include "fake_hermes.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hl/common.h"

#ifndef HL_FAKE_HERMES
#define HL_FAKE_HERMES "fake-hermes"
#endif

#define FAKE_START_TIMEOUT_MS 5000
#define FAKE_STOP_TIMEOUT_MS 5000

static unsigned fake_seq;

const char *hlt_fake_binary(void)
{
    const char *b = getenv("HL_FAKE_HERMES");
    return b != NULL && *b != '\0' ? b : HL_FAKE_HERMES;
}

static void free_strings(hlt_fake_t *f)
{
    free(f->out_path);
    free(f->err_path);
    free(f->base_url);
    f->out_path = f->err_path = f->base_url = NULL;
}

void hlt_fake_start(hlt_fake_t *f, const char *dir, const char *const *args)
{
    memset(f, 0, sizeof(*f));
    unsigned seq = ++fake_seq;
    f->out_path = hl_asprintf("%s/fake-%d-%u.out", dir, (int)getpid(), seq);
    f->err_path = hl_asprintf("%s/fake-%d-%u.err", dir, (int)getpid(), seq);
    char *argv[64];
    size_t n = 0;
    argv[n++] = (char *)hlt_fake_binary();
    argv[n++] = "--port";
    argv[n++] = "0";
    for (size_t i = 0; args != NULL && args[i] != NULL; ++i) {
        ck_assert_msg(n + 1 < HL_ARRAY_SIZE(argv), "too many fake-hermes arguments");
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    f->pid = hlt_spawn(argv, f->out_path, f->err_path);
    long deadline = hlt_now_ms() + FAKE_START_TIMEOUT_MS;
    for (;;) {
        char *out = hlt_read_file(f->out_path, NULL);
        int port = 0, len = 0;
        int ready = out != NULL && sscanf(out, "READY %d\n%n", &port, &len) == 1 && len > 0 && out[len - 1] == '\n';
        free(out);
        if (ready && port > 0) {
            f->port = port;
            break;
        }
        int status;
        if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
            f->pid = 0;
            char *err = hlt_read_file(f->err_path, NULL);
            static char excerpt[3000];
            snprintf(excerpt, sizeof(excerpt), "%s", err != NULL ? err : "");
            free(err);
            free_strings(f);
            ck_abort_msg("fake-hermes exited before READY (status 0x%x); stderr:\n%s", status, excerpt);
        }
        if (hlt_now_ms() >= deadline) {
            kill(f->pid, SIGKILL);
            hlt_wait_exit(f->pid, &status, 5000);
            f->pid = 0;
            free_strings(f);
            ck_abort_msg("fake-hermes did not print READY within %d ms", FAKE_START_TIMEOUT_MS);
        }
        hlt_sleep_ms(5);
    }
    f->base_url = hl_asprintf("http://127.0.0.1:%d", f->port);
}

const char *hlt_fake_stop(hlt_fake_t *f)
{
    static char msg[8192];
    msg[0] = '\0';
    if (f->pid > 0) {
        int status = 0;
        kill(f->pid, SIGTERM);
        if (!hlt_wait_exit(f->pid, &status, FAKE_STOP_TIMEOUT_MS)) {
            kill(f->pid, SIGKILL);
            hlt_wait_exit(f->pid, &status, 5000);
            snprintf(msg, sizeof(msg), "fake-hermes did not exit within %d ms of SIGTERM (killed). ", FAKE_STOP_TIMEOUT_MS);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            snprintf(msg, sizeof(msg), "fake-hermes ended with status 0x%x instead of exit code 0. ", status);
        }
        f->pid = 0;
    }
    const char *report = f->err_path != NULL ? hlt_sanitizer_report(f->err_path) : NULL;
    if (report != NULL) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof(msg) - l, "%s", report);
    }
    free_strings(f);
    return msg[0] != '\0' ? msg : NULL;
}

void hlt_fake_request(const hlt_fake_t *f, const char *method, const char *path, const char *body, const char *const *headers,
                      hlt_response_t *res)
{
    hlt_daemon_t d = {.port = f->port, .tls_port = -1};
    hlt_request_t req = {
        .method = method, .path = path, .headers = headers, .body = body, .body_len = body != NULL ? strlen(body) : 0};
    hlt_request(&d, HLT_H1, &req, res);
}

json_t *hlt_fake_requests(const hlt_fake_t *f)
{
    hlt_response_t res;
    hlt_fake_request(f, "GET", "/__fake/requests", NULL, NULL, &res);
    ck_assert_msg(res.status == 200, "GET /__fake/requests: %ld", res.status);
    json_t *all = json_array();
    char *save = NULL;
    for (char *l = strtok_r(res.body, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(l, 0, NULL);
        if (j != NULL)
            json_array_append_new(all, j);
    }
    hlt_response_free(&res);
    return all;
}

json_t *hlt_fake_find_request(json_t *reqs, const char *method, const char *path_prefix, const char *path_part)
{
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *m = json_string_value(json_object_get(r, "method")), *p = json_string_value(json_object_get(r, "path"));
        if (m == NULL || p == NULL || (method != NULL && strcmp(m, method) != 0))
            continue;
        if ((path_prefix == NULL || strncmp(p, path_prefix, strlen(path_prefix)) == 0) &&
            (path_part == NULL || strstr(p, path_part) != NULL))
            return r;
    }
    return NULL;
}

int hlt_fake_wait_request(const hlt_fake_t *f, const char *method, const char *path_prefix, const char *path_part, long timeout_ms)
{
    long deadline = hlt_now_ms() + timeout_ms;
    for (;;) {
        json_t *reqs = hlt_fake_requests(f);
        int seen = hlt_fake_find_request(reqs, method, path_prefix, path_part) != NULL;
        json_decref(reqs);
        if (seen)
            return 1;
        if (hlt_now_ms() >= deadline)
            return 0;
        hlt_sleep_ms(20);
    }
}

void hlt_fake_respond(const hlt_fake_t *f, const char *method, const char *path, int status, const char *body, int times)
{
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:i}", "method", method, "path", path, "status", status, "body",
                          body != NULL ? body : "", "times", times);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    hlt_response_t res;
    hlt_fake_request(f, "POST", "/__fake/respond", text, NULL, &res);
    ck_assert_msg(res.status == 200, "POST /__fake/respond %s: %ld %s", text, res.status, res.body);
    hlt_response_free(&res);
    free(text);
}
