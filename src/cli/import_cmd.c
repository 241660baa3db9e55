/*
 * `hermeslink import [DIR]`: asks the running daemon to import a Node HermesLink home (the daemon owns link.db, so the
 * import runs there) and shows its progress: one updating line on a terminal, plain lines when piped. Without a running
 * daemon it says so and exits 1 (nothing is imported in-process: the daemon's actors would not see what was written).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "hl/control.h"
#include "hl/node_home.h"

static const char HELP[] = "Usage: hermeslink import [DIR]\n"
                           "\n"
                           "Import a Node HermesLink home into the running daemon: its identity (link id and keys), paired\n"
                           "devices (they stay paired), conversations with their messages and events, blobs and usage facts.\n"
                           "DIR defaults to the HermesLink home (~/.hermeslink) when it holds the Node layout. The source is\n"
                           "only read. Importing twice adds nothing the second time.\n";

/* how long one progress step may take before the CLI gives up waiting */
#define LINE_TIMEOUT_MS (120 * 1000)

static const char *phase_name(const char *phase)
{
    if (strcmp(phase, "usage_facts") == 0)
        return "usage facts";
    return phase;
}

static void show_progress(json_t *p, int tty)
{
    const char *phase = json_string_value(json_object_get(p, "phase"));
    json_int_t done = json_integer_value(json_object_get(p, "done")), total = json_integer_value(json_object_get(p, "total"));
    if (phase == NULL)
        return;
    if (tty) {
        printf("\r\033[KImporting %s: %lld/%lld", phase_name(phase), (long long)done, (long long)total);
        fflush(stdout);
    } else {
        printf("Importing %s: %lld/%lld\n", phase_name(phase), (long long)done, (long long)total);
    }
}

static void show_count(json_t *counts, const char *key, const char *label)
{
    json_t *c = json_object_get(counts, key);
    printf("  %-14s %lld imported, %lld already there\n", label, (long long)json_integer_value(json_object_get(c, "imported")),
           (long long)json_integer_value(json_object_get(c, "skipped")));
}

static int show_result(json_t *reply, const char *dir)
{
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *msg = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
        fprintf(stderr, "Import refused: %s\n", msg != NULL ? msg : "the daemon gave no reason");
        return 1;
    }
    const char *identity = json_string_value(json_object_get(reply, "identity"));
    const char *link = json_string_value(json_object_get(reply, "link_id"));
    json_t *counts = json_object_get(reply, "counts");
    printf("Imported from %s\n", dir);
    if (identity != NULL && strcmp(identity, "taken") == 0)
        printf("  %-14s %s (taken over from the Node HermesLink)\n", "Identity:", link != NULL ? link : "");
    else if (identity != NULL && strcmp(identity, "same") == 0)
        printf("  %-14s %s (already the same)\n", "Identity:", link != NULL ? link : "");
    else
        printf("  %-14s none in the source; this HermesLink's is kept\n", "Identity:");
    show_count(counts, "devices", "Devices:");
    show_count(counts, "conversations", "Conversations:");
    show_count(counts, "messages", "Messages:");
    show_count(counts, "events", "Events:");
    show_count(counts, "blobs", "Blobs:");
    show_count(counts, "usage_facts", "Usage facts:");
    if (json_is_true(json_object_get(reply, "restart_needed")))
        printf("Restart Hermes Link to use the imported identity: hermeslink restart\n");
    return 0;
}

static int connect_daemon(const char *home)
{
    struct sockaddr_un sa;
    char *path = NULL;
    if (hl_control_addr(home, &sa, &path) != 0)
        return -1;
    free(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Lines of the daemon's answer: several may arrive in one read (progress then the reply), so the bytes after a newline
 * are kept for the next call. */
typedef struct st_line_reader_t {
    int fd;
    char buf[64 * 1024];
    size_t len;
} line_reader_t;

/* the next line (without its newline; caller frees), or NULL on EOF, error, timeout or an over-long line */
static char *next_line(line_reader_t *lr)
{
    for (;;) {
        char *nl = memchr(lr->buf, '\n', lr->len);
        if (nl != NULL) {
            char *line = hl_strndup(lr->buf, (size_t)(nl - lr->buf));
            size_t used = (size_t)(nl - lr->buf) + 1;
            memmove(lr->buf, lr->buf + used, lr->len - used);
            lr->len -= used;
            return line;
        }
        if (lr->len == sizeof(lr->buf))
            return NULL;
        ssize_t n = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        lr->len += (size_t)n;
    }
}

static int run_import(const char *home, const char *dir)
{
    int fd = connect_daemon(home);
    if (fd < 0) {
        fprintf(stderr, "Hermes Link is not running; the import runs inside it. Start it (hermeslink start), then import.\n");
        return 1;
    }
    hl_control_set_timeouts(fd, LINE_TIMEOUT_MS);
    json_t *req = json_pack("{s:s, s:s}", "cmd", "import", "dir", dir);
    char *text = json_dumps(req, JSON_COMPACT), *line = hl_asprintf("%s\n", text);
    int ret = hl_control_write_all(fd, line, strlen(line));
    free(line);
    free(text);
    json_decref(req);
    int tty = isatty(STDOUT_FILENO), in_line = 0, code = 1;
    line_reader_t *lr = hl_calloc(1, sizeof(*lr));
    lr->fd = fd;
    while (ret == 0) {
        char *l = next_line(lr);
        json_t *j = l != NULL ? json_loads(l, 0, NULL) : NULL;
        free(l);
        if (!json_is_object(j)) {
            json_decref(j);
            if (in_line)
                putchar('\n');
            fprintf(stderr, "Hermes Link stopped answering during the import\n");
            break;
        }
        json_t *p = json_object_get(j, "progress");
        if (p != NULL) {
            show_progress(p, tty);
            in_line = tty;
            json_decref(j);
            continue;
        }
        if (in_line)
            putchar('\n');
        code = show_result(j, dir);
        json_decref(j);
        break;
    }
    free(lr);
    if (ret != 0)
        fprintf(stderr, "Cannot talk to Hermes Link over its control socket\n");
    close(fd);
    return code;
}

int hl_cmd_import(int argc, char **argv)
{
    if (hl_cli_wants_help(argc, argv)) {
        fputs(HELP, stdout);
        return 0;
    }
    const char *arg = NULL;
    for (int i = 1; i < argc; ++i) {
        if (argv[i][0] == '-' || arg != NULL)
            return hl_cli_reject(argv[i], HELP);
        arg = argv[i];
    }
    char *home = hl_cli_home();
    if (home == NULL)
        return 1;
    char dir[PATH_MAX];
    int code = 1;
    if (realpath(arg != NULL ? arg : home, dir) == NULL) {
        fprintf(stderr, "No such directory: %s\n", arg != NULL ? arg : home);
        goto Exit;
    }
    if (!hl_node_home_detect(dir)) {
        if (arg == NULL)
            fprintf(stderr, "%s holds no Node HermesLink files; name the directory: hermeslink import DIR\n", dir);
        else
            fprintf(stderr, "%s holds no Node HermesLink files (identity.json, credentials.json, conversations/, blobs/)\n", dir);
        goto Exit;
    }
    code = run_import(home, dir);
Exit:
    free(home);
    return code;
}
