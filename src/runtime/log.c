#include "hl/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/actor.h"
#include "hl/clock.h"
#include "hl/fsutil.h"

#define MAX_STRING_FIELD 2000

typedef struct st_log_line_t {
    hl_msg_t super;
    char *json; /* with trailing newline */
    char *text; /* stderr text, NULL when not printing */
} log_line_t;

static struct {
    char *path;
    int fd;
    off_t size;
    hl_log_level_t min_level;
    int to_stderr;
    pthread_mutex_t sync_mutex; /* serialises synchronous writes */
    hl_actor_t actor;
    int threaded;
} logger = {.fd = -1, .sync_mutex = PTHREAD_MUTEX_INITIALIZER};

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

hl_log_level_t hl_log_level_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < HL_ARRAY_SIZE(LEVEL_NAMES); ++i)
        if (strcmp(name, LEVEL_NAMES[i]) == 0)
            return (hl_log_level_t)i;
    return HL_LOG_WARN;
}

static void rotate(void)
{
    close(logger.fd);
    for (int i = HL_LOG_ROTATE_KEEP; i >= 1; --i) {
        char *from = i == 1 ? hl_strdup(logger.path) : hl_asprintf("%s.%d", logger.path, i - 1);
        char *to = hl_asprintf("%s.%d", logger.path, i);
        rename(from, to);
        free(from);
        free(to);
    }
    logger.fd = open(logger.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    logger.size = 0;
}

static void write_line(const char *json, const char *text)
{
    size_t len = strlen(json);
    if (logger.fd >= 0) {
        if (logger.size > 0 && logger.size + (off_t)len > HL_LOG_ROTATE_BYTES)
            rotate();
        if (logger.fd >= 0 && write(logger.fd, json, len) == (ssize_t)len)
            logger.size += (off_t)len;
    }
    if (text != NULL) {
        fputs(text, stderr);
        fflush(stderr);
    }
}

static void on_batch(hl_actor_t *actor, hl_msg_batch_t *batch)
{
    (void)actor;
    hl_msg_t *msg;
    while ((msg = hl_msg_batch_pop(batch)) != NULL) {
        log_line_t *line = (log_line_t *)msg;
        write_line(line->json, line->text);
        hl_msg_free(msg);
    }
}

static void free_line(hl_msg_t *msg)
{
    log_line_t *line = (log_line_t *)msg;
    free(line->json);
    free(line->text);
    free(line);
}

int hl_log_open(const char *logs_dir, hl_log_level_t min_level, int to_stderr)
{
    int ret = hl_mkdir_p(logs_dir, 0700);
    if (ret != 0)
        return ret;
    logger.path = hl_path_join(logs_dir, "link.log");
    logger.fd = open(logger.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (logger.fd < 0)
        return -errno;
    struct stat st;
    logger.size = fstat(logger.fd, &st) == 0 ? st.st_size : 0;
    logger.min_level = min_level;
    logger.to_stderr = to_stderr;
    return 0;
}

int hl_log_start_thread(void)
{
    static const hl_actor_callbacks_t cb = {.on_batch = on_batch};
    int ret = hl_actor_init(&logger.actor, "log", &cb, NULL);
    if (ret == 0 && (ret = hl_actor_start(&logger.actor)) == 0)
        __atomic_store_n(&logger.threaded, 1, __ATOMIC_RELEASE);
    return ret;
}

void hl_log_stop_thread(void)
{
    if (!__atomic_load_n(&logger.threaded, __ATOMIC_ACQUIRE))
        return;
    __atomic_store_n(&logger.threaded, 0, __ATOMIC_RELEASE);
    hl_actor_stop(&logger.actor);
    hl_actor_dispose(&logger.actor);
}

void hl_log_close(void)
{
    if (logger.fd >= 0)
        close(logger.fd);
    logger.fd = -1;
    free(logger.path);
    logger.path = NULL;
}

static int is_secret_key(const char *key)
{
    static const char *const needles[] = {"authorization", "cookie",      "token",   "secret", "password", "private_key",
                                          "privatekey",    "private-key", "api_key", "apikey", "api-key"};
    char lower[128];
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < sizeof(lower); ++i)
        lower[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    lower[i] = '\0';
    for (size_t n = 0; n < HL_ARRAY_SIZE(needles); ++n)
        if (strstr(lower, needles[n]) != NULL)
            return 1;
    return 0;
}

/* Redacts secret-looking keys and cuts long strings, in place. */
static void sanitize(json_t *fields)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(fields, tmp, key, value)
    {
        if (is_secret_key(key)) {
            json_object_set_new(fields, key, json_string("[redacted]"));
        } else if (json_is_string(value) && json_string_length(value) > MAX_STRING_FIELD) {
            char *cut = hl_asprintf("%.*s...", MAX_STRING_FIELD, json_string_value(value));
            json_object_set_new(fields, key, json_string(cut));
            free(cut);
        }
    }
}

static char *text_line(const char *ts, hl_log_level_t level, const char *message, json_t *fields)
{
    char *extra = NULL;
    if (fields != NULL && json_object_size(fields) > 0)
        extra = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char upper[8];
    const char *name = LEVEL_NAMES[level];
    size_t i = 0;
    for (; name[i] != '\0'; ++i)
        upper[i] = (char)(name[i] - 32);
    upper[i] = '\0';
    char *line = hl_asprintf("%s %-5s %s%s%s\n", ts, upper, message, extra != NULL ? " " : "", extra != NULL ? extra : "");
    free(extra);
    return line;
}

void hl_log(hl_log_level_t level, const char *message, json_t *fields)
{
    if (level < logger.min_level) {
        json_decref(fields);
        return;
    }
    char ts[HL_ISO_TIME_LEN];
    hl_format_iso(hl_now_ms(), ts);
    json_t *obj = json_object();
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(LEVEL_NAMES[level]));
    json_object_set_new(obj, "message", json_string(message));
    if (fields != NULL && json_is_object(fields) && json_object_size(fields) > 0) {
        sanitize(fields);
        json_object_set(obj, "fields", fields);
    }
    char *body = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(obj);
    log_line_t *line = hl_malloc(sizeof(*line));
    hl_msg_init(&line->super, 1, free_line);
    line->json = hl_asprintf("%s\n", body);
    line->text = logger.to_stderr ? text_line(ts, level, message, fields) : NULL;
    free(body);
    json_decref(fields);
    if (__atomic_load_n(&logger.threaded, __ATOMIC_ACQUIRE)) {
        hl_actor_post(&logger.actor, &line->super);
    } else {
        pthread_mutex_lock(&logger.sync_mutex);
        write_line(line->json, line->text);
        pthread_mutex_unlock(&logger.sync_mutex);
        free_line(&line->super);
    }
}

void hl_logf(hl_log_level_t level, const char *fmt, ...)
{
    if (level < logger.min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    hl_log(level, buf, NULL);
}
